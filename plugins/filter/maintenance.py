# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The registry role's maintenance filters (plugins/plugin_utils/_maintenance.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: maintenance
short_description: What a garbage collection or an upload purge of the dockyard.registry.registry role did
version_added: 0.1.0
author: dockyard.registry developers (@dockyard)
description:
  - C(registry_gc_summary) reads the output of the role's maintenance script (C(registry garbage-collect) and
    the script's C(DOCKYARD_GC_RESULT) line) and returns the blobs and manifests removed, the bytes of data/
    before and after, and how long the registry was read-only.
  - C(registry_uploads_summary) reads C(du -sb) of each unfinished upload directory (C(<repository>/_uploads/<id>)
    under O(root)) and the C(DOCKYARD_PURGE_RESULT) line of C(registry-maintenance.sh purge-uploads) (O(purge_output)),
    and returns the uploads, their bytes, how many were removed and how long the registry was read-only.
  - C(registry_gc_replicas) groups the hosts of a garbage collection by the storage they share (for S3 the endpoint,
    bucket and root directory); every replica of one storage goes read-only, one of them (the C(leader))
    runs C(garbage-collect), every one goes read-write again. A run that leaves out replicas the inventory
    declares on the same storage is a problem unless C(registry_gc_partial_replicas) is true.
  - The role's internals; the outputs are the C(registry_gc_report) and C(registry_purge_uploads_report) facts of the role.
options:
  _input:
    description:
      - C(registry_gc_summary) the standard output of C(registry-maintenance.sh gc) or of C(garbage-collect --dry-run).
      - C(registry_uploads_summary) the output of C(du -sb) of each unfinished upload directory.
      - C(registry_gc_replicas) the role's variables of this host (with C(_registry_host)).
    type: raw
    required: true
  dry_run:
    description: C(registry_gc_summary) and C(registry_uploads_summary). Whether the output is a dry run's.
    type: bool
    default: false
  root:
    description: C(registry_uploads_summary) only, required there; the repositories directory the listing is under.
    type: str
  purge_output:
    description: C(registry_uploads_summary) only; the standard output of C(registry-maintenance.sh purge-uploads).
    type: str
  inventory:
    description: C(registry_gc_replicas) only. The storage variables of the hosts the inventory declares beside
      this one, by host name.
    type: dict
  batch:
    description: C(registry_gc_replicas) only. The hosts that run the play together (C(ansible_play_batch)).
    type: list
    elements: str
'''

EXAMPLES = r'''
- name: Summarize
  ansible.builtin.set_fact:
    report: "{{ gc_output.stdout | dockyard.registry.registry_gc_summary }}"

- name: The unfinished uploads a listing found
  ansible.builtin.set_fact:
    uploads: "{{ du_output.stdout | dockyard.registry.registry_uploads_summary(root='/opt/registry/data/docker/registry/v2/repositories') }}"

- name: Group the replicas of shared storage
  ansible.builtin.set_fact:
    group: "{{ _registry_input | dockyard.registry.registry_gc_replicas(inventory=peers, batch=ansible_play_batch) }}"
'''

RETURN = r'''
_value:
  description:
    - C(registry_gc_summary) C(blobs_marked), C(blobs_deleted), C(manifests_deleted), C(deleted_blobs),
      C(deleted_manifests), C(bytes_before), C(bytes_after), C(bytes_freed), C(window_seconds), C(gc_seconds),
      C(rc), C(dry_run).
    - C(registry_uploads_summary) C(uploads) (C(repository), C(id), C(bytes)), C(count), C(bytes), C(removed),
      C(rc), C(window_seconds), C(dry_run).
    - C(registry_gc_replicas) C(shared), C(where), C(replicas), C(together), C(missing), C(leader), C(settle),
      C(problems).
  type: dict
'''

from ansible.errors import AnsibleFilterError

from ansible_collections.dockyard.registry.plugins.plugin_utils._maintenance import gc_replicas, gc_summary, uploads_summary
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import PlanError


def registry_gc_summary(output, dry_run=False):
    return gc_summary(output, dry_run=bool(dry_run))


def registry_uploads_summary(listing, root=None, purge_output=None, dry_run=False):
    return uploads_summary(listing, root or '/', purge_output=purge_output, dry_run=bool(dry_run))


def registry_gc_replicas(variables, inventory=None, batch=None):
    try:
        return gc_replicas(variables, inventory=inventory, batch=batch)
    except PlanError as exc:
        raise AnsibleFilterError(str(exc))


class FilterModule(object):
    def filters(self):
        return {'registry_gc_summary': registry_gc_summary, 'registry_uploads_summary': registry_uploads_summary,
                'registry_gc_replicas': registry_gc_replicas}
