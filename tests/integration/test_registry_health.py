# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockyard.registry.registry_health against the real registry binary (Debian's docker-registry,
CNCF distribution 2.8), started here with TLS + htpasswd, driven through real ansible-playbook runs.
Independent cross-checks use curl and skopeo."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import datetime
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import roles_lib
from roles_lib import curl

USER = 'health'
PASSWORD = 'Pw-registry-health-7c1e9a'  # unique, so its absence from output can be asserted
CERT_DAYS = 30
SYSTEM_PYTHON = '/usr/bin/python3'  # a plain Debian 12 managed node: python3-cryptography 38

pytestmark = pytest.mark.skipif(not os.access(roles_lib.REGISTRY_BIN, os.X_OK), reason='needs Debian package docker-registry')

cryptography = pytest.importorskip('cryptography')
bcrypt = pytest.importorskip('bcrypt')
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402
import ipaddress  # noqa: E402

from ansible_collections.dockyard.registry.plugins.module_utils import _health  # noqa: E402


# ---------------------------------------------------------------- PKI, htpasswd

def _key():
    return ec.generate_private_key(ec.SECP256R1())


def _pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def _make_ca(name):
    key = _key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    """A CA, a server certificate (SAN DNS:localhost, IP:127.0.0.1, valid CERT_DAYS days) and an unrelated CA."""
    d = tmp_path_factory.mktemp('pki')
    ca_key, ca_cert = _make_ca('dockyard test CA')
    dummy, other_ca = _make_ca('some other CA')
    key = _key()
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'localhost')]))
            .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName('localhost'),
                                                        x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = {'ca': d / 'ca.crt', 'other_ca': d / 'other-ca.crt', 'cert': d / 'server.crt', 'key': d / 'server.key'}
    paths['ca'].write_bytes(_pem(ca_cert))
    paths['other_ca'].write_bytes(_pem(other_ca))
    paths['cert'].write_bytes(_pem(cert))
    paths['key'].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    paths['not_after'] = cert.not_valid_after_utc
    return paths


@pytest.fixture(scope='module')
def htpasswd(tmp_path_factory):
    path = tmp_path_factory.mktemp('auth') / 'htpasswd'
    path.write_text('%s:%s\n' % (USER, bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=5)).decode()))
    return path


# ---------------------------------------------------------------- the real registry (roles_lib.LocalRegistry)

@pytest.fixture
def registry(local_registries, pki, htpasswd):
    """Factory: registry(tls=, auth=, delete=, start=) -> roles_lib.LocalRegistry; every one is stopped at teardown."""
    def factory(tls=True, auth=True, delete=True, start=True):
        return local_registries(tls=(pki['cert'], pki['key']) if tls else None, htpasswd=htpasswd if auth else None,
                                ca=pki['ca'], delete=delete, start=start)
    return factory


def reg_curl(reg, path, auth=True, method='GET', accept=_health.MEDIA_MANIFEST):
    """Independent client: the HTTP status code of ``path``."""
    return reg.status(path, user=(USER, PASSWORD) if auth else None, method=method, headers=['Accept: ' + accept])


# ---------------------------------------------------------------- ansible-playbook

def health_tasks(tasks):
    """registry_health once per entry of ``tasks`` (name -> module args), errors ignored."""
    return [{'name': name, 'dockyard.registry.registry_health': module_args, 'ignore_errors': True}
            for name, module_args in tasks.items()]


def run_checks(tmp_path, tasks, **kwargs):
    """Run the tasks; return ({name: result}, combined output)."""
    result = roles_lib.run_tasks(tmp_path, health_tasks(tasks), **kwargs)
    assert result.rc == 0, result.describe()  # ignore_errors: a failing check must not break the play
    results = result.results()
    return dict((name, results[name]) for name in tasks), result.output


def args(reg, **kwargs):
    base = {'url': reg.url, 'ca_path': reg.ca, 'username': USER, 'password': PASSWORD, 'timeout': 0}
    base.update(kwargs)
    return base


def failing(result):
    return sorted(name for name, check in result['checks'].items() if not check['ok'])


def assert_no_secret(text):
    assert PASSWORD not in text
    assert base64.b64encode(('%s:%s' % (USER, PASSWORD)).encode()).decode() not in text


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize('check', [False, True], ids=['apply', 'check_mode'])
@pytest.mark.parametrize('python', [sys.executable, SYSTEM_PYTHON], ids=['venv', 'debian_python'])
def test_all_checks_pass_and_round_trip_deletes(tmp_path, registry, pki, check, python):
    if not os.access(python, os.X_OK):
        pytest.skip('%s not installed' % python)
    reg = registry(delete=True)
    results, output = run_checks(tmp_path, {'health': args(reg, round_trip=True, delete_expected=True)},
                                 check=check, python=python)
    res = results['health']
    assert not res.get('failed'), res['msg']
    assert res['changed'] is False
    assert failing(res) == []
    assert all(not c['skipped'] for c in res['checks'].values())
    assert res['checks']['anonymous']['status'] == 401
    assert res['checks']['authenticated']['status'] == 200
    assert res['checks']['round_trip']['status'] == 202
    assert 'deleted' in res['checks']['round_trip']['msg']
    assert all(isinstance(c['latency_ms'], int) for c in res['checks'].values())
    assert res['api_version'] == 'registry/2.0'
    assert res['repositories'] == 0  # catalog runs before the round trip, on an empty registry
    assert res['attempts'] == 1
    assert res['cert_not_after'] == pki['not_after'].replace(microsecond=0).isoformat()
    assert res['days_left'] in (CERT_DAYS - 1, CERT_DAYS)
    # independent client: the pushed manifest is gone, also by digest
    digest = res['checks']['round_trip']['msg'].split('(manifest ')[1].split(',')[0]
    assert digest.startswith('sha256:')
    assert reg_curl(reg, '/v2/dockyard/health-check/manifests/%s' % digest) == 404
    assert reg_curl(reg, '/v2/dockyard/health-check/manifests/%s' % digest, auth=False) == 401  # negative control
    assert_no_secret(output + json.dumps(res))


def test_round_trip_with_delete_disabled(tmp_path, registry):
    reg = registry(delete=False)
    results, output = run_checks(tmp_path, {
        'tolerated': args(reg, round_trip=True),
        'expected': args(reg, round_trip=True, delete_expected=True, timeout=60),
    })
    res = results['tolerated']
    assert not res.get('failed'), res['msg']
    assert res['checks']['round_trip']['ok'] is True
    assert res['checks']['round_trip']['status'] == 405
    assert 'delete disabled on the registry' in res['checks']['round_trip']['msg']
    assert 'UNSUPPORTED' in res['checks']['round_trip']['msg']
    tag = res['checks']['round_trip']['msg'].split('dockyard/health-check:')[1].split(' ')[0]
    assert reg_curl(reg, '/v2/dockyard/health-check/manifests/%s' % tag) == 200  # still there
    if shutil.which('skopeo'):  # a second, independent registry client reads the pushed image
        cert_dir = reg.dir / 'certs'
        cert_dir.mkdir()
        shutil.copy(reg.ca, str(cert_dir / 'ca.crt'))
        inspect = subprocess.run(['skopeo', 'inspect', '--cert-dir', str(cert_dir), '--creds', '%s:%s' % (USER, PASSWORD),
                                  'docker://localhost:%d/dockyard/health-check:%s' % (reg.port, tag)],
                                 capture_output=True, text=True, check=True)
        assert json.loads(inspect.stdout)['Os'] == 'linux'

    res = results['expected']
    assert res['failed'] is True
    assert failing(res) == ['round_trip']
    assert res['checks']['round_trip']['status'] == 405
    assert 'round_trip: ' in res['msg'] and 'delete_expected=true' in res['msg']
    assert res['attempts'] == 1 and res['elapsed'] < 30  # no retry can fix it: no second image pushed
    tags = curl(reg.url + '/v2/dockyard/health-check/tags/list', cacert=reg.ca, user=(USER, PASSWORD))[2]
    assert len(json.loads(tags)['tags']) == 2  # one per task
    assert_no_secret(output + json.dumps(results))


def test_wrong_password_fails_authenticated(tmp_path, registry):
    reg = registry()
    results, output = run_checks(tmp_path, {
        'wrong': args(reg, password='not-the-password', round_trip=True),
        'right': args(reg),  # control: the same registry with the right password
    })
    res = results['wrong']
    assert res['failed'] is True
    assert res['changed'] is False
    assert res['checks']['authenticated']['status'] == 401
    assert 'authenticated' in failing(res)
    assert 'authenticated: credentials of user %r rejected' % USER in res['msg']
    assert res['checks']['round_trip']['msg'].startswith('not run:')
    assert 'not-the-password' not in output + json.dumps(res)
    assert not results['right'].get('failed'), results['right']['msg']


def test_registry_without_auth_fails_when_auth_expected(tmp_path, registry):
    reg = registry(auth=False)
    results, output = run_checks(tmp_path, {
        'expected': args(reg),
        'anonymous_only': {'url': reg.url, 'ca_path': reg.ca, 'timeout': 0},
        'not_expected': args(reg, auth_expected=False, username=None, password=None, round_trip=True,
                             delete_expected=True),
    })
    for name in ('expected', 'anonymous_only'):
        res = results[name]
        assert res['failed'] is True, name
        assert 'anonymous' in failing(res)
        assert res['checks']['anonymous']['status'] == 200
        assert 'registry accepts anonymous requests although authentication is expected' in res['msg']
    # control: the same registry passes when no authentication is expected
    res = results['not_expected']
    assert not res.get('failed'), res['msg']
    assert res['checks']['authenticated']['skipped'] is True
    assert res['checks']['round_trip']['ok'] is True
    assert res['repositories'] == 0


def test_auth_registry_fails_when_no_auth_expected(tmp_path, registry):
    reg = registry()
    results, dummy = run_checks(tmp_path, {'health': args(reg, auth_expected=False, username=None, password=None)})
    res = results['health']
    assert res['failed'] is True
    assert failing(res) == ['anonymous', 'catalog']
    assert 'requires authentication (401) although auth_expected=false' in res['msg']


def test_wrong_ca_fails_tls(tmp_path, registry, pki):
    reg = registry()
    results, dummy = run_checks(tmp_path, {
        'wrong_ca': args(reg, ca_path=str(pki['other_ca'])),
        'system_trust': args(reg, ca_path=None),
        'no_verify': args(reg, ca_path=str(pki['other_ca']), validate_certs=False),
    })
    for name in ('wrong_ca', 'system_trust'):
        res = results[name]
        assert res['failed'] is True, name
        assert res['checks']['tls']['ok'] is False
        assert 'tls: certificate of localhost:%d not trusted' % reg.port in res['msg']
        assert res['checks']['liveness']['msg'] == 'not run: TLS handshake failed'
        assert res['cert_not_after'] is None
    res = results['no_verify']  # control: the same server passes without verification, and says so
    assert not res.get('failed'), res['msg']
    assert 'NOT verified' in res['checks']['tls']['msg']
    assert res['days_left'] in (CERT_DAYS - 1, CERT_DAYS)


def test_server_name_and_min_days_left(tmp_path, registry):
    reg = registry()
    ip_url = 'https://127.0.0.1:%d' % reg.port
    results, dummy = run_checks(tmp_path, {
        'right_name': args(reg, url=ip_url, server_name='localhost', min_days_left=CERT_DAYS - 2),
        'wrong_name': args(reg, url=ip_url, server_name='registry.example.com'),
        'too_short': args(reg, min_days_left=CERT_DAYS + 5),
    })
    res = results['right_name']
    assert not res.get('failed'), res['msg']
    res = results['wrong_name']
    assert res['failed'] is True
    assert 'tls' in failing(res) and "for 'registry.example.com'" in res['checks']['tls']['msg']
    res = results['too_short']
    assert res['failed'] is True
    assert failing(res) == ['tls']
    assert 'fewer than min_days_left=%d' % (CERT_DAYS + 5) in res['msg']
    assert res['checks']['catalog']['ok'] is True  # an expiring certificate does not hide the other checks


def test_plain_http_registry(tmp_path, registry):
    reg = registry(tls=False)
    results, dummy = run_checks(tmp_path, {'health': args(reg, ca_path=None)})
    res = results['health']
    assert not res.get('failed'), res['msg']
    assert res['checks']['tls'] == {'ok': True, 'skipped': True, 'status': None, 'latency_ms': None,
                                    'msg': 'plain http:// url, no TLS'}
    assert res['cert_not_after'] is None and res['days_left'] is None


def test_retries_until_registry_starts(tmp_path, registry):
    reg = registry(start=False)
    remote_tmp = str(tmp_path / 'remote-tmp')
    running = roles_lib.run_tasks(tmp_path, health_tasks({'health': args(reg, timeout=60, round_trip=True)}),
                                  background=True, env={'ANSIBLE_REMOTE_TEMP': remote_tmp})
    try:
        # Wait until this run's module is really retrying (a loaded machine may take seconds to start
        # ansible-playbook), then long enough for more than one attempt (one a second).
        roles_lib.wait_for(lambda: roles_lib.run(['pgrep', '-f', remote_tmp + '/.*AnsiballZ_registry_health'])
                           .returncode == 0 or running.poll() is not None, 120, interval=0.2,
                           what='the registry_health module to start')
        time.sleep(3)
        assert running.poll() is None, running.result(timeout=10).describe()  # still retrying
        reg.start()
        result = running.result(timeout=120)
    finally:
        running.kill()
    assert result.rc == 0, result.describe()
    res = result.results()['health']
    assert not res.get('failed'), res['msg']
    assert res['attempts'] >= 2
    assert res['elapsed'] >= 2


def test_nothing_listening_fails_after_timeout(tmp_path):
    port = roles_lib.free_port()
    start = time.monotonic()
    results, output = run_checks(tmp_path, {'health': {
        'url': 'https://localhost:%d' % port, 'username': USER, 'password': PASSWORD, 'timeout': 3}})
    res = results['health']
    assert res['failed'] is True
    assert time.monotonic() - start >= 3
    assert res['elapsed'] >= 3
    assert res['attempts'] >= 3
    assert res['msg'].startswith('registry health check failed after %d attempts' % res['attempts'])
    assert 'tls: TLS handshake with localhost:%d failed: ConnectionRefusedError' % port in res['msg']
    assert 'liveness: not run: TLS handshake failed' in res['msg']
    assert_no_secret(output)


def test_password_never_in_verbose_output(tmp_path, registry):
    good = registry()
    bad = registry(auth=False, delete=False)
    results, output = run_checks(tmp_path, {
        'ok': args(good, round_trip=True),
        'failing': args(bad, round_trip=True, delete_expected=True, auth_expected=False),
    }, verbosity=3)
    assert not results['ok'].get('failed'), results['ok']['msg']
    assert results['failing']['failed'] is True
    # -vvv prints the module arguments: the password option is masked there, and nowhere else present
    assert '"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in output
    assert 'delete_expected=true' in output
    assert_no_secret(output + json.dumps(results))


def test_expiry_without_cryptography(registry, pki, monkeypatch):
    """The getpeercert() fallback reads the same expiry from the real server as cryptography does."""
    reg = registry()
    target = _health.parse_url(reg.url)
    now = datetime.datetime.now(datetime.timezone.utc)
    context = _health.make_ssl_context(reg.ca)
    with_lib = _health.check_tls(target, context, 5, now, 0)
    monkeypatch.setattr(_health, 'HAS_CRYPTOGRAPHY', False)
    without = _health.check_tls(target, context, 5, now, 0)
    assert with_lib[0]['ok'] and without[0]['ok']
    assert with_lib[1] == without[1] == pki['not_after'].replace(microsecond=0)
    unverified = _health.check_tls(target, _health.make_ssl_context(validate_certs=False), 5, now, 1)
    assert unverified[1] is None and unverified[3] is True
    assert unverified[0]['ok'] is False and 'cannot be checked' in unverified[0]['msg']
