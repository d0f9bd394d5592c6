# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""What a registry holds, as a client sees it, and whether it all still answers. Private.

Lists every tag of every repository (``_retention.Retention``'s catalog and tag listing), fetches
each tag's manifest and the manifests an index references, checks that each body hashes to its
digest, and asks for every blob they reference (config and layers) with HEAD, which must answer
200 with the same ``Docker-Content-Digest``. Used after garbage collection and after a restore.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

from urllib.parse import quote

from ansible_collections.dockyard.registry.plugins.module_utils._health import describe_response, sha256_digest
from ansible_collections.dockyard.registry.plugins.module_utils._retention import (
    INDEX_TYPES, MANIFEST_ACCEPT, MAX_INDEX_DEPTH, Retention, RetentionError, manifest_kind)


def _document(body):
    try:
        data = json.loads(body.decode('utf-8'))
    except (ValueError, UnicodeError):
        return None
    return data if isinstance(data, dict) else None


def referenced(document):
    """(child manifest digests, blob digests) a manifest document references."""
    children, blobs = [], []
    if not isinstance(document, dict):
        return children, blobs
    for child in document.get('manifests') or []:
        if isinstance(child, dict) and child.get('digest'):
            children.append(child['digest'])
    config = document.get('config')
    if isinstance(config, dict) and config.get('digest'):
        blobs.append(config['digest'])
    for layer in document.get('layers') or []:
        if isinstance(layer, dict) and layer.get('digest'):
            blobs.append(layer['digest'])
    return children, blobs


def compare(expected, found):
    """Problems: tags of ``expected`` ({repository, tag, digest}) missing from ``found`` or with another digest."""
    now = dict(((item['repository'], item['tag']), item['digest']) for item in found)
    problems = []
    for item in expected:
        key = (item['repository'], item['tag'])
        if key not in now:
            problems.append('%s:%s (%s) is gone' % (item['repository'], item['tag'], item['digest']))
        elif now[key] != item['digest']:
            problems.append('%s:%s answers %s instead of %s' % (item['repository'], item['tag'], now[key], item['digest']))
    return problems


class Inventory(object):
    """Reads a registry through ``client`` (a _health.RegistryClient)."""

    def __init__(self, client, page_size, username=None):
        self.client = client
        self.listing = Retention(client, page_size, username)
        self.problems = []
        self.blobs_checked = set()
        self.manifests_checked = set()

    def _manifest(self, repository, reference, depth):
        what = '%s@%s' % (repository, reference) if reference.startswith('sha256:') else '%s:%s' % (repository, reference)
        resp = self.listing._call('GET', '/v2/%s/manifests/%s' % (repository, quote(reference, safe=':')),
                                  headers={'Accept': MANIFEST_ACCEPT})
        if resp.status != 200:
            self.problems.append('manifest %s answered %s' % (what, describe_response(resp)))
            return None
        digest = resp.headers.get('Docker-Content-Digest') or ''
        actual = sha256_digest(resp.body)
        if digest != actual or (reference.startswith('sha256:') and reference != actual):
            self.problems.append('manifest %s: the body hashes to %s, the registry says %s' % (what, actual, digest))
        self.manifests_checked.add((repository, actual))
        document = _document(resp.body)
        children, blobs = referenced(document)
        kind = manifest_kind((resp.headers.get('Content-Type') or '').split(';')[0], document or {})
        if kind == 'index' or (document or {}).get('mediaType') in INDEX_TYPES:
            if depth < MAX_INDEX_DEPTH:
                for child in children:
                    if (repository, child) not in self.manifests_checked:
                        self._manifest(repository, child, depth + 1)
        for blob in blobs:
            self._blob(repository, blob)
        return actual

    def _blob(self, repository, digest):
        if (repository, digest) in self.blobs_checked:
            return
        self.blobs_checked.add((repository, digest))
        resp = self.listing._call('HEAD', '/v2/%s/blobs/%s' % (repository, digest))
        if resp.status != 200:
            self.problems.append('blob %s of %s answered %s' % (digest, repository, describe_response(resp)))
        elif resp.headers.get('Docker-Content-Digest') not in (None, digest):
            self.problems.append('blob %s of %s answers as %s'
                                 % (digest, repository, resp.headers.get('Docker-Content-Digest')))

    def read(self):
        """[{repository, tag, digest}] of every tag; problems collected in self.problems."""
        tags = []
        for repository in self.listing.catalog():
            for tag in self.listing.tags(repository):
                digest = self._manifest(repository, tag, 0)
                if digest:
                    tags.append({'repository': repository, 'tag': tag, 'digest': digest})
        return tags


__all__ = ['Inventory', 'RetentionError', 'compare', 'referenced']
