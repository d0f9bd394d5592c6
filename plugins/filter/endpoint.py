# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters that publish a registry host's endpoint once, for the roles, the playbooks and molecule.

Thin: the functions and the table of the registry role's defaults live in
plugins/plugin_utils/_endpoint.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: endpoint
short_description: Where a registry of the dockyard.registry.registry role is, read from its host's variables
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(registry_endpoint) takes a registry host's variables (C(hostvars[host])) and returns the registry
    it publishes, with the role's defaults where the host does not set a variable (they are not in
    hostvars) - C(host), C(name), C(port), C(address) (C(<name>:<port>), C(<name>) for port 443, as in
    C(docker pull) and C(/etc/docker/certs.d)), C(url), C(base_dir), C(ca_path), C(state), C(tls_mode),
    C(has_ca), C(public_ca), C(read_ca), C(auth_enabled), C(delete_enabled), C(ui_enabled), C(ui_url).
    An unknown TLS mode or state, or a bad port, is an error naming the host, the variable and the value.
  - C(registry_credentials) returns C({username, password}) to check the registry with - the given
    user, else the host's first present C(registry_users) entry, else an empty dictionary. Use it only
    with no_log options.
  - C(docker_problem) turns the C(docker) result of M(dockyard.registry.registry_info) into the
    preflight message both roles fail with when Docker is not usable, the empty string when it is.
options:
  _input:
    description: A host's variables (C(hostvars[host])), or the C(docker) result of M(dockyard.registry.registry_info).
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: Show where the registry of the first registry host is
  ansible.builtin.debug:
    msg: "{{ (hostvars[groups['registry'][0]] | dockyard.registry.registry_endpoint).url }}"

- name: Fail when Docker is not usable
  ansible.builtin.fail:
    msg: "{{ info.docker | dockyard.registry.docker_problem(inventory_hostname) }}"
  when: not info.docker.available
'''

RETURN = r'''
_value:
  description: The endpoint (a dictionary), the credentials (a dictionary) or a message (a string).
  type: raw
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.plugin_utils._endpoint import (
    EndpointError, docker_problem, registry_credentials)
from ansible_collections.dockyard.registry.plugins.plugin_utils._endpoint import registry_endpoint as _registry_endpoint


def registry_endpoint(hostvars, host=None):
    try:
        return _registry_endpoint(hostvars, host)
    except EndpointError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {
            'registry_endpoint': registry_endpoint,
            'registry_credentials': registry_credentials,
            'docker_problem': docker_problem,
        }
