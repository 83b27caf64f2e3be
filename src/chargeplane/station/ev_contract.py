"""A simulated Plug & Charge EV's side of ISO 15118-2 certificate installation (M01): its OEM provisioning
certificate and key, the signed CertificateInstallationReq (EXI) it sends, and the checks and decryption of the
CertificateInstallationRes it gets back, after which it holds a contract certificate and its key (C07).

The EXI and the message security are :mod:`chargeplane.pki.v2g_exi` / :mod:`chargeplane.pki.v2g_security`
(EXIficient in a JVM: the first call starts it, seconds)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargeplane.pki.ca import verify_issued_by
from chargeplane.pki.v2g_exi import (
    CertificateInstallationReq,
    CertificateInstallationRes,
    ExiError,
    RootCertificateId,
    V2gMessage,
    decode_message,
    encode_message,
    signed_elements,
)
from chargeplane.pki.v2g_security import (
    CURVE,
    KeyDecryptionError,
    decrypt_private_key,
    sign,
    signature_problem,
)

PCID = "DECPLSIMEV00000001"  # the provisioning certificate's CN: an 18-character PCID


class ContractRefused(Exception):
    """The CertificateInstallationRes is not one the EV takes (the reason says why)."""


@dataclass(frozen=True, slots=True)
class InstalledContract:
    emaid: str
    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]  # the contract certificate, then its sub-CA(s)

    def pem(self) -> str:
        return "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in self.chain)


def _certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
    now: datetime,
) -> x509.Certificate:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signing_key = issuer if issuer is not None else (subject, key)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
        .sign(signing_key, hashes.SHA256())
    )


@dataclass(frozen=True, slots=True)
class EvProvisioning:
    """The EV's OEM provisioning certificate and key, and the V2G roots it trusts (the SA provisioning chain of
    a response must end at one of them)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    v2g_roots: tuple[x509.Certificate, ...]
    oem_ca: x509.Certificate | None = None  # who issued its provisioning certificate (for a PKI that checks)
    session_id: str = "00000000000000C1"

    @classmethod
    def generate(cls, v2g_roots: tuple[x509.Certificate, ...], now: datetime) -> EvProvisioning:
        """A simulated EV of its own OEM: an OEM CA and a provisioning certificate (CN the :data:`PCID`)."""
        ca_key, key = ec.generate_private_key(CURVE), ec.generate_private_key(CURVE)
        oem_ca = _certificate("Chargeplane simulated OEM CA", ca_key, None, now)
        certificate = _certificate(PCID, key, (oem_ca.subject, ca_key), now)
        return cls(certificate, key, v2g_roots, oem_ca)

    def request(self) -> bytes:
        """The signed CertificateInstallationReq (a V2G_Message, EXI) naming the V2G roots the EV trusts."""
        roots = tuple(RootCertificateId(r.subject.rfc4514_string(), r.serial_number) for r in self.v2g_roots)
        body = CertificateInstallationReq(
            "id1", self.certificate.public_bytes(serialization.Encoding.DER), roots
        )
        return encode_message(V2gMessage(self.session_id, body, sign(signed_elements(body), self.key)))

    def install(self, exi_response: bytes, now: datetime) -> InstalledContract:
        """The contract of a CertificateInstallationRes, once checked: the SA provisioning chain up to a V2G
        root the EV trusts, the SA signature over the signed elements, the contract chain and eMAID, the
        decrypted key matching the contract certificate. :class:`ContractRefused` otherwise."""
        try:
            message = decode_message(exi_response)
        except ExiError as error:
            raise ContractRefused(f"not a CertificateInstallationRes: {error}") from None
        body = message.body
        if not isinstance(body, CertificateInstallationRes):
            raise ContractRefused("not a CertificateInstallationRes")
        if not body.response_code.startswith("OK"):
            raise ContractRefused(f"ResponseCode {body.response_code}")
        sa_chain = _chain(body.sa_provisioning_chain.certificate, body.sa_provisioning_chain.sub_certificates)
        _check_chain(sa_chain, now, "SA provisioning")
        if not any(verify_issued_by(sa_chain[-1], root) for root in self.v2g_roots):
            raise ContractRefused("the SA provisioning chain does not end at a V2G root the EV trusts")
        sa_key = sa_chain[0].public_key()
        if not isinstance(sa_key, ec.EllipticCurvePublicKey):
            raise ContractRefused("the SA provisioning key is not an EC key")
        problem = signature_problem(message.signature, signed_elements(body), sa_key)
        if problem is not None:
            raise ContractRefused(f"SA signature: {problem}")
        contract = _chain(body.contract_chain.certificate, body.contract_chain.sub_certificates)
        _check_chain(contract, now, "contract")
        names = contract[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        if not names or names[0].value != body.emaid:
            raise ContractRefused("the contract certificate's CN is not the eMAID")
        try:
            key = decrypt_private_key(body.encrypted_private_key, body.dh_public_key, self.key)
        except KeyDecryptionError as error:
            raise ContractRefused(str(error)) from None
        if _spki(key.public_key()) != _spki(contract[0].public_key()):
            raise ContractRefused("the decrypted key does not belong to the contract certificate")
        return InstalledContract(body.emaid, key, tuple(contract))


def _spki(key: object) -> bytes:
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _chain(leaf: bytes, subs: tuple[bytes, ...]) -> list[x509.Certificate]:
    try:
        return [x509.load_der_x509_certificate(c) for c in (leaf, *subs)]
    except ValueError:
        raise ContractRefused("a certificate of the response is not X.509 DER") from None


def _check_chain(chain: list[x509.Certificate], now: datetime, what: str) -> None:
    for certificate, issuer in itertools.pairwise(chain):
        if not verify_issued_by(certificate, issuer):
            raise ContractRefused(f"the {what} chain does not verify")
    for certificate in chain:
        if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
            raise ContractRefused(f"a certificate of the {what} chain is not valid now")
