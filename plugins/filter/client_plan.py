# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry_client role's plan and its comparison with one look at the client.

Thin: the functions live in plugins/plugin_utils/_client.py (pure, unit-tested there).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: client_plan
short_description: Plan of the dockyard.registry.registry_client role, and its drift
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(client_endpoints) returns the endpoint (as C(dockyard.registry.registry_endpoint) returns it) of
    each host of the registry group, when the role derives the registries from that group (no
    registries listed), else an empty list.
  - C(client_ca_to_read) returns the endpoints whose CA the role reads on their registry host, given
    the CAs the controller read itself (registry hosts reached with the local connection).
  - C(client_plan) is the role's plan from its variables, the endpoints and the CAs read from them,
    that is C(dockyard.registry.client_trust_plan)'s dictionary (C(entries), C(problems), C(notes))
    plus C(layout) (what the client looks like once the plan is carried out) and C(look) (the
    O(dockyard.registry.registry_info#module:paths) option that checks it).
  - C(client_drift) compares one M(dockyard.registry.registry_info) look with the plan's layout and
    returns the differences as C({path, what, wanted, found}), empty when nothing would change.
options:
  _input:
    description: The inventory's groups (C(client_endpoints)), the endpoints (C(client_ca_to_read)), the
      role variables (C(client_plan)) or the result of M(dockyard.registry.registry_info) (C(client_drift)).
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: Apply only when the client differs from the plan
  ansible.builtin.include_tasks: trust.yml
  when: (info | dockyard.registry.client_drift(plan)) | length > 0
'''

RETURN = r'''
_value:
  description: A list of endpoints, the plan (a dictionary) or a list of differences.
  type: raw
'''

from ansible_collections.dockyard.registry.plugins.plugin_utils._client import (
    client_ca_to_read, client_drift, client_endpoints, client_plan)


class FilterModule(object):
    def filters(self):
        return {
            'client_endpoints': client_endpoints,
            'client_ca_to_read': client_ca_to_read,
            'client_plan': client_plan,
            'client_drift': client_drift,
        }
