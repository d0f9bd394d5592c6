# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry_client role's plan for the Docker daemon's registry-mirrors (plugins/module_utils/_docker_daemon.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: docker_daemon
short_description: Planning helper of the registry_client role for the Docker daemon's registry-mirrors
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(docker_daemon_mirrors) plans the C(registry-mirrors) key of the Docker daemon's configuration file (C(/etc/docker/daemon.json)),
    keeping every other key, and the file's text as it is when the mirrors already match.
  - Returns a dictionary with C(problems) (messages; nothing may be written when there is one), C(content)
    (the file's new text), C(changed) and C(write) (the file must be written), C(before) and C(after) (the mirrors the file lists and will list), and
    C(restart_needed) (the running daemon does not use exactly these mirrors, in this order).
  - C(docker_mirrors_differ) tells whether the mirrors the daemon uses (O(_input)) are not exactly O(mirrors).
  - These filters are internals of the dockyard.registry.registry_client role; their output is not a stable interface.
options:
  _input:
    description: The current text of daemon.json (empty when the file does not exist).
    type: str
    required: true
  mirrors:
    description: The mirror URLs the daemon must use, in order.
    type: list
    elements: str
    required: true
  live:
    description: The mirrors the running daemon uses (C(docker info), C(.RegistryConfig.Mirrors)).
    type: list
    elements: str
  path:
    description: The file's path, for messages.
    type: str
    default: /etc/docker/daemon.json
'''

EXAMPLES = r'''
- name: Plan daemon.json
  ansible.builtin.set_fact:
    daemon_plan: "{{ '{\"log-driver\": \"local\"}' | dockyard.registry.docker_daemon_mirrors(['https://mirror.example:5000'], live=[]) }}"
'''

RETURN = r'''
_value:
  description: The plan (C(problems), C(content), C(changed), C(before), C(after), C(restart_needed)).
  type: dict
'''

from ansible_collections.dockyard.registry.plugins.module_utils._docker_daemon import (
    DaemonConfigError, plan_daemon_json, restart_needed)


def docker_daemon_mirrors(text, mirrors, live=None, path='/etc/docker/daemon.json'):
    try:
        plan = plan_daemon_json(text or '', list(mirrors) if isinstance(mirrors, (list, tuple)) else mirrors, path)
    except DaemonConfigError as exc:
        return {'problems': [str(exc)], 'content': text or '', 'changed': False, 'write': False, 'before': [],
                'after': [], 'restart_needed': False}
    plan['problems'] = []
    plan['write'] = plan['changed']
    plan['restart_needed'] = restart_needed(live, plan['after'])
    return plan


def docker_mirrors_differ(live, wanted):
    """Whether the daemon's mirrors (docker info) are not exactly ``wanted``, in that order."""
    return restart_needed(live, wanted)


class FilterModule(object):
    def filters(self):
        return {'docker_daemon_mirrors': docker_daemon_mirrors, 'docker_mirrors_differ': docker_mirrors_differ}
