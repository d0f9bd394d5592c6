# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry role's maintenance filters (plugins/plugin_utils/_maintenance.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: maintenance
short_description: What a garbage collection of the dockyard.registry.registry role did
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(registry_gc_summary) reads the output of the role's maintenance script (C(registry garbage-collect) and
    the script's C(DOCKYARD_GC_RESULT) line) and returns the blobs and manifests removed, the bytes of data/
    before and after, and how long the registry was read-only.
  - The role's internals; the output is the C(registry_gc_report) fact of the role.
options:
  _input:
    description: The standard output of C(registry-maintenance.sh gc) or of C(garbage-collect --dry-run).
    type: str
    required: true
  dry_run:
    description: Whether the output is a dry run's.
    type: bool
    default: false
'''

EXAMPLES = r'''
- name: Summarize
  ansible.builtin.set_fact:
    report: "{{ gc_output.stdout | dockyard.registry.registry_gc_summary }}"
'''

RETURN = r'''
_value:
  description: C(blobs_marked), C(blobs_deleted), C(manifests_deleted), C(deleted_blobs), C(deleted_manifests),
    C(bytes_before), C(bytes_after), C(bytes_freed), C(window_seconds), C(gc_seconds), C(rc), C(dry_run).
  type: dict
'''

from ansible_collections.dockyard.registry.plugins.plugin_utils._maintenance import gc_summary


def registry_gc_summary(output, dry_run=False):
    return gc_summary(output, dry_run=bool(dry_run))


class FilterModule(object):
    def filters(self):
        return {'registry_gc_summary': registry_gc_summary}
