# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_client_mirrors (roles/registry_client/tasks/mirrors.yml) on this machine, with
registry_client_docker_daemon_json pointing at a file of the test: the machine's own dockerd (other
tests run on it) is asked which mirrors it uses (`docker info`, the real answer) but never
restarted, so the role must report that a restart is needed, and the daemon's PID must not change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat

import pytest

from roles_lib import ansible_playbook, docker

PLAYBOOK = """---
- name: Configure Docker's registry mirrors
  hosts: localhost
  gather_facts: false
  roles:
    - role: dockyard.registry.registry_client
  post_tasks:
    - name: Show the fact
      ansible.builtin.debug:
        msg: "RESTART_NEEDED={{ registry_client_docker_restart_needed | default('unset') }}"
"""

INVENTORY = """---
all:
  hosts:
    localhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
"""

MIRROR = 'https://mirror.example.test:5000'
WRITE = 'dockyard.registry.registry_client : Write the registry mirrors into the daemon configuration file'
OTHER = {'log-driver': 'local', 'insecure-registries': ['10.0.0.1:5000']}


def dockerd_pid():
    with open('/var/run/docker.pid') as handle:
        return handle.read().strip()


@pytest.fixture()
def bed(tmp_path, docker_engine):
    del docker_engine
    (tmp_path / 'site.yml').write_text(PLAYBOOK)
    (tmp_path / 'inventory.yml').write_text(INVENTORY)
    daemon_json = tmp_path / 'daemon.json'

    def play(check=False, **variables):
        values = {'registry_client_registries': [], 'registry_client_registry_group': '',
                  'registry_client_docker_daemon_json': str(daemon_json)}
        values.update(variables)
        return ansible_playbook(str(tmp_path / 'site.yml'), str(tmp_path / 'inventory.yml'), variables=values,
                                workdir=tmp_path, check=check, timeout=300)

    return play, daemon_json


def test_mirrors_written_other_keys_kept_restart_reported_not_done(bed):
    play, daemon_json = bed
    live = json.loads(docker('info', '--format', '{{json .RegistryConfig.Mirrors}}', check=True).stdout)
    assert MIRROR + '/' not in (live or [])
    daemon_json.write_text(json.dumps(OTHER, indent=4) + '\n')
    pid = dockerd_pid()

    # Check mode: reports the change, writes nothing.
    result = play(check=True, registry_client_mirrors=[MIRROR])
    assert result.rc == 0, result.describe()
    assert result.changed_tasks() == [WRITE], result.changed_tasks()
    assert json.loads(daemon_json.read_text()) == OTHER

    result = play(registry_client_mirrors=[MIRROR])
    assert result.rc == 0, result.describe()
    assert result.changed_tasks() == [WRITE], result.changed_tasks()
    data = json.loads(daemon_json.read_text())
    assert data == dict(OTHER, **{'registry-mirrors': [MIRROR]})
    assert stat.S_IMODE(os.stat(str(daemon_json)).st_mode) == 0o644
    assert 'RESTART_NEEDED=True' in result.stdout
    assert 'Restart Docker (e.g. systemctl restart docker) to use them' in result.stdout
    assert dockerd_pid() == pid  # not restarted

    # Idempotent: nothing written again, and the restart is still reported (the daemon still does
    # not use the mirror), until someone restarts it.
    text = daemon_json.read_text()
    result = play(registry_client_mirrors=[MIRROR])
    assert result.rc == 0 and result.changed == 0, result.changed_tasks()
    assert daemon_json.read_text() == text
    assert 'RESTART_NEEDED=True' in result.stdout
    assert dockerd_pid() == pid

    # Negative control: the mirrors the running daemon really uses need no restart.
    result = play(registry_client_mirrors=live) if live else None
    if result is not None:
        assert 'RESTART_NEEDED=False' in result.stdout


def test_broken_daemon_json_and_bad_urls_are_refused_untouched(bed):
    play, daemon_json = bed
    daemon_json.write_text('{"log-driver": "local",}\n')
    result = play(registry_client_mirrors=[MIRROR])
    assert result.rc != 0
    assert '%s is not valid JSON' % daemon_json in result.output and 'Nothing was written.' in result.output
    assert daemon_json.read_text() == '{"log-driver": "local",}\n'

    daemon_json.write_text('{}\n')
    result = play(registry_client_mirrors=['https://user:s3cr3t-pw@mirror.example.test', 'mirror.example.test:5000'])
    assert result.rc != 0
    assert "registry_client_mirrors[0]: 'https://user:(hidden)@mirror.example.test' holds credentials" in result.output
    assert "registry_client_mirrors[1]: 'mirror.example.test:5000' is not an http:// or https:// URL" in result.output
    assert 's3cr3t-pw' not in result.output
    assert daemon_json.read_text() == '{}\n'
    # Negative control: the empty list leaves daemon.json alone (the task file is not run).
    result = play(registry_client_mirrors=[])
    assert result.rc == 0, result.describe()
    assert 'RESTART_NEEDED=unset' in result.stdout
    assert daemon_json.read_text() == '{}\n'
