# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one command and print "<wall seconds> <CPU seconds>" of it (the benches' stopwatch).

    python bench/timed.py LOG -- COMMAND [ARG...]

Wall time: until the command exits. CPU seconds: user + system time of every process the command
started, however deep (its forks, the modules they run locally, the ssh clients). Processes that
outlive it are included too: this process is their subreaper (Linux prctl), so an ssh ControlPersist
master that would idle on in the background is adopted here, ended (SIGTERM) once the command has
exited, and reaped; its CPU (the SSH encryption of every task) counts. Each measured run therefore
starts without SSH masters, as a playbook run from the shell a minute after the last one does.
The command's output goes to LOG; when it fails, its tail goes to stderr and the exit status is 1.
"""

from __future__ import absolute_import, division, print_function

import ctypes
import errno
import os
import resource
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def _become_subreaper():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children():
    me = str(os.getpid())
    pids = []
    for name in os.listdir('/proc'):
        if not name.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % name) as handle:
                fields = handle.read().rsplit(')', 1)[1].split()
        except (IOError, OSError):
            continue
        if fields[1] == me:
            pids.append(int(name))
    return pids


def _end_and_reap_orphans(timeout=30):
    """SIGTERM the adopted processes and reap everything, so RUSAGE_CHILDREN covers them."""
    deadline = time.monotonic() + timeout
    for pid in _children():
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    while True:
        try:
            pid, dummy = os.waitpid(-1, os.WNOHANG)
        except OSError as exc:
            if exc.errno == errno.ECHILD:
                return
            raise
        if pid == 0:
            if time.monotonic() > deadline:
                for pid in _children():
                    os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + timeout
            time.sleep(0.05)


def main(argv):
    if len(argv) < 4 or argv[2] != '--':
        sys.stderr.write('usage: timed.py LOG -- COMMAND [ARG...]\n')
        return 2
    log, command = argv[1], argv[3:]
    _become_subreaper()
    with open(log, 'wb') as out:
        start = time.monotonic()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        dummy, status, dummy = os.wait4(proc.pid, 0)
        wall = time.monotonic() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    _end_and_reap_orphans()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        with open(log, 'rb') as handle:
            tail = handle.read().decode('utf-8', 'replace').splitlines()[-40:]
        sys.stderr.write('\n'.join(tail) + '\nbench run failed (rc=%d): %s\n' % (proc.returncode, ' '.join(command)))
        return 1
    print('%.2f %.2f' % (wall, usage.ru_utime + usage.ru_stime))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
