"""OCPP side of authorization: Authorize for 1.6, 2.0.1 and 2.1.

2.0.1 and 2.1 share one code path; 1.6 is a thin adapter. The ISO 15118 certificate fields of a 2.x
Authorize (C07/C08) are not verified here: the token itself is decided, and ``certificateStatus`` is left
out of the answer.
"""

from __future__ import annotations

import msgspec

from chargeplane.csms.blocks.authorization.service import (
    AuthorizationService,
    id_tag_info,
    id_token_info,
    with_message,
)
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
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
        extras = await service.authorize_extras(conn.station_id, token.id_token, decision)
        decision = with_message(decision, extras)
        if issubclass(ns, v21.Messages) and extras.tariff is not None:
            tariff = msgspec.convert(extras.tariff, v21.datatypes.TariffType)
            return ns.AuthorizeResponse(id_token_info=id_token_info(decision, ns), tariff=tariff)
        return ns.AuthorizeResponse(id_token_info=id_token_info(decision, ns))

    register_2x(routers, (v201.messages.AuthorizeRequest, v21.messages.AuthorizeRequest), authorize)
