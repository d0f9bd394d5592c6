# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/htpasswd: benchmark dockyard.registry.htpasswd against community.general.htpasswd in a loop.

Both write bcrypt entries at the same cost (default 5, the default of Apache's
`htpasswd -B`) for the same N users (default 1000) into a fresh file, then run again with
nothing to change (the no-op rerun). Prints both times and the ratios baseline/ours.

- Ours: one task with all users, run with the project virtualenv (scripts/dev-env).
- Baseline: community.general.htpasswd (from the ansible==12.3.0 package installed in the
  project virtualenv) in a `loop:` over the users, run by its own virtualenv
  .build/bench-venv-htpasswd with ansible-core==2.19.14, passlib and bcrypt<4.1 (passlib
  1.7.4 breaks with bcrypt >= 4.1). community.general.htpasswd has no cost option; a
  sitecustomize.py in that virtualenv sets passlib's bcrypt default rounds to the same cost.
- Both use ANSIBLE_PIPELINING=1 (fewer round trips per task; this favours the loop).

Ansible's per-item overhead makes the loop slow (about a third of a second per item on a
2-core machine), so by default the baseline loops over the first --baseline-users users
(200) and its time is extrapolated linearly to N, which the table says. Use
--baseline-users N (or 0 for all) to loop over every user.

Timings are printed, not asserted. Exit status is non-zero only when a run fails or
does not change/keep what it should.
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_VENV = os.environ.get('DOCKYARD_VENV') or os.path.join(REPO, '.venv')  # as scripts/lib/common.sh
BENCH_VENV = os.path.join(REPO, '.build', 'bench-venv-htpasswd')
BASELINE_REQUIREMENTS = ['ansible-core==2.19.14', 'passlib==1.7.4', 'bcrypt<4.1']
ROUNDS_ENV = 'DOCKYARD_BENCH_PASSLIB_BCRYPT_ROUNDS'

SITECUSTOMIZE = '''\
# Written by bench/htpasswd: community.general.htpasswd cannot set the bcrypt cost, so
# passlib's default rounds follow %s when it is set.
import os
_rounds = os.environ.get(%r)
if _rounds:
    from passlib.handlers.bcrypt import bcrypt as _bcrypt
    _bcrypt.default_rounds = int(_rounds)
''' % (ROUNDS_ENV, ROUNDS_ENV)

PASSLIB_SELF_TEST = '''
import sys
from passlib.apache import HtpasswdFile
from passlib.context import CryptContext
from passlib.handlers.bcrypt import bcrypt
assert bcrypt.default_rounds == int(sys.argv[1]), bcrypt.default_rounds
context = CryptContext(schemes=['bcrypt', 'apr_md5_crypt'])
ht = HtpasswdFile(new=True, default_scheme='bcrypt', context=context)
ht.set_password('user', 'pw')
assert ht.check_password('user', 'pw') and not ht.check_password('user', 'nope')
assert ht.get_hash('user').startswith(b'$2b$%02d$' % int(sys.argv[1]))
'''

BASELINE_PLAYBOOK = '''\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: community.general.htpasswd in a loop
      community.general.htpasswd:
        path: "{{ htpasswd_path }}"
        name: "{{ item.name }}"
        password: "{{ item.password }}"
        hash_scheme: bcrypt
        mode: "0640"
      loop: "{{ htpasswd_users }}"
      loop_control:
        label: "{{ item.name }}"
'''

OURS_PLAYBOOK = '''\
- hosts: localhost
  gather_facts: false
  tasks:
    - name: dockyard.registry.htpasswd, one task
      dockyard.registry.htpasswd:
        path: "{{ htpasswd_path }}"
        users: "{{ htpasswd_users }}"
        cost: "{{ htpasswd_cost }}"
'''


def log(msg):
    print('==> %s' % msg, file=sys.stderr, flush=True)


def project_env():
    """The environment of `eval "$(scripts/dev-env)"` (creates .venv on first use)."""
    out = subprocess.run(['bash', '-c', 'eval "$(scripts/dev-env)" && env -0'], cwd=REPO,
                         check=True, stdout=subprocess.PIPE).stdout.decode()
    return dict(item.split('=', 1) for item in out.split('\0') if '=' in item)


def ensure_bench_venv(cost):
    python = os.path.join(BENCH_VENV, 'bin', 'python')
    stamp = os.path.join(BENCH_VENV, '.bench-requirements')
    want = '\n'.join(BASELINE_REQUIREMENTS) + '\n' + SITECUSTOMIZE
    if not os.path.exists(python):
        log('creating %s' % BENCH_VENV)
        subprocess.run([sys.executable, '-m', 'venv', BENCH_VENV], check=True)
    current = open(stamp).read() if os.path.exists(stamp) else None
    if current != want:
        log('installing %s into %s' % (' '.join(BASELINE_REQUIREMENTS), BENCH_VENV))
        subprocess.run([python, '-m', 'pip', 'install', '--disable-pip-version-check', '-q']
                       + BASELINE_REQUIREMENTS, check=True)
        site = subprocess.run([python, '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
                              check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
        with open(os.path.join(site, 'sitecustomize.py'), 'w') as f:
            f.write(SITECUSTOMIZE)
        with open(stamp, 'w') as f:
            f.write(want)
    # passlib must really work with this bcrypt, at the chosen cost
    subprocess.run([python, '-c', PASSLIB_SELF_TEST, str(cost)], check=True,
                   env=dict(os.environ, **{ROUNDS_ENV: str(cost)}))
    return python


def community_general_path():
    """The collections directory of the ansible==12.3.0 package in the project venv."""
    code = ('import importlib.metadata as m, sysconfig, json; '
            'print(json.dumps([m.version("ansible"), sysconfig.get_paths()["purelib"]]))')
    version, site = json.loads(subprocess.run([os.path.join(PROJECT_VENV, 'bin', 'python'), '-c', code],
                                              check=True, stdout=subprocess.PIPE, text=True).stdout)
    if not os.path.isfile(os.path.join(site, 'ansible_collections', 'community', 'general', 'plugins',
                                       'modules', 'htpasswd.py')):
        raise SystemExit('community.general is not installed in the project virtualenv (ansible package)')
    with open(os.path.join(site, 'ansible_collections', 'community', 'general', 'MANIFEST.json')) as f:
        cg_version = json.load(f)['collection_info']['version']
    return site, version, cg_version


def run_playbook(ansible_playbook, playbook, vars_file, python, env, expect_changed):
    cmd = [ansible_playbook, '-i', 'localhost,', '-c', 'local',
           '-e', 'ansible_python_interpreter=%s' % python, '-e', '@%s' % vars_file, playbook]
    started = time.monotonic()
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    seconds = time.monotonic() - started
    recap = [line for line in proc.stdout.splitlines() if line.startswith('localhost ')]
    if proc.returncode != 0 or not recap:
        sys.stderr.write(proc.stdout[-3000:])
        raise SystemExit('ansible-playbook %s failed (rc=%d)' % (playbook, proc.returncode))
    changed = int(recap[-1].split('changed=')[1].split()[0]) > 0
    if changed != expect_changed:
        raise SystemExit('%s: expected changed=%s, got %s' % (playbook, expect_changed, changed))
    return seconds


def check_entries(path, users, expect_prefix):
    """Sanity: every user is in the file with a bcrypt entry of the chosen cost."""
    with open(path) as f:
        entries = dict(line.rstrip('\n').split(':', 1) for line in f)
    missing = [u['name'] for u in users if not entries.get(u['name'], '').startswith(expect_prefix)]
    if missing or len(entries) != len(users):
        raise SystemExit('%s: %d entries, %d users without a %s... entry'
                         % (path, len(entries), len(missing), expect_prefix))
    htpasswd = shutil.which('htpasswd')
    if htpasswd:
        for user in users[:: max(1, len(users) // 5)]:
            subprocess.run([htpasswd, '-vb', path, user['name'], user['password']], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser(prog='bench/htpasswd', description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--users', type=int, default=1000, help='number of users (default 1000)')
    parser.add_argument('--cost', type=int, default=5, help='bcrypt cost for both (default 5, as htpasswd -B)')
    parser.add_argument('--baseline-users', type=int, default=200,
                        help='users the baseline loop really runs over, extrapolated to --users '
                             '(default 200; 0 = all)')
    parser.add_argument('--keep', action='store_true', help='keep the work directory')
    args = parser.parse_args()
    if args.users < 1 or not 4 <= args.cost <= 31 or args.baseline_users < 0:
        parser.error('--users >= 1, --cost 4..31, --baseline-users >= 0')
    baseline_n = args.users if args.baseline_users in (0, None) else min(args.users, args.baseline_users)

    env = project_env()
    env['ANSIBLE_PIPELINING'] = '1'
    env['ANSIBLE_NOCOLOR'] = '1'
    bench_python = ensure_bench_venv(args.cost)
    cg_site, ansible_version, cg_version = community_general_path()
    ours_python = os.path.join(PROJECT_VENV, 'bin', 'python')
    ours_playbook_bin = os.path.join(PROJECT_VENV, 'bin', 'ansible-playbook')
    base_playbook_bin = os.path.join(BENCH_VENV, 'bin', 'ansible-playbook')

    work = tempfile.mkdtemp(prefix='bench-htpasswd-', dir=os.path.join(REPO, '.build'))
    try:
        users = [dict(name='user%05d' % i, password=secrets.token_urlsafe(15)) for i in range(args.users)]
        files = {}
        for kind, subset, playbook in (('baseline', users[:baseline_n], BASELINE_PLAYBOOK),
                                       ('ours', users, OURS_PLAYBOOK)):
            path = os.path.join(work, kind + '.htpasswd')
            vars_file = os.path.join(work, kind + '-vars.json')
            fd = os.open(vars_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, 'w') as f:
                json.dump(dict(htpasswd_path=path, htpasswd_users=subset, htpasswd_cost=args.cost), f)
            playbook_path = os.path.join(work, kind + '.yml')
            with open(playbook_path, 'w') as f:
                f.write(playbook)
            files[kind] = (path, vars_file, playbook_path, subset)

        base_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=cg_site, ANSIBLE_PIPELINING='1',
                        ANSIBLE_NOCOLOR='1', **{ROUNDS_ENV: str(args.cost)})
        base_env.pop('PYTHONPATH', None)
        path, vars_file, playbook, subset = files['baseline']
        log('baseline: community.general %s (ansible %s) loop over %d users, cost %d'
            % (cg_version, ansible_version, baseline_n, args.cost))
        base_apply = run_playbook(base_playbook_bin, playbook, vars_file, bench_python, base_env, True)
        check_entries(path, subset, '$2b$%02d$' % args.cost)
        log('baseline apply %.1fs; no-op rerun' % base_apply)
        base_rerun = run_playbook(base_playbook_bin, playbook, vars_file, bench_python, base_env, False)

        path, vars_file, playbook, subset = files['ours']
        log('ours: dockyard.registry.htpasswd, %d users in one task, cost %d' % (args.users, args.cost))
        ours_apply = run_playbook(ours_playbook_bin, playbook, vars_file, ours_python, env, True)
        check_entries(path, subset, '$2y$%02d$' % args.cost)
        log('ours apply %.1fs; no-op rerun' % ours_apply)
        ours_rerun = run_playbook(ours_playbook_bin, playbook, vars_file, ours_python, env, False)
    finally:
        if args.keep:
            log('kept %s' % work)
        else:
            shutil.rmtree(work, ignore_errors=True)

    scale = float(args.users) / baseline_n
    note = '' if baseline_n == args.users else ' (measured over %d users, x%.2f)' % (baseline_n, scale)
    base_apply_n, base_rerun_n = base_apply * scale, base_rerun * scale
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    print()
    print('htpasswd benchmark: %d users, bcrypt cost %d, %d CPUs' % (args.users, args.cost, cpus))
    print('%-44s %12s %14s' % ('', 'apply', 'no-op rerun'))
    baseline_label = 'community.general.htpasswd, loop' + ('*' if note else '')
    print('%-44s %11.1fs %13.1fs' % (baseline_label, base_apply_n, base_rerun_n))
    print('%-44s %11.1fs %13.1fs' % ('dockyard.registry.htpasswd, one task', ours_apply, ours_rerun))
    print('%-44s %11.1fx %13.1fx' % ('ratio baseline/ours', base_apply_n / ours_apply, base_rerun_n / ours_rerun))
    if note:
        print('* extrapolated linearly: measured %.1fs / %.1fs over %d users (x%.2f); '
              '--baseline-users 0 runs all' % (base_apply, base_rerun, baseline_n, scale))
    return 0


if __name__ == '__main__':
    sys.exit(main())
