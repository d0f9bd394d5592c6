# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the time of a deploy goes (bench/converge): the per-task times of a playbook run's log
(the ansible.posix.profile_tasks callback's recap) summed per phase, and, from `docker inspect` of
the deployed Compose project, how long `compose up` waited for the registry's first successful
healthcheck (the UI starts only then: depends_on service_healthy).

    python bench/phases.py LOG PROJECT      prints one line: "phase=seconds ..." (the order below)
"""

from __future__ import absolute_import, division, print_function

import datetime
import json
import re
import subprocess
import sys

# First match wins; the task names of the role (roles/registry/tasks) and of the baseline
# (bench/converge_baseline/site.yml).
PHASES = (
    ('look+plan', r'Look at the host|Plan |Validat|Compare the host|Fail when|Warn about'),
    ('images', r'image|Image'),
    ('certs', r'certificate|Certificate|CA |CA$|CSR|Private key|TLS|key and'),
    ('htpasswd', r'users|Users'),
    ('files', r'director|Director|configuration|Compose project|secret|environment|credentials|endpoints|rollback'),
    ('compose up', r'Start the registry|^Start$'),
    ('UI check', r'UI answers'),
    ('verify', r'client does|requests are'),
)
ORDER = [name for name, dummy in PHASES] + ['other', 'wait healthy']

_RECAP = re.compile(r'^(?:\S+ : )?(.+?) -+ (\d+\.\d+)s$')


def task_times(text):
    """[(task name, seconds)] from profile_tasks' recap (after TASKS RECAP)."""
    recap = text.split('TASKS RECAP', 1)[-1]
    times = []
    for line in recap.splitlines():
        match = _RECAP.match(line.strip())
        if match:
            times.append((match.group(1), float(match.group(2))))
    return times


def phases(times):
    totals = dict((name, 0.0) for name in ORDER)
    for task, seconds in times:
        for name, pattern in PHASES:
            if re.search(pattern, task):
                totals[name] += seconds
                break
        else:
            totals['other'] += seconds
    return totals


def _moment(stamp):
    """Docker's RFC 3339 time (nanoseconds cut to microseconds) as a UTC datetime."""
    whole, dummy, rest = stamp.rstrip('Z').partition('.')
    digits = re.match(r'\d*', rest).group(0)
    return datetime.datetime.strptime(whole, '%Y-%m-%dT%H:%M:%S') + datetime.timedelta(
        microseconds=int((digits + '000000')[:6] or 0))


def health_wait(project):
    """Seconds from the registry container's start to the end of its first successful healthcheck
    (None when unknown: Docker keeps only the last five probes)."""
    ids = subprocess.check_output(['docker', 'ps', '-q', '--filter', 'label=com.docker.compose.project=%s' % project,
                                   '--filter', 'label=com.docker.compose.service=registry']).split()
    if not ids:
        return None
    data = json.loads(subprocess.check_output(['docker', 'inspect', ids[0].decode()]))[0]
    probes = [probe for probe in (data['State'].get('Health') or {}).get('Log') or [] if probe.get('ExitCode') == 0]
    if not probes:
        return None
    first = min(_moment(probe['End']) for probe in probes)
    return (first - _moment(data['State']['StartedAt'])).total_seconds()


def main(argv):
    with open(argv[1]) as handle:
        totals = phases(task_times(handle.read()))
    wait = health_wait(argv[2])
    # Part of compose up (its wait: the registry's first successful healthcheck after its start).
    totals['wait healthy'] = wait if wait is not None else float('nan')
    print(' '.join('%s=%.1f' % (name.replace(' ', '_'), totals[name]) for name in ORDER))


if __name__ == '__main__':
    main(sys.argv)
