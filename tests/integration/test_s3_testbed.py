# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The test bed's S3 engine is real and the registry works on it.

dockyard-test/ceph-rgw:reef (tests/testbed/ceph) runs a single-node Ceph cluster and its RADOS
Gateway. Here it is started with the ceph_rgw fixture (conftest.py, s3_lib.py) on a loopback port
and a Docker network of its own, and checked from outside with real clients: curl with AWS
Signature V4 (objects in and out, wrong keys refused), then the distribution registry
(the test bed's distribution 2.8.3 stand-in) with `storage.s3` on that network: `docker push` of a two-layer
~21 MB image (larger than the s3 driver's 5 MiB chunk, so uploads go in multipart parts), removed
locally, pulled back with the same digest, its blobs listed in the bucket with the S3 API, and a
registry with a wrong secret key whose storage health check fails. Every container, network and
image made here is removed again, also when a test fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import re
import secrets
import uuid

import pytest

import roles_lib
import s3_lib

ROOT = 'dyreg'                      # the registry's storage.s3.rootdirectory in the bucket
CHUNK = 5 * 1024 * 1024             # the s3 driver's minimum (and our) chunk size
MANIFEST_V2 = 'application/vnd.docker.distribution.manifest.v2+json'


@pytest.fixture(scope='module')
def rgw(ceph_rgw):
    """One RADOS Gateway for the module, on its own network (where its name is also s3.test),
    published on a loopback port, with two buckets: `registry` for registries, `probe` for curl."""
    return ceph_rgw(bucket='registry probe', alias='s3.test')


class Registries:
    """Registry stand-in containers (distribution 2.8.3) with storage.s3 on the gateway's network; removed at teardown."""

    def __init__(self, workdir, rgw):
        self.workdir = str(workdir)
        self.rgw = rgw
        self.containers = []
        self.images = []

    def start(self, label, secret_key=None, endpoint=None):
        """A registry on the gateway's first bucket (at endpoint, default the gateway's alias);
        (name, registry port, debug port) on 127.0.0.1."""
        name = '%s-reg-%s' % (self.rgw.name, label)
        config = {
            'version': 0.1,
            'log': {'level': 'info'},
            'storage': {
                's3': self.rgw.registry_storage(rootdirectory='/' + ROOT, chunksize=CHUNK, endpoint=endpoint),
                'redirect': {'disable': True},
                'cache': {'blobdescriptor': 'inmemory'},
            },
            'http': {'addr': ':5000', 'secret': secrets.token_hex(16), 'debug': {'addr': ':5001'}},
            'health': {'storagedriver': {'enabled': True, 'interval': '2s', 'threshold': 1}},
        }
        path = os.path.join(self.workdir, 'config-%s.yml' % label)
        text = json.dumps(config, indent=2)          # YAML is a superset of JSON
        assert self.rgw.secret_key not in text
        with open(path, 'w') as handle:
            handle.write(text)
        for attempt in range(3):
            port, debug_port = roles_lib.free_ports(2)
            argv = ['run', '-d', '--name', name, '--label', s3_lib.TEST_LABEL, '--network', self.rgw.network,
                    '-p', '127.0.0.1:%d:5000' % port, '-p', '127.0.0.1:%d:5001' % debug_port,
                    '-v', '%s:/etc/docker/registry/config.yml:ro' % path]
            for key, value in sorted(self.rgw.registry_env(secret_key).items()):
                argv += ['-e', '%s=%s' % (key, value)]
            self.containers.append(name)
            proc = roles_lib.docker(*(argv + [roles_lib.REGISTRY_IMAGE]))
            if proc.returncode == 0:
                break
            roles_lib.docker('rm', '-f', '-v', name)
            if 'already' not in proc.stderr or attempt == 2:
                raise AssertionError('docker run %s failed: %s' % (roles_lib.REGISTRY_IMAGE, proc.stderr))
        roles_lib.wait_for(lambda: self.answers('http://127.0.0.1:%d/' % port), 60,
                           interval=0.5, what='registry %s answering' % name)
        return name, port, debug_port

    @staticmethod
    def answers(url):
        try:
            return roles_lib.curl_status(url, timeout=5)
        except AssertionError:
            return None

    def teardown(self):
        for name in self.containers:
            roles_lib.docker('rm', '-f', '-v', name)
        for image in self.images:
            roles_lib.docker('rmi', image)


@pytest.fixture
def registries(rgw, tmp_path):
    made = Registries(tmp_path, rgw)
    yield made
    made.teardown()


def docker_client(*args, **kwargs):
    env = dict(os.environ, DOCKER_BUILDKIT='0')
    return roles_lib.docker(*args, env=env, **kwargs)


def build_big_image(workdir, tag):
    """FROM dockyard-test/hello:1 with two layers of random bytes (12 MB and 9 MB: gzip cannot
    shrink them below the 5 MiB chunk) and a unique label; the label's token."""
    token = uuid.uuid4().hex
    ctx = os.path.join(str(workdir), 'image')
    os.makedirs(ctx)
    for name, size in (('a.bin', 12 * 1000 * 1000), ('b.bin', 9 * 1000 * 1000)):
        with open(os.path.join(ctx, name), 'wb') as handle:
            handle.write(os.urandom(size))
    with open(os.path.join(ctx, 'Dockerfile'), 'w') as handle:
        handle.write('FROM %s\nCOPY a.bin /a.bin\nCOPY b.bin /b.bin\nLABEL %s=%s\n'
                     % (roles_lib.HELLO_IMAGE, roles_lib.TOKEN_LABEL, token))
    docker_client('build', '-q', '-t', tag, ctx, check=True, timeout=300)
    return token


# ---------------------------------------------------------------- the image itself

def test_image_refuses_to_start_without_keys(docker_engine):
    if not s3_lib.image_present():
        pytest.fail('test bed image missing: %s; %s' % (s3_lib.CEPH_IMAGE, roles_lib.SETUP_HINT))
    proc = roles_lib.docker('run', '--rm', '-e', 'RGW_ACCESS_KEY=DYNOSECRET', s3_lib.CEPH_IMAGE, timeout=60)
    assert proc.returncode != 0
    assert 'RGW_SECRET_KEY is empty' in proc.stderr, proc.stderr
    proc = roles_lib.docker('run', '--rm', '-e', 'RGW_ACCESS_KEY=DYX', '-e', 'RGW_SECRET_KEY=not-shown',
                            '-e', 'RGW_BUCKET=Bad_Name', s3_lib.CEPH_IMAGE, timeout=60)
    assert proc.returncode != 0
    assert "RGW_BUCKET: 'Bad_Name' is not an S3 bucket name" in proc.stderr, proc.stderr
    assert 'not-shown' not in proc.stdout + proc.stderr


# ---------------------------------------------------------------- (a) S3 with a real client

def test_s3_objects_in_and_out(rgw):
    state = rgw.state()
    assert state['Health']['Status'] == 'healthy'
    assert rgw.buckets == ['registry', 'probe']
    key = 'dir/%s.bin' % uuid.uuid4().hex
    data = os.urandom(1024 * 1024 + 7)
    rgw.put_object(key, data, bucket='probe')
    assert rgw.get_object(key, bucket='probe') == data
    assert rgw.list_objects('dir/', bucket='probe') == {key: len(data)}
    assert rgw.list_objects('dir/') == {}           # the other bucket

    # Negative controls: a wrong secret key, an unknown access key, no signature at all.
    path = rgw.object_path(key, bucket='probe')
    status, dummy, body = rgw.s3('GET', path, secret_key=rgw.secret_key + 'x')
    assert (status, b'<Code>SignatureDoesNotMatch</Code>' in body) == (403, True), (status, body)
    status, dummy, body = rgw.s3('PUT', path, data=b'overwritten', secret_key='wrong-' + rgw.secret_key)
    assert status == 403, (status, body)
    status, dummy, body = rgw.s3('GET', path, access_key='DYUNKNOWNKEY00000000')
    assert (status, b'<Code>InvalidAccessKeyId</Code>' in body) == (403, True), (status, body)
    anonymous = roles_lib.run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', rgw.url + path],
                              check=True).stdout
    assert anonymous == '403'
    assert hashlib.sha256(rgw.get_object(key, bucket='probe')).hexdigest() == hashlib.sha256(data).hexdigest()
    # The secret key reaches no log line of the gateway.
    assert rgw.secret_key not in rgw.logs()


# ---------------------------------------------------------------- (b) the registry on S3

def test_registry_push_pull_on_s3(rgw, registries, tmp_path):
    name, port, debug_port = registries.start('good')           # regionendpoint http://s3.test:7480
    ref = '127.0.0.1:%d/dockyard-test/s3-big:1' % port
    registries.images.append(ref)
    token = build_big_image(tmp_path, ref)

    push = docker_client('push', ref, timeout=600)
    assert push.returncode == 0, push.stdout + push.stderr
    digest = re.search(r'digest: (sha256:[0-9a-f]{64}) size:', push.stdout).group(1)

    # The manifest as the registry serves it: the config and three layers (hello + two big ones).
    status, dummy, body = roles_lib.curl('http://127.0.0.1:%d/v2/dockyard-test/s3-big/manifests/1' % port,
                                         headers=['Accept: ' + MANIFEST_V2])
    assert status == 200, body
    manifest = json.loads(body)
    blobs = [manifest['config']] + manifest['layers']
    assert len(manifest['layers']) == 3
    assert sorted(layer['size'] > CHUNK for layer in manifest['layers']) == [False, True, True]

    # Every blob is an object in the bucket, of the blob's size, under the registry's root.
    objects = rgw.list_objects(ROOT + '/docker/registry/v2/blobs/')
    for blob in blobs:
        hexdigest = blob['digest'].split(':', 1)[1]
        key = '%s/docker/registry/v2/blobs/sha256/%s/%s/data' % (ROOT, hexdigest[:2], hexdigest)
        assert objects.get(key) == blob['size'], (key, blob['size'], sorted(objects.items()))
    manifest_key = '%s/docker/registry/v2/blobs/sha256/%s/%s/data' % (ROOT, digest[7:9], digest[7:])
    assert manifest_key in objects
    # ... and nothing on the registry container's own disk.
    local = roles_lib.docker('exec', name, 'find', '/var/lib/registry', '-type', 'f', check=True).stdout
    assert local.strip() == ''
    # The big layers went up as multipart uploads: the gateway logged their parts.
    parts = re.findall(r'"PUT /%s/%s/docker/registry/v2/repositories/dockyard-test/s3-big/_uploads/[0-9a-f-]+/data'
                       r'\?partNumber=\d+&uploadId=' % (rgw.bucket, ROOT), rgw.logs())
    assert len(parts) >= 2, 'no multipart upload parts in the gateway log'

    # Gone locally, pulled back from S3: the same digest and content.
    docker_client('rmi', ref, check=True)
    assert docker_client('image', 'inspect', ref).returncode != 0
    pull = docker_client('pull', ref, timeout=600)
    assert pull.returncode == 0, pull.stdout + pull.stderr
    assert 'Digest: %s' % digest in pull.stdout
    repo_digests = docker_client('image', 'inspect', '-f', '{{json .RepoDigests}}', ref, check=True).stdout
    assert '127.0.0.1:%d/dockyard-test/s3-big@%s' % (port, digest) in json.loads(repo_digests)
    label = docker_client('image', 'inspect', '-f', '{{ index .Config.Labels "%s" }}' % roles_lib.TOKEN_LABEL,
                          ref, check=True).stdout.strip()
    assert label == token

    # The storage health check passed all along (it has run several times by now).
    status, dummy, body = roles_lib.curl('http://127.0.0.1:%d/debug/health' % debug_port)
    assert (status, json.loads(body)) == (200, {})


# ---------------------------------------------------------------- (c) negative control: wrong key

def test_registry_with_wrong_secret_key_is_unhealthy(rgw, registries):
    wrong = s3_lib.random_keys()[1]
    # By address this time: the failure below is the key's (SignatureDoesNotMatch), the gateway answered.
    name, port, debug_port = registries.start('badkey', secret_key=wrong, endpoint=rgw.ip_endpoint())

    def unhealthy():
        status = registries.answers('http://127.0.0.1:%d/' % port)
        return status == 503 and status
    roles_lib.wait_for(unhealthy, 30, interval=0.5, what='GET / of the registry with a wrong key answering 503')
    status, dummy, body = roles_lib.curl('http://127.0.0.1:%d/v2/' % port)
    assert status == 503 and 'health check failed' in body, (status, body)
    status, dummy, body = roles_lib.curl('http://127.0.0.1:%d/debug/health' % debug_port)
    assert status == 503, (status, body)
    assert 'SignatureDoesNotMatch' in json.loads(body)['storagedriver_s3']
    logs = roles_lib.docker('logs', name)
    for secret in (wrong, rgw.secret_key):
        assert secret not in body
        assert secret not in logs.stdout + logs.stderr
