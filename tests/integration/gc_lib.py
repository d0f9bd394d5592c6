# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers of the garbage collection tests: images that share layers, and a pull loop over the
registry API that shows pulls kept working meanwhile.

    tag = build_from(docker, workdir, 'dockyard-test/hello:1', 'a', 'dockyard-test/gc')
    puller = ApiPuller('https://localhost:5000', ca_path, ('admin', 'secret'), 'gc/app', 'a')
    puller.start(); ...; puller.stop.set(); puller.join(30)
    puller.pulls    [(start, end, error or None), ...] (time.monotonic())
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import hashlib
import json
import os
import shutil
import ssl
import threading
import time
import urllib.request
import uuid

ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json'


def build_from(docker, workdir, base, name, prefix):
    """docker build of an image FROM base plus one layer of its own (a small random file);
    its tag, prefix-<name>-<random>:1 (the caller removes it). docker: a function running the
    docker CLI (args, check=, timeout=)."""
    ctx = os.path.join(str(workdir), 'ctx-%s-%s' % (name, uuid.uuid4().hex[:8]))
    os.makedirs(ctx)
    with open(os.path.join(ctx, 'extra.txt'), 'w') as handle:
        handle.write('%s %s\n' % (name, os.urandom(8).hex()))
    with open(os.path.join(ctx, 'Dockerfile'), 'w') as handle:
        handle.write('FROM %s\nCOPY extra.txt /extra-%s.txt\n' % (base, name))
    tag = '%s-%s-%s:1' % (prefix, name, uuid.uuid4().hex[:12])
    try:
        docker('build', '-q', '-t', tag, ctx, check=True, timeout=300)
    finally:
        shutil.rmtree(ctx)
    return tag


class ApiPuller(threading.Thread):
    """Pulls repository:tag (manifest, then every blob, each checked against its digest) in a loop
    until stopped; records (start, end, error or None) of each pull."""

    def __init__(self, base_url, ca, user, repository, tag, timeout=10):
        threading.Thread.__init__(self, daemon=True)
        self.base = base_url.rstrip('/')
        self.repository = repository
        self.tag = tag
        self.timeout = timeout
        self.stop = threading.Event()
        self.pulls = []
        self.context = ssl.create_default_context(cafile=ca)
        self.auth = 'Basic ' + base64.b64encode(('%s:%s' % tuple(user)).encode()).decode()

    def _get(self, path, accept=None):
        request = urllib.request.Request(self.base + path, headers={'Authorization': self.auth})
        if accept:
            request.add_header('Accept', accept)
        with urllib.request.urlopen(request, context=self.context, timeout=self.timeout) as answer:
            return answer.read()

    def pull_once(self):
        document = json.loads(self._get('/v2/%s/manifests/%s' % (self.repository, self.tag), ACCEPT))
        for digest in [document['config']['digest']] + [layer['digest'] for layer in document['layers']]:
            data = self._get('/v2/%s/blobs/%s' % (self.repository, digest))
            if 'sha256:' + hashlib.sha256(data).hexdigest() != digest:
                raise AssertionError('blob %s has other content' % digest)

    def run(self):
        while not self.stop.is_set():
            start = time.monotonic()
            try:
                self.pull_once()
                error = None
            except Exception as exc:  # pylint: disable=broad-except
                error = repr(exc)
            self.pulls.append((start, time.monotonic(), error))
