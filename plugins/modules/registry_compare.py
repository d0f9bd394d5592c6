#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: registry_compare
short_description: Report what differs between a registry host and the registry role's plan
version_added: 0.2.0
author: dockyard.registry developers (@dockyard)
description:
  - Reports the differences the C(dockyard.registry.registry) role found between what
    M(dockyard.registry.registry_info) saw on a host and what the role would write, as a result and
    as a C(--diff) (one line per difference; secret files are named, never shown).
  - Reports C(changed) when anything differs. Runs on the controller only; it changes nothing.
  - The role's internals use it; it is documented so that its output can be read.
extends_documentation_fragment:
  - dockyard.registry.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - It changes nothing; C(changed) says that the host differs from the plan.
options:
  differences:
    description: The differences, each with C(what), C(wanted), C(found) and a readable C(message).
    type: list
    elements: dict
    default: []
  forced:
    description: Reasons to apply the role's state whatever the host looks like (not differences).
    type: list
    elements: str
    default: []
'''

EXAMPLES = r'''
- name: Compare the host with the plan
  dockyard.registry.registry_compare:
    differences: "{{ plan.drift }}"
    forced: "{{ plan.forced }}"
  register: comparison
'''

RETURN = r'''
differences:
  description: The differences, as given.
  returned: always
  type: list
  elements: dict
  sample: [{what: /opt/registry/certs/registry.key mode, wanted: "0600", found: "0644",
            message: "/opt/registry/certs/registry.key: mode is 0644, should be 0600"}]
forced:
  description: The reasons given to apply whatever the host looks like.
  returned: always
  type: list
  elements: str
apply:
  description: Whether the role's apply tasks must run (a difference or a forced reason).
  returned: always
  type: bool
'''

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec=dict(differences=dict(type='list', elements='dict', default=[]),
                                              forced=dict(type='list', elements='str', default=[])),
                           supports_check_mode=True)
    module.fail_json(msg='dockyard.registry.registry_compare runs on the controller (its action plugin);'
                         ' it cannot run as a module on a host')


if __name__ == '__main__':
    main()
