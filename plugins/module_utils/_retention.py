# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Tag retention over the registry's HTTP API. Private: not a public API of the collection.

The selection (which tags a rule keeps, which digests may be deleted) is made of pure functions
that take the time as an argument, so it is unit-tested with a fixed clock and no registry. The
``Retention`` class reads the catalog, tags, manifests and image configs through the one HTTP
client of the collection (``_health.RegistryClient``: Ansible's ``urls.Request``, verified TLS,
Basic auth only to the registry's own origin) and deletes manifests by digest.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import datetime
import fnmatch
import json
import re

from urllib.parse import quote

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.dockyard.registry.plugins.module_utils._health import (
    MEDIA_MANIFEST,
    HealthError,
    describe_response,
    parse_next_link,
    sha256_digest,
    validate_connection,
)

USER_AGENT = 'dockyard.registry.registry_retention'
MEDIA_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json'
MEDIA_OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json'
MEDIA_OCI_INDEX = 'application/vnd.oci.image.index.v1+json'
MANIFEST_ACCEPT = ', '.join([MEDIA_MANIFEST, MEDIA_MANIFEST_LIST, MEDIA_OCI_MANIFEST, MEDIA_OCI_INDEX])
IMAGE_TYPES = (MEDIA_MANIFEST, MEDIA_OCI_MANIFEST)
INDEX_TYPES = (MEDIA_MANIFEST_LIST, MEDIA_OCI_INDEX)

AGE_UNITS = collections.OrderedDict([('s', 1), ('m', 60), ('h', 3600), ('d', 86400), ('w', 604800)])
RULE_KEYS = ('repository', 'keep_last', 'keep_tags', 'older_than')
MAX_PAGES = 10000
MAX_INDEX_DEPTH = 2

_AGE_RE = re.compile(r'^([0-9]+)([smhdw])$')
_CREATED_RE = re.compile(r'^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|z|[+-]\d{2}:\d{2})$')


class RetentionError(Exception):
    """Options that cannot be used, or a registry answer that stops the run. The message names the
    option or the request, never a secret."""


Rule = collections.namedtuple('Rule', 'index repository keep_last keep_tags older_than older_than_text')

# One tag as resolved: ``created`` is an aware datetime or None (undated); ``children`` holds the
# digests of the manifests an index or manifest list references (empty for an image).
TagInfo = collections.namedtuple('TagInfo', 'tag digest created media_type children')

Selection = collections.namedtuple('Selection', 'kept deleted spared undated')


# ---------------------------------------------------------------- parameters (pure)

def parse_age(value, name='older_than'):
    """Seconds of an age like ``30d``: a whole number and one unit of s, m, h, d, w."""
    text = value.strip() if isinstance(value, str) else value
    match = _AGE_RE.match(text) if isinstance(text, str) else None
    if not match:
        raise RetentionError('%s %r is not an age: expected a whole number and one unit of %s (for example 30d, '
                             '12h, 2w)' % (name, value, ', '.join(AGE_UNITS)))
    return int(match.group(1)) * AGE_UNITS[match.group(2)]


def _glob(value, name):
    if not isinstance(value, str) or not value:
        raise RetentionError('%s must be a non-empty string (a glob such as v* or ci/*), got %r of type %s'
                             % (name, value, type(value).__name__))
    return value


def parse_rules(rules):
    """Check every rule and return a list of Rule; raise RetentionError on the first bad one.
    Runs before any request, so bad input touches nothing."""
    if not isinstance(rules, list) or not rules:
        raise RetentionError('rules must be a non-empty list of {repository, keep_last, keep_tags, older_than}, '
                             'got %r' % (rules,))
    parsed = []
    for index, rule in enumerate(rules):
        name = 'rules[%d]' % index
        if not isinstance(rule, dict):
            raise RetentionError('%s must be a dict with the keys %s, got %r' % (name, ', '.join(RULE_KEYS), rule))
        unknown = sorted(set(rule) - set(RULE_KEYS))
        if unknown:
            raise RetentionError('%s has unknown key(s) %s; allowed: %s' % (name, ', '.join(unknown), ', '.join(RULE_KEYS)))
        repository = _glob(rule.get('repository'), '%s.repository' % name)
        keep_last = rule.get('keep_last')
        if keep_last is not None and (isinstance(keep_last, bool) or not isinstance(keep_last, int) or keep_last < 0):
            raise RetentionError('%s.keep_last must be a whole number 0 or more, got %r' % (name, keep_last))
        keep_tags = rule.get('keep_tags')
        if keep_tags is None:
            keep_tags = []
        if not isinstance(keep_tags, list):
            raise RetentionError('%s.keep_tags must be a list of tag globs, got %r of type %s'
                                 % (name, keep_tags, type(keep_tags).__name__))
        keep_tags = tuple(_glob(glob, '%s.keep_tags[%d]' % (name, pos)) for pos, glob in enumerate(keep_tags))
        older_than_text = rule.get('older_than')
        older_than = None
        if older_than_text is not None:
            older_than = parse_age(older_than_text, '%s.older_than' % name)
        if keep_last is None and older_than is None:
            raise RetentionError('%s (repository %r) needs keep_last, older_than or both; without them every tag '
                                 'not matched by keep_tags would be deleted (use keep_last: 0 to mean that)'
                                 % (name, repository))
        parsed.append(Rule(index, repository, keep_last, keep_tags, older_than, older_than_text))
    return parsed


def validate_params(params):
    """Check every option before anything is requested. Return (Target, [Rule])."""
    rules = parse_rules(params['rules'])
    try:
        target = validate_connection(params['url'], params['server_name'], params['ca_path'])
    except HealthError as exc:
        raise RetentionError(str(exc))
    if params['request_timeout'] <= 0:
        raise RetentionError('request_timeout must be more than 0 seconds, got %r' % (params['request_timeout'],))
    if params['page_size'] < 1:
        raise RetentionError('page_size must be 1 or more, got %r' % (params['page_size'],))
    return target, rules


# ---------------------------------------------------------------- selection (pure)

def match_rule(repository, rules):
    """The first rule whose repository glob matches the whole name (``*`` also matches ``/``), or None."""
    for rule in rules:
        if fnmatch.fnmatchcase(repository, rule.repository):
            return rule
    return None


def parse_created(value):
    """An RFC 3339 time (as in an image config's ``created``, nanoseconds allowed) as an aware
    datetime in UTC, or None when it is missing or not such a time."""
    match = _CREATED_RE.match(value) if isinstance(value, str) else None
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or '0')[:6].ljust(6, '0'))
    if zone in ('Z', 'z'):
        offset = datetime.timedelta(0)
    else:
        sign = -1 if zone[0] == '-' else 1
        offset = sign * datetime.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    try:
        moment = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro,
                                   tzinfo=datetime.timezone(offset))
    except ValueError:
        return None
    return moment.astimezone(datetime.timezone.utc)


def newest(times):
    """The newest of the known times, or None when none is known."""
    known = [moment for moment in times if moment is not None]
    return max(known) if known else None


def manifest_kind(media_type, document):
    """'image', 'index' or None (a type this module cannot date, e.g. schema 1)."""
    media_type = (document.get('mediaType') if isinstance(document, dict) else None) or media_type
    media_type = (media_type or '').split(';')[0].strip()
    if media_type in INDEX_TYPES or (not media_type and isinstance(document, dict) and 'manifests' in document):
        return 'index'
    if media_type in IMAGE_TYPES or (not media_type and isinstance(document, dict) and 'config' in document):
        return 'image'
    return None


def ranked(tags):
    """Newest first by creation time; equal times in tag name order."""
    return sorted(sorted(tags, key=lambda t: t.tag), key=lambda t: t.created, reverse=True)


def is_protected(tag, rule):
    return any(fnmatch.fnmatchcase(tag, glob) for glob in rule.keep_tags)


def select(tags, rule, now):
    """Apply one rule to the resolved tags of one repository. Return a Selection of TagInfo lists.

    - A tag matching a keep_tags glob is kept (protected).
    - A tag without a readable creation time is kept (undated) and takes no keep_last place.
    - The other tags are ranked newest first (ties by tag name); the first keep_last are kept.
    - The rest are candidates; with older_than, only those created more than older_than seconds
      before ``now`` (strictly) stay candidates, the younger ones are kept.
    - A candidate is deleted only when no kept tag points to its digest, neither directly nor as a
      platform manifest of a kept index (deleting a digest removes every tag on it); otherwise
      it is spared.
    """
    protected, undated, dated = [], [], []
    for info in tags:
        if is_protected(info.tag, rule):
            protected.append(info)
        elif info.created is None:
            undated.append(info)
        else:
            dated.append(info)
    order = ranked(dated)
    if rule.keep_last is None:
        newest_kept, rest = [], order
    else:
        newest_kept, rest = order[:rule.keep_last], order[rule.keep_last:]
    candidates, young = [], []
    for info in rest:
        if rule.older_than is None or (now - info.created).total_seconds() > rule.older_than:
            candidates.append(info)
        else:
            young.append(info)
    kept = protected + undated + newest_kept + young
    kept_digests = set()
    for info in kept:
        kept_digests.add(info.digest)
        kept_digests.update(info.children)
    deleted = [info for info in candidates if info.digest not in kept_digests]
    spared = [info for info in candidates if info.digest in kept_digests]
    return Selection(by_tag(kept + spared), by_tag(deleted), by_tag(spared), by_tag(undated))


def by_tag(infos):
    return sorted(infos, key=lambda info: info.tag)


def entry(repository, info):
    return {'repository': repository, 'tag': info.tag, 'digest': info.digest}


def digests_in_order(infos):
    seen = []
    for info in infos:
        if info.digest not in seen:
            seen.append(info.digest)
    return seen


def delete_refused_message(repository, digest, resp):
    return ('DELETE /v2/%s/manifests/%s answered %s: deletes are disabled on the registry. Enable them with '
            'storage.delete.enabled: true in its configuration (role dockyard.registry.registry: '
            'registry_delete_enabled: true) and run again' % (repository, digest, describe_response(resp)))


# ---------------------------------------------------------------- network

def _json(resp, what):
    try:
        return json.loads(to_text(resp.body, errors='surrogate_or_strict'))
    except (ValueError, UnicodeError):
        raise RetentionError('%s answered %s without a JSON body' % (what, resp.status))


class Retention(object):
    """Reads a registry through ``client`` (a _health.RegistryClient) and deletes by digest."""

    def __init__(self, client, page_size, username=None):
        self.client = client
        self.page_size = page_size
        self.username = username
        self._manifests = {}
        self._configs = {}
        self.warnings = []

    def _call(self, method, path, headers=None):
        resp = self.client.call(method, path, auth=True, headers=headers)
        if resp.status is None:
            raise RetentionError(resp.error)
        if resp.status == 401:
            who = 'credentials of user %r rejected' % self.username if self.username else \
                'the registry needs credentials (username and password)'
            raise RetentionError('%s: %s %s answered %s' % (who, method, path.split('?')[0], describe_response(resp)))
        return resp

    def _paged(self, path, key, missing_ok=False):
        url = '%s?n=%d' % (path, self.page_size)
        items, seen = [], set()
        while url:
            if url in seen or len(seen) >= MAX_PAGES:
                raise RetentionError('GET %s: the registry keeps sending the next page %r' % (path, url))
            seen.add(url)
            resp = self._call('GET', url)
            if resp.status == 404 and missing_ok:
                return items
            if resp.status != 200:
                raise RetentionError('GET %s expected 200, got %s' % (path, describe_response(resp)))
            page = _json(resp, 'GET %s' % path)
            values = page.get(key) if isinstance(page, dict) else None
            if values is None and isinstance(page, dict) and key in page:
                values = []  # tags: null after the last tag of a repository was deleted
            if not isinstance(values, list):
                raise RetentionError('GET %s answered 200 without a JSON {"%s": [...]} body' % (path, key))
            items.extend(values)
            url = parse_next_link(resp.headers.get('Link'))
        return items

    def catalog(self):
        return sorted(set(self._paged('/v2/_catalog', 'repositories')))

    def tags(self, repository):
        return sorted(set(self._paged('/v2/%s/tags/list' % repository, 'tags', missing_ok=True)))

    def _config_created(self, repository, digest):
        key = (repository, digest)
        if key not in self._configs:
            resp = self._call('GET', '/v2/%s/blobs/%s' % (repository, digest))
            if resp.status != 200:
                raise RetentionError('GET config blob %s of %s expected 200, got %s'
                                     % (digest, repository, describe_response(resp)))
            config = _json(resp, 'GET config blob %s of %s' % (digest, repository))
            self._configs[key] = parse_created(config.get('created') if isinstance(config, dict) else None)
        return self._configs[key]

    def _manifest(self, repository, reference, depth=0):
        """(digest, created, media type, children) of a manifest by tag or digest; None when absent."""
        cached = self._manifests.get((repository, reference))
        if cached is not None:
            return cached
        what = 'GET /v2/%s/manifests/%s' % (repository, reference)
        resp = self._call('GET', '/v2/%s/manifests/%s' % (repository, quote(reference, safe=':')),
                          headers={'Accept': MANIFEST_ACCEPT})
        if resp.status == 404:
            return None
        if resp.status != 200:
            raise RetentionError('%s expected 200, got %s' % (what, describe_response(resp)))
        digest = resp.headers.get('Docker-Content-Digest') or sha256_digest(resp.body)
        document = _json(resp, what)
        media_type = resp.headers.get('Content-Type')
        kind = manifest_kind(media_type, document)
        created, children = None, ()
        if kind == 'image':
            config = document.get('config') or {}
            if config.get('digest'):
                created = self._config_created(repository, config['digest'])
        elif kind == 'index' and depth < MAX_INDEX_DEPTH:
            children = tuple(child['digest'] for child in document.get('manifests') or []
                             if isinstance(child, dict) and child.get('digest'))
            times = []
            for child in children:
                resolved = self._manifest(repository, child, depth + 1)
                times.append(resolved[1] if resolved else None)
            created = newest(times)
        result = (digest, created, (document.get('mediaType') or media_type or '').split(';')[0], children)
        self._manifests[(repository, reference)] = result
        self._manifests[(repository, digest)] = result
        return result

    def resolve(self, repository, tag):
        """TagInfo of one tag, or None when the tag vanished since it was listed."""
        resolved = self._manifest(repository, tag)
        if resolved is None:
            self.warnings.append('%s:%s was listed but its manifest answered 404; skipped' % (repository, tag))
            return None
        digest, created, media_type, children = resolved
        return TagInfo(tag, digest, created, media_type, children)

    def delete(self, repository, digest):
        resp = self._call('DELETE', '/v2/%s/manifests/%s' % (repository, digest))
        if resp.status == 405:
            raise RetentionError(delete_refused_message(repository, digest, resp))
        if resp.status not in (202, 404):  # 404: already gone (another run or a UI delete)
            raise RetentionError('DELETE /v2/%s/manifests/%s expected 202, got %s'
                                 % (repository, digest, describe_response(resp)))


def plan(retention, rules, now):
    """Read the registry and apply the rules. Return a list of (repository, rule, Selection)."""
    planned = []
    for repository in retention.catalog():
        rule = match_rule(repository, rules)
        if rule is None:
            continue
        infos = [info for info in (retention.resolve(repository, tag) for tag in retention.tags(repository)) if info]
        planned.append((repository, rule, select(infos, rule, now)))
    return planned


def summarize(planned):
    """The result keys computed from the plan (before anything is deleted)."""
    result = {'deleted': [], 'spared': [], 'undated': [], 'repositories': []}
    before, after = {}, {}
    for repository, rule, selection in planned:
        result['deleted'].extend(entry(repository, info) for info in selection.deleted)
        result['spared'].extend(entry(repository, info) for info in selection.spared)
        result['undated'].extend(entry(repository, info) for info in selection.undated)
        result['repositories'].append({
            'repository': repository, 'rule': rule.index,
            'tags': len(selection.kept) + len(selection.deleted),
            'kept': len(selection.kept), 'deleted': len(selection.deleted)})
        if selection.deleted:
            before[repository] = sorted(info.tag for info in selection.kept + selection.deleted)
            after[repository] = [info.tag for info in selection.kept]
    result['changed'] = bool(result['deleted'])
    result['diff'] = {'before': before, 'after': after}
    return result


def apply(retention, planned):
    """Delete every planned digest once. Return the {repository, tag, digest} entries actually
    deleted; on a failure, RetentionError carries them as ``deleted``."""
    done = []
    for repository, dummy, selection in planned:
        for digest in digests_in_order(selection.deleted):
            try:
                retention.delete(repository, digest)
            except RetentionError as exc:
                exc.deleted = done
                raise
            done.extend(entry(repository, info) for info in selection.deleted if info.digest == digest)
    return done
