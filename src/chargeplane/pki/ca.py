"""The operator's certificate authority: a root and a sub-CA that signs the stations' certificates.

Hierarchy and files
    ``init`` makes a self-signed root and a sub-CA under it (RSA 2048/3072/4096 or ECDSA P-256/P-384: the
    suites of A00.FR.318 need an RSA and an ECDSA hierarchy, so the operator picks one per CA directory). The
    certificates are ``root.pem`` and ``sub.pem``; the private keys ``root.key`` and ``sub.key`` are written with
    mode 0600 and never leave the directory. ``import_files`` takes an existing sub-CA (certificate, key) and its
    root instead.

CSR checks before signing (:func:`check_csr`, A02.FR.06 / A03: the CSMS checks what it forwards)
    a readable PKCS#10 whose signature verifies; a SHA-256 or stronger signature hash (A00.FR.507); exactly one
    CN, equal to the station's identity for a ChargingStationCertificate (A00.FR.510/511), and O equal to the
    operator's organisation (A00.FR.509); only the subject attributes C, O, OU, CN; an allowed key (RSA >= 2048
    bits, A00.FR.503; ECDSA P-256 or P-384, A00.FR.504); no requested extension but a KeyUsage without CA uses
    (no subjectAltName, basicConstraints or extended key usage smuggled in: A00.FR.512/513).

Issuing
    The issued certificate takes the CSR's subject and key and nothing else of it: our own serial,
    KeyUsage (digitalSignature, and keyEncipherment for RSA / keyAgreement for EC), basicConstraints CA false,
    the CRL distribution point and the OCSP responder (authorityInfoAccess) of this CA, signed with SHA-256.

Revocation
    :meth:`CertificateAuthority.crl` builds the CRL of the sub-CA; :meth:`CertificateAuthority.ocsp_response`
    answers an RFC 6960 request (DER) from the statuses the caller looks up by serial.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Protocol

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtensionOID, NameOID

from chargeplane.pki.hashes import key_bits

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

KEY_ALGORITHMS = ("ec-p256", "ec-p384", "rsa2048", "rsa3072", "rsa4096")
ALLOWED_CURVES = frozenset({"secp256r1", "secp384r1"})  # A00.FR.318's ECDHE_ECDSA suites
MIN_RSA_BITS = 2048  # A00.FR.503 (112-bit security)
SUBJECT_ATTRIBUTES = frozenset(
    {NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COUNTRY_NAME}
)
STRONG_HASHES = (hashes.SHA256, hashes.SHA384, hashes.SHA512)

ROOT_CERT, ROOT_KEY, SUB_CERT, SUB_KEY = "root.pem", "root.key", "sub.pem", "sub.key"


class CaError(Exception):
    """The CA directory is missing, incomplete or inconsistent."""


class CsrRefused(Exception):
    """The CSR fails a check; ``reason`` is short and safe to show the station's operator."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Status(Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class RevocationEntry:
    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags | None = None


@dataclass(frozen=True, slots=True)
class CertStatus:
    status: Status
    revoked_at: datetime | None = None
    reason: x509.ReasonFlags | None = None


@dataclass(frozen=True, slots=True)
class CsrPolicy:
    organisation: str | None  # the O every CSR must carry (None: not checked)
    common_name: str | None  # the CN it must carry (the station's identity), None: any single CN


class ExternalCa(Protocol):
    """An operator's own CA: the CSMS hands it a checked CSR and sends what it returns (leaf first, PEM)."""

    def sign(
        self, csr: x509.CertificateSigningRequest, certificate_type: str, station_id: str
    ) -> list[x509.Certificate]: ...


def generate_key(algorithm: str) -> PrivateKey:
    if algorithm == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if algorithm in ("rsa2048", "rsa3072", "rsa4096"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(algorithm[3:]))
    raise ValueError(f"unknown key algorithm {algorithm!r}: one of {', '.join(KEY_ALGORITHMS)}")


def key_problem(key: object) -> str | None:
    """Why ``key`` is not allowed in a certificate of ours (None: it is)."""
    if isinstance(key, rsa.RSAPublicKey):
        return None if key.key_size >= MIN_RSA_BITS else f"RSA key of {key.key_size} bits (< {MIN_RSA_BITS})"
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = key.curve.name
        return None if name in ALLOWED_CURVES else f"EC curve {name} not allowed (P-256, P-384)"
    return f"key type {type(key).__name__} not allowed (RSA, ECDSA)"


def check_csr(pem: str, policy: CsrPolicy) -> x509.CertificateSigningRequest:
    """The CSR if it passes every check (see the module's docstring), else :class:`CsrRefused`."""
    try:
        csr = x509.load_pem_x509_csr(pem.strip().encode())
    except ValueError as error:
        raise CsrRefused(f"unreadable CSR: {error}") from None
    try:
        valid = csr.is_signature_valid
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType):
        valid = False
    if not valid:
        raise CsrRefused("the CSR's signature does not verify")
    if not isinstance(csr.signature_hash_algorithm, STRONG_HASHES):
        raise CsrRefused("the CSR is not signed with SHA-256 or stronger")
    problem = key_problem(csr.public_key())
    if problem is not None:
        raise CsrRefused(problem)
    for attribute in csr.subject:
        if attribute.oid not in SUBJECT_ATTRIBUTES:
            raise CsrRefused(f"subject attribute {attribute.oid.dotted_string} not allowed (C, O, OU, CN)")
    names = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(names) != 1:
        raise CsrRefused("the subject needs exactly one CN")
    # the transport compares a station certificate's CN with the identity casefolded: so does this check
    common_name = names[0].value
    if policy.common_name is not None and (
        not isinstance(common_name, str) or common_name.casefold() != policy.common_name.casefold()
    ):
        raise CsrRefused(f"CN {names[0].value!r} is not the station's identity {policy.common_name!r}")
    if policy.organisation is not None:
        organisations = [a.value for a in csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
        if organisations != [policy.organisation]:
            raise CsrRefused(f"O {organisations} is not the operator's organisation {policy.organisation!r}")
    for extension in csr.extensions:
        if extension.oid != ExtensionOID.KEY_USAGE:
            raise CsrRefused(f"requested extension {extension.oid.dotted_string} not allowed")
        usage = extension.value
        assert isinstance(usage, x509.KeyUsage)
        if usage.key_cert_sign or usage.crl_sign:
            raise CsrRefused("a key usage for a CA (keyCertSign, cRLSign) is not allowed")
    return csr


def _write_private(path: Path, key: PrivateKey) -> None:
    data = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    os.chmod(path, 0o600)


def _load_key(path: Path) -> PrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
        raise CaError(f"{path}: not an RSA or EC private key")
    return key


def _signature_hash(key: PrivateKey) -> hashes.SHA256 | hashes.SHA384:
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size > 256:
        return hashes.SHA384()
    return hashes.SHA256()


def _ca_certificate(
    subject: x509.Name,
    public_key: PublicKey,
    issuer: x509.Name,
    signing_key: PrivateKey,
    issuer_key: PublicKey,
    now: datetime,
    days: int,
    path_length: int,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key), critical=False)
        .sign(signing_key, _signature_hash(signing_key))
    )


def verify_issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``certificate`` (names and signature)."""
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _key_usage(public_key: PublicKey) -> x509.KeyUsage:
    is_rsa = isinstance(public_key, rsa.RSAPublicKey)
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=is_rsa,
        data_encipherment=False,
        key_agreement=not is_rsa,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


@dataclass(frozen=True, slots=True)
class Urls:
    """Where this CA's CRL and OCSP responder are reached (None: not named in the certificates)."""

    crl: str | None = None
    ocsp: str | None = None


class CertificateAuthority:
    """A loaded CA directory: the root, the sub-CA and the sub-CA's key; the root's key when the directory has
    it (an imported CA has none), for the OCSP answers about the sub-CA itself."""

    def __init__(
        self,
        directory: Path,
        root: x509.Certificate,
        sub: x509.Certificate,
        key: PrivateKey,
        root_key: PrivateKey | None = None,
    ) -> None:
        self.directory = directory
        self.root = root
        self.sub = sub
        self._key = key
        self._root_key = root_key

    # -- creating, importing, loading -----------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        directory: Path,
        organisation: str,
        *,
        algorithm: str = "ec-p256",
        name: str = "Chargeplane",
        now: datetime,
        root_days: int = 7300,
        sub_days: int = 3650,
    ) -> CertificateAuthority:
        """Make a new root and sub-CA in ``directory`` (refused when it holds a CA already)."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if any((directory / f).exists() for f in (ROOT_CERT, ROOT_KEY, SUB_CERT, SUB_KEY)):
            raise CaError(f"{directory} holds a CA already")
        root_key, sub_key = generate_key(algorithm), generate_key(algorithm)
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation)
        root_name = x509.Name([org, x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Root CA")])
        sub_name = x509.Name([org, x509.NameAttribute(NameOID.COMMON_NAME, f"{name} Sub-CA")])
        root_public, sub_public = root_key.public_key(), sub_key.public_key()
        root = _ca_certificate(root_name, root_public, root_name, root_key, root_public, now, root_days, 1)
        sub = _ca_certificate(sub_name, sub_public, root_name, root_key, root_public, now, sub_days, 0)
        _write_private(directory / ROOT_KEY, root_key)
        _write_private(directory / SUB_KEY, sub_key)
        (directory / ROOT_CERT).write_bytes(root.public_bytes(serialization.Encoding.PEM))
        (directory / SUB_CERT).write_bytes(sub.public_bytes(serialization.Encoding.PEM))
        return cls(directory, root, sub, sub_key, root_key)

    @classmethod
    def import_files(
        cls, directory: Path, root_pem: Path, sub_pem: Path, sub_key_pem: Path
    ) -> CertificateAuthority:
        """Take an existing sub-CA (its certificate and key) and the root that signed it into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        if any((directory / f).exists() for f in (ROOT_CERT, SUB_CERT, SUB_KEY)):
            raise CaError(f"{directory} holds a CA already")
        try:
            root = x509.load_pem_x509_certificate(root_pem.read_bytes())
            sub = x509.load_pem_x509_certificate(sub_pem.read_bytes())
            key = _load_key(sub_key_pem)
        except ValueError as error:
            raise CaError(f"unreadable PEM: {error}") from None
        if not verify_issued_by(sub, root):
            raise CaError("the sub-CA certificate is not signed by the root")
        if sub.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise CaError("the key does not belong to the sub-CA certificate")
        constraints = sub.extensions.get_extension_for_class(x509.BasicConstraints).value
        if not constraints.ca:
            raise CaError("the sub-CA certificate is not a CA certificate")
        _write_private(directory / SUB_KEY, key)
        (directory / ROOT_CERT).write_bytes(root.public_bytes(serialization.Encoding.PEM))
        (directory / SUB_CERT).write_bytes(sub.public_bytes(serialization.Encoding.PEM))
        return cls(directory, root, sub, key)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        paths = [directory / f for f in (ROOT_CERT, SUB_CERT, SUB_KEY)]
        missing = [p.name for p in paths if not p.is_file()]
        if missing:
            raise CaError(f"{directory}: no CA ({', '.join(missing)} missing): run `chargeplane ca init`")
        try:
            root = x509.load_pem_x509_certificate(paths[0].read_bytes())
            sub = x509.load_pem_x509_certificate(paths[1].read_bytes())
            key = _load_key(paths[2])
            root_key = _load_key(directory / ROOT_KEY) if (directory / ROOT_KEY).is_file() else None
        except ValueError as error:
            raise CaError(f"{directory}: unreadable PEM: {error}") from None
        return cls(directory, root, sub, key, root_key)

    @staticmethod
    def exists(directory: Path) -> bool:
        return all((directory / f).is_file() for f in (ROOT_CERT, SUB_CERT, SUB_KEY))

    # -- issuing --------------------------------------------------------------------------------------------

    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        now: datetime,
        days: int,
        urls: Urls = Urls(),
        serial: int | None = None,
    ) -> x509.Certificate:
        """A certificate for a CSR that passed :func:`check_csr`; never longer than the sub-CA is valid."""
        public_key = csr.public_key()
        if not isinstance(public_key, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)):
            raise CsrRefused("key type not allowed (RSA, ECDSA)")
        not_after = min(now + timedelta(days=days), self.sub.not_valid_after_utc)
        builder = (
            x509.CertificateBuilder()
            .subject_name(csr.subject)
            .issuer_name(self.sub.subject)
            .public_key(public_key)
            .serial_number(serial if serial is not None else x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(public_key), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._public_key()), critical=False
            )
        )
        if urls.crl is not None:
            point = x509.DistributionPoint([x509.UniformResourceIdentifier(urls.crl)], None, None, None)
            builder = builder.add_extension(x509.CRLDistributionPoints([point]), critical=False)
        if urls.ocsp is not None:
            access = x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(urls.ocsp)
            )
            builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
        return builder.sign(self._key, hashes.SHA256())

    def chain(self, leaf: x509.Certificate) -> str:
        """The certificateChain of CertificateSigned: the leaf, then the sub-CA (PEM; A02.FR.05)."""
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in (leaf, self.sub))

    def _public_key(self) -> PublicKey:
        return self._key.public_key()

    # -- revocation -----------------------------------------------------------------------------------------

    def crl(
        self, revoked: Iterable[RevocationEntry], *, now: datetime, next_update: datetime, number: int
    ) -> x509.CertificateRevocationList:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.sub.subject)
            .last_update(now)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._public_key()), critical=False
            )
        )
        for entry in revoked:
            item = (
                x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
            )
            if entry.reason is not None:
                item = item.add_extension(x509.CRLReason(entry.reason), critical=False)
            builder = builder.add_revoked_certificate(item.build())
        return builder.sign(self._key, hashes.SHA256())

    def ocsp_response(
        self,
        request_der: bytes,
        status_of: Callable[[int], CertStatus],
        *,
        now: datetime,
        next_update: datetime,
    ) -> bytes:
        """The DER OCSPResponse to a DER OCSPRequest (RFC 6960): signed by the sub-CA for the certificates it
        issued (their status from ``status_of``), by the root for the sub-CA itself (good; when the root's key is
        here); ``malformedRequest`` for an unreadable request, ``unauthorized`` for another issuer's."""
        try:
            request = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        algorithm = request.hash_algorithm
        if not isinstance(algorithm, (hashes.SHA1, *STRONG_HASHES)):
            return _unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        asked = (request.issuer_name_hash, request.issuer_key_hash)
        if asked == issuer_hashes(self.sub, algorithm):
            issuer, key, found = self.sub, self._key, status_of(request.serial_number)
        elif asked == issuer_hashes(self.root, algorithm) and self._root_key is not None:
            good = request.serial_number == self.sub.serial_number
            issuer, key, found = (
                self.root,
                self._root_key,
                CertStatus(Status.GOOD if good else Status.UNKNOWN),
            )
        else:
            return _unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        status = {
            Status.GOOD: ocsp.OCSPCertStatus.GOOD,
            Status.REVOKED: ocsp.OCSPCertStatus.REVOKED,
            Status.UNKNOWN: ocsp.OCSPCertStatus.UNKNOWN,
        }[found.status]
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=asked[0],
            issuer_key_hash=asked[1],
            serial_number=request.serial_number,
            algorithm=algorithm,
            cert_status=status,
            this_update=now,
            next_update=next_update,
            revocation_time=found.revoked_at if found.status is Status.REVOKED else None,
            revocation_reason=found.reason if found.status is Status.REVOKED else None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer).certificates([issuer])
        for extension in request.extensions:  # the nonce comes back (RFC 8954)
            if isinstance(extension.value, x509.OCSPNonce):
                builder = builder.add_extension(extension.value, critical=False)
        response = builder.sign(key, hashes.SHA256())
        return response.public_bytes(serialization.Encoding.DER)


def issuer_hashes(issuer: x509.Certificate, algorithm: hashes.HashAlgorithm) -> tuple[bytes, bytes]:
    """The hash of the issuer's DER name and of its public key's bits (a CertID's, RFC 6960 §4.1.1)."""
    name = hashes.Hash(algorithm)
    name.update(issuer.subject.public_bytes())
    key = hashes.Hash(algorithm)
    key.update(key_bits(issuer))
    return name.finalize(), key.finalize()


def _unsuccessful(status: ocsp.OCSPResponseStatus) -> bytes:
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)
