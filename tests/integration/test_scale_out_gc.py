# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Garbage collection of two registry replicas sharing one bucket on the real Ceph RADOS Gateway,
haproxy in front (scale_lib.ScaleOut, as test_scale_out.py), with playbooks/gc.yml over both.

Images that share layers are pushed through the balancer, two tags are deleted, and the
collection must: put EVERY replica read-only before garbage-collect starts (the test holds
garbage-collect at its start with a `docker` wrapper first on the playbook's PATH, and pushes to
each replica directly in that window: both refuse with distribution's read-only answer), run
garbage-collect once, on the first replica, free exactly the blobs no remaining manifest references
(the objects in the bucket before and after, listed over the RGW's S3 API), keep pulls through the
balancer working all along (a pull loop with zero failures, across every replica's restarts), and
leave both replicas read-write (a push to each succeeds). A collection that fails (a manifest
revision in the bucket whose blob is not a manifest) leaves both read-write. A run limited to one
replica is refused before anything is switched; registry_gc_partial_replicas: true is the explicit
override (its negative control).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import shutil
import subprocess

import pytest

import roles_lib
import gc_lib
from gc_lib import ACCEPT, ApiPuller
from scale_lib import scale_out

GC_PLAYBOOK = os.path.join(roles_lib.REPO, 'playbooks', 'gc.yml')
ROOT = 'scalegc'
BLOBS = '%s/docker/registry/v2/blobs/sha256/' % ROOT
# Holds `garbage-collect` (not its --dry-run) at its start until $DYSO_GC_HOLD/release exists, and
# writes each invocation's arguments to $DYSO_GC_HOLD/collect.log; every other docker call passes.
HOOK = '''#!/bin/sh
case " $* " in
    *" garbage-collect "*)
        case " $* " in
            *" --dry-run "*) ;;
            *)
                echo "$*" >> "$DYSO_GC_HOLD/collect.log"
                touch "$DYSO_GC_HOLD/collecting"
                n=0
                while [ ! -e "$DYSO_GC_HOLD/release" ] && [ "$n" -lt 3000 ]; do sleep 0.1; n=$((n + 1)); done
                ;;
        esac
        ;;
esac
exec %s "$@"
'''


@pytest.fixture(scope='module')
def rgw(ceph_rgw):
    return ceph_rgw(bucket='registry')


@pytest.fixture(scope='module')
def cluster(rgw, docker_engine, tmp_path_factory):
    with scale_out(tmp_path_factory.mktemp('scalegc'), rgw, root_directory='/' + ROOT) as made:
        # Deleting tags needs the registry's delete API; the balancer marks a replica up within 1 s
        # (checks every 500 ms, rise 2), so 2 s between the replicas' switches.
        made.gc_vars = {'registry_delete_enabled': True, 'registry_gc_replica_settle': 2}
        made.deploy(host_overrides=dict((name, made.gc_vars) for name in made.names))
        made.login_all()
        made.wait_stats({'replica1': 'UP', 'replica2': 'UP'})
        yield made


def build_from(cluster, base, name):
    tag = gc_lib.build_from(cluster.docker, cluster.workdir, base, name, 'dockyard-test/scalegc')
    cluster.image_tags.append(tag)
    return tag


def push(cluster, local, port, repository, tag):
    ref = 'localhost:%d/%s:%s' % (port, repository, tag)
    cluster.tag(local, ref)
    return cluster.docker('push', ref, timeout=300)


def lb_url(cluster):
    return 'https://localhost:%d' % cluster.lb_port


def manifest(cluster, repository, tag):
    status, headers, body = roles_lib.curl('%s/v2/%s/manifests/%s' % (lb_url(cluster), repository, tag),
                                           cacert=cluster.ca, user=cluster.user, headers=['Accept: ' + ACCEPT])
    assert status == 200, (repository, tag, status, body)
    return headers['docker-content-digest'][0], json.loads(body)


def referenced_blobs(cluster, repository, tag):
    digest, document = manifest(cluster, repository, tag)
    return {digest, document['config']['digest']} | {layer['digest'] for layer in document['layers']}


def delete_tag(cluster, repository, tag):
    digest, dummy = manifest(cluster, repository, tag)
    status = roles_lib.curl('%s/v2/%s/manifests/%s' % (lb_url(cluster), repository, digest), cacert=cluster.ca,
                            user=cluster.user, method='DELETE')[0]
    assert status == 202, status


def bucket_blobs(cluster):
    """{digest: size} of the blob objects in the bucket under the replicas' root directory."""
    found = {}
    for key, size in cluster.rgw.list_objects(prefix=BLOBS).items():
        if key.endswith('/data'):
            found['sha256:' + key.split('/')[-2]] = size
    return found


def modes(cluster):
    """{replica: readonly or readwrite}: the running container's maintenance label (as
    registry-maintenance.sh status reads it)."""
    found = {}
    for name in cluster.names:
        labels = json.loads(roles_lib.docker('inspect', '-f', '{{json .Config.Labels}}', cluster.container(name),
                                             check=True).stdout)
        found[name] = labels.get('io.dockyard.registry.maintenance') or 'readwrite'
    return found


def upload_status(cluster, port):
    return roles_lib.curl('https://localhost:%d/v2/scalegc/late/blobs/uploads/' % port, cacert=cluster.ca,
                          user=cluster.user, method='POST')[0]


def gc_playbook(cluster, inventory, limit=None, extra=None, hold=None, background=False):
    """playbooks/gc.yml over the cluster's inventory; hold: a directory for the garbage-collect hook."""
    argv = ['ansible-playbook', '-i', inventory, GC_PLAYBOOK]
    if limit:
        argv += ['--limit', limit]
    for key, value in sorted((extra or {}).items()):
        argv += ['-e', '%s=%s' % (key, json.dumps(value))]
    env = roles_lib.playbook_env()
    if hold:
        hook_dir = os.path.join(hold, 'bin')
        os.makedirs(hook_dir)
        with open(os.path.join(hook_dir, 'docker'), 'w') as handle:
            handle.write(HOOK % shutil.which('docker'))
        os.chmod(os.path.join(hook_dir, 'docker'), 0o755)
        env = roles_lib.playbook_env(hook_dir, DYSO_GC_HOLD=hold)
    if background:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=roles_lib.REPO)
        return roles_lib.RunningPlaybook(argv, proc)
    proc = roles_lib.run(argv, env=env, timeout=900, cwd=roles_lib.REPO)
    return roles_lib.PlaybookResult(argv, proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture(scope='module')
def images(cluster):
    # a, b, c: each the shared base layer + a layer of its own; d: a's layers + one more.
    a = build_from(cluster, roles_lib.HELLO_IMAGE, 'a')
    built = {'a': a, 'b': build_from(cluster, roles_lib.HELLO_IMAGE, 'b'),
             'c': build_from(cluster, roles_lib.HELLO_IMAGE, 'c'), 'd': build_from(cluster, a, 'd')}
    for name, repository in (('a', 'scalegc/app'), ('b', 'scalegc/app'), ('c', 'scalegc/other'),
                             ('d', 'scalegc/app')):
        proc = push(cluster, built[name], cluster.lb_port, repository, name)
        assert proc.returncode == 0, proc.stderr
    return built


def test_a_run_limited_to_one_replica_is_refused(cluster, images):
    inventory = cluster.inventory(host_overrides=dict((name, cluster.gc_vars) for name in cluster.names),
                                  name='gc.yml')
    containers = dict((name, cluster.container(name)) for name in cluster.names)
    before = bucket_blobs(cluster)
    result = gc_playbook(cluster, inventory, limit='replica1')
    assert result.rc != 0
    where = "bucket 'registry' at %s under /%s" % (cluster.rgw.ip_endpoint(), ROOT)
    assert ('registry_gc_partial_replicas: false, and this garbage collection of s3 storage (%s) would run on'
            ' replica1 but not on replica2, which the inventory declares on the same storage' % where) \
        in result.stdout, result.stdout[-3000:]
    assert cluster.rgw.secret_key not in result.stdout + result.stderr
    # Nothing was switched or collected: the same containers, read-write, the same objects.
    assert dict((name, cluster.container(name)) for name in cluster.names) == containers
    assert modes(cluster) == {'replica1': 'readwrite', 'replica2': 'readwrite'}
    assert bucket_blobs(cluster) == before
    # Negative control: the same run over both replicas is not refused (in check mode: a dry run).
    proc = roles_lib.run(['ansible-playbook', '-i', inventory, GC_PLAYBOOK, '--check'], env=roles_lib.playbook_env(),
                         timeout=900, cwd=roles_lib.REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert 'Would remove 0 blob(s)' in proc.stdout, proc.stdout[-3000:]
    assert dict((name, cluster.container(name)) for name in cluster.names) == containers


def test_gc_with_every_replica_read_only(cluster, images, tmp_path):
    delete_tag(cluster, 'scalegc/app', 'b')
    delete_tag(cluster, 'scalegc/other', 'c')
    before = bucket_blobs(cluster)
    kept = referenced_blobs(cluster, 'scalegc/app', 'a') | referenced_blobs(cluster, 'scalegc/app', 'd')
    expected_gone = set(before) - kept
    # b and c: each its manifest, config and own layer; the shared base layer stays (a and d use it).
    assert len(expected_gone) == 6, expected_gone
    inventory = cluster.inventory(host_overrides=dict((name, cluster.gc_vars) for name in cluster.names),
                                  name='gc.yml')
    hold = str(tmp_path / 'hold')
    os.makedirs(hold)
    late = build_from(cluster, roles_lib.HELLO_IMAGE, 'late')
    puller = ApiPuller(lb_url(cluster), cluster.ca, cluster.user, 'scalegc/app', 'a', timeout=30)
    puller.start()
    running = None
    try:
        roles_lib.wait_for(lambda: len(puller.pulls) >= 3, 120, what='pulls before the collection')
        running = gc_playbook(cluster, inventory, hold=hold, background=True)
        roles_lib.wait_for(lambda: os.path.exists(os.path.join(hold, 'collecting')) or running.poll() is not None,
                           600, interval=0.2, what='garbage-collect to start')
        assert running.poll() is None, running.result().describe()
        # garbage-collect is held at its start: every replica is read-only, each refuses a push
        # (the docker CLI and the upload API: 2.8 answers 405 Method not allowed) and serves pulls.
        assert modes(cluster) == {'replica1': 'readonly', 'replica2': 'readonly'}
        for name in cluster.names:
            refused = push(cluster, late, cluster.ports[name], 'scalegc/late', name)
            assert refused.returncode != 0, name
            assert 'HTTP 405' in refused.stderr and 'Method not allowed' in refused.stderr, (name, refused.stderr)
            assert upload_status(cluster, cluster.ports[name]) == 405, name
        assert upload_status(cluster, cluster.lb_port) == 405
        in_window = len(puller.pulls)
        roles_lib.wait_for(lambda: len(puller.pulls) >= in_window + 3, 120, what='pulls in the window')
        with open(os.path.join(hold, 'release'), 'w'):
            pass
        result = running.result(timeout=900)
        running = None
        count = len(puller.pulls)
        roles_lib.wait_for(lambda: len(puller.pulls) >= count + 3, 120, what='pulls after the collection')
    finally:
        open(os.path.join(hold, 'release'), 'a').close()
        if running is not None:
            running.kill()
        puller.stop.set()
        puller.join(60)
    assert result.rc == 0, result.describe()
    failures = [pull for pull in puller.pulls if pull[2]]
    assert failures == [] and len(puller.pulls) >= 9, (len(puller.pulls), failures[:3])
    # garbage-collect ran once, on the first replica.
    with open(os.path.join(hold, 'collect.log')) as handle:
        runs = handle.read().splitlines()
    assert len(runs) == 1 and ('-p %s ' % cluster.projects['replica1']) in runs[0], runs
    # Exactly the unreferenced blobs are gone from the bucket.
    after = bucket_blobs(cluster)
    assert set(after) == kept
    assert set(before) - set(after) == expected_gone
    assert 'Removed 6 blob(s)' in result.stdout, result.stdout[-3000:]
    assert 'garbage-collect on replica1 for' in result.stdout and 'read-only: replica1, replica2' in result.stdout
    # Both read-write again: a push to each replica directly succeeds, and the kept tags pull.
    assert modes(cluster) == {'replica1': 'readwrite', 'replica2': 'readwrite'}
    for name in cluster.names:
        accepted = push(cluster, late, cluster.ports[name], 'scalegc/late', name)
        assert accepted.returncode == 0, (name, accepted.stderr)
    for tag in ('a', 'd'):
        ref = 'localhost:%d/scalegc/app:%s' % (cluster.lb_port, tag)
        cluster.docker('rmi', ref)
        proc = cluster.docker('pull', ref, timeout=300)
        assert proc.returncode == 0, proc.stderr


def test_failed_gc_leaves_every_replica_read_write(cluster, images):
    # A manifest revision whose stored blob is not a manifest: garbage-collect fails while marking.
    content = b'not a manifest\n'
    hexdigest = hashlib.sha256(content).hexdigest()
    blob = '%s%s/%s/data' % (BLOBS, hexdigest[:2], hexdigest)
    link = '%s/docker/registry/v2/repositories/scalegc/app/_manifests/revisions/sha256/%s/link' % (ROOT, hexdigest)
    cluster.rgw.put_object(blob, content)
    cluster.rgw.put_object(link, ('sha256:' + hexdigest).encode())
    inventory = cluster.inventory(host_overrides=dict((name, cluster.gc_vars) for name in cluster.names),
                                  name='gc.yml')
    try:
        result = gc_playbook(cluster, inventory)
        assert result.rc != 0, result.describe()
        assert 'garbage-collect exited with 1 on replica1 (every replica of' in result.stdout, result.stdout[-3000:]
        assert modes(cluster) == {'replica1': 'readwrite', 'replica2': 'readwrite'}
        for name in cluster.names:
            late = build_from(cluster, roles_lib.HELLO_IMAGE, 'after-' + name)
            accepted = push(cluster, late, cluster.ports[name], 'scalegc/after-failure', name)
            assert accepted.returncode == 0, (name, accepted.stderr)
    finally:
        for key in (link, blob):
            cluster.rgw.s3('DELETE', cluster.rgw.object_path(key))


def test_partial_run_when_the_user_says_so(cluster, images):
    inventory = cluster.inventory(host_overrides=dict((name, cluster.gc_vars) for name in cluster.names),
                                  name='gc.yml')
    result = gc_playbook(cluster, inventory, limit='replica1', extra={'registry_gc_partial_replicas': True})
    assert result.rc == 0, result.describe()
    assert 'WARNING: registry_gc_partial_replicas: replica2 share(s)' in result.stdout, result.stdout[-3000:]
    assert modes(cluster) == {'replica1': 'readwrite', 'replica2': 'readwrite'}
