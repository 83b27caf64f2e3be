"""The operator's firmware signing key (L01.FR.09, L01.FR.11): the key, its certificate and the root that
stations trust as their ManufacturerRootCertificate.

Theory of operation
-------------------
The keys live in one directory (``signing_dir``), every file mode 0600:

``signing-key.pem``   the private key that signs images (PKCS#8 PEM)
``signing-cert.pem``  its certificate, sent with every update (``firmware.signingCertificate``)
``root-cert.pem``     the certificate that issued it: what stations install as ManufacturerRootCertificate
``root-key.pem``      the root's private key, only when this module made the root itself

On first use, with nothing there, a root (a CA certificate, 20 years) and a signing certificate issued by it
(5 years, key usage digitalSignature only) are made with the configured key type: RSA-2048, whose signatures
are RSA-PSS (MGF1 SHA-256, salt of the digest's length) as L01.FR.04 names; or ECDSA P-256 (the ECSchnorr of
L01.FR.04 is not in common libraries; ECDSA is what A00.FR.505 recommends), DER signatures. Either way the
hash is SHA-256 (A00.FR.506) and the signature is sent base64-encoded. An operator who has the
manufacturer's key imports key, certificate and root instead (``chargeplane firmware signing-key import``
or the API); the import checks that the key belongs to the certificate and that the root issued it.

The image is hashed while it is uploaded, so signing takes its SHA-256 digest (``Prehashed``): the signature is
the same as over the whole file.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from cryptography.x509.oid import NameOID

from chargeplane.csms.errors import Invalid

KEY_FILE, CERT_FILE, ROOT_FILE, ROOT_KEY_FILE = (
    "signing-key.pem",
    "signing-cert.pem",
    "root-cert.pem",
    "root-key.pem",
)
SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
RSA_PSS = "RSA-PSS-SHA256"
ECDSA = "ECDSA-SHA256"


class SigningKeyInvalid(Invalid):
    """An imported key, certificate or root that does not fit together."""


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def _new_key(key_type: str) -> SigningKey:
    if key_type == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def _key_pem(key: SigningKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` with mode 0600 from the start (a temporary file, then renamed)."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


@dataclass(frozen=True, slots=True)
class KeyInfo:
    algorithm: str  # RSA-PSS-SHA256 | ECDSA-SHA256
    subject: str
    issuer: str
    serial_number: str  # hex
    not_after: datetime
    sha256_fingerprint: str  # of the signing certificate, hex
    certificate: str  # PEM
    root_certificate: str  # PEM
    generated: bool  # made by this CSMS (False: imported)


class Signer:
    """A loaded signing key with its certificate and root."""

    def __init__(
        self, key: SigningKey, certificate: x509.Certificate, root: x509.Certificate, generated: bool
    ):
        self.key = key
        self.certificate = certificate
        self.root = root
        self.generated = generated

    @property
    def algorithm(self) -> str:
        return RSA_PSS if isinstance(self.key, rsa.RSAPrivateKey) else ECDSA

    @property
    def certificate_pem(self) -> str:
        return _pem(self.certificate)

    @property
    def root_pem(self) -> str:
        return _pem(self.root)

    def sign_digest(self, sha256: bytes) -> str:
        """The base64 signature over the image whose SHA-256 digest is ``sha256``."""
        prehashed = utils.Prehashed(hashes.SHA256())
        if isinstance(self.key, rsa.RSAPrivateKey):
            signature = self.key.sign(sha256, _pss(), prehashed)
        else:
            signature = self.key.sign(sha256, ec.ECDSA(prehashed))
        return base64.b64encode(signature).decode()

    def info(self) -> KeyInfo:
        cert = self.certificate
        return KeyInfo(
            algorithm=self.algorithm,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_number=format(cert.serial_number, "x"),
            not_after=cert.not_valid_after_utc,
            sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
            certificate=self.certificate_pem,
            root_certificate=self.root_pem,
            generated=self.generated,
        )


def verify_signature(certificate_pem: str, signature_b64: str, data: bytes) -> bool:
    """Whether ``signature_b64`` is a signature of ``data`` by the certificate's key (as a station checks it)."""
    certificate = x509.load_pem_x509_certificate(certificate_pem.encode())
    public = certificate.public_key()
    signature = base64.b64decode(signature_b64)
    try:
        if isinstance(public, rsa.RSAPublicKey):
            public.verify(signature, data, _pss(), hashes.SHA256())
        elif isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except InvalidSignature:
        return False
    return True


class SigningKeys:
    """The key directory: loads the key, makes one on first use, imports one."""

    def __init__(self, directory: Path, key_type: str, organization: str) -> None:
        self.directory = directory
        self.key_type = key_type
        self.organization = organization

    def exists(self) -> bool:
        return all((self.directory / name).is_file() for name in (KEY_FILE, CERT_FILE, ROOT_FILE))

    def load(self) -> Signer | None:
        if not self.exists():
            return None
        key = serialization.load_pem_private_key((self.directory / KEY_FILE).read_bytes(), password=None)
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise SigningKeyInvalid("the stored signing key is neither RSA nor EC")
        certificate = x509.load_pem_x509_certificate((self.directory / CERT_FILE).read_bytes())
        root = x509.load_pem_x509_certificate((self.directory / ROOT_FILE).read_bytes())
        return Signer(key, certificate, root, (self.directory / ROOT_KEY_FILE).is_file())

    def load_or_create(self, now: datetime | None = None) -> Signer:
        signer = self.load()
        return signer if signer is not None else self.create(now)

    def create(self, now: datetime | None = None) -> Signer:
        """A new root and signing certificate (replaces what is there)."""
        now = now or datetime.now(UTC)
        root_key, key = _new_key(self.key_type), _new_key(self.key_type)
        org = x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization)
        root_name = x509.Name([org, x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Root CA")])
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=20 * 365))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, hashes.SHA256())
        )
        name = x509.Name([org, x509.NameAttribute(NameOID.COMMON_NAME, "Firmware Signing")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(root_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=5 * 365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA256())
        )
        self._store(_key_pem(key), _pem(certificate).encode(), _pem(root).encode(), _key_pem(root_key))
        return Signer(key, certificate, root, True)

    def import_key(self, key_pem: bytes, certificate_pem: bytes, root_pem: bytes) -> Signer:
        """Take the operator's key, its certificate and the root that issued it, checked to fit together."""
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as error:
            raise SigningKeyInvalid(f"the key is not an unencrypted PEM private key: {error}") from None
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise SigningKeyInvalid("the key must be RSA or EC")
        if isinstance(key, rsa.RSAPrivateKey) and key.key_size < 2048:
            raise SigningKeyInvalid("an RSA key must have at least 2048 bits (A00.FR.502)")
        if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size < 224:
            raise SigningKeyInvalid("an EC key must have at least 224 bits (A00.FR.503)")
        try:
            certificate = x509.load_pem_x509_certificate(certificate_pem)
            root = x509.load_pem_x509_certificate(root_pem)
        except ValueError as error:
            raise SigningKeyInvalid(f"not a PEM certificate: {error}") from None
        public = certificate.public_key()
        if not isinstance(public, (rsa.RSAPublicKey, ec.EllipticCurvePublicKey)) or public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ) != key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ):
            raise SigningKeyInvalid("the key does not belong to the certificate")
        try:
            certificate.verify_directly_issued_by(root)
        except (ValueError, TypeError, InvalidSignature):
            raise SigningKeyInvalid("the root certificate did not issue the signing certificate") from None
        self._store(_key_pem(key), _pem(certificate).encode(), _pem(root).encode(), None)
        return Signer(key, certificate, root, False)

    def _store(self, key: bytes, certificate: bytes, root: bytes, root_key: bytes | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(self.directory / KEY_FILE, key)
        _write_private(self.directory / CERT_FILE, certificate)
        _write_private(self.directory / ROOT_FILE, root)
        if root_key is not None:
            _write_private(self.directory / ROOT_KEY_FILE, root_key)
        else:
            (self.directory / ROOT_KEY_FILE).unlink(missing_ok=True)


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
