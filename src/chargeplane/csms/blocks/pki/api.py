"""HTTP routes of the PKI: the CA's certificates, CRL and OCSP responder (public, as relying parties reach
them), the issued certificates and their revocation, and per station the certificate inventory and the
certificate commands (A02 renewal, M03-M05). Calls to the station answer with the status codes of every
station call (:mod:`chargeplane.csms.api.errors`)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import unquote

import msgspec
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from litestar import Request, Response, get, post
from litestar import delete as delete_route  # "delete" names the DeleteCertificate route below
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from chargeplane.csms.api.app import PUBLIC
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.pki.repository import CertificateRecord, InstalledRecord
from chargeplane.csms.blocks.pki.service import KINDS, REASONS, PkiService, pem_of
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import Invalid, NotFound
from chargeplane.pki.hashes import HashData

KIND_ERRORS = (HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT)
HASH_ALGORITHM = r"\A(SHA256|SHA384|SHA512)\Z"
SIGN_TYPE = r"\A(ChargingStationCertificate|V2GCertificate|V2G20Certificate|CombinedCertificate)\Z"
CA_TYPE = (
    r"\A(V2GRootCertificate|MORootCertificate|CSMSRootCertificate|ManufacturerRootCertificate"
    r"|OEMRootCertificate|CentralSystemRootCertificate|V2GCertificateChain)\Z"
)
REASON = "\\A(" + "|".join(REASONS) + ")\\Z"
HEX = r"\A[0-9a-fA-F]{1,128}\Z"
CRL_TYPE, OCSP_REQUEST, OCSP_RESPONSE = (
    "application/pkix-crl",
    "application/ocsp-request",
    "application/ocsp-response",
)
MAX_OCSP_REQUEST = 10_000  # bytes: one OCSP request with a few certificates is far below


class AuthorityOut(msgspec.Struct, rename="camel"):
    kind: str
    root: str  # PEM
    sub_ca: str  # PEM: the issuer of the certificates
    crl_url: str | None
    ocsp_url: str | None


class CertificateOut(msgspec.Struct, rename="camel"):
    kind: str  # station | v2g: the CA that issued it
    serial: str  # hex
    station_id: str | None  # casefolded identity
    certificate_type: str
    subject: str
    not_before: datetime
    not_after: datetime
    status: str  # issued | revoked
    revoked_at: datetime | None
    revocation_reason: str | None
    source: str  # ocpp (SignCertificate) | cli | test-v2g-pki (the built-in test V2G PKI, M01)
    delivery_status: str | None  # the station's CertificateSigned answer: Accepted | Rejected | failed
    renewal_requested_at: datetime | None
    issued_at: datetime
    pem: str


class ContractRootIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    certificate: Annotated[str, msgspec.Meta(max_length=10_000)]  # PEM, a self-signed MO or V2G root


class ContractRootOut(msgspec.Struct, rename="camel"):
    subject: str
    sha256: str  # fingerprint, hex
    not_after: datetime
    pem: str


def _contract_root(root: x509.Certificate) -> ContractRootOut:
    return ContractRootOut(
        root.subject.rfc4514_string(),
        root.fingerprint(hashes.SHA256()).hex(),
        root.not_valid_after_utc,
        pem_of(root),
    )


class HashDataIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    hash_algorithm: Annotated[str, msgspec.Meta(pattern=HASH_ALGORITHM)]
    issuer_name_hash: Annotated[str, msgspec.Meta(pattern=HEX)]
    issuer_key_hash: Annotated[str, msgspec.Meta(pattern=HEX)]
    serial_number: Annotated[str, msgspec.Meta(pattern=r"\A[0-9a-fA-F]{1,40}\Z")]


class InstalledOut(msgspec.Struct, rename="camel"):
    certificate_type: str | None
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    serial_number: str
    reported_at: datetime
    child_of: str | None  # a sub-CA of a V2GCertificateChain: the serial of the chain's leaf (M03.FR.05)


class SignRequestOut(msgspec.Struct, rename="camel"):
    certificate_type: str
    request_id: int | None
    status: str  # the SignCertificate answer: Accepted | Rejected
    reason: str | None
    outcome: str | None  # the CertificateSigned answer, failed or undelivered
    received_at: datetime
    completed_at: datetime | None


class OperationOut(msgspec.Struct, rename="camel"):
    action: str
    detail: str | None
    status: str | None
    sent_at: datetime


class InventoryOut(msgspec.Struct, rename="camel"):
    """What the CSMS knows of a station's certificates: issued by our CA, reported installed (M03) and the
    latest signing requests and certificate commands."""

    issued: list[CertificateOut]
    installed: list[InstalledOut]
    sign_requests: list[SignRequestOut]
    operations: list[OperationOut]


class RenewIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    certificate_type: Annotated[str, msgspec.Meta(pattern=SIGN_TYPE)] = "ChargingStationCertificate"


class InstallIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    certificate_type: Annotated[str, msgspec.Meta(pattern=CA_TYPE)]
    certificate: Annotated[str, msgspec.Meta(min_length=1, max_length=10000)]  # PEM


class QueryIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    certificate_types: list[Annotated[str, msgspec.Meta(pattern=CA_TYPE)]] | None = None  # None: all


class RevokeIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(pattern=REASON)] = "unspecified"


class StatusOut(msgspec.Struct, rename="camel"):
    status: str  # the station's answer


def _certificate_out(record: CertificateRecord) -> CertificateOut:
    return CertificateOut(
        kind=record.kind,
        serial=record.serial,
        station_id=record.station_key,
        certificate_type=record.certificate_type,
        subject=record.subject,
        not_before=record.not_before,
        not_after=record.not_after,
        status=record.status,
        revoked_at=record.revoked_at,
        revocation_reason=record.revocation_reason,
        source=record.source,
        delivery_status=record.delivery_status,
        renewal_requested_at=record.renewal_requested_at,
        issued_at=record.issued_at,
        pem=record.pem,
    )


def _installed_out(record: InstalledRecord) -> InstalledOut:
    data = record.hash_data
    return InstalledOut(
        record.certificate_type,
        data.hash_algorithm,
        data.issuer_name_hash,
        data.issuer_key_hash,
        data.serial_number,
        record.reported_at,
        record.child_of,
    )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise NotFound(f"no CA kind {kind!r} ({', '.join(KINDS)})")


def _binary() -> OpenAPIMediaType:
    return OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING, format=OpenAPIFormat.BINARY))


@dataclass
class CrlOperation(Operation):
    """Documents the 200 as a DER CRL (errors stay JSON, as everywhere)."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.content = {CRL_TYPE: _binary()}


@dataclass
class OcspOperation(Operation):
    """Documents the 200 as a DER OCSPResponse and, for POST, the body as a DER OCSPRequest."""

    def __post_init__(self) -> None:
        ok = (self.responses or {}).get("200")
        if isinstance(ok, OpenAPIResponse):
            ok.content = {OCSP_RESPONSE: _binary()}
        if self.request_body is None and self.operation_id and "post" in self.operation_id.lower():
            self.request_body = RequestBody(
                content={OCSP_REQUEST: _binary()}, description="a DER OCSPRequest", required=True
            )


def routes(service: PkiService) -> list[Any]:
    @get(
        "/pki/{kind:str}/ca",
        summary="The root and sub-CA certificates of a CA",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
    )
    async def authority(kind: FromPath[str]) -> AuthorityOut:
        """The CA's certificates (PEM) and where its CRL and OCSP responder are; never a private key. 409
        when the directory holds no CA of this kind."""
        _check_kind(kind)
        ca = service.require_authority(kind)
        urls = service.urls(kind)
        return AuthorityOut(kind, pem_of(ca.root), pem_of(ca.sub), urls.crl, urls.ocsp)

    @get(
        "/pki/{kind:str}/crl",
        summary="The CRL of a CA (DER)",
        responses=error_responses(*KIND_ERRORS),
        opt=PUBLIC,
        operation_class=CrlOperation,
    )
    async def crl(kind: FromPath[str]) -> Response[bytes]:
        """The sub-CA's certificate revocation list, signed now, valid for ``revocation_validity`` seconds;
        no bearer token (relying parties fetch it from the certificates' CRL distribution point)."""
        _check_kind(kind)
        return Response(await service.crl(kind), media_type=CRL_TYPE)

    @post(
        "/pki/{kind:str}/ocsp",
        summary="The OCSP responder of a CA (RFC 6960, POST)",
        responses=error_responses(*KIND_ERRORS),
        opt=PUBLIC,
        status_code=200,
        operation_class=OcspOperation,
    )
    async def ocsp_post(kind: FromPath[str], request: Request[Any, Any, Any]) -> Response[bytes]:
        """The body is a DER OCSPRequest (``application/ocsp-request``); the answer a DER OCSPResponse: good or
        revoked for the certificates this CA issued, unknown for a serial it never issued, malformedRequest
        or unauthorized (another issuer) as RFC 6960 says. No bearer token."""
        _check_kind(kind)
        body = await request.body()
        if len(body) > MAX_OCSP_REQUEST:
            raise Invalid("OCSP request too large")
        return Response(await service.ocsp(kind, body), media_type=OCSP_RESPONSE)

    @get(
        "/pki/{kind:str}/ocsp/{encoded:path}",
        summary="The OCSP responder of a CA (RFC 6960, GET)",
        responses=error_responses(*KIND_ERRORS),
        opt=PUBLIC,
        operation_class=OcspOperation,
    )
    async def ocsp_get(kind: FromPath[str], encoded: FromPath[str]) -> Response[bytes]:
        """The base64 (URL-encoded) DER OCSPRequest in the path (RFC 6960 appendix A.1). No bearer token."""
        _check_kind(kind)
        text = unquote(encoded.lstrip("/")).replace("-", "+").replace("_", "/")  # either alphabet
        if len(text) > MAX_OCSP_REQUEST:
            raise Invalid("OCSP request too large")
        try:
            body = base64.b64decode(text + "=" * (-len(text) % 4), validate=False)
        except (binascii.Error, ValueError):
            raise Invalid("the path is not a base64 OCSP request") from None
        return Response(await service.ocsp(kind, body), media_type=OCSP_RESPONSE)

    @get("/pki/certificates", summary="Certificates our CA issued, newest first")
    async def certificates(
        station_id: Annotated[str | None, QueryParameter(name="stationId", max_length=48)] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[CertificateOut]:
        """Every certificate the built-in CA issued (SignCertificate, ``chargeplane ca issue``), of one
        station with ``stationId``."""
        found = await service.repository.certificates(station_id, offset, limit)
        return paged(_certificate_out, found, offset, limit)

    @post(
        "/pki/{kind:str}/certificates/{serial:str}/revoke",
        summary="Revoke a certificate our CA issued",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        status_code=200,
    )
    async def revoke(kind: FromPath[str], serial: FromPath[str], data: JSONBody[RevokeIn]) -> CertificateOut:
        """The certificate is listed in the CRL and answered revoked by the OCSP responder from now on; a
        second revocation keeps the first's time and reason."""
        _check_kind(kind)
        return _certificate_out(await service.revoke(kind, serial, data.reason))

    @get_or_404(
        "/stations/{station_id:str}/certificates",
        summary="A station's certificates: issued by us and installed",
    )
    async def inventory(known_station: KnownStation) -> InventoryOut:
        """The certificates our CA issued to the station (newest first), the certificates it reported
        installed (the last GetInstalledCertificateIds answers, the roots it accepted), its latest signing
        requests and certificate commands."""
        found = await service.inventory(known_station.station_id)
        return InventoryOut(
            [_certificate_out(r) for r in found.issued],
            [_installed_out(r) for r in found.installed],
            [
                SignRequestOut(
                    r.certificate_type,
                    r.request_id,
                    r.status,
                    r.reason,
                    r.outcome,
                    r.received_at,
                    r.completed_at,
                )
                for r in found.sign_requests
            ],
            [OperationOut(r.action, r.detail, r.status, r.sent_at) for r in found.operations],
        )

    @station_call(
        "/stations/{station_id:str}/certificates/renew", summary="Ask the station for a new certificate (A02)"
    )
    async def renew(known_station: KnownStation, data: JSONBody[RenewIn]) -> StatusOut:
        """TriggerMessage SignChargingStationCertificate / SignV2GCertificate (2.x) or ExtendedTriggerMessage
        SignChargePointCertificate (1.6); the station then sends a CSR, which the CA signs."""
        return StatusOut(await service.trigger(known_station.station_id, data.certificate_type))

    @station_call(
        "/stations/{station_id:str}/certificates/install",
        summary="Install a CA certificate on the station (M05)",
        also=(HTTP_400_BAD_REQUEST,),
    )
    async def install(known_station: KnownStation, data: JSONBody[InstallIn]) -> StatusOut:
        """InstallCertificate; the 1.6 types are CentralSystemRootCertificate and ManufacturerRootCertificate.
        An accepted self-signed root enters the inventory."""
        return StatusOut(
            await service.install(known_station.station_id, data.certificate_type, data.certificate)
        )

    @station_call(
        "/stations/{station_id:str}/certificates/query",
        summary="Ask the station which CA certificates it holds (M03)",
    )
    async def query(known_station: KnownStation, data: JSONBody[QueryIn]) -> StatusOut:
        """GetInstalledCertificateIds for the types given (all when none); the answer replaces the inventory
        rows of those types. 1.6 asks one type per request: both in turn when none is given."""
        return StatusOut(await service.query_installed(known_station.station_id, data.certificate_types))

    @station_call(
        "/stations/{station_id:str}/certificates/delete", summary="Delete a certificate on the station (M04)"
    )
    async def delete(known_station: KnownStation, data: JSONBody[HashDataIn]) -> StatusOut:
        """DeleteCertificate with the hash data (as the station reported it, M04.FR.07); an accepted delete
        leaves the inventory."""
        hash_data = HashData(
            data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash, data.serial_number
        )
        return StatusOut(await service.delete(known_station.station_id, hash_data))

    @get("/pki/contract-roots", summary="The roots trusted for contract certificate chains (C07)")
    async def contract_roots() -> list[ContractRootOut]:
        """The MO and V2G roots a contract chain sent in Authorize (C07.FR.06) may end at: those added here
        and the roots of the CSMS's own mo and v2g CAs."""
        return [_contract_root(root) for root in service.contract_roots()]

    @post(
        "/pki/contract-roots",
        summary="Trust an MO or V2G root for contract certificate chains (C07)",
        responses=error_responses(HTTP_400_BAD_REQUEST),
    )
    async def add_contract_root(data: JSONBody[ContractRootIn]) -> ContractRootOut:
        """A self-signed CA certificate (PEM); adding one already trusted changes nothing."""
        return _contract_root(service.add_contract_root(data.certificate))

    @delete_route(
        "/pki/contract-roots/{sha256:str}",
        summary="Stop trusting an added contract root (C07)",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
    )
    async def remove_contract_root(sha256: FromPath[str]) -> None:
        """The root with this SHA-256 fingerprint (as listed) is no longer trusted for contract chains; a
        root of the CSMS's own mo or v2g CA cannot be removed here (409)."""
        service.remove_contract_root(sha256)

    return [
        contract_roots,
        add_contract_root,
        remove_contract_root,
        authority,
        crl,
        ocsp_post,
        ocsp_get,
        certificates,
        revoke,
        inventory,
        renew,
        install,
        query,
        delete,
    ]
