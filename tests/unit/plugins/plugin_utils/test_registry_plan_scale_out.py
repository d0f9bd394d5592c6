# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the plan's scale-out entries (issue 10): the s3 storage driver, its keys in the
secret environment (never in config.yml, docker-compose.yml or the look's non-secret options),
the refusal to switch a deployed host's storage, the Redis blob descriptor cache, the replicas'
shared HTTP secret, and the S3 probe's request signing (module_utils/_s3.py). Each rule has its
negative control."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import os
import re

import pytest
import yaml

from ansible_collections.dockyard.registry.plugins.filter.registry import registry_env
from ansible_collections.dockyard.registry.plugins.module_utils import _s3
from ansible_collections.dockyard.registry.plugins.plugin_utils._registry_plan import (
    STORAGE_DRIVERS, STORAGE_LABEL, build_plan)

ROLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'roles', 'registry')
ACCESS = 'DYACCESSKEY000000001'
SECRET = 'Sup3r/Secret+Key-for-the-unit-tests-0001'
HTTP_SECRET = 'h' * 32
REDIS_PASSWORD = 'redis-Pa55word-unit'
S3 = {'endpoint': 'http://s3.test:7480', 'bucket': 'registry', 'access_key': ACCESS, 'secret_key': SECRET}


def variables(**overrides):
    with open(os.path.join(ROLE, 'defaults', 'main.yml')) as handle:
        values = yaml.safe_load(handle)
    values.update(registry_server_name='localhost', registry_image='registry:2.8.3', registry_ui_image='ui:2',
                  registry_ui_origin='https://localhost:8443', registry_ui_registry_url='https://localhost:5000',
                  registry_users=[{'name': 'admin', 'password': 'Adm1n-passw0rd'}], registry_version='2.8.3')
    values.update(overrides)
    return values


def s3_vars(**overrides):
    values = dict(registry_storage_driver='s3', registry_storage_s3=dict(S3), registry_http_secret=HTTP_SECRET)
    values.update(overrides)
    return variables(**values)


def plan(**overrides):
    return build_plan(s3_vars(**overrides))


def problems(**overrides):
    return plan(**overrides)['problems']


def _argspec():
    with open(os.path.join(ROLE, 'meta', 'argument_specs.yml')) as handle:
        return yaml.safe_load(handle)['argument_specs']['main']['options']


def _secret_free(p):
    """Everything of the plan that is not a secret by design: config, compose, files, look options
    other than the no_log ones, storage, warnings."""
    look = dict(p['look'])
    look['s3'] = dict(look['s3'] or {}, access_key='', secret_key='')
    look['paths'] = [dict(item, regexp='', sha256='') for item in look['paths']]
    layout = [dict(item, regexp='', sha256='') for item in p['layout']]
    return repr([p['config'], p['compose'], p['files'], look, layout, p['storage'], p['warnings']])


# ------------------------------------------------------------------------------------------------
# The s3 driver: what each version needs.

def test_s3_is_a_table_entry_with_its_argument_spec():
    assert sorted(STORAGE_DRIVERS) == ['filesystem', 's3']
    spec = _argspec()
    assert spec['registry_storage_driver']['choices'] == ['filesystem', 's3']
    options = spec['registry_storage_s3']['options']
    assert sorted(options) == sorted(['endpoint', 'region', 'bucket', 'access_key', 'secret_key', 'path_style',
                                      'chunk_size', 'redirect', 'root_directory', 'encrypt'])
    assert options['access_key']['no_log'] and options['secret_key']['no_log']
    assert spec['registry_redis']['options']['password']['no_log']
    assert spec['registry_storage_driver']['default'] == 'filesystem'


def test_s3_on_2_8_relies_on_regionendpoint_for_path_style():
    p = plan()
    assert p['problems'] == []
    assert p['config']['storage']['s3'] == {
        'region': 'us-east-1', 'bucket': 'registry', 'regionendpoint': 'http://s3.test:7480', 'secure': False,
        'v4auth': True, 'chunksize': 10485760, 'encrypt': False}
    assert p['config']['storage']['redirect'] == {'disable': True}
    assert 'filesystem' not in p['config']['storage']
    # Replicas behind a balancer finish their requests when stopped; a filesystem registry as before.
    assert p['config']['http']['draintimeout'] == '25s'
    assert p['compose']['services']['registry']['stop_grace_period'] == '30s'
    fs = build_plan(variables())
    assert 'draintimeout' not in fs['config']['http'] and 'stop_grace_period' not in fs['compose']['services']['registry']


def test_s3_on_3_x_forces_path_style_when_asked():
    p = plan(registry_version='3.0.0', registry_image='registry:3.0.0')
    assert p['problems'] == [] and p['config']['storage']['s3']['forcepathstyle'] is True
    aws = plan(registry_version='3.0.0', registry_storage_s3=dict(S3, endpoint=''))
    assert aws['config']['storage']['s3']['forcepathstyle'] is False
    assert aws['config']['storage']['s3']['secure'] is True and 'regionendpoint' not in aws['config']['storage']['s3']
    explicit = plan(registry_version='3.0.0', registry_storage_s3=dict(S3, path_style=False))
    assert explicit['config']['storage']['s3']['forcepathstyle'] is False
    # 2.8 cannot honour path_style false with an endpoint: refused, with the way out.
    found = problems(registry_storage_s3=dict(S3, path_style=False))
    assert len(found) == 1 and found[0].startswith('registry_storage_s3.path_style: false cannot be honoured by'
                                                   ' registry 2.8.3'), found


def test_s3_options_render_and_redirect_can_stay_on():
    p = plan(registry_storage_s3=dict(S3, endpoint='https://minio.example:9000/', chunk_size=6 * 1024 * 1024,
                                      redirect=True, root_directory='/reg/', encrypt=True, region='eu-west-1'))
    section = p['config']['storage']['s3']
    assert section['regionendpoint'] == 'https://minio.example:9000' and section['secure'] is True
    assert (section['chunksize'], section['rootdirectory'], section['encrypt'], section['region']) == (
        6 * 1024 * 1024, '/reg', True, 'eu-west-1')
    assert 'redirect' not in p['config']['storage']
    assert 'redirect' not in build_plan(variables())['config']['storage']


def test_s3_mounts_no_data_and_labels_the_driver():
    p = plan()
    registry = p['compose']['services']['registry']
    assert not any(':/var/lib/registry' in volume for volume in registry['volumes'])
    assert registry['labels'][STORAGE_LABEL] == 's3'
    fs = build_plan(variables())['compose']['services']['registry']
    assert any(volume.endswith(':/var/lib/registry') for volume in fs['volumes'])
    assert fs['labels'][STORAGE_LABEL] == 'filesystem'
    assert dict(p['storage'], reach=None) == {'driver': 's3', 'where': "bucket 'registry' at http://s3.test:7480", 'reach': None}
    assert p['storage']['reach']['url'] == 'http://s3.test:7480/'


def test_s3_keys_go_to_the_secret_env_file_only():
    p = plan()
    assert p['secret_env'] == {'REGISTRY_STORAGE_S3_ACCESSKEY': ACCESS, 'REGISTRY_STORAGE_S3_SECRETKEY': SECRET}
    content = 'REGISTRY_HTTP_SECRET=%s\nREGISTRY_STORAGE_S3_ACCESSKEY=%s\nREGISTRY_STORAGE_S3_SECRETKEY=%s\n' % (
        HTTP_SECRET, ACCESS, SECRET)
    env = [item for item in p['layout'] if item['path'] == p['paths']['env']][0]
    assert env['mode'] == '0600' and env['sha256'] == hashlib.sha256(content.encode()).hexdigest()
    assert registry_env('', HTTP_SECRET, extra=p['secret_env']) == content
    text = _secret_free(p)
    assert SECRET not in text and ACCESS not in text and HTTP_SECRET not in text
    # The look probes the bucket with the keys (no_log options of registry_info).
    assert p['look']['s3'] == {'endpoint': 'http://s3.test:7480', 'region': 'us-east-1', 'bucket': 'registry',
                               'access_key': ACCESS, 'secret_key': SECRET, 'path_style': True}
    assert build_plan(variables())['look']['s3'] is None


def test_generated_http_secret_is_matched_with_the_keys_after_it():
    p = plan(registry_http_secret='', _registry_host='h1')
    # Refused for s3 (see the replica rule), so look at the layout a filesystem host would get with Redis.
    assert p['problems'] and p['problems'][0].startswith('registry_http_secret: empty with registry_storage_driver s3')
    fs = build_plan(variables(registry_redis={'address': 'redis:6379', 'password': REDIS_PASSWORD}))
    env = [item for item in fs['layout'] if item['path'] == fs['paths']['env']][0]
    assert 'sha256' not in env
    stored = registry_env('', '', extra=fs['secret_env'])
    assert re.fullmatch(env['regexp'], stored)
    assert not re.fullmatch(env['regexp'], stored.replace(REDIS_PASSWORD, 'rotated-password'))
    # A stored secret is kept, the extra lines follow the plan.
    assert registry_env(stored, '', extra={}) == stored.split('\n')[0] + '\n'


@pytest.mark.parametrize('change, start', [
    ({'bucket': 'Bad_Bucket'}, "registry_storage_s3.bucket: 'Bad_Bucket' is not an S3 bucket name"),
    ({'bucket': ''}, "registry_storage_s3.bucket: '' is not an S3 bucket name"),
    ({'endpoint': 's3.test:7480'}, "registry_storage_s3.endpoint: 's3.test:7480' is not allowed"),
    ({'endpoint': 'http://s3.test:7480/path'}, "registry_storage_s3.endpoint: 'http://s3.test:7480/path' is not allowed"),
    ({'secret_key': ''}, 'registry_storage_s3: access_key and secret_key go together (got an access key and no'
                         ' secret key)'),
    ({'chunk_size': 1024}, 'registry_storage_s3.chunk_size: 1024 is not allowed; allowed: an integer of at least'),
    ({'root_directory': 'reg'}, "registry_storage_s3.root_directory: 'reg' is not allowed"),
    ({'region': 'US East'}, "registry_storage_s3.region: 'US East' is not allowed"),
    ({'bukket': 'x'}, 'registry_storage_s3: unknown key bukket; allowed: access_key, bucket,'),
    ({'redirect': 'yes'}, "registry_storage_s3.redirect: 'yes' is not allowed; allowed: true or false."),
])
def test_s3_bad_options_name_the_variable_never_the_key(change, start):
    found = problems(registry_storage_s3=dict(S3, **change))
    assert len(found) == 1 and found[0].startswith(start), found
    assert SECRET not in found[0]
    # Negative control: the same options without the change plan cleanly.
    assert problems() == []


def test_s3_without_keys_uses_the_host_credentials():
    p = plan(registry_storage_s3=dict(S3, access_key='', secret_key=''))
    assert p['problems'] == [] and p['secret_env'] == {}


def test_the_probe_of_the_look_is_refused_clearly():
    bad = {'ok': False, 'msg': "S3 bucket 'registry' at http://s3.test:7480 answered HTTP 403 SignatureDoesNotMatch:"
                               " the secret key does not match the access key"}
    looked = build_plan(s3_vars(), info={'containers': [], 's3': bad})
    assert looked['problems'] == ['registry_storage_s3: ' + bad['msg']]
    assert build_plan(s3_vars(), info={'containers': [], 's3': {'ok': True, 'msg': 'listed'}})['problems'] == []


# ------------------------------------------------------------------------------------------------
# Switching a deployed host's storage.

def _deployed(labels):
    return {'containers': [{'service': 'registry', 'labels': labels}, {'service': 'ui', 'labels': {}}]}


@pytest.mark.parametrize('wanted, labels, migrated, refused', [
    ('s3', {STORAGE_LABEL: 'filesystem'}, False, True),
    ('s3', {}, False, True),                               # deployed before the label: filesystem
    ('filesystem', {STORAGE_LABEL: 's3'}, False, True),
    ('s3', {STORAGE_LABEL: 'filesystem'}, True, False),    # the user says the data is migrated
    ('s3', {STORAGE_LABEL: 's3'}, False, False),
    ('filesystem', {}, False, False),
])
def test_switching_a_deployed_host_needs_the_data_migrated(wanted, labels, migrated, refused):
    values = s3_vars() if wanted == 's3' else variables()
    values['registry_storage_migrated'] = migrated
    found = build_plan(values, info=_deployed(labels))['problems']
    assert bool(found) == refused, found
    if refused:
        deployed = labels.get(STORAGE_LABEL, 'filesystem')
        assert found == ["registry_storage_driver: '%s' but the registry deployed on this host keeps its images with"
                         " '%s' (label %s of its container). Switching would leave them behind: the registry would"
                         " start empty. Copy the data to the new storage first, then run again with"
                         " registry_storage_migrated: true." % (wanted, deployed, STORAGE_LABEL)]
    # A host with no registry container (first deployment) is never refused.
    assert build_plan(values, info={'containers': []})['problems'] == []


# ------------------------------------------------------------------------------------------------
# Redis.

def test_redis_cache_per_version_with_the_password_outside_config():
    two = build_plan(variables(registry_redis={'address': 'redis.test:6379', 'password': REDIS_PASSWORD, 'db': 2}))
    assert two['problems'] == []
    assert two['config']['redis'] == {'addr': 'redis.test:6379', 'db': 2}
    assert two['config']['storage']['cache'] == {'blobdescriptor': 'redis'}
    assert two['secret_env'] == {'REGISTRY_REDIS_PASSWORD': REDIS_PASSWORD}
    assert REDIS_PASSWORD not in _secret_free(two)
    three = build_plan(variables(registry_version='3.0.0', registry_redis={'address': 'redis.test:6379'}))
    assert three['config']['redis'] == {'addrs': ['redis.test:6379'], 'db': 0} and three['secret_env'] == {}
    off = build_plan(variables())
    assert 'redis' not in off['config'] and off['config']['storage']['cache'] == {'blobdescriptor': 'inmemory'}


@pytest.mark.parametrize('redis, start', [
    ({'address': 'redis'}, "registry_redis.address: 'redis' is not allowed"),
    ({'address': 'redis:6379', 'db': 'x'}, "registry_redis.db: 'x' is not allowed"),
    ({'password': REDIS_PASSWORD}, 'registry_redis.password is set but registry_redis.address is empty'),
    ({'adress': 'redis:6379'}, 'registry_redis: unknown key adress'),
])
def test_redis_bad_options(redis, start):
    found = build_plan(variables(registry_redis=redis))['problems']
    assert len(found) == 1 and found[0].startswith(start) and REDIS_PASSWORD not in found[0], found


def test_registry_networks_join_the_registry_only():
    p = build_plan(variables(registry_networks=['s3net']))
    assert p['compose']['networks'] == {'s3net': {'external': True}}
    assert p['compose']['services']['registry']['networks'] == ['default', 's3net']
    assert 'networks' not in p['compose']['services']['ui']
    assert 'networks' not in build_plan(variables())['compose']
    found = build_plan(variables(registry_networks=['bad name']))['problems']
    assert len(found) == 1 and found[0].startswith("registry_networks: ['bad name'] is not allowed")


# ------------------------------------------------------------------------------------------------
# Replicas on shared storage share one HTTP secret.

def _peer(secret, bucket='registry', driver='s3'):
    return {'registry_storage_driver': driver, 'registry_storage_s3': dict(S3, bucket=bucket),
            'registry_http_secret': secret}


def test_s3_with_a_generated_secret_is_refused_saying_why():
    found = problems(registry_http_secret='')
    assert found == ["registry_http_secret: empty with registry_storage_driver s3 (shared storage, bucket 'registry' at"
                     " http://s3.test:7480): each host would generate its own secret, and an upload started on one"
                     " replica fails on another (BLOB_UPLOAD_INVALID). Set the same registry_http_secret (from vault)"
                     " on every registry host that uses this storage."]
    assert build_plan(variables(registry_http_secret=''))['problems'] == []       # filesystem: its own storage


def test_replicas_with_differing_secrets_are_refused():
    other = 'o' * 32
    peers = {'r1': _peer(HTTP_SECRET), 'r2': _peer(other), 'r3': _peer(other, bucket='elsewhere'),
             'r4': _peer(other, driver='filesystem')}
    found = problems(_registry_host='r1', _registry_peers=peers)
    assert found == ["registry_http_secret differs between r1 and r2, which share s3 storage (bucket 'registry' at"
                     " http://s3.test:7480): an upload started on one replica fails on another (BLOB_UPLOAD_INVALID)."
                     " Set the same registry_http_secret (from vault) on all of them."]
    assert HTTP_SECRET not in found[0] and other not in found[0]
    # Negative control: the same secret everywhere on the shared bucket.
    peers['r2'] = _peer(HTTP_SECRET)
    assert problems(_registry_host='r1', _registry_peers=peers) == []
    # A peer that would generate its own secret differs too.
    peers['r2'] = _peer('')
    assert len(problems(_registry_host='r1', _registry_peers=peers)) == 1


# ------------------------------------------------------------------------------------------------
# The probe's signature (AWS Signature Version 4), checked against AWS's published example
# (Amazon S3 API reference, "Example: GET Bucket Lifecycle").

def test_signature_v4_matches_the_aws_example():
    headers = _s3.signed_headers('GET', 'examplebucket.s3.amazonaws.com', '/', [('lifecycle', '')], 'us-east-1',
                                 'AKIAIOSFODNN7EXAMPLE', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
                                 datetime.datetime(2013, 5, 24, tzinfo=datetime.timezone.utc))
    assert headers['Authorization'] == (
        'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,'
        ' SignedHeaders=host;x-amz-content-sha256;x-amz-date,'
        ' Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543')
    assert headers['x-amz-date'] == '20130524T000000Z'


def test_bucket_url_by_path_or_host_name():
    assert _s3.bucket_url('http://s3.test:7480', 'us-east-1', 'reg', True) == ('http', 's3.test:7480', '/reg')
    assert _s3.bucket_url('', 'eu-west-1', 'reg', False) == ('https', 'reg.s3.eu-west-1.amazonaws.com', '/')


def test_probe_without_keys_is_skipped_and_an_unreachable_endpoint_is_named():
    skipped = _s3.probe_bucket('http://s3.test:7480', 'us-east-1', 'reg', '', '', True)
    assert skipped['ok'] and skipped['skipped']
    # 127.0.0.1 port 9 (discard): nothing listens on this machine's loopback there.
    down = _s3.probe_bucket('http://127.0.0.1:9', 'us-east-1', 'reg', ACCESS, SECRET, True, timeout=2)
    assert not down['ok'] and down['msg'].startswith("S3 bucket 'reg' at http://127.0.0.1:9 is not reachable from"
                                                     " the host:")
    assert SECRET not in down['msg'] and ACCESS not in down['msg']
