# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockyard.registry.htpasswd against the real things.

The module runs through a real ``ansible-playbook`` (localhost, -vvv, --diff; its result read
from the JSON callback); what it writes is checked with Apache's ``htpasswd -vb`` (Debian apache2-utils) and with the real
CNCF distribution registry (Debian package docker-registry) started by the test.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import secrets
import shutil
import stat
import subprocess
import sys
import time

import pytest

from roles_lib import REGISTRY_BIN, run_module

HTPASSWD = shutil.which('htpasswd')
CURL = shutil.which('curl')
COST = 4


def password():
    return 'Pw-' + secrets.token_urlsafe(18)


def make_users(*names):
    return [dict(name=name, password=password()) for name in names]


def read_entries(path):
    with open(path) as f:
        return dict(line.rstrip('\n').split(':', 1) for line in f)


def run_htpasswd(tmp_path, path, users, check=False, exclusive=False, python=sys.executable):
    """The module once through ansible-playbook -vvv --diff: (its result, all output)."""
    return run_module(tmp_path, 'dockyard.registry.htpasswd',
                      dict(path=str(path), users=users, exclusive=exclusive, cost=COST),
                      check=check, diff=True, verbosity=3, python=python)


def assert_no_secrets(output, users, path):
    """No password and no hash (nor any bcrypt prefix) in the -vvv output."""
    for user in users:
        assert user['password'] not in output
    if os.path.exists(str(path)):
        for hashed in read_entries(str(path)).values():
            assert hashed not in output
    assert '$2y$' not in output and '$2b$' not in output


def htpasswd_verifies(path, name, secret):
    proc = subprocess.run([HTPASSWD, '-vb', str(path), name, secret], capture_output=True, text=True, check=False)
    return proc.returncode == 0


needs_htpasswd = pytest.mark.skipif(HTPASSWD is None, reason='apache2-utils (htpasswd) is not installed')


@needs_htpasswd
def test_four_steps_apache_cross_check_and_new_inode(tmp_path):
    path = tmp_path / 'auth' / 'htpasswd'
    path.parent.mkdir()
    users = make_users('alice', 'bob', 'carol')

    checked, out1 = run_htpasswd(tmp_path, path, users, check=True)
    assert checked['changed'] and checked['added'] == ['alice', 'bob', 'carol']
    assert not path.exists()

    applied, out2 = run_htpasswd(tmp_path, path, users)
    assert applied['changed'] and applied['added'] == ['alice', 'bob', 'carol']
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    inode = path.stat().st_ino
    entries = read_entries(str(path))
    assert list(entries) == ['alice', 'bob', 'carol']
    assert all(h.startswith('$2y$%02d$' % COST) for h in entries.values())
    for user in users:
        assert htpasswd_verifies(path, user['name'], user['password'])
        assert not htpasswd_verifies(path, user['name'], user['password'] + 'x')  # negative control
    assert not htpasswd_verifies(path, 'mallory', users[0]['password'])

    checked_again, out3 = run_htpasswd(tmp_path, path, users, check=True)
    applied_again, out4 = run_htpasswd(tmp_path, path, users)
    for result in (checked_again, applied_again):
        assert not result['changed']
        assert result['added'] == result['removed'] == result['updated'] == []
    assert path.stat().st_ino == inode
    assert read_entries(str(path)) == entries

    users[1]['password'] = password()
    changed, out5 = run_htpasswd(tmp_path, path, users)
    assert changed['changed'] and changed['updated'] == ['bob']
    assert path.stat().st_ino != inode  # atomic replace: a new inode
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert htpasswd_verifies(path, 'bob', users[1]['password'])
    assert read_entries(str(path))['alice'] == entries['alice']

    for output in (out1, out2, out3, out4, out5):
        assert 'dockyard.registry.htpasswd' in output or 'Manage users' in output
        assert_no_secrets(output, users, path)
    # the diff names the changed user, nothing else
    assert '\n-- bob\n+- bob  # password changed\n' in out5
    assert '"after": "users:\\n- alice\\n- bob  # password changed\\n- carol\\n"' in out5


@needs_htpasswd
@pytest.mark.parametrize('flag', ['-s', '-m', '-d'])
def test_apache_legacy_entries_are_rehashed(tmp_path, flag):
    path = tmp_path / 'htpasswd'
    secret = 'Legacy7x'  # 8 characters: crypt (-d) uses no more
    subprocess.run([HTPASSWD, '-cb', flag, str(path), 'legacy', secret], check=True, capture_output=True)
    assert not read_entries(str(path))['legacy'].startswith('$2')
    users = [dict(name='legacy', password=secret)]

    result, output = run_htpasswd(tmp_path, path, users)
    assert result['changed'] and result['updated'] == ['legacy'] and result['rehashed'] == ['legacy']
    assert read_entries(str(path))['legacy'].startswith('$2y$')
    assert htpasswd_verifies(path, 'legacy', secret)
    assert not htpasswd_verifies(path, 'legacy', 'wrong-pw')
    again, output2 = run_htpasswd(tmp_path, path, users)
    assert not again['changed']
    assert_no_secrets(output + output2, users, path)


@needs_htpasswd
def test_cost_per_user_and_apache_entries_of_another_cost_are_rehashed(tmp_path):
    path = tmp_path / 'htpasswd'
    secret = password()
    subprocess.run([HTPASSWD, '-cbB', '-C', '7', str(path), 'ci', secret], check=True, capture_output=True)
    assert read_entries(str(path))['ci'].startswith('$2y$07$')
    users = [dict(name='ci', password=secret, cost=5)] + make_users('alice')

    checked, out1 = run_htpasswd(tmp_path, path, users, check=True)
    assert (checked['changed'], checked['updated'], checked['rehashed'], checked['added']) == \
        (True, ['ci'], ['ci'], ['alice'])
    assert read_entries(str(path))['ci'].startswith('$2y$07$')  # check mode wrote nothing

    applied, out2 = run_htpasswd(tmp_path, path, users)
    assert (applied['updated'], applied['rehashed'], applied['added']) == (['ci'], ['ci'], ['alice'])
    assert '+- ci  # re-hashed at cost 5 (was 7)' in out2
    entries = read_entries(str(path))
    assert entries['ci'].startswith('$2y$05$') and entries['alice'].startswith('$2y$%02d$' % COST)
    assert htpasswd_verifies(path, 'ci', secret)  # the same password, checked by Apache
    assert not htpasswd_verifies(path, 'ci', secret + 'x')  # negative control
    assert htpasswd_verifies(path, 'alice', users[1]['password'])

    again, out3 = run_htpasswd(tmp_path, path, users)
    assert not again['changed'] and read_entries(str(path)) == entries
    assert_no_secrets(out1 + out2 + out3, users, path)


@needs_htpasswd
def test_thousand_users_in_one_task(tmp_path):
    path = tmp_path / 'htpasswd'
    users = [dict(name='user%04d' % i, password=password()) for i in range(1000)]
    started = time.monotonic()
    result, output = run_htpasswd(tmp_path, path, users)
    apply_seconds = time.monotonic() - started
    assert result['changed'] and len(result['added']) == 1000
    entries = read_entries(str(path))
    assert list(entries) == [u['name'] for u in users]
    for user in users[::97]:
        assert htpasswd_verifies(path, user['name'], user['password'])
        assert not htpasswd_verifies(path, user['name'], users[0]['password'] + 'nope')
    inode = path.stat().st_ino
    rerun, output2 = run_htpasswd(tmp_path, path, users)
    assert not rerun['changed'] and rerun['added'] == rerun['updated'] == []
    assert path.stat().st_ino == inode
    assert_no_secrets(output + output2, users, path)
    print('1000 users: apply %.1fs' % apply_seconds)


SYSTEM_PYTHON = '/usr/bin/python3'  # a plain Debian 12 managed node: python3-bcrypt 3.2.2


def system_bcrypt_version():
    try:
        proc = subprocess.run([SYSTEM_PYTHON, '-c', 'import bcrypt; print(bcrypt.__version__)'],
                              capture_output=True, text=True, check=False)
    except OSError:
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@needs_htpasswd
@pytest.mark.skipif(system_bcrypt_version() is None,
                    reason='%s has no bcrypt (Debian: apt-get install python3-bcrypt)' % SYSTEM_PYTHON)
def test_debian_python_managed_node(tmp_path):
    path = tmp_path / 'htpasswd'
    path.write_text('legacy:{SHA}fbvS7DVx7YdCOdecW0UCzd/CRiI=\n')  # htpasswd -s, password legacy-pw
    users = make_users('alice', 'bob') + [dict(name='legacy', password='legacy-pw')]
    result, output = run_htpasswd(tmp_path, path, users, python=SYSTEM_PYTHON)
    assert 'EXEC /bin/sh -c \'%s ' % SYSTEM_PYTHON in output  # really ran with Debian's Python
    assert (result['added'], result['rehashed']) == (['alice', 'bob'], ['legacy'])
    for user in users:
        assert htpasswd_verifies(path, user['name'], user['password'])
        assert not htpasswd_verifies(path, user['name'], user['password'] + '!')
    again, output2 = run_htpasswd(tmp_path, path, users, python=SYSTEM_PYTHON)
    assert not again['changed']
    assert_no_secrets(output + output2, users, path)


# --- the real registry ---------------------------------------------------------------------

@pytest.fixture
def registry_auth_dir(tmp_path):
    auth = tmp_path / 'auth'
    auth.mkdir()
    return auth


@pytest.mark.skipif(not os.access(REGISTRY_BIN, os.X_OK) or CURL is None,
                    reason='docker-registry (Debian package) or curl is not installed')
def test_real_registry_authenticates_written_users_and_rejects_removed(tmp_path, registry_auth_dir, local_registries):
    path = registry_auth_dir / 'htpasswd'
    users = make_users('alice', 'bob')
    # The file must exist before the registry starts (else it invents a user).
    result, output = run_htpasswd(tmp_path, path, users)
    assert result['added'] == ['alice', 'bob']

    registry = local_registries(htpasswd=path, host='127.0.0.1')
    try:
        alice, bob = users
        assert registry.status('/v2/', ('alice', alice['password'])) == 200
        assert registry.status('/v2/', ('bob', bob['password'])) == 200
        assert registry.status('/v2/', ('alice', alice['password'] + 'x')) == 401  # wrong password
        assert registry.status('/v2/', ('alice', bob['password'])) == 401  # another user's password
        assert registry.status('/v2/') == 401  # no credentials

        inode = path.stat().st_ino
        time.sleep(0.05)  # the registry compares modification times
        removed, output2 = run_htpasswd(tmp_path, path, [dict(name='bob', state='absent')])
        assert removed['changed'] and removed['removed'] == ['bob']
        assert path.stat().st_ino != inode
        assert list(read_entries(str(path))) == ['alice']

        deadline = time.monotonic() + 10
        while registry.status('/v2/', ('bob', bob['password'])) != 401 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert registry.status('/v2/', ('bob', bob['password'])) == 401  # removed user, registry still running
        assert registry.status('/v2/', ('alice', alice['password'])) == 200  # remaining user
        assert registry.status('/v2/') == 401
        assert registry.proc.poll() is None
        assert_no_secrets(output + output2, users, path)
    finally:
        registry.stop()
