# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The scheduled garbage collection on a host whose PID 1 is systemd (issue 9 part 1, the systemd
path of roles/registry/tasks/schedule.yml; the cron path is in test_role_gc.py).

One fleet host of tests/testbed/systemd (Fleet(systemd=True)): systemd boots as PID 1 and starts
ssh, containerd and docker as their own units. playbooks/site.yml deploys the registry there over
SSH with registry_gc_schedule; then the timer is listed by `systemctl list-timers` with the
configured time, `systemd-analyze verify` accepts both units (and refuses a unit whose ExecStart does
not exist: the negative control), and `systemctl start` of the service runs the same steps as
playbooks/gc.yml: read-only, garbage-collect (a deleted tag's blobs are freed), read-write. A service
whose command fails is reported failed by systemd. registry_gc_schedule: false removes the timer.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import secrets
import sys
import uuid

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'testbed', 'fleet'))

import fleet as fleetlib  # noqa: E402
import fleet_lib  # noqa: E402
import roles_lib  # noqa: E402

PORT = 5000
BASE_DIR = '/opt/registry'
UNIT = 'dockyard-registry-gc-registry'
UNIT_DIR = '/etc/systemd/system'
ON_CALENDAR = 'Sat *-*-* 04:17:00'
ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json'


class SystemdHost(fleet_lib.FleetRun):
    """The systemd fleet host, the controller's files and the site.yml runs against it."""

    def __init__(self, fleet, root):
        fleet_lib.FleetRun.__init__(self, fleet, root)
        self.host = fleet.host('registry1')
        self.user = 'gc'
        self.password = secrets.token_urlsafe(18)

    @property
    def address(self):
        return '%s:%d' % (self.host.fqdn, PORT)

    def deploy(self, **changes):
        """site.yml with the group variables updated by `changes`."""
        self.write_vars(**changes)
        return self.site()

    def api(self, path, method='GET', headers=()):
        """curl on the host itself against its registry (its CA, the test user): (status, headers, body)."""
        argv = ['curl', '-sS', '-o', '-', '-D', '/dev/stderr', '-X', method, '--cacert', '%s/certs/ca.crt' % BASE_DIR,
                '-u', '%s:%s' % (self.user, self.password)]
        for header in headers:
            argv += ['-H', header]
        argv.append('https://%s%s' % (self.address, path))
        proc = self.sh(self.host, ' '.join("'%s'" % a for a in argv))
        assert proc.returncode == 0, proc.stderr[-1000:]
        status, parsed = None, {}
        for line in proc.stderr.splitlines():
            if line.startswith('HTTP/'):
                status, parsed = int(line.split()[1]), {}
            elif ':' in line and status is not None:
                name, value = line.split(':', 1)
                parsed[name.strip().lower()] = value.strip()
        return status, parsed, proc.stdout

    def blobs(self):
        out = self.sh_ok(self.host, 'cd %s/data/docker/registry/v2/blobs/sha256 2>/dev/null && find . -name data | sort; true' % BASE_DIR)
        return set(out.split())

    def journal(self, unit):
        return self.sh_ok(self.host, 'journalctl --no-pager -o cat -u %s' % unit)


@pytest.fixture(scope='module')
def sd(docker_engine, tmp_path_factory):
    if roles_lib.docker('image', 'inspect', fleetlib.SYSTEMD_IMAGE).returncode != 0:
        pytest.fail('image %s is missing: %s' % (fleetlib.SYSTEMD_IMAGE, fleetlib.SYSTEMD_BUILD_HINT))
    root = str(tmp_path_factory.mktemp('fleet-systemd'))
    name = 'sd-%s' % uuid.uuid4().hex[:8]
    with fleetlib.Fleet(name, registries=1, clients=0, out=os.path.join(root, 'fleet'), systemd=True) as fleet:
        ctx = SystemdHost(fleet, root)
        archives = fleetlib.save_images(os.path.join(root, 'images'))
        images = {a['image']: a for a in archives}
        ctx.payload = [a for a in archives if a['kind'] == 'payload'][0]
        ctx.write_vars(
            registry_version=roles_lib.REGISTRY_VERSION,
            registry_image=roles_lib.REGISTRY_IMAGE,
            registry_ui_enabled=False,
            registry_image_archives=[{'src': images[roles_lib.REGISTRY_IMAGE]['src'], 'image': roles_lib.REGISTRY_IMAGE}],
            registry_delete_enabled=True,
            registry_users=[{'name': ctx.user, 'password': ctx.password}],
        )
        yield ctx


def test_systemd_is_pid_1_of_the_host(sd):
    assert sd.sh_ok(sd.host, 'cat /proc/1/comm').strip() == 'systemd'
    state = sd.sh(sd.host, 'systemctl is-system-running --wait').stdout.strip()
    assert state == 'running', '%s: %s' % (state, sd.sh(sd.host, 'systemctl --failed --no-pager').stdout)
    for unit in ('ssh.service', 'docker.service', 'containerd.service'):
        assert sd.sh_ok(sd.host, 'systemctl is-active %s' % unit).strip() == 'active', unit
    assert sd.sh(sd.host, 'test -d /run/systemd/system').returncode == 0


def test_the_schedule_is_a_systemd_timer_that_runs_the_gc_steps(sd):
    result = sd.deploy(registry_gc_schedule=True, registry_gc_on_calendar=ON_CALENDAR)
    assert result.rc == 0, result.describe()
    service, timer = '%s/%s.service' % (UNIT_DIR, UNIT), '%s/%s.timer' % (UNIT_DIR, UNIT)
    assert sd.sh(sd.host, 'test -e /etc/cron.d/%s' % UNIT).returncode == 1, 'a cron job besides the timer'
    assert 'OnCalendar=%s' % ON_CALENDAR in sd.sh_ok(sd.host, 'cat %s' % timer)
    command = '%s/maintenance/registry-maintenance.sh gc' % BASE_DIR
    assert 'ExecStart=%s' % command in sd.sh_ok(sd.host, 'cat %s' % service).splitlines()

    # The timer is enabled, waiting, and listed with the configured time (the next Saturday, 04:17).
    assert sd.sh_ok(sd.host, 'systemctl is-enabled %s.timer' % UNIT).strip() == 'enabled'
    assert sd.sh_ok(sd.host, 'systemctl is-active %s.timer' % UNIT).strip() == 'active'
    listed = [line for line in sd.sh_ok(sd.host, 'systemctl list-timers --no-pager').splitlines() if '%s.timer' % UNIT in line]
    assert len(listed) == 1, sd.sh_ok(sd.host, 'systemctl list-timers --all --no-pager')
    assert re.match(r'^Sat \d{4}-\d\d-\d\d 04:17:00 ', listed[0]), listed[0]
    assert listed[0].rstrip().endswith('%s.service' % UNIT), listed[0]
    assert 'OnCalendar=%s' % ON_CALENDAR in sd.sh_ok(sd.host, 'systemctl show -p TimersCalendar %s.timer' % UNIT)

    # systemd-analyze verify accepts both units; the negative control: the same service with an
    # ExecStart that does not exist is refused.
    verify = sd.sh(sd.host, 'systemd-analyze verify %s %s' % (service, timer))
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert UNIT not in verify.stdout + verify.stderr, verify.stdout + verify.stderr
    bad_dir = '/tmp/dockyard-bad-units'
    sd.sh_ok(sd.host, 'rm -rf {d}; mkdir {d}; sed "s#^ExecStart=.*#ExecStart=/nonexistent/registry-maintenance.sh gc#" {s} '
             '> {d}/{u}.service'.format(d=bad_dir, s=service, u=UNIT))
    bad = sd.sh(sd.host, 'systemd-analyze verify %s/%s.service' % (bad_dir, UNIT))
    assert bad.returncode != 0 and '/nonexistent/registry-maintenance.sh' in bad.stdout + bad.stderr, (
        bad.returncode, bad.stdout, bad.stderr)

    # Something to collect: two images sharing the payload's layer, one tag deleted.
    sd.load_payload('all')
    sd.sh_ok(sd.host, 'set -e; mkdir -p /etc/docker/certs.d/{a}; cp {b}/certs/ca.crt /etc/docker/certs.d/{a}/ca.crt; '
             'docker login --username {u} --password-stdin {a}'.format(a=sd.address, b=BASE_DIR, u=sd.user),
             input=sd.password + '\n')
    sd.sh_ok(sd.host, 'set -e; rm -rf /tmp/ctx; mkdir /tmp/ctx; cd /tmp/ctx; head -c 100000 /dev/urandom > own; '
             'printf "FROM %s\\nCOPY own /own\\n" > Dockerfile; DOCKER_BUILDKIT=0 docker build -q -t gc-own .; '
             'docker tag %s %s/gc/app:kept; docker push %s/gc/app:kept; '
             'docker tag gc-own %s/gc/app:gone; docker push %s/gc/app:gone'
             % (sd.payload['image'], sd.payload['image'], sd.address, sd.address, sd.address, sd.address), timeout=600)
    status, headers, dummy = sd.api('/v2/gc/app/manifests/gone', headers=['Accept: ' + ACCEPT])
    assert status == 200
    status = sd.api('/v2/gc/app/manifests/%s' % headers['docker-content-digest'], method='DELETE')[0]
    assert status == 202
    status, headers, dummy = sd.api('/v2/gc/app/manifests/kept', headers=['Accept: ' + ACCEPT])
    assert status == 200
    kept_digest = headers['docker-content-digest']
    before = sd.blobs()

    # The service, started by systemd as the timer would: read-only, collect, read-write.
    start = sd.sh(sd.host, 'systemctl start %s.service' % UNIT, timeout=600)
    assert start.returncode == 0, start.stderr + sd.journal('%s.service' % UNIT)
    shown = sd.sh_ok(sd.host, 'systemctl show -p Result -p ExecMainStatus %s.service' % UNIT).split()
    assert sorted(shown) == ['ExecMainStatus=0', 'Result=success'], shown
    journal = sd.journal('%s.service' % UNIT)
    for step in ('switching to read-only', 'read-only, serving pulls', 'garbage-collect', 'switching back to read-write'):
        assert step in journal, (step, journal[-3000:])
    assert 'DOCKYARD_GC_RESULT rc=0 readwrite_rc=0' in journal, journal[-3000:]
    freed = before - sd.blobs()
    assert len(freed) == 3, 'the deleted tag\'s manifest, config and own layer were not freed: %r' % freed
    assert sd.sh_ok(sd.host, '%s/maintenance/registry-maintenance.sh status' % BASE_DIR).strip() == 'readwrite'
    status, headers, dummy = sd.api('/v2/gc/app/manifests/kept', headers=['Accept: ' + ACCEPT])
    assert status == 200 and headers['docker-content-digest'] == kept_digest

    # Negative control: a service whose command fails is reported failed by systemd.
    sd.sh_ok(sd.host, 'set -e; sed -e "s#registry-maintenance.sh gc#registry-maintenance.sh no-such-step#" {s} > {d}/dockyard-bad-gc.service; '
             'systemctl daemon-reload'.format(s=service, d=UNIT_DIR))
    try:
        failed = sd.sh(sd.host, 'systemctl start dockyard-bad-gc.service')
        assert failed.returncode != 0
        shown = sd.sh_ok(sd.host, 'systemctl show -p Result -p ExecMainStatus dockyard-bad-gc.service').split()
        assert sorted(shown) == ['ExecMainStatus=2', 'Result=exit-code'], shown
    finally:
        sd.sh(sd.host, 'rm -f %s/dockyard-bad-gc.service; systemctl reset-failed; systemctl daemon-reload' % UNIT_DIR)


def test_a_rerun_changes_nothing_and_false_removes_the_timer(sd):
    again = sd.deploy()
    assert again.rc == 0, again.describe()
    host = sd.host.fqdn
    assert again.recap[host]['changed'] == 0, again.changed_tasks()
    # Bad input: a time systemd refuses is one clear error, and the timer stays as it was.
    bad = sd.deploy(registry_gc_on_calendar='every sunday')
    assert bad.rc != 0
    assert "registry_gc_on_calendar: 'every sunday' is not allowed: systemd on %s refuses it" % host in bad.stdout, (
        bad.describe())
    assert 'OnCalendar=%s' % ON_CALENDAR in sd.sh_ok(sd.host, 'cat %s/%s.timer' % (UNIT_DIR, UNIT))
    assert sd.sh_ok(sd.host, 'systemctl is-active %s.timer' % UNIT).strip() == 'active'
    off = sd.deploy(registry_gc_schedule=False, registry_gc_on_calendar=ON_CALENDAR)
    assert off.rc == 0, off.describe()
    for suffix in ('service', 'timer'):
        assert sd.sh(sd.host, 'test -e %s/%s.%s' % (UNIT_DIR, UNIT, suffix)).returncode == 1, suffix
    assert '%s.timer' % UNIT not in sd.sh_ok(sd.host, 'systemctl list-timers --all --no-pager')
    assert sd.sh_ok(sd.host, 'systemctl show -p LoadState --value %s.timer' % UNIT).strip() == 'not-found'
