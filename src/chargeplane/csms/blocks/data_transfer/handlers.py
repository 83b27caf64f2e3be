"""OCPP side of data transfer: incoming DataTransfer for 1.6, 2.0.1 and 2.1 (P02)."""

from __future__ import annotations

import json
from typing import Any

from chargeplane.csms.blocks.data_transfer.service import DataTransferService
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: DataTransferService) -> None:
    _register_v16(routers[Version.V16], service)
    for version, module in ((Version.V201, v201), (Version.V21, v21)):
        _register_v2x(routers[version], service, module)


def _register_v16(router: Router[OcppConnection], service: DataTransferService) -> None:
    messages = v16.messages

    async def data_transfer(
        request: messages.DataTransferRequest, conn: OcppConnection
    ) -> messages.DataTransferResponse:
        answer = await service.receive(
            conn.station_id, request.vendor_id, present(request.message_id), present(request.data)
        )
        optional: dict[str, Any] = {}
        if answer.data is not None:  # 1.6 data is a string: other values go as their JSON text
            optional["data"] = answer.data if isinstance(answer.data, str) else json.dumps(answer.data)
        return messages.DataTransferResponse(status=v16.enums.DataTransferStatus(answer.status), **optional)

    router.register(messages.DataTransferRequest, data_transfer)


def _register_v2x(router: Router[OcppConnection], service: DataTransferService, module: Any) -> None:
    messages, enums = module.messages, module.enums

    async def data_transfer(request: Any, conn: OcppConnection) -> Any:
        answer = await service.receive(
            conn.station_id, request.vendor_id, present(request.message_id), present(request.data)
        )
        optional: dict[str, Any] = {}
        if answer.data is not None:
            optional["data"] = answer.data
        return messages.DataTransferResponse(
            status=enums.DataTransferStatusEnumType(answer.status), **optional
        )

    router.register(messages.DataTransferRequest, data_transfer)
