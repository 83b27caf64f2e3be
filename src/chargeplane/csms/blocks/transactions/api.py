"""HTTP routes of transactions and metering: transactions (list, detail), a station's meter values, and the
2.1 transaction limits (E16 on an active transaction, F07 for a remote start)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import get, post
from litestar.exceptions import ValidationException
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.transactions.queries import TransactionQueries, UnknownTransaction
from chargeplane.csms.blocks.transactions.repository import (
    EventRecord,
    MeterValueRecord,
    TransactionFilter,
    TransactionRecord,
)
from chargeplane.csms.blocks.transactions.service import TransactionService
from chargeplane.csms.errors import Conflict
from chargeplane.ocpp.versions import Version

DETAIL_METER_VALUE_LIMIT = 10_000  # sampled values in one transaction's detail


class TransactionOut(msgspec.Struct, rename="camel"):
    id: int  # the CSMS key (1.6: the transactionId)
    station_id: str
    transaction_id: str | None
    ocpp_version: str
    status: str  # active | ended | refused (its start was refused: never counted as active)
    evse_id: int | None
    connector_id: int | None
    id_token: str | None
    token_type: str | None
    group_id_token: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: float | None  # ended transactions only
    meter_start_wh: float | None
    meter_stop_wh: float | None
    energy_wh: float | None
    charging_state: str | None
    stop_reason: str | None
    # Set when the CSMS closed the transaction because the station showed it was over without ending it:
    # StationRebooted, EvseAvailable or ReplacedOnEvse (also the stopReason until the station says more).
    closed_reason: str | None
    remote_start_id: int | None
    reservation_id: int | None
    first_seq_no: int | None
    last_seq_no: int | None
    missing_seq_nos: list[list[int]]  # inclusive [first, last] ranges not received yet (E01.FR.07)
    started_event_received: bool
    complete: bool  # Started, Ended and every seqNo in between received
    offline: bool  # some event was sent offline
    event_count: int
    updated_at: datetime
    # 2.1 E16: the limits as the station last reported them (maxEnergy Wh, maxCost, maxTime s, maxSoC %), and
    # those set through the API that the station has not been sent yet
    transaction_limit: dict[str, float] | None = None
    limit_request: dict[str, float] | None = None


class LimitIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A TransactionLimitType: at least one of the limits; a limit is changed, never removed (E16.FR.17:
    raise it out of reach instead)."""

    max_energy: float | None = None  # Wh
    max_cost: float | None = None  # in the tariff's currency
    max_time: int | None = None  # s from the start of the transaction (E16.FR.09)
    max_so_c: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = msgspec.field(default=None, name="maxSoC")

    def wire(self) -> dict[str, float]:
        found = {k: v for k, v in msgspec.to_builtins(self).items() if v is not None}
        if not found:
            raise ValidationException("give at least one of maxEnergy, maxCost, maxTime, maxSoC")
        return found


class LimitOut(msgspec.Struct, rename="camel"):
    transaction: (
        int | None
    )  # the transaction the limit goes to; None: kept for the remote start's transaction
    limit: dict[str, float]


class EventOut(msgspec.Struct, rename="camel"):
    seq_no: int
    event_type: str
    trigger_reason: str | None
    timestamp: datetime
    offline: bool
    charging_state: str | None
    id_token: str | None
    stopped_reason: str | None
    meter_value_count: int
    received_at: datetime


class MeterValueOut(msgspec.Struct, rename="camel"):
    timestamp: datetime
    measurand: str
    value: float | None
    unit: str | None
    multiplier: int | None
    phase: str | None
    location: str | None
    context: str | None
    transaction: int | None
    evse_id: int | None
    connector_id: int | None
    signed_data: dict[str, Any] | None


class TransactionDetail(msgspec.Struct, rename="camel"):
    transaction: TransactionOut
    events: list[EventOut]
    meter_values: list[MeterValueOut]
    # what other blocks keep of the transaction, by name (e.g. priorityCharging, 2.1 K21/K22)
    sections: dict[str, Any] = {}


class MeterValuePage(msgspec.Struct, rename="camel"):
    items: list[MeterValueOut]
    offset: int
    limit: int


def transaction_out(record: TransactionRecord) -> TransactionOut:
    ended = record.status == "ended"
    return TransactionOut(
        id=record.id,
        station_id=record.station_id,
        transaction_id=record.transaction_id,
        ocpp_version=record.ocpp_version,
        status=record.status,
        evse_id=record.evse_id,
        connector_id=record.connector_id,
        id_token=record.id_token,
        token_type=record.token_type,
        group_id_token=record.group_id_token,
        started_at=record.started_at,
        ended_at=record.ended_at,
        duration_seconds=(record.ended_at - record.started_at).total_seconds()
        if record.ended_at is not None
        else None,
        meter_start_wh=record.meter_start_wh,
        meter_stop_wh=record.meter_stop_wh,
        energy_wh=record.energy_wh,
        charging_state=record.charging_state,
        stop_reason=record.stop_reason,
        closed_reason=record.closed_reason,
        remote_start_id=record.remote_start_id,
        reservation_id=record.reservation_id,
        first_seq_no=record.first_seq_no,
        last_seq_no=record.last_seq_no,
        missing_seq_nos=record.seq_gaps,
        started_event_received=record.started_seen,
        complete=ended and record.started_seen and not record.seq_gaps,
        offline=record.offline,
        event_count=record.event_count,
        updated_at=record.updated_at,
        transaction_limit=record.transaction_limit,
        limit_request=record.limit_request,
    )


def event_out(record: EventRecord) -> EventOut:
    return EventOut(
        seq_no=record.seq_no,
        event_type=record.event_type,
        trigger_reason=record.trigger_reason,
        timestamp=record.timestamp,
        offline=record.offline,
        charging_state=record.charging_state,
        id_token=record.id_token,
        stopped_reason=record.stopped_reason,
        meter_value_count=record.meter_value_count,
        received_at=record.received_at,
    )


def meter_value_out(record: MeterValueRecord) -> MeterValueOut:
    return MeterValueOut(
        timestamp=record.timestamp,
        measurand=record.measurand,
        value=record.value,
        unit=record.unit,
        multiplier=record.multiplier,
        phase=record.phase,
        location=record.location,
        context=record.context,
        transaction=record.transaction_key,
        evse_id=record.evse_id,
        connector_id=record.connector_id,
        signed_data=record.signed_data,
    )


def _check_range(start: datetime | None, end: datetime | None) -> None:
    for moment in (start, end):
        if moment is not None and moment.tzinfo is None:
            raise ValidationException("times need a time zone (for example 2025-01-01T00:00:00Z)")
    if start is not None and end is not None and end < start:
        raise ValidationException("'to' is before 'from'")


class NotLimitable(Conflict):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)


def routes(queries: TransactionQueries, service: TransactionService) -> list[Any]:
    @get("/transactions", summary="List transactions, newest first")
    async def list_transactions(
        station: FromQuery[str | None] = None,
        status: Annotated[str | None, QueryParameter(pattern=r"\A(active|ended|refused)\Z")] = None,
        id_token: Annotated[str | None, QueryParameter(name="idToken")] = None,
        started_from: Annotated[datetime | None, QueryParameter(name="from")] = None,
        started_to: Annotated[datetime | None, QueryParameter(name="to")] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[TransactionOut]:
        """Transactions of every station or one, by status, token or start time (``from``, ``to``). A KeyCode
        (PIN) token is stored only as a digest: ``idToken`` finds it by its PIN as well."""
        _check_range(started_from, started_to)
        where = TransactionFilter(station, status, id_token, started_from, started_to)
        return paged(transaction_out, await queries.find(where, offset, limit), offset, limit)

    @get_or_404("/transactions/{key:int}", summary="One transaction with its events and meter values")
    async def get_transaction(key: PathId) -> TransactionDetail:
        """The transaction by its CSMS key, its events and its sampled values (at most 10,000)."""
        detail = await queries.detail(key, DETAIL_METER_VALUE_LIMIT)
        record = detail.transaction
        return TransactionDetail(
            transaction_out(record),
            [event_out(e) for e in detail.events],
            [meter_value_out(s) for s in detail.meter_values],
            await queries.sections_of(record.station_id, record.transaction_id),
        )

    @get_or_404("/stations/{station_id:str}/meter-values", summary="A station's sampled values over time")
    async def station_meter_values(
        known_station: KnownStation,
        start: Annotated[datetime | None, QueryParameter(name="from")] = None,
        end: Annotated[datetime | None, QueryParameter(name="to")] = None,
        measurand: Annotated[str | None, QueryParameter(max_length=48)] = None,
        offset: Offset = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=5000)] = 1000,
    ) -> MeterValuePage:
        """Sampled values of the station in and out of transactions, oldest first."""
        _check_range(start, end)
        samples = await queries.station_meter_values(
            known_station.station_id, start=start, end=end, measurand=measurand, offset=offset, limit=limit
        )
        return MeterValuePage([meter_value_out(s) for s in samples], offset, limit)

    @post(
        "/transactions/{key:int}/limit",
        status_code=HTTP_202_ACCEPTED,
        summary="Set a limit on an active 2.1 transaction (E16)",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
        opt=OPERATOR,
    )
    async def set_limit(key: PathId, data: JSONBody[LimitIn]) -> LimitOut:
        """The limit goes once in the next TransactionEventResponse (E16.FR.02); the station confirms what it
        supports with a LimitSet event (then in ``transactionLimit``). 409: ended, not OCPP 2.1, or a limit
        the station does not report in TxCtrlr.SupportedLimits (E16.FR.12)."""
        limit = data.wire()
        record = await queries.repository.get(key)
        if record is None:
            raise UnknownTransaction(key)
        if record.ocpp_version != Version.V21.value:
            raise NotLimitable(f"transaction {key} is OCPP {record.ocpp_version}: limits are 2.1")
        if record.status != "active":
            raise NotLimitable(f"transaction {key} is {record.status}")
        await service.request_limit(record, limit)
        return LimitOut(key, limit)

    @post(
        "/stations/{station_id:str}/remote-starts/{remote_start_id:int}/limit",
        status_code=HTTP_202_ACCEPTED,
        summary="Set the limit of a remote start on a 2.1 station (F07)",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
        opt=OPERATOR,
    )
    async def set_remote_start_limit(
        known_station: KnownStation, remote_start_id: FromPath[int], data: JSONBody[LimitIn]
    ) -> LimitOut:
        """For the transaction of a RequestStartTransaction (its remoteStartId): answered to the event that
        carries the remoteStartId (F07.FR.02), or, if that transaction is active already, to its next event.
        Send it before the remote start so the first answer has it. 409: a limit the station does not report in
        TxCtrlr.SupportedLimits (E16.FR.12)."""
        limit = data.wire()
        key = await service.request_remote_start_limit(known_station.station_id, remote_start_id, limit)
        return LimitOut(key, limit)

    return [list_transactions, get_transaction, station_meter_values, set_limit, set_remote_start_limit]
