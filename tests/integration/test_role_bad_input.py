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

from roles_lib import fake_docker, project_containers, project_networks, run

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
}


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
