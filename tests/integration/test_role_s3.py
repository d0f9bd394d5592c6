# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role with registry_storage_driver s3 on the real Ceph RADOS Gateway of the test bed.

One gateway (ceph_rgw fixture, on a Docker network of its own) for the module; the registry
container joins that network (registry_networks) and reaches the gateway by its address there,
which is also how the role's look probes the bucket from this host. In file order:

1. a deployment made with filesystem storage is refused the switch to s3 (its images would stay
   behind) until registry_storage_migrated is true;
2. then it deploys on s3 at -vvv with --diff: push a unique image, its blobs are objects in the
   bucket, nothing in data/, the keys are in the 0600 secrets/registry.env only (not config.yml,
   not docker-compose.yml, not the output), pulled back with the same digest and content; a rerun
   changes nothing;
3. with registry_redis (redis-server from Debian on the gateway's network, with a password): the
   registry's blob descriptor cache fills Redis after a push and a pull; the password is in the
   secrets file only;
4. wrong keys are refused before anything is deployed, naming the endpoint and the bucket and the
   S3 error, never a key; a bucket removed after deploying is reported by the next run's look;
5. a gateway the host reaches but the registry's container does not (it does not join the gateway's
   network) is found by a probe from the container's networks before the containers are recreated:
   named, and the running registry stays.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import secrets
import stat
import uuid

import pytest

import roles_lib
import s3_lib

ROOT = '/dyrole'
REDIS_IMAGE = 'dockyard-test/redis:7'


@pytest.fixture(scope='module')
def rgw(ceph_rgw):
    return ceph_rgw(bucket='registry spare')


def s3_vars(rgw, bucket=None, secret_key=None, **extra):
    options = {'endpoint': rgw.ip_endpoint(), 'region': rgw.region, 'bucket': bucket or rgw.bucket,
               'access_key': rgw.access_key, 'secret_key': secret_key or rgw.secret_key,
               'root_directory': ROOT, 'chunk_size': 5 * 1024 * 1024}
    options.update(extra)
    return {'registry_storage_driver': 's3', 'registry_storage_s3': options,
            'registry_networks': [rgw.network], 'registry_http_secret': 'dy-%s' % ('s' * 40),
            'registry_ui_enabled': False}


class Redis:
    """redis-server (Debian's, dockyard-test/redis:7) with a password on the gateway's network."""

    def __init__(self, network):
        self.name = 'dyredis-%s' % uuid.uuid4().hex[:10]
        self.password = 'redis-' + secrets.token_hex(16)
        proc = roles_lib.docker('run', '-d', '--name', self.name, '--label', s3_lib.TEST_LABEL, '--network', network,
                                REDIS_IMAGE, 'redis-server', '--requirepass', self.password, '--save', '',
                                '--appendonly', 'no', '--protected-mode', 'no')
        assert proc.returncode == 0, proc.stderr

    def cli(self, *args, **kwargs):
        return roles_lib.docker('exec', self.name, 'redis-cli', '--no-auth-warning', *args, **kwargs)

    def keys(self):
        proc = self.cli('-a', self.password, '--raw', 'KEYS', '*', check=True)
        return sorted(proc.stdout.split())

    def teardown(self):
        roles_lib.docker('rm', '-f', '-v', self.name)
        return []


@pytest.fixture(scope='module')
def redis(rgw):
    if roles_lib.docker('image', 'inspect', REDIS_IMAGE).returncode != 0:
        pytest.fail('test bed image missing: %s; %s' % (REDIS_IMAGE, roles_lib.SETUP_HINT))
    server = Redis(rgw.network)
    roles_lib.wait_for(lambda: server.cli('-a', server.password, 'PING').stdout.strip() == 'PONG', 30,
                       interval=0.5, what='redis answering PONG')
    yield server
    server.teardown()


@pytest.fixture(scope='module')
def deployment(rgw, role_deployments):
    """A filesystem deployment first (the switch test needs one), UI off (not the subject)."""
    dep = role_deployments('s3', registry_ui_enabled=False)
    dep.deploy()
    return dep


def test_switching_a_deployed_host_to_s3_needs_the_data_migrated(rgw, deployment):
    before = deployment.identity('registry')
    refused = deployment.play(**s3_vars(rgw))
    assert refused.rc != 0
    text = refused.output
    assert ("registry_storage_driver: 's3' but the registry deployed on this host keeps its images with 'filesystem'"
            in text), refused.describe()
    assert 'registry_storage_migrated: true' in text
    assert rgw.secret_key not in text
    # Nothing was touched: the same container, still on filesystem storage.
    assert deployment.identity('registry') == before
    labels = deployment.inspect('registry')['Config']['Labels']
    assert labels['io.dockyard.registry.storage-driver'] == 'filesystem'


def test_deploy_on_s3_push_pull(rgw, deployment):
    deployment.vars.update(s3_vars(rgw))
    result = deployment.deploy(verbosity=3, diff=True, registry_storage_migrated=True)
    deployment.vars['registry_storage_migrated'] = True
    output = result.output
    assert '<localhost> EXEC' in output
    for secret in (rgw.secret_key, rgw.access_key, deployment.vars['registry_http_secret']):
        assert secret not in output, 'a secret reached the output of the deploy at -vvv --diff'

    labels = deployment.inspect('registry')['Config']['Labels']
    assert labels['io.dockyard.registry.storage-driver'] == 's3'
    config = open(os.path.join(deployment.base_dir, 'config', 'config.yml')).read()
    compose = open(os.path.join(deployment.base_dir, 'docker-compose.yml')).read()
    assert 'regionendpoint: %s' % rgw.ip_endpoint() in config and 'bucket: registry' in config
    assert 'disable: true' in config                                    # redirect off
    for text in (config, compose):
        assert rgw.secret_key not in text and rgw.access_key not in text
    assert ':/var/lib/registry' not in compose
    env_path = os.path.join(deployment.base_dir, 'secrets', 'registry.env')
    assert stat.S_IMODE(os.stat(env_path).st_mode) == 0o600
    env = open(env_path).read()
    assert 'REGISTRY_STORAGE_S3_ACCESSKEY=%s\n' % rgw.access_key in env
    assert 'REGISTRY_STORAGE_S3_SECRETKEY=%s\n' % rgw.secret_key in env
    # ... and the keys are not in the container's definition either (env_file, not environment).
    inspected = json.dumps(deployment.inspect('registry')['Config']['Labels'])
    assert rgw.secret_key not in inspected

    token = deployment.push_unique_image()
    # Every blob of the image is an object in the bucket under the root directory; data/ stays empty.
    url = deployment.registry_url + '/v2/%s/manifests/%s' % (roles_lib.REPOSITORY, roles_lib.TAG)
    status, dummy, body = roles_lib.curl(url,
                                         cacert=deployment.ca, user=deployment.admin,
                                         headers=['Accept: ' + roles_lib.MANIFEST_ACCEPT])
    assert status == 200, body
    manifest = json.loads(body)
    objects = rgw.list_objects(ROOT.lstrip('/') + '/docker/registry/v2/blobs/')
    for blob in [manifest['config']] + manifest['layers']:
        hexdigest = blob['digest'].split(':', 1)[1]
        key = '%s/docker/registry/v2/blobs/sha256/%s/%s/data' % (ROOT.lstrip('/'), hexdigest[:2], hexdigest)
        assert objects.get(key) == blob['size'], (key, sorted(objects))
    assert os.listdir(os.path.join(deployment.base_dir, 'data')) == []

    deployment.remove_local_image()
    pull = deployment.docker_client('pull', deployment.image_ref, timeout=300)
    assert pull.returncode == 0, pull.stderr
    assert deployment.local_token() == token
    digest = re.search(r'Digest: (sha256:[0-9a-f]{64})', pull.stdout).group(1)
    proc = deployment.skopeo_inspect()
    assert proc.returncode == 0 and json.loads(proc.stdout)['Digest'] == digest, proc.stderr

    rerun = deployment.play()
    assert rerun.rc == 0 and rerun.changed == 0, (rerun.changed_tasks(), rerun.describe())
    # The registry's container reached the gateway from its network before it was created (the
    # negative control of test_a_storage_the_container_cannot_reach_...).
    probe = result.results()["dockyard.registry.registry : Probe the storage from the registry container's networks"]
    assert [(item['item']['network'], bool(re.search(r'HTTP/[0-9.]+ [0-9]{3}', item['stderr'])))
            for item in probe['results']] == [(rgw.network, True)], probe


def test_redis_blob_descriptor_cache_fills(rgw, redis, deployment):
    assert redis.keys() == []
    deployment.deploy(registry_redis={'address': '%s:6379' % redis.name, 'password': redis.password})
    deployment.vars['registry_redis'] = {'address': '%s:6379' % redis.name, 'password': redis.password}
    config = open(os.path.join(deployment.base_dir, 'config', 'config.yml')).read()
    assert 'blobdescriptor: redis' in config and 'addr: %s:6379' % redis.name in config
    assert redis.password not in config
    env = open(os.path.join(deployment.base_dir, 'secrets', 'registry.env')).read()
    assert 'REGISTRY_REDIS_PASSWORD=%s\n' % redis.password in env
    # Negative control of the password: Redis refuses a client without it.
    assert 'NOAUTH' in redis.cli('KEYS', '*').stdout
    token = deployment.push_unique_image()
    deployment.remove_local_image()
    pull = deployment.docker_client('pull', deployment.image_ref, timeout=300)
    assert pull.returncode == 0, pull.stderr
    assert deployment.local_token() == token
    keys = redis.keys()
    # distribution's redis cache: blobs::<digest> descriptors and repository::<name>::blobs sets.
    assert any(key.startswith('blobs::sha256:') for key in keys), keys
    assert 'repository::%s::blobs' % roles_lib.REPOSITORY in keys, keys


def test_wrong_keys_are_refused_before_deploying(rgw, role_deployments):
    wrong = s3_lib.random_keys()[1]
    dep = role_deployments('s3bad', **s3_vars(rgw, secret_key=wrong))
    result = dep.play(verbosity=3)
    assert result.rc != 0
    text = result.output
    assert ("registry_storage_s3: S3 bucket 'registry' at %s answered HTTP 403 SignatureDoesNotMatch: the secret key"
            " does not match the access key" % rgw.ip_endpoint()) in text, result.describe()
    assert wrong not in text and rgw.secret_key not in text
    assert roles_lib.project_containers(dep.project) == []
    assert not os.path.exists(os.path.join(dep.base_dir, 'secrets'))
    # Negative control of the probe: an unknown bucket is a different, named error.
    other = role_deployments('s3nobucket', **s3_vars(rgw, bucket='no-such-bucket'))
    result = other.play()
    assert result.rc != 0
    assert ("S3 bucket 'no-such-bucket' at %s answered HTTP 404 NoSuchBucket" % rgw.ip_endpoint()) in result.output


def test_a_bucket_gone_after_deploying_is_reported_by_the_next_run(rgw, role_deployments):
    dep = role_deployments('s3spare', **s3_vars(rgw, bucket='spare', root_directory=''))
    dep.deploy()
    dep.wait_healthy()
    status, dummy, body = rgw.s3('DELETE', '/spare')
    assert status == 204, body
    result = dep.play()
    assert result.rc != 0
    assert ("registry_storage_s3: S3 bucket 'spare' at %s answered HTTP 404 NoSuchBucket: the bucket does not exist"
            % rgw.ip_endpoint()) in result.output, result.describe()


def test_a_storage_the_container_cannot_reach_is_refused_and_the_running_registry_stays(rgw, deployment):
    """The host reaches the gateway by its address; a registry container that does not join the
    gateway's network does not (Docker isolates bridge networks from each other). Found before the
    containers are recreated, named (endpoint, bucket, network, what the probe saw, never a key), and
    the running registry stays as it was."""
    before = deployment.identity('registry')
    watched = [os.path.join(deployment.base_dir, name)
               for name in ('docker-compose.yml', 'config/config.yml', 'secrets/registry.env')]
    contents = [open(path, 'rb').read() for path in watched]
    result = deployment.play(verbosity=3, registry_networks=[])
    assert result.rc != 0
    assert ("registry_storage_s3: the registry's container cannot reach bucket 'registry' at %s under %s (%s/) from"
            " the Docker network it joins (bridge: no answer within 10 s)." % (rgw.ip_endpoint(), ROOT, rgw.ip_endpoint())
            ) in result.output, result.describe()
    assert 'The deployment that was running was restored and serves again' in result.output
    for secret in (rgw.secret_key, rgw.access_key, deployment.vars['registry_http_secret']):
        assert secret not in result.output
    assert deployment.identity('registry') == before
    assert [open(path, 'rb').read() for path in watched] == contents
    deployment.wait_healthy()
    assert roles_lib.curl_status(deployment.registry_url + '/v2/', cacert=deployment.ca, user=deployment.admin) == 200
