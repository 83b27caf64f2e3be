"""Tariffs and cost on the CSMS side (2.0.1 I01-I06; 2.1 I01-I12 from the CSMS's end).

The operator keeps tariffs (2.1 ``TariffType`` structures, used for 2.0.1 stations too: there the CSMS does the
pricing) and assigns them to id tokens or groups; one may be the default. A transaction gets its tariff at its
first event (the token's, else its group's, else the default; a token that arrives later replaces the
default): from then on every event's energy readings and charging state are kept and priced with the shared
engine (``chargeplane.cost``). The driver sees:

* I01: the tariff text in the Authorize answer's personalMessage, when the station can show it (I01.FR.02:
  its inventory reports TariffCostCtrlr or DisplayMessageCtrlr available; setting ``tariff_text``); a 2.1
  station doing local cost calculation also gets the driver's own tariff (I08);
* I02: the running cost in a CostUpdated every ``cost_updated_interval`` seconds and, when
  ``running_cost_in_response``, in the answer to every TransactionEvent Updated;
* I03: the final cost in the answer to the TransactionEvent Ended (I03.FR.04: 0.00 for a free transaction);
* I06: the new tariff text in updatedPersonalMessage when the transaction's tariff changed.

2.1 local cost calculation (I07-I12): the operator sends SetDefaultTariff, GetTariffs, ClearTariffs and
ChangeTransactionTariff through the API; a changed tariff applies to the CSMS's own calculation from the
moment the station accepted it (I11.FR.08). The costDetails a 2.1 station reports are kept and its total
compared with the CSMS's: a difference beyond ``mismatch_tolerance`` is recorded on the receipt and published
(``tariff.cost_mismatch``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from chargeplane.cost.engine import cost
from chargeplane.cost.model import Breakdown, TariffSpan, UnsupportedCondition
from chargeplane.cost.samples import Reading, meter_samples
from chargeplane.cost.wire import cost_details, reported_total, tariff_from_wire
from chargeplane.csms.blocks.authorization.service import AuthorizeExtras, TokenDecision
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.blocks.tariffs.repository import (
    ACTIVE,
    ENDED,
    TariffRecord,
    TariffRepository,
    cost_changes,
    opening_values,
    station_cost_changes,
)
from chargeplane.csms.blocks.tariffs.repository import (
    CostRecord as CostRecord,  # re-exported: a receipt's record, for other packages
)
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings, TariffText
from chargeplane.csms.blocks.transactions.fold import EventFacts, register_wh
from chargeplane.csms.blocks.transactions.service import EventOutcome, ResponseExtras
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, Invalid, NotFound
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

V16 = "1.6"
_ANY_TARIFF_TTL = 5.0
CHARGING = "Charging"
# I01.FR.02: what a station reports when it can show a tariff text
_CAN_SHOW = (
    "TariffCostCtrlr/Available[Tariff]:Actual",
    "TariffCostCtrlr/Enabled[Tariff]:Actual",
    "TariffCostCtrlr/Available:Actual",
    "DisplayMessageCtrlr/Available:Actual",
    "DisplayMessageCtrlr/Enabled:Actual",
)
_LOCAL_COST = "TariffCostCtrlr/Enabled[Tariff]:Actual"  # 2.1: the station calculates the cost itself


class UnknownTariff(NotFound):
    def __init__(self, tariff_id: str) -> None:
        super().__init__(f"no tariff {tariff_id}")


class TariffExists(Conflict):
    def __init__(self, tariff_id: str) -> None:
        super().__init__(f"tariff {tariff_id} exists already")


class NoCost(NotFound):
    def __init__(self, key: int) -> None:
        super().__init__(f"transaction {key} has no tariff, so no cost")


@dataclass(frozen=True, slots=True)
class TariffInput:
    tariff: dict[str, Any]  # 2.1 TariffType, wire form
    is_default: bool = False
    id_tokens: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Receipt:
    """A transaction's cost as the API shows it."""

    record: CostRecord
    spans: list[dict[str, Any]]


def check_tariff(tariff: dict[str, Any]) -> v21.datatypes.TariffType:
    """The wire tariff, checked against the schema and the engine (400 with the reason otherwise)."""
    try:
        wire = msgspec.convert(tariff, v21.datatypes.TariffType)
        tariff_from_wire(wire)
    except UnsupportedCondition as error:
        raise Invalid(f"the cost engine does not evaluate the condition {error}") from error
    except (msgspec.ValidationError, ValueError) as error:
        raise Invalid(f"invalid tariff: {error}") from error
    return wire


def tariff_text(tariff: dict[str, Any], language: str | None) -> str:
    """The tariff's description in ``language`` (else its first), or a short text made from its prices."""
    descriptions = tariff.get("description") or []
    for entry in descriptions:
        if language and entry.get("language") == language:
            return str(entry["content"])
    if descriptions:
        return str(descriptions[0]["content"])
    currency = tariff.get("currency", "")
    parts: list[str] = []
    for key, unit in (("energy", "kWh"), ("chargingTime", "min charging"), ("idleTime", "min idle")):
        prices = (tariff.get(key) or {}).get("prices") or []
        if prices:
            amount = prices[0].get("priceKwh", prices[0].get("priceMinute"))
            parts.append(f"{amount} {currency}/{unit}")
    fixed = (tariff.get("fixedFee") or {}).get("prices") or []
    if fixed:
        parts.append(f"{fixed[0]['priceFixed']} {currency} per session")
    return ", ".join(parts) or f"tariff {tariff.get('tariffId')}"


def _spans(record: CostRecord) -> list[TariffSpan]:
    spans = record.tariff.get("spans", [])
    return [
        TariffSpan(
            from_wire(s["from"]), tariff_from_wire(msgspec.convert(s["tariff"], v21.datatypes.TariffType))
        )
        for s in spans
    ]


def breakdown_json(breakdown: Breakdown) -> dict[str, Any]:
    built: dict[str, Any] = msgspec.to_builtins(cost_details(breakdown, with_periods=True))
    return built


class TariffService:
    def __init__(
        self,
        repository: TariffRepository,
        settings: TariffsSettings,
        commands: CommandService,
        device_model: DeviceModelService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.commands = commands
        self.device_model = device_model
        self.events = events
        self.clock = clock
        self.tz: tzinfo = UTC if settings.time_zone == "UTC" else ZoneInfo(settings.time_zone)
        self.tolerance = Decimal(settings.mismatch_tolerance)
        self._any_tariff: tuple[float, bool] | None = None  # (monotonic time, whether any tariff exists)
        self._any_tariff_read = asyncio.Lock()

    async def _anything_to_price(self) -> bool:
        """Whether any tariff exists or any ongoing transaction has one (read at most every few seconds: it
        spares each event of a CSMS without tariffs its look-ups; this node's own changes count at once)."""
        known = self._any_tariff
        if known is not None and time.monotonic() - known[0] <= _ANY_TARIFF_TTL:
            return known[1]
        # One read for all the events that find the answer out of date together: under load hundreds of them
        # (every station's next event) did each read it while the first read was on its way.
        async with self._any_tariff_read:
            known = self._any_tariff
            now = time.monotonic()
            if known is None or now - known[0] > _ANY_TARIFF_TTL:
                known = self._any_tariff = (now, await self.repository.anything_to_price())
            return known[1]

    # -- the operator's tariffs ------------------------------------------------------------------------------

    async def create(self, data: TariffInput) -> TariffRecord:
        wire = check_tariff(data.tariff)
        saved = await self.repository.save(
            wire.tariff_id,
            data.tariff,
            wire.currency,
            data.is_default,
            list(data.id_tokens),
            list(data.groups),
            self.clock.now(),
            create=True,
        )
        self._any_tariff = None
        if not saved:
            raise TariffExists(wire.tariff_id)
        return await self.get(wire.tariff_id)

    async def replace(self, tariff_id: str, data: TariffInput) -> TariffRecord:
        wire = check_tariff(data.tariff)
        if wire.tariff_id != tariff_id:
            raise Invalid(f"the body's tariffId {wire.tariff_id} is not {tariff_id}")
        saved = await self.repository.save(
            tariff_id,
            data.tariff,
            wire.currency,
            data.is_default,
            list(data.id_tokens),
            list(data.groups),
            self.clock.now(),
            create=False,
        )
        if not saved:
            raise UnknownTariff(tariff_id)
        return await self.get(tariff_id)

    async def get(self, tariff_id: str) -> TariffRecord:
        record = await self.repository.tariff(tariff_id)
        if record is None:
            raise UnknownTariff(tariff_id)
        return record

    async def delete(self, tariff_id: str) -> None:
        if not await self.repository.delete(tariff_id):
            raise UnknownTariff(tariff_id)

    async def all(self, offset: int, limit: int) -> tuple[list[TariffRecord], int]:
        return await self.repository.tariffs(offset, limit)

    # -- I01 / I08: the Authorize answer ---------------------------------------------------------------------

    async def _reports(self, station_id: str, keys: Sequence[str]) -> bool:
        values = await self.device_model.values(station_id, list(keys))
        return any((value or "").strip().lower() == "true" for value, _ in values.values())

    async def on_authorize(
        self, station_id: str, id_token: str, decision: TokenDecision
    ) -> AuthorizeExtras | None:
        if decision.status != "Accepted" or self.settings.tariff_text is TariffText.NEVER:
            return None
        tariff = await self.repository.applicable(id_token, decision.group_id_token)
        if tariff is None:
            return None
        if self.settings.tariff_text is TariffText.AUTO and not await self._reports(station_id, _CAN_SHOW):
            return None  # I01.FR.02
        text = tariff_text(tariff.tariff, decision.language1)
        driver_specific = not tariff.is_default
        local = driver_specific and await self._reports(station_id, (_LOCAL_COST,))
        return AuthorizeExtras(personal_message=text, language=None, tariff=tariff.tariff if local else None)

    # -- transaction events ----------------------------------------------------------------------------------

    async def on_event(
        self, station_id: str, version: str, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras | None:
        if version == V16:
            return None  # 1.6 carries no cost
        key = outcome.transaction_key
        if not await self._anything_to_price():
            return None  # no tariffs and no transaction with one: no cost
        record = await self.repository.cost(key)
        now = self.clock.now()
        group = outcome.decision.group_id_token if outcome.decision is not None else None
        opening: dict[str, Any] | None = None
        changes: dict[str, Any] = {}
        new_text: str | None = None
        if record is None:
            # a 2.1 station names the tariff it applies (I12); else the token's, its group's or the default
            named = await self.repository.tariff(facts.tariff_id) if facts.tariff_id else None
            tariff = named or await self.repository.applicable(facts.id_token, group)
            if tariff is None:
                return None  # no tariff: the cost is not known (I03.FR.02 does not apply)
            opening = opening_values(station_id, facts.transaction_id, version, tariff, facts.id_token)
            opening["tariff"] = msgspec.json.encode(
                {"spans": [{"from": to_wire(facts.timestamp), "tariff": tariff.tariff}]}
            ).decode()
        elif record.id_token is None and facts.id_token is not None and record.status == ACTIVE:
            tariff = await self.repository.applicable(facts.id_token, group)
            if tariff is not None and tariff.tariff_id != record.tariff_id:
                # the driver's tariff replaces the default one for the whole transaction (it was not known)
                start = record.tariff["spans"][0]["from"]
                changes["tariff"] = msgspec.json.encode(
                    {"spans": [{"from": start, "tariff": tariff.tariff}]}
                ).decode()
                changes["tariff_id"] = tariff.tariff_id
                new_text = tariff_text(tariff.tariff, None)  # I06.FR.02
            changes["id_token"] = facts.id_token
        elif record.status == ACTIVE and facts.trigger_reason == "TariffChanged" and facts.tariff_id:
            spans = record.tariff["spans"]
            if spans[-1]["tariff"].get("tariffId") == facts.tariff_id:  # I11.FR.07: applied from this event
                spans[-1]["from"] = to_wire(facts.timestamp)
                changes["tariff"] = msgspec.json.encode({"spans": spans}).decode()
        if outcome.duplicate:
            return self._extras(record, facts) if record is not None else None
        samples = self._samples(facts)
        await self.repository.record_event(key, opening, samples, changes, now)
        current = await self.repository.cost(key)
        assert current is not None
        ended = facts.event_type == "Ended"
        breakdown = await self._calculate(current, until=None)
        update = cost_changes(breakdown_json(breakdown), breakdown.total.excl_tax, breakdown.total.incl_tax)
        if ended:
            update["status"] = ENDED
        if facts.cost_details is not None:
            update |= station_cost_changes(
                facts.cost_details, self._mismatch(facts.cost_details, breakdown, ended)
            )
        await self.repository.update_cost(key, update, now)
        current = await self.repository.cost(key)
        assert current is not None
        if ended:
            self.events.publish(
                StationEvent(
                    "tariff.cost",
                    station_id,
                    {
                        "transactionId": facts.transaction_id,
                        "currency": breakdown.currency,
                        "total": str(breakdown.total.incl_tax),
                    },
                )
            )
        if current.mismatch and ended:
            self.events.publish(
                StationEvent(
                    "tariff.cost_mismatch",
                    station_id,
                    {"transactionId": facts.transaction_id, "mismatch": current.mismatch},
                )
            )
        extras = self._extras(current, facts)
        if new_text is not None:
            return ResponseExtras(extras.total_cost if extras else None, new_text)
        return extras

    def _extras(self, record: CostRecord, facts: EventFacts) -> ResponseExtras | None:
        if facts.event_type == "Ended" or (
            facts.event_type == "Updated" and self.settings.running_cost_in_response
        ):
            return ResponseExtras(total_cost=record.total_incl_tax)  # I03.FR.02 / I02.FR.01
        return None

    def _mismatch(self, details: dict[str, Any], ours: Breakdown, ended: bool) -> str | None:
        """Why the station's costDetails disagree with the CSMS's calculation (only a final one is compared:
        a running cost is taken at the station's own moment)."""
        try:
            reported = msgspec.convert(details, v21.datatypes.CostDetailsType)
        except msgspec.ValidationError as error:
            return f"unreadable costDetails: {error}"
        if reported.failure_to_calculate is True:
            return f"the station failed to calculate: {reported.failure_reason or 'no reason'}"
        if not ended:
            return None
        if reported.total_cost.currency != ours.currency:
            return f"currency {reported.total_cost.currency}, the tariff's is {ours.currency}"
        excl, incl = reported_total(reported)
        for name, theirs, mine in (
            ("exclTax", excl, ours.total.excl_tax),
            ("inclTax", incl, ours.total.incl_tax),
        ):
            if theirs is not None and abs(theirs - mine) > self.tolerance:
                return f"total {name} {theirs}, the CSMS calculated {mine}"
        return None

    @staticmethod
    def _samples(facts: EventFacts) -> list[Reading]:
        charging = None if facts.charging_state is None else facts.charging_state == CHARGING
        readings: dict[datetime, float] = {}
        for sample in facts.samples:
            wh = register_wh(sample)
            if wh is not None:
                readings[sample.timestamp] = wh
        rows = [Reading(at, wh, None) for at, wh in sorted(readings.items())]
        at_event = [r for r in rows if r.at == facts.timestamp]
        if at_event:
            rows[rows.index(at_event[0])] = Reading(facts.timestamp, at_event[0].energy_wh, charging)
        else:
            rows.append(Reading(facts.timestamp, None, charging))
            rows.sort(key=lambda r: r.at)
        return rows

    async def _calculate(self, record: CostRecord, until: datetime | None) -> Breakdown:
        rows = await self.repository.samples(record.transaction_key)
        return cost(_spans(record), meter_samples(rows, until), tz=self.tz)

    # -- I02: CostUpdated ------------------------------------------------------------------------------------

    async def tick(self, now: datetime) -> None:
        """One pass: a CostUpdated with the running cost to each ongoing transaction due for one."""
        interval = self.settings.cost_updated_interval
        if interval <= 0:
            return
        for record in await self.repository.active_costs():
            if record.last_sent_at is not None and (now - record.last_sent_at).total_seconds() < interval:
                continue
            breakdown = await self._calculate(record, until=now)
            total = breakdown.total.incl_tax
            payload = {"totalCost": float(total), "transactionId": record.transaction_id}
            try:
                await self.commands.send_action(
                    record.station_id, "CostUpdated", msgspec.json.encode(payload)
                )
            except (
                CallFailed,
                CallTimeout,
                ConnectionLost,
                StationOffline,
                InvalidCommand,
                NotFound,
            ) as error:
                log.debug("CostUpdated to %s not sent: %s", record.station_id, error)
                continue
            await self.repository.update_cost(
                record.transaction_key, {"last_sent_cost": str(total), "last_sent_at": now}, now
            )

    # -- receipts --------------------------------------------------------------------------------------------

    async def receipt(self, transaction_key: int) -> Receipt:
        record = await self.repository.cost(transaction_key)
        if record is None:
            raise NoCost(transaction_key)
        return Receipt(record, list(record.tariff.get("spans", [])))

    # -- 2.1 local cost calculation: commands ----------------------------------------------------------------

    async def _send(self, station_id: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        sent = await self.commands.send_action(station_id, action, msgspec.json.encode(payload))
        answer: dict[str, Any] = msgspec.to_builtins(sent.response)
        return answer

    async def set_default(self, station_id: str, tariff_id: str, evse_id: int) -> dict[str, Any]:
        """I07: SetDefaultTariff with a stored tariff."""
        tariff = await self.get(tariff_id)
        return await self._send(station_id, "SetDefaultTariff", {"evseId": evse_id, "tariff": tariff.tariff})

    async def get_tariffs(self, station_id: str, evse_id: int) -> dict[str, Any]:
        """I09: GetTariffs (evseId 0: all EVSEs)."""
        return await self._send(station_id, "GetTariffs", {"evseId": evse_id})

    async def clear_tariffs(
        self, station_id: str, tariff_ids: list[str] | None, evse_id: int | None
    ) -> dict[str, Any]:
        """I10: ClearTariffs, filtered by tariff ids and / or EVSE."""
        payload: dict[str, Any] = {}
        if tariff_ids:
            payload["tariffIds"] = tariff_ids
        if evse_id is not None:
            payload["evseId"] = evse_id
        return await self._send(station_id, "ClearTariffs", payload)

    async def change_transaction_tariff(self, transaction_key: int, tariff_id: str) -> dict[str, Any]:
        """I11: ChangeTransactionTariff; accepted, the CSMS prices the transaction with it from now on."""
        record = await self.repository.cost(transaction_key)
        if record is None:
            raise NoCost(transaction_key)
        if record.status != ACTIVE:
            raise Conflict(f"transaction {transaction_key} has ended")
        tariff = await self.get(tariff_id)
        answer = await self._send(
            record.station_id,
            "ChangeTransactionTariff",
            {"transactionId": record.transaction_id, "tariff": tariff.tariff},
        )
        if answer.get("status") == "Accepted":
            now = self.clock.now()
            spans = [*record.tariff.get("spans", []), {"from": to_wire(now), "tariff": tariff.tariff}]
            await self.repository.update_cost(
                transaction_key,
                {"tariff": msgspec.json.encode({"spans": spans}).decode(), "tariff_id": tariff_id},
                now,
            )
        return answer
