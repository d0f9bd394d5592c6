# -*- coding: utf-8 -*-
# Copyright (c) 2026, dockyard.registry developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers for the TLS tests of the registry role: Pebble (Let's Encrypt's ACME test server, Debian's
`pebble` package) on loopback, certificates made with cryptography, and what a TLS client is served.

Pebble validates HTTP-01 for real (PEBBLE_VA_ALWAYS_VALID is not set) on `http_port`, which the
tests give the role as registry_tls_acme_challenge_port; it never reuses an authorization
(PEBBLE_AUTHZREUSE=0), so every order needs its challenge served. Its ACME listener has a
certificate from a test CA made here; the certificates it issues chain to a root it generates at
start (management endpoint /roots/0). `ca_bundle` holds both: the root of this private ACME CA.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os
import re
import shutil
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from roles_lib import free_ports, run, wait_for

PEM_RE = re.compile(r'-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----')


# ------------------------------------------------------------------------------------------------
# Certificates

def new_key():
    return ec.generate_private_key(ec.SECP256R1())


def key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def cert_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


def make_cert(key, common_name, issuer_key=None, issuer_cert=None, ca=False, names=(), days=30):
    """A CA certificate (ca=True) or a server certificate for `names` (DNS names or IPv4 addresses),
    signed by issuer_key/issuer_cert, or self-signed without them."""
    import ipaddress
    now = datetime.datetime.now(datetime.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert is not None else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=days))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False))
    if issuer_cert is not None:
        builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                                        critical=False)
    if ca:
        builder = (builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                crl_sign=True, encipher_only=False, decipher_only=False), critical=True))
    else:
        alt = []
        for name in names:
            try:
                alt.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                alt.append(x509.DNSName(name))
        builder = (builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                   .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False))
    return builder.sign(issuer_key if issuer_key is not None else key, hashes.SHA256())


def write(path, data, mode=0o644):
    with open(path, 'wb') as handle:
        handle.write(data)
    os.chmod(path, mode)
    return path


# ------------------------------------------------------------------------------------------------
# What a TLS client is served

def served_chain(port, server_name='localhost', host='127.0.0.1'):
    """The PEM certificates `openssl s_client -showcerts` receives, leaf first."""
    proc = run(['openssl', 's_client', '-connect', '%s:%d' % (host, port), '-servername', server_name, '-showcerts'],
               input='', timeout=30)
    return PEM_RE.findall(proc.stdout)


def skopeo_without_ca(dep):
    """skopeo inspect of the deployment's image with an empty cert dir (the system trust only)."""
    empty = os.path.join(dep.workdir, 'no-certs')
    os.makedirs(empty, exist_ok=True)
    return dep.skopeo_inspect(cert_dir=empty)


def file_chain(path):
    with open(path) as handle:
        return PEM_RE.findall(handle.read())


def fingerprint(pem):
    cert = x509.load_pem_x509_certificate(pem.encode('ascii'))
    return cert.fingerprint(hashes.SHA256()).hex()


def subject_cn(pem):
    cert = x509.load_pem_x509_certificate(pem.encode('ascii'))
    return cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def issuer_cn(pem):
    cert = x509.load_pem_x509_certificate(pem.encode('ascii'))
    return cert.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value


def verify_with_openssl(chain_pems, root_file, workdir, server_name='localhost'):
    """`openssl verify` of the leaf, with the served intermediates as untrusted and only root_file trusted."""
    leaf = write(os.path.join(workdir, 'verify-leaf.pem'), chain_pems[0].encode('ascii') + b'\n')
    untrusted = write(os.path.join(workdir, 'verify-chain.pem'),
                      ('\n'.join(chain_pems[1:]) + '\n').encode('ascii'))
    argv = ['openssl', 'verify', '-CAfile', root_file, '-verify_hostname', server_name]
    if len(chain_pems) > 1:
        argv += ['-untrusted', untrusted]
    return run(argv + [leaf], timeout=30)


# ------------------------------------------------------------------------------------------------
# Pebble

class Pebble:
    """One pebble process on 127.0.0.1; `start()` waits for its directory, `stop()` ends it."""

    def __init__(self, workdir, http_port=None, eab_keys=None, validity_seconds=None):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.port, self.management_port, tls_port, default_http = free_ports(4)
        self.http_port = http_port or default_http
        self.eab_keys = dict(eab_keys or {})
        self.log_path = os.path.join(self.workdir, 'pebble.log')
        self.process = None
        # The ACME listener's own certificate, from a test CA made here.
        ca_key, key = new_key(), new_key()
        ca = make_cert(ca_key, 'dockyard test ACME listener CA', ca=True)
        listener = make_cert(key, 'localhost', ca_key, ca, names=['localhost', '127.0.0.1'])
        self.listener_ca = write(os.path.join(self.workdir, 'listener-ca.pem'), cert_pem(ca))
        config = {'pebble': {
            'listenAddress': '127.0.0.1:%d' % self.port,
            'managementListenAddress': '127.0.0.1:%d' % self.management_port,
            'certificate': write(os.path.join(self.workdir, 'listener.pem'), cert_pem(listener)),
            'privateKey': write(os.path.join(self.workdir, 'listener.key'), key_pem(key), 0o600),
            'httpPort': self.http_port,
            'tlsPort': tls_port,
            'ocspResponderURL': '',
            'externalAccountBindingRequired': bool(self.eab_keys),
            'externalAccountMACKeys': self.eab_keys,
        }}
        if validity_seconds:
            config['pebble']['certificateValidityPeriod'] = int(validity_seconds)
        self.config = write(os.path.join(self.workdir, 'pebble-config.json'), json.dumps(config).encode('ascii'))
        self.root = None
        self.ca_bundle = os.path.join(self.workdir, 'acme-ca-bundle.pem')

    @property
    def directory(self):
        return 'https://localhost:%d/dir' % self.port

    def start(self, timeout=60):
        if shutil.which('pebble') is None:
            raise AssertionError('pebble is not installed: run tests/testbed/setup.sh (Debian package pebble)')
        env = dict(os.environ, PEBBLE_VA_NOSLEEP='1', PEBBLE_WFE_NONCEREJECT='0', PEBBLE_AUTHZREUSE='0')
        env.pop('PEBBLE_VA_ALWAYS_VALID', None)
        log = open(self.log_path, 'ab')
        self.process = subprocess.Popen(['pebble', '-config', self.config, '-strict=false'], stdout=log,
                                        stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        log.close()

        def answers():
            if self.process.poll() is not None:
                raise AssertionError('pebble exited (rc=%s): %s' % (self.process.returncode, self.log()[-2000:]))
            proc = run(['curl', '-sS', '--cacert', self.listener_ca, self.directory], timeout=10)
            return proc.returncode == 0 and 'newOrder' in proc.stdout
        wait_for(answers, timeout, interval=0.3, what='pebble directory %s' % self.directory)
        proc = run(['curl', '-sS', '--cacert', self.listener_ca,
                    'https://localhost:%d/roots/0' % self.management_port], timeout=10, check=True)
        self.root = PEM_RE.findall(proc.stdout)[0] + '\n'
        write(os.path.join(self.workdir, 'pebble-root.pem'), self.root.encode('ascii'))
        # The private ACME CA's "root" for the role: its directory's CA and the issuing root.
        with open(self.listener_ca) as handle:
            write(self.ca_bundle, (handle.read() + self.root).encode('ascii'))
        return self

    @property
    def root_file(self):
        return os.path.join(self.workdir, 'pebble-root.pem')

    def log(self):
        with open(self.log_path, 'rb') as handle:
            return handle.read().decode('utf-8', 'replace')

    def orders(self):
        """How many new orders pebble was asked for (one log line per POST to its newOrder URL)."""
        return len(re.findall(r'POST /order-plz', self.log()))

    def accounts(self):
        return len(re.findall(r'POST /sign-me-up', self.log()))

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return []

    def teardown(self):
        return self.stop()


def wait_port_closed(port, timeout=15):
    """True once nothing accepts connections on 127.0.0.1:port."""
    import socket

    def closed():
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(1)
        try:
            sock.connect(('127.0.0.1', port))
        except (socket.error, OSError):
            return True
        finally:
            sock.close()
        return False
    return wait_for(closed, timeout, interval=0.3, what='port %d closed' % port)


__all__ = ['Pebble', 'make_cert', 'new_key', 'key_pem', 'cert_pem', 'served_chain', 'skopeo_without_ca', 'file_chain', 'fingerprint',
           'issuer_cn', 'subject_cn', 'verify_with_openssl', 'write', 'wait_port_closed']
