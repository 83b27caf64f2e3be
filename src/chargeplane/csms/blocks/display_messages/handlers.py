"""OCPP side of display messages: NotifyDisplayMessages (2.0.1, 2.1), each part stored before it is answered."""

from __future__ import annotations

from typing import Any

import msgspec

from chargeplane.csms.blocks.display_messages.service import DisplayMessageService
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: DisplayMessageService) -> None:
    async def notify_display_messages(
        request: v2x.NotifyDisplayMessagesRequestT, conn: OcppConnection
    ) -> v2x.NotifyDisplayMessagesResponse:
        infos: list[dict[str, Any]] = [msgspec.to_builtins(i) for i in present(request.message_info) or []]
        await service.part(conn.station_id, request.request_id, bool(present(request.tbc)), infos)
        return v2x.dialect_of(request).NotifyDisplayMessagesResponse()

    register_2x(
        routers,
        (v201.messages.NotifyDisplayMessagesRequest, v21.messages.NotifyDisplayMessagesRequest),
        notify_display_messages,
    )
