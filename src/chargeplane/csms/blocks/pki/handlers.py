"""OCPP side of the PKI: SignCertificate (1.6 security extension, 2.0.1, 2.1; A02/A03) and GetCertificateStatus
(2.0.1, 2.1; M06). Each request is recorded before it is answered; the CertificateSigned that follows an
accepted CSR is sent by the service's background job, after the answer."""

from __future__ import annotations

from chargeplane.csms.blocks.pki.service import CHARGING_STATION, COMBINED, PkiService
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.pki.contract import ContractAnswer, ContractRequest
from chargeplane.pki.hashes import HashData
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: PkiService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)
    _register_v21(routers[Version.V21], service)


def _register_v21(router: Router[OcppConnection], service: PkiService) -> None:
    async def chain_status(
        request: v21.messages.GetCertificateChainStatusRequest, conn: OcppConnection
    ) -> v21.messages.GetCertificateChainStatusResponse:
        """M07: each certificate checked through OCSP or its CRL (M07.FR.01-08)."""
        answers = []
        for item in request.certificate_status_requests:
            data = item.certificate_hash_data
            hash_data = HashData(
                str(data.hash_algorithm), data.issuer_name_hash, data.issuer_key_hash, data.serial_number
            )
            status, next_update = await service.chain_status(hash_data, str(item.source), list(item.urls))
            answers.append(
                v21.datatypes.CertificateStatusType(
                    certificate_hash_data=data,
                    source=item.source,
                    status=v21.enums.CertificateStatusEnumType(status),
                    next_update=to_wire(next_update),
                )
            )
        return v21.messages.GetCertificateChainStatusResponse(certificate_status=answers)

    router.register(v21.messages.GetCertificateChainStatusRequest, chain_status)


def _register_v16(router: Router[OcppConnection], service: PkiService) -> None:
    async def sign_certificate(
        request: v16.messages.SignCertificateRequest, conn: OcppConnection
    ) -> v16.messages.SignCertificateResponse:
        # The security extension signs the charge point's certificate only (its CSR's CN: the identity).
        status, _ = await service.sign_certificate(conn.station_id, request.csr, CHARGING_STATION, None)
        return v16.messages.SignCertificateResponse(status=v16.enums.GenericStatusEnumType(status))

    router.register(v16.messages.SignCertificateRequest, sign_certificate)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: PkiService) -> None:
    async def sign_certificate(
        request: v2x.SignCertificateRequestT, conn: OcppConnection
    ) -> v2x.SignCertificateResponse:
        ns = v2x.dialect_of(request)
        # no certificateType: one certificate for both connections (the service's COMBINED)
        certificate_type = present(request.certificate_type)
        kind = COMBINED if certificate_type is None else str(certificate_type)
        request_id, root = None, None
        if isinstance(request, v21.messages.SignCertificateRequest):
            request_id = present(request.request_id)
            given = present(request.hash_root_certificate)
            if given is not None:
                root = HashData(
                    str(given.hash_algorithm),
                    given.issuer_name_hash,
                    given.issuer_key_hash,
                    given.serial_number,
                )
        status, reason = await service.sign_certificate(conn.station_id, request.csr, kind, request_id, root)
        if reason is None:
            return ns.SignCertificateResponse(status=ns.GenericStatusEnumType(status))
        info = ns.StatusInfoType(reason_code="InvalidCSR", additional_info=reason[:512])
        return ns.SignCertificateResponse(status=ns.GenericStatusEnumType(status), status_info=info)

    async def get_certificate_status(
        request: v2x.GetCertificateStatusRequestT, conn: OcppConnection
    ) -> v2x.GetCertificateStatusResponse:
        ns = v2x.dialect_of(request)
        data = request.ocsp_request_data
        hash_data = HashData(
            str(data.hash_algorithm), data.issuer_name_hash, data.issuer_key_hash, data.serial_number
        )
        status, result = await service.certificate_status(hash_data, data.responder_url)
        answer = ns.GetCertificateStatusEnumType(status)
        if result is None:
            return ns.GetCertificateStatusResponse(status=answer)
        return ns.GetCertificateStatusResponse(status=answer, ocsp_result=result)

    async def ev_certificate(
        request: v2x.Get15118EVCertificateRequestT, conn: OcppConnection
    ) -> v2x.Get15118EVCertificateResponse:
        ns = v2x.dialect_of(request)
        limit = None
        emaids: tuple[str, ...] = ()
        if isinstance(request, v21.messages.Get15118EVCertificateRequest):
            limit = present(request.maximum_contract_certificate_chains)
            emaids = tuple(present(request.prioritized_emai_ds) or ())
        contract = ContractRequest(
            conn.station_id,
            request.iso15118_schema_version,
            str(request.action),
            request.exi_request,
            limit,
            emaids,
        )
        answer = await service.contract_certificate(contract)
        room = 17000 if isinstance(request, v21.messages.Get15118EVCertificateRequest) else 5600
        if len(answer.exi_response) > room:  # exiResponse's maxLength in each version's schema
            answer = ContractAnswer(False, "", reason="InvalidResponse", detail="the exiResponse is too long")
        status = ns.Iso15118EVCertificateStatusEnumType("Accepted" if answer.accepted else "Failed")
        if answer.accepted:
            if isinstance(request, v21.messages.Get15118EVCertificateRequest) and answer.remaining_chains:
                return v21.messages.Get15118EVCertificateResponse(
                    status=v21.enums.Iso15118EVCertificateStatusEnumType.ACCEPTED,
                    exi_response=answer.exi_response,
                    remaining_contracts=answer.remaining_chains,
                )
            return ns.Get15118EVCertificateResponse(status=status, exi_response=answer.exi_response)
        reason = (answer.reason or "NoContractCert")[:20]  # reasonCode's maxLength
        info = ns.StatusInfoType(reason_code=reason)
        if answer.detail:
            info = ns.StatusInfoType(reason_code=reason, additional_info=answer.detail[:512])
        return ns.Get15118EVCertificateResponse(status=status, exi_response="", status_info=info)

    register_2x(
        routers,
        (v201.messages.SignCertificateRequest, v21.messages.SignCertificateRequest),
        sign_certificate,
    )
    register_2x(
        routers,
        (v201.messages.Get15118EVCertificateRequest, v21.messages.Get15118EVCertificateRequest),
        ev_certificate,
    )
    register_2x(
        routers,
        (v201.messages.GetCertificateStatusRequest, v21.messages.GetCertificateStatusRequest),
        get_certificate_status,
    )
