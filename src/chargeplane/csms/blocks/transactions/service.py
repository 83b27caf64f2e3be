"""Transactions and metering: 2.x TransactionEvent (E01-E15, J02), 1.6 Start/StopTransaction and MeterValues
(J01, J03), derived transaction state, and the id-token checks inside transactions (E01.FR.10-12, E02.FR.04).

Theory of operation
-------------------
A transaction's stored row is a *derived* state: every accepted event is stored (``transaction_events``) and
folded into the row by :func:`merge_event`. Events may arrive in any order (offline queues, retries, E11-E13),
so the fold never lets state go backwards in time:

=================  =================================================================================
field              rule
=================  =================================================================================
status             ``ended`` as soon as an Ended event is stored; never back to ``active``
started_at         the Started event's timestamp; before it arrives, the earliest event's timestamp
charging_state     from the event with the latest timestamp that carried one; an Ended event seals it
id_token           the token of the earliest event that carried one (the authorizing token; a later
                   stop token, E07, does not replace it)
meter_start_wh     the Energy.Active.Import.Register reading with the earliest timestamp (1.6: meterStart)
last_register_wh   the register reading with the latest timestamp (ties: the larger value, J02.FR.16)
energy_wh          last_register_wh - meter_start_wh
seq_gaps           the missing seqNo ranges between the lowest and the highest received (E01.FR.07)
=================  =================================================================================

A repeated event (same transaction and seqNo) is acknowledged and changes nothing. Every accepted message is
committed before the handler returns its response: its writes are one unit of work, group-committed with the
units of other stations' messages that arrive at the same time (see ``storage/group_commit.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from chargeplane.csms.blocks.authorization.service import AuthorizationService, TokenDecision
from chargeplane.csms.blocks.transactions.repository import (
    Sample,
    TransactionRecord,
    TransactionRepository,
    TransactionUnit,
)
from chargeplane.csms.bus.events import EventBus, StationEvent

log = logging.getLogger(__name__)

ENERGY_REGISTER = "Energy.Active.Import.Register"  # the default measurand (J02)
STARTED, UPDATED, ENDED = "Started", "Updated", "Ended"
ACTIVE, FINISHED = "active", "ended"
_UNIT_FACTORS = {None: 1.0, "Wh": 1.0, "kWh": 1000.0}
_NO_TOKEN_TYPES = frozenset({"NoAuthorization"})


def utc_now() -> datetime:
    return datetime.now(UTC)


def register_wh(sample: Sample) -> float | None:
    """The energy register value of a sample in Wh, if it is the total imported energy at the outlet."""
    if sample.measurand != ENERGY_REGISTER or sample.value is None or sample.phase is not None:
        return None
    if sample.location not in (None, "Outlet"):
        return None
    factor = _UNIT_FACTORS.get(sample.unit)
    if factor is None:
        return None
    return sample.value * factor * 10.0 ** (sample.multiplier or 0)


def track_seq(
    first: int | None, last: int | None, gaps: list[list[int]], seq_no: int
) -> tuple[int, int, list[list[int]]]:
    """seqNo bookkeeping (E01.FR.07): the lowest and highest seqNo and the missing [first, last] ranges."""
    if first is None or last is None:
        return seq_no, seq_no, []
    if seq_no > last:
        return first, seq_no, gaps + ([[last + 1, seq_no - 1]] if seq_no > last + 1 else [])
    if seq_no < first:
        return seq_no, last, ([[seq_no + 1, first - 1]] if seq_no < first - 1 else []) + gaps
    remaining: list[list[int]] = []
    for low, high in gaps:
        if low <= seq_no <= high:
            if low < seq_no:
                remaining.append([low, seq_no - 1])
            if seq_no < high:
                remaining.append([seq_no + 1, high])
        else:
            remaining.append([low, high])
    return first, last, remaining


@dataclass(frozen=True, slots=True)
class EventFacts:
    """One transaction event, version-neutral (2.x TransactionEvent; 1.6 Start/Stop map onto it)."""

    transaction_id: str
    event_type: str
    timestamp: datetime
    seq_no: int
    trigger_reason: str | None = None
    offline: bool = False
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    token_type: str | None = None
    charging_state: str | None = None
    stopped_reason: str | None = None
    remote_start_id: int | None = None
    reservation_id: int | None = None
    samples: list[Sample] = field(default_factory=list)
    meter_start_wh: float | None = None  # 1.6 meterStart
    meter_stop_wh: float | None = None  # 1.6 meterStop


def _later(a: tuple[datetime, float], b: tuple[datetime | None, float | None]) -> bool:
    return b[0] is None or b[1] is None or a > (b[0], b[1])


def merge_event(record: TransactionRecord, facts: EventFacts, group_id_token: str | None) -> dict[str, Any]:
    """The column changes one new (not repeated) event makes to its transaction (see the module docstring)."""
    at = facts.timestamp
    first, last, gaps = track_seq(record.first_seq_no, record.last_seq_no, record.seq_gaps, facts.seq_no)
    values: dict[str, Any] = {
        "first_seq_no": first,
        "last_seq_no": last,
        "seq_gaps": gaps,
        "event_count": record.event_count + 1,
    }
    if facts.offline:
        values["offline"] = True
    if facts.event_type == STARTED:
        values["started_seen"] = True
        values["started_at"] = at
    elif not record.started_seen and at < record.started_at:
        values["started_at"] = at
    state_at = record.charging_state_at
    if facts.charging_state is not None and (state_at is None or at >= state_at):
        values["charging_state"] = facts.charging_state
        values["charging_state_at"] = state_at = at
    if facts.event_type == ENDED:
        values["status"] = FINISHED
        values["ended_at"] = at if record.ended_at is None else max(at, record.ended_at)
        values["stop_reason"] = facts.stopped_reason or "Local"  # E06: an absent stoppedReason means Local
        if state_at is None or at > state_at:
            values["charging_state_at"] = at  # older events can no longer change the final state
    if facts.evse_id is not None and record.evse_id is None:
        values["evse_id"] = facts.evse_id
    if facts.connector_id is not None and record.connector_id is None:
        values["connector_id"] = facts.connector_id
    if facts.id_token is not None and (record.id_token_at is None or at < record.id_token_at):
        values |= {
            "id_token": facts.id_token,
            "token_type": facts.token_type,
            "group_id_token": group_id_token,
            "id_token_at": at,
        }
    if facts.remote_start_id is not None and record.remote_start_id is None:
        values["remote_start_id"] = facts.remote_start_id
    if facts.reservation_id is not None and record.reservation_id is None:
        values["reservation_id"] = facts.reservation_id
    # Energy.
    readings = [(s.timestamp, wh) for s in facts.samples if (wh := register_wh(s)) is not None]
    if facts.meter_start_wh is not None:
        readings.append((at, facts.meter_start_wh))
    stop: tuple[datetime, float] | None = None
    if facts.meter_stop_wh is not None:
        stop = (at, facts.meter_stop_wh)
    elif facts.event_type == ENDED and readings:
        stop = max(readings)
    if stop is not None:
        readings.append(stop)
        values["meter_stop_wh"] = stop[1]
    start_wh, start_at = record.meter_start_wh, record.meter_start_at
    last_wh, last_at = record.last_register_wh, record.last_register_at
    if readings:
        earliest, latest = min(readings), max(readings)
        if facts.meter_start_wh is not None:
            earliest = (at, facts.meter_start_wh)  # 1.6: meterStart is the start value by definition
        if start_at is None or start_wh is None or earliest < (start_at, start_wh):
            start_at, start_wh = earliest
            values |= {"meter_start_wh": start_wh, "meter_start_at": start_at}
        if _later(latest, (last_at, last_wh)):
            last_at, last_wh = latest
            values |= {"last_register_wh": last_wh, "last_register_at": last_at}
        if start_wh is not None and last_wh is not None:
            values["energy_wh"] = max(0.0, last_wh - start_wh)
    return values


def merge_readings(record: TransactionRecord, samples: list[Sample]) -> dict[str, Any]:
    """The energy changes of meter values linked to a transaction outside its events (1.6 MeterValues)."""
    readings = [(s.timestamp, wh) for s in samples if (wh := register_wh(s)) is not None]
    if not readings:
        return {}
    values: dict[str, Any] = {}
    latest = max(readings)
    last_wh = record.last_register_wh
    if _later(latest, (record.last_register_at, record.last_register_wh)):
        last_wh = latest[1]
        values |= {"last_register_wh": latest[1], "last_register_at": latest[0]}
    start_wh = record.meter_start_wh
    if start_wh is None:
        earliest = min(readings)
        start_wh = earliest[1]
        values |= {"meter_start_wh": earliest[1], "meter_start_at": earliest[0]}
    if values and last_wh is not None:
        values["energy_wh"] = max(0.0, last_wh - start_wh)
    return values


@dataclass(frozen=True, slots=True)
class EventOutcome:
    transaction_key: int
    transaction_id: str
    duplicate: bool
    decision: TokenDecision | None  # what to answer in idTokenInfo / idTagInfo, when a token was presented


class TransactionService:
    def __init__(
        self,
        repository: TransactionRepository,
        authorization: AuthorizationService,
        events: EventBus,
        reservation_used: Callable[[str, int], Awaitable[bool]] | None = None,
    ) -> None:
        self.repository = repository
        self.authorization = authorization
        self.events = events
        self._reservation_used = reservation_used

    async def _close_reservation(self, station_id: str, facts: EventFacts) -> None:
        """H03.FR.09 / H01.FR.15: a transaction that names a reservation uses it up. After the commit of
        the event; a failure here is logged and never costs the station its answer."""
        if facts.reservation_id is None or self._reservation_used is None:
            return
        try:
            await self._reservation_used(station_id, facts.reservation_id)
        except Exception:
            log.exception("%s: could not mark reservation %s used", station_id, facts.reservation_id)

    async def _authorize(
        self, station_id: str, id_token: str | None, token_type: str | None, context: str
    ) -> TokenDecision | None:
        """E01.FR.10-12, E02.FR.04, E05.FR.01 (1.6: re-check the idTag): validate every presented token.

        A failing check must not keep the station from getting its answer (the message is still stored):
        the token is then answered Invalid, since the CSMS could not confirm it."""
        if id_token is None:
            return None
        try:
            return await self.authorization.authorize(station_id, id_token, token_type, context=context)
        except Exception:
            log.exception("%s: could not check id token in %s", station_id, context)
            return TokenDecision(status="Invalid")

    @staticmethod
    def _answer(decision: TokenDecision | None, facts: EventFacts, busy: bool) -> TokenDecision | None:
        """The token status to answer: C16.FR.03 master-pass tokens may not start a transaction (Invalid);
        ConcurrentTx only when the token starts a transaction while it has another active one."""
        if decision is None or decision.status != "Accepted":
            return decision
        starts = facts.event_type == STARTED or facts.trigger_reason == "Authorized"
        if starts and decision.master_pass:
            return dataclasses.replace(decision, status="Invalid")
        if facts.event_type == STARTED and busy:
            return dataclasses.replace(decision, status="ConcurrentTx")
        return decision

    def _busy(self, unit: TransactionUnit, facts: EventFacts, key: int) -> bool:
        if facts.event_type != STARTED or not facts.id_token or facts.token_type in _NO_TOKEN_TYPES:
            return False
        return unit.token_busy_elsewhere(facts.id_token, key)

    # -- 2.x TransactionEvent ---------------------------------------------------------------------------

    async def transaction_event(self, station_id: str, version: str, facts: EventFacts) -> EventOutcome:
        decision = await self._authorize(station_id, facts.id_token, facts.token_type, "TransactionEvent")
        group = decision.group_id_token if decision is not None else None
        now = utc_now()

        def write(
            unit: TransactionUnit,
        ) -> tuple[TransactionRecord, dict[str, Any] | None, bool]:
            record = unit.get_or_create(
                station_id, facts.transaction_id, version=version, started_at=facts.timestamp, now=now
            )
            stored = self._store_event(unit, station_id, record, facts, group, now)
            return record, stored, self._busy(unit, facts, record.id)

        record, stored, busy = await self.repository.write(write)
        self._publish(station_id, record, facts, stored)
        if stored is not None:
            await self._close_reservation(station_id, facts)
        return EventOutcome(
            record.id, facts.transaction_id, stored is None, self._answer(decision, facts, busy)
        )

    def _store_event(
        self,
        unit: TransactionUnit,
        station_id: str,
        record: TransactionRecord,
        facts: EventFacts,
        group: str | None,
        now: datetime,
    ) -> dict[str, Any] | None:
        """Store the event and fold it in; the changes made, or None for a repeated event."""
        added = unit.add_event(
            record.id,
            seq_no=facts.seq_no,
            event_type=facts.event_type,
            trigger_reason=facts.trigger_reason,
            timestamp=facts.timestamp,
            offline=facts.offline,
            charging_state=facts.charging_state,
            id_token=facts.id_token,
            stopped_reason=facts.stopped_reason,
            meter_value_count=len(facts.samples),
            now=now,
        )
        if not added:
            log.info("%s: repeated event %s of %s", station_id, facts.seq_no, facts.transaction_id)
            return None
        changes = merge_event(record, facts, group)
        unit.update(record.id, changes | {"updated_at": now})
        evse_id = facts.evse_id if facts.evse_id is not None else record.evse_id
        connector_id = facts.connector_id if facts.connector_id is not None else record.connector_id
        unit.add_samples(station_id, record.id, facts.samples, evse_id=evse_id, connector_id=connector_id)
        return changes

    def _publish(
        self, station_id: str, record: TransactionRecord, facts: EventFacts, changes: dict[str, Any] | None
    ) -> None:
        if changes is None:
            return
        state = dataclasses.replace(record, **changes)
        kind = {STARTED: "transaction.started", ENDED: "transaction.ended"}.get(
            facts.event_type, "transaction.updated"
        )
        data: dict[str, Any] = {
            "id": record.id,
            "transactionId": facts.transaction_id,
            "eventType": facts.event_type,
            "seqNo": facts.seq_no,
            "status": state.status,
            "evseId": state.evse_id,
            "connectorId": state.connector_id,
            "chargingState": state.charging_state,
            "energyWh": state.energy_wh,
        }
        if facts.trigger_reason is not None:
            data["triggerReason"] = facts.trigger_reason
        if facts.event_type == ENDED:
            data["stopReason"] = state.stop_reason
        self.events.publish(StationEvent(kind, station_id, data))
        if facts.samples:
            self._publish_meter_values(station_id, record.id, state.evse_id, state.connector_id, facts, state)

    def _publish_meter_values(
        self,
        station_id: str,
        key: int | None,
        evse_id: int | None,
        connector_id: int | None,
        facts: EventFacts | None,
        state: TransactionRecord | None,
        samples: list[Sample] | None = None,
    ) -> None:
        chosen = facts.samples if facts is not None else samples or []
        data: dict[str, Any] = {
            "transaction": key,
            "transactionId": state.transaction_id if state is not None else None,
            "evseId": evse_id,
            "connectorId": connector_id,
            "samples": len(chosen),
            "energyWh": state.energy_wh if state is not None else None,
        }
        registers = [wh for s in chosen if (wh := register_wh(s)) is not None]
        if registers:
            data["registerWh"] = registers[-1]
        self.events.publish(StationEvent("meter_values", station_id, data))

    # -- 1.6 ----------------------------------------------------------------------------------------------

    async def start_v16(
        self,
        station_id: str,
        *,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: datetime,
        reservation_id: int | None,
    ) -> EventOutcome:
        """1.6 StartTransaction: the CSMS assigns the transactionId (its key); a repeated request gets the same."""
        facts = EventFacts(
            transaction_id="",
            event_type=STARTED,
            timestamp=timestamp,
            seq_no=0,
            connector_id=connector_id,
            id_token=id_tag,
            reservation_id=reservation_id,
            meter_start_wh=float(meter_start),
        )
        decision = await self._authorize(station_id, id_tag, None, "StartTransaction")
        group = decision.group_id_token if decision is not None else None
        now = utc_now()

        def write(
            unit: TransactionUnit,
        ) -> tuple[TransactionRecord, dict[str, Any] | None, bool]:
            record = unit.find_v16_start(station_id, connector_id, timestamp, id_tag)
            changes = None
            if record is None:
                record = unit.create_v16(station_id, {"status": ACTIVE, "started_at": timestamp}, now)
                changes = self._store_event(unit, station_id, record, facts, group, now)
            return record, changes, self._busy(unit, facts, record.id)

        record, changes, busy = await self.repository.write(write)
        assert record.transaction_id is not None
        facts = dataclasses.replace(facts, transaction_id=record.transaction_id)
        self._publish(station_id, record, facts, changes)
        if changes is not None:
            await self._close_reservation(station_id, facts)
        return EventOutcome(
            record.id, record.transaction_id, changes is None, self._answer(decision, facts, busy)
        )

    async def stop_v16(
        self,
        station_id: str,
        *,
        transaction_id: int,
        meter_stop: int,
        timestamp: datetime,
        id_tag: str | None,
        reason: str | None,
        samples: list[Sample],
    ) -> EventOutcome:
        """1.6 StopTransaction: never refused; an unknown transactionId is recorded as a transaction of its own."""
        facts = EventFacts(
            transaction_id=str(transaction_id),
            event_type=ENDED,
            timestamp=timestamp,
            seq_no=1,
            id_token=id_tag,
            stopped_reason=reason,
            meter_stop_wh=float(meter_stop),
            samples=samples,
        )
        decision = await self._authorize(station_id, id_tag, None, "StopTransaction")
        now = utc_now()

        def write(unit: TransactionUnit) -> tuple[TransactionRecord, dict[str, Any] | None]:
            record = unit.get_or_create(
                station_id, facts.transaction_id, version="1.6", started_at=timestamp, now=now
            )
            # The stop token is not the authorizing one (E07): keep the start token.
            stop_facts = dataclasses.replace(facts, id_token=None) if record.id_token else facts
            return record, self._store_event(unit, station_id, record, stop_facts, None, now)

        record, changes = await self.repository.write(write)
        if record.event_count == 0:
            log.warning("%s: StopTransaction for unknown transaction %s", station_id, transaction_id)
        self._publish(station_id, record, facts, changes)
        return EventOutcome(record.id, facts.transaction_id, changes is None, decision)

    async def meter_values(
        self,
        station_id: str,
        samples: list[Sample],
        *,
        transaction_id: str | None = None,
        evse_id: int | None = None,
        connector_id: int | None = None,
    ) -> None:
        """J01 / 1.6 MeterValues: stored per sampled value, linked to the transaction when one is named."""
        now = utc_now()

        def write(unit: TransactionUnit) -> TransactionRecord | None:
            record = None
            if transaction_id is not None:
                record = unit.find(station_id, transaction_id)
            if record is not None:
                changes = merge_readings(record, samples)
                unit.update(record.id, changes | {"updated_at": now})
                record = dataclasses.replace(record, **changes)
            unit.add_samples(
                station_id,
                record.id if record is not None else None,
                samples,
                evse_id=evse_id,
                connector_id=connector_id,
            )
            return record

        record = await self.repository.write(write)
        if transaction_id is not None and record is None:
            log.warning("%s: meter values for unknown transaction %s", station_id, transaction_id)
        self._publish_meter_values(
            station_id,
            record.id if record is not None else None,
            evse_id,
            connector_id,
            None,
            record,
            samples,
        )
