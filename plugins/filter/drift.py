# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filters the registry role uses to tell, from one read-only look at a host
(dockyard.registry.registry_info), whether anything would change if it applied its state.

A rerun on a host that is already as wanted then costs one module run instead of twenty. Every
rule here errs on the side of drift: anything not positively known to be as wanted is drift, and
the role then runs its normal (idempotent) tasks, which decide exactly what to change.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: drift
short_description: Drift helpers of the dockyard.registry.registry role
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(stamp_definitions) adds to each Compose service a label with the sha256 of the service's own
    definition, so a running container shows which definition it was created from.
  - C(info_paths) turns the role's layout (paths with their wanted type, mode, owner and content)
    into the O(dockyard.registry.registry_info#module:paths) option.
  - C(registry_drift) compares what M(dockyard.registry.registry_info) found with the layout, the
    expected file checksums and the Compose services, and returns one message per difference.
options:
  _input:
    description: The services (C(stamp_definitions)), the layout (C(info_paths)) or the result of
      M(dockyard.registry.registry_info) (C(registry_drift)).
    type: raw
    required: true
'''

EXAMPLES = r'''
- name: Skip the apply path when nothing drifted
  ansible.builtin.include_tasks: present.yml
  when: (info | dockyard.registry.registry_drift(layout, checksums, compose)) | length > 0
'''

RETURN = r'''
_value:
  description: The stamped services, the option list, or a list of messages (empty when in sync).
  type: raw
'''

import hashlib
import json

from ansible.errors import AnsibleFilterError

DEFINITION_LABEL = 'io.dockyard.registry.definition-sha256'
_STATES = ('file', 'directory', 'absent')


def _definition_sha256(service):
    service = dict(service)
    labels = dict(service.get('labels') or {})
    labels.pop(DEFINITION_LABEL, None)
    service['labels'] = labels
    data = json.dumps(service, sort_keys=True, separators=(',', ':'), default=str)
    return hashlib.sha256(data.encode('utf-8')).hexdigest()


def stamp_definitions(services):
    """Each service with the label io.dockyard.registry.definition-sha256 (its own definition's hash)."""
    if not isinstance(services, dict):
        raise AnsibleFilterError('stamp_definitions: expected a dictionary of services, got %s'
                                 % type(services).__name__)
    stamped = {}
    for name, service in services.items():
        if not isinstance(service, dict):
            raise AnsibleFilterError('stamp_definitions: service %r is not a dictionary' % name)
        service = dict(service)
        service['labels'] = dict(service.get('labels') or {}, **{DEFINITION_LABEL: _definition_sha256(service)})
        stamped[name] = service
    return stamped


def _layout_entries(layout):
    if not isinstance(layout, list):
        raise AnsibleFilterError('layout: expected a list of {path, state, ...}, got %s' % type(layout).__name__)
    for entry in layout:
        if not isinstance(entry, dict) or not entry.get('path'):
            raise AnsibleFilterError('layout: every entry needs a path, got %r' % (entry,))
        if entry.get('state', 'file') not in _STATES:
            raise AnsibleFilterError('layout: %s: state must be one of %s' % (entry['path'], ', '.join(_STATES)))
    return layout


def info_paths(layout):
    """The registry_info ``paths`` option for a layout: a checksum where content is compared on the
    controller (``checksum``), the secret checksum (``sha256``) and ``regexp`` passed through."""
    options = []
    for entry in _layout_entries(layout):
        option = {'path': entry['path'], 'checksum': bool(entry.get('checksum'))}
        for key in ('sha256', 'regexp'):
            if entry.get(key):
                option[key] = entry[key]
        options.append(option)
    return options


def _path_drift(entry, fact, facts, checksums):
    path = entry['path']
    state = entry.get('state', 'file')
    if fact is None:
        return ['%s: not inspected' % path]
    if state == 'absent':
        return ['%s: exists, should not' % path] if fact.get('exists') else []
    if not fact.get('exists'):
        return ['%s: missing' % path]
    if fact.get('type') != state:
        return ['%s: is a %s, should be a %s' % (path, fact.get('type'), state)]
    problems = []
    for attribute in ('mode', 'owner', 'group'):
        wanted = entry.get(attribute)
        if wanted is not None and str(fact.get(attribute)) != str(wanted):
            problems.append('%s: %s is %s, should be %s' % (path, attribute, fact.get(attribute), wanted))
    if path in checksums and (not fact.get('sha256') or fact.get('sha256') != checksums[path]):
        problems.append('%s: content differs' % path)
    same_as = entry.get('same_as')
    if same_as and (not fact.get('sha256') or (facts.get(same_as) or {}).get('sha256') != fact.get('sha256')):
        problems.append('%s: differs from %s' % (path, same_as))
    if entry.get('sha256') and fact.get('sha256_matches') is not True:
        problems.append('%s: content differs' % path)
    if entry.get('regexp') and fact.get('matches') is not True:
        problems.append('%s: content is not what the role writes' % path)
    return problems


def _container_drift(info, compose):
    containers = info.get('containers')
    if containers is None:
        return ['containers: not listed (%s)' % ((info.get('docker') or {}).get('error') or 'no answer')]
    services = (compose or {}).get('services') or {}
    by_service = {}
    for container in containers:
        by_service.setdefault(container.get('service'), []).append(container)
    problems = ['service %s: container %s is not in the Compose file' % (name, found[0].get('name'))
                for name, found in sorted(by_service.items(), key=lambda item: str(item[0]))
                if name not in services]
    images = info.get('images') or {}
    for name in sorted(services):
        service = services[name]
        found = by_service.get(name, [])
        if len(found) != 1:
            problems.append('service %s: %d containers, should be 1' % (name, len(found)))
            continue
        container = found[0]
        if container.get('state') != 'running':
            problems.append('service %s: container is %s' % (name, container.get('state')))
        wanted = (service.get('labels') or {}).get(DEFINITION_LABEL)
        if not wanted or (container.get('labels') or {}).get(DEFINITION_LABEL) != wanted:
            problems.append('service %s: the container was created from another definition' % name)
        image_id = images.get(service.get('image'))
        if not image_id:
            problems.append('service %s: image %s is not on the host' % (name, service.get('image')))
        elif container.get('image_id') != image_id:
            problems.append('service %s: the container runs another image than %s' % (name, service.get('image')))
    return problems


def registry_drift(info, layout, checksums=None, compose=None, certificate=True, htpasswd=True, always=None):
    """Messages, one per difference between the host (``info``) and what the role would write.

    ``layout``: [{path, state, mode, owner, group, checksum, sha256, regexp, same_as}];
    ``checksums``: {path: sha256} of files whose content the controller knows;
    ``compose``: the Compose project (its services stamped with ``stamp_definitions``);
    ``certificate`` / ``htpasswd``: whether the module's certificate / htpasswd verdicts count;
    ``always``: messages that are drift whatever the host looks like (e.g. a pull policy of always).
    """
    if not isinstance(info, dict):
        raise AnsibleFilterError('registry_drift: expected the result of dockyard.registry.registry_info')
    checksums = checksums or {}
    facts = info.get('paths') or {}
    problems = list(always or [])
    for entry in _layout_entries(layout):
        problems.extend(_path_drift(entry, facts.get(entry['path']), facts, checksums))
    if certificate:
        reason = (info.get('certificate') or {}).get('reason')
        if reason != 'valid':
            problems.append('certificate: %s' % (reason or 'not inspected'))
    if htpasswd:
        users = info.get('htpasswd')
        if users is None:
            problems.append('htpasswd: not inspected')
        elif users.get('changed'):
            problems.append('htpasswd: users to add %s, remove %s, update %s' % (
                users.get('added') or [], users.get('removed') or [], users.get('updated') or []))
    if compose is not None:
        problems.extend(_container_drift(info, compose))
    return problems


class FilterModule(object):
    def filters(self):
        return {
            'stamp_definitions': stamp_definitions,
            'info_paths': info_paths,
            'registry_drift': registry_drift,
        }
