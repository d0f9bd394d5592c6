# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import threading

import bcrypt
import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _htpasswd
from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import (
    HtpasswdError,
    check_cost,
    check_workers,
    hash_password,
    is_bcrypt,
    names_text,
    parse_htpasswd,
    plan_changes,
    serialize,
    update_htpasswd,
    validate_users,
    verify_password,
)

COST = 4  # fastest bcrypt cost: the tests check behaviour, not strength

# Non-bcrypt entries for the password "legacy-pw", as Apache's htpasswd writes them
# (-s, -m and -d); the registry ignores such entries.
SHA_ENTRY = '{SHA}fbvS7DVx7YdCOdecW0UCzd/CRiI='
APR1_ENTRY = '$apr1$RmMFPZGH$LDUNHOrL5mqpFqMGOfFQT/'
CRYPT_ENTRY = 'wGbMdk7xP3EyI'
# bcrypt of "pw" at cost 4, without its $2?$ prefix (fixed, so test ids are stable)
PW_HASH_BODY = '04$tcUswbE/I3sq.8Va5VaK3OUEEaY3cUmAPB5UNcH.K37LKBf7lyHFW'


def bhash(password):
    return hash_password(password.encode('utf-8'), COST)


def content(*pairs):
    return ''.join('%s:%s\n' % pair for pair in pairs).encode('utf-8')


def entries(data):
    lines, dummy = parse_htpasswd(data)
    return [(line.name, line.hash) for line in lines if line.name is not None]


def run(data, users, **kwargs):
    kwargs.setdefault('cost', COST)
    return update_htpasswd(data, users, **kwargs)


# --- validation --------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['', 'a:b', 'a b', 'a\nb', 'a\tb', 'a\rb', ' a', 'a\x00b', '#a', None, 3])
def test_bad_names_are_rejected(name):
    with pytest.raises(HtpasswdError) as exc:
        validate_users([{'name': name, 'password': 'pw'}])
    assert str(exc.value).startswith('users[0].name: ')
    assert "must not contain ':', whitespace" in str(exc.value)


@pytest.mark.parametrize('name', ['alice', 'ci-bot_01', 'user@example.com', 'Jürgen', 'a#b'])
def test_good_names_are_accepted(name):
    assert validate_users([{'name': name, 'password': 'pw'}])[0].name == name


@pytest.mark.parametrize('password, reason', [
    ('', 'must not be empty'),
    ('x' * 73, 'longer than 72 bytes'),
    ('é' * 37, 'longer than 72 bytes'),  # 37 characters, 74 bytes
    ('a\x00b', 'NUL'),
    (12345, 'must be a string'),
])
def test_bad_passwords_are_rejected_without_showing_them(password, reason):
    with pytest.raises(HtpasswdError) as exc:
        validate_users([{'name': 'ok', 'password': 'fine'}, {'name': 'bob', 'password': password}])
    message = str(exc.value)
    assert message.startswith("users[1].password (user 'bob'): ")
    assert reason in message
    if isinstance(password, str) and password:
        assert password not in message


@pytest.mark.parametrize('password', ['x' * 72, 'é' * 36, '€' * 24, 'p:a s\ns#'])
def test_passwords_up_to_72_bytes_are_accepted(password):
    user = validate_users([{'name': 'bob', 'password': password}])[0]
    assert user.password == password.encode('utf-8')
    assert len(user.password) <= 72


def test_duplicate_names_are_rejected():
    with pytest.raises(HtpasswdError) as exc:
        validate_users([{'name': 'a', 'password': 'x'}, {'name': 'b', 'password': 'y'},
                        {'name': 'a', 'state': 'absent'}])
    assert str(exc.value) == "users[2].name: user 'a' is already listed as users[0]; list each user once"


def test_bad_state_is_rejected():
    with pytest.raises(HtpasswdError, match=r"users\[0\]\.state: 'gone' is not allowed"):
        validate_users([{'name': 'a', 'state': 'gone'}])


def test_password_of_absent_user_is_ignored():
    assert validate_users([{'name': 'a', 'password': '', 'state': 'absent'}])[0].password is None


def test_user_repr_hides_the_password():
    user = validate_users([{'name': 'a', 'password': 'hunter2'}])[0]
    assert 'hunter2' not in repr(user)


@pytest.mark.parametrize('cost', [3, 32, -1, True, '10', None])
def test_bad_cost(cost):
    with pytest.raises(HtpasswdError, match='^cost: .* use an integer from 4 to 31'):
        check_cost(cost)


@pytest.mark.parametrize('cost', [4, 10, 31])
def test_good_cost(cost):
    assert check_cost(cost) == cost


@pytest.mark.parametrize('cost', [3, 32, True, 'ten', 4.5])
def test_bad_user_cost_names_the_user_entry(cost):
    with pytest.raises(HtpasswdError) as exc:
        validate_users([{'name': 'ci', 'password': 'secret-pw', 'cost': cost}])
    assert str(exc.value).startswith('users[0].cost: ')
    assert 'use an integer from 4 to 31' in str(exc.value) and 'secret-pw' not in str(exc.value)


@pytest.mark.parametrize('cost, expected', [(None, None), (4, 4), (31, 31), ('5', 5)])
def test_user_cost_is_optional_and_converted_like_the_argument_spec(cost, expected):
    assert validate_users([{'name': 'ci', 'password': 'pw', 'cost': cost}])[0].cost == expected


@pytest.mark.parametrize('workers', [0, -2, True, 1.5])
def test_bad_workers(workers):
    with pytest.raises(HtpasswdError, match='^workers: '):
        check_workers(workers)


def test_default_workers_is_cpu_count():
    assert check_workers(None) >= 1
    assert check_workers(3) == 3


def test_bad_update_password():
    with pytest.raises(HtpasswdError, match="^update_password: 'never' is not allowed"):
        plan_changes([], [], update_password='never')


def test_validation_happens_before_any_bcrypt_work(monkeypatch):
    def forbidden(*args):
        raise AssertionError('bcrypt used before validation finished')
    monkeypatch.setattr(_htpasswd, 'hash_password', forbidden)
    monkeypatch.setattr(_htpasswd, 'verify_password', forbidden)
    with pytest.raises(HtpasswdError):
        run(None, [{'name': 'ok', 'password': 'pw'}, {'name': 'bad name', 'password': 'pw'}])


# --- parsing and serialising -------------------------------------------------------------

def test_parse_and_serialize_round_trip_keeps_unknown_lines():
    data = b'# managed by hand\nalice:$2y$04$abc\n\n  \nnot an entry\n:nameless\nbob:{SHA}x:y \n'
    lines, malformed = parse_htpasswd(data)
    assert [(line.name, line.hash) for line in lines] == [
        (None, None), ('alice', '$2y$04$abc'), (None, None), (None, None),
        (None, None), (None, None), ('bob', '{SHA}x:y')]
    assert malformed == [5, 6]
    assert serialize(lines) == data


def test_parse_missing_or_empty_file():
    assert parse_htpasswd(None) == ([], [])
    assert parse_htpasswd(b'') == ([], [])
    assert serialize([]) == b''


def test_parse_crlf_and_missing_final_newline():
    lines, malformed = parse_htpasswd(b'a:h1\r\nb:h2')
    assert [(line.name, line.hash) for line in lines] == [('a', 'h1'), ('b', 'h2')]
    assert malformed == []


def test_parse_keeps_non_utf8_bytes():
    data = b'caf\xe9:{SHA}x\n'
    lines, dummy = parse_htpasswd(data)
    assert serialize(lines) == data


@pytest.mark.parametrize('hashed, expected', [
    ('$2y$' + PW_HASH_BODY, True),
    ('$2a$' + PW_HASH_BODY, True),
    ('$2b$' + PW_HASH_BODY, True),
    ('$2x$' + PW_HASH_BODY, False),
    ('$2y$' + PW_HASH_BODY[:-1], False),
    ('$2y$' + PW_HASH_BODY + ' ', False),
    (SHA_ENTRY, False),
    (APR1_ENTRY, False),
    (CRYPT_ENTRY, False),
    ('', False),
])
def test_is_bcrypt(hashed, expected):
    assert is_bcrypt(hashed) is expected
    if expected:
        assert verify_password(b'pw', hashed) and not verify_password(b'pW', hashed)


def test_hash_password_writes_2y_and_verifies():
    hashed = hash_password(b'pw', COST)
    assert hashed.startswith('$2y$04$')
    assert is_bcrypt(hashed)
    assert bcrypt.checkpw(b'pw', hashed.encode())
    assert verify_password(b'pw', hashed)
    assert not verify_password(b'other', hashed)


def test_verify_password_does_not_compare_strings():
    # two hashes of the same password differ (salt); both verify
    first, second = hash_password(b'pw', COST), hash_password(b'pw', COST)
    assert first != second
    assert verify_password(b'pw', first) and verify_password(b'pw', second)


def test_verify_password_with_unreadable_hash_is_false():
    assert verify_password(b'pw', '$2y$04$' + '!' * 53) is False


def test_names_text():
    assert names_text([]) == 'users: []\n'
    assert names_text(['a', 'b'], {'b': 'password changed'}) == 'users:\n- a\n- b  # password changed\n'


# --- plans -------------------------------------------------------------------------------

def plan_for(data, users, **kwargs):
    lines, malformed = parse_htpasswd(data)
    return plan_changes(lines, validate_users(users), malformed=malformed, **kwargs)


def summary(plan):
    return dict(add=[u.name for u in plan.add], verify=[u.name for u, h in plan.verify],
                rehash=[u.name for u in plan.rehash], remove=plan.remove)


EXISTING = content(('alice', '$2y$04$' + 'a' * 53), ('legacy', SHA_ENTRY), ('carol', '$2b$04$' + 'c' * 53))


@pytest.mark.parametrize('users, kwargs, expected', [
    ([{'name': 'dave', 'password': 'x'}], {},
     dict(add=['dave'], verify=[], rehash=[], remove=[])),
    ([{'name': 'alice', 'password': 'x'}], {},
     dict(add=[], verify=['alice'], rehash=[], remove=[])),
    ([{'name': 'alice', 'password': 'x'}], {'update_password': 'on_create'},
     dict(add=[], verify=[], rehash=[], remove=[])),
    ([{'name': 'alice'}], {'update_password': 'on_create'},
     dict(add=[], verify=[], rehash=[], remove=[])),
    ([{'name': 'legacy', 'password': 'x'}], {},
     dict(add=[], verify=[], rehash=['legacy'], remove=[])),
    ([{'name': 'legacy', 'password': 'x'}], {'update_password': 'on_create'},
     dict(add=[], verify=[], rehash=['legacy'], remove=[])),
    ([{'name': 'alice', 'state': 'absent'}, {'name': 'nobody', 'state': 'absent'}], {},
     dict(add=[], verify=[], rehash=[], remove=['alice'])),
    ([{'name': 'carol', 'password': 'x'}], {'exclusive': True},
     dict(add=[], verify=['carol'], rehash=[], remove=['alice', 'legacy'])),
    ([{'name': 'alice', 'state': 'absent'}], {'exclusive': True},
     dict(add=[], verify=[], rehash=[], remove=['alice', 'legacy', 'carol'])),
    ([], {'exclusive': True},
     dict(add=[], verify=[], rehash=[], remove=['alice', 'legacy', 'carol'])),
    ([], {}, dict(add=[], verify=[], rehash=[], remove=[])),
])
def test_plan(users, kwargs, expected):
    assert summary(plan_for(EXISTING, users, **kwargs)) == expected


@pytest.mark.parametrize('users, kwargs, message', [
    ([{'name': 'dave'}], {},
     "users[0].password: required for user 'dave', which is not in the file yet"),
    ([{'name': 'dave'}], {'update_password': 'on_create'},
     "users[0].password: required for user 'dave', which is not in the file yet"),
    ([{'name': 'x', 'password': 'p'}, {'name': 'alice'}], {},
     "users[1].password: required for user 'alice' with update_password=always; "
     "omit it only with update_password=on_create"),
])
def test_plan_missing_password(users, kwargs, message):
    with pytest.raises(HtpasswdError) as exc:
        plan_for(EXISTING, users, **kwargs)
    assert str(exc.value) == message


def test_plan_warns_about_non_bcrypt_entry_without_password():
    plan = plan_for(EXISTING, [{'name': 'legacy'}], update_password='on_create')
    assert summary(plan) == dict(add=[], verify=[], rehash=[], remove=[])
    assert plan.warnings == ["user 'legacy' has an entry that is not bcrypt, which the registry "
                             "ignores; give its password to re-hash it"]


def test_plan_warns_about_malformed_lines_without_content():
    plan = plan_for(b'alice:x\nsecret-looking-garbage\n\n:y\n', [])
    assert plan.warnings == ['line(s) 2, 4 of the file are not "name:hash" entries and were kept '
                             'unchanged; the registry refuses a file with such lines']


def test_plan_warns_about_duplicate_entries():
    plan = plan_for(content(('a', 'h1'), ('b', 'h'), ('a', 'h2')), [])
    assert plan.warnings == ["user 'a' has 2 entries in the file; the registry uses the last one"]


# --- update_htpasswd: the whole operation -------------------------------------------------

def test_add_to_missing_file():
    result = run(None, [{'name': 'alice', 'password': 'pa'}, {'name': 'bob', 'password': 'pb'}])
    assert (result.added, result.removed, result.updated, result.rehashed) == (['alice', 'bob'], [], [], [])
    assert result.changed
    written = entries(result.content)
    assert [name for name, dummy in written] == ['alice', 'bob']
    assert all(h.startswith('$2y$04$') for dummy, h in written)
    assert bcrypt.checkpw(b'pa', written[0][1].encode())
    assert bcrypt.checkpw(b'pb', written[1][1].encode())
    assert not bcrypt.checkpw(b'pb', written[0][1].encode())


def test_same_password_is_unchanged_and_content_identical():
    data = content(('alice', bhash('pa')), ('bob', bhash('pb')))
    result = run(data, [{'name': 'alice', 'password': 'pa'}, {'name': 'bob', 'password': 'pb'}])
    assert not result.changed
    assert (result.added, result.removed, result.updated) == ([], [], [])
    assert result.content == data
    assert result.before == result.after == 'users:\n- alice\n- bob\n'


def test_idempotent_second_run():
    users = [{'name': 'u%d' % i, 'password': 'p%d' % i} for i in range(5)]
    first = run(None, users)
    second = run(first.content, users)
    assert first.changed and not second.changed
    assert second.content == first.content


def test_always_with_different_password_updates_in_place():
    old_bob = bhash('old')
    data = content(('alice', bhash('pa')), ('bob', old_bob), ('carol', bhash('pc')))
    result = run(data, [{'name': 'bob', 'password': 'new'}])
    assert (result.added, result.updated, result.rehashed) == ([], ['bob'], [])
    written = entries(result.content)
    assert [name for name, dummy in written] == ['alice', 'bob', 'carol']
    assert written[0] == entries(data)[0] and written[2] == entries(data)[2]
    assert bcrypt.checkpw(b'new', written[1][1].encode())
    assert result.after == 'users:\n- alice\n- bob  # password changed\n- carol\n'


def test_on_create_keeps_different_password():
    data = content(('bob', bhash('old')))
    result = run(data, [{'name': 'bob', 'password': 'new'}, {'name': 'eve', 'password': 'pe'}],
                 update_password='on_create')
    assert (result.added, result.updated) == (['eve'], [])
    written = entries(result.content)
    assert written[0] == entries(data)[0]
    assert bcrypt.checkpw(b'pe', written[1][1].encode())


@pytest.mark.parametrize('legacy', [SHA_ENTRY, APR1_ENTRY, CRYPT_ENTRY])
@pytest.mark.parametrize('update_password', ['always', 'on_create'])
def test_non_bcrypt_entry_is_rehashed(legacy, update_password):
    data = content(('legacy', legacy), ('alice', bhash('pa')))
    result = run(data, [{'name': 'legacy', 'password': 'legacy-pw'}, {'name': 'alice', 'password': 'pa'}],
                 update_password=update_password)
    assert (result.updated, result.rehashed, result.added) == (['legacy'], ['legacy'], [])
    written = entries(result.content)
    assert written[0][0] == 'legacy' and is_bcrypt(written[0][1])
    assert bcrypt.checkpw(b'legacy-pw', written[0][1].encode())
    assert 're-hashed with bcrypt' in result.after
    again = run(result.content, [{'name': 'legacy', 'password': 'legacy-pw'}])
    assert not again.changed


def test_remove_and_exclusive_keep_order_and_unknown_lines():
    data = b'# keep me\nalice:%s\nbob:%s\ngarbage\ncarol:%s\n' % (
        bhash('pa').encode(), bhash('pb').encode(), bhash('pc').encode())
    result = run(data, [{'name': 'carol', 'password': 'pc'}, {'name': 'dave', 'password': 'pd'},
                        {'name': 'alice', 'state': 'absent'}], exclusive=True)
    assert (result.added, result.removed, result.updated) == (['dave'], ['alice', 'bob'], [])
    lines = result.content.decode().splitlines()
    assert lines[:3] == ['# keep me', 'garbage', 'carol:' + bhash_of(data, 'carol')]
    assert lines[3].startswith('dave:$2y$04$') and len(lines) == 4
    assert len(result.warnings) == 1 and 'line(s) 4' in result.warnings[0]
    assert result.before == 'users:\n- alice\n- bob\n- carol\n'
    assert result.after == 'users:\n- carol\n- dave\n'


def bhash_of(data, name):
    return dict(entries(data))[name]


def test_duplicate_entries_of_updated_user_collapse_into_first_position():
    data = content(('a', bhash('old')), ('b', bhash('pb')), ('a', bhash('older')))
    result = run(data, [{'name': 'a', 'password': 'new'}])
    assert result.updated == ['a']
    written = entries(result.content)
    assert [name for name, dummy in written] == ['a', 'b']
    assert bcrypt.checkpw(b'new', written[0][1].encode())


def test_duplicate_entry_verified_against_last_one():
    data = content(('a', bhash('old')), ('a', bhash('new')))
    result = run(data, [{'name': 'a', 'password': 'new'}])
    assert not result.changed


def test_absent_removes_every_entry_of_the_name():
    data = content(('a', 'h1'), ('b', 'h'), ('a', 'h2'))
    result = run(data, [{'name': 'a', 'state': 'absent'}])
    assert result.removed == ['a']
    assert entries(result.content) == [('b', 'h')]


def test_check_mode_verifies_but_does_not_hash(monkeypatch):
    data = content(('alice', bhash('pa')), ('bob', bhash('pb')))

    def no_hashing(*args):
        raise AssertionError('hashed in check mode')
    monkeypatch.setattr(_htpasswd, 'hash_password', no_hashing)
    result = run(data, [{'name': 'alice', 'password': 'pa'}, {'name': 'bob', 'password': 'changed'},
                        {'name': 'carol', 'password': 'pc'}], hash_new=False)
    assert (result.added, result.updated) == (['carol'], ['bob'])
    assert result.content is None
    assert result.after == 'users:\n- alice\n- bob  # password changed\n- carol\n'


def test_verification_and_hashing_run_in_parallel(monkeypatch):
    threads = set()
    real_verify, real_hash = _htpasswd.verify_password, _htpasswd.hash_password

    def verify(*args):
        threads.add(('verify', threading.current_thread().name))
        return real_verify(*args)

    def hash_(*args):
        threads.add(('hash', threading.current_thread().name))
        return real_hash(*args)
    monkeypatch.setattr(_htpasswd, 'verify_password', verify)
    monkeypatch.setattr(_htpasswd, 'hash_password', hash_)
    data = content(*[('u%d' % i, bhash('p%d' % i)) for i in range(40)])
    users = [{'name': 'u%d' % i, 'password': 'p%d' % i} for i in range(40)]
    users += [{'name': 'n%d' % i, 'password': 'q%d' % i} for i in range(40)]
    result = run(data, users, workers=4)
    assert len(result.added) == 40 and not result.updated
    assert len(set(name for kind, name in threads if kind == 'verify')) > 1
    assert len(set(name for kind, name in threads if kind == 'hash')) > 1
    assert threading.current_thread().name not in set(name for dummy, name in threads)


def test_workers_one_runs_inline():
    result = run(None, [{'name': 'a', 'password': 'x'}, {'name': 'b', 'password': 'y'}], workers=1)
    assert result.added == ['a', 'b']


def test_result_never_contains_passwords_or_hashes():
    passwords = ['Pw-alice-1', 'Pw-bob-2', 'Pw-legacy-3', 'Pw-new-4']
    data = content(('alice', bhash('Pw-alice-1')), ('bob', bhash('old')), ('legacy', SHA_ENTRY),
                   ('gone', bhash('x')))
    for hash_new in (False, True):
        result = run(data, [{'name': 'alice', 'password': passwords[0]}, {'name': 'bob', 'password': passwords[1]},
                            {'name': 'legacy', 'password': passwords[2]}, {'name': 'new', 'password': passwords[3]},
                            {'name': 'gone', 'state': 'absent'}], hash_new=hash_new)
        visible = repr([result.added, result.removed, result.updated, result.rehashed,
                        result.before, result.after, result.warnings])
        for secret in passwords + [h for dummy, h in entries(data)] + ['$2', '{SHA}']:
            assert secret not in visible
        assert (result.added, result.removed, result.updated, result.rehashed) == (
            ['new'], ['gone'], ['bob', 'legacy'], ['legacy'])


# --- costs: the file's cost, per-user costs, re-hash when the cost differs ----------------

def costs(data):
    return dict((name, _htpasswd.bcrypt_cost(hashed)) for name, hashed in entries(data))


@pytest.mark.parametrize('hashed, expected', [('$2y$04$' + PW_HASH_BODY[3:], 4), ('$2b$' + PW_HASH_BODY, 4),
                                              (SHA_ENTRY, None), ('', None), (None, None)])
def test_bcrypt_cost(hashed, expected):
    assert _htpasswd.bcrypt_cost(hashed) == expected


def test_new_users_get_their_own_cost_or_the_files():
    result = run(None, [{'name': 'alice', 'password': 'pa'}, {'name': 'ci', 'password': 'pc', 'cost': 5}])
    assert costs(result.content) == {'alice': COST, 'ci': 5}
    assert bcrypt.checkpw(b'pc', entries(result.content)[1][1].encode())
    again = run(result.content, [{'name': 'alice', 'password': 'pa'}, {'name': 'ci', 'password': 'pc', 'cost': 5}])
    assert not again.changed and again.content == result.content


@pytest.mark.parametrize('option', ['file', 'user'])
def test_cost_change_rehashes_a_verified_entry_once(option):
    data = content(('alice', bhash('pa')), ('bob', bhash('pb')))
    users = [{'name': 'alice', 'password': 'pa'}, {'name': 'bob', 'password': 'pb'}]
    kwargs = {}
    if option == 'file':
        kwargs['cost'] = 5
    else:
        users[1]['cost'] = 5
    result = run(data, users, **kwargs)
    changed = ['alice', 'bob'] if option == 'file' else ['bob']
    assert (result.added, result.removed, result.updated, result.rehashed) == ([], [], changed, changed)
    assert costs(result.content) == dict(alice=5 if option == 'file' else COST, bob=5)
    written = dict(entries(result.content))
    assert bcrypt.checkpw(b'pa', written['alice'].encode()) and bcrypt.checkpw(b'pb', written['bob'].encode())
    assert '- bob  # re-hashed at cost 5 (was 4)' in result.after
    again = run(result.content, users, **kwargs)
    assert not again.changed and again.content == result.content


def test_lower_cost_is_applied_too():
    data = content(('ci', hash_password(b'pc', 6)))
    result = run(data, [{'name': 'ci', 'password': 'pc', 'cost': COST}])
    assert result.rehashed == ['ci'] and costs(result.content) == {'ci': COST}
    assert 're-hashed at cost 4 (was 6)' in result.after


def test_cost_change_and_new_password_is_a_password_change():
    data = content(('bob', bhash('old')))
    result = run(data, [{'name': 'bob', 'password': 'new', 'cost': 5}])
    assert (result.updated, result.rehashed) == (['bob'], [])
    assert costs(result.content) == {'bob': 5} and '# password changed' in result.after


def test_on_create_keeps_the_cost_of_existing_entries():
    data = content(('bob', bhash('pb')))
    result = run(data, [{'name': 'bob', 'password': 'pb', 'cost': 5}], update_password='on_create')
    assert not result.changed and result.content == data


def test_check_mode_reports_a_cost_change_without_hashing(monkeypatch):
    data = content(('bob', bhash('pb')))

    def forbidden(*args):
        raise AssertionError('hashed in check mode')
    monkeypatch.setattr(_htpasswd, 'hash_password', forbidden)
    result = run(data, [{'name': 'bob', 'password': 'pb'}], cost=5, hash_new=False)
    assert result.changed and (result.updated, result.rehashed, result.content) == (['bob'], ['bob'], None)


def test_a_wrong_password_with_the_same_cost_is_not_a_cost_change():
    data = content(('bob', bhash('old')))
    result = run(data, [{'name': 'bob', 'password': 'new'}])
    assert (result.updated, result.rehashed) == (['bob'], []) and costs(result.content) == {'bob': COST}


def test_a_look_without_cost_judges_passwords_only_and_cannot_hash():
    data = content(('bob', bhash('pb')), ('ci', bhash('pc')))
    users = [{'name': 'bob', 'password': 'pb'}, {'name': 'ci', 'password': 'pc', 'cost': 5}]
    look = run(data, users, cost=None, hash_new=False)
    assert (look.updated, look.rehashed) == (['ci'], ['ci'])  # only the user with a cost of its own
    with pytest.raises(HtpasswdError, match='^cost: None is not allowed'):
        run(data, users, cost=None)
