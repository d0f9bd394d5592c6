# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Backup and restore on the fleet test bed (issue 9 part 3): hosts reached over real SSH, each with
its own Docker engine (tests/testbed/fleet).

registry1 is deployed with playbooks/site.yml (TLS mode `ca`, two users); registry2 stays bare. A
fleet client pushes several repositories and tags to registry1 with the docker CLI (two tags on one
digest among them). playbooks/backup.yml backs registry1 up onto the controller while the client
keeps pulling from it (every pull inside the read-only window succeeds); playbooks/restore.yml
restores the archive onto the bare registry2. Then every tag of every repository answers from
registry2 with the manifest digest it had on registry1 (over the API and with `docker pull` on the
client), the users log in to registry2 with their passwords (a wrong one is refused), and registry2
runs with the restored htpasswd, HTTP secret and CA.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import secrets
import stat
import sys
import tarfile
import time
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'testbed', 'fleet'))

import fleet as fleetlib  # noqa: E402
import fleet_lib  # noqa: E402
import roles_lib  # noqa: E402

PORT = 5000
BASE_DIR = '/opt/registry'
BACKUP = os.path.join(roles_lib.REPO, 'playbooks', 'backup.yml')
RESTORE = os.path.join(roles_lib.REPO, 'playbooks', 'restore.yml')
PULL_LOOP = '/tmp/fleet-pull-loop'
MAINTENANCE_LOG_RE = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)Z registry-maintenance\[[^]]*\]: (.*)$', re.M)

# Run on a fleet client (python3 -, the registry and credentials substituted): every tag of every
# repository of the registry with its manifest digest, as JSON {"repository:tag": digest}.
EVERY_TAG = r'''
import base64, json, ssl, urllib.request
REGISTRY, USER, PASSWORD = %s
context = ssl.create_default_context(cafile='/etc/docker/certs.d/%%s/ca.crt' %% REGISTRY)
auth = 'Basic ' + base64.b64encode(('%%s:%%s' %% (USER, PASSWORD)).encode()).decode()
ACCEPT = ', '.join(['application/vnd.docker.distribution.manifest.v2+json',
                    'application/vnd.docker.distribution.manifest.list.v2+json',
                    'application/vnd.oci.image.manifest.v1+json', 'application/vnd.oci.image.index.v1+json'])
def get(path, method='GET'):
    request = urllib.request.Request('https://%%s%%s' %% (REGISTRY, path), method=method,
                                     headers={'Authorization': auth, 'Accept': ACCEPT})
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        return answer.headers, answer.read()
found = {}
for repository in json.loads(get('/v2/_catalog')[1])['repositories']:
    for tag in json.loads(get('/v2/%%s/tags/list' %% repository)[1])['tags'] or []:
        headers, dummy = get('/v2/%%s/manifests/%%s' %% (repository, tag), method='HEAD')
        found['%%s:%%s' %% (repository, tag)] = headers['Docker-Content-Digest']
print(json.dumps(found, sort_keys=True))
'''

# Run on a fleet client in the background until PULL_LOOP.stop exists: pulls base/hello:1 over the
# API (manifest, then every blob checked against its digest) and logs "start end ok|error" per pull.
PULL_LOOP_SCRIPT = r'''
import base64, hashlib, json, os, ssl, sys, time, urllib.request
REGISTRY, USER, PASSWORD, STOP, LOG = %s
context = ssl.create_default_context(cafile='/etc/docker/certs.d/%%s/ca.crt' %% REGISTRY)
auth = 'Basic ' + base64.b64encode(('%%s:%%s' %% (USER, PASSWORD)).encode()).decode()
def get(path, accept=None):
    request = urllib.request.Request('https://%%s%%s' %% (REGISTRY, path), headers={'Authorization': auth})
    if accept:
        request.add_header('Accept', accept)
    with urllib.request.urlopen(request, context=context, timeout=10) as answer:
        return answer.read()
with open(LOG, 'a') as log:
    while not os.path.exists(STOP):
        start = time.time()
        try:
            document = json.loads(get('/v2/base/hello/manifests/1', 'application/vnd.docker.distribution.manifest.v2+json'))
            for digest in [document['config']['digest']] + [layer['digest'] for layer in document['layers']]:
                if 'sha256:' + hashlib.sha256(get('/v2/base/hello/blobs/' + digest)).hexdigest() != digest:
                    raise ValueError('blob %%s has other content' %% digest)
            outcome = 'ok'
        except Exception as exc:
            outcome = 'error:' + repr(exc).replace(' ', '_')
        log.write('%%.6f %%.6f %%s\n' %% (start, time.time(), outcome))
        log.flush()
        time.sleep(0.05)
'''


def maintenance_times(stdout):
    """{message: epoch seconds} of the maintenance script's log lines (UTC, nanoseconds)."""
    times = {}
    for match in MAINTENANCE_LOG_RE.finditer(stdout or ''):
        stamp = datetime.datetime.strptime(match.group(1), '%Y-%m-%dT%H:%M:%S').replace(tzinfo=datetime.timezone.utc)
        times[match.group(3).strip()] = stamp.timestamp() + float('0.' + match.group(2))
    return times


class FleetBackup(fleet_lib.FleetRun):
    """The fleet, the controller directories and the playbook runs of this test."""

    def __init__(self, fleet, root):
        fleet_lib.FleetRun.__init__(self, fleet, root)
        self.backups = os.path.join(root, 'backups')
        self.users = [{'name': 'admin', 'password': 'Adm1n-' + secrets.token_urlsafe(12)},
                      {'name': 'ci', 'password': 'C1-' + secrets.token_urlsafe(12)}]

    @property
    def registry1(self):
        return self.fleet.host('registry1')

    @property
    def registry2(self):
        return self.fleet.host('registry2')

    @property
    def client(self):
        return self.fleet.host('client1')

    @staticmethod
    def address(registry):
        return '%s:%d' % (registry.fqdn, PORT)

    def every_tag(self, registry):
        user = self.users[1]
        script = EVERY_TAG % json.dumps([self.address(registry), user['name'], user['password']])
        return json.loads(self.sh_ok(self.client, 'python3 -', input=script))

    def login(self, registry, user, password):
        return self.sh(self.client, 'docker login --username %s --password-stdin %s' % (user, self.address(registry)),
                       input=password + '\n')

    def registry_env(self, registry):
        """The running registry container's environment, as {name: value}."""
        ids = self.sh_ok(registry, 'docker ps -q --filter label=com.docker.compose.project=registry '
                                   '--filter label=com.docker.compose.service=registry').split()
        assert len(ids) == 1, (registry.fqdn, ids)
        env = json.loads(self.sh_ok(registry, 'docker inspect %s' % ids[0]))[0]['Config']['Env']
        return dict(item.split('=', 1) for item in env)


@pytest.fixture(scope='module')
def bed(docker_engine, tmp_path_factory):
    if roles_lib.docker('image', 'inspect', fleetlib.IMAGE).returncode != 0:
        pytest.fail('image %s is missing: %s' % (fleetlib.IMAGE, fleetlib.BUILD_HINT))
    root = str(tmp_path_factory.mktemp('fleet-backup'))
    name = 'bk-%s' % uuid.uuid4().hex[:8]
    with fleetlib.Fleet(name, registries=2, clients=1, out=os.path.join(root, 'fleet')) as fleet:
        ctx = FleetBackup(fleet, root)
        archives = fleetlib.save_images(os.path.join(root, 'images'))
        images = {a['image']: a for a in archives}
        payload = [a for a in archives if a['kind'] == 'payload'][0]
        os.makedirs(os.path.join(root, 'ca'), mode=0o700)
        ca_cert = os.path.join(root, 'ca', 'ca.crt')
        ctx.write_vars(
            registry_version=roles_lib.REGISTRY_VERSION,
            registry_image=roles_lib.REGISTRY_IMAGE,
            registry_ui_enabled=False,
            registry_image_archives=[{'src': images[roles_lib.REGISTRY_IMAGE]['src'], 'image': roles_lib.REGISTRY_IMAGE}],
            registry_tls_mode='ca',
            registry_tls_ca_create=True,
            registry_tls_ca_cert=ca_cert,
            registry_tls_ca_key=os.path.join(root, 'ca', 'ca.key'),
            registry_users=ctx.users,
            # The client trusts both registries by the CA on the controller: registry2 is bare until
            # the restore, so there is no CA to read from it yet.
            registry_client_registries=[{'name': h.fqdn, 'port': PORT, 'ca_cert_src': ca_cert}
                                        for h in fleet.group('registry')],
        )
        ctx.payload = payload
        yield ctx


def test_backup_of_registry1_restored_onto_bare_registry2(bed):
    registry1, registry2, client = bed.registry1, bed.registry2, bed.client

    # registry1 deployed (and the client's trust); registry2 stays bare.
    deployed = bed.site(dockyard_registry_hosts=registry1.fqdn)
    assert deployed.rc == 0, deployed.describe()
    assert bed.sh(registry2, 'test ! -e %s' % BASE_DIR).returncode == 0, 'registry2 is not bare'
    assert bed.sh_ok(registry2, 'docker ps -aq').split() == []

    # A client pushes several repositories and tags with the docker CLI; team/app:1.0 and
    # team/app:latest are one digest; team/app:big carries a 32 MB layer (a read-only window
    # long enough to pull in).
    bed.load_payload(client.fqdn)
    admin = bed.users[0]
    login = bed.login(registry1, admin['name'], admin['password'])
    assert login.returncode == 0, login.stderr
    address = bed.address(registry1)
    builds = {'app-1': 'printf "%s" > one', 'app-2': 'printf "%s" > two', 'big': 'head -c 32000000 /dev/urandom > big'}
    for label, command in builds.items():
        context = '/tmp/ctx-%s' % label
        # FROM the payload, with one file of its own made on the client (no RUN: the payload has no shell).
        bed.sh_ok(client, 'set -e; rm -rf {c}; mkdir -p {c}; cd {c}; {cmd}; printf "FROM {base}\\nCOPY . /data/\\n" > Dockerfile; '
                          'DOCKER_BUILDKIT=0 docker build -q -t fleet-backup/{label} .'.format(
                              c=context, cmd=command.replace('%s', uuid.uuid4().hex), base=bed.payload['image'], label=label),
                  timeout=600)
    pushes = [('fleet-backup/app-1', 'team/app:1.0'), ('fleet-backup/app-1', 'team/app:latest'),
              ('fleet-backup/app-2', 'team/app:2.0'), ('fleet-backup/big', 'team/app:big'),
              ('fleet-backup/app-2', 'tools/lint:v1'), (bed.payload['image'], 'base/hello:1')]
    for local, ref in pushes:
        out = bed.sh_ok(client, 'set -e; docker tag {l} {a}/{r}; docker push {a}/{r}'.format(l=local, a=address, r=ref),
                        timeout=600)
        assert re.search(r'digest: sha256:[0-9a-f]{64}', out), out
    tags_a = bed.every_tag(registry1)
    assert sorted(tags_a) == sorted(ref for dummy, ref in pushes), tags_a
    assert tags_a['team/app:1.0'] == tags_a['team/app:latest'] != tags_a['team/app:2.0']
    assert tags_a['tools/lint:v1'] == tags_a['team/app:2.0']

    # Backup of registry1 onto the controller while the client keeps pulling from registry1.
    user = bed.users[1]
    bed.sh_ok(client, 'rm -f {p}.stop {p}.log; cat > {p}.py; nohup python3 {p}.py >{p}.out 2>&1 </dev/null &'.format(p=PULL_LOOP),
              input=PULL_LOOP_SCRIPT % json.dumps([address, user['name'], user['password'], PULL_LOOP + '.stop',
                                                   PULL_LOOP + '.log']))
    roles_lib.wait_for(lambda: bed.sh(client, 'grep -q " ok$" %s.log' % PULL_LOOP).returncode == 0, 60,
                       what='the first pull of the client')
    try:
        backup = bed.play(BACKUP, limit=registry1.fqdn, registry_backup_path=bed.backups)
    finally:
        bed.sh(client, 'touch %s.stop' % PULL_LOOP)
    assert backup.rc == 0, backup.describe()
    time.sleep(1)
    pulls = [line.split() for line in bed.sh_ok(client, 'cat %s.log' % PULL_LOOP).splitlines() if line.strip()]
    results = dict((name.split(' : ')[-1], result) for name, result in backup.results(registry1.fqdn).items())
    switched = maintenance_times(results['Switch the registry to read-only']['stdout'])
    back = maintenance_times(results['Switch the registry back to read-write']['stdout'])
    window = (switched['read-only, serving pulls'], back['switching back to read-write'])
    inside = [p for p in pulls if float(p[0]) >= window[0] and float(p[1]) <= window[1]]
    assert inside, 'no pull of the client fell inside the read-only window %r (%d pulls)' % (window, len(pulls))
    failed = [p for p in inside if p[2] != 'ok']
    assert failed == [], 'pulls failed in the read-only window: %r' % failed

    archive = os.path.join(bed.backups, '%s-registry.tar.gz' % registry1.fqdn)
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(bed.backups).st_mode) == 0o700
    with tarfile.open(archive) as handle:
        names = handle.getnames()
    for member in ('config/config.yml', 'certs/registry.key', 'certs/ca.crt', 'auth/htpasswd',
                   'secrets/registry.env', 'docker-compose.yml'):
        assert member in names, member
    assert any(n.startswith('data/docker/registry/v2/repositories/team/app/') for n in names)
    # No copy left on registry1, which is read-write again with the same content.
    assert bed.sh(registry1, 'test ! -e %s/maintenance/backup.tar.gz' % BASE_DIR).returncode == 0
    status = bed.sh_ok(registry1, '%s/maintenance/registry-maintenance.sh status' % BASE_DIR).strip()
    assert status == 'readwrite'
    assert bed.every_tag(registry1) == tags_a

    # Restore onto the bare registry2 (--limit: the archive is registry1's).
    restored = bed.play(RESTORE, limit=registry2.fqdn, registry_backup_path=bed.backups, registry_backup_archive=archive)
    assert restored.rc == 0, restored.describe()
    assert set(restored.recap) == {registry2.fqdn}, restored.recap

    # Every tag of every repository answers from registry2 with registry1's digest ...
    assert bed.every_tag(registry2) == tags_a
    # ... and pulls with the docker CLI with that digest (the local copies removed first).
    login = bed.login(registry2, admin['name'], admin['password'])
    assert login.returncode == 0, login.stderr
    address2 = bed.address(registry2)
    bed.sh_ok(client, 'docker rmi -f $(docker images -q) >/dev/null; test -z "$(docker images -q)"')
    for ref, digest in sorted(tags_a.items()):
        out = bed.sh_ok(client, 'docker pull %s/%s' % (address2, ref), timeout=600)
        assert 'Digest: %s' % digest in out, (ref, digest, out)
    # The users log in with their passwords; a wrong password is refused.
    for user in bed.users:
        proc = bed.login(registry2, user['name'], user['password'])
        assert proc.returncode == 0 and 'Login Succeeded' in proc.stdout, (user['name'], proc.stderr)
    wrong = bed.login(registry2, 'ci', 'not-' + bed.users[1]['password'])
    assert wrong.returncode != 0 and 'unauthorized' in wrong.stderr.lower(), wrong.stderr[-500:]

    # registry2 runs with the restored files: the same bcrypt entries, HTTP secret and CA.
    for path in ('auth/htpasswd', 'secrets/registry.env', 'certs/ca.crt'):
        one, two = ('sha256sum %s/%s' % (BASE_DIR, path),) * 2
        assert bed.sh_ok(registry1, one).split()[0] == bed.sh_ok(registry2, two).split()[0], path
    env1, env2 = bed.registry_env(registry1), bed.registry_env(registry2)
    assert env2['REGISTRY_HTTP_SECRET'] == env1['REGISTRY_HTTP_SECRET'], 'registry2 runs with another HTTP secret'
    # registry2 serves a certificate for its own name, issued by the same CA.
    served = bed.sh_ok(client, 'echo | openssl s_client -connect %s -servername %s -CAfile /etc/docker/certs.d/%s/ca.crt '
                               '-verify_return_error 2>/dev/null | openssl x509 -noout -ext subjectAltName'
                       % (address2, registry2.fqdn, address2))
    assert 'DNS:%s' % registry2.fqdn in served, served
    # A rerun of the deployment on registry2 changes nothing there: the restored files are what it wants.
    again = bed.play(roles_lib.PLAYBOOK, limit=registry2.fqdn, dockyard_registry_hosts=registry2.fqdn)
    assert again.rc == 0, again.describe()
    assert again.recap[registry2.fqdn]['changed'] == 0, again.changed_tasks()


def test_restore_of_one_archive_onto_several_hosts_is_refused(bed):
    """Negative control of the --limit above: one archive given for a play of two hosts fails
    before any host is touched (it would replace the other registries' data)."""
    archive = os.path.join(bed.work, 'not-there.tar.gz')

    def running(registry):
        return bed.sh_ok(registry, 'docker ps -q --no-trunc --filter label=com.docker.compose.project=registry').split()

    before = {registry.fqdn: running(registry) for registry in (bed.registry1, bed.registry2)}
    assert before[bed.registry1.fqdn], 'registry1 runs no registry (the test above deploys it)'
    refused = bed.play(RESTORE, registry_backup_path=bed.backups, registry_backup_archive=archive)
    assert refused.rc != 0
    message = "registry_backup_archive: '%s' is one registry's backup, and this play would restore it onto 2 hosts" % archive
    assert message in refused.stdout and '--limit' in refused.stdout, refused.describe()
    # Nothing was stopped or replaced: the same containers run on both hosts.
    assert {registry.fqdn: running(registry) for registry in (bed.registry1, bed.registry2)} == before
