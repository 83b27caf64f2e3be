"""Transactions and metering: 2.x TransactionEvent (E01-E15, J02), 1.6 Start/StopTransaction and MeterValues
(J01, J03), derived transaction state, and the id-token checks inside transactions (E01.FR.10-12, E02.FR.04).

Theory of operation
-------------------
A transaction's stored row is a *derived* state of its events (the rules are in ``fold.py``). Every accepted
message is committed before the handler returns its response. TransactionEvent and MeterValues writes go
through the batch writers of ``event_writer.py`` (the messages of many stations that arrive together are
written with a few statements per batch and one commit); 1.6 Start/StopTransaction are units of work of their
own (``repository.py``), group-committed with them (see ``storage/group_commit.py``).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from chargeplane.csms.blocks.authorization.service import KEY_CODE, AuthorizationService, TokenDecision
from chargeplane.csms.blocks.availability.service import StatusReport
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.transactions import supported_limits
from chargeplane.csms.blocks.transactions.concurrency import REFUSED, Start, admit, needs_check
from chargeplane.csms.blocks.transactions.event_writer import (
    EventWrite,
    MeterValuesWrite,
    MeterValuesWriter,
    TransactionEventWriter,
)
from chargeplane.csms.blocks.transactions.fold import (
    ACTIVE,
    ENDED,
    FINISHED,
    STARTED,
    EventFacts,
    merge_event,
    register_wh,
)
from chargeplane.csms.blocks.transactions.repository import (
    EVSE_AVAILABLE,
    STATION_REBOOTED,
    Sample,
    Stale,
    TransactionRecord,
    TransactionRepository,
    TransactionUnit,
    close_stale,
)
from chargeplane.csms.blocks.transactions.supported_limits import SupportedLimits
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.versions import Version

log = logging.getLogger(__name__)

_NO_TOKEN_TYPES = frozenset({"NoAuthorization"})


@dataclass(frozen=True, slots=True)
class EventOutcome:
    transaction_key: int
    transaction_id: str
    duplicate: bool
    decision: TokenDecision | None  # what to answer in idTokenInfo / idTagInfo, when a token was presented
    limit: dict[str, float] | None = (
        None  # 2.1 E16.FR.02 / F07.FR.02: transactionLimit to answer (wire names)
    )


@dataclass(frozen=True, slots=True)
class ResponseExtras:
    """What another block adds to a TransactionEventResponse / StopTransaction answer (the tariffs block:
    totalCost, I02.FR.01 / I03.FR.02; updatedPersonalMessage, I06.FR.02)."""

    total_cost: Decimal | None = None
    personal_message: str | None = None
    language: str | None = None
    # 2.1 transactionLimit to answer (the payments block: C17.FR.03 prepaid credit, C23 raised, C24.FR.02)
    transaction_limit: dict[str, float] | None = None


# Told of every transaction event once it is committed (station id, OCPP version, the event, its outcome).
EventListener = Callable[[str, str, EventFacts, EventOutcome], Awaitable[ResponseExtras | None]]


# A transaction that ends this soon after its start without energy (or DeAuthorized) failed right away.
REMOTE_START_GRACE = timedelta(minutes=2)
# How long before the transaction its remote start may have been sent: 1.6 finds it by idTag alone, so only
# just before; 2.x by its remoteStartId, which the station keeps while it waits for the EV.
REMOTE_START_WINDOW = timedelta(minutes=2)
REMOTE_START_WAIT = timedelta(days=1)


def failed_start(state: TransactionRecord, answered: str | None) -> str | None:
    """Why a transaction failed right away (its start's token answered other than Accepted, or it ended at
    once), or None."""
    name = state.transaction_id
    if answered is not None and answered != "Accepted":
        return f"transaction {name}: its token was answered {answered}"
    if state.status != FINISHED or state.ended_at is None:
        return None
    seconds = (state.ended_at - state.started_at).total_seconds()
    if seconds > REMOTE_START_GRACE.total_seconds():
        return None
    if state.stop_reason != "DeAuthorized" and state.energy_wh:
        return None
    energy = state.energy_wh or 0.0
    return f"transaction {name} ended right away: {state.stop_reason} after {seconds:.0f} s, {energy:.0f} Wh"


class TransactionService:
    def __init__(
        self,
        repository: TransactionRepository,
        authorization: AuthorizationService,
        events: EventBus,
        clock: Clock,
        reservation_used: Callable[[str, int], Awaitable[bool]] | None = None,
        commands: CommandService | None = None,
        supported_limits: SupportedLimits | None = None,
    ) -> None:
        self.repository = repository
        self.authorization = authorization
        self.events = events
        self.clock = clock
        self._reservation_used = reservation_used
        self._commands = commands
        self._supported_limits = supported_limits
        self._event_writer = TransactionEventWriter()
        self._meter_values_writer = MeterValuesWriter()
        self._event_listeners: list[EventListener] = []

    def add_event_listener(self, listener: EventListener) -> None:
        """``listener`` is awaited after every committed transaction event; what it returns goes into the answer."""
        self._event_listeners.append(listener)

    async def response_extras(
        self, station_id: str, version: str, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras:
        """The listeners' additions to the answer of one event (the later listener wins a field)."""
        merged = ResponseExtras()
        for listener in self._event_listeners:
            extras = await listener(station_id, version, facts, outcome)
            if extras is not None:
                merged = ResponseExtras(
                    extras.total_cost if extras.total_cost is not None else merged.total_cost,
                    extras.personal_message or merged.personal_message,
                    extras.language or merged.language,
                    extras.transaction_limit or merged.transaction_limit,
                )
        return merged

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
        ConcurrentTx only in the answer to a start over the token's limit (``concurrency.py``)."""
        if decision is None or decision.status != "Accepted":
            return decision
        starts = facts.event_type == STARTED or facts.trigger_reason == "Authorized"
        if starts and decision.master_pass:
            return dataclasses.replace(decision, status="Invalid")
        if facts.event_type == STARTED and busy:
            return dataclasses.replace(decision, status="ConcurrentTx")
        return decision

    @staticmethod
    def _starts_with_token(facts: EventFacts) -> bool:
        return (
            facts.event_type == STARTED and bool(facts.id_token) and facts.token_type not in _NO_TOKEN_TYPES
        )

    def _start_check(self, decision: TokenDecision | None, facts: EventFacts) -> tuple[int | None, bool]:
        """For a start with a token: its limit of transactions at once (None: none), and whether the token
        was refused outright (then the transaction is ``refused`` and never counts as active)."""
        if decision is None or not self._starts_with_token(facts):
            return None, False
        answer = self._answer(decision, facts, busy=False)
        if answer is None or answer.status != "Accepted":
            return None, True
        return self.authorization.concurrency_limit(decision), False

    # -- 2.x TransactionEvent ---------------------------------------------------------------------------

    async def transaction_event(self, station_id: str, version: str, facts: EventFacts) -> EventOutcome:
        decision = await self._authorize(station_id, facts.id_token, facts.token_type, "TransactionEvent")
        if facts.id_token is not None and facts.token_type == KEY_CODE:  # C04.FR.04: a PIN never in clear
            facts = dataclasses.replace(
                facts, id_token=await self.authorization.stored_token(facts.id_token, facts.token_type)
            )
        limit, refuse = self._start_check(decision, facts)
        write = EventWrite(
            station_id,
            version,
            facts,
            group_id_token=decision.group_id_token if decision is not None else None,
            now=self.clock.now(),
            limit=limit,
            refuse=refuse,
        )
        # urgent: a charging session waits for the answer; a storm's boots and presence writes can wait
        written = await self.repository.committer.run_batched(self._event_writer, write, urgent=True)
        self._publish_closed(written.closed)
        self._publish(station_id, written.record, facts, written.changes)
        answer = self._answer(decision, facts, written.busy)
        if written.changes is not None:
            await self._close_reservation(station_id, facts)
            await self._follow_remote_start(station_id, written.record, written.changes, facts, answer)
        to_answer = await self._limit_to_answer(station_id, version, written.record, facts)
        return EventOutcome(
            written.record.id, facts.transaction_id, written.changes is None, answer, to_answer
        )

    async def _limit_to_answer(
        self, station_id: str, version: str, record: TransactionRecord, facts: EventFacts
    ) -> dict[str, float] | None:
        """2.1: the limits the API set, once, in the first answer that can carry them: a remote start's in the
        answer to the event with its remoteStartId (F07.FR.02), a transaction's in the next one (E16.FR.02).
        A failure here is logged and never costs the station its answer (the request stays for the next)."""
        if version != Version.V21.value or facts.event_type == ENDED:
            return None
        limit: dict[str, float] = {}
        try:
            if facts.remote_start_id is not None:
                limit |= (
                    await self.repository.take_remote_start_limit(station_id, facts.remote_start_id) or {}
                )
            if record.limit_request and record.limit_request_at is not None:
                limit |= record.limit_request
                await self.repository.limit_answered(record.id, record.limit_request_at)
        except Exception:
            log.exception("%s: could not read the limits of %s", station_id, facts.transaction_id)
        return limit or None

    async def stored_token(self, id_token: str, token_type: str | None) -> str:
        """How a token is stored with the transactions (a KeyCode only as its digest, C04.FR.04)."""
        return await self.authorization.stored_token(id_token, token_type)

    async def check_limit(self, station_id: str, limit: dict[str, float]) -> None:
        """E16.FR.12: :class:`LimitNotSupported` unless the station reports every limit of ``limit``."""
        if self._supported_limits is not None:
            supported_limits.check(limit, await self._supported_limits(station_id))

    async def request_limit(self, record: TransactionRecord, limit: dict[str, float]) -> None:
        """E16.FR.02 from the API: into the next TransactionEventResponse of an active 2.1 transaction."""
        await self.check_limit(record.station_id, limit)
        await self.repository.request_limit(record.id, limit, self.clock.now())

    async def request_remote_start_limit(
        self, station_id: str, remote_start_id: int, limit: dict[str, float]
    ) -> int | None:
        """F07.FR.01/02 from the API: the key of the transaction it went to, or None (kept for its start)."""
        await self.check_limit(station_id, limit)
        return await self.repository.request_remote_start_limit(
            station_id, remote_start_id, limit, self.clock.now()
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
        if changes is None or not self.events.subscriber_count:
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
        if not self.events.subscriber_count:
            return
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
        limit, refuse = self._start_check(decision, facts)
        now = self.clock.now()

        def write(
            unit: TransactionUnit,
        ) -> tuple[TransactionRecord, dict[str, Any] | None, bool, list[TransactionRecord]]:
            record = unit.find_v16_start(station_id, connector_id, timestamp, id_tag)
            changes, closed = None, []
            if record is None:
                record = unit.create_v16(station_id, {"status": ACTIVE, "started_at": timestamp}, now)
                changes = self._store_event(unit, station_id, record, facts, group, now)
                # Before the ConcurrentTx check: a stale transaction of the same card must not count.
                closed = close_stale(
                    unit.connection, Stale.replaced(station_id, connector_id, timestamp, record.id), now
                )
            if not needs_check(limit, refuse):
                return record, changes, False, closed
            start = Start(record.id, record.status, changes is None, limit, refuse)
            busy, refused = admit(unit.connection, id_tag, [start])
            if changes is not None and record.id in refused:
                changes = changes | {"status": REFUSED}
            return record, changes, busy[0], closed

        record, changes, busy, closed = await self.repository.write(write)
        self._publish_closed(closed)
        assert record.transaction_id is not None
        facts = dataclasses.replace(facts, transaction_id=record.transaction_id)
        self._publish(station_id, record, facts, changes)
        answer = self._answer(decision, facts, busy)
        if changes is not None:
            await self._close_reservation(station_id, facts)
            await self._follow_remote_start(station_id, record, changes, facts, answer)
        return EventOutcome(record.id, record.transaction_id, changes is None, answer)

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
        now = self.clock.now()

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
        if changes is not None:
            await self._follow_remote_start(station_id, record, changes, facts, None)
        return EventOutcome(record.id, facts.transaction_id, changes is None, decision)

    # -- remote starts that failed -------------------------------------------------------------------------

    async def _follow_remote_start(
        self,
        station_id: str,
        record: TransactionRecord,
        changes: dict[str, Any],
        facts: EventFacts,
        answer: TokenDecision | None,
    ) -> None:
        """A remotely started transaction that failed right away is noted against its command (the API had
        reported the command Accepted). 2.x: found by its remoteStartId; 1.6: by its idTag, shortly before."""
        v16 = record.ocpp_version == "1.6"
        remote_start_id = changes.get("remote_start_id", record.remote_start_id)
        if self._commands is None or (remote_start_id is None and not v16):
            return  # before the state is built: most events are of transactions no remote start asked for
        state = dataclasses.replace(record, **changes)
        answered = None
        if answer is not None and facts.event_type == STARTED:  # as the station got it
            answered = answer.v16_status() if v16 else answer.status
        note = failed_start(state, answered)
        if note is None:
            return
        since = state.created_at - (REMOTE_START_WINDOW if v16 else REMOTE_START_WAIT)
        await self._commands.remote_start_failed(
            station_id,
            remote_start_id=state.remote_start_id,
            id_tag=state.id_token if v16 else None,
            since=since,
            note=note,
        )

    # -- stale transactions ---------------------------------------------------------------------------------

    async def close_stale(self, stale: Stale) -> list[TransactionRecord]:
        """Close the active transactions the station showed to be over without ending them; each is published
        as ``transaction.closed`` with its reason."""
        now = self.clock.now()
        closed = await self.repository.write(lambda unit: close_stale(unit.connection, stale, now))
        self._publish_closed(closed)
        return closed

    async def station_rebooted(self, station_id: str, at: datetime) -> None:
        """A rebooted station has none of its transactions left running (they were ended by the reboot; the
        station may still send their Ended events, which then give the real end)."""
        await self.close_stale(Stale(station_id, STATION_REBOOTED, at))

    async def statuses_reported(self, reports: list[StatusReport]) -> None:
        """An EVSE (1.6: a connector) that reports Available has no transaction running on it (from then on:
        a transaction started later is not touched)."""
        for report in reports:
            if report.status == "Available" and report.evse_id > 0:
                stale = Stale(
                    report.station_id,
                    EVSE_AVAILABLE,
                    report.status_at,
                    evse_id=report.evse_id,
                    connector_id=report.connector_id,
                    started_before=report.status_at,
                    inclusive=True,
                )
                await self.close_stale(stale)

    def _publish_closed(self, closed: Sequence[TransactionRecord]) -> None:
        for record in closed:
            data = {
                "id": record.id,
                "transactionId": record.transaction_id,
                "evseId": record.evse_id,
                "connectorId": record.connector_id,
                "closedReason": record.closed_reason,
                "energyWh": record.energy_wh,
            }
            log.info(
                "%s: transaction %s closed: %s",
                record.station_id,
                record.transaction_id,
                record.closed_reason,
            )
            self.events.publish(StationEvent("transaction.closed", record.station_id, data))

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
        write = MeterValuesWrite(station_id, transaction_id, samples, evse_id, connector_id, self.clock.now())
        record = await self.repository.committer.run_batched(self._meter_values_writer, write, urgent=True)
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
