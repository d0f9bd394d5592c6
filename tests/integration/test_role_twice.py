# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role used twice in one play on one host (`roles:` and `include_role`, two Compose projects):
no registered result of the first run leaks into the second, both registries serve, and a rerun
changes nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from roles_lib import INVENTORY, ansible_playbook, curl_status, write_private


def _play(tmp_path, first, second):
    playbook = write_private(str(tmp_path / 'twice.json'), [{
        'hosts': 'registry', 'become': False, 'gather_facts': False,
        'roles': [{'role': 'dockyard.registry.registry', 'vars': first}],
        'tasks': [{'name': 'Deploy the second registry', 'ansible.builtin.include_role': {
            'name': 'dockyard.registry.registry'}, 'vars': second}],
    }])
    return ansible_playbook(playbook, INVENTORY, workdir=str(tmp_path))


def test_two_deployments_in_one_play_then_a_rerun_changes_nothing(role_deployments, tmp_path):
    first, second = role_deployments('twice-a'), role_deployments('twice-b')
    result = _play(tmp_path, first.vars, second.vars)
    assert result.rc == 0, result.describe()
    for dep in (first, second):
        user, password = dep.admin
        assert curl_status(dep.registry_url + '/v2/', cacert=dep.ca, user=(user, password)) == 200
        assert curl_status(dep.registry_url + '/v2/', cacert=dep.ca) == 401  # control: no credentials
        with open(os.path.join(dep.base_dir, 'docker-compose.yml')) as handle:
            compose = handle.read()
        assert 'name: %s\n' % dep.project in compose
        other = second if dep is first else first
        assert other.project not in compose and other.base_dir not in compose
    again = _play(tmp_path, first.vars, second.vars)
    assert again.rc == 0 and again.changed == 0, (again.changed_tasks(), again.describe())
