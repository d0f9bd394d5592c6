# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Where a registry deployed by the role dockyard.registry.registry is, for everyone else.

The registry_client role, the playbooks and molecule need a registry host's name, port, CA path
and so on. The registry role's defaults are not in hostvars (they are role defaults), so every
reader used to restate them (``registry_port | default(5000)``). They are stated once here,
in REGISTRY_DEFAULTS; a unit test proves the table equals roles/registry/defaults/main.yml.

Private to the collection (controller side, for filter plugins): no stable API.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import TLS_MODES, Variables

# The registry role's defaults that an endpoint is made of, exactly as in
# roles/registry/defaults/main.yml (tests/unit/plugins/plugin_utils/test_endpoint.py compares them).
INVENTORY_HOSTNAME = '{{ inventory_hostname }}'
REGISTRY_DEFAULTS = {
    'registry_state': 'present',
    'registry_base_dir': '/opt/registry',
    'registry_server_name': INVENTORY_HOSTNAME,
    'registry_port': 5000,
    'registry_tls_mode': 'self_signed',
    'registry_tls_provided_ca': '',
    'registry_tls_acme_ca_cert': '',
    'registry_auth_enabled': True,
    'registry_users': [],
    'registry_delete_enabled': False,
    'registry_ui_enabled': True,
    'registry_ui_tls': True,
    'registry_ui_bind_address': '127.0.0.1',
    'registry_ui_port': 8443,
}


# What a Docker client installs for each TLS mode of the registry role is the file
# <registry_base_dir>/certs/ca.crt, which the role keeps exactly when the mode's entry in the plan's
# TLS_MODES table says so (TlsMode.has_ca): the table the role itself uses, so the two cannot disagree.
# A mode missing there is an error, never a fallback.
TLS_CLIENT_TRUST = TLS_MODES
# The variables a TlsMode.has_ca reads, with the role's defaults (REGISTRY_DEFAULTS).
_TRUST_VARIABLES = ('registry_tls_provided_ca', 'registry_tls_acme_ca_cert')
STATES = ('present', 'absent')
# Bind addresses that mean "every address": the UI is reached by the registry's name there.
_ANY_ADDRESS = ('0.0.0.0', '::', '')
# Connection plugins that run on the controller itself: its files are the host's files.
LOCAL_CONNECTIONS = ('local', 'ansible.builtin.local')


class EndpointError(ValueError):
    """A registry host's variables do not describe a registry the role could have deployed."""


def _value(hostvars, key):
    """The host's value of ``key``, else the registry role's default; an empty name or directory
    counts as unset (the role cannot deploy with one)."""
    try:
        value = hostvars[key]
    except KeyError:
        value = None
    if value is None or (value == '' and key in ('registry_server_name', 'registry_base_dir')):
        return REGISTRY_DEFAULTS[key]
    return value


def _port(host, key, value):
    try:
        port = int(value)
    except (TypeError, ValueError):
        port = None
    if port is None or isinstance(value, bool) or not 1 <= port <= 65535:
        raise EndpointError('registry host %s: %s %r is not an integer from 1 to 65535' % (host, key, value))
    return port


def _bool(host, key, value):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ('true', 'yes', 'on', '1'):
        return True
    if text in ('false', 'no', 'off', '0'):
        return False
    raise EndpointError('registry host %s: %s %r is not a boolean' % (host, key, value))


def bracketed(name):
    """A host name as it goes into a URL or a Docker registry address ([v6] for IPv6)."""
    return '[%s]' % name if ':' in name and not name.startswith('[') else name


def docker_address(name, port):
    """How Docker names a registry: name:port, or name alone for 443 (docker pull name/image);
    also the directory name under /etc/docker/certs.d."""
    return bracketed(name) if port == 443 else '%s:%d' % (bracketed(name), port)


def registry_endpoint(hostvars, host=None):
    """The registry a host of the registry role publishes, from its hostvars (a mapping).

    ``host`` is the inventory name (default: hostvars' inventory_hostname). Returns host, name,
    port, address (Docker's name for it, the certs.d directory), url, base_dir, ca_path, state,
    tls_mode, has_ca (clients install a CA file), public_ca, read_ca (a deployed registry whose CA
    clients read), local (the host is reached with the local connection: the controller's files
    are its files), auth_enabled, delete_enabled, ui_enabled, ui_url. Raises EndpointError naming
    the host, the variable, the value and what is allowed.
    """
    if host is None:
        try:
            host = hostvars['inventory_hostname']
        except KeyError:
            raise EndpointError('registry_endpoint: the host has no inventory_hostname; pass the host name')
    host = str(host)
    name = _value(hostvars, 'registry_server_name')
    name = host if name == INVENTORY_HOSTNAME else str(name)
    port = _port(host, 'registry_port', _value(hostvars, 'registry_port'))
    state = _value(hostvars, 'registry_state')
    if state not in STATES:
        raise EndpointError('registry host %s: registry_state %r; allowed: %s' % (host, state, ', '.join(STATES)))
    tls_mode = _value(hostvars, 'registry_tls_mode')
    if tls_mode not in TLS_CLIENT_TRUST:
        raise EndpointError('registry host %s: registry_tls_mode %r is unknown; allowed: %s'
                            % (host, tls_mode, ', '.join(sorted(TLS_CLIENT_TRUST))))
    has_ca = TLS_CLIENT_TRUST[tls_mode].has_ca(Variables(dict((key, _value(hostvars, key)) for key in _TRUST_VARIABLES)))
    base_dir = str(_value(hostvars, 'registry_base_dir'))
    ui_enabled = _bool(host, 'registry_ui_enabled', _value(hostvars, 'registry_ui_enabled'))
    ui_port = _port(host, 'registry_ui_port', _value(hostvars, 'registry_ui_port'))
    ui_bind = str(_value(hostvars, 'registry_ui_bind_address'))
    ui_host = bracketed(name) if ui_bind in _ANY_ADDRESS else bracketed(ui_bind)
    ui_scheme = 'https' if _bool(host, 'registry_ui_tls', _value(hostvars, 'registry_ui_tls')) else 'http'
    return {
        'host': host,
        'name': name,
        'port': port,
        'address': docker_address(name, port),
        'url': 'https://%s' % docker_address(name, port),
        'base_dir': base_dir,
        'ca_path': base_dir.rstrip('/') + '/certs/ca.crt',
        'state': state,
        'tls_mode': tls_mode,
        'has_ca': has_ca,
        'public_ca': not has_ca,
        'read_ca': state == 'present' and has_ca,
        'local': hostvars.get('ansible_connection') in LOCAL_CONNECTIONS,
        'auth_enabled': _bool(host, 'registry_auth_enabled', _value(hostvars, 'registry_auth_enabled')),
        'delete_enabled': _bool(host, 'registry_delete_enabled', _value(hostvars, 'registry_delete_enabled')),
        'ui_enabled': ui_enabled,
        'ui_url': '%s://%s:%d/' % (ui_scheme, ui_host, ui_port) if ui_enabled else None,
    }


def registry_credentials(hostvars, user=None):
    """{username, password} a client checks the registry with: ``user`` when given (a dict with
    name and password), else the first user of registry_users that is not absent; {} when there is
    none. Only for no_log options (the password is in it)."""
    if user:
        return {'username': user.get('name'), 'password': user.get('password')}
    users = _value(hostvars, 'registry_users') or []
    for entry in users:
        if isinstance(entry, dict) and entry.get('state', 'present') != 'absent' and entry.get('name'):
            return {'username': entry['name'], 'password': entry.get('password')}
    return {}


def docker_problem(docker, host):
    """The preflight message when Docker is not usable on ``host``, '' when it is.

    ``docker``: the ``docker`` result of dockyard.registry.registry_info ({available, error, ...}).
    """
    docker = docker or {}
    if docker.get('available'):
        return ''
    said = (docker.get('error') or 'no answer').strip()
    return ("Docker is not usable on %s: `docker version` said '%s'. Install and start a Docker engine "
            "first (Debian: apt-get install docker.io; or Docker's docker-ce packages), then run again."
            % (host, said))
