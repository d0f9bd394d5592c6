# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The acme TLS mode of the registry role's plan (AcmeTls in plugins/plugin_utils/_registry_plan.py),
and the HTTP-01 challenge server the role runs on the host (roles/registry/files/acme_http01.py).

Each rule has its negative control. The challenge server is the real script, run as a process on
a loopback port, asked by a real HTTP client.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from ansible.module_utils.six.moves.urllib.error import HTTPError
from ansible.module_utils.six.moves.urllib.request import urlopen

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import TLS_MODES, build_plan

from .test_registry_plan import _argspec, _entry, plan, problems, variables

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles', 'registry',
                      'files', 'acme_http01.py')
LE = 'https://acme-v02.api.letsencrypt.org/directory'


def acme(**overrides):
    values = dict(registry_tls_mode='acme', registry_tls_acme_directory=LE, registry_server_name='reg.example.org')
    values.update(overrides)
    return values


def test_acme_is_in_the_table_and_in_argument_specs():
    assert 'acme' in TLS_MODES and 'acme' in _argspec()['registry_tls_mode']['choices']
    for name in ('registry_tls_acme_directory', 'registry_tls_acme_email', 'registry_tls_acme_ca_cert',
                 'registry_tls_acme_challenge_port', 'registry_tls_acme_eab_kid', 'registry_tls_acme_eab_hmac_key'):
        assert name in _argspec(), name
    assert _argspec()['registry_tls_acme_eab_hmac_key'].get('no_log') is True
    assert _argspec()['registry_tls_acme_challenge_port']['default'] == 80


def test_acme_needs_an_https_directory():
    assert problems(**acme()) == []
    for bad in ('', 'http://acme.example/dir', 'acme.example/dir'):
        found = problems(**acme(registry_tls_acme_directory=bad))
        assert len(found) == 1 and found[0].startswith("registry_tls_acme_directory: '%s' is not allowed" % bad)
        assert 'https URL of the ACME directory' in found[0]


def test_acme_email_form():
    assert problems(**acme(registry_tls_acme_email='ops@example.org')) == []
    found = problems(**acme(registry_tls_acme_email='not an address'))
    assert found == ["registry_tls_acme_email: 'not an address' is not an email address; allowed: an address such as"
                     " admin@example.com for the CA's expiry notices, or empty."]


def test_acme_ca_cert_must_be_a_controller_file(tmp_path):
    found = problems(**acme(registry_tls_acme_ca_cert=str(tmp_path / 'missing.pem')))
    assert len(found) == 1 and found[0].startswith("registry_tls_acme_ca_cert: '%s' is not a readable file"
                                                   % (tmp_path / 'missing.pem'))
    (tmp_path / 'root.pem').write_text('-----BEGIN CERTIFICATE-----\n')
    assert problems(**acme(registry_tls_acme_ca_cert=str(tmp_path / 'root.pem'))) == []


@pytest.mark.parametrize('port, clash', [(5000, 'registry_port'), (8443, 'registry_ui_port'), (70000, None),
                                         ('x', None)])
def test_acme_challenge_port(port, clash):
    found = problems(**acme(registry_tls_acme_challenge_port=port, registry_port=5000, registry_ui_port=8443))
    assert len(found) == 1
    assert found[0].startswith('registry_tls_acme_challenge_port: %s' % (port if clash else repr(port)))
    if clash:
        assert 'clashes with %s' % clash in found[0]
    else:
        assert '1 to 65535' in found[0]
    # Controls: a free port; the UI's port when the UI is off.
    assert problems(**acme(registry_tls_acme_challenge_port=8080)) == []
    assert problems(**acme(registry_tls_acme_challenge_port=8443, registry_ui_port=8443,
                           registry_ui_enabled=False)) == []


def test_acme_eab_needs_both_and_never_shows_the_key():
    secret = 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W'
    assert problems(**acme(registry_tls_acme_eab_kid='kid-1', registry_tls_acme_eab_hmac_key=secret)) == []
    found = problems(**acme(registry_tls_acme_eab_hmac_key=secret))
    assert found == ['registry_tls_acme_eab_kid and registry_tls_acme_eab_hmac_key: External Account Binding needs'
                     ' both (got no kid and an HMAC key).']
    found = problems(**acme(registry_tls_acme_eab_kid='kid-1'))
    assert found and "got kid 'kid-1' and no HMAC key" in found[0]
    found = problems(**acme(registry_tls_acme_eab_kid='kid-1', registry_tls_acme_eab_hmac_key=secret + '/+!'))
    assert len(found) == 1 and 'not base64url' in found[0] and secret not in found[0]


def test_acme_refuses_wildcards_http01_cannot_validate():
    found = problems(**acme(registry_tls_subject_alt_names=['*.example.org']))
    assert len(found) == 1 and found[0].startswith('registry_tls_subject_alt_names: *.example.org cannot be validated')
    assert problems(**acme(registry_tls_subject_alt_names=['other.example.org'])) == []


def test_acme_asks_for_no_loopback_names():
    p = plan(**acme())
    assert p['tls']['sans'] == ['reg.example.org'] and p['tls']['names_localhost'] is False
    # Control: the same variables in self_signed mode add them.
    assert plan(registry_server_name='reg.example.org')['tls']['sans'] == ['reg.example.org', 'localhost', '127.0.0.1']
    assert plan(**acme(registry_server_name='localhost'))['tls']['names_localhost'] is True


def test_acme_with_a_public_ca_installs_no_ca_for_clients():
    p = plan(**acme())
    assert p['tls']['mode'] == 'acme' and p['tls']['tasks'] == 'tls_acme.yml' and p['tls']['has_ca'] is False
    assert _entry(p, 'ca') == {'path': p['paths']['ca'], 'state': 'absent'}
    assert 'ca_path' not in p['health']
    assert _entry(p, 'acme_account_key')['mode'] == '0600'
    assert os.path.dirname(p['paths']['acme_account_key']) == p['dirs']['secrets']
    assert _entry(p, 'key')['mode'] == '0600'
    assert os.path.isfile(os.path.join(os.path.dirname(SERVER), '..', 'tasks', p['tls']['tasks']))


def test_acme_with_a_private_ca_hands_that_ca_to_clients(tmp_path):
    root = tmp_path / 'root.pem'
    root.write_bytes(b'-----BEGIN CERTIFICATE-----\nprivate root\n-----END CERTIFICATE-----\n')
    p = plan(**acme(registry_tls_acme_ca_cert=str(root)))
    assert p['tls']['has_ca'] is True
    assert _entry(p, 'ca')['state'] == 'file' and _entry(p, 'ca')['mode'] == '0644'
    assert p['checksums'][p['paths']['ca']] == hashlib.sha256(root.read_bytes()).hexdigest()
    assert p['health']['ca_path'] == p['paths']['ca']


def test_acme_look_judges_the_certificate_without_the_ca():
    p = plan(**acme(registry_tls_renew_before_days=20))
    look = p['look']['certificate']
    assert look['path'] == p['paths']['cert'] and look['privatekey_path'] == p['paths']['key']
    assert look['subject_alt_names'] == ['reg.example.org'] and look['renew_before_days'] == 20
    # Judged against the intermediate that signed it (recorded on the host), not as self-signed.
    assert look['ca_cert_path'] == p['paths']['acme_issuer']
    assert TLS_MODES['acme'].judged_by_look is True


def _info(p, reason):
    """A look at a host that has exactly what the plan wants, but for the certificate's verdict."""
    paths = {}
    for entry in p['layout']:
        if entry['state'] == 'absent':
            paths[entry['path']] = {'exists': False, 'type': None}
            continue
        fact = {'exists': True, 'type': entry['state'], 'mode': entry.get('mode'), 'owner': 'root', 'group': 'root'}
        fact['sha256'] = p['checksums'].get(entry['path'], entry.get('sha256'))
        paths[entry['path']] = fact
    return {'paths': paths, 'certificate': {'reason': reason}}


def test_acme_drift_comes_from_the_certificate_verdict():
    p = plan(**acme())
    valid = build_plan(variables(**acme()), info=_info(p, 'valid'))['drift']
    expiring = build_plan(variables(**acme()), info=_info(p, 'expiring'))['drift']
    assert 'certificate' not in [item['what'] for item in valid]
    assert [item for item in expiring if item['what'] == 'certificate'][0]['found'] == 'expiring'


# ------------------------------------------------------------------------------------------------
# The challenge server (a real process on loopback).

def _free_port():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _status(directory, timeout=20):
    path = os.path.join(directory, 'status')
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                return handle.read().strip()
        time.sleep(0.1)
    raise AssertionError('the challenge server wrote no status')


def _start(directory, port, seconds=60):
    return subprocess.Popen([sys.executable, SERVER, str(port), str(directory), str(seconds)])


def _get(url):
    try:
        response = urlopen(url, timeout=10)
        return response.getcode(), response.read().decode('ascii')
    except HTTPError as exc:
        return exc.code, ''


def test_challenge_server_serves_tokens_only_and_stops_when_its_directory_goes(tmp_path):
    work = tmp_path / 'work'
    (work / 'challenges').mkdir(parents=True)
    (work / 'challenges' / 'tok-EN_1').write_text('tok-EN_1.thumbprint')
    (tmp_path / 'secret').write_text('not to be served')
    port = _free_port()
    proc = _start(work, port)
    try:
        assert _status(str(work)) == 'ready %d' % proc.pid
        base = 'http://127.0.0.1:%d/.well-known/acme-challenge/' % port
        assert _get(base + 'tok-EN_1') == (200, 'tok-EN_1.thumbprint')
        # Controls: an unknown token, a path outside the challenges, another prefix.
        assert _get(base + 'other')[0] == 404
        assert _get(base + '..%2F..%2Fsecret')[0] == 404
        assert _get('http://127.0.0.1:%d/status' % port)[0] == 404
        shutil.rmtree(str(work))
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_challenge_server_reports_a_taken_port(tmp_path):
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    holder.bind(('0.0.0.0', 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    work = tmp_path / 'work'
    work.mkdir()
    try:
        proc = _start(work, port)
        assert proc.wait(timeout=20) == 1
        status = _status(str(work))
        assert status.startswith('error: port %d:' % port) and 'in use' in status
    finally:
        holder.close()
    # Control: the same port, once free, is served.
    os.remove(str(work / 'status'))
    proc = _start(work, port, seconds=2)
    assert _status(str(work)) == 'ready %d' % proc.pid
    assert proc.wait(timeout=20) == 0
