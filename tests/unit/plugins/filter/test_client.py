# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the registry_client role's filters (plugins/filter/client.py): pure functions,
real certificates and keys made with cryptography."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.client import (
    FilterModule, ca_certificate_pem, ca_certificate_problems, client_login_problems, client_trust_plan,
    docker_login_plan)
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import (
    build_ca_certificate, build_server_certificate, certificate_pem, generate_private_key, key_spec,
    private_key_pem)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


def _text(data):
    return data.decode('ascii')


@pytest.fixture(scope='module')
def pki():
    ca_key = generate_private_key(key_spec())
    ca = build_ca_certificate(ca_key, 'test CA', 30, NOW)
    leaf_key = generate_private_key(key_spec())
    leaf = build_server_certificate(leaf_key.public_key(), 'reg.example', ['DNS:reg.example'], ca_key, ca, 30, NOW)
    self_key = generate_private_key(key_spec())
    self_signed = build_server_certificate(self_key.public_key(), 'reg.example', ['DNS:reg.example'],
                                           self_key, None, 30, NOW)
    return {
        'ca': _text(certificate_pem(ca)),
        'leaf': _text(certificate_pem(leaf)),
        'self_signed': _text(certificate_pem(self_signed)),
        'key': _text(private_key_pem(ca_key)),
    }


# ------------------------------------------------------------------ ca_certificate_problems

@pytest.mark.parametrize('name', ['ca', 'self_signed'])
def test_a_ca_or_self_signed_certificate_is_accepted(pki, name):
    assert ca_certificate_problems(pki[name], 'x') == []


def test_a_chain_with_its_ca_is_accepted(pki):
    assert ca_certificate_problems(pki['leaf'] + pki['ca'], 'x') == []


@pytest.mark.parametrize('build, expected', [
    (lambda p: p['ca'] + p['key'], 'x: holds a PRIVATE KEY block'),
    (lambda p: p['key'], 'x: holds a PRIVATE KEY block'),
    (lambda p: p['ca'] + p['key'].replace('PRIVATE KEY', 'EC PRIVATE KEY'), 'x: holds a EC PRIVATE KEY block'),
    (lambda p: p['leaf'], 'x: no CA certificate in it (CN=reg.example: not CA:TRUE and not self-signed)'),
    (lambda p: '', 'x: no certificate (empty)'),
    (lambda p: None, 'x: no certificate (empty)'),
    (lambda p: 'hello', 'x: not a PEM certificate'),
    (lambda p: p['ca'].replace('-----END CERTIFICATE-----', ''), 'x: not a PEM certificate'),
    (lambda p: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n', 'x: a certificate block does not parse'),
], ids=['ca+key', 'key', 'ec-key', 'leaf', 'empty', 'none', 'text', 'unterminated', 'garbage'])
def test_anything_but_a_ca_is_refused_without_showing_it(pki, build, expected):
    problems = ca_certificate_problems(build(pki), 'x')
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    body = pki['key'].splitlines()[1]
    assert body not in problems[0]


def test_pem_keeps_only_the_certificate_blocks(pki):
    text = 'Bag Attributes\n  friendlyName: ca\n' + pki['ca'] + '\ntrailing words'
    assert ca_certificate_pem(text) == pki['ca']
    assert ca_certificate_pem(pki['leaf'] + pki['ca']) == pki['leaf'] + pki['ca']


# ------------------------------------------------------------------ client_trust_plan

def _reg(pki, **kwargs):
    entry = {'name': 'reg.example', 'port': 5000, 'state': 'present', 'ca_cert_content': pki['ca'],
             'source': 'registry_client_registries[0]'}
    entry.update(kwargs)
    return entry


@pytest.mark.parametrize('name, port, address, trust_file', [
    ('Reg.Example', 5000, 'reg.example:5000', 'dockyard-reg.example-5000.crt'),
    ('10.0.0.5', '5001', '10.0.0.5:5001', 'dockyard-10.0.0.5-5001.crt'),
    ('fd00::1', 5000, '[fd00::1]:5000', 'dockyard-fd00__1-5000.crt'),
    ('reg.example', 443, 'reg.example', 'dockyard-reg.example-443.crt'),
])
def test_plan_names_the_directory_as_docker_looks_it_up(pki, name, port, address, trust_file):
    plan = client_trust_plan([_reg(pki, name=name, port=port)])
    assert plan['problems'] == [] and plan['notes'] == []
    (entry,) = plan['entries']
    assert entry['address'] == address and entry['trust_file'] == trust_file
    assert entry['ca_pem'] == pki['ca'] and entry['port'] == int(port)


@pytest.mark.parametrize('change, expected', [
    ({'name': 'bad name'}, "registry_client_registries[0]: name='bad name': not a valid DNS name"),
    ({'name': '*.example'}, 'a wildcard is not a host name'),
    ({'port': 0}, 'port 0 is not an integer from 1 to 65535'),
    ({'port': 'x'}, "port 'x' is not an integer"),
    ({'state': 'gone'}, "state 'gone'; allowed: 'present', 'absent'"),
    ({'ca_cert_content': None, 'missing_reason': 'cannot read the CA /opt/registry/certs/ca.crt'},
     'registry_client_registries[0]: cannot read the CA /opt/registry/certs/ca.crt'),
])
def test_plan_problems_name_the_entry(pki, change, expected):
    plan = client_trust_plan([_reg(pki, **change)])
    assert plan['entries'] == []
    assert len(plan['problems']) == 1 and expected in plan['problems'][0], plan['problems']


def test_plan_refuses_a_key_and_writes_nothing(pki):
    plan = client_trust_plan([_reg(pki), _reg(pki, name='other.example', ca_cert_content=pki['ca'] + pki['key'])])
    assert plan['problems'] == ['registry_client_registries[0]: holds a PRIVATE KEY block; only the CA certificate '
                                '(BEGIN CERTIFICATE) may be installed on clients, never a key']


def test_plan_refuses_one_registry_name_with_two_cas(pki):
    other = _reg(pki, name='REG.example', source='b', ca_cert_content=pki['self_signed'])
    plan = client_trust_plan([_reg(pki, source='a'), other])
    assert plan['problems'] == [
        'b: reg.example:5000 is also given by a with another CA or state; give each registry name one CA']
    plan = client_trust_plan([_reg(pki, source='a'), _reg(pki, source='b', state='absent')])
    assert plan['problems'][0].startswith('b: reg.example:5000 is also given by a with another CA or state')


def test_plan_takes_replicas_behind_one_name_once(pki):
    plan = client_trust_plan([_reg(pki, source='a'), _reg(pki, source='b', ca_cert_content='note\n' + pki['ca'])])
    assert plan['problems'] == [] and len(plan['entries']) == 1 and plan['entries'][0]['source'] == 'a'


def test_plan_absent_needs_no_ca_and_public_ca_is_a_note(pki):
    plan = client_trust_plan([_reg(pki, state='absent', ca_cert_content=None),
                              _reg(pki, name='public.example', ca_cert_content=None, public_ca=True)])
    assert plan['problems'] == []
    assert [(e['address'], e['state'], e['ca_pem']) for e in plan['entries']] == [('reg.example:5000', 'absent', '')]
    assert 'public.example:5000 uses a certificate from a public CA' in plan['notes'][0]


def test_plan_in_check_mode_notes_a_registry_not_deployed_yet(pki):
    entries = [_reg(pki, ca_cert_content=None, missing_reason='cannot read the CA')]
    assert client_trust_plan(entries)['problems'] == ['registry_client_registries[0]: cannot read the CA']
    plan = client_trust_plan(entries, check_mode=True)
    assert plan['problems'] == [] and plan['entries'] == [] and 'check mode' in plan['notes'][0]


def test_plan_needs_a_list():
    with pytest.raises(AnsibleFilterError):
        client_trust_plan({'name': 'x'})


# ------------------------------------------------------------------ client_login_problems

SECRET = 'S3cret-never-shown'


@pytest.mark.parametrize('logins, expected', [
    ([{'registry': 'reg:5000', 'username': 'u', 'password': SECRET}], []),
    ([{'registry': '[fd00::1]:5000', 'username': 'u', 'password': SECRET}], []),
    ([{'registry': 'reg:5000', 'username': 'u', 'state': 'absent'}], []),
    ([{'registry': 'https://reg:5000', 'username': 'u', 'password': SECRET}],
     ["registry_client_logins[0]: registry 'https://reg:5000' is not a registry address"]),
    ([{'registry': 'reg:5000/path', 'username': 'u', 'password': SECRET}],
     ["registry_client_logins[0]: registry 'reg:5000/path' is not a registry address"]),
    ([{'registry': 'reg:5000', 'username': 'u'}],
     ["registry_client_logins[0] (user 'u' at reg:5000): a password is required"]),
    ([{'registry': 'reg:5000', 'username': 'a:b', 'password': SECRET}],
     ["registry_client_logins[0]: username 'a:b'"]),
    ([{'registry': 'reg:5000', 'username': 'u', 'password': SECRET, 'state': 'on'}],
     ["registry_client_logins[0]: state 'on'"]),
    ([{'registry': 'reg:5000', 'username': 'u', 'password': SECRET},
      {'registry': 'reg:5000', 'username': 'v', 'password': SECRET}],
     ['registry_client_logins[1]: reg:5000 is also given by registry_client_logins[0]']),
    ('nope', ['registry_client_logins: must be a list']),
])
def test_login_problems(logins, expected):
    problems = client_login_problems(logins)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected):
        assert problem.startswith(start), problems
        assert SECRET not in problem


def test_same_registry_with_two_docker_configs_is_fine():
    logins = [{'registry': 'reg:5000', 'username': 'u', 'password': SECRET, 'docker_config_dir': '/a'},
              {'registry': 'reg:5000', 'username': 'u', 'password': SECRET, 'docker_config_dir': '/b'}]
    assert client_login_problems(logins) == []


# ------------------------------------------------------------------ docker_login_plan

def _slurp(config):
    if config is None:
        return {'failed': True, 'msg': 'file not found'}
    return {'content': base64.b64encode(json.dumps(config).encode()).decode()}


def _auth(user, password):
    return base64.b64encode(('%s:%s' % (user, password)).encode()).decode()


LOGIN = {'registry': 'reg:5000', 'username': 'u', 'password': SECRET}


@pytest.mark.parametrize('config, state, action', [
    (None, 'present', 'login'),
    ({}, 'present', 'login'),
    ({'auths': {'reg:5000': {'auth': _auth('u', SECRET)}}}, 'present', 'none'),
    ({'auths': {'https://reg:5000': {'auth': _auth('u', SECRET)}}}, 'present', 'none'),
    ({'auths': {'reg:5000': {'auth': _auth('u', 'old')}}}, 'present', 'login'),
    ({'auths': {'reg:5000': {'auth': _auth('other', SECRET)}}}, 'present', 'login'),
    ({'auths': {'other:5000': {'auth': _auth('u', SECRET)}}}, 'present', 'login'),
    ({'auths': {'reg:5000': {'auth': '!!not base64'}}}, 'present', 'login'),
    ({'auths': {'reg:5000': {'auth': _auth('u', SECRET)}}}, 'absent', 'logout'),
    ({'auths': {'reg:5000': {}}}, 'absent', 'logout'),
    ({'auths': {'other:5000': {'auth': _auth('u', SECRET)}}}, 'absent', 'none'),
    (None, 'absent', 'none'),
])
def test_login_plan_from_inline_auths(config, state, action):
    login = dict(LOGIN, state=state)
    (item,) = docker_login_plan([login], [_slurp(config)])
    assert item == {'index': 0, 'registry': 'reg:5000', 'username': 'u', 'state': state, 'helper': '',
                    'action': action}


def test_unreadable_config_means_login():
    (item,) = docker_login_plan([LOGIN], [{'content': base64.b64encode(b'{not json').decode()}])
    assert item['action'] == 'login'


def _helper_result(rc, answer=None):
    return {'rc': rc, 'stdout': json.dumps(answer) if answer else 'credentials not found in native keychain'}


@pytest.mark.parametrize('config, helper', [
    ({'credsStore': 'pass'}, 'pass'),
    ({'credsStore': 'pass', 'credHelpers': {'reg:5000': 'ecr-login'}}, 'ecr-login'),
    ({'credsStore': 'pass', 'credHelpers': {'other:5000': 'ecr-login'}}, 'pass'),
])
def test_login_plan_asks_the_credential_helper_first(config, helper):
    (item,) = docker_login_plan([LOGIN], [_slurp(config)])
    assert item['helper'] == helper and item['action'] == 'ask_helper'


@pytest.mark.parametrize('answer, state, action', [
    (_helper_result(0, {'ServerURL': 'reg:5000', 'Username': 'u', 'Secret': SECRET}), 'present', 'none'),
    (_helper_result(0, {'ServerURL': 'reg:5000', 'Username': 'u', 'Secret': 'old'}), 'present', 'login'),
    (_helper_result(0, {'ServerURL': 'reg:5000', 'Username': 'x', 'Secret': SECRET}), 'present', 'login'),
    (_helper_result(1), 'present', 'login'),
    ({'rc': 0, 'stdout': 'garbage'}, 'present', 'login'),
    (_helper_result(0, {'ServerURL': 'reg:5000', 'Username': 'u', 'Secret': SECRET}), 'absent', 'logout'),
    (_helper_result(1), 'absent', 'none'),
])
def test_login_plan_from_the_credential_helper(answer, state, action):
    login = dict(LOGIN, state=state)
    (item,) = docker_login_plan([login], [_slurp({'credsStore': 'pass'})], [answer])
    assert item['action'] == action and item['helper'] == 'pass'
    assert SECRET not in json.dumps(item)


def test_login_plan_needs_aligned_results():
    with pytest.raises(AnsibleFilterError):
        docker_login_plan([LOGIN], [])
    with pytest.raises(AnsibleFilterError):
        docker_login_plan([LOGIN], [_slurp({})], [])


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'ca_certificate_problems', 'ca_certificate_pem', 'client_trust_plan',
                                             'client_login_problems', 'docker_login_plan'}
