# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Registry URLs and the Docker daemon's ``registry-mirrors``. Private: not a public API.

Pure functions: the caller reads /etc/docker/daemon.json and asks the running daemon which mirrors
it uses (``docker info``); these functions decide what the file must hold and whether the daemon
must be restarted to use it. Every other key of daemon.json is kept as it is.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

MIRRORS_KEY = 'registry-mirrors'


class DaemonConfigError(Exception):
    """daemon.json or the wanted mirrors cannot be planned (the message names what and why)."""


def registry_url_problem(url):
    """Why ``url`` is not a registry's base URL, http(s) with a host and optional port and nothing
    after it ('' when it is one). Such a URL suits distribution's proxy.remoteurl and the Docker
    daemon's registry-mirrors alike (dockerd refuses to start with a bad mirror)."""
    match = re.match(r'^(https?)://([^/?#]*)(/?)$', url or '', re.I)
    if not match:
        if re.match(r'^https?://[^/?#]*[/?#].', url or '', re.I):
            return 'has a path, query or fragment (a registry is addressed from its root)'
        return 'is not an http:// or https:// URL'
    authority = match.group(2)
    if '@' in authority:
        return 'holds credentials (they would be stored in clear)'
    host = authority
    port = None
    if host.startswith('['):
        host, dummy, rest = host[1:].partition(']')
        if rest:
            port = rest[1:] if rest.startswith(':') else '!'
    elif ':' in host:
        host, dummy, port = host.partition(':')
    if not host or (port is not None and not (port.isdigit() and 1 <= int(port) <= 65535)):
        return 'has no host or a bad port'
    return ''


def redact_url(url):
    """``url`` without the password of a user:password@ part (for messages)."""
    return re.sub(r'^([a-z]+://[^:/@]*):[^@/]*@', r'\1:(hidden)@', url or '', flags=re.I)


def normalize_mirror(url):
    """A mirror as the daemon reports it (``docker info``): lower-case scheme and host, one final '/'."""
    match = re.match(r'^(https?://[^/?#]*)/?$', url.strip(), re.I)
    return (match.group(1).lower() if match else url.strip()) + '/'


def mirror_problems(mirrors, variable='registry_client_mirrors'):
    """One message per bad entry of the wanted mirrors list."""
    if not isinstance(mirrors, list):
        return ['%s: must be a list of mirror URLs, got %s' % (variable, type(mirrors).__name__)]
    problems = []
    seen = set()
    for index, url in enumerate(mirrors):
        if not isinstance(url, str):
            problems.append('%s[%d]: must be a URL string, got %s' % (variable, index, type(url).__name__))
            continue
        problem = registry_url_problem(url)
        if problem:
            problems.append("%s[%d]: '%s' %s; allowed: http:// or https:// with a host and optional port, e.g."
                            " https://mirror.example:5000 (dockerd refuses to start with anything else)."
                            % (variable, index, redact_url(url), problem))
        elif normalize_mirror(url) in seen:
            problems.append("%s[%d]: '%s' is listed twice." % (variable, index, url))
        seen.add(normalize_mirror(url))
    return problems


def plan_daemon_json(text, mirrors, path='/etc/docker/daemon.json'):
    """What daemon.json must hold for ``mirrors``.

    ``text``: the file's current content ('' or None when it does not exist). Returns a dict:
    ``content`` (the original text when nothing changes, so formatting and every other key stay),
    ``changed``, ``before`` (the mirrors the file listed) and ``after`` (the mirrors it will list).
    Raises DaemonConfigError for a file that is not a JSON object, or bad mirrors.
    """
    problems = mirror_problems(mirrors)
    if problems:
        raise DaemonConfigError('; '.join(problems))
    data = {}
    if text is not None and text.strip():
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise DaemonConfigError('%s is not valid JSON (%s); the Docker daemon would not start with it either.'
                                    ' Fix it by hand first: it is never overwritten.' % (path, exc))
        if not isinstance(data, dict):
            raise DaemonConfigError('%s holds a JSON %s, not an object; fix it by hand first: it is never'
                                    ' overwritten.' % (path, type(data).__name__))
    before = data.get(MIRRORS_KEY)
    if before is not None and not isinstance(before, list):
        raise DaemonConfigError('%s: "%s" is not a list; fix it by hand first.' % (path, MIRRORS_KEY))
    before = list(before or [])
    after = [url.strip() for url in mirrors]
    same = [normalize_mirror(str(url)) for url in before] == [normalize_mirror(url) for url in after]
    if same and text is not None and text.strip():
        return {'content': text, 'changed': False, 'before': before, 'after': before}
    data[MIRRORS_KEY] = after
    return {'content': json.dumps(data, indent=2) + '\n', 'changed': True, 'before': before, 'after': after}


def restart_needed(live, wanted):
    """Whether the running daemon (``live``: docker info's RegistryConfig.Mirrors) does not use
    exactly the ``wanted`` mirrors, in that order."""
    return [normalize_mirror(str(url)) for url in (live or [])] != [normalize_mirror(str(url)) for url in wanted]
