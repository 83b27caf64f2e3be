"""The tool's small test PKI (made fresh per run, in memory): what the security, certificate and firmware
cases install, present or sign with.

* a CSMS root ("old") and the CSMS server certificate it signs (the wss cases), a second CSMS root ("new",
  signed by the old one, as M05's AdditionalRootCertificateCheck wants) and a server certificate under it;
* a manufacturer root and the firmware signing certificate it signs, and signatures of firmware images:
  valid, invalid (another key signed it) and under a certificate of an unknown root;
* an expired root (M_07) and the certificateHashData of any certificate (M03, M04).

EC P-256 keys and SHA-256 throughout (the OCPP security cipher suites include ECDSA ones).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import secrets
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en

DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()

    @property
    def key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Chargeplane conformance tool"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    common_name: str,
    issuer: Issued | None = None,
    *,
    ca: bool,
    hosts: tuple[str, ...] = (),
    not_after: datetime.datetime | None = None,
    code_signing: bool = False,
    ocsp_url: str | None = None,
) -> Issued:
    """A certificate for ``common_name``, signed by ``issuer`` (self-signed when None); with ``ocsp_url``, it
    names that OCSP responder (authorityInfoAccess)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    end = not_after if not_after is not None else now + 365 * DAY
    signer = issuer.key if issuer is not None else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.certificate.subject if issuer is not None else _name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(min(now - DAY, end - DAY))
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    if hosts:
        names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    if code_signing:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False
        )
    if ocsp_url is not None:
        access = x509.AccessDescription(
            AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(ocsp_url)
        )
        builder = builder.add_extension(x509.AuthorityInformationAccess([access]), critical=False)
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def _client_certificate(
    subject: x509.Name, public_key: ec.EllipticCurvePublicKey, issuer: Issued, days: int = 365
) -> x509.Certificate:
    """A station (TLS client) certificate for ``subject`` and ``public_key``, signed by ``issuer``."""
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - DAY)
        .not_valid_after(now + days * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
        .sign(issuer.key, hashes.SHA256())
    )


def station_name(station_id: str, organization: str) -> x509.Name:
    """A00.FR.404/405: a station certificate names the CSO (O) and the station (CN)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, station_id),
        ]
    )


def sign_csr(csr_pem: str, issuer: Issued) -> x509.Certificate:
    """A02: the certificate of a station's CSR (its subject and key), signed by ``issuer``. ValueError: not a
    PEM CSR with a valid signature and an EC key."""
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    if not csr.is_signature_valid:
        raise ValueError("the CSR's signature does not verify")
    key = csr.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("the CSR's key is not an EC key")
    return _client_certificate(csr.subject, key, issuer)


def chain_pem(*certificates: x509.Certificate) -> str:
    return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in certificates)


ALGORITHMS: dict[en.HashAlgorithmEnumType, type[hashes.HashAlgorithm]] = {
    en.HashAlgorithmEnumType.SHA256: hashes.SHA256,
    en.HashAlgorithmEnumType.SHA384: hashes.SHA384,
    en.HashAlgorithmEnumType.SHA512: hashes.SHA512,
}


def hash_data(
    certificate: x509.Certificate,
    issuer: x509.Certificate | None = None,
    algorithm: en.HashAlgorithmEnumType = en.HashAlgorithmEnumType.SHA256,
) -> dt.CertificateHashDataType:
    """The certificateHashData of ``certificate``: the hash of its issuer's name (DER) and of its issuer's
    public key bits (as RFC 6960 hashes them), its serial in hex; a root is its own issuer."""
    parent = issuer if issuer is not None else certificate
    return dt.CertificateHashDataType(
        hash_algorithm=algorithm,
        issuer_name_hash=hashes_hex(certificate.issuer.public_bytes(), algorithm),
        issuer_key_hash=hashes_hex(_public_key_bits(parent), algorithm),
        serial_number=format(certificate.serial_number, "x"),
    )


def _public_key_bits(certificate: x509.Certificate) -> bytes:
    """The content of the subjectPublicKey BIT STRING: the point of an EC key, the PKCS#1 DER of an RSA key."""
    key = certificate.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        return key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)


def hashes_hex(data: bytes, algorithm: en.HashAlgorithmEnumType = en.HashAlgorithmEnumType.SHA256) -> str:
    digest = hashes.Hash(ALGORITHMS[algorithm]())
    digest.update(data)
    return digest.finalize().hex()


def same_certificate(a: dt.CertificateHashDataType, b: dt.CertificateHashDataType) -> bool:
    """Hash data compared as M03 allows: case-insensitive hex, serial without leading zeros."""
    return (
        a.issuer_name_hash.lower() == b.issuer_name_hash.lower()
        and a.issuer_key_hash.lower() == b.issuer_key_hash.lower()
        and a.serial_number.lower().lstrip("0") == b.serial_number.lower().lstrip("0")
    )


def sign(image: bytes, signer: Issued) -> str:
    """The base64 ECDSA-SHA256 signature of a firmware image (UpdateFirmware's firmware.signature)."""
    return base64.b64encode(signer.key.sign(image, ec.ECDSA(hashes.SHA256()))).decode()


class TestPki:
    """Made on first use by a case and kept for the run (the station keeps what it installed). With a
    ``directory``, the certificates and keys are written there and read back by later runs, so that a
    station can be given the tool's roots (``csms_root.crt``, ``manufacturer_root.crt``) beforehand."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(
        self, hosts: tuple[str, ...] = ("127.0.0.1", "localhost"), directory: Path | None = None
    ) -> None:
        self.directory = directory
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        get = self._kept
        self.csms_root = get("csms_root", lambda: issue("Conformance CSMS root (old)", ca=True))
        self.csms_server = get("csms_server", lambda: issue(hosts[0], self.csms_root, ca=False, hosts=hosts))
        # self-signed: what M05 installs
        self.csms_root_2 = get("csms_root_2", lambda: issue("Conformance CSMS root 2", ca=True))
        self.csms_root_new = get(
            "csms_root_new", lambda: issue("Conformance CSMS root (new)", self.csms_root, ca=True)
        )
        self.csms_server_new = get(
            "csms_server_new", lambda: issue(hosts[0], self.csms_root_new, ca=False, hosts=hosts)
        )
        self.unknown_root = get("unknown_root", lambda: issue("Conformance unknown root", ca=True))
        self.untrusted_server = get(
            "untrusted_server", lambda: issue(hosts[0], self.unknown_root, ca=False, hosts=hosts)
        )
        # profile 3 and A02: the CA of station certificates, under the CSMS root (a station checks that a chain
        # it is sent ends at its CSMS root)
        self.station_ca = get("station_ca", lambda: issue("Conformance station CA", self.csms_root, ca=True))
        self.manufacturer_root = get(
            "manufacturer_root", lambda: issue("Conformance manufacturer root", ca=True)
        )
        self.firmware_signer = get(
            "firmware_signer",
            lambda: issue(
                "Conformance firmware signing", self.manufacturer_root, ca=False, code_signing=True
            ),
        )
        self.rogue_signer = get(
            "rogue_signer",
            lambda: issue("Conformance rogue signing", self.unknown_root, ca=False, code_signing=True),
        )
        now = datetime.datetime.now(datetime.UTC)
        self.expired_root = get(
            "expired_root", lambda: issue("Conformance expired root", ca=True, not_after=now - DAY)
        )
        # block M, ISO 15118 (and A02's V2G cases): the V2G root with the sub-CA that signs the station's V2G
        # certificates, the MO root
        self.v2g_root = get("v2g_root", lambda: issue("Conformance V2G root", ca=True))
        self.v2g_sub = get("v2g_sub", lambda: issue("Conformance V2G CPO sub-CA", self.v2g_root, ca=True))
        self.mo_root = get("mo_root", lambda: issue("Conformance MO root", ca=True))
        self._directory = tempfile.TemporaryDirectory(prefix="chargeplane-conformance-pki-")

    def _kept(self, name: str, make: Callable[[], Issued]) -> Issued:
        """``name`` from the directory when it is there, else made (and written there)."""
        if self.directory is None:
            return make()
        certificate_file = self.directory / f"{name}.crt"
        key_file = self.directory / f"{name}.key"
        if certificate_file.exists() and key_file.exists():
            key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_file}: not an EC private key")
            return Issued(x509.load_pem_x509_certificate(certificate_file.read_bytes()), key)
        issued = make()
        certificate_file.write_text(issued.pem)
        key_file.write_text(issued.key_pem)
        key_file.chmod(0o600)
        return issued

    def unknown_hash_data(self) -> dt.CertificateHashDataType:
        """Hash data of a certificate the station cannot have (M_22): a random serial under a fresh root."""
        data = hash_data(self.unknown_root.certificate)
        return dt.CertificateHashDataType(
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial_number=secrets.token_hex(8),
        )

    def station_certificate(self, station_id: str, organization: str) -> Issued:
        """A station certificate (profile 3) for ``station_id`` of ``organization``, under the station CA:
        what an installer gives a station (kept in the directory as ``station_certificate``)."""

        def make() -> Issued:
            key = ec.generate_private_key(ec.SECP256R1())
            name = station_name(station_id, organization)
            return Issued(_client_certificate(name, key.public_key(), self.station_ca), key)

        kept = self._kept("station_certificate", make)
        names = kept.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return kept if names and names[0].value == station_id else make()

    def files(self, issued: Issued) -> tuple[Path, Path]:
        """``issued`` as PEM files (certificate, key), for an ssl context."""
        base = Path(self._directory.name) / f"{issued.certificate.serial_number:x}"
        certificate, key = base.with_suffix(".crt"), base.with_suffix(".key")
        if not certificate.exists():
            certificate.write_text(issued.pem)
            key.write_text(issued.key_pem)
            key.chmod(0o600)
        return certificate, key
