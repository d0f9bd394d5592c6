# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""main() of dockyard.registry.certificate with real files; only the AnsibleModule exit glue is faked."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockyard.registry.tests.unit.plugins.modules.glue import Finished, fake_exit_glue

from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as c
from ansible_collections.dockyard.registry.plugins.modules import certificate

SANS = ['registry.example.com', '127.0.0.1']


@pytest.fixture
def run(monkeypatch):
    """Run main() with the given arguments; return (result, warnings)."""
    warnings = fake_exit_glue(monkeypatch)

    def _run(check_mode=False, diff=False, **args):
        args.update(_ansible_check_mode=check_mode, _ansible_diff=diff)
        with patch_module_args(args):
            with pytest.raises(Finished) as exc:
                certificate.main()
        result = exc.value.args[0]
        result['warnings'] = list(warnings)
        del warnings[:]
        return result
    return _run


@pytest.fixture
def files(tmp_path):
    return {'path': str(tmp_path / 'registry.crt'), 'privatekey_path': str(tmp_path / 'registry.key')}


def listing(directory):
    return sorted((p, open(os.path.join(directory, p), 'rb').read()) for p in os.listdir(directory))


def file_mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_self_signed_four_steps(run, files, tmp_path):
    checked = run(check_mode=True, diff=True, subject_alt_names=SANS, **files)
    assert checked['changed'] and checked['reason'] == 'missing' and not checked['failed']
    assert os.listdir(str(tmp_path)) == []
    assert checked['diff']['before'] == {} and checked['diff']['after']['subject_alt_names'] == \
        ['DNS:registry.example.com', 'IP:127.0.0.1']

    applied = run(diff=True, subject_alt_names=SANS, **files)
    assert applied['changed'] and applied['reason'] == 'missing'
    assert file_mode(files['privatekey_path']) == 0o600
    assert file_mode(files['path']) == 0o644
    assert applied['certificate_path'] == files['path'] and applied['privatekey_path'] == files['privatekey_path']
    with open(files['path'], 'rb') as f:
        cert = c.load_certificate(f.read())
    assert applied['fingerprint_sha256'] == c.fingerprint_sha256(cert)
    assert applied['diff']['after']['fingerprint_sha256'] == applied['fingerprint_sha256']
    before = listing(str(tmp_path))

    for check_mode in (True, False):
        again = run(check_mode=check_mode, diff=True, subject_alt_names=SANS, **files)
        assert not again['changed'] and again['reason'] == 'valid'
        assert again['diff']['before'] == again['diff']['after']
        assert again['fingerprint_sha256'] == applied['fingerprint_sha256']
    assert listing(str(tmp_path)) == before


def test_san_change_renews_certificate_keeps_key(run, files):
    run(subject_alt_names=SANS, **files)
    with open(files['privatekey_path'], 'rb') as f:
        key = f.read()
    changed = run(subject_alt_names=SANS + ['IP:::1'], **files)
    assert changed['changed'] and changed['reason'] == 'san_changed'
    assert changed['subject_alt_names'][-1] == 'IP:::1'
    with open(files['privatekey_path'], 'rb') as f:
        assert f.read() == key


def test_key_type_change_and_rsa(run, files):
    run(subject_alt_names=SANS, **files)
    result = run(subject_alt_names=SANS, key_type='rsa', key_size=2048, **files)
    assert result['changed'] and result['reason'] == 'key_type_changed'
    with open(files['privatekey_path'], 'rb') as f:
        assert c.describe_key(c.load_private_key(f.read())) == 'rsa 2048'
    assert not run(subject_alt_names=SANS, key_type='rsa', key_size=2048, **files)['changed']


def test_key_mode_is_always_0600_and_certificate_mode_applies(run, files):
    run(subject_alt_names=SANS, certificate_mode='0640', **files)
    assert file_mode(files['path']) == 0o640
    os.chmod(files['privatekey_path'], 0o644)
    result = run(subject_alt_names=SANS, certificate_mode='0640', **files)
    assert result['changed'] and result['reason'] == 'valid'
    assert file_mode(files['privatekey_path']) == 0o600
    # An existing certificate keeps its mode when certificate_mode is not set.
    assert not run(subject_alt_names=SANS, **files)['changed']
    assert file_mode(files['path']) == 0o640


def test_regenerated_key_replacing_open_file_is_0600(run, files):
    with open(files['privatekey_path'], 'w') as f:
        f.write('not a key')
    os.chmod(files['privatekey_path'], 0o644)
    result = run(subject_alt_names=SANS, **files)
    assert result['reason'] == 'unreadable'
    assert file_mode(files['privatekey_path']) == 0o600


@pytest.mark.parametrize('args, message', [
    ({'subject_alt_names': ['foo bar']}, "subject_alt_names='foo bar': not a valid DNS name"),
    ({'subject_alt_names': ['999.1.1.1']}, "subject_alt_names='999.1.1.1': not a valid IP address"),
    ({'subject_alt_names': SANS, 'curve': 'P-521'}, 'value of curve must be one of: P-256, P-384, got: P-521'),
    ({'subject_alt_names': SANS, 'key_type': 'rsa', 'curve': 'P-384'}, "curve='P-384': only used with key_type=ecdsa"),
    ({'subject_alt_names': SANS, 'valid_days': 10}, 'renew_before_days=30: must be at least 0 and less than valid_days'),
    ({'subject_alt_names': SANS, 'csr_content': 'x'}, 'csr_content: not allowed with mode=self_signed'),
    ({'subject_alt_names': SANS, 'ca_cert_path': '/nonexistent/ca.crt'}, 'ca_cert_path: not allowed with mode=self_signed'),
    ({'subject_alt_names': SANS, 'mode': 'csr', 'ca_privatekey_path': '/x/ca.key'},
     'ca_privatekey_path: not allowed with mode=csr'),
    ({'subject_alt_names': SANS, 'mode': 'ca', 'ca_cert_path': '/nonexistent/ca.crt', 'ca_privatekey_path': '/nonexistent/ca.key'},
     "ca_cert_path='/nonexistent/ca.crt': file does not exist"),
    ({}, 'mode is self_signed but all of the following are missing: subject_alt_names'),
])
def test_bad_input_one_error_nothing_written(run, files, tmp_path, args, message):
    result = run(**dict(files, **args))
    assert result['failed']
    assert message in result['msg']
    assert os.listdir(str(tmp_path)) == []


def test_missing_directory(run, tmp_path):
    result = run(subject_alt_names=SANS, path=str(tmp_path / 'nope' / 'c.crt'), privatekey_path=str(tmp_path / 'c.key'))
    assert result['failed'] and "path='%s': the directory does not exist" % (tmp_path / 'nope' / 'c.crt') in result['msg']
    assert os.listdir(str(tmp_path)) == []


def test_ca_key_mismatch_error_writes_nothing(run, tmp_path):
    cas = []
    for name in ('a', 'b'):
        ca_dir = tmp_path / name
        ca_dir.mkdir()
        run(mode='ca_root', path=str(ca_dir / 'ca.crt'), privatekey_path=str(ca_dir / 'ca.key'))
        cas.append(ca_dir)
    host = tmp_path / 'host'
    host.mkdir()
    result = run(mode='ca', subject_alt_names=SANS, path=str(host / 'c.crt'), privatekey_path=str(host / 'c.key'),
                 ca_cert_path=str(cas[0] / 'ca.crt'), ca_privatekey_path=str(cas[1] / 'ca.key'))
    assert result['failed']
    assert result['msg'] == ("ca_privatekey_path=%r: this key does not match the CA certificate at ca_cert_path=%r"
                             % (str(cas[1] / 'ca.key'), str(cas[0] / 'ca.crt')))
    assert os.listdir(str(host)) == []


def test_csr_sign_install_through_main(run, tmp_path):
    ca_dir, host = tmp_path / 'ca', tmp_path / 'host'
    ca_dir.mkdir()
    host.mkdir()
    ca = dict(ca_cert_path=str(ca_dir / 'ca.crt'))
    root = run(mode='ca_root', path=ca['ca_cert_path'], privatekey_path=str(ca_dir / 'ca.key'), common_name='Test CA')
    assert root['changed'] and root['subject'] == 'CN=Test CA' and root['ca_fingerprint_sha256'] == root['fingerprint_sha256']
    host_files = dict(path=str(host / 'registry.crt'), privatekey_path=str(host / 'registry.key'))

    request = run(mode='csr', subject_alt_names=SANS, **dict(host_files, **ca))
    assert request['changed'] and request['needs_certificate'] and request['reason'] == 'missing'
    assert os.listdir(str(host)) == ['registry.key']
    assert file_mode(host_files['privatekey_path']) == 0o600
    assert request['fingerprint_sha256'] is None

    signed = run(mode='sign', csr_content=request['csr'], ca_privatekey_path=str(ca_dir / 'ca.key'),
                 subject_alt_names=SANS, **ca)
    assert not signed['changed'] and signed['certificate'].startswith('-----BEGIN CERTIFICATE-----')
    assert signed['issuer'] == 'CN=Test CA' and 'reason' not in signed and 'certificate_path' not in signed

    installed = run(mode='install', certificate_content=signed['certificate'], diff=True, **dict(host_files, **ca))
    assert installed['changed'] and installed['reason'] == 'missing'
    assert installed['fingerprint_sha256'] == signed['fingerprint_sha256']
    assert installed['diff']['after']['fingerprint_sha256'] == signed['fingerprint_sha256']
    with open(host_files['path']) as f:
        assert f.read() == signed['certificate']

    assert not run(mode='install', certificate_content=signed['certificate'], **dict(host_files, **ca))['changed']
    again = run(mode='csr', subject_alt_names=SANS, **dict(host_files, **ca))
    assert not again['changed'] and not again['needs_certificate'] and 'csr' not in again
    assert again['reason'] == 'valid' and again['ca_fingerprint_sha256'] == root['fingerprint_sha256']

    # A certificate for another key: error, and the installed file is untouched.
    other = run(mode='self_signed', subject_alt_names=SANS, path=str(tmp_path / 'o.crt'), privatekey_path=str(tmp_path / 'o.key'))
    with open(str(tmp_path / 'o.crt')) as f:
        foreign = f.read()
    before = listing(str(host))
    wrong = run(mode='install', certificate_content=foreign, **host_files)
    assert wrong['failed'] and 'certificate_content: the certificate does not match the private key' in wrong['msg']
    assert listing(str(host)) == before
    assert other['changed']


def test_csr_flow_in_check_mode_on_a_fresh_host(run, tmp_path):
    ca_dir = tmp_path / 'ca'
    ca_dir.mkdir()
    run(mode='ca_root', path=str(ca_dir / 'ca.crt'), privatekey_path=str(ca_dir / 'ca.key'))
    host_files = dict(path=str(tmp_path / 'r.crt'), privatekey_path=str(tmp_path / 'r.key'))
    request = run(mode='csr', check_mode=True, subject_alt_names=SANS, **host_files)
    assert request['changed'] and request['needs_certificate'] and request['csr']
    signed = run(mode='sign', check_mode=True, csr_content=request['csr'], ca_cert_path=str(ca_dir / 'ca.crt'),
                 ca_privatekey_path=str(ca_dir / 'ca.key'))
    installed = run(mode='install', check_mode=True, certificate_content=signed['certificate'], **host_files)
    assert installed['changed'] and not installed['failed']
    assert any('does not exist yet' in w for w in installed['warnings'])
    assert sorted(os.listdir(str(tmp_path))) == ['ca']


def test_output_never_contains_key_material(run, files, tmp_path):
    results = [run(diff=True, subject_alt_names=SANS, **files),
               run(diff=True, force=True, subject_alt_names=SANS, **files),
               run(diff=True, mode='csr', force=True, subject_alt_names=SANS, **files)]
    with open(files['privatekey_path']) as f:
        key = f.read()
    text = json.dumps(results)
    assert 'PRIVATE KEY' not in text
    assert ''.join(key.splitlines()[1:-1]) not in text.replace('\\n', '')
    assert results[1]['reason'] == 'forced' and results[2]['reason'] == 'forced'
