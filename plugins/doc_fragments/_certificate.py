# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Private to this collection: may change at any time.

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.plugin_utils._doc_fragments import options_fragment, options_fragments


class ModuleDocFragment(object):

    # The key and certificate a host must have: module_utils/_certificate.py certificate_argument_spec().
    # Written once; {p} and the #module / #info lines: see plugin_utils/_doc_fragments.py.
    TEMPLATE = r'''
path:
  description:
    - The certificate file (PEM).
    #module - O(owner), O(group), O(certificate_mode) and the SELinux options apply to it.
    #module - Required unless O(mode=sign); not used with O(mode=sign).
  type: path
  #info required: true
privatekey_path:
  description:
    - The private key file (PEM).
    #module - Always mode V(0600), with the O(owner) and O(group) of the certificate.
    #module - Recreated (and then the certificate too) when missing, unreadable (also when encrypted)
    #module   or not of the wanted O(key_type), O(curve) or O(key_size).
    #module - Required unless O(mode=sign); not used with O(mode=sign).
  type: path
  #info required: true
subject_alt_names:
  description:
    - Names and addresses the certificate is valid for. Each entry is V(DNS:name),
      V(IP:address), or a bare value detected as an IP address or a DNS name.
    - DNS names are RFC 1123 labels (letters, digits, inner hyphens, 1 to 63 characters each,
      253 in all, the last label not all digits), optionally prefixed by V(*.); they are
      compared in lower case. IP addresses are IPv4 or IPv6.
    #module - Required for O(mode=self_signed), O(mode=ca) and O(mode=csr); not used with O(mode=ca_root).
    #module - With O(mode=sign), optional; when given, the request must ask for exactly these.
    #info - The certificate must name exactly these.
    - The order does not matter for idempotency.
  type: list
  elements: str
  #info required: true
key_type:
  description:
    - The wanted type of the private key; a key of another type is due for replacement (reason
      V(key_type_changed)).
  type: str
  choices: [ecdsa, rsa]
  default: ecdsa
curve:
  description: Curve of an ECDSA key. Only with O({p}key_type=ecdsa).
  type: str
  choices: [P-256, P-384]
  default: P-256
key_size:
  description:
    - Size in bits of an RSA key; V(3072) when not set. Only with O({p}key_type=rsa).
  type: int
  choices: [2048, 3072, 4096]
renew_before_days:
  description:
    - A certificate that expires within this many days is due for renewal (reason V(expiring)).
    #module - Must be less than O(valid_days).
  type: int
  default: 30
ca_cert_path:
  description:
    - The CA certificate (PEM) of the issuer of the certificate.
    #module - Required with O(mode=ca) and O(mode=sign).
    #module - With O(mode=csr) and O(mode=install), optional; when given, the certificate must have been
    #module   signed by this CA.
    #module - Not allowed with O(mode=self_signed) and O(mode=ca_root).
    #info - The certificate must have been signed by this CA. Without it, the certificate must be self-signed.
  type: path
'''

    # dockyard.registry.certificate (these options at the top level), and dockyard.registry.registry_info (under its certificate option).
    # UI_INFO: registry_info's ui_certificate option (a second key and certificate, judged the same way).
    # One tuple assignment: ansible-test's yamllint reads only string literals assigned to a single name.
    DOCUMENTATION, INFO, UI_INFO = options_fragments(TEMPLATE, option='certificate') + (
        options_fragment(TEMPLATE, 'info', option='ui_certificate'),)
