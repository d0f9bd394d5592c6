# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Registry replicas on shared S3 storage behind the registry_lb balancer, on this machine's engine.

One play deploys them the way an operator would: an inventory with the group `registry` (hosts
replica1..N, each its own compose project, base directory and port on this engine, all on the
same bucket with the same HTTP secret and a CA on the controller) and the group `registry_lb`
(haproxy, network_mode host, TLS ended there with its own certificate and started again to the
replicas), then playbooks/site.yml and playbooks/lb.yml. The CA and the balancer's certificate
for localhost are made with openssl first (the registry role signs the replicas' with that CA).
The replicas reach the Ceph RADOS Gateway on its Docker network (registry_networks), the balancer
reaches them on their loopback ports, clients reach everything as localhost:<port> (the CA in
/etc/docker/certs.d).

    cluster = ScaleOut(workdir, rgw, replicas=2)     (or, in a fixture: with scale_out(workdir, rgw) as cluster)
    cluster.inventory(**overrides) -> path; cluster.play(inventory) -> roles_lib.PlaybookResult
    cluster.deploy()            both playbooks; raises with the output when they fail
    cluster.ref(port)           localhost:<port>/dockyard-test/scale:<tag>
    cluster.docker(...)         the docker CLI with the cluster's own client config
    cluster.stats()             {server: status} from haproxy's CSV statistics
    cluster.teardown()          compose projects, certs.d entries, image tags
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import csv
import io
import json
import os
import shutil
import threading
import uuid

import pytest
import yaml

import roles_lib

LB_IMAGE = 'dockyard-test/haproxy:2.6'
REPOSITORY = 'dockyard-test/scale'
# The big push of the replica tests: three layers of random data, 300 MB in all by default.
PUSH_MB = int(os.environ.get('DOCKYARD_SCALE_PUSH_MB', '300'))
PUSH_LAYERS = 3


def make_certificates(directory):
    """directory/ca.crt + ca.key (a CA made with openssl) and lb.crt + lb.key (the balancer's
    certificate for localhost and 127.0.0.1, signed by it); their paths in that order."""
    os.makedirs(directory, exist_ok=True)
    ca, ca_key = os.path.join(directory, 'ca.crt'), os.path.join(directory, 'ca.key')
    lb_cert, lb_key = os.path.join(directory, 'lb.crt'), os.path.join(directory, 'lb.key')
    ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']
    argv = ['openssl', 'req', '-x509'] + ec + ['-keyout', ca_key, '-out', ca, '-days', '365',
                                               '-subj', '/CN=dockyard scale-out test CA',
                                               '-addext', 'basicConstraints=critical,CA:TRUE',
                                               '-addext', 'keyUsage=critical,keyCertSign,cRLSign']
    roles_lib.run(argv, check=True)
    csr = os.path.join(directory, 'lb.csr')
    roles_lib.run(['openssl', 'req', '-new'] + ec + ['-keyout', lb_key, '-out', csr, '-subj', '/CN=localhost'],
                  check=True)
    extensions = os.path.join(directory, 'lb.ext')
    with open(extensions, 'w') as handle:
        handle.write('subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
    roles_lib.run(['openssl', 'x509', '-req', '-in', csr, '-CA', ca, '-CAkey', ca_key, '-CAcreateserial',
                   '-days', '365', '-out', lb_cert, '-extfile', extensions], check=True)
    return ca, ca_key, lb_cert, lb_key


def haproxy_servers(stats_port, column):
    """{server name: value of column} of the replicas' backend from haproxy's CSV statistics."""
    status, dummy, body = roles_lib.curl('http://127.0.0.1:%d/;csv' % stats_port)
    assert status == 200, body
    rows = csv.DictReader(io.StringIO(body.lstrip('# ')))
    return dict((row['svname'], row[column]) for row in rows
                if row['pxname'] == 'replicas' and row['svname'] not in ('FRONTEND', 'BACKEND'))


@contextlib.contextmanager
def scale_out(workdir, rgw, cls=None, **kwargs):
    """A ScaleOut (or `cls`) for a module fixture: fails when the balancer's test bed image is
    missing; torn down at the end (its leftovers fail the test)."""
    if roles_lib.docker('image', 'inspect', LB_IMAGE).returncode != 0:
        pytest.fail('test bed image missing: %s; %s' % (LB_IMAGE, roles_lib.SETUP_HINT))
    made = (cls or ScaleOut)(workdir, rgw, **kwargs)
    try:
        yield made
    finally:
        errors = made.teardown()
        assert not errors, errors


class ScaleOut:
    def __init__(self, workdir, rgw, replicas=2, root_directory='/scale', http_secret=None):
        self.workdir = str(workdir)
        self.rgw = rgw
        self.token = uuid.uuid4().hex[:8]
        self.names = ['replica%d' % (index + 1) for index in range(replicas)]
        ports = roles_lib.free_ports(2 * replicas + 2)
        self.ports = dict(zip(self.names, ports[:replicas]))
        self.ui_ports = dict(zip(self.names, ports[replicas:2 * replicas]))
        self.lb_port, self.stats_port = ports[-2:]
        self.projects = dict((name, 'dyso-%s-%s' % (name, self.token)) for name in self.names)
        self.lb_project = 'dyso-lb-%s' % self.token
        self.http_secret = http_secret or 'dyso-' + uuid.uuid4().hex + uuid.uuid4().hex
        self.user = ('admin', 'Adm1n-%s' % uuid.uuid4().hex)
        self.ca = os.path.join(self.workdir, 'ca', 'ca.crt')
        self.ca_key = os.path.join(self.workdir, 'ca', 'ca.key')
        self.lb_cert = os.path.join(self.workdir, 'ca', 'lb.crt')
        self.lb_key = os.path.join(self.workdir, 'ca', 'lb.key')
        self._make_certificates()
        self.root_directory = root_directory
        self.docker_config = os.path.join(self.workdir, 'docker-config')
        os.makedirs(self.docker_config, exist_ok=True)
        self.certs_d = []
        self.image_tags = []

    def _make_certificates(self):
        make_certificates(os.path.dirname(self.ca))

    # ------------------------------------------------------------ inventory and playbooks
    def base_dir(self, name):
        return os.path.join(self.workdir, name)

    def inventory(self, host_overrides=None, name='inventory.yml', replicas=None):
        """An inventory file; host_overrides: {host: {var: value}} (e.g. another registry_http_secret)."""
        hosts = {}
        for host in replicas or self.names:
            hosts[host] = {'registry_base_dir': self.base_dir(host), 'registry_project_name': self.projects[host],
                           'registry_port': self.ports[host], 'registry_ui_port': self.ui_ports[host]}
            hosts[host].update((host_overrides or {}).get(host, {}))
        backends = [{'name': host, 'address': '127.0.0.1', 'port': self.ports[host], 'server_name': 'localhost'}
                    for host in replicas or self.names]
        inventory = {'all': {
            'children': {
                'registry': {'hosts': hosts, 'vars': dict(roles_lib.STAND_IN_VARS, registry_networks=[self.rgw.network],
                                                          **self.registry_vars())},
                'registry_lb': {'hosts': {'lb': self.lb_vars(backends)}},
            },
            'vars': {'ansible_connection': 'local', 'ansible_python_interpreter': '{{ ansible_playbook_python }}',
                     'registry_server_name': 'localhost'},
        }}
        path = os.path.join(self.workdir, name)
        with open(path, 'w') as handle:
            yaml.safe_dump(inventory, handle)
        os.chmod(path, 0o600)
        return path

    def registry_vars(self):
        """The replicas' variables: the bucket, one HTTP secret, certificates from the CA, one user."""
        return {
            'registry_storage_driver': 's3',
            'registry_storage_s3': {
                'endpoint': self.rgw.ip_endpoint(), 'region': self.rgw.region, 'bucket': self.rgw.bucket,
                'access_key': self.rgw.access_key, 'secret_key': self.rgw.secret_key,
                'root_directory': self.root_directory, 'chunk_size': 5 * 1024 * 1024},
            'registry_http_secret': self.http_secret,
            'registry_tls_mode': 'ca',
            'registry_tls_ca_cert': self.ca,
            'registry_tls_ca_key': self.ca_key,
            'registry_tls_ca_create': False,
            'registry_ui_enabled': False,
            'registry_users': [{'name': self.user[0], 'password': self.user[1]}],
        }

    def lb_vars(self, backends):
        """The balancer's host variables (on this engine, on 127.0.0.1) for registry_lb_backends."""
        return {
            'registry_lb_base_dir': os.path.join(self.workdir, 'lb'),
            'registry_lb_project_name': self.lb_project,
            'registry_lb_image': LB_IMAGE,
            'registry_lb_bind_address': '127.0.0.1',
            'registry_lb_port': self.lb_port,
            'registry_lb_stats_port': self.stats_port,
            'registry_lb_check_interval': '500ms',
            'registry_lb_tls_certificate': self.lb_cert,
            'registry_lb_tls_private_key': self.lb_key,
            'registry_lb_tls_ca': self.ca,
            'registry_lb_backends': backends,
        }

    def play(self, inventory, playbooks=('site.yml', 'lb.yml'), verbosity=0):
        """Each playbook in turn (stops at the first that fails): the last PlaybookResult."""
        for name in playbooks:
            result = roles_lib.ansible_playbook(os.path.join(roles_lib.REPO, 'playbooks', name), inventory,
                                                verbosity=verbosity, timeout=900)
            if result.rc != 0:
                break
        return result

    def deploy(self, **kwargs):
        result = self.play(self.inventory(**kwargs))
        assert result.rc == 0, result.describe()
        self.trust()
        return result

    # ------------------------------------------------------------ clients
    def trust(self):
        for port in list(self.ports.values()) + [self.lb_port]:
            path = os.path.join(roles_lib.CERTS_D, 'localhost:%d' % port)
            if not os.path.isdir(path):
                os.makedirs(path)
                self.certs_d.append(path)
            shutil.copyfile(self.ca, os.path.join(path, 'ca.crt'))

    def docker(self, *args, **kwargs):
        env = dict(os.environ, DOCKER_CONFIG=self.docker_config, DOCKER_BUILDKIT='0')
        kwargs.setdefault('env', env)
        return roles_lib.docker(*args, **kwargs)

    def login(self, port):
        proc = self.docker('login', 'localhost:%d' % port, '-u', self.user[0], '--password-stdin',
                           input=self.user[1] + '\n', timeout=120)
        assert proc.returncode == 0, proc.stderr
        return proc

    def login_all(self):
        for port in list(self.ports.values()) + [self.lb_port]:
            self.login(port)

    def ref(self, port, tag):
        return 'localhost:%d/%s:%s' % (port, REPOSITORY, tag)

    def build_image(self, tag, megabytes=0, layers=1):
        """A unique image FROM dockyard-test/hello:1 (a token file and, if asked, `megabytes` random MB
        in `layers` layers of equal size); its local tag."""
        token = uuid.uuid4().hex
        ctx = os.path.join(self.workdir, 'image-%s' % token[:8])
        os.makedirs(ctx)
        with open(os.path.join(ctx, 'token.txt'), 'w') as handle:
            handle.write(token + '\n')
        lines = ['FROM %s' % roles_lib.HELLO_IMAGE, 'COPY token.txt /token.txt']
        for layer in range(layers if megabytes else 0):
            name = 'big%d.bin' % layer
            with open(os.path.join(ctx, name), 'wb') as handle:
                for dummy in range(megabytes // layers):
                    handle.write(os.urandom(1024 * 1024))
            lines.append('COPY %s /%s' % (name, name))
        lines.append('LABEL %s=%s' % (roles_lib.TOKEN_LABEL, token))
        with open(os.path.join(ctx, 'Dockerfile'), 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        local = 'dockyard-test/scale-%s:%s' % (token[:12], tag)
        self.image_tags.append(local)
        self.docker('build', '-q', '-t', local, ctx, check=True, timeout=600)
        shutil.rmtree(ctx)
        return local, token

    def tag(self, local, ref):
        self.image_tags.append(ref)
        self.docker('tag', local, ref, check=True)

    def pull_digest(self, ref):
        """Pull ref (removed locally first): the digest the registry served."""
        self.docker('rmi', ref)
        proc = self.docker('pull', ref, timeout=900)
        assert proc.returncode == 0, '%s: %s' % (ref, proc.stderr)
        self.image_tags.append(ref)
        digests = json.loads(self.docker('image', 'inspect', '-f', '{{json .RepoDigests}}', ref, check=True).stdout)
        return [digest.split('@', 1)[1] for digest in digests if digest.startswith(ref.rsplit(':', 1)[0] + '@')][0]

    def uploads_started(self):
        """The upload ids of the scale repository started in the bucket (their `startedat` objects)."""
        prefix = '%s/docker/registry/v2/repositories/%s/_uploads/' % (self.root_directory.strip('/'), REPOSITORY)
        return set(key[len(prefix):].split('/', 1)[0] for key in self.rgw.list_objects(prefix=prefix)
                   if key.endswith('/startedat'))

    def push_while(self, ref, during, timeout=1800):
        """`docker push ref` in a thread; once an upload of it has started in the bucket, `during()`
        (stop and start a replica); the push's result when it ends."""
        result = {}
        started_before = self.uploads_started()

        def push():
            result['proc'] = self.docker('push', ref, timeout=timeout)
        thread = threading.Thread(target=push)
        thread.start()
        roles_lib.wait_for(lambda: self.uploads_started() - started_before or 'proc' in result, 600, interval=0.2,
                           what='an upload of the push in the bucket')
        assert 'proc' not in result, 'the push ended before a replica was stopped: %r' % (result['proc'].stderr,)
        during()
        thread.join(timeout)
        return result['proc']

    def token_of(self, ref):
        return self.docker('image', 'inspect', '-f', '{{ index .Config.Labels "%s" }}' % roles_lib.TOKEN_LABEL, ref,
                           check=True).stdout.strip()

    # ------------------------------------------------------------ replicas and balancer
    def container(self, name):
        ids = roles_lib.project_containers(self.projects[name])
        assert len(ids) == 1, ids
        return ids[0]

    def stats(self):
        """{server name: status} of the replicas' backend (UP, DOWN, ...)."""
        return haproxy_servers(self.stats_port, 'status')

    def server_sessions(self):
        """{server name: total sessions} (stot) of the replicas' backend."""
        return dict((name, int(value or 0)) for name, value in haproxy_servers(self.stats_port, 'stot').items())

    def wait_stats(self, wanted, timeout=60):
        return roles_lib.wait_for(lambda: self.stats() == wanted and wanted, timeout, interval=0.5,
                                  what='haproxy servers %r' % (wanted,))

    def pull_loop_around(self, ref, action, after=5):
        """Pull ref through docker (removed locally before each pull) in a loop: three pulls, then
        action(), then `after` more pulls once it returned; [(returncode, stderr)] of every pull."""
        outcomes = []
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                self.docker('rmi', ref)
                proc = self.docker('pull', ref, timeout=300)
                outcomes.append((proc.returncode, proc.stderr.strip()))
        thread = threading.Thread(target=loop)
        thread.start()
        try:
            roles_lib.wait_for(lambda: len(outcomes) >= 3, 120, what='three pulls before')
            action()
            before = len(outcomes)
            roles_lib.wait_for(lambda: len(outcomes) >= before + after, 180, what='%d pulls after' % after)
        finally:
            stop.set()
            thread.join(300)
        return outcomes

    # ------------------------------------------------------------ teardown
    def teardown(self):
        errors = []
        for project in list(self.projects.values()) + [self.lb_project]:
            proc = roles_lib.docker('compose', '-p', project, 'down', '--remove-orphans', '--timeout', '5', timeout=180)
            if proc.returncode != 0:
                errors.append('compose down %s: %s' % (project, proc.stderr.strip()))
            for container in roles_lib.project_containers(project):
                roles_lib.docker('rm', '-f', container)
        for tag in self.image_tags:
            roles_lib.docker('rmi', tag)
        for path in self.certs_d:
            shutil.rmtree(path, ignore_errors=True)
        return errors
