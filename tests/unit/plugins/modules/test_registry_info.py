# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""main() of dockyard.registry.registry_info with real files, real keys and certificates, real bcrypt
entries and a real (fake) ``docker`` program first on PATH; only the AnsibleModule exit glue is faked.

The verdicts on certificates and htpasswd files are cross-checked against what the certificate and
htpasswd modules decide for the same files in check mode. The real Docker engine is exercised by
tests/integration/test_registry_info.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import grp
import hashlib
import json
import os
import pwd
import stat
import sys

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockyard.registry.tests.unit.plugins.modules.glue import Finished, fake_exit_glue

from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as c
from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd as h
from ansible_collections.dockyard.registry.plugins.module_utils import _info
from ansible_collections.dockyard.registry.plugins.modules import certificate as certificate_module
from ansible_collections.dockyard.registry.plugins.modules import htpasswd as htpasswd_module
from ansible_collections.dockyard.registry.plugins.modules import registry_info

SANS = ['registry.example.com', '127.0.0.1']
PASSWORDS = {'alice': 'Alice-unit-pw-7f3a', 'bob': 'Bob-unit-pw-91c2', 'carol': 'Carol-unit-pw-0d5e'}
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)

FAKE_DOCKER = r'''#!%(python)s
# A stand-in for the docker CLI: answers from the scenario file, logs each call.
import json, os, sys, time
start = time.time()
args = sys.argv[1:]
with open(os.environ['FAKE_DOCKER_SCENARIO']) as f:
    scenario = json.load(f)
if args[:1] == ['version']:
    key = 'version'
elif args[:2] == ['compose', 'version']:
    key = 'compose'
elif args[:1] == ['ps']:
    key = 'ps'
elif args[:1] == ['inspect']:
    key = 'inspect'
elif args[:2] == ['image', 'inspect']:
    key = 'image:' + args[-1]
else:
    key = 'unknown'
spec = scenario.get(key)
if spec is None and key.startswith('image:'):
    spec = {'rc': 1, 'err': 'Error: No such image: %%s\n' %% args[-1]}
spec = spec or {'rc': 2, 'err': 'fake docker: unexpected call %%r\n' %% (args,)}
time.sleep(spec.get('sleep', 0))
sys.stdout.write(spec.get('out', ''))
sys.stderr.write(spec.get('err', ''))
with open(os.environ['FAKE_DOCKER_LOG'], 'a') as f:
    f.write(json.dumps({'key': key, 'argv': args, 'start': start, 'end': time.time()}) + '\n')
sys.exit(spec.get('rc', 0))
'''


@pytest.fixture(autouse=True)
def glue(monkeypatch):
    """Fake the AnsibleModule exit glue; returns the list of warnings."""
    warnings = fake_exit_glue(monkeypatch)
    return warnings


class FakeDocker(object):
    def __init__(self, directory):
        self.bin = directory / 'bin'
        self.bin.mkdir()
        self.scenario_path = directory / 'scenario.json'
        self.log_path = directory / 'calls.jsonl'
        script = self.bin / 'docker'
        script.write_text(FAKE_DOCKER % {'python': sys.executable})
        script.chmod(0o755)
        self.set({'version': {'rc': 127, 'err': 'docker: fake engine is off\n'}})

    def set(self, scenario):
        self.scenario_path.write_text(json.dumps(scenario))
        if self.log_path.exists():
            self.log_path.unlink()

    def calls(self):
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]


@pytest.fixture(autouse=True)
def docker(tmp_path_factory, monkeypatch):
    """A fake `docker` first on PATH (by default: the engine is off)."""
    fake = FakeDocker(tmp_path_factory.mktemp('fake-docker'))
    monkeypatch.setenv('PATH', '%s%s%s' % (fake.bin, os.pathsep, os.environ.get('PATH', '')))
    monkeypatch.setenv('FAKE_DOCKER_SCENARIO', str(fake.scenario_path))
    monkeypatch.setenv('FAKE_DOCKER_LOG', str(fake.log_path))
    return fake


def call(main, args, check_mode=False):
    args = dict(args, _ansible_check_mode=check_mode)
    with patch_module_args(args):
        with pytest.raises(Finished) as exc:
            main()
    return exc.value.args[0]


def run(check_mode=False, **args):
    return call(registry_info.main, args, check_mode)


def snapshot(root):
    """Everything about every entry under root that a write would change."""
    found = {}
    for directory, dirs, files in os.walk(str(root)):
        for name in dirs + files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            content = None
            if stat.S_ISREG(st.st_mode):
                with open(path, 'rb') as f:
                    content = f.read()
            found[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_ino, st.st_mtime_ns, content)
    return found


# ----------------------------------------------------------------------------------------- paths

def expected_stat(path):
    st = os.stat(path)
    return dict(exists=True, mode='%04o' % stat.S_IMODE(st.st_mode),
                owner=pwd.getpwuid(st.st_uid).pw_name, group=grp.getgrgid(st.st_gid).gr_name)


def test_paths_every_field_with_negative_controls(tmp_path):
    text = 'version: 0.1\nstorage:\n  filesystem: {}\n'
    config = tmp_path / 'config.yml'
    config.write_text(text)
    config.chmod(0o640)
    digest = hashlib.sha256(text.encode()).hexdigest()
    other_digest = hashlib.sha256(b'something else').hexdigest()
    directory = tmp_path / 'auth'
    directory.mkdir()
    directory.chmod(0o750)
    link = tmp_path / 'link.yml'
    link.symlink_to(config)
    dangling = tmp_path / 'dangling'
    dangling.symlink_to(tmp_path / 'nowhere')
    fifo = tmp_path / 'fifo'
    os.mkfifo(str(fifo))
    binary = tmp_path / 'binary'
    binary.write_bytes(b'\xff\xfe not utf-8')
    copy = tmp_path / 'copy.yml'
    copy.write_text(text)
    missing = tmp_path / 'missing'

    before = snapshot(tmp_path)
    result = run(paths=[
        dict(path=str(config), checksum=True, regexp=r'(?s)version: 0\.1\n.*'),
        dict(path=str(link), sha256=digest.upper(), regexp=r'version: 0\.1'),   # prefix only: no match
        dict(path=str(directory), sha256=digest, regexp='.*'),
        dict(path=str(tmp_path), checksum=True),
        dict(path=str(dangling), sha256=digest),
        dict(path=str(fifo), regexp='.*'),
        dict(path=str(binary), checksum=True, regexp='(?s).*'),
        dict(path=str(copy), sha256=other_digest, regexp='(?s).*'),
        dict(path=str(missing), checksum=True, regexp='.*'),
        dict(path=str(config), checksum=True, regexp=r'(?s)version: 0\.1\n.*'),  # same checks again: fine
    ])
    assert not result['failed'] and result['changed'] is False
    paths = result['paths']
    assert sorted(paths) == sorted(str(p) for p in (config, link, directory, tmp_path, dangling, fifo, binary,
                                                    copy, missing))

    assert paths[str(config)] == dict(expected_stat(str(config)), type='file', sha256=digest, matches=True)
    assert paths[str(config)]['mode'] == '0640'
    # os.stat follows the link: the target's facts; the sha256 matches in any case; a prefix is no match.
    assert paths[str(link)] == dict(expected_stat(str(config)), type='file', sha256_matches=True, matches=False)
    # A directory has no checksum and matches nothing.
    assert paths[str(directory)] == dict(expected_stat(str(directory)), type='directory',
                                         sha256_matches=False, matches=False)
    assert paths[str(directory)]['mode'] == '0750'
    assert paths[str(tmp_path)] == dict(expected_stat(str(tmp_path)), type='directory')
    absent = dict(exists=False, type=None, mode=None, owner=None, group=None)
    assert paths[str(dangling)] == dict(absent, sha256_matches=False)
    assert paths[str(fifo)] == dict(expected_stat(str(fifo)), type='other', matches=False)
    # Undecodable text never matches, not even (?s).* (the same regexp matches the copy).
    assert paths[str(binary)] == dict(expected_stat(str(binary)), type='file',
                                      sha256=hashlib.sha256(binary.read_bytes()).hexdigest(), matches=False)
    # The same content as config.yml with another expected checksum: no match (negative control).
    assert paths[str(copy)] == dict(expected_stat(str(copy)), type='file', sha256_matches=False, matches=True)
    assert paths[str(missing)] == dict(absent, matches=False)
    assert snapshot(tmp_path) == before


def test_paths_owner_without_a_name_is_the_uid(tmp_path):
    if os.geteuid() != 0:
        pytest.skip('chown to an unknown uid needs root')
    uid = gid = 4000
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            try:
                grp.getgrgid(gid)
            except KeyError:
                break
        uid += 1
        gid += 1
    path = tmp_path / 'orphan'
    path.write_text('x')
    os.chown(str(path), uid, gid)
    facts = run(paths=[dict(path=str(path))])['paths'][str(path)]
    assert (facts['owner'], facts['group']) == (str(uid), str(gid))


def test_sha256_option_never_in_the_result(tmp_path):
    path = tmp_path / 'config.yml'
    path.write_text('secret-ish content\n')
    right = hashlib.sha256(path.read_bytes()).hexdigest()
    for expected, matches in ((right, True), (right[::-1], False)):
        result = run(paths=[dict(path=str(path), sha256=expected)])
        assert result['paths'][str(path)]['sha256_matches'] is matches
        assert expected not in json.dumps(result)


@pytest.mark.parametrize('entries, message', [
    ([dict(path='/x', regexp='(unclosed')], "paths[0].regexp='(unclosed': not a valid Python regular expression"),
    ([dict(path='/x'), dict(path='/y', sha256='abc')], 'paths[1].sha256: must be 64 hexadecimal characters'),
    ([dict(path='/x', checksum=True, sha256='a' * 64)], 'paths[0]: checksum=true and sha256 are mutually exclusive'),
    ([dict(path='/x'), dict(path='/x', checksum=True)],
     "paths[1].path: '/x' is already listed as paths[0] with other checks"),
    ([dict(checksum=True)], 'missing required arguments: path'),
    ([dict(path='/x', sha265='a' * 64)], 'sha265'),
])
def test_bad_paths_options_fail(entries, message):
    result = run(paths=entries)
    assert result['failed']
    assert message in result['msg']
    assert 'abc' not in result['msg'] and 'a' * 64 not in result['msg']


# ----------------------------------------------------------------------------------- certificate

def write_key(path, key):
    path.write_bytes(c.private_key_pem(key))


def write_cert(path, cert):
    path.write_bytes(c.certificate_pem(cert))


def self_signed(key, sans=None, now=NOW, days=365):
    sans = c.parse_subject_alt_names(SANS if sans is None else sans)
    return c.build_server_certificate(key.public_key(), c.default_common_name(sans), sans, key, None, days, now)


def make_ca(directory, name):
    key = c.generate_private_key(c.key_spec())
    cert = c.build_ca_certificate(key, name, 3650, NOW)
    directory.mkdir()
    write_cert(directory / 'ca.crt', cert)
    return key, cert


def signed_by(ca, key, sans=None, now=NOW, days=365):
    ca_key, ca_cert = ca
    sans = c.parse_subject_alt_names(SANS if sans is None else sans)
    return c.build_server_certificate(key.public_key(), c.default_common_name(sans), sans, ca_key, ca_cert, days, now)


@pytest.fixture
def host(tmp_path):
    """Paths of a host key and certificate, and a real ECDSA key written to the key path."""
    files = dict(path=tmp_path / 'registry.crt', privatekey_path=tmp_path / 'registry.key')
    key = c.generate_private_key(c.key_spec())
    write_key(files['privatekey_path'], key)
    return files, key


def verdict(files, check_against_module=True, **options):
    """registry_info's certificate verdict; when asked, also what the certificate module decides."""
    args = dict(path=str(files['path']), privatekey_path=str(files['privatekey_path']), subject_alt_names=SANS)
    args.update(options)
    result = run(certificate=args)
    assert not result['failed'], result
    facts = result['certificate']
    assert set(facts) == {'reason', 'not_after'}
    if check_against_module:
        mode = 'csr' if args.get('ca_cert_path') else 'self_signed'
        decided = call(certificate_module.main, dict(args, mode=mode), check_mode=True)
        assert not decided['failed'], decided
        assert facts['reason'] == decided['reason'], 'certificate module: %s' % decided['reason']
    return facts


def test_certificate_valid_and_not_after(host):
    files, key = host
    cert = self_signed(key)
    write_cert(files['path'], cert)
    facts = verdict(files)
    assert facts['reason'] == 'valid'
    assert facts['not_after'] == c.not_after(cert).strftime('%Y-%m-%dT%H:%M:%SZ')
    # The SANs in another order and spelling are the same set.
    assert verdict(files, subject_alt_names=['IP:127.0.0.1', 'DNS:Registry.Example.COM'])['reason'] == 'valid'


def test_certificate_missing_and_unreadable(host, tmp_path):
    files, key = host
    assert verdict(files) == dict(reason='missing', not_after=None)
    files['path'].write_text('not a certificate')
    assert verdict(files) == dict(reason='unreadable', not_after=None)
    cert = self_signed(key)
    write_cert(files['path'], cert)
    files['privatekey_path'].unlink()
    # The key is checked first; the certificate's expiry is still reported.
    facts = verdict(files)
    assert facts == dict(reason='missing', not_after=c.not_after(cert).strftime('%Y-%m-%dT%H:%M:%SZ'))
    files['privatekey_path'].write_text('-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n')
    assert verdict(files)['reason'] == 'unreadable'
    # A directory where the certificate should be: unreadable, not a failure.
    write_key(files['privatekey_path'], key)
    other = dict(files, path=tmp_path / 'a-directory')
    other['path'].mkdir()
    assert verdict(other, check_against_module=False)['reason'] == 'unreadable'


def test_certificate_key_type_changed(host):
    files, key = host
    write_cert(files['path'], self_signed(key))
    assert verdict(files, key_type='rsa', key_size=2048)['reason'] == 'key_type_changed'
    assert verdict(files, curve='P-384')['reason'] == 'key_type_changed'
    assert verdict(files, curve='P-256')['reason'] == 'valid'


def test_certificate_san_changed(host):
    files, key = host
    write_cert(files['path'], self_signed(key))
    assert verdict(files, subject_alt_names=SANS + ['IP:::1'])['reason'] == 'san_changed'
    assert verdict(files, subject_alt_names=SANS[:1])['reason'] == 'san_changed'


def test_certificate_key_mismatch(host):
    files, dummy = host
    write_cert(files['path'], self_signed(c.generate_private_key(c.key_spec())))
    assert verdict(files)['reason'] == 'key_mismatch'


def test_certificate_issuer_with_a_ca(host, tmp_path):
    files, key = host
    ca_a = make_ca(tmp_path / 'a', 'CA A')
    ca_b = make_ca(tmp_path / 'b', 'CA B')
    ca_path = str(tmp_path / 'a' / 'ca.crt')
    write_cert(files['path'], signed_by(ca_a, key))
    assert verdict(files, ca_cert_path=ca_path)['reason'] == 'valid'                  # control
    assert verdict(files)['reason'] == 'issuer_changed'          # without a CA it must be self-signed
    write_cert(files['path'], signed_by(ca_b, key))
    assert verdict(files, ca_cert_path=ca_path)['reason'] == 'issuer_changed'
    write_cert(files['path'], self_signed(key))
    assert verdict(files, ca_cert_path=ca_path)['reason'] == 'issuer_changed'


def test_certificate_ca_missing(host, tmp_path):
    files, key = host
    ca = make_ca(tmp_path / 'ca', 'CA')
    write_cert(files['path'], signed_by(ca, key))
    missing = str(tmp_path / 'ca' / 'nope.crt')
    assert verdict(files, check_against_module=False, ca_cert_path=missing)['reason'] == 'ca_missing'
    # A file that is not a CA certificate (here: the server certificate itself) cannot be checked against.
    assert verdict(files, check_against_module=False, ca_cert_path=str(files['path']))['reason'] == 'ca_missing'
    assert verdict(files, ca_cert_path=str(tmp_path / 'ca' / 'ca.crt'))['reason'] == 'valid'   # control


def test_certificate_expiring_with_the_clock_faked(host, monkeypatch):
    files, key = host
    cert = self_signed(key, days=365)
    write_cert(files['path'], cert)
    expires = c.not_after(cert)
    monkeypatch.setattr(_info, 'utcnow', lambda: expires - 40 * DAY)
    assert verdict(files, check_against_module=False)['reason'] == 'valid'
    monkeypatch.setattr(_info, 'utcnow', lambda: expires - 20 * DAY)
    assert verdict(files, check_against_module=False)['reason'] == 'expiring'
    assert verdict(files, check_against_module=False, renew_before_days=10)['reason'] == 'valid'


def test_certificate_expiring_for_real_agrees_with_the_module(host):
    files, key = host
    write_cert(files['path'], self_signed(key, now=NOW - 350 * DAY, days=365))
    assert verdict(files)['reason'] == 'expiring'


@pytest.mark.parametrize('options, message', [
    (dict(subject_alt_names=['foo bar']), "certificate.subject_alt_names='foo bar': not a valid DNS name"),
    (dict(subject_alt_names=[]), 'certificate.subject_alt_names'),
    (dict(key_type='rsa', curve='P-384'), "certificate.curve='P-384': only used with key_type=ecdsa"),
    (dict(key_size=2048), 'certificate.key_size=2048: only used with key_type=rsa'),
    (dict(renew_before_days=-1), 'certificate.renew_before_days=-1: must be at least 0'),
])
def test_certificate_bad_options_fail(host, options, message):
    files, dummy = host
    args = dict(path=str(files['path']), privatekey_path=str(files['privatekey_path']), subject_alt_names=SANS)
    args.update(options)
    result = run(certificate=args)
    assert result['failed'] and message in result['msg']


# -------------------------------------------------------------------------------------- htpasswd

def users(*names, **overrides):
    return [dict(name=name, password=overrides.get(name, PASSWORDS[name])) for name in names]


@pytest.fixture
def htpasswd_file(tmp_path):
    path = tmp_path / 'htpasswd'
    path.write_text(''.join('%s:%s\n' % (name, h.hash_password(PASSWORDS[name].encode(), 4))
                            for name in ('alice', 'bob')))
    return path


def compare(path, check_against_module=True, **options):
    """registry_info's htpasswd facts; when asked, also what the htpasswd module would do."""
    options.setdefault('cost', 4)  # the cost of htpasswd_file: the module (default 10) would re-hash every entry
    result = run(htpasswd=dict(path=str(path), **options))
    assert not result['failed'], result
    facts = result['htpasswd']
    assert set(facts) == {'changed', 'added', 'removed', 'updated'}
    if check_against_module:
        module = call(htpasswd_module.main, dict(path=str(path), **options), check_mode=True)
        assert not module['failed'], module
        assert [facts[k] for k in ('changed', 'added', 'removed', 'updated')] == \
            [module[k] for k in ('changed', 'added', 'removed', 'updated')]
    text = json.dumps(result)
    for secret in PASSWORDS.values():
        assert secret not in text
    assert '$2' not in text
    return facts


def test_htpasswd_unchanged_with_the_right_passwords(htpasswd_file):
    facts = compare(htpasswd_file, users=users('alice', 'bob'), exclusive=True)
    assert facts == dict(changed=False, added=[], removed=[], updated=[])


def test_htpasswd_wrong_password_is_updated(htpasswd_file):
    facts = compare(htpasswd_file, users=users('alice', 'bob', alice='Not-alices-pw'))
    assert facts == dict(changed=True, added=[], removed=[], updated=['alice'])
    # on_create keeps existing passwords: no change even with a wrong one, and none needed.
    assert not compare(htpasswd_file, users=users('alice', alice='Not-alices-pw'),
                       update_password='on_create')['changed']
    assert not compare(htpasswd_file, users=[dict(name='bob')], update_password='on_create')['changed']


def test_htpasswd_cost_change_is_an_update_as_the_module_sees_it(htpasswd_file):
    # The file's cost (4) for everybody: nothing to do; another cost for the file or for one user:
    # the entries whose password verifies would be re-hashed.
    assert not compare(htpasswd_file, users=users('alice', 'bob'))['changed']
    assert compare(htpasswd_file, users=users('alice', 'bob'), cost=5) == \
        dict(changed=True, added=[], removed=[], updated=['alice', 'bob'])
    per_user = users('alice', 'bob')
    per_user[1]['cost'] = 5
    assert compare(htpasswd_file, users=per_user) == dict(changed=True, added=[], removed=[], updated=['bob'])
    per_user[0]['cost'] = 4
    per_user[1]['cost'] = 4
    assert not compare(htpasswd_file, users=per_user, cost=10)['changed']
    # Not told the file's cost, it judges passwords only (the module, whose cost defaults to 10, would re-hash).
    unjudged = run(htpasswd=dict(path=str(htpasswd_file), users=users('alice', 'bob')))['htpasswd']
    assert unjudged == dict(changed=False, added=[], removed=[], updated=[])
    assert compare(htpasswd_file, check_against_module=False, users=[dict(per_user[1], cost=5)], cost=None) == \
        dict(changed=True, added=[], removed=[], updated=['bob'])


def test_htpasswd_exclusive_removal_add_and_absent(htpasswd_file):
    assert compare(htpasswd_file, users=users('alice'))['changed'] is False       # control: not exclusive
    assert compare(htpasswd_file, users=users('alice'), exclusive=True) == \
        dict(changed=True, added=[], removed=['bob'], updated=[])
    assert compare(htpasswd_file, users=users('alice', 'bob', 'carol')) == \
        dict(changed=True, added=['carol'], removed=[], updated=[])
    assert compare(htpasswd_file, users=users('alice') + [dict(name='bob', state='absent')]) == \
        dict(changed=True, added=[], removed=['bob'], updated=[])


def test_htpasswd_missing_file_adds_every_present_user(tmp_path):
    path = tmp_path / 'htpasswd'
    facts = compare(path, users=users('alice', 'carol') + [dict(name='bob', state='absent')])
    assert facts == dict(changed=True, added=['alice', 'carol'], removed=[], updated=[])
    # Nobody to add, but the htpasswd module would still create the (empty) file.
    assert compare(path, users=[dict(name='bob', state='absent')]) == dict(changed=True, added=[], removed=[],
                                                                           updated=[])
    assert not path.exists()


def test_htpasswd_errors_fail_without_secrets(htpasswd_file, tmp_path):
    result = run(htpasswd=dict(path=str(htpasswd_file), users=[dict(name='carol')]))
    assert result['failed']
    assert result['msg'] == "htpasswd.users[0].password: required for user 'carol', which is not in the file yet"
    result = run(htpasswd=dict(path=str(htpasswd_file), users=[dict(name='a:b', password=PASSWORDS['alice'])]))
    assert result['failed'] and result['msg'].startswith("htpasswd.users[0].name: 'a:b' is not a valid user name")
    assert PASSWORDS['alice'] not in json.dumps(result)
    result = run(htpasswd=dict(path=str(tmp_path), users=users('alice')))
    assert result['failed'] and result['msg'].startswith('htpasswd.path: cannot read %r' % str(tmp_path))


def test_htpasswd_warnings_name_lines_not_content(htpasswd_file, glue):
    with open(str(htpasswd_file), 'a') as f:
        f.write('this line is not an entry\n')
    compare(htpasswd_file, check_against_module=False, users=users('alice', 'bob'))
    assert glue and all('this line' not in w for w in glue)
    assert any('line(s) 3' in w for w in glue)


# ----------------------------------------------------------------- everything at once: read-only

def test_everything_at_once_is_read_only_and_keeps_secrets(host, htpasswd_file, tmp_path, docker):
    files, key = host
    write_cert(files['path'], self_signed(key))
    config = tmp_path / 'config.yml'
    config.write_text('version: 0.1\n')
    expected = hashlib.sha256(config.read_bytes()).hexdigest()
    args = dict(
        paths=[dict(path=str(config), sha256=expected), dict(path=str(tmp_path), checksum=True)],
        certificate=dict(path=str(files['path']), privatekey_path=str(files['privatekey_path']),
                         subject_alt_names=SANS),
        htpasswd=dict(path=str(htpasswd_file), users=users('alice', 'bob', alice='Changed-unit-pw-1'),
                      exclusive=True),
        project_name='demo', images=['registry:2.8.3'])
    before = snapshot(tmp_path)
    results = [run(check_mode=check_mode, **args) for check_mode in (False, True)]
    assert snapshot(tmp_path) == before
    for result in results:
        assert result['changed'] is False and not result['failed']
        assert result['paths'][str(config)]['sha256_matches'] is True
        assert result['certificate']['reason'] == 'valid'
        assert result['htpasswd']['updated'] == ['alice']
        text = json.dumps(result)
        for secret in list(PASSWORDS.values()) + ['Changed-unit-pw-1', expected]:
            assert secret not in text
        assert 'PRIVATE KEY' not in text and '$2' not in text
    assert results[0] == results[1]


# ---------------------------------------------------------------------------------------- docker

def inspect_item(name, service, status, image, labels, health=None):
    state = {'Status': status, 'StartedAt': '2026-01-0%dT00:00:00.1Z' % len(name)}
    if health is not None:
        state['Health'] = {'Status': health, 'FailingStreak': 0}
    item = {'Id': name * 8, 'Name': '/' + name, 'Image': image, 'State': state,
            'Config': {'Labels': dict(labels, **{'com.docker.compose.service': service}) if labels is not None
                       else None}}
    if service == 'registry':
        item['HostConfig'] = {'PortBindings': {'5000/tcp': [{'HostIp': '127.0.0.1', 'HostPort': '5001'}]}}
    return item


def test_docker_facts_from_the_cli(docker):
    items = [
        inspect_item('demo-ui-1', 'ui', 'running', 'sha256:' + 'b' * 64, {'com.docker.compose.project': 'demo'}),
        inspect_item('demo-registry-1', 'registry', 'exited', 'sha256:' + 'a' * 64,
                     {'com.docker.compose.project': 'demo', 'org.example': 'x'}, health='unhealthy'),
        inspect_item('stray', 'none', 'created', 'sha256:' + 'c' * 64, None),
    ]
    docker.set({
        'version': {'out': '27.5.1\n'},
        'compose': {'out': 'v2.32.4\n'},
        'ps': {'out': 'aaa\nbbb\nccc\n'},
        'inspect': {'out': json.dumps(items)},
        'image:registry:2.8.3': {'out': 'sha256:' + 'd' * 64 + '\n'},
    })
    result = run(project_name='demo', images=['registry:2.8.3', 'absent/image:1', 'registry:2.8.3'])
    assert not result['failed'] and result['changed'] is False
    assert result['docker'] == dict(available=True, server_version='27.5.1', compose_version='v2.32.4',
                                    error='', compose_error='')
    assert result['images'] == {'registry:2.8.3': 'sha256:' + 'd' * 64, 'absent/image:1': None}

    def expected(item):
        labels = item['Config']['Labels'] or {}
        return dict(name=item['Name'][1:], service=labels.get('com.docker.compose.service', ''),
                    state=item['State']['Status'], health=item['State'].get('Health', {}).get('Status', ''),
                    image_id=item['Image'], labels=labels, started_at=item['State']['StartedAt'],
                    published=[{'address': '127.0.0.1', 'port': 5001}] if 'HostConfig' in item else [])
    want = sorted((expected(item) for item in items), key=lambda c: (c['service'], c['name']))
    assert result['containers'] == want
    assert [c['service'] for c in result['containers']] == ['', 'registry', 'ui']

    calls = docker.calls()
    by_key = dict((call['key'], call['argv']) for call in calls)
    assert by_key['ps'] == ['ps', '-aq', '--filter', 'label=com.docker.compose.project=demo']
    assert by_key['inspect'] == ['inspect', 'aaa', 'bbb', 'ccc']
    assert by_key['version'] == ['version', '--format', '{{.Server.Version}}']
    assert by_key['compose'] == ['compose', 'version', '--short']
    assert sorted(call['key'] for call in calls) == sorted(
        ['version', 'compose', 'ps', 'inspect', 'image:registry:2.8.3', 'image:absent/image:1'])


def test_docker_not_available_skips_every_other_call(docker):
    docker.set({'version': {'rc': 1, 'err': 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n'}})
    result = run(project_name='demo', images=['registry:2.8.3'])
    assert not result['failed'] and result['changed'] is False
    assert result['docker'] == dict(available=False, server_version=None, compose_version=None,
                                    error='Cannot connect to the Docker daemon at unix:///var/run/docker.sock.',
                                    compose_error='')
    assert result['containers'] is None and result['images'] == {'registry:2.8.3': None}
    assert [call['key'] for call in docker.calls()] == ['version']


def test_docker_program_missing(monkeypatch, tmp_path):
    monkeypatch.setenv('PATH', str(tmp_path))
    result = run(project_name='demo')
    assert not result['failed']
    assert result['docker']['available'] is False and 'No such file' in result['docker']['error']
    assert result['containers'] is None and 'images' not in result


def test_docker_listing_and_compose_errors_are_reported(docker):
    docker.set({
        'version': {'out': '27.5.1\n'},
        'compose': {'rc': 1, 'err': "docker: 'compose' is not a docker command.\n"},
        'ps': {'rc': 1, 'err': 'Error response from daemon: invalid filter\n'},
        'image:registry:2.8.3': {'rc': 1, 'err': 'Error response from daemon: permission denied\n'},
    })
    result = run(project_name='demo', images=['registry:2.8.3', 'gone:1'])
    docker_facts = result['docker']
    assert docker_facts['available'] is True and docker_facts['compose_version'] is None
    assert docker_facts['compose_error'] == "docker: 'compose' is not a docker command."
    assert result['containers'] is None
    assert 'docker ps: Error response from daemon: invalid filter' in docker_facts['error']
    assert 'docker image inspect registry:2.8.3: Error response from daemon: permission denied' in docker_facts['error']
    assert 'gone:1' not in docker_facts['error']     # absent is not an error
    assert result['images'] == {'registry:2.8.3': None, 'gone:1': None}


def test_docker_empty_project_and_vanished_container(docker):
    docker.set({'version': {'out': '27.5.1\n'}, 'compose': {'out': '2.32.4\n'}, 'ps': {'out': ''}})
    result = run(project_name='nothing-here')
    assert result['containers'] == [] and result['docker']['error'] == ''
    assert 'inspect' not in [call['key'] for call in docker.calls()]
    item = inspect_item('demo-ui-1', 'ui', 'running', 'sha256:' + 'b' * 64, {})
    docker.set({'version': {'out': '27.5.1\n'}, 'compose': {'out': '2.32.4\n'}, 'ps': {'out': 'aaa\nbbb\n'},
                'inspect': {'rc': 1, 'out': json.dumps([item]), 'err': 'Error: No such object: bbb\n'}})
    result = run(project_name='demo')
    assert [c['name'] for c in result['containers']] == ['demo-ui-1'] and result['docker']['error'] == ''


def test_docker_calls_run_concurrently(docker):
    slow = 0.6
    docker.set({'version': {'out': '27.5.1\n'}, 'compose': {'out': '2.32.4\n', 'sleep': slow},
                'ps': {'out': '', 'sleep': slow},
                'image:a:1': {'out': 'sha256:1\n', 'sleep': slow}, 'image:b:1': {'out': 'sha256:2\n', 'sleep': slow}})
    result = run(project_name='demo', images=['a:1', 'b:1'])
    assert result['images'] == {'a:1': 'sha256:1', 'b:1': 'sha256:2'}
    calls = dict((call['key'], call) for call in docker.calls())
    parallel = [calls[k] for k in ('compose', 'ps', 'image:a:1', 'image:b:1')]
    # Each of them started before any of them ended, and after docker version ended.
    assert max(call['start'] for call in parallel) < min(call['end'] for call in parallel)
    assert min(call['start'] for call in parallel) >= calls['version']['end']


def test_empty_project_name_fails():
    result = run(project_name=' ')
    assert result['failed'] and result['msg'] == 'project_name: must not be empty'


# ---------------------------------------------------------------- health: a real HTTPS server

HEALTH_USER, HEALTH_PASSWORD = 'admin', 'Health-unit-pw-4e1b'


class _RegistryLike(object):
    """A real HTTPS server on 127.0.0.1 answering like the distribution registry: / 200, /v2/ 401
    with a Basic challenge without (or with wrong) credentials, 200 with the right ones."""

    def __init__(self, directory, sans=None):
        import base64
        import ssl
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        key = c.generate_private_key(c.key_spec())
        self.cert_path = directory / 'registry.crt'
        key_path = directory / 'registry.key'
        write_cert(self.cert_path, self_signed(key, sans or ['localhost', '127.0.0.1']))
        write_key(key_path, key)
        good = 'Basic ' + base64.b64encode(('%s:%s' % (HEALTH_USER, HEALTH_PASSWORD)).encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == '/':
                    return self._answer(200, {})
                if self.headers.get('Authorization') == good:
                    return self._answer(200, {'Docker-Distribution-Api-Version': 'registry/2.0'})
                return self._answer(401, {'WWW-Authenticate': 'Basic realm="Registry"',
                                          'Docker-Distribution-Api-Version': 'registry/2.0'})

            def _answer(self, status, headers):
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header('Content-Length', '2')
                self.end_headers()
                self.wfile.write(b'{}')

            def log_message(self, *args):
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(self.cert_path), str(key_path))
        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = 'https://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry_like(tmp_path):
    server = _RegistryLike(tmp_path)
    yield server
    server.close()


def health(server, **overrides):
    options = dict(url=server.url, ca_path=str(server.cert_path), server_name='localhost',
                   username=HEALTH_USER, password=HEALTH_PASSWORD)
    options.update(overrides)
    return run(health=options)


def test_health_ok_when_the_registry_serves_as_a_client_expects(registry_like):
    result = health(registry_like)
    assert result['health']['ok'] is True, result['health']
    assert result['health']['msg'] == ''
    checks = result['health']['checks']
    assert set(checks) == {'tls', 'liveness', 'anonymous', 'authenticated'}
    assert checks['anonymous']['status'] == 401 and checks['authenticated']['status'] == 200
    assert result['changed'] is False


@pytest.mark.parametrize('overrides, failing', [
    ({'password': 'Wrong-unit-pw'}, 'authenticated'),          # negative control: wrong password
    ({'server_name': 'other.example'}, 'tls'),                  # the certificate does not name it
    ({'auth_expected': False}, 'anonymous'),                    # it refuses anonymous requests
])
def test_health_reports_what_fails_without_failing_the_module(registry_like, overrides, failing):
    result = health(registry_like, **overrides)
    assert result['health']['ok'] is False
    assert result['health']['msg'].startswith(failing + ':'), result['health']['msg']
    assert not result.get('failed')


def test_health_of_an_unusable_ca_or_a_dead_port_is_reported(registry_like, tmp_path):
    missing_ca = health(registry_like, ca_path=str(tmp_path / 'not-yet' / 'ca.crt'))
    assert missing_ca['health'] == {'ok': False, 'msg': missing_ca['health']['msg'], 'checks': {}}
    assert 'ca_path' in missing_ca['health']['msg']
    import socket
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        dead = 'https://127.0.0.1:%d' % probe.getsockname()[1]
    result = health(registry_like, url=dead)
    assert result['health']['ok'] is False and 'tls' in result['health']['msg']


def test_health_password_never_in_the_result(registry_like):
    for password in (HEALTH_PASSWORD, 'Wrong-unit-pw-0a9c'):
        result = health(registry_like, password=password)
        assert password not in json.dumps(result)
    # Control: the user name is reported, so the check above looks at the right text.
    assert HEALTH_USER in json.dumps(result)
