# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role dockyard.registry.registry on the real Docker engine, default variables.

One deployment is shared by the tests of this module (each ansible-playbook run costs
10-45 s): `--check` on the bare host, then a real deploy at -vvv, then the tests below in file
order, which rerun the role with changed variables where they are about a change. Every check
uses an independent client: the docker CLI through the daemon (certs.d trust), skopeo, curl.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import signal
import socket
import stat

import pytest

from roles_lib import (MANIFEST_ACCEPT, REPOSITORY, TAG, curl, curl_status, project_containers, project_networks,
                       run, ui_app_attributes, wait_for)


@pytest.fixture(scope='module')
def deployment(role_deployments):
    """Check mode on the bare host (observations kept), then the real deploy at -vvv."""
    dep = role_deployments('main')
    dep.check_run = dep.play(check=True)
    dep.after_check = {
        'base_dir_exists': os.path.exists(dep.base_dir),
        'containers': project_containers(dep.project),
        'networks': project_networks(dep.project),
    }
    dep.deploy_run = dep.deploy(verbosity=3)
    dep.first_secret = dep.http_secret()
    return dep


@pytest.fixture(scope='module')
def pushed(deployment):
    """The token of a unique image pushed as localhost:PORT/dockyard-test/hello:1 (not local)."""
    return deployment.push_unique_image()


def wait_status(url, deployment, user, expected, timeout=10):
    """The registry re-reads htpasswd when its mtime changes, on the next request."""
    return wait_for(lambda: curl_status(url, cacert=deployment.ca, user=user) == expected, timeout,
                    what='%s answering %d for %s' % (url, expected, user[0]))


def _pull_and_check(dep, token):
    dep.remove_local_image()
    proc = dep.docker_client('pull', dep.image_ref, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert dep.local_token() == token
    proc = dep.skopeo_inspect()
    assert proc.returncode == 0, proc.stderr
    assert token in proc.stdout  # the label, read from the image config blob in the registry


# 1 ------------------------------------------------------------------------------------------
def test_check_mode_on_bare_host_changes_nothing(deployment):
    result = deployment.check_run
    assert result.rc == 0, result.describe()
    assert result.changed > 0, 'check mode on a bare host must report what it would change'
    assert deployment.after_check == {'base_dir_exists': False, 'containers': [], 'networks': []}


# 1 ------------------------------------------------------------------------------------------
def test_a_first_deploy_prints_no_error_that_is_not_one(deployment):
    """No [ERROR] line in the check mode on the bare host nor in the first deploy (-vvv), and the
    stored HTTP secret is not read where the look at the host saw no file: ansible-core 2.19.0 printed
    a red `[ERROR]: File not found .../secrets/registry.env` there although the task did not fail."""
    for result in (deployment.check_run, deployment.deploy_run):
        errors = [line for line in (result.stdout + result.stderr).splitlines() if '[ERROR]' in line or 'ERROR!' in line]
        assert errors == [], errors
    read = deployment.deploy_run.results().get('dockyard.registry.registry : Read the stored HTTP secret')
    assert read is not None, deployment.deploy_run.describe()
    outcome = 'skipping' if read.get('skipped') else 'ran'
    assert outcome == 'skipping', 'the first deploy read a secret file that did not exist yet: %r' % outcome


# 11 -----------------------------------------------------------------------------------------
def test_secrets_never_in_verbose_output_and_secret_files_are_private(deployment):
    output = deployment.deploy_run.output
    assert '<localhost> EXEC' in output, 'the deploy was expected to run at -vvv'
    secret = deployment.first_secret
    assert len(secret) >= 32
    for name, value in [('password of ' + deployment.admin[0], deployment.admin[1]),
                        ('REGISTRY_HTTP_SECRET', secret)]:
        assert value not in output, '%s appears in the -vvv output' % name
    for path in ('certs/registry.key', 'secrets/registry.env'):
        mode = stat.S_IMODE(os.stat(os.path.join(deployment.base_dir, path)).st_mode)
        assert mode == 0o600, '%s has mode %o' % (path, mode)
    # The secret really is what the running registry got (not a decoy in a file nobody reads).
    env = deployment.inspect('registry')['Config']['Env']
    assert 'REGISTRY_HTTP_SECRET=' + secret in env


# 2 ------------------------------------------------------------------------------------------
def test_push_pull_skopeo_and_catalog(deployment, pushed):
    assert os.path.isfile(os.path.join(deployment.certs_d, 'ca.crt'))
    _pull_and_check(deployment, pushed)
    status, dummy, body = curl(deployment.registry_url + '/v2/_catalog', cacert=deployment.ca,
                               user=deployment.admin)
    assert status == 200
    assert REPOSITORY in body
    # Negative control: skopeo with a wrong password is refused.
    proc = deployment.skopeo_inspect(password='not-' + deployment.admin[1])
    assert proc.returncode != 0


# 3 ------------------------------------------------------------------------------------------
def test_registry_requires_the_right_password(deployment):
    url = deployment.registry_url + '/v2/'
    status, headers, dummy = curl(url, cacert=deployment.ca)
    assert status == 401
    assert headers['www-authenticate'][0].startswith('Basic realm=')
    assert curl_status(url, cacert=deployment.ca, user=(deployment.admin[0], 'wrong')) == 401
    assert curl_status(url, cacert=deployment.ca, user=deployment.admin) == 200
    deployment.trust()
    proc = deployment.login(deployment.admin[0], 'wrong-' + deployment.admin[1])
    assert proc.returncode != 0
    assert 'unauthorized' in proc.stderr.lower() or '401' in proc.stderr
    proc = deployment.login(*deployment.admin)
    assert proc.returncode == 0, proc.stderr


# 4 ------------------------------------------------------------------------------------------
def test_ui_names_itself_and_asks_no_one_for_version_notices(deployment):
    """Joxit 2.6.0: DOCKER_REGISTRY_UI_TITLE names the navbar and the browser tab (else "Docker Registry
    UI" whatever registry_ui_title is); ENABLE_VERSION_NOTIFICATION is on unless set to false, and then
    every visitor's browser asks api.github.com for the latest release."""
    status, dummy, body = curl(deployment.ui_url + '/', cacert=deployment.ca)
    assert status == 200
    app = ui_app_attributes(body)
    assert app['docker-registry-ui-title'] == 'Docker registry', app
    assert app['enable-version-notification'] == 'false', app
    env = dict(item.split('=', 1) for item in deployment.inspect('ui')['Config']['Env'])
    assert env.get('ENABLE_VERSION_NOTIFICATION') == 'false', sorted(env)


def test_ui_https_on_loopback_only_and_proxy_needs_credentials(deployment, pushed):
    status, dummy, body = curl(deployment.ui_url + '/', cacert=deployment.ca)
    assert status == 200
    # What Joxit's entrypoint serves: the settings as attributes of the app element (its <title> is fixed).
    app = ui_app_attributes(body)
    assert app['name'] == 'Docker registry', app  # REGISTRY_TITLE (registry_ui_title, default)
    assert app['single-registry'] == 'true', app
    assert app['is-image-remove-activated'] == 'false', app  # registry_delete_enabled: false (default)
    # Plain HTTP on the HTTPS port is not the page (TLS is really on).
    proc = run(['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:%d/' % deployment.ui_port])
    assert proc.stdout.strip() != '200'

    ui = deployment.inspect('ui')
    bindings = ui['HostConfig']['PortBindings']['443/tcp']
    assert bindings == [{'HostIp': '127.0.0.1', 'HostPort': str(deployment.ui_port)}]
    published = run(['docker', 'port', ui['Id'], '443/tcp'], check=True).stdout.split()
    assert published == ['127.0.0.1:%d' % deployment.ui_port]
    # Negative control: the registry itself is published on every address (default 0.0.0.0).
    assert deployment.inspect('registry')['HostConfig']['PortBindings']['5000/tcp'][0]['HostIp'] == '0.0.0.0'

    catalog = deployment.ui_url + '/v2/_catalog'
    status, dummy, body = curl(catalog, cacert=deployment.ca, user=deployment.admin)
    assert status == 200
    assert REPOSITORY in body
    assert curl_status(catalog, cacert=deployment.ca) == 401  # no anonymous door in proxy mode
    assert curl_status(catalog, cacert=deployment.ca, user=(deployment.admin[0], 'wrong')) == 401


def test_ui_delete_refused_when_delete_disabled(deployment, pushed):
    manifest = '%s/v2/%s/manifests/%s' % (deployment.ui_url, REPOSITORY, TAG)
    status, headers, dummy = curl(manifest, cacert=deployment.ca, user=deployment.admin,
                                  headers=['Accept: ' + MANIFEST_ACCEPT])
    assert status == 200
    digest = headers['docker-content-digest'][0]
    by_digest = '%s/v2/%s/manifests/%s' % (deployment.ui_url, REPOSITORY, digest)
    assert curl_status(by_digest, method='DELETE', cacert=deployment.ca, user=deployment.admin) == 405
    assert curl_status(manifest, cacert=deployment.ca, user=deployment.admin,
                       headers=['Accept: ' + MANIFEST_ACCEPT]) == 200


# 5, 11, 12 ----------------------------------------------------------------------------------
def test_rerun_changes_nothing_and_restarts_nothing(deployment):
    before = {service: deployment.identity(service) for service in ('registry', 'ui')}
    result = deployment.deploy()
    assert result.changed == 0, 'changed tasks on rerun: %s' % result.changed_tasks()
    assert {service: deployment.identity(service) for service in ('registry', 'ui')} == before
    assert deployment.http_secret() == deployment.first_secret

    result = deployment.play(check=True)
    assert result.rc == 0, result.describe()
    assert result.changed == 0, 'changed tasks in check mode after deploy: %s' % result.changed_tasks()
    assert {service: deployment.identity(service) for service in ('registry', 'ui')} == before


def test_check_diff_shows_config_and_compose_changes_without_secrets(deployment):
    """--check --diff previews a config change and a compose change; no secret is in it."""
    config = os.path.join(deployment.base_dir, 'config', 'config.yml')
    with open(config) as handle:
        before = handle.read()
    result = deployment.play(check=True, diff=True, verbosity=3, registry_log_level='warn',
                             registry_ui_title='Diff preview title')
    assert result.rc == 0, result.describe()
    output = result.output
    assert '+  level: warn' in output and '-  level: info' in output, output[-4000:]
    assert '+      REGISTRY_TITLE: Diff preview title' in output, output[-4000:]
    for name, value in [('password of ' + deployment.admin[0], deployment.admin[1]),
                        ('REGISTRY_HTTP_SECRET', deployment.first_secret)]:
        assert value not in output, '%s appears in the --diff output' % name
    with open(config) as handle:
        assert handle.read() == before  # check mode wrote nothing


def test_role_fails_clearly_when_the_registry_does_not_serve(deployment):
    """The post-deploy health check fails the play, naming what failed, when nothing serves there."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(('127.0.0.1', 0))
        dead = probe.getsockname()[1]
    result = deployment.play(registry_health_url='https://127.0.0.1:%d' % dead, registry_health_timeout=3)
    assert result.rc != 0
    assert 'registry health check failed' in result.output, result.output[-3000:]
    assert 'Check the registry as a client does' in result.output
    # Negative control: the same deployment with its real address passes the same check.
    assert deployment.play().rc == 0


# 6 ------------------------------------------------------------------------------------------
def test_users_are_added_and_removed_without_restart(deployment):
    url = deployment.registry_url + '/v2/'
    before = deployment.identity('registry')
    newcomer = ('newcomer', 'N3w-user-' + deployment.project)
    assert curl_status(url, cacert=deployment.ca, user=newcomer) == 401

    deployment.deploy(registry_users=deployment.users + [{'name': newcomer[0], 'password': newcomer[1]}])
    assert deployment.identity('registry') == before
    assert curl_status(url, cacert=deployment.ca, user=newcomer) == 200

    deployment.deploy()  # back to the original list: exclusive, so the newcomer is removed
    assert deployment.identity('registry') == before
    assert wait_status(url, deployment, newcomer, 401)
    assert curl_status(url, cacert=deployment.ca, user=deployment.admin) == 200  # negative control


# 7 ------------------------------------------------------------------------------------------
def _moment(stamp):
    """Docker's RFC 3339 time with nanoseconds, as a comparable (date-time, fraction) pair."""
    whole, dot, rest = stamp.rstrip('Z').partition('.')
    digits = rest.split('+')[0].split('-')[0]
    return whole, int((digits + '000000000')[:9]) if dot else 0


def test_config_change_recreates_the_registry_and_the_ui_waits_for_its_health(deployment, pushed):
    registry_before = deployment.identity('registry')
    result = deployment.deploy(registry_log_level='debug')
    assert result.changed > 0
    registry_after = deployment.identity('registry')
    assert registry_after[0] != registry_before[0] or registry_after[1] != registry_before[1]
    # depends_on service_healthy: the UI (recreated with its dependency) was started only after a
    # successful healthcheck of the new registry container.
    ui_started = _moment(deployment.inspect('ui')['State']['StartedAt'])
    probes = deployment.inspect('registry')['State']['Health']['Log']
    first_ok = min(_moment(probe['End']) for probe in probes if probe['ExitCode'] == 0)
    assert _moment(registry_after[1]) < first_ok <= ui_started, (registry_after[1], probes, ui_started)
    with open(os.path.join(deployment.base_dir, 'config', 'config.yml')) as handle:
        assert 'level: debug' in handle.read()
    _pull_and_check(deployment, pushed)
    # Still the same data behind the UI's proxy, which found the recreated registry again.
    status, dummy, body = curl(deployment.ui_url + '/v2/_catalog', cacert=deployment.ca, user=deployment.admin)
    assert status == 200 and REPOSITORY in body


# 8 ------------------------------------------------------------------------------------------
def test_killed_registry_comes_back(deployment, pushed):
    data = deployment.inspect('registry')
    pid = data['State']['Pid']
    assert pid > 0
    restarts = data['RestartCount']
    os.kill(pid, signal.SIGKILL)

    def restarted():
        state = deployment.inspect('registry')
        return state['RestartCount'] > restarts and state['State']['Pid'] not in (0, pid) and state
    restarted_state = wait_for(restarted, 60, what='the registry restarted after SIGKILL')
    assert restarted_state['Id'] == data['Id']  # the same container, restarted by its policy
    deployment.wait_healthy('registry', timeout=120)
    proc = deployment.skopeo_inspect()
    assert proc.returncode == 0, proc.stderr
    assert pushed in proc.stdout


# 10 -----------------------------------------------------------------------------------------
def test_absent_keeps_data_and_redeploy_serves_the_old_image(deployment, pushed):
    repo_dir = os.path.join(deployment.base_dir, 'data', 'docker', 'registry', 'v2', 'repositories', REPOSITORY)
    assert os.path.isdir(repo_dir)
    result = deployment.deploy(registry_state='absent')
    assert result.changed > 0
    assert project_containers(deployment.project) == []
    assert project_networks(deployment.project) == []
    assert os.path.isdir(repo_dir), 'registry_state=absent removed the data'
    assert os.path.isfile(os.path.join(deployment.base_dir, 'secrets', 'registry.env'))

    deployment.deploy()
    assert deployment.http_secret() == deployment.first_secret
    _pull_and_check(deployment, pushed)  # nothing pushed again
