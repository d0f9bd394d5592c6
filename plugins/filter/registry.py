# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the registry role uses to validate input before it touches a host.

They reuse the modules' own validation (module_utils), so the role and the modules accept
exactly the same names, users and passwords.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: registry
short_description: Validation helpers of the dockyard.registry.registry role
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(invalid_names) returns one message for each entry of a list that is not a valid DNS name or
    IP address for a certificate.
  - C(user_problems) returns one message for each problem of a list of registry users.
  - C(env_strings) turns the values of a dictionary into the strings a container environment gets,
    with booleans as C(true)/C(false).
options:
  _input:
    description: The list or dictionary to check or convert.
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: Fail on bad names
  ansible.builtin.assert:
    that: (names | dockyard.registry.invalid_names('registry_tls_subject_alt_names')) | length == 0
'''

RETURN = r'''
_value:
  description: A list of messages (empty when all is well), or a dictionary of strings.
  type: raw
'''

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

try:
    from ansible_collections.dockyard.registry.plugins.module_utils._certificate import (
        CertificateError, parse_subject_alt_name)
    from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import (
        HtpasswdError, validate_users)
except ImportError as exc:  # pragma: no cover - reported when a filter is used
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None


def _require_imports():
    if IMPORT_ERROR is not None:
        raise AnsibleFilterError('dockyard.registry filters need the cryptography and bcrypt Python '
                                 'libraries on the controller: %s' % IMPORT_ERROR)


def invalid_names(names, variable='names', indexed=True):
    """One message per entry that is not a DNS name or IP address.

    Messages name ``variable`` (with the index when ``indexed``) and the value.
    """
    _require_imports()
    if not isinstance(names, list):
        return ['%s: must be a list, got %r' % (variable, names)]
    problems = []
    for index, name in enumerate(names):
        try:
            parse_subject_alt_name(name, '%s[%d]' % (variable, index) if indexed else variable)
        except CertificateError as exc:
            problems.append(str(exc).split('; ', maxsplit=1)[0])
    return problems


def user_problems(users, auth_enabled=True, update_password='always', variable='registry_users'):
    """Messages for a users list: never a password, always the user and the variable."""
    _require_imports()
    if not isinstance(users, list):
        return ['%s: must be a list of {name, password, state}' % variable]
    problems = []
    try:
        parsed = validate_users(users)
    except HtpasswdError as exc:
        return [str(exc).replace('users[', variable + '[', 1)]
    for user in parsed:
        if user.state == 'present' and user.password is None and update_password == 'always':
            problems.append('%s[%d] (user %r): a password is required (put it in vault)'
                            % (variable, user.index, user.name))
    if auth_enabled and not any(user.state == 'present' for user in parsed):
        problems.append('%s: authentication is on (registry_auth_enabled) but no user is present; '
                        'add at least one {name: ..., password: ...}' % variable)
    return problems


def env_strings(env):
    """Container environment values as strings; booleans as 'true'/'false' (Joxit compares strings)."""
    if not isinstance(env, dict):
        raise AnsibleFilterError('env_strings: expected a dictionary, got %r' % type(env).__name__)
    result = {}
    for key, value in env.items():
        if isinstance(value, bool):
            value = 'true' if value else 'false'
        elif value is None:
            value = ''
        elif not isinstance(value, string_types):
            value = str(value)
        result[str(key)] = value
    return result


class FilterModule(object):
    def filters(self):
        return {
            'invalid_names': invalid_names,
            'user_problems': user_problems,
            'env_strings': env_strings,
        }
