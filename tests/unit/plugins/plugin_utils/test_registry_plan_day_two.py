# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the plan's day-two parts (issue 9): metrics, notifications, the read-only
maintenance mode and the 3.x configuration after an upgrade from 2.8."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.filter.registry import registry_plan
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    CONFIG_MOUNTS, NOTIFICATION_LABEL, build_plan, notifications_env_content)

from .test_registry_plan import _argspec, _defaults, variables

TOKEN = 'Bearer t0ken-that-must-stay-secret'


def plan(**overrides):
    return build_plan(variables(**overrides))


def problems(**overrides):
    return build_plan(variables(**overrides))['problems']


def registry_service(plan_):
    return plan_['compose']['services']['registry']


ENDPOINT = {'name': 'ci', 'url': 'http://172.17.0.1:8099/events', 'headers': {'Authorization': TOKEN}}


def test_day_two_variables_are_documented():
    spec, defaults = _argspec(), _defaults()
    for name in ('registry_metrics_enabled', 'registry_metrics_address', 'registry_metrics_port',
                 'registry_notifications', 'registry_gc_delete_untagged', 'registry_gc_schedule',
                 'registry_gc_on_calendar', 'registry_gc_cron'):
        assert name in spec, name
        assert spec[name]['default'] == defaults[name], name


# ---------------------------------------------------------------- metrics

def test_metrics_off_by_default_debug_server_on_container_loopback_only():
    plan_ = plan()
    assert plan_['config']['http']['debug'] == {'addr': '127.0.0.1:5001'}
    assert [port for port in registry_service(plan_)['ports'] if port.endswith(':5001')] == []
    assert plan_['day_two']['metrics'] == {'enabled': False, 'url': ''}


def test_metrics_enabled_publishes_prometheus_on_the_chosen_address_only():
    plan_ = plan(registry_metrics_enabled=True, registry_metrics_port=9123)
    assert plan_['problems'] == []
    assert plan_['config']['http']['debug'] == {'addr': '0.0.0.0:5001',
                                                'prometheus': {'enabled': True, 'path': '/metrics'}}
    service = registry_service(plan_)
    assert '127.0.0.1:9123:5001' in service['ports']
    # The healthcheck still probes the container's own loopback.
    assert service['healthcheck']['test'][-1] == 'http://127.0.0.1:5001/debug/health'
    assert plan_['day_two']['metrics']['url'] == 'http://127.0.0.1:9123/metrics'
    assert plan_['warnings'] == []
    # Negative control: another address is published as given, and warned about.
    other = plan(registry_metrics_enabled=True, registry_metrics_address='0.0.0.0')
    assert '0.0.0.0:5001:5001' in registry_service(other)['ports']
    assert any('registry_metrics_address is 0.0.0.0' in warning for warning in other['warnings'])


def test_metrics_ipv6_address_in_brackets():
    assert '[::1]:5001:5001' in registry_service(plan(registry_metrics_enabled=True,
                                                      registry_metrics_address='::1'))['ports']


@pytest.mark.parametrize('overrides, expected', [
    ({'registry_metrics_port': 70000}, 'registry_metrics_port: 70000 is not allowed'),
    ({'registry_metrics_address': 'my-host'}, "registry_metrics_address: 'my-host' is not an IP address"),
    ({'registry_metrics_port': 5000, 'registry_port': 5000, 'registry_metrics_address': '0.0.0.0'},
     'registry_metrics_port: 5000 clashes with registry_port: 5000'),
    ({'registry_metrics_port': 8443, 'registry_ui_port': 8443},
     'registry_metrics_port: 8443 clashes with registry_ui_port: 8443'),
])
def test_metrics_bad_input(overrides, expected):
    found = problems(registry_metrics_enabled=True, **overrides)
    assert len(found) == 1 and expected in found[0], found
    # Negative control: metrics off, the same values are not looked at.
    assert problems(registry_metrics_enabled=False, **overrides) == []


# ---------------------------------------------------------------- notifications

def test_notifications_go_to_a_secret_env_file_not_config():
    plan_ = plan(registry_notifications=[ENDPOINT])
    assert plan_['problems'] == []
    assert 'notifications' not in plan_['config']
    config_text = [item['content'] for item in plan_['files'] if item['path'] == plan_['paths']['config']][0]
    assert 't0ken' not in config_text and '172.17.0.1' not in config_text
    content = plan_['day_two']['notifications']['env_content']
    name, value = content.rstrip('\n').split('=', 1)
    assert name == 'REGISTRY_NOTIFICATIONS_ENDPOINTS' and value[0] == value[-1] == "'"
    endpoints = yaml.safe_load(value[1:-1])  # distribution parses the value as YAML
    assert endpoints == [{'name': 'ci', 'url': ENDPOINT['url'], 'headers': {'Authorization': [TOKEN]},
                          'timeout': '5s', 'threshold': 5, 'backoff': '10s', 'disabled': False}]
    env = [entry for entry in plan_['layout'] if entry['path'] == plan_['paths']['notifications_env']][0]
    assert env['mode'] == '0600' and env['state'] == 'file' and len(env['sha256']) == 64
    service = registry_service(plan_)
    assert service['env_file'] == [plan_['paths']['env'], plan_['paths']['notifications_env']]
    assert service['labels'][NOTIFICATION_LABEL] == env['sha256']
    # Negative control: without endpoints the file is planned absent and not read by the container.
    none = plan()
    assert [entry['state'] for entry in none['layout'] if entry['path'] == none['paths']['notifications_env']] == ['absent']
    assert registry_service(none)['env_file'] == [none['paths']['env']]
    assert NOTIFICATION_LABEL not in registry_service(none)['labels']


def test_notifications_env_value_has_no_quote_or_interpolation_surprise():
    content = notifications_env_content([{'name': 'a', 'url': "http://h/x?a='1'&b=$HOME"}])
    value = content.rstrip('\n').split('=', 1)[1]
    assert value.count("'") == 2
    assert yaml.safe_load(value[1:-1])[0]['url'] == "http://h/x?a='1'&b=$HOME"


def test_changed_endpoint_changes_the_container_definition():
    one = registry_service(plan(registry_notifications=[ENDPOINT]))
    two = registry_service(plan(registry_notifications=[dict(ENDPOINT, headers={'Authorization': 'Bearer other'})]))
    assert one['labels'][NOTIFICATION_LABEL] != two['labels'][NOTIFICATION_LABEL]


@pytest.mark.parametrize('endpoint, expected', [
    ({'url': 'http://h/'}, "registry_notifications[0].name: '' is not allowed"),
    ({'name': 'ci', 'url': 'ftp://secret-host/'}, 'registry_notifications[0].url (endpoint ci): not an http://'),
    ({'name': 'ci', 'url': 'http://h/', 'timeout': 'soon'}, "registry_notifications[0].timeout (endpoint ci): 'soon'"),
    ({'name': 'ci', 'url': 'http://h/', 'threshold': 0}, 'registry_notifications[0].threshold (endpoint ci): 0'),
    ({'name': 'ci', 'url': 'http://h/', 'headers': {'X-Token': 'a\nb'}}, 'registry_notifications[0].headers.X-Token'),
    ({'name': 'ci', 'url': 'http://h/', 'colour': 'red'}, 'registry_notifications[0]: unknown key(s) colour'),
    ({'name': 'ci', 'url': 'http://h/', 'ignoredmediatypes': 'x'}, 'registry_notifications[0].ignoredmediatypes'),
])
def test_notifications_bad_input(endpoint, expected):
    found = problems(registry_notifications=[endpoint])
    assert len(found) == 1 and expected in found[0], found
    assert 'secret-host' not in found[0]
    # Negative control: the valid endpoint passes.
    assert problems(registry_notifications=[ENDPOINT]) == []


def test_notifications_duplicate_names_and_secret_never_in_messages():
    found = problems(registry_notifications=[ENDPOINT, dict(ENDPOINT, headers={'Authorization': ['x\ny']})])
    assert any("name: 'ci' is used by another endpoint" in message for message in found), found
    assert not any('t0ken' in message or 'x\ny' in message for message in found)


# ---------------------------------------------------------------- maintenance (read-only) mode

def test_maintenance_renders_read_only_and_only_that():
    normal = plan(registry_config_overrides={'storage': {'maintenance': {'uploadpurging': {'enabled': False}}}})
    readonly = build_plan(variables(registry_config_overrides={
        'storage': {'maintenance': {'uploadpurging': {'enabled': False}}}}), maintenance=True)
    assert readonly['config']['storage']['maintenance'] == {'readonly': {'enabled': True},
                                                            'uploadpurging': {'enabled': False}}
    assert 'readonly' not in normal['config']['storage']['maintenance']
    stripped = dict(readonly['config'], storage=dict(readonly['config']['storage'],
                                                     maintenance={'uploadpurging': {'enabled': False}}))
    assert stripped == normal['config']
    assert readonly['hashes']['config'] != normal['hashes']['config']
    assert readonly['day_two']['maintenance'] is True and normal['day_two']['maintenance'] is False


def test_maintenance_through_the_filter():
    result = registry_plan(variables(), maintenance=True)
    assert result['config']['storage']['maintenance']['readonly'] == {'enabled': True}


# ---------------------------------------------------------------- upgrade 2.8 -> 3.x

def test_upgrade_moves_the_config_mount_keeps_data_and_files():
    old, new = plan(registry_version='2.8.3'), plan(registry_version='3.0.0')
    old_volumes, new_volumes = registry_service(old)['volumes'], registry_service(new)['volumes']
    assert old_volumes[0].split(':')[1] == CONFIG_MOUNTS[2] and new_volumes[0].split(':')[1] == CONFIG_MOUNTS[3]
    assert old_volumes[1:] == new_volumes[1:]  # certs, auth, data: the same host directories
    assert old['paths'] == new['paths']
    assert registry_service(new)['environment'] == {'OTEL_TRACES_EXPORTER': 'none'}
    assert json.dumps(old['config'], sort_keys=True) == json.dumps(new['config'], sort_keys=True)
