# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import gzip
import hashlib
import io
import json
import re
import tarfile

from urllib.error import URLError

import pytest

from ansible_collections.dockyard.registry.plugins.module_utils import _health as h

UTC = datetime.timezone.utc
NOW = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
SECRET = 'Sup3r-s3cret-pw'


def params(**kwargs):
    base = dict(url='https://registry.example.com:5000', ca_path=None, validate_certs=True, server_name=None,
                username='health', password=SECRET, auth_expected=True, timeout=60, request_timeout=10,
                min_days_left=0, catalog=True, round_trip=False, round_trip_repository='dockyard/health-check',
                delete_expected=False)
    base.update(kwargs)
    return base


def resp(status, headers=None, body=b'', error=None):
    return h.Response(status=status, headers=headers or {}, body=body, error=error, latency_ms=1)


def checks_with(**states):
    checks = {name: h.check_result(True, 'fine', 200, 1) for name in h.CHECK_NAMES}
    for name, msg in states.items():
        checks[name] = h.check_result(False, msg, 500, 1)
    return checks


# ---------------------------------------------------------------- parameters

@pytest.mark.parametrize('url, scheme, host, port, base', [
    ('https://registry.example.com:5000', 'https', 'registry.example.com', 5000, 'https://registry.example.com:5000'),
    ('https://registry.example.com', 'https', 'registry.example.com', 443, 'https://registry.example.com'),
    ('http://127.0.0.1:5000/', 'http', '127.0.0.1', 5000, 'http://127.0.0.1:5000'),
    ('http://localhost', 'http', 'localhost', 80, 'http://localhost'),
    ('https://[::1]:5443', 'https', '::1', 5443, 'https://[::1]:5443'),
])
def test_parse_url(url, scheme, host, port, base):
    target = h.parse_url(url)
    assert (target.scheme, target.host, target.port, target.base) == (scheme, host, port, base)


@pytest.mark.parametrize('url, expected', [
    ('ftp://registry.example.com', 'must start with https:// or http://'),
    ('registry.example.com:5000', 'must start with https:// or http://'),
    ('https://registry.example.com:5000/v2/', 'must not have a path'),
    ('https://registry.example.com/?x=1', 'must not have a path'),
    ('https://', 'has no host'),
    ('https://registry.example.com:99999', 'is not a valid URL'),
    ('https://health:%s@registry.example.com' % SECRET, 'must not contain credentials'),
])
def test_parse_url_refuses(url, expected):
    with pytest.raises(h.HealthError) as exc:
        h.parse_url(url)
    assert expected in str(exc.value)
    assert SECRET not in str(exc.value)


@pytest.mark.parametrize('changes, expected', [
    (dict(timeout=-1), 'timeout must be 0 or more seconds, got -1'),
    (dict(request_timeout=0), 'request_timeout must be more than 0 seconds, got 0'),
    (dict(min_days_left=-3), 'min_days_left must be 0 (disabled) or more, got -3'),
    (dict(round_trip_repository='Dockyard/Health'), "round_trip_repository 'Dockyard/Health' is not a valid"),
    (dict(round_trip_repository='a//b'), "round_trip_repository 'a//b' is not a valid"),
    (dict(round_trip_repository='-a'), "round_trip_repository '-a' is not a valid"),
    (dict(round_trip=True, username=None, password=None), 'round_trip=true needs username and password'),
    (dict(url='http://registry:5000', server_name='registry.example.com'),
     "server_name 'registry.example.com' is only used with an https:// url"),
    (dict(ca_path='/nonexistent/ca.crt'), "ca_path '/nonexistent/ca.crt' is not a file"),
])
def test_validate_params_refuses(changes, expected):
    with pytest.raises(h.HealthError) as exc:
        h.validate_params(params(**changes))
    assert expected in str(exc.value)
    assert SECRET not in str(exc.value)


@pytest.mark.parametrize('changes', [
    dict(),
    dict(timeout=0, round_trip=True),
    dict(round_trip=True, auth_expected=False, username=None, password=None),
    dict(round_trip_repository='a.b/c__d/e-f/g--h'),
    dict(url='https://10.0.0.5:5000', server_name='registry.example.com'),
])
def test_validate_params_accepts(changes):
    assert h.validate_params(params(**changes)).scheme in ('http', 'https')


def test_make_ssl_context_refuses_non_pem(tmp_path):
    bad = tmp_path / 'ca.crt'
    bad.write_text('not a certificate\n')
    with pytest.raises(h.HealthError) as exc:
        h.make_ssl_context(str(bad))
    assert 'cannot be loaded as a PEM CA bundle' in str(exc.value)


def test_make_ssl_context_modes():
    verified = h.make_ssl_context(server_name='registry.example.com')
    assert verified.check_hostname and verified.server_name == 'registry.example.com'
    unverified = h.make_ssl_context(validate_certs=False)
    assert not unverified.check_hostname and unverified.verify_mode == h.ssl.CERT_NONE


# ---------------------------------------------------------------- parsing

@pytest.mark.parametrize('header, scheme, challenge', [
    ('Basic realm="Registry Realm"', 'basic', {'realm': 'Registry Realm'}),
    ('basic realm=registry', 'basic', {'realm': 'registry'}),
    ('Basic realm="a \\"quoted\\" realm", charset="UTF-8"', 'basic', {'realm': 'a "quoted" realm', 'charset': 'UTF-8'}),
    ('Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="registry:catalog:*"',
     'bearer', {'realm': 'https://auth.example.com/token', 'service': 'registry.example.com',
                'scope': 'registry:catalog:*'}),
    ('Basic', 'basic', {}),
    ('', None, {}),
    (None, None, {}),
])
def test_parse_challenge(header, scheme, challenge):
    assert h.parse_challenge(header) == (scheme, challenge)


@pytest.mark.parametrize('header, expected', [
    ('</v2/_catalog?last=b&n=2>; rel="next"', '/v2/_catalog?last=b&n=2'),
    ('<https://r.example.com/v2/_catalog?last=b>;rel=next', 'https://r.example.com/v2/_catalog?last=b'),
    ('</v2/_catalog?last=b>; rel="prev"', None),
    ('', None),
    (None, None),
])
def test_parse_next_link(header, expected):
    assert h.parse_next_link(header) == expected


@pytest.mark.parametrize('body, expected', [
    (b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}',
     'UNAUTHORIZED: authentication required'),
    (b'{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."},{"code":"X","message":"y"}]}',
     'UNSUPPORTED: The operation is unsupported., X: y'),
    (b'<html>502 Bad Gateway</html>', ''),
    (b'', ''),
    (b'[1, 2]', ''),
])
def test_registry_error(body, expected):
    assert h.registry_error(body) == expected


@pytest.mark.parametrize('response, expected', [
    (resp(401, body=b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'),
     'HTTP 401 (UNAUTHORIZED: authentication required)'),
    (resp(503), 'HTTP 503'),
    (resp(None, error='GET / failed: ConnectionRefusedError: [Errno 111] Connection refused'),
     'GET / failed: ConnectionRefusedError: [Errno 111] Connection refused'),
])
def test_describe_response(response, expected):
    assert h.describe_response(response) == expected


def test_transport_error_names_reason_only():
    msg = h._transport_error(URLError(ConnectionRefusedError(111, 'Connection refused')))
    assert msg == 'ConnectionRefusedError: [Errno 111] Connection refused'


@pytest.mark.parametrize('base, url, expected', [
    ('https://r.example.com:5000', 'https://r.example.com:5000/v2/x/blobs/uploads/abc?_state=1', True),
    ('https://r.example.com:5000', 'https://R.EXAMPLE.COM:5000/v2/', True),
    ('https://r.example.com:5000', 'http://r.example.com:5000/v2/', False),
    ('https://r.example.com:5000', 'https://r.example.com:5001/v2/', False),
    ('https://r.example.com:5000', 'https://s3.example.com/bucket/blob', False),
])
def test_same_origin(base, url, expected):
    assert h.same_origin(base, url) is expected


# ---------------------------------------------------------------- certificate expiry

@pytest.mark.parametrize('not_after, expected', [
    (NOW + datetime.timedelta(days=30), 30),
    (NOW + datetime.timedelta(days=30, seconds=-1), 29),
    (NOW + datetime.timedelta(hours=23), 0),
    (NOW, 0),
    (NOW - datetime.timedelta(seconds=1), -1),
    (NOW - datetime.timedelta(days=3), -3),
])
def test_days_left(not_after, expected):
    assert h.days_left(not_after, NOW) == expected


@pytest.mark.parametrize('peercert, expected', [
    ({'notAfter': 'Jan  1 00:00:00 2030 GMT'}, datetime.datetime(2030, 1, 1, tzinfo=UTC)),
    ({'notAfter': 'Dec 31 23:59:59 2026 GMT'}, datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)),
    ({}, None),
    (None, None),
])
def test_not_after_from_peercert(peercert, expected):
    assert h.not_after_from_peercert(peercert) == expected


def test_not_after_from_der_matches_certificate():
    x509 = pytest.importorskip('cryptography.x509')
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, 'x')])
    not_after = datetime.datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW).not_valid_after(not_after).sign(key, hashes.SHA256()))
    assert h.not_after_from_der(cert.public_bytes(serialization.Encoding.DER)) == not_after
    assert h.not_after_from_der(b'') is None


@pytest.mark.parametrize('days, min_days, verified, ok, fragment', [
    (30, 0, True, True, 'certificate verified, expires 2025-07-01T12:00:00+00:00 (30 days left)'),
    (30, 30, True, True, '(30 days left)'),
    (30, 31, True, False, 'certificate expires 2025-07-01T12:00:00+00:00: 30 days left, fewer than min_days_left=31'),
    (-2, 1, False, False, '-2 days left, fewer than min_days_left=1'),
    (400, 14, False, True, 'certificate NOT verified (validate_certs=false)'),
])
def test_evaluate_tls(days, min_days, verified, ok, fragment):
    result = h.evaluate_tls(NOW + datetime.timedelta(days=days), NOW, min_days, verified)
    assert result[0] is ok
    assert fragment in result[1]
    assert result[2] == days


@pytest.mark.parametrize('min_days, ok, fragment', [
    (0, True, 'expiry unknown'),
    (7, False, 'min_days_left=7 cannot be checked'),
])
def test_evaluate_tls_unknown_expiry(min_days, ok, fragment):
    result = h.evaluate_tls(None, NOW, min_days, False)
    assert result[0] is ok and fragment in result[1] and result[2] is None


# ---------------------------------------------------------------- evaluation of responses

BASIC = {'WWW-Authenticate': 'Basic realm="dockyard"', h.API_VERSION_HEADER: h.API_VERSION}


@pytest.mark.parametrize('response, ok', [
    (resp(200), True),
    (resp(503), False),
    (resp(404), False),
    (resp(None, error='GET / failed: timeout'), False),
])
def test_evaluate_liveness(response, ok):
    assert h.evaluate_liveness(response)[0] is ok


@pytest.mark.parametrize('response, auth_expected, ok, fragment', [
    (resp(401, BASIC), True, True, "refused with 401 and a Basic challenge (realm 'dockyard')"),
    (resp(200, {h.API_VERSION_HEADER: h.API_VERSION}), True, False,
     'registry accepts anonymous requests although authentication is expected'),
    (resp(401, {'WWW-Authenticate': 'Bearer realm="https://auth/token",service="r"'}), True, False,
     'without a Basic challenge'),
    (resp(401, {}), True, False, 'without a Basic challenge'),
    (resp(401, {'WWW-Authenticate': 'Basic'}), True, False, 'without a Basic challenge'),
    (resp(502), True, False, 'expected 401, got HTTP 502'),
    (resp(None, error='GET /v2/ failed: refused'), True, False, 'failed: GET /v2/ failed: refused'),
    (resp(200), False, True, 'answered 200 (no authentication expected)'),
    (resp(401, BASIC), False, False, 'requires authentication (401) although auth_expected=false'),
    (resp(503), False, False, 'expected 200, got HTTP 503'),
])
def test_evaluate_anonymous(response, auth_expected, ok, fragment):
    result = h.evaluate_anonymous(response, auth_expected)
    assert result[0] is ok
    assert fragment in result[1]


@pytest.mark.parametrize('response, ok, fragment', [
    (resp(200, {h.API_VERSION_HEADER: 'registry/2.0'}), True, "as user 'health' answered 200"),
    (resp(200, {}), False, 'Docker-Distribution-Api-Version is None'),
    (resp(200, {h.API_VERSION_HEADER: 'registry/1.0'}), False, "is 'registry/1.0'"),
    (resp(401, BASIC, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'), False,
     "credentials of user 'health' rejected: GET /v2/ answered HTTP 401 (UNAUTHORIZED"),
    (resp(403), False, 'expected 200, got HTTP 403'),
    (resp(None, error='boom'), False, 'failed: boom'),
])
def test_evaluate_authenticated(response, ok, fragment):
    result = h.evaluate_authenticated(response, 'health')
    assert result[0] is ok
    assert fragment in result[1]


@pytest.mark.parametrize('response, ok, count', [
    (resp(200, body=b'{"repositories":["a","b/c"]}'), True, 2),
    (resp(200, body=b'{"repositories":[]}'), True, 0),
    (resp(200, body=b'{"repositories":null}'), False, None),
    (resp(200, body=b'{}'), False, None),
    (resp(200, body=b'<html>'), False, None),
    (resp(401), False, None),
])
def test_evaluate_catalog_page(response, ok, count):
    result = h.evaluate_catalog_page(response)
    assert result[0] is ok
    assert (len(result[2]) if result[2] is not None else None) == count


# ---------------------------------------------------------------- round-trip content

def test_build_layer_is_a_real_gzip_tar():
    layer, diff_id = h.build_layer(b'payload bytes')
    tar_bytes = gzip.decompress(layer)
    assert diff_id == 'sha256:' + hashlib.sha256(tar_bytes).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        member = tar.getmember('dockyard-health-check')
        assert tar.extractfile(member).read() == b'payload bytes'
    assert h.build_layer(b'payload bytes') == (layer, diff_id)  # reproducible
    assert h.build_layer(b'other')[0] != layer


def test_build_manifest_references_config_and_layer():
    layer, diff_id = h.build_layer(b'x' * 64)
    config = h.build_config(diff_id)
    assert json.loads(config)['rootfs'] == {'type': 'layers', 'diff_ids': [diff_id]}
    manifest = json.loads(h.build_manifest(config, layer))
    assert manifest['schemaVersion'] == 2
    assert manifest['mediaType'] == h.MEDIA_MANIFEST
    assert manifest['config'] == {'mediaType': h.MEDIA_CONFIG, 'size': len(config), 'digest': h.sha256_digest(config)}
    assert manifest['layers'] == [{'mediaType': h.MEDIA_LAYER, 'size': len(layer), 'digest': h.sha256_digest(layer)}]


@pytest.mark.parametrize('data, digest', [
    (b'', 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'),
    (b'abc', 'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'),
])
def test_sha256_digest(data, digest):
    assert h.sha256_digest(data) == digest


def test_unique_tag_is_a_valid_tag():
    tag = h.unique_tag(NOW, 'a1b2c3d4')
    assert tag == 'health-20250601T120000Z-a1b2c3d4'
    assert re.match(r'^[\w][\w.-]{0,127}$', tag)


# ---------------------------------------------------------------- results and messages

def test_check_result_shapes():
    assert h.skipped_result('catalog=false') == {'ok': True, 'skipped': True, 'status': None, 'latency_ms': None,
                                                 'msg': 'catalog=false'}
    assert h.not_run_result('TLS handshake failed') == {'ok': False, 'skipped': False, 'status': None,
                                                        'latency_ms': None, 'msg': 'not run: TLS handshake failed'}


@pytest.mark.parametrize('failing, attempts, expected', [
    ({'anonymous': 'registry accepts anonymous requests'}, 1,
     'registry health check failed after 1 attempt in 0.5 s: anonymous: registry accepts anonymous requests'),
    ({'round_trip': 'r', 'tls': 't'}, 3,
     'registry health check failed after 3 attempts in 0.5 s: tls: t; round_trip: r'),
])
def test_format_failure(failing, attempts, expected):
    assert h.format_failure(checks_with(**failing), attempts, 0.5) == expected


def test_failure_message_never_contains_the_password():
    """Every message is built from what the registry answered and the user name, never the password."""
    rejected = h.evaluate_authenticated(
        resp(401, BASIC, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'), 'health')
    checks = checks_with(authenticated=rejected[1], round_trip=h.not_run_result('waiting for authenticated')['msg'])
    msg = h.format_failure(checks, 2, 1.0)
    assert 'authenticated: credentials of user' in msg
    assert SECRET not in msg
    assert h.failing_checks(checks) == ['authenticated', 'round_trip']


# ---------------------------------------------------------------- retries (injected clock)

class FakeClock(object):
    def __init__(self, attempt_cost=0.25):
        self.now = 100.0
        self.sleeps = []
        self.attempt_cost = attempt_cost

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def attempts_from(outcomes, fake):
    outcomes = list(outcomes)

    def attempt():
        fake.now += fake.attempt_cost
        failing = outcomes.pop(0)
        return (checks_with(**failing), {'days_left': 5})
    return attempt


def test_retries_until_all_checks_pass():
    fake = FakeClock()
    attempt = attempts_from([{'liveness': 'refused'}, {'liveness': 'HTTP 503'}, {}], fake)
    checks, facts, attempts, elapsed = h.run_with_retries(attempt, 60, clock=fake.clock, sleep=fake.sleep)
    assert h.failing_checks(checks) == []
    assert attempts == 3
    assert fake.sleeps == [1.0, 1.0]
    assert elapsed == 2.75
    assert facts == {'days_left': 5}


def test_gives_up_after_timeout_with_last_results():
    fake = FakeClock(attempt_cost=1.5)
    attempt = attempts_from([{'liveness': 'refused'}] * 10, fake)
    checks, dummy, attempts, elapsed = h.run_with_retries(attempt, 5, clock=fake.clock, sleep=fake.sleep)
    assert h.failing_checks(checks) == ['liveness']
    assert attempts == 3  # 1.5 + 1 + 1.5 + 1 + 1.5 = 6.5 >= 5
    assert fake.sleeps == [1.0, 1.0]
    assert elapsed == 6.5


def test_last_sleep_is_capped_by_the_timeout():
    fake = FakeClock(attempt_cost=0.25)
    attempt = attempts_from([{'tls': 'x'}] * 10, fake)
    dummy, dummy2, attempts, elapsed = h.run_with_retries(attempt, 1.75, clock=fake.clock, sleep=fake.sleep)
    assert fake.sleeps == [1.0, 0.25]  # 0.25 + 1 + 0.25 = 1.5: only 0.25 s left before the timeout
    assert attempts == 3
    assert elapsed == 2.0


def test_timeout_zero_means_one_attempt():
    fake = FakeClock()
    attempt = attempts_from([{'anonymous': 'x'}, {}], fake)
    checks, dummy, attempts, dummy2 = h.run_with_retries(attempt, 0, clock=fake.clock, sleep=fake.sleep)
    assert attempts == 1 and fake.sleeps == []
    assert h.failing_checks(checks) == ['anonymous']


def test_final_result_stops_retrying():
    fake = FakeClock()
    attempt = attempts_from([{'round_trip': 'delete disabled'}] * 5, fake)
    checks, dummy, attempts, dummy2 = h.run_with_retries(
        attempt, 60, clock=fake.clock, sleep=fake.sleep, final=lambda c: h.failing_checks(c) == ['round_trip'])
    assert attempts == 1 and fake.sleeps == []
    assert h.failing_checks(checks) == ['round_trip']


def test_final_is_not_consulted_when_other_checks_fail():
    fake = FakeClock()
    attempt = attempts_from([{'round_trip': 'x', 'tls': 'y'}, {}], fake)
    dummy, dummy2, attempts, dummy3 = h.run_with_retries(
        attempt, 60, clock=fake.clock, sleep=fake.sleep, final=lambda c: h.failing_checks(c) == ['round_trip'])
    assert attempts == 2
