# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""daemon.json's registry-mirrors (plugins/module_utils/_docker_daemon.py) and its filter."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json

import pytest

from ansible_collections.dockyard.registry.plugins.filter.docker_daemon import FilterModule, docker_daemon_mirrors
from ansible_collections.dockyard.registry.plugins.module_utils._docker_daemon import (
    DaemonConfigError, mirror_problems, normalize_mirror, plan_daemon_json, registry_url_problem, restart_needed)

MIRROR = 'https://mirror.example:5000'
OTHER_KEYS = '{\n    "log-driver": "local",\n    "insecure-registries": ["10.0.0.1:5000"],\n    "data-root": "/srv/docker"\n}\n'


def test_new_file_holds_only_the_mirrors():
    for text in (None, '', '  \n'):
        plan = plan_daemon_json(text, [MIRROR])
        assert plan['changed'] is True and plan['before'] == [] and plan['after'] == [MIRROR]
        assert json.loads(plan['content']) == {'registry-mirrors': [MIRROR]}
        assert plan['content'].endswith('\n')


def test_other_keys_are_kept_in_their_order():
    plan = plan_daemon_json(OTHER_KEYS, [MIRROR, 'http://10.0.0.9:5000'])
    data = json.loads(plan['content'])
    assert list(data) == ['log-driver', 'insecure-registries', 'data-root', 'registry-mirrors']
    assert data['insecure-registries'] == ['10.0.0.1:5000'] and data['data-root'] == '/srv/docker'
    assert data['registry-mirrors'] == [MIRROR, 'http://10.0.0.9:5000']


def test_the_same_mirrors_keep_the_text_byte_for_byte():
    """Idempotent: a file that already lists the mirrors (even written as the daemon reports them,
    with a final '/' or in capitals) is left exactly as it is."""
    text = OTHER_KEYS.replace('"data-root"', '"registry-mirrors": ["HTTPS://Mirror.Example:5000/"],\n    "data-root"')
    plan = plan_daemon_json(text, [MIRROR])
    assert plan == {'content': text, 'changed': False, 'before': ['HTTPS://Mirror.Example:5000/'],
                    'after': ['HTTPS://Mirror.Example:5000/']}
    # Rerun on what the role wrote: no change.
    written = plan_daemon_json(OTHER_KEYS, [MIRROR])['content']
    assert plan_daemon_json(written, [MIRROR])['changed'] is False


def test_other_mirrors_or_order_are_a_change():
    text = json.dumps({'registry-mirrors': ['http://a.example', MIRROR]})
    assert plan_daemon_json(text, [MIRROR, 'http://a.example'])['changed'] is True
    assert plan_daemon_json(text, [MIRROR])['changed'] is True
    # negative control
    assert plan_daemon_json(text, ['http://a.example', MIRROR])['changed'] is False


@pytest.mark.parametrize('text, words', [
    ('{"log-driver": "local",}', 'is not valid JSON'),
    ('["registry-mirrors"]', 'holds a JSON list, not an object'),
    ('{"registry-mirrors": "https://m"}', '"registry-mirrors" is not a list'),
])
def test_a_broken_file_is_never_overwritten(text, words):
    with pytest.raises(DaemonConfigError) as exc:
        plan_daemon_json(text, [MIRROR], path='/etc/docker/daemon.json')
    assert '/etc/docker/daemon.json' in str(exc.value) and words in str(exc.value)
    assert 'fix it by hand first' in str(exc.value).lower()


@pytest.mark.parametrize('url, reason', [
    ('mirror.example:5000', 'is not an http:// or https:// URL'),
    ('ftp://mirror.example', 'is not an http:// or https:// URL'),
    ('https://mirror.example/v2/', 'has a path, query or fragment'),
    ('https://u:topsecret@mirror.example', 'holds credentials'),
    ('https://mirror.example:0', 'has no host or a bad port'),
])
def test_bad_mirrors_are_refused_with_one_message_each(url, reason):
    problems = mirror_problems([MIRROR, url])
    assert len(problems) == 1
    assert problems[0].startswith('registry_client_mirrors[1]: ') and reason in problems[0]
    assert 'topsecret' not in problems[0]
    with pytest.raises(DaemonConfigError):
        plan_daemon_json('', [url])


def test_duplicates_and_types_are_refused():
    assert mirror_problems([MIRROR, MIRROR + '/']) == ["registry_client_mirrors[1]: '%s/' is listed twice." % MIRROR]
    assert mirror_problems('https://m') == ['registry_client_mirrors: must be a list of mirror URLs, got str']
    assert mirror_problems([5]) == ['registry_client_mirrors[0]: must be a URL string, got int']
    # negative control
    assert mirror_problems([MIRROR, 'http://[::1]:5000', 'http://mirror']) == []


def test_url_rule_is_the_one_the_registry_role_uses():
    assert registry_url_problem('https://registry-1.docker.io') == ''
    assert registry_url_problem('https://[::1]x') == 'has no host or a bad port'


def test_restart_needed_compares_with_what_the_daemon_uses():
    assert normalize_mirror('HTTPS://Mirror.Example:5000') == 'https://mirror.example:5000/'
    assert restart_needed([], [MIRROR]) is True
    assert restart_needed(None, [MIRROR]) is True
    assert restart_needed(['https://mirror.example:5000/'], [MIRROR]) is False  # as docker info reports it
    assert restart_needed([MIRROR, 'http://a/'], ['http://a', MIRROR]) is True  # order matters
    assert restart_needed([], []) is False


def test_filter_reports_problems_instead_of_raising():
    assert FilterModule().filters()['docker_daemon_mirrors'] is docker_daemon_mirrors
    plan = docker_daemon_mirrors('{broken', [MIRROR], live=[], path='/tmp/d.json')
    assert plan['changed'] is False and plan['restart_needed'] is False
    assert len(plan['problems']) == 1 and plan['problems'][0].startswith('/tmp/d.json is not valid JSON')
    plan = docker_daemon_mirrors(OTHER_KEYS, [MIRROR], live=[])
    assert plan['problems'] == [] and plan['changed'] is True and plan['write'] is True
    assert plan['restart_needed'] is True
    # negative control: file and daemon already as wanted
    plan = docker_daemon_mirrors(plan['content'], [MIRROR], live=[MIRROR + '/'])
    assert plan['problems'] == [] and plan['write'] is False and plan['restart_needed'] is False
