# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role's no-op fast path on the real Docker engine.

A rerun first looks at the host once (dockyard.registry.registry_info) and skips the tasks that
apply the state when nothing differs. These tests prove both sides: a rerun on an untouched
deployment skips them (and still checks the registry as a client), and each kind of drift made
by hand between two runs — a file, a mode, a secret file, a stopped container, a container
created from another definition, a user entry — is seen and repaired by the next run, exactly
as the full path repairs it, with the registry recreated only where its definition changed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import shutil

import pytest

from roles_lib import curl_status, docker, fake_docker, run

REPORT = 'registry_report'
LOOK = 'dockyard.registry.registry_info'


@pytest.fixture(scope='module')
def deployment(role_deployments):
    dep = role_deployments('drift')
    dep.deploy()
    return dep


def _path(dep, *parts):
    return os.path.join(dep.base_dir, *parts)


def _report(result):
    """The role's own account of a run: the `registry_report` fact it sets on localhost at its end
    ({'drift': [...], 'applied', 'health_checked', 'look_healthy'}), read from the task results."""
    facts = result.facts('localhost')
    assert REPORT in facts, 'the role set no %s fact:\n%s' % (REPORT, result.describe())
    return facts[REPORT]


def _identity(dep):
    return {service: dep.identity(service) for service in ('registry', 'ui')}


def _rerun_repairs(dep):
    """A rerun after a change by hand: it reports changes and goes through the apply tasks; the
    run after it is a no-op again (the repair is complete)."""
    result = dep.deploy()
    assert result.changed > 0, 'the drift was not repaired:\n' + result.describe()
    report = _report(result)
    assert report['applied'] is True and report['drift'], report
    again = dep.deploy()
    assert again.changed == 0, 'changed tasks after the repair: %s' % again.changed_tasks()
    report = _report(again)
    assert report['applied'] is False and report['drift'] == [], report
    return result


def test_untouched_rerun_skips_the_apply_tasks_but_checks_the_registry(deployment):
    before = _identity(deployment)
    result = deployment.deploy()
    assert result.changed == 0, result.changed_tasks()
    report = _report(result)
    assert report['applied'] is False, 'the apply tasks ran on an untouched host: %r' % report
    assert report['drift'] == [], report
    # The registry was looked at as a client does, by the look at the host; it served, so the
    # waiting health check task had nothing to add.
    assert report['look_healthy'] is True, report
    assert report['health_checked'] is False, report
    looks = result.results_of(LOOK)
    assert looks and not looks[-1].get('failed'), looks
    health = looks[-1]['health']
    assert health['ok'] is True
    assert health['checks']['anonymous']['status'] == 401 and health['checks']['authenticated']['status'] == 200
    assert health['checks']['tls']['ok'] is True
    assert _identity(deployment) == before
    # Check mode on the untouched host: nothing to report either.
    check = deployment.play(check=True)
    assert check.rc == 0 and check.changed == 0, check.describe()


def test_an_edited_config_is_restored_without_a_restart(deployment):
    config = _path(deployment, 'config', 'config.yml')
    with open(config) as handle:
        original = handle.read()
    before = _identity(deployment)
    with open(config, 'a') as handle:
        handle.write('# edited by hand\n')
    # Check mode sees the drift without repairing it.
    check = deployment.play(check=True)
    assert check.rc == 0 and check.changed > 0, check.describe()
    with open(config) as handle:
        assert handle.read().endswith('# edited by hand\n')

    _rerun_repairs(deployment)
    with open(config) as handle:
        assert handle.read() == original
    # The registry never read the edited file (it reads config.yml at start) and the config the
    # role wants did not change: no recreation.
    assert _identity(deployment) == before


def test_a_private_key_made_readable_is_made_private_again(deployment):
    key = _path(deployment, 'certs', 'registry.key')
    os.chmod(key, 0o644)
    before = _identity(deployment)
    _rerun_repairs(deployment)
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert _identity(deployment) == before  # the same key: no restart


def test_a_removed_ca_file_is_published_again(deployment):
    ca = _path(deployment, 'certs', 'ca.crt')
    os.remove(ca)
    _rerun_repairs(deployment)
    # self_signed with the UI on HTTPS: what clients trust is the registry's certificate, then the
    # UI's own (ui-certs/ui.crt), in one file.
    with open(ca, 'rb') as published, open(_path(deployment, 'certs', 'registry.crt'), 'rb') as cert, \
            open(_path(deployment, 'ui-certs', 'ui.crt'), 'rb') as ui_cert:
        assert published.read() == cert.read() + ui_cert.read()


def test_a_stopped_ui_is_started_again(deployment):
    docker('stop', deployment.container_id('ui'), check=True)
    assert deployment.inspect('ui')['State']['Running'] is False
    _rerun_repairs(deployment)
    assert deployment.inspect('ui')['State']['Running'] is True


def test_a_hand_edited_compose_project_is_put_back(deployment):
    """Someone edits docker-compose.yml and runs `docker compose up` by hand: the next run restores
    the file and Compose recreates the container from the role's definition."""
    compose_file = _path(deployment, 'docker-compose.yml')
    with open(compose_file) as handle:
        original = handle.read()
    edited = original.replace('    labels:\n', '    labels:\n      org.dockyard.test.hand-made: "yes"\n', 1)
    assert edited != original
    with open(compose_file, 'w') as handle:
        handle.write(edited)
    run(['docker', 'compose', '-p', deployment.project, '-f', compose_file, 'up', '-d', '--wait'],
        check=True, timeout=300)
    hand_made = [service for service in ('registry', 'ui')
                 if deployment.inspect(service)['Config']['Labels'].get('org.dockyard.test.hand-made') == 'yes']
    assert hand_made, 'control: the hand-made up recreated no container'

    _rerun_repairs(deployment)
    with open(compose_file) as handle:
        assert handle.read() == original
    for service in hand_made:
        assert 'org.dockyard.test.hand-made' not in deployment.inspect(service)['Config']['Labels']


def _docker_without_compose_up(directory):
    """A `docker` first on PATH that runs the real one, except `compose ... up`, which fails."""
    return fake_docker(directory, 'for arg in "$@"; do\n  if [ "$arg" = up ]; then\n'
                                  '    echo "simulated failure of compose up" >&2; exit 1\n  fi\ndone\n'
                                  'exec %s "$@"\n' % shutil.which('docker'))


def _ui_title(dep):
    env = dict(item.split('=', 1) for item in dep.inspect('ui')['Config']['Env'])
    return env.get('REGISTRY_TITLE')


def test_a_run_that_failed_before_compose_up_is_completed_by_the_next(deployment):
    """compose up fails (also when the role tries to start the old deployment again): the rollback
    puts the files that were running back, the containers were never touched, and the next run
    applies the change."""
    title = 'Drift title %s' % deployment.project
    failed = deployment.play(extra_path=_docker_without_compose_up(os.path.join(deployment.workdir, 'no-up')),
                             registry_ui_title=title)
    assert failed.rc != 0 and 'simulated failure of compose up' in failed.output, failed.describe()
    with open(_path(deployment, 'docker-compose.yml')) as handle:
        assert title not in handle.read()  # the rollback put the running deployment's file back
    assert _ui_title(deployment) != title  # control: the UI was not recreated

    result = deployment.deploy(registry_ui_title=title)
    assert result.changed > 0 and _report(result)['applied'] is True, result.describe()
    assert _ui_title(deployment) == title
    assert deployment.deploy(registry_ui_title=title).changed == 0
    deployment.deploy()  # back to the default title for the tests after this one
    assert _ui_title(deployment) != title


def test_a_user_entry_removed_by_hand_is_written_again(deployment):
    htpasswd = _path(deployment, 'auth', 'htpasswd')
    user, password = deployment.admin
    url = deployment.registry_url + '/v2/'
    with open(htpasswd, 'w') as handle:
        handle.write('')
    assert curl_status(url, cacert=deployment.ca, user=(user, password)) == 401  # control
    before = _identity(deployment)
    _rerun_repairs(deployment)
    assert curl_status(url, cacert=deployment.ca, user=(user, password)) == 200
    assert _identity(deployment) == before  # users never restart the registry
