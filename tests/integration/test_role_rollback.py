# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A step that fails on the host never leaves a registry down that was up: the role keeps the
running deployment's files, applies, and on failure puts them back and starts the deployment that
was running again before the play fails (real engine, real Compose, real registry)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import os
import shutil
import sys

import pytest

from roles_lib import curl_status, fake_docker, run, wait_for

FILES = ('docker-compose.yml', os.path.join('config', 'config.yml'), os.path.join('secrets', 'registry.env'),
         os.path.join('auth', 'htpasswd'))


@pytest.fixture(scope='module')
def deployment(role_deployments):
    dep = role_deployments('rollback', registry_health_timeout=40)
    dep.deploy()
    return dep


def _checksums(dep):
    sums = {}
    for name in FILES:
        with open(os.path.join(dep.base_dir, name), 'rb') as handle:
            sums[name] = hashlib.sha256(handle.read()).hexdigest()
    return sums


def _serves(dep):
    user, password = dep.admin
    return (curl_status(dep.registry_url + '/v2/', cacert=dep.ca, user=(user, password)) == 200
            and curl_status(dep.registry_url + '/v2/', cacert=dep.ca) == 401)


def _docker_taking_port_before_up(directory, port):
    """A `docker` first on PATH that, on the first `compose ... up`, starts a program listening on
    ``port`` (the port was free when the role looked) and then runs the real docker."""
    marker = os.path.join(directory, 'taken')
    pidfile = os.path.join(directory, 'listener.pid')
    listener = ('import socket, time; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1);'
                ' s.bind(("0.0.0.0", %d)); s.listen(); time.sleep(600)' % port)
    script = ('for arg in "$@"; do\n'
              '  if [ "$arg" = up ] && [ ! -e %(marker)s ]; then\n'
              '    touch %(marker)s\n'
              '    %(python)s -c \'%(listener)s\' >/dev/null 2>&1 &\n'
              '    echo $! > %(pidfile)s\n'
              '    sleep 1\n'
              '  fi\n'
              'done\n'
              'exec %(docker)s "$@"\n') % dict(marker=marker, python=sys.executable, listener=listener,
                                               pidfile=pidfile, docker=shutil.which('docker'))
    return fake_docker(directory, script), pidfile


def _stop(pidfile):
    if os.path.exists(pidfile):
        with open(pidfile) as handle:
            run(['kill', handle.read().strip()])


def test_a_port_taken_between_the_look_and_compose_up_is_rolled_back(deployment, tmp_path):
    before = _checksums(deployment)
    assert _serves(deployment)
    new_port = __import__('roles_lib').free_ports(1)[0]
    path, pidfile = _docker_taking_port_before_up(str(tmp_path / 'bin'), new_port)
    try:
        failed = deployment.play(extra_path=path, registry_port=new_port)
    finally:
        _stop(pidfile)
    assert failed.rc != 0, failed.describe()
    message = '\n'.join(failed.failures())
    assert 'was restored and serves again' in message, failed.describe()
    assert "The deploy failed at 'Start the registry and its UI'" in message
    # The deployment that was running serves again, from the same files, on its old port.
    assert _checksums(deployment) == before
    assert wait_for(lambda: _serves(deployment), 60, what='the restored registry to serve')
    assert not os.path.exists(os.path.join(deployment.base_dir, '.rollback'))
    assert deployment.admin[1] not in failed.output
    # Control: with the port free the same change applies, and the run after it is a no-op.
    moved = deployment.deploy(registry_port=new_port)
    assert moved.changed > 0
    deployment.deploy()  # back to the fixture's port for the next test


def test_a_registry_that_never_turns_healthy_is_rolled_back(deployment):
    before = _checksums(deployment)
    assert _serves(deployment)
    # The container's healthcheck probes the debug server on 127.0.0.1:5001: moved, it never passes.
    failed = deployment.play(registry_config_overrides={'http': {'debug': {'addr': '127.0.0.1:5999'}}})
    assert failed.rc != 0, failed.describe()
    assert 'was restored and serves again' in '\n'.join(failed.failures()), failed.describe()
    assert _checksums(deployment) == before
    assert wait_for(lambda: _serves(deployment), 60, what='the restored registry to serve')
    deployment.wait_healthy()
    # Control: the run after the failure is a no-op (the host is as the old plan wants it).
    assert deployment.deploy().changed == 0


def test_a_failure_on_a_bare_host_restores_nothing(role_deployments, tmp_path):
    dep = role_deployments('rollback-bare')
    path = fake_docker(str(tmp_path / 'bin'), 'for arg in "$@"; do\n  if [ "$arg" = up ]; then\n'
                                              '    echo "simulated failure of compose up" >&2; exit 1\n  fi\ndone\n'
                                              'exec %s "$@"\n' % shutil.which('docker'))
    failed = dep.play(extra_path=path)
    assert failed.rc != 0
    message = '\n'.join(failed.failures())
    assert 'simulated failure of compose up' in message and 'Nothing was running before' in message
