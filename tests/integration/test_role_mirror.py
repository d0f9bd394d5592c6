# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The role in registry_mode mirror: distribution's pull-through cache of another real registry.

The upstream is the test bed's registry:2.8.3 image run by hand, plain HTTP, with token
authentication as Docker Hub does it: /v2/ answers 401 with a Bearer challenge naming a token
endpoint, which hands out tokens only for the right user and password. distribution's proxy uses
its upstream credentials for token endpoints ONLY (registry/proxy/proxyauth.go, 2.8 and 3.x: it
keeps them for the realms the upstream's Bearer challenges name); an htpasswd (Basic) upstream
never gets them. The token endpoint is this test's own small server (TokenServer: ES256 JWTs with
an x5c header, verified by the upstream against the certificate it is given). The upstream is
published on loopback (where this machine's docker CLI pushes to it) and, like the token
endpoint, on the Docker bridge's address (where the mirror's container reaches them; nothing leaves
the host). The password holds characters that break env files and YAML ($, #, quotes, ':', space).

One mirror deployment, in file order: deployed with a WRONG upstream password (the negative
control: a pull through it fails), then with the right one at -vvv (the credentials file is drift,
the registry is recreated, the password is nowhere in the output); the first pull fills the cache;
the upstream is stopped and a second pull is still served; a push to the mirror is refused with
distribution's answer; a rerun changes nothing.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import http.server
import ipaddress
import json
import os
import stat
import threading
import time
import urllib.parse
import uuid

import pytest
import yaml

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from roles_lib import REGISTRY_IMAGE, curl, docker, free_ports, wait_for

UPSTREAM_USER = 'puller'
UPSTREAM_PASSWORD = "Up$tream #pw 'q' \"dq\" :%s" % uuid.uuid4().hex[:8]
REPOSITORY = 'dockyard-test/mirrored'


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


class TokenServer:
    """A token endpoint of distribution's token auth (docs: spec/auth/token.md, jwt.md): GET
    /token?service=...&scope=repository:NAME:ACTIONS with Basic credentials -> {"token": JWT}."""

    SERVICE = 'upstream'
    ISSUER = 'dockyard-test-token-issuer'

    def __init__(self, workdir, address):
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, u'dockyard test token issuer')])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(minutes=5))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self.key, hashes.SHA256()))
        self.bundle = os.path.join(str(workdir), 'token-ca.pem')
        with open(self.bundle, 'wb') as handle:
            handle.write(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's name)
                query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                header = self.headers.get('Authorization', '')
                user = password = None
                if header.startswith('Basic '):
                    user, dummy, password = base64.b64decode(header[6:]).decode('utf-8').partition(':')
                ok = (user, password) == (UPSTREAM_USER, UPSTREAM_PASSWORD)
                server.requests.append((user, ok))
                if not ok:
                    self.send_response(401)
                    self.end_headers()
                    return
                body = json.dumps({'token': server.token(user, query.get('scope', []))}).encode('utf-8')
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer((address, 0), Handler)
        self.realm = 'http://%s:%d/token' % (address, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def token(self, user, scopes):
        access = []
        for scope in scopes:
            for item in scope.split(' '):
                kind, dummy, rest = item.partition(':')
                name, dummy, actions = rest.rpartition(':')
                access.append({'type': kind, 'name': name, 'actions': [a for a in actions.split(',') if a]})
        now = int(time.time())
        header = {'typ': 'JWT', 'alg': 'ES256',
                  'x5c': [base64.b64encode(self.cert.public_bytes(serialization.Encoding.DER)).decode('ascii')]}
        claims = {'iss': self.ISSUER, 'sub': user, 'aud': self.SERVICE, 'exp': now + 300, 'nbf': now - 10,
                  'iat': now, 'jti': uuid.uuid4().hex, 'access': access}
        signing_input = '%s.%s' % (_b64url(json.dumps(header).encode('utf-8')), _b64url(json.dumps(claims).encode('utf-8')))
        r, s = decode_dss_signature(self.key.sign(signing_input.encode('ascii'), ec.ECDSA(hashes.SHA256())))
        return signing_input + '.' + _b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))

    def teardown(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Upstream:
    """A registry:2.8.3 container with token auth over plain HTTP."""

    def __init__(self, workdir):
        self.name = 'dockyard-mirror-upstream-%s' % uuid.uuid4().hex[:8]
        ipam = json.loads(docker('network', 'inspect', 'bridge', '-f', '{{ json (index .IPAM.Config 0) }}',
                                 check=True).stdout)
        # dockerd gives the bridge the subnet's first address when the config names no gateway.
        gateway = ipam.get('Gateway') or str(next(ipaddress.ip_network(ipam['Subnet']).hosts()))
        self.tokens = TokenServer(workdir, gateway)
        self.port, self.bridge_port = free_ports(2)
        self.local = '127.0.0.1:%d' % self.port
        # What the mirror's container reaches: this host's own address on the Docker bridge.
        self.url = 'http://%s:%d' % (gateway, self.bridge_port)
        docker('run', '-d', '--name', self.name, '-p', '%s:5000' % self.local,
               '-p', '%s:%d:5000' % (gateway, self.bridge_port),
               '-v', '%s:/token-ca.pem:ro' % self.tokens.bundle,
               '-e', 'REGISTRY_AUTH=token', '-e', 'REGISTRY_AUTH_TOKEN_REALM=%s' % self.tokens.realm,
               '-e', 'REGISTRY_AUTH_TOKEN_SERVICE=%s' % TokenServer.SERVICE,
               '-e', 'REGISTRY_AUTH_TOKEN_ISSUER=%s' % TokenServer.ISSUER,
               '-e', 'REGISTRY_AUTH_TOKEN_ROOTCERTBUNDLE=/token-ca.pem', REGISTRY_IMAGE, check=True)
        wait_for(lambda: self.status() == 401, 30, what='the upstream registry to answer 401 on /v2/')

    def status(self):
        try:
            return curl('http://%s/v2/' % self.local, timeout=5)[0]
        except AssertionError:
            return None

    def stop(self):
        docker('stop', '-t', '2', self.name, check=True)

    def teardown(self):
        docker('rm', '-f', '-v', self.name)
        self.tokens.teardown()
        return []


@pytest.fixture(scope='module')
def upstream(docker_engine, tmp_path_factory):
    made = Upstream(tmp_path_factory.mktemp('upstream'))
    yield made
    made.teardown()


@pytest.fixture(scope='module')
def mirror(role_deployments, upstream):
    """The mirror deployment (not deployed yet) and the token of an image pushed to the upstream."""
    dep = role_deployments('mirror', registry_mode='mirror', registry_mirror_url=upstream.url,
                           registry_mirror_username=UPSTREAM_USER, registry_ui_enabled=False)
    tag, token = dep.build_unique_image()
    remote = '%s/%s:1' % (upstream.local, REPOSITORY)
    dep.image_tags.append(remote)
    proc = dep.docker_client('login', upstream.local, '-u', UPSTREAM_USER, '--password-stdin',
                             input=UPSTREAM_PASSWORD + '\n', timeout=120)
    assert proc.returncode == 0, proc.stderr
    dep.docker_client('tag', tag, remote, check=True)
    dep.docker_client('push', remote, check=True, timeout=300)
    dep.docker_client('rmi', remote, tag, check=True)
    dep.token = token
    dep.mirror_ref = 'localhost:%d/%s:1' % (dep.port, REPOSITORY)
    dep.image_tags.append(dep.mirror_ref)
    return dep


def _pull(dep):
    """docker pull through the mirror after removing every local copy; (CompletedProcess, token or None)."""
    dep.docker_client('rmi', dep.mirror_ref)
    assert dep.docker_client('image', 'inspect', dep.mirror_ref).returncode != 0
    proc = dep.docker_client('pull', dep.mirror_ref, timeout=300)
    if proc.returncode != 0:
        return proc, None
    token = dep.docker_client('image', 'inspect', '-f', '{{ index .Config.Labels "org.dockyard.test.token" }}',
                              dep.mirror_ref, check=True).stdout.strip()
    return proc, token


def _manifest(dep):
    return curl('%s/v2/%s/manifests/1' % (dep.registry_url, REPOSITORY), cacert=dep.ca, user=dep.admin,
                headers=['Accept: application/vnd.docker.distribution.manifest.v2+json'])


# 1 ------------------------------------------------------------------------------------------
def test_wrong_upstream_password_fails_the_pull(mirror, upstream):
    """Negative control of the credentials: the same mirror with a wrong password serves nothing,
    because the upstream's token endpoint refused it (not for any other reason)."""
    mirror.deploy(registry_mirror_password='wrong-' + UPSTREAM_PASSWORD)
    logs = docker('logs', mirror.container_id('registry'))
    assert 'Discovered token authentication URL: %s' % upstream.tokens.realm in logs.stdout + logs.stderr
    mirror.trust()
    assert mirror.login(*mirror.admin).returncode == 0
    del upstream.tokens.requests[:]
    status, dummy, body = _manifest(mirror)
    assert status != 200, body
    proc, token = _pull(mirror)
    assert proc.returncode != 0 and token is None, proc.stdout
    assert upstream.tokens.requests and set(upstream.tokens.requests) == {(UPSTREAM_USER, False)}


# 2 ------------------------------------------------------------------------------------------
def test_right_password_is_drift_and_never_shown(mirror):
    before = mirror.identity('registry')
    result = mirror.deploy(registry_mirror_password=UPSTREAM_PASSWORD, verbosity=3)
    assert '<localhost> EXEC' in result.output
    # Only the credentials differ: the look saw it (drift), the file is rewritten, Compose recreates.
    assert result.changed_tasks() == ['dockyard.registry.registry : ' + name for name in (
        'Compare the host with the plan', "Write the mirror's upstream credentials (0600)",
        'Start the registry and its UI')], result.changed_tasks()
    for shown in (UPSTREAM_PASSWORD, json.dumps(UPSTREAM_PASSWORD)[1:-1], 'wrong-' + UPSTREAM_PASSWORD):
        assert shown not in result.output
    mirror.vars['registry_mirror_password'] = UPSTREAM_PASSWORD
    # The running registry got the new credentials (Compose recreated it for the changed env file).
    assert mirror.identity('registry') != before
    env = dict(item.split('=', 1) for item in mirror.inspect('registry')['Config']['Env'])
    # What distribution reads from it (its REGISTRY_* overrides are YAML) is the exact password.
    assert yaml.safe_load(env['REGISTRY_PROXY_PASSWORD']) == UPSTREAM_PASSWORD
    assert yaml.safe_load(env['REGISTRY_PROXY_USERNAME']) == UPSTREAM_USER
    path = os.path.join(mirror.base_dir, 'secrets', 'mirror.env')
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(os.path.join(mirror.base_dir, 'config', 'config.yml')) as handle:
        config = handle.read()
    assert 'remoteurl: %s' % mirror.vars['registry_mirror_url'] in config
    assert UPSTREAM_USER not in config and 'ttl' not in config  # 2.8 has no proxy.ttl


# 3 ------------------------------------------------------------------------------------------
def test_first_pull_fills_the_cache(mirror, upstream):
    del upstream.tokens.requests[:]
    proc, token = _pull(mirror)
    assert proc.returncode == 0, proc.stderr
    assert token == mirror.token
    assert (UPSTREAM_USER, True) in upstream.tokens.requests  # the mirror signed in upstream
    status, dummy, body = curl('%s/v2/_catalog' % mirror.registry_url, cacert=mirror.ca, user=mirror.admin)
    assert status == 200 and REPOSITORY in body


# 4 ------------------------------------------------------------------------------------------
def test_second_pull_is_served_with_the_upstream_stopped(mirror, upstream):
    upstream.stop()
    assert upstream.status() is None  # really gone
    proc, token = _pull(mirror)
    assert proc.returncode == 0, proc.stderr
    assert token == mirror.token
    # Negative control: what the upstream never had cannot be served now.
    status = curl('%s/v2/%s/manifests/never-pushed' % (mirror.registry_url, REPOSITORY), cacert=mirror.ca,
                  user=mirror.admin)[0]
    assert status != 200


# 5 ------------------------------------------------------------------------------------------
def test_push_to_the_mirror_is_refused(mirror):
    target = 'localhost:%d/dockyard-test/pushed:1' % mirror.port
    mirror.image_tags.append(target)
    mirror.docker_client('tag', mirror.mirror_ref, target, check=True)
    proc = mirror.docker_client('push', target, timeout=300)
    assert proc.returncode != 0, proc.stdout
    # What the registry answers to the start of an upload: 405, UNSUPPORTED.
    status, dummy, body = curl('%s/v2/dockyard-test/pushed/blobs/uploads/' % mirror.registry_url, method='POST',
                               cacert=mirror.ca, user=mirror.admin)
    assert status == 405, body
    assert json.loads(body)['errors'][0]['code'] == 'UNSUPPORTED'
    # Control: the same request without credentials is refused earlier, by auth.
    assert curl('%s/v2/dockyard-test/pushed/blobs/uploads/' % mirror.registry_url, method='POST',
                cacert=mirror.ca)[0] == 401


# 6 ------------------------------------------------------------------------------------------
def test_rerun_changes_nothing(mirror):
    before = mirror.identity('registry')
    result = mirror.deploy()
    assert result.changed == 0, result.changed_tasks()
    assert mirror.identity('registry') == before
