# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Safe garbage collection (issue 9 part 1) on the real Docker engine with the real registry.

Images that share layers are pushed with the docker CLI, some tags are deleted through the API,
and playbooks/gc.yml must free exactly the blobs no remaining manifest references (the blob files
under data/ before and after), keep every other tag answering with the same digest, serve pulls
during the read-only window while refusing pushes, and leave the registry read-write also when
the collection fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil

import pytest

import gc_lib
from gc_lib import ApiPuller
from roles_lib import HELLO_IMAGE, REPO, curl, run, wait_for

GC_PLAYBOOK = os.path.join(REPO, 'playbooks', 'gc.yml')
ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json'


def blob_files(dep):
    """{digest: size} of the blob data files in the registry's storage on the host."""
    root = os.path.join(dep.base_dir, 'data', 'docker', 'registry', 'v2', 'blobs', 'sha256')
    found = {}
    for dirpath, dummy, files in os.walk(root):
        if 'data' in files:
            found['sha256:' + os.path.basename(dirpath)] = os.path.getsize(os.path.join(dirpath, 'data'))
    return found


def manifest(dep, repository, tag):
    status, headers, body = curl('%s/v2/%s/manifests/%s' % (dep.registry_url, repository, tag), cacert=dep.ca,
                                 user=dep.admin, headers=['Accept: ' + ACCEPT])
    assert status == 200, (repository, tag, status, body)
    document = json.loads(body)
    return headers['docker-content-digest'][0], document


def referenced_blobs(dep, repository, tag):
    digest, document = manifest(dep, repository, tag)
    return {digest} | {document['config']['digest']} | {layer['digest'] for layer in document['layers']}


def delete_tag(dep, repository, tag):
    digest, dummy = manifest(dep, repository, tag)
    status = curl('%s/v2/%s/manifests/%s' % (dep.registry_url, repository, digest), cacert=dep.ca,
                  user=dep.admin, method='DELETE')[0]
    assert status == 202
    return digest


def push(dep, local, repository, tag):
    ref = 'localhost:%d/%s:%s' % (dep.port, repository, tag)
    dep.image_tags.append(ref)
    dep.docker_client('tag', local, ref, check=True)
    return dep.docker_client('push', ref, timeout=300)


def build_from(dep, base, name):
    tag = gc_lib.build_from(dep.docker_client, dep.workdir, base, name, 'dockyard-test/gc')
    dep.image_tags.append(tag)
    return tag


def upload_status(dep):
    return curl('%s/v2/gc/late/blobs/uploads/' % dep.registry_url, cacert=dep.ca, user=dep.admin, method='POST')[0]


def gc(dep, check=False, **overrides):
    return dep.play(check=check, playbook=GC_PLAYBOOK, **overrides)


def script(dep, *args):
    return run([os.path.join(dep.base_dir, 'maintenance', 'registry-maintenance.sh')] + list(args), timeout=300)


@pytest.fixture(scope='module')
def dep(role_deployments):
    deployment = role_deployments('gc', registry_delete_enabled=True, registry_ui_enabled=False)
    deployment.deploy()
    deployment.trust()
    assert deployment.login(*deployment.admin).returncode == 0
    # a, b, c: each the shared base layer + a layer of its own; d: a's layers + one more.
    a = build_from(deployment, HELLO_IMAGE, 'a')
    images = {'a': a, 'b': build_from(deployment, HELLO_IMAGE, 'b'), 'c': build_from(deployment, HELLO_IMAGE, 'c'),
              'd': build_from(deployment, a, 'd')}
    for name, repository in (('a', 'gc/app'), ('b', 'gc/app'), ('c', 'gc/other'), ('d', 'gc/app')):
        proc = push(deployment, images[name], repository, name)
        assert proc.returncode == 0, proc.stderr
    deployment.images = images
    return deployment


def test_dry_run_in_check_mode_deletes_nothing(dep):
    delete_tag(dep, 'gc/app', 'b')
    delete_tag(dep, 'gc/other', 'c')
    before = blob_files(dep)
    result = gc(dep, check=True)
    assert result.rc == 0, result.describe()
    assert 'Would remove 6 blob(s)' in result.stdout, result.stdout[-3000:]
    assert blob_files(dep) == before


def test_gc_frees_exactly_the_unreferenced_blobs(dep):
    before = blob_files(dep)
    kept = referenced_blobs(dep, 'gc/app', 'a') | referenced_blobs(dep, 'gc/app', 'd')
    expected_gone = set(before) - kept
    # b and c: each its manifest, config and own layer; the shared base layer stays (a and d use it).
    assert len(expected_gone) == 6, expected_gone
    result = gc(dep)
    assert result.rc == 0, result.describe()
    after = blob_files(dep)
    assert set(after) == kept
    assert set(before) - set(after) == expected_gone
    freed = sum(before[digest] for digest in expected_gone)
    assert 'Removed 6 blob(s)' in result.stdout, result.stdout[-3000:]
    assert freed > 0
    # Every remaining tag answers with its digest (the playbook's own check), and pulls with docker.
    assert 'tag(s) and' in result.stdout
    for tag in ('a', 'd'):
        ref = 'localhost:%d/gc/app:%s' % (dep.port, tag)
        dep.docker_client('rmi', ref)
        proc = dep.docker_client('pull', ref, timeout=300)
        assert proc.returncode == 0, proc.stderr
    # Read-write again: the running container has the deployed configuration.
    assert 'io.dockyard.registry.maintenance' not in dep.inspect('registry')['Config']['Labels']


def test_read_only_window_serves_pulls_and_refuses_pushes(dep):
    assert script(dep, 'status').stdout.strip() == 'readwrite'
    delete_tag(dep, 'gc/app', 'd')
    proc = script(dep, 'readonly')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    try:
        assert script(dep, 'status').stdout.strip() == 'readonly'
        puller = ApiPuller(dep.registry_url, dep.ca, dep.admin, 'gc/app', 'a')
        puller.start()
        wait_for(lambda: len(puller.pulls) >= 3, 60, what='pulls before the collection')
        collected = script(dep, 'collect')
        wait_for(lambda: len(puller.pulls) >= 6, 60, what='pulls after the collection')
        puller.stop.set()
        puller.join(30)
        assert collected.returncode == 0, collected.stdout + collected.stderr
        assert 'blobs and 1 manifests eligible' not in collected.stdout  # d's manifest only: no --delete-untagged
        failures = [pull for pull in puller.pulls if pull[2]]
        assert failures == [] and len(puller.pulls) >= 6, failures[:3]
        # A push in the window is refused with the registry's read-only answer (2.8: 405 Method not
        # allowed on the upload), by the docker CLI and at the API.
        refused = push(dep, dep.images['b'], 'gc/late', 'b')
        assert refused.returncode != 0
        assert 'HTTP 405' in refused.stderr and 'Method not allowed' in refused.stderr, refused.stderr
        assert upload_status(dep) == 405
    finally:
        back = script(dep, 'readwrite')
    assert back.returncode == 0, back.stdout + back.stderr
    assert script(dep, 'status').stdout.strip() == 'readwrite'
    # Negative control: the same upload and push are accepted once read-write.
    assert upload_status(dep) == 202
    accepted = push(dep, dep.images['b'], 'gc/late', 'b')
    assert accepted.returncode == 0, accepted.stderr


def test_failed_gc_leaves_the_registry_read_write(dep):
    # A manifest revision whose stored blob is not a manifest: garbage-collect fails while marking.
    data = os.path.join(dep.base_dir, 'data', 'docker', 'registry', 'v2')
    content = b'not a manifest\n'
    hexdigest = hashlib.sha256(content).hexdigest()
    blob = os.path.join(data, 'blobs', 'sha256', hexdigest[:2], hexdigest)
    bogus = os.path.join(data, 'repositories', 'gc', 'app', '_manifests', 'revisions', 'sha256', hexdigest)
    for directory in (blob, bogus):
        os.makedirs(directory)
    with open(os.path.join(blob, 'data'), 'wb') as handle:
        handle.write(content)
    with open(os.path.join(bogus, 'link'), 'w') as handle:
        handle.write('sha256:' + hexdigest)
    try:
        result = gc(dep)
        assert result.rc != 0, result.describe()
        assert 'garbage-collect exited with' in result.stdout
        assert script(dep, 'status').stdout.strip() == 'readwrite'
        assert 'io.dockyard.registry.maintenance' not in dep.inspect('registry')['Config']['Labels']
        accepted = push(dep, dep.images['c'], 'gc/after-failure', 'c')
        assert accepted.returncode == 0, accepted.stderr
    finally:
        shutil.rmtree(bogus, ignore_errors=True)
        shutil.rmtree(blob, ignore_errors=True)


def test_cleanup_playbook_runs_retention_then_gc(dep):
    before = blob_files(dep)
    kept = referenced_blobs(dep, 'gc/app', 'a')
    result = dep.play(playbook=os.path.join(REPO, 'playbooks', 'cleanup.yml'), registry_retention_rules=[
        {'repository': 'gc/*', 'keep_last': 0, 'keep_tags': ['a']}])
    assert result.rc == 0, result.describe()
    assert 'Retention deleted 2 tag(s): gc/after-failure:c, gc/late:b' in result.stdout, result.stdout[-3000:]
    after = blob_files(dep)
    assert kept <= set(after) and len(after) < len(before)
    # What is left is exactly what gc/app:a references.
    assert set(after) == kept


def test_schedule_installs_the_same_steps_for_cron_and_removes_them(dep):
    cron_file = '/etc/cron.d/dockyard-registry-gc-%s' % dep.project
    assert not os.path.exists('/run/systemd/system'), 'this test bed has no systemd: the cron path is tested'
    try:
        result = dep.play(registry_gc_schedule=True, registry_gc_cron='17 4 * * 6')
        assert result.rc == 0, result.describe()
        with open(cron_file) as handle:
            lines = [line for line in handle.read().splitlines() if line and not line.startswith('#')]
        command = '%s/maintenance/registry-maintenance.sh gc' % dep.base_dir
        assert lines[-1] == '17 4 * * 6 root %s >> %s/maintenance/gc.log 2>&1' % (command, dep.base_dir)
        # The scheduled command, run as cron would (sh, cron's PATH): a full read-only collection.
        proc = run(['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                    'sh', '-c', command], timeout=300)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert 'DOCKYARD_GC_RESULT rc=0 readwrite_rc=0' in proc.stdout
        assert script(dep, 'status').stdout.strip() == 'readwrite'
        # Bad time: one clear error, nothing touched.
        bad = dep.play(registry_gc_schedule=True, registry_gc_cron='every sunday')
        assert bad.rc != 0 and "registry_gc_cron: 'every sunday' is not allowed" in bad.stdout
        with open(cron_file) as handle:
            assert '17 4 * * 6 root' in handle.read()
        off = dep.play(registry_gc_schedule=False)
        assert off.rc == 0, off.describe()
        assert not os.path.exists(cron_file)
    finally:
        if os.path.exists(cron_file):
            os.remove(cron_file)
