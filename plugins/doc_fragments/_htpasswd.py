# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: may change at any time.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.plugin_utils._doc_fragments import options_fragments


class ModuleDocFragment(object):

    # Which users an htpasswd file must hold: module_utils/_htpasswd.py htpasswd_argument_spec().
    # Written once; {p} and the #module / #info lines: see plugin_utils/_doc_fragments.py.
    TEMPLATE = r'''
path:
  description:
    - Path of the htpasswd file.
    #module - Its directory must exist.
  type: path
  required: true
users:
  description:
    - The users to manage. Users in the file that are not listed are left alone unless
      O({p}exclusive=true).
  type: list
  elements: dict
  default: []
  suboptions:
    name:
      description:
        - User name. Must be non-empty and must not contain V(:), whitespace or control
          characters, nor start with V(#). Each name may be listed once.
      type: str
      required: true
    password:
      description:
        - Password in clear text, at most 72 bytes in UTF-8 (bcrypt uses no more), without
          NUL characters. Never shown, never returned.
        - Required for O({p}users[].state=present), except for a user that is already in the file
          when O({p}update_password=on_create).
        - Ignored for O({p}users[].state=absent).
      type: str
    state:
      description:
        - Whether the user must be in the file (V(present)) or not (V(absent)).
      type: str
      choices: [present, absent]
      default: present
    cost:
      description:
        - bcrypt cost of this user's entry, from V(4) to V(31); without it, O({p}cost) applies.
        - For machine accounts (CI, deploy bots) that send many requests with a long generated
          password, a low cost (V(4) or V(5)) keeps the registry fast and loses nothing, since
          the password's entropy, not bcrypt's work factor, is what protects it. Give human-chosen
          passwords a higher cost.
      type: int
exclusive:
  description:
    - Remove every user of the file that is not listed in O({p}users).
  type: bool
  default: false
#info cost:
#info   description:
#info     - As O(dockyard.registry.htpasswd#module:cost). An entry whose password verifies but whose
#info       bcrypt cost differs from the wanted one would be re-hashed, so it is reported in RV(htpasswd.updated).
#info     - Without it, the cost of the entries of users without a O(htpasswd.users[].cost) is not judged.
#info   type: int
update_password:
  description:
    - V(always) sets the password of an existing user when the given password does not
      verify against the stored hash.
    - V(on_create) sets passwords of new users only; existing bcrypt entries are kept as
      they are, and no password is needed for them. Entries that are not bcrypt are still
      re-hashed when their password is given.
  type: str
  choices: [always, on_create]
  default: always
'''

    # dockyard.registry.htpasswd (these options at the top level), and dockyard.registry.registry_info (under its htpasswd option).
    DOCUMENTATION, INFO = options_fragments(TEMPLATE, option='htpasswd')
