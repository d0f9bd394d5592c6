# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockyard.registry.registry_retention against the real registry binary (Debian's docker-registry,
CNCF distribution 2.8) with TLS, htpasswd and deletes on, driven through real ansible-playbook runs.

60 tags in 6 repositories are pushed through the HTTP API (Docker and OCI image manifests with
chosen creation times, a Docker manifest list, an OCI index, tags sharing a digest) and with skopeo.
What remains is read back with curl and `skopeo list-tags`, two clients independent of the module."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os
import shutil
import subprocess
import sys

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _health

# The registry process, its PKI and users come from the registry_health tests (one definition).
from test_registry_health import USER, PASSWORD, assert_no_secret, htpasswd, pki, registry  # noqa: F401 pylint: disable=unused-import

pytestmark = pytest.mark.skipif(not shutil.which('skopeo'), reason='needs Debian package skopeo')

MODULE = 'dockyard.registry.registry_retention'
MEDIA_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
MEDIA_OCI = 'application/vnd.oci.image.manifest.v1+json'
MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
MEDIA_OCI_CONFIG = 'application/vnd.oci.image.config.v1+json'
MEDIA_OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip'
ACCEPT = ', '.join([_health.MEDIA_MANIFEST, MEDIA_LIST, MEDIA_OCI, MEDIA_OCI_INDEX])

RULES = [
    {'repository': 'keep/*', 'keep_last': 100},
    {'repository': 'ci/app', 'keep_last': 5, 'keep_tags': ['latest', 'v*'], 'older_than': '10d'},
    {'repository': 'ci/oci', 'keep_last': 3},
    {'repository': 'multi/*', 'keep_last': 1},
    {'repository': 'apps/*', 'keep_last': 1},
    {'repository': 'keep/e*', 'keep_last': 0},  # never applies: keep/* comes first
]


# ---------------------------------------------------------------- pushing through the HTTP API

class Pusher(object):
    """Pushes tiny images with chosen creation times through _health's client (the same
    ansible.module_utils.urls code registry_health uses for its round trip)."""

    def __init__(self, reg, now):
        target = _health.parse_url(reg.url)
        self.client = _health.RegistryClient(target, _health.make_ssl_context(reg.ca), 30, USER, PASSWORD)
        self.now = now
        self.layers = {}
        self.count = 0

    def _layer(self, repository):
        if repository not in self.layers:
            layer, diff_id = _health.build_layer(('layer of %s' % repository).encode())
            self.layers[repository] = (layer, diff_id, _health._upload_blob(self.client, repository, layer))
        return self.layers[repository]

    def _put(self, repository, reference, media_type, body):
        resp = self.client.call('PUT', '/v2/%s/manifests/%s' % (repository, reference), auth=True, data=body,
                                headers={'Content-Type': media_type})
        assert resp.status == 201, (repository, reference, _health.describe_response(resp))
        digest = resp.headers.get('Docker-Content-Digest')
        assert digest == _health.sha256_digest(body)
        return digest

    def image(self, repository, age, tag=None, oci=False, arch='amd64'):
        """Push one image created `age` ago (a timedelta); tag it, or push it by digest. Return
        (digest, manifest bytes)."""
        self.count += 1
        layer, diff_id, layer_digest = self._layer(repository)
        created = self.now - age
        config = _health._canonical_json({
            'architecture': arch, 'os': 'linux', 'config': {'Labels': {'image': str(self.count)}},
            'created': created.strftime('%Y-%m-%dT%H:%M:%S.') + '%09dZ' % (created.microsecond * 1000),
            'rootfs': {'type': 'layers', 'diff_ids': [diff_id]}, 'history': [{'created_by': 'test'}],
        })
        config_digest = _health._upload_blob(self.client, repository, config)
        media_type = MEDIA_OCI if oci else _health.MEDIA_MANIFEST
        manifest = _health._canonical_json({
            'schemaVersion': 2, 'mediaType': media_type,
            'config': {'mediaType': MEDIA_OCI_CONFIG if oci else _health.MEDIA_CONFIG, 'size': len(config),
                       'digest': config_digest},
            'layers': [{'mediaType': MEDIA_OCI_LAYER if oci else _health.MEDIA_LAYER, 'size': len(layer),
                        'digest': layer_digest}],
        })
        return self._put(repository, tag or _health.sha256_digest(manifest), media_type, manifest), manifest

    def retag(self, repository, manifest, tag, oci=False):
        return self._put(repository, tag, MEDIA_OCI if oci else _health.MEDIA_MANIFEST, manifest)

    def index(self, repository, tag, platforms, oci=True):
        """An OCI index (or Docker manifest list) over already pushed (arch, digest, manifest bytes)."""
        media_type = MEDIA_OCI_INDEX if oci else MEDIA_LIST
        body = _health._canonical_json({'schemaVersion': 2, 'mediaType': media_type, 'manifests': [
            {'mediaType': MEDIA_OCI if oci else _health.MEDIA_MANIFEST, 'digest': digest, 'size': len(manifest),
             'platform': {'architecture': arch, 'os': 'linux'}} for arch, digest, manifest in platforms]})
        return self._put(repository, tag, media_type, body)


def days(n, hours=0):
    return datetime.timedelta(days=n, hours=hours)


def populate(reg):
    """Push the test data set. Return (digests {repository: {tag: digest}}, extra digests by name)."""
    pusher = Pusher(reg, datetime.datetime.now(datetime.timezone.utc))
    tags = {}
    extra = {}

    # ci/app: build-001 (30 d 1 h old) .. build-030 (1 d 1 h); latest = build-030, v1.0 = build-005; v2.0 old
    app = tags['ci/app'] = {}
    for i in range(1, 31):
        app['build-%03d' % i], manifest = pusher.image('ci/app', days(31 - i, 1), 'build-%03d' % i)
        if i == 30:
            app['latest'] = pusher.retag('ci/app', manifest, 'latest')
        if i == 5:
            app['v1.0'] = pusher.retag('ci/app', manifest, 'v1.0')
    app['v2.0'] = pusher.image('ci/app', days(100), 'v2.0')[0]

    # ci/oci: OCI image manifests, oci-01 (1 d 2 h old) .. oci-12
    oci = tags['ci/oci'] = {}
    for i in range(1, 13):
        oci['oci-%02d' % i] = pusher.image('ci/oci', days(i, 2), 'oci-%02d' % i, oci=True)[0]

    # multi/tool: an OCI index whose FIRST platform is old (40 d) and second new (2 d), a tag on its
    # first platform, a single image (20 d) and an older Docker manifest list (50 d, 60 d)
    multi = tags['multi/tool'] = {}
    amd64_digest, amd64 = pusher.image('multi/tool', days(40), oci=True, arch='amd64')
    arm64_digest, arm64 = pusher.image('multi/tool', days(2), oci=True, arch='arm64')
    multi['multiarch-new'] = pusher.index('multi/tool', 'multiarch-new',
                                          [('amd64', amd64_digest, amd64), ('arm64', arm64_digest, arm64)])
    multi['amd64-only'] = pusher.retag('multi/tool', amd64, 'amd64-only', oci=True)
    multi['solo'] = pusher.image('multi/tool', days(20), 'solo')[0]
    old_amd64_digest, old_amd64 = pusher.image('multi/tool', days(50), arch='amd64')
    old_arm64_digest, old_arm64 = pusher.image('multi/tool', days(60), arch='arm64')
    multi['multiarch-old'] = pusher.index('multi/tool', 'multiarch-old', [
        ('amd64', old_amd64_digest, old_amd64), ('arm64', old_arm64_digest, old_arm64)], oci=False)
    extra.update(new_platforms=[amd64_digest, arm64_digest], old_platforms=[old_amd64_digest, old_arm64_digest])

    # keep/everything (keep/* keeps 100) and other/untouched (no rule): old images, must all stay
    tags['keep/everything'] = dict(('k%d' % i, pusher.image('keep/everything', days(100 + i), 'k%d' % i)[0])
                                   for i in range(5))
    tags['other/untouched'] = dict(('u%d' % i, pusher.image('other/untouched', days(200 + i), 'u%d' % i)[0])
                                   for i in range(3))

    # apps/hello, pushed by skopeo (another client): 1 and stable on one digest (build-030), old = build-001
    tags['apps/hello'] = {}
    for source, tag in (('build-030', '1'), ('build-030', 'stable'), ('build-001', 'old')):
        skopeo(reg, 'copy', '--src-cert-dir', cert_dir(reg), '--dest-cert-dir', cert_dir(reg),
               '--src-creds', '%s:%s' % (USER, PASSWORD), '--dest-creds', '%s:%s' % (USER, PASSWORD),
               'docker://localhost:%d/ci/app:%s' % (reg.port, source), 'docker://localhost:%d/apps/hello:%s' % (reg.port, tag))
        tags['apps/hello'][tag] = app[source]  # skopeo copies the manifest unchanged: same digest
    return tags, extra


# ---------------------------------------------------------------- independent clients

def cert_dir(reg):
    path = os.path.join(str(reg.dir), 'skopeo-certs')
    if not os.path.isdir(path):
        os.mkdir(path)
        shutil.copy(reg.ca, os.path.join(path, 'ca.crt'))
    return path


def skopeo(reg, *argv):
    proc = subprocess.run(['skopeo'] + list(argv), capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def skopeo_tags(reg, repository):
    out = skopeo(reg, 'list-tags', '--cert-dir', cert_dir(reg), '--creds', '%s:%s' % (USER, PASSWORD),
                 'docker://localhost:%d/%s' % (reg.port, repository))
    return sorted(json.loads(out)['Tags'] or [])


def curl(reg, path, method='GET', password=PASSWORD):
    """(status, body) with curl."""
    proc = subprocess.run(['curl', '-sS', '--noproxy', '*', '--cacert', reg.ca, '-u', '%s:%s' % (USER, password),
                           '-H', 'Accept: ' + ACCEPT] + (['--head'] if method == 'HEAD' else ['-X', method])
                          + ['-o', '-', '-w', '\n%{http_code}', reg.url + path],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    body, dummy, status = proc.stdout.rpartition('\n')
    return int(status), body


def remaining(reg, repositories):
    """{repository: sorted tags} read with curl, checked against skopeo list-tags."""
    found = {}
    for repository in repositories:
        status, body = curl(reg, '/v2/%s/tags/list' % repository)
        assert status == 200, body
        found[repository] = sorted(json.loads(body)['tags'] or [])
        assert skopeo_tags(reg, repository) == found[repository], repository
    return found


# ---------------------------------------------------------------- ansible-playbook

def run_retention(tmp_path, module_args, check=False, diff=False, name='run'):
    """One registry_retention task through ansible-playbook (JSON callback); (result, all output)."""
    playbook = tmp_path / ('%s.json' % name)
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
                                     'vars': {'ansible_python_interpreter': sys.executable},
                                     'tasks': [{'name': name, MODULE: module_args, 'ignore_errors': True}]}]))
    os.chmod(str(playbook), 0o600)
    argv = ['ansible-playbook', '-i', 'localhost,', str(playbook)] + (['--check'] if check else []) + \
        (['--diff'] if diff else [])
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_NOCOLOR='1',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=600, env=env, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    document = json.loads(proc.stdout[proc.stdout.index('{'):])
    result = document['plays'][0]['tasks'][0]['hosts']['localhost']
    return result, proc.stdout + proc.stderr


def module_args(reg, **kwargs):
    base = {'url': reg.url, 'ca_path': reg.ca, 'username': USER, 'password': PASSWORD, 'rules': RULES,
            'page_size': 4}
    base.update(kwargs)
    return base


def entries(tags, repository, names):
    return [{'repository': repository, 'tag': tag, 'digest': tags[repository][tag]} for tag in sorted(names)]


# ---------------------------------------------------------------- tests

def test_retention_on_a_real_registry(tmp_path, registry):
    reg = registry(delete=True)
    tags, extra = populate(reg)
    repositories = sorted(tags)
    pushed = dict((repository, sorted(tags[repository])) for repository in repositories)
    assert sum(len(t) for t in pushed.values()) == 60
    assert tags['ci/app']['latest'] == tags['ci/app']['build-030'] == tags['apps/hello']['stable']
    assert remaining(reg, repositories) == pushed
    status, body = curl(reg, '/v2/_catalog?n=4')  # page_size 4: the module must follow the Link to multi/tool
    assert status == 200 and json.loads(body)['repositories'] == repositories[:4]

    app_deleted = ['build-%03d' % i for i in range(1, 22) if i != 5]
    expected_deleted = (entries(tags, 'apps/hello', ['old']) + entries(tags, 'ci/app', app_deleted)
                        + entries(tags, 'ci/oci', ['oci-%02d' % i for i in range(4, 13)])
                        + entries(tags, 'multi/tool', ['multiarch-old', 'solo']))
    expected_spared = (entries(tags, 'apps/hello', ['stable']) + entries(tags, 'ci/app', ['build-005'])
                       + entries(tags, 'multi/tool', ['amd64-only']))
    expected_after = dict((repository, sorted(set(pushed[repository]) - set(
        e['tag'] for e in expected_deleted if e['repository'] == repository))) for repository in repositories)
    assert len(expected_deleted) == 32
    assert expected_after['ci/app'] == ['build-005'] + ['build-%03d' % i for i in range(22, 31)] + \
        ['latest', 'v1.0', 'v2.0']
    assert expected_after['multi/tool'] == ['amd64-only', 'multiarch-new']

    # 1. check mode with --diff: exactly what would go, nothing deleted
    res, output = run_retention(tmp_path, module_args(reg), check=True, diff=True, name='check')
    assert not res.get('failed'), res.get('msg')
    assert res['changed'] is True
    assert res['deleted'] == expected_deleted
    assert res['spared'] == expected_spared
    assert res['undated'] == []
    assert res['repositories'] == [
        {'repository': 'apps/hello', 'rule': 4, 'tags': 3, 'kept': 2, 'deleted': 1},
        {'repository': 'ci/app', 'rule': 1, 'tags': 33, 'kept': 13, 'deleted': 20},
        {'repository': 'ci/oci', 'rule': 2, 'tags': 12, 'kept': 3, 'deleted': 9},
        {'repository': 'keep/everything', 'rule': 0, 'tags': 5, 'kept': 5, 'deleted': 0},
        {'repository': 'multi/tool', 'rule': 3, 'tags': 4, 'kept': 2, 'deleted': 2},
    ]  # other/untouched: no rule
    changed = ['apps/hello', 'ci/app', 'ci/oci', 'multi/tool']
    assert res['diff'] == {'before': dict((r, pushed[r]) for r in changed),
                           'after': dict((r, expected_after[r]) for r in changed)}
    assert remaining(reg, repositories) == pushed
    assert_no_secret(output)

    # 2. negative control for auth: a wrong password fails clearly and deletes nothing
    res, output = run_retention(tmp_path, module_args(reg, password='not-the-password'), name='wrong')
    assert res['failed'] is True
    assert res['msg'] == ("credentials of user %r rejected: GET /v2/_catalog answered HTTP 401 "
                          "(UNAUTHORIZED: authentication required)" % USER)
    assert res['changed'] is False and res['deleted'] == []
    assert 'not-the-password' not in output
    assert remaining(reg, repositories) == pushed

    # 3. apply
    res, output = run_retention(tmp_path, module_args(reg), diff=True, name='apply')
    assert not res.get('failed'), res.get('msg')
    assert res['changed'] is True
    assert res['deleted'] == expected_deleted
    assert res['spared'] == expected_spared
    assert remaining(reg, repositories) == expected_after
    assert_no_secret(output)
    kept_digests = set(tags[r][t] for r in repositories for t in expected_after[r])
    for entry in expected_deleted:
        path = '/v2/%s/manifests/%s' % (entry['repository'], entry['digest'])
        assert curl(reg, path, method='HEAD')[0] == (200 if entry['digest'] in kept_digests else 404), entry
    assert curl(reg, '/v2/ci/app/manifests/%s' % tags['ci/app']['build-005'], method='HEAD')[0] == 200  # spared
    # the kept index still has both platforms; the deleted manifest list left its platforms untagged for GC
    for digest in extra['new_platforms'] + extra['old_platforms']:
        assert curl(reg, '/v2/multi/tool/manifests/%s' % digest, method='HEAD')[0] == 200
    status, body = curl(reg, '/v2/multi/tool/manifests/multiarch-new')
    assert status == 200 and [m['digest'] for m in json.loads(body)['manifests']] == extra['new_platforms']

    # 4. rerun: nothing left to delete, in check mode and for real
    for check in (True, False):
        res, dummy = run_retention(tmp_path, module_args(reg, page_size=100), check=check, name='rerun-%s' % check)
        assert not res.get('failed'), res.get('msg')
        assert res['changed'] is False
        assert res['deleted'] == []
        assert res['spared'] == expected_spared
    assert remaining(reg, repositories) == expected_after


def test_delete_disabled_fails_clearly_and_deletes_nothing(tmp_path, registry):
    reg = registry(delete=False)
    pusher = Pusher(reg, datetime.datetime.now(datetime.timezone.utc))
    for i in range(3):
        pusher.image('ci/app', days(i + 1), 'b%d' % i)
    rules = [{'repository': 'ci/*', 'keep_last': 1}]

    res, dummy = run_retention(tmp_path, module_args(reg, rules=rules), check=True, name='check')
    assert not res.get('failed'), res.get('msg')  # check mode sends no DELETE, so it cannot tell
    assert [e['tag'] for e in res['deleted']] == ['b1', 'b2']

    res, output = run_retention(tmp_path, module_args(reg, rules=rules), name='apply')
    assert res['failed'] is True
    assert res['changed'] is False and res['deleted'] == []
    assert 'answered HTTP 405 (UNSUPPORTED: ' in res['msg']
    assert 'deletes are disabled on the registry' in res['msg']
    assert 'storage.delete.enabled: true' in res['msg'] and 'registry_delete_enabled: true' in res['msg']
    assert remaining(reg, ['ci/app']) == {'ci/app': ['b0', 'b1', 'b2']}
    assert_no_secret(output)


def test_wrong_ca_fails_before_anything_is_read(tmp_path, registry, pki):
    reg = registry(delete=True)
    Pusher(reg, datetime.datetime.now(datetime.timezone.utc)).image('ci/app', days(5), 'b0')
    res, dummy = run_retention(tmp_path, module_args(reg, ca_path=str(pki['other_ca']),
                                                     rules=[{'repository': '*', 'keep_last': 0}]))
    assert res['failed'] is True
    assert 'GET /v2/_catalog failed' in res['msg'] and 'CERTIFICATE_VERIFY_FAILED' in res['msg']
    assert remaining(reg, ['ci/app']) == {'ci/app': ['b0']}
    # control: the right CA with the same rule does delete it
    res, dummy = run_retention(tmp_path, module_args(reg, rules=[{'repository': '*', 'keep_last': 0}]), name='ok')
    assert res['changed'] is True and [e['tag'] for e in res['deleted']] == ['b0']
    assert remaining(reg, ['ci/app']) == {'ci/app': []}
