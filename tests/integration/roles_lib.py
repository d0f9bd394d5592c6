# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for tests that deploy the dockyard.registry.registry role on the real Docker engine.

A Deployment is one compose project with its own name, base directory (under pytest's tmp
path), free ports and Docker client configuration; it runs playbooks/site.yml with
tests/integration/inventory/registry-only.yml and extra vars from a file, and removes everything it made in
teardown(): the compose project (containers and network), /etc/docker/certs.d/localhost:PORT
and the image tags it created.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import re
import shutil
import socket
import subprocess
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(REPO, 'playbooks', 'site.yml')
INVENTORY = os.path.join(REPO, 'tests', 'integration', 'inventory', 'registry-only.yml')
CERTS_D = '/etc/docker/certs.d'

REGISTRY_VERSION = '2.8.3'
REGISTRY_IMAGE = 'registry:2.8.3'
UI_IMAGE = 'joxit/docker-registry-ui:2.5.7'
HELLO_IMAGE = 'dockyard-test/hello:1'
REPOSITORY = 'dockyard-test/hello'
TAG = '1'
TOKEN_LABEL = 'org.dockyard.test.token'
SETUP_HINT = 'run tests/testbed/setup.sh (as root) to install and start the test bed'

# The manifest types the Joxit UI asks for before it deletes by digest.
MANIFEST_ACCEPT = ', '.join([
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.oci.image.index.v1+json',
])

RECAP_RE = re.compile(r'^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)'
                      r'\s+skipped=(\d+)\s+rescued=(\d+)\s+ignored=(\d+)', re.M)


def run(argv, env=None, input=None, timeout=300, check=False, cwd=None):
    """Run a command; the CompletedProcess (text). check=True raises AssertionError with stderr."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, input=input,
                          timeout=timeout, check=False, cwd=cwd)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%d):\n%s\n%s' % (
            ' '.join(argv[:4]), proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))
    return proc


def docker(*args, **kwargs):
    return run(['docker'] + list(args), **kwargs)


def free_ports(count):
    """`count` distinct TCP ports that were free on this machine a moment ago."""
    socks = []
    try:
        for dummy in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(('', 0))
            socks.append(sock)
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def curl(url, cacert=None, user=None, method='GET', headers=(), timeout=30):
    """(status, headers with lower-case names -> list of values, body text) from the real curl."""
    argv = ['curl', '-sS', '-o', '-', '-D', '/dev/stderr', '-X', method,
            '--max-time', str(timeout)]
    if cacert:
        argv += ['--cacert', cacert]
    if user:
        argv += ['-u', '%s:%s' % user]
    for header in headers:
        argv += ['-H', header]
    argv.append(url)
    proc = run(argv, timeout=timeout + 10)
    if proc.returncode != 0:
        raise AssertionError('curl %s %s failed (rc=%d): %s' % (method, url, proc.returncode, proc.stderr[-500:]))
    status, parsed = None, {}
    for line in proc.stderr.splitlines():
        if line.startswith('HTTP/'):
            status, parsed = int(line.split()[1]), {}
        elif ':' in line and status is not None:
            name, value = line.split(':', 1)
            parsed.setdefault(name.strip().lower(), []).append(value.strip())
    return status, parsed, proc.stdout


def curl_status(url, **kwargs):
    return curl(url, **kwargs)[0]


def wait_for(predicate, timeout, interval=1.0, what='condition'):
    """Poll until predicate() is truthy (returned), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError('timed out after %ss waiting for %s (last: %r)' % (timeout, what, last))


class PlaybookResult:
    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.recap = {}
        for match in RECAP_RE.finditer(self.stdout):
            names = ('ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored')
            self.recap[match.group(1)] = dict(zip(names, (int(g) for g in match.groups()[1:])))

    @property
    def output(self):
        return self.stdout + self.stderr

    @property
    def changed(self):
        return self.recap['localhost']['changed']

    def changed_tasks(self):
        """Names of the tasks that reported `changed` (for readable assertion messages)."""
        tasks, current = [], None
        for line in self.stdout.splitlines():
            if line.startswith('TASK ['):
                current = line[len('TASK ['):].split(']')[0]
            elif line.startswith('changed:') and current not in tasks:
                tasks.append(current)
        return tasks

    def failures(self):
        """The text of every `fatal:` / `failed:` report (one block each)."""
        blocks, block = [], None
        for line in self.stdout.splitlines() + self.stderr.splitlines():
            if line.startswith(('fatal:', 'failed:')) or 'ERROR!' in line or line.startswith('[ERROR]'):
                block = [line]
                blocks.append(block)
            elif block is not None and line.strip() and not line.startswith(('PLAY RECAP', 'TASK [', 'NO MORE')):
                block.append(line)
            else:
                block = None
        return ['\n'.join(b) for b in blocks]

    def describe(self):
        return 'ansible-playbook %s: rc=%d\n--- stdout (tail)\n%s\n--- stderr (tail)\n%s' % (
            ' '.join(self.argv[1:]), self.rc, self.stdout[-6000:], self.stderr[-3000:])


def playbook_env(extra_path=None):
    env = dict(os.environ)
    env.update({
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.builtin.default',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_HOST_KEY_CHECKING': '0',
        'PYTHONUNBUFFERED': '1',
    })
    if extra_path:
        env['PATH'] = extra_path + os.pathsep + env.get('PATH', '')
    return env


def run_playbook(variables, workdir, check=False, verbosity=0, extra_path=None, timeout=600, diff=False,
                 playbook=PLAYBOOK):
    """ansible-playbook -i tests/integration/inventory/registry-only.yml playbooks/site.yml (or
    ``playbook``) -e @<vars file>."""
    vars_file = os.path.join(workdir, 'vars-%s.json' % uuid.uuid4().hex[:8])
    with open(vars_file, 'w') as handle:
        json.dump(variables, handle)
    os.chmod(vars_file, 0o600)
    argv = ['ansible-playbook', '-i', INVENTORY, playbook, '-e', '@' + vars_file]
    if check:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    if verbosity:
        argv.append('-' + 'v' * verbosity)
    proc = run(argv, env=playbook_env(extra_path), timeout=timeout, cwd=REPO)
    return PlaybookResult(argv, proc)


def fake_docker(directory, script):
    """A new directory holding an executable `docker` that runs the shell ``script`` (the lines after
    #!/bin/sh), for tests that put it first on PATH. Returns the directory."""
    os.makedirs(directory)
    path = os.path.join(directory, 'docker')
    with open(path, 'w') as handle:
        handle.write('#!/bin/sh\n' + script)
    os.chmod(path, 0o700)
    return directory


def project_containers(project, all_states=True):
    args = ['ps', '-q', '--no-trunc', '--filter', 'label=com.docker.compose.project=%s' % project]
    if all_states:
        args.insert(1, '-a')
    return docker(*args, check=True).stdout.split()


def project_networks(project):
    return docker('network', 'ls', '-q', '--filter', 'label=com.docker.compose.project=%s' % project,
                  check=True).stdout.split()


class Deployment:
    """One deployment of the role: unique project, base dir, ports, Docker client config."""

    def __init__(self, workdir, label, users=None, **overrides):
        token = uuid.uuid4().hex[:8]
        self.project = 'dyrt-%s-%s' % (label, token)
        self.workdir = str(workdir)
        self.base_dir = os.path.join(self.workdir, 'registry')
        self.port, self.ui_port = free_ports(2)
        self.users = users if users is not None else [
            {'name': 'admin', 'password': 'Adm1n-%s-pw' % uuid.uuid4().hex}]
        self.vars = {
            'registry_version': REGISTRY_VERSION,
            'registry_base_dir': self.base_dir,
            'registry_project_name': self.project,
            'registry_port': self.port,
            'registry_ui_port': self.ui_port,
            'registry_users': self.users,
        }
        self.vars.update(overrides)
        self.docker_config = os.path.join(self.workdir, 'docker-config')
        os.makedirs(self.docker_config, exist_ok=True)
        self.certs_d = os.path.join(CERTS_D, 'localhost:%d' % self.port)
        # Made by this deployment if absent now (trust() below).
        self.created_certs_d = not os.path.exists(self.certs_d)
        self.image_tags = []

    # ------------------------------------------------------------ playbooks
    def play(self, check=False, verbosity=0, extra_path=None, diff=False, playbook=PLAYBOOK, **overrides):
        variables = dict(self.vars)
        variables.update(overrides)
        return run_playbook(variables, self.workdir, check=check, verbosity=verbosity, extra_path=extra_path,
                            diff=diff, playbook=playbook)

    def deploy(self, **kwargs):
        result = self.play(**kwargs)
        assert result.rc == 0, result.describe()
        return result

    # ------------------------------------------------------------ paths and URLs
    @property
    def ca(self):
        return os.path.join(self.base_dir, 'certs', 'ca.crt')

    @property
    def registry_url(self):
        return 'https://localhost:%d' % self.port

    @property
    def ui_url(self):
        return 'https://localhost:%d' % self.ui_port

    @property
    def admin(self):
        return self.users[0]['name'], self.users[0]['password']

    @property
    def image_ref(self):
        return 'localhost:%d/%s:%s' % (self.port, REPOSITORY, TAG)

    def http_secret(self):
        with open(os.path.join(self.base_dir, 'secrets', 'registry.env')) as handle:
            match = re.search(r'^REGISTRY_HTTP_SECRET=(\S+)$', handle.read(), re.M)
        assert match, 'secrets/registry.env holds no REGISTRY_HTTP_SECRET'
        return match.group(1)

    # ------------------------------------------------------------ containers
    def container_id(self, service):
        ids = docker('ps', '-a', '-q', '--no-trunc',
                     '--filter', 'label=com.docker.compose.project=%s' % self.project,
                     '--filter', 'label=com.docker.compose.service=%s' % service, check=True).stdout.split()
        assert len(ids) == 1, 'expected one %s container of %s, found %r' % (service, self.project, ids)
        return ids[0]

    def inspect(self, service):
        return json.loads(docker('inspect', self.container_id(service), check=True).stdout)[0]

    def identity(self, service):
        """(container id, State.StartedAt): changes when the container is recreated or restarted."""
        data = self.inspect(service)
        return data['Id'], data['State']['StartedAt']

    def wait_healthy(self, service='registry', timeout=120):
        def healthy():
            state = self.inspect(service)['State']
            return state['Running'] and state.get('Health', {}).get('Status') == 'healthy' and state
        return wait_for(healthy, timeout, what='%s of %s running and healthy' % (service, self.project))

    # ------------------------------------------------------------ Docker client
    def docker_client(self, *args, **kwargs):
        """The docker CLI with this deployment's own client config (logins stay in workdir)."""
        env = dict(os.environ)
        env['DOCKER_CONFIG'] = self.docker_config
        env['DOCKER_BUILDKIT'] = '0'
        kwargs.setdefault('env', env)
        return docker(*args, **kwargs)

    def trust(self):
        """Install the deployment's CA where the Docker daemon looks for it."""
        if not os.path.isdir(self.certs_d):
            os.makedirs(self.certs_d)
        shutil.copyfile(self.ca, os.path.join(self.certs_d, 'ca.crt'))

    def login(self, user, password):
        return self.docker_client('login', 'localhost:%d' % self.port, '-u', user, '--password-stdin',
                                  input=password + '\n', timeout=120)

    def build_unique_image(self):
        """An image derived from dockyard-test/hello:1 with a unique layer and label: after
        `docker rmi`, nothing of it is left locally, so a pull must fetch it from the registry."""
        token = uuid.uuid4().hex
        ctx = os.path.join(self.workdir, 'image-%s' % token[:8])
        os.makedirs(ctx)
        with open(os.path.join(ctx, 'token.txt'), 'w') as handle:
            handle.write(token + '\n')
        with open(os.path.join(ctx, 'Dockerfile'), 'w') as handle:
            handle.write('FROM %s\nCOPY token.txt /token.txt\nLABEL %s=%s\n' % (HELLO_IMAGE, TOKEN_LABEL, token))
        tag = 'dockyard-test/role-%s:1' % token[:12]
        self.image_tags.append(tag)
        self.docker_client('build', '-q', '-t', tag, ctx, check=True, timeout=300)
        return tag, token

    def push_unique_image(self):
        """Log in as the first user, push a unique image as localhost:PORT/dockyard-test/hello:1,
        remove it locally; the token that identifies it."""
        self.trust()
        proc = self.login(*self.admin)
        assert proc.returncode == 0, 'docker login failed: %s' % proc.stderr
        tag, token = self.build_unique_image()
        self.image_tags.append(self.image_ref)
        self.docker_client('tag', tag, self.image_ref, check=True)
        self.docker_client('push', self.image_ref, check=True, timeout=300)
        self.docker_client('rmi', self.image_ref, tag, check=True)
        return token

    def remove_local_image(self):
        self.docker_client('rmi', self.image_ref, check=False)
        assert self.docker_client('image', 'inspect', self.image_ref).returncode != 0

    def local_token(self):
        return self.docker_client('image', 'inspect', '-f', '{{ index .Config.Labels "%s" }}' % TOKEN_LABEL,
                                  self.image_ref, check=True).stdout.strip()

    def skopeo_inspect(self, user=None, password=None, cert_dir=None):
        user = user or self.admin[0]
        password = password or self.admin[1]
        if cert_dir is None:
            cert_dir = os.path.join(self.workdir, 'skopeo-certs')
            os.makedirs(cert_dir, exist_ok=True)
            shutil.copyfile(self.ca, os.path.join(cert_dir, 'ca.crt'))
        return run(['skopeo', 'inspect', '--creds', '%s:%s' % (user, password), '--cert-dir', cert_dir,
                    'docker://' + self.image_ref], timeout=120)

    # ------------------------------------------------------------ teardown
    def teardown(self):
        errors = []
        proc = docker('compose', '-p', self.project, 'down', '--remove-orphans', '--timeout', '5', timeout=180)
        if proc.returncode != 0:
            errors.append('compose down: %s' % proc.stderr.strip())
        for container in project_containers(self.project):
            docker('rm', '-f', container)
        for network in project_networks(self.project):
            docker('network', 'rm', network)
        for tag in self.image_tags:
            docker('rmi', tag)
        if self.created_certs_d:
            shutil.rmtree(self.certs_d, ignore_errors=True)
        return errors
