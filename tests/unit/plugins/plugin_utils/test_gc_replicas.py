# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of garbage collection with replicas on shared storage (issue 10): which hosts collect
together (_maintenance.gc_replicas), the refusal of a run that leaves out replicas the inventory
declares on the same storage (and its override), and the refusal of a host schedule on shared
storage (the plan). Each rule has its negative control."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.filter.maintenance import registry_gc_replicas
from ansible_collections.dockyard.registry.plugins.plugin_utils._maintenance import gc_replicas
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import build_plan

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles', 'registry')
SECRET = 'Sup3r/Secret+Key-for-the-gc-unit-tests'
S3 = {'endpoint': 'http://s3.test:7480', 'bucket': 'registry', 'root_directory': '/scale',
      'access_key': 'DYACCESSKEY000000002', 'secret_key': SECRET}


def variables(host='r1', **overrides):
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        values = yaml.safe_load(handle)
    values.update(registry_server_name='localhost', registry_image='registry:2.8.3', registry_ui_image='ui:2',
                  registry_ui_origin='https://localhost:8443', registry_ui_registry_url='https://localhost:5000',
                  registry_users=[{'name': 'admin', 'password': 'Adm1n-passw0rd'}], registry_version='2.8.3',
                  registry_storage_driver='s3', registry_storage_s3=dict(S3), registry_http_secret='h' * 32,
                  _registry_host=host)
    values.update(overrides)
    return values


def peer(**s3):
    return {'registry_storage_driver': 's3', 'registry_storage_s3': dict(S3, **s3)}


FILESYSTEM = {'registry_storage_driver': 'filesystem', 'registry_storage_s3': {}}


def test_filesystem_hosts_collect_alone():
    inventory = {'r1': FILESYSTEM, 'r2': FILESYSTEM}
    found = gc_replicas(variables(registry_storage_driver='filesystem'), inventory=inventory, batch=['r1', 'r2'])
    assert found == {'shared': False, 'where': None, 'replicas': ['r1'], 'together': ['r1'], 'missing': [],
                     'leader': 'r1', 'settle': 0, 'problems': []}


def test_replicas_on_one_bucket_collect_together_first_one_leads():
    inventory = {'r1': peer(), 'r2': peer(), 'r3': peer(), 'lb': {}, 'fs': FILESYSTEM}
    for me in ('r2', 'r3'):
        found = gc_replicas(variables(me), inventory=inventory, batch=['r3', 'r2', 'r1', 'lb', 'fs'])
        assert found['shared'] and found['problems'] == []
        assert found['replicas'] == ['r1', 'r2', 'r3']
        assert found['together'] == ['r3', 'r2', 'r1'] and found['leader'] == 'r3'
        assert found['settle'] == 10
        assert found['where'] == "bucket 'registry' at http://s3.test:7480 under /scale"
        assert SECRET not in repr(found)


@pytest.mark.parametrize('other', [
    {'bucket': 'other'}, {'root_directory': '/elsewhere'}, {'endpoint': 'http://s3.other:7480'}])
def test_other_bucket_root_or_endpoint_is_other_storage(other):
    found = gc_replicas(variables(), inventory={'r1': peer(), 'r2': peer(**other)}, batch=['r1'])
    assert found['replicas'] == ['r1'] and found['missing'] == [] and found['problems'] == []
    # Negative control: the same storage on r2 makes it a replica left out of this run.
    found = gc_replicas(variables(), inventory={'r1': peer(), 'r2': peer()}, batch=['r1'])
    assert found['missing'] == ['r2'] and len(found['problems']) == 1


def test_a_run_without_some_replicas_is_refused_saying_why():
    inventory = {'r1': peer(), 'r2': peer(), 'r3': peer()}
    found = gc_replicas(variables(), inventory=inventory, batch=['r1'])
    assert found['missing'] == ['r2', 'r3'] and found['together'] == ['r1'] and found['settle'] == 0
    assert found['problems'] == [
        "registry_gc_partial_replicas: false, and this garbage collection of s3 storage (bucket 'registry' at"
        " http://s3.test:7480 under /scale) would run on r1 but not on r2, r3, which the inventory declares on the"
        " same storage (--limit, serial, or a host that failed earlier in the play): they would stay read-write,"
        " and a push through them while garbage-collect runs loses its blobs. Run it over every replica (e.g."
        " without --limit), or set registry_gc_partial_replicas: true if the others are stopped or read-only."]
    assert SECRET not in found['problems'][0]
    # Negative controls: every replica in the run, or the user says so explicitly.
    assert gc_replicas(variables(), inventory=inventory, batch=['r1', 'r2', 'r3'])['problems'] == []
    allowed = gc_replicas(variables(registry_gc_partial_replicas=True), inventory=inventory, batch=['r1'])
    assert allowed['problems'] == [] and allowed['missing'] == ['r2', 'r3'] and allowed['leader'] == 'r1'


def test_settle_is_checked_and_only_used_with_several_replicas():
    inventory = {'r1': peer(), 'r2': peer()}
    assert gc_replicas(variables(registry_gc_replica_settle=3), inventory=inventory,
                       batch=['r1', 'r2'])['settle'] == 3
    assert gc_replicas(variables(registry_gc_replica_settle=3), inventory={'r1': peer()}, batch=['r1'])['settle'] == 0
    for bad in (-1, 601, 'soon', True):
        message = 'registry_gc_replica_settle: %r is not allowed; allowed: seconds from 0 to 600' % (bad,)
        found = gc_replicas(variables(registry_gc_replica_settle=bad), inventory=inventory, batch=['r1', 'r2'])
        assert len(found['problems']) == 1 and found['problems'][0].startswith(message)
        # The deployment refuses it too, before anything is touched (registry_gc: true collects after it).
        planned = build_plan(variables(registry_gc_replica_settle=bad))['problems']
        assert len(planned) == 1 and planned[0].startswith(message), planned
        # Negative control: unused (and unchecked) without shared storage.
        assert gc_replicas(variables(registry_gc_replica_settle=bad, registry_storage_driver='filesystem'),
                           inventory=inventory, batch=['r1'])['problems'] == []


def test_the_filter_returns_the_same():
    inventory = {'r1': peer(), 'r2': peer()}
    batch = ['r1', 'r2']
    assert registry_gc_replicas(variables(), inventory, batch) == gc_replicas(variables(), inventory, batch)


def test_argument_specs_and_defaults_declare_the_gc_replica_variables():
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml')) as handle:
        options = yaml.safe_load(handle)['argument_specs']['main']['options']
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        defaults = yaml.safe_load(handle)
    for name, kind, default in (('registry_gc_partial_replicas', 'bool', False),
                                ('registry_gc_replica_settle', 'int', 10)):
        assert options[name]['type'] == kind and options[name]['default'] == default == defaults[name]


def test_plan_refuses_a_host_schedule_on_shared_storage():
    peers = {'r1': peer(), 'r2': peer()}
    found = build_plan(variables(registry_gc_schedule=True, _registry_peers=peers))['problems']
    assert found == [
        "registry_gc_schedule: true on r1, which shares s3 storage (bucket 'registry' at http://s3.test:7480 under"
        " /scale) with r2: a schedule on one host puts that replica alone read-only, and pushes through the others"
        " lose their blobs while garbage-collect runs. Set registry_gc_schedule: false on the replicas and schedule"
        " playbooks/gc.yml over all of them from the controller."]
    # Negative controls: no schedule; a schedule on a host alone on its bucket.
    assert build_plan(variables(registry_gc_schedule=False, _registry_peers=peers))['problems'] == []
    alone = {'r1': peer(), 'r2': peer(bucket='other')}
    assert build_plan(variables(registry_gc_schedule=True, _registry_peers=alone))['problems'] == []
