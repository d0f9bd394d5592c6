# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Read-only facts for dockyard.registry.registry_info. Private: not a public API.

Nothing here writes anything. The functions take file contents, a clock and a command
runner from the caller, so they can be used (and tested) without Ansible:

- :func:`validate_paths` checks the ``paths`` option and raises :class:`InfoError`, whose
  message never contains the (``no_log``) ``sha256`` value;
- :func:`path_facts` stats one path (following symlinks) and optionally hashes or matches it;
- :func:`certificate_facts` decides, with the functions the certificate module uses, whether
  a key and certificate on disk are what the options ask for (never generating a key);
- :func:`htpasswd_facts` runs :func:`_htpasswd.update_htpasswd` without hashing, to know
  which users would be added, removed or updated;
- :func:`gather_docker` asks the docker CLI for versions, a Compose project's containers and
  image ids, running the independent calls on threads.

The cryptography-based helpers are imported on first use: a run without ``certificate``
does not pay for importing cryptography, and a run with it can import it while the docker
calls are under way on other threads.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import grp
import hashlib
import hmac
import ipaddress
import json
import os
import pwd
import re
import stat
from concurrent.futures import ThreadPoolExecutor
from functools import partial

from ansible_collections.dockyard.registry.plugins.module_utils._io import read_file

COMPOSE_PROJECT_LABEL = 'com.docker.compose.project'
COMPOSE_SERVICE_LABEL = 'com.docker.compose.service'
DOCKER_VERSION = ['docker', 'version', '--format', '{{.Server.Version}}']
COMPOSE_VERSION = ['docker', 'compose', 'version', '--short']
MAX_DOCKER_THREADS = 8
CHUNK = 1024 * 1024

_SHA256_RE = re.compile(r'^[0-9a-fA-F]{64}$')
# `docker image inspect` of a reference that is not there (the image is simply absent).
_NO_SUCH = re.compile(r'no such (image|object)', re.IGNORECASE)


class InfoError(Exception):
    """An option value the module cannot use. The message never contains a no_log value."""


class Unreadable(object):
    """Content of a file that exists but cannot be read (permissions, a directory, ...)."""

    def __init__(self, error):
        self.error = error

    def __repr__(self):
        return 'Unreadable(%r)' % (self.error,)


def prefix_option(parent, message):
    """``users[0].password: ...`` -> ``htpasswd.users[0].password: ...``: errors of the shared
    module_utils name the option as the certificate and htpasswd modules know it."""
    if message.startswith(parent + '.'):
        return message
    return '%s.%s' % (parent, message)


def utcnow():
    """The clock of the certificate check (a function, so tests can replace it)."""
    return datetime.datetime.now(datetime.timezone.utc)


def read_source(path):
    """``bytes``, ``None`` when ``path`` does not exist, or :class:`Unreadable`."""
    try:
        return read_file(path)
    except (IOError, OSError) as exc:
        return Unreadable(exc.strerror or str(exc))


# ---------------------------------------------------------------------------------------------
# paths

class PathCheck(object):
    """A validated element of the ``paths`` option."""

    __slots__ = ('path', 'checksum', 'sha256', 'regexp')

    def __init__(self, path, checksum=False, sha256=None, regexp=None):
        self.path = path
        self.checksum = checksum
        self.sha256 = sha256      # lower-case hex, or None
        self.regexp = regexp      # compiled pattern, or None

    def key(self):
        return (self.path, self.checksum, self.sha256, self.regexp.pattern if self.regexp else None)

    def __repr__(self):
        # Never show the expected checksum, not even in a traceback or a test failure.
        return 'PathCheck(%r, checksum=%r, sha256=%s, regexp=%r)' % (
            self.path, self.checksum, 'None' if self.sha256 is None else '<hidden>',
            self.regexp.pattern if self.regexp else None)


def validate_paths(entries):
    """Check the ``paths`` option (list of dicts) and return a list of :class:`PathCheck`.

    The same path may be listed more than once only with the same checks (it is then checked
    once): its result is one dictionary keyed by the path.
    """
    checks = []
    seen = {}
    for index, entry in enumerate(entries or []):
        where = 'paths[%d]' % index
        path = entry.get('path')
        if not isinstance(path, str) or not path:
            raise InfoError('%s.path: must be a non-empty path' % where)
        expected = entry.get('sha256')
        if expected is not None:
            expected = expected.strip()
            if not _SHA256_RE.match(expected):
                # no_log: the message does not repeat the value.
                raise InfoError('%s.sha256: must be 64 hexadecimal characters (the SHA-256 of the file '
                                'content)' % where)
            expected = expected.lower()
            if entry.get('checksum'):
                raise InfoError('%s: checksum=true and sha256 are mutually exclusive for %r: sha256 is '
                                'no_log, and the returned checksum would reveal it; use sha256_matches'
                                % (where, path))
        regexp = entry.get('regexp')
        if regexp is not None:
            try:
                regexp = re.compile(regexp)
            except re.error as exc:
                raise InfoError('%s.regexp=%r: not a valid Python regular expression: %s' % (where, regexp, exc))
        check = PathCheck(path, bool(entry.get('checksum')), expected, regexp)
        if path in seen:
            if seen[path][1].key() != check.key():
                raise InfoError('%s.path: %r is already listed as paths[%d] with other checks; list each path '
                                'once, with all its checks' % (where, path, seen[path][0]))
            continue
        seen[path] = (index, check)
        checks.append(check)
    return checks


def _id_name(number, cache, lookup):
    """The name of a uid (``lookup=pwd.getpwuid``) or gid (``grp.getgrgid``); the id as a string
    when it has none."""
    if number not in cache:
        try:
            cache[number] = lookup(number)[0]
        except KeyError:
            cache[number] = str(number)
    return cache[number]


def _file_type(mode):
    if stat.S_ISREG(mode):
        return 'file'
    if stat.S_ISDIR(mode):
        return 'directory'
    return 'other'


def _sha256_of(path, want_text):
    """(hex digest, content or None); (None, None) when the file cannot be read."""
    digest = hashlib.sha256()
    chunks = [] if want_text else None
    try:
        with open(path, 'rb') as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                digest.update(chunk)
                if chunks is not None:
                    chunks.append(chunk)
    except (IOError, OSError):
        return None, None
    return digest.hexdigest(), (b''.join(chunks) if chunks is not None else None)


def path_facts(check, users=None, groups=None):
    """Facts about one :class:`PathCheck`. ``os.stat`` follows symlinks; never fails."""
    users = {} if users is None else users
    groups = {} if groups is None else groups
    facts = dict(exists=False, type=None, mode=None, owner=None, group=None)
    try:
        st = os.stat(check.path)
    except (IOError, OSError, ValueError):
        st = None
    if st is not None:
        facts.update(exists=True, type=_file_type(st.st_mode), mode='%04o' % stat.S_IMODE(st.st_mode),
                     owner=_id_name(st.st_uid, users, pwd.getpwuid), group=_id_name(st.st_gid, groups, grp.getgrgid))
    is_file = facts['type'] == 'file'
    digest = content = None
    if is_file and (check.checksum or check.sha256 is not None or check.regexp is not None):
        digest, content = _sha256_of(check.path, check.regexp is not None)
    if check.checksum and is_file:
        facts['sha256'] = digest
    if check.sha256 is not None:
        facts['sha256_matches'] = digest is not None and hmac.compare_digest(digest, check.sha256)
    if check.regexp is not None:
        matches = False
        if content is not None:
            try:
                matches = check.regexp.fullmatch(content.decode('utf-8')) is not None
            except UnicodeDecodeError:
                matches = False
        facts['matches'] = matches
    return facts


def paths_facts(checks):
    users, groups = {}, {}
    return dict((check.path, path_facts(check, users, groups)) for check in checks)


# ---------------------------------------------------------------------------------------------
# certificate

CERTIFICATE_REASONS = ('valid', 'missing', 'unreadable', 'key_type_changed', 'key_mismatch', 'san_changed',
                       'issuer_changed', 'expiring', 'ca_missing')


def certificate_options(params):
    """Validate the ``certificate`` option like the certificate module does.

    Returns ``(key spec, normalised SANs)``; raises :class:`InfoError` for bad values.
    """
    from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as cert_utils

    if params.get('key_type') == 'rsa' and params.get('curve') not in (None, 'P-256'):
        raise InfoError('certificate.curve=%r: only used with key_type=ecdsa' % params['curve'])
    renew = params.get('renew_before_days')
    if renew is None or renew < 0:
        raise InfoError('certificate.renew_before_days=%r: must be at least 0' % (renew,))
    try:
        spec = cert_utils.key_spec(params.get('key_type') or 'ecdsa', params.get('curve') or 'P-256',
                                   params.get('key_size'))
        sans = cert_utils.parse_subject_alt_names(params.get('subject_alt_names'),
                                                  option='certificate.subject_alt_names')
    except cert_utils.CertificateError as exc:
        raise InfoError(prefix_option('certificate', str(exc)))
    return spec, sans


def certificate_facts(key_data, cert_data, sans, spec, renew_before_days, now, ca_data=False):
    """What the certificate module (self_signed, or csr with a CA) would decide, as
    ``{'reason': ..., 'not_after': ...}``. Never generates anything.

    ``key_data``, ``cert_data``: bytes, ``None`` (missing) or :class:`Unreadable`.
    ``ca_data``: ``False`` when no CA is given (the certificate must then be self-signed),
    else the CA certificate file's content like the others.

    Order: the key first (missing, unreadable, key_type_changed), then the CA (ca_missing,
    also for a CA file that cannot be read or is not a CA certificate), then the certificate.
    """
    from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as cert_utils

    facts = dict(reason=None, not_after=None)
    cert_readable = cert_data is not None and not isinstance(cert_data, Unreadable)
    if cert_readable:
        cert = cert_utils.load_certificate(cert_data)
        if cert is not None:
            facts['not_after'] = cert_utils.not_after(cert).strftime(cert_utils.ISO_FORMAT)

    if isinstance(key_data, Unreadable):
        facts['reason'] = 'unreadable'
        return facts
    key, reason = cert_utils.evaluate_key(key_data, spec)
    if reason is not None:
        facts['reason'] = reason
        return facts

    issuer = None
    if ca_data is not False:
        if ca_data is None or isinstance(ca_data, Unreadable):
            facts['reason'] = 'ca_missing'
            return facts
        try:
            issuer = cert_utils.load_ca(cert_utils.Source('ca_cert_path', ca_data))[0]
        except cert_utils.CertificateError:
            facts['reason'] = 'ca_missing'
            return facts

    if isinstance(cert_data, Unreadable):
        facts['reason'] = 'unreadable'
        return facts
    facts['reason'] = cert_utils.evaluate_certificate(cert_data, key, now, renew_before_days, sans=sans,
                                                      issuer=issuer, self_signed=issuer is None)
    return facts


# ---------------------------------------------------------------------------------------------
# htpasswd

def htpasswd_facts(data, users, exclusive=False, update_password='always', workers=None, cost=None):
    """``({'changed', 'added', 'removed', 'updated'}, warnings)`` for the file content ``data``
    (bytes, or ``None`` for a missing file, which the htpasswd module would create).

    Passwords are verified (bcrypt, on the _htpasswd worker threads), nothing is hashed.
    Raises :class:`InfoError` with the HtpasswdError's message (which never holds a password or
    hash) for bad options. Names only: no passwords, no hashes.
    """
    from ansible_collections.dockyard.registry.plugins.module_utils._htpasswd import HtpasswdError, update_htpasswd

    try:
        outcome = update_htpasswd(data, users, exclusive=exclusive, update_password=update_password,
                                  cost=cost, workers=workers, hash_new=False)
    except HtpasswdError as exc:
        raise InfoError(prefix_option('htpasswd', str(exc)))
    facts = dict(changed=outcome.changed or data is None, added=outcome.added,
                 removed=outcome.removed, updated=outcome.updated)
    return facts, outcome.warnings


# ---------------------------------------------------------------------------------------------
# docker

def _call(run, argv):
    """``(rc, stdout, stderr)``; a command that cannot be started gives rc 127 and the error."""
    try:
        return run(argv)
    except (IOError, OSError) as exc:
        return 127, '', 'cannot run %s: %s' % (argv[0], exc.strerror or exc)


def _failure(argv, rc, stderr, stdout=''):
    text = (stderr or '').strip() or (stdout or '').strip()
    return text or '`%s` exited with rc %d' % (' '.join(argv[:3]), rc)


def _published(item):
    """The host ports a container publishes: [{address, port}] (from its configuration, so a stopped
    container's ports are known too)."""
    bindings = ((item.get('HostConfig') or {}).get('PortBindings')) or {}
    published = []
    for dummy, hosts in sorted(bindings.items()):
        for host in hosts or []:
            try:
                port = int(host.get('HostPort') or 0)
            except (TypeError, ValueError):
                continue
            if port:
                published.append({'address': host.get('HostIp') or '', 'port': port})
    return published


def container_facts(item):
    """The facts of one ``docker inspect`` object."""
    state = item.get('State') or {}
    config = item.get('Config') or {}
    labels = config.get('Labels') or {}
    health = state.get('Health') or {}
    return dict(
        name=(item.get('Name') or '').lstrip('/'),
        service=labels.get(COMPOSE_SERVICE_LABEL, ''),
        state=state.get('Status') or '',
        health=health.get('Status') or '',
        image_id=item.get('Image') or '',
        labels=labels,
        started_at=state.get('StartedAt') or '',
        published=_published(item),
    )


def _only_missing(stderr):
    """True when every line of ``stderr`` says an object is gone (or there is none)."""
    lines = [line for line in (stderr or '').splitlines() if line.strip()]
    return all(_NO_SUCH.search(line) for line in lines)


def list_containers(run, project_name):
    """``(containers or None, error or '')`` of a Compose project: one ``docker ps``, one
    ``docker inspect``. A container removed between the two is left out."""
    argv = ['docker', 'ps', '-aq', '--filter', 'label=%s=%s' % (COMPOSE_PROJECT_LABEL, project_name)]
    rc, out, err = _call(run, argv)
    if rc != 0:
        return None, 'docker ps: %s' % _failure(argv, rc, err)
    ids = out.split()
    if not ids:
        return [], ''
    argv = ['docker', 'inspect'] + ids
    rc, out, err = _call(run, argv)
    try:
        items = json.loads(out)
    except ValueError:
        items = None
    if not isinstance(items, list) or (rc != 0 and not _only_missing(err)):
        return None, 'docker inspect: %s' % (_failure(argv, rc, err) if rc != 0 else 'the output is not a JSON list')
    containers = [container_facts(item) for item in items if isinstance(item, dict)]
    containers.sort(key=lambda c: (c['service'], c['name']))
    return containers, ''


def image_id(run, ref):
    """``(id or None, error or '')``: None and no error when the image is absent."""
    argv = ['docker', 'image', 'inspect', '--format', '{{.Id}}', ref]
    rc, out, err = _call(run, argv)
    if rc == 0 and out.strip():
        return out.strip().splitlines()[0].strip(), ''
    if _NO_SUCH.search(err or ''):
        return None, ''
    return None, 'docker image inspect %s: %s' % (ref, _failure(argv, rc, err))


def gather_docker(run, project_name=None, images=(), max_threads=MAX_DOCKER_THREADS):
    """Docker facts. ``run(argv) -> (rc, stdout, stderr)`` runs one command (it may raise OSError).

    ``docker version`` runs first; when it fails nothing else runs. Then ``docker compose
    version``, the container listing and one ``docker image inspect`` per reference run
    concurrently. Returns a dict with ``docker``, and ``containers`` (when ``project_name`` is
    not None) and ``images`` (when ``images`` is not empty).
    """
    refs = []
    for ref in images or ():
        if ref not in refs:
            refs.append(ref)
    docker = dict(available=False, server_version=None, compose_version=None, error='', compose_error='')
    result = dict(docker=docker)
    if project_name is not None:
        result['containers'] = None
    if refs:
        result['images'] = dict((ref, None) for ref in refs)

    rc, out, err = _call(run, DOCKER_VERSION)
    if rc != 0:
        docker['error'] = _failure(DOCKER_VERSION, rc, err)
        return result
    docker.update(available=True, server_version=out.strip() or None)

    jobs = [('compose', None, partial(_call, run, COMPOSE_VERSION))]
    if project_name is not None:
        jobs.append(('containers', None, partial(list_containers, run, project_name)))
    jobs.extend(('image', ref, partial(image_id, run, ref)) for ref in refs)
    with ThreadPoolExecutor(max_workers=max(1, min(max_threads, len(jobs)))) as executor:
        futures = [(kind, ref, executor.submit(job)) for kind, ref, job in jobs]
        outcomes = [(kind, ref, future.result()) for kind, ref, future in futures]

    errors = []
    for kind, ref, outcome in outcomes:
        if kind == 'compose':
            rc, out, err = outcome
            if rc == 0 and out.strip():
                docker['compose_version'] = out.strip()
            else:
                docker['compose_error'] = _failure(COMPOSE_VERSION, rc, err)
            continue
        value, error = outcome
        if kind == 'containers':
            result['containers'] = value
        else:
            result['images'][ref] = value
        if error:
            errors.append(error)
    docker['error'] = '; '.join(errors)
    return result


# ---------------------------------------------------------------- listening TCP ports

_TCP_LISTEN = '0A'


def _proc_address(text, ipv6):
    """An address of /proc/net/tcp{,6} (hex, in host byte order per 32-bit word) as text."""
    raw = bytes.fromhex(text)
    if not ipv6:
        return str(ipaddress.IPv4Address(raw[::-1]))
    words = b''.join(raw[index:index + 4][::-1] for index in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    return str(address.ipv4_mapped) if address.ipv4_mapped else str(address)


def listening_ports(ports, tables=(('/proc/net/tcp', False), ('/proc/net/tcp6', True))):
    """{port: [addresses a socket listens on]} for each of ``ports`` (an empty list: free)."""
    wanted = set(int(port) for port in ports)
    found = dict((port, []) for port in sorted(wanted))
    for path, ipv6 in tables:
        try:
            with open(path) as handle:
                lines = handle.read().splitlines()[1:]
        except (IOError, OSError):
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 4 or fields[3] != _TCP_LISTEN:
                continue
            address, dummy, port = fields[1].partition(':')
            port = int(port, 16)
            if port in wanted:
                text = _proc_address(address, ipv6)
                if text not in found[port]:
                    found[port].append(text)
    return found


# ---------------------------------------------------------------- the registry as a client sees it

HEALTH_CHECKS = ('tls', 'liveness', 'anonymous', 'authenticated')
# One quick look, not registry_health's patient wait: seconds per connection and request by default.
HEALTH_REQUEST_TIMEOUT = 5


def health_facts(options, now=None):
    """One attempt of registry_health's client checks (no catalog, no round trip, no retries).

    Returns {ok, msg, checks}; never raises for what the registry answers. Options that cannot be
    used (a CA bundle that does not exist yet, a bad URL) give ok=False with the reason."""
    from ansible_collections.dockyard.registry.plugins.module_utils import _health

    params = dict(url=options['url'], ca_path=options.get('ca_path'), validate_certs=True,
                  server_name=options.get('server_name'), username=options.get('username'),
                  password=options.get('password'), auth_expected=options.get('auth_expected', True),
                  timeout=0, request_timeout=options.get('request_timeout') or HEALTH_REQUEST_TIMEOUT, min_days_left=0,
                  catalog=False, round_trip=False, round_trip_repository='dockyard/health-check',
                  delete_expected=False)
    try:
        target = _health.validate_params(params)
        context = _health.make_ssl_context(params['ca_path'], True, params['server_name'])
    except _health.HealthError as exc:
        return {'ok': False, 'msg': str(exc), 'checks': {}}
    client = _health.RegistryClient(target, context, params['request_timeout'], params['username'],
                                    params['password'])
    now = now or datetime.datetime.now(datetime.timezone.utc)
    checks = _health.run_checks(client, target, context, params, now)[0]
    checks = dict((name, checks[name]) for name in HEALTH_CHECKS if name in checks)
    failing = [name for name in HEALTH_CHECKS if name in checks and not checks[name]['ok']]
    return {'ok': not failing, 'msg': '; '.join('%s: %s' % (name, checks[name]['msg']) for name in failing),
            'checks': checks}


# ---------------------------------------------------------------------------------------------
# the data directory: free space (issue 8.5) and mount points

MIB = 1024 * 1024


def data_dir_facts(path, min_free_mb=0, statvfs=os.statvfs):
    """Free space of the file system holding ``path`` (its nearest existing ancestor when it does not
    exist yet), as df(1) counts it (blocks available to unprivileged users), against ``min_free_mb``."""
    checked = path
    while not os.path.exists(checked) and os.path.dirname(checked) != checked:
        checked = os.path.dirname(checked)
    facts = {'path': path, 'checked_path': checked, 'exists': os.path.isdir(path), 'total_bytes': None,
             'free_bytes': None, 'min_free_bytes': int(min_free_mb or 0) * MIB, 'low': False, 'msg': ''}
    try:
        st = statvfs(checked)
    except OSError as exc:
        facts['msg'] = 'cannot read the free space of %s: %s' % (checked, exc.strerror or exc)
        return facts
    facts['total_bytes'] = st.f_blocks * st.f_frsize
    facts['free_bytes'] = st.f_bavail * st.f_frsize
    where = 'data directory %s%s' % (path, '' if checked == path else ' (not created yet; its file system at %s)' % checked)
    figures = '%d MiB free of %d MiB' % (facts['free_bytes'] // MIB, facts['total_bytes'] // MIB)
    if min_free_mb and facts['free_bytes'] < facts['min_free_bytes']:
        facts['low'] = True
        facts['msg'] = '%s has %s, below registry_data_min_free_mb=%d' % (where, figures, min_free_mb)
    else:
        facts['msg'] = '%s has %s%s' % (where, figures, ' (at least %d MiB wanted)' % min_free_mb if min_free_mb else '')
    return facts


def _unescape_mount(text):
    """/proc/self/mountinfo escapes space, tab, newline and backslash as octal (\\040...)."""
    return re.sub(r'\\([0-7]{3})', lambda match: chr(int(match.group(1), 8)), text)


def mounts_under(base, mountinfo):
    """Mount points at or under ``base`` (sorted), from the text of /proc/self/mountinfo."""
    base = base.rstrip('/') or '/'
    found = set()
    for line in (mountinfo or '').splitlines():
        fields = line.split(' ')
        if len(fields) < 5:
            continue
        point = _unescape_mount(fields[4]).rstrip('/') or '/'
        if point == base or point.startswith(base + '/'):
            found.add(point)
    return sorted(found)
