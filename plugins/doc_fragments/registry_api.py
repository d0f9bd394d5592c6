# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # Where the registry's HTTP API is and how its certificate is verified (module_utils._health's client)
    DOCUMENTATION = r'''
options:
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
      - Host name to send as SNI and to verify the certificate against, instead of the host of O(url).
      - Useful when O(url) uses an IP address that the certificate does not name. Only with V(https) URLs.
    type: str
'''
