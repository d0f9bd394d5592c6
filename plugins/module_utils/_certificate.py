# -*- coding: utf-8 -*-
# Copyright (c) dockyard.registry contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""TLS keys and certificates for dockyard.registry.certificate. Private: not a public API.

Everything here is pure: file contents come in as bytes (``None`` when the file is missing),
the clock comes in as ``now`` (an aware UTC datetime), and the ``plan_*`` functions return
what the module has to write (a :class:`Plan`). Bad input raises :class:`CertificateError`
with a message that names the option, the value (never key material) and what is allowed.

Works with cryptography 3.4 up to today's releases (Debian 12 ships 38.0.4): no
``not_valid_after_utc`` (42), ``verify_directly_issued_by`` (40) or
``load_pem_x509_certificates`` (39).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import ipaddress
import re
from collections import namedtuple

try:
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
except ImportError:
    # _cryptography_dep reports this at run time through missing_required_lib().
    pass

from ansible_collections.dockyard.registry.plugins.module_utils._argspec import ArgumentSpec

REASONS = ('missing', 'unreadable', 'key_mismatch', 'san_changed', 'key_type_changed',
           'issuer_changed', 'expiring', 'forced', 'replaced', 'valid')
KEY_TYPES = ('ecdsa', 'rsa')
CURVES = {'P-256': 'secp256r1', 'P-384': 'secp384r1'}
RSA_KEY_SIZES = (2048, 3072, 4096)
DEFAULT_RSA_KEY_SIZE = 3072
BACKDATE = datetime.timedelta(minutes=5)
ISO_FORMAT = '%Y-%m-%dT%H:%M:%SZ'

_LABEL = re.compile(r'^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$')
_PREFIX = re.compile(r'^(dns|ip):(.*)$', re.IGNORECASE | re.DOTALL)
_LOOKS_LIKE_IPV4 = re.compile(r'^[0-9.]+$')
_PEM_CERT = re.compile(br'-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----', re.DOTALL)

SAN_HELP = ("allowed: 'DNS:<name>', 'IP:<address>' or a bare name or address; a name is "
            "RFC 1123 labels (letters, digits, inner hyphens, 1-63 characters each, 253 in all, "
            "not all-numeric at the end), optionally prefixed by '*.'; an address is IPv4 or IPv6")


def certificate_argument_spec(required=False):
    """The options that say which key and certificate a host must have: the certificate module's
    own (its mode option decides which are needed) and registry_info's ``certificate.*``, where
    ``required=True`` makes path, privatekey_path and subject_alt_names mandatory. Documented once,
    in the doc fragment dockyard.registry._certificate."""
    needed = dict(required=True) if required else {}
    return ArgumentSpec(dict(
        path=dict(type='path', **needed),
        privatekey_path=dict(type='path', **needed),
        subject_alt_names=dict(type='list', elements='str', **needed),
        key_type=dict(type='str', default='ecdsa', choices=list(KEY_TYPES)),
        curve=dict(type='str', default='P-256', choices=list(CURVES)),
        key_size=dict(type='int', choices=list(RSA_KEY_SIZES)),
        renew_before_days=dict(type='int', default=30),
        ca_cert_path=dict(type='path'),
    ))


class CertificateError(Exception):
    """Bad input. The message is safe to show: it never contains key material."""


def _bad(option, value, problem):
    if value is None:
        return CertificateError('%s: %s' % (option, problem))
    return CertificateError('%s=%r: %s' % (option, value, problem))


# Source of a file: its path (for messages) and its content (None when the file is missing).
Source = namedtuple('Source', ['path', 'data'])


# ---------------------------------------------------------------------------------------------
# Subject alternative names and common name

def _is_dns_name(name):
    if not name or len(name) > 253:
        return False
    labels = name.split('.')
    if labels[0] == '*':
        labels = labels[1:]
        if not labels:
            return False
    if not all(_LABEL.match(label) for label in labels):
        return False
    # A top-level label is never all-numeric (RFC 3696 2): keeps 999.1.1.1 from passing as a name.
    return not labels[-1].isdigit()


def _ip(value):
    if '%' in value:  # zone ids cannot be expressed in a certificate
        return None
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def parse_subject_alt_name(value, option='subject_alt_names'):
    """Return ``DNS:<name>`` (lower case) or ``IP:<address>`` (normalised) for one entry."""
    if not isinstance(value, str) or not value.strip():
        raise _bad(option, value, 'empty entry; ' + SAN_HELP)
    text = value.strip()
    match = _PREFIX.match(text)
    kind = match.group(1).upper() if match else None
    body = match.group(2).strip() if match else text
    if kind in (None, 'IP'):
        address = _ip(body)
        if address is not None:
            return 'IP:%s' % address
        if kind == 'IP' or _LOOKS_LIKE_IPV4.match(body) or ':' in body:
            raise _bad(option, value, 'not a valid IP address; ' + SAN_HELP)
    name = body.lower()
    if _is_dns_name(name):
        return 'DNS:%s' % name
    raise _bad(option, value, 'not a valid DNS name; ' + SAN_HELP)


def parse_subject_alt_names(values, option='subject_alt_names'):
    """Normalise and de-duplicate a list of SANs, keeping the order; at least one is required."""
    if not values:
        raise _bad(option, values, 'at least one entry is required (clients such as Docker '
                   'reject certificates without subjectAltName); ' + SAN_HELP)
    result = []
    for value in values:
        san = parse_subject_alt_name(value, option)
        if san not in result:
            result.append(san)
    return result


def default_common_name(sans):
    """The first DNS name that fits in a CN (64 characters), else the first IP address."""
    for san in sans:
        if san.startswith('DNS:') and len(san) - 4 <= 64:
            return san[4:]
    for san in sans:
        if san.startswith('IP:'):
            return san[3:]
    raise _bad('common_name', None, 'no subject alternative name fits in a common name '
               '(64 characters at most): set common_name')


def validate_common_name(common_name):
    if not isinstance(common_name, str) or not 1 <= len(common_name) <= 64:
        raise _bad('common_name', common_name, 'must be 1 to 64 characters long')
    return common_name


# ---------------------------------------------------------------------------------------------
# Keys

class KeySpec(namedtuple('KeySpec', ['key_type', 'curve', 'key_size'])):
    """Wanted key: ('ecdsa', 'P-256'|'P-384', None) or ('rsa', None, 2048|3072|4096)."""

    def describe(self):
        return 'ecdsa %s' % self.curve if self.key_type == 'ecdsa' else 'rsa %d' % self.key_size


def key_spec(key_type='ecdsa', curve='P-256', key_size=None):
    if key_type == 'ecdsa':
        if curve not in CURVES:
            raise _bad('curve', curve, 'unknown curve; allowed: %s' % ', '.join(sorted(CURVES)))
        if key_size is not None:
            raise _bad('key_size', key_size, 'only used with key_type=rsa')
        return KeySpec('ecdsa', curve, None)
    if key_type == 'rsa':
        size = DEFAULT_RSA_KEY_SIZE if key_size is None else key_size
        if size not in RSA_KEY_SIZES:
            raise _bad('key_size', key_size, 'allowed: %s' % ', '.join(str(s) for s in RSA_KEY_SIZES))
        return KeySpec('rsa', None, size)
    raise _bad('key_type', key_type, 'allowed: ecdsa, rsa')


def generate_private_key(spec):
    if spec.key_type == 'ecdsa':
        curve = ec.SECP256R1() if spec.curve == 'P-256' else ec.SECP384R1()
        return ec.generate_private_key(curve)
    return rsa.generate_private_key(public_exponent=65537, key_size=spec.key_size)


def describe_key(key):
    """'ecdsa P-256', 'rsa 3072', or the class name for anything else. Public facts only."""
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        names = dict((v, k) for k, v in CURVES.items())
        return 'ecdsa %s' % names.get(key.curve.name, key.curve.name)
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        return 'rsa %d' % key.key_size
    return type(key).__name__


def key_matches_spec(key, spec):
    return describe_key(key) == spec.describe()


def private_key_pem(key):
    """PEM PKCS#8, unencrypted: what the registry (and nginx) load without a passphrase."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private_key(data):
    """The key in ``data`` (PEM), or ``None`` when it cannot be loaded (also: encrypted)."""
    if not data:
        return None
    try:
        return serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None


def _public_der(key):
    public = key.public_key() if hasattr(key, 'private_bytes') else key
    return public.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)


def same_public_key(a, b):
    return _public_der(a) == _public_der(b)


def _hash_for(key):
    """SHA-384 for P-384 signers, SHA-256 for everything else we create."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == 'secp384r1':
        return hashes.SHA384()
    return hashes.SHA256()


def _allowed_public_key(public_key):
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return public_key.curve.name in CURVES.values()
    if isinstance(public_key, rsa.RSAPublicKey):
        return public_key.key_size >= 2048
    return False


# ---------------------------------------------------------------------------------------------
# Certificates: reading

def load_certificates(data):
    """All certificates of a PEM bundle, leaf first. Raises ValueError when there is none."""
    blocks = _PEM_CERT.findall(data or b'')
    if not blocks:
        raise ValueError('no PEM certificate found')
    return [x509.load_pem_x509_certificate(block) for block in blocks]


def load_certificate(data):
    """The first certificate in ``data``, or ``None`` when there is no readable one."""
    try:
        return load_certificates(data)[0]
    except ValueError:
        return None


def not_before(cert):
    value = getattr(cert, 'not_valid_before_utc', None)
    return value if value is not None else cert.not_valid_before.replace(tzinfo=datetime.timezone.utc)


def not_after(cert):
    value = getattr(cert, 'not_valid_after_utc', None)
    return value if value is not None else cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)


def _general_names(extensions):
    try:
        names = extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    result = []
    for name in names:
        if isinstance(name, x509.DNSName):
            result.append('DNS:%s' % name.value.lower())
        elif isinstance(name, x509.IPAddress):
            result.append('IP:%s' % name.value)
        else:
            result.append('%s:%s' % (type(name).__name__, name.value))
    return result


def certificate_sans(cert):
    return _general_names(cert.extensions)


def fingerprint_sha256(cert):
    """Upper-case colon-separated hex, as ``openssl x509 -noout -fingerprint -sha256`` prints it."""
    return ':'.join('%02X' % b for b in bytearray(cert.fingerprint(hashes.SHA256())))


def _signature_parameters(cert):
    """The padding of an RSA signature (PKCS#1 v1.5 or PSS), read from the certificate where
    cryptography can (41 and later); PKCS#1 v1.5 before that."""
    try:
        parameters = getattr(cert, 'signature_algorithm_parameters', None)
    except (UnsupportedAlgorithm, ValueError):
        parameters = None
    return parameters if isinstance(parameters, (padding.PKCS1v15, padding.PSS)) else padding.PKCS1v15()


def signature_verifies(cert, public_key):
    """True when ``cert``'s signature verifies with ``public_key`` (RSA, ECDSA, Ed25519 or Ed448)."""
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, _signature_parameters(cert),
                              cert.signature_hash_algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
        elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
            public_key.verify(cert.signature, cert.tbs_certificate_bytes)
        else:
            return False
    except (InvalidSignature, UnsupportedAlgorithm, ValueError, TypeError):
        return False
    return True


def is_signed_by(cert, issuer_cert):
    """True when ``issuer_cert`` issued ``cert``: issuer name == issuer's subject, and the
    signature verifies with the issuer's public key."""
    return cert.issuer == issuer_cert.subject and signature_verifies(cert, issuer_cert.public_key())


def _describe(chain, index):
    return 'certificate %d (subject %r)' % (index + 1, chain[index].subject.rfc4514_string())


def check_chain(chain, where):
    """Each certificate of a bundle (server certificate first) must be signed by the one after it.
    Raises CertificateError naming ``where`` and the two certificates by position and subject."""
    for index in range(len(chain) - 1):
        cert, issuer = chain[index], chain[index + 1]
        if is_signed_by(cert, issuer):
            continue
        # Its signer elsewhere in the bundle, or the next one signed by it: right pieces, wrong order.
        misplaced = [(other, index) for other in range(len(chain)) if other not in (index, index + 1)
                     and is_signed_by(cert, chain[other])]
        if not misplaced and is_signed_by(issuer, cert):
            misplaced = [(index, index + 1)]
        if misplaced:
            signer, signed = misplaced[0]
            problem = ('the chain is in the wrong order: %s signed %s. Put the server certificate first, then the '
                       'certificate that signed it, and so on' % (_describe(chain, signer), _describe(chain, signed)))
        elif cert.issuer != issuer.subject:
            problem = ('%s did not sign %s, whose issuer is %r. Each certificate must be followed by the one that '
                       'signed it' % (_describe(chain, index + 1), _describe(chain, index), cert.issuer.rfc4514_string()))
        else:
            problem = ('%s did not sign %s: it has the issuer\'s name, but the signature does not verify with its '
                       'key (a certificate of another CA with the same name?). Each certificate must be followed by '
                       'the one that signed it' % (_describe(chain, index + 1), _describe(chain, index)))
        raise CertificateError('%s: %s' % (where, problem))


def is_ca_certificate(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def certificate_info(cert):
    """Public facts about ``cert`` for the module result."""
    return {
        'fingerprint_sha256': fingerprint_sha256(cert),
        'not_before': not_before(cert).strftime(ISO_FORMAT),
        'not_after': not_after(cert).strftime(ISO_FORMAT),
        'subject_alt_names': certificate_sans(cert),
        'issuer': cert.issuer.rfc4514_string(),
        'subject': cert.subject.rfc4514_string(),
    }


EMPTY_INFO = dict.fromkeys(('fingerprint_sha256', 'not_before', 'not_after', 'issuer', 'subject'))
EMPTY_INFO['subject_alt_names'] = []


def diff_summary(cert):
    """What the diff shows: SANs, not_after and fingerprint. Never key material."""
    if cert is None:
        return {}
    info = certificate_info(cert)
    return dict((k, info[k]) for k in ('subject_alt_names', 'not_after', 'fingerprint_sha256'))


# ---------------------------------------------------------------------------------------------
# Certificates: building

def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san_extension(sans):
    names = []
    for san in sans:
        kind, value = san.split(':', 1)
        names.append(x509.DNSName(value) if kind == 'DNS' else x509.IPAddress(ipaddress.ip_address(value)))
    return x509.SubjectAlternativeName(names)


def _authority_key_identifier(issuer_cert, issuer_public_key):
    if issuer_cert is not None:
        try:
            ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
        except x509.ExtensionNotFound:
            pass
    return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_public_key)


def _builder(subject, issuer, public_key, valid_days, now):
    return (x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=valid_days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def build_server_certificate(public_key, common_name, sans, issuer_key, issuer_cert, valid_days, now):
    """A TLS server certificate for ``public_key``; self-signed when ``issuer_cert`` is None
    (then ``issuer_key`` is the key of ``public_key``)."""
    subject = _name(common_name)
    issuer_name = subject if issuer_cert is None else issuer_cert.subject
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    builder = (_builder(subject, issuer_name, public_key, valid_days, now)
               .add_extension(_authority_key_identifier(issuer_cert, issuer_key.public_key()), critical=False)
               .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                            key_encipherment=is_rsa, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=False, crl_sign=False,
                                            encipher_only=False, decipher_only=False), critical=True)
               .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
               .add_extension(_san_extension(sans), critical=False))
    return builder.sign(issuer_key, _hash_for(issuer_key))


def build_ca_certificate(key, common_name, valid_days, now):
    subject = _name(common_name)
    public_key = key.public_key()
    builder = (_builder(subject, subject, public_key, valid_days, now)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False)
               .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
               .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                            key_encipherment=False, data_encipherment=False,
                                            key_agreement=False, key_cert_sign=True, crl_sign=True,
                                            encipher_only=False, decipher_only=False), critical=True))
    return builder.sign(key, _hash_for(key))


def build_csr(key, common_name, sans):
    builder = (x509.CertificateSigningRequestBuilder()
               .subject_name(_name(common_name))
               .add_extension(_san_extension(sans), critical=False))
    return builder.sign(key, _hash_for(key))


def certificate_pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


# ---------------------------------------------------------------------------------------------
# Inputs that must be right (errors, never regeneration)

def load_ca(ca_cert, ca_key=None):
    """Load the CA certificate (and key, when given) from :class:`Source` tuples.
    Missing, unreadable, not a CA, or a key that does not match: CertificateError."""
    if ca_cert.data is None:
        raise _bad('ca_cert_path', ca_cert.path, 'file does not exist')
    cert = load_certificate(ca_cert.data)
    if cert is None:
        raise _bad('ca_cert_path', ca_cert.path, 'not a readable PEM certificate')
    if not is_ca_certificate(cert):
        raise _bad('ca_cert_path', ca_cert.path, 'not a CA certificate (basicConstraints CA:TRUE missing)')
    if ca_key is None:
        return cert, None
    if ca_key.data is None:
        raise _bad('ca_privatekey_path', ca_key.path, 'file does not exist')
    key = load_private_key(ca_key.data)
    if key is None:
        raise _bad('ca_privatekey_path', ca_key.path, 'not a readable unencrypted PEM private key')
    if not same_public_key(key, cert.public_key()):
        raise _bad('ca_privatekey_path', ca_key.path,
                   'this key does not match the CA certificate at ca_cert_path=%r' % ca_cert.path)
    return cert, key


def load_csr(data):
    """A CSR whose signature verifies, with allowed key and DNS/IP SANs only."""
    if isinstance(data, str):
        data = data.encode('utf-8')
    try:
        csr = x509.load_pem_x509_csr((data or b'').strip() + b'\n')
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise _bad('csr_content', None, 'not a readable PEM certificate signing request')
    if not csr.is_signature_valid:
        raise _bad('csr_content', None, 'the signature of the certificate signing request does not verify')
    if not _allowed_public_key(csr.public_key()):
        raise _bad('csr_content', None, 'key %s not allowed; allowed: ecdsa P-256, ecdsa P-384, '
                   'rsa 2048 or larger' % describe_key(csr.public_key()))
    return csr


def csr_sans(csr):
    """The CSR's SANs, validated like O(subject_alt_names)."""
    sans = _general_names(csr.extensions)
    if not sans:
        raise _bad('csr_content', None, 'the certificate signing request has no subjectAltName')
    return parse_subject_alt_names(sans, option='csr_content subjectAltName')


def csr_common_name(csr, sans):
    attributes = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return attributes[0].value if attributes else default_common_name(sans)


# ---------------------------------------------------------------------------------------------
# Idempotency

def evaluate_key(data, spec, force=False):
    """(key or None, reason): reason is None when the existing key can be kept."""
    if force:
        return None, 'forced'
    if data is None:
        return None, 'missing'
    key = load_private_key(data)
    if key is None:
        return None, 'unreadable'
    if not key_matches_spec(key, spec):
        return None, 'key_type_changed'
    return key, None


def evaluate_certificate(data, key, now, renew_before_days, sans=None, issuer=None,
                         self_signed=False, ca=False):
    """Why the certificate in ``data`` must be replaced, or 'valid'.

    ``sans``: the wanted SANs (None: not checked). ``issuer``: the CA certificate that must
    have signed it (None: not checked). ``self_signed``: it must be self-issued. ``ca``: it
    must be a CA certificate.
    """
    if data is None:
        return 'missing'
    cert = load_certificate(data)
    if cert is None:
        return 'unreadable'
    if not same_public_key(key, cert.public_key()):
        return 'key_mismatch'
    if sans is not None and set(certificate_sans(cert)) != set(sans):
        return 'san_changed'
    if issuer is not None and not is_signed_by(cert, issuer):
        return 'issuer_changed'
    if self_signed and not is_signed_by(cert, cert):
        return 'issuer_changed'
    if ca != is_ca_certificate(cert):
        return 'issuer_changed'
    if not_after(cert) - now <= datetime.timedelta(days=renew_before_days):
        return 'expiring'
    return 'valid'


# ---------------------------------------------------------------------------------------------
# Plans: what each mode would write and return

class Plan(object):
    """Result of a plan_* function. ``key_pem``/``cert_pem``: bytes to write, or None."""

    def __init__(self, reason, key_pem=None, cert_pem=None, cert=None, before=None,
                 ca_cert=None, extra=None, warnings=None):
        self.reason = reason
        self.warnings = warnings or []
        self.key_pem = key_pem
        self.cert_pem = cert_pem
        self.cert = cert            # the certificate in effect afterwards (or None)
        self.before = before        # the certificate found before (or None)
        self.ca_cert = ca_cert
        self.extra = extra or {}

    @property
    def changed(self):
        return self.key_pem is not None or self.cert_pem is not None

    def result(self):
        result = dict(EMPTY_INFO)
        if self.cert is not None:
            result.update(certificate_info(self.cert))
        if self.ca_cert is not None:
            result['ca_fingerprint_sha256'] = fingerprint_sha256(self.ca_cert)
        if self.reason is not None:
            result['reason'] = self.reason
        result.update(self.extra)
        return result

    def diff(self):
        return {'before': diff_summary(self.before), 'after': diff_summary(self.cert)}


def _host_key(key_src, spec, force, now, renew_before_days, cert_src, **checks):
    """Shared first half: (key, new_key_pem or None, reason, existing cert or None)."""
    before = load_certificate(cert_src.data) if cert_src.data is not None else None
    key, reason = evaluate_key(key_src.data, spec, force)
    if key is not None:
        return key, None, evaluate_certificate(cert_src.data, key, now, renew_before_days, **checks), before
    key = generate_private_key(spec)
    return key, private_key_pem(key), reason, before


def _check_days(valid_days, renew_before_days):
    if valid_days < 1:
        raise _bad('valid_days', valid_days, 'must be at least 1')
    if not 0 <= renew_before_days < valid_days:
        raise _bad('renew_before_days', renew_before_days,
                   'must be at least 0 and less than valid_days (%d), or every run renews' % valid_days)


def plan_server(key_src, cert_src, sans, common_name, spec, valid_days, renew_before_days, now,
                force=False, ca_cert_src=None, ca_key_src=None):
    """Modes self_signed (no CA sources) and ca."""
    _check_days(valid_days, renew_before_days)
    ca_cert = ca_key = None
    if ca_cert_src is not None:
        ca_cert, ca_key = load_ca(ca_cert_src, ca_key_src)
    key, key_pem, reason, before = _host_key(key_src, spec, force, now, renew_before_days, cert_src,
                                             sans=sans, issuer=ca_cert, self_signed=ca_cert is None)
    if reason == 'valid':
        return Plan('valid', cert=before, before=before, ca_cert=ca_cert)
    cert = build_server_certificate(key.public_key(), common_name, sans, ca_key or key, ca_cert, valid_days, now)
    return Plan(reason, key_pem=key_pem, cert_pem=certificate_pem(cert), cert=cert, before=before, ca_cert=ca_cert)


def plan_ca_root(key_src, cert_src, common_name, spec, valid_days, renew_before_days, now, force=False):
    _check_days(valid_days, renew_before_days)
    key, key_pem, reason, before = _host_key(key_src, spec, force, now, renew_before_days, cert_src,
                                             self_signed=True, ca=True)
    if reason == 'valid':
        return Plan('valid', cert=before, before=before, ca_cert=before)
    cert = build_ca_certificate(key, common_name, valid_days, now)
    return Plan(reason, key_pem=key_pem, cert_pem=certificate_pem(cert), cert=cert, before=before, ca_cert=cert)


def plan_csr(key_src, cert_src, sans, common_name, spec, renew_before_days, now, force=False,
             ca_cert_src=None):
    """Ensure the key; say whether a (new) certificate is needed; if so, make the CSR.
    Only the key is ever written here."""
    if renew_before_days < 0:
        raise _bad('renew_before_days', renew_before_days, 'must be at least 0')
    ca_cert = load_ca(ca_cert_src)[0] if ca_cert_src is not None else None
    key, key_pem, reason, before = _host_key(key_src, spec, force, now, renew_before_days, cert_src,
                                             sans=sans, issuer=ca_cert)
    extra = {'needs_certificate': reason != 'valid'}
    if reason != 'valid':
        extra['csr'] = build_csr(key, common_name, sans).public_bytes(serialization.Encoding.PEM).decode('ascii')
    return Plan(reason, key_pem=key_pem, cert=before, before=before, ca_cert=ca_cert, extra=extra)


def plan_sign(csr_content, ca_cert_src, ca_key_src, valid_days, now, sans=None):
    """Sign a CSR with the CA. Writes nothing."""
    if valid_days < 1:
        raise _bad('valid_days', valid_days, 'must be at least 1')
    ca_cert, ca_key = load_ca(ca_cert_src, ca_key_src)
    csr = load_csr(csr_content)
    requested = csr_sans(csr)
    if sans is not None and set(requested) != set(sans):
        raise _bad('subject_alt_names', sans, 'the certificate signing request asks for %s instead'
                   % ', '.join(requested))
    common_name = validate_common_name(csr_common_name(csr, requested))
    cert = build_server_certificate(csr.public_key(), common_name, requested, ca_key, ca_cert, valid_days, now)
    pem = certificate_pem(cert).decode('ascii')
    return Plan(None, cert=cert, ca_cert=ca_cert,
                extra={'certificate': pem, 'ca_certificate': certificate_pem(ca_cert).decode('ascii')})


def normalize_pem_bundle(content):
    if isinstance(content, str):
        content = content.encode('utf-8')
    return (content or b'').strip() + b'\n'


def plan_install(key_src, cert_src, certificate_content, now, renew_before_days, force=False,
                 ca_cert_src=None, key_may_be_planned=False):
    """Install a signed certificate (plus chain) after checking that each certificate of the chain
    is signed by the next one and that the first belongs to the host key.

    ``key_may_be_planned``: check mode, where an earlier csr task only planned the key; a
    missing key is then not an error (nothing is checked or written anyway).
    """
    content = normalize_pem_bundle(certificate_content)
    try:
        chain = load_certificates(content)
    except ValueError:
        raise _bad('certificate_content', None, 'not a readable PEM certificate')
    check_chain(chain, 'certificate_content (for path=%r)' % cert_src.path)
    leaf = chain[0]
    ca_cert = None
    if ca_cert_src is not None:
        ca_cert = load_ca(ca_cert_src)[0]
        if not is_signed_by(leaf, ca_cert):
            raise _bad('certificate_content', None, 'not signed by the CA at ca_cert_path=%r' % ca_cert_src.path)
    key = load_private_key(key_src.data)
    if key is None:
        if key_src.data is None and key_may_be_planned:
            return Plan('missing', cert_pem=content, cert=leaf, ca_cert=ca_cert,
                        warnings=['privatekey_path=%r does not exist yet: the certificate was not '
                                  'checked against it (check mode)' % key_src.path])
        raise _bad('privatekey_path', key_src.path,
                   'missing or not a readable unencrypted PEM private key; create it with mode=csr first')
    if not same_public_key(key, leaf.public_key()):
        raise _bad('certificate_content', None,
                   'the certificate does not match the private key at privatekey_path=%r' % key_src.path)
    before = load_certificate(cert_src.data) if cert_src.data is not None else None
    if cert_src.data == content and not force:
        return Plan('valid', cert=leaf, before=before, ca_cert=ca_cert)
    if force:
        reason = 'forced'
    else:
        reason = evaluate_certificate(cert_src.data, key, now, renew_before_days, sans=certificate_sans(leaf),
                                      issuer=ca_cert)
        if reason == 'valid':
            reason = 'replaced' if before is None or before.issuer == leaf.issuer else 'issuer_changed'
    return Plan(reason, cert_pem=content, cert=leaf, before=before, ca_cert=ca_cert)
