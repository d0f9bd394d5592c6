# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What differs between a host, as one read-only look (dockyard.registry.registry_info) found it,
and the registry role's plan.

A rerun on a host that is already as wanted then costs one module run instead of twenty. Every
rule here errs on the side of drift: anything not positively known to be as wanted is drift, and
the role then runs its normal (idempotent) tasks, which decide exactly what to change.

Each difference is structured, as community.docker's DifferenceTracker records them: ``what``
differs, what is ``wanted`` and what was ``found`` (never a secret or a secret's checksum), plus a
readable ``message``. ``difference_diff()`` turns them into Ansible's before/after diff.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json

from ansible.errors import AnsibleFilterError

DEFINITION_LABEL = 'io.dockyard.registry.definition-sha256'
_STATES = ('file', 'directory', 'absent')


class DifferenceTracker(object):
    """Differences in the order they were found."""

    def __init__(self):
        self.differences = []

    def add(self, what, wanted, found, message):
        self.differences.append({'what': what, 'wanted': wanted, 'found': found, 'message': message})

    def extend(self, other):
        self.differences.extend(other.differences)


def difference_diff(differences):
    """Ansible's diff (before: what was found, after: what is wanted), one line per difference."""
    before = ''.join('%s: %s\n' % (item['what'], _show(item['found'])) for item in differences)
    after = ''.join('%s: %s\n' % (item['what'], _show(item['wanted'])) for item in differences)
    return {'before_header': 'host', 'after_header': 'plan', 'before': before, 'after': after}


def _show(value):
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


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


def layout_entries(layout):
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
    for entry in layout_entries(layout):
        option = {'path': entry['path'], 'checksum': bool(entry.get('checksum'))}
        for key in ('sha256', 'regexp'):
            if entry.get(key):
                option[key] = entry[key]
        options.append(option)
    return options


def _path_drift(tracker, entry, fact, facts, checksums):
    path = entry['path']
    state = entry.get('state', 'file')
    if fact is None:
        return tracker.add(path, state, 'not inspected', '%s: not inspected' % path)
    if state == 'absent':
        if fact.get('exists'):
            tracker.add(path, 'absent', fact.get('type') or 'present', '%s: exists, should not' % path)
        return None
    if not fact.get('exists'):
        return tracker.add(path, state, 'missing', '%s: missing' % path)
    if fact.get('type') != state:
        return tracker.add(path, state, fact.get('type'), '%s: is a %s, should be a %s' % (path, fact.get('type'), state))
    for attribute in ('mode', 'owner', 'group'):
        wanted = entry.get(attribute)
        if wanted is not None and str(fact.get(attribute)) != str(wanted):
            tracker.add('%s %s' % (path, attribute), str(wanted), str(fact.get(attribute)),
                        '%s: %s is %s, should be %s' % (path, attribute, fact.get(attribute), wanted))
    if path in checksums and (not fact.get('sha256') or fact.get('sha256') != checksums[path]):
        tracker.add('%s content' % path, 'as planned', 'other content', '%s: content differs' % path)
    same_as = entry.get('same_as')
    if same_as and (not fact.get('sha256') or (facts.get(same_as) or {}).get('sha256') != fact.get('sha256')):
        tracker.add('%s content' % path, 'same as %s' % same_as, 'other content',
                    '%s: differs from %s' % (path, same_as))
    if entry.get('sha256') and fact.get('sha256_matches') is not True:
        # A secret file: neither its content nor its checksum is shown.
        tracker.add('%s content' % path, '(secret, as planned)', '(secret, differs)', '%s: content differs' % path)
    if entry.get('regexp') and fact.get('matches') is not True:
        tracker.add('%s content' % path, '(secret, in the form the role writes)', '(secret, in another form)',
                    '%s: content is not what the role writes' % path)
    return None


def _container_drift(tracker, info, compose):
    containers = info.get('containers')
    if containers is None:
        reason = (info.get('docker') or {}).get('error') or 'no answer'
        return tracker.add('containers', 'listed', 'not listed (%s)' % reason, 'containers: not listed (%s)' % reason)
    services = (compose or {}).get('services') or {}
    by_service = {}
    for container in containers:
        by_service.setdefault(container.get('service'), []).append(container)
    for name, found in sorted(by_service.items(), key=lambda item: str(item[0])):
        if name not in services:
            tracker.add('service %s' % name, 'absent', found[0].get('name'),
                        'service %s: container %s is not in the Compose file' % (name, found[0].get('name')))
    images = info.get('images') or {}
    for name in sorted(services):
        service = services[name]
        found = by_service.get(name, [])
        what = 'service %s' % name
        if len(found) != 1:
            tracker.add(what + ' containers', 1, len(found), 'service %s: %d containers, should be 1' % (name, len(found)))
            continue
        container = found[0]
        if container.get('state') != 'running':
            tracker.add(what + ' state', 'running', container.get('state'),
                        'service %s: container is %s' % (name, container.get('state')))
        wanted = (service.get('labels') or {}).get(DEFINITION_LABEL)
        have = (container.get('labels') or {}).get(DEFINITION_LABEL)
        if not wanted or have != wanted:
            tracker.add(what + ' definition', wanted, have,
                        'service %s: the container was created from another definition' % name)
        image_id = images.get(service.get('image'))
        if not image_id:
            tracker.add(what + ' image', service.get('image'), 'not on the host',
                        'service %s: image %s is not on the host' % (name, service.get('image')))
        elif container.get('image_id') != image_id:
            tracker.add(what + ' image', image_id, container.get('image_id'),
                        'service %s: the container runs another image than %s' % (name, service.get('image')))
    return None


def registry_drift(info, layout, checksums=None, compose=None, certificate=True, htpasswd=True):
    """The differences ({what, wanted, found, message}) between the host (``info``) and the plan.

    ``layout``: [{path, state, mode, owner, group, checksum, sha256, regexp, same_as}];
    ``checksums``: {path: sha256} of files whose content the controller knows;
    ``compose``: the Compose project (its services stamped with ``stamp_definitions``);
    ``certificate`` / ``htpasswd``: whether the module's certificate / htpasswd verdicts count.
    """
    if not isinstance(info, dict):
        raise AnsibleFilterError('registry_drift: expected the result of dockyard.registry.registry_info')
    checksums = checksums or {}
    facts = info.get('paths') or {}
    tracker = DifferenceTracker()
    for entry in layout_entries(layout):
        _path_drift(tracker, entry, facts.get(entry['path']), facts, checksums)
    if certificate:
        reason = (info.get('certificate') or {}).get('reason')
        if reason != 'valid':
            tracker.add('certificate', 'valid', reason or 'not inspected', 'certificate: %s' % (reason or 'not inspected'))
    if htpasswd:
        users = info.get('htpasswd')
        if users is None:
            tracker.add('htpasswd', 'inspected', 'not inspected', 'htpasswd: not inspected')
        elif users.get('changed'):
            found = dict((key, users.get(key) or []) for key in ('added', 'removed', 'updated'))
            tracker.add('htpasswd users', 'as listed', found, 'htpasswd: users to add %s, remove %s, update %s' % (
                found['added'], found['removed'], found['updated']))
    if compose is not None:
        _container_drift(tracker, info, compose)
    return tracker.differences


def certificate_drift(info, key='ui_certificate'):
    """The look's verdict on another key and certificate (registry_info's ``ui_certificate``: the
    UI's own) as differences: anything but valid is drift."""
    reason = (info.get(key) or {}).get('reason')
    if reason == 'valid':
        return []
    what = key.replace('_', ' ')
    return [{'what': what, 'wanted': 'valid', 'found': reason or 'not inspected',
             'message': '%s: %s' % (what, reason or 'not inspected')}]


def compare_result(differences, forced=None):
    """The result of dockyard.registry.registry_compare: changed when the host differs from the plan
    (``forced`` reasons run the apply tasks without being a difference), with the diff."""
    differences = differences or []
    forced = forced or []
    if not isinstance(differences, list) or not all(
            isinstance(item, dict) and {'what', 'wanted', 'found', 'message'} <= set(item) for item in differences):
        raise ValueError('differences: expected a list of {what, wanted, found, message} (the plan\'s drift)')
    if not isinstance(forced, list):
        raise ValueError('forced: expected a list of reasons')
    result = {
        'changed': bool(differences),
        'differences': differences,
        'forced': [str(reason) for reason in forced],
        'apply': bool(differences or forced),
        'msg': '; '.join([item['message'] for item in differences] + [str(reason) for reason in forced])
        or 'the host is as planned',
    }
    if differences:
        result['diff'] = difference_diff(differences)
    return result
