# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Secure by default, checked with the tools auditors use: sslyze against Mozilla's intermediate
TLS profile (the UI passes; the registry's one deviation is named), the security headers, the
containers' hardening as Docker reports it, and the UI's plain port not reachable from the network."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import socket
import subprocess

import pytest

from roles_lib import curl, docker, run

SSLYZE = os.environ.get('DOCKYARD_SSLYZE', '/opt/dockyard-sslyze/bin/sslyze')


@pytest.fixture(scope='module')
def deployment(role_deployments):
    dep = role_deployments('security')
    dep.deploy()
    return dep


def _sslyze(target, tmp_path, ca=None):
    """sslyze's verdict against Mozilla's intermediate profile: (compliant, the problems it lists,
    the whole report). ``ca``: the CA that makes the server's certificate trusted."""
    if not os.access(SSLYZE, os.X_OK):
        pytest.fail('sslyze is missing (%s): run tests/testbed/setup.sh' % SSLYZE)
    out = str(tmp_path / ('sslyze-%s.json' % target.replace(':', '_')))
    argv = [SSLYZE, '--mozilla_config=intermediate', '--json_out=%s' % out]
    if ca:
        argv.append('--certinfo_ca_file=%s' % ca)
    proc = run(argv + [target], timeout=300)
    compliance = proc.stdout.split('COMPLIANCE AGAINST', 1)[-1]
    problems = [line.strip()[2:] for line in compliance.splitlines() if line.strip().startswith('* ')]
    return proc.returncode == 0, problems, proc.stdout


def test_the_ui_passes_mozilla_intermediate(deployment, tmp_path):
    """Protocols, cipher suites, curves, key, certificate path (to the deployment's CA) and lifespan:
    all as the profile wants."""
    compliant, problems, text = _sslyze('localhost:%d' % deployment.ui_port, tmp_path, ca=deployment.ca)
    assert compliant and problems == [], text[-4000:]


def test_the_registry_deviates_only_by_the_curves_go_offers(deployment, tmp_path):
    """distribution cannot restrict the ECDH curves Go offers (P-521 too): that is its one failure;
    protocols and cipher suites pass."""
    dummy, problems, text = _sslyze('localhost:%d' % deployment.port, tmp_path, ca=deployment.ca)
    assert problems == ["tls_curves: TLS curves {'secp521r1'} are supported, but should be rejected."], text[-4000:]


def _accepts(port):
    try:
        socket.create_connection(('127.0.0.1', port), timeout=1).close()
    except OSError:
        return False
    return True


def test_a_weak_server_is_caught_by_the_same_scan(tmp_path):
    """Negative control: the scan fails a server that offers TLS 1.0 and CBC suites (openssl s_server)."""
    key, cert = str(tmp_path / 'k.pem'), str(tmp_path / 'c.pem')
    run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '2',
         '-keyout', key, '-out', cert], check=True)
    port = __import__('roles_lib').free_port()
    server = subprocess.Popen(['openssl', 's_server', '-accept', str(port), '-key', key, '-cert', cert, '-www',
                               '-cipher', 'ALL:@SECLEVEL=0', '-tls1_2'], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        __import__('roles_lib').wait_for(lambda: _accepts(port), 10, what='openssl s_server')
        compliant, problems, text = _sslyze('localhost:%d' % port, tmp_path, ca=cert)
    finally:
        server.kill()
        server.wait()
    assert not compliant and any(problem.startswith('ciphers:') for problem in problems), text[-3000:]
    assert any(problem.startswith('tls_curves:') and 'X448' in problem for problem in problems)


def test_security_headers_and_no_server_version(deployment):
    status, headers, dummy = curl(deployment.ui_url + '/', cacert=deployment.ca)
    assert status == 200
    assert headers['strict-transport-security'] == ['max-age=63072000']
    assert headers['x-frame-options'] == ['DENY']
    assert headers['content-security-policy'] == ["frame-ancestors 'none'"]
    assert headers['x-content-type-options'] == ['nosniff']
    assert headers['referrer-policy'] == ['no-referrer']
    assert all('/' not in value for value in headers.get('server', [])), headers.get('server')
    status, headers, dummy = curl(deployment.registry_url + '/v2/', cacert=deployment.ca)
    assert status == 401  # control: no credentials, and the headers are on the 401 too
    assert headers['strict-transport-security'] == ['max-age=63072000']


def test_containers_run_hardened(deployment):
    registry, ui = deployment.inspect('registry'), deployment.inspect('ui')
    for data in (registry, ui):
        assert 'no-new-privileges:true' in data['HostConfig']['SecurityOpt']
        assert data['HostConfig']['CapDrop'] == ['ALL']
    assert registry['HostConfig']['ReadonlyRootfs'] is True
    assert not registry['HostConfig'].get('CapAdd')
    assert sorted(ui['HostConfig']['CapAdd']) == ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER',
                                                  'CAP_NET_BIND_SERVICE', 'CAP_SETGID', 'CAP_SETUID'] or sorted(
        ui['HostConfig']['CapAdd']) == ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'NET_BIND_SERVICE', 'SETGID', 'SETUID']
    # The registry really cannot write outside its storage: its root is read-only.
    proc = docker('exec', registry['Id'], 'sh', '-c', 'touch /etc/dockyard-probe')
    assert proc.returncode != 0 and 'Read-only file system' in proc.stderr
    proc = docker('exec', registry['Id'], 'sh', '-c', 'touch /var/lib/registry/.probe && rm /var/lib/registry/.probe')
    assert proc.returncode == 0, proc.stderr  # control: its storage is writable


def test_the_ui_plain_port_is_not_served_on_the_network(deployment):
    """Another container on the project's network reaches the UI over HTTPS only: its plain server
    listens on the container's loopback, for the HTTPS server in front of it."""
    networks = deployment.inspect('ui')['NetworkSettings']['Networks']
    network, settings = sorted(networks.items())[0]
    probe = ('import socket, sys\n'
             'for port in (80, 443):\n'
             '    try:\n'
             '        socket.create_connection((sys.argv[1], port), timeout=5).close()\n'
             '        print(port, "open")\n'
             '    except OSError as exc:\n'
             '        print(port, type(exc).__name__)\n')
    # A container of the test bed with Python, on the project's network (as the registry is).
    proc = docker('run', '--rm', '--network', network, '--entrypoint', 'python3', 'dockyard-test/host:bookworm',
                  '-c', probe, settings['IPAddress'], timeout=120)
    assert proc.returncode == 0, proc.stderr
    answers = dict(line.split(' ', 1) for line in proc.stdout.split('\n') if line.strip())
    assert answers['80'] == 'ConnectionRefusedError', answers
    assert answers['443'] == 'open', answers  # control: the same container reaches the HTTPS server
    ui = deployment.inspect('ui')
    env = dict(item.split('=', 1) for item in ui['Config']['Env'])
    assert env['NGINX_LISTEN_PORT'] == '127.0.0.1:80' and env['ENABLE_VERSION_NOTIFICATION'] == 'false'
    # What the UI mounts: the certificate directory and its HTTPS server's configuration, nothing else.
    assert sorted(mount['Destination'] for mount in ui['Mounts']) == ['/etc/nginx/certs',
                                                                      '/etc/nginx/conf.d/dockyard-tls.conf']
