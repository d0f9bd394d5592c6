# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The garbage collection's report, read from the maintenance script's output."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.dockyard.registry.plugins.filter.maintenance import FilterModule
from ansible_collections.dockyard.registry.plugins.plugin_utils._maintenance import gc_summary

A, B = 'sha256:' + 'a' * 64, 'sha256:' + 'b' * 64

# distribution 2.8's garbage-collect output (mark, then sweep), then the script's result line.
OUTPUT = '''gc/app
gc/app: marking manifest sha256:%s
gc/app: marking blob sha256:%s

4 blobs marked, 2 blobs and 0 manifests eligible for deletion
blob eligible for deletion: %s
blob eligible for deletion: %s
time="2026-11-29T09:00:00Z" level=info msg="Deleting blob: /docker/registry/v2/blobs/sha256/aa/%s"
2026-11-29T09:00:01.000Z registry-maintenance[x]: read-write
DOCKYARD_GC_RESULT rc=0 readwrite_rc=0 bytes_before=10000 bytes_after=7000 window_ms=4250 gc_ms=310
''' % ('c' * 64, 'd' * 64, A, B, 'a' * 64)


def test_gc_summary_reads_counts_blobs_bytes_and_window():
    report = gc_summary(OUTPUT)
    assert report == {
        'dry_run': False, 'blobs_marked': 4, 'blobs_deleted': 2, 'manifests_deleted': 0,
        'deleted_blobs': [A, B], 'deleted_manifests': [], 'bytes_before': 10000, 'bytes_after': 7000,
        'bytes_freed': 3000, 'window_seconds': 4.25, 'gc_seconds': 0.31, 'rc': 0}


def test_dry_run_output_has_no_bytes_or_window():
    report = FilterModule().filters()['registry_gc_summary'](OUTPUT.split('time=', maxsplit=1)[0], dry_run=True)
    assert report['dry_run'] is True and report['blobs_deleted'] == 2
    assert report['bytes_freed'] is None and report['window_seconds'] is None and report['rc'] is None


def test_unknown_sizes_are_not_reported_as_freed():
    # data/ not on the host (another storage driver): the script says -1.
    report = gc_summary('DOCKYARD_GC_RESULT rc=0 readwrite_rc=0 bytes_before=-1 bytes_after=-1 window_ms=10 gc_ms=5\n')
    assert report['bytes_freed'] is None and report['window_seconds'] == 0.01


def test_failed_collection_and_untagged_manifests():
    text = ('manifest eligible for deletion: %s\n3 blobs marked, 1 blobs and 1 manifests eligible for deletion\n'
            'DOCKYARD_GC_RESULT rc=1 readwrite_rc=0 bytes_before=5 bytes_after=5 window_ms=100 gc_ms=50\n' % A)
    report = gc_summary(text)
    assert report['rc'] == 1 and report['manifests_deleted'] == 1 and report['deleted_manifests'] == [A]
    assert gc_summary('')['blobs_deleted'] == 0
