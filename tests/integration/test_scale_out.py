# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Two registry replicas sharing one bucket on the real Ceph RADOS Gateway, haproxy in front
(roles registry and registry_lb, one play, scale_lib.ScaleOut), on this machine's engine: two
compose projects stand for two hosts (each replica its own project, directory, port and
certificate from one CA; the balancer reaches them on loopback; TLS ends at the balancer and
starts again to the replicas, verified).

In file order:
- the role refuses replicas on the shared bucket with differing HTTP secrets (nothing deployed);
- push through the balancer, pull from each replica directly and through the balancer: one digest;
- a multi-request upload started on one replica continues on the other (same secret), and the
  negative control by hand: two registries on the bucket with different secrets, the same upload
  fails with BLOB_UPLOAD_INVALID;
- a 300 MB push (three layers of 100 MB of random data) through the balancer while one replica is
  stopped (once an upload is under way: its start is in the bucket) and started again, pulled back
  from each replica with the same digest (size: DOCKYARD_SCALE_PUSH_MB, default 300);
- a pull loop through the balancer while one replica is killed: zero failed pulls, haproxy marks it
  DOWN, the other replica serves, the killed one comes back UP.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import secrets

import pytest

import roles_lib
import s3_lib
from scale_lib import PUSH_LAYERS, PUSH_MB, scale_out


@pytest.fixture(scope='module')
def rgw(ceph_rgw):
    return ceph_rgw(bucket='registry')


@pytest.fixture(scope='module')
def cluster(rgw, docker_engine, tmp_path_factory):
    with scale_out(tmp_path_factory.mktemp('scale'), rgw) as made:
        yield made


@pytest.fixture(scope='module')
def deployed(cluster):
    cluster.deploy()
    cluster.login_all()
    cluster.wait_stats({'replica1': 'UP', 'replica2': 'UP'})
    return cluster


def test_role_refuses_replicas_with_differing_secrets(cluster):
    other = 'other-' + secrets.token_hex(20)
    inventory = cluster.inventory(host_overrides={'replica2': {'registry_http_secret': other}}, name='differing.yml')
    result = cluster.play(inventory, playbooks=('site.yml',))
    assert result.rc != 0
    where = "bucket 'registry' at %s under /scale" % cluster.rgw.ip_endpoint()
    for me, peer in (('replica1', 'replica2'), ('replica2', 'replica1')):
        assert ('registry_http_secret differs between %s and %s, which share s3 storage (%s): an upload started on'
                ' one replica fails on another' % (me, peer, where)) in result.output, result.describe()
    assert other not in result.output and cluster.http_secret not in result.output
    for name in cluster.names:
        assert roles_lib.project_containers(cluster.projects[name]) == []
    # A secret generated per host is refused as well, saying why.
    inventory = cluster.inventory(host_overrides={'replica1': {'registry_http_secret': ''},
                                                  'replica2': {'registry_http_secret': ''}}, name='generated.yml')
    result = cluster.play(inventory, playbooks=('site.yml',))
    assert result.rc != 0 and 'registry_http_secret: empty with registry_storage_driver s3' in result.output
    assert roles_lib.project_containers(cluster.projects['replica1']) == []


def test_push_through_the_balancer_pull_from_each(deployed):
    # The balancer's TLS, verified with the CA (the Docker daemon trusts 127.0.0.0/8 without it).
    status, dummy, body = roles_lib.curl('https://localhost:%d/v2/' % deployed.lb_port, cacert=deployed.ca)
    assert status == 401, body
    assert roles_lib.curl_status('https://localhost:%d/v2/' % deployed.lb_port, cacert=deployed.ca,
                                 user=deployed.user) == 200
    # Negative control: a client without the CA refuses the balancer's certificate.
    proc = roles_lib.run(['curl', '-sS', '-o', '/dev/null', 'https://localhost:%d/v2/' % deployed.lb_port])
    assert proc.returncode == 60 and 'certificate' in proc.stderr, proc.stderr
    local, token = deployed.build_image('one')
    pushed = deployed.ref(deployed.lb_port, 'one')
    deployed.tag(local, pushed)
    proc = deployed.docker('push', pushed, timeout=600)
    assert proc.returncode == 0, proc.stderr
    digests = {}
    for port in [deployed.ports['replica1'], deployed.ports['replica2'], deployed.lb_port]:
        ref = deployed.ref(port, 'one')
        digests[port] = deployed.pull_digest(ref)
        assert deployed.token_of(ref) == token
    assert len(set(digests.values())) == 1, digests
    # The balancer spread the connections over both replicas.
    sessions = deployed.server_sessions()
    assert sessions['replica1'] > 0 and sessions['replica2'] > 0, sessions


def _curl(method, url, cacert=None, user=None, data=None):
    """(status, headers, body) of one request; data: bytes to send."""
    if data is None:
        return roles_lib.curl(url, cacert=cacert, user=user, method=method, timeout=60)
    path = os.path.join('/tmp', 'dyso-chunk-%s' % secrets.token_hex(6))
    with open(path, 'wb') as handle:
        handle.write(data)
    try:
        return roles_lib.curl(url, cacert=cacert, user=user, method=method, timeout=60, data_file=path,
                              headers=['Content-Type: application/octet-stream'])
    finally:
        os.remove(path)


def _path(location):
    """/v2/...?_state=... of an upload Location (absolute or not)."""
    return '/' + location.split('://', 1)[1].split('/', 1)[1] if '://' in location else location


def _upload(start, middle, finish, cacert, user, data):
    """A blob upload in three requests: POST on `start`, PATCH on `middle`, PUT on `finish`
    (base URLs); (PATCH status, PATCH body, PUT status or None)."""
    status, headers, body = _curl('POST', start + '/v2/dockyard-test/cross/blobs/uploads/', cacert, user)
    assert status == 202, (status, body)
    status, headers, body = _curl('PATCH', middle + _path(headers['location'][0]), cacert, user, data)
    if status != 202:
        return status, body, None
    url = finish + _path(headers['location'][0])
    url += ('&' if '?' in url else '?') + 'digest=sha256:' + hashlib.sha256(data).hexdigest()
    put, dummy, put_body = _curl('PUT', url, cacert, user)
    return status, put_body, put


def test_an_upload_continues_on_the_other_replica(deployed):
    data = os.urandom(64 * 1024)
    one = 'https://localhost:%d' % deployed.ports['replica1']
    two = 'https://localhost:%d' % deployed.ports['replica2']
    patch, body, put = _upload(one, two, one, deployed.ca, deployed.user, data)
    assert (patch, put) == (202, 201), body


class HandRegistries:
    """registry:2.8.3 by hand (docker run, plain HTTP on loopback) on the cluster's bucket."""

    def __init__(self, rgw, workdir):
        self.rgw = rgw
        self.workdir = str(workdir)
        self.names = []

    def start(self, secret):
        name = 'dyso-hand-%s' % secrets.token_hex(5)
        port = roles_lib.free_ports(1)[0]
        config = {'version': 0.1, 'log': {'level': 'info'},
                  'storage': {'s3': self.rgw.registry_storage(rootdirectory='/hand', endpoint=self.rgw.ip_endpoint()),
                              'redirect': {'disable': True}},
                  'http': {'addr': ':5000'}}
        path = os.path.join(self.workdir, '%s.yml' % name)
        with open(path, 'w') as handle:
            json.dump(config, handle)
        env = dict(self.rgw.registry_env(), REGISTRY_HTTP_SECRET=secret)
        argv = ['run', '-d', '--name', name, '--label', s3_lib.TEST_LABEL, '--network', self.rgw.network,
                '-p', '127.0.0.1:%d:5000' % port, '-v', '%s:/etc/docker/registry/config.yml:ro' % path]
        for key in sorted(env):
            argv += ['-e', '%s=%s' % (key, env[key])]
        self.names.append(name)
        roles_lib.docker(*(argv + [roles_lib.REGISTRY_IMAGE]), check=True)
        url = 'http://127.0.0.1:%d' % port
        roles_lib.wait_for(lambda: _status(url + '/v2/') == 200, 60, interval=0.5, what='hand registry %s' % name)
        return url

    def teardown(self):
        for name in self.names:
            roles_lib.docker('rm', '-f', '-v', name)


def _status(url):
    try:
        return roles_lib.curl_status(url, timeout=3)
    except AssertionError:
        return None


def test_negative_control_different_secrets_break_uploads_across_registries(deployed, tmp_path):
    hand = HandRegistries(deployed.rgw, tmp_path)
    try:
        one, two = hand.start(secrets.token_hex(32)), hand.start(secrets.token_hex(32))
        data = os.urandom(64 * 1024)
        patch, body, put = _upload(one, two, one, None, None, data)
        assert patch != 202 and 'BLOB_UPLOAD_INVALID' in body, (patch, body)
        # Control of the control: the same two registries, the upload stays on one of them.
        patch, body, put = _upload(one, one, one, None, None, data)
        assert (patch, put) == (202, 201), body
        # ... and two registries with one secret share uploads.
        same = secrets.token_hex(32)
        three, four = hand.start(same), hand.start(same)
        patch, body, put = _upload(three, four, three, None, None, data)
        assert (patch, put) == (202, 201), body
    finally:
        hand.teardown()


def test_big_push_through_the_balancer_while_a_replica_restarts(deployed):
    local, token = deployed.build_image('big', megabytes=PUSH_MB, layers=PUSH_LAYERS)
    ref = deployed.ref(deployed.lb_port, 'big')
    deployed.tag(local, ref)

    def restart_replica2():
        victim = deployed.container('replica2')
        roles_lib.docker('stop', victim, check=True, timeout=120)
        deployed.wait_stats({'replica1': 'UP', 'replica2': 'DOWN'})
        roles_lib.docker('start', victim, check=True)
    proc = deployed.push_while(ref, restart_replica2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    deployed.wait_stats({'replica1': 'UP', 'replica2': 'UP'})
    pushed = re.findall(r'big: digest: (sha256:[0-9a-f]{64}) size:', proc.stdout)
    assert len(pushed) == 1, proc.stdout
    layers = json.loads(deployed.docker('image', 'inspect', '-f', '{{json .RootFS.Layers}}', local, check=True).stdout)
    assert len(layers) >= PUSH_LAYERS + 1, layers
    # Pulled back from each replica with the engine holding none of the image's own layers (else
    # `docker pull` downloads nothing): the pushed digest, the built layers, the image's token.
    for name in (local, ref):
        deployed.docker('rmi', name, check=True)
    for replica in deployed.names:
        pulled = deployed.ref(deployed.ports[replica], 'big')
        assert deployed.pull_digest(pulled) == pushed[0], replica
        assert deployed.token_of(pulled) == token
        assert json.loads(deployed.docker('image', 'inspect', '-f', '{{json .RootFS.Layers}}', pulled,
                                          check=True).stdout) == layers, replica
        deployed.docker('rmi', pulled, check=True)


def test_kill_a_replica_during_a_pull_loop(deployed):
    local, token = deployed.build_image('loop')
    ref = deployed.ref(deployed.lb_port, 'loop')
    deployed.tag(local, ref)
    assert deployed.docker('push', ref, timeout=600).returncode == 0

    def kill():
        roles_lib.docker('kill', deployed.container('replica1'), check=True)
        deployed.wait_stats({'replica1': 'DOWN', 'replica2': 'UP'})
    outcomes = deployed.pull_loop_around(ref, kill)
    failed = [outcome for outcome in outcomes if outcome[0] != 0]
    assert failed == [] and len(outcomes) >= 8, (len(outcomes), failed)
    assert deployed.token_of(ref) == token
    roles_lib.docker('start', deployed.container('replica1'), check=True)
    deployed.wait_stats({'replica1': 'UP', 'replica2': 'UP'})
