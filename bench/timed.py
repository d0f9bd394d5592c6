#!/usr/bin/env python3
# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one command and print "<wall seconds> <CPU seconds>" of it (the benches' stopwatch).

    python bench/timed.py LOG -- COMMAND [ARG...]

CPU seconds are user + system time of the whole process tree the command started and waited for
(os.wait4 on the command: a process's usage includes its waited-for descendants), so for
ansible-playbook they include its forks, the modules they run locally and the ssh clients; an ssh
ControlPersist master that outlives its task is not waited for and not counted. The command's
output goes to LOG; when it fails, its tail goes to stderr and the exit status is 1.
"""

from __future__ import absolute_import, division, print_function

import os
import subprocess
import sys
import time


def main(argv):
    if len(argv) < 4 or argv[2] != '--':
        sys.stderr.write('usage: timed.py LOG -- COMMAND [ARG...]\n')
        return 2
    log, command = argv[1], argv[3:]
    with open(log, 'wb') as out:
        start = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        dummy, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        with open(log, 'rb') as handle:
            tail = handle.read().decode('utf-8', 'replace').splitlines()[-40:]
        sys.stderr.write('\n'.join(tail) + '\nbench run failed (rc=%d): %s\n' % (proc.returncode, ' '.join(command)))
        return 1
    print('%.2f %.2f' % (wall, usage.ru_utime + usage.ru_stime))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
