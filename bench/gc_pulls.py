# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Part of bench/gc: deletes every second tag, then pulls in a loop before, during and after
`registry-maintenance.sh gc` and prints the read-only window and the pull latencies (see bench/gc)."""

from __future__ import absolute_import, division, print_function

import argparse
import base64
import hashlib
import json
import re
import ssl
import statistics
import subprocess
import threading
import time
import urllib.request

ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json'


def main():
    parser = argparse.ArgumentParser()
    for name in ('url', 'ca', 'user', 'password-file', 'script'):
        parser.add_argument('--' + name, required=True)
    parser.add_argument('--images', type=int, default=20)
    parser.add_argument('--data', required=True, help='data/ of the registry on this host')
    parser.add_argument('--threads', type=int, default=4, help='concurrent pull loops')
    parser.add_argument('--outside', type=float, default=8.0, help='seconds of pulls before and after')
    args = parser.parse_args()
    with open(args.password_file) as handle:
        password = handle.read()
    context = ssl.create_default_context(cafile=args.ca)
    auth = 'Basic ' + base64.b64encode(('%s:%s' % (args.user, password)).encode()).decode()

    def call(method, path, accept=None):
        request = urllib.request.Request(args.url + path, method=method, headers={'Authorization': auth})
        if accept:
            request.add_header('Accept', accept)
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.headers, answer.read()

    for number in range(2, args.images + 1, 2):
        headers, dummy = call('GET', '/v2/bench/gc/manifests/%d' % number, ACCEPT)
        call('DELETE', '/v2/bench/gc/manifests/%s' % headers['Docker-Content-Digest'])
    kept = list(range(1, args.images + 1, 2))

    def pull_once(tag):
        dummy, body = call('GET', '/v2/bench/gc/manifests/%d' % tag, ACCEPT)
        document = json.loads(body)
        for digest in [document['config']['digest']] + [layer['digest'] for layer in document['layers']]:
            dummy, data = call('GET', '/v2/bench/gc/blobs/' + digest)
            if 'sha256:' + hashlib.sha256(data).hexdigest() != digest:
                raise ValueError('blob %s differs' % digest)

    def pulling(action):
        """Pull in args.threads loops while action() runs (or for args.outside seconds when action is
        None); (action's result, [(seconds, error)])."""
        pulls, stop = [], threading.Event()

        def loop(offset):
            index = offset
            while not stop.is_set():
                start = time.monotonic()
                try:
                    pull_once(kept[index % len(kept)])
                    error = None
                except Exception as exc:  # pylint: disable=broad-except
                    error = repr(exc)
                index += 1
                pulls.append((time.monotonic() - start, error))
        threads = [threading.Thread(target=loop, args=(number,), daemon=True) for number in range(args.threads)]
        for thread in threads:
            thread.start()
        result = action() if action else time.sleep(args.outside)
        stop.set()
        for thread in threads:
            thread.join(30)
        return result, pulls

    def script(*words):
        start = time.monotonic()
        proc = subprocess.run([args.script] + list(words), capture_output=True, text=True, timeout=600, check=False)
        if proc.returncode != 0:
            raise SystemExit('registry-maintenance.sh %s failed:\n%s\n%s'
                             % (' '.join(words), proc.stdout[-3000:], proc.stderr[-3000:]))
        return time.monotonic() - start, proc.stdout

    def bytes_of_data():
        return int(subprocess.run(['du', '-sb', args.data], capture_output=True, text=True, check=True).stdout.split()[0])

    dummy, before = pulling(None)
    data_before = bytes_of_data()
    to_ro, dummy = script('readonly')
    (gc_time, gc_out), during = pulling(lambda: script('collect'))
    to_rw, dummy = script('readwrite')
    data_after = bytes_of_data()
    dummy, after = pulling(None)
    outside = before + after

    def stats(group):
        times = sorted(seconds * 1000 for seconds, error in group if error is None)
        if not times:
            return 'n/a', 'n/a'
        return '%.1f' % statistics.median(times), '%.1f' % times[min(len(times) - 1, int(len(times) * 0.95))]

    def ratio(a, b):
        return '%.2f' % (float(a) / float(b)) if 'n/a' not in (a, b) and float(b) else 'n/a'

    eligible = re.search(r'(\d+) blobs and (\d+) manifests eligible', gc_out)
    print('\nbench/gc (one run; %d images pushed, %d deleted; %d concurrent pull loops over the API, each blob'
          ' hashed)' % (args.images, args.images // 2, args.threads))
    print('%-46s %10s' % ('read-only window, total (s)', '%.2f' % (to_ro + gc_time + to_rw)))
    print('%-46s %10s' % ('  switch to read-only (restart until serving)', '%.2f' % to_ro))
    print('%-46s %10s' % ('  garbage-collect, one-off container', '%.2f' % gc_time))
    print('%-46s %10s' % ('  switch back to read-write', '%.2f' % to_rw))
    print('%-46s %10s' % ('blobs removed', eligible.group(1) if eligible else '?'))
    print('%-46s %10s' % ('bytes freed in data/', data_before - data_after))
    out_med, out_p95 = stats(outside)
    in_med, in_p95 = stats(during)
    print('\n%-38s %8s %8s %12s %12s' % ('pulls', 'count', 'failed', 'median ms', 'p95 ms'))
    for label, group, med, p95 in (('read-write, before and after (baseline)', outside, out_med, out_p95),
                                   ('read-only, during garbage-collect', during, in_med, in_p95)):
        print('%-38s %8d %8d %12s %12s' % (label, len(group), sum(1 for p in group if p[1]), med, p95))
    print('\nratio during GC / baseline: median %s, p95 %s' % (ratio(in_med, out_med), ratio(in_p95, out_p95)))
    print('target: no failed pull during garbage-collect; median ratio <= 1.5. The two switches restart the'
          ' registry: pulls fail for their length.')


if __name__ == '__main__':
    main()
