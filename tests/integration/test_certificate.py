# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockyard.registry.certificate against the real things.

Each flow runs through real ``ansible-playbook`` runs on localhost in the four steps (check,
apply, check, apply), once with the project's Python (current cryptography) and once with
Debian's /usr/bin/python3 (python3-cryptography 38.0.4, a plain Debian 12 managed node).
What the module wrote is then checked with OpenSSL, and served by the real CNCF distribution
registry (Debian's docker-registry) to curl, with a negative control: without the CA, curl
must refuse the connection.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import stat
import subprocess
import sys

import pytest

from roles_lib import curl_run, run_tasks

OPENSSL = shutil.which('openssl')
CURL = shutil.which('curl')
SYSTEM_PYTHON = '/usr/bin/python3'


def _has_cryptography(python):
    return os.access(python, os.X_OK) and subprocess.call(
        [python, '-c', 'import cryptography'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) == 0


INTERPRETERS = [pytest.param(sys.executable, id='project-python')]
if _has_cryptography(SYSTEM_PYTHON):
    INTERPRETERS.append(pytest.param(SYSTEM_PYTHON, id='debian-python3'))

pytestmark = pytest.mark.skipif(not (OPENSSL and CURL and shutil.which('ansible-playbook')),
                                reason='needs openssl, curl and ansible-playbook')


# ------------------------------------------------------------------ running playbooks

@pytest.fixture(params=INTERPRETERS)
def play(request, tmp_path):
    """play(tasks, check=False, expect_failure=False) -> {task name: result on localhost}."""
    interpreter = request.param
    assert os.environ.get('ANSIBLE_COLLECTIONS_PATH'), 'run after: eval "$(scripts/dev-env)"'

    def _play(tasks, check=False, expect_failure=False):
        run = run_tasks(tmp_path, tasks, python=interpreter, check=check, diff=True)
        assert (run.rc != 0) == expect_failure, run.describe()
        results = run.results()
        for result in results.values():
            assert 'PRIVATE KEY' not in json.dumps(result)
        return results
    _play.interpreter = interpreter
    return _play


def four_steps(play, tasks, dirs, expect_changed):
    """check, apply, check, apply. ``expect_changed``: task names that change the first time."""
    before = dict((d, sorted(os.listdir(d))) for d in dirs)
    first = play(tasks, check=True)
    for name, result in first.items():
        assert result.get('changed', False) == (name in expect_changed), (name, result)
    assert dict((d, sorted(os.listdir(d))) for d in dirs) == before, 'check mode wrote something'
    applied = play(tasks)
    for name, result in applied.items():
        assert result.get('changed', False) == (name in expect_changed), (name, result)
    for check in (True, False):
        again = play(tasks, check=check)
        for name, result in again.items():
            assert not result.get('changed', False), (name, result)
            assert result.get('reason', 'valid') == 'valid' or result.get('skipped'), (name, result)
    return applied


def task(name, **args):
    return {'name': name, 'dockyard.registry.certificate': args}


# ------------------------------------------------------------------ independent checks

def openssl(*args, **kwargs):
    return subprocess.run([OPENSSL] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, check=False, **kwargs)


def assert_key_and_certificate(key_path, cert_path, san_text):
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = openssl('pkey', '-in', key_path, '-noout', '-text')
    assert key.returncode == 0, key.stdout
    pub_from_key = openssl('pkey', '-in', key_path, '-pubout').stdout
    pub_from_cert = openssl('x509', '-in', cert_path, '-noout', '-pubkey').stdout
    assert pub_from_key == pub_from_cert and 'BEGIN PUBLIC KEY' in pub_from_key
    sans = openssl('x509', '-in', cert_path, '-noout', '-ext', 'subjectAltName')
    assert sans.returncode == 0 and san_text in sans.stdout, sans.stdout
    usage = openssl('x509', '-in', cert_path, '-noout', '-ext', 'extendedKeyUsage,basicConstraints')
    assert 'TLS Web Server Authentication' in usage.stdout and 'CA:FALSE' in usage.stdout
    return key.stdout


def openssl_fingerprint(cert_path):
    out = openssl('x509', '-in', cert_path, '-noout', '-fingerprint', '-sha256').stdout
    return out.strip().split('=', 1)[1]


@pytest.fixture
def tls_registry(local_registries):
    """start(cert, key) -> port of a real docker-registry serving TLS with that pair."""
    return lambda cert, key: local_registries(tls=(cert, key)).port


def assert_served(port, ca, wrong_ca):
    for host in ('localhost', '127.0.0.1'):
        url = 'https://%s:%d/v2/' % (host, port)
        trusted = curl_run(url, cacert=ca)
        assert trusted.rc == 0 and trusted.status == 200, trusted.error
        untrusted = curl_run(url)  # negative control: same request without the CA
        assert untrusted.rc == 60 and 'certificate' in untrusted.error, untrusted
        wrong = curl_run(url, cacert=wrong_ca)  # and with another CA
        assert wrong.rc == 60, wrong


# ------------------------------------------------------------------ flows

SANS = ['localhost', 'IP:127.0.0.1']
SAN_TEXT = 'DNS:localhost, IP Address:127.0.0.1'


@pytest.fixture
def stranger_ca(tmp_path):
    """A CA nobody used: for negative controls."""
    key, cert = tmp_path / 'stranger.key', tmp_path / 'stranger.crt'
    subprocess.run([OPENSSL, 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
                    '-keyout', str(key), '-out', str(cert), '-subj', '/CN=stranger', '-days', '2'],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert


def test_self_signed(play, tmp_path, tls_registry, stranger_ca):
    certs = tmp_path / 'certs'
    certs.mkdir()
    crt, key = certs / 'registry.crt', certs / 'registry.key'
    tasks = [task('self-signed', path=str(crt), privatekey_path=str(key), subject_alt_names=SANS)]
    result = four_steps(play, tasks, [str(certs)], {'self-signed'})['self-signed']
    assert result['reason'] == 'missing' and result['subject_alt_names'] == ['DNS:localhost', 'IP:127.0.0.1']
    assert result['fingerprint_sha256'] == openssl_fingerprint(str(crt))
    assert stat.S_IMODE(os.stat(str(crt)).st_mode) == 0o644
    key_text = assert_key_and_certificate(str(key), str(crt), SAN_TEXT)
    assert 'prime256v1' in key_text or 'P-256' in key_text
    verify = openssl('verify', '-CAfile', str(crt), str(crt))
    assert verify.returncode == 0 and verify.stdout.strip().endswith('OK'), verify.stdout
    assert openssl('verify', '-CAfile', str(stranger_ca), str(crt)).returncode != 0
    assert_served(tls_registry(crt, key), crt, stranger_ca)


def test_ca_root_and_ca(play, tmp_path, tls_registry, stranger_ca):
    ca_dir, certs = tmp_path / 'ca', tmp_path / 'certs'
    ca_dir.mkdir()
    certs.mkdir()
    ca = dict(ca_cert_path=str(ca_dir / 'ca.crt'), ca_privatekey_path=str(ca_dir / 'ca.key'))
    crt, key = certs / 'registry.crt', certs / 'registry.key'
    tasks = [
        task('ca root', mode='ca_root', path=ca['ca_cert_path'], privatekey_path=ca['ca_privatekey_path'], curve='P-384'),
        task('server', mode='ca', path=str(crt), privatekey_path=str(key), subject_alt_names=SANS,
             key_type='rsa', key_size=2048, **ca),
    ]
    # In check mode the CA does not exist yet, so the server task cannot run: the CA first.
    applied = four_steps(play, tasks[:1], [str(ca_dir)], {'ca root'})
    assert applied['ca root']['subject'] == 'CN=dockyard registry CA'
    applied = four_steps(play, tasks, [str(ca_dir), str(certs)], {'server'})
    server = applied['server']
    assert server['issuer'] == 'CN=dockyard registry CA' and server['reason'] == 'missing'
    assert server['ca_fingerprint_sha256'] == openssl_fingerprint(ca['ca_cert_path'])
    assert stat.S_IMODE(os.stat(ca['ca_privatekey_path']).st_mode) == 0o600
    ca_text = openssl('x509', '-in', ca['ca_cert_path'], '-noout', '-ext', 'basicConstraints,keyUsage').stdout
    assert 'critical' in ca_text and 'CA:TRUE' in ca_text and 'Certificate Sign, CRL Sign' in ca_text
    key_text = assert_key_and_certificate(str(key), str(crt), SAN_TEXT)
    assert '2048 bit' in key_text
    verify = openssl('verify', '-CAfile', ca['ca_cert_path'], str(crt))
    assert verify.returncode == 0 and verify.stdout.strip().endswith('OK'), verify.stdout
    assert openssl('verify', '-CAfile', str(stranger_ca), str(crt)).returncode != 0
    port = tls_registry(crt, key)
    assert_served(port, ca['ca_cert_path'], stranger_ca)


def test_csr_sign_install(play, tmp_path, tls_registry, stranger_ca):
    ca_dir, host = tmp_path / 'ca-host', tmp_path / 'registry-host'
    ca_dir.mkdir()
    host.mkdir()
    ca_cert, ca_key = str(ca_dir / 'ca.crt'), str(ca_dir / 'ca.key')
    play([task('ca root', mode='ca_root', path=ca_cert, privatekey_path=ca_key)])
    shutil.copy(ca_cert, str(host / 'ca.crt'))  # the host gets the CA certificate, never its key
    crt, key = str(host / 'registry.crt'), str(host / 'registry.key')
    tasks = [
        dict(task('request', mode='csr', path=crt, privatekey_path=key, ca_cert_path=str(host / 'ca.crt'),
                  subject_alt_names=SANS), register='request'),
        dict(task('sign', mode='sign', csr_content='{{ request.csr }}', ca_cert_path=ca_cert,
                  ca_privatekey_path=ca_key, subject_alt_names=SANS),
             register='signed', when='request.needs_certificate'),
        dict(task('install', mode='install', path=crt, privatekey_path=key, ca_cert_path=str(host / 'ca.crt'),
                  certificate_content='{{ signed.certificate }}'), when='request.needs_certificate'),
    ]
    applied = four_steps(play, tasks, [str(ca_dir), str(host)], {'request', 'install'})
    assert applied['request']['needs_certificate'] and applied['request']['csr'].startswith(
        '-----BEGIN CERTIFICATE REQUEST-----')
    assert applied['install']['fingerprint_sha256'] == applied['sign']['fingerprint_sha256'] == \
        openssl_fingerprint(crt)
    again = play(tasks[:1])['request']
    assert again['needs_certificate'] is False and 'csr' not in again and not again['changed']
    assert sorted(os.listdir(str(host))) == ['ca.crt', 'registry.crt', 'registry.key']
    assert_key_and_certificate(key, crt, SAN_TEXT)
    verify = openssl('verify', '-CAfile', ca_cert, crt)
    assert verify.returncode == 0 and verify.stdout.strip().endswith('OK'), verify.stdout
    assert_served(tls_registry(crt, key), ca_cert, stranger_ca)


BAD_INPUT = [
    ({'subject_alt_names': ['foo bar']}, "subject_alt_names='foo bar': not a valid DNS name"),
    ({'subject_alt_names': ['999.1.1.1']}, "subject_alt_names='999.1.1.1': not a valid IP address"),
    ({'subject_alt_names': ['-bad.example']}, "subject_alt_names='-bad.example': not a valid DNS name"),
    ({'subject_alt_names': SANS, 'curve': 'P-521'}, 'value of curve must be one of: P-256, P-384, got: P-521'),
]


def test_bad_input(play, tmp_path):
    """One clear error per task, and nothing written (one playbook, errors ignored, to save runs)."""
    certs = tmp_path / 'certs'
    certs.mkdir()
    target = dict(path=str(certs / 'r.crt'), privatekey_path=str(certs / 'r.key'))
    tasks = [dict(task('bad %d' % i, **dict(case[0], **target)), ignore_errors=True) for i, case in enumerate(BAD_INPUT)]
    results = play(tasks)
    for i, case in enumerate(BAD_INPUT):
        message = case[1]
        result = results['bad %d' % i]
        assert result['failed'] and message in result['msg'], result
    assert os.listdir(str(certs)) == []


def test_bad_ca_inputs(play, tmp_path):
    cas = []
    for name in ('ca1', 'ca2'):
        (tmp_path / name).mkdir()
        cas.append((str(tmp_path / name / 'ca.crt'), str(tmp_path / name / 'ca.key')))
    play([task('ca %d' % i, mode='ca_root', path=c, privatekey_path=k) for i, (c, k) in enumerate(cas)])
    unreadable = tmp_path / 'junk.crt'
    unreadable.write_text('not a certificate\n')
    certs = tmp_path / 'certs'
    certs.mkdir()
    target = dict(mode='ca', path=str(certs / 'r.crt'), privatekey_path=str(certs / 'r.key'), subject_alt_names=SANS)
    results = play([
        dict(task('mismatch', ca_cert_path=cas[0][0], ca_privatekey_path=cas[1][1], **target), ignore_errors=True),
        dict(task('junk', ca_cert_path=str(unreadable), ca_privatekey_path=cas[0][1], **target), ignore_errors=True),
    ])
    assert results['mismatch']['failed'] and results['mismatch']['msg'] == (
        'ca_privatekey_path=%r: this key does not match the CA certificate at ca_cert_path=%r' % (cas[1][1], cas[0][0]))
    assert results['junk']['failed'] and results['junk']['msg'] == (
        'ca_cert_path=%r: not a readable PEM certificate' % str(unreadable))
    assert os.listdir(str(certs)) == []


# ------------------------------------------------------------------ provided chains (issue 11)

def openssl_ok(*args):
    result = openssl(*args)
    assert result.returncode == 0, result.stdout
    return result


def openssl_ca(directory, name, subject, signer=None, algorithm='ed25519', sans=None):
    """A key (genpkey ALGORITHM) and a certificate made by the OpenSSL CLI: self-signed, or signed by
    ``signer`` (a (cert, key) pair). CA:TRUE unless ``sans`` (then a server certificate)."""
    key, cert, csr = (str(directory / (name + suffix)) for suffix in ('.key', '.crt', '.csr'))
    keyopts = {'ed25519': ['-algorithm', 'ed25519'], 'rsa': ['-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:2048'],
               'ecdsa': ['-algorithm', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']}[algorithm]
    openssl_ok('genpkey', *(keyopts + ['-out', key]))
    extensions = directory / (name + '.ext')
    extensions.write_text('subjectAltName=%s\nbasicConstraints=critical,CA:FALSE\n' % sans if sans
                          else 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
    if signer is None:
        openssl_ok('req', '-x509', '-key', key, '-subj', '/CN=' + subject, '-days', '2', '-out', cert,
                   '-extensions', 'v3', '-config', str(_req_config(directory, extensions)))
    else:
        openssl_ok('req', '-new', '-key', key, '-subj', '/CN=' + subject, '-out', csr)
        openssl_ok('x509', '-req', '-in', csr, '-CA', str(signer[0]), '-CAkey', str(signer[1]), '-set_serial',
                   str(int.from_bytes(os.urandom(8), 'big')), '-days', '2', '-extfile', str(extensions), '-out', cert)
    return directory / (name + '.crt'), directory / (name + '.key')


def _req_config(directory, extensions):
    config = directory / 'req.cnf'
    config.write_text('[req]\ndistinguished_name=dn\n[dn]\n[v3]\n' + extensions.read_text())
    return config


def concatenate(path, *parts):
    path.write_text(''.join(part.read_text() for part in parts))
    return path


def test_provided_chain_checked_as_the_role_does(play, tmp_path, tls_registry, stranger_ca):
    """install mode in check mode on the provided files (what the registry role runs on the controller):
    a chain in order passes and is served; another CA's intermediate of the same name, or the right
    pieces in the wrong order, are refused with one message naming the file; OpenSSL agrees."""
    root = openssl_ca(tmp_path, 'root', 'Provided Root', algorithm='rsa')
    intermediate = openssl_ca(tmp_path, 'intermediate', 'Provided Intermediate', signer=root)
    impostor = openssl_ca(tmp_path, 'impostor', 'Provided Intermediate', signer=root)  # same name, own key
    leaf_crt, leaf_key = openssl_ca(tmp_path, 'leaf', 'localhost', signer=intermediate, algorithm='ecdsa',
                                    sans='DNS:localhost,IP:127.0.0.1')
    bundles = {
        'good': concatenate(tmp_path / 'good.pem', leaf_crt, intermediate[0]),
        'impostor': concatenate(tmp_path / 'impostor.pem', leaf_crt, impostor[0]),
        'wrong order': concatenate(tmp_path / 'wrong-order.pem', intermediate[0], leaf_crt),
    }
    # OpenSSL's verdicts, with the root as the only trust anchor.
    assert openssl('verify', '-CAfile', str(root[0]), '-untrusted', str(intermediate[0]), str(leaf_crt)).returncode == 0
    assert openssl('verify', '-CAfile', str(root[0]), '-untrusted', str(impostor[0]), str(leaf_crt)).returncode != 0

    before = dict((name, path.read_bytes()) for name, path in bundles.items())
    results = play([dict(task(name, mode='install', path=str(path), privatekey_path=str(leaf_key),
                              certificate_content="{{ lookup('ansible.builtin.file', %r) }}" % str(path)),
                         ignore_errors=True) for name, path in bundles.items()], check=True)
    good = results['good']
    assert not good.get('failed') and good['reason'] == 'valid', good
    assert good['issuer'] == 'CN=Provided Intermediate' and good['subject_alt_names'] == ['DNS:localhost', 'IP:127.0.0.1']
    prefix = 'certificate_content (for path=%r): ' % str(bundles['impostor'])
    assert results['impostor']['failed'] and results['impostor']['msg'] == prefix + (
        "certificate 2 (subject 'CN=Provided Intermediate') did not sign certificate 1 (subject 'CN=localhost'): "
        "it has the issuer's name, but the signature does not verify with its key (a certificate of another CA "
        "with the same name?). Each certificate must be followed by the one that signed it"), results['impostor']
    assert results['wrong order']['failed'] and results['wrong order']['msg'] == (
        'certificate_content (for path=%r): ' % str(bundles['wrong order'])
        + "the chain is in the wrong order: certificate 1 (subject 'CN=Provided Intermediate') signed certificate 2 "
        "(subject 'CN=localhost'). Put the server certificate first, then the certificate that signed it, and so on")
    assert dict((name, path.read_bytes()) for name, path in bundles.items()) == before  # check mode wrote nothing

    # The good chain, served by the real registry, verifies against the root alone.
    port = tls_registry(bundles['good'], leaf_key)
    assert_served(port, root[0], stranger_ca)
    # Negative control: the server certificate alone (no intermediate) does not verify against the root.
    alone = tls_registry(leaf_crt, leaf_key)
    refused = curl_run('https://localhost:%d/v2/' % alone, cacert=root[0])
    assert refused.rc == 60, refused
