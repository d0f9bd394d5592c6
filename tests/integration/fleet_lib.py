# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the fleet tests (test_fleet*.py) do on a fleet of tests/testbed/fleet: shell commands on its
hosts over SSH, the group variables beside its inventory, playbooks run against it over SSH, and the
payload image brought to hosts as a `docker save` archive.

    with fleetlib.Fleet(name, registries=2, clients=1, out=...) as fleet:
        run = FleetRun(fleet, root)
        run.write_vars(registry_users=[...]); result = run.site()
        run.sh_ok('client1', 'docker info')
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import os
import uuid

import roles_lib

PAYLOAD_ON_HOST = '/tmp/fleet-payload.tar'


class FleetRun:
    """A fleet, a controller directory (root) of the test, and what the test runs on the fleet."""

    def __init__(self, fleet, root):
        self.fleet = fleet
        self.root = root
        self.work = os.path.join(root, 'work')
        os.makedirs(self.work, mode=0o700, exist_ok=True)
        self.group_vars = os.path.join(os.path.dirname(fleet.inventory), 'group_vars', 'all.yml')
        self.vars = {}
        self.payload = None

    # ------------------------------------------------------------ shell on the hosts
    def sh(self, host, command, input=None, timeout=180):
        """A shell command on a host (a fleet Host or its name) over SSH: the CompletedProcess."""
        return roles_lib.run(self.fleet.ssh_argv(host, command), input=input, timeout=timeout)

    def sh_ok(self, host, command, input=None, timeout=180):
        """Its standard output; fails the test, with the command and its error, when it fails."""
        proc = self.sh(host, command, input=input, timeout=timeout)
        assert proc.returncode == 0, '%s on %s failed (rc=%d): %s' % (
            command.split('\n')[0][:160], getattr(host, 'fqdn', host), proc.returncode,
            (proc.stderr or proc.stdout)[-2000:])
        return proc.stdout

    # ------------------------------------------------------------ variables and playbooks
    def write_vars(self, **changes):
        """group_vars/all.yml beside the fleet's inventory (0600: it holds passwords)."""
        self.vars.update(changes)
        os.makedirs(os.path.dirname(self.group_vars), mode=0o700, exist_ok=True)
        with open(self.group_vars, 'w') as handle:
            handle.write('---\n')
            json.dump(self.vars, handle, indent=2)
            handle.write('\n')
        os.chmod(self.group_vars, 0o600)

    def play(self, playbook, limit=None, **variables):
        """ansible-playbook -i <fleet inventory> PLAYBOOK [--limit LIMIT] [-e @<variables, 0600>]
        over SSH (pipelining on): its roles_lib.PlaybookResult."""
        argv = ['ansible-playbook', '-i', self.fleet.inventory, playbook]
        if limit:
            argv += ['--limit', limit]
        if variables:
            path = os.path.join(self.work, 'vars-%s.json' % uuid.uuid4().hex[:8])
            argv += ['-e', '@' + roles_lib.write_private(path, variables)]
        proc = roles_lib.run(argv, env=roles_lib.playbook_env(ANSIBLE_PIPELINING='1'), timeout=900,
                             cwd=roles_lib.REPO)
        return roles_lib.PlaybookResult(argv, proc.returncode, proc.stdout, proc.stderr)

    def site(self, **variables):
        """playbooks/site.yml against the fleet (group_vars beside the inventory)."""
        return self.play(roles_lib.PLAYBOOK, **variables)

    # ------------------------------------------------------------ images
    def load_payload(self, pattern):
        """The payload image (self.payload: a save_images entry) on the hosts of `pattern`: its
        archive copied by Ansible, then `docker load`."""
        env = roles_lib.playbook_env()
        for module, args in (('ansible.builtin.copy', 'src=%s dest=%s mode=0600' % (self.payload['src'], PAYLOAD_ON_HOST)),
                             ('ansible.builtin.command', 'docker load --input %s' % PAYLOAD_ON_HOST)):
            proc = roles_lib.run(['ansible', pattern, '-i', self.fleet.inventory, '-m', module, '-a', args],
                                 env=env, timeout=300)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
