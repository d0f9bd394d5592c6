# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/scale: see the header of bench/scale. Everything it starts is removed on exit."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import base64
import http.client
import json
import os
import ssl
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import roles_lib  # noqa: E402
import s3_lib  # noqa: E402
from scale_lib import REPOSITORY, ScaleOut  # noqa: E402

ACCEPT = roles_lib.MANIFEST_ACCEPT


def pull_rate(cluster, tag, seconds, clients=8):
    """Pulls per second through the balancer: each pull GETs the manifest, then every blob."""
    context = ssl.create_default_context(cafile=cluster.ca)
    auth = 'Basic ' + base64.b64encode(('%s:%s' % cluster.user).encode()).decode()
    counts, errors = [0] * clients, []
    deadline = time.monotonic() + seconds

    def client(index):
        connection = http.client.HTTPSConnection('localhost', cluster.lb_port, context=context, timeout=60)
        while time.monotonic() < deadline:
            try:
                connection.request('GET', '/v2/%s/manifests/%s' % (REPOSITORY, tag),
                                   headers={'Authorization': auth, 'Accept': ACCEPT})
                answer = connection.getresponse()
                manifest = json.loads(answer.read())
                assert answer.status == 200, answer.status
                for blob in [manifest['config']] + manifest['layers']:
                    connection.request('GET', '/v2/%s/blobs/%s' % (REPOSITORY, blob['digest']),
                                       headers={'Authorization': auth})
                    answer = connection.getresponse()
                    answer.read()
                    assert answer.status == 200, answer.status
                counts[index] += 1
            except Exception as exc:  # pylint: disable=broad-except
                errors.append(repr(exc))
                connection.close()
                connection = http.client.HTTPSConnection('localhost', cluster.lb_port, context=context, timeout=60)
        connection.close()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - start), errors


def timed(function, *args):
    start = time.monotonic()
    function(*args)
    return time.monotonic() - start


def push(docker, ref):
    proc = docker('push', ref, timeout=3600)
    assert proc.returncode == 0, proc.stderr


def pull(docker, ref):
    proc = docker('pull', ref, timeout=3600)
    assert proc.returncode == 0, proc.stderr


def main():
    parser = argparse.ArgumentParser(description='registry scale-out benchmark (bench/scale)')
    parser.add_argument('--big-mb', type=int, default=int(os.environ.get('BENCH_SCALE_BIG_MB', '128')))
    parser.add_argument('--seconds', type=int, default=10)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix='dockyard-bench-scale.')
    rgw = s3_lib.CephRGW(bucket='registry')
    made = [rgw]
    try:
        rgw.start()
        cluster = ScaleOut(os.path.join(work, 'cluster'), rgw)
        made.insert(0, cluster)
        os.makedirs(cluster.workdir, exist_ok=True)
        print('deploying 2 replicas on S3 + the balancer, and a filesystem registry ...', file=sys.stderr)
        cluster.deploy()
        cluster.login_all()
        cluster.wait_stats({'replica1': 'UP', 'replica2': 'UP'})
        fs = roles_lib.Deployment(os.path.join(work, 'fs'), 'benchfs', registry_ui_enabled=False)
        made.insert(0, fs)
        os.makedirs(fs.workdir, exist_ok=True)
        fs.deploy()
        fs.trust()
        assert fs.login(*fs.admin).returncode == 0

        # 1. pulls per second through the balancer, 1 then 2 replicas.
        local, dummy = cluster.build_image('rate')
        cluster.tag(local, cluster.ref(cluster.lb_port, 'rate'))
        assert cluster.docker('push', cluster.ref(cluster.lb_port, 'rate'), timeout=600).returncode == 0
        replica2 = cluster.container('replica2')
        roles_lib.docker('stop', replica2, check=True, timeout=120)
        cluster.wait_stats({'replica1': 'UP', 'replica2': 'DOWN'})
        one, errors_one = pull_rate(cluster, 'rate', args.seconds)
        roles_lib.docker('start', replica2, check=True)
        cluster.wait_stats({'replica1': 'UP', 'replica2': 'UP'})
        two, errors_two = pull_rate(cluster, 'rate', args.seconds)

        # 2. a big image on S3 (replica1 directly) and on the filesystem registry.
        local, dummy = cluster.build_image('big', megabytes=args.big_mb)
        s3_ref = cluster.ref(cluster.ports['replica1'], 'big')
        cluster.tag(local, s3_ref)
        fs_ref = 'localhost:%d/%s:big' % (fs.port, REPOSITORY)
        fs.docker_client('tag', local, fs_ref, check=True)
        fs.image_tags.append(fs_ref)
        fs_push = timed(push, fs.docker_client, fs_ref)
        s3_push = timed(push, cluster.docker, s3_ref)
        # A pull is a no-op while any tag of the image is local: remove them all first.
        roles_lib.docker('rmi', local, fs_ref, s3_ref, check=True)
        fs_pull = timed(pull, fs.docker_client, fs_ref)
        roles_lib.docker('rmi', fs_ref, check=True)
        s3_pull = timed(pull, cluster.docker, s3_ref)

        print('\nbench/scale: pulls per second through the balancer (%d clients, %d s each; both replicas on this'
              ' machine; every request verifies the bcrypt password on a replica)' % (8, args.seconds))
        print('| replicas | pulls/s | errors | ratio vs 1 |')
        print('| --- | --- | --- | --- |')
        print('| 1 | %.1f | %d | 1.00 |' % (one, len(errors_one)))
        print('| 2 | %.1f | %d | %.2f |' % (two, len(errors_two), two / one if one else float('nan')))
        print('\nbench/scale: one %d MB image, push and pull (docker CLI), S3 (Ceph RGW, memstore) vs filesystem'
              % args.big_mb)
        print('| storage | push s | pull s |')
        print('| --- | --- | --- |')
        print('| filesystem | %.1f | %.1f |' % (fs_push, fs_pull))
        print('| s3 | %.1f | %.1f |' % (s3_push, s3_pull))
        print('| ratio s3/filesystem | %.2f | %.2f |' % (s3_push / fs_push, s3_pull / fs_pull))
        for errors in (errors_one, errors_two):
            for error in errors[:3]:
                print('error: %s' % error, file=sys.stderr)
    finally:
        for thing in made:
            for problem in thing.teardown():
                print('teardown: %s' % problem, file=sys.stderr)
        roles_lib.run(['rm', '-rf', work])


if __name__ == '__main__':
    main()
