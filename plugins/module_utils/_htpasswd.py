# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""htpasswd files with bcrypt entries, as the registry reads them. Private: not a public API.

Pure functions, usable without Ansible:

- :func:`validate_users`, :func:`check_cost`, :func:`check_workers` check the options and
  raise :class:`HtpasswdError` (the message names the option, never a password or hash);
- :func:`parse_htpasswd` / :func:`serialize` read and write the file content, keeping
  lines that are not entries (blank lines, comments, malformed lines) untouched;
- :func:`plan_changes` decides, from the file and the options, what has to be verified,
  hashed and removed (no bcrypt work);
- :func:`update_htpasswd` runs a plan: verifies given passwords against the stored bcrypt
  hashes (``bcrypt.checkpw``, never string comparison) and hashes new ones, both on a pool of
  threads (bcrypt releases the GIL), and returns the new content and the user names that
  were added, removed, updated and re-hashed.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.dockyard.registry.plugins.module_utils._argspec import ArgumentSpec
from ansible_collections.dockyard.registry.plugins.module_utils._bcrypt_dep import bcrypt

MAX_PASSWORD_BYTES = 72
MIN_COST = 4
MAX_COST = 31
STATES = ('present', 'absent')
UPDATE_PASSWORD = ('always', 'on_create')

# What the registry (golang.org/x/crypto/bcrypt) and Apache accept as a bcrypt entry.
_BCRYPT_RE = re.compile(r'^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$')
# Apache's `htpasswd -B` writes $2y$; the bcrypt library writes $2b$. Same algorithm.
_WRITTEN_PREFIX = '$2y$'

_NAME_RULE = ("a user name must be non-empty and must not contain ':', whitespace or control "
              "characters, nor start with '#'")


def htpasswd_argument_spec(info=False):
    """The options that say which users a file must hold: the htpasswd module's own and
    registry_info's ``htpasswd.*`` (``info``: with the wanted ``cost``, which the htpasswd module
    has at its top level with a default). Documented once, in the doc fragment dockyard.registry._htpasswd."""
    spec = ArgumentSpec(dict(
        path=dict(type='path', required=True),
        users=dict(type='list', elements='dict', default=[], options=dict(
            name=dict(type='str', required=True),
            password=dict(type='str', no_log=True),
            state=dict(type='str', choices=list(STATES), default='present'),
            cost=dict(type='int'),
        )),
        exclusive=dict(type='bool', default=False),
        update_password=dict(type='str', choices=list(UPDATE_PASSWORD), default='always', no_log=False),
    ))
    return spec.update_argspec(cost=dict(type='int')) if info else spec


class HtpasswdError(Exception):
    """An option value the module cannot use. The message never contains a password or hash."""


class Line(object):
    """One line of an htpasswd file.

    ``name`` and ``hash`` are ``None`` for lines that are not entries (blank lines,
    comments, malformed lines); ``raw`` is the line as read, written back unchanged
    unless the entry is updated or removed.
    """

    __slots__ = ('name', 'hash', 'raw')

    def __init__(self, raw, name=None, hash=None):  # pylint: disable=redefined-builtin
        self.raw = raw
        self.name = name
        self.hash = hash


class User(object):
    """A validated element of the ``users`` option. ``password`` is bytes (UTF-8) or ``None``;
    ``cost`` is the user's own bcrypt cost, or ``None`` for the file's."""

    __slots__ = ('index', 'name', 'password', 'state', 'cost')

    def __init__(self, index, name, password, state, cost=None):
        self.index = index
        self.name = name
        self.password = password
        self.state = state
        self.cost = cost

    def __repr__(self):
        # Never show the password, not even in a traceback or a test failure.
        return 'User(%r, state=%r, password=%s)' % (
            self.name, self.state, 'None' if self.password is None else '<hidden>')


class Plan(object):
    """What :func:`plan_changes` decided. Lists of :class:`User`, except ``remove`` (names)."""

    def __init__(self, lines):
        self.lines = lines
        self.add = []       # users not in the file
        self.verify = []    # (user, stored bcrypt hash): unchanged if the password verifies
        self.rehash = []    # users whose entry is not bcrypt and whose password is given
        self.remove = []    # names to drop (every line of that name)
        self.warnings = []


class Result(object):
    """The outcome of :func:`update_htpasswd`. Names only: no passwords, no hashes."""

    def __init__(self, added, removed, updated, rehashed, content, before, after, warnings):
        self.added = added
        self.removed = removed
        self.updated = updated
        self.rehashed = rehashed
        self.content = content  # bytes, or None when hashing was skipped (check mode)
        self.before = before
        self.after = after
        self.warnings = warnings

    @property
    def changed(self):
        return bool(self.added or self.removed or self.updated)


def is_bcrypt(hashed):
    """True if ``hashed`` is a bcrypt entry the registry can use ($2a$, $2b$ or $2y$)."""
    return bool(_BCRYPT_RE.match(hashed or ''))


def check_cost(cost, where='cost'):
    if not isinstance(cost, int) or isinstance(cost, bool) or not MIN_COST <= cost <= MAX_COST:
        raise HtpasswdError('%s: %r is not allowed; use an integer from %d to %d (bcrypt rounds, '
                            'log2)' % (where, cost, MIN_COST, MAX_COST))
    return cost


def bcrypt_cost(hashed):
    """The cost of a bcrypt entry (``$2y$05$...`` gives 5), or ``None`` if it is not bcrypt."""
    match = _BCRYPT_RE.match(hashed or '')
    return int(match.group(1)) if match else None


def default_workers():
    """The number of CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def check_workers(workers):
    if workers is None:
        return default_workers()
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
        raise HtpasswdError('workers: %r is not allowed; use an integer of at least 1, or omit it '
                            'to use one thread per CPU' % (workers,))
    return workers


def validate_name(name, where):
    if (not isinstance(name, str) or not name or name.startswith('#')
            or any(c == ':' or c.isspace() or not c.isprintable() for c in name)):
        raise HtpasswdError('%s: %r is not a valid user name; %s' % (where, name, _NAME_RULE))
    return name


def validate_password(password, where, name):
    """Return the password as UTF-8 bytes. Messages name the user, never the password."""
    what = '%s (user %r)' % (where, name)
    if not isinstance(password, str):
        raise HtpasswdError('%s: must be a string' % what)
    if not password:
        raise HtpasswdError('%s: must not be empty' % what)
    if '\x00' in password:
        raise HtpasswdError('%s: must not contain NUL characters' % what)
    try:
        encoded = password.encode('utf-8')
    except UnicodeError:
        raise HtpasswdError('%s: is not valid UTF-8 text' % what)
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise HtpasswdError('%s: is longer than %d bytes in UTF-8, the most bcrypt uses; '
                            'choose a shorter password' % (what, MAX_PASSWORD_BYTES))
    return encoded


def validate_users(users):
    """Check the ``users`` option (list of dicts) and return a list of :class:`User`."""
    if users is None:
        return []
    result = []
    seen = {}
    for index, item in enumerate(users):
        where = 'users[%d]' % index
        if not isinstance(item, dict):
            raise HtpasswdError('%s: must be a dictionary with name, password and state' % where)
        name = validate_name(item.get('name'), where + '.name')
        if name in seen:
            raise HtpasswdError('%s.name: user %r is already listed as users[%d]; list each user '
                                'once' % (where, name, seen[name]))
        seen[name] = index
        state = item.get('state') or 'present'
        if state not in STATES:
            raise HtpasswdError('%s.state: %r is not allowed; use one of %s'
                                % (where, state, ', '.join(STATES)))
        password = item.get('password')
        if state == 'present' and password is not None:
            password = validate_password(password, where + '.password', name)
        else:
            password = None
        cost = item.get('cost')
        if isinstance(cost, str) and cost.isdigit():
            cost = int(cost)  # as the module's argument spec converts it
        if cost is not None:
            check_cost(cost, where + '.cost')
        result.append(User(index, name, password, state, cost))
    return result


def parse_htpasswd(data):
    """Parse the file content (bytes, or ``None`` for a missing file) into :class:`Line` objects.

    Returns ``(lines, malformed)`` where ``malformed`` lists the 1-based numbers of lines
    that are neither entries (``name:hash``), blank lines nor comments (``#...``).
    """
    if not data:
        return [], []
    text = data.decode('utf-8', 'surrogateescape')
    raw_lines = text.split('\n')
    if raw_lines and raw_lines[-1] == '':
        raw_lines.pop()
    lines = []
    malformed = []
    for number, raw in enumerate(raw_lines, 1):
        stripped = raw.strip()
        if not stripped or stripped.startswith('#'):
            lines.append(Line(raw))
            continue
        name, sep, hashed = stripped.partition(':')
        if not sep or not name:
            malformed.append(number)
            lines.append(Line(raw))
            continue
        lines.append(Line(raw, name, hashed.strip()))
    return lines, malformed


def serialize(lines):
    """The file content for ``lines`` (bytes, one line each, newline-terminated)."""
    if not lines:
        return b''
    return ('\n'.join(line.raw for line in lines) + '\n').encode('utf-8', 'surrogateescape')


def _positions(lines):
    positions = {}
    for number, line in enumerate(lines):
        if line.name is not None:
            positions.setdefault(line.name, []).append(number)
    return positions


def plan_changes(lines, users, exclusive=False, update_password='always', malformed=()):
    """Decide what to do. Raises :class:`HtpasswdError` if a needed password is missing."""
    if update_password not in UPDATE_PASSWORD:
        raise HtpasswdError('update_password: %r is not allowed; use one of %s'
                            % (update_password, ', '.join(UPDATE_PASSWORD)))
    plan = Plan(lines)
    positions = _positions(lines)
    for user in users:
        found = positions.get(user.name)
        if user.state == 'absent':
            if found:
                plan.remove.append(user.name)
            continue
        if not found:
            if user.password is None:
                raise HtpasswdError(
                    'users[%d].password: required for user %r, which is not in the file yet'
                    % (user.index, user.name))
            plan.add.append(user)
            continue
        stored = lines[found[-1]].hash  # the registry uses the last entry of a name
        if user.password is None:
            if update_password == 'always':
                raise HtpasswdError(
                    'users[%d].password: required for user %r with update_password=always; '
                    'omit it only with update_password=on_create' % (user.index, user.name))
            if not is_bcrypt(stored):
                plan.warnings.append(
                    'user %r has an entry that is not bcrypt, which the registry ignores; give its '
                    'password to re-hash it' % user.name)
        elif not is_bcrypt(stored):
            plan.rehash.append(user)
        elif update_password == 'always':
            plan.verify.append((user, stored))
    if exclusive:
        listed = set(user.name for user in users)
        for name in positions:
            if name not in listed:
                plan.remove.append(name)
    for name, found in positions.items():
        if len(found) > 1 and name not in plan.remove:
            plan.warnings.append('user %r has %d entries in the file; the registry uses the last one'
                                 % (name, len(found)))
    if malformed:
        plan.warnings.append(
            'line(s) %s of the file are not "name:hash" entries and were kept unchanged; the '
            'registry refuses a file with such lines' % ', '.join(str(n) for n in malformed))
    return plan


def _run_parallel(function, items, workers):
    if not items:
        return []
    workers = max(1, min(workers, len(items)))
    if workers == 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as executor:
        return list(executor.map(function, items))


def verify_password(password, hashed):
    """``bcrypt.checkpw``; a hash bcrypt cannot read counts as not matching."""
    try:
        return bcrypt.checkpw(password, hashed.encode('ascii'))
    except (ValueError, UnicodeError):
        return False


def hash_password(password, cost):
    """A ``$2y$`` bcrypt hash of ``password`` (bytes), as Apache's ``htpasswd -B`` writes."""
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost)).decode('ascii')
    return _WRITTEN_PREFIX + hashed[4:]


def names_text(names, notes=None):
    """The diff text: user names only, one a line, with a note for changed entries."""
    if not names:
        return 'users: []\n'
    notes = notes or {}
    out = ['users:']
    for name in names:
        out.append('- %s  # %s' % (name, notes[name]) if name in notes else '- %s' % name)
    return '\n'.join(out) + '\n'


def _unique_names(lines):
    names = []
    seen = set()
    for line in lines:
        if line.name is not None and line.name not in seen:
            seen.add(line.name)
            names.append(line.name)
    return names


def update_htpasswd(data, users, exclusive=False, update_password='always', cost=10, workers=None,
                    hash_new=True):
    """Apply ``users`` to the file content ``data`` (bytes or ``None``) and return a :class:`Result`.

    ``users`` is the raw option (list of dicts); it is validated first, before any work.
    ``cost`` applies to the users without a ``cost`` of their own. A user whose password verifies
    (``update_password='always'``) but whose entry has another cost is re-hashed at the wanted
    cost, so a changed cost reaches existing users and a rerun with the same costs changes nothing.
    ``cost=None`` (only with ``hash_new=False``: a read-only look that was not told the cost)
    leaves the cost of those users' entries unjudged.
    With ``hash_new=False`` (check mode) passwords are still verified, to know what would
    change, but nothing is hashed and ``Result.content`` is ``None``.
    """
    if cost is not None or hash_new:
        check_cost(cost)
    workers = check_workers(workers)
    users = validate_users(users)
    lines, malformed = parse_htpasswd(data)
    plan = plan_changes(lines, users, exclusive, update_password, malformed)

    verified = _run_parallel(lambda pair: verify_password(pair[0].password, pair[1]),
                             plan.verify, workers)
    mismatched = set(pair[0].name for pair, ok in zip(plan.verify, verified) if not ok)
    wanted = dict((user.name, cost if user.cost is None else user.cost) for user in users)
    recosted = dict((user.name, bcrypt_cost(stored)) for (user, stored), ok in zip(plan.verify, verified)
                    if ok and wanted[user.name] is not None and bcrypt_cost(stored) != wanted[user.name])
    rehashed = [user.name for user in plan.rehash]
    updated_set = mismatched.union(rehashed, recosted)
    updated = [user.name for user in users if user.name in updated_set]
    removed = plan.remove
    added = [user.name for user in plan.add]

    to_hash = plan.add + [user for user in users if user.name in updated_set]
    hashes = {}
    if hash_new:
        hashes = dict(zip((user.name for user in to_hash),
                          _run_parallel(lambda user: hash_password(user.password, wanted[user.name]), to_hash,
                                        workers)))

    new_lines = []
    removed_set = set(removed)
    written = set()
    for line in lines:
        if line.name in removed_set:
            continue
        if line.name in updated_set:
            if line.name in written:
                continue  # duplicates of an updated user collapse into one entry
            written.add(line.name)
            line = Line('%s:%s' % (line.name, hashes.get(line.name, '')), line.name)
        new_lines.append(line)
    for user in plan.add:
        new_lines.append(Line('%s:%s' % (user.name, hashes.get(user.name, '')), user.name))

    notes = dict((name, 'password changed') for name in mismatched)
    notes.update((name, 're-hashed with bcrypt (was not bcrypt)') for name in rehashed)
    notes.update((name, 're-hashed at cost %d (was %d)' % (wanted[name], old)) for name, old in recosted.items())
    return Result(
        added=added,
        removed=removed,
        updated=updated,
        rehashed=[name for name in updated if name in set(rehashed) or name in recosted],
        content=serialize(new_lines) if hash_new else None,
        before=names_text(_unique_names(lines)),
        after=names_text(_unique_names(new_lines), notes),
        warnings=plan.warnings,
    )
