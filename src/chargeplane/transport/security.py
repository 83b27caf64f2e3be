"""Security profiles 1-3 (2.0.1 Part 2 A00, 1.6 security whitepaper §2): passwords, Basic auth, TLS, mTLS.

========  ===================================  =======================================
profile   the station proves itself with        the channel
========  ===================================  =======================================
1         HTTP Basic auth                       plain WebSocket (trusted networks only)
2         HTTP Basic auth                       TLS 1.2+, CSMS certificate
3         a client certificate (CN = identity)  mutual TLS 1.2+
========  ===================================  =======================================

A station configured for a profile may not connect with a lower one (A00.FR.001-006): a profile-2 station
on plain ``ws://`` or a profile-3 station without a client certificate is refused.

Passwords are stored only as salted hashes (A01, "store only salted hashes"): an operator's password as
scrypt, whose checking costs a few milliseconds of CPU in a worker thread; a password this CSMS generated
(:func:`generate_password`: 160 to 246 random bits) as salted SHA-256, checked in microseconds, since no
guessing reaches that many bits and stretching would only make a cold start of many stations slow.
:class:`VerifiedPasswordCache` remembers recent successes (keyed by a keyed hash, never the password) so that a
reconnection storm does not pay scrypt for every station.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
import ssl
import tempfile
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509

from chargeplane.ocpp.versions import Version


class SecurityProfile(enum.IntEnum):
    BASIC_AUTH = 1
    TLS_BASIC_AUTH = 2
    TLS_CLIENT_CERTIFICATE = 3


# -- passwords --------------------------------------------------------------------------------------------

# 2.0.1 passwordString (Part 2 §2.1.4): a-z A-Z 0-9 and * - _ = : + | @ . ; 16 to 40 characters (A00.FR.205).
_PASSWORD_STRING = re.compile(r"\A[a-zA-Z0-9*\-_=:+|@.]+\Z")
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")
PASSWORD_MIN_LENGTH = 16
PASSWORD_MAX_LENGTH = {Version.V16: 40, Version.V201: 40, Version.V21: 64}


class PasswordRuleError(ValueError):
    """A password that the station's OCPP version does not allow."""


def check_password_rules(password: str, version: Version) -> None:
    """Raise :class:`PasswordRuleError` unless ``password`` is valid Basic-auth secret for ``version``.

    * 1.6: ``AuthorizationKey``, 16 to 20 bytes written as 32 to 40 hex digits (whitepaper §7.2, J16 §6.2.2);
    * 2.0.1: a passwordString of 16 to 40 characters (A00.FR.205, §2.1.4);
    * 2.1: any case-sensitive UTF-8 of 16 to 64 characters (2.1 A00.FR.205; 64 is the highest maxLimit of
      ``SecurityCtrlr.BasicAuthPassword``).
    """
    if version is Version.V16:
        if not _HEX.match(password) or not 32 <= len(password) <= 40 or len(password) % 2:
            raise PasswordRuleError("a 1.6 AuthorizationKey is 16 to 20 bytes as 32 to 40 hex digits")
        return
    maximum = PASSWORD_MAX_LENGTH[version]
    if not PASSWORD_MIN_LENGTH <= len(password) <= maximum:
        raise PasswordRuleError(
            f"an OCPP {version.value} password has {PASSWORD_MIN_LENGTH} to {maximum} characters"
        )
    if version is Version.V201 and not _PASSWORD_STRING.match(password):
        raise PasswordRuleError("an OCPP 2.0.1 password uses only a-z A-Z 0-9 * - _ = : + | @ .")


def generate_password(version: Version) -> str:
    """A random password that meets the rules of ``version`` (32 random bytes' worth where allowed)."""
    if version is Version.V16:
        return secrets.token_hex(20)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-_=:+|@."
    return "".join(secrets.choice(alphabet) for _ in range(40))


_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**12, 8, 1


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (hex) of the UTF-8 password, with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(password.encode(), salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt.hex()}${digest.hex()}"


def hash_generated_password(password: str) -> str:
    """``sha256$salt$hash`` (hex) of a password :func:`generate_password` made, with a fresh 16-byte salt.

    Only for generated passwords: a memory-hard KDF makes guessing a person's password expensive, but 160
    random bits (a 1.6 key) are beyond any guessing already, while scrypt would cost 14 ms of CPU per station
    at every cold start (2.5 minutes of CPU to bring 10,000 stations up)."""
    salt = secrets.token_bytes(16)
    return f"{_GENERATED}${salt.hex()}${_salted_sha256(password.encode(), salt).hex()}"


def is_costly_to_verify(stored: str) -> bool:
    """Whether checking a password against ``stored`` takes a KDF's milliseconds (run it in a thread)."""
    return not stored.startswith(_GENERATED + "$")


def verify_password(password: bytes, stored: str) -> bool:
    """Constant-time check of a received password against :func:`hash_password` or
    :func:`hash_generated_password` output."""
    try:
        scheme, *fields = stored.split("$")
        if scheme == _GENERATED and len(fields) == 2:
            expected = bytes.fromhex(fields[1])
            actual = _salted_sha256(password, bytes.fromhex(fields[0]))
        elif scheme == "scrypt" and len(fields) == 5:
            n, r, p, salt, digest = fields
            expected = bytes.fromhex(digest)
            actual = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p))
        else:
            return False
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


_GENERATED = "sha256"


def _salted_sha256(password: bytes, salt: bytes) -> bytes:
    return hashlib.sha256(salt + password).digest()


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, dklen=32)


class VerifiedPasswordCache:
    """Recently verified (station, password hash, password) triples, as keyed digests in a bounded LRU.

    The key is an HMAC under a per-process random key, so the cache holds nothing that helps an attacker
    who reads memory later; a changed stored hash (new password) never matches an old entry.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._key = secrets.token_bytes(32)
        self._capacity = capacity
        self._entries: OrderedDict[bytes, None] = OrderedDict()

    def _digest(self, station_id: str, stored: str, password: bytes) -> bytes:
        message = b"\0".join((station_id.encode(), stored.encode(), password))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def contains(self, station_id: str, stored: str, password: bytes) -> bool:
        digest = self._digest(station_id, stored, password)
        if digest in self._entries:
            self._entries.move_to_end(digest)
            return True
        return False

    def add(self, station_id: str, stored: str, password: bytes) -> None:
        self._entries[self._digest(station_id, stored, password)] = None
        if len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


# -- HTTP Basic auth --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BasicCredentials:
    username: str
    password: bytes  # as sent: 1.6 stations may send the raw AuthorizationKey bytes, not UTF-8


def parse_basic_auth(header: str | None) -> BasicCredentials | None:
    """The credentials of an ``Authorization: Basic ...`` header, or ``None`` if absent or malformed."""
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    username, separator, password = decoded.partition(b":")
    if not separator:
        return None
    try:
        return BasicCredentials(username.decode(), password)
    except UnicodeDecodeError:
        return None


def basic_auth_header(username: str, password: str | bytes) -> str:
    secret = password.encode() if isinstance(password, str) else password
    return "Basic " + base64.b64encode(username.encode() + b":" + secret).decode()


class V16KeyEncoding(enum.Enum):
    """How a 1.6 station puts its AuthorizationKey on the wire (products differ; DIGEST §2.2)."""

    HEX = "hex"  # the 40 hex digits as text, as configured
    RAW = "raw"  # the 20 key bytes themselves


def wire_password_to_configured(password: bytes, encoding: V16KeyEncoding) -> bytes:
    """The received password in the form it was configured (and hashed) in."""
    return password.hex().encode() if encoding is V16KeyEncoding.RAW else password


# -- station security configuration -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StationSecurity:
    """What a station must present to connect."""

    profile: SecurityProfile
    password_hash: str | None = None  # profiles 1 and 2
    v16_key_encoding: V16KeyEncoding = V16KeyEncoding.HEX
    # A01 password rotation: a new password sent to the station, accepted beside the current one until the
    # station has connected with it
    pending_password_hash: str | None = None
    # ... or where to read it, asked only when the current password does not match (most never need it)
    pending_lookup: Callable[[], Awaitable[str | None]] | None = None


# -- TLS --------------------------------------------------------------------------------------------------

# A00.FR.318 (CSMS side) for TLS 1.2: the two ECDHE-ECDSA and the two RSA AES-GCM suites. ECDHE-RSA is added
# so that an RSA-only CSMS certificate still offers forward secrecy; TLS 1.3 suites are OpenSSL's defaults.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    )
)


@dataclass(frozen=True, slots=True)
class CertificateFiles:
    certificate: Path  # PEM, leaf first, then intermediates
    private_key: Path


@dataclass(frozen=True)
class TlsSettings:
    """The CSMS side of TLS: one or two server certificates (RSA and ECDSA, to serve all four required
    suites) and, for profile 3, the CA bundle that station certificates must chain to."""

    certificates: tuple[CertificateFiles, ...]
    client_ca: Path | None = None
    operator_name: str | None = None  # when set, a station certificate's O must equal it (A00.FR.403)


def server_tls_context(settings: TlsSettings, client_crl: bytes | None = None) -> ssl.SSLContext:
    """TLS 1.2+, the spec's cipher suites, no TLS compression; client certificates requested when a CA is set.

    ``client_crl`` (PEM): the CRL of the CA that signs station certificates; a client certificate it lists is
    refused in the handshake (its issuer's CRL is then required: ``VERIFY_CRL_CHECK_LEAF``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION | ssl.OP_CIPHER_SERVER_PREFERENCE
    for files in settings.certificates:
        context.load_cert_chain(files.certificate, files.private_key)
    if settings.client_ca is not None:
        context.load_verify_locations(cafile=settings.client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL  # profile-2 stations present none; profile 3 is checked later
        if client_crl is not None:
            with tempfile.TemporaryDirectory(prefix="chargeplane-crl-") as directory:
                path = Path(directory) / "client.crl.pem"
                path.write_bytes(client_crl)
                context.load_verify_locations(
                    cafile=path
                )  # a PEM file may hold CRLs: OpenSSL's store takes them
            context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
    return context


def presented_certificate(handshake_message: bytes, tls13: bool) -> x509.Certificate | None:
    """The first (leaf) certificate of a TLS Certificate handshake message (with its 4-byte header), or None.

    TLS 1.2: a 3-byte list length, then 3-byte-length-prefixed DER certificates; TLS 1.3 puts a 1-byte-length
    request context before the list (RFC 8446 §4.4.2)."""
    at = 4
    try:
        if tls13:
            at += 1 + handshake_message[at]
        at += 3
        length = int.from_bytes(handshake_message[at : at + 3], "big")
        at += 3
        der = handshake_message[at : at + length]
        return x509.load_der_x509_certificate(der) if length and len(der) == length else None
    except (IndexError, ValueError):
        return None


# OpenSSL's reasons of a handshake that failed on the TLS version (one side offers only what the other refuses)
TLS_VERSION_REASONS = frozenset(
    {"UNSUPPORTED_PROTOCOL", "WRONG_VERSION_NUMBER", "TLSV1_ALERT_PROTOCOL_VERSION", "VERSION_TOO_LOW"}
)


def client_tls_context(
    ca_bundle: Path | None, client_certificate: CertificateFiles | None = None
) -> ssl.SSLContext:
    """The station side: verify the CSMS chain and host name (A00.FR.312-315), TLS 1.2+, optional client cert.

    Every certificate of the bundle is a trust anchor, self-signed or not: a CSMS root installed under
    AdditionalRootCertificateCheck is signed by the root it replaces (M05.FR.10) and must verify alone."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_bundle)
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.options |= ssl.OP_NO_COMPRESSION
    if client_certificate is not None:
        context.load_cert_chain(client_certificate.certificate, client_certificate.private_key)
    return context


def csms_refusal_event(error: BaseException) -> str | None:
    """The station's security event (A00) of a connection attempt that failed in the TLS handshake: the CSMS
    certificate did not verify, or the CSMS offered no TLS version of 1.2 or above; None for other failures."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "InvalidCsmsCertificate"  # A00.FR.310 / A00.FR.413
    if isinstance(error, ssl.SSLError) and error.reason in TLS_VERSION_REASONS:
        return "InvalidTLSVersion"  # A00.FR.316 / A00.FR.419
    return None


@dataclass(frozen=True, slots=True)
class CertificateSubject:
    common_name: str | None
    organization: str | None


def subject_of(peercert: Mapping[str, Any] | None) -> CertificateSubject | None:
    """CN and O of a verified peer certificate as returned by :meth:`ssl.SSLSocket.getpeercert`."""
    if not peercert:
        return None
    subject = peercert.get("subject")
    names: dict[str, str] = {}
    if isinstance(subject, tuple):
        for rdn in subject:
            for key, value in rdn:
                names.setdefault(key, value)
    return CertificateSubject(names.get("commonName"), names.get("organizationName"))


def check_client_certificate(
    subject: CertificateSubject | None, station_id: str, operator_name: str | None
) -> str | None:
    """Why a verified client certificate does not identify ``station_id`` (A00.FR.402-403), or ``None``.

    The identity is case-insensitive (2.0.1 Part 4 §3.1.1), so the CN is compared that way too.
    """
    if subject is None:
        return "no client certificate"
    if subject.common_name is None or subject.common_name.casefold() != station_id.casefold():
        return "certificate CN does not match the station identity"
    if operator_name is not None and subject.organization != operator_name:
        return "certificate O does not match the operator"
    return None
