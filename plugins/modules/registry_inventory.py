#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: registry_inventory
short_description: List every tag of a container registry and check that its manifests and blobs answer
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - Reads a CNCF distribution registry through its HTTP API, as a client. It lists the catalog and every
    repository's tags, fetches each tag's manifest (and the platform manifests of an index or manifest list),
    checks that each manifest body hashes to its digest, and asks for every blob the manifests reference
    (image config and layers) with C(HEAD), which must answer 200 with the same C(Docker-Content-Digest).
  - With O(expected) (the RV(tags) of an earlier run), every expected tag must still answer with the same
    digest. Used after garbage collection and after a restore to show that nothing was lost.
  - Fails when anything does not answer as it should (RV(problems) lists each), unless O(fail_on_problems=false).
extends_documentation_fragment:
  - dockyard.registry.attributes
  - dockyard.registry.registry_api
attributes:
  check_mode:
    support: full
    details:
      - Only reads; runs the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  username:
    description: User to authenticate as (Basic authentication). It needs read rights.
    type: str
  password:
    description: Password of O(username). Never reported.
    type: str
  expected:
    description: Tags that must still answer with these digests (C(repository), C(tag), C(digest) each).
    type: list
    elements: dict
    default: []
  fail_on_problems:
    description: Fail when RV(problems) is not empty.
    type: bool
    default: true
  request_timeout:
    description: Seconds to wait for each connection or request.
    type: int
    default: 30
  page_size:
    description: Entries asked for per page of the catalog and of each tag list.
    type: int
    default: 100
notes:
  - Only Basic (htpasswd) authentication is supported.
seealso:
  - module: dockyard.registry.registry_retention
  - module: dockyard.registry.registry_health
'''

EXAMPLES = r'''
- name: Remember what the registry holds
  dockyard.registry.registry_inventory:
    url: https://registry.example.com:5000
    ca_path: /opt/registry/certs/ca.crt
    username: admin
    password: "{{ vault_registry_admin_password }}"
  register: before

- name: After garbage collection, every tag answers with the same digest and all its blobs
  dockyard.registry.registry_inventory:
    url: https://registry.example.com:5000
    ca_path: /opt/registry/certs/ca.crt
    username: admin
    password: "{{ vault_registry_admin_password }}"
    expected: "{{ before.tags }}"
'''

RETURN = r'''
tags:
  description: Every tag, sorted by repository and tag, with the digest of its manifest.
  returned: always
  type: list
  elements: dict
  sample:
    - {repository: team/app, tag: "1.0", digest: "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
repositories:
  description: Number of repositories that have tags.
  returned: always
  type: int
  sample: 3
manifests:
  description: Number of distinct manifests checked (tags and the platform manifests of indexes).
  returned: always
  type: int
  sample: 12
blobs:
  description: Number of distinct blobs checked (per repository).
  returned: always
  type: int
  sample: 40
problems:
  description: What did not answer as it should (empty when everything did).
  returned: always
  type: list
  elements: str
  sample: ["team/app:1.0 (sha256:2c26...) is gone"]
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.dockyard.registry.plugins.module_utils._health import (
    HealthError, RegistryClient, api_argument_spec, make_ssl_context, validate_connection)
from ansible_collections.dockyard.registry.plugins.module_utils._inventory import Inventory, RetentionError, compare

USER_AGENT = 'dockyard.registry.registry_inventory'


def main():
    module = AnsibleModule(
        argument_spec=api_argument_spec(
            expected=dict(type='list', elements='dict', default=[]),
            fail_on_problems=dict(type='bool', default=True),
            page_size=dict(type='int', default=100),
        ),
        required_together=[('username', 'password')],
        supports_check_mode=True,
    )
    params = module.params
    empty = dict(changed=False, tags=[], repositories=0, manifests=0, blobs=0, problems=[])
    for name in ('request_timeout', 'page_size'):
        if params[name] < 1:
            module.fail_json(msg='%s must be 1 or more, got %r' % (name, params[name]), **empty)
    for index, item in enumerate(params['expected']):
        if not all(isinstance(item.get(key), str) and item.get(key) for key in ('repository', 'tag', 'digest')):
            module.fail_json(msg='expected[%d] must be {repository, tag, digest}, got keys %s'
                             % (index, ', '.join(sorted(item))), **empty)
    try:
        target = validate_connection(params['url'], params['server_name'], params['ca_path'])
        context = make_ssl_context(params['ca_path'], True, params['server_name'])
    except HealthError as exc:
        module.fail_json(msg=str(exc), **empty)
    client = RegistryClient(target, context, params['request_timeout'], params['username'], params['password'],
                            user_agent=USER_AGENT)
    inventory = Inventory(client, params['page_size'], params['username'])
    try:
        tags = inventory.read()
    except RetentionError as exc:
        module.fail_json(msg=str(exc), **empty)
    problems = inventory.problems + compare(params['expected'], tags)
    result = dict(changed=False, tags=tags, repositories=len(set(item['repository'] for item in tags)),
                  manifests=len(inventory.manifests_checked), blobs=len(inventory.blobs_checked), problems=problems)
    if problems and params['fail_on_problems']:
        module.fail_json(msg='%d problem(s): %s' % (len(problems), '; '.join(problems[:20])), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
