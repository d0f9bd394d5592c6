# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The README's module_defaults example, read from README.md and run as written (issue 8).

A playbook on localhost runs the real modules -- the two members of the action group
dockyard.registry.files (certificate, htpasswd) and registry_info, which is in no group -- under
the README's module_defaults; what they wrote is checked on disk (owners, the bcrypt cost of the
entry). The same keys with other values prove that the group's defaults reach both members. The
negative controls show what fails: a group default that not every member accepts (the old README's
``cost``, and ``mode``, which is certificate's operation), and the group the README used to name.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import grp
import json
import os
import pwd
import re
import secrets
import sys

import pytest
import yaml

import roles_lib

README = os.path.join(roles_lib.REPO, 'README.md')
MEMBERS = ('certificate', 'htpasswd')

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason='sets file owners: run as root')


def readme_module_defaults():
    """The one ```yaml block of README.md that sets module_defaults."""
    with open(README) as handle:
        blocks = re.findall(r'^```yaml\n(.*?)^```', handle.read(), re.M | re.S)
    found = [yaml.safe_load(block)['module_defaults'] for block in blocks if block.startswith('module_defaults:')]
    assert len(found) == 1, 'expected one module_defaults example in README.md, found %d' % len(found)
    return found[0]


def play(tmp_path, module_defaults, label):
    """Run the three tasks under ``module_defaults`` (errors ignored, to see every task's verdict);
    return ({task name: result}, directory) or, when the play cannot start, (None, output)."""
    directory = tmp_path / label
    directory.mkdir()
    password = 'Pw-' + secrets.token_urlsafe(12)
    tasks = [
        {'name': 'certificate', 'ignore_errors': True, 'dockyard.registry.certificate': {
            'path': str(directory / 'registry.crt'), 'privatekey_path': str(directory / 'registry.key'),
            'subject_alt_names': ['localhost']}},
        {'name': 'htpasswd', 'ignore_errors': True, 'dockyard.registry.htpasswd': {
            'path': str(directory / 'htpasswd'), 'users': [{'name': 'ci', 'password': password}]}},
        {'name': 'registry_info', 'ignore_errors': True, 'dockyard.registry.registry_info': {
            'paths': [{'path': str(directory)}]}},
    ]
    playbook = tmp_path / ('%s.json' % label)
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
                                     'vars': {'ansible_python_interpreter': sys.executable},
                                     'module_defaults': module_defaults, 'tasks': tasks}]))
    env = dict(roles_lib.playbook_env(), ANSIBLE_STDOUT_CALLBACK='ansible.posix.json',
               ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false')
    proc = roles_lib.run(['ansible-playbook', '-i', 'localhost,', str(playbook)], env=env, cwd=str(tmp_path))
    try:
        output = json.loads(proc.stdout)
    except ValueError:
        assert proc.returncode != 0, proc.stdout[-3000:]
        return None, proc.stdout + proc.stderr
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict((t['task']['name'], t['hosts']['localhost']) for t in output['plays'][0]['tasks']), directory


def owner_of(path):
    info = os.stat(str(path))
    return pwd.getpwuid(info.st_uid).pw_name, grp.getgrgid(info.st_gid).gr_name


def bcrypt_cost(path):
    with open(str(path)) as handle:
        entry = handle.read().strip().split(':', 1)[1]
    return int(entry.split('$')[2])


def assert_all_worked(results):
    for name in ('certificate', 'htpasswd', 'registry_info'):
        assert not results[name].get('failed'), (name, results[name])
    assert results['certificate']['reason'] == 'missing' and results['htpasswd']['added'] == ['ci']


def test_readme_example_runs_as_written(tmp_path):
    defaults = readme_module_defaults()
    group_defaults = defaults['group/dockyard.registry.files']
    results, directory = play(tmp_path, defaults, 'readme')
    assert results is not None, directory
    assert_all_worked(results)
    for name in ('registry.crt', 'registry.key', 'htpasswd'):
        assert owner_of(directory / name) == (group_defaults['owner'], group_defaults['group']), name
    assert bcrypt_cost(directory / 'htpasswd') == defaults['dockyard.registry.htpasswd']['cost']


def test_the_group_reaches_both_members(tmp_path):
    """The README's keys with values no module would pick by itself: every file written by a member
    of the group gets the group's owner, and htpasswd its own default cost."""
    defaults = readme_module_defaults()
    assert sorted(defaults) == ['dockyard.registry.htpasswd', 'group/dockyard.registry.files']
    assert sorted(defaults['group/dockyard.registry.files']) == ['group', 'owner']
    defaults['group/dockyard.registry.files'] = {'owner': 'nobody', 'group': 'nogroup'}
    defaults['dockyard.registry.htpasswd'] = {'cost': 5}
    results, directory = play(tmp_path, defaults, 'other-values')
    assert results is not None, directory
    assert_all_worked(results)
    for name in ('registry.crt', 'registry.key', 'htpasswd'):
        assert owner_of(directory / name) == ('nobody', 'nogroup'), name
    assert oct(os.stat(str(directory / 'registry.key')).st_mode & 0o777) == '0o600'
    assert bcrypt_cost(directory / 'htpasswd') == 5
    # Negative control: without module_defaults the same tasks write root's files with cost 10.
    results, directory = play(tmp_path, {}, 'no-defaults')
    assert_all_worked(results)
    assert owner_of(directory / 'htpasswd') == ('root', 'root') and bcrypt_cost(directory / 'htpasswd') == 10


@pytest.mark.parametrize('group_defaults, message', [
    # What the README used to set for all modules: only htpasswd accepts it.
    ({'cost': 10}, 'Unsupported parameters for (dockyard.registry.certificate) module: cost'),
    # mode is a file option of htpasswd, but certificate's operation.
    ({'mode': '0640'}, 'value of mode must be one of: self_signed, ca, ca_root, csr, sign, install, got: 0640'),
])
def test_a_group_default_not_every_member_accepts_breaks_a_member(tmp_path, group_defaults, message):
    results, directory = play(tmp_path, {'group/dockyard.registry.files': group_defaults}, 'bad')
    assert results is not None, directory
    assert results['certificate']['failed'] and message in results['certificate']['msg'], results['certificate']
    assert not results['htpasswd'].get('failed') and results['htpasswd']['added'] == ['ci'], results['htpasswd']
    assert not results['registry_info'].get('failed')  # in no group: module_defaults of a group never reach it
    assert sorted(os.listdir(str(directory))) == ['htpasswd']


def test_the_old_readme_group_is_gone(tmp_path):
    results, output = play(tmp_path, {'group/dockyard.registry.registry': {'cost': 10}}, 'old-group')
    assert results is None and 'could not resolve the module_defaults group dockyard.registry.registry' in output, output
