"""HTTP routes of data transfer: send one to a station (P01), list the log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import JSONBody, QueryParameter

from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import paged, station_call
from chargeplane.csms.blocks.data_transfer.repository import TransferRecord
from chargeplane.csms.blocks.data_transfer.service import DataTransferService
from chargeplane.csms.blocks.provisioning.api import KnownStation


class DataTransferIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    vendor_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    message_id: Annotated[str, msgspec.Meta(max_length=50)] | None = None
    data: Any = None


class DataTransferOut(msgspec.Struct, rename="camel"):
    status: str
    data: Any = None
    reason_code: str | None = None
    additional_info: str | None = None


class TransferOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    direction: str
    vendor_id: str
    message_id: str | None
    data: Any
    status: str
    response_data: Any
    created_at: datetime


def _loads(text: str | None) -> Any:
    return None if text is None else msgspec.json.decode(text)


def _transfer_out(record: TransferRecord) -> TransferOut:
    return TransferOut(
        id=record.id,
        station_id=record.station_id,
        direction=record.direction,
        vendor_id=record.vendor_id,
        message_id=record.message_id,
        data=_loads(record.data),
        status=record.status,
        response_data=_loads(record.response_data),
        created_at=record.created_at,
    )


def routes(service: DataTransferService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/data-transfer",
        summary="Send DataTransfer to a station: the station's answer",
    )
    async def send_data_transfer(
        known_station: KnownStation, data: JSONBody[DataTransferIn]
    ) -> DataTransferOut:
        """Sends DataTransfer (P01) with this vendor id, message id and data; the answer is the station's."""
        answer = await service.send(known_station.station_id, data.vendor_id, data.message_id, data.data)
        return DataTransferOut(answer.status, answer.data, answer.reason_code, answer.additional_info)

    @get("/data-transfers", summary="Data transfers in both directions, newest first")
    async def list_data_transfers(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[TransferOut]:
        """Every DataTransfer received from or sent to stations."""
        return paged(_transfer_out, await service.find(station_id, offset, limit), offset, limit)

    return [send_data_transfer, list_data_transfers]
