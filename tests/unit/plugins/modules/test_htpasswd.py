# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import bcrypt
import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.dockyard.registry.plugins.modules import htpasswd as module_under_test

PASSWORDS = {'alice': 'Alice-pw-1', 'bob': 'Bob-pw-2', 'carol': 'Carol-pw-3'}


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def exit_json(self, **kwargs):
    kwargs.setdefault('changed', False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, **kwargs):
    kwargs['failed'] = True
    raise AnsibleFailJson(kwargs)


@pytest.fixture(autouse=True)
def fake_ansible_module_glue(monkeypatch):
    warnings = []
    monkeypatch.setattr(basic.AnsibleModule, 'exit_json', exit_json)
    monkeypatch.setattr(basic.AnsibleModule, 'fail_json', fail_json)
    monkeypatch.setattr(basic.AnsibleModule, 'warn', lambda self, msg: warnings.append(msg))
    return warnings


def run_module(args, check_mode=False, diff=False):
    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args):
        with pytest.raises((AnsibleExitJson, AnsibleFailJson)) as exc:
            module_under_test.main()
    result = exc.value.args[0]
    result['failed'] = isinstance(exc.value, AnsibleFailJson)
    return result


def users(*names, **kwargs):
    return [dict(name=name, password=PASSWORDS[name], **kwargs) for name in names]


def read_entries(path):
    with open(path) as f:
        return [line.rstrip('\n').split(':', 1) for line in f]


def assert_no_secrets(result, path=None):
    text = json.dumps(result)
    for password in PASSWORDS.values():
        assert password not in text
    assert '$2' not in text
    if path and os.path.exists(path):
        for dummy, hashed in read_entries(path):
            assert hashed not in text


def test_four_steps_check_apply_check_apply(tmp_path):
    path = str(tmp_path / 'htpasswd')
    args = dict(path=path, users=users('alice', 'bob'), cost=4)

    first = run_module(args, check_mode=True, diff=True)
    assert first['changed'] and not first['failed']
    assert first['added'] == ['alice', 'bob']
    assert first['diff']['after'] == 'users:\n- alice\n- bob\n'
    assert not os.path.exists(path)

    second = run_module(args, diff=True)
    assert second['changed'] and second['added'] == ['alice', 'bob']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    entries = dict(read_entries(path))
    assert bcrypt.checkpw(b'Alice-pw-1', entries['alice'].encode())
    assert bcrypt.checkpw(b'Bob-pw-2', entries['bob'].encode())
    inode = os.stat(path).st_ino

    third = run_module(args, check_mode=True, diff=True)
    fourth = run_module(args, diff=True)
    for result in (third, fourth):
        assert not result['changed']
        assert result['added'] == result['removed'] == result['updated'] == []
        assert result['diff']['before'] == result['diff']['after']
    assert os.stat(path).st_ino == inode
    for result in (first, second, third, fourth):
        assert_no_secrets(result, path)


def test_change_remove_and_new_inode(tmp_path):
    path = str(tmp_path / 'htpasswd')
    run_module(dict(path=path, users=users('alice', 'bob', 'carol'), cost=4))
    inode = os.stat(path).st_ino
    result = run_module(dict(path=path, cost=4, exclusive=True, users=[
        dict(name='alice', password='Changed-pw-9'), dict(name='carol', password=PASSWORDS['carol'])]),
        diff=True)
    assert result['changed']
    assert (result['added'], result['removed'], result['updated']) == ([], ['bob'], ['alice'])
    assert result['diff']['after'] == 'users:\n- alice  # password changed\n- carol\n'
    assert os.stat(path).st_ino != inode
    entries = dict(read_entries(path))
    assert sorted(entries) == ['alice', 'carol']
    assert bcrypt.checkpw(b'Changed-pw-9', entries['alice'].encode())
    assert 'Changed-pw-9' not in json.dumps(result)
    assert_no_secrets(result, path)


def test_rehash_of_non_bcrypt_entry_reported(tmp_path):
    path = tmp_path / 'htpasswd'
    path.write_text('alice:{SHA}aBc=\n')
    result = run_module(dict(path=str(path), cost=4, users=users('alice')))
    assert (result['updated'], result['rehashed']) == (['alice'], ['alice'])
    assert bcrypt.checkpw(b'Alice-pw-1', dict(read_entries(str(path)))['alice'].encode())


def test_per_user_cost_four_steps_then_a_cost_change(tmp_path):
    path = str(tmp_path / 'htpasswd')
    args = dict(path=path, cost=4, users=users('alice') + users('bob', cost=5))
    assert run_module(args, check_mode=True)['added'] == ['alice', 'bob']
    assert not os.path.exists(path)
    assert run_module(args)['added'] == ['alice', 'bob']
    entries = dict(read_entries(path))
    assert entries['alice'].startswith('$2y$04$') and entries['bob'].startswith('$2y$05$')
    assert bcrypt.checkpw(b'Bob-pw-2', entries['bob'].encode())
    inode = os.stat(path).st_ino
    for check_mode in (True, False):
        assert not run_module(args, check_mode=check_mode)['changed']
    assert os.stat(path).st_ino == inode and dict(read_entries(path)) == entries

    args['users'][1]['cost'] = 4  # bob's cost goes down: re-hashed once, same password
    checked = run_module(args, check_mode=True, diff=True)
    assert (checked['changed'], checked['updated'], checked['rehashed']) == (True, ['bob'], ['bob'])
    assert checked['diff']['after'] == 'users:\n- alice\n- bob  # re-hashed at cost 4 (was 5)\n'
    assert dict(read_entries(path)) == entries
    applied = run_module(args)
    assert (applied['changed'], applied['updated'], applied['rehashed']) == (True, ['bob'], ['bob'])
    after = dict(read_entries(path))
    assert after['alice'] == entries['alice'] and after['bob'].startswith('$2y$04$')
    assert bcrypt.checkpw(b'Bob-pw-2', after['bob'].encode())
    assert not run_module(args)['changed']
    assert_no_secrets(applied, path)


def test_bad_user_cost_fails_before_writing(tmp_path):
    path = str(tmp_path / 'htpasswd')
    result = run_module(dict(path=path, users=users('alice', cost=3)))
    assert result['failed'] and result['msg'].startswith('users[0].cost: 3 is not allowed; use an integer from 4 to 31')
    assert not os.path.exists(path) and 'Alice-pw-1' not in json.dumps(result)


def test_existing_file_keeps_its_mode_and_explicit_mode_is_applied(tmp_path):
    path = str(tmp_path / 'htpasswd')
    run_module(dict(path=path, users=users('alice'), cost=4))
    os.chmod(path, 0o600)
    assert run_module(dict(path=path, users=users('alice', 'bob'), cost=4))['changed']
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    result = run_module(dict(path=path, users=users('alice', 'bob'), cost=4, mode='0644'))
    assert result['changed'] and result['added'] == []
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644


def test_create_false(tmp_path):
    path = str(tmp_path / 'htpasswd')
    result = run_module(dict(path=path, users=users('alice'), create=False, cost=4))
    assert result['failed']
    assert result['msg'] == "path: %r does not exist and create=false, so users alice cannot be added" % path
    result = run_module(dict(path=path, users=[dict(name='alice', state='absent')], create=False))
    assert not result['failed'] and not result['changed']
    assert not os.path.exists(path)


def test_empty_file_created_with_create_true(tmp_path):
    path = str(tmp_path / 'htpasswd')
    result = run_module(dict(path=path))
    assert result['changed']
    assert os.path.getsize(path) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


@pytest.mark.parametrize('args, message', [
    (dict(users=[dict(name='a:b', password='Alice-pw-1')]), "users[0].name: 'a:b' is not a valid user name"),
    (dict(users=[dict(name='alice', password='x' * 73)]), "users[0].password (user 'alice'): is longer than 72 bytes"),
    (dict(users=[dict(name='alice', password='')]), "users[0].password (user 'alice'): must not be empty"),
    (dict(users=[dict(name='alice')]), "users[0].password: required for user 'alice'"),
    (dict(users=users('alice') + [dict(name='alice', state='absent')]), "users[1].name: user 'alice' is already listed"),
    (dict(cost=3), 'cost: 3 is not allowed; use an integer from 4 to 31'),
    (dict(cost=32), 'cost: 32 is not allowed'),
    (dict(workers=0), 'workers: 0 is not allowed'),
])
def test_invalid_options_fail_before_writing(tmp_path, args, message):
    path = str(tmp_path / 'htpasswd')
    result = run_module(dict(args, path=path))
    assert result['failed']
    assert result['msg'].startswith(message)
    assert not os.path.exists(path)
    assert 'Alice-pw-1' not in json.dumps(result)
    assert 'x' * 73 not in json.dumps(result)


def test_invalid_state_rejected_by_argument_spec(tmp_path):
    result = run_module(dict(path=str(tmp_path / 'f'), users=[dict(name='a', state='gone')]))
    assert result['failed'] and 'state' in result['msg']


def test_path_is_directory_or_in_missing_directory(tmp_path):
    result = run_module(dict(path=str(tmp_path), users=users('alice')))
    assert result['failed'] and result['msg'].startswith('path: %r is a directory' % str(tmp_path))
    missing = str(tmp_path / 'nope' / 'htpasswd')
    result = run_module(dict(path=missing, users=users('alice')))
    assert result['failed'] and result['msg'].startswith('path: the directory')
    assert not os.path.exists(str(tmp_path / 'nope'))


def test_warnings_name_lines_not_content(tmp_path, fake_ansible_module_glue):
    path = tmp_path / 'htpasswd'
    path.write_text('top-secret-garbage\n')
    result = run_module(dict(path=str(path), users=users('alice'), cost=4))
    assert result['changed'] and result['added'] == ['alice']
    assert fake_ansible_module_glue == [
        'line(s) 1 of the file are not "name:hash" entries and were kept unchanged; '
        'the registry refuses a file with such lines']
    assert path.read_text().startswith('top-secret-garbage\nalice:$2y$04$')


def test_missing_bcrypt_fails_with_missing_required_lib(tmp_path, monkeypatch):
    monkeypatch.setattr(module_under_test, 'HAS_BCRYPT', False)
    monkeypatch.setattr(module_under_test, 'BCRYPT_IMPORT_ERROR', 'Traceback: no bcrypt')
    result = run_module(dict(path=str(tmp_path / 'f'), users=users('alice')))
    assert result['failed'] and 'bcrypt' in result['msg']
    assert result['exception'] == 'Traceback: no bcrypt'
