# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the registry_client role's plan, layout and drift (plugins/plugin_utils/_client.py):
where the registries come from (listed, or the registry group's hosts with their CAs), what the
client looks like once the plan is carried out, and how one look at it is compared. Each rule is
checked in sync and with the one thing changed that it is about (its negative control)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import copy
import datetime
import hashlib

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.filter.client_plan import FilterModule
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import (
    build_ca_certificate, certificate_pem, generate_private_key, key_spec, private_key_pem)
from ansible_collections.dockyard.registry.plugins.plugin_utils._client import (
    ca_certificate_pem, client_ca_to_read, client_drift, client_endpoints, client_layout, client_plan,
    client_registries)

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
VARIABLES = {'registries': [], 'registry_group': 'registry', 'certs_dir': '/etc/docker/certs.d',
             'system_trust': False, 'system_trust_dir': '/usr/local/share/ca-certificates'}


@pytest.fixture(scope='module')
def pki():
    cas = []
    for name in ('CA one', 'CA two'):
        key = generate_private_key(key_spec())
        cas.append(certificate_pem(build_ca_certificate(key, name, 30, NOW)).decode('ascii'))
    return {'ca': cas[0], 'other_ca': cas[1], 'key': private_key_pem(key).decode('ascii')}


def _b64(text):
    return base64.b64encode(text.encode('ascii')).decode('ascii')


def _endpoint(host='reg1', **kwargs):
    endpoint = {'host': host, 'name': host + '.example', 'port': 5000, 'state': 'present',
                'ca_path': '/opt/registry/certs/ca.crt', 'public_ca': False, 'read_ca': True, 'local': False}
    endpoint.update(kwargs)
    return endpoint


def _read(endpoint, content=None, msg='file not found: /opt/registry/certs/ca.crt'):
    if content is None:
        return {'item': endpoint, 'failed': True, 'msg': msg}
    return {'item': endpoint, 'content': _b64(content), 'encoding': 'base64'}


def _sha(text):
    return hashlib.sha256(text.encode('ascii')).hexdigest()


# ------------------------------------------------------------------ client_endpoints

def test_endpoints_of_the_group_in_inventory_order():
    groups = {'registry': ['b', 'a'], 'other': ['c']}
    hostvars = {'a': {'registry_port': 5001}, 'b': {}, 'c': {}}
    endpoints = client_endpoints(groups, hostvars, [], 'registry')
    assert [(e['host'], e['port']) for e in endpoints] == [('b', 5000), ('a', 5001)]


@pytest.mark.parametrize('registries, group, groups', [
    ([{'name': 'x'}], 'registry', {'registry': ['a']}),   # listed registries: the group is not read
    ([], '', {'registry': ['a']}),                        # no group
    ([], 'registry', {}),                                 # a group the inventory lacks
])
def test_no_endpoints_unless_derived_from_a_group(registries, group, groups):
    assert client_endpoints(groups, {'a': {}}, registries, group) == []


def test_a_registry_host_with_an_unknown_tls_mode_fails_naming_it():
    with pytest.raises(AnsibleFilterError, match="registry_client_registry_group 'registry': registry host a: "
                                                 "registry_tls_mode 'bogus' is unknown"):
        client_endpoints({'registry': ['a']}, {'a': {'registry_tls_mode': 'bogus'}}, [], 'registry')


# ------------------------------------------------------------------ client_ca_to_read

def test_every_deployed_registry_with_a_ca_is_read_on_its_host():
    endpoints = [_endpoint('reg1'), _endpoint('reg2', read_ca=False), _endpoint('reg3', local=True)]
    assert [e['host'] for e in client_ca_to_read(endpoints, {})] == ['reg1', 'reg3']


def test_a_ca_the_controller_read_for_a_local_host_is_not_read_again():
    endpoints = [_endpoint('local', local=True), _endpoint('remote')]
    assert [e['host'] for e in client_ca_to_read(endpoints, {'/opt/registry/certs/ca.crt': 'x'})] == ['remote']


def test_a_local_ca_the_controller_could_not_read_is_read_on_the_host():
    """Negative control of the one above: without the controller's text, the local host is read too."""
    endpoints = [_endpoint('local', local=True, ca_path='/srv/r/certs/ca.crt')]
    assert client_ca_to_read(endpoints, {'/opt/registry/certs/ca.crt': 'x'}) == endpoints


# ------------------------------------------------------------------ client_registries: listed

def test_listed_registries_with_their_ca_text_or_file(pki):
    registries = [{'name': 'a.example', 'port': 5000, 'ca_cert_content': pki['ca']},
                  {'name': 'b.example', 'port': 443, 'ca_cert_src': 'files/b.crt', 'state': 'present'},
                  {'name': 'c.example', 'ca_cert_src': '/missing.crt'},
                  {'name': 'd.example', 'port': 5000, 'state': 'absent'}]
    result = client_registries(registries, src_texts=['', pki['other_ca'], '', ''])
    assert [r['ca_cert_content'] for r in result] == [pki['ca'], pki['other_ca'], None, None]
    assert [r['source'] for r in result] == ['registry_client_registries[%d]' % i for i in range(4)]
    assert [r['port'] for r in result] == [5000, 443, 5000, 5000]
    assert [r['state'] for r in result] == ['present', 'present', 'present', 'absent']
    assert result[2]['missing_reason'] == 'ca_cert_src: /missing.crt is not a readable file on the controller'
    assert result[3]['missing_reason'] == 'ca_cert_content or ca_cert_src is required'


def test_listed_registries_ignore_the_group(pki):
    endpoint = _endpoint()
    result = client_registries([{'name': 'a.example', 'ca_cert_content': pki['ca']}], [endpoint],
                               [_read(endpoint, pki['other_ca'])])
    assert [r['name'] for r in result] == ['a.example']


# ------------------------------------------------------------------ client_registries: derived

def test_derived_registries_with_the_ca_read_from_each_host(pki):
    one, two, gone = _endpoint('reg1'), _endpoint('reg2', port=443), _endpoint('reg3', state='absent', read_ca=False)
    result = client_registries([], [one, two, gone], [_read(one, pki['ca']), _read(two, pki['other_ca'])],
                               group='registries')
    assert [(r['name'], r['port'], r['state']) for r in result] == [
        ('reg1.example', 5000, 'present'), ('reg2.example', 443, 'present'), ('reg3.example', 5000, 'absent')]
    assert [r['ca_cert_content'] for r in result] == [pki['ca'], pki['other_ca'], None]
    assert [r['source'] for r in result] == ['registries host reg1', 'registries host reg2', 'registries host reg3']


def test_a_ca_that_could_not_be_read_says_why(pki):
    one, two = _endpoint('reg1'), _endpoint('reg2', ca_path='/srv/r/certs/ca.crt')
    result = client_registries([], [one, two], [_read(one, None, msg='file not found: x')])
    assert result[0]['ca_cert_content'] is None
    assert result[0]['missing_reason'] == ('cannot read the CA /opt/registry/certs/ca.crt on the registry host '
                                           '(file not found: x); deploy the registry first (playbooks/site.yml)')
    assert result[1]['missing_reason'].startswith('cannot read the CA /srv/r/certs/ca.crt on the registry host (skipped)')


def test_an_empty_ca_file_is_empty_text_not_missing(pki):
    endpoint = _endpoint()
    assert client_registries([], [endpoint], [_read(endpoint, '')])[0]['ca_cert_content'] == ''


def test_a_local_registry_hosts_ca_is_the_one_read_on_the_controller(pki):
    local = _endpoint(local=True)
    result = client_registries([], [local], [], local_cas={local['ca_path']: pki['ca']})
    assert result[0]['ca_cert_content'] == pki['ca']


def test_a_remote_registry_hosts_ca_never_comes_from_the_controller(pki):
    """Negative control: the same path on the controller is another machine's file."""
    remote = _endpoint(local=False)
    result = client_registries([], [remote], [], local_cas={remote['ca_path']: pki['ca']})
    assert result[0]['ca_cert_content'] is None


def test_public_ca_is_passed_on(pki):
    result = client_registries([], [_endpoint(public_ca=True, read_ca=False)], [])
    assert result[0]['public_ca'] is True


# ------------------------------------------------------------------ client_plan

def _plan(pki, check_mode=False, **variables):
    values = dict(VARIABLES, **variables)
    endpoint = _endpoint()
    return client_plan(values, [endpoint], [_read(endpoint, pki['ca'])], [], check_mode=check_mode)


def test_plan_entries_carry_their_paths(pki):
    (entry,) = _plan(pki)['entries']
    assert entry['address'] == 'reg1.example:5000'
    assert entry['dir'] == '/etc/docker/certs.d/reg1.example:5000'
    assert entry['ca_file'] == '/etc/docker/certs.d/reg1.example:5000/ca.crt'
    assert entry['trust_path'] == '/usr/local/share/ca-certificates/dockyard-reg1.example-5000.crt'
    assert entry['ca_pem'] == ca_certificate_pem(pki['ca'])


def test_a_trailing_slash_in_the_directories_changes_no_path(pki):
    (entry,) = _plan(pki, certs_dir='/etc/docker/certs.d/', system_trust_dir='/trust/')['entries']
    assert entry['ca_file'] == '/etc/docker/certs.d/reg1.example:5000/ca.crt'
    assert entry['trust_path'] == '/trust/dockyard-reg1.example-5000.crt'


@pytest.mark.parametrize('system_trust, state, trust_state', [
    (True, 'present', 'present'), (False, 'present', 'absent'), (True, 'absent', 'absent'), (False, 'absent', 'absent')])
def test_the_system_trust_file_is_wanted_only_for_a_trusted_registry_with_system_trust(
        pki, system_trust, state, trust_state):
    registries = [{'name': 'a.example', 'port': 5000, 'ca_cert_content': pki['ca'], 'state': state}]
    plan = client_plan(dict(VARIABLES, registries=registries, system_trust=system_trust))
    assert plan['entries'][0]['trust_state'] == trust_state


def test_the_layout_of_a_trusted_registry(pki):
    plan = _plan(pki)
    sha = _sha(ca_certificate_pem(pki['ca']))
    assert plan['layout'] == [
        {'path': '/etc/docker/certs.d/reg1.example:5000', 'state': 'directory', 'mode': '0755', 'owner': 'root',
         'group': 'root'},
        {'path': '/etc/docker/certs.d/reg1.example:5000/ca.crt', 'state': 'file', 'mode': '0644', 'owner': 'root',
         'group': 'root', 'sha256': sha},
        {'path': '/usr/local/share/ca-certificates/dockyard-reg1.example-5000.crt', 'state': 'absent'},
    ]
    assert plan['look'] == [{'path': item['path'], 'checksum': 'sha256' in item} for item in plan['layout']]
    assert [item['checksum'] for item in plan['look']] == [False, True, False]
    assert plan['dir_attributes'] == {'mode': '0755', 'owner': 'root', 'group': 'root'}
    assert plan['file_attributes'] == {'mode': '0644', 'owner': 'root', 'group': 'root'}


def test_the_layout_with_system_trust(pki):
    layout = _plan(pki, system_trust=True)['layout']
    assert layout[2] == {'path': '/usr/local/share/ca-certificates/dockyard-reg1.example-5000.crt', 'state': 'file',
                         'mode': '0644', 'owner': 'root', 'group': 'root',
                         'sha256': _sha(ca_certificate_pem(pki['ca']))}


def test_the_layout_of_a_registry_no_longer_trusted(pki):
    registries = [{'name': 'a.example', 'port': 5000, 'state': 'absent'}]
    plan = client_plan(dict(VARIABLES, registries=registries, system_trust=True))
    assert plan['layout'] == [
        {'path': '/etc/docker/certs.d/a.example:5000/ca.crt', 'state': 'absent'},
        {'path': '/etc/docker/certs.d/a.example:5000', 'state': 'absent', 'when_empty': True},
        {'path': '/usr/local/share/ca-certificates/dockyard-a.example-5000.crt', 'state': 'absent'},
    ]


def test_a_problem_leaves_nothing_to_look_at_or_write(pki):
    registries = [{'name': 'a.example', 'port': 5000, 'ca_cert_content': pki['ca'] + pki['key']}]
    plan = client_plan(dict(VARIABLES, registries=registries))
    assert plan['problems'] and plan['layout'] == [] and plan['look'] == []
    assert pki['key'].splitlines()[1] not in ' '.join(plan['problems'])


def test_a_registry_not_deployed_yet_is_a_problem_but_a_note_in_check_mode(pki):
    endpoint = _endpoint()
    plan = client_plan(VARIABLES, [endpoint], [_read(endpoint, None)], [])
    assert plan['problems'] == ['registry host reg1: cannot read the CA /opt/registry/certs/ca.crt on the registry '
                                'host (file not found: /opt/registry/certs/ca.crt); deploy the registry first '
                                '(playbooks/site.yml)']
    plan = client_plan(VARIABLES, [endpoint], [_read(endpoint, None)], [], check_mode=True)
    assert plan['problems'] == [] and plan['entries'] == [] and len(plan['notes']) == 1


def test_an_empty_group_is_a_note(pki):
    assert client_plan(VARIABLES, [], [], [])['notes'] == [
        "registry_client_registries is empty and group 'registry' has no hosts: no registry to trust."]
    # Negative controls: no group at all, or listed registries, are no such note.
    assert client_plan(dict(VARIABLES, registry_group=''), [], [], [])['notes'] == []
    registries = [{'name': 'a.example', 'port': 5000, 'ca_cert_content': pki['ca']}]
    assert client_plan(dict(VARIABLES, registries=registries), [], [], [])['notes'] == []


def test_the_plan_needs_every_role_variable():
    with pytest.raises(AnsibleFilterError, match='lack system_trust_dir'):
        client_plan({key: value for key, value in VARIABLES.items() if key != 'system_trust_dir'})
    with pytest.raises(AnsibleFilterError, match='expected a dictionary'):
        client_plan([])


# ------------------------------------------------------------------ client_drift

def _in_sync(layout):
    """What registry_info returns for a client that is exactly the layout."""
    paths = {}
    for item in layout:
        if item['state'] == 'absent':
            paths[item['path']] = {'exists': False, 'type': None, 'mode': None, 'owner': None, 'group': None}
            continue
        fact = {'exists': True, 'type': item['state'], 'mode': item['mode'], 'owner': item['owner'],
                'group': item['group']}
        if 'sha256' in item:
            fact['sha256'] = item['sha256']
        paths[item['path']] = fact
    return {'changed': False, 'docker': {'available': True}, 'paths': paths}


@pytest.fixture
def mixed(pki):
    registries = [{'name': 'a.example', 'port': 5000, 'ca_cert_content': pki['ca']},
                  {'name': 'old.example', 'port': 5000, 'state': 'absent'}]
    return client_plan(dict(VARIABLES, registries=registries, system_trust=True))


def test_no_drift_when_the_client_is_the_layout(mixed):
    assert client_drift(_in_sync(mixed['layout']), mixed) == []


CA_FILE = '/etc/docker/certs.d/a.example:5000/ca.crt'
CA_DIR = '/etc/docker/certs.d/a.example:5000'
OLD_DIR = '/etc/docker/certs.d/old.example:5000'
TRUST = '/usr/local/share/ca-certificates/dockyard-a.example-5000.crt'


@pytest.mark.parametrize('path, change, expected', [
    (CA_FILE, {'exists': False, 'type': None}, {'what': 'exists', 'wanted': True, 'found': False}),
    (CA_FILE, {'mode': '0600'}, {'what': 'mode', 'wanted': '0644', 'found': '0600'}),
    (CA_FILE, {'owner': 'nobody'}, {'what': 'owner', 'wanted': 'root', 'found': 'nobody'}),
    (CA_FILE, {'group': 'staff'}, {'what': 'group', 'wanted': 'root', 'found': 'staff'}),
    (CA_FILE, {'sha256': 'f' * 64}, {'what': 'sha256', 'wanted': None, 'found': 'f' * 64}),
    (CA_FILE, {'sha256': None}, {'what': 'sha256', 'wanted': None, 'found': None}),
    (CA_FILE, {'type': 'directory'}, {'what': 'type', 'wanted': 'file', 'found': 'directory'}),
    (CA_DIR, {'mode': '0700'}, {'what': 'mode', 'wanted': '0755', 'found': '0700'}),
    (CA_DIR, {'type': 'file'}, {'what': 'type', 'wanted': 'directory', 'found': 'file'}),
    (TRUST, {'exists': False}, {'what': 'exists', 'wanted': True, 'found': False}),
    (OLD_DIR, {'exists': True, 'type': 'directory'}, {'what': 'exists (removed when empty)', 'wanted': False,
                                                      'found': True}),
    (OLD_DIR + '/ca.crt', {'exists': True, 'type': 'file'}, {'what': 'exists', 'wanted': False, 'found': True}),
    ('/usr/local/share/ca-certificates/dockyard-old.example-5000.crt', {'exists': True, 'type': 'file'},
     {'what': 'exists', 'wanted': False, 'found': True}),
], ids=['ca-missing', 'ca-mode', 'ca-owner', 'ca-group', 'ca-content', 'ca-unreadable', 'ca-is-dir', 'dir-mode',
        'dir-is-file', 'trust-missing', 'stale-dir', 'stale-ca', 'stale-trust-file'])
def test_each_difference_is_drift(mixed, path, change, expected):
    info = _in_sync(mixed['layout'])
    info['paths'][path].update(change)
    if expected['what'] == 'sha256':
        expected = dict(expected, wanted=[item for item in mixed['layout'] if item['path'] == path][0]['sha256'])
    assert client_drift(info, mixed) == [dict(expected, path=path)]


def test_a_path_the_look_did_not_report_is_drift(mixed):
    info = _in_sync(mixed['layout'])
    del info['paths'][CA_FILE]
    assert client_drift(info, mixed) == [{'path': CA_FILE, 'what': 'inspected', 'wanted': True, 'found': False}]


def test_system_trust_turned_off_makes_the_installed_file_drift(pki, mixed):
    on = _in_sync(mixed['layout'])
    off = client_plan(dict(VARIABLES, registries=[{'name': 'a.example', 'port': 5000, 'ca_cert_content': pki['ca']}]))
    assert client_drift(on, off) == [{'path': TRUST, 'what': 'exists', 'wanted': False, 'found': True}]


def test_another_ca_is_drift(pki, mixed):
    other = copy.deepcopy(mixed)
    other_plan = client_plan(dict(VARIABLES, registries=[{'name': 'a.example', 'port': 5000,
                                                          'ca_cert_content': pki['other_ca']}], system_trust=True))
    assert [d['path'] for d in client_drift(_in_sync(other['layout']), other_plan)] == [CA_FILE, TRUST]


def test_drift_needs_a_look_and_a_plan(mixed):
    with pytest.raises(AnsibleFilterError):
        client_drift(None, mixed)
    with pytest.raises(AnsibleFilterError):
        client_drift({}, None)


def test_the_layout_function_alone(pki, mixed):
    assert client_layout(mixed['entries']) == mixed['layout']


def test_filters_are_registered():
    assert set(FilterModule().filters()) == {'client_endpoints', 'client_ca_to_read', 'client_plan', 'client_drift'}
