# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Registry health checks as a client sees them. Private: not a public API of the collection.

Pure functions (parsing, evaluation of one response, manifest building, messages) are kept
apart from the few functions that talk to the network (``check_tls``, ``RegistryClient`` and
the ``run_*`` functions), so that the former are unit-tested without a registry and the latter
against the real one.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import hashlib
import io
import json
import os
import re
import socket
import ssl
import tarfile
import time
import traceback

from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urljoin, urlsplit

from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.urls import Request

from ansible_collections.dockyard.registry.plugins.module_utils._argspec import ArgumentSpec

CRYPTOGRAPHY_IMP_ERR = None
try:
    from cryptography import x509
    HAS_CRYPTOGRAPHY = True
except ImportError:
    CRYPTOGRAPHY_IMP_ERR = traceback.format_exc()
    HAS_CRYPTOGRAPHY = False

CHECK_NAMES = ('tls', 'liveness', 'anonymous', 'authenticated', 'catalog', 'round_trip')

API_VERSION_HEADER = 'Docker-Distribution-Api-Version'
API_VERSION = 'registry/2.0'
MEDIA_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json'
MEDIA_CONFIG = 'application/vnd.docker.container.image.v1+json'
MEDIA_LAYER = 'application/vnd.docker.image.rootfs.diff.tar.gzip'
USER_AGENT = 'dockyard.registry.registry_health'
RETRY_INTERVAL = 1.0
CATALOG_MAX_PAGES = 100

# distribution/reference: path components of a repository name
_REPOSITORY_RE = re.compile(r'^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$')
_CHALLENGE_PARAM_RE = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)')
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


def _connection_options():
    return dict(
        url=dict(type='str', required=True),
        ca_path=dict(type='path'),
        server_name=dict(type='str'),
        username=dict(type='str'),
        password=dict(type='str', no_log=True),
    )


def client_argument_spec(request_timeout):
    """The options that say how to reach the registry as a client: registry_health's own
    (``request_timeout=10``) and registry_info's ``health.*`` (one quick look, ``request_timeout=5``).
    Documented once, in the doc fragment dockyard.registry._registry_health."""
    return ArgumentSpec(dict(_connection_options(),
                             auth_expected=dict(type='bool', default=True),
                             request_timeout=dict(type='int', default=request_timeout)))


def api_argument_spec(**extra):
    """The argument spec of a module that reads the registry's API as a user (doc fragment registry_api,
    credentials, request timeout), with the module's own ``extra`` options."""
    spec = dict(_connection_options(), request_timeout=dict(type='int', default=30))
    spec.update(extra)
    return spec


class HealthError(Exception):
    """A parameter cannot be used. The message names the option and what is allowed."""


class _StepFailed(Exception):
    """One step of the round trip failed; carries the HTTP status of that step. ``final`` when the
    image was pushed and pulled back and only the delete failed: pushing again cannot change that."""

    def __init__(self, msg, status=None, final=False):
        super(_StepFailed, self).__init__(msg)
        self.status = status
        self.final = final


class Target(object):
    """Where the registry is: scheme, host, port and the base URL (no path)."""

    def __init__(self, scheme, host, port, base):
        self.scheme = scheme
        self.host = host
        self.port = port
        self.base = base


# ---------------------------------------------------------------- parameters

def parse_url(url):
    """Return a Target for ``url`` or raise HealthError. Credentials in the URL are refused
    without echoing the URL, as it would contain them."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HealthError('url %r is not a valid URL (%s); expected http(s)://HOST[:PORT]' % (url, exc))
    if '@' in parts.netloc:
        raise HealthError('url must not contain credentials (user:password@); use the username and password options')
    if parts.scheme not in ('http', 'https'):
        raise HealthError('url %r must start with https:// or http://' % (url,))
    if not parts.hostname:
        raise HealthError('url %r has no host; expected http(s)://HOST[:PORT]' % (url,))
    if parts.path not in ('', '/') or parts.query or parts.fragment:
        raise HealthError('url %r must not have a path, query or fragment: the registry API lives at /v2/ '
                          'of the origin; expected http(s)://HOST[:PORT]' % (url,))
    if port is None:
        port = 443 if parts.scheme == 'https' else 80
    return Target(parts.scheme, parts.hostname, port, '%s://%s' % (parts.scheme, parts.netloc))


def validate_connection(url, server_name=None, ca_path=None):
    """Check the options that say where and how to reach the registry (shared by the modules
    that talk to it). Return the Target."""
    target = parse_url(url)
    if server_name and target.scheme != 'https':
        raise HealthError('server_name %r is only used with an https:// url' % (server_name,))
    if ca_path and not os.path.isfile(ca_path):
        raise HealthError('ca_path %r is not a file; give a PEM CA bundle or leave it unset for the system trust'
                          % (ca_path,))
    return target


def validate_params(params):
    """Check option combinations that no retry can fix. Return the Target."""
    target = validate_connection(params['url'], params['server_name'], params['ca_path'])
    if params['timeout'] < 0:
        raise HealthError('timeout must be 0 or more seconds, got %r' % (params['timeout'],))
    if params['request_timeout'] <= 0:
        raise HealthError('request_timeout must be more than 0 seconds, got %r' % (params['request_timeout'],))
    if params['min_days_left'] < 0:
        raise HealthError('min_days_left must be 0 (disabled) or more, got %r' % (params['min_days_left'],))
    if not _REPOSITORY_RE.match(params['round_trip_repository'] or ''):
        raise HealthError('round_trip_repository %r is not a valid repository name: lower-case letters, digits '
                          'and separators (., _, __, -) in path components separated by /'
                          % (params['round_trip_repository'],))
    if params['round_trip'] and params['auth_expected'] and not params['username']:
        raise HealthError('round_trip=true needs username and password when auth_expected=true')
    return target


class _ServerNameContext(ssl.SSLContext):
    """An SSL context that sends and verifies ``server_name`` instead of the URL's host."""

    server_name = None

    def wrap_socket(self, sock, *args, **kwargs):
        if self.server_name:
            kwargs['server_hostname'] = self.server_name
        return super(_ServerNameContext, self).wrap_socket(sock, *args, **kwargs)


def make_ssl_context(ca_path=None, validate_certs=True, server_name=None):
    """The one SSL context used by the TLS check and by every HTTPS request."""
    context = _ServerNameContext(ssl.PROTOCOL_TLS_CLIENT)
    context.server_name = server_name
    if validate_certs:
        try:
            if ca_path:
                context.load_verify_locations(cafile=ca_path)
            else:
                context.load_default_certs()
        except (ssl.SSLError, OSError) as exc:
            raise HealthError('ca_path %r cannot be loaded as a PEM CA bundle: %s' % (ca_path, exc))
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


# ---------------------------------------------------------------- pure helpers

def check_result(ok, msg, status=None, latency_ms=None, skipped=False):
    return {'ok': bool(ok), 'skipped': bool(skipped), 'status': status, 'latency_ms': latency_ms, 'msg': msg}


def skipped_result(msg):
    """A check that is disabled or does not apply: it does not fail the module."""
    return check_result(True, msg, skipped=True)


def not_run_result(msg):
    """A check that could not run because an earlier one failed: it fails the module."""
    return check_result(False, 'not run: %s' % msg)


def empty_result(reason):
    """The full result shape when no check could run (e.g. invalid parameters)."""
    return {
        'changed': False, 'checks': dict((name, not_run_result(reason)) for name in CHECK_NAMES),
        'api_version': None, 'repositories': None, 'cert_not_after': None, 'days_left': None,
        'attempts': 0, 'elapsed': 0.0,
    }


def failing_checks(checks):
    return [name for name in CHECK_NAMES if name in checks and not checks[name]['ok']]


def format_failure(checks, attempts, elapsed):
    """The fail_json message: every failing check and why. Built from check messages only,
    which never contain credentials."""
    reasons = ['%s: %s' % (name, checks[name]['msg']) for name in failing_checks(checks)]
    return 'registry health check failed after %d attempt%s in %.1f s: %s' % (
        attempts, '' if attempts == 1 else 's', elapsed, '; '.join(reasons))


def sha256_digest(data):
    return 'sha256:' + hashlib.sha256(data).hexdigest()


def parse_challenge(header):
    """Parse a WWW-Authenticate header into (scheme in lower case, {param: value}).
    Returns (None, {}) when the header is missing or empty."""
    header = (header or '').strip()
    if not header:
        return None, {}
    scheme, dummy, rest = header.partition(' ')
    params = {}
    for key, value in _CHALLENGE_PARAM_RE.findall(rest):
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        params[key.lower()] = value
    return scheme.lower(), params


def parse_next_link(header):
    """Return the target of a ``Link: <...>; rel="next"`` header, or None."""
    match = _LINK_NEXT_RE.search(header or '')
    return match.group(1) if match else None


def registry_error(body):
    """Summarise a registry error body ``{"errors": [{"code", "message"}]}``; '' if there is none."""
    try:
        errors = json.loads(to_text(body or b'{}', errors='surrogate_or_replace')).get('errors') or []
        return ', '.join('%s: %s' % (e.get('code'), e.get('message')) for e in errors if isinstance(e, dict))
    except (ValueError, AttributeError):
        return ''


def describe_response(resp):
    """'HTTP 401 (UNAUTHORIZED: authentication required)' or the transport error."""
    if resp.status is None:
        return resp.error
    detail = registry_error(resp.body)
    return 'HTTP %s%s' % (resp.status, ' (%s)' % detail if detail else '')


def days_left(not_after, now):
    """Whole days from ``now`` until ``not_after`` (negative when expired)."""
    return int((not_after - now).total_seconds() // 86400)


def not_after_from_peercert(peercert):
    """notAfter of ``ssl.SSLSocket.getpeercert()`` (only filled when the peer was verified)."""
    value = (peercert or {}).get('notAfter')
    if not value:
        return None
    return datetime.datetime.fromtimestamp(ssl.cert_time_to_seconds(value), tz=datetime.timezone.utc)


def not_after_from_der(der):
    """notAfter of a DER certificate with cryptography (any version from 3.x on)."""
    if not HAS_CRYPTOGRAPHY or not der:
        return None
    cert = x509.load_der_x509_certificate(der)
    value = getattr(cert, 'not_valid_after_utc', None)  # cryptography >= 42
    if value is None:
        value = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return value


def evaluate_tls(not_after, now, min_days_left, verified):
    """(ok, msg, days_left) for a completed handshake."""
    verification = 'verified' if verified else 'NOT verified (validate_certs=false)'
    if not_after is None:
        if min_days_left:
            return False, 'handshake done, certificate %s, but its expiry date cannot be read ' \
                          '(needs the cryptography library when validate_certs=false), so min_days_left=%d ' \
                          'cannot be checked' % (verification, min_days_left), None
        return True, 'handshake done, certificate %s, expiry unknown' % verification, None
    left = days_left(not_after, now)
    if min_days_left and left < min_days_left:
        return False, 'certificate expires %s: %d days left, fewer than min_days_left=%d' % (
            not_after.isoformat(), left, min_days_left), left
    return True, 'handshake done, certificate %s, expires %s (%d days left)' % (
        verification, not_after.isoformat(), left), left


def evaluate_liveness(resp):
    if resp.status == 200:
        return True, 'GET / answered 200'
    return False, 'GET / expected 200, got %s' % describe_response(resp)


def evaluate_anonymous(resp, auth_expected):
    if resp.status is None:
        return False, 'GET /v2/ without credentials failed: %s' % resp.error
    if auth_expected:
        if resp.status == 200:
            return False, 'registry accepts anonymous requests although authentication is expected (GET /v2/ ' \
                          'without credentials answered 200)'
        if resp.status != 401:
            return False, 'GET /v2/ without credentials expected 401, got %s' % describe_response(resp)
        scheme, params = parse_challenge(resp.headers.get('WWW-Authenticate'))
        if scheme != 'basic' or 'realm' not in params:
            return False, 'GET /v2/ without credentials answered 401 without a Basic challenge ' \
                          '(WWW-Authenticate: %r); only htpasswd (Basic) authentication is supported' % (
                              resp.headers.get('WWW-Authenticate'),)
        return True, 'anonymous request refused with 401 and a Basic challenge (realm %r)' % params['realm']
    if resp.status == 200:
        return True, 'GET /v2/ without credentials answered 200 (no authentication expected)'
    if resp.status == 401:
        return False, 'registry requires authentication (401) although auth_expected=false'
    return False, 'GET /v2/ without credentials expected 200, got %s' % describe_response(resp)


def evaluate_authenticated(resp, username):
    if resp.status is None:
        return False, 'GET /v2/ with credentials failed: %s' % resp.error
    if resp.status == 401:
        return False, 'credentials of user %r rejected: GET /v2/ answered %s' % (username, describe_response(resp))
    if resp.status != 200:
        return False, 'GET /v2/ with credentials expected 200, got %s' % describe_response(resp)
    version = resp.headers.get(API_VERSION_HEADER)
    if version != API_VERSION:
        return False, 'GET /v2/ answered 200 but %s is %r, expected %r (not a registry?)' % (
            API_VERSION_HEADER, version, API_VERSION)
    return True, 'GET /v2/ as user %r answered 200, %s: %s' % (username, API_VERSION_HEADER, version)


def evaluate_catalog_page(resp):
    """(ok, msg, repositories) for one page of /v2/_catalog."""
    if resp.status != 200:
        return False, 'GET /v2/_catalog expected 200, got %s' % describe_response(resp), None
    try:
        repositories = json.loads(to_text(resp.body, errors='surrogate_or_replace'))['repositories']
        if not isinstance(repositories, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return False, 'GET /v2/_catalog answered 200 without a JSON {"repositories": [...]} body', None
    return True, '', repositories


def build_layer(payload):
    """A real one-file gzip'd tar layer. Return (layer bytes, diff_id of the uncompressed tar)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode='w', format=tarfile.USTAR_FORMAT) as tar:
        info = tarfile.TarInfo('dockyard-health-check')
        info.size = len(payload)
        info.mode = 0o644
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), sha256_digest(tar_bytes)


def _canonical_json(data):
    return json.dumps(data, sort_keys=True, separators=(',', ':')).encode('utf-8')


def build_config(diff_id):
    return _canonical_json({
        'architecture': 'amd64',
        'os': 'linux',
        'config': {},
        'rootfs': {'type': 'layers', 'diff_ids': [diff_id]},
        'history': [{'created_by': USER_AGENT}],
    })


def build_manifest(config, layer):
    """A schema2 image manifest referencing ``config`` and ``layer`` (both bytes)."""
    return _canonical_json({
        'schemaVersion': 2,
        'mediaType': MEDIA_MANIFEST,
        'config': {'mediaType': MEDIA_CONFIG, 'size': len(config), 'digest': sha256_digest(config)},
        'layers': [{'mediaType': MEDIA_LAYER, 'size': len(layer), 'digest': sha256_digest(layer)}],
    })


def unique_tag(now, random_hex):
    return 'health-%s-%s' % (now.strftime('%Y%m%dT%H%M%SZ'), random_hex)


def same_origin(base, url):
    base_parts, parts = urlsplit(base), urlsplit(url)
    return (base_parts.scheme, base_parts.netloc.lower()) == (parts.scheme, parts.netloc.lower())


# ---------------------------------------------------------------- network

class Response(object):
    def __init__(self, status=None, headers=None, body=b'', error=None, latency_ms=None):
        self.status = status
        self.headers = headers if headers is not None else {}
        self.body = body
        self.error = error
        self.latency_ms = latency_ms


def _transport_error(exc):
    reason = getattr(exc, 'reason', None) or exc
    return '%s: %s' % (type(reason).__name__, to_text(reason, errors='surrogate_or_replace'))


class RegistryClient(object):
    """HTTP through ansible.module_utils.urls.Request. Credentials go only to the registry's
    own origin, as a Basic header that is never forwarded on redirects and never reported."""

    def __init__(self, target, context, request_timeout, username=None, password=None, clock=time.monotonic,
                 user_agent=USER_AGENT):
        self.base = target.base
        self._username = username
        self._password = password
        self._clock = clock
        self._request = Request(
            timeout=request_timeout, context=context, use_netrc=False, http_agent=user_agent,
            follow_redirects='safe', unredirected_headers=['Authorization'])

    @property
    def has_credentials(self):
        return bool(self._username)

    def call(self, method, path_or_url, auth=False, data=None, headers=None):
        url = urljoin(self.base + '/', path_or_url)
        kwargs = {}
        if auth and self._username:
            if not same_origin(self.base, url):
                return Response(error='%s %s: the registry sent a URL on another origin (%s); credentials are '
                                      'not sent there' % (method, urlsplit(url).path, urlsplit(url).netloc),
                                latency_ms=0)
            kwargs = dict(url_username=self._username, url_password=self._password, force_basic_auth=True)
        start = self._clock()
        resp = Response()
        try:
            answer = self._request.open(method, url, data=data, headers=dict(headers or {}), **kwargs)
            resp.status, resp.headers, resp.body = answer.getcode(), answer.headers, answer.read()
        except HTTPError as exc:
            resp.status, resp.headers = exc.code, exc.headers
            try:
                resp.body = exc.read()
            except (HTTPException, OSError, AttributeError):
                resp.body = b''
        except (URLError, HTTPException, OSError, ValueError) as exc:
            resp.error = '%s %s failed: %s' % (method, urlsplit(url).path or '/', _transport_error(exc))
        resp.latency_ms = int(round((self._clock() - start) * 1000))
        return resp


def check_tls(target, context, timeout, now, min_days_left, clock=time.monotonic):
    """A real handshake with ``context``.
    Return (check result, not_after or None, days_left or None, whether the handshake completed)."""
    verified = context.verify_mode != ssl.CERT_NONE
    hostname = context.server_name or target.host
    start = clock()
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout) as sock:
            with context.wrap_socket(sock, server_hostname=hostname) as tls:
                der = tls.getpeercert(binary_form=True)
                peercert = tls.getpeercert()
                version = tls.version()
    except ssl.SSLCertVerificationError as exc:
        latency = int(round((clock() - start) * 1000))
        return check_result(False, 'certificate of %s:%d not trusted for %r: %s' % (
            target.host, target.port, hostname, exc.verify_message or exc), latency_ms=latency), None, None, False
    except (OSError, ValueError) as exc:
        latency = int(round((clock() - start) * 1000))
        return check_result(False, 'TLS handshake with %s:%d failed: %s' % (
            target.host, target.port, _transport_error(exc)), latency_ms=latency), None, None, False
    latency = int(round((clock() - start) * 1000))
    not_after = not_after_from_der(der) or not_after_from_peercert(peercert)
    ok, msg, left = evaluate_tls(not_after, now, min_days_left, verified)
    return check_result(ok, '%s, %s' % (version, msg), latency_ms=latency), not_after, left, True


def run_catalog(client):
    """(check result, repository count or None); follows Link rel=next pages."""
    url, count, latency, pages = '/v2/_catalog', 0, 0, 0
    auth = client.has_credentials
    while url:
        resp = client.call('GET', url, auth=auth)
        latency += resp.latency_ms
        pages += 1
        ok, msg, repositories = evaluate_catalog_page(resp)
        if not ok:
            return check_result(False, msg, status=resp.status, latency_ms=latency), None
        count += len(repositories)
        url = parse_next_link(resp.headers.get('Link'))
        if url and pages >= CATALOG_MAX_PAGES:
            return check_result(True, 'at least %d repositories (stopped after %d pages)' % (count, pages),
                                status=resp.status, latency_ms=latency), count
    return check_result(True, '%d repositor%s listed' % (count, 'y' if count == 1 else 'ies'),
                        status=200, latency_ms=latency), count


def _expect(resp, status, what, final=False):
    if resp.status != status:
        raise _StepFailed('%s: expected %d, got %s' % (what, status, describe_response(resp)), resp.status, final)
    return resp


def _upload_blob(client, repository, blob):
    digest = sha256_digest(blob)
    resp = _expect(client.call('POST', '/v2/%s/blobs/uploads/' % repository, auth=True, data=b''),
                   202, 'POST /v2/%s/blobs/uploads/' % repository)
    location = resp.headers.get('Location')
    if not location:
        raise _StepFailed('POST /v2/%s/blobs/uploads/ answered 202 without a Location header' % repository, 202)
    location += ('&' if '?' in location else '?') + 'digest=' + quote(digest)
    resp = _expect(client.call('PUT', location, auth=True, data=blob,
                               headers={'Content-Type': 'application/octet-stream'}),
                   201, 'PUT blob %s' % digest)
    got = resp.headers.get('Docker-Content-Digest')
    if got and got != digest:
        raise _StepFailed('PUT blob %s: registry reports digest %s' % (digest, got), resp.status)
    return digest


def _round_trip_steps(client, repository, tag, payload, delete_expected):
    """Push a tiny image, pull it back, compare digests, delete it. Return (msg, last status)."""
    base = '/v2/%s' % repository
    layer, diff_id = build_layer(payload)
    config = build_config(diff_id)
    manifest = build_manifest(config, layer)
    manifest_digest = sha256_digest(manifest)
    layer_digest = _upload_blob(client, repository, layer)
    config_digest = _upload_blob(client, repository, config)

    resp = _expect(client.call('PUT', '%s/manifests/%s' % (base, tag), auth=True, data=manifest,
                               headers={'Content-Type': MEDIA_MANIFEST}),
                   201, 'PUT manifest %s:%s' % (repository, tag))
    got = resp.headers.get('Docker-Content-Digest')
    if got != manifest_digest:
        raise _StepFailed('PUT manifest %s:%s: registry reports digest %r, sent %s' % (
            repository, tag, got, manifest_digest), resp.status)

    resp = _expect(client.call('GET', '%s/manifests/%s' % (base, tag), auth=True, headers={'Accept': MEDIA_MANIFEST}),
                   200, 'GET manifest %s:%s' % (repository, tag))
    got_header, got_body = resp.headers.get('Docker-Content-Digest'), sha256_digest(resp.body)
    if got_header != manifest_digest or got_body != manifest_digest:
        raise _StepFailed('GET manifest %s:%s: Docker-Content-Digest %r, body %s, expected %s' % (
            repository, tag, got_header, got_body, manifest_digest), resp.status)

    resp = _expect(client.call('GET', '%s/blobs/%s' % (base, layer_digest), auth=True),
                   200, 'GET blob %s' % layer_digest)
    if sha256_digest(resp.body) != layer_digest:
        raise _StepFailed('GET blob %s: content has digest %s' % (layer_digest, sha256_digest(resp.body)),
                          resp.status)

    pushed = 'pushed and pulled back %s:%s (manifest %s, blob digests match)' % (repository, tag, manifest_digest)
    resp = client.call('DELETE', '%s/manifests/%s' % (base, manifest_digest), auth=True)
    if resp.status == 405:
        if delete_expected:
            raise _StepFailed('%s, but delete disabled on the registry (DELETE manifest: %s) although '
                              'delete_expected=true' % (pushed, describe_response(resp)), 405, final=True)
        return '%s; delete disabled on the registry (DELETE manifest: %s), the tag stays' % (
            pushed, describe_response(resp)), 405
    _expect(resp, 202, '%s; DELETE manifest %s' % (pushed, manifest_digest), final=True)
    _expect(client.call('GET', '%s/manifests/%s' % (base, manifest_digest), auth=True,
                        headers={'Accept': MEDIA_MANIFEST}),
            404, '%s; GET of the deleted manifest' % pushed, final=True)
    for digest in (layer_digest, config_digest):
        _expect(client.call('DELETE', '%s/blobs/%s' % (base, digest), auth=True), 202,
                '%s; DELETE blob %s' % (pushed, digest), final=True)
    return '%s; manifest and blobs deleted (202)' % pushed, 202


def run_round_trip(client, repository, delete_expected, now, random_bytes=os.urandom, clock=time.monotonic):
    """Return (check result, final): final when another attempt would only push another image
    (it passed, or only its delete failed)."""
    start = clock()
    tag = unique_tag(now, random_bytes(4).hex())
    try:
        msg, status = _round_trip_steps(client, repository, tag, random_bytes(64), delete_expected)
        ok = final = True
    except _StepFailed as exc:
        msg, status, ok, final = str(exc), exc.status, False, exc.final
    return check_result(ok, msg, status=status, latency_ms=int(round((clock() - start) * 1000))), final


def run_checks(client, target, context, params, now, state=None, clock=time.monotonic):
    """One attempt of every check. Return (checks, facts).

    ``state`` (a dict kept across attempts) remembers a final round-trip result, so that retries
    do not push one more image each second."""
    state = {} if state is None else state
    checks = {}
    facts = {'api_version': None, 'repositories': None, 'cert_not_after': None, 'days_left': None}
    username = params['username']
    reachable = None

    if target.scheme == 'https':
        checks['tls'], not_after, facts['days_left'], handshake = check_tls(
            target, context, params['request_timeout'], now, params['min_days_left'], clock=clock)
        facts['cert_not_after'] = not_after.isoformat() if not_after else None
        if not handshake:
            reachable = 'TLS handshake failed'
    else:
        checks['tls'] = skipped_result('plain http:// url, no TLS')

    if reachable is None:
        resp = client.call('GET', '/')
        ok, msg = evaluate_liveness(resp)
        checks['liveness'] = check_result(ok, msg, resp.status, resp.latency_ms)
        if resp.status is None:
            reachable = 'registry not reachable (liveness)'

    if reachable is None:
        resp = client.call('GET', '/v2/')
        ok, msg = evaluate_anonymous(resp, params['auth_expected'])
        checks['anonymous'] = check_result(ok, msg, resp.status, resp.latency_ms)
        facts['api_version'] = resp.headers.get(API_VERSION_HEADER)

        if username:
            resp = client.call('GET', '/v2/', auth=True)
            ok, msg = evaluate_authenticated(resp, username)
            checks['authenticated'] = check_result(ok, msg, resp.status, resp.latency_ms)
            facts['api_version'] = resp.headers.get(API_VERSION_HEADER) or facts['api_version']
        else:
            checks['authenticated'] = skipped_result('no username given')

        if not params['catalog']:
            checks['catalog'] = skipped_result('catalog=false')
        elif params['auth_expected'] and not username:
            checks['catalog'] = skipped_result('needs credentials (auth_expected=true, no username given)')
        else:
            checks['catalog'], facts['repositories'] = run_catalog(client)

    if not params['round_trip']:
        checks['round_trip'] = skipped_result('round_trip=false')
    elif 'round_trip' in state:
        checks['round_trip'] = state['round_trip']
    elif reachable is None and not failing_checks(checks):
        checks['round_trip'], final = run_round_trip(
            client, params['round_trip_repository'], params['delete_expected'], now, clock=clock)
        if final:
            state['round_trip'] = checks['round_trip']

    for name in CHECK_NAMES:
        if name not in checks:
            checks[name] = not_run_result(reachable or 'waiting for %s' % ', '.join(failing_checks(checks)))
    return checks, facts


def run_with_retries(attempt, timeout, clock=time.monotonic, sleep=time.sleep, interval=RETRY_INTERVAL,
                     final=lambda checks: False):
    """Call ``attempt()`` -> (checks, facts) until every check is ok, ``final(checks)`` says no retry
    can help, or ``timeout`` seconds passed. Return (checks, facts, attempts, elapsed seconds)."""
    start = clock()
    attempts = 0
    while True:
        attempts += 1
        checks, facts = attempt()
        elapsed = clock() - start
        if not failing_checks(checks) or final(checks) or elapsed >= timeout:
            return checks, facts, attempts, round(elapsed, 3)
        sleep(min(interval, timeout - elapsed))
