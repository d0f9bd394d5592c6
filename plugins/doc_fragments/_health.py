# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: may change at any time.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.plugin_utils._doc_fragments import options_fragments


class ModuleDocFragment(object):

    # How to reach the registry as a client: module_utils/_health.py client_argument_spec().
    # Written once; {p} and the #module / #info lines: see plugin_utils/_doc_fragments.py.
    TEMPLATE = r'''
url:
  description:
    - Base URL of the registry, V(https://HOST[:PORT]) or V(http://HOST[:PORT]), without path or credentials.
  type: str
  required: true
ca_path:
  description:
    - PEM file with the CA certificate(s) to verify the registry's certificate against.
    - When not set, the system trust store is used.
  type: path
server_name:
  description:
    - Host name to send as SNI and to verify the certificate against, instead of the host of O({p}url).
    - Useful when O({p}url) uses an IP address that the certificate does not name. Only with V(https) URLs.
  type: str
username:
  description:
    - User for the C(authenticated) check. Without it, that check is skipped.
    #module - Also the user of the C(catalog) and C(round_trip) checks.
  type: str
password:
  description:
    - Password of O({p}username). Never shown, never returned.
  type: str
auth_expected:
  description:
    - Whether the registry must refuse anonymous requests (401 with a Basic challenge).
    - With V(false), anonymous C(GET /v2/) must answer 200.
  type: bool
  default: true
request_timeout:
  description:
    - Seconds to wait for each connection or request.
  type: int
  #module default: 10
  #info default: 5
'''

    # dockyard.registry.registry_health (these options at the top level), and dockyard.registry.registry_info (under its health option).
    DOCUMENTATION, INFO = options_fragments(TEMPLATE, option='health')
