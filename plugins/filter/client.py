# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the registry_client role uses to plan what it writes on a Docker client.

Thin: the functions live in plugins/plugin_utils/_client.py. The role's plan, look and drift
filters are in plugins/filter/client_plan.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: client
short_description: Planning helpers of the dockyard.registry.registry_client role
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(ca_certificate_problems) returns one message for each reason a text is not a CA certificate
    a Docker client may trust (not PEM, a block other than CERTIFICATE such as a private key, no
    certificate that is a CA or self-signed).
  - C(ca_certificate_pem) returns the certificate blocks of a PEM text, one after the other, with a
    final newline.
  - C(client_trust_plan) turns the registries to trust into a dictionary with C(entries) (what to
    write), C(problems) (messages; nothing may be written when there is one) and C(notes).
  - C(client_login_problems) returns one message for each bad entry of a list of logins.
  - C(docker_login_plan) decides for each login whether C(docker login) or C(docker logout) has to
    run, from the Docker client configuration files and the credential helpers' answers.
options:
  _input:
    description: The text or list to check or plan.
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: Refuse anything but a CA certificate
  ansible.builtin.assert:
    that: (ca_pem | dockyard.registry.ca_certificate_problems('ca_cert_content')) | length == 0
'''

RETURN = r'''
_value:
  description: A list of messages, a PEM text, or a plan (list or dictionary).
  type: raw
'''

from ansible_collections.dockyard.registry.plugins.plugin_utils._client import (
    ca_certificate_pem,
    ca_certificate_problems,
    client_login_problems,
    client_trust_plan,
    docker_login_plan,
)


class FilterModule(object):
    def filters(self):
        return {
            'ca_certificate_problems': ca_certificate_problems,
            'ca_certificate_pem': ca_certificate_pem,
            'client_trust_plan': client_trust_plan,
            'client_login_problems': client_login_problems,
            'docker_login_plan': docker_login_plan,
        }
