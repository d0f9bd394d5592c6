# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A full data directory is seen, and recovers (issue 8, point 5), on the real engine and registry.

A throw-away deployment keeps its data on a small tmpfs mounted at data/. Before: healthy, the look
says not low (negative control). A push larger than the space left fills it: the push fails, the
container's healthcheck turns unhealthy naming the path and the figures, registry_info reports it
low, and the role fails before touching anything with the same words. playbooks/purge_uploads.yml
in check mode lists the unfinished uploads and removes nothing (playbooks/gc.yml on the full disk
completes, and cannot free them); then it removes them in a
read-only window, the container is healthy again, a push succeeds, and every image pushed before
pulls back with the same digest. Finally registry_state absent + registry_purge_data empties the
mount point and keeps it mounted.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re

import pytest

from roles_lib import HELLO_IMAGE, REPO, docker, run, run_module, wait_for

PURGE_PLAYBOOK = os.path.join(REPO, 'playbooks', 'purge_uploads.yml')
GC_PLAYBOOK = os.path.join(REPO, 'playbooks', 'gc.yml')
TMPFS_MB = 64
MIN_FREE_MB = 24


def mounted(path):
    with open('/proc/self/mountinfo') as handle:
        return any(line.split(' ')[4] == path for line in handle)


def random_image(dep, name, megabytes):
    """An image FROM scratch with one layer of `megabytes` of random data (it compresses to about as much)."""
    ctx = os.path.join(dep.workdir, 'ctx-%s' % name)
    os.makedirs(ctx)
    with open(os.path.join(ctx, 'blob.bin'), 'wb') as handle:
        for dummy in range(megabytes):
            handle.write(os.urandom(1024 * 1024))
    with open(os.path.join(ctx, 'Dockerfile'), 'w') as handle:
        handle.write('FROM scratch\nCOPY blob.bin /blob.bin\n')
    tag = 'dockyard-test/full-disk-%s-%s:1' % (name, dep.project)
    dep.image_tags.append(tag)
    dep.docker_client('build', '-q', '-t', tag, ctx, check=True, timeout=300)
    return tag


def push(dep, local, repository):
    ref = 'localhost:%d/%s:1' % (dep.port, repository)
    dep.image_tags.append(ref)
    dep.docker_client('tag', local, ref, check=True)
    return ref, dep.docker_client('push', ref, timeout=600)


def pushed_digest(proc):
    match = re.search(r'digest: (sha256:[0-9a-f]{64})', proc.stdout)
    assert match, proc.stdout + proc.stderr
    return match.group(1)


def look(dep):
    result, dummy = run_module(dep.workdir, 'dockyard.registry.registry_info', {
        'data_dir': {'path': os.path.join(dep.base_dir, 'data'), 'min_free_mb': MIN_FREE_MB}})
    return result['data_dir']


def uploads(dep):
    root = os.path.join(dep.base_dir, 'data', 'docker', 'registry', 'v2', 'repositories')
    found = []
    for dirpath, dirnames, dummy in os.walk(root):
        if os.path.basename(dirpath) == '_uploads':
            found.extend(os.path.join(dirpath, name) for name in dirnames)
            dirnames[:] = []
    return found


def health(dep):
    state = dep.inspect('registry')['State']['Health']
    return state['Status'], (state.get('Log') or [{}])[-1].get('Output', '')


@pytest.fixture
def dep(role_deployments):
    deployment = role_deployments('disk', registry_ui_enabled=False, registry_data_min_free_mb=MIN_FREE_MB,
                                  registry_healthcheck_interval='2s')
    data = os.path.join(deployment.base_dir, 'data')
    os.makedirs(data)
    run(['mount', '-t', 'tmpfs', '-o', 'size=%dm,mode=0750' % TMPFS_MB, 'tmpfs', data], check=True)
    try:
        yield deployment
    finally:
        docker('compose', '-p', deployment.project, 'down', '--timeout', '5', timeout=180)
        if mounted(data):
            run(['umount', '-l', data], check=True)


def test_a_full_data_directory_is_seen_and_recovers(dep):
    data = os.path.join(dep.base_dir, 'data')
    dep.deploy()
    dep.trust()
    assert dep.login(*dep.admin).returncode == 0

    # Negative control: room to spare, healthy, not low.
    before = look(dep)
    assert before['low'] is False and before['total_bytes'] == TMPFS_MB * 1024 * 1024, before
    assert dep.wait_healthy()

    digests = {}
    for repository, image in (('full/hello', HELLO_IMAGE), ('full/small', random_image(dep, 'small', 8))):
        ref, proc = push(dep, image, repository)
        assert proc.returncode == 0, proc.stderr
        digests[ref] = pushed_digest(proc)

    # A push larger than the space left fills the disk and fails.
    ref, proc = push(dep, random_image(dep, 'big', TMPFS_MB + 16), 'full/big')
    assert proc.returncode != 0, 'a %d MB layer fit in a %d MB tmpfs' % (TMPFS_MB + 16, TMPFS_MB)
    assert uploads(dep), 'the failed push left no unfinished upload'

    # registry_info: low, with the path and the figures.
    full = look(dep)
    assert full['low'] is True, full
    assert full['free_bytes'] < MIN_FREE_MB * 1024 * 1024
    assert full['msg'].startswith('data directory %s has ' % data), full['msg']
    assert 'below registry_data_min_free_mb=%d' % MIN_FREE_MB in full['msg'], full['msg']

    # The container's healthcheck: unhealthy, with the path and the figures in its log.
    status, output = wait_for(lambda: health(dep)[0] == 'unhealthy' and health(dep), 60,
                              what='the registry container to turn unhealthy')
    assert 'data directory %s (/var/lib/registry in the container) has' % data in output, output
    assert 'MiB free of %d MiB, below registry_data_min_free_mb=%d' % (TMPFS_MB, MIN_FREE_MB) in output, output
    del status

    # The role fails before touching anything, saying where, how much and how to recover.
    compose_before = open(os.path.join(dep.base_dir, 'docker-compose.yml')).read()
    identity = dep.identity('registry')
    result = dep.play(registry_log_level='debug')
    assert result.rc != 0
    assert 'below registry_data_min_free_mb=%d' % MIN_FREE_MB in result.output, result.describe()
    assert 'dockyard.registry.purge_uploads' in result.output
    assert open(os.path.join(dep.base_dir, 'docker-compose.yml')).read() == compose_before
    assert dep.identity('registry') == identity

    # A garbage collection on the full disk completes (its read-write step waits for the registry to
    # answer, not for a healthy container) but cannot free unfinished uploads.
    left = uploads(dep)
    result = dep.play(playbook=GC_PLAYBOOK)
    assert result.rc == 0, result.describe()
    assert uploads(dep) == left and look(dep)['low'] is True
    identity = dep.identity('registry')

    # Check mode: lists what it would remove, removes nothing.
    result = dep.play(playbook=PURGE_PLAYBOOK, check=True)
    assert result.rc == 0, result.describe()
    report = result.facts()['registry_purge_uploads_report']
    assert report['dry_run'] is True and report['count'] == len(left) and report['bytes'] > 0, report
    assert {item['repository'] for item in report['uploads']} == {'full/big'}
    assert report['removed'] == 0 and uploads(dep) == left
    assert dep.identity('registry') == identity

    # The one-command recovery.
    result = dep.play(playbook=PURGE_PLAYBOOK)
    assert result.rc == 0, result.describe()
    report = result.facts()['registry_purge_uploads_report']
    assert report['removed'] == len(left) and report['rc'] == 0, report
    assert report['before']['low'] is True and report['after']['low'] is False, report
    assert report['after']['free_bytes'] - report['before']['free_bytes'] >= report['bytes'] // 2, report
    assert uploads(dep) == []
    assert dep.wait_healthy()
    assert look(dep)['low'] is False
    # Read-write again: a push succeeds.
    again, proc = push(dep, random_image(dep, 'again', 4), 'full/again')
    assert proc.returncode == 0, proc.stderr
    digests[again] = pushed_digest(proc)

    # Every image pushed before the disk filled pulls back with the same digest.
    for ref, digest in digests.items():
        dep.docker_client('rmi', ref)
        proc = dep.docker_client('pull', ref, timeout=300)
        assert proc.returncode == 0, proc.stderr
        repo_digests = json.loads(dep.docker_client('image', 'inspect', '--format', '{{json .RepoDigests}}', ref,
                                                    check=True).stdout)
        assert '%s@%s' % (ref.rsplit(':', 1)[0], digest) in repo_digests, (ref, digest, repo_digests)

    # absent + registry_purge_data: data/ is a mount point: emptied, kept, still mounted.
    result = dep.play(registry_state='absent', registry_purge_data=True)
    assert result.rc == 0, result.describe()
    assert mounted(data), 'the purge unmounted data/'
    assert os.listdir(data) == []
    assert sorted(os.listdir(dep.base_dir)) == ['data']
    assert 'kept, empty and still mounted: %s' % data in result.output
