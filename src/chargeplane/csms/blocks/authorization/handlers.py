"""OCPP side of authorization: Authorize for 1.6, 2.0.1 and 2.1.

2.0.1 and 2.1 share one code path; 1.6 is a thin adapter. The ISO 15118 certificate fields of a 2.x
Authorize (C07/C08) are not verified here: the token itself is decided, and ``certificateStatus`` is left
out of the answer.
"""

from __future__ import annotations

from typing import Any

from chargeplane.csms.blocks.authorization.service import AuthorizationService, id_tag_info, id_token_info
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection

AUTHORIZE = "Authorize"


def register(routers: dict[Version, Router[OcppConnection]], service: AuthorizationService) -> None:
    _register_v16(routers[Version.V16], service)
    for version, module in ((Version.V201, v201), (Version.V21, v21)):
        _register_v2x(routers[version], service, module)


def _register_v16(router: Router[OcppConnection], service: AuthorizationService) -> None:
    messages = v16.messages

    async def authorize(
        request: messages.AuthorizeRequest, conn: OcppConnection
    ) -> messages.AuthorizeResponse:
        decision = await service.authorize(conn.station_id, request.id_tag, None, context=AUTHORIZE)
        return messages.AuthorizeResponse(id_tag_info=id_tag_info(decision))

    router.register(messages.AuthorizeRequest, authorize)


def _register_v2x(router: Router[OcppConnection], service: AuthorizationService, module: Any) -> None:
    messages = module.messages

    async def authorize(request: Any, conn: OcppConnection) -> Any:
        token = request.id_token
        # C01.FR.06 / C09.FR.09: the group comes with the answer; C01.FR.07 / C06.FR.04: always a status.
        decision = await service.authorize(
            conn.station_id, token.id_token, str(token.type), context=AUTHORIZE
        )
        return messages.AuthorizeResponse(id_token_info=id_token_info(decision, module))

    router.register(messages.AuthorizeRequest, authorize)
