# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a garbage collection did, read from the output of the role's maintenance script
(``registry garbage-collect`` and the script's own DOCKYARD_GC_RESULT line), and which replicas of
shared storage collect together (``gc_replicas``)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    GC_SETTLE_ALLOWED, STORAGE_DRIVERS, Variables)

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


# ------------------------------------------------------------------------------------------------
# Garbage collection of replicas on shared storage: every replica of the storage goes read-only,
# one of them collects, every one goes read-write again. Collecting with one replica still
# read-write would delete blobs that a push through it is writing (distribution's GC marks what
# the manifests reference, then sweeps the rest: a blob uploaded in between is swept).

def gc_replicas(variables, inventory=None, batch=None):
    """Which hosts share this host's storage and how they collect together.

    variables: the role's input (``_registry_input``: registry_* plus ``_registry_host``);
    inventory: {host: {registry_storage_driver, registry_storage_s3, ...}} of the hosts the
    inventory declares beside this one (``_registry_gc_inventory``); batch: the hosts running the
    play's tasks together (``ansible_play_batch``, in play order).

    Returns {shared, where, replicas (every inventory host on this storage), together (those in
    the batch, play order), missing, leader (the one that runs garbage-collect), settle (seconds
    to wait after each replica's switch), problems}."""
    v = Variables(variables)
    me = v.text('_registry_host') if '_registry_host' in v.raw else 'localhost'
    batch = [str(host) for host in (batch or [])] or [me]
    result = {'shared': False, 'where': None, 'replicas': [me], 'together': [me], 'missing': [], 'leader': me,
              'settle': 0, 'problems': []}
    driver = STORAGE_DRIVERS.get(v.text('registry_storage_driver'))
    if driver is not None and driver.shared:
        settle = v.integer('registry_gc_replica_settle', 0, 600, GC_SETTLE_ALLOWED)
        where = driver.where(v)
        replicas = set([me])
        for host, peer in (inventory or {}).items():
            if host == me or not isinstance(peer, dict):
                continue
            # What a host does not set is the role's default (filesystem), not this host's value.
            merged = dict(v.raw, registry_storage_driver='filesystem', registry_storage_s3={})
            merged.update(peer)
            peer_vars = Variables(merged)
            if peer_vars.text('registry_storage_driver') == driver.name and driver.where(peer_vars) == where:
                replicas.add(str(host))
        together = [host for host in batch if host in replicas]
        if me not in together:
            together.append(me)
        missing = sorted(replicas - set(together))
        result.update(shared=True, where=where, replicas=sorted(replicas), together=together, missing=missing,
                      leader=together[0], settle=settle if len(together) > 1 else 0)
        if missing and not v.flag('registry_gc_partial_replicas'):
            v.problem('registry_gc_partial_replicas: false, and this garbage collection of %s storage (%s) would run'
                      ' on %s but not on %s, which the inventory declares on the same storage (--limit, serial, or a'
                      ' host that failed earlier in the play): %s would stay read-write, and a push through them'
                      ' while garbage-collect runs loses its blobs. Run it over every replica (e.g. without'
                      ' --limit), or set registry_gc_partial_replicas: true if the others are stopped or'
                      ' read-only.' % (driver.name, where, ', '.join(together), ', '.join(missing),
                                       'it' if len(missing) == 1 else 'they'))
    result['problems'] = list(v.problems)
    return result
