"""A built-in test V2G PKI: a contract-certificate backend for DEVELOPMENT AND TESTS, never for production.

It answers an EV's ISO 15118-2 CertificateInstallationReq (M01, forwarded by the CSMS with
Get15118EVCertificate) as a mobility operator and a certificate provisioning service would: it decodes the EXI,
checks the OEM provisioning certificate and the request's signature, makes a contract key pair and a contract
certificate from an MO sub-CA (the eMAID is its CN), encrypts the private key for the EV (ECDH with the OEM
provisioning key, the KDF, AES-128-CBC), signs the response's ContractSignatureCertChain,
ContractSignatureEncryptedPrivateKey, DHpublickey and eMAID with an SA provisioning key under the V2G root, and
returns the CertificateInstallationRes as EXI. A request it cannot take (not EXI of ISO 15118-2, a bad
certificate or signature, a V2G root the EV does not trust) is a Failed answer with a reason, never an error.

The certificates come from :class:`Issuers` (the CSMS's own ``mo`` and ``v2g`` CAs, which record them, so the
CA's OCSP responder knows the contract certificate: C07 checks it there). The EXI codec runs in a JVM; its calls
go to a worker thread so the event loop does not wait for them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargeplane.pki.ca import verify_issued_by
from chargeplane.pki.contract import ContractAnswer, ContractRequest
from chargeplane.pki.v2g_exi import (
    MSG_DEF,
    CertificateChain,
    CertificateInstallationReq,
    CertificateInstallationRes,
    CodecUnavailable,
    ExiError,
    RootCertificateId,
    V2gMessage,
    decode_message,
    encode_message,
    signed_elements,
)
from chargeplane.pki.v2g_security import CURVE, encrypt_private_key, sign, signature_problem

log = logging.getLogger(__name__)
_DER = serialization.Encoding.DER

EMAID_PREFIX = "DECPL"  # country DE, provider CPL; then 9 characters of a random instance (ISO 15118-2 eMAID)
ORGANISATION = "Chargeplane test MO"

# statusInfo reasonCodes of a Failed answer (CiString20)
INVALID_EXI = "InvalidExi"
INVALID_CERTIFICATE = "InvalidCertificate"
INVALID_SIGNATURE = "InvalidSignature"
NO_TRUSTED_ROOT = "NoTrustedRoot"
NOT_SUPPORTED = "NotSupported"
NO_CONTRACT = "NoContractCert"
UNAVAILABLE = "ServiceUnavailable"


class IssueError(Exception):
    """The CA an :class:`Issuers` needs cannot issue (none configured, or it failed)."""


class Issuers(Protocol):
    async def contract(self, csr: x509.CertificateSigningRequest, station_id: str) -> list[x509.Certificate]:
        """A contract certificate for ``csr`` from the MO sub-CA: the leaf, then its sub-CA(s)."""
        ...

    async def sa_provisioning(self, csr: x509.CertificateSigningRequest) -> list[x509.Certificate]:
        """An SA provisioning certificate for ``csr``: the leaf, its sub-CA(s), then the V2G root."""
        ...


@dataclass(frozen=True, slots=True)
class _Signer:
    chain: list[x509.Certificate]  # leaf, sub-CA(s), V2G root
    key: ec.EllipticCurvePrivateKey

    def trusted_by(self, ids: Sequence[RootCertificateId]) -> bool:
        """Whether the EV's ListOfRootCertificateIDs names this chain's V2G root: its serial and its name, the
        name's attributes compared in either order and case (EVs write X509IssuerName in more than one way)."""
        root = self.chain[-1]
        name = _name_parts(root.subject.rfc4514_string())
        return any(i.serial_number == root.serial_number and _name_parts(i.issuer_name) == name for i in ids)

    def provisioning_chain(self) -> CertificateChain:
        leaf, *subs = [c.public_bytes(_DER) for c in self.chain[:-1]]
        return CertificateChain(leaf, tuple(subs))


class _Refused(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _name_parts(name: str) -> frozenset[str]:
    """A distinguished name's attributes (``CN=x``), normalised: separators of RFC 4514 or OpenSSL's slashes."""
    parts = name.replace("/", ",").split(",")
    return frozenset(p.strip().casefold().replace(" = ", "=") for p in parts if p.strip())


def _csr(
    common_name: str, organisation: str, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateSigningRequest:
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    return x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())


def new_emaid() -> str:
    """A fresh eMAID without check digit (14 characters): DE, provider CPL, a random 9-character instance."""
    return EMAID_PREFIX + secrets.token_hex(5).upper()[:9]


def _oem_key(
    certificate: x509.Certificate, now: datetime, oem_cas: Sequence[x509.Certificate]
) -> ec.EllipticCurvePublicKey:
    """The OEM provisioning certificate's key, once the certificate is fit: a secp256r1 key, valid ``now``,
    issued by one of ``oem_cas`` when there are any (a development PKI without them takes any OEM)."""
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != CURVE.name:
        raise _Refused(INVALID_CERTIFICATE, "the OEM provisioning certificate's key is not on secp256r1")
    if not certificate.not_valid_before_utc <= now <= certificate.not_valid_after_utc:
        raise _Refused(INVALID_CERTIFICATE, "the OEM provisioning certificate is not valid now")
    if oem_cas and not any(verify_issued_by(certificate, ca) for ca in oem_cas):
        raise _Refused(INVALID_CERTIFICATE, "the OEM provisioning certificate is not from a trusted OEM CA")
    return key


class TestV2gPki:
    """:class:`~chargeplane.pki.contract.ContractCertificateBackend` of the built-in test V2G PKI."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        issuers: Issuers,
        clock: Callable[[], datetime],
        oem_cas: Sequence[x509.Certificate] = (),
        organisation: str = ORGANISATION,
    ) -> None:
        self.issuers = issuers
        self.clock = clock
        self.oem_cas = tuple(oem_cas)
        self.organisation = organisation
        self._signer: _Signer | None = None
        self._signer_lock = asyncio.Lock()

    async def certificate(self, request: ContractRequest) -> ContractAnswer:
        try:
            exi = await self._answer(request)
        except _Refused as refused:
            log.info("%s: test V2G PKI refused the request: %s", request.station_id, refused.detail)
            return ContractAnswer(False, "", reason=refused.reason, detail=refused.detail)
        except CodecUnavailable as error:
            log.warning("test V2G PKI: %s", error)
            return ContractAnswer(False, "", reason=UNAVAILABLE, detail=str(error))
        except ExiError as error:  # our own response did not encode
            log.error("%s: test V2G PKI: %s", request.station_id, error)
            return ContractAnswer(False, "", reason=NO_CONTRACT, detail="the response could not be encoded")
        return ContractAnswer(True, base64.b64encode(exi).decode())

    async def _answer(self, request: ContractRequest) -> bytes:
        if request.schema_version != MSG_DEF:
            raise _Refused(NOT_SUPPORTED, f"only ISO 15118-2 ({MSG_DEF}) is supported")
        try:
            raw = base64.b64decode(request.exi_request, validate=True)
        except binascii.Error:
            raise _Refused(INVALID_EXI, "exiRequest is not base64") from None
        message, body, oem = await asyncio.to_thread(_checked_request, raw, self.clock(), self.oem_cas)
        signer = await self._sa_signer()
        if not signer.trusted_by(body.root_certificate_ids):
            raise _Refused(NO_TRUSTED_ROOT, "the EV trusts no V2G root this PKI signs under")
        contract_key = ec.generate_private_key(CURVE)
        try:
            chain = await self.issuers.contract(
                _csr(new_emaid(), self.organisation, contract_key), request.station_id
            )
        except IssueError as error:
            raise _Refused(NO_CONTRACT, str(error)) from None
        return await asyncio.to_thread(_response, message.session_id, chain, contract_key, oem, signer)

    async def _sa_signer(self) -> _Signer:
        """The SA provisioning certificate and key, made on the first request (then kept)."""
        async with self._signer_lock:
            if self._signer is None:
                key = ec.generate_private_key(CURVE)
                csr = _csr("Chargeplane SA provisioning (test)", self.organisation, key)
                try:
                    chain = await self.issuers.sa_provisioning(csr)
                except IssueError as error:
                    raise _Refused(NO_CONTRACT, str(error)) from None
                self._signer = _Signer(chain, key)
            return self._signer


def _checked_request(
    raw: bytes, now: datetime, oem_cas: Sequence[x509.Certificate]
) -> tuple[V2gMessage, CertificateInstallationReq, ec.EllipticCurvePublicKey]:
    """The decoded request, its body and its OEM provisioning key, once its certificate and signature are checked."""
    try:
        message = decode_message(raw)
    except CodecUnavailable:
        raise
    except ExiError as error:
        raise _Refused(INVALID_EXI, str(error)[:200]) from None
    body = message.body
    if not isinstance(body, CertificateInstallationReq):
        raise _Refused(INVALID_EXI, "not a CertificateInstallationReq")
    try:
        certificate = x509.load_der_x509_certificate(body.oem_provisioning_cert)
    except ValueError:
        raise _Refused(INVALID_CERTIFICATE, "OEMProvisioningCert is not an X.509 certificate") from None
    key = _oem_key(certificate, now, oem_cas)
    problem = signature_problem(message.signature, signed_elements(body), key)
    if problem is not None:
        raise _Refused(INVALID_SIGNATURE, problem)
    return message, body, key


def _response(
    session_id: str,
    chain: list[x509.Certificate],
    contract_key: ec.EllipticCurvePrivateKey,
    oem: ec.EllipticCurvePublicKey,
    signer: _Signer,
) -> bytes:
    """The signed CertificateInstallationRes (EXI) carrying ``chain`` and ``contract_key`` encrypted for ``oem``."""
    dh_public, encrypted = encrypt_private_key(contract_key, oem)
    leaf, *subs = [c.public_bytes(_DER) for c in chain]
    emaid = chain[0].subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert isinstance(emaid, str)
    body = CertificateInstallationRes(
        "OK",
        signer.provisioning_chain(),
        CertificateChain(leaf, tuple(subs), "id1"),
        encrypted,
        dh_public,
        emaid,
    )
    signature = sign(signed_elements(body), signer.key)
    return encode_message(V2gMessage(session_id, body, signature))
