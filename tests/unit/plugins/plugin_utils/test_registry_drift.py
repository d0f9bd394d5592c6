# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the registry role's drift rules (plugins/plugin_utils/_registry_drift.py): pure functions over
what dockyard.registry.registry_info returns. Every rule is checked in sync and with one
difference (the negative control: the same input with that one thing changed)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import json

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_drift import (
    DEFINITION_LABEL, difference_diff, info_paths, registry_drift, stamp_definitions)

SECRET_SHA = hashlib.sha256(b'NGINX_PROXY_HEADER_Authorization=Basic c2VjcmV0\n').hexdigest()
CONFIG_SHA = hashlib.sha256(b'config').hexdigest()
CERT_SHA = hashlib.sha256(b'cert').hexdigest()

LAYOUT = [
    {'path': '/r', 'state': 'directory', 'mode': '0755', 'owner': 'root', 'group': 'root'},
    {'path': '/r/certs/registry.crt', 'state': 'file', 'checksum': True},
    {'path': '/r/certs/ca.crt', 'state': 'file', 'mode': '0644', 'checksum': True, 'same_as': '/r/certs/registry.crt'},
    {'path': '/r/config.yml', 'state': 'file', 'mode': '0644', 'checksum': True},
    {'path': '/r/secrets/registry.env', 'state': 'file', 'mode': '0600', 'regexp': r'REGISTRY_HTTP_SECRET=\S+\n'},
    {'path': '/r/secrets/ui.env', 'state': 'file', 'mode': '0600', 'sha256': SECRET_SHA},
    {'path': '/r/old', 'state': 'absent'},
]
CHECKSUMS = {'/r/config.yml': CONFIG_SHA}


def _file(mode='0644', **extra):
    fact = {'exists': True, 'type': 'file', 'mode': mode, 'owner': 'root', 'group': 'root'}
    fact.update(extra)
    return fact


SERVICES = stamp_definitions({
    'registry': {'image': 'registry:2.8.3', 'ports': ['127.0.0.1:5000:5000'], 'labels': {'a': 'b'}},
    'ui': {'image': 'ui:2', 'environment': {'X': 'y'}},
})
COMPOSE = {'name': 'p', 'services': SERVICES}


def _container(service, **extra):
    container = {'name': 'p-%s-1' % service, 'service': service, 'state': 'running', 'health': 'healthy',
                 'image_id': 'sha256:%s' % service, 'labels': dict(SERVICES.get(service, {}).get('labels', {}))}
    container.update(extra)
    return container


def in_sync_info():
    return {
        'changed': False,
        'docker': {'available': True, 'server_version': '20.10.24', 'compose_version': '2.26.1', 'error': ''},
        'paths': {
            '/r': {'exists': True, 'type': 'directory', 'mode': '0755', 'owner': 'root', 'group': 'root'},
            '/r/certs/registry.crt': _file(sha256=CERT_SHA),
            '/r/certs/ca.crt': _file(sha256=CERT_SHA),
            '/r/config.yml': _file(sha256=CONFIG_SHA),
            '/r/secrets/registry.env': _file('0600', matches=True),
            '/r/secrets/ui.env': _file('0600', sha256_matches=True),
            '/r/old': {'exists': False, 'type': None, 'mode': None, 'owner': None, 'group': None},
        },
        'certificate': {'reason': 'valid'},
        'htpasswd': {'changed': False, 'added': [], 'removed': [], 'updated': []},
        'containers': [_container('registry'), _container('ui')],
        'images': {'registry:2.8.3': 'sha256:registry', 'ui:2': 'sha256:ui'},
    }


def drift(info, **kwargs):
    """The differences' messages (each difference also says what, wanted and found)."""
    return [item['message'] for item in registry_drift(info, LAYOUT, CHECKSUMS, COMPOSE, **kwargs)]


def test_in_sync_host_has_no_drift():
    assert drift(in_sync_info()) == []


def _changed(change):
    info = in_sync_info()
    change(info)
    return drift(info)


@pytest.mark.parametrize('change, expected', [
    (lambda i: i['paths']['/r'].update(exists=False, type=None), ['/r: missing']),
    (lambda i: i['paths']['/r'].update(type='file'), ['/r: is a file, should be a directory']),
    (lambda i: i['paths']['/r'].update(mode='0777'), ['/r: mode is 0777, should be 0755']),
    (lambda i: i['paths']['/r'].update(owner='nobody'), ['/r: owner is nobody, should be root']),
    (lambda i: i['paths']['/r'].update(group='staff'), ['/r: group is staff, should be root']),
    (lambda i: i['paths']['/r/config.yml'].update(sha256='0' * 64), ['/r/config.yml: content differs']),
    (lambda i: i['paths']['/r/config.yml'].pop('sha256'), ['/r/config.yml: content differs']),
    (lambda i: i['paths']['/r/certs/ca.crt'].update(sha256='1' * 64),
     ['/r/certs/ca.crt: differs from /r/certs/registry.crt']),
    (lambda i: i['paths']['/r/secrets/registry.env'].update(matches=False),
     ['/r/secrets/registry.env: content is not what the role writes']),
    (lambda i: i['paths']['/r/secrets/ui.env'].update(sha256_matches=False), ['/r/secrets/ui.env: content differs']),
    (lambda i: i['paths']['/r/old'].update(exists=True, type='file'), ['/r/old: exists, should not']),
    (lambda i: i['paths'].pop('/r/config.yml'), ['/r/config.yml: not inspected']),
    (lambda i: i['certificate'].update(reason='expiring'), ['certificate: expiring']),
    (lambda i: i.pop('certificate'), ['certificate: not inspected']),
    (lambda i: i['htpasswd'].update(changed=True, added=['bob']),
     ["htpasswd: users to add ['bob'], remove [], update []"]),
    (lambda i: i.pop('htpasswd'), ['htpasswd: not inspected']),
    (lambda i: i.update(containers=None, docker=dict(i['docker'], error='daemon down')),
     ['containers: not listed (daemon down)']),
    (lambda i: i['containers'].append(_container('old')), ['service old: container p-old-1 is not in the Compose file']),
    (lambda i: i['containers'].pop(1), ['service ui: 0 containers, should be 1']),
    (lambda i: i['containers'].append(_container('ui', name='p-ui-2')), ['service ui: 2 containers, should be 1']),
    (lambda i: i['containers'][0].update(state='exited'), ['service registry: container is exited']),
    (lambda i: i['containers'][0]['labels'].update({DEFINITION_LABEL: 'f' * 64}),
     ['service registry: the container was created from another definition']),
    (lambda i: i['containers'][0]['labels'].pop(DEFINITION_LABEL),
     ['service registry: the container was created from another definition']),
    (lambda i: i['images'].update({'ui:2': None}), ['service ui: image ui:2 is not on the host']),
    (lambda i: i['containers'][1].update(image_id='sha256:older'),
     ['service ui: the container runs another image than ui:2']),
])
def test_each_difference_is_reported(change, expected):
    assert _changed(change) == expected


def test_unhealthy_is_not_drift_compose_would_not_change_it():
    """Compose up leaves an unhealthy container alone; the role's health check reports it."""
    assert _changed(lambda i: i['containers'][0].update(health='unhealthy')) == []


def test_verdicts_can_be_left_out():
    info = in_sync_info()
    info['certificate'] = {'reason': 'missing'}
    info.pop('htpasswd')
    assert drift(info, certificate=False, htpasswd=False) == []
    # Control: the same host with the verdicts counted.
    assert drift(info) == ['certificate: missing', 'htpasswd: not inspected']


def test_without_compose_containers_are_not_checked():
    info = in_sync_info()
    info['containers'] = None
    assert registry_drift(info, LAYOUT, CHECKSUMS) == []
    assert registry_drift(info, LAYOUT, CHECKSUMS, COMPOSE) != []


def test_messages_never_hold_a_checksum_or_secret():
    info = in_sync_info()
    for fact in info['paths'].values():
        fact.update(matches=False, sha256_matches=False, sha256='e' * 64)
    differences = registry_drift(info, LAYOUT, CHECKSUMS, COMPOSE)
    text = json.dumps([differences, difference_diff(differences)])
    assert SECRET_SHA not in text and CONFIG_SHA not in text and 'e' * 64 not in text
    assert 'ui.env: content differs' in text  # control: the secret file is reported, by path only


def test_stamp_definitions_hashes_the_definition_without_its_own_label():
    stamped = stamp_definitions({'s': {'image': 'x', 'labels': {'k': 'v'}, 'ports': ['1:1']}})
    label = stamped['s']['labels'][DEFINITION_LABEL]
    assert len(label) == 64 and stamped['s']['labels']['k'] == 'v'
    # Key order does not matter; stamping again gives the same label (idempotent).
    assert stamp_definitions({'s': {'ports': ['1:1'], 'labels': {'k': 'v'}, 'image': 'x'}}) == stamped
    assert stamp_definitions(copy.deepcopy(stamped)) == stamped
    # Control: any change of the definition changes the label.
    for other in ({'image': 'y', 'labels': {'k': 'v'}, 'ports': ['1:1']},
                  {'image': 'x', 'labels': {'k': 'w'}, 'ports': ['1:1']},
                  {'image': 'x', 'labels': {'k': 'v'}, 'ports': ['1:2']}):
        assert stamp_definitions({'s': other})['s']['labels'][DEFINITION_LABEL] != label


def test_stamp_definitions_rejects_what_is_not_services():
    with pytest.raises(AnsibleFilterError, match='dictionary of services'):
        stamp_definitions(['x'])
    with pytest.raises(AnsibleFilterError, match="service 's' is not a dictionary"):
        stamp_definitions({'s': 'x'})


def test_info_paths_passes_what_the_module_needs():
    assert info_paths(LAYOUT) == [
        {'path': '/r', 'checksum': False},
        {'path': '/r/certs/registry.crt', 'checksum': True},
        {'path': '/r/certs/ca.crt', 'checksum': True},
        {'path': '/r/config.yml', 'checksum': True},
        {'path': '/r/secrets/registry.env', 'checksum': False, 'regexp': r'REGISTRY_HTTP_SECRET=\S+\n'},
        {'path': '/r/secrets/ui.env', 'checksum': False, 'sha256': SECRET_SHA},
        {'path': '/r/old', 'checksum': False},
    ]


@pytest.mark.parametrize('layout, message', [
    ('x', 'expected a list'),
    ([{'state': 'file'}], 'needs a path'),
    ([{'path': '/x', 'state': 'link'}], 'state must be one of'),
])
def test_bad_layouts_are_refused(layout, message):
    with pytest.raises(AnsibleFilterError, match=message):
        info_paths(layout)


def test_registry_drift_refuses_what_is_not_a_module_result():
    with pytest.raises(AnsibleFilterError, match='registry_info'):
        registry_drift(None, LAYOUT)


def test_differences_are_structured_and_make_a_diff():
    info = in_sync_info()
    info['paths']['/r'].update(mode='0777')
    info['containers'][0].update(state='exited')
    differences = registry_drift(info, LAYOUT, CHECKSUMS, COMPOSE)
    assert [(d['what'], d['wanted'], d['found']) for d in differences] == [
        ('/r mode', '0755', '0777'), ('service registry state', 'running', 'exited')]
    diff = difference_diff(differences)
    assert diff['before'] == '/r mode: 0777\nservice registry state: exited\n'
    assert diff['after'] == '/r mode: 0755\nservice registry state: running\n'
    assert difference_diff([]) == {'before_header': 'host', 'after_header': 'plan', 'before': '', 'after': ''}
