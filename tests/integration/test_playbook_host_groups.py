# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks' host groups are variables: dockyard_registry_hosts (site.yml's first play and
verify.yml; default `registry`) and dockyard_registry_clients (site.yml's second play; default
`docker_clients`), given as extra vars. Checked with `ansible-playbook --list-hosts` (nothing runs)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

import pytest

from roles_lib import REPO, playbook_env, run

INVENTORY = """\
all:
  children:
    registry: {hosts: {reg-default.example: {}}}
    docker_clients: {hosts: {client-default.example: {}}}
    our_registries: {hosts: {reg-ours.example: {}}}
    our_builders: {hosts: {client-ours.example: {}}}
"""


def plays(tmp_path, playbook, *extra):
    """{play name: [hosts]} from ansible-playbook --list-hosts."""
    inventory = tmp_path / 'hosts.yml'
    inventory.write_text(INVENTORY)
    target = playbook if playbook.startswith('dockyard.') else os.path.join(REPO, 'playbooks', playbook)
    proc = run(['ansible-playbook', '-i', str(inventory), target, '--list-hosts'] + list(extra),
               env=playbook_env(), cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found, current = {}, None
    for line in proc.stdout.splitlines():
        match = re.match(r'^\s*play #\d+ \(([^)]*)\): (.*?)\s+TAGS', line)
        if match:
            current = match.group(2)
            found[current] = []
        elif current and line.strip() and not line.strip().startswith(('pattern:', 'hosts (')):
            found[current].append(line.strip())
    return found


@pytest.mark.parametrize('playbook', ['site.yml', 'verify.yml'])
def test_default_groups(tmp_path, playbook):
    found = plays(tmp_path, playbook)
    hosts = sorted(h for names in found.values() for h in names)
    expected = ['client-default.example', 'reg-default.example'] if playbook == 'site.yml' else ['reg-default.example']
    assert hosts == expected, found


def test_groups_from_extra_vars(tmp_path):
    found = plays(tmp_path, 'site.yml', '-e', 'dockyard_registry_hosts=our_registries',
                  '-e', 'dockyard_registry_clients=our_builders')
    assert found == {'Deploy secured registries': ['reg-ours.example'],
                     'Trust the registries from every Docker client': ['client-ours.example']}, found
    found = plays(tmp_path, 'verify.yml', '-e', 'dockyard_registry_hosts=our_registries')
    assert found == {'Check every registry as a client does': ['reg-ours.example']}, found


def test_readme_form_by_collection_name(tmp_path):
    """The README runs the playbooks by their collection names (dockyard.registry.site, .verify)."""
    found = plays(tmp_path, 'dockyard.registry.site', '-e', 'dockyard_registry_hosts=our_registries')
    assert found == {'Deploy secured registries': ['reg-ours.example'],
                     'Trust the registries from every Docker client': ['client-default.example']}, found
    found = plays(tmp_path, 'dockyard.registry.verify')
    assert found == {'Check every registry as a client does': ['reg-default.example']}, found
