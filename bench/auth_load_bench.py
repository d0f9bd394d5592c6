# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/auth-load: what htpasswd (bcrypt) authentication costs a registry under load.

distribution checks the bcrypt hash of the Basic credentials on every request, and Docker clients
send them with every request. Two deployments of the role (playbooks/site.yml with
tests/integration/inventory/registry-only.yml, as tests/integration/roles_lib.Deployment does) on
the real engine, with the test bed's distribution 2.8 image, identical but for
registry_auth_enabled, serve the same content (one small image and one 10 MB blob). With `hey` at
concurrency 16 (--concurrency), for each --costs entry:

- the auth deployment's user (a 32-character random password) is set at that
  registry_htpasswd_cost (`default`: the variable is not set and the role's default applies; the
  cost read back from the htpasswd file is printed). Only the htpasswd file changes: the registry
  re-reads it, no restart;
- manifest GETs, then 10 MB blob GETs, each without auth then with auth, one after the other
  (--rounds times): each ratio auth/no-auth is taken from two runs a few seconds apart, so load
  from other programs on the machine hits both sides alike; medians over the rounds are printed;
- one manifest GET at a time (hey -c 1) with and without auth: the p50 difference is what one
  request waits for bcrypt.

For every run, the registry container's CPU time per response is read from its cgroup before and
after: unlike req/s it does not depend on what else runs on the machine, and its difference
between auth and no auth is one bcrypt verification by the registry. Also measured once: anonymous
GET /v2/ on the auth deployment (401, no bcrypt), and one bcrypt verification at each cost (Python
bcrypt, one core, best of repeated runs). hey gets the credentials as an `Authorization: Basic ...`
header (its -a is refused by distribution; /work/shared/TESTBED.md).

Prints req/s, p50/p99 and the ratios; asserts nothing about time. Exits non-zero only when a
deployment fails or a request gets another status than expected (e.g. 401 for an authenticated
GET), since the figures would then measure the wrong thing.
"""

from __future__ import absolute_import, division, print_function

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'tests', 'integration'))

import roles_lib  # noqa: E402  pylint: disable=wrong-import-position

MANIFEST_ACCEPT = 'application/vnd.docker.distribution.manifest.v2+json'
BLOB_REPOSITORY = 'dockyard-bench/blob'
BLOB_BYTES = 10 * 1024 * 1024
USER_PREFIX = 'bench-c'


def log(message):
    sys.stderr.write('==> %s\n' % message)
    sys.stderr.flush()


def fail(message):
    sys.stderr.write('bench/auth-load: ERROR: %s\n' % message)
    sys.exit(1)


# ---------------------------------------------------------------------------------------- hey

class Load(object):
    """One hey run: requests/s, p50 and p99 in seconds, responses by status, and the registry
    container's CPU time per response in seconds (None when the cgroup cannot be read)."""

    def __init__(self, label, rps, p50, p99, statuses, cpu=None):
        self.label = label
        self.rps = rps
        self.p50 = p50
        self.p99 = p99
        self.statuses = statuses
        self.cpu = cpu


def cpu_usage_reader(container):
    """A function returning the CPU time (seconds) the container has used so far, read from its
    cgroup (v1 cpuacct, or v2 cpu.stat), or None when neither can be read."""
    v1 = '/sys/fs/cgroup/cpuacct/docker/%s/cpuacct.usage' % container
    v2 = ['/sys/fs/cgroup/docker/%s/cpu.stat' % container,
          '/sys/fs/cgroup/system.slice/docker-%s.scope/cpu.stat' % container]
    if os.path.exists(v1):
        def read_v1():
            with open(v1) as handle:
                return int(handle.read()) / 1e9
        return read_v1
    for path in v2:
        if os.path.exists(path):
            def read_v2(path=path):
                with open(path) as handle:
                    return int(re.search(r'^usage_usec (\d+)', handle.read(), re.M).group(1)) / 1e6
            return read_v2
    return None


def percentile(values, fraction):
    """Nearest-rank percentile of sorted ``values``."""
    return values[max(0, min(len(values) - 1, int(-(-fraction * len(values) // 1)) - 1))]


def parse_hey_csv(output):
    """(requests/s, p50, p99, {status: count}) of hey's -o csv output (one line a response; hey
    leaves out requests that got no response at all, so they lower requests/s)."""
    lines = output.strip().splitlines()
    if not lines or not lines[0].startswith('response-time,'):
        return None, None, None, {}
    latencies, statuses, end = [], {}, 0.0
    for row in lines[1:]:
        fields = row.split(',')
        latency, status, offset = float(fields[0]), int(fields[6]), float(fields[7])
        latencies.append(latency)
        statuses[status] = statuses.get(status, 0) + 1
        end = max(end, offset + latency)
    if not latencies:
        return None, None, None, {}
    latencies.sort()
    return len(latencies) / end, percentile(latencies, 0.50), percentile(latencies, 0.99), statuses


def hey(label, url, seconds, concurrency, expect, headers=(), cpu=None):
    argv = ['hey', '-z', '%ds' % seconds, '-c', str(concurrency), '-t', '60', '-o', 'csv']
    for header in headers:
        argv += ['-H', header]
    argv.append(url)
    log('%s: hey -z %ds -c %d %s' % (label, seconds, concurrency, url))
    before = cpu() if cpu else None
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120, check=False)
    used = cpu() - before if cpu else None
    if proc.returncode != 0:
        fail('hey failed (rc=%d): %s' % (proc.returncode, (proc.stderr or proc.stdout)[-2000:]))
    rps, p50, p99, statuses = parse_hey_csv(proc.stdout)
    if rps is None or set(statuses) != set([expect]):
        fail('%s: expected only HTTP %d, got %r' % (label, expect, statuses))
    return Load(label, rps, p50, p99, statuses, used / statuses[expect] if cpu else None)


# ---------------------------------------------------------------------------------------- HTTP

def basic(user, password):
    return 'Basic ' + base64.b64encode(('%s:%s' % (user, password)).encode('utf-8')).decode('ascii')


def request(ctx, method, url, headers=None, data=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req, context=ctx, timeout=120) as response:  # noqa: S310 (loopback only)
        return response.status, dict(response.headers), response.read()


def push_blob(ctx, base_url, repository, blob, headers):
    """A monolithic blob upload (POST, then PUT ?digest=): the digest."""
    digest = 'sha256:' + hashlib.sha256(blob).hexdigest()
    status, reply, dummy = request(ctx, 'POST', '%s/v2/%s/blobs/uploads/' % (base_url, repository), headers, b'')
    if status != 202:
        fail('starting the blob upload answered %d' % status)
    location = urllib.parse.urljoin(base_url + '/', reply['Location'])
    location += ('&' if '?' in location else '?') + 'digest=' + urllib.parse.quote(digest)
    put_headers = dict(headers, **{'Content-Type': 'application/octet-stream', 'Content-Length': str(len(blob))})
    status, dummy, dummy = request(ctx, 'PUT', location, put_headers, blob)
    if status != 201:
        fail('finishing the blob upload answered %d' % status)
    return digest


# ---------------------------------------------------------------------------------------- bcrypt

def bcrypt_verify_seconds(cost, rounds=None):
    """The best time of one bcrypt.checkpw at ``cost`` over repeated runs (Python bcrypt, one
    thread): the closest to an idle core on a machine shared with other programs."""
    import bcrypt  # the project virtualenv's, as the htpasswd module uses
    password = secrets.token_urlsafe(24).encode('ascii')
    hashed = bcrypt.hashpw(password, bcrypt.gensalt(rounds=cost))
    rounds = rounds or max(3, min(50, 2 ** (14 - cost)))
    times = []
    for dummy in range(rounds):
        start = time.perf_counter()
        if not bcrypt.checkpw(password, hashed):
            fail('bcrypt.checkpw does not verify its own hash')
        times.append(time.perf_counter() - start)
    return min(times)


def htpasswd_cost(path, user):
    with open(path) as handle:
        for line in handle:
            name, sep, hashed = line.strip().partition(':')
            if sep and name == user:
                match = re.match(r'^\$2[aby]\$(\d\d)\$', hashed)
                if match:
                    return int(match.group(1))
    fail('%s holds no bcrypt entry for %s' % (path, user))
    return None


# ---------------------------------------------------------------------------------------- main

def parse_costs(text):
    costs = []
    for item in text.split(','):
        item = item.strip()
        if item == 'default':
            costs.append(None)
        elif item.isdigit() and 4 <= int(item) <= 31:
            costs.append(int(item))
        else:
            raise argparse.ArgumentTypeError('--costs: %r is not allowed; use a comma-separated list of bcrypt '
                                             'costs from 4 to 31, or "default" for the role default' % item)
    return costs


def cpu_ms(seconds):
    return '-' if seconds is None else '%.2f' % (seconds * 1000)


def ms(seconds):
    return '-' if seconds is None else '%.1f' % (seconds * 1000)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary(loads):
    """One Load of medians over rounds."""
    return Load(loads[0].label, median([x.rps for x in loads]), median([x.p50 for x in loads]),
                median([x.p99 for x in loads]), {}, median([x.cpu for x in loads]))


def deploy(dep, label, **overrides):
    log('deploying %s (%s) on port %d' % (dep.project, label, dep.port))
    result = dep.play(**overrides)
    if result.rc != 0:
        fail(result.describe())


def measure_cost(args, index, cost, auth_dep, urls, cpus):
    """Set the auth deployment's user at ``cost``, then measure both deployments in turn."""
    user = {'name': '%s%s-%d' % (USER_PREFIX, 'default' if cost is None else cost, index),
            'password': secrets.token_urlsafe(24)}
    overrides = dict(registry_users=[user], registry_users_exclusive=True)
    if cost is not None:
        overrides['registry_htpasswd_cost'] = cost
    deploy(auth_dep, 'auth, user %s, registry_htpasswd_cost %s' % (user['name'], cost or '(role default)'),
           **overrides)
    found = htpasswd_cost(os.path.join(auth_dep.base_dir, 'auth', 'htpasswd'), user['name'])
    label = 'cost %d%s' % (found, ' (default)' if cost is None else '')
    auth = 'Authorization: ' + basic(user['name'], user['password'])
    accept = 'Accept: ' + MANIFEST_ACCEPT
    runs = dict((key, []) for key in ('plain manifest', 'auth manifest', 'plain blob', 'auth blob'))
    ratios = dict(manifest=[], blob=[])
    for number in range(1, args.rounds + 1):
        for kind, headers in (('manifest', [accept]), ('blob', [])):
            what = 'manifest GETs' if kind == 'manifest' else '10 MB blob GETs'
            plain = hey('%s, round %d: no auth, %s' % (label, number, what), urls['plain ' + kind], args.seconds,
                        args.concurrency, 200, headers, cpus['plain'])
            authed = hey('%s, round %d: auth, %s' % (label, number, what), urls['auth ' + kind], args.seconds,
                         args.concurrency, 200, headers + [auth], cpus['auth'])
            runs['plain ' + kind].append(plain)
            runs['auth ' + kind].append(authed)
            ratios[kind].append(authed.rps / plain.rps)
    alone = max(2, args.seconds // 3)
    single_plain = hey('%s: no auth, one manifest GET at a time' % label, urls['plain manifest'], alone, 1, 200,
                       [accept])
    single_auth = hey('%s: auth, one manifest GET at a time' % label, urls['auth manifest'], alone, 1, 200,
                      [accept, auth])
    return dict(label=label, cost=found,
                loads=dict((key, summary(value)) for key, value in runs.items()),
                ratios=dict((key, median(value)) for key, value in ratios.items()),
                round_ratios=ratios, single_plain=single_plain, single_auth=single_auth,
                verify=bcrypt_verify_seconds(found))


def report(args, rows, anonymous):
    title = ('bench/auth-load: hey -z %ds -c %d, %d round(s); distribution %s (%s); two identical deployments, '
             'with and without auth, measured in turn')
    print('\n' + title % (args.seconds, args.concurrency, args.rounds, roles_lib.REGISTRY_VERSION,
                          roles_lib.REGISTRY_IMAGE))
    print('req/s ratio: auth/no-auth, median of the rounds; CPU ms/req: the registry container\'s CPU time per '
          'response (cgroup), which depends far less than req/s on load from other programs')
    line = '%-44s %9s %9s %9s %12s %12s %10s'
    print(line % ('', 'req/s', 'p50 ms', 'p99 ms', 'req/s ratio', 'CPU ms/req', 'CPU ratio'))
    print(line % ('anonymous GET /v2/ (401, no bcrypt)', '%.1f' % anonymous.rps, ms(anonymous.p50),
                  ms(anonymous.p99), '-', '-', '-'))
    for row in rows:
        for kind, what in (('manifest', 'manifest GET'), ('blob', '10 MB blob GET')):
            plain, authed = row['loads']['plain ' + kind], row['loads']['auth ' + kind]
            print(line % ('%s: no auth, %s' % (row['label'], what), '%.1f' % plain.rps, ms(plain.p50),
                          ms(plain.p99), '', cpu_ms(plain.cpu), ''))
            cpu_ratio = '%.2f' % (plain.cpu / authed.cpu) if plain.cpu and authed.cpu else '-'
            print(line % ('%s: auth, %s' % (row['label'], what), '%.1f' % authed.rps, ms(authed.p50),
                          ms(authed.p99), '%.2f' % row['ratios'][kind], cpu_ms(authed.cpu), cpu_ratio))
    print('\none request at a time (hey -c 1); one bcrypt verification by the registry (CPU ms/req auth minus no '
          'auth) and by Python bcrypt (one core, best of repeated runs)')
    line = '%-20s %22s %22s %20s %20s'
    print(line % ('', 'manifest p50 no auth', 'manifest p50 auth', 'registry bcrypt ms', 'Python bcrypt ms'))
    for row in rows:
        plain, authed = row['loads']['plain manifest'], row['loads']['auth manifest']
        print(line % (row['label'], ms(row['single_plain'].p50), ms(row['single_auth'].p50),
                      cpu_ms(authed.cpu - plain.cpu) if plain.cpu and authed.cpu else '-',
                      '%.2f' % (row['verify'] * 1000)))
    defaults = [row for row, cost in zip(rows, args.costs) if cost is None]
    if defaults:
        ratio = defaults[0]['ratios']['manifest']
        plain, authed = defaults[0]['loads']['plain manifest'], defaults[0]['loads']['auth manifest']
        cpu = ' (registry CPU ratio %.2f)' % (plain.cpu / authed.cpu) if plain.cpu and authed.cpu else ''
        print('target: with the role defaults, auth manifest GETs >= 0.50 x no auth: %.2f%s: %s'
              % (ratio, cpu, 'met' if ratio >= 0.5 else 'NOT met'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--seconds', type=int, default=10, help='duration of each hey run (default 10)')
    parser.add_argument('--concurrency', type=int, default=16, help='hey workers (default 16)')
    parser.add_argument('--rounds', type=int, default=1, help='no auth / auth pairs per cost (default 1)')
    parser.add_argument('--costs', type=parse_costs, default=[None],
                        help='registry_htpasswd_cost values to measure, comma-separated; "default" is the '
                             'role default (default: default)')
    parser.add_argument('--json', help='also write the figures to this file')
    parser.add_argument('--keep', action='store_true', help='keep the deployments and their directory')
    args = parser.parse_args()
    if args.seconds < 1 or args.concurrency < 1 or args.rounds < 1:
        parser.error('--seconds, --concurrency and --rounds must be at least 1')

    if shutil.which('hey') is None:
        fail('hey is not installed (Debian package hey): %s' % roles_lib.SETUP_HINT)
    for image in (roles_lib.REGISTRY_IMAGE, roles_lib.HELLO_IMAGE):
        if roles_lib.docker('image', 'inspect', image).returncode != 0:
            fail('image %s is missing: %s' % (image, roles_lib.SETUP_HINT))

    workdir = tempfile.mkdtemp(prefix='dockyard-bench-auth.')
    first = {'name': 'bench-admin', 'password': secrets.token_urlsafe(24)}
    plain_dep = roles_lib.Deployment(os.path.join(workdir, 'plain'), 'authload-plain', users=[first],
                                     registry_ui_enabled=False, registry_auth_enabled=False)
    auth_dep = roles_lib.Deployment(os.path.join(workdir, 'auth'), 'authload-auth', users=[first],
                                    registry_ui_enabled=False)
    made = [plain_dep, auth_dep]
    try:
        deploy(plain_dep, 'no auth')
        deploy(auth_dep, 'auth')
        log('pushing one small image and one %d MB blob to both' % (BLOB_BYTES // 1024 // 1024))
        tag, dummy = plain_dep.build_unique_image()
        blob = os.urandom(BLOB_BYTES)
        urls = {}
        for key, dep in (('plain', plain_dep), ('auth', auth_dep)):
            dep.trust()
            headers = {}
            if dep is auth_dep:
                proc = dep.login(*dep.admin)
                if proc.returncode != 0:
                    fail('docker login failed: %s' % proc.stderr)
                headers['Authorization'] = basic(*dep.admin)
            dep.image_tags.append(dep.image_ref)
            dep.docker_client('tag', tag, dep.image_ref, check=True)
            dep.docker_client('push', dep.image_ref, check=True, timeout=300)
            digest = push_blob(ssl.create_default_context(cafile=dep.ca), dep.registry_url, BLOB_REPOSITORY, blob,
                               headers)
            urls[key + ' manifest'] = '%s/v2/%s/manifests/%s' % (dep.registry_url, roles_lib.REPOSITORY, roles_lib.TAG)
            urls[key + ' blob'] = '%s/v2/%s/blobs/%s' % (dep.registry_url, BLOB_REPOSITORY, digest)
            urls[key + ' base'] = dep.registry_url

        hey('warm-up, not reported', urls['plain manifest'], 2, args.concurrency, 200, ['Accept: ' + MANIFEST_ACCEPT])
        anonymous = hey('anonymous GET /v2/ (401)', urls['auth base'] + '/v2/', args.seconds, args.concurrency, 401)
        cpus = dict(plain=cpu_usage_reader(plain_dep.container_id('registry')),
                    auth=cpu_usage_reader(auth_dep.container_id('registry')))
        rows = [measure_cost(args, index, cost, auth_dep, urls, cpus) for index, cost in enumerate(args.costs)]
    finally:
        if args.keep:
            log('kept: projects %s in %s' % (', '.join(dep.project for dep in made), workdir))
        else:
            for dep in made:
                for error in dep.teardown():
                    log('teardown of %s: %s' % (dep.project, error))
            shutil.rmtree(workdir, ignore_errors=True)

    report(args, rows, anonymous)
    if args.json:
        figures = dict(seconds=args.seconds, concurrency=args.concurrency, rounds=args.rounds,
                       anonymous=vars(anonymous), costs=[])
        for row in rows:
            figures['costs'].append(dict(
                label=row['label'], cost=row['cost'], ratios=row['ratios'], round_ratios=row['round_ratios'],
                verify_ms=row['verify'] * 1000, loads=dict((k, vars(v)) for k, v in row['loads'].items()),
                single_plain=vars(row['single_plain']), single_auth=vars(row['single_auth'])))
        with open(args.json, 'w') as handle:
            json.dump(figures, handle, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
