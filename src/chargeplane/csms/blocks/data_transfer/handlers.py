"""OCPP side of data transfer: incoming DataTransfer for 1.6, 2.0.1 and 2.1 (P02)."""

from __future__ import annotations

import json

from chargeplane.csms.blocks.data_transfer.service import DataTransferService
from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import present, unset_if_none
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: DataTransferService) -> None:
    _register_v16(routers[Version.V16], service)
    _register_v2x(routers, service)


def _register_v16(router: Router[OcppConnection], service: DataTransferService) -> None:
    async def data_transfer(
        request: v16.messages.DataTransferRequest, conn: OcppConnection
    ) -> v16.messages.DataTransferResponse:
        answer = await service.receive(
            conn.station_id, request.vendor_id, present(request.message_id), present(request.data)
        )
        # 1.6 data is a string: other values go as their JSON text
        data = answer.data if answer.data is None or isinstance(answer.data, str) else json.dumps(answer.data)
        return v16.messages.DataTransferResponse(
            status=v16.enums.DataTransferStatus(answer.status), data=unset_if_none(data)
        )

    router.register(v16.messages.DataTransferRequest, data_transfer)


def _register_v2x(routers: dict[Version, Router[OcppConnection]], service: DataTransferService) -> None:
    async def data_transfer(
        request: v2x.DataTransferRequestT, conn: OcppConnection
    ) -> v2x.DataTransferResponse:
        ns = v2x.dialect_of(request)
        answer = await service.receive(
            conn.station_id, request.vendor_id, present(request.message_id), present(request.data)
        )
        return ns.DataTransferResponse(
            status=ns.DataTransferStatusEnumType(answer.status), data=unset_if_none(answer.data)
        )

    register_2x(routers, (v201.messages.DataTransferRequest, v21.messages.DataTransferRequest), data_transfer)
