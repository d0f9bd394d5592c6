# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of plugins/plugin_utils/_endpoint.py: where a registry host's registry is, with the
registry role's defaults stated once (and proved equal to roles/registry/defaults/main.yml), and the
Docker preflight message both roles share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six.moves.collections_abc import Mapping

from ansible_collections.dockyard.registry.plugins.filter.endpoint import FilterModule
from ansible_collections.dockyard.registry.plugins.filter.endpoint import registry_endpoint as endpoint_filter
from ansible_collections.dockyard.registry.plugins.plugin_utils._endpoint import (
    REGISTRY_DEFAULTS, TLS_CLIENT_TRUST, EndpointError, docker_address, docker_problem, registry_credentials,
    registry_endpoint)

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
ROLE_DEFAULTS = os.path.join(COLLECTION, 'roles', 'registry', 'defaults', 'main.yml')


def _load_role_defaults():
    with open(ROLE_DEFAULTS) as handle:
        return yaml.safe_load(handle)


def _mismatches(table, defaults):
    """Keys of ``table`` whose value is not the role's default (or that the role lacks)."""
    return sorted(key for key, value in table.items() if key not in defaults or defaults[key] != value)


class HostVars(Mapping):
    """Like Ansible's HostVarsVars: a read-only mapping (KeyError for a variable the host lacks)."""

    def __init__(self, **variables):
        self._vars = variables

    def __getitem__(self, key):
        return self._vars[key]

    def __iter__(self):
        return iter(self._vars)

    def __len__(self):
        return len(self._vars)


# ------------------------------------------------------------------ the defaults table

def test_the_table_is_the_registry_roles_defaults():
    assert _mismatches(REGISTRY_DEFAULTS, _load_role_defaults()) == []


@pytest.mark.parametrize('change', [
    {'registry_port': 5001},
    {'registry_base_dir': '/srv/registry'},
    {'registry_tls_mode': 'ca'},
    {'registry_ui_port': 443},
])
def test_a_changed_role_default_is_caught(change):
    """Negative control: the comparison fails when the role's defaults move away from the table."""
    defaults = _load_role_defaults()
    defaults.update(change)
    assert _mismatches(REGISTRY_DEFAULTS, defaults) == sorted(change)


def test_a_default_the_role_dropped_is_caught():
    defaults = _load_role_defaults()
    del defaults['registry_state']
    assert _mismatches(REGISTRY_DEFAULTS, defaults) == ['registry_state']


# ------------------------------------------------------------------ registry_endpoint

def test_a_host_without_variables_has_the_roles_defaults():
    assert registry_endpoint(HostVars(inventory_hostname='reg1'), 'reg1') == {
        'host': 'reg1', 'name': 'reg1', 'port': 5000, 'address': 'reg1:5000', 'url': 'https://reg1:5000',
        'base_dir': '/opt/registry', 'ca_path': '/opt/registry/certs/ca.crt', 'state': 'present',
        'tls_mode': 'self_signed', 'has_ca': True, 'public_ca': False, 'read_ca': True, 'local': False,
        'auth_enabled': True, 'delete_enabled': False, 'ui_enabled': True, 'ui_url': 'https://127.0.0.1:8443/',
    }


def test_the_hosts_variables_win():
    endpoint = registry_endpoint(HostVars(
        inventory_hostname='reg1', registry_server_name='registry.example', registry_port='5443',
        registry_base_dir='/srv/reg/', registry_auth_enabled=False, registry_delete_enabled='yes',
        registry_ui_bind_address='0.0.0.0', registry_ui_port=9443, registry_ui_tls=False))
    assert endpoint['host'] == 'reg1' and endpoint['name'] == 'registry.example'
    assert endpoint['port'] == 5443 and endpoint['address'] == 'registry.example:5443'
    assert endpoint['url'] == 'https://registry.example:5443'
    assert endpoint['ca_path'] == '/srv/reg/certs/ca.crt'
    assert endpoint['auth_enabled'] is False and endpoint['delete_enabled'] is True
    assert endpoint['ui_url'] == 'http://registry.example:9443/'


def test_the_host_name_comes_from_hostvars_or_the_argument():
    assert registry_endpoint(HostVars(inventory_hostname='reg1'))['name'] == 'reg1'
    assert registry_endpoint(HostVars(), 'reg2')['name'] == 'reg2'
    with pytest.raises(EndpointError, match='no inventory_hostname'):
        registry_endpoint(HostVars())


@pytest.mark.parametrize('value', ['', None])
def test_an_empty_name_or_base_dir_is_unset(value):
    endpoint = registry_endpoint(HostVars(registry_server_name=value, registry_base_dir=value), 'reg1')
    assert endpoint['name'] == 'reg1' and endpoint['base_dir'] == '/opt/registry'


@pytest.mark.parametrize('name, port, address, url', [
    ('reg.example', 443, 'reg.example', 'https://reg.example'),
    ('reg.example', 5000, 'reg.example:5000', 'https://reg.example:5000'),
    ('2001:db8::1', 5000, '[2001:db8::1]:5000', 'https://[2001:db8::1]:5000'),
    ('2001:db8::1', 443, '[2001:db8::1]', 'https://[2001:db8::1]'),
])
def test_address_is_how_docker_names_the_registry(name, port, address, url):
    endpoint = registry_endpoint(HostVars(registry_server_name=name, registry_port=port), 'h')
    assert (endpoint['address'], endpoint['url']) == (address, url)
    assert docker_address(name, port) == address


@pytest.mark.parametrize('variables, has_ca', [
    ({'registry_tls_mode': 'self_signed'}, True),
    ({'registry_tls_mode': 'ca'}, True),
    ({'registry_tls_mode': 'provided', 'registry_tls_provided_ca': '/ca.crt'}, True),
    ({'registry_tls_mode': 'provided'}, False),
    ({'registry_tls_mode': 'provided', 'registry_tls_provided_ca': ''}, False),
])
def test_what_clients_trust_per_tls_mode(variables, has_ca):
    endpoint = registry_endpoint(HostVars(**variables), 'h')
    assert (endpoint['has_ca'], endpoint['public_ca'], endpoint['read_ca']) == (has_ca, not has_ca, has_ca)


def test_every_tls_mode_of_the_table_is_one_the_role_documents():
    with open(os.path.join(COLLECTION, 'roles', 'registry', 'meta', 'argument_specs.yml')) as handle:
        spec = yaml.safe_load(handle)['argument_specs']['main']['options']['registry_tls_mode']
    assert sorted(TLS_CLIENT_TRUST) == sorted(spec['choices'])


def test_an_absent_registry_is_not_read():
    endpoint = registry_endpoint(HostVars(registry_state='absent'), 'h')
    assert endpoint['state'] == 'absent' and endpoint['has_ca'] and not endpoint['read_ca']


@pytest.mark.parametrize('connection, local', [
    ('local', True), ('ansible.builtin.local', True), ('ssh', False), (None, False)])
def test_local_means_the_controller_is_the_host(connection, local):
    variables = {} if connection is None else {'ansible_connection': connection}
    assert registry_endpoint(HostVars(**variables), 'h')['local'] is local


@pytest.mark.parametrize('bind, url', [
    ('127.0.0.1', 'https://127.0.0.1:8443/'),
    ('0.0.0.0', 'https://reg.example:8443/'),
    ('::', 'https://reg.example:8443/'),
    ('::1', 'https://[::1]:8443/'),
    ('192.0.2.7', 'https://192.0.2.7:8443/'),
])
def test_the_ui_url(bind, url):
    endpoint = registry_endpoint(HostVars(registry_server_name='reg.example', registry_ui_bind_address=bind), 'h')
    assert endpoint['ui_url'] == url


def test_no_ui_url_when_the_ui_is_off():
    endpoint = registry_endpoint(HostVars(registry_ui_enabled=False), 'h')
    assert endpoint['ui_enabled'] is False and endpoint['ui_url'] is None


@pytest.mark.parametrize('variables, expected', [
    ({'registry_tls_mode': 'bogus'}, "registry host h: registry_tls_mode 'bogus' is unknown; allowed: acme, ca, provided, self_signed"),
    ({'registry_state': 'started'}, "registry host h: registry_state 'started'; allowed: present, absent"),
    ({'registry_port': 'http'}, "registry host h: registry_port 'http' is not an integer from 1 to 65535"),
    ({'registry_port': 0}, 'registry host h: registry_port 0 is not an integer from 1 to 65535'),
    ({'registry_port': 65536}, 'registry host h: registry_port 65536 is not an integer from 1 to 65535'),
    ({'registry_port': True}, 'registry host h: registry_port True is not an integer from 1 to 65535'),
    ({'registry_ui_port': 'x'}, "registry host h: registry_ui_port 'x' is not an integer from 1 to 65535"),
    ({'registry_ui_enabled': 'maybe'}, "registry host h: registry_ui_enabled 'maybe' is not a boolean"),
])
def test_variables_that_describe_no_registry_are_one_clear_error(variables, expected):
    with pytest.raises(EndpointError) as caught:
        registry_endpoint(HostVars(**variables), 'h')
    assert str(caught.value) == expected
    with pytest.raises(AnsibleFilterError, match='registry host h: '):
        endpoint_filter(HostVars(**variables), 'h')


def test_the_input_is_not_changed():
    variables = {'registry_users': [{'name': 'a', 'password': 'p'}], 'registry_port': 5000}
    before = copy.deepcopy(variables)
    registry_endpoint(HostVars(**variables), 'h')
    registry_credentials(HostVars(**variables))
    assert variables == before


# ------------------------------------------------------------------ registry_credentials

def test_credentials_of_the_first_present_user():
    users = [{'name': 'gone', 'password': 'x', 'state': 'absent'}, {'name': 'ci', 'password': 'pw'},
             {'name': 'other', 'password': 'o'}]
    assert registry_credentials(HostVars(registry_users=users)) == {'username': 'ci', 'password': 'pw'}


def test_credentials_of_the_given_user_first():
    hostvars = HostVars(registry_users=[{'name': 'ci', 'password': 'pw'}])
    assert registry_credentials(hostvars, {'name': 'probe', 'password': 'pp'}) == {'username': 'probe', 'password': 'pp'}


@pytest.mark.parametrize('users', [None, [], [{'name': 'gone', 'password': 'x', 'state': 'absent'}]])
def test_no_credentials_without_a_present_user(users):
    variables = {} if users is None else {'registry_users': users}
    assert registry_credentials(HostVars(**variables)) == {}


# ------------------------------------------------------------------ docker_problem

def test_no_problem_when_docker_answers():
    assert docker_problem({'available': True, 'error': ''}, 'h1') == ''


def test_the_docker_preflight_message():
    message = docker_problem({'available': False, 'error': 'Cannot connect to the Docker daemon\n'}, 'h1')
    assert message == ("Docker is not usable on h1: `docker version` said 'Cannot connect to the Docker daemon'. "
                       "Install and start a Docker engine first (Debian: apt-get install docker.io; or Docker's "
                       "docker-ce packages), then run again.")


@pytest.mark.parametrize('docker', [None, {}, {'available': False}])
def test_a_missing_answer_is_a_problem(docker):
    assert docker_problem(docker, 'h1').startswith("Docker is not usable on h1: `docker version` said 'no answer'")


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'registry_endpoint', 'registry_credentials', 'docker_problem'}


def test_acme_clients_install_the_private_acme_ca_only():
    public = registry_endpoint({'registry_tls_mode': 'acme'}, 'h')
    assert public['has_ca'] is False and public['public_ca'] is True
    private = registry_endpoint({'registry_tls_mode': 'acme', 'registry_tls_acme_ca_cert': '/ca/pebble.pem'}, 'h')
    assert private['has_ca'] is True and private['read_ca'] is True
