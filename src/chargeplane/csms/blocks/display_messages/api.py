"""HTTP routes of display messages: set, query and clear a station's messages (O01-O06), the messages it
holds, the requests with the station's answers and reports."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.params import JSONBody

from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.display_messages.repository import HeldMessage, RequestRecord
from chargeplane.csms.blocks.display_messages.service import DisplayMessageService, Query
from chargeplane.csms.blocks.provisioning.api import KnownStation

Priority = Annotated[str, msgspec.Meta(pattern=r"\A(AlwaysFront|InFront|NormalCycle)\Z")]
State = Annotated[str, msgspec.Meta(pattern=r"\A(Charging|Faulted|Idle|Unavailable|Suspended|Discharging)\Z")]


class ContentIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    format: Annotated[str, msgspec.Meta(pattern=r"\A(ASCII|HTML|URI|UTF8|QRCODE)\Z")]
    content: Annotated[str, msgspec.Meta(max_length=1024)]
    language: Annotated[str, msgspec.Meta(max_length=8)] | None = None


class MessageIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A MessageInfo (the station's version checks it once more: 2.0.1 has no messageExtra, no QRCODE)."""

    priority: Priority
    message: ContentIn
    id: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)] | None = None  # None: the next free id
    state: State | None = None
    start_date_time: datetime | None = None
    end_date_time: datetime | None = None
    transaction_id: Annotated[str, msgspec.Meta(max_length=36)] | None = None
    message_extra: Annotated[list[ContentIn], msgspec.Meta(min_length=1, max_length=4)] | None = None


class QueryIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    ids: Annotated[list[Annotated[int, msgspec.Meta(ge=0)]], msgspec.Meta(min_length=1)] | None = None
    priority: Priority | None = None
    state: State | None = None


class HeldOut(msgspec.Struct, rename="camel"):
    message_id: int
    priority: str
    state: str | None
    start_date_time: str | None
    end_date_time: str | None
    transaction_id: str | None
    message: dict[str, Any]  # the MessageInfo in wire form
    status: str  # Accepted (set by us) | Reported (in a station's report)
    request_id: int | None
    updated_at: datetime


class RequestOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    action: str
    message_id: int | None
    request_id: int | None
    request: dict[str, Any]
    status: str | None  # the station's answer, or the failure of the call
    parts: int
    complete: bool
    created_at: datetime
    answered_at: datetime | None
    messages: list[dict[str, Any]]


def _unset_left_out(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unset_left_out(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_unset_left_out(v) for v in value]
    return value


def wire_info(data: MessageIn) -> dict[str, Any]:
    """The body as a MessageInfo in wire form: unset fields left out, times in RFC 3339."""
    info: dict[str, Any] = _unset_left_out(msgspec.to_builtins(data))
    return info


def _held_out(held: HeldMessage) -> HeldOut:
    return HeldOut(
        held.message_id,
        held.priority,
        held.state,
        held.start_date_time,
        held.end_date_time,
        held.transaction_id,
        held.info,
        held.status,
        held.request_id,
        held.updated_at,
    )


def _request_out(record: RequestRecord) -> RequestOut:
    return RequestOut(
        record.id,
        record.station_id,
        record.action,
        record.message_id,
        record.request_id,
        record.request,
        record.status,
        record.parts,
        record.complete,
        record.created_at,
        record.answered_at,
        list(record.messages),
    )


def routes(service: DisplayMessageService) -> list[Any]:
    @station_call(
        "/stations/{station_id:str}/display-messages",
        summary="Set (or replace) a display message on a station (O01, O02, O06 SetDisplayMessage)",
    )
    async def set_display_message(known_station: KnownStation, data: JSONBody[MessageIn]) -> RequestOut:
        """Sends SetDisplayMessage; the answer holds the station's status. Without ``id`` the next free id
        of the station is used; an existing id replaces that message. 422 for a 1.6 station (no display
        messages) and for a message the station's version cannot carry."""
        record = await service.set_message(known_station.station_id, wire_info(data))
        return _request_out(record)

    @get_or_404(
        "/stations/{station_id:str}/display-messages",
        summary="The display messages a station holds, as far as the CSMS knows",
    )
    async def list_display_messages(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[HeldOut]:
        """Accepted messages we set, and those the station's last report named (POST .../query to refresh)."""
        return paged(_held_out, await service.held(known_station.station_id, offset, limit), offset, limit)

    @station_call(
        "/stations/{station_id:str}/display-messages/query",
        summary="Ask a station which display messages it holds (O03, O04 GetDisplayMessages)",
    )
    async def query_display_messages(known_station: KnownStation, data: JSONBody[QueryIn]) -> RequestOut:
        """Sends GetDisplayMessages with the given filters (none: all). The station's report follows in
        NotifyDisplayMessages parts: GET the request (``id``) until ``complete``."""
        record = await service.get_messages(
            known_station.station_id, Query(data.ids, data.priority, data.state)
        )
        return _request_out(record)

    @station_call(
        "/stations/{station_id:str}/display-messages/{message_id:int}",
        summary="Clear a display message on a station (O05 ClearDisplayMessage)",
        method="DELETE",
    )
    async def clear_display_message(known_station: KnownStation, message_id: PathId) -> RequestOut:
        """Sends ClearDisplayMessage; ``status`` is Accepted or Unknown (no such message on the station)."""
        record = await service.clear_message(known_station.station_id, message_id)
        return _request_out(record)

    @get_or_404(
        "/stations/{station_id:str}/display-messages/requests",
        summary="A station's display-message requests, newest first",
    )
    async def list_display_message_requests(
        known_station: KnownStation, offset: Offset = 0, limit: Limit = 100
    ) -> Page[RequestOut]:
        """Every Set/Get/ClearDisplayMessage sent, with the station's answer (reports: GET one request)."""
        found = await service.requests(known_station.station_id, offset, limit)
        return paged(_request_out, found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/display-messages/requests/{request_id:int}",
        summary="One display-message request with the station's report",
    )
    async def one_display_message_request(known_station: KnownStation, request_id: PathId) -> RequestOut:
        """The answer and, for GetDisplayMessages, the reported messages in the order of their parts."""
        return _request_out(await service.request(known_station.station_id, request_id))

    return [
        set_display_message,
        list_display_messages,
        query_display_messages,
        clear_display_message,
        list_display_message_requests,
        one_display_message_request,
    ]
