"""The derived state of a transaction: how one event folds into its stored row (see the rules below).

A transaction's stored row is a *derived* state: every accepted event is stored (``transaction_events``) and
folded into the row by :func:`merge_event`. Events may arrive in any order (offline queues, retries, E11-E13),
so the fold never lets state go backwards in time:

=================  =================================================================================
field              rule
=================  =================================================================================
status             ``ended`` as soon as an Ended event is stored; never back to ``active`` (except a
                   transaction the CSMS closed as stale, ``closed_reason``, when a later event shows it
                   goes on); ``refused`` when its start was refused (``concurrency.py``): never active
started_at         the Started event's timestamp; before it arrives, the earliest event's timestamp
charging_state     from the event with the latest timestamp that carried one; an Ended event seals it
id_token           the token of the earliest event that carried one (the authorizing token; a later
                   stop token, E07, does not replace it)
meter_start_wh     the Energy.Active.Import.Register reading with the earliest timestamp (1.6: meterStart)
last_register_wh   the register reading with the latest timestamp (ties: the larger value, J02.FR.16)
energy_wh          last_register_wh - meter_start_wh
seq_gaps           the missing seqNo ranges between the lowest and the highest received (E01.FR.07)
=================  =================================================================================

A repeated event (same transaction and seqNo) changes nothing; :func:`seq_seen` tells one apart from the
bookkeeping alone, which is what lets a batch of events be written without reading them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chargeplane.csms.blocks.transactions.concurrency import ACTIVE as ACTIVE
from chargeplane.csms.blocks.transactions.concurrency import REFUSED as REFUSED
from chargeplane.csms.blocks.transactions.repository import Sample, TransactionRecord

ENERGY_REGISTER = "Energy.Active.Import.Register"  # the default measurand (J02)
STARTED, UPDATED, ENDED = "Started", "Updated", "Ended"
FINISHED = "ended"
_UNIT_FACTORS = {None: 1.0, "Wh": 1.0, "kWh": 1000.0}


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


def seq_seen(first: int | None, last: int | None, gaps: list[list[int]], seq_no: int) -> bool:
    """Whether an event with this seqNo is stored already: the bookkeeping of :func:`track_seq` is updated
    with every stored event of the transaction, under the same row lock, so it is exact."""
    if first is None or last is None or not first <= seq_no <= last:
        return False
    return not any(low <= seq_no <= high for low, high in gaps)


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
    tariff_id: str | None = None  # 2.1 transactionInfo.tariffId
    cost_details: dict[str, Any] | None = None  # 2.1 costDetails in wire form (the station's own cost, I12)
    transaction_limit: dict[str, float] | None = (
        None  # 2.1 transactionInfo.transactionLimit (E16, wire names)
    )
    token_info: dict[str, str] | None = None  # the idToken's additionalInfo: type -> additionalIdToken
    evse_sleep: bool | None = None  # 2.1 evseSleep: the EVSE's electronics are off (Q10.FR.04)


def _later(a: tuple[datetime, float], b: tuple[datetime | None, float | None]) -> bool:
    return b[0] is None or b[1] is None or a > (b[0], b[1])


def merge_event(record: TransactionRecord, facts: EventFacts, group_id_token: str | None) -> dict[str, Any]:
    """The column changes one new (not repeated) event makes to its transaction (see the module docstring)."""
    at = facts.timestamp
    first, last, gaps = track_seq(record.first_seq_no, record.last_seq_no, record.seq_gaps, facts.seq_no)
    values: dict[str, Any] = {"last_seq_no": last, "event_count": record.event_count + 1}
    if first != record.first_seq_no:
        values["first_seq_no"] = first
    if gaps != record.seq_gaps:  # unchanged for events in order: no JSON to write
        values["seq_gaps"] = gaps
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
    closed = record.closed_reason is not None and record.status == FINISHED  # by the CSMS, as stale
    # TxResumed says so whatever its time: it is stamped when the station resumed, before the boot that closed it
    resumed = facts.trigger_reason == "TxResumed"
    if (
        closed
        and facts.event_type != ENDED
        and record.ended_at is not None
        and (at > record.ended_at or resumed)
    ):
        # The station shows the transaction goes on (2.1 B13/E17 TxResumed, a boot that was no reboot...).
        values |= {"status": ACTIVE, "ended_at": None, "stop_reason": None, "closed_reason": None}
    if facts.event_type == ENDED:
        values["status"] = FINISHED
        # The station's own end replaces the time the CSMS inferred (closed_reason keeps what it did).
        keep = record.ended_at is not None and not closed
        values["ended_at"] = max(at, record.ended_at) if keep and record.ended_at is not None else at
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
    if facts.transaction_limit:  # E16.FR.01/03: what the station set or confirmed (a limit is never unset)
        values["transaction_limit"] = (record.transaction_limit or {}) | facts.transaction_limit
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
