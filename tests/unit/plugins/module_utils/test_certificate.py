# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json

import pytest

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.dockyard.registry.plugins.module_utils import _certificate as c
from ansible_collections.dockyard.registry.plugins.module_utils._certificate import CertificateError, Source

NOW = datetime.datetime(2025, 6, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
DAY = datetime.timedelta(days=1)
P256 = c.KeySpec('ecdsa', 'P-256', None)
SANS = ['DNS:registry.example.com', 'IP:127.0.0.1']


# ------------------------------------------------------------------ subject alternative names

@pytest.mark.parametrize('value, expected', [
    ('localhost', 'DNS:localhost'),
    ('DNS:Registry.Example.COM', 'DNS:registry.example.com'),
    ('dns:registry.example.com', 'DNS:registry.example.com'),
    ('*.example.com', 'DNS:*.example.com'),
    ('xn--bcher-kva.example', 'DNS:xn--bcher-kva.example'),
    ('a' * 63 + '.example', 'DNS:' + 'a' * 63 + '.example'),
    ('1host.example', 'DNS:1host.example'),
    ('127.0.0.1', 'IP:127.0.0.1'),
    ('IP:10.1.2.3', 'IP:10.1.2.3'),
    ('::1', 'IP:::1'),
    ('IP:2001:DB8:0:0::1', 'IP:2001:db8::1'),
    (' registry ', 'DNS:registry'),
])
def test_parse_san_good(value, expected):
    assert c.parse_subject_alt_name(value) == expected


@pytest.mark.parametrize('value, problem', [
    ('foo bar', 'not a valid DNS name'),
    ('999.1.1.1', 'not a valid IP address'),
    ('1.2.3', 'not a valid IP address'),
    ('-bad.example', 'not a valid DNS name'),
    ('bad-.example', 'not a valid DNS name'),
    ('', 'empty entry'),
    ('   ', 'empty entry'),
    ('a' * 64 + '.example', 'not a valid DNS name'),
    ('.'.join(['a' * 60] * 5), 'not a valid DNS name'),  # 304 characters
    ('exa_mple.com', 'not a valid DNS name'),
    ('a..example', 'not a valid DNS name'),
    ('a.*.example', 'not a valid DNS name'),
    ('*.', 'not a valid DNS name'),
    ('*', 'not a valid DNS name'),
    ('DNS:', 'not a valid DNS name'),
    ('DNS:999.1.1.1', 'not a valid DNS name'),
    ('IP:registry.example.com', 'not a valid IP address'),
    ('IP:10.0.0.0/8', 'not a valid IP address'),
    ('2001:db8::g', 'not a valid IP address'),
    ('fe80::1%eth0', 'not a valid IP address'),
    ('email:admin@example.com', 'not a valid IP address'),
    (u'b\u00fccher.example', 'not a valid DNS name'),
])
def test_parse_san_bad(value, problem):
    with pytest.raises(CertificateError) as exc:
        c.parse_subject_alt_name(value)
    message = str(exc.value)
    assert message.startswith('subject_alt_names=%r: ' % value)
    assert problem in message
    assert "allowed: 'DNS:<name>', 'IP:<address>'" in message


def test_parse_sans_dedupes_keeping_order():
    assert c.parse_subject_alt_names(['b.example', 'DNS:B.example', '::1', 'IP:0:0::1', 'a.example']) == \
        ['DNS:b.example', 'IP:::1', 'DNS:a.example']


@pytest.mark.parametrize('values', [[], None])
def test_parse_sans_requires_one(values):
    with pytest.raises(CertificateError, match='at least one entry is required'):
        c.parse_subject_alt_names(values)


@pytest.mark.parametrize('sans, expected', [
    (['IP:10.0.0.1', 'DNS:registry.example.com'], 'registry.example.com'),
    (['IP:10.0.0.1', 'IP:10.0.0.2'], '10.0.0.1'),
    (['DNS:' + 'a' * 63 + '.example', 'DNS:short.example'], 'short.example'),
])
def test_default_common_name(sans, expected):
    assert c.default_common_name(sans) == expected


def test_default_common_name_none_fits():
    with pytest.raises(CertificateError, match='common_name: no subject alternative name fits'):
        c.default_common_name(['DNS:' + 'a' * 63 + '.example'])


@pytest.mark.parametrize('value', ['', 'x' * 65])
def test_common_name_length(value):
    with pytest.raises(CertificateError, match='common_name=.*1 to 64 characters'):
        c.validate_common_name(value)


# ------------------------------------------------------------------ keys

@pytest.mark.parametrize('args, expected', [
    (('ecdsa', 'P-256', None), 'ecdsa P-256'),
    (('ecdsa', 'P-384', None), 'ecdsa P-384'),
    (('rsa', 'P-256', None), 'rsa 3072'),
    (('rsa', None, 2048), 'rsa 2048'),
    (('rsa', None, 4096), 'rsa 4096'),
])
def test_key_spec_and_generation(args, expected):
    spec = c.key_spec(*args)
    assert spec.describe() == expected
    key = c.generate_private_key(spec)
    assert c.describe_key(key) == expected
    assert c.key_matches_spec(key, spec)
    pem = c.private_key_pem(key)
    assert pem.startswith(b'-----BEGIN PRIVATE KEY-----\n')  # PKCS#8, unencrypted
    assert c.same_public_key(c.load_private_key(pem), key)


@pytest.mark.parametrize('args, option, value', [
    (('ecdsa', 'P-521', None), 'curve', 'P-521'),
    (('ecdsa', 'secp256k1', None), 'curve', 'secp256k1'),
    (('ecdsa', 'P-256', 2048), 'key_size', 2048),
    (('rsa', None, 1024), 'key_size', 1024),
    (('dsa', None, None), 'key_type', 'dsa'),
])
def test_key_spec_bad(args, option, value):
    with pytest.raises(CertificateError) as exc:
        c.key_spec(*args)
    assert str(exc.value).startswith('%s=%r: ' % (option, value))


@pytest.fixture(scope='module')
def keys():
    return {
        'p256': ec.generate_private_key(ec.SECP256R1()),
        'p256b': ec.generate_private_key(ec.SECP256R1()),
        'p384': ec.generate_private_key(ec.SECP384R1()),
        'rsa2048': rsa.generate_private_key(public_exponent=65537, key_size=2048),
    }


def pem(key):
    return c.private_key_pem(key)


def test_evaluate_key(keys):
    assert c.evaluate_key(None, P256) == (None, 'missing')
    assert c.evaluate_key(b'garbage', P256) == (None, 'unreadable')
    encrypted = keys['p256'].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.BestAvailableEncryption(b'pass phrase'))
    assert c.evaluate_key(encrypted, P256) == (None, 'unreadable')
    assert c.evaluate_key(pem(keys['p384']), P256) == (None, 'key_type_changed')
    assert c.evaluate_key(pem(keys['rsa2048']), c.KeySpec('rsa', None, 3072)) == (None, 'key_type_changed')
    assert c.evaluate_key(pem(keys['p256']), P256, force=True) == (None, 'forced')
    key, reason = c.evaluate_key(pem(keys['p256']), P256)
    assert reason is None and c.same_public_key(key, keys['p256'])
    # A traditional (SEC1) EC key is readable and kept.
    sec1 = keys['p256'].private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption())
    assert c.evaluate_key(sec1, P256)[1] is None


# ------------------------------------------------------------------ helpers for plans

def self_signed(sans=None, spec=P256, now=NOW, valid_days=365, renew=30, force=False, key=None, cert=None):
    sans = SANS if sans is None else sans
    return c.plan_server(Source('/k', key), Source('/c', cert), sans, c.default_common_name(sans), spec,
                         valid_days, renew, now, force=force)


def make_ca(now=NOW, common_name='test CA', spec=P256):
    plan = c.plan_ca_root(Source('/ca.key', None), Source('/ca.crt', None), common_name, spec, 3650, 30, now)
    return plan.key_pem, plan.cert_pem


def ca_signed(ca, key=None, cert=None, sans=None, now=NOW, renew=30, force=False, spec=P256):
    sans = SANS if sans is None else sans
    ca_key, ca_cert = ca
    return c.plan_server(Source('/k', key), Source('/c', cert), sans, c.default_common_name(sans), spec,
                         365, renew, now, force=force, ca_cert_src=Source('/ca.crt', ca_cert),
                         ca_key_src=Source('/ca.key', ca_key))


@pytest.fixture(scope='module')
def ca():
    return make_ca()


@pytest.fixture(scope='module')
def other_ca():
    return make_ca(common_name='other CA')


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls)


# ------------------------------------------------------------------ self-signed

def test_self_signed_create_then_valid():
    first = self_signed()
    assert first.reason == 'missing' and first.changed
    assert first.key_pem and first.cert_pem
    again = self_signed(key=first.key_pem, cert=first.cert_pem)
    assert again.reason == 'valid' and not again.changed
    info = again.result()
    assert info['subject_alt_names'] == SANS
    assert info['subject'] == info['issuer'] == 'CN=registry.example.com'
    assert info['not_after'] == '2026-06-01T12:00:00Z'
    assert info['not_before'] == '2025-06-01T11:55:00Z'
    assert 'ca_fingerprint_sha256' not in info


def test_self_signed_keeps_key_when_only_cert_missing():
    first = self_signed()
    plan = self_signed(key=first.key_pem)
    assert plan.reason == 'missing' and plan.key_pem is None and plan.cert_pem


def test_server_certificate_profile():
    plan = self_signed()
    cert = plan.cert
    key = c.load_private_key(plan.key_pem)
    assert ext(cert, x509.BasicConstraints).critical and not ext(cert, x509.BasicConstraints).value.ca
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_encipherment
    assert not usage.value.key_cert_sign
    assert list(ext(cert, x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.SERVER_AUTH]
    san = ext(cert, x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ['registry.example.com']
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ['127.0.0.1']
    ski = ext(cert, x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    assert ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier == ski.digest
    assert c.is_signed_by(cert, cert)
    assert isinstance(cert.signature_hash_algorithm, hashes.SHA256)
    assert cert.serial_number != self_signed().cert.serial_number


def test_rsa_certificate_has_key_encipherment_and_p384_uses_sha384():
    rsa_plan = self_signed(spec=c.KeySpec('rsa', None, 2048))
    assert ext(rsa_plan.cert, x509.KeyUsage).value.key_encipherment
    assert c.describe_key(rsa_plan.cert.public_key()) == 'rsa 2048'
    p384 = self_signed(spec=c.KeySpec('ecdsa', 'P-384', None))
    assert isinstance(p384.cert.signature_hash_algorithm, hashes.SHA384)


def test_reason_unreadable_certificate():
    first = self_signed()
    plan = self_signed(key=first.key_pem, cert=b'-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n')
    assert plan.reason == 'unreadable' and plan.key_pem is None and plan.cert_pem


def test_reason_unreadable_key_regenerates_both():
    first = self_signed()
    plan = self_signed(key=b'not a key', cert=first.cert_pem)
    assert plan.reason == 'unreadable' and plan.key_pem and plan.cert_pem
    assert not c.same_public_key(c.load_private_key(plan.key_pem), first.cert.public_key())


def test_reason_key_mismatch():
    first, second = self_signed(), self_signed()
    plan = self_signed(key=first.key_pem, cert=second.cert_pem)
    assert plan.reason == 'key_mismatch' and plan.key_pem is None
    assert c.same_public_key(c.load_private_key(first.key_pem), plan.cert.public_key())


def test_reason_san_changed_order_does_not_matter():
    first = self_signed()
    assert self_signed(sans=list(reversed(SANS)), key=first.key_pem, cert=first.cert_pem).reason == 'valid'
    plan = self_signed(sans=SANS + ['DNS:other.example'], key=first.key_pem, cert=first.cert_pem)
    assert plan.reason == 'san_changed' and plan.key_pem is None
    assert plan.result()['subject_alt_names'] == SANS + ['DNS:other.example']


def test_reason_key_type_changed():
    first = self_signed()
    plan = self_signed(spec=c.KeySpec('ecdsa', 'P-384', None), key=first.key_pem, cert=first.cert_pem)
    assert plan.reason == 'key_type_changed' and plan.key_pem
    assert c.describe_key(plan.cert.public_key()) == 'ecdsa P-384'


@pytest.mark.parametrize('days_later, reason', [
    (0, 'valid'),
    (334, 'valid'),      # 31 days left
    (335, 'expiring'),   # 30 days left
    (400, 'expiring'),   # expired
])
def test_reason_expiring_with_fake_clock(days_later, reason):
    first = self_signed()
    plan = self_signed(key=first.key_pem, cert=first.cert_pem, now=NOW + days_later * DAY)
    assert plan.reason == reason
    assert (plan.cert_pem is not None) == (reason == 'expiring')


def test_reason_forced():
    first = self_signed()
    plan = self_signed(key=first.key_pem, cert=first.cert_pem, force=True)
    assert plan.reason == 'forced' and plan.key_pem and plan.cert_pem


def test_self_signed_replaces_ca_signed_certificate(ca):
    server = ca_signed(ca)
    plan = self_signed(key=server.key_pem, cert=server.cert_pem)
    assert plan.reason == 'issuer_changed' and plan.key_pem is None


@pytest.mark.parametrize('valid_days, renew, option', [
    (0, 0, 'valid_days'),
    (30, 30, 'renew_before_days'),
    (365, -1, 'renew_before_days'),
])
def test_days_validation(valid_days, renew, option):
    with pytest.raises(CertificateError) as exc:
        self_signed(valid_days=valid_days, renew=renew)
    assert str(exc.value).startswith(option + '=')


# ------------------------------------------------------------------ CA root and CA mode

def test_ca_root_profile_and_idempotency(ca):
    ca_key, ca_cert_pem = ca
    cert = x509.load_pem_x509_certificate(ca_cert_pem)
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert c.not_after(cert) - NOW == 3650 * DAY
    plan = c.plan_ca_root(Source('/k', ca_key), Source('/c', ca_cert_pem), 'test CA', P256, 3650, 30, NOW)
    assert plan.reason == 'valid' and not plan.changed
    assert plan.result()['ca_fingerprint_sha256'] == plan.result()['fingerprint_sha256']
    later = c.plan_ca_root(Source('/k', ca_key), Source('/c', ca_cert_pem), 'test CA', P256, 3650, 30,
                           NOW + 3630 * DAY)
    assert later.reason == 'expiring' and later.key_pem is None


def test_ca_root_replaces_a_server_certificate():
    server = self_signed()
    plan = c.plan_ca_root(Source('/k', server.key_pem), Source('/c', server.cert_pem), 'CA', P256, 3650, 30, NOW)
    assert plan.reason == 'issuer_changed' and plan.key_pem is None


def test_ca_signed_create_then_valid(ca):
    first = ca_signed(ca)
    assert first.reason == 'missing'
    ca_cert = x509.load_pem_x509_certificate(ca[1])
    assert c.is_signed_by(first.cert, ca_cert)
    assert first.cert.issuer == ca_cert.subject
    assert ext(first.cert, x509.AuthorityKeyIdentifier).value.key_identifier == \
        ext(ca_cert, x509.SubjectKeyIdentifier).value.digest
    again = ca_signed(ca, key=first.key_pem, cert=first.cert_pem)
    assert again.reason == 'valid' and not again.changed
    assert again.result()['ca_fingerprint_sha256'] == c.fingerprint_sha256(ca_cert)
    assert again.result()['issuer'] == 'CN=test CA'


def test_ca_signed_issuer_changed(ca, other_ca):
    first = ca_signed(ca)
    plan = ca_signed(other_ca, key=first.key_pem, cert=first.cert_pem)
    assert plan.reason == 'issuer_changed' and plan.key_pem is None
    # A self-signed certificate is not accepted in CA mode either.
    own = self_signed()
    assert ca_signed(ca, key=own.key_pem, cert=own.cert_pem).reason == 'issuer_changed'


def test_ca_same_name_other_key_is_issuer_changed(ca):
    impostor = make_ca(common_name='test CA')  # same subject, other key
    first = ca_signed(impostor)
    assert ca_signed(ca, key=first.key_pem, cert=first.cert_pem).reason == 'issuer_changed'


def test_ca_errors(ca, other_ca):
    ca_key, ca_cert = ca
    server = self_signed()
    cases = [
        ((None, ca_key), "ca_cert_path='/ca.crt': file does not exist"),
        ((b'junk', ca_key), "ca_cert_path='/ca.crt': not a readable PEM certificate"),
        ((server.cert_pem, server.key_pem), "ca_cert_path='/ca.crt': not a CA certificate"),
        ((ca_cert, None), "ca_privatekey_path='/ca.key': file does not exist"),
        ((ca_cert, b'junk'), "ca_privatekey_path='/ca.key': not a readable unencrypted PEM private key"),
        ((ca_cert, other_ca[0]), "ca_privatekey_path='/ca.key': this key does not match the CA certificate"),
    ]
    for (cert_pem, key_pem), message in cases:
        with pytest.raises(CertificateError) as exc:
            ca_signed((key_pem, cert_pem))
        assert str(exc.value).startswith(message)
        assert 'PRIVATE KEY' not in str(exc.value)


# ------------------------------------------------------------------ csr -> sign -> install

def csr_plan(key=None, cert=None, ca_cert=None, sans=None, now=NOW, force=False):
    sans = SANS if sans is None else sans
    ca_src = Source('/ca.crt', ca_cert) if ca_cert is not None else None
    return c.plan_csr(Source('/k', key), Source('/c', cert), sans, c.default_common_name(sans), P256, 30, now,
                      force=force, ca_cert_src=ca_src)


def test_csr_sign_install_flow(ca):
    ca_key, ca_cert = ca
    request = csr_plan(ca_cert=ca_cert)
    assert request.reason == 'missing' and request.extra['needs_certificate'] is True
    assert request.key_pem is not None and request.cert_pem is None
    assert request.extra['csr'].startswith('-----BEGIN CERTIFICATE REQUEST-----')
    host_key = request.key_pem

    signed = c.plan_sign(request.extra['csr'], Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW,
                         sans=list(reversed(SANS)))
    assert not signed.changed and signed.reason is None
    result = signed.result()
    assert result['subject_alt_names'] == SANS
    assert result['subject'] == 'CN=registry.example.com' and result['issuer'] == 'CN=test CA'
    assert result['ca_certificate'] == ca_cert.decode()
    leaf = x509.load_pem_x509_certificate(result['certificate'].encode())
    assert c.same_public_key(leaf.public_key(), c.load_private_key(host_key))
    assert c.is_signed_by(leaf, x509.load_pem_x509_certificate(ca_cert))

    installed = c.plan_install(Source('/k', host_key), Source('/c', None), result['certificate'], NOW, 30,
                               ca_cert_src=Source('/ca.crt', ca_cert))
    assert installed.reason == 'missing' and installed.cert_pem == result['certificate'].encode()
    assert installed.key_pem is None

    again = csr_plan(key=host_key, cert=installed.cert_pem, ca_cert=ca_cert)
    assert again.reason == 'valid' and again.extra == {'needs_certificate': False}
    assert not again.changed
    assert again.result()['fingerprint_sha256'] == result['fingerprint_sha256']

    same = c.plan_install(Source('/k', host_key), Source('/c', installed.cert_pem), result['certificate'], NOW, 30)
    assert same.reason == 'valid' and not same.changed

    # A re-signed (different) certificate for the same key and names replaces the valid one.
    resigned = c.plan_sign(request.extra['csr'], Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)
    replaced = c.plan_install(Source('/k', host_key), Source('/c', installed.cert_pem),
                              resigned.extra['certificate'], NOW, 30)
    assert replaced.reason == 'replaced' and replaced.changed

    # Chain (leaf + CA) is accepted and written as given.
    chain = result['certificate'] + ca_cert.decode()
    with_chain = c.plan_install(Source('/k', host_key), Source('/c', installed.cert_pem), chain, NOW, 30)
    assert with_chain.cert_pem == chain.encode() and with_chain.result()['subject'] == 'CN=registry.example.com'


def test_csr_reasons(ca, other_ca):
    ca_key, ca_cert = ca
    request = csr_plan(ca_cert=ca_cert)
    signed = c.plan_sign(request.extra['csr'], Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)
    cert = signed.extra['certificate'].encode()
    assert csr_plan(key=request.key_pem, cert=cert, ca_cert=ca_cert).reason == 'valid'
    assert csr_plan(key=request.key_pem, cert=cert, ca_cert=other_ca[1]).reason == 'issuer_changed'
    assert csr_plan(key=request.key_pem, cert=cert, sans=['DNS:x.example']).reason == 'san_changed'
    assert csr_plan(key=request.key_pem, cert=cert, now=NOW + 340 * DAY).reason == 'expiring'
    assert csr_plan(key=request.key_pem, cert=None).reason == 'missing'
    forced = csr_plan(key=request.key_pem, cert=cert, force=True)
    assert forced.reason == 'forced' and forced.key_pem is not None and forced.extra['needs_certificate']
    # The key is only rewritten when it is unusable, never for a certificate reason.
    expiring = csr_plan(key=request.key_pem, cert=cert, now=NOW + 340 * DAY)
    assert expiring.key_pem is None and not expiring.changed and 'csr' in expiring.extra


def test_sign_errors(ca, other_ca):
    ca_key, ca_cert = ca
    request = csr_plan().extra['csr']
    sign = c.plan_sign

    with pytest.raises(CertificateError, match=r"^subject_alt_names=\['DNS:other.example'\]: the certificate "
                                               r"signing request asks for DNS:registry.example.com, IP:127.0.0.1"):
        sign(request, Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW, sans=['DNS:other.example'])
    with pytest.raises(CertificateError, match='^csr_content: not a readable PEM certificate signing request'):
        sign('garbage', Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)
    tampered = c.load_csr(request)
    # A well-formed request with one bit of its signature flipped: the signature check must catch it.
    forged = x509.CertificateSigningRequestBuilder().subject_name(tampered.subject).add_extension(
        c._san_extension(['DNS:evil.example']), critical=False).sign(ec.generate_private_key(ec.SECP256R1()),
                                                                     hashes.SHA256())
    der = bytearray(forged.public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # flip a bit in the last integer of the ECDSA signature
    bad_pem = b'-----BEGIN CERTIFICATE REQUEST-----\n' + __import__('base64').encodebytes(bytes(der)) + \
        b'-----END CERTIFICATE REQUEST-----\n'
    with pytest.raises(CertificateError, match='^csr_content: the signature of the certificate signing request '
                                               'does not verify'):
        sign(bad_pem, Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)
    with pytest.raises(CertificateError, match="^ca_privatekey_path='/ca.key': this key does not match"):
        sign(request, Source('/ca.crt', ca_cert), Source('/ca.key', other_ca[0]), 365, NOW)
    no_san = x509.CertificateSigningRequestBuilder().subject_name(tampered.subject).sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CertificateError, match='^csr_content: the certificate signing request has no subjectAltName'):
        sign(no_san, Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)
    bad_name = x509.CertificateSigningRequestBuilder().subject_name(tampered.subject).add_extension(
        x509.SubjectAlternativeName([x509.DNSName('foo bar')]), critical=False).sign(
        ec.generate_private_key(ec.SECP256R1()), hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CertificateError, match="^csr_content subjectAltName='DNS:foo bar': not a valid DNS name"):
        sign(bad_name, Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)


def test_sign_rejects_weak_key(ca):
    ca_key, ca_cert = ca
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    request = c.build_csr(weak, 'weak.example', ['DNS:weak.example']).public_bytes(serialization.Encoding.PEM)
    with pytest.raises(CertificateError, match='^csr_content: key rsa 1024 not allowed'):
        c.plan_sign(request, Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)


def test_install_errors(ca, other_ca):
    ca_key, ca_cert = ca
    request = csr_plan()
    signed = c.plan_sign(request.extra['csr'], Source('/ca.crt', ca_cert), Source('/ca.key', ca_key), 365, NOW)
    cert = signed.extra['certificate']
    other_key = pem(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(CertificateError, match="^certificate_content: the certificate does not match the private "
                                               "key at privatekey_path='/k'"):
        c.plan_install(Source('/k', other_key), Source('/c', None), cert, NOW, 30)
    with pytest.raises(CertificateError, match="^certificate_content: not signed by the CA at ca_cert_path='/ca.crt'"):
        c.plan_install(Source('/k', request.key_pem), Source('/c', None), cert, NOW, 30,
                       ca_cert_src=Source('/ca.crt', other_ca[1]))
    with pytest.raises(CertificateError, match='^certificate_content: not a readable PEM certificate'):
        c.plan_install(Source('/k', request.key_pem), Source('/c', None), 'junk', NOW, 30)
    with pytest.raises(CertificateError, match="^privatekey_path='/k': missing or not a readable"):
        c.plan_install(Source('/k', None), Source('/c', None), cert, NOW, 30)
    # Check mode after a csr task that only planned the key: not an error, but a warning.
    planned = c.plan_install(Source('/k', None), Source('/c', None), cert, NOW, 30, key_may_be_planned=True)
    assert planned.reason == 'missing' and planned.changed and planned.warnings


# ------------------------------------------------------------------ provided chains (install mode)
# Real keys and certificates made here: a root, intermediates and a server certificate, signed
# with RSA, ECDSA or Ed25519 as each test says.

SIGNERS = {
    'rsa': lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048),
    'ecdsa': lambda: ec.generate_private_key(ec.SECP256R1()),
    'ed25519': ed25519.Ed25519PrivateKey.generate,
}


def issue(subject, public_key, issuer, issuer_key, ca, sans=None, **sign_options):
    """A certificate for ``public_key`` named ``subject``, signed by ``issuer_key`` as ``issuer``."""
    builder = x509.CertificateBuilder().subject_name(c._name(subject)).issuer_name(c._name(issuer)) \
        .public_key(public_key).serial_number(x509.random_serial_number()) \
        .not_valid_before(NOW - DAY).not_valid_after(NOW + 365 * DAY) \
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    if sans:
        builder = builder.add_extension(c._san_extension(sans), critical=False)
    algorithm = None if isinstance(issuer_key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return builder.sign(issuer_key, algorithm, **sign_options)


def bundle(*certs):
    return ''.join(c.certificate_pem(cert).decode() for cert in certs)


def make_chain(root_alg='rsa', intermediate_alg='ed25519'):
    """(server key PEM, server certificate, intermediate, root, root key, intermediate key)."""
    root_key = SIGNERS[root_alg]()
    root = issue('Root CA', root_key.public_key(), 'Root CA', root_key, ca=True)
    intermediate_key = SIGNERS[intermediate_alg]()
    intermediate = issue('Intermediate CA', intermediate_key.public_key(), 'Root CA', root_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = issue('registry.example.com', server_key.public_key(), 'Intermediate CA', intermediate_key, ca=False,
                   sans=SANS)
    return pem(server_key), server, intermediate, root, root_key, intermediate_key


def install(key_pem, content, check_mode=False):
    return c.plan_install(Source('/k', key_pem), Source('/srv/certs/registry.crt', None), content, NOW, 30,
                          key_may_be_planned=check_mode)


def refused(key_pem, content):
    with pytest.raises(CertificateError) as exc:
        install(key_pem, content)
    message = str(exc.value)
    assert message.startswith("certificate_content (for path='/srv/certs/registry.crt'): ")
    assert 'PRIVATE' not in message and 'BEGIN' not in message
    return message


@pytest.mark.parametrize('root_alg', sorted(SIGNERS))
@pytest.mark.parametrize('intermediate_alg', sorted(SIGNERS))
def test_chain_in_order_is_installed(root_alg, intermediate_alg):
    key_pem, server, intermediate, root = make_chain(root_alg, intermediate_alg)[:4]
    for content in (bundle(server, intermediate), bundle(server, intermediate, root)):
        plan = install(key_pem, content)
        assert plan.reason == 'missing' and plan.cert_pem == content.encode()
        assert plan.result()['subject'] == 'CN=registry.example.com'


def test_chain_with_another_cas_intermediate_of_the_same_name_is_refused():
    key_pem, server, intermediate, root, root_key = make_chain()[:5]
    # Another CA's intermediate: same subject name, same root even, but a key of its own.
    impostor_key = ed25519.Ed25519PrivateKey.generate()
    impostor = issue('Intermediate CA', impostor_key.public_key(), 'Root CA', root_key, ca=True)
    assert impostor.subject == server.issuer  # only the signature tells them apart
    message = refused(key_pem, bundle(server, impostor))
    assert message.endswith(
        "certificate 2 (subject 'CN=Intermediate CA') did not sign certificate 1 (subject 'CN=registry.example.com'): "
        "it has the issuer's name, but the signature does not verify with its key (a certificate of another CA "
        "with the same name?). Each certificate must be followed by the one that signed it"), message
    # Also in check mode, before the key is looked at, and whatever follows the broken link.
    with pytest.raises(CertificateError, match='certificate 2 .* did not sign certificate 1'):
        install(None, bundle(server, impostor, root), check_mode=True)
    # Negative control: the same server certificate with its real intermediate is installed.
    assert install(key_pem, bundle(server, intermediate)).changed


def test_chain_with_an_intermediate_of_another_name_is_refused():
    key_pem, server = make_chain()[:2]
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = issue('Other Intermediate', other_key.public_key(), 'Other Intermediate', other_key, ca=True)
    message = refused(key_pem, bundle(server, other))
    assert message.endswith("certificate 2 (subject 'CN=Other Intermediate') did not sign certificate 1 (subject "
                            "'CN=registry.example.com'), whose issuer is 'CN=Intermediate CA'. Each certificate "
                            "must be followed by the one that signed it"), message


def test_chain_with_a_broken_upper_link_is_refused():
    key_pem, server, intermediate = make_chain()[:3]
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_root = issue('Root CA', root_key.public_key(), 'Root CA', root_key, ca=True)
    message = refused(key_pem, bundle(server, intermediate, other_root))
    assert "certificate 3 (subject 'CN=Root CA') did not sign certificate 2 (subject 'CN=Intermediate CA')" in message


def test_chain_in_the_wrong_order_is_refused():
    key_pem, server, intermediate, root = make_chain()[:4]
    message = refused(key_pem, bundle(intermediate, server))
    assert message.endswith("the chain is in the wrong order: certificate 1 (subject 'CN=Intermediate CA') signed "
                            "certificate 2 (subject 'CN=registry.example.com'). Put the server certificate first, "
                            "then the certificate that signed it, and so on"), message
    assert refused(key_pem, bundle(server, root, intermediate)).endswith(
        "the chain is in the wrong order: certificate 3 (subject 'CN=Intermediate CA') signed certificate 1 "
        "(subject 'CN=registry.example.com'). Put the server certificate first, then the certificate that signed "
        "it, and so on")
    # Negative control: the right order of the same three is installed.
    assert install(key_pem, bundle(server, intermediate, root)).changed


@pytest.mark.skipif(not hasattr(x509.Certificate, 'signature_algorithm_parameters'),
                    reason='cryptography < 41 cannot sign or read RSA-PSS certificates')
def test_rsa_pss_signatures_verify():
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    root = issue('Root CA', root_key.public_key(), 'Root CA', root_key, ca=True, rsa_padding=pss)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = issue('registry.example.com', server_key.public_key(), 'Root CA', root_key, ca=False, sans=SANS,
                   rsa_padding=pss)
    assert c.is_signed_by(server, root)
    assert install(pem(server_key), bundle(server, root)).changed
    impostor_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    impostor = issue('Root CA', impostor_key.public_key(), 'Root CA', impostor_key, ca=True, rsa_padding=pss)
    assert not c.is_signed_by(server, impostor)


@pytest.mark.parametrize('alg', sorted(SIGNERS))
def test_signature_verifies_only_with_the_signers_key(alg):
    signer = SIGNERS[alg]()
    cert = issue('x', ec.generate_private_key(ec.SECP256R1()).public_key(), 'CA', signer, ca=False)
    assert c.signature_verifies(cert, signer.public_key())
    assert not c.signature_verifies(cert, SIGNERS[alg]().public_key())
    # A certificate whose signature was altered after signing does not verify either.
    der = bytearray(cert.public_bytes(serialization.Encoding.DER))
    der[-2] ^= 0x01
    tampered = x509.load_der_x509_certificate(bytes(der))
    assert not c.signature_verifies(tampered, signer.public_key())


# ------------------------------------------------------------------ results and diffs

def test_results_and_diffs_never_contain_key_material(ca):
    first = ca_signed(ca)
    replaced = ca_signed(ca, key=first.key_pem, cert=first.cert_pem, force=True)
    request = csr_plan()
    outputs = [first, replaced, request, c.plan_ca_root(Source('/k', None), Source('/c', None), 'CA', P256, 3650, 30, NOW)]
    secrets = [first.key_pem, replaced.key_pem, request.key_pem, ca[0]]
    for plan in outputs:
        text = json.dumps({'result': plan.result(), 'diff': plan.diff()})
        assert 'PRIVATE KEY' not in text
        for secret in secrets:
            body = b''.join(secret.splitlines()[1:-1]).decode()
            assert body not in text.replace('\\n', '')
            private_value = c.load_private_key(secret).private_numbers()
            assert str(private_value.private_value) not in text
    assert replaced.diff() == {
        'before': {'subject_alt_names': SANS, 'not_after': '2026-06-01T12:00:00Z',
                   'fingerprint_sha256': c.fingerprint_sha256(first.cert)},
        'after': {'subject_alt_names': SANS, 'not_after': '2026-06-01T12:00:00Z',
                  'fingerprint_sha256': c.fingerprint_sha256(replaced.cert)},
    }
    assert first.diff()['before'] == {}


def test_fingerprint_format():
    plan = self_signed()
    fp = c.fingerprint_sha256(plan.cert)
    assert len(fp) == 95 and fp == fp.upper() and fp.count(':') == 31
    assert fp.replace(':', '').lower() == plan.cert.fingerprint(hashes.SHA256()).hex()
