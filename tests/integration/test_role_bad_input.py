# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Bad input to the role fails with a message naming the variable, before the host is touched.

Every case is a real ansible-playbook run against a fresh base dir and project; they run in
parallel (a module-scoped fixture), each test then checks one case: the run failed, the
failure message names the variable (and the value when it is not a secret), and neither the
base dir nor any container or network of the project exists.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from roles_lib import curl_status, fake_docker, project_containers, project_networks, run

LONG_PASSWORD = 'L0ng-' + uuid.uuid4().hex * 3  # 101 bytes, over bcrypt's 72


def _fake_docker_missing(directory):
    """A `docker` first on PATH that behaves like a missing command (127)."""
    return fake_docker(directory, 'echo "docker: not found" >&2\nexit 127\n')


def _fake_docker_without_compose(directory):
    """A `docker` first on PATH whose engine answers but which has no Compose v2 plugin."""
    return fake_docker(directory,
                       'if [ "$1" = compose ]; then\n'
                       '  echo "docker: \'compose\' is not a docker command." >&2\n'
                       '  exit 1\n'
                       'fi\n'
                       'if [ "$1" = version ]; then echo 20.10.24; exit 0; fi\n'
                       'echo "fake docker: unexpected $*" >&2\nexit 1\n')


def _openssl_pair(directory, name='localhost', matching=True):
    """Certificate and key files made by the real openssl: a self-signed certificate for `name`
    and its own key, or (matching=False) a key that is not the certificate's."""
    os.makedirs(directory)
    cert, key, other_key = (os.path.join(directory, f) for f in ('cert.pem', 'key.pem', 'other.pem'))
    run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
         '-keyout', key, '-out', cert, '-subj', '/CN=' + name, '-addext', 'subjectAltName=DNS:' + name,
         '-days', '30'], check=True)
    if matching:
        return cert, key
    run(['openssl', 'genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other_key],
        check=True)
    # Control: the pair given to the role really does not match (public keys differ).
    pub_cert = run(['openssl', 'x509', '-in', cert, '-noout', '-pubkey'], check=True).stdout
    pub_key = run(['openssl', 'pkey', '-in', other_key, '-pubout'], check=True).stdout
    assert pub_cert != pub_key
    return cert, other_key


def _provided(directory, **kwargs):
    cert, key = _openssl_pair(os.path.join(directory, 'pki'), **kwargs)
    return {'registry_tls_mode': 'provided', 'registry_tls_certificate': cert, 'registry_tls_private_key': key}


# name -> (role variables or callable(workdir) -> (variables, extra PATH), expected message parts,
#          strings that must not appear anywhere in the output)
CASES = {
    'auth_without_users': ({'registry_users': []}, ['registry_users', 'no user is present'], []),
    'user_without_password': ({'registry_users': [{'name': 'bob'}]},
                              ['registry_users[0]', "'bob'", 'password is required'], []),
    'port_out_of_range': ({'registry_port': 70000}, ['registry_port', '70000', '1 to 65535'], []),
    'ui_port_equals_port': (lambda dep, d: ({'registry_ui_port': dep.port}, None),
                            ['registry_ui_port', 'clashes with registry_port'], []),
    'server_name_with_space': ({'registry_server_name': 'foo bar'}, ['registry_server_name', 'foo bar'], []),
    'bad_ip_san': ({'registry_tls_subject_alt_names': ['999.1.1.1']},
                   ['registry_tls_subject_alt_names', '999.1.1.1'], []),
    'bogus_tls_mode': ({'registry_tls_mode': 'bogus'}, ['registry_tls_mode', 'bogus'], []),
    'provided_cert_not_matching_key': (lambda dep, d: (_provided(d, matching=False), None),
                                       ['registry_tls_certificate', 'registry_tls_private_key', 'not match'], []),
    'provided_cert_for_another_name': (lambda dep, d: (_provided(d, name='other.example'), None),
                                       ['registry_tls_certificate', 'does not cover', 'localhost',
                                        'other.example'], []),
    'password_over_72_bytes': ({'registry_users': [{'name': 'longpw', 'password': LONG_PASSWORD}]},
                               ['registry_users[0]', 'longpw', '72'], [LONG_PASSWORD, LONG_PASSWORD[:24]]),
    'docker_missing': (lambda dep, d: ({}, _fake_docker_missing(os.path.join(d, 'bin'))),
                       ['Docker', 'docker.io', 'Install'], []),
    'compose_missing': (lambda dep, d: ({}, _fake_docker_without_compose(os.path.join(d, 'bin'))),
                        ['Compose v2', 'Install', 'cli-plugins'], []),
    'relative_base_dir': ({'registry_base_dir': 'relative/dir'}, ['registry_base_dir', 'relative/dir', 'absolute'], []),
    'root_base_dir': ({'registry_base_dir': '/'}, ['registry_base_dir', "'/'", 'absolute'], []),
    'bad_project_name': ({'registry_project_name': 'Bad Name!'}, ['registry_project_name', 'Bad Name!'], []),
    'bind_address_not_ip': ({'registry_bind_address': 'example.org'},
                            ['registry_bind_address', 'example.org', 'IPv4 or IPv6'], []),
    'ui_bind_address_not_ip': ({'registry_ui_bind_address': '300.1.1.1'}, ['registry_ui_bind_address', '300.1.1.1'], []),
    'negative_interval': ({'registry_healthcheck_interval': '-5s'}, ['registry_healthcheck_interval', '-5s'], []),
    'word_interval': ({'registry_healthcheck_interval': 'often'}, ['registry_healthcheck_interval', 'often'], []),
    'cost_too_low': ({'registry_htpasswd_cost': 3}, ['registry_htpasswd_cost', '3', '4 to 31'], []),
    'cost_too_high': ({'registry_htpasswd_cost': 40}, ['registry_htpasswd_cost', '40', '4 to 31'], []),
    'negative_valid_days': ({'registry_tls_valid_days': -1}, ['registry_tls_valid_days', '-1'], []),
    'weak_http_secret': ({'registry_http_secret': 'Sh0rtSecret'}, ['registry_http_secret', 'too weak'],
                         ['Sh0rtSecret']),
    'ui_port_zero': ({'registry_ui_port': 0}, ['registry_ui_port', '0', '1 to 65535'], []),
    'unknown_storage_driver': ({'registry_storage_driver': 'bogus'}, ['registry_storage_driver', 'bogus'], []),
    'forwarding_without_account': ({'registry_ui_mode': 'forward_credentials'},
                                   ['registry_ui_proxy_user', 'forward_credentials'], []),
    'ca_mode_without_files': ({'registry_tls_mode': 'ca'}, ['registry_tls_ca_cert', 'registry_tls_ca_key'], []),
    'second_storage_driver': ({'registry_config_overrides': {'storage': {'s3': {'bucket': 'b'}}}},
                              ['registry_config_overrides', 'storage.s3', 'registry_storage_driver'], []),
    'unsupported_version': ({'registry_version': '4.0.0'}, ['registry_version', '4.0.0', '2.x or 3.x'], []),
    'rsa_key_too_small': ({'registry_tls_key_type': 'rsa', 'registry_tls_key_size': 1024},
                          ['registry_tls_key_size', '1024'], []),
    'user_name_with_colon': ({'registry_users': [{'name': 'bad:name', 'password': 'Secret-pw-1234'}]},
                             ['registry_users[0]'], ['Secret-pw-1234']),
    'catalog_entries_zero': ({'registry_catalog_max_entries': 0}, ['registry_catalog_max_entries', '0'], []),
    'health_timeout_zero': ({'registry_health_timeout': 0}, ['registry_health_timeout', '0'], []),
    'port_held_by_another_program': (lambda dep, d: ({'registry_port': _listener(dep)}, None),
                                     ['registry_port', 'already in use', 'a free port'], []),
}

_LISTENERS = []


def _listener(dep):
    """A port on which another program (this test) listens on all addresses, for as long as the module runs."""
    import socket
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('0.0.0.0', 0))
    sock.listen()
    _LISTENERS.append(sock)
    return sock.getsockname()[1]


@pytest.fixture(scope='module')
def bad_runs(role_deployments):
    """Every case run once, four at a time: name -> (deployment, PlaybookResult)."""
    jobs = {}
    for name, (spec, dummy, dummy2) in CASES.items():
        dep = role_deployments('bad')
        extra_path = None
        if callable(spec):
            overrides, extra_path = spec(dep, dep.workdir)
        else:
            overrides = spec
        jobs[name] = (dep, overrides, extra_path)

    def play(item):
        name, (dep, overrides, extra_path) = item
        return name, dep, dep.play(extra_path=extra_path, **overrides)

    with ThreadPoolExecutor(max_workers=4) as pool:
        return {name: (dep, result) for name, dep, result in pool.map(play, jobs.items())}


def _state(dep):
    """What a failed run must leave as it was: container ids and start times, every file's checksum."""
    import hashlib
    sums = {}
    for root, dummy, files in os.walk(dep.base_dir):
        for name in files:
            path = os.path.join(root, name)
            if os.path.join(dep.base_dir, 'data') in path:
                continue
            with open(path, 'rb') as handle:
                sums[path] = hashlib.sha256(handle.read()).hexdigest()
    return {'registry': dep.identity('registry'), 'ui': dep.identity('ui'), 'files': sums}


@pytest.fixture(scope='module')
def running_runs(role_deployments):
    """Every case run against one running deployment, one after another: name -> (deployment,
    state before, PlaybookResult)."""
    dep = role_deployments('bad-running')
    dep.deploy()
    runs = {}
    for name, (spec, dummy, dummy2) in sorted(CASES.items()):
        extra_path = None
        if callable(spec):
            overrides, extra_path = spec(dep, os.path.join(dep.workdir, 'case-' + name))
        else:
            overrides = spec
        before = _state(dep)
        runs[name] = (dep, before, dep.play(extra_path=extra_path, **overrides))
    return runs


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_input_leaves_a_running_deployment_as_it_was(running_runs, case):
    """The same bad values against a deployment that serves: it fails with the same message, and
    the containers (ids, start times), every file and the registry's answers stay as they were."""
    dep, before, result = running_runs[case]
    dummy, expected, forbidden = CASES[case]
    assert result.rc != 0, result.describe()
    message = '\n'.join(result.failures())
    for part in expected:
        assert part in message, 'expected %r in the failure message:\n%s' % (part, message)
    for secret in forbidden:
        assert secret not in result.output, 'a secret appears in the output'
    assert _state(dep) == before
    user, password = dep.admin
    assert curl_status(dep.registry_url + '/v2/', cacert=dep.ca, user=(user, password)) == 200
    assert curl_status(dep.registry_url + '/v2/', cacert=dep.ca) == 401  # control: credentials are needed


@pytest.mark.parametrize('case', sorted(CASES))
def test_bad_input_fails_clearly_and_touches_nothing(bad_runs, case):
    dep, result = bad_runs[case]
    dummy, expected, forbidden = CASES[case]
    assert result.rc != 0, result.describe()
    failures = result.failures()
    assert failures, 'no failure reported:\n' + result.describe()
    message = '\n'.join(failures)
    for part in expected:
        assert part in message, 'expected %r in the failure message:\n%s' % (part, message)
    for secret in forbidden:
        assert secret not in result.output, 'a secret appears in the output'
    assert not os.path.exists(dep.base_dir), 'the base dir was created'
    assert project_containers(dep.project) == []
    assert project_networks(dep.project) == []


def test_provided_matching_pair_passes_validation(role_deployments):
    """Control for the provided-certificate cases: a matching pair for the server name passes
    validation (check mode on the bare host: exit 0, nothing created)."""
    dep = role_deployments('provided')
    result = dep.play(check=True, **_provided(dep.workdir))
    assert result.rc == 0, result.describe()
    assert result.recap['localhost']['failed'] == 0
    assert not os.path.exists(dep.base_dir)
    assert project_containers(dep.project) == []
