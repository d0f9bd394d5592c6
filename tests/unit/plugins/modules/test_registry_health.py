# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""main() of registry_health through Ansible's module argument handling. Only the AnsibleModule exit
glue is faked; requests go to a real loopback port on which nothing listens (the success paths run
against the real registry in tests/integration/test_registry_health.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import socket

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockyard.registry.plugins.module_utils._health import CHECK_NAMES
from ansible_collections.dockyard.registry.plugins.modules import registry_health as module_under_test

SECRET = 'Unit-secret-pw-42'
RESULT_KEYS = {'changed', 'checks', 'api_version', 'repositories', 'cert_not_after', 'days_left', 'attempts',
               'elapsed', 'msg', 'failed'}


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def exit_json(self, **kwargs):
    raise AnsibleExitJson(kwargs)


def fail_json(self, **kwargs):
    raise AnsibleFailJson(kwargs)


@pytest.fixture(autouse=True)
def fake_exit_glue(monkeypatch):
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)


def run_main(args, check_mode=False):
    with patch_module_args(dict(args, _ansible_check_mode=check_mode)):
        with pytest.raises((AnsibleExitJson, AnsibleFailJson)) as exc:
            module_under_test.main()
    result = dict(exc.value.args[0])
    result['failed'] = isinstance(exc.value, AnsibleFailJson)
    return result


@pytest.fixture
def closed_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize('args, expected', [
    ({'url': 'https://r.example.com/v2/'}, 'must not have a path'),
    ({'url': 'https://health:%s@r.example.com' % SECRET}, 'url must not contain credentials'),
    ({'url': 'https://r.example.com', 'round_trip': True}, 'round_trip=true needs username and password'),
    ({'url': 'https://r.example.com', 'timeout': -5}, 'timeout must be 0 or more seconds, got -5'),
    ({'url': 'https://r.example.com', 'round_trip_repository': 'UPPER'},
     "round_trip_repository 'UPPER' is not a valid repository name"),
    ({'url': 'http://r.example.com', 'server_name': 'r.example.com'}, 'only used with an https:// url'),
])
def test_invalid_parameters_fail_with_full_result(args, expected):
    result = run_main(args)
    assert result['failed'] is True
    assert expected in result['msg']
    assert set(result) == RESULT_KEYS
    assert result['changed'] is False and result['attempts'] == 0
    assert all(result['checks'][name]['msg'] == 'not run: invalid parameters' for name in CHECK_NAMES)
    assert SECRET not in json.dumps(result)


@pytest.mark.parametrize('args, expected', [
    ({'url': 'https://r.example.com', 'username': 'health'}, 'parameters are required together: username, password'),
    ({'url': 'https://r.example.com', 'timeout': 'soon'}, "argument 'timeout' is of type"),
    ({}, 'missing required arguments: url'),
])
def test_argument_spec_refuses(args, expected):
    result = run_main(args)
    assert result['failed'] is True
    assert expected in result['msg']


@pytest.mark.parametrize('check_mode', [False, True])
def test_nothing_listening_https(closed_port, check_mode):
    result = run_main({'url': 'https://127.0.0.1:%d' % closed_port, 'username': 'health', 'password': SECRET,
                       'timeout': 0, 'round_trip': True}, check_mode=check_mode)
    assert result['failed'] is True
    assert result['changed'] is False
    assert set(result) == RESULT_KEYS
    assert result['attempts'] == 1
    tls = result['checks']['tls']
    assert tls['ok'] is False and tls['skipped'] is False and tls['status'] is None
    assert isinstance(tls['latency_ms'], int)
    assert 'ConnectionRefusedError' in tls['msg']
    for name in CHECK_NAMES[1:]:
        assert result['checks'][name]['msg'] == 'not run: TLS handshake failed'
    assert result['msg'].startswith('registry health check failed after 1 attempt in ')
    assert 'tls: TLS handshake with 127.0.0.1:%d failed' % closed_port in result['msg']
    assert SECRET not in json.dumps(result)


def test_nothing_listening_http(closed_port):
    result = run_main({'url': 'http://127.0.0.1:%d' % closed_port, 'auth_expected': False, 'timeout': 0})
    assert result['failed'] is True
    checks = result['checks']
    assert checks['tls'] == {'ok': True, 'skipped': True, 'status': None, 'latency_ms': None,
                             'msg': 'plain http:// url, no TLS'}
    assert checks['liveness']['ok'] is False
    assert checks['liveness']['msg'].startswith('GET / expected 200, got GET / failed: ')
    assert 'Connection refused' in checks['liveness']['msg']
    assert checks['anonymous']['msg'] == 'not run: registry not reachable (liveness)'
    assert checks['round_trip']['skipped'] is True  # disabled checks stay skipped, not failing
    assert result['cert_not_after'] is None and result['days_left'] is None
