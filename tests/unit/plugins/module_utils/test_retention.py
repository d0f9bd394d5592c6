# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The selection logic of registry_retention: pure functions, a fixed clock, no registry
(the network part runs against the real registry in tests/integration/test_registry_retention.py)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _retention as r

UTC = datetime.timezone.utc
NOW = datetime.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
DAY = datetime.timedelta(days=1)


def rule(repository='*', keep_last=None, keep_tags=(), older_than=None, index=0):
    return r.Rule(index, repository, keep_last, tuple(keep_tags),
                  r.parse_age(older_than) if older_than else None, older_than)


def tag(name, age_days, digest=None, children=()):
    created = None if age_days is None else NOW - age_days * DAY
    return r.TagInfo(name, digest or 'sha256:' + name, created, r.MEDIA_MANIFEST, tuple(children))


def names(infos):
    return [info.tag for info in infos]


def params(**kwargs):
    base = dict(url='https://registry.example.com:5000', ca_path=None, server_name=None, username='u',
                password='p', rules=[{'repository': '*', 'keep_last': 3}], request_timeout=30, page_size=100)
    base.update(kwargs)
    return base


# ---------------------------------------------------------------- ages and rules

@pytest.mark.parametrize('text, seconds', [
    ('30s', 30), ('5m', 300), ('12h', 43200), ('30d', 2592000), ('2w', 1209600), ('0d', 0), (' 7d ', 604800),
])
def test_parse_age(text, seconds):
    assert r.parse_age(text) == seconds


@pytest.mark.parametrize('text', ['30', 'd', '30 d', '1.5d', '-1d', '30D', '30y', '1w2d', '', 30, None, ['30d']])
def test_parse_age_refuses(text):
    with pytest.raises(r.RetentionError) as exc:
        r.parse_age(text, 'rules[2].older_than')
    msg = str(exc.value)
    assert msg.startswith('rules[2].older_than %r is not an age' % (text,))
    assert 's, m, h, d, w' in msg


def test_parse_rules_normalizes():
    parsed = r.parse_rules([
        {'repository': 'ci/*', 'keep_last': 5, 'keep_tags': ['latest', 'v*'], 'older_than': '30d'},
        {'repository': '*', 'keep_last': 0, 'keep_tags': None, 'older_than': None},
        {'repository': 'x', 'older_than': '1w'},
    ])
    assert parsed[0] == r.Rule(0, 'ci/*', 5, ('latest', 'v*'), 2592000, '30d')
    assert parsed[1] == r.Rule(1, '*', 0, (), None, None)
    assert parsed[2] == r.Rule(2, 'x', None, (), 604800, '1w')


@pytest.mark.parametrize('rules, expected', [
    ([], 'rules must be a non-empty list'),
    ('ci/*', 'rules must be a non-empty list'),
    (['ci/*'], "rules[0] must be a dict"),
    ([{'repository': 'a', 'keep_last': 1, 'keep': 3}], 'rules[0] has unknown key(s) keep; allowed: repository, '),
    ([{'keep_last': 1}], 'rules[0].repository must be a non-empty string'),
    ([{'repository': '', 'keep_last': 1}],
     "rules[0].repository must be a non-empty string (a glob such as v* or ci/*), got '' of type str"),
    ([{'repository': ['ci/*'], 'keep_last': 1}],
     "rules[0].repository must be a non-empty string (a glob such as v* or ci/*), got ['ci/*'] of type list"),
    ([{'repository': 'a', 'keep_last': 1}, {'repository': 'b', 'keep_last': -1}],
     'rules[1].keep_last must be a whole number 0 or more, got -1'),
    ([{'repository': 'a', 'keep_last': True}], 'rules[0].keep_last must be a whole number 0 or more, got True'),
    ([{'repository': 'a', 'keep_last': '3'}], "rules[0].keep_last must be a whole number 0 or more, got '3'"),
    ([{'repository': 'a', 'keep_last': 1, 'keep_tags': 'latest'}],
     "rules[0].keep_tags must be a list of tag globs, got 'latest' of type str"),
    ([{'repository': 'a', 'keep_last': 1, 'keep_tags': ['latest', 5]}],
     'rules[0].keep_tags[1] must be a non-empty string (a glob such as v* or ci/*), got 5 of type int'),
    ([{'repository': 'a', 'keep_last': 1, 'keep_tags': [{'v*': None}]}],
     "rules[0].keep_tags[0] must be a non-empty string (a glob such as v* or ci/*), got {'v*': None} of type dict"),
    ([{'repository': 'a', 'older_than': '30 days'}], "rules[0].older_than '30 days' is not an age"),
    ([{'repository': 'a'}], "rules[0] (repository 'a') needs keep_last, older_than or both"),
    ([{'repository': 'a', 'keep_tags': ['latest']}], "rules[0] (repository 'a') needs keep_last, older_than or both"),
])
def test_parse_rules_refuses(rules, expected):
    with pytest.raises(r.RetentionError) as exc:
        r.parse_rules(rules)
    assert str(exc.value).startswith(expected), str(exc.value)


def test_validate_params():
    target, rules = r.validate_params(params())
    assert target.base == 'https://registry.example.com:5000'
    assert rules == [r.Rule(0, '*', 3, (), None, None)]


@pytest.mark.parametrize('kwargs, expected', [
    (dict(url='https://u:pw@registry.example.com'), 'url must not contain credentials'),
    (dict(url='ftp://registry.example.com'), "url 'ftp://registry.example.com' must start with https://"),
    (dict(url='http://registry.example.com', server_name='x'), "server_name 'x' is only used with an https:// url"),
    (dict(ca_path='/nonexistent/ca.crt'), "ca_path '/nonexistent/ca.crt' is not a file"),
    (dict(request_timeout=0), 'request_timeout must be more than 0 seconds, got 0'),
    (dict(page_size=0), 'page_size must be 1 or more, got 0'),
    (dict(url='ftp://x', rules=[{'repository': 'a', 'keep_last': -2}]), 'rules[0].keep_last'),  # rules first
])
def test_validate_params_refuses(kwargs, expected):
    with pytest.raises(r.RetentionError) as exc:
        r.validate_params(params(**kwargs))
    assert str(exc.value).startswith(expected), str(exc.value)
    assert 'pw' not in str(exc.value)


# ---------------------------------------------------------------- rule matching, times, manifest kinds

def test_first_matching_rule_wins():
    rules = r.parse_rules([{'repository': 'ci/keep-*', 'keep_last': 100}, {'repository': 'ci/*', 'keep_last': 1},
                           {'repository': '*', 'keep_last': 0}])
    assert r.match_rule('ci/keep-me', rules).index == 0
    assert r.match_rule('ci/app', rules).index == 1
    assert r.match_rule('team/a/b', rules).index == 2
    assert r.match_rule('ci', rules).index == 2  # ci/* needs the slash


def test_globs_match_whole_names_case_sensitively():
    rules = r.parse_rules([{'repository': 'app', 'keep_last': 1}, {'repository': 'team/[ab]?', 'keep_last': 1}])
    assert r.match_rule('app', rules).index == 0
    assert r.match_rule('app2', rules) is None
    assert r.match_rule('my/app', rules) is None
    assert r.match_rule('App', rules) is None
    assert r.match_rule('team/a1', rules).index == 1
    assert r.match_rule('team/c1', rules) is None


@pytest.mark.parametrize('value, expected', [
    ('2026-05-31T12:00:00Z', datetime.datetime(2026, 5, 31, 12, tzinfo=UTC)),
    ('2026-05-31T12:00:00.123456789Z', datetime.datetime(2026, 5, 31, 12, 0, 0, 123456, tzinfo=UTC)),
    ('2026-05-31T14:30:00+02:30', datetime.datetime(2026, 5, 31, 12, tzinfo=UTC)),
    ('2026-05-31T10:00:00.5-02:00', datetime.datetime(2026, 5, 31, 12, 0, 0, 500000, tzinfo=UTC)),
    ('2026-05-31 12:00:00z', datetime.datetime(2026, 5, 31, 12, tzinfo=UTC)),
    ('2026-05-31T12:00:00', None),  # no zone: not RFC 3339
    ('2026-02-30T12:00:00Z', None),
    ('yesterday', None), ('', None), (None, None), (1717243200, None),
])
def test_parse_created(value, expected):
    assert r.parse_created(value) == expected


def test_newest():
    assert r.newest([None, NOW - DAY, NOW, None]) == NOW
    assert r.newest([None, None]) is None
    assert r.newest([]) is None


@pytest.mark.parametrize('media_type, document, kind', [
    (r.MEDIA_MANIFEST, {'config': {}}, 'image'),
    (r.MEDIA_OCI_MANIFEST, {'config': {}}, 'image'),
    (r.MEDIA_MANIFEST_LIST, {'manifests': []}, 'index'),
    (r.MEDIA_OCI_INDEX, {'manifests': []}, 'index'),
    ('application/json', {'mediaType': r.MEDIA_OCI_INDEX, 'manifests': []}, 'index'),  # the body names it
    (r.MEDIA_OCI_MANIFEST + '; charset=utf-8', {'config': {}}, 'image'),
    (None, {'schemaVersion': 2, 'config': {}}, 'image'),
    (None, {'schemaVersion': 2, 'manifests': []}, 'index'),
    ('application/vnd.docker.distribution.manifest.v1+prettyjws', {'schemaVersion': 1}, None),
])
def test_manifest_kind(media_type, document, kind):
    assert r.manifest_kind(media_type, document) == kind


# ---------------------------------------------------------------- selection

def test_keep_last_keeps_the_newest():
    tags = [tag('b%d' % i, i) for i in range(1, 8)]
    sel = r.select(tags, rule(keep_last=3), NOW)
    assert names(sel.deleted) == ['b4', 'b5', 'b6', 'b7']
    assert names(sel.kept) == ['b1', 'b2', 'b3']
    assert sel.spared == [] and sel.undated == []


def test_keep_last_zero_and_larger_than_the_tag_count():
    tags = [tag('a', 1), tag('b', 2)]
    assert names(r.select(tags, rule(keep_last=0), NOW).deleted) == ['a', 'b']
    assert names(r.select(tags, rule(keep_last=5), NOW).deleted) == []  # negative control
    assert r.select([], rule(keep_last=0), NOW) == r.Selection([], [], [], [])


def test_ties_are_broken_by_tag_name():
    tags = [tag('c', 1), tag('a', 1), tag('b', 1), tag('z', 0)]
    sel = r.select(tags, rule(keep_last=2), NOW)
    assert names(sel.kept) == ['a', 'z']
    assert names(sel.deleted) == ['b', 'c']
    assert r.select(list(reversed(tags)), rule(keep_last=2), NOW) == sel  # input order plays no part
    assert names(r.ranked(tags)) == ['z', 'a', 'b', 'c']


def test_keep_tags_protect_and_take_no_keep_last_place():
    tags = [tag('latest', 0), tag('v1.0', 50), tag('v2.0', 40), tag('b1', 1), tag('b2', 2), tag('b3', 3)]
    sel = r.select(tags, rule(keep_last=2, keep_tags=['latest', 'v*']), NOW)
    assert names(sel.kept) == ['b1', 'b2', 'latest', 'v1.0', 'v2.0']
    assert names(sel.deleted) == ['b3']
    sel = r.select(tags, rule(keep_last=2), NOW)  # control: without protection they are ranked like the rest
    assert names(sel.deleted) == ['b2', 'b3', 'v1.0', 'v2.0']


def test_keep_tags_globs():
    tags = [tag('release-1', 10), tag('Release-2', 10), tag('rc1', 10), tag('v1', 10)]
    sel = r.select(tags, rule(keep_last=0, keep_tags=['release-*', 'rc?']), NOW)
    assert names(sel.deleted) == ['Release-2', 'v1']  # case-sensitive


def test_older_than_alone():
    tags = [tag('new', 29), tag('edge', 30), tag('old', 31), tag('older', 365)]
    sel = r.select(tags, rule(older_than='30d'), NOW)
    assert names(sel.deleted) == ['old', 'older']
    assert names(sel.kept) == ['edge', 'new']  # exactly 30 days old is not older than 30d


def test_older_than_boundary_in_seconds():
    tags = [r.TagInfo('at', 'sha256:at', NOW - datetime.timedelta(seconds=60), r.MEDIA_MANIFEST, ()),
            r.TagInfo('past', 'sha256:past', NOW - datetime.timedelta(seconds=61), r.MEDIA_MANIFEST, ()),
            r.TagInfo('future', 'sha256:f', NOW + DAY, r.MEDIA_MANIFEST, ())]
    assert names(r.select(tags, rule(older_than='1m'), NOW).deleted) == ['past']


def test_keep_last_and_older_than_combine():
    """Deleted only when outside the newest N AND older than the age."""
    tags = [tag('b%02d' % age, age) for age in (1, 5, 10, 20, 40, 60)]
    sel = r.select(tags, rule(keep_last=2, older_than='15d'), NOW)
    assert names(sel.kept) == ['b01', 'b05', 'b10']  # b01, b05 newest two; b10 young enough
    assert names(sel.deleted) == ['b20', 'b40', 'b60']
    sel = r.select(tags, rule(keep_last=5, older_than='15d'), NOW)
    assert names(sel.deleted) == ['b60']  # old, but b40 is among the newest 5
    sel = r.select(tags, rule(keep_last=0, older_than='100d'), NOW)
    assert names(sel.deleted) == []  # nothing that old


def test_the_fake_clock_decides_age():
    tags = [tag('b', 10)]
    assert names(r.select(tags, rule(older_than='15d'), NOW).deleted) == []
    assert names(r.select(tags, rule(older_than='15d'), NOW + 6 * DAY).deleted) == ['b']


def test_undated_tags_are_kept_and_take_no_place():
    tags = [tag('nodate', None), tag('b1', 1), tag('b2', 2), tag('b3', 3)]
    sel = r.select(tags, rule(keep_last=1, older_than='0s'), NOW)
    assert names(sel.undated) == ['nodate']
    assert names(sel.kept) == ['b1', 'nodate']
    assert names(sel.deleted) == ['b2', 'b3']
    assert names(r.select(tags, rule(keep_last=0, keep_tags=['nodate']), NOW).undated) == []  # protected first


def test_shared_digest_kept_when_one_tag_is_kept():
    tags = [tag('b1', 1), tag('b2', 2, digest='sha256:shared'), tag('stable', 2, digest='sha256:shared'),
            tag('b3', 3)]
    sel = r.select(tags, rule(keep_last=1, keep_tags=['stable']), NOW)
    assert names(sel.deleted) == ['b3']
    assert names(sel.spared) == ['b2']
    assert names(sel.kept) == ['b1', 'b2', 'stable']


def test_shared_digest_deleted_with_all_its_tags():
    tags = [tag('b1', 1), tag('b2', 2, digest='sha256:shared'), tag('alias', 2, digest='sha256:shared')]
    sel = r.select(tags, rule(keep_last=1), NOW)
    assert names(sel.deleted) == ['alias', 'b2']
    assert r.digests_in_order(sel.deleted) == ['sha256:shared']
    assert sel.spared == []


def test_shared_digest_spared_by_ranking_tie():
    """Two tags on one digest have the same time; keep_last=1 keeps the first by name, the other is spared."""
    tags = [tag('1', 5, digest='sha256:d'), tag('stable', 5, digest='sha256:d'), tag('old', 9)]
    sel = r.select(tags, rule(keep_last=1), NOW)
    assert names(sel.deleted) == ['old']
    assert names(sel.spared) == ['stable']


def test_platform_manifest_of_a_kept_index_is_spared():
    tags = [tag('multi', 2, digest='sha256:index', children=['sha256:amd64', 'sha256:arm64']),
            tag('amd64-only', 40, digest='sha256:amd64'),
            tag('other', 30, digest='sha256:other')]
    sel = r.select(tags, rule(keep_last=1), NOW)
    assert names(sel.deleted) == ['other']
    assert names(sel.spared) == ['amd64-only']
    sel = r.select(tags, rule(keep_last=0), NOW)  # control: the index goes too, so nothing needs its platform
    assert names(sel.deleted) == ['amd64-only', 'multi', 'other']
    assert sel.spared == []


def test_summarize_and_apply_order():
    rules = r.parse_rules([{'repository': 'a', 'keep_last': 1}, {'repository': 'b', 'keep_last': 0}])
    planned = [
        ('a', rules[0], r.select([tag('x', 1), tag('y', 2, 'sha256:s'), tag('z', 2, 'sha256:s')], rules[0], NOW)),
        ('b', rules[1], r.select([], rules[1], NOW)),
    ]
    result = r.summarize(planned)
    assert result['changed'] is True
    assert result['deleted'] == [{'repository': 'a', 'tag': 'y', 'digest': 'sha256:s'},
                                 {'repository': 'a', 'tag': 'z', 'digest': 'sha256:s'}]
    assert result['repositories'] == [{'repository': 'a', 'rule': 0, 'tags': 3, 'kept': 1, 'deleted': 2},
                                      {'repository': 'b', 'rule': 1, 'tags': 0, 'kept': 0, 'deleted': 0}]
    assert result['diff'] == {'before': {'a': ['x', 'y', 'z']}, 'after': {'a': ['x']}}

    class Recorder(object):
        def __init__(self, fail_on=None):
            self.calls, self.fail_on = [], fail_on

        def delete(self, repository, digest):
            if digest == self.fail_on:
                raise r.RetentionError('refused')
            self.calls.append((repository, digest))

    recorder = Recorder()
    assert r.apply(recorder, planned) == result['deleted']
    assert recorder.calls == [('a', 'sha256:s')]  # one DELETE per digest
    with pytest.raises(r.RetentionError) as exc:
        r.apply(Recorder(fail_on='sha256:s'), planned)
    assert exc.value.deleted == []


def test_nothing_to_delete_is_no_change():
    rules = r.parse_rules([{'repository': 'a', 'keep_last': 5}])
    result = r.summarize([('a', rules[0], r.select([tag('x', 1)], rules[0], NOW))])
    assert result['changed'] is False and result['deleted'] == []
    assert result['diff'] == {'before': {}, 'after': {}}


def test_delete_refused_message_names_the_setting():
    from ansible_collections.dockyard.registry.plugins.module_utils._health import Response
    resp = Response(status=405, body=b'{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}')
    msg = r.delete_refused_message('ci/app', 'sha256:abc', resp)
    assert 'HTTP 405 (UNSUPPORTED: The operation is unsupported.)' in msg
    assert 'storage.delete.enabled' in msg and 'registry_delete_enabled: true' in msg
