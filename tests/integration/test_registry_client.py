# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role dockyard.registry.registry_client and the second play of playbooks/site.yml, on this
machine's real Docker engine (the machine is both the registry host and a Docker client).

One registry is deployed with the shared fixture (role_deployments), named by this machine's
first global IPv4 address: the Docker daemon treats 127.0.0.0/8 as an insecure registry and
never verifies TLS there, so `localhost:PORT` could not show that trust is missing. Its trust
directory /etc/docker/certs.d/IP:PORT does not exist before the role runs.
The tests run in file order and build on each other: untrusted (negative control), check
mode, site.yml trusts the client (login, push, pull, dockerd not restarted), idempotence, the
role's docker login (inline auths and a credential helper), refusals, system trust, absent.
Everything made here (certs.d directories, system trust files, logins) is removed at the end,
also when a test fails.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import shutil
import stat
import uuid

import pytest

import roles_lib
from roles_lib import CERTS_D, REPO, ansible_playbook, curl, docker, run

SITE = os.path.join(REPO, 'playbooks', 'site.yml')
SYSTEM_TRUST_DIR = '/usr/local/share/ca-certificates'

CLIENT_PLAYBOOK = """---
- name: Trust the registries
  hosts: docker_clients
  become: true
  gather_facts: false
  roles:
    - role: dockyard.registry.registry_client
"""

# localhost is a registry host (the shared deployment; its name, port and base dir come in extra
# vars) and a Docker client.
INVENTORY = """---
all:
  children:
    registry:
      hosts:
        localhost:
          ansible_connection: local
          ansible_python_interpreter: "{{ ansible_playbook_python }}"
    docker_clients:
      hosts:
        localhost:
"""

# A Docker credential helper (the protocol of docker-credential-helpers: store/get/erase/list,
# JSON on stdin/stdout) keeping its secrets in a JSON file beside itself.
FAKE_HELPER = """#!/usr/bin/env python3
import json, os, sys
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'store.json')
store = json.load(open(path)) if os.path.exists(path) else {}
action = sys.argv[1]
data = sys.stdin.read().strip()
if action == 'store':
    entry = json.loads(data)
    store[entry['ServerURL']] = {'Username': entry['Username'], 'Secret': entry['Secret']}
elif action == 'get':
    if data not in store:
        sys.stdout.write('credentials not found in native keychain\\n')
        sys.exit(1)
    sys.stdout.write(json.dumps(dict(store[data], ServerURL=data)))
elif action == 'erase':
    store.pop(data, None)
elif action == 'list':
    sys.stdout.write(json.dumps(dict((k, v['Username']) for k, v in store.items())))
with open(path, 'w') as handle:
    json.dump(store, handle)
"""


def host_address():
    """This machine's first global IPv4 address (not loopback, so Docker verifies TLS)."""
    for line in run(['ip', '-4', '-o', 'addr', 'show', 'scope', 'global'], check=True).stdout.splitlines():
        fields = line.split()
        if 'inet' in fields:
            return fields[fields.index('inet') + 1].split('/')[0]
    pytest.fail('no global IPv4 address on this machine: cannot name the registry by a non-loopback address')


def dockerd_pids():
    """(PID, start time) of the daemon this engine runs (its pid file): changes on a restart.
    Other dockerd processes on the machine (other tests' engines) do not count."""
    with open('/var/run/docker.pid') as handle:
        pid = handle.read().strip()
    with open('/proc/%s/stat' % pid) as handle:
        started = handle.read().rsplit(')', 1)[1].split()[19]
    with open('/proc/%s/comm' % pid) as handle:
        assert handle.read().strip() == 'dockerd', '/var/run/docker.pid does not name a dockerd'
    return pid, started


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def pem_certificates(text):
    """The certificate blocks of a PEM text, normalised (what the role writes)."""
    blocks, inside = [], None
    for line in text.splitlines():
        if line == '-----BEGIN CERTIFICATE-----':
            inside = [line]
        elif inside is not None:
            inside.append(line)
            if line == '-----END CERTIFICATE-----':
                blocks.append('\n'.join(inside) + '\n')
                inside = None
    return ''.join(blocks)


class Client:
    """The shared registry deployment, seen from this machine as a Docker client."""

    def __init__(self, deployment, workdir):
        self.dep = deployment
        self.workdir = str(workdir)
        self.inventory = os.path.join(self.workdir, 'inventory.yml')
        self.playbook = os.path.join(self.workdir, 'client.yml')
        with open(self.inventory, 'w') as handle:
            handle.write(INVENTORY)
        with open(self.playbook, 'w') as handle:
            handle.write(CLIENT_PLAYBOOK)
        self.name = deployment.vars['registry_server_name']
        self.address = '%s:%d' % (self.name, deployment.port)
        self.image_ref = '%s/%s:%s' % (self.address, roles_lib.REPOSITORY, roles_lib.TAG)
        self.certs_d = os.path.join(CERTS_D, self.address)
        self.trust_file = os.path.join(SYSTEM_TRUST_DIR, 'dockyard-%s-%d.crt' % (self.name, deployment.port))
        self.config_dirs = []   # (DOCKER_CONFIG, PATH prefix or None) to log out of in teardown
        self.extra_certs_d = []  # other certs.d directories a test might have made

    def play(self, playbook=None, check=False, verbosity=0, extra_path=None, callback=None, **variables):
        values = dict(self.dep.vars)
        values.update(variables)
        env = {'ANSIBLE_STDOUT_CALLBACK': callback} if callback else None
        return ansible_playbook(playbook or self.playbook, self.inventory, variables=values, workdir=self.workdir,
                                check=check, verbosity=verbosity, extra_path=extra_path, env=env)

    def apply(self, **kwargs):
        result = self.play(**kwargs)
        assert result.rc == 0, result.describe()
        return result

    def apply_json(self, check=False, **variables):
        """Run the client playbook with the JSON callback: (changed count, {task name: result of
        localhost}) from the registered results, not from the callback's text."""
        result = self.play(check=check, callback='ansible.posix.json', **variables)
        assert result.rc == 0, result.describe()
        report = json.loads(result.stdout[result.stdout.index('{'):])
        tasks = {}
        for play in report['plays']:
            for task in play['tasks']:
                name = task['task']['name'].split(' : ', 1)[-1]
                tasks.setdefault(name, task['hosts'].get('localhost', {}))
        return report['stats']['localhost']['changed'], tasks

    def config_dir(self, label, extra_path=None):
        path = os.path.join(self.workdir, 'docker-config-%s-%s' % (label, uuid.uuid4().hex[:6]))
        os.makedirs(path)
        self.config_dirs.append((path, extra_path))
        return path

    def docker_with(self, config_dir, *args, **kwargs):
        env = dict(os.environ, DOCKER_CONFIG=config_dir, DOCKER_BUILDKIT='0')
        extra_path = kwargs.pop('extra_path', None)
        if extra_path:
            env['PATH'] = extra_path + os.pathsep + env['PATH']
        return docker(*args, env=env, **kwargs)

    def cli_login(self, config_dir, password=None):
        user, real_password = self.dep.admin
        return self.docker_with(config_dir, 'login', self.address, '-u', user, '--password-stdin',
                                input=(password or real_password) + '\n', timeout=120)

    def auths(self, config_dir):
        path = os.path.join(config_dir, 'config.json')
        if not os.path.exists(path):
            return {}
        with open(path) as handle:
            return json.load(handle).get('auths', {})

    def teardown(self):
        for config_dir, extra_path in self.config_dirs:
            self.docker_with(config_dir, 'logout', self.address, extra_path=extra_path)
        self.docker_with(self.dep.docker_config, 'logout', self.address)
        for path in [self.certs_d] + self.extra_certs_d:
            shutil.rmtree(path, ignore_errors=True)
        if os.path.exists(self.trust_file):
            os.unlink(self.trust_file)
            run(['update-ca-certificates'], timeout=120)


@pytest.fixture(scope='module')
def client(role_deployments, tmp_path_factory):
    address = host_address()
    deployment = role_deployments('client', registry_server_name=address)
    deployment.deploy()
    ctx = Client(deployment, tmp_path_factory.mktemp('client'))
    try:
        yield ctx
    finally:
        ctx.teardown()


def _assert_untrusted(client):
    assert not os.path.exists(client.certs_d)
    proc = client.cli_login(client.config_dir('untrusted'))
    assert proc.returncode != 0, 'docker login worked without the CA: %s' % proc.stdout
    assert 'x509' in proc.stderr or 'unknown authority' in proc.stderr, proc.stderr
    assert client.auths(client.config_dirs[-1][0]) == {}


def test_client_does_not_trust_the_registry_before_the_role(client):
    """Negative control: without certs.d the daemon refuses the registry's certificate."""
    _assert_untrusted(client)


def test_check_mode_on_an_untrusted_client_changes_nothing_on_disk(client):
    result = client.play(check=True)
    assert result.rc == 0, result.describe()
    assert result.changed > 0, 'check mode should report the CA to install: ' + result.describe()
    assert not os.path.exists(client.certs_d)


def test_site_playbook_trusts_the_registry_from_docker_clients(client):
    dep = client.dep
    pids = dockerd_pids()
    assert pids, 'no dockerd process found'
    registry_before = dep.identity('registry')

    result = client.apply(playbook=SITE)

    # The first play had nothing to do; every change is the client role's.
    changed = result.changed_tasks()
    assert changed and all(task.startswith('dockyard.registry.registry_client') for task in changed), changed
    assert dep.identity('registry') == registry_before
    assert dockerd_pids() == pids, 'dockerd was restarted'

    ca_file = os.path.join(client.certs_d, 'ca.crt')
    assert os.listdir(client.certs_d) == ['ca.crt']
    assert mode(client.certs_d) == 0o755 and mode(ca_file) == 0o644
    with open(ca_file) as handle:
        installed = handle.read()
    with open(dep.ca) as handle:
        assert installed == pem_certificates(handle.read())
    assert 'PRIVATE KEY' not in installed
    # Cross-check with openssl: the installed CA verifies the certificate the registry serves.
    proc = run(['openssl', 'verify', '-CAfile', ca_file, os.path.join(dep.base_dir, 'certs', 'registry.crt')])
    assert proc.returncode == 0, proc.stdout + proc.stderr

    # Now the daemon trusts the registry: login, push, remove locally, pull back.
    proc = client.cli_login(dep.docker_config)
    assert proc.returncode == 0, proc.stderr
    tag, token = dep.build_unique_image()
    dep.image_tags.append(client.image_ref)
    dep.docker_client('tag', tag, client.image_ref, check=True)
    dep.docker_client('push', client.image_ref, check=True, timeout=300)
    dep.docker_client('rmi', client.image_ref, tag, check=True)
    dep.docker_client('pull', client.image_ref, check=True, timeout=300)
    pulled = dep.docker_client('image', 'inspect', '-f', '{{ index .Config.Labels "%s" }}' % roles_lib.TOKEN_LABEL,
                               client.image_ref, check=True).stdout.strip()
    assert pulled == token
    assert dockerd_pids() == pids, 'dockerd was restarted'


def test_rerun_and_check_mode_change_nothing(client):
    pids = dockerd_pids()
    for kwargs in ({'playbook': SITE}, {'playbook': SITE, 'check': True}, {}):
        result = client.apply(**kwargs)
        assert result.changed == 0, '%r changed %r\n%s' % (kwargs, result.changed_tasks(), result.describe())
    assert dockerd_pids() == pids


APPLY_TASK = 'Install the CA certificate of each registry'


def _applied(tasks):
    """Whether the apply tasks ran (the include of trust.yml was not skipped)."""
    include = tasks['Trust the registries']
    return not include.get('skipped') and APPLY_TASK in tasks


def test_untouched_rerun_looks_once_and_skips_the_apply_tasks(client):
    changed, tasks = client.apply_json()
    assert changed == 0
    assert 'paths' in tasks['Look at the client (read-only)']
    assert tasks['Trust the registries'].get('skipped') is True
    assert not _applied(tasks) and 'Create the certs.d directory of each registry' not in tasks
    # This machine is the registry host, reached with the local connection: its CA is read on the
    # controller, no slurp runs.
    assert tasks['Read the CA of each registry host'].get('skipped') is True


def _drift_removed_ca(client):
    os.unlink(os.path.join(client.certs_d, 'ca.crt'))
    return lambda: os.path.exists(os.path.join(client.certs_d, 'ca.crt'))


def _drift_mode(client):
    os.chmod(os.path.join(client.certs_d, 'ca.crt'), 0o600)
    os.chmod(client.certs_d, 0o700)
    return lambda: mode(os.path.join(client.certs_d, 'ca.crt')) == 0o644 and mode(client.certs_d) == 0o755


def _drift_content(client):
    with open(os.path.join(client.certs_d, 'ca.crt'), 'a') as handle:
        handle.write('# edited by hand\n')
    with open(client.dep.ca) as handle:
        wanted = pem_certificates(handle.read())
    return lambda: open(os.path.join(client.certs_d, 'ca.crt')).read() == wanted


@pytest.mark.parametrize('make_drift', [_drift_removed_ca, _drift_mode, _drift_content],
                         ids=['removed-ca', 'changed-mode', 'edited-ca'])
def test_hand_made_drift_is_repaired_then_the_rerun_is_a_no_op(client, make_drift):
    repaired = make_drift(client)
    assert not repaired()

    # Check mode sees it and writes nothing.
    changed, tasks = client.apply_json(check=True)
    assert changed > 0 and _applied(tasks) and not repaired()

    changed, tasks = client.apply_json()
    assert changed > 0 and _applied(tasks)
    assert repaired()
    drift = tasks['Report what differs from the plan']['msg']
    assert drift and all(item['path'].startswith(client.certs_d) for item in drift), drift

    changed, tasks = client.apply_json()
    assert changed == 0 and not _applied(tasks)


def test_a_stale_directory_of_a_registry_no_longer_trusted_is_removed(client):
    """A certs.d directory someone made again for a registry listed as absent: the look sees it,
    the apply tasks remove it (empty), and the next run is a no-op."""
    with open(client.dep.ca) as handle:
        ca = handle.read()
    port = roles_lib.free_ports(1)[0]
    stale = os.path.join(CERTS_D, 'stale.invalid:%d' % port)
    client.extra_certs_d.append(stale)
    registries = {'registry_client_registries': [
        {'name': client.name, 'port': client.dep.port, 'ca_cert_content': ca},
        {'name': 'stale.invalid', 'port': port, 'state': 'absent'}]}
    changed, tasks = client.apply_json(**registries)
    assert changed == 0 and not _applied(tasks)

    os.makedirs(stale)
    changed, tasks = client.apply_json(**registries)
    assert changed == 1 and tasks['Trust the registries'].get('skipped') is not True
    assert not os.path.exists(stale)
    assert os.path.exists(os.path.join(client.certs_d, 'ca.crt'))

    changed, tasks = client.apply_json(**registries)
    assert changed == 0 and tasks['Trust the registries'].get('skipped') is True


def test_role_logs_in_idempotently_without_showing_the_password(client):
    user, password = client.dep.admin
    config_dir = client.config_dir('login')
    login = {'registry_client_docker_config_dir': config_dir,
             'registry_client_logins': [{'registry': client.address, 'username': user, 'password': password}]}

    result = client.apply(check=True, **login)
    assert result.changed > 0 and client.auths(config_dir) == {}, result.describe()

    result = client.apply(verbosity=3, **login)
    assert result.changed == 1, result.changed_tasks()
    assert password not in result.output
    expected = base64.b64encode(('%s:%s' % (user, password)).encode()).decode()
    assert client.auths(config_dir)[client.address]['auth'] == expected

    result = client.apply(verbosity=3, **login)
    assert result.changed == 0, result.changed_tasks()
    assert password not in result.output
    assert client.apply(check=True, **login).changed == 0

    # The stored login is real: pulling needs it (anonymous pulls get 401).
    anonymous = client.config_dir('anonymous')
    assert client.docker_with(anonymous, 'pull', client.image_ref, timeout=120).returncode != 0
    client.dep.docker_client('rmi', client.image_ref)
    proc = client.docker_with(config_dir, 'pull', client.image_ref, timeout=300)
    assert proc.returncode == 0, proc.stderr

    # state: absent logs out, once.
    login['registry_client_logins'][0]['state'] = 'absent'
    result = client.apply(**login)
    assert result.changed == 1, result.changed_tasks()
    assert client.address not in client.auths(config_dir)
    assert client.apply(**login).changed == 0


def test_wrong_password_fails_clearly_and_is_never_shown(client):
    user, password = client.dep.admin
    wrong = 'Wr0ng-%s' % uuid.uuid4().hex
    config_dir = client.config_dir('wrong')
    result = client.play(verbosity=3, registry_client_docker_config_dir=config_dir,
                         registry_client_logins=[{'registry': client.address, 'username': user, 'password': wrong}])
    assert result.rc != 0, result.describe()
    failures = '\n'.join(result.failures())
    assert "registry_client_logins[0]: `docker login %s` as '%s' failed" % (client.address, user) in failures, failures
    assert '401' in failures or 'nauthorized' in failures, failures
    assert wrong not in result.output and password not in result.output
    assert client.auths(config_dir) == {}


def test_login_through_a_credential_helper(client):
    """config.json names a credential helper: nothing inline; the role asks the helper."""
    user, password = client.dep.admin
    helper_dir = os.path.join(client.workdir, 'helper-%s' % uuid.uuid4().hex[:6])
    os.makedirs(helper_dir)
    helper = os.path.join(helper_dir, 'docker-credential-dyfake')
    with open(helper, 'w') as handle:
        handle.write(FAKE_HELPER)
    os.chmod(helper, 0o755)
    config_dir = client.config_dir('helper', extra_path=helper_dir)
    with open(os.path.join(config_dir, 'config.json'), 'w') as handle:
        json.dump({'credsStore': 'dyfake'}, handle)
    login = {'registry_client_docker_config_dir': config_dir,
             'registry_client_logins': [{'registry': client.address, 'username': user, 'password': password}]}

    result = client.apply(verbosity=3, extra_path=helper_dir, **login)
    assert result.changed == 1, result.changed_tasks()
    assert password not in result.output
    with open(os.path.join(helper_dir, 'store.json')) as handle:
        assert json.load(handle)[client.address] == {'Username': user, 'Secret': password}
    assert 'auth' not in client.auths(config_dir).get(client.address, {})

    result = client.apply(extra_path=helper_dir, **login)
    assert result.changed == 0, result.changed_tasks()

    # Other credentials than the stored ones: the role logs in again (the registry refuses these).
    login['registry_client_logins'][0]['password'] = 'Other-%s' % uuid.uuid4().hex
    result = client.play(extra_path=helper_dir, **login)
    assert result.rc != 0 and 'failed' in '\n'.join(result.failures()), result.describe()


def _openssl_ca(workdir):
    """A CA key and certificate, and a leaf certificate it signed (CA:FALSE)."""
    key, crt = os.path.join(workdir, 'ca.key'), os.path.join(workdir, 'ca.crt')
    run(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
         '-keyout', key, '-out', crt, '-subj', '/CN=dyrt refused CA', '-days', '2'], check=True)
    leaf_key, csr, leaf = (os.path.join(workdir, name) for name in ('leaf.key', 'leaf.csr', 'leaf.crt'))
    run(['openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
         '-keyout', leaf_key, '-out', csr, '-subj', '/CN=leaf.example'], check=True)
    run(['openssl', 'x509', '-req', '-in', csr, '-CA', crt, '-CAkey', key, '-CAcreateserial', '-days', '1',
         '-out', leaf], check=True)
    with open(key) as k, open(crt) as c, open(leaf) as f:
        return k.read(), c.read(), f.read()


@pytest.mark.parametrize('case', ['ca_with_private_key', 'private_key_only', 'leaf_not_ca'])
def test_anything_but_a_ca_certificate_is_refused_before_anything_is_written(client, tmp_path, case):
    key, ca, leaf = _openssl_ca(str(tmp_path))
    content, expected = {
        'ca_with_private_key': (ca + key, 'holds a PRIVATE KEY block'),
        'private_key_only': (key, 'holds a PRIVATE KEY block'),
        'leaf_not_ca': (leaf, 'no CA certificate in it (CN=leaf.example'),
    }[case]
    port = roles_lib.free_ports(1)[0]
    target = os.path.join(CERTS_D, 'refused.invalid:%d' % port)
    client.extra_certs_d.append(target)
    result = client.play(verbosity=3, registry_client_registries=[
        {'name': 'refused.invalid', 'port': port, 'ca_cert_content': content}])
    assert result.rc != 0, result.describe()
    failures = '\n'.join(result.failures())
    assert 'registry_client_registries[0]: ' + expected in failures, failures
    assert 'Nothing was written' in failures
    assert not os.path.exists(target)
    key_body = [line for line in key.splitlines() if not line.startswith('-----')]
    assert not any(line in result.output for line in key_body), 'private key material in the output'


def test_system_trust_store(client):
    url = 'https://%s/v2/' % client.address
    # Negative control: the system trust store does not know the registry's CA.
    proc = run(['curl', '-sS', '-o', '/dev/null', url], timeout=60)
    assert proc.returncode == 60, (proc.returncode, proc.stderr)

    result = client.apply(registry_client_system_trust=True)
    assert 'dockyard.registry.registry_client : Rebuild the system trust store' in result.changed_tasks()
    assert mode(client.trust_file) == 0o644
    assert curl(url)[0] == 401  # TLS verified with the system store; the registry wants credentials
    assert client.apply(registry_client_system_trust=True).changed == 0

    result = client.apply(registry_client_system_trust=False)
    assert result.changed == 2, result.changed_tasks()  # file removed, store rebuilt
    assert not os.path.exists(client.trust_file)
    assert run(['curl', '-sS', '-o', '/dev/null', url], timeout=60).returncode == 60


def test_docker_missing_is_one_clear_error(client, tmp_path):
    fake = tmp_path / 'bin'
    fake.mkdir()
    (fake / 'docker').write_text('#!/bin/sh\necho "Cannot connect to the Docker daemon" >&2\nexit 1\n')
    (fake / 'docker').chmod(0o755)
    port = roles_lib.free_ports(1)[0]
    target = os.path.join(CERTS_D, 'nodocker.invalid:%d' % port)
    client.extra_certs_d.append(target)
    with open(client.dep.ca) as handle:
        ca = handle.read()
    result = client.play(extra_path=str(fake), registry_client_registries=[
        {'name': 'nodocker.invalid', 'port': port, 'ca_cert_content': ca}])
    assert result.rc != 0
    failures = '\n'.join(result.failures())
    assert 'Docker is not usable on localhost' in failures and 'Install and start a Docker engine' in failures, failures
    assert not os.path.exists(target)


def test_absent_registry_is_no_longer_trusted(client):
    with open(client.dep.ca) as handle:
        ca = handle.read()
    absent = {'registry_client_registries': [
        {'name': client.name, 'port': client.dep.port, 'ca_cert_content': ca, 'state': 'absent'}]}
    result = client.apply(**absent)
    assert result.changed == 2, result.changed_tasks()  # ca.crt and the emptied directory
    _assert_untrusted(client)
    assert client.apply(**absent).changed == 0
