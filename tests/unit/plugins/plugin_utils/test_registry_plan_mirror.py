# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the registry role's modes (REGISTRY_MODES): `registry` and the pull-through `mirror`.

Every rule has its negative control (the same variables with the one thing that makes them valid).
The upstream password must never appear in config.yml, the compose file, a problem or a warning.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.module_utils._docker_daemon import registry_url_problem
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    REGISTRY_MODES, build_plan, mirror_env_content)

# The role's defaults as the play would see them on a host named localhost (shared helpers).
from .test_registry_plan import _argspec, _defaults, variables

UPSTREAM_PASSWORD = "Up$tream #pw 'q' \"dq\" :x"


def mirror(**overrides):
    values = dict(registry_version='2.8.3', registry_mode='mirror', registry_mirror_url='https://upstream.example:5000',
                  registry_mirror_username='puller', registry_mirror_password=UPSTREAM_PASSWORD)
    values.update(overrides)
    return variables(**values)


def problems(values):
    return build_plan(values)['problems']


def one_problem(values):
    found = problems(values)
    assert len(found) == 1, found
    return found[0]


def _entry(plan, key):
    return [item for item in plan['layout'] if item['path'] == plan['paths'][key]][0]


def _public_text(plan):
    """Everything of the plan that is not secret: config.yml, compose, problems, warnings, drift."""
    return json.dumps([plan.get('files'), plan.get('config'), plan.get('compose'), plan.get('problems'),
                       plan.get('warnings'), plan.get('drift'), plan.get('look', {}).get('paths')])


# ------------------------------------------------------------------------------------------------ the table

def test_modes_table_matches_argument_specs_and_defaults():
    spec = _argspec()['registry_mode']
    assert sorted(spec['choices']) == sorted(REGISTRY_MODES) == ['mirror', 'registry']
    assert spec['default'] == _defaults()['registry_mode'] == 'registry'
    assert _argspec()['registry_mirror_password'].get('no_log') is True
    for name in ('registry_mirror_url', 'registry_mirror_username', 'registry_mirror_password', 'registry_mirror_ttl'):
        assert _argspec()[name]['default'] == _defaults()[name] == ''


def test_unknown_mode_is_an_error_not_a_fallback():
    message = one_problem(variables(registry_mode='cache'))
    assert message == "registry_mode: 'cache' is not supported; allowed: mirror, registry."
    # negative control
    assert problems(variables(registry_mode='registry')) == []


def test_registry_mode_has_no_proxy_and_no_mirror_env():
    plan = build_plan(variables())
    assert plan['problems'] == []
    assert 'proxy' not in plan['config']
    assert plan['mode'] == {'name': 'registry', 'accepts_pushes': True, 'env_content': ''}
    assert _entry(plan, 'mirror_env') == {'path': plan['paths']['mirror_env'], 'state': 'absent'}
    assert plan['compose']['services']['registry']['env_file'] == [plan['paths']['env']]


def test_mirror_variables_are_ignored_in_registry_mode():
    # registry_mirror_* do nothing unless registry_mode is mirror (no problem, no proxy section).
    plan = build_plan(variables(registry_mirror_url='ftp://x', registry_mirror_ttl='1h'))
    assert plan['problems'] == [] and 'proxy' not in plan['config']


# ------------------------------------------------------------------------------------------------ config

def test_mirror_config_on_2x_has_no_ttl_and_no_credentials():
    plan = build_plan(mirror())
    assert plan['problems'] == []
    assert plan['config']['proxy'] == {'remoteurl': 'https://upstream.example:5000'}
    assert plan['mode']['name'] == 'mirror' and plan['mode']['accepts_pushes'] is False
    config_text = [item for item in plan['files'] if item['path'] == plan['paths']['config']][0]['content']
    assert 'remoteurl: https://upstream.example:5000' in config_text
    assert 'puller' not in config_text and 'password' not in config_text and 'ttl' not in config_text


def test_mirror_config_on_3x_renders_ttl_only_when_given():
    plan = build_plan(mirror(registry_version='3.0.0', registry_mirror_ttl='24h'))
    assert plan['problems'] == []
    assert plan['config']['proxy'] == {'remoteurl': 'https://upstream.example:5000', 'ttl': '24h'}
    plan = build_plan(mirror(registry_version='3.0.0', registry_mirror_ttl='0'))
    assert plan['config']['proxy']['ttl'] == '0'
    # negative control: empty leaves distribution's default
    plan = build_plan(mirror(registry_version='3.0.0'))
    assert plan['config']['proxy'] == {'remoteurl': 'https://upstream.example:5000'}


def test_trailing_slash_of_the_url_is_dropped():
    plan = build_plan(mirror(registry_mirror_url='http://10.0.0.5:5000/'))
    assert plan['problems'] == [] and plan['config']['proxy']['remoteurl'] == 'http://10.0.0.5:5000'


def test_mirror_credentials_go_to_a_private_env_file_only():
    plan = build_plan(mirror())
    content = plan['mode']['env_content']
    assert content == mirror_env_content('puller', UPSTREAM_PASSWORD)
    entry = _entry(plan, 'mirror_env')
    assert entry['mode'] == '0600' and entry['owner'] == 'root' and entry['state'] == 'file'
    assert len(entry['sha256']) == 64
    assert plan['compose']['services']['registry']['env_file'] == [plan['paths']['env'], plan['paths']['mirror_env']]
    public = _public_text(plan)
    assert UPSTREAM_PASSWORD not in public and json.dumps(UPSTREAM_PASSWORD)[1:-1] not in public
    # the look compares the file by its (no_log) sha256, never by content
    look = [item for item in plan['look']['paths'] if item['path'] == plan['paths']['mirror_env']][0]
    assert look == {'path': plan['paths']['mirror_env'], 'checksum': False, 'sha256': entry['sha256']}


def test_a_changed_upstream_password_is_drift():
    first = _entry(build_plan(mirror()), 'mirror_env')['sha256']
    second = _entry(build_plan(mirror(registry_mirror_password='another-one')), 'mirror_env')['sha256']
    assert first != second


def test_anonymous_mirror_writes_no_credentials():
    plan = build_plan(mirror(registry_mirror_username='', registry_mirror_password=''))
    assert plan['problems'] == [] and plan['mode']['env_content'] == ''
    assert _entry(plan, 'mirror_env')['state'] == 'absent'


@pytest.mark.parametrize('value', ['plain', UPSTREAM_PASSWORD, 'dckr_pat_AbC-12_3', '[x', '- y', 'a: b', '123',
                                   'true', '~', '$HOME', '${X}', '#c', u'\u00fcml\u00e4ut', 'back\\slash'])
def test_env_values_read_back_exactly(value):
    """What Compose's env_file gives the container (single quotes: literal) and distribution then
    parses as YAML (its REGISTRY_* overrides) is the exact value."""
    content = mirror_env_content('user', value)
    line = content.splitlines()[1]
    name, raw = line.split('=', 1)
    assert name == 'REGISTRY_PROXY_PASSWORD'
    assert raw.startswith("'") and raw.endswith("'") and "'" not in raw[1:-1]
    assert yaml.safe_load(raw[1:-1]) == value


# ------------------------------------------------------------------------------------------------ rules

@pytest.mark.parametrize('url, reason', [
    ('', 'is not an http:// or https:// URL'),
    ('registry-1.docker.io', 'is not an http:// or https:// URL'),
    ('ftp://upstream.example', 'is not an http:// or https:// URL'),
    ('https://upstream.example/v2/library', 'has a path, query or fragment'),
    ('https://upstream.example?x=1', 'has a path, query or fragment'),
    ('https://:5000', 'has no host or a bad port'),
    ('https://upstream.example:99999', 'has no host or a bad port'),
])
def test_mirror_url_must_be_an_http_base_url(url, reason):
    message = one_problem(mirror(registry_mirror_url=url))
    assert message.startswith("registry_mirror_url: '%s' %s" % (url, reason)), message
    assert 'allowed:' in message


@pytest.mark.parametrize('url', ['https://registry-1.docker.io', 'http://127.0.0.1:5000', 'HTTPS://Up.Example:443/',
                                 'http://[::1]:5000', 'http://upstream'])
def test_mirror_url_negative_controls(url):
    assert registry_url_problem(url) == ''
    assert problems(mirror(registry_mirror_url=url)) == []


def test_credentials_in_the_url_are_refused_and_not_repeated():
    message = one_problem(mirror(registry_mirror_url='https://bob:hunter2secret@upstream.example'))
    assert 'holds credentials' in message and 'registry_mirror_username/password' in message
    assert 'hunter2secret' not in message
    assert "'https://bob:(hidden)@upstream.example'" in message


@pytest.mark.parametrize('user, password, got', [
    ('puller', '', "username 'puller' and no password"),
    ('', 'only-a-password', 'no username and a password'),
])
def test_username_and_password_go_together(user, password, got):
    message = one_problem(mirror(registry_mirror_username=user, registry_mirror_password=password))
    assert message.startswith('registry_mirror_username / registry_mirror_password: give both')
    assert got in message
    assert 'only-a-password' not in message


@pytest.mark.parametrize('name, value', [
    ('registry_mirror_password', ' padded'),
    ('registry_mirror_password', 'two\nlines'),
    ('registry_mirror_username', 'a:b'),
])
def test_credentials_must_be_one_clean_line(name, value):
    message = one_problem(mirror(**{name: value}))
    assert message.startswith(name + ': the value given (%d characters)' % len(value))
    assert value not in message
    # negative control
    assert problems(mirror(**{name: value.replace(' ', '').replace('\n', '').replace(':', '')})) == []


def test_ttl_on_2x_is_refused_because_2x_cannot_honour_it():
    message = one_problem(mirror(registry_mirror_ttl='24h'))
    assert message.startswith("registry_mirror_ttl: '24h' cannot be honoured by registry_version 2.8.3")
    assert 'no proxy.ttl' in message
    # negative controls: empty on 2.x, a value on 3.x
    assert problems(mirror(registry_mirror_ttl='')) == []
    assert problems(mirror(registry_mirror_ttl='24h', registry_version='3.0.0')) == []


@pytest.mark.parametrize('ttl', ['forever', '24', '-1h', '0h', '1d'])
def test_ttl_must_be_a_duration(ttl):
    message = one_problem(mirror(registry_mirror_ttl=ttl, registry_version='3.0.0'))
    assert message.startswith("registry_mirror_ttl: '%s' is not a duration" % ttl)


def test_delete_enabled_is_refused_on_a_mirror():
    message = one_problem(mirror(registry_delete_enabled=True))
    assert message.startswith('registry_delete_enabled: true cannot be honoured by registry_mode mirror')
    assert '405 UNSUPPORTED' in message
    # negative controls: off on a mirror; on for a plain registry
    assert problems(mirror(registry_delete_enabled=False)) == []
    assert problems(variables(registry_delete_enabled=True)) == []


def test_ui_of_a_mirror_offers_no_delete():
    plan = build_plan(mirror())
    assert plan['compose']['services']['ui']['environment']['DELETE_IMAGES'] == 'false'


@pytest.mark.parametrize('mode', ['registry', 'mirror'])
def test_proxy_in_config_overrides_is_refused_in_both_modes(mode):
    overrides = {'proxy': {'remoteurl': 'https://other.example', 'password': 'in-clear'}}
    values = mirror(registry_config_overrides=overrides) if mode == 'mirror' else variables(
        registry_config_overrides=overrides)
    message = one_problem(values)
    assert message.startswith('registry_config_overrides: proxy is not allowed there')
    assert 'in-clear' not in message
    # negative control: other overrides stay allowed on a mirror (pull events still notify)
    assert problems(mirror(registry_config_overrides={'notifications': {'endpoints': []}})) == []


def test_mirror_rules_are_not_applied_when_absent():
    assert problems(mirror(registry_state='absent', registry_mirror_url='nope')) == []


def test_warning_for_an_open_mirror_names_pulls_not_pushes():
    plan = build_plan(mirror(registry_auth_enabled=False))
    warning = [item for item in plan['warnings'] if 'registry_auth_enabled' in item]
    assert warning == ['WARNING: registry_auth_enabled is false: anyone who reaches port 5000 can pull through'
                       ' the mirror with the upstream account puller (pushes are refused).']
    assert UPSTREAM_PASSWORD not in json.dumps(plan['warnings'])
    # negative control: a plain registry without auth warns about pushes
    plan = build_plan(variables(registry_auth_enabled=False))
    assert any('can push, pull' in item for item in plan['warnings'])
