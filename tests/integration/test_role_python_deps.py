# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""registry_install_python_deps: the host's Python libraries from its distribution's packages.

On this Debian 12 machine, through real ansible-playbook runs of playbooks/site.yml: the opt-in runs
ansible.builtin.package (apt) for exactly python3-bcrypt and python3-cryptography, before the look at
the host that needs them; it is off by default; bad input still touches nothing (the variables are
checked before the packages); a distribution without known package names fails with a message that
names the variable and what to do. The packages are installed on the test bed already, so apt
reports no change (nothing here removes a package from the machine).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import pytest

from roles_lib import run

PACKAGES = ['python3-bcrypt', 'python3-cryptography']
# Task names as the JSON callback reports them.
ROLE = 'dockyard.registry.registry : '
INSTALL_TASK = ROLE + 'Install python3-bcrypt and python3-cryptography'
INCLUDE_TASK = ROLE + "Install the host's Python libraries"
LOOK_TASK = ROLE + 'Look at the host (read-only)'


@pytest.fixture(scope='module')
def installed(docker_engine):
    proc = run(['dpkg-query', '-W', '-f', '${Package} ${db:Status-Status}\n'] + PACKAGES)
    status = dict(line.split() for line in proc.stdout.splitlines() if line.strip())
    if [status.get(p) for p in PACKAGES] != ['installed', 'installed']:
        pytest.fail('%s must be installed on the test bed (tests/testbed/setup.sh): %r' % (PACKAGES, status))
    return status


def test_opt_in_installs_exactly_the_two_packages_before_the_look(role_deployments, installed):
    dep = role_deployments('pydeps', registry_install_python_deps=True)
    # Only the opt-in's tasks, for real (apt on this machine): no deployment is made.
    result = dep.play(verbosity=3, tags='registry_python_deps')
    assert result.rc == 0, result.describe()
    installed_result = result.results().get(INSTALL_TASK)
    assert installed_result is not None and not installed_result.get('skipped'), result.describe()
    assert not installed_result.get('failed') and not installed_result.get('changed'), installed_result  # installed already
    args = installed_result['invocation']['module_args']
    assert sorted(args['name']) == PACKAGES and args['state'] == 'present', args
    assert result.changed == 0, result.changed_tasks()
    # The whole role in check mode: the packages come first, then the look at the host.
    result = dep.play(check=True)
    assert result.rc == 0, result.describe()
    order = [name for name, dummy, dummy2 in result.task_results()]
    assert INSTALL_TASK in order and LOOK_TASK in order, order
    assert order.index(INSTALL_TASK) < order.index(LOOK_TASK), order


def test_off_by_default(role_deployments, installed):
    dep = role_deployments('pydeps-off')
    result = dep.play(check=True)
    assert result.rc == 0, result.describe()
    results = result.results()
    assert INSTALL_TASK not in results
    assert results[INCLUDE_TASK].get('skipped'), results.get(INCLUDE_TASK)


def test_bad_input_installs_nothing(role_deployments, installed):
    dep = role_deployments('pydeps-bad', registry_install_python_deps=True, registry_port=0)
    result = dep.play(tags='registry_python_deps')
    assert result.rc != 0
    assert 'registry_port' in '\n'.join(result.failures()), result.describe()
    assert INSTALL_TASK not in result.results(), 'packages were installed before the input was checked'


def test_unknown_distribution_fails_clearly(role_deployments, installed):
    # The host's facts as another distribution would report them (extra vars win over gathered facts).
    dep = role_deployments('pydeps-rh', registry_install_python_deps=True,
                           ansible_facts={'os_family': 'RedHat', 'distribution': 'Fedora'})
    result = dep.play(tags='registry_python_deps')
    assert result.rc != 0
    failure = '\n'.join(result.failures())
    assert 'registry_install_python_deps' in failure and 'Fedora' in failure and 'RedHat' in failure, failure
    assert 'python3-bcrypt, python3-cryptography' in failure, failure
    assert INSTALL_TASK not in result.results()
    # (The control, the same run on this Debian host reaching the package task, is the first test.)
