# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The fleet test bed: hosts reached over real SSH, each with its own Docker engine.

Every host is a privileged container of dockyard-test/host:bookworm (tests/testbed/fleet/build.sh)
running sshd and its own dockerd, on a bridge network made for the fleet, where Docker's
embedded DNS resolves `registry1.fleet.test`, `client1.fleet.test`, ... The controller reaches
the hosts by their container addresses with a key made for the fleet. Traffic stays among the
fleet's containers and this machine.

Library:
    with Fleet('ci', registries=2, clients=2, out=tmpdir) as fleet:
        fleet.inventory          # path of inventory.yml (groups registry, docker_clients[, outsiders])
        fleet.ssh('client1', 'docker info')
    save_images(path)            # docker save of the stand-in images -> [{src, image}, ...]

CLI:
    python tests/testbed/fleet/fleet.py up --name NAME --registries 2 --clients 2 --out DIR
    python tests/testbed/fleet/fleet.py up --name NAME --registries 1 --clients 0 --systemd
    python tests/testbed/fleet/fleet.py down --name NAME
    python tests/testbed/fleet/fleet.py save-images --out DIR     # + DIR/images.yml
    python tests/testbed/fleet/fleet.py list
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time

IMAGE = 'dockyard-test/host:bookworm'
# A host whose PID 1 is systemd (tests/testbed/systemd/build.sh): Fleet(..., systemd=True).
SYSTEMD_IMAGE = 'dockyard-test/host-systemd:bookworm'
SYSTEMD_BUILD_HINT = 'build it with tests/testbed/setup.sh (or tests/testbed/systemd/build.sh)'
# systemd as PID 1 (no --init): its own cgroup namespace, so that the hierarchies it finds are its
# own (with the host's namespace it looks for /docker/<id> inside them and stops), /run on tmpfs.
SYSTEMD_RUN_OPTIONS = ['--cgroupns', 'private', '--tmpfs', '/run', '--tmpfs', '/run/lock']
LABEL = 'org.dockyard.fleet'
DOMAIN = 'fleet.test'
PREFIX = 'dockyard-fleet-'
BUILD_HINT = 'build it with tests/testbed/setup.sh (or tests/testbed/fleet/build.sh)'
SSH_COMMON_ARGS = '-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes'
PYTHON = '/usr/bin/python3'

# The test bed's stand-ins as role variables (registry_version, registry_image, registry_ui_image):
# the `key: value` lines of tests/testbed/stand-ins.yml, which setup.sh builds them from.
STAND_INS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'stand-ins.yml')


def stand_in_vars(path=STAND_INS):
    """{'registry_version', 'registry_image', 'registry_ui_image'} of stand-ins.yml."""
    found = {}
    with open(path) as handle:
        for line in handle:
            match = re.match(r'^([a-z_]+):\s*"?([^"#\s]+)"?\s*$', line)
            if match:
                found[match.group(1)] = match.group(2)
    return found


# The local stand-ins (tests/testbed/setup.sh) and the references the role deploys them as: the
# registry and UI under their own names (the role gets them as registry_image / registry_ui_image).
STAND_IN_IMAGES = (
    (stand_in_vars()['registry_image'], stand_in_vars()['registry_image'], 'registry'),
    (stand_in_vars()['registry_ui_image'], stand_in_vars()['registry_ui_image'], 'registry'),
    ('dockyard-test/hello:1', 'docker.io/dockyard-test/hello:1', 'payload'),
)

NAME_RE = re.compile(r'^[a-z0-9][a-z0-9-]{0,30}$')
GROUPS = (('registry', 'registry'), ('docker_clients', 'client'), ('outsiders', 'outsider'))


class FleetError(Exception):
    """The fleet could not be made, reached or removed; the message says what and why."""


def _run(argv, timeout=120, check=True, input=None):
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input,
                              check=False)
    except subprocess.TimeoutExpired:
        raise FleetError('%s did not finish within %ss' % (' '.join(argv[:4]), timeout))
    if check and proc.returncode != 0:
        raise FleetError('%s failed (rc=%d): %s' % (' '.join(argv[:4]), proc.returncode,
                                                    (proc.stderr or proc.stdout).strip()[-2000:]))
    return proc


def docker(*args, **kwargs):
    return _run(['docker'] + list(args), **kwargs)


def _lines(text):
    return [line for line in text.split() if line]


# Everything --privileged gives a container, less CAP_SYS_RESOURCE: for engines that cannot grant
# --privileged because their own bounding set lacks a capability (this project's machines lack
# CAP_SYS_RESOURCE). The entry point then makes the read-only cgroup mounts writable.
NEAR_PRIVILEGED = ['--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE',
                   '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined',
                   '--security-opt', 'systempaths=unconfined', '--device-cgroup-rule', 'a *:* rwm']
_PRIVILEGE = {}


def privilege_options(image=IMAGE):
    """['--privileged'] when this engine can start a privileged container, else NEAR_PRIVILEGED."""
    if image not in _PRIVILEGE:
        probe = docker('run', '--rm', '--privileged', '--entrypoint', 'true', image, check=False)
        if probe.returncode == 0:
            _PRIVILEGE[image] = ['--privileged']
        elif 'caps' in probe.stderr:
            _PRIVILEGE[image] = list(NEAR_PRIVILEGED)
        else:
            raise FleetError('a test host does not start: %s' % probe.stderr.strip()[-1000:])
    return _PRIVILEGE[image]


class Host:
    """One fleet host: short name (registry1), DNS name, inventory group, container, address."""

    def __init__(self, fleet, short, group):
        self.short = short
        self.group = group
        self.fqdn = '%s.%s' % (short, DOMAIN)
        self.container = '%s%s-%s' % (PREFIX, fleet, short)
        self.volume = '%s%s-%s-docker' % (PREFIX, fleet, short)
        self.ip = None

    def as_dict(self):
        return {'name': self.fqdn, 'short': self.short, 'group': self.group,
                'container': self.container, 'volume': self.volume, 'ip': self.ip}


class Fleet:
    """A fleet of `registries` registry hosts, `clients` Docker client hosts and `outsiders`
    hosts in neither group (negative controls), written as an inventory under `out`.

    Used as a context manager, the fleet is removed on exit, also when a test failed or `up`
    itself failed half-way.
    """

    def __init__(self, name, registries=1, clients=1, outsiders=0, out=None, image=None,
                 wait_timeout=180, storage_driver=None, systemd=False):
        if not NAME_RE.match(name or ''):
            raise FleetError('fleet name %r: use 1-31 lower-case letters, digits and dashes' % (name,))
        for label, count in (('registries', registries), ('clients', clients), ('outsiders', outsiders)):
            if not isinstance(count, int) or count < 0 or count > 9:
                raise FleetError('%s=%r: use a number from 0 to 9' % (label, count))
        self.name = name
        self.systemd = systemd
        self.image = image or (SYSTEMD_IMAGE if systemd else IMAGE)
        self.wait_timeout = wait_timeout
        self.storage_driver = storage_driver
        self.out = os.path.abspath(out or os.path.join('.build', 'fleet', name))
        self.network = '%s%s' % (PREFIX, name)
        self.hosts = []
        for (group, stem), count in zip(GROUPS, (registries, clients, outsiders)):
            self.hosts.extend(Host(name, '%s%d' % (stem, i), group) for i in range(1, count + 1))
        if not self.hosts:
            raise FleetError('a fleet needs at least one host')

    # ------------------------------------------------------------------ paths
    @property
    def key(self):
        return os.path.join(self.out, 'id_ed25519')

    @property
    def inventory(self):
        return os.path.join(self.out, 'inventory.yml')

    @property
    def state_file(self):
        return os.path.join(self.out, 'fleet.json')

    def host(self, name):
        for host in self.hosts:
            if name in (host.short, host.fqdn, host.container):
                return host
        raise FleetError('no host %r in fleet %s' % (name, self.name))

    def group(self, group):
        return [host for host in self.hosts if host.group == group]

    # ------------------------------------------------------------------ life cycle
    def __enter__(self):
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc_info):
        self.down()
        return False

    def up(self):
        """Start every host, write the key, inventory.yml and fleet.json, wait until ready."""
        if docker('image', 'inspect', self.image, check=False).returncode != 0:
            raise FleetError('image %s is missing: %s' % (self.image, SYSTEMD_BUILD_HINT if self.systemd else BUILD_HINT))
        if remove_fleet(self.name):
            sys.stderr.write('fleet %s: removed what an earlier run left\n' % self.name)
        os.makedirs(self.out, exist_ok=True)
        public_key = self._make_key()
        label = '%s=%s' % (LABEL, self.name)
        docker('network', 'create', '--driver', 'bridge', '--label', label, self.network)
        for host in self.hosts:
            docker('volume', 'create', '--label', label, host.volume)
            argv = ['run', '-d'] + privilege_options(self.image) + (
                SYSTEMD_RUN_OPTIONS if self.systemd else ['--init']) + [
                '--name', host.container,
                '--hostname', host.fqdn, '--network', self.network,
                '--network-alias', host.fqdn, '--network-alias', host.short,
                '--label', label, '--label', '%s.host=%s' % (LABEL, host.fqdn),
                '--label', '%s.group=%s' % (LABEL, host.group),
                '-v', '%s:/var/lib/docker' % host.volume,
                '-e', 'FLEET_AUTHORIZED_KEY=%s' % public_key]
            if self.storage_driver:
                argv += ['-e', 'FLEET_STORAGE_DRIVER=%s' % self.storage_driver]
            docker(*(argv + [self.image]))
        for host in self.hosts:
            host.ip = docker('inspect', '-f',
                             '{{ (index .NetworkSettings.Networks "%s").IPAddress }}' % self.network,
                             host.container).stdout.strip()
            if not host.ip:
                raise FleetError('host %s has no address on %s' % (host.fqdn, self.network))
        self._write_inventory()
        self.wait_ready()
        return self

    def down(self):
        """Remove the fleet's containers, volumes and network (the out directory stays)."""
        return remove_fleet(self.name)

    def _make_key(self):
        if os.path.exists(self.key):
            os.unlink(self.key)
        if os.path.exists(self.key + '.pub'):
            os.unlink(self.key + '.pub')
        _run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'dockyard-fleet-%s' % self.name,
              '-f', self.key])
        os.chmod(self.key, 0o600)
        with open(self.key + '.pub') as handle:
            return handle.read().strip()

    def _write_inventory(self):
        lines = ['---', '# Fleet %s (tests/testbed/fleet/fleet.py); removed by: fleet.py down --name %s'
                 % (self.name, self.name), 'all:', '  vars:']
        for key, value in (('ansible_user', 'root'), ('ansible_ssh_private_key_file', self.key),
                           ('ansible_ssh_common_args', SSH_COMMON_ARGS),
                           ('ansible_python_interpreter', PYTHON)):
            lines.append('    %s: %s' % (key, json.dumps(value)))
        lines.append('  children:')
        for group, dummy in GROUPS:
            members = self.group(group)
            lines += ['    %s:' % group, '      hosts:' if members else '      hosts: {}']
            for host in members:
                lines += ['        %s:' % host.fqdn,
                          '          ansible_host: %s' % json.dumps(host.ip),
                          '          registry_server_name: %s' % json.dumps(host.fqdn)]
        with open(self.inventory, 'w') as handle:
            handle.write('\n'.join(lines) + '\n')
        with open(self.state_file, 'w') as handle:
            json.dump({'name': self.name, 'network': self.network, 'key': self.key,
                       'inventory': self.inventory, 'hosts': [h.as_dict() for h in self.hosts]},
                      handle, indent=2)

    # ------------------------------------------------------------------ reaching hosts
    def ssh_argv(self, host, command, key=None):
        host = self.host(host) if not isinstance(host, Host) else host
        return (['ssh', '-i', key or self.key, '-o', 'BatchMode=yes', '-o', 'ConnectTimeout=5',
                 '-o', 'LogLevel=ERROR'] + shlex.split(SSH_COMMON_ARGS)
                + ['root@%s' % host.ip, command])

    def ssh(self, host, command, key=None, timeout=120, check=False):
        """Run a shell command on a host over SSH (the fleet's key unless `key`)."""
        return _run(self.ssh_argv(host, command, key=key), timeout=timeout, check=check)

    def log_tail(self, host, path, lines=30):
        """The last lines of a log inside a host (read with docker exec, not over SSH)."""
        host = self.host(host) if not isinstance(host, Host) else host
        proc = docker('exec', host.container, 'tail', '-n', str(lines), path, check=False)
        if proc.returncode != 0:
            return '(%s unreadable: %s; container log: %s)' % (
                path, proc.stderr.strip(), docker('logs', '--tail', str(lines), host.container,
                                                  check=False).stdout.strip())
        return proc.stdout

    def wait_ready(self, timeout=None):
        """Bounded wait until every host answers over SSH and its dockerd answers `docker info`."""
        deadline = time.monotonic() + (timeout or self.wait_timeout)
        pending = list(self.hosts)
        last = {}
        while pending:
            for host in list(pending):
                proc = self.ssh(host, "docker info --format '{{.ServerVersion}} {{.Driver}}'",
                                timeout=30)
                if proc.returncode == 0:
                    pending.remove(host)
                else:
                    last[host.fqdn] = (proc.stderr or proc.stdout).strip()[-300:]
            if not pending:
                return
            if time.monotonic() > deadline:
                host = pending[0]
                raise FleetError(
                    'fleet %s: %s not ready after %ss (ssh root@%s: %s)\n'
                    '--- %s:/var/log/dockerd.log (tail)\n%s--- %s:/var/log/sshd.log (tail)\n%s'
                    % (self.name, ', '.join(h.fqdn for h in pending), timeout or self.wait_timeout,
                       host.ip, last.get(host.fqdn), host.fqdn, self.log_tail(host, '/var/log/dockerd.log'),
                       host.fqdn, self.log_tail(host, '/var/log/sshd.log', 10)))
            time.sleep(1)


def fleet_resources(name=None):
    """{'containers': [...], 'volumes': [...], 'networks': [...]} of one fleet (or of all)."""
    label = LABEL if name is None else '%s=%s' % (LABEL, name)
    return {
        'containers': _lines(docker('ps', '-aq', '--filter', 'label=' + label).stdout),
        'volumes': _lines(docker('volume', 'ls', '-q', '--filter', 'label=' + label).stdout),
        'networks': _lines(docker('network', 'ls', '-q', '--filter', 'label=' + label).stdout),
    }


def remove_fleet(name):
    """Remove the containers, volumes and network labelled with the fleet's name; True if any."""
    found = fleet_resources(name)
    if found['containers']:
        docker(*(['rm', '-f', '-v'] + found['containers']), timeout=180)
    if found['volumes']:
        docker(*(['volume', 'rm', '-f'] + found['volumes']))
    if found['networks']:
        docker(*(['network', 'rm'] + found['networks']))
    left = fleet_resources(name)
    if any(left.values()):
        raise FleetError('fleet %s: could not remove %s' % (name, json.dumps(left)))
    return any(found.values())


def list_fleets():
    """{fleet name: [container names]} of every fleet on this engine."""
    proc = docker('ps', '-a', '--filter', 'label=' + LABEL, '--format',
                  '{{ .Label "%s" }} {{ .Names }}' % LABEL)
    fleets = {}
    for line in proc.stdout.splitlines():
        if line.strip():
            fleet, container = line.split(None, 1)
            fleets.setdefault(fleet, []).append(container)
    return fleets


def _safe(image):
    return re.sub(r'[^A-Za-z0-9_.-]', '_', image)


def save_images(path, kinds=('registry', 'payload')):
    """docker save each local stand-in image into PATH/<image>.tar, for the role's
    registry_image_archives ([{src, image}]); an archive is rewritten only when the local
    image changed. Returns [{'src', 'image', 'kind'}] with `image` as the role deploys it."""
    os.makedirs(path, exist_ok=True)
    archives = []
    for local, reference, kind in STAND_IN_IMAGES:
        if kind not in kinds:
            continue
        proc = docker('image', 'inspect', '-f', '{{.Id}}', local, check=False)
        if proc.returncode != 0:
            raise FleetError('image %s is missing: build the test bed with tests/testbed/setup.sh' % local)
        image_id = proc.stdout.strip()
        src = os.path.join(path, _safe(local) + '.tar')
        stamp = src + '.id'
        have = open(stamp).read().strip() if os.path.exists(stamp) and os.path.exists(src) else None
        if have != image_id:
            docker('save', '-o', src + '.part', local, timeout=300)
            os.rename(src + '.part', src)
            with open(stamp, 'w') as handle:
                handle.write(image_id + '\n')
        archives.append({'src': src, 'image': reference, 'kind': kind})
    return archives


def write_images_vars(path, archives):
    """PATH/images.yml: registry_image_archives (registry, UI), fleet_payload_archives, and the
    stand-ins as the role's registry_version, registry_image and registry_ui_image."""
    variables = dict(stand_in_vars())
    variables.update({
        'registry_image_archives': [{'src': a['src'], 'image': a['image']}
                                    for a in archives if a['kind'] == 'registry'],
        'fleet_payload_archives': [{'src': a['src'], 'image': a['image']}
                                   for a in archives if a['kind'] == 'payload'],
    })
    target = os.path.join(path, 'images.yml')
    with open(target, 'w') as handle:
        handle.write('---\n# docker save archives of the test bed images (fleet.py save-images)\n')
        json.dump(variables, handle, indent=2)
        handle.write('\n')
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(prog='fleet.py', description=__doc__.split('\n\n', maxsplit=1)[0])
    sub = parser.add_subparsers(dest='command', required=True)
    up = sub.add_parser('up', help='start a fleet and write DIR/inventory.yml')
    up.add_argument('--name', required=True)
    up.add_argument('--registries', type=int, default=2)
    up.add_argument('--clients', type=int, default=2)
    up.add_argument('--outsiders', type=int, default=0,
                    help='hosts in neither group (group outsiders), e.g. a client without the CA')
    up.add_argument('--out', help='directory for inventory.yml, fleet.json and the key '
                                  '(default .build/fleet/NAME)')
    up.add_argument('--timeout', type=int, default=180, help='seconds to wait for sshd and dockerd')
    up.add_argument('--storage-driver', help='the hosts\' dockerd storage driver (default: its choice)')
    up.add_argument('--systemd', action='store_true',
                    help='hosts whose PID 1 is systemd (image %s)' % SYSTEMD_IMAGE)
    down = sub.add_parser('down', help='remove a fleet: containers, volumes, network')
    down.add_argument('--name', required=True)
    save = sub.add_parser('save-images', help='docker save the stand-in images; DIR/images.yml')
    save.add_argument('--out', required=True)
    sub.add_parser('list', help='fleets on this engine')
    args = parser.parse_args(argv)
    try:
        if args.command == 'up':
            start = time.monotonic()
            fleet = Fleet(args.name, registries=args.registries, clients=args.clients,
                          outsiders=args.outsiders, out=args.out, wait_timeout=args.timeout,
                          storage_driver=args.storage_driver, systemd=args.systemd)
            try:
                fleet.up()
            except BaseException:
                fleet.down()
                raise
            for host in fleet.hosts:
                print('%-24s %-15s %s' % (host.fqdn, host.ip, host.group))
            print('fleet %s ready in %.1f s: %s' % (fleet.name, time.monotonic() - start, fleet.inventory))
        elif args.command == 'down':
            removed = remove_fleet(args.name)
            print('fleet %s %s' % (args.name, 'removed' if removed else 'not found (nothing to remove)'))
        elif args.command == 'save-images':
            archives = save_images(args.out)
            print(write_images_vars(args.out, archives))
        elif args.command == 'list':
            for fleet, containers in sorted(list_fleets().items()):
                print('%s: %s' % (fleet, ' '.join(sorted(containers))))
    except FleetError as exc:
        sys.stderr.write('fleet.py: %s\n' % exc)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
