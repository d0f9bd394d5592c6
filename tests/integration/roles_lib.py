# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The helpers of the integration tests, written once: commands, free ports, curl, ansible-playbook
runs read as data, a local registry process, and role deployments on the real Docker engine.

ansible-playbook runs use the JSON callback (ansible.posix.json): a PlaybookResult holds the
recap, every task's result per host and the facts tasks set, read from that document, never from
the default callback's text. `-v...` lines go to stderr (ANSIBLE_VERBOSE_TO_STDERR), so a
test can still search everything a run printed for secrets.

A Deployment is one compose project with its own name, base directory (under pytest's tmp
path), free ports and Docker client configuration; it runs playbooks/site.yml with
tests/integration/inventory/registry-only.yml and extra vars from a file, and removes everything it made in
teardown(): the compose project (containers and network), /etc/docker/certs.d/localhost:PORT
and the image tags it created.

A LocalRegistry is one process of Debian's docker-registry (the CNCF distribution registry the
registry:2 image runs) on a free loopback port, for the module tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLAYBOOK = os.path.join(REPO, 'playbooks', 'site.yml')
INVENTORY = os.path.join(REPO, 'tests', 'integration', 'inventory', 'registry-only.yml')
CERTS_D = '/etc/docker/certs.d'
REGISTRY_BIN = '/usr/bin/docker-registry'

# The test bed's stand-in images (tests/testbed/stand-ins.yml; built by tests/testbed/setup.sh),
# names of their own, never an upstream name. Every deployment passes them to the role:
# STAND_IN_VARS (registry_version, registry_image, registry_ui_image), read by the fleet test bed's
# library (tests/testbed/fleet/fleet.py), which gives them to the fleet's hosts the same way.
_FLEET_SPEC = importlib.util.spec_from_file_location(
    'dockyard_testbed_fleet', os.path.join(REPO, 'tests', 'testbed', 'fleet', 'fleet.py'))
fleetlib = importlib.util.module_from_spec(_FLEET_SPEC)
_FLEET_SPEC.loader.exec_module(fleetlib)
STAND_INS = fleetlib.STAND_INS
STAND_IN_VARS = fleetlib.stand_in_vars()
REGISTRY_VERSION = STAND_IN_VARS['registry_version']    # '2.8.3'
REGISTRY_IMAGE = STAND_IN_VARS['registry_image']        # 'dockyard-test/registry:2.8.3'
UI_IMAGE = STAND_IN_VARS['registry_ui_image']           # 'dockyard-test/registry-ui:2.6.0'
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


# ---------------------------------------------------------------- ports

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


def free_port():
    """One TCP port that was free on this machine a moment ago."""
    return free_ports(1)[0]


# ---------------------------------------------------------------- curl

class CurlResult:
    """What the real curl did: rc (0 = a response came), status (None without one), headers
    (lower-case names -> list of values), body (text) and error (curl's own messages)."""

    def __init__(self, rc, status, headers, body, error):
        self.rc = rc
        self.status = status
        self.headers = headers
        self.body = body
        self.error = error

    def __repr__(self):
        return 'CurlResult(rc=%r, status=%r, error=%r)' % (self.rc, self.status, self.error)


def curl_run(url, cacert=None, user=None, method='GET', headers=(), timeout=30, data_file=None):
    """One request with the real curl (no proxy: every test target is local); a CurlResult, also
    when curl fails (refused connection, untrusted certificate...). data_file: the request body."""
    argv = ['curl', '-sS', '--noproxy', '*', '-o', '-', '-D', '/dev/stderr', '-X', method,
            '--max-time', str(timeout)]
    if cacert:
        argv += ['--cacert', str(cacert)]
    if user:
        argv += ['-u', '%s:%s' % tuple(user)]
    for header in headers:
        argv += ['-H', header]
    if data_file:
        argv += ['--data-binary', '@' + data_file]
    argv.append(url)
    proc = run(argv, timeout=timeout + 10)
    status, parsed, errors = None, {}, []
    for line in proc.stderr.splitlines():
        if line.startswith('curl: ('):
            errors.append(line)
        elif line.startswith('HTTP/'):
            status, parsed = int(line.split()[1]), {}
        elif ':' in line and status is not None:
            name, value = line.split(':', 1)
            parsed.setdefault(name.strip().lower(), []).append(value.strip())
    return CurlResult(proc.returncode, status, parsed, proc.stdout, '\n'.join(errors))


def curl(url, **kwargs):
    """(status, headers with lower-case names -> list of values, body text) from the real curl;
    AssertionError when curl gets no response."""
    result = curl_run(url, **kwargs)
    if result.rc != 0:
        raise AssertionError('curl %s %s failed (rc=%d): %s' % (
            kwargs.get('method', 'GET'), url, result.rc, result.error[-500:]))
    return result.status, result.headers, result.body


def curl_status(url, **kwargs):
    return curl(url, **kwargs)[0]


APP_ELEMENT_RE = re.compile(r'<docker-registry-ui\b([^>]*)>', re.S)
ATTRIBUTE_RE = re.compile(r'([a-z][a-z0-9-]*)="([^"]*)"')


def ui_app_attributes(page):
    """The attributes of the <docker-registry-ui> element of the UI's index.html, as a dict: where
    Joxit's entrypoint puts the settings (REGISTRY_TITLE -> name, DELETE_IMAGES ->
    is-image-remove-activated, DOCKER_REGISTRY_UI_TITLE -> docker-registry-ui-title, ...). The web
    app reads them in the browser; the page's <title> is fixed. AssertionError without the element."""
    match = APP_ELEMENT_RE.search(page)
    assert match, 'no <docker-registry-ui> element in the page: %r' % page[:500]
    return dict(ATTRIBUTE_RE.findall(match.group(1)))


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


# ---------------------------------------------------------------- ansible-playbook, read as data

RECAP_KEYS = ('ok', 'changed', 'unreachable', 'failed', 'skipped', 'rescued', 'ignored')


def _json_document(text):
    """The JSON callback's document in ansible-playbook's stdout (None when the run stopped
    before it was printed, e.g. on a syntax error)."""
    start = text.find('{')
    while start != -1:
        try:
            return json.JSONDecoder().raw_decode(text[start:])[0]
        except ValueError:
            start = text.find('\n{', start + 1)
            start = start + 1 if start != -1 else -1
    return None


def _messages(result):
    """Every msg / stderr text of a result and of its loop items, as plain text."""
    texts = []
    for item in [result] + [i for i in result.get('results') or [] if isinstance(i, dict)]:
        for key in ('msg', 'stderr', 'module_stderr'):
            if isinstance(item.get(key), str) and item[key]:
                texts.append(item[key])
    return texts


class PlaybookResult:
    """One ansible-playbook run with the JSON callback: rc, recap per host, every task's result
    per host, the facts tasks set, and the text it printed (output)."""

    def __init__(self, argv, rc, stdout, stderr):
        self.argv = argv
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.data = _json_document(stdout)
        self.recap = {}
        for host, stats in ((self.data or {}).get('stats') or {}).items():
            self.recap[host] = dict((key, stats['failures' if key == 'failed' else key]) for key in RECAP_KEYS)

    @property
    def changed(self):
        return self.recap['localhost']['changed']

    def task_results(self, host=None):
        """(task name, host, result) of every task that reported, in the order they ran."""
        for play in (self.data or {}).get('plays', []):
            for task in play['tasks']:
                for name, result in sorted(task['hosts'].items()):
                    if host is None or name == host:
                        yield task['task']['name'], name, result

    def results(self, host='localhost'):
        """Task name -> result on `host` (the last one, for a name that ran twice)."""
        return dict((name, result) for name, dummy, result in self.task_results(host))

    def results_of(self, action, host='localhost'):
        """The results on `host` of the tasks that ran the module or action `action` (its FQCN)."""
        return [result for dummy, dummy2, result in self.task_results(host) if result.get('action') == action]

    def facts(self, host='localhost'):
        """The facts the run's tasks set on `host` (set_fact, modules' ansible_facts), later wins."""
        facts = {}
        for dummy, dummy2, result in self.task_results(host):
            if isinstance(result.get('ansible_facts'), dict) and not result.get('skipped'):
                facts.update(result['ansible_facts'])
        return facts

    def changed_tasks(self):
        """Names of the tasks that reported `changed` (for readable assertion messages)."""
        tasks = []
        for name, dummy, result in self.task_results():
            if result.get('changed') and name not in tasks:
                tasks.append(name)
        return tasks

    def failures(self):
        """Every failed or unreachable task result (its messages, then the whole result), and every
        error ansible-playbook printed outside the plays (e.g. a playbook it could not load)."""
        blocks = []
        for name, host, result in self.task_results():
            if result.get('failed') or result.get('unreachable'):
                blocks.append('%s: [%s] %s\n%s\n%s' % (
                    'unreachable' if result.get('unreachable') else 'fatal', host, name,
                    '\n'.join(_messages(result)), json.dumps(result, indent=2, sort_keys=True, default=str)))
        block = None
        for line in self.stderr.splitlines():
            if 'ERROR!' in line or line.startswith('[ERROR]'):
                block = [line]
                blocks.append(block)
            elif block is not None and line.strip():
                block.append(line)
            else:
                block = None
        return [b if isinstance(b, str) else '\n'.join(b) for b in blocks]

    def diff_text(self):
        """The --diff of every task, rendered as the default callback renders it."""
        from ansible.plugins.callback import CallbackBase  # the renderer the default callback uses
        renderer = CallbackBase()
        texts = []
        for dummy, dummy2, result in self.task_results():
            diffs = [result.get('diff')] + [i.get('diff') for i in result.get('results') or [] if isinstance(i, dict)]
            for diff in diffs:
                if diff and result.get('changed'):
                    texts.append(renderer._get_diff(diff))
        return ''.join(texts)

    @property
    def output(self):
        """All a reader of the run would see: what ansible-playbook printed (the JSON document,
        stderr with warnings and -v lines) and the --diff as the default callback shows it."""
        return self.stdout + self.stderr + self.diff_text()

    def describe(self):
        return 'ansible-playbook %s: rc=%d\n--- failures\n%s\n--- changed tasks: %s\n--- stdout (tail)\n%s\n' \
               '--- stderr (tail)\n%s' % (' '.join(self.argv[1:]), self.rc, '\n'.join(self.failures())[-6000:],
                                          self.changed_tasks(), self.stdout[-3000:], self.stderr[-3000:])


def playbook_env(extra_path=None, **overrides):
    """The environment of ansible-playbook runs: JSON callback on stdout, -v lines on stderr."""
    env = dict(os.environ)
    env.update({
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_STDOUT_CALLBACK': 'ansible.posix.json',
        'ANSIBLE_VERBOSE_TO_STDERR': '1',
        'ANSIBLE_RETRY_FILES_ENABLED': '0',
        'ANSIBLE_HOST_KEY_CHECKING': '0',
        'PYTHONUNBUFFERED': '1',
    })
    env.update(overrides)
    if extra_path:
        env['PATH'] = extra_path + os.pathsep + env.get('PATH', '')
    return env


def write_private(path, data):
    """Write `data` as JSON to a new file only root can read (extra vars hold passwords)."""
    with open(path, 'w') as handle:
        json.dump(data, handle)
    os.chmod(path, 0o600)
    return path


class RunningPlaybook:
    """An ansible-playbook started in the background (see ansible_playbook(background=True))."""

    def __init__(self, argv, proc):
        self.argv = argv
        self.proc = proc

    def poll(self):
        return self.proc.poll()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()

    def result(self, timeout=600):
        try:
            stdout, stderr = self.proc.communicate(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return PlaybookResult(self.argv, self.proc.returncode, stdout, stderr)


def ansible_playbook(playbook, inventory, variables=None, workdir=None, check=False, diff=False, verbosity=0,
                     extra_path=None, env=None, timeout=600, cwd=REPO, background=False, tags=None):
    """ansible-playbook -i INVENTORY PLAYBOOK [-e @<variables, in a 0600 file in workdir>]: its
    PlaybookResult (background=True: a RunningPlaybook)."""
    argv = ['ansible-playbook', '-i', inventory, playbook]
    if variables is not None:
        argv += ['-e', '@' + write_private(os.path.join(str(workdir), 'vars-%s.json' % uuid.uuid4().hex[:8]),
                                           variables)]
    if check:
        argv.append('--check')
    if diff:
        argv.append('--diff')
    if tags:
        argv += ['--tags', tags]
    if verbosity:
        argv.append('-' + 'v' * verbosity)
    full_env = playbook_env(extra_path, **(env or {}))
    if background:
        return RunningPlaybook(argv, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                                      env=full_env, cwd=cwd))
    proc = run(argv, env=full_env, timeout=timeout, cwd=cwd)
    return PlaybookResult(argv, proc.returncode, proc.stdout, proc.stderr)


def run_playbook(variables, workdir, playbook=PLAYBOOK, **kwargs):
    """ansible-playbook -i tests/integration/inventory/registry-only.yml playbooks/site.yml (or
    ``playbook``) -e @<vars file>."""
    return ansible_playbook(playbook, INVENTORY, variables=variables, workdir=workdir, **kwargs)


def run_tasks(workdir, tasks, python=None, **kwargs):
    """Run `tasks` (task mappings) in one play on localhost (connection local, no facts gathered,
    interpreter `python`, default this Python) from a playbook written to workdir (0600: module
    arguments may hold passwords); the PlaybookResult (see ansible_playbook for kwargs)."""
    workdir = str(workdir)
    playbook = write_private(os.path.join(workdir, 'tasks-%s.json' % uuid.uuid4().hex[:8]), [{
        'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
        'vars': {'ansible_python_interpreter': python or sys.executable}, 'tasks': tasks}])
    env = dict(kwargs.pop('env', None) or {})
    env.setdefault('ANSIBLE_LOCAL_TEMP', os.path.join(workdir, '.ansible-tmp'))
    env.setdefault('ANSIBLE_LOCALHOST_WARNING', 'false')
    env.setdefault('ANSIBLE_INVENTORY_UNPARSED_WARNING', 'false')
    return ansible_playbook(playbook, 'localhost,', env=env, cwd=workdir, **kwargs)


def run_module(workdir, module, args, **kwargs):
    """Run one module on localhost (see run_tasks): (its result, all the run's output). Asserts
    that ansible-playbook succeeded."""
    result = run_tasks(workdir, [{'name': 'Run %s' % module, module: args}], **kwargs)
    assert result.rc == 0, result.describe()
    return result.results_of(module)[0], result.output


# ---------------------------------------------------------------- a registry process

class LocalRegistry:
    """One docker-registry process (Debian's package) on a free loopback port, with its config,
    storage and log in `directory`. tls: (certificate, key) paths; htpasswd: path of the users file
    (authentication on); ca: the CA clients trust for it; delete: storage.delete.enabled."""

    def __init__(self, directory, tls=None, htpasswd=None, ca=None, delete=False, host='localhost'):
        self.dir = directory
        self.tls = tls
        self.htpasswd = htpasswd
        self.ca = str(ca) if ca else None
        self.delete = delete
        self.host = host
        self.proc = None
        self.log = os.path.join(str(directory), 'registry.log')
        self.config = os.path.join(str(directory), 'config.yml')
        self._log_handle = None
        self._configure(free_port())

    def _configure(self, port):
        self.port = port
        self.url = '%s://%s:%d' % ('https' if self.tls else 'http', self.host, port)
        config = {
            'version': 0.1,
            'log': {'level': 'info', 'accesslog': {'disabled': True}},
            'storage': {'filesystem': {'rootdirectory': os.path.join(str(self.dir), 'data')},
                        'delete': {'enabled': bool(self.delete)}},
            'http': {'addr': '127.0.0.1:%d' % port, 'secret': 'integration-test-only'},
        }
        if self.tls:
            config['http']['tls'] = {'certificate': str(self.tls[0]), 'key': str(self.tls[1])}
        if self.htpasswd:
            config['auth'] = {'htpasswd': {'realm': 'dockyard-test', 'path': str(self.htpasswd)}}
        with open(self.config, 'w') as handle:
            json.dump(config, handle)  # JSON is YAML

    def read_log(self):
        with open(self.log) as handle:
            return handle.read()[-4000:]

    def start(self, wait=True):
        """Start the process; with wait, return once it listens (another free port when the
        chosen one was taken meanwhile)."""
        for attempt in range(3):
            self._log_handle = open(self.log, 'ab')
            self.proc = subprocess.Popen([REGISTRY_BIN, 'serve', self.config], stdout=self._log_handle,
                                         stderr=subprocess.STDOUT)
            if not wait:
                return self
            if self.wait():
                return self
            self.stop()
            self._configure(free_port())
        raise AssertionError('registry did not start: %s' % self.read_log())

    def wait(self, seconds=20):
        """True once the registry listens; False when its port was taken. AssertionError when it
        exited for another reason or did not listen in time."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.read_log()
                if 'address already in use' in log:
                    return False
                raise AssertionError('registry exited: %s' % log)
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=1).close()
                return True
            except OSError:
                time.sleep(0.1)
        raise AssertionError('registry did not listen within %d s: %s' % (seconds, self.read_log()))

    def status(self, path, user=None, **kwargs):
        """HTTP status of `path` with the real curl (trusting self.ca over TLS)."""
        return curl_status(self.url + path, cacert=self.ca if self.tls else None, user=user, **kwargs)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None


# ---------------------------------------------------------------- role deployments

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
            'registry_image': REGISTRY_IMAGE,
            'registry_ui_image': UI_IMAGE,
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
    def play(self, check=False, verbosity=0, extra_path=None, diff=False, tags=None, playbook=PLAYBOOK, **overrides):
        variables = dict(self.vars)
        variables.update(overrides)
        return run_playbook(variables, self.workdir, check=check, verbosity=verbosity, extra_path=extra_path,
                            diff=diff, tags=tags, playbook=playbook)

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
