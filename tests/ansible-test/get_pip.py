# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline replacement for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip from ci-files.testing.ansible.com to bootstrap pip into the
virtualenvs of its sanity tests; that host is not reachable from CI here (only PyPI is).
scripts/test installs this file where ansible-test caches the download. Like get-pip, it installs
pip and the packages named on the command line into the running interpreter: ensurepip first,
then pip from PyPI, each in its own process so no two pip versions mix in one interpreter.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import subprocess
import sys

GET_PIP_ONLY_OPTIONS = ('--no-setuptools', '--no-wheel')


def main():
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY_OPTIONS]
    subprocess.check_call([sys.executable, '-m', 'ensurepip', '--default-pip'])
    return subprocess.call([sys.executable, '-m', 'pip', 'install'] + args)


if __name__ == '__main__':
    sys.exit(main())
