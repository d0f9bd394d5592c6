# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What the registry_client role decides, as pure functions (the filters of plugins/filter/client.py).

From the role's variables, the registry hosts' endpoints and the CAs read from them: the plan
(what to trust, every problem, the notes), the layout the role writes on the client (the single
source of the apply tasks and of the look at the host), and the drift between that layout and one
read-only look (dockyard.registry.registry_info). Nothing here reads files or runs programs.
Messages name the variable and the value but never certificate or key material, and never a
password.

Private to the collection (controller side, for filter plugins): no stable API.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import base64
import hashlib
import hmac
import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.module_utils.six import string_types

from ansible_collections.dockyard.registry.plugins.plugin_utils._endpoint import (
    EndpointError, docker_address, registry_endpoint)

try:
    from ansible_collections.dockyard.registry.plugins.module_utils._certificate import (
        CertificateError, is_ca_certificate, is_signed_by, load_certificates, parse_subject_alt_name)
except ImportError as exc:  # pragma: no cover - reported when a filter is used
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

_PEM_BLOCK = re.compile(r'-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----', re.DOTALL)
_PEM_BEGIN = re.compile(r'-----BEGIN ([A-Z0-9 ]+)-----')
_REGISTRY = re.compile(r'^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::[0-9]{1,5})?$')


def _require_imports():
    if IMPORT_ERROR is not None:
        raise AnsibleFilterError('dockyard.registry filters need the cryptography Python library on the '
                                 'controller: %s' % IMPORT_ERROR)


def _certificate_blocks(content):
    return ['-----BEGIN CERTIFICATE-----%s-----END CERTIFICATE-----' % body
            for label, body in _PEM_BLOCK.findall(content) if label == 'CERTIFICATE']


def ca_certificate_problems(content, what='ca_cert_content'):
    """Why ``content`` is not a CA certificate to trust; [] when it is one.

    Refused: no text, any PEM block that is not CERTIFICATE (a private key above all), a block
    that does not parse, and a bundle where no certificate is a CA (basicConstraints CA:TRUE)
    or self-signed (a registry's self-signed server certificate is its own trust anchor).
    """
    _require_imports()
    if not isinstance(content, string_types) or not content.strip():
        return ['%s: no certificate (empty); expected the PEM text of the CA certificate' % what]
    labels = _PEM_BEGIN.findall(content)
    others = sorted(set(label for label in labels if label != 'CERTIFICATE'))
    if others:
        return ['%s: holds a %s block; only the CA certificate (BEGIN CERTIFICATE) may be installed '
                'on clients, never a key' % (what, ' and a '.join(others))]
    blocks = _certificate_blocks(content)
    if not blocks or len(blocks) != len(labels):
        return ['%s: not a PEM certificate (expected -----BEGIN CERTIFICATE----- ... '
                '-----END CERTIFICATE-----)' % what]
    try:
        certs = load_certificates(to_bytes('\n'.join(blocks)))
    except ValueError as exc:
        return ['%s: a certificate block does not parse (%s)' % (what, exc)]
    if not any(is_ca_certificate(cert) or is_signed_by(cert, cert) for cert in certs):
        subjects = ', '.join(cert.subject.rfc4514_string() or '(empty subject)' for cert in certs)
        return ['%s: no CA certificate in it (%s: not CA:TRUE and not self-signed); give the CA that '
                'issued the registry certificate, or the self-signed certificate itself' % (what, subjects)]
    return []


def ca_certificate_pem(content):
    """The CERTIFICATE blocks of ``content`` (text around them dropped), newline-terminated."""
    if not isinstance(content, string_types):
        raise AnsibleFilterError('ca_certificate_pem: expected a string')
    return ''.join(block + '\n' for block in _certificate_blocks(content))


def _int_port(value):
    try:
        port = int(value)
    except (TypeError, ValueError):
        return None
    return port if 1 <= port <= 65535 else None


def client_trust_plan(registries, check_mode=False):
    """Validate and normalise the registries a client trusts.

    Each input entry: name, port, state (present/absent), ca_cert_content (text, or None when it
    could not be read), source (how to name the entry in messages), and optionally
    missing_reason (why the CA could not be read) and public_ca (the registry uses a certificate
    from a public CA: nothing to install). Returns {entries, problems, notes}; entries carry
    name, port, state, address (the certs.d directory name), trust_file, ca_pem and source.
    """
    _require_imports()
    if not isinstance(registries, list):
        raise AnsibleFilterError('client_trust_plan: expected a list of registries')
    entries, problems, notes, seen = [], [], [], {}
    for reg in registries:
        source = reg.get('source') or 'registry'
        name = to_text(reg.get('name') or '').strip()
        port = _int_port(reg.get('port', 5000))
        state = reg.get('state') or 'present'
        try:
            name = parse_subject_alt_name(name, '%s: name' % source).split(':', 1)[1]
            if name.startswith('*'):
                raise CertificateError('%s: name=%r: a wildcard is not a host name' % (source, reg.get('name')))
        except CertificateError as exc:
            problems.append(str(exc).split('; ', maxsplit=1)[0] + '; allowed: the host name or IP address '
                            'clients use for the registry')
            continue
        if port is None:
            problems.append('%s: port %r is not an integer from 1 to 65535' % (source, reg.get('port')))
            continue
        if state not in ('present', 'absent'):
            problems.append("%s: state %r; allowed: 'present', 'absent'" % (source, state))
            continue
        address = docker_address(name, port)
        content = reg.get('ca_cert_content')
        if address in seen:
            # Replicas behind one name (one load balancer) share it: fine when they agree.
            first_source, first_state, first_content = seen[address]
            if state != first_state or (state == 'present' and not (
                    content and first_content and ca_certificate_pem(content) == ca_certificate_pem(first_content))):
                problems.append('%s: %s is also given by %s with another CA or state; give each registry name '
                                'one CA' % (source, address, first_source))
            continue
        seen[address] = (source, state, content)
        entry = {
            'name': name,
            'port': port,
            'state': state,
            'address': address,
            'trust_file': 'dockyard-%s-%d.crt' % (re.sub(r'[^A-Za-z0-9.-]', '_', name), port),
            'ca_pem': '',
            'source': source,
        }
        if state == 'present':
            if reg.get('public_ca'):
                notes.append('%s: %s uses a certificate from a public CA (no CA to install): clients use '
                             'their system trust' % (source, address))
                continue
            if content is None:
                reason = reg.get('missing_reason') or 'no CA certificate given'
                if check_mode:
                    notes.append('%s: %s (check mode: the registry is probably not deployed yet); '
                                 'skipped' % (source, reason))
                else:
                    problems.append('%s: %s' % (source, reason))
                continue
            bad = ca_certificate_problems(content, source)
            if bad:
                problems.extend(bad)
                continue
            entry['ca_pem'] = ca_certificate_pem(content)
        entries.append(entry)
    return {'entries': entries, 'problems': problems, 'notes': notes}


def client_login_problems(logins, variable='registry_client_logins'):
    """One message per bad login entry; never a password."""
    if not isinstance(logins, list):
        return ['%s: must be a list of {registry, username, password, state}' % variable]
    problems, seen = [], {}
    for index, login in enumerate(logins):
        where = '%s[%d]' % (variable, index)
        if not isinstance(login, dict):
            problems.append('%s: must be a dictionary {registry, username, password, state}' % where)
            continue
        registry = to_text(login.get('registry') or '')
        username = to_text(login.get('username') or '')
        state = login.get('state') or 'present'
        if not _REGISTRY.match(registry):
            problems.append("%s: registry %r is not a registry address; allowed: '<host name>:<port>' as in "
                            "`docker login <host name>:<port>`, without scheme or path" % (where, registry))
        if state not in ('present', 'absent'):
            problems.append("%s: state %r; allowed: 'present', 'absent'" % (where, state))
        if state == 'present':
            if not username or ':' in username:
                problems.append('%s: username %r; a non-empty name without ":" is required' % (where, username))
            if not login.get('password'):
                problems.append('%s (user %r at %s): a password is required (put it in vault)'
                                % (where, username, registry))
        key = (registry, login.get('docker_config_dir') or '')
        if key in seen:
            problems.append('%s: %s is also given by %s[%d] for the same Docker configuration; one login per '
                            'registry' % (where, registry, variable, seen[key]))
        seen.setdefault(key, index)
    return problems


def _config(result):
    """The parsed config.json from a slurp result; {} when it is missing or unreadable."""
    if not isinstance(result, dict) or not result.get('content'):
        return {}
    try:
        data = json.loads(to_text(base64.b64decode(result['content'])))
    except (ValueError, TypeError):
        return {}
    return data if isinstance(data, dict) else {}


def _helper(config, registry):
    helpers = config.get('credHelpers') or {}
    if isinstance(helpers, dict) and helpers.get(registry):
        return to_text(helpers[registry])
    return to_text(config.get('credsStore') or '')


def _same(a, b):
    return hmac.compare_digest(to_bytes(a), to_bytes(b))


def _inline(config, registry):
    """(present, 'user:password' text or None) of the auths entry for ``registry``."""
    auths = config.get('auths') or {}
    if not isinstance(auths, dict):
        return False, None
    for key in (registry, 'https://' + registry, 'http://' + registry):
        if key in auths:
            entry = auths[key] if isinstance(auths[key], dict) else {}
            if entry.get('auth'):
                try:
                    return True, to_text(base64.b64decode(entry['auth']))
                except (ValueError, TypeError):
                    return True, None
            if entry.get('username') and entry.get('password'):
                return True, '%s:%s' % (entry['username'], entry['password'])
            return True, None
    return False, None


def _helper_answer(result):
    """(present, Username, Secret) from a `docker-credential-<helper> get` result."""
    if not isinstance(result, dict) or result.get('skipped') or result.get('rc') != 0:
        return False, None, None
    try:
        data = json.loads(result.get('stdout') or '')
    except ValueError:
        return False, None, None
    if not isinstance(data, dict):
        return False, None, None
    return True, data.get('Username'), data.get('Secret')


def docker_login_plan(logins, config_results, helper_results=None):
    """What to do for each login, aligned with ``logins``.

    config_results: slurp results of each login's config.json; helper_results: results of
    ``docker-credential-<helper> get`` (None before they were asked). Each item: index, registry,
    username, state, helper (the credential helper in use, '' for inline auths) and action:
    'login', 'logout', 'none', or 'ask_helper' when only the helper knows. Never a password.
    """
    if not isinstance(logins, list) or not isinstance(config_results, list) or len(config_results) != len(logins):
        raise AnsibleFilterError('docker_login_plan: expected one config result per login')
    if helper_results is not None and (not isinstance(helper_results, list) or len(helper_results) != len(logins)):
        raise AnsibleFilterError('docker_login_plan: expected one helper result per login')
    plan = []
    for index, login in enumerate(logins):
        registry = to_text(login.get('registry') or '')
        username = to_text(login.get('username') or '')
        state = login.get('state') or 'present'
        config = _config(config_results[index])
        helper = _helper(config, registry)
        if helper:
            if helper_results is None:
                action = 'ask_helper'
            else:
                present, user, secret = _helper_answer(helper_results[index])
                if state == 'absent':
                    action = 'logout' if present else 'none'
                else:
                    same = present and user == username and _same(secret or '', login.get('password') or '')
                    action = 'none' if same else 'login'
        else:
            present, pair = _inline(config, registry)
            if state == 'absent':
                action = 'logout' if present else 'none'
            else:
                same = pair is not None and _same(pair, '%s:%s' % (username, login.get('password') or ''))
                action = 'none' if same else 'login'
        plan.append({'index': index, 'registry': registry, 'username': username, 'state': state,
                     'helper': helper, 'action': action})
    return plan


# ------------------------------------------------------------------ where the registries come from

def client_endpoints(groups, hostvars, registries, group):
    """The endpoints (plugin_utils._endpoint.registry_endpoint) of the hosts of ``group``, in
    inventory order, when the role derives its registries from that group: ``registries``
    (registry_client_registries) is empty and ``group`` (registry_client_registry_group) is not.
    Otherwise []. A registry host whose variables describe no registry fails here, naming it."""
    if registries or not group:
        return []
    endpoints = []
    for host in (groups or {}).get(group) or []:
        try:
            endpoints.append(registry_endpoint(hostvars[host], host))
        except EndpointError as exc:
            raise AnsibleFilterError('registry_client_registry_group %r: %s' % (group, exc))
    return endpoints


def client_ca_to_read(endpoints, local_cas=None):
    """The endpoints whose CA the role reads on their registry host (one slurp each): every
    deployed registry with a CA, except those reached with the local connection whose CA the
    controller has read itself (``local_cas``: {ca_path: text}). Another host's file at the same
    path is another file: it is read there."""
    local_cas = local_cas or {}
    return [endpoint for endpoint in endpoints or []
            if endpoint.get('read_ca') and not (endpoint.get('local') and endpoint['ca_path'] in local_cas)]


def _read_host(read):
    item = read.get('item') if isinstance(read, dict) else None
    return item.get('host') if isinstance(item, dict) else item


def client_registries(registries, endpoints=None, ca_reads=None, src_texts=None, group='registry', local_cas=None):
    """The registries to trust, as client_trust_plan takes them.

    ``registries``: registry_client_registries; when it is not empty, each entry's CA is its
    ca_cert_content, else the text of its ca_cert_src (``src_texts``, aligned with ``registries``:
    the controller file's text, '' when it could not be read). Otherwise one registry per endpoint
    of the registry group, with the CA from ``local_cas`` ({ca_path: text} read on the controller
    for hosts reached with the local connection) or else from ``ca_reads`` (slurp results whose
    ``item`` is the endpoint; a host that was not read has no result).
    """
    src_texts = list(src_texts or [])
    if registries:
        result = []
        for index, reg in enumerate(registries):
            src = reg.get('ca_cert_src') or ''
            text = reg.get('ca_cert_content') or ''
            if not text and src:
                text = (src_texts[index] if index < len(src_texts) else '') or ''
            result.append({
                'name': reg.get('name'),
                'port': 5000 if reg.get('port') is None else reg.get('port'),
                'state': reg.get('state') or 'present',
                'ca_cert_content': text or None,
                'missing_reason': ('ca_cert_src: %s is not a readable file on the controller' % src) if src
                else 'ca_cert_content or ca_cert_src is required',
                'source': 'registry_client_registries[%d]' % index,
            })
        return result
    reads = dict((_read_host(read), read) for read in ca_reads or [] if isinstance(read, dict))
    local_cas = local_cas or {}
    result = []
    for endpoint in endpoints or []:
        read = reads.get(endpoint['host']) or {}
        if endpoint.get('local') and endpoint['ca_path'] in local_cas:
            content = to_text(local_cas[endpoint['ca_path']])
        elif 'content' in read:
            content = to_text(base64.b64decode(read['content']))
        else:
            content = None
        result.append({
            'name': endpoint['name'],
            'port': endpoint['port'],
            'state': endpoint['state'],
            'ca_cert_content': content,
            'missing_reason': 'cannot read the CA %s on the registry host (%s); deploy the registry first '
                              '(playbooks/site.yml)' % (endpoint['ca_path'], read.get('msg') or 'skipped'),
            'public_ca': endpoint['public_ca'],
            'source': '%s host %s' % (group, endpoint['host']),
        })
    return result


# ------------------------------------------------------------------ the plan and the layout

# What the role writes on a client, and how (the apply tasks use these, the look checks them).
DIR_ATTRIBUTES = {'mode': '0755', 'owner': 'root', 'group': 'root'}
FILE_ATTRIBUTES = {'mode': '0644', 'owner': 'root', 'group': 'root'}
_VARIABLES = ('registries', 'registry_group', 'certs_dir', 'system_trust', 'system_trust_dir')


def _join(directory, name):
    return '%s/%s' % (directory.rstrip('/') or '', name)


def client_layout(entries):
    """What the client looks like when the plan's entries (with their dir, ca_file, trust_path and
    trust_state) are carried out: [{path, state, mode, owner, group, sha256, when_empty}], state
    file, directory or absent.

    A trusted registry: its certs.d directory, and ca.crt with the CA's checksum. A registry no
    longer trusted: no ca.crt, and no certs.d directory unless other files are in it
    (``when_empty``: the look cannot tell, so an existing one counts as drift and the apply tasks
    decide). The system trust file: as its trust_state says.
    """
    layout = []
    for entry in entries:
        sha256 = hashlib.sha256(to_bytes(entry['ca_pem'])).hexdigest() if entry['state'] == 'present' else None
        if entry['state'] == 'present':
            layout.append(dict(DIR_ATTRIBUTES, path=entry['dir'], state='directory'))
            layout.append(dict(FILE_ATTRIBUTES, path=entry['ca_file'], state='file', sha256=sha256))
        else:
            layout.append({'path': entry['ca_file'], 'state': 'absent'})
            layout.append({'path': entry['dir'], 'state': 'absent', 'when_empty': True})
        if entry['trust_state'] == 'present':
            layout.append(dict(FILE_ATTRIBUTES, path=entry['trust_path'], state='file', sha256=sha256))
        else:
            layout.append({'path': entry['trust_path'], 'state': 'absent'})
    return layout


def client_plan(variables, endpoints=None, ca_reads=None, src_texts=None, check_mode=False, local_cas=None):
    """The registry_client role's plan, from its variables.

    ``variables``: {registries, registry_group, certs_dir, system_trust, system_trust_dir} (the
    role's registry_client_* values); ``endpoints``: client_endpoints(); ``ca_reads``: the slurp
    results of the CAs of those endpoints that have one; ``src_texts``: the text of each
    registries[].ca_cert_src on the controller; ``local_cas``: {ca_path: text} of the endpoints
    reached with the local connection whose CA the controller could read itself (no slurp then).

    Returns client_trust_plan's {entries, problems, notes}, each entry with its ``dir``,
    ``ca_file``, ``trust_path`` and ``trust_state`` (whether the system trust file is wanted),
    plus ``dir_attributes`` and ``file_attributes`` (mode, owner, group of what the apply tasks
    write), ``layout`` (client_layout) and ``look`` (the dockyard.registry.registry_info
    ``paths`` option that inspects that layout; both empty when there is a problem).
    """
    if not isinstance(variables, dict):
        raise AnsibleFilterError('client_plan: expected a dictionary of the role variables, got %s'
                                 % type(variables).__name__)
    missing = [key for key in _VARIABLES if key not in variables]
    if missing:
        raise AnsibleFilterError('client_plan: the role variables lack %s' % ', '.join(missing))
    registries = variables['registries'] or []
    group = variables['registry_group'] or ''
    plan = client_trust_plan(client_registries(registries, endpoints, ca_reads, src_texts, group or 'registry',
                                               local_cas), check_mode=check_mode)
    if not registries and group and not endpoints:
        plan['notes'].append("registry_client_registries is empty and group '%s' has no hosts: no registry to "
                             "trust." % group)
    for entry in plan['entries']:
        entry['dir'] = _join(variables['certs_dir'], entry['address'])
        entry['ca_file'] = _join(entry['dir'], 'ca.crt')
        entry['trust_path'] = _join(variables['system_trust_dir'], entry['trust_file'])
        # Off: a file an earlier run installed goes again.
        entry['trust_state'] = 'present' if variables['system_trust'] and entry['state'] == 'present' else 'absent'
    plan['dir_attributes'], plan['file_attributes'] = dict(DIR_ATTRIBUTES), dict(FILE_ATTRIBUTES)
    if plan['problems']:
        plan['layout'], plan['look'] = [], []
        return plan
    plan['layout'] = client_layout(plan['entries'])
    plan['look'] = [{'path': item['path'], 'checksum': 'sha256' in item} for item in plan['layout']]
    return plan


# ------------------------------------------------------------------ the look and the drift

def client_drift(info, plan):
    """How the client differs from the plan's layout, from one dockyard.registry.registry_info look
    (with the plan's ``look`` as its paths): [{path, what, wanted, found}], empty when nothing would
    change. Anything not known to be as wanted is drift (the apply tasks then decide exactly)."""
    if not isinstance(info, dict) or not isinstance(plan, dict):
        raise AnsibleFilterError('client_drift: expected the result of dockyard.registry.registry_info and the plan')
    facts = info.get('paths') or {}
    drift = []
    for item in plan.get('layout') or []:
        path = item['path']
        fact = facts.get(path)
        if fact is None:
            drift.append({'path': path, 'what': 'inspected', 'wanted': True, 'found': False})
            continue
        if item['state'] == 'absent':
            if fact.get('exists'):
                what = 'exists (removed when empty)' if item.get('when_empty') else 'exists'
                drift.append({'path': path, 'what': what, 'wanted': False, 'found': True})
            continue
        if not fact.get('exists'):
            drift.append({'path': path, 'what': 'exists', 'wanted': True, 'found': False})
            continue
        if fact.get('type') != item['state']:
            drift.append({'path': path, 'what': 'type', 'wanted': item['state'], 'found': fact.get('type')})
            continue
        for attribute in ('mode', 'owner', 'group'):
            if attribute in item and str(fact.get(attribute)) != item[attribute]:
                drift.append({'path': path, 'what': attribute, 'wanted': item[attribute], 'found': fact.get(attribute)})
        if 'sha256' in item and fact.get('sha256') != item['sha256']:
            drift.append({'path': path, 'what': 'sha256', 'wanted': item['sha256'], 'found': fact.get('sha256')})
    return drift
