# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `ca` TLS flow end to end on a fleet reached over real SSH (issue 4).

One fleet (tests/testbed/fleet): registry1, registry2 (group registry), client1, client2 (group
docker_clients) and outsider1 (in neither group: the negative control), each with its own dockerd.
Images reach the hosts only as `docker save` archives: the role's registry_image_archives for the
registry, an Ansible copy + `docker load` for the clients' payload image.

The tests below are steps of one story and run in file order on one deployment:
  1. `ansible-playbook -i <fleet inventory> playbooks/site.yml`: a CA on the controller (key 0600,
     never on a host), a key on each registry host (0600, never anywhere else), a certificate
     signed by the CA through a CSR naming the host.
  2. Every client logs in, pushes and pulls at every registry by its DNS name; the outsider, which
     reaches the registries but has no CA, is refused (x509 unknown authority).
  3. A rerun changes nothing.
  4. Certificates issued for 40 days are renewed with registry_tls_renew_before_days 45: new
     certificates, recreated containers, clients untouched and still working.
  5. A new CA (new paths, registry_tls_ca_create): every host certificate is re-issued by it, the
     clients trust it through the client play, push and pull still work.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import hashlib
import json
import os
import re
import secrets
import ssl
import stat
import sys
import uuid

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                'testbed', 'fleet'))

import fleet as fleetlib  # noqa: E402
import fleet_lib  # noqa: E402
import roles_lib  # noqa: E402

PORT = 5000
BASE_DIR = '/opt/registry'
CERTS_DIR = BASE_DIR + '/certs'
HOST_KEY = CERTS_DIR + '/registry.key'
HOST_CERT = CERTS_DIR + '/registry.crt'
HOST_CA = CERTS_DIR + '/ca.crt'
CLIENT_CERTS_D = '/etc/docker/certs.d'
# Where a leaked key could land on a host (the image layers under /var/lib/docker are not searched).
HOST_SEARCH_DIRS = '/opt /etc /root /home /tmp /var/tmp /srv /usr/local'
PEM_KEY_RE = re.compile(rb'-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.+?-----END \1PRIVATE KEY-----', re.S)
LABEL_CERT = 'io.dockyard.registry.certificate-sha256'
DAY = 86400


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def spki_sha256(public_key):
    return hashlib.sha256(public_key.public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def key_file_public_keys(data):
    """SPKI sha256 of every private key PEM block in `data` (bytes); unparsable blocks as 'unparsable:<type>'."""
    found = []
    for match in PEM_KEY_RE.finditer(data):
        block = match.group(0)
        try:
            if match.group(1) == b'OPENSSH ':
                key = serialization.load_ssh_private_key(block, password=None)
            else:
                key = serialization.load_pem_private_key(block, password=None)
        except (ValueError, TypeError):
            found.append('unparsable:%s' % match.group(1).decode())
            continue
        found.append(spki_sha256(key.public_key()))
    return found


class FleetE2E(fleet_lib.FleetRun):
    """The fleet, the controller directories of this test and the site.yml runs against them."""

    def __init__(self, fleet, root):
        fleet_lib.FleetRun.__init__(self, fleet, root)
        self.user = 'fleet'
        self.password = secrets.token_urlsafe(18)
        self.done = set()
        self.records = {}

    # ------------------------------------------------------------ hosts
    @property
    def registries(self):
        return self.fleet.group('registry')

    @property
    def clients(self):
        return self.fleet.group('docker_clients')

    @property
    def outsiders(self):
        return self.fleet.group('outsiders')

    @staticmethod
    def address(registry):
        return '%s:%d' % (registry.fqdn, PORT)

    # ------------------------------------------------------------ runs
    def deploy(self):
        result = self.site()
        assert result.rc == 0, result.describe()
        hosts = {h.fqdn for h in self.registries + self.clients}
        assert hosts <= set(result.recap), 'PLAY RECAP lacks hosts: %s' % result.recap
        for host, counts in result.recap.items():
            assert counts['failed'] == 0 and counts['unreachable'] == 0, (host, counts)
        for host in self.outsiders:
            assert host.fqdn not in result.recap, 'the outsider is in no play of site.yml'
        return result

    def need(self, *steps):
        missing = [step for step in steps if step not in self.done]
        if missing:
            pytest.fail('this step needs the earlier step(s) %s, which did not pass' % ', '.join(missing))

    # ------------------------------------------------------------ certificates
    def ca_paths(self):
        return self.vars['registry_tls_ca_cert'], self.vars['registry_tls_ca_key']

    def host_cert(self, registry, label):
        """The host's certificate, fetched to the controller: (path, x509 object)."""
        pem = self.sh_ok(registry, 'cat %s' % HOST_CERT)
        path = os.path.join(self.work, '%s-%s-%s.crt' % (registry.short, label, uuid.uuid4().hex[:6]))
        with open(path, 'w') as handle:
            handle.write(pem)
        return path, x509.load_pem_x509_certificate(pem.encode())

    def served_cert(self, registry):
        pem = ssl.get_server_certificate((registry.ip, PORT), timeout=30)
        return x509.load_pem_x509_certificate(pem.encode())

    @staticmethod
    def verify(ca_path, cert_path):
        return roles_lib.run(['openssl', 'verify', '-CAfile', ca_path, cert_path], timeout=60)

    def host_key_hash(self, registry):
        """SPKI sha256 of the host's key and of its certificate, both computed by openssl on the host."""
        out = self.sh_ok(registry, 'set -e; openssl pkey -in %s -pubout -outform DER | sha256sum; '
                                   'openssl x509 -in %s -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum'
                         % (HOST_KEY, HOST_CERT))
        key_hash, cert_hash = [line.split()[0] for line in out.splitlines()]
        return key_hash, cert_hash

    def registry_container(self, registry):
        out = self.sh_ok(registry, "docker ps -q --no-trunc --filter label=com.docker.compose.project=registry "
                                   "--filter label=com.docker.compose.service=registry")
        ids = out.split()
        assert len(ids) == 1, 'one running registry container on %s, found %r' % (registry.fqdn, ids)
        data = json.loads(self.sh_ok(registry, 'docker inspect %s' % ids[0]))[0]
        return data['Id'], data['Config']['Labels'].get(LABEL_CERT)

    def record(self, registry, label):
        """What identifies the deployment of one registry host now (certificate, container)."""
        path, cert = self.host_cert(registry, label)
        container, cert_label = self.registry_container(registry)
        state = {
            'path': path, 'cert': cert, 'serial': cert.serial_number, 'not_after': not_after(cert),
            'fingerprint': cert.fingerprint(hashes.SHA256()).hex(),
            'file_sha256': self.sh_ok(registry, 'sha256sum %s' % HOST_CERT).split()[0],
            'container': container, 'label': cert_label,
            'served': self.served_cert(registry).fingerprint(hashes.SHA256()).hex(),
        }
        self.records[(registry.short, label)] = state
        return state

    def client_ca(self, client, registry):
        return self.sh_ok(client, 'cat %s/%s/ca.crt' % (CLIENT_CERTS_D, self.address(registry)))

    # ------------------------------------------------------------ keys stay where they belong
    def assert_keys_stay_home(self):
        """Every host: the only file holding a private key is a registry host's own registry.key, and
        no host holds the CA key's material; the controller holds no host key (public keys compared)."""
        ca_cert_path, ca_key_path = self.ca_paths()
        assert stat.S_IMODE(os.stat(ca_key_path).st_mode) == 0o600, 'the CA key on the controller is not 0600'
        with open(ca_key_path, 'rb') as handle:
            ca_key_pem = handle.read()
        ca_body = [line for line in ca_key_pem.decode().splitlines() if line and not line.startswith('-----')]
        host_key_hashes = {}
        for host in self.fleet.hosts:
            out = self.sh(host, 'grep -rlsIE -- "-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----" %s %s; true'
                          % (BASE_DIR, HOST_SEARCH_DIRS)).stdout
            files = sorted(set(out.split()) - {'/etc/ssh/ssh_host_ed25519_key', '/etc/ssh/ssh_host_ecdsa_key',
                                               '/etc/ssh/ssh_host_rsa_key'})
            expected = [HOST_KEY] if host in self.registries else []
            assert files == expected, 'files holding a private key on %s: %r (expected %r)' % (
                host.fqdn, files, expected)
            # The CA key's base64 lines, given on stdin (never on a command line).
            leaked = self.sh(host, 'grep -rlsIF -f - %s; true' % HOST_SEARCH_DIRS, input='\n'.join(ca_body) + '\n')
            assert leaked.stdout.split() == [], 'the CA key is on %s: %r' % (host.fqdn, leaked.stdout.split())
            if host in self.registries:
                mode = self.sh_ok(host, 'stat -c "%%a %%U" %s' % HOST_KEY).split()
                assert mode == ['600', 'root'], 'registry.key on %s: mode/owner %r' % (host.fqdn, mode)
                key_hash, cert_hash = self.host_key_hash(host)
                assert key_hash == cert_hash, 'registry.key on %s does not match registry.crt' % host.fqdn
                host_key_hashes[host.fqdn] = key_hash
        assert len(set(host_key_hashes.values())) == len(self.registries), 'each host has its own key'
        # The controller: every private key PEM block under this test's directories (and Ansible's
        # controller temp directory) by public key.
        controller = {}
        roots = [self.root, os.path.expanduser('~/.ansible/tmp')]
        for top in roots:
            for dirpath, dummy, filenames in os.walk(top):
                for name in filenames:
                    path = os.path.join(dirpath, name)
                    try:
                        with open(path, 'rb') as handle:
                            data = handle.read()
                    except OSError:
                        continue
                    if b'PRIVATE KEY-----' in data:
                        controller[path] = key_file_public_keys(data)
        mine = [path for path in controller if path.startswith(self.root + os.sep)]
        unparsable = [(path, h) for path in mine for h in controller[path] if h.startswith('unparsable')]
        assert unparsable == [], 'key files under the test directory that could not be compared: %r' % unparsable
        with open(ca_cert_path, 'rb') as handle:
            ca_public = spki_sha256(x509.load_pem_x509_certificate(handle.read()).public_key())
        # Positive control: the scan finds the CA key (and only where it was put).
        holding_ca = [path for path, found in controller.items() if ca_public in found]
        assert os.path.realpath(ca_key_path) in [os.path.realpath(p) for p in holding_ca], (
            'the scan of the controller did not find the CA key: %r' % sorted(controller))
        for fqdn, key_hash in host_key_hashes.items():
            copies = [path for path, found in controller.items() if key_hash in found]
            assert copies == [], 'the key of %s is on the controller: %r' % (fqdn, copies)
        return host_key_hashes

    # ------------------------------------------------------------ Docker clients
    def load_payload(self, pattern='docker_clients:outsiders'):
        """The payload image on the clients and the outsider: an archive copied by Ansible, `docker load`."""
        fleet_lib.FleetRun.load_payload(self, pattern)
        ids = set()
        for host in self.clients + self.outsiders:
            ids.add(self.sh_ok(host, "docker image inspect -f '{{.Id}}' %s" % self.payload['image']).strip())
        assert len(ids) == 1, 'the payload differs between hosts: %r' % ids
        self.payload['id'] = ids.pop()

    def login(self, client, registry, password=None):
        return self.sh(client, 'docker login --username %s --password-stdin %s' % (self.user, self.address(registry)),
                       input=(self.password if password is None else password) + '\n')

    def push_pull_matrix(self, step):
        """Every client logs in and pushes <registry>/fleet/hello:<step>-<client> to every registry, then
        pulls the tag the OTHER client pushed (a tag it never had: the registry must serve it)."""
        clients = self.clients
        assert len(clients) >= 2 and len(self.registries) >= 2
        for registry in self.registries:
            for client in clients:
                proc = self.login(client, registry)
                assert proc.returncode == 0 and 'Login Succeeded' in proc.stdout, (
                    '%s: docker login %s failed: %s' % (client.fqdn, self.address(registry), proc.stderr[-1000:]))
                ref = '%s/fleet/hello:%s-%s' % (self.address(registry), step, client.short)
                out = self.sh_ok(client, 'set -e; docker tag %s %s; docker push %s' % (self.payload['image'], ref, ref),
                                 timeout=300)
                assert re.search(r'digest: sha256:[0-9a-f]{64}', out), '%s: push %s: %s' % (client.fqdn, ref, out)
        for registry in self.registries:
            for index, client in enumerate(clients):
                other = clients[(index + 1) % len(clients)]
                ref = '%s/fleet/hello:%s-%s' % (self.address(registry), step, other.short)
                out = self.sh_ok(client, 'set -e; docker pull %s; docker image inspect -f "{{.Id}}" %s'
                                 % (ref, ref), timeout=300)
                assert 'Downloaded newer image for %s' % ref in out, '%s: pull %s: %s' % (client.fqdn, ref, out)
                assert out.strip().splitlines()[-1] == self.payload['id'], (
                    '%s: the image pulled from %s is not the pushed one' % (client.fqdn, ref))
                # A tag nobody pushed is not there (the pull above was answered by the registry).
                missing = self.sh(client, 'docker pull %s/fleet/hello:never-pushed' % self.address(registry))
                assert missing.returncode != 0 and 'not found' in (missing.stderr + missing.stdout).lower(), (
                    missing.stderr[-500:])


@pytest.fixture(scope='module')
def e2e(docker_engine, tmp_path_factory):
    if roles_lib.docker('image', 'inspect', fleetlib.IMAGE).returncode != 0:
        pytest.fail('image %s is missing: %s' % (fleetlib.IMAGE, fleetlib.BUILD_HINT))
    root = str(tmp_path_factory.mktemp('fleet-e2e'))
    name = 'e2e-%s' % uuid.uuid4().hex[:8]
    with fleetlib.Fleet(name, registries=2, clients=2, outsiders=1, out=os.path.join(root, 'fleet')) as fleet:
        ctx = FleetE2E(fleet, root)
        archives = fleetlib.save_images(os.path.join(root, 'images'))
        images = {a['image']: a for a in archives}
        ctx.payload = dict([a for a in archives if a['kind'] == 'payload'][0])
        registry_image = roles_lib.REGISTRY_IMAGE
        for directory in ('ca', 'ca2'):
            os.makedirs(os.path.join(root, directory), mode=0o700)
        ctx.write_vars(
            registry_version=roles_lib.REGISTRY_VERSION,
            registry_image=registry_image,
            # The UI is off to save time: the hosts get only the registry image, from its archive.
            registry_ui_enabled=False,
            registry_image_archives=[{'src': images[registry_image]['src'], 'image': registry_image}],
            registry_tls_mode='ca',
            registry_tls_ca_create=True,
            registry_tls_ca_cert=os.path.join(root, 'ca', 'ca.crt'),
            registry_tls_ca_key=os.path.join(root, 'ca', 'ca.key'),
            # Issued for 40 days: step 4 renews them before they expire.
            registry_tls_valid_days=40,
            registry_users=[{'name': ctx.user, 'password': ctx.password}],
        )
        yield ctx


def test_1_site_deploys_ca_signed_registries_keys_stay_home(e2e):
    for host in e2e.fleet.hosts:
        images = e2e.sh_ok(host, "docker images -q").split()
        assert images == [], '%s has images before the deploy: %r' % (host.fqdn, images)
    ca_cert, ca_key = e2e.ca_paths()
    assert not os.path.exists(ca_cert) and not os.path.exists(ca_key)

    e2e.deploy()

    # The CA was created once, on the controller.
    assert stat.S_IMODE(os.stat(ca_key).st_mode) == 0o600
    with open(ca_cert, 'rb') as handle:
        ca = x509.load_pem_x509_certificate(handle.read())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    e2e.assert_keys_stay_home()
    for registry in e2e.registries:
        listing = sorted(e2e.sh_ok(registry, 'ls -A %s' % CERTS_DIR).split())
        assert listing == ['ca.crt', 'registry.crt', 'registry.key'], (registry.fqdn, listing)
        with open(ca_cert) as handle:
            assert e2e.sh_ok(registry, 'cat %s' % HOST_CA) == handle.read()
        # The image came from the archive: the registry runs it and nothing else was loaded.
        images = e2e.sh_ok(registry, "docker images --format '{{.Repository}}:{{.Tag}}'").split()
        assert images == [roles_lib.REGISTRY_IMAGE], (registry.fqdn, images)
        state = e2e.record(registry, 'deployed')
        proc = e2e.verify(ca_cert, state['path'])
        assert proc.returncode == 0 and ': OK' in proc.stdout, (registry.fqdn, proc.stdout, proc.stderr)
        cert = state['cert']
        assert cert.issuer == ca.subject
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dns = names.get_values_for_type(x509.DNSName)
        assert registry.fqdn in dns, (registry.fqdn, dns)
        assert [h.fqdn for h in e2e.fleet.hosts if h.fqdn in dns] == [registry.fqdn], dns
        days = (state['not_after'] - utcnow()).total_seconds() / DAY
        assert 38.9 < days <= 40.1, 'issued for registry_tls_valid_days 40, valid for %.1f days' % days
        assert state['served'] == state['fingerprint'], '%s serves another certificate' % registry.fqdn
        assert state['label'] == state['file_sha256'], 'the container label is the certificate hash'
    e2e.done.add('deploy')


def test_2_every_client_pushes_and_pulls_at_every_registry(e2e):
    e2e.need('deploy')
    e2e.load_payload()
    for client in e2e.clients:
        for registry in e2e.registries:
            with open(e2e.ca_paths()[0]) as handle:
                assert e2e.client_ca(client, registry) == handle.read()
    client, registry = e2e.clients[0], e2e.registries[0]
    # Negative controls on a trusted client: no credentials, then a wrong password.
    ref = '%s/fleet/hello:anonymous' % e2e.address(registry)
    anonymous = e2e.sh(client, 'docker tag %s %s && docker push %s' % (e2e.payload['image'], ref, ref), timeout=300)
    assert anonymous.returncode != 0 and 'no basic auth credentials' in anonymous.stderr + anonymous.stdout, (
        anonymous.stdout[-500:], anonymous.stderr[-500:])
    wrong = e2e.login(client, registry, password='wrong-' + e2e.password)
    assert wrong.returncode != 0 and 'unauthorized' in wrong.stderr.lower(), wrong.stderr[-500:]

    e2e.push_pull_matrix('deployed')

    # The outsider reaches every registry but does not trust it.
    for outsider in e2e.outsiders:
        for registry in e2e.registries:
            assert e2e.sh(outsider, 'test -e %s/%s' % (CLIENT_CERTS_D, e2e.address(registry))).returncode == 1
            code = e2e.sh_ok(outsider, 'curl -sS --insecure -o /dev/null -w "%%{http_code}" https://%s/v2/'
                             % e2e.address(registry))
            assert code == '401', 'the registry is reachable from %s (%s)' % (outsider.fqdn, code)
            refused = e2e.login(outsider, registry)
            assert refused.returncode != 0, 'an outsider without the CA logged in'
            assert 'x509' in refused.stderr and 'unknown authority' in refused.stderr, refused.stderr[-800:]
    e2e.done.add('push_pull')


def test_3_rerun_changes_nothing_over_ssh(e2e):
    e2e.need('deploy')
    result = e2e.deploy()
    changed = {host: counts['changed'] for host, counts in result.recap.items() if counts['changed']}
    assert changed == {}, 'the rerun changed %r: tasks %r\n%s' % (changed, result.changed_tasks(), result.stdout[-4000:])
    for registry in e2e.registries:
        now = e2e.registry_container(registry)
        before = e2e.records[(registry.short, 'deployed')]
        assert now == (before['container'], before['label']), '%s: the registry container changed' % registry.fqdn
    e2e.done.add('idempotent')


def test_4_certificates_are_renewed_before_they_expire(e2e):
    e2e.need('deploy', 'push_pull')
    client_cas = {(c.short, r.short): e2e.client_ca(c, r) for c in e2e.clients for r in e2e.registries}
    before = {r.short: e2e.record(r, 'before-renewal') for r in e2e.registries}
    keys_before = {r.short: e2e.host_key_hash(r)[0] for r in e2e.registries}

    e2e.write_vars(registry_tls_renew_before_days=45, registry_tls_valid_days=365)
    result = e2e.deploy()

    ca_cert = e2e.ca_paths()[0]
    for registry in e2e.registries:
        old, new = before[registry.short], e2e.record(registry, 'renewed')
        assert new['serial'] != old['serial'], '%s: the certificate was not re-issued' % registry.fqdn
        days = (new['not_after'] - utcnow()).total_seconds() / DAY
        assert 363.9 < days <= 365.1, '%s: renewed for %.1f days, not 365' % (registry.fqdn, days)
        proc = e2e.verify(ca_cert, new['path'])
        assert proc.returncode == 0 and ': OK' in proc.stdout, (registry.fqdn, proc.stdout, proc.stderr)
        assert new['container'] != old['container'], '%s: the registry container was not recreated' % registry.fqdn
        assert new['label'] == new['file_sha256'] != old['label']
        assert new['served'] == new['fingerprint'], '%s still serves the old certificate' % registry.fqdn
        key_hash, cert_hash = e2e.host_key_hash(registry)
        assert key_hash == cert_hash, '%s: registry.key does not match the renewed certificate' % registry.fqdn
        assert key_hash == keys_before[registry.short], '%s: renewal replaced the host key' % registry.fqdn
    # Same CA: nothing changes on the clients, and they keep working.
    for client in e2e.clients:
        assert result.recap[client.fqdn]['changed'] == 0, (client.fqdn, result.changed_tasks())
        for registry in e2e.registries:
            assert e2e.client_ca(client, registry) == client_cas[(client.short, registry.short)]
    e2e.push_pull_matrix('renewed')
    e2e.done.add('renewed')


def test_5_a_new_ca_reissues_every_host_certificate(e2e):
    e2e.need('deploy', 'push_pull')
    old_ca = e2e.ca_paths()[0]
    before = {r.short: e2e.record(r, 'before-new-ca') for r in e2e.registries}
    root = e2e.root
    new_ca, new_key = os.path.join(root, 'ca2', 'ca.crt'), os.path.join(root, 'ca2', 'ca.key')
    assert not os.path.exists(new_ca) and not os.path.exists(new_key)

    e2e.write_vars(registry_tls_ca_cert=new_ca, registry_tls_ca_key=new_key)
    result = e2e.deploy()

    assert stat.S_IMODE(os.stat(new_key).st_mode) == 0o600
    with open(new_ca) as handle:
        new_ca_pem = handle.read()
    with open(old_ca) as handle:
        assert handle.read() != new_ca_pem, 'no new CA was created'
    for registry in e2e.registries:
        old, new = before[registry.short], e2e.record(registry, 'new-ca')
        assert new['serial'] != old['serial'], '%s: the certificate was not re-issued' % registry.fqdn
        proc = e2e.verify(new_ca, new['path'])
        assert proc.returncode == 0 and ': OK' in proc.stdout, (registry.fqdn, proc.stdout, proc.stderr)
        stale = e2e.verify(old_ca, new['path'])
        assert stale.returncode != 0, '%s: the old CA still verifies the new certificate' % registry.fqdn
        assert new['served'] == new['fingerprint'], '%s still serves the old certificate' % registry.fqdn
        assert new['container'] != old['container']
        assert e2e.sh_ok(registry, 'cat %s' % HOST_CA) == new_ca_pem
    for client in e2e.clients:
        assert result.recap[client.fqdn]['changed'] > 0, 'the client play did not update %s' % client.fqdn
        for registry in e2e.registries:
            assert e2e.client_ca(client, registry) == new_ca_pem, (client.fqdn, registry.fqdn)
    e2e.push_pull_matrix('new-ca')
    # Still: no key left its place (the new CA key stays on the controller, 0600).
    e2e.assert_keys_stay_home()
