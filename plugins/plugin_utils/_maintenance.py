# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a garbage collection did, read from the output of the role's maintenance script
(``registry garbage-collect`` and the script's own DOCKYARD_GC_RESULT line)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_SUMMARY_RE = re.compile(r'(\d+) blobs marked, (\d+) blobs and (\d+) manifests eligible for deletion')
_BLOB_RE = re.compile(r'blob eligible for deletion: (sha256:[0-9a-f]{64})')
_MANIFEST_RE = re.compile(r'manifest eligible for deletion: (sha256:[0-9a-f]{64})')
_RESULT_RE = re.compile(r'^DOCKYARD_GC_RESULT((?: \w+=-?\d+)+)\s*$', re.M)


def gc_summary(output, dry_run=False):
    """{blobs_marked, blobs_deleted, manifests_deleted, deleted_blobs, bytes_before, bytes_after,
    bytes_freed, window_seconds, gc_seconds, rc, dry_run}. Byte and time figures are None when the
    output does not have them (a dry run switches nothing and measures nothing)."""
    text = output or ''
    summary = _SUMMARY_RE.findall(text)
    blobs = sorted(set(_BLOB_RE.findall(text)))
    manifests = sorted(set(_MANIFEST_RE.findall(text)))
    result = {
        'dry_run': bool(dry_run),
        'blobs_marked': int(summary[-1][0]) if summary else None,
        'blobs_deleted': int(summary[-1][1]) if summary else len(blobs),
        'manifests_deleted': int(summary[-1][2]) if summary else len(manifests),
        'deleted_blobs': blobs,
        'deleted_manifests': manifests,
        'bytes_before': None, 'bytes_after': None, 'bytes_freed': None,
        'window_seconds': None, 'gc_seconds': None, 'rc': None,
    }
    found = _RESULT_RE.findall(text)
    if found:
        values = dict(item.split('=', 1) for item in found[-1].split())
        values = dict((key, int(value)) for key, value in values.items())
        result['rc'] = values.get('rc')
        if values.get('bytes_before', -1) >= 0 and values.get('bytes_after', -1) >= 0:
            result['bytes_before'] = values['bytes_before']
            result['bytes_after'] = values['bytes_after']
            result['bytes_freed'] = values['bytes_before'] - values['bytes_after']
        if 'window_ms' in values:
            result['window_seconds'] = round(values['window_ms'] / 1000.0, 3)
        if 'gc_ms' in values:
            result['gc_seconds'] = round(values['gc_ms'] / 1000.0, 3)
    return result


_PURGE_RE = re.compile(r'^DOCKYARD_PURGE_RESULT((?: \w+=-?\d+)+)\s*$', re.M)


def uploads_summary(listing, root, purge_output=None, dry_run=False):
    """The unfinished uploads under ``root`` (data/docker/registry/v2/repositories), read from
    ``du -sb`` of each ``<repository>/_uploads/<id>`` directory, and what ``registry-maintenance.sh
    purge-uploads`` removed: {uploads: [{repository, id, bytes}], count, bytes, removed, rc,
    window_seconds, dry_run}."""
    root = root.rstrip('/') + '/'
    uploads = []
    for line in (listing or '').splitlines():
        size, dummy, path = line.partition('\t')
        if not size.strip().isdigit() or not path.startswith(root) or '/_uploads/' not in path:
            continue
        repository, dummy, upload = path[len(root):].rpartition('/_uploads/')
        uploads.append({'repository': repository, 'id': upload, 'bytes': int(size)})
    uploads.sort(key=lambda item: (item['repository'], item['id']))
    result = {'dry_run': bool(dry_run), 'uploads': uploads, 'count': len(uploads),
              'bytes': sum(item['bytes'] for item in uploads), 'removed': 0, 'rc': None, 'window_seconds': None}
    found = _PURGE_RE.findall(purge_output or '')
    if found:
        values = dict((key, int(value)) for key, value in (item.split('=', 1) for item in found[-1].split()))
        result['rc'] = values.get('rc')
        result['removed'] = values.get('uploads', 0)
        if 'window_ms' in values:
            result['window_seconds'] = round(values['window_ms'] / 1000.0, 3)
    return result
