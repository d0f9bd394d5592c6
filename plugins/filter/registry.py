# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry role's one planning entry point (plugins/plugin_utils/_registry_plan.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: registry
short_description: The planning filters of the dockyard.registry.registry role
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(registry_plan) turns the role's variables into the validated plan the role carries out
    (problems, directories and files with modes and owners, config.yml and docker-compose.yml
    as data and content, content hashes, what the read-only look at the host must judge and,
    given that look, what differs).
  - C(registry_env) gives the content of the registry's secret environment file, keeping the
    HTTP secret stored on the host when O(secret) is empty, or generating one.
  - C(registry_reach_problem) judges the probes of the storage service run from the registry container's
    networks (the plan's C(storage.reach)) and returns an empty string when one got an HTTP answer, else the problem.
  - These filters are the role's internals; their output is not a stable interface.
options:
  _input:
    description:
      - C(registry_plan) the role's variables, a dictionary of C(registry_*) names to values.
      - C(registry_env) the current content of the stored secrets/registry.env (empty when none).
      - C(registry_reach_problem) the registered results of the probes (a loop over C(storage.reach.probes)).
    type: raw
    required: true
  info:
    description: C(registry_plan) only. The result of M(dockyard.registry.registry_info) for the host.
    type: dict
  certificate_sha256:
    description: C(registry_plan) only. The sha256 of the certificate file the containers serve,
      when it changed after the look at the host.
    type: str
  ui_certificate_sha256:
    description: C(registry_plan) only. The sha256 of the UI's own certificate file (ui-certs/ui.crt) the UI
      serves, when it changed after the look at the host.
    type: str
  maintenance:
    description: C(registry_plan) only. Plan the registry read-only (C(storage.maintenance.readonly)), as garbage
      collection needs it.
    type: bool
    default: false
  secret:
    description: C(registry_env) only. The HTTP secret to use (O(_input) is then ignored).
    type: str
  extra:
    description: C(registry_env) only. Other secrets of the registry's environment (the storage's keys,
      the Redis password), as the plan's C(secret_env) gives them; written after the HTTP secret.
    type: dict
  reach:
    description: C(registry_reach_problem) only. The plan's C(storage.reach).
    type: dict
'''

EXAMPLES = r'''
- name: Plan the deployment
  ansible.builtin.set_fact:
    plan: "{{ {'registry_port': 5000, 'registry_state': 'present'} | dockyard.registry.registry_plan }}"
  no_log: true
'''

RETURN = r'''
_value:
  description: The plan (a dictionary; C(problems) lists every problem with the variables), or the
    secret file's content.
  type: raw
'''

import secrets
import string

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    PlanError, build_plan, env_content, stored_http_secret)
from ansible_collections.dockyard.registry.plugins.plugin_utils._storage_reach import reach_problem

_SECRET_ALPHABET = string.ascii_letters + string.digits


def registry_plan(variables, info=None, certificate_sha256=None, maintenance=False, ui_certificate_sha256=None):
    try:
        return build_plan(variables, info=info, certificate_sha256=certificate_sha256, maintenance=bool(maintenance),
                          ui_certificate_sha256=ui_certificate_sha256)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc))


def registry_env(stored, secret='', extra=None):
    """secrets/registry.env: ``secret`` when given, else the stored one, else a new random one;
    then the ``extra`` variables (the plan's secret_env)."""
    value = secret or stored_http_secret(stored or '')
    if not value:
        value = ''.join(secrets.choice(_SECRET_ALPHABET) for dummy in range(64))
    return env_content(value, dict(extra or {}))


def registry_reach_problem(results, reach):
    return reach_problem(reach, results or [])


class FilterModule(object):
    def filters(self):
        return {
            'registry_plan': registry_plan,
            'registry_env': registry_env,
            'registry_reach_problem': registry_reach_problem,
        }
