"""HTTP routes of battery swapping: the swap events, a station's battery inventory, RequestBatterySwap."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get
from litestar.params import JSONBody, QueryParameter
from litestar.status_codes import HTTP_201_CREATED

from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.battery_swap.repository import SlotRecord, SwapEventRecord, SwapRequestRecord
from chargeplane.csms.blocks.battery_swap.service import BatterySwapService
from chargeplane.csms.blocks.provisioning.api import KnownStation

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
TokenType = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class SwapRequestIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id_token: Token
    token_type: TokenType  # IdTokenType.type, e.g. Central for an app user (S02)


class BatteryOut(msgspec.Struct, rename="camel"):
    evse_id: int
    serial_number: str
    so_c: float = msgspec.field(name="soC")
    so_h: float = msgspec.field(name="soH")
    production_date: str | None = None
    vendor_info: str | None = None


class SwapEventOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    request_id: int
    event_type: str
    id_token: str  # KeyCode tokens as a digest (C04.FR.04)
    token_type: str
    token_status: str
    batteries: list[BatteryOut]
    at: datetime


class SlotOut(msgspec.Struct, rename="camel"):
    evse_id: int
    serial_number: str
    soc: float
    soh: float
    present: bool
    updated_at: datetime


class SwapRequestOut(msgspec.Struct, rename="camel"):
    request_id: int
    station_id: str
    id_token: str
    token_type: str
    status: str
    status_reason: str | None
    created_at: datetime


class StationAnswerOut(msgspec.Struct, rename="camel"):
    status: str
    reason_code: str | None = None
    additional_info: str | None = None


class SwapRequestResult(msgspec.Struct, rename="camel"):
    request: SwapRequestOut
    station_answer: StationAnswerOut


def event_out(record: SwapEventRecord) -> SwapEventOut:
    batteries = msgspec.convert(record.battery_data, list[BatteryOut])
    return SwapEventOut(
        record.id,
        record.station_id,
        record.request_id,
        record.event_type,
        record.id_token,
        record.token_type,
        record.token_status,
        batteries,
        record.at,
    )


def slot_out(record: SlotRecord) -> SlotOut:
    return msgspec.convert(record, SlotOut, from_attributes=True)


def request_out(record: SwapRequestRecord) -> SwapRequestOut:
    return SwapRequestOut(
        record.id,
        record.station_id,
        record.id_token,
        record.token_type,
        record.status,
        record.status_reason,
        record.created_at,
    )


def routes(service: BatterySwapService) -> list[Any]:
    @get(
        "/battery-swaps",
        summary="Battery swap events (BatteryIn / BatteryOut / BatteryOutTimeout), newest first",
    )
    async def list_swaps(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        request_id: Annotated[int | None, QueryParameter(name="requestId")] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[SwapEventOut]:
        """Every station's swap events, or one station's; ``requestId`` gives the events of one swap."""
        found = await service.find(station_id=station_id, request_id=request_id, offset=offset, limit=limit)
        return paged(event_out, found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/batteries",
        summary="The battery last reported in each slot of a swap station",
    )
    async def list_batteries(known_station: KnownStation) -> list[SlotOut]:
        """Per slot (EVSE) the battery its last swap event reported; ``present`` false: it was taken out."""
        return [slot_out(s) for s in await service.inventory(known_station.station_id)]

    @station_call(
        "/stations/{station_id:str}/battery-swaps",
        summary="Ask a swap station to swap for a driver (RequestBatterySwap)",
        status_code=HTTP_201_CREATED,
    )
    async def request_swap(known_station: KnownStation, data: JSONBody[SwapRequestIn]) -> SwapRequestResult:
        """S02: 409 unless the token is accepted (S02.FR.03) and the station speaks 2.1; the stored request's
        id is the requestId of the swap's events."""
        record, answer = await service.request_swap(known_station.station_id, data.id_token, data.token_type)
        return SwapRequestResult(
            request_out(record), StationAnswerOut(answer.status, answer.reason_code, answer.additional_info)
        )

    return [list_swaps, list_batteries, request_swap]
