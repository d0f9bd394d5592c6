# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The registry role's decisions, as one plan computed on the controller.

``build_plan(variables)`` takes the role's variables (``registry_*``, as the play sees them) and
returns everything the role's YAML tasks carry out:

- ``problems``: every problem with the variables (empty when they are valid), each naming the
  variable, the value (never a secret) and what is allowed;
- ``directories`` and ``layout``: the directories and files the role writes, with their modes and
  owners (the single source for the apply tasks and for the read-only look at the host);
- ``files``: the generated files (config.yml, docker-compose.yml, the UI's tls.conf) as content,
  with their sha256; ``config`` and ``compose`` as data;
- ``look``: the options of the one read-only look at the host (dockyard.registry.registry_info);
- with ``info`` (that look's result): ``drift``, what differs between the host and the plan.

Each TLS mode, UI mode and storage driver is one entry of a table below (``TLS_MODES``,
``UI_MODES``, ``STORAGE_DRIVERS``): what it needs, what it writes, how the look judges it and what
clients trust. A mode that is not in its table is an error, never a fallback.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import copy
import hashlib
import ipaddress
import json
import os
import re

import yaml

from ansible.module_utils.six import string_types

from ansible_collections.dockyard.registry.plugins.module_utils._docker_daemon import redact_url, registry_url_problem
from ansible_collections.dockyard.registry.plugins.plugin_utils._storage_reach import probe_argv
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_drift import (
    DEFINITION_LABEL, certificate_drift, registry_drift, stamp_definitions)

try:
    from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as cert_utils
    from ansible_collections.dockyard.registry.plugins.module_utils._certificate import CertificateError
    from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import (
        HtpasswdError, MAX_COST, MIN_COST, validate_users)
except ImportError as exc:  # pragma: no cover - reported by the filter that needs them
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

MANAGED = '# Managed by Ansible (dockyard.registry.registry): local changes are overwritten.\n'
CERT_MOUNT = '/certs'
DATA_MOUNT = '/var/lib/registry'
DEBUG_ADDR = '127.0.0.1:5001'
HEALTHCHECK = ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://%s/debug/health' % DEBUG_ADDR]
LOOPBACK_NAMES = ['localhost', '127.0.0.1']
# Where each major version reads its configuration: a config mounted elsewhere is silently ignored.
CONFIG_MOUNTS = {2: '/etc/docker/registry', 3: '/etc/distribution'}
SUPPORTED_MAJORS = (2, 3)

# Directories under registry_base_dir (key, relative path, mode).
DIRECTORIES = (
    ('base', '', '0755'),
    ('config', 'config', '0755'),
    ('certs', 'certs', '0755'),
    ('auth', 'auth', '0750'),
    ('data', 'data', '0750'),
    ('secrets', 'secrets', '0700'),
    ('ui', 'ui', '0755'),
)

# Keys of distribution's `storage` section that are not drivers (configuration.Storage.Type()).
STORAGE_PARAMETERS = ('delete', 'maintenance', 'cache', 'redirect', 'tag')

# The UI's HTTPS server in front of its own (port 80 inside the container, never published).
# Mozilla's "intermediate" TLS profile (ssl-config.mozilla.org, nginx): TLS 1.2 and 1.3, AEAD ECDHE
# suites only, curves X25519, P-256 and P-384.
MOZILLA_INTERMEDIATE_CIPHERS = ('ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:'
                                'ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305')
MOZILLA_INTERMEDIATE_CURVES = 'X25519:prime256v1:secp384r1'
# The same suites by Go's names, for the registry's http.tls.ciphersuites (TLS 1.2; Go's TLS 1.3
# suites are fixed and all in the profile). Go offers P-521 too and distribution cannot restrict
# curves: the one known deviation from the profile (docs/SECURITY.md).
REGISTRY_CIPHER_SUITES = [
    'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
    'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
    'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
]
HSTS = 'max-age=63072000'

UI_TLS_CONF = MANAGED + '''# HTTPS in front of the UI's own server (on 127.0.0.1:80 inside the container, never published):
# the browser's credentials never cross the network in clear.
server {
    listen 443 ssl;
    ssl_certificate /etc/nginx/certs/ui.crt;
    ssl_certificate_key /etc/nginx/certs/ui.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers %(ciphers)s;
    ssl_ecdh_curve %(curves)s;
    ssl_prefer_server_ciphers off;
    ssl_session_timeout 1d;
    ssl_session_cache shared:DockyardTLS:10m;
    ssl_session_tickets off;
    server_tokens off;
    client_max_body_size 0;

    add_header Strict-Transport-Security "%(hsts)s" always;
    add_header X-Frame-Options "DENY" always;
    add_header Content-Security-Policy "frame-ancestors 'none'" always;
    add_header X-Content-Type-Options "nosniff" always;
    add_header Referrer-Policy "no-referrer" always;

    location / {
        proxy_pass http://127.0.0.1:80;
        proxy_http_version 1.1;
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-Proto https;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_hide_header X-Frame-Options;
        proxy_hide_header X-Content-Type-Options;
        proxy_request_buffering off;
        proxy_buffering off;
        proxy_read_timeout 900s;
        chunked_transfer_encoding on;
    }
}
''' % {'ciphers': MOZILLA_INTERMEDIATE_CIPHERS, 'curves': MOZILLA_INTERMEDIATE_CURVES, 'hsts': HSTS}

CORS_HEADERS = (
    ('Access-Control-Allow-Credentials', ['true']),
    ('Access-Control-Allow-Headers', ['Authorization', 'Accept', 'Cache-Control']),
    ('Access-Control-Allow-Methods', ['HEAD', 'GET', 'OPTIONS', 'DELETE']),
    ('Access-Control-Expose-Headers', ['Docker-Content-Digest']),
)

_DURATION_RE = re.compile(r'^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$')
_PROJECT_RE = re.compile(r'^[a-z0-9][a-z0-9_-]*$')
_HTTP_SECRET_MIN = 16


class PlanError(Exception):
    """The variables cannot be planned at all (an internal contract broken, not bad user input)."""


def sha256_text(text):
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def to_yaml(data):
    """YAML as the role writes it: block style, sorted keys, two-space indent (as to_nice_yaml)."""
    return yaml.safe_dump(data, default_flow_style=False, indent=2, sort_keys=True, allow_unicode=True, width=1000)


def deep_merge(base, override):
    """``override`` merged into a copy of ``base``; dictionaries merge, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def env_strings(env):
    """Container environment values as strings; booleans as 'true'/'false' (Joxit compares strings)."""
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


def publish_address(address):
    """Docker wants IPv6 addresses in brackets in a port mapping."""
    return '[%s]' % address if ':' in address else address


def local_address(bind_address):
    """How the host itself reaches what it publishes on ``bind_address``."""
    if bind_address in ('0.0.0.0', ''):
        return '127.0.0.1'
    if bind_address == '::':
        return '[::1]'
    return publish_address(bind_address)


def is_loopback(address):
    return bool(re.match(r'^(127\.|::1$|localhost$)', address))


def is_wildcard(address):
    return address in ('0.0.0.0', '::', '')


# ------------------------------------------------------------------------------------------------
# The role's variables, read once, with the types argument_specs already checked.

def plain(value):
    """``value`` as plain Python types (Ansible hands over tagged str/dict/list subclasses)."""
    if isinstance(value, dict):
        return dict((str(key), plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


class Variables(object):
    """The role's variables; ``problem()`` collects messages instead of raising."""

    def __init__(self, variables):
        if not isinstance(variables, dict):
            raise PlanError('registry_plan: expected a dictionary of the role variables, got %s'
                            % type(variables).__name__)
        self.raw = plain(variables)
        self.problems = []

    def __getitem__(self, name):
        try:
            return self.raw[name]
        except KeyError:
            raise PlanError('registry_plan: the role variable %s is not defined' % name)

    def get(self, name, default=None):
        return self.raw.get(name, default)

    def text(self, name):
        value = self[name]
        return '' if value is None else str(value)

    def flag(self, name):
        value = self[name]
        if isinstance(value, string_types):
            return value.strip().lower() in ('1', 'true', 'yes', 'on', 'y', 't')
        return bool(value)

    def integer(self, name, low=None, high=None, allowed=None):
        """The value as an int, or None after recording a problem."""
        value = self[name]
        try:
            if isinstance(value, bool):
                raise ValueError()
            number = int(str(value).strip())
        except (TypeError, ValueError):
            number = None
        if number is None or (low is not None and number < low) or (high is not None and number > high):
            self.problem('%s: %r is not allowed; %s.' % (
                name, value, allowed or 'an integer from %s to %s' % (low, high)))
            return None
        return number

    def problem(self, message):
        self.problems.append(message)


# ------------------------------------------------------------------------------------------------
# TLS modes. Each entry says what it needs from the variables, which files it writes, how the
# look at the host judges it, and what clients trust (certs/ca.crt).

class TlsMode(object):
    name = None
    tasks = None
    # Whether registry_info's certificate verdict (key, SANs, expiry, issuer) counts as drift.
    judged_by_look = True
    # Whether registry_tls_loopback_names may add localhost and 127.0.0.1 to the certificate.
    loopback_names = True

    def validate(self, v, ctx):
        """Problems with this mode's variables (appended to v.problems)."""

    def files(self, v, ctx):
        """Layout entries of certs/ (paths from ctx.paths)."""
        raise NotImplementedError

    def checksums(self, v, ctx):
        """{path: sha256} of files whose content the controller knows."""
        return {}

    def has_ca(self, v):
        """Whether certs/ca.crt exists for clients to trust."""
        return True

    def names_localhost(self, v):
        """Whether the certificate names localhost (the role's checks can then verify it)."""
        return v.flag('registry_tls_loopback_names')

    def look(self, v, ctx):
        """The certificate option of registry_info (None: nothing to judge there)."""
        options = {'path': ctx.paths['cert'], 'privatekey_path': ctx.paths['key'],
                   'subject_alt_names': ctx.sans, 'key_type': v.text('registry_tls_key_type'),
                   'renew_before_days': ctx.renew_before_days}
        if options['key_type'] == 'ecdsa':
            options['curve'] = v.text('registry_tls_curve')
        else:
            options['key_size'] = ctx.key_size
        return options

    # The UI's own key and certificate (ui-certs/, mounted into the UI alone; docs/SECURITY.md):
    # what each mode writes there, how the look judges it and what verifies it.
    @property
    def ui_tasks(self):
        return 'tls_ui_%s.yml' % self.name

    def ui_files(self, v, ctx):
        """Layout entries of ui-certs/ (the directory first)."""
        return [ui_certs_directory(ctx),
                {'path': ctx.paths['ui_cert'], 'state': 'file', 'mode': '0644', 'owner': 'root', 'group': 'root',
                 'checksum': True},
                {'path': ctx.paths['ui_key'], 'state': 'file', 'mode': '0600', 'owner': 'root', 'group': 'root'}]

    def ui_checksums(self, v, ctx):
        return {}

    def ui_look(self, v, ctx):
        """registry_info's ui_certificate option: the registry's verdict, on the UI's files."""
        options = self.look(v, ctx)
        if options is not None:
            options.update(path=ctx.paths['ui_cert'], privatekey_path=ctx.paths['ui_key'])
        return options

    def ui_trust(self, v, ctx):
        """The file on the host that verifies the UI's certificate ('' for the system's trust)."""
        return ctx.paths['ca'] if self.has_ca(v) else ''

    def ui_shares_key(self, v):
        """Whether the UI's key is a copy of the registry's (the cases docs/SECURITY.md names)."""
        return False

    def ui_sources(self, v):
        """The controller files the UI's pair is installed from (provided mode), else ('', '')."""
        return '', ''

    def ca_bundle(self, v, ctx):
        """The host files certs/ca.crt is made of (self_signed mode), else []."""
        return []


class SelfSignedTls(TlsMode):
    name = 'self_signed'
    tasks = 'tls_self_signed.yml'

    def files(self, v, ctx):
        ca = {'path': ctx.paths['ca'], 'state': 'file', 'mode': '0644', 'owner': 'root', 'group': 'root',
              'checksum': True}
        if self.ca_bundle(v, ctx) == [ctx.paths['cert']]:
            # With the UI's certificate in it too, its content is only known on the host (rewritten on each apply).
            ca['same_as'] = ctx.paths['cert']
        return [
            {'path': ctx.paths['cert'], 'state': 'file', 'checksum': True},
            {'path': ctx.paths['key'], 'state': 'file', 'mode': '0600'},
            ca,
        ]

    def ca_bundle(self, v, ctx):
        """What certs/ca.crt holds: the self-signed certificates clients trust (the registry's, and the
        UI's own when it serves HTTPS: one file for both, "same trust")."""
        return [ctx.paths['cert']] + ([ctx.paths['ui_cert']] if ui_serves_tls(v) else [])


class CaTls(TlsMode):
    name = 'ca'
    tasks = 'tls_ca.yml'

    def validate(self, v, ctx):
        cert, key = v.text('registry_tls_ca_cert'), v.text('registry_tls_ca_key')
        if cert and key and (v.flag('registry_tls_ca_create') or (ctx.is_file(cert) and ctx.is_file(key))):
            return
        v.problem("registry_tls_mode 'ca' needs registry_tls_ca_cert and registry_tls_ca_key, files on the"
                  " controller (got registry_tls_ca_cert: '%s', registry_tls_ca_key: '%s'); set"
                  " registry_tls_ca_create: true to create the CA there." % (cert, key))

    def files(self, v, ctx):
        return [
            {'path': ctx.paths['cert'], 'state': 'file', 'checksum': True},
            {'path': ctx.paths['key'], 'state': 'file', 'mode': '0600'},
            {'path': ctx.paths['ca'], 'state': 'file', 'mode': '0644', 'owner': 'root', 'group': 'root',
             'checksum': True},
        ]

    def checksums(self, v, ctx):
        ca = ctx.controller_sha256(v.text('registry_tls_ca_cert'))
        return {ctx.paths['ca']: ca} if ca else {}

    def look(self, v, ctx):
        options = TlsMode.look(self, v, ctx)
        options['ca_cert_path'] = ctx.paths['ca']
        return options


class ProvidedTls(TlsMode):
    name = 'provided'
    tasks = 'tls_provided.yml'
    # The files are the user's: the look compares their content with the controller's copies.
    judged_by_look = False

    def validate(self, v, ctx):
        if not provided_pair_problems(v, ctx, 'registry_tls_certificate', 'registry_tls_private_key'):
            return
        ca = v.text('registry_tls_provided_ca')
        if ca and not ctx.is_file(ca):
            v.problem("registry_tls_provided_ca: '%s' is not a readable file on the controller; give the CA"
                      " certificate clients trust, or leave it empty for the system trust." % ca)

    def ui_sources(self, v):
        """The controller files the UI's pair comes from: its own, else the registry's."""
        if v.text('registry_ui_tls_certificate'):
            return v.text('registry_ui_tls_certificate'), v.text('registry_ui_tls_private_key')
        return v.text('registry_tls_certificate'), v.text('registry_tls_private_key')

    def ui_files(self, v, ctx):
        entries = TlsMode.ui_files(self, v, ctx)
        entries[2]['sha256'] = ctx.controller_sha256(self.ui_sources(v)[1])
        return entries

    def ui_checksums(self, v, ctx):
        cert = ctx.controller_sha256(self.ui_sources(v)[0])
        return {ctx.paths['ui_cert']: cert} if cert else {}

    def ui_shares_key(self, v):
        return not v.text('registry_ui_tls_certificate')

    def files(self, v, ctx):
        entries = [
            {'path': ctx.paths['cert'], 'state': 'file', 'mode': '0644', 'owner': 'root', 'group': 'root',
             'checksum': True},
            {'path': ctx.paths['key'], 'state': 'file', 'mode': '0600', 'owner': 'root', 'group': 'root',
             'sha256': ctx.controller_sha256(v.text('registry_tls_private_key'))},
        ]
        if self.has_ca(v):
            entries.append({'path': ctx.paths['ca'], 'state': 'file', 'mode': '0644', 'owner': 'root',
                            'group': 'root', 'checksum': True})
        return entries

    def checksums(self, v, ctx):
        sums = {ctx.paths['cert']: ctx.controller_sha256(v.text('registry_tls_certificate'))}
        if self.has_ca(v):
            sums[ctx.paths['ca']] = ctx.controller_sha256(v.text('registry_tls_provided_ca'))
        return dict((path, value) for path, value in sums.items() if value)

    def has_ca(self, v):
        return bool(v.text('registry_tls_provided_ca'))

    def names_localhost(self, v):
        # A provided certificate need not name localhost: the role's checks cannot rely on it.
        return False

    def look(self, v, ctx):
        return None


def provided_pair_problems(v, ctx, cert_name, key_name):
    """Problems with a provided certificate chain and key (files on the controller): readable, in
    order, going together, naming every name clients use. True when the pair is readable (its
    checks ran)."""
    cert, key = v.text(cert_name), v.text(key_name)
    if not (ctx.is_file(cert) and ctx.is_file(key)):
        v.problem("registry_tls_mode 'provided' needs %s and %s, readable files on the controller (got '%s' and"
                  " '%s')." % (cert_name, key_name, cert, key))
        return False
    if IMPORT_ERROR is not None:
        return True
    try:
        sans = provided_certificate_sans(ctx.read(cert), ctx.read(key), key)
    except CertificateError as exc:
        v.problem("%s '%s' and %s '%s': they do not go together: %s. Provide a certificate for this key whose"
                  " subjectAltName lists every name clients use." % (cert_name, cert, key_name, key, exc))
        return True
    names = [name.split(':', 1)[-1].lower() for name in sans]
    wanted = [v.text('registry_server_name')] + [str(name) for name in v['registry_tls_subject_alt_names']]
    missing = [name for name in wanted
               if name.lower() not in names and ('*.' + name.lower().split('.', 1)[-1]) not in names]
    if missing:
        v.problem("%s '%s' and %s '%s': the certificate does not cover %s (registry_server_name,"
                  " registry_tls_subject_alt_names); it names %s. Provide a certificate for this key whose"
                  " subjectAltName lists every name clients use."
                  % (cert_name, cert, key_name, key, ', '.join(missing), ', '.join(sans)))
    return True


def provided_certificate_sans(cert_data, key_data, key_path):
    """The subjectAltNames of a provided chain, after the certificate module's own install checks
    (readable chain in order, matching key); CertificateError otherwise."""
    import datetime
    plan = cert_utils.plan_install(cert_utils.Source(key_path, key_data), cert_utils.Source('', None), cert_data,
                                   datetime.datetime.now(datetime.timezone.utc), 0)
    return cert_utils.certificate_sans(plan.cert)


class AcmeTls(TlsMode):
    """A certificate from an ACME CA (Let's Encrypt, ZeroSSL, step-ca, ...) by HTTP-01.

    The host key and the CSR are made on the host (the certificate module's csr mode); the ACME
    exchange runs on the host too (community.crypto's acme_account and acme_certificate), with the
    account key in secrets/ (0600): the host serves the challenge and writes the certificate, so
    the key that speaks for its account never crosses the network, and each host has its own.
    The look judges the certificate without contacting the CA (key, names, expiry, issuer =
    certs/acme-issuer.crt, the intermediate that signed it): an unchanged host makes no request.
    """
    name = 'acme'
    tasks = 'tls_acme.yml'
    # The CA validates the names over HTTP: localhost and 127.0.0.1 are never asked for.
    loopback_names = False

    def validate(self, v, ctx):
        directory = v.text('registry_tls_acme_directory')
        if not re.match(r'^https://[^/\s]+(/\S*)?$', directory):
            v.problem("registry_tls_acme_directory: '%s' is not allowed; registry_tls_mode 'acme' needs the https URL"
                      " of the ACME directory (e.g. https://acme-v02.api.letsencrypt.org/directory)." % directory)
        email = v.text('registry_tls_acme_email')
        if email and not re.match(r'^[^@\s:]+@[^@\s]+\.[^@\s]+$', email):
            v.problem("registry_tls_acme_email: '%s' is not an email address; allowed: an address such as"
                      " admin@example.com for the CA's expiry notices, or empty." % email)
        ca = v.text('registry_tls_acme_ca_cert')
        if ca and not ctx.is_file(ca):
            v.problem("registry_tls_acme_ca_cert: '%s' is not a readable file on the controller; give the root"
                      " certificate of a private ACME CA (trusted for its directory and by clients), or leave it"
                      " empty for a publicly trusted CA." % ca)
        port = v.integer('registry_tls_acme_challenge_port', 1, 65535, 'a port must be an integer from 1 to 65535')
        if port is not None:
            for name in ('registry_port', 'registry_ui_port'):
                if name == 'registry_ui_port' and not v.flag('registry_ui_enabled'):
                    continue
                if str(v[name]) == str(port):
                    v.problem('registry_tls_acme_challenge_port: %s clashes with %s: %s; the HTTP-01 challenge is'
                              ' served on its own port (80 unless a load balancer forwards another).'
                              % (port, name, v[name]))
        kid, hmac = v.text('registry_tls_acme_eab_kid'), v.text('registry_tls_acme_eab_hmac_key')
        if bool(kid) != bool(hmac):
            # Never the HMAC key: it is a secret.
            v.problem('registry_tls_acme_eab_kid and registry_tls_acme_eab_hmac_key: External Account Binding needs'
                      ' both (got %s and %s).' % ("kid '%s'" % kid if kid else 'no kid',
                                                  'an HMAC key' if hmac else 'no HMAC key'))
        elif hmac and not re.match(r'^[A-Za-z0-9_=-]+$', hmac):
            v.problem('registry_tls_acme_eab_hmac_key: the value given (%d characters) is not base64url; allowed:'
                      ' the HMAC key exactly as the CA shows it.' % len(hmac))
        wildcards = [name for name in ctx.sans if name.startswith('*.')]
        if wildcards:
            v.problem('registry_tls_subject_alt_names: %s cannot be validated by HTTP-01 (registry_tls_mode acme);'
                      ' allowed: DNS names and IP addresses without wildcards.' % ', '.join(wildcards))

    def files(self, v, ctx):
        entries = [
            {'path': ctx.paths['cert'], 'state': 'file', 'mode': '0644', 'owner': 'root', 'group': 'root',
             'checksum': True},
            {'path': ctx.paths['key'], 'state': 'file', 'mode': '0600'},
            {'path': ctx.paths['acme_issuer'], 'state': 'file', 'mode': '0644', 'owner': 'root', 'group': 'root'},
            {'path': ctx.paths['acme_account_key'], 'state': 'file', 'mode': '0600', 'owner': 'root',
             'group': 'root'},
        ]
        if self.has_ca(v):
            entries.append({'path': ctx.paths['ca'], 'state': 'file', 'mode': '0644', 'owner': 'root',
                            'group': 'root', 'checksum': True})
        else:
            # A publicly trusted CA: clients need nothing, and an old ca.crt must not stay trusted.
            entries.append({'path': ctx.paths['ca'], 'state': 'absent'})
        return entries

    def checksums(self, v, ctx):
        ca = ctx.controller_sha256(v.text('registry_tls_acme_ca_cert')) if self.has_ca(v) else ''
        return {ctx.paths['ca']: ca} if ca else {}

    def has_ca(self, v):
        return bool(v.text('registry_tls_acme_ca_cert'))

    def names_localhost(self, v):
        return v.text('registry_server_name') == 'localhost' or 'localhost' in [
            str(name) for name in (v['registry_tls_subject_alt_names'] or [])]

    def look(self, v, ctx):
        options = TlsMode.look(self, v, ctx)
        options['ca_cert_path'] = ctx.paths['acme_issuer']
        return options

    # The UI serves a copy of the registry's ACME certificate and key (one order per name set and
    # renewal; docs/SECURITY.md): ui.crt is compared with the registry's, the key by the look.
    def ui_files(self, v, ctx):
        entries = TlsMode.ui_files(self, v, ctx)
        entries[1]['same_as'] = ctx.paths['cert']
        return entries

    def ui_shares_key(self, v):
        return True


TLS_MODES = dict((mode.name, mode) for mode in (SelfSignedTls(), CaTls(), ProvidedTls(), AcmeTls()))


# ------------------------------------------------------------------------------------------------
# UI modes: how the browser reaches the registry through (or beside) the Joxit UI.

class UiMode(object):
    name = None
    # The UI's nginx signs every request in as registry_ui_proxy_user (secrets/ui.env).
    forwards_credentials = False

    def environment(self, v):
        return {}

    def registry_headers(self, v):
        """Extra http.headers of the registry."""
        return {}

    def validate(self, v):
        pass


class ProxyUi(UiMode):
    name = 'proxy'

    def environment(self, v):
        return {'NGINX_PROXY_PASS_URL': 'https://registry:5000', 'NGINX_RESOLVER': '127.0.0.11'}


class ForwardCredentialsUi(ProxyUi):
    name = 'forward_credentials'
    forwards_credentials = True

    def validate(self, v):
        user = v['registry_ui_proxy_user'] or {}
        if not isinstance(user, dict):
            user = {}
        name, password = user.get('name') or '', user.get('password') or ''
        if name and password:
            return
        v.problem("registry_ui_proxy_user: registry_ui_mode 'forward_credentials' needs a dedicated account"
                  " {name: ..., password: ...} (the password from vault); got %s and %s."
                  % ('name ' + str(name) if name else 'no name', 'a password' if password else 'no password'))


class CrossOriginUi(UiMode):
    name = 'cross_origin'

    def environment(self, v):
        return {'REGISTRY_URL': v.text('registry_ui_registry_url')}

    def registry_headers(self, v):
        headers = {'Access-Control-Allow-Origin': [v.text('registry_ui_origin')]}
        headers.update((name, list(value)) for name, value in CORS_HEADERS)
        return headers


UI_MODES = dict((mode.name, mode) for mode in (ProxyUi(), ForwardCredentialsUi(), CrossOriginUi()))


# ------------------------------------------------------------------------------------------------
# Storage drivers: the `storage.<driver>` section, and what the registry container mounts.

class StorageDriver(object):
    name = None
    # Whether several registries can share this storage (replicas behind a load balancer).
    shared = False

    def section(self, v):
        raise NotImplementedError

    def mounts_data(self):
        """Whether data/ on the host is the registry's storage."""
        return False

    def validate(self, v):
        pass

    def parameters(self, v):
        """Other keys of config.yml's `storage` section (redirect, ...)."""
        return {}

    def secret_env(self, v):
        """{name: value} of secrets passed in secrets/registry.env, never in config.yml."""
        return {}

    def look(self, v):
        """The `s3` option of the look at the host (a probe of the storage), or None."""
        return None

    def where(self, v):
        """The shared storage's identity (replicas with the same one share images), or None."""
        return None

    def endpoint_url(self, v):
        """The URL of the storage service the registry's container must reach, or None (on the host)."""
        return None


class FilesystemStorage(StorageDriver):
    name = 'filesystem'

    def section(self, v):
        return {'rootdirectory': DATA_MOUNT}

    def mounts_data(self):
        return True


# S3 (any S3 API: AWS, Ceph RADOS Gateway, MinIO, ...): registry_storage_s3 over these defaults.
S3_DEFAULTS = {
    'endpoint': '',          # empty: AWS S3 of the region
    'region': 'us-east-1',
    'bucket': '',
    'access_key': '',        # both empty: the host's own credentials (e.g. an AWS instance role)
    'secret_key': '',
    'path_style': None,      # None: path-style when an endpoint is given, bucket-in-hostname on AWS
    'chunk_size': 10485760,
    'redirect': False,
    'root_directory': '',
    'encrypt': False,
}
S3_MIN_CHUNK = 5 * 1024 * 1024
_BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$')
_ENDPOINT_RE = re.compile(r'^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?/?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?/?$')


class S3Storage(StorageDriver):
    name = 's3'
    shared = True

    def options(self, v):
        given = v.get('registry_storage_s3') or {}
        options = dict(S3_DEFAULTS)
        if isinstance(given, dict):
            options.update((key, value) for key, value in given.items() if value is not None)
        endpoint = str(options['endpoint'] or '').rstrip('/')
        options['endpoint'] = endpoint
        if options['path_style'] is None:
            options['path_style'] = bool(endpoint)
        return options

    def validate(self, v):
        given = v.get('registry_storage_s3')
        if given is not None and not isinstance(given, dict):
            v.problem('registry_storage_s3: must be a dictionary (endpoint, region, bucket, access_key, secret_key,'
                      ' path_style, chunk_size, redirect, root_directory, encrypt), got %s.' % type(given).__name__)
            return
        unknown = sorted(set(given or {}) - set(S3_DEFAULTS))
        if unknown:
            v.problem('registry_storage_s3: unknown key%s %s; allowed: %s.' % (
                's' if len(unknown) > 1 else '', ', '.join(unknown), ', '.join(sorted(S3_DEFAULTS))))
        o = self.options(v)
        bucket = str(o['bucket'] or '')
        if not _BUCKET_RE.match(bucket) or '..' in bucket:
            v.problem("registry_storage_s3.bucket: '%s' is not an S3 bucket name; allowed: 3 to 63 lower-case letters,"
                      " digits, '.' and '-', starting and ending with a letter or digit (registry_storage_driver s3"
                      " needs one)." % bucket)
        if o['endpoint'] and not _ENDPOINT_RE.match(o['endpoint']):
            v.problem("registry_storage_s3.endpoint: '%s' is not allowed; allowed: http(s)://host[:port] of the S3"
                      " service (Ceph RADOS Gateway, MinIO, ...), or empty for AWS S3 in the region." % o['endpoint'])
        if not re.match(r'^[a-z0-9-]{1,64}$', str(o['region'] or '')):
            v.problem("registry_storage_s3.region: '%s' is not allowed; allowed: a region name such as us-east-1"
                      " (S3 services without regions take any, e.g. us-east-1)." % o['region'])
        if bool(o['access_key']) != bool(o['secret_key']):
            v.problem('registry_storage_s3: access_key and secret_key go together (got %s and %s); give both (from'
                      ' vault), or neither to use the host\'s own credentials (e.g. an AWS instance role).'
                      % ('an access key' if o['access_key'] else 'no access key',
                         'a secret key' if o['secret_key'] else 'no secret key'))
        for key in ('access_key', 'secret_key'):
            if o[key] and re.search(r'\s', str(o[key])):
                v.problem('registry_storage_s3.%s: the value given contains white space; allowed: the key as the S3'
                          ' service issued it.' % key)
        try:
            chunk = int(o['chunk_size'])
            if isinstance(o['chunk_size'], bool) or chunk < S3_MIN_CHUNK:
                raise ValueError()
        except (TypeError, ValueError):
            v.problem('registry_storage_s3.chunk_size: %r is not allowed; allowed: an integer of at least %d'
                      ' (5 MiB, the S3 multipart minimum).' % (o['chunk_size'], S3_MIN_CHUNK))
        root = str(o['root_directory'] or '')
        if root and (not root.startswith('/') or re.search(r'\s', root) or root.rstrip('/') == ''):
            v.problem("registry_storage_s3.root_directory: '%s' is not allowed; allowed: empty (the bucket's root) or"
                      " an absolute prefix such as /registry." % root)
        for key in ('path_style', 'redirect', 'encrypt'):
            if not isinstance(o[key], bool):
                v.problem('registry_storage_s3.%s: %r is not allowed; allowed: true or false.' % (key, o[key]))
        if _major_of(v) == 2 and o['endpoint'] and o['path_style'] is False:
            v.problem('registry_storage_s3.path_style: false cannot be honoured by registry %s: distribution 2.x'
                      ' always addresses the bucket by path when an endpoint is set. Set path_style: true, or use'
                      ' registry_version 3.x.' % v.text('registry_version'))

    def section(self, v):
        o = self.options(v)
        section = {'region': str(o['region']), 'bucket': str(o['bucket']), 'v4auth': True,
                   'chunksize': int(o['chunk_size']), 'encrypt': bool(o['encrypt']),
                   'secure': not o['endpoint'].startswith('http://')}
        if o['endpoint']:
            section['regionendpoint'] = o['endpoint']
        if o['root_directory']:
            section['rootdirectory'] = str(o['root_directory']).rstrip('/')
        # distribution 3.x addresses the bucket as a host name unless told; 2.8 uses the path
        # whenever regionendpoint is set and has no such key.
        if _major_of(v) == 3:
            section['forcepathstyle'] = bool(o['path_style'])
        return section

    def parameters(self, v):
        return {} if self.options(v)['redirect'] else {'redirect': {'disable': True}}

    def secret_env(self, v):
        o = self.options(v)
        if not o['access_key']:
            return {}
        return {'REGISTRY_STORAGE_S3_ACCESSKEY': str(o['access_key']),
                'REGISTRY_STORAGE_S3_SECRETKEY': str(o['secret_key'])}

    def look(self, v):
        o = self.options(v)
        return {'endpoint': o['endpoint'], 'region': str(o['region']), 'bucket': str(o['bucket']),
                'access_key': str(o['access_key'] or ''), 'secret_key': str(o['secret_key'] or ''),
                'path_style': bool(o['path_style'])}

    def endpoint_url(self, v):
        o = self.options(v)
        return (o['endpoint'] or 'https://s3.%s.amazonaws.com' % o['region']) + '/'

    def where(self, v):
        o = self.options(v)
        return "bucket '%s' at %s%s" % (o['bucket'], o['endpoint'] or 'AWS S3 (%s)' % o['region'],
                                        ' under %s' % o['root_directory'] if o['root_directory'] else '')


def _major_of(v):
    try:
        return int(v.text('registry_version').split('.')[0])
    except ValueError:
        return None


STORAGE_DRIVERS = dict((driver.name, driver) for driver in (FilesystemStorage(), S3Storage()))


# ------------------------------------------------------------------------------------------------
# Registry modes: what the registry is for. `registry` stores what clients push; `mirror` is
# distribution's pull-through cache (the `proxy` section) of one upstream registry.

class RegistryMode(object):
    name = None
    # Whether clients can push (and delete): a pull-through cache answers both with 405 UNSUPPORTED.
    accepts_pushes = True

    def validate(self, v, major):
        pass

    def config(self, v, major):
        """Top-level sections this mode adds to config.yml (never a secret)."""
        return {}

    def env_content(self, v):
        """Content of secrets/mirror.env ('' when the mode needs no secret file)."""
        return ''


class PlainRegistry(RegistryMode):
    name = 'registry'


class MirrorRegistry(RegistryMode):
    """distribution's pull-through cache: config.yml's `proxy` section (remoteurl, and ttl on 3.x,
    the only version that reads it), the upstream credentials in secrets/mirror.env (0600) as the
    REGISTRY_PROXY_USERNAME/PASSWORD overrides, never in config.yml."""
    name = 'mirror'
    accepts_pushes = False

    def validate(self, v, major):
        url = v.text('registry_mirror_url')
        problem = registry_url_problem(url)
        if problem:
            v.problem("registry_mirror_url: '%s' %s; allowed: the upstream registry's base URL, http:// or https://"
                      " and a host (and port), e.g. https://registry-1.docker.io%s." % (
                          redact_url(url), problem,
                          ', with the account in registry_mirror_username/password' if '@' in url else ''))
        user, password = v.text('registry_mirror_username'), v.text('registry_mirror_password')
        if bool(user) != bool(password):
            v.problem('registry_mirror_username / registry_mirror_password: give both (the upstream account, the'
                      ' password from vault) or neither (anonymous pulls); got %s and %s.'
                      % ("username '%s'" % user if user else 'no username', 'a password' if password else 'no password'))
        for name, value in (('registry_mirror_username', user), ('registry_mirror_password', password)):
            if value and (value != value.strip() or re.search(r'[\x00-\x1f\x7f]', value)
                          or (name == 'registry_mirror_username' and ':' in value)):
                v.problem('%s: the value given (%d characters) has leading or trailing white space or a control'
                          ' character%s; allowed: a single line without them.'
                          % (name, len(value), " or ':'" if name == 'registry_mirror_username' else ''))
        ttl = v.text('registry_mirror_ttl')
        if ttl and major == 2:
            v.problem("registry_mirror_ttl: '%s' cannot be honoured by registry_version %s: distribution 2.x has no"
                      " proxy.ttl (its cache always expires after 168h); leave it empty, or deploy 3.x."
                      % (ttl, v.text('registry_version')))
        elif ttl and ttl != '0' and (not _DURATION_RE.match(ttl) or not re.search(r'[1-9]', ttl)):
            v.problem("registry_mirror_ttl: '%s' is not a duration; allowed: a positive Go duration such as 168h or"
                      " 24h30m, 0 to never expire the cache, or empty for distribution's default (168h)." % ttl)
        if v.flag('registry_delete_enabled'):
            v.problem('registry_delete_enabled: true cannot be honoured by registry_mode mirror: a pull-through'
                      ' cache answers every delete (and push) with 405 UNSUPPORTED and expires what it cached by'
                      ' itself (registry_mirror_ttl); set registry_delete_enabled: false (it also hides the'
                      " UI's delete button).")

    def config(self, v, major):
        proxy = {'remoteurl': v.text('registry_mirror_url').rstrip('/')}
        if major >= 3 and v.text('registry_mirror_ttl'):
            proxy['ttl'] = v.text('registry_mirror_ttl')
        return {'proxy': proxy}

    def env_content(self, v):
        if not v.text('registry_mirror_username'):
            return ''
        return mirror_env_content(v.text('registry_mirror_username'), v.text('registry_mirror_password'))


REGISTRY_MODES = dict((mode.name, mode) for mode in (PlainRegistry(), MirrorRegistry()))


def _env_value(value):
    """A value distribution reads back exactly: a YAML double-quoted scalar (its REGISTRY_* overrides
    are parsed as YAML), inside single quotes that Compose's env_file takes literally."""
    import json
    return "'%s'" % json.dumps(value).replace("'", '\\u0027')


def mirror_env_content(username, password):
    """secrets/mirror.env: the upstream credentials, as overrides of proxy.username/password."""
    return 'REGISTRY_PROXY_USERNAME=%s\nREGISTRY_PROXY_PASSWORD=%s\n' % (_env_value(username), _env_value(password))


def _choice(v, name, table):
    value = v.text(name)
    if value not in table:
        v.problem("%s: '%s' is not supported; allowed: %s." % (name, value, ', '.join(sorted(table))))
        return None
    return table[value]


# ------------------------------------------------------------------------------------------------
# Checks of single variables (the table-free rules).

def _name_problems(v):
    if IMPORT_ERROR is not None:
        return
    problems = []
    for variable, names, indexed in (('registry_server_name', [v.text('registry_server_name')], False),
                                     ('registry_tls_subject_alt_names', v['registry_tls_subject_alt_names'], True)):
        if not isinstance(names, list):
            problems.append('%s: must be a list, got %r' % (variable, names))
            continue
        for index, name in enumerate(names):
            try:
                cert_utils.parse_subject_alt_name(name, '%s[%d]' % (variable, index) if indexed else variable)
            except CertificateError as exc:
                problems.append(str(exc).split('; ', 1)[0])
    if problems:
        v.problem('; '.join(problems) + ". Allowed: DNS names (letters, digits, '-', labels of at most 63"
                  " characters, optionally '*.' first) and IPv4/IPv6 addresses.")


def user_problems(users, auth_enabled=True, update_password='always', variable='registry_users'):
    """Messages for a users list: never a password, always the user and the variable."""
    if not isinstance(users, list):
        return ['%s: must be a list of {name, password, state}' % variable]
    if IMPORT_ERROR is not None:
        return []
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


def _address_problem(v, name):
    value = v.text(name)
    if value in ('', 'localhost'):
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        v.problem("%s: '%s' is not an IP address; allowed: an IPv4 or IPv6 address of the host"
                  " (0.0.0.0 or :: for all, 127.0.0.1 for this host only)." % (name, value))


def _duration_problem(v, name):
    value = v.text(name)
    if not _DURATION_RE.match(value) or not re.search(r'[1-9]', value):
        v.problem("%s: '%s' is not a duration; allowed: a positive Go/Compose duration such as 10s, 500ms"
                  " or 1m30s." % (name, value))


def _version_major(v):
    version = v.text('registry_version')
    try:
        major = int(version.split('.')[0])
    except ValueError:
        major = None
    if major not in SUPPORTED_MAJORS:
        v.problem("registry_version: '%s' is not supported; allowed: a 2.x or 3.x version of the CNCF"
                  " distribution registry (e.g. 2.8.3 or 3.0.0)." % version)
        return None
    return major


# ------------------------------------------------------------------------------------------------
# Scale-out rules: the shared blob descriptor cache (registry_redis), replicas on shared storage
# (one HTTP secret for all), the registry's external networks, and the storage of a deployed host.

STORAGE_LABEL = 'io.dockyard.registry.storage-driver'
REDIS_DEFAULTS = {'address': '', 'password': '', 'db': 0}
_REDIS_ADDRESS_RE = re.compile(r'^([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$')
_NETWORK_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')


def redis_options(v):
    given = v.get('registry_redis') or {}
    options = dict(REDIS_DEFAULTS)
    if isinstance(given, dict):
        options.update((key, value) for key, value in given.items() if value is not None)
    return options


def _scale_out_problems(v, storage):
    """registry_redis, registry_networks and the replicas' HTTP secret (see docs/ARCHITECTURE.md)."""
    given = v.get('registry_redis') or {}
    if not isinstance(given, dict):
        v.problem('registry_redis: must be a dictionary {address, password, db}, got %s.' % type(given).__name__)
    else:
        unknown = sorted(set(given) - set(REDIS_DEFAULTS))
        if unknown:
            v.problem('registry_redis: unknown key%s %s; allowed: address, db, password.'
                      % ('s' if len(unknown) > 1 else '', ', '.join(unknown)))
        redis = redis_options(v)
        address = str(redis['address'] or '')
        if address and not _REDIS_ADDRESS_RE.match(address):
            v.problem("registry_redis.address: '%s' is not allowed; allowed: host:port of the Redis server as the"
                      " registry container reaches it (e.g. redis.example.com:6379), or empty for no Redis cache."
                      % address)
        db = redis['db']
        if isinstance(db, bool) or not re.match(r'^[0-9]{1,2}$', str(db)):
            v.problem('registry_redis.db: %r is not allowed; allowed: a Redis database number from 0 to 99.' % (db,))
        if redis['password'] and not address:
            v.problem('registry_redis.password is set but registry_redis.address is empty; give the address of the'
                      ' Redis server, or remove the password.')
    networks = v.get('registry_networks') or []
    if not isinstance(networks, list) or not all(_NETWORK_RE.match(str(name)) for name in networks):
        v.problem('registry_networks: %r is not allowed; allowed: a list of names of existing Docker networks the'
                  ' registry container joins (letters, digits, _ . -).' % (networks,))
    if storage is None or not storage.shared:
        return
    _shared_gc_problems(v, storage)
    where = storage.where(v)
    secret = v.text('registry_http_secret')
    if not secret:
        v.problem("registry_http_secret: empty with registry_storage_driver %s (shared storage, %s): each host"
                  " would generate its own secret, and an upload started on one replica fails on another"
                  " (BLOB_UPLOAD_INVALID). Set the same registry_http_secret (from vault) on every registry host"
                  " that uses this storage." % (storage.name, where))
        return
    me = v.text('_registry_host') if '_registry_host' in v.raw else ''
    differing = []
    for host, peer in sorted((v.get('_registry_peers') or {}).items()):
        if host == me or not isinstance(peer, dict):
            continue
        peer_vars = Variables(dict(v.raw, **peer))
        if peer_vars.text('registry_storage_driver') != storage.name or storage.where(peer_vars) != where:
            continue
        if peer_vars.text('registry_http_secret') != secret:
            differing.append(host)
    if differing:
        v.problem('registry_http_secret differs between %s and %s, which share %s storage (%s): an upload'
                  ' started on one replica fails on another (BLOB_UPLOAD_INVALID). Set the same'
                  ' registry_http_secret (from vault) on all of them.'
                  % (me or 'this host', ', '.join(differing), storage.name, where))


GC_SETTLE_ALLOWED = ('allowed: seconds from 0 to 600 (the balancer marks a replica up again within its check'
                     ' interval times its rise count)')


def _shared_gc_problems(v, storage):
    """registry_gc_replica_settle (used when replicas collect together); a host's own garbage
    collection schedule puts that replica alone read-only: the other replicas on its storage would
    take pushes whose blobs the collection deletes."""
    if v.get('registry_gc_replica_settle') is not None:
        v.integer('registry_gc_replica_settle', 0, 600, GC_SETTLE_ALLOWED)
    if v.get('registry_gc_schedule') is None or not v.flag('registry_gc_schedule'):
        return
    me = v.text('_registry_host') if '_registry_host' in v.raw else ''
    where = storage.where(v)
    sharing = []
    for host, peer in sorted((v.get('_registry_peers') or {}).items()):
        if host != me and isinstance(peer, dict):
            peer_vars = Variables(dict(v.raw, **peer))
            if peer_vars.text('registry_storage_driver') == storage.name and storage.where(peer_vars) == where:
                sharing.append(host)
    if sharing:
        v.problem('registry_gc_schedule: true on %s, which shares %s storage (%s) with %s: a schedule on one host'
                  ' puts that replica alone read-only, and pushes through the others lose their blobs while'
                  ' garbage-collect runs. Set registry_gc_schedule: false on the replicas and schedule'
                  ' playbooks/gc.yml over all of them from the controller.'
                  % (me or 'this host', storage.name, where, ', '.join(sharing)))


DRAIN_TIMEOUT = '25s'
STOP_GRACE_PERIOD = '30s'


def _scale_out_config(v, major, config, storage):
    """The Redis blob descriptor cache (the password comes from secrets/registry.env); replicas on
    shared storage finish their requests when stopped (a balancer sends new ones elsewhere)."""
    if storage.shared:
        config['http']['draintimeout'] = DRAIN_TIMEOUT
    redis = redis_options(v)
    if not redis['address']:
        return
    config['storage']['cache'] = {'blobdescriptor': 'redis'}
    section = {'db': int(redis['db'])}
    if major == 2:
        section['addr'] = str(redis['address'])
    else:
        section['addrs'] = [str(redis['address'])]
    config['redis'] = section


def secret_env(v, storage):
    """Secrets of the registry's environment besides the HTTP secret (secrets/registry.env)."""
    env = dict(storage.secret_env(v))
    redis = redis_options(v)
    if redis['address'] and redis['password']:
        env['REGISTRY_REDIS_PASSWORD'] = str(redis['password'])
    return env


def _deployed_problems(v, storage, info):
    """What the look at the host forbids: another storage driver deployed (unless the data is
    migrated), the planned storage not answering the host's probe."""
    problems = []
    deployed = None
    for container in (info or {}).get('containers') or []:
        if container.get('service') == 'registry':
            # Deployments made before the label existed had only the filesystem driver.
            deployed = (container.get('labels') or {}).get(STORAGE_LABEL) or 'filesystem'
    if deployed and deployed != storage.name and not v.flag('registry_storage_migrated'):
        problems.append("registry_storage_driver: '%s' but the registry deployed on this host keeps its images with"
                        " '%s' (label %s of its container). Switching would leave them behind: the registry would"
                        " start empty. Copy the data to the new storage first, then run again with"
                        " registry_storage_migrated: true." % (storage.name, deployed, STORAGE_LABEL))
    probe = (info or {}).get('s3')
    if isinstance(probe, dict) and probe.get('ok') is False:
        problems.append('registry_storage_s3: %s' % probe.get('msg'))
    return problems


def env_lines(extra):
    return ''.join('%s=%s\n' % (name, extra[name]) for name in sorted(extra or {}))


# ------------------------------------------------------------------------------------------------
# The plan.

class Context(object):
    """What the tables need besides the variables: paths, names and the controller's files."""

    def __init__(self, v, read_file):
        self._read_file = read_file
        base = v.text('registry_base_dir').rstrip('/') or '/'
        self.base = base
        self.dirs = dict((key, os.path.join(base, rel) if rel else base) for key, rel, dummy in DIRECTORIES)
        self.paths = {
            'config': os.path.join(self.dirs['config'], 'config.yml'),
            'compose': os.path.join(base, 'docker-compose.yml'),
            'ui_tls_conf': os.path.join(self.dirs['ui'], 'tls.conf'),
            'env': os.path.join(self.dirs['secrets'], 'registry.env'),
            'ui_env': os.path.join(self.dirs['secrets'], 'ui.env'),
            'mirror_env': os.path.join(self.dirs['secrets'], 'mirror.env'),
            'cert': os.path.join(self.dirs['certs'], 'registry.crt'),
            'key': os.path.join(self.dirs['certs'], 'registry.key'),
            'ca': os.path.join(self.dirs['certs'], 'ca.crt'),
            'htpasswd': os.path.join(self.dirs['auth'], 'htpasswd'),
            # acme mode: the intermediate that signed the served certificate, the ACME account key.
            'acme_issuer': os.path.join(self.dirs['certs'], 'acme-issuer.crt'),
            'acme_account_key': os.path.join(self.dirs['secrets'], 'acme-account.key'),
        }
        self.paths.update(day_two_paths(self.dirs))
        self.dirs['ui_certs'] = os.path.join(base, 'ui-certs')
        self.paths.update(ui_cert_paths(self.dirs))
        sans = [v.text('registry_server_name')] + [str(name) for name in (v['registry_tls_subject_alt_names'] or [])]
        mode = TLS_MODES.get(v.text('registry_tls_mode'))
        if v.flag('registry_tls_loopback_names') and getattr(mode, 'loopback_names', True):
            sans += LOOPBACK_NAMES
        self.sans = []
        for name in sans:
            if name not in self.sans:
                self.sans.append(name)
        self.renew_before_days = None
        self.key_size = None
        self._sha = {}

    def read(self, path):
        return self._read_file(path)

    def is_file(self, path):
        if not path:
            return False
        try:
            self._read_file(path)
        except (IOError, OSError):
            return False
        return True

    def controller_sha256(self, path):
        """sha256 of a controller file ('' when it cannot be read; validation reports that)."""
        if not path:
            return ''
        if path not in self._sha:
            try:
                self._sha[path] = hashlib.sha256(self._read_file(path)).hexdigest()
            except (IOError, OSError):
                self._sha[path] = ''
        return self._sha[path]


UI_CERT_MOUNT = '/etc/nginx/certs'


def ui_serves_tls(v):
    return v.flag('registry_ui_enabled') and v.flag('registry_ui_tls')


def ui_cert_paths(dirs):
    """ui-certs/: the UI's own key and certificate, the only secret the UI container mounts."""
    return {'ui_cert': os.path.join(dirs['ui_certs'], 'ui.crt'), 'ui_key': os.path.join(dirs['ui_certs'], 'ui.key')}


def ui_certs_directory(ctx):
    """The layout entry of ui-certs/ (root only: the UI's nginx reads the key as root, before it
    starts its workers)."""
    return {'path': ctx.dirs['ui_certs'], 'state': 'directory', 'mode': '0750', 'owner': 'root', 'group': 'root'}


def _ui_tls_problems(v, ctx, tls):
    """registry_ui_tls_certificate / registry_ui_tls_private_key: the UI's own provided pair."""
    cert, key = v.text('registry_ui_tls_certificate'), v.text('registry_ui_tls_private_key')
    if not (cert or key) or not ui_serves_tls(v):
        return
    if bool(cert) != bool(key):
        v.problem("registry_ui_tls_certificate and registry_ui_tls_private_key: give both (the UI's own certificate"
                  " chain and key, files on the controller) or neither; got '%s' and '%s'." % (cert, key))
        return
    if tls is None:
        return
    if tls.name != 'provided':
        v.problem("registry_ui_tls_certificate: '%s' is only used with registry_tls_mode provided; with '%s' the"
                  " role makes the UI's own key and certificate itself. Remove registry_ui_tls_certificate and"
                  " registry_ui_tls_private_key." % (cert, tls.name))
        return
    provided_pair_problems(v, ctx, 'registry_ui_tls_certificate', 'registry_ui_tls_private_key')


def _read_controller_file(path):
    with open(os.path.expanduser(path), 'rb') as handle:
        return handle.read()


def _users(v):
    users = list(v['registry_users'] or [])
    proxy = v['registry_ui_proxy_user'] or {}
    return users, proxy


def _registry_mode(v, major):
    """The registry mode's table entry, after its rules (None when registry_mode is not in the table)."""
    mode = _choice(v, 'registry_mode', REGISTRY_MODES)
    overrides = v['registry_config_overrides']
    if isinstance(overrides, dict) and 'proxy' in overrides:
        v.problem('registry_config_overrides: proxy is not allowed there; a pull-through cache is registry_mode:'
                  ' mirror with registry_mirror_url, registry_mirror_username, registry_mirror_password (from vault,'
                  ' kept out of config.yml) and registry_mirror_ttl.')
    if mode is not None and v.text('registry_state') == 'present':
        mode.validate(v, major)
    return mode


def _mirror_env(v):
    """Content of secrets/mirror.env ('' when the deployment has none)."""
    mode = REGISTRY_MODES.get(v.text('registry_mode'))
    return mode.env_content(v) if mode is not None else ''


def _mirror_env_entry(v, ctx, root):
    content = _mirror_env(v)
    if content:
        return dict(root, path=ctx.paths['mirror_env'], state='file', mode='0600', sha256=sha256_text(content))
    return {'path': ctx.paths['mirror_env'], 'state': 'absent'}


def _validate(v, ctx):
    """Every rule on the variables; fills v.problems. Returns the looked-up table entries."""
    major = _version_major(v)
    present = v.text('registry_state') == 'present'
    if v.text('registry_state') not in ('present', 'absent'):
        v.problem("registry_state: '%s' is not allowed; allowed: present, absent." % v.text('registry_state'))
    base = v.text('registry_base_dir')
    if not base.startswith('/') or base.rstrip('/') == '':
        v.problem("registry_base_dir: '%s' is not allowed; allowed: an absolute directory path on the host other"
                  " than /." % base)
    project = v.text('registry_project_name')
    if not _PROJECT_RE.match(project):
        v.problem("registry_project_name: '%s' is not a Compose project name; allowed: lower-case letters, digits,"
                  " '-' and '_', starting with a letter or digit." % project)
    tls = _choice(v, 'registry_tls_mode', TLS_MODES)
    ui = _choice(v, 'registry_ui_mode', UI_MODES)
    storage = _choice(v, 'registry_storage_driver', STORAGE_DRIVERS)
    if not present:
        return major, tls, ui, storage
    ui_enabled = v.flag('registry_ui_enabled')
    port = v.integer('registry_port', 1, 65535, 'a port must be an integer from 1 to 65535')
    ui_port = v.integer('registry_ui_port', 1, 65535, 'a port must be an integer from 1 to 65535') if ui_enabled else None
    bind, ui_bind = v.text('registry_bind_address'), v.text('registry_ui_bind_address')
    if (ui_enabled and port is not None and port == ui_port
            and (bind == ui_bind or is_wildcard(bind) or is_wildcard(ui_bind))):
        v.problem('registry_ui_port: %s clashes with registry_port: %s (%s and %s overlap); choose another'
                  ' registry_ui_port.' % (ui_port, port, ui_bind, bind))
    _address_problem(v, 'registry_bind_address')
    if ui_enabled:
        _address_problem(v, 'registry_ui_bind_address')
    _duration_problem(v, 'registry_healthcheck_interval')
    ctx.renew_before_days = v.integer('registry_tls_renew_before_days', 0, 3650)
    v.integer('registry_tls_valid_days', 1, 36500)
    v.integer('registry_tls_ca_valid_days', 1, 36500)
    v.integer('registry_catalog_max_entries', 1, 1000000)
    v.integer('registry_health_timeout', 1, 3600)
    if v.text('registry_tls_key_type') == 'rsa':
        ctx.key_size = v.integer('registry_tls_key_size', allowed='allowed: 2048, 3072 or 4096')
        if ctx.key_size is not None and ctx.key_size not in (2048, 3072, 4096):
            v.problem('registry_tls_key_size: %s is not allowed; allowed: 2048, 3072 or 4096.' % ctx.key_size)
    if IMPORT_ERROR is None:
        v.integer('registry_htpasswd_cost', MIN_COST, MAX_COST,
                  'allowed: a bcrypt cost from %d to %d' % (MIN_COST, MAX_COST))
    secret = v.text('registry_http_secret')
    if secret and (len(secret) < _HTTP_SECRET_MIN or re.search(r'\s', secret)):
        # Never the value: it is a secret.
        v.problem('registry_http_secret: the value given (%d characters) is too weak; allowed: at least %d'
                  ' characters without white space (e.g. 64 random letters and digits from vault), or empty to'
                  ' have one generated and kept on the host.' % (len(secret), _HTTP_SECRET_MIN))
    _name_problems(v)
    users, proxy = _users(v)
    all_users = users + ([dict(proxy, state='present')] if (ui is not None and ui.forwards_credentials and ui_enabled
                                                            and isinstance(proxy, dict)) else [])
    for message in user_problems(all_users, auth_enabled=v.flag('registry_auth_enabled'),
                                 update_password=v.text('registry_users_update_password')):
        v.problem(message)
    if ui is not None and ui_enabled:
        ui.validate(v)
    if tls is not None:
        tls.validate(v, ctx)
    if storage is not None:
        storage.validate(v)
    _scale_out_problems(v, storage)
    _day_two_problems(v, port, ui_port)
    _disk_problems(v)
    overrides = v['registry_config_overrides'] or {}
    if not isinstance(overrides, dict):
        v.problem('registry_config_overrides: must be a dictionary (deep-merged into config.yml), got %s.'
                  % type(overrides).__name__)
    elif isinstance(overrides.get('storage'), dict) and storage is not None:
        others = sorted(key for key in overrides['storage'] if key not in STORAGE_PARAMETERS and key != storage.name)
        if others:
            v.problem("registry_config_overrides: storage.%s would be a second storage driver beside '%s'"
                      " (distribution refuses two); choose the driver with registry_storage_driver (allowed: %s)"
                      " and tune it under storage.%s." % (', storage.'.join(others), storage.name,
                                                          ', '.join(sorted(STORAGE_DRIVERS)), storage.name))
    return major, tls, ui, storage


def _config(v, major, tls, ui, storage):
    """config.yml as data. The HTTP secret is not in it: it comes from secrets/registry.env."""
    headers = {'X-Content-Type-Options': ['nosniff'], 'Strict-Transport-Security': [HSTS]}
    if v.flag('registry_ui_enabled'):
        headers.update(ui.registry_headers(v))
    config = {
        'version': 0.1,
        'log': {'level': v.text('registry_log_level'), 'fields': {'service': 'registry'}},
        'storage': {
            storage.name: storage.section(v),
            'delete': {'enabled': v.flag('registry_delete_enabled')},
            'cache': {'blobdescriptor': 'inmemory'},
        },
        'http': {
            'addr': ':5000',
            'tls': {'certificate': CERT_MOUNT + '/registry.crt', 'key': CERT_MOUNT + '/registry.key',
                    'minimumtls': 'tls1.2', 'ciphersuites': list(REGISTRY_CIPHER_SUITES)},
            # Plain HTTP and never published: only the container's healthcheck reaches it.
            'debug': {'addr': DEBUG_ADDR},
            'headers': headers,
        },
        'health': {'storagedriver': {'enabled': True, 'interval': '10s', 'threshold': 3}},
        'catalog': {'maxentries': int(v['registry_catalog_max_entries'])},
    }
    config['storage'].update(storage.parameters(v))
    _scale_out_config(v, major, config, storage)
    if v.flag('registry_auth_enabled'):
        config['auth'] = {'htpasswd': {'realm': v.text('registry_auth_realm'), 'path': '/auth/htpasswd'}}
    config.update(REGISTRY_MODES[v.text('registry_mode')].config(v, major))
    _day_two_config(v, config)
    _disk_config(v, config)
    return deep_merge(config, v['registry_config_overrides'] or {})


def _config_text(v, major, config):
    return (MANAGED + '# CNCF distribution %s configuration, mounted at %s/config.yml.\n'
            '# The HTTP secret comes from the environment (secrets/registry.env), not from this file.\n'
            % (v.text('registry_version'), CONFIG_MOUNTS[major]) + to_yaml(config))


# Containers run with no new privileges and no capability they do not need. The registry needs none
# (it runs as root in the container on port 5000 and writes only its storage) and its root file
# system is read-only. The UI's nginx binds 80/443 and switches to its worker user, and its
# entrypoint rewrites its own configuration at start: its root stays writable.
REGISTRY_HARDENING = {'security_opt': ['no-new-privileges:true'], 'cap_drop': ['ALL'], 'read_only': True,
                      'tmpfs': ['/tmp']}
UI_HARDENING = {'security_opt': ['no-new-privileges:true'], 'cap_drop': ['ALL'],
                'cap_add': ['CHOWN', 'DAC_OVERRIDE', 'FOWNER', 'NET_BIND_SERVICE', 'SETGID', 'SETUID']}
# Joxit 2.6.0 also reads NGINX_PROXY_HEADER_* from this file: forwarded credentials stay out of
# `docker inspect`. Earlier versions read them from the environment only.
UI_ENV_FILE = '/etc/nginx/.env'
UI_ENV_FILE_SINCE = (2, 6)


def ui_env_label(v, content):
    """A label that changes with the UI's secret file (a mounted file's change does not recreate the
    container by itself): PBKDF2 of it, so `docker inspect` does not give a fast way to guess the
    password it holds."""
    salt = ('dockyard-ui-env:' + v.text('registry_project_name')).encode('utf-8')
    return hashlib.pbkdf2_hmac('sha256', content.encode('utf-8'), salt, 100000).hex()


def ui_reads_env_file(v):
    """Whether the UI image version reads NGINX_PROXY_HEADER_* from /etc/nginx/.env."""
    match = re.match(r'^v?(\d+)\.(\d+)', v.text('registry_ui_version'))
    return bool(match) and (int(match.group(1)), int(match.group(2))) >= UI_ENV_FILE_SINCE


def _storage_reach(v, storage):
    """What the role probes from the registry container's networks before (re)creating it (plugin_utils
    _storage_reach), or None: the image, the endpoint and the networks: registry_networks when given
    (the storage is on one of them, or outside, which any bridge network reaches), else Docker's
    bridge, standing for the project's own network (it does not exist before the first deploy)."""
    url = storage.endpoint_url(v)
    if url is None:
        return None
    reach = {'name': v.text('registry_project_name'), 'image': v.text('registry_image'), 'url': url,
             'where': storage.where(v)}
    networks = [str(name) for name in v.get('registry_networks') or []] or ['bridge']
    reach['probes'] = [{'network': network, 'argv': probe_argv(reach, network)} for network in networks]
    return reach


def _compose(v, ctx, major, tls, ui, storage, hashes):
    ui_enabled = v.flag('registry_ui_enabled')
    ui_tls = v.flag('registry_ui_tls')
    registry = {
        'image': v.text('registry_image'),
        'pull_policy': v.text('registry_pull_policy'),
        'restart': v.text('registry_restart_policy'),
        'env_file': [ctx.paths['env']] + ([ctx.paths['mirror_env']] if _mirror_env(v) else []),
        'environment': {'OTEL_TRACES_EXPORTER': 'none'} if major >= 3 else {},
        'ports': ['%s:%s:5000' % (publish_address(v.text('registry_bind_address')), v['registry_port'])],
        'volumes': [
            '%s:%s:ro' % (ctx.dirs['config'], CONFIG_MOUNTS[major]),
            '%s:%s:ro' % (ctx.dirs['certs'], CERT_MOUNT),
            '%s:/auth:ro' % ctx.dirs['auth'],
        ] + (['%s:%s' % (ctx.dirs['data'], DATA_MOUNT)] if storage.mounts_data() else []),
        'labels': {
            'io.dockyard.registry.config-sha256': hashes['config'],
            'io.dockyard.registry.certificate-sha256': hashes['certificate'],
            STORAGE_LABEL: storage.name,
        },
        'healthcheck': {'test': list(HEALTHCHECK), 'interval': v.text('registry_healthcheck_interval'),
                        'timeout': '5s', 'retries': 3, 'start_period': '5s'},
    }
    registry.update(REGISTRY_HARDENING)
    _day_two_compose(v, ctx, registry)
    registry['healthcheck']['test'] = disk_healthcheck(v, ctx, storage)
    services = {'registry': registry}
    if ui_enabled:
        environment = {'REGISTRY_TITLE': v['registry_ui_title'], 'DOCKER_REGISTRY_UI_TITLE': v['registry_ui_title'],
                       'SINGLE_REGISTRY': 'true', 'ENABLE_VERSION_NOTIFICATION': 'false',
                       'DELETE_IMAGES': 'true' if v.flag('registry_delete_enabled') else 'false'}
        if ui_tls:
            # The plain server only for the HTTPS server in front of it, inside the container.
            environment['NGINX_LISTEN_PORT'] = '127.0.0.1:80'
        environment.update(ui.environment(v))
        environment.update(v['registry_ui_env'] or {})
        services['ui'] = {
            'image': v.text('registry_ui_image'),
            'pull_policy': v.text('registry_pull_policy'),
            'restart': v.text('registry_restart_policy'),
            # The UI starts only once the registry is healthy. Compose v2 therefore also recreates the
            # UI whenever it recreates the registry (docker/compose#10308).
            'depends_on': {'registry': {'condition': 'service_healthy'}},
            'environment': env_strings(environment),
            'env_file': [ctx.paths['ui_env']] if ui.forwards_credentials and not ui_reads_env_file(v) else [],
            'ports': ['%s:%s:%s' % (publish_address(v.text('registry_ui_bind_address')), v['registry_ui_port'],
                                    443 if ui_tls else 80)],
            'volumes': (['%s:%s:ro' % (ctx.dirs['ui_certs'], UI_CERT_MOUNT),
                         '%s:/etc/nginx/conf.d/dockyard-tls.conf:ro' % ctx.paths['ui_tls_conf']] if ui_tls else [])
            + (['%s:%s:ro' % (ctx.paths['ui_env'], UI_ENV_FILE)] if ui.forwards_credentials and ui_reads_env_file(v) else []),
            'labels': {
                'io.dockyard.registry.certificate-sha256': hashes['ui_certificate'] if ui_tls else '',
                'io.dockyard.registry.tls-conf-sha256': hashes['ui_tls_conf'] if ui_tls else '',
            },
        }
        if ui.forwards_credentials and ui_reads_env_file(v):
            services['ui']['labels']['io.dockyard.registry.ui-env'] = ui_env_label(
                v, ui_env_content(v['registry_ui_proxy_user'] or {}))
        services['ui'].update(UI_HARDENING)
    if storage.shared:
        registry['stop_grace_period'] = STOP_GRACE_PERIOD
    networks = [str(name) for name in v.get('registry_networks') or []]
    if networks:
        registry['networks'] = ['default'] + networks
    compose = {'name': v.text('registry_project_name'), 'services': stamp_definitions(services)}
    if networks:
        compose['networks'] = dict((name, {'external': True}) for name in networks)
    return compose


def _layout(v, ctx, tls, ui, env_sha256, ui_env_sha256, env_extra=''):
    """Every directory and file the role writes, with mode and owner: the apply tasks and the look
    both read this list."""
    root = {'owner': 'root', 'group': 'root'}
    directories = [dict(root, path=ctx.dirs[key], mode=mode, state='directory') for key, dummy, mode in DIRECTORIES]
    files = list(tls.files(v, ctx))
    env = dict(root, path=ctx.paths['env'], state='file', mode='0600')
    if env_sha256:
        env['sha256'] = env_sha256
    else:
        # A generated HTTP secret is kept: the file only has to hold one, in the form the role writes.
        env['regexp'] = r'REGISTRY_HTTP_SECRET=\S+\n' + re.escape(env_extra)
    files.append(env)
    if ui_env_sha256:
        files.append(dict(root, path=ctx.paths['ui_env'], state='file', mode='0600', sha256=ui_env_sha256))
    else:
        files.append({'path': ctx.paths['ui_env'], 'state': 'absent'})
    files.append(_mirror_env_entry(v, ctx, root))
    files.append(dict(root, path=ctx.paths['config'], state='file', mode='0644', checksum=True))
    files.append(dict(root, path=ctx.paths['compose'], state='file', mode='0644', checksum=True))
    if v.flag('registry_auth_enabled'):
        files.append(dict(root, path=ctx.paths['htpasswd'], state='file', mode='0640'))
    files.extend(_day_two_files(v, ctx))
    if v.flag('registry_ui_enabled') and v.flag('registry_ui_tls'):
        files.append(dict(root, path=ctx.paths['ui_tls_conf'], state='file', mode='0644', checksum=True))
        files.extend(tls.ui_files(v, ctx))
    return directories, files


def env_content(secret, extra=None):
    """secrets/registry.env as the role writes it: the HTTP secret, then ``extra`` (the storage's
    keys, the Redis password) sorted by name."""
    return 'REGISTRY_HTTP_SECRET=%s\n' % secret + env_lines(extra)


def ui_env_content(user):
    import base64
    token = '%s:%s' % (user.get('name') or '', user.get('password') or '')
    return 'NGINX_PROXY_HEADER_Authorization=Basic %s\n' % base64.b64encode(token.encode('utf-8')).decode('ascii')


def stored_http_secret(content):
    """The HTTP secret in a stored secrets/registry.env ('' when it holds none)."""
    match = re.search(r'(?m)^REGISTRY_HTTP_SECRET=(\S+)$', content or '')
    return match.group(1) if match else ''


# ------------------------------------------------------------------------------------------------
# Day two: metrics, notifications and the read-only maintenance mode (issue 9).

METRICS_DEBUG_ADDR = '0.0.0.0:5001'
METRICS_PATH = '/metrics'
NOTIFICATION_KEYS = ('name', 'url', 'headers', 'timeout', 'threshold', 'backoff', 'ignoredmediatypes', 'ignore',
                     'disabled')
NOTIFICATION_DEFAULTS = {'timeout': '5s', 'threshold': 5, 'backoff': '10s'}
NOTIFICATION_LABEL = 'io.dockyard.registry.notifications-sha256'
_ENDPOINT_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*$')
_HEADER_NAME_RE = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")


def day_two_paths(dirs):
    """Paths of the day-two files (secrets/notifications.env holds the webhook endpoints)."""
    return {'notifications_env': os.path.join(dirs['secrets'], 'notifications.env')}


def _metrics_enabled(v):
    return v.get('registry_metrics_enabled') is not None and v.flag('registry_metrics_enabled')


def _notifications(v):
    value = v.get('registry_notifications')
    return value if isinstance(value, list) else ([] if value is None else value)


def _day_two_problems(v, port, ui_port):
    if _metrics_enabled(v):
        _address_problem(v, 'registry_metrics_address')
        metrics_port = v.integer('registry_metrics_port', 1, 65535, 'a port must be an integer from 1 to 65535')
        address = v.text('registry_metrics_address')
        for other, other_port, other_address in (
                ('registry_port', port, v.text('registry_bind_address')),
                ('registry_ui_port', ui_port if v.flag('registry_ui_enabled') else None,
                 v.text('registry_ui_bind_address'))):
            if (metrics_port is not None and metrics_port == other_port
                    and (address == other_address or is_wildcard(address) or is_wildcard(other_address))):
                v.problem('registry_metrics_port: %s clashes with %s: %s (%s and %s overlap); choose another'
                          ' registry_metrics_port.' % (metrics_port, other, other_port, address, other_address))
    for message in notification_problems(_notifications(v)):
        v.problem(message)
    if v.get('registry_gc_schedule') is not None and v.flag('registry_gc_schedule'):
        cron = v.text('registry_gc_cron')
        if not (re.match(r'^@(hourly|daily|weekly|monthly|yearly|annually)$', cron)
                or (len(cron.split()) == 5 and all(re.match(r'^[0-9A-Za-z*,/-]+$', field) for field in cron.split()))):
            v.problem("registry_gc_cron: '%s' is not allowed; allowed: the five time fields of a crontab line"
                      " (e.g. '0 3 * * 0') or @daily, @weekly..." % cron)
        calendar = v.text('registry_gc_on_calendar')
        if not calendar.strip() or re.search(r'[\r\n]', calendar):
            v.problem("registry_gc_on_calendar: %r is not allowed; allowed: one systemd OnCalendar= expression"
                      " (e.g. 'Sun *-*-* 03:00:00')." % calendar)


def notification_problems(endpoints, variable='registry_notifications'):
    """Messages for the webhook endpoints; URLs and header values are never shown (they may hold tokens)."""
    if not isinstance(endpoints, list):
        return ['%s: must be a list of endpoints {name, url, headers, timeout, threshold, backoff,'
                ' ignoredmediatypes}, got %s.' % (variable, type(endpoints).__name__)]
    problems, names = [], []
    for index, endpoint in enumerate(endpoints):
        where = '%s[%d]' % (variable, index)
        if not isinstance(endpoint, dict):
            problems.append('%s: must be a dictionary {name, url, ...}, got %s.' % (where, type(endpoint).__name__))
            continue
        unknown = sorted(set(endpoint) - set(NOTIFICATION_KEYS))
        if unknown:
            problems.append('%s: unknown key(s) %s; allowed: %s.' % (where, ', '.join(unknown), ', '.join(NOTIFICATION_KEYS)))
        name = str(endpoint.get('name') or '')
        if not _ENDPOINT_NAME_RE.match(name):
            problems.append("%s.name: '%s' is not allowed; allowed: letters, digits, '.', '_' and '-'." % (where, name))
        elif name in names:
            problems.append("%s.name: '%s' is used by another endpoint; each endpoint needs its own name." % (where, name))
        names.append(name)
        url = str(endpoint.get('url') or '')
        if not re.match(r'^https?://[^/\s]+', url) or re.search(r'\s', url):
            problems.append('%s.url (endpoint %s): not an http:// or https:// URL (value not shown: it may hold a'
                            ' token); allowed: the listener\'s URL, e.g. https://ci.example.com/registry-events.'
                            % (where, name))
        headers = endpoint.get('headers') or {}
        if not isinstance(headers, dict):
            problems.append('%s.headers (endpoint %s): must be a dictionary of header name to a value or a list'
                            ' of values.' % (where, name))
        else:
            for header, value in headers.items():
                values = value if isinstance(value, list) else [value]
                if not _HEADER_NAME_RE.match(str(header)):
                    problems.append("%s.headers (endpoint %s): '%s' is not an HTTP header name." % (where, name, header))
                if not values or any(item is None or isinstance(item, (dict, list)) or re.search(r'[\r\n]', str(item))
                                     for item in values):
                    problems.append('%s.headers.%s (endpoint %s): the value (not shown) must be a string or a list'
                                    ' of strings without line breaks.' % (where, header, name))
        for key in ('timeout', 'backoff'):
            value = str(endpoint.get(key, NOTIFICATION_DEFAULTS[key]))
            if not _DURATION_RE.match(value) or not re.search(r'[1-9]', value):
                problems.append("%s.%s (endpoint %s): '%s' is not a duration; allowed: a positive Go duration"
                                " such as 5s or 500ms." % (where, key, name, value))
        threshold = endpoint.get('threshold', NOTIFICATION_DEFAULTS['threshold'])
        if isinstance(threshold, bool) or not re.match(r'^[0-9]+$', str(threshold)) or int(str(threshold)) < 1:
            problems.append("%s.threshold (endpoint %s): %r is not allowed; allowed: an integer >= 1 (failures"
                            " before the endpoint backs off)." % (where, name, threshold))
        media = endpoint.get('ignoredmediatypes', [])
        if not isinstance(media, list) or not all(isinstance(item, string_types) for item in media):
            problems.append('%s.ignoredmediatypes (endpoint %s): must be a list of media types.' % (where, name))
        ignore = endpoint.get('ignore', {})
        if not isinstance(ignore, dict) or sorted(set(ignore) - {'mediatypes', 'actions'}) or not all(
                isinstance(item, list) for item in ignore.values()):
            problems.append('%s.ignore (endpoint %s): must be {mediatypes: [...], actions: [...]}.' % (where, name))
    return problems


def notification_endpoints(endpoints):
    """distribution's notifications.endpoints, with the defaults filled in and header values as lists."""
    result = []
    for endpoint in endpoints:
        item = {'name': str(endpoint['name']), 'url': str(endpoint['url']), 'disabled': bool(endpoint.get('disabled')),
                'timeout': str(endpoint.get('timeout', NOTIFICATION_DEFAULTS['timeout'])),
                'threshold': int(str(endpoint.get('threshold', NOTIFICATION_DEFAULTS['threshold']))),
                'backoff': str(endpoint.get('backoff', NOTIFICATION_DEFAULTS['backoff']))}
        headers = endpoint.get('headers') or {}
        if headers:
            item['headers'] = dict((str(name), [str(value) for value in (values if isinstance(values, list) else [values])])
                                   for name, values in headers.items())
        if endpoint.get('ignoredmediatypes'):
            item['ignoredmediatypes'] = [str(media) for media in endpoint['ignoredmediatypes']]
        if endpoint.get('ignore'):
            item['ignore'] = dict((key, [str(value) for value in values]) for key, values in endpoint['ignore'].items())
        result.append(item)
    return result


def notifications_env_content(endpoints):
    """secrets/notifications.env: the endpoints as one REGISTRY_NOTIFICATIONS_ENDPOINTS value (YAML reads
    JSON). Single-quoted for Compose (no $ interpolation); a ' inside becomes the JSON escape \\u0027."""
    value = json.dumps(notification_endpoints(endpoints), sort_keys=True, separators=(',', ':'))
    return "REGISTRY_NOTIFICATIONS_ENDPOINTS='%s'\n" % value.replace("'", '\\u0027')


def _day_two_config(v, config):
    if _metrics_enabled(v):
        config['http']['debug'] = {'addr': METRICS_DEBUG_ADDR, 'prometheus': {'enabled': True, 'path': METRICS_PATH}}


def maintenance_config(config):
    """config with storage.maintenance.readonly.enabled: pulls work, pushes and deletes are refused."""
    storage = dict(config['storage'])
    storage['maintenance'] = deep_merge(storage.get('maintenance') or {}, {'readonly': {'enabled': True}})
    return dict(config, storage=storage)


def _day_two_compose(v, ctx, registry):
    if _metrics_enabled(v):
        # The debug server listens on all of the container's addresses; the host publishes it only on
        # registry_metrics_address (the healthcheck still reaches it on the container's loopback).
        registry['ports'].append('%s:%s:5001' % (publish_address(v.text('registry_metrics_address')),
                                                 v['registry_metrics_port']))
    endpoints = _notifications(v)
    if endpoints:
        registry['env_file'].append(ctx.paths['notifications_env'])
        registry['labels'][NOTIFICATION_LABEL] = sha256_text(notifications_env_content(endpoints))


def _day_two_files(v, ctx):
    endpoints = _notifications(v)
    if endpoints:
        return [{'path': ctx.paths['notifications_env'], 'state': 'file', 'mode': '0600', 'owner': 'root',
                 'group': 'root', 'sha256': sha256_text(notifications_env_content(endpoints))}]
    return [{'path': ctx.paths['notifications_env'], 'state': 'absent'}]


def _day_two_warnings(v):
    warnings = []
    if _metrics_enabled(v) and not is_loopback(v.text('registry_metrics_address')):
        warnings.append('WARNING: registry_metrics_address is %s: the registry\'s debug server (plain HTTP, no'
                        ' authentication: /metrics, /debug/vars) is reachable from the network. Keep 127.0.0.1,'
                        ' or firewall port %s.' % (v.text('registry_metrics_address'), v['registry_metrics_port']))
    return warnings


def day_two_plan(v, ctx, maintenance):
    endpoints = _notifications(v)
    metrics = _metrics_enabled(v)
    return {
        'maintenance': bool(maintenance),
        'metrics': {'enabled': metrics,
                    'url': ('http://%s:%s%s' % (local_address(v.text('registry_metrics_address')),
                                                v['registry_metrics_port'], METRICS_PATH)) if metrics else ''},
        'notifications': {'enabled': bool(endpoints), 'names': [str(item.get('name')) for item in endpoints],
                          'env_content': notifications_env_content(endpoints) if endpoints else ''},
    }


# ------------------------------------------------------------------------------------------------
# A full data directory (issue 8.5): free space judged by the container's healthcheck and by the
# look (registry_info data_dir), distribution's upload purging, and a purge that keeps mount points.

MIB = 1024 * 1024
DATA_MIN_FREE_DEFAULT = 1024
UPLOAD_PURGING_DEFAULTS = {'enabled': True, 'age': '24h', 'interval': '24h', 'dryrun': False}
# A purge deletes every upload older than the age, finished or not: a shorter age could cut a slow push.
UPLOAD_PURGING_MIN_AGE = 3600
_GO_UNITS = {'ns': 1e-9, 'us': 1e-6, 'µs': 1e-6, 'ms': 1e-3, 's': 1, 'm': 60, 'h': 3600}


def go_duration_seconds(text):
    """Seconds of a Go duration such as 24h or 1h30m (None when it is not one)."""
    text = str(text)
    if not _DURATION_RE.match(text):
        return None
    return sum(float(number) * _GO_UNITS[unit] for number, dummy, unit in re.findall(r'([0-9]+(\.[0-9]+)?)(ns|us|µs|ms|s|m|h)', text))


def data_min_free_mb(v):
    value = v.get('registry_data_min_free_mb', DATA_MIN_FREE_DEFAULT)
    try:
        number = int(str(value).strip()) if not isinstance(value, bool) else None
    except ValueError:
        number = None
    return number


def upload_purging(v):
    """storage.maintenance.uploadpurging from the registry_upload_purging_* variables (all four keys:
    distribution 2.8 refuses to start when one is missing)."""
    result = dict(UPLOAD_PURGING_DEFAULTS)
    for key in result:
        value = v.get('registry_upload_purging_%s' % key)
        if value is not None:
            result[key] = v.flag('registry_upload_purging_%s' % key) if key in ('enabled', 'dryrun') else str(value)
    return result


def _disk_problems(v):
    number = data_min_free_mb(v)
    if number is None or number < 0 or number > 1048576:
        v.problem('registry_data_min_free_mb: %r is not allowed; allowed: an integer from 0 (no check) to 1048576,'
                  ' the MiB that must stay free in the data directory.' % (v.get('registry_data_min_free_mb'),))
    purging = upload_purging(v)
    for key, minimum, why in (('age', UPLOAD_PURGING_MIN_AGE, ' at least 1h (uploads older than this are deleted even'
                                                              ' while a slow push still writes them)'),
                              ('interval', 1, '')):
        seconds = go_duration_seconds(purging[key])
        if seconds is None or seconds < minimum:
            v.problem("registry_upload_purging_%s: '%s' is not allowed; allowed: a Go duration such as 24h or 1h30m%s."
                      % (key, purging[key], why or ' greater than 0'))


def _disk_config(v, config):
    """storage.maintenance.uploadpurging, unless registry_config_overrides sets that section itself (then
    the override is the whole section: one place for each setting)."""
    overrides = v.get('registry_config_overrides') or {}
    storage = overrides.get('storage') if isinstance(overrides, dict) else None
    maintenance = storage.get('maintenance') if isinstance(storage, dict) else None
    if isinstance(maintenance, dict) and 'uploadpurging' in maintenance:
        return
    config['storage'].setdefault('maintenance', {})['uploadpurging'] = upload_purging(v)


def disk_healthcheck(v, ctx, storage):
    """The registry container's healthcheck: distribution's own health endpoint, then (filesystem
    storage, a threshold set) the free space of the data directory by busybox df, so that a full disk
    turns the container unhealthy with the path and the figures in its health log."""
    minimum = data_min_free_mb(v)
    if not storage.mounts_data() or not minimum:
        return list(HEALTHCHECK)
    awk = ('NR == 2 { if ($4 < min) { printf "data directory %%s (%s in the container) has %%d MiB free of %%d MiB,'
           ' below registry_data_min_free_mb=%%d\\n", path, $4 / 1024, $2 / 1024, min / 1024; exit 1 } }' % DATA_MOUNT)
    script = '%s "$1" && df -P -k %s | awk -v min=%d -v path=%s %s' % (
        ' '.join(HEALTHCHECK[1:-1]), DATA_MOUNT, minimum * 1024, shell_quote(ctx.dirs['data']), shell_quote(awk))
    # The health endpoint stays the last argument ($1 of the script). Compose interpolates $: doubled,
    # the container runs the single one.
    return ['CMD', 'sh', '-c', script.replace('$', '$$'), 'sh', HEALTHCHECK[-1]]


def shell_quote(text):
    return "'%s'" % str(text).replace("'", "'\\''")


def data_dir_look(v, ctx, storage):
    """The look's data_dir option (filesystem storage only: an S3 bucket has no free space to judge)."""
    if not storage.mounts_data():
        return None
    return {'path': ctx.dirs['data'], 'min_free_mb': data_min_free_mb(v) or 0}


def data_dir_problems(info):
    """The look found less free space than registry_data_min_free_mb: say where, how much and how to recover."""
    facts = (info or {}).get('data_dir') or {}
    if not facts.get('low'):
        return []
    return ['%s: pushes fail once it is full (distribution answers 500). Free space first: `ansible-playbook'
            ' dockyard.registry.purge_uploads` removes unfinished uploads, `dockyard.registry.gc` unreferenced'
            ' blobs; or give the data directory more space, or lower registry_data_min_free_mb (0: no check).'
            % facts.get('msg')]


def _glob_escape(path):
    return re.sub(r'([*?\[\]\\])', r'\\\1', path)


def purge_plan(base, mounts):
    """How registry_purge_data removes registry_base_dir when file systems are mounted at or under it
    (data/ on its own disk): everything inside is deleted, the mount points (and the directories that
    lead to them) are kept, as mounted. ``argv`` is a find(1) command; None: remove the whole tree."""
    base = base.rstrip('/') or '/'
    inside = sorted(set(str(m).rstrip('/') or '/' for m in (mounts or [])
                        if str(m).rstrip('/') == base or str(m).startswith(base + '/')))
    if not inside:
        return {'mounts': [], 'keep': [], 'argv': None}
    keep = set()
    for mount in inside:
        path = mount
        while path != base and path.startswith(base + '/'):
            keep.add(path)
            path = os.path.dirname(path)
    argv = ['find', base, '-depth', '-mindepth', '1']
    for path in sorted(keep):
        argv += ['!', '-path', _glob_escape(path)]
    return {'mounts': inside, 'keep': sorted(keep | {base}), 'argv': argv + ['-print', '-delete']}


def _warnings(v, ui):
    warnings = []
    ui_enabled = v.flag('registry_ui_enabled')
    ui_bind = v.text('registry_ui_bind_address')
    if ui_enabled and not v.flag('registry_ui_tls') and not is_loopback(ui_bind):
        warnings.append('WARNING: registry_ui_tls is false and the UI is published on %s: registry credentials'
                        ' cross the network in clear. Keep registry_ui_tls: true, or publish on 127.0.0.1 only.'
                        % ui_bind)
    if ui_enabled and ui is not None and ui.forwards_credentials and not is_loopback(ui_bind):
        proxy = v['registry_ui_proxy_user'] or {}
        warnings.append("WARNING: registry_ui_mode is forward_credentials and the UI is published on %s: ANYONE who"
                        " reaches port %s acts as '%s' for every registry request, push and delete included."
                        % (ui_bind, v['registry_ui_port'], proxy.get('name', '') if isinstance(proxy, dict) else ''))
    if not v.flag('registry_auth_enabled') and v.text('registry_mode') == 'mirror':
        account = v.text('registry_mirror_username')
        warnings.append('WARNING: registry_auth_enabled is false: anyone who reaches port %s can pull through the'
                        ' mirror%s (pushes are refused).'
                        % (v['registry_port'], ' with the upstream account %s' % account if account else ''))
    elif not v.flag('registry_auth_enabled'):
        warnings.append('WARNING: registry_auth_enabled is false: anyone who reaches port %s can push, pull%s.'
                        % (v['registry_port'], ' and delete' if v.flag('registry_delete_enabled') else ''))
    warnings.extend(_day_two_warnings(v))
    return warnings


def _ui_tls_warnings(v, tls, ui_tls):
    if not ui_tls or not tls.ui_shares_key(v):
        return []
    if tls.name == 'provided':
        return ["WARNING: registry_tls_mode provided without registry_ui_tls_certificate and"
                " registry_ui_tls_private_key: the UI serves a copy of the registry's certificate and key (in"
                " ui-certs/), so whoever takes over the UI container holds the registry's key. Give the UI a pair of"
                " its own for these names (docs/SECURITY.md)."]
    return ["WARNING: registry_tls_mode %s: the UI serves a copy of the registry's certificate and key (in"
            " ui-certs/), so whoever takes over the UI container holds the registry's key (docs/SECURITY.md)."
            % tls.name]


def _health_client(v, ctx, tls, present_users):
    published = local_address(v.text('registry_bind_address'))
    url = v.text('registry_health_url') or 'https://%s:%s' % (published, v['registry_port'])
    client = {'url': url, 'server_name': v.text('registry_server_name'),
              'auth_expected': v.flag('registry_auth_enabled')}
    if tls.has_ca(v):
        client['ca_path'] = ctx.paths['ca']
    if v.flag('registry_auth_enabled') and present_users:
        client['username'] = present_users[0].get('name')
        client['password'] = present_users[0].get('password')
    return client


def _overlaps(address, bind):
    """Whether a socket listening on ``address`` takes the port from a publication on ``bind``."""
    return is_wildcard(address) or is_wildcard(bind) or address == bind or (
        bind == 'localhost' and is_loopback(address))


def port_problems(v, info):
    """Ports this deployment would publish that something else on the host holds (from the look)."""
    listening = (info or {}).get('ports') or {}
    ours = []
    for container in (info or {}).get('containers') or []:
        ours.extend(container.get('published') or [])
    wanted = [('registry_port', v['registry_port'], v.text('registry_bind_address'))]
    if v.flag('registry_ui_enabled'):
        wanted.append(('registry_ui_port', v['registry_ui_port'], v.text('registry_ui_bind_address')))
    problems = []
    for name, port, bind in wanted:
        taken = [address for address in listening.get(str(port)) or [] if _overlaps(address, bind)]
        held = [item for item in ours if int(item.get('port') or 0) == int(port)
                and _overlaps(item.get('address') or '0.0.0.0', bind)]
        if taken and not held:
            problems.append('%s: %s is already in use on this host (a socket listens on %s) by something other than'
                            " this deployment (Compose project '%s'); allowed: a free port, or stop what holds it."
                            % (name, port, ', '.join('%s:%s' % (publish_address(a), port) for a in taken),
                               v.text('registry_project_name')))
    return problems


ROLLBACK_FILES = ('config', 'compose', 'ui_tls_conf', 'env', 'ui_env', 'mirror_env', 'notifications_env', 'htpasswd',
                  'ui_cert', 'ui_key')


def rollback_plan(ctx, info):
    """What to keep before applying so that a failed apply can restore the running deployment: the
    files the containers read that exist now, when any container of the project runs."""
    running = any(container.get('state') == 'running' for container in info.get('containers') or [])
    facts = info.get('paths') or {}
    files = [ctx.paths[key] for key in ROLLBACK_FILES if (facts.get(ctx.paths[key]) or {}).get('exists')]
    return {'dir': os.path.join(ctx.base, '.rollback'), 'files': files if running else []}


def _forced(v, info):
    """Reasons to run the apply tasks whatever the host looks like."""
    forced = []
    if v.text('registry_pull_policy') == 'always':
        forced.append('registry_pull_policy is always: Compose looks for newer images')
    images = (info or {}).get('images') or {}
    for archive in v['registry_image_archives'] or []:
        image = archive.get('image')
        if image in images and not images[image]:
            forced.append('image not on the host, to load from its archive: %s' % image)
    return forced


def build_plan(variables, info=None, certificate_sha256=None, read_file=_read_controller_file, maintenance=False,
               ui_certificate_sha256=None):
    """The validated plan (see the module docstring). ``problems`` non-empty: nothing else is planned.
    ``maintenance``: the registry read-only (storage.maintenance.readonly), for garbage collection."""
    if IMPORT_ERROR is not None:
        raise PlanError('dockyard.registry needs the cryptography and bcrypt Python libraries on the controller'
                        ' (pip install cryptography bcrypt): %s' % IMPORT_ERROR)
    v = Variables(variables)
    ctx = Context(v, read_file)
    major, tls, ui, storage = _validate(v, ctx)
    mode = _registry_mode(v, major)
    present = v.text('registry_state') == 'present'
    if present:
        _ui_tls_problems(v, ctx, tls)
    plan = {'problems': v.problems, 'state': v.text('registry_state'), 'dirs': ctx.dirs, 'paths': ctx.paths}
    if v.problems or not present:
        plan['look'] = {'paths': [], 'images': [], 'certificate': None, 'htpasswd': None, 'health': None,
                        'project_name': None, 'ports': [], 's3': None, 'data_dir': None, 'ui_certificate': None,
                        'mounts_under': ctx.base if not present and v.flag('registry_purge_data') else None}
        if not present:
            plan['purge'] = purge_plan(ctx.base, (info or {}).get('mounts'))
        return plan

    ui_enabled = v.flag('registry_ui_enabled')
    ui_tls = ui_enabled and v.flag('registry_ui_tls')
    users, proxy = _users(v)
    forwarding = ui_enabled and ui.forwards_credentials
    all_users = users + ([dict(proxy, state='present')] if forwarding else [])
    present_users = [user for user in all_users if user.get('state', 'present') == 'present']
    secret = v.text('registry_http_secret')
    extra_env = secret_env(v, storage)
    env_sha = sha256_text(env_content(secret, extra_env)) if secret else ''
    ui_env_sha = sha256_text(ui_env_content(proxy)) if forwarding else ''

    config = _config(v, major, tls, ui, storage)
    if maintenance:
        config = maintenance_config(config)
    config_text = _config_text(v, major, config)
    if certificate_sha256 is None:
        certificate_sha256 = (((info or {}).get('paths') or {}).get(ctx.paths['cert']) or {}).get('sha256') or ''
    if ui_certificate_sha256 is None:
        ui_certificate_sha256 = (((info or {}).get('paths') or {}).get(ctx.paths['ui_cert']) or {}).get('sha256') or ''
    hashes = {'config': sha256_text(config_text), 'certificate': certificate_sha256,
              'ui_tls_conf': sha256_text(UI_TLS_CONF), 'ui_certificate': ui_certificate_sha256}
    compose = _compose(v, ctx, major, tls, ui, storage, hashes)
    compose_text = MANAGED + to_yaml(compose)
    directories, files = _layout(v, ctx, tls, ui, env_sha, ui_env_sha, env_lines(extra_env))
    generated = [{'path': ctx.paths['config'], 'content': config_text},
                 {'path': ctx.paths['compose'], 'content': compose_text}]
    if ui_tls:
        generated.append({'path': ctx.paths['ui_tls_conf'], 'content': UI_TLS_CONF})
    modes = dict((entry['path'], entry) for entry in files)
    for item in generated:
        item.update(mode=modes[item['path']]['mode'], owner='root', group='root', sha256=sha256_text(item['content']))
    checksums = dict((item['path'], item['sha256']) for item in generated)
    checksums.update(tls.checksums(v, ctx))
    if ui_tls:
        checksums.update(tls.ui_checksums(v, ctx))
    layout = directories + files
    look_paths = []
    for entry in layout:
        option = {'path': entry['path'], 'checksum': bool(entry.get('checksum'))}
        for key in ('sha256', 'regexp'):
            if entry.get(key):
                option[key] = entry[key]
        look_paths.append(option)
    health = _health_client(v, ctx, tls, present_users)
    images = [v.text('registry_image')] + ([v.text('registry_ui_image')] if ui_enabled else [])
    for archive in v['registry_image_archives'] or []:
        if archive.get('image') not in images:
            images.append(archive.get('image'))
    look = {'paths': look_paths, 'certificate': tls.look(v, ctx), 'project_name': v.text('registry_project_name'),
            'ui_certificate': tls.ui_look(v, ctx) if ui_tls else None,
            's3': storage.look(v), 'data_dir': data_dir_look(v, ctx, storage), 'mounts_under': None,
            'images': images, 'health': health if v.flag('registry_health_check') else None,
            'htpasswd': ({'path': ctx.paths['htpasswd'], 'users': all_users,
                          'exclusive': v.flag('registry_users_exclusive'),
                          'update_password': v.text('registry_users_update_password'),
                          'cost': int(v['registry_htpasswd_cost'])}
                         if v.flag('registry_auth_enabled') else None)}
    plan.update({
        'major': major,
        'config_mount': CONFIG_MOUNTS[major],
        'tls': {'mode': tls.name, 'tasks': tls.tasks, 'has_ca': tls.has_ca(v), 'sans': ctx.sans,
                'names_localhost': tls.names_localhost(v)},
        'ca_bundle': tls.ca_bundle(v, ctx),
        'ui': {'enabled': ui_enabled, 'mode': ui.name, 'tls': ui_tls, 'forwards_credentials': forwarding,
               'tls_tasks': tls.ui_tasks, 'ca_path': tls.ui_trust(v, ctx) if ui_tls else '',
               'shares_registry_key': ui_tls and tls.ui_shares_key(v), 'certs_dir': ui_certs_directory(ctx),
               'cert_src': tls.ui_sources(v)[0], 'key_src': tls.ui_sources(v)[1],
               'env_content': ui_env_content(proxy) if forwarding else '',
               'is_loopback': is_loopback(v.text('registry_ui_bind_address')),
               'local_address': local_address(v.text('registry_ui_bind_address')),
               'checked': ui_enabled and (is_loopback(v.text('registry_ui_bind_address'))
                                          or v.text('registry_ui_bind_address') in ('0.0.0.0', '::'))},
        'storage': {'driver': storage.name, 'where': storage.where(v), 'reach': _storage_reach(v, storage)},
        'secret_env': extra_env,
        'mode': {'name': mode.name, 'accepts_pushes': mode.accepts_pushes, 'env_content': mode.env_content(v)},
        'users': all_users,
        'directories': directories,
        'layout': layout,
        'files': generated,
        'config': config,
        'compose': compose,
        'hashes': hashes,
        'checksums': checksums,
        'health': health,
        'look': look,
        'warnings': _warnings(v, ui) + _ui_tls_warnings(v, tls, ui_tls),
        'forced': _forced(v, info),
        'day_two': day_two_plan(v, ctx, maintenance),
    })
    look['ports'] = [int(v['registry_port'])] + ([int(v['registry_ui_port'])] if ui_enabled else [])
    if info is not None:
        plan['rollback'] = rollback_plan(ctx, plain(info))
        plan['problems'].extend(port_problems(v, plain(info)))
        plan['drift'] = registry_drift(plain(info), layout, checksums, compose, certificate=tls.judged_by_look,
                                       htpasswd=v.flag('registry_auth_enabled'))
        if look['ui_certificate'] is not None:
            plan['drift'].extend(certificate_drift(plain(info), 'ui_certificate'))
        plan['problems'].extend(_deployed_problems(v, storage, plain(info)))
        plan['problems'].extend(data_dir_problems(plain(info)))
    return plan


__all__ = ['build_plan', 'PlanError', 'TLS_MODES', 'UI_MODES', 'STORAGE_DRIVERS', 'REGISTRY_MODES', 'DEFINITION_LABEL',
           'STORAGE_LABEL', 'env_content', 'ui_env_content', 'stored_http_secret', 'user_problems', 'env_strings']
