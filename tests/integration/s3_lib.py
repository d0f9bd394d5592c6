# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real S3 engine for integration tests: Ceph's RADOS Gateway in dockyard-test/ceph-rgw:reef
(tests/testbed/ceph, built by tests/testbed/setup.sh; a single-node Ceph cluster from Debian 13's
packages, see docs/testbed.md).

    rgw = CephRGW(network='some-net')       # network=None: a Docker network of its own
    rgw.start()                             # docker run, then waits until the container is healthy
    rgw.endpoint        'http://<alias or container name>:7480', for containers on rgw.network
    rgw.ip_endpoint()   'http://<its address on rgw.network>:7480', for clients that cannot use
                        the network's DNS (containers of a fleet host's own Docker engine)
    rgw.url             'http://127.0.0.1:<port>', for this machine (publish=True, the default)
    rgw.access_key, rgw.secret_key, rgw.region
    rgw.bucket, rgw.buckets the first bucket, all of them (bucket='a b' makes two)
    rgw.s3('GET', '/' + rgw.bucket + '?list-type=2')   (status, headers, body bytes), signed
    rgw.put_object(key, data), rgw.get_object(key), rgw.list_objects(prefix)   (bucket=: another)
    rgw.registry_storage()  the `storage.s3` section of a distribution 2.8 config.yml (no keys)
    rgw.teardown()          removes the container (and the network it made); a list of problems

S3 requests are made by the real curl with AWS Signature V4 (--aws-sigv4). Debian 12's curl 7.88
does not send x-amz-content-sha256, which the RADOS Gateway needs: s3() sends it (the payload's
SHA-256). Query parameters must be given sorted by name (curl signs them as given).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import json
import os
import secrets
import socket
import string
import subprocess
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import quote

CEPH_IMAGE = 'dockyard-test/ceph-rgw:reef'
PORT = 7480
REGION = 'us-east-1'
TEST_LABEL = 'org.dockyard.test=s3'
S3_NS = '{http://s3.amazonaws.com/doc/2006-03-01/}'
SETUP_HINT = 'run tests/testbed/setup.sh (as root) to build the test bed images'


def _docker(*args, **kwargs):
    timeout = kwargs.pop('timeout', 120)
    return subprocess.run(['docker'] + list(args), capture_output=True, text=True, timeout=timeout,
                          check=False, **kwargs)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def random_keys():
    """(access key, secret key) shaped like AWS's: 20 upper-case letters/digits, 40 characters."""
    upper = string.ascii_uppercase + string.digits
    return ('DY' + ''.join(secrets.choice(upper) for dummy in range(18)), secrets.token_urlsafe(30)[:40])


def image_present():
    return _docker('image', 'inspect', CEPH_IMAGE).returncode == 0


class CephRGW:
    """One dockyard-test/ceph-rgw:reef container with its own name, keys and bucket."""

    def __init__(self, network=None, bucket='registry', publish=True, store='memstore', name=None,
                 access_key=None, secret_key=None, alias=None):
        token = uuid.uuid4().hex[:10]
        self.name = name or 'dyrgw-%s' % token
        self.network = network
        self.own_network = network is None
        if self.own_network:
            self.network = 'dyrgw-net-%s' % token
        self.alias = alias
        self.buckets = bucket.split()
        self.bucket = self.buckets[0]
        self.publish = publish
        self.store = store
        keys = random_keys()
        self.access_key = access_key or keys[0]
        self.secret_key = secret_key or keys[1]
        self.region = REGION
        self.port = None
        self.started = False

    # ------------------------------------------------------------ lifecycle
    @property
    def endpoint(self):
        """The S3 endpoint for containers on self.network (the container name resolves there)."""
        return 'http://%s:%d' % (self.alias or self.name, PORT)

    def ip_endpoint(self):
        """The S3 endpoint by the container's address on self.network."""
        proc = _docker('inspect', '-f', '{{json .NetworkSettings.Networks}}', self.name)
        assert proc.returncode == 0, proc.stderr
        return 'http://%s:%d' % (json.loads(proc.stdout)[self.network]['IPAddress'], PORT)

    @property
    def url(self):
        """The S3 endpoint from this machine (loopback port published by start())."""
        assert self.port, 'the RADOS Gateway %s is not published on this machine (publish=False)' % self.name
        return 'http://127.0.0.1:%d' % self.port

    def start(self, timeout=180):
        if self.own_network:
            proc = _docker('network', 'create', '--label', TEST_LABEL, self.network)
            if proc.returncode != 0:
                raise AssertionError('docker network create %s failed: %s' % (self.network, proc.stderr.strip()))
        for attempt in range(3):
            argv = ['run', '-d', '--name', self.name, '--label', TEST_LABEL, '--network', self.network,
                    '-e', 'RGW_ACCESS_KEY=' + self.access_key, '-e', 'RGW_SECRET_KEY=' + self.secret_key,
                    '-e', 'RGW_BUCKET=' + ' '.join(self.buckets), '-e', 'CEPH_OSD_STORE=' + self.store]
            if self.alias:
                argv += ['--network-alias', self.alias]
            if self.publish:
                self.port = _free_port()
                argv += ['-p', '127.0.0.1:%d:%d' % (self.port, PORT)]
            self.started = True
            proc = _docker(*(argv + [CEPH_IMAGE]))
            if proc.returncode == 0:
                break
            _docker('rm', '-f', '-v', self.name)
            # Someone took the port between the probe and docker's bind: try another one.
            if self.publish and 'already' in proc.stderr and attempt < 2:
                continue
            raise AssertionError('docker run %s failed: %s' % (CEPH_IMAGE, proc.stderr.strip()))
        self.wait_healthy(timeout)
        return self

    def state(self):
        proc = _docker('inspect', '-f', '{{json .State}}', self.name)
        return json.loads(proc.stdout) if proc.returncode == 0 else None

    def wait_healthy(self, timeout=180):
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            state = self.state()
            if state is None or not state['Running']:
                raise AssertionError('the RADOS Gateway container %s is not running (%r):\n%s' % (
                    self.name, state and state['Status'], self.logs()[-3000:]))
            if state.get('Health', {}).get('Status') == 'healthy':
                return state
            time.sleep(0.5)
        raise AssertionError('the RADOS Gateway container %s was not healthy after %ss (%r):\n%s' % (
            self.name, timeout, state and state.get('Health', {}).get('Status'), self.logs()[-3000:]))

    def logs(self):
        proc = _docker('logs', self.name)
        return proc.stdout + proc.stderr

    def teardown(self):
        errors = []
        if self.started:
            proc = _docker('rm', '-f', '-v', self.name)
            if proc.returncode != 0 and 'No such container' not in proc.stderr:
                errors.append('docker rm %s: %s' % (self.name, proc.stderr.strip()))
            self.started = False
        if self.own_network:
            proc = _docker('network', 'rm', self.network)
            if proc.returncode != 0 and 'not found' not in proc.stderr:
                errors.append('docker network rm %s: %s' % (self.network, proc.stderr.strip()))
        return errors

    # ------------------------------------------------------------ S3 API (curl, AWS Signature V4)
    def s3(self, method, path, data=None, access_key=None, secret_key=None, timeout=60):
        """(status, headers with lower-case names, body bytes) of one signed request to self.url.
        path: '/bucket/key?query' with query parameters sorted by name and encoded."""
        payload = data if data is not None else b''
        argv = ['curl', '-sS', '-X', method, '--max-time', str(timeout),
                '--aws-sigv4', 'aws:amz:%s:s3' % self.region,
                '--user', '%s:%s' % (access_key or self.access_key, secret_key or self.secret_key),
                '-H', 'x-amz-content-sha256: ' + hashlib.sha256(payload).hexdigest(),
                '-w', '%{http_code}']
        with tempfile.TemporaryDirectory(prefix='dy-s3-') as tmp:
            body_file, head_file = os.path.join(tmp, 'body'), os.path.join(tmp, 'head')
            argv += ['-o', body_file, '-D', head_file]
            if data is not None:
                data_file = os.path.join(tmp, 'data')
                with open(data_file, 'wb') as handle:
                    handle.write(data)
                argv += ['-T', data_file]
            proc = subprocess.run(argv + [self.url + path], capture_output=True, text=True,
                                  timeout=timeout + 10, check=False)
            if proc.returncode != 0:
                raise AssertionError('curl %s %s failed (rc=%d): %s' % (method, path, proc.returncode, proc.stderr))
            headers = {}
            with open(head_file) as handle:
                for line in handle:
                    if ':' in line and not line.startswith('HTTP/'):
                        name, value = line.split(':', 1)
                        headers.setdefault(name.strip().lower(), []).append(value.strip())
            body = b''
            if os.path.exists(body_file):
                with open(body_file, 'rb') as handle:
                    body = handle.read()
        return int(proc.stdout.strip()), headers, body

    def object_path(self, key, bucket=None):
        return '/%s/%s' % (bucket or self.bucket, quote(key, safe='/'))

    def put_object(self, key, data, bucket=None):
        status, dummy, body = self.s3('PUT', self.object_path(key, bucket), data=data)
        assert status == 200, 'PUT %s answered %d: %r' % (key, status, body[:500])

    def get_object(self, key, bucket=None):
        status, dummy, body = self.s3('GET', self.object_path(key, bucket))
        assert status == 200, 'GET %s answered %d: %r' % (key, status, body[:500])
        return body

    def list_objects(self, prefix='', bucket=None):
        """{key: size} of every object under prefix (ListObjectsV2, all pages)."""
        found, token = {}, None
        while True:
            query = []
            if token:
                query.append('continuation-token=' + quote(token, safe=''))
            query.append('list-type=2')
            if prefix:
                query.append('prefix=' + quote(prefix, safe=''))
            status, dummy, body = self.s3('GET', '/%s?%s' % (bucket or self.bucket, '&'.join(query)))
            assert status == 200, 'ListObjectsV2 %s answered %d: %r' % (prefix, status, body[:500])
            root = ET.fromstring(body)
            for item in root.findall(S3_NS + 'Contents'):
                found[item.findtext(S3_NS + 'Key')] = int(item.findtext(S3_NS + 'Size'))
            if root.findtext(S3_NS + 'IsTruncated') != 'true':
                return found
            token = root.findtext(S3_NS + 'NextContinuationToken')

    # ------------------------------------------------------------ for registries
    def registry_storage(self, rootdirectory=None, chunksize=5 * 1024 * 1024, endpoint=None, bucket=None):
        """storage.s3 of a distribution 2.8 config for this bucket (at endpoint, default self.endpoint);
        the keys are NOT in it (pass them as REGISTRY_STORAGE_S3_ACCESSKEY / _SECRETKEY: registry_env())."""
        storage = {'region': self.region, 'regionendpoint': endpoint or self.endpoint, 'bucket': bucket or self.bucket,
                   'secure': False, 'v4auth': True, 'chunksize': chunksize}
        if rootdirectory:
            storage['rootdirectory'] = rootdirectory
        return storage

    def registry_env(self, secret_key=None):
        return {'REGISTRY_STORAGE_S3_ACCESSKEY': self.access_key,
                'REGISTRY_STORAGE_S3_SECRETKEY': secret_key or self.secret_key}
