#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: htpasswd
short_description: Manage the bcrypt users of a registry htpasswd file
version_added: 0.1.0
description:
  - Adds, updates and removes users of an htpasswd file with bcrypt entries, the only kind
    the CNCF distribution registry accepts.
  - Manages many users in one task. A user whose password verifies against the stored bcrypt
    hash is left unchanged (C(bcrypt.checkpw), never a comparison of hash strings); verifying
    and hashing run on one thread per CPU, as bcrypt releases the GIL.
  - Writes C($2y$) entries like Apache's C(htpasswd -B). An existing entry that is not bcrypt
    (C({SHA}), MD5 C($apr1$), C(crypt)), which the registry ignores, is re-hashed with bcrypt
    when its password is given, whatever O(update_password) says, and reported in RV(rehashed).
  - Every option is validated before anything is written.
  - >-
    The file is replaced atomically (written to a temporary file in the same directory, then
    renamed), so it gets a new inode. Bind-mount the B(directory) that holds it into the
    registry container, not the file itself: a file bind mount keeps showing the old inode.
    The registry re-reads the file when its modification time changes; no restart is needed.
  - Keeps the order of existing entries and appends new users. Blank lines, comments and
    lines that are not C(name:hash) entries are kept unchanged; the latter cause a warning
    that gives their line numbers, never their content.
  - Results, warnings and the diff contain user names only, never passwords or hashes.
author: dockyard.registry developers (@dockyard)
requirements:
  - bcrypt >= 3.1.7 (the C(bcrypt) library is used directly; passlib is not needed)
extends_documentation_fragment:
  - dockyard.registry._htpasswd
  - ansible.builtin.files
  - dockyard.registry.attributes
  - dockyard.registry.attributes.files
  - dockyard.registry.attributes.actiongroup_files
attributes:
  check_mode:
    support: full
    details:
      - Given passwords are verified in check mode too, to know which users would change.
  diff_mode:
    support: full
    details:
      - The diff lists user names (before and after) and marks changed passwords; it never
        shows passwords or hashes. File attribute changes are not part of the diff.
  idempotent:
    support: full
  safe_file_operations:
    support: full
options:
  cost:
    description:
      - bcrypt cost (log2 of the number of rounds) of the entries of users without a
        O(users[].cost) of their own, from V(4) to V(31).
      - The registry runs bcrypt on B(every) authenticated request, so a higher cost slows
        every push and pull (each step is twice as slow); V(10) takes tens of milliseconds
        per request, V(5) (Apache's C(htpasswd -B)) about two.
      - With O(update_password=always), an existing entry whose password verifies but whose
        cost differs from the wanted one is re-hashed at the wanted cost (same password) and
        reported in RV(updated) and RV(rehashed); a rerun with the same costs changes nothing.
        With O(update_password=on_create), existing bcrypt entries keep their cost.
    type: int
    default: 10
  create:
    description:
      - Create the file if it does not exist (mode V(0640) unless O(mode) is given).
      - With V(false) and a missing file, the module fails if it would add a user, and
        otherwise changes nothing.
    type: bool
    default: true
  workers:
    description:
      - Number of threads that verify and hash passwords. Defaults to the number of CPUs
        the module may run on.
    type: int
notes:
  - The file holds password hashes. Keep it readable only by the registry (for example
    O(owner=root), O(mode=0640) and a group the container runs as).
seealso:
  - name: Distribution registry htpasswd authentication
    description: The C(auth.htpasswd) section of the registry configuration.
    link: https://distribution.github.io/distribution/about/configuration/#htpasswd
'''

EXAMPLES = r'''
- name: Manage the registry users (passwords from Ansible Vault)
  dockyard.registry.htpasswd:
    path: /srv/registry/auth/htpasswd
    users:
      - name: ci
        password: "{{ vault_registry_ci_password }}"
      - name: alice
        password: "{{ vault_registry_alice_password }}"
      - name: bob
        state: absent
    owner: root
    group: root
    mode: "0640"

- name: A human at the default cost, a CI robot with a long generated password at cost 4
  dockyard.registry.htpasswd:
    path: /srv/registry/auth/htpasswd
    cost: 10
    users:
      - name: alice
        password: "{{ vault_registry_alice_password }}"
      - name: ci
        password: "{{ vault_registry_ci_password }}"  # 32 random characters
        cost: 4

- name: Keep exactly these users; other entries are removed
  dockyard.registry.htpasswd:
    path: /srv/registry/auth/htpasswd
    exclusive: true
    users: "{{ registry_users }}"

- name: Add users once, never reset passwords they may have changed since
  dockyard.registry.htpasswd:
    path: /srv/registry/auth/htpasswd
    update_password: on_create
    users:
      - name: deploy
        password: "{{ lookup('ansible.builtin.password', '/dev/null length=32') }}"
'''

RETURN = r'''
path:
  description: Path of the htpasswd file.
  returned: always
  type: str
  sample: /srv/registry/auth/htpasswd
added:
  description: Names of users added to the file (would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [alice]
removed:
  description: Names of users removed from the file.
  returned: always
  type: list
  elements: str
  sample: [bob]
updated:
  description:
    - Names of existing users whose entry was replaced, because the given password did not
      verify, because the entry was not bcrypt, or because its bcrypt cost was not the wanted one.
  returned: always
  type: list
  elements: str
  sample: [ci, legacy]
rehashed:
  description:
    - The names in RV(updated) whose password was unchanged but whose previous entry was not bcrypt
      or had another bcrypt cost.
  returned: always
  type: list
  elements: str
  sample: [legacy]
'''

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dockyard.registry.plugins.module_utils._bcrypt_dep import (
    BCRYPT_IMPORT_ERROR,
    HAS_BCRYPT,
)
from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import (
    HtpasswdError,
    htpasswd_argument_spec,
    update_htpasswd,
)
from ansible_collections.dockyard.registry.plugins.module_utils._io import (
    read_file,
    write_file_atomic,
)

DEFAULT_CREATE_MODE = 0o640


def main():
    spec = htpasswd_argument_spec().update_argspec(
        cost=dict(type='int', default=10),
        create=dict(type='bool', default=True),
        workers=dict(type='int'),
    )
    module = AnsibleModule(**spec.module_kwargs(add_file_common_args=True, supports_check_mode=True))
    if not HAS_BCRYPT:
        module.fail_json(msg=missing_required_lib('bcrypt'), exception=BCRYPT_IMPORT_ERROR)

    path = module.params['path']
    result = dict(changed=False, path=path, added=[], removed=[], updated=[], rehashed=[])
    try:
        if os.path.isdir(path):
            raise HtpasswdError('path: %r is a directory; give the path of the htpasswd file' % path)
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise HtpasswdError('path: the directory %r of %r does not exist; create it first'
                                % (directory, path))
        try:
            data = read_file(path)
        except (IOError, OSError) as exc:
            raise HtpasswdError('path: cannot read %r: %s' % (path, exc.strerror or exc))
        outcome = update_htpasswd(
            data, module.params['users'],
            exclusive=module.params['exclusive'],
            update_password=module.params['update_password'],
            cost=module.params['cost'],
            workers=module.params['workers'],
            hash_new=not module.check_mode,
        )
        exists = data is not None
        if not exists and not module.params['create']:
            if outcome.added:
                raise HtpasswdError('path: %r does not exist and create=false, so users %s cannot be '
                                    'added' % (path, ', '.join(outcome.added)))
            module.exit_json(**result)
    except HtpasswdError as exc:
        module.fail_json(msg=str(exc), **result)

    for warning in outcome.warnings:
        module.warn(warning)
    changed = outcome.changed or not exists
    if changed and not module.check_mode:
        write_file_atomic(module, path, outcome.content)

    file_args = module.load_file_common_arguments(module.params)
    if not exists and file_args.get('mode') is None:
        file_args['mode'] = DEFAULT_CREATE_MODE
    if exists or not module.check_mode:
        changed = module.set_fs_attributes_if_different(file_args, changed)

    result.update(changed=changed, added=outcome.added, removed=outcome.removed,
                  updated=outcome.updated, rehashed=outcome.rehashed)
    if module._diff:
        result['diff'] = dict(before=outcome.before if exists else '', after=outcome.after,
                              before_header=path, after_header=path)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
