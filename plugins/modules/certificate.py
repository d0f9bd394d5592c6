#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: certificate
short_description: TLS private key and certificate for a registry (self-signed, own CA, or CSR flow)
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - Creates and renews the private key and TLS server certificate a registry serves, a small
    certificate authority (CA) to sign them, and supports a certificate signing request (CSR)
    flow in which the host's private key never leaves the host.
  - Idempotent. A new key and certificate are made only when one is missing or unreadable, key
    and certificate do not match, the subject alternative names or the key type differ, the
    certificate was signed by another CA, or it expires within O(renew_before_days). RV(reason)
    says which reason applied. A change of O(common_name) or O(valid_days) alone does not renew;
    use O(force=true) for that.
  - O(mode) selects the operation. The permissions of the certificate file are therefore set
    with O(certificate_mode), not with the usual file option C(mode); O(owner), O(group) and the
    SELinux options apply to the certificate and to the private key.
  - Private keys are PEM PKCS#8, unencrypted, mode V(0600), written atomically. Server
    certificates carry subjectAltName (Docker rejects certificates without it), extended key
    usage serverAuth, key usage digitalSignature (plus keyEncipherment for RSA), subject and
    authority key identifiers, a random serial number, and start 5 minutes in the past.
  - Keys and certificates are never shown; the diff is a summary (subject alternative names,
    not_after, fingerprint).
extends_documentation_fragment:
  - dockyard.registry._certificate
  - dockyard.registry.attributes
  - dockyard.registry.attributes.files
  - dockyard.registry.attributes.actiongroup_files
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details:
      - In check mode a key that would be created is generated in memory only; RV(csr),
        RV(certificate) and the fingerprint then belong to that throw-away key.
  diff_mode:
    support: full
  idempotent:
    support: full
    details:
      - O(mode=sign) issues a new certificate on every run but never reports a change.
  safe_file_operations:
    support: full
options:
  mode:
    description:
      - V(self_signed) creates the key at O(privatekey_path) and a self-signed server
        certificate at O(path).
      - V(ca) creates the key and a server certificate at O(path) signed by the CA in
        O(ca_cert_path) and O(ca_privatekey_path) (files on the same host).
      - V(ca_root) creates a CA, with the key at O(privatekey_path) and a self-signed CA certificate at O(path)
        (basicConstraints CA:TRUE critical, path length 0, keyUsage keyCertSign and cRLSign).
      - V(csr), on the registry host, ensures the key at O(privatekey_path), checks the certificate
        at O(path) and returns RV(needs_certificate), RV(reason) and, when a certificate is
        needed, RV(csr). Writes only the key. Give O(ca_cert_path) (the CA certificate, never the
        CA key) to check that the certificate was signed by that CA.
      - V(sign), where the CA lives, verifies O(csr_content) and returns the signed server
        certificate as RV(certificate), copying subject alternative names and common name from
        the request. Writes nothing and never reports a change.
      - V(install), on the registry host, writes O(certificate_content) to O(path) after checking
        that it matches the key at O(privatekey_path) and that each certificate of its chain is
        signed by the one after it.
    type: str
    choices: [self_signed, ca, ca_root, csr, sign, install]
    default: self_signed
  certificate_mode:
    description:
      - Permissions of the certificate file at O(path), in the forms the C(mode) option of
        M(ansible.builtin.file) accepts (for example V('0644') or V(u=rw,g=r,o=r)).
      - When not set, a new certificate file gets V(0644) and an existing one keeps its mode.
      - The private key is always V(0600), whatever this says.
    type: raw
  common_name:
    description:
      - Subject common name, 1 to 64 characters.
      - Default for server certificates is the first DNS name of O(subject_alt_names) that fits,
        else the first IP address; V(dockyard registry CA) for O(mode=ca_root).
    type: str
  valid_days:
    description:
      - Validity of a new certificate in days.
      - V(365) when not set, V(3650) for O(mode=ca_root).
    type: int
  ca_privatekey_path:
    description:
      - CA private key (PEM, unencrypted); must match O(ca_cert_path).
      - Required with O(mode=ca) and O(mode=sign); not allowed in any other mode.
    type: path
  csr_content:
    description:
      - Certificate signing request (PEM), usually RV(csr) of an earlier O(mode=csr) task.
      - Required with and only allowed with O(mode=sign).
    type: str
  certificate_content:
    description:
      - Certificate (PEM) to install, leaf first, optionally followed by the chain; usually
        RV(certificate) of an earlier O(mode=sign) task.
      - Each certificate must be signed by the one after it; the signatures are verified (RSA,
        ECDSA and Ed25519). A chain in the wrong order, or with an intermediate that did not
        sign the certificate before it (another CA's intermediate of the same name, for
        example), is refused before anything is written, also in check mode.
      - Required with and only allowed with O(mode=install).
    type: str
  force:
    description:
      - Always create a new key and certificate (O(mode=self_signed), O(mode=ca), O(mode=ca_root)),
        a new key and request (O(mode=csr)), or rewrite the certificate (O(mode=install)).
    type: bool
    default: false
requirements:
  - cryptography >= 3.4 on the managed node (Debian 12 python3-cryptography 38.0.4 works)
notes:
  - The registry loads its key pair once at start; restart it after a renewal (for example
    through a handler notified by this task).
  - Clients trust the CA through C(/etc/docker/certs.d/<host>:<port>/ca.crt); distribute the
    CA certificate (RV(ca_certificate) of O(mode=sign), or the file of O(mode=ca_root)), never a key.
seealso:
  - name: Docker - verify repository client with certificates
    description: Where Docker clients look for a registry's CA certificate.
    link: https://docs.docker.com/engine/security/certificates/
'''

EXAMPLES = r'''
- name: Self-signed certificate for a registry reachable by name and address
  dockyard.registry.certificate:
    path: /srv/registry/certs/registry.crt
    privatekey_path: /srv/registry/certs/registry.key
    subject_alt_names:
      - registry.example.com
      - IP:192.0.2.10

- name: Create the CA once
  dockyard.registry.certificate:
    mode: ca_root
    path: /srv/registry/ca/ca.crt
    privatekey_path: /srv/registry/ca/ca.key

- name: Server certificate signed by that CA (RSA 3072)
  dockyard.registry.certificate:
    mode: ca
    path: /srv/registry/certs/registry.crt
    privatekey_path: /srv/registry/certs/registry.key
    ca_cert_path: /srv/registry/ca/ca.crt
    ca_privatekey_path: /srv/registry/ca/ca.key
    key_type: rsa
    subject_alt_names: [registry.example.com]
  notify: Restart registry

# The CSR flow: the host's key never leaves the host, the CA key never leaves the CA host.
- name: Key and request on the registry host
  dockyard.registry.certificate:
    mode: csr
    path: /srv/registry/certs/registry.crt
    privatekey_path: /srv/registry/certs/registry.key
    ca_cert_path: /srv/registry/certs/ca.crt
    subject_alt_names: ["{{ inventory_hostname }}"]
  register: registry_request

- name: Sign on the CA host
  dockyard.registry.certificate:
    mode: sign
    csr_content: "{{ registry_request.csr }}"
    ca_cert_path: /srv/ca/ca.crt
    ca_privatekey_path: /srv/ca/ca.key
    subject_alt_names: ["{{ inventory_hostname }}"]
  delegate_to: ca.example.com
  when: registry_request.needs_certificate
  register: registry_signed

- name: Install on the registry host
  dockyard.registry.certificate:
    mode: install
    path: /srv/registry/certs/registry.crt
    privatekey_path: /srv/registry/certs/registry.key
    ca_cert_path: /srv/registry/certs/ca.crt
    certificate_content: "{{ registry_signed.certificate }}"
  when: registry_request.needs_certificate
  notify: Restart registry
'''

RETURN = r'''
certificate_path:
  description: O(path).
  returned: when O(mode) is not V(sign)
  type: str
  sample: /srv/registry/certs/registry.crt
privatekey_path:
  description: O(privatekey_path).
  returned: when O(mode) is not V(sign)
  type: str
  sample: /srv/registry/certs/registry.key
fingerprint_sha256:
  description:
    - SHA-256 fingerprint of the certificate (DER), upper-case hex pairs separated by colons,
      as C(openssl x509 -noout -fingerprint -sha256) prints it.
    - With O(mode=csr), of the existing certificate at O(path); with O(mode=sign), of the
      new certificate. V(null) when there is no certificate.
  returned: always
  type: str
  sample: "3B:9A:...:0F"
not_before:
  description: Start of validity, ISO 8601 UTC. V(null) when there is no certificate.
  returned: always
  type: str
  sample: "2025-01-01T11:55:00Z"
not_after:
  description: End of validity, ISO 8601 UTC. V(null) when there is no certificate.
  returned: always
  type: str
  sample: "2026-01-01T12:00:00Z"
subject_alt_names:
  description: Subject alternative names of the certificate, as V(DNS:name) and V(IP:address).
  returned: always
  type: list
  elements: str
  sample: ["DNS:registry.example.com", "IP:192.0.2.10"]
issuer:
  description: Issuer of the certificate, RFC 4514 string.
  returned: always
  type: str
  sample: CN=dockyard registry CA
subject:
  description: Subject of the certificate, RFC 4514 string.
  returned: always
  type: str
  sample: CN=registry.example.com
reason:
  description:
    - Why something was (or, in check mode, would be) created, or V(valid) when nothing was due.
    - V(missing), V(unreadable), V(key_type_changed) and V(forced) may be about the key (checked
      first) or the certificate; V(key_mismatch), V(san_changed), V(issuer_changed) and
      V(expiring) are about the certificate.
    - V(replaced) (only O(mode=install)) means the installed certificate was valid but
      O(certificate_content) differs from it.
  returned: when O(mode) is not V(sign)
  type: str
  choices: [missing, unreadable, key_mismatch, san_changed, key_type_changed, issuer_changed,
            expiring, forced, replaced, valid]
  sample: valid
ca_fingerprint_sha256:
  description: SHA-256 fingerprint of the CA certificate (same format as RV(fingerprint_sha256)).
  returned: when a CA is involved (O(ca_cert_path) given, or O(mode=ca_root))
  type: str
  sample: "A1:07:...:9C"
needs_certificate:
  description: Whether a new certificate must be signed and installed.
  returned: when O(mode=csr)
  type: bool
  sample: true
csr:
  description: PEM certificate signing request for the key, with O(subject_alt_names) and O(common_name).
  returned: when O(mode=csr) and RV(needs_certificate) is true
  type: str
  sample: "-----BEGIN CERTIFICATE REQUEST-----\n...\n-----END CERTIFICATE REQUEST-----\n"
certificate:
  description: PEM of the signed server certificate.
  returned: when O(mode=sign)
  type: str
  sample: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
ca_certificate:
  description: PEM of the CA certificate that signed RV(certificate), for the clients' trust stores.
  returned: when O(mode=sign)
  type: str
  sample: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n"
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.dockyard.registry.plugins.module_utils._cryptography_dep import assert_cryptography
from ansible_collections.dockyard.registry.plugins.module_utils._io import read_file, write_file_atomic
from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as cert_utils
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import CertificateError, Source

# Options that only make sense in some modes; anywhere else they are an error, not ignored.
ALLOWED_IN = {
    'csr_content': ('sign',),
    'certificate_content': ('install',),
    'ca_privatekey_path': ('ca', 'sign'),  # the CA key never has business on a registry host
    'ca_cert_path': ('ca', 'sign', 'csr', 'install'),
}
HOST_MODES = ('self_signed', 'ca', 'ca_root', 'csr', 'install')


def _source(option, path):
    try:
        return Source(path, read_file(path))
    except (IOError, OSError) as exc:
        raise CertificateError('%s=%r: cannot be read: %s' % (option, path, exc.strerror or exc))


def _check_paths(params):
    """Before anything is generated or written: the target directories exist."""
    mode = params['mode']
    options = ['privatekey_path'] if mode == 'csr' else ['path', 'privatekey_path']
    for option in options:
        path = params[option]
        if os.path.isdir(path):
            raise CertificateError('%s=%r: is a directory; give a file path' % (option, path))
        if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise CertificateError('%s=%r: the directory does not exist' % (option, path))
    if os.path.abspath(params['path']) == os.path.abspath(params['privatekey_path']):
        raise CertificateError('privatekey_path=%r: must differ from path' % params['privatekey_path'])


def _plan(module, now):
    params = module.params
    mode = params['mode']
    for option, modes in ALLOWED_IN.items():
        if params[option] is not None and mode not in modes:
            raise CertificateError('%s: not allowed with mode=%s (only with mode=%s)'
                                   % (option, mode, ', mode='.join(modes)))
    if mode in HOST_MODES:
        _check_paths(params)
    valid_days = params['valid_days']
    if valid_days is None:
        valid_days = 3650 if mode == 'ca_root' else 365
    renew = params['renew_before_days']
    force = params['force']
    ca_cert = _source('ca_cert_path', params['ca_cert_path']) if params['ca_cert_path'] else None
    ca_key = _source('ca_privatekey_path', params['ca_privatekey_path']) if params['ca_privatekey_path'] else None

    if mode == 'sign':
        sans = params['subject_alt_names']
        if sans is not None:
            sans = cert_utils.parse_subject_alt_names(sans)
        return cert_utils.plan_sign(params['csr_content'], ca_cert, ca_key, valid_days, now, sans=sans)

    key = _source('privatekey_path', params['privatekey_path'])
    cert = _source('path', params['path'])
    if mode == 'install':
        return cert_utils.plan_install(key, cert, params['certificate_content'], now, renew, force=force,
                                       ca_cert_src=ca_cert, key_may_be_planned=module.check_mode)
    spec = cert_utils.key_spec(params['key_type'], params['curve'], params['key_size'])
    if mode == 'ca_root':
        common_name = cert_utils.validate_common_name(params['common_name'] or 'dockyard registry CA')
        if params['subject_alt_names']:
            raise CertificateError('subject_alt_names: not used with mode=ca_root')
        return cert_utils.plan_ca_root(key, cert, common_name, spec, valid_days, renew, now, force=force)

    sans = cert_utils.parse_subject_alt_names(params['subject_alt_names'])
    common_name = cert_utils.validate_common_name(params['common_name'] or cert_utils.default_common_name(sans))
    if mode == 'csr':
        return cert_utils.plan_csr(key, cert, sans, common_name, spec, renew, now, force=force, ca_cert_src=ca_cert)
    return cert_utils.plan_server(key, cert, sans, common_name, spec, valid_days, renew, now, force=force,
                                  ca_cert_src=ca_cert, ca_key_src=ca_key)


def _apply(module, plan):
    """Write what the plan says (not in check mode) and enforce file attributes."""
    params = module.params
    changed = plan.changed
    key_path, cert_path = params['privatekey_path'], params['path']
    cert_mode = params['certificate_mode']
    if cert_mode is None and not os.path.exists(cert_path):
        cert_mode = '0644'  # public data; write_file_atomic creates files 0600
    if not module.check_mode:
        if plan.key_pem is not None:
            if os.path.exists(key_path):
                # atomic_move copies the old file's mode to the new one: close it first.
                os.chmod(key_path, 0o600)
            write_file_atomic(module, key_path, plan.key_pem, mode=0o600)
        if plan.cert_pem is not None:
            write_file_atomic(module, cert_path, plan.cert_pem)
    # O(mode) is the operation here: the file permissions come from O(certificate_mode).
    cert_args = module.load_file_common_arguments(dict(params, mode=cert_mode), path=cert_path)
    key_args = dict(cert_args, path=key_path, mode='0600')
    for args in (key_args, cert_args):
        if os.path.exists(args['path']):
            changed = module.set_fs_attributes_if_different(args, changed)
    return changed


def main():
    spec = cert_utils.certificate_argument_spec().update_argspec(
        mode=dict(type='str', default='self_signed', choices=['self_signed', 'ca', 'ca_root', 'csr', 'sign', 'install']),
        common_name=dict(type='str'),
        valid_days=dict(type='int'),
        ca_privatekey_path=dict(type='path'),
        csr_content=dict(type='str'),
        certificate_content=dict(type='str'),
        force=dict(type='bool', default=False),
        certificate_mode=dict(type='raw'),
    ).update(required_if=[
        ('mode', 'self_signed', ('path', 'privatekey_path', 'subject_alt_names')),
        ('mode', 'ca', ('path', 'privatekey_path', 'subject_alt_names', 'ca_cert_path', 'ca_privatekey_path')),
        ('mode', 'ca_root', ('path', 'privatekey_path')),
        ('mode', 'csr', ('path', 'privatekey_path', 'subject_alt_names')),
        ('mode', 'sign', ('csr_content', 'ca_cert_path', 'ca_privatekey_path')),
        ('mode', 'install', ('path', 'privatekey_path', 'certificate_content')),
    ])
    module = AnsibleModule(**spec.module_kwargs(add_file_common_args=True, supports_check_mode=True))
    assert_cryptography(module)
    if module.params['key_type'] == 'rsa' and module.params['curve'] != 'P-256':
        module.fail_json(msg='curve=%r: only used with key_type=ecdsa' % module.params['curve'])

    now = datetime.datetime.now(datetime.timezone.utc)
    try:
        plan = _plan(module, now)
    except CertificateError as exc:
        module.fail_json(msg=str(exc))

    for warning in plan.warnings:
        module.warn(warning)
    result = plan.result()
    if module.params['mode'] == 'sign':
        changed = False
    else:
        result.update(certificate_path=module.params['path'], privatekey_path=module.params['privatekey_path'])
        changed = _apply(module, plan)
        if module._diff:
            result['diff'] = plan.diff()
    module.exit_json(changed=changed, **result)


if __name__ == '__main__':
    main()
