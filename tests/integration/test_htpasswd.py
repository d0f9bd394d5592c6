# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""dockyard.registry.htpasswd against the real things.

The module runs through a real ``ansible-playbook`` (localhost, -vvv, --diff); what it
writes is checked with Apache's ``htpasswd -vb`` (Debian apache2-utils) and with the real
CNCF distribution registry (Debian package docker-registry) started by the test.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import time

import pytest

HTPASSWD = shutil.which('htpasswd')
REGISTRY = '/usr/bin/docker-registry'
CURL = shutil.which('curl')
COST = 4

PLAYBOOK = '''
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Manage users
      dockyard.registry.htpasswd:
        path: "{{ htpasswd_path }}"
        users: "{{ htpasswd_users }}"
        exclusive: "{{ htpasswd_exclusive | default(false) }}"
        cost: %d
      register: result
    - name: Save the result for the test
      ansible.builtin.copy:
        content: "{{ result | to_json }}"
        dest: "{{ result_path }}"
        mode: "0600"
      check_mode: false
      changed_when: false
''' % COST


def password():
    return 'Pw-' + secrets.token_urlsafe(18)


def make_users(*names):
    return [dict(name=name, password=password()) for name in names]


def read_entries(path):
    with open(path) as f:
        return dict(line.rstrip('\n').split(':', 1) for line in f)


def run_playbook(tmp_path, path, users, check=False, exclusive=False, python=sys.executable):
    """Run PLAYBOOK with -vvv --diff; return (result of the module task, all output)."""
    playbook = tmp_path / 'playbook.yml'
    playbook.write_text(PLAYBOOK)
    result_path = tmp_path / 'result.json'
    if result_path.exists():
        result_path.unlink()
    extra = tmp_path / 'vars.json'
    extra.write_text(json.dumps(dict(htpasswd_path=str(path), htpasswd_users=users,
                                     htpasswd_exclusive=exclusive, result_path=str(result_path))))
    extra.chmod(0o600)
    cmd = ['ansible-playbook', '-vvv', '--diff', '-i', 'localhost,', '-c', 'local',
           '-e', 'ansible_python_interpreter=%s' % python, '-e', '@%s' % extra, str(playbook)]
    if check:
        cmd.append('--check')
    env = dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0',
               ANSIBLE_LOCAL_TEMP=str(tmp_path / 'ansible-tmp'))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=900, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-4000:]
    return json.loads(result_path.read_text()), output


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

    checked, out1 = run_playbook(tmp_path, path, users, check=True)
    assert checked['changed'] and checked['added'] == ['alice', 'bob', 'carol']
    assert not path.exists()

    applied, out2 = run_playbook(tmp_path, path, users)
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

    checked_again, out3 = run_playbook(tmp_path, path, users, check=True)
    applied_again, out4 = run_playbook(tmp_path, path, users)
    for result in (checked_again, applied_again):
        assert not result['changed']
        assert result['added'] == result['removed'] == result['updated'] == []
    assert path.stat().st_ino == inode
    assert read_entries(str(path)) == entries

    users[1]['password'] = password()
    changed, out5 = run_playbook(tmp_path, path, users)
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

    result, output = run_playbook(tmp_path, path, users)
    assert result['changed'] and result['updated'] == ['legacy'] and result['rehashed'] == ['legacy']
    assert read_entries(str(path))['legacy'].startswith('$2y$')
    assert htpasswd_verifies(path, 'legacy', secret)
    assert not htpasswd_verifies(path, 'legacy', 'wrong-pw')
    again, output2 = run_playbook(tmp_path, path, users)
    assert not again['changed']
    assert_no_secrets(output + output2, users, path)


@needs_htpasswd
def test_cost_per_user_and_apache_entries_of_another_cost_are_rehashed(tmp_path):
    path = tmp_path / 'htpasswd'
    secret = password()
    subprocess.run([HTPASSWD, '-cbB', '-C', '7', str(path), 'ci', secret], check=True, capture_output=True)
    assert read_entries(str(path))['ci'].startswith('$2y$07$')
    users = [dict(name='ci', password=secret, cost=5)] + make_users('alice')

    checked, out1 = run_playbook(tmp_path, path, users, check=True)
    assert (checked['changed'], checked['updated'], checked['rehashed'], checked['added']) == \
        (True, ['ci'], ['ci'], ['alice'])
    assert read_entries(str(path))['ci'].startswith('$2y$07$')  # check mode wrote nothing

    applied, out2 = run_playbook(tmp_path, path, users)
    assert (applied['updated'], applied['rehashed'], applied['added']) == (['ci'], ['ci'], ['alice'])
    assert '+- ci  # re-hashed at cost 5 (was 7)' in out2
    entries = read_entries(str(path))
    assert entries['ci'].startswith('$2y$05$') and entries['alice'].startswith('$2y$%02d$' % COST)
    assert htpasswd_verifies(path, 'ci', secret)  # the same password, checked by Apache
    assert not htpasswd_verifies(path, 'ci', secret + 'x')  # negative control
    assert htpasswd_verifies(path, 'alice', users[1]['password'])

    again, out3 = run_playbook(tmp_path, path, users)
    assert not again['changed'] and read_entries(str(path)) == entries
    assert_no_secrets(out1 + out2 + out3, users, path)


@needs_htpasswd
def test_thousand_users_in_one_task(tmp_path):
    path = tmp_path / 'htpasswd'
    users = [dict(name='user%04d' % i, password=password()) for i in range(1000)]
    started = time.monotonic()
    result, output = run_playbook(tmp_path, path, users)
    apply_seconds = time.monotonic() - started
    assert result['changed'] and len(result['added']) == 1000
    entries = read_entries(str(path))
    assert list(entries) == [u['name'] for u in users]
    for user in users[::97]:
        assert htpasswd_verifies(path, user['name'], user['password'])
        assert not htpasswd_verifies(path, user['name'], users[0]['password'] + 'nope')
    inode = path.stat().st_ino
    rerun, output2 = run_playbook(tmp_path, path, users)
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
    result, output = run_playbook(tmp_path, path, users, python=SYSTEM_PYTHON)
    assert 'EXEC /bin/sh -c \'%s ' % SYSTEM_PYTHON in output  # really ran with Debian's Python
    assert (result['added'], result['rehashed']) == (['alice', 'bob'], ['legacy'])
    for user in users:
        assert htpasswd_verifies(path, user['name'], user['password'])
        assert not htpasswd_verifies(path, user['name'], user['password'] + '!')
    again, output2 = run_playbook(tmp_path, path, users, python=SYSTEM_PYTHON)
    assert not again['changed']
    assert_no_secrets(output + output2, users, path)


# --- the real registry ---------------------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def http_status(url, user=None, secret=None):
    cmd = [CURL, '-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10']
    if user is not None:
        cmd += ['-u', '%s:%s' % (user, secret)]
    proc = subprocess.run(cmd + [url], capture_output=True, text=True, check=False)
    return int(proc.stdout or 0)


class Registry(object):
    def __init__(self, tmp_path, htpasswd_path):
        self.tmp_path = tmp_path
        self.htpasswd_path = htpasswd_path
        self.proc = None
        self.log = tmp_path / 'registry.log'

    def start(self):
        for attempt in range(5):
            port = free_port()
            config = self.tmp_path / 'config.yml'
            config.write_text(json.dumps({  # JSON is YAML
                'version': 0.1,
                'log': {'level': 'info'},
                'storage': {'filesystem': {'rootdirectory': str(self.tmp_path / 'data')}},
                'http': {'addr': '127.0.0.1:%d' % port},
                'auth': {'htpasswd': {'realm': 'dockyard-test', 'path': str(self.htpasswd_path)}},
            }))
            with open(str(self.log), 'ab') as log:
                self.proc = subprocess.Popen([REGISTRY, 'serve', str(config)], stdout=log, stderr=log)
            self.url = 'http://127.0.0.1:%d' % port
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.proc.poll() is None:
                if http_status(self.url + '/') == 200:
                    return self
                time.sleep(0.2)
            self.stop()  # port taken meanwhile, or a slow start: try another port
        raise AssertionError('registry did not start: %s' % self.log.read_text()[-2000:])

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture
def registry_auth_dir(tmp_path):
    auth = tmp_path / 'auth'
    auth.mkdir()
    return auth


@pytest.mark.skipif(not os.access(REGISTRY, os.X_OK) or CURL is None,
                    reason='docker-registry (Debian package) or curl is not installed')
def test_real_registry_authenticates_written_users_and_rejects_removed(tmp_path, registry_auth_dir):
    path = registry_auth_dir / 'htpasswd'
    users = make_users('alice', 'bob')
    # The file must exist before the registry starts (else it invents a user).
    result, output = run_playbook(tmp_path, path, users)
    assert result['added'] == ['alice', 'bob']

    registry = Registry(tmp_path, path)
    registry.start()
    try:
        v2 = registry.url + '/v2/'
        alice, bob = users
        assert http_status(v2, 'alice', alice['password']) == 200
        assert http_status(v2, 'bob', bob['password']) == 200
        assert http_status(v2, 'alice', alice['password'] + 'x') == 401  # wrong password
        assert http_status(v2, 'alice', bob['password']) == 401  # another user's password
        assert http_status(v2) == 401  # no credentials

        inode = path.stat().st_ino
        time.sleep(0.05)  # the registry compares modification times
        removed, output2 = run_playbook(tmp_path, path, [dict(name='bob', state='absent')])
        assert removed['changed'] and removed['removed'] == ['bob']
        assert path.stat().st_ino != inode
        assert list(read_entries(str(path))) == ['alice']

        deadline = time.monotonic() + 10
        while http_status(v2, 'bob', bob['password']) != 401 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http_status(v2, 'bob', bob['password']) == 401  # removed user, registry still running
        assert http_status(v2, 'alice', alice['password']) == 200  # remaining user
        assert http_status(v2) == 401
        assert registry.proc.poll() is None
        assert_no_secrets(output + output2, users, path)
    finally:
        registry.stop()
