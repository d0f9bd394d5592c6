# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet test bed (tests/testbed/fleet): 2 registry + 2 client hosts, each a privileged
container with sshd and its own dockerd, reached over real SSH by Ansible; DNS between hosts;
the fleet's key is required; teardown leaves nothing, also when a test fails half-way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import stat
import subprocess
import sys
import tarfile
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'testbed', 'fleet'))

import fleet as fleetlib  # noqa: E402
import roles_lib  # noqa: E402

FLEET_PY = os.path.join(roles_lib.REPO, 'tests', 'testbed', 'fleet', 'fleet.py')


def unique(stem):
    return '%s-%s' % (stem, uuid.uuid4().hex[:8])


@pytest.fixture(scope='module')
def fleet_image(docker_engine):
    if roles_lib.docker('image', 'inspect', fleetlib.IMAGE).returncode != 0:
        pytest.fail('image %s is missing: %s' % (fleetlib.IMAGE, fleetlib.BUILD_HINT))


@pytest.fixture(scope='module')
def fleet(fleet_image, tmp_path_factory):
    with fleetlib.Fleet(unique('t'), registries=2, clients=2,
                        out=str(tmp_path_factory.mktemp('fleet'))) as made:
        yield made


def ansible(fleet, *args, **kwargs):
    argv = ['ansible', '-i', fleet.inventory] + list(args)
    return roles_lib.run(argv, env=roles_lib.playbook_env(), timeout=kwargs.get('timeout', 180))


def test_inventory_groups_addresses_and_key(fleet):
    proc = roles_lib.run(['ansible-inventory', '-i', fleet.inventory, '--list'], check=True)
    inventory = json.loads(proc.stdout)
    assert sorted(inventory['registry']['hosts']) == ['registry1.fleet.test', 'registry2.fleet.test']
    assert sorted(inventory['docker_clients']['hosts']) == ['client1.fleet.test', 'client2.fleet.test']
    hostvars = inventory['_meta']['hostvars']
    for host in fleet.hosts:
        facts = hostvars[host.fqdn]
        assert facts['ansible_host'] == host.ip
        assert facts['registry_server_name'] == host.fqdn
        assert facts['ansible_user'] == 'root'
        assert facts['ansible_ssh_private_key_file'] == fleet.key
        assert facts['ansible_python_interpreter'] == '/usr/bin/python3'
    assert len({host.ip for host in fleet.hosts}) == 4
    assert stat.S_IMODE(os.stat(fleet.key).st_mode) == 0o600


def test_ansible_ping_over_ssh(fleet):
    proc = ansible(fleet, 'all', '-m', 'ansible.builtin.ping', '-o')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in fleet.hosts:
        assert '%s | SUCCESS' % host.fqdn in proc.stdout
    # Really SSH: the connection plugin in use, and each host's own hostname.
    proc = ansible(fleet, 'all', '-m', 'ansible.builtin.command', '-a', 'hostname -f', '-o')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for host in fleet.hosts:
        assert '%s | CHANGED | rc=0 | (stdout) %s' % (host.fqdn, host.fqdn) in proc.stdout


def test_each_host_has_its_own_docker_engine_and_compose(fleet):
    proc = ansible(fleet, 'all', '-m', 'ansible.builtin.command', '-o', '-a',
                   "docker info --format '{{ '{{' }}.ID{{ '}}' }} {{ '{{' }}.Driver{{ '}}' }} "
                   "{{ '{{' }}.Images{{ '}}' }}'")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    engine_ids = set()
    for host in fleet.hosts:
        line = [ln for ln in proc.stdout.splitlines() if ln.startswith(host.fqdn + ' |')][0]
        engine_id, driver, images = line.split('(stdout) ')[1].split()
        engine_ids.add(engine_id)
        assert driver in ('overlay2', 'vfs')
        # A new host has no image: images reach it only through archives (registry_image_archives).
        assert images == '0'
    assert len(engine_ids) == 4, 'every host must run its own dockerd'
    for host in fleet.hosts:
        compose = fleet.ssh(host, 'docker compose version --short')
        assert compose.returncode == 0 and compose.stdout.strip().startswith('2.'), compose.stderr


def test_hosts_resolve_and_reach_each_other_by_name(fleet):
    for source, target in (('client1', 'registry1'), ('client2', 'registry2'), ('registry1', 'client2')):
        target_host = fleet.host(target)
        proc = fleet.ssh(source, 'getent hosts %s' % target_host.fqdn)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split()[0] == target_host.ip
        # And reach it: the target's sshd answers its banner.
        proc = fleet.ssh(source, "timeout 5 bash -c 'exec 3<>/dev/tcp/%s/22; head -c 7 <&3'"
                         % target_host.fqdn)
        assert proc.returncode == 0 and proc.stdout == 'SSH-2.0', proc.stderr
    proc = fleet.ssh('client1', 'getent hosts nosuchhost.fleet.test')
    assert proc.returncode != 0 and proc.stdout == ''


def test_the_fleet_key_is_required(fleet, tmp_path):
    other = str(tmp_path / 'other_key')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', other], check=True)
    host = fleet.host('registry1')
    refused = fleet.ssh(host, 'true', key=other, timeout=30)
    assert refused.returncode == 255
    assert 'Permission denied' in refused.stderr
    allowed = fleet.ssh(host, 'id -u', timeout=30)
    assert allowed.returncode == 0 and allowed.stdout.strip() == '0', allowed.stderr
    # No password or keyboard-interactive fallback is offered.
    proc = roles_lib.run(['ssh', '-o', 'BatchMode=yes', '-o', 'PreferredAuthentications=password',
                          '-o', 'PubkeyAuthentication=no', '-o', 'StrictHostKeyChecking=no',
                          '-o', 'UserKnownHostsFile=/dev/null', 'root@%s' % host.ip, 'true'], timeout=30)
    assert proc.returncode == 255 and 'Permission denied' in proc.stderr


def test_save_images_for_the_role(fleet_image, tmp_path):
    archives = fleetlib.save_images(str(tmp_path))
    # The stand-ins under their own names (never an upstream name), as the role gets them.
    assert [a['image'] for a in archives] == [roles_lib.REGISTRY_IMAGE, roles_lib.UI_IMAGE,
                                              'docker.io/dockyard-test/hello:1']
    for archive in archives:
        with tarfile.open(archive['src']) as tar:
            manifest = json.load(tar.extractfile('manifest.json'))
        short = archive['image'].replace('docker.io/', '')
        assert manifest[0]['RepoTags'] == [short]
    before = os.stat(archives[0]['src']).st_mtime_ns
    assert fleetlib.save_images(str(tmp_path)) == archives
    assert os.stat(archives[0]['src']).st_mtime_ns == before, 'unchanged images are not saved again'
    with open(fleetlib.write_images_vars(str(tmp_path), archives)) as handle:
        handle.readline()
        handle.readline()
        variables = json.load(handle)
    assert [a['image'] for a in variables['registry_image_archives']] == [a['image'] for a in archives[:2]]
    assert variables['fleet_payload_archives'] == [{'src': archives[2]['src'], 'image': archives[2]['image']}]
    assert (variables['registry_image'], variables['registry_ui_image'], variables['registry_version']) == (
        roles_lib.REGISTRY_IMAGE, roles_lib.UI_IMAGE, roles_lib.REGISTRY_VERSION)


def test_cli_up_and_down_leave_nothing(fleet_image, tmp_path):
    name = unique('cli')
    try:
        proc = roles_lib.run([sys.executable, FLEET_PY, 'up', '--name', name, '--registries', '1',
                              '--clients', '0', '--out', str(tmp_path)], timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert 'registry1.fleet.test' in proc.stdout
        found = fleetlib.fleet_resources(name)
        assert (len(found['containers']), len(found['volumes']), len(found['networks'])) == (1, 1, 1)
        assert name in roles_lib.run([sys.executable, FLEET_PY, 'list'], check=True).stdout
    finally:
        down = roles_lib.run([sys.executable, FLEET_PY, 'down', '--name', name], timeout=300)
    assert down.returncode == 0, down.stderr
    assert fleetlib.fleet_resources(name) == {'containers': [], 'volumes': [], 'networks': []}
    # Down again: nothing left to remove, still fine.
    again = roles_lib.run([sys.executable, FLEET_PY, 'down', '--name', name], check=True)
    assert 'not found' in again.stdout


def test_context_manager_tears_down_on_failure(fleet_image, tmp_path):
    name = unique('fail')
    with pytest.raises(RuntimeError, match='test failed inside'):
        with fleetlib.Fleet(name, registries=0, clients=1, out=str(tmp_path)) as made:
            assert fleetlib.fleet_resources(name)['containers']
            assert made.ssh('client1', 'true').returncode == 0
            raise RuntimeError('test failed inside the fleet')
    assert fleetlib.fleet_resources(name) == {'containers': [], 'volumes': [], 'networks': []}


def test_a_host_whose_dockerd_fails_is_reported_with_its_log(fleet_image, tmp_path):
    name = unique('bad')
    broken = fleetlib.Fleet(name, registries=1, clients=0, out=str(tmp_path), wait_timeout=15,
                            storage_driver='no-such-driver')
    with pytest.raises(fleetlib.FleetError) as caught:
        with broken:
            pass
    message = str(caught.value)
    assert 'registry1.fleet.test not ready after 15s' in message
    assert 'dockerd.log (tail)' in message and 'no-such-driver' in message
    assert fleetlib.fleet_resources(name) == {'containers': [], 'volumes': [], 'networks': []}


def test_bad_fleet_arguments_are_refused():
    with pytest.raises(fleetlib.FleetError, match='fleet name'):
        fleetlib.Fleet('Bad_Name')
    with pytest.raises(fleetlib.FleetError, match='registries=10'):
        fleetlib.Fleet('ok', registries=10)
    with pytest.raises(fleetlib.FleetError, match='at least one host'):
        fleetlib.Fleet('ok', registries=0, clients=0)
