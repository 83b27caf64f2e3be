"""OCPP side of authorization: Authorize for 1.6, 2.0.1 and 2.1.

2.0.1 and 2.1 share one code path; 1.6 is a thin adapter. A 2.x Authorize with iso15118CertificateHashData
(C07, ISO 15118 Plug & Charge) has the contract chain checked by OCSP (real-time or cached, C07.FR.05, through
the PKI block's :attr:`AuthorizationService.contract_check`) and the answer carries ``certificateStatus``
(C07.FR.13-17). A PEM ``certificate`` without hash data (C07.FR.06) is validated by the PKI block
(:attr:`AuthorizationService.contract_chain_check`: chain to a trusted MO / V2G root, then OCSP of the leaf).
"""

from __future__ import annotations

import msgspec

from chargeplane.csms.blocks.authorization.service import (
    AuthorizationService,
    contract_answer,
    id_tag_info,
    id_token_info,
    with_message,
)
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.pki.hashes import HashData
from chargeplane.transport.connection import OcppConnection

AUTHORIZE = "Authorize"


def register(routers: dict[Version, Router[OcppConnection]], service: AuthorizationService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: AuthorizationService) -> None:
    async def authorize(
        request: v16.messages.AuthorizeRequest, conn: OcppConnection
    ) -> v16.messages.AuthorizeResponse:
        decision = await service.authorize(conn.station_id, request.id_tag, None, context=AUTHORIZE)
        return v16.messages.AuthorizeResponse(id_tag_info=id_tag_info(decision))

    router.register(v16.messages.AuthorizeRequest, authorize)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: AuthorizationService) -> None:
    async def authorize(request: v2x.AuthorizeRequestT, conn: OcppConnection) -> v2x.AuthorizeResponse:
        ns = v2x.dialect_of(request)
        token = request.id_token
        # C01.FR.06 / C09.FR.09: the group comes with the answer; C01.FR.07 / C06.FR.04: always a status.
        decision = await service.authorize(
            conn.station_id, token.id_token, str(token.type), context=AUTHORIZE
        )
        certificate_status: str | None = None
        if request.iso15118_certificate_hash_data or request.certificate:  # C07
            chain = [
                (
                    HashData(str(d.hash_algorithm), d.issuer_name_hash, d.issuer_key_hash, d.serial_number),
                    d.responder_url,
                )
                for d in request.iso15118_certificate_hash_data or []
            ]
            check, chain_check = service.contract_check, service.contract_chain_check
            if chain and check is not None:
                chain_status = await check(chain)
            elif (pem := present(request.certificate)) and chain_check is not None:
                chain_status = await chain_check(pem, token.id_token)
            else:
                chain_status = "CertChainError"
            decision, certificate_status = contract_answer(decision, chain_status)
        extras = await service.authorize_extras(conn.station_id, token.id_token, decision)
        decision = with_message(decision, extras)
        info = id_token_info(decision, ns)
        response = ns.AuthorizeResponse(id_token_info=info)
        if certificate_status is not None:
            response = msgspec.structs.replace(
                response, certificate_status=ns.AuthorizeCertificateStatusEnumType(certificate_status)
            )
        if isinstance(response, v21.messages.AuthorizeResponse):
            if extras.tariff is not None:
                tariff = msgspec.convert(extras.tariff, v21.datatypes.TariffType)
                response = msgspec.structs.replace(response, tariff=tariff)
            if extras.allowed_energy_transfer and decision.status == "Accepted":  # Q01.FR.01
                allowed = [v21.enums.EnergyTransferModeEnumType(m) for m in extras.allowed_energy_transfer]
                response = msgspec.structs.replace(response, allowed_energy_transfer=allowed)
        return response

    register_2x(routers, (v201.messages.AuthorizeRequest, v21.messages.AuthorizeRequest), authorize)
