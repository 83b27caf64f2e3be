"""Tariff and cost (2.0.1 I01-I06; 2.1 I01-I12) on the station.

What the driver sees: the tariff text of the Authorize answer (I01.FR.03), else the TariffFallbackMessage
(I04.FR.01); the running cost of a CostUpdated (I02.FR.02/03) or of a TransactionEvent answer (I02.FR.04);
the final totalCost of the answer to the Ended event (I03.FR.03; not when the EV must leave the bay to end the
transaction, I03.FR.05, nor when the answer comes after the station was offline), else, offline at the end,
the TotalCostFallbackMessage (I05.FR.02); an updatedPersonalMessage (I06.FR.03). Texts go out as
:class:`~.model.ShowMessage` actions (the runtime's display prints them).

2.1 local cost calculation (TariffCostCtrlr Enabled[Tariff] and Enabled[Cost]): default tariffs per EVSE
(SetDefaultTariff, I07, persisted; one with validFrom waits for its time), the driver's tariff of an Authorize
answer (I08), GetTariffs (I09), ClearTariffs (I10: a transaction keeps its tariff), ChangeTransactionTariff
(I11: from then on, with a TransactionEvent TariffChanged). A transaction gets the driver's tariff, else the
EVSE's default; its cost is computed with the shared engine (``chargeplane.cost``) from exactly the readings
its own TransactionEvents carry (so the CSMS, which receives them, computes the same), and reported in
costDetails: in Started and every Interval[Cost] seconds in an event of its own (triggerReason RunningCost)
when Enabled[RunningCost] (I12.FR.02/03), and with its charging periods in Ended (I12.FR.01). Tariff
conditions are read in UTC (the station has no time zone setting).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import msgspec

from chargeplane.cost.engine import cost, round_money
from chargeplane.cost.model import Tariff, TariffSpan, UnsupportedCondition
from chargeplane.cost.samples import Reading, meter_samples
from chargeplane.cost.wire import cost_details, tariff_from_wire
from chargeplane.ocpp.errors import NotSupported
from chargeplane.ocpp.messages import v2x, v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import tx_limits
from chargeplane.station.core.adapter import IdInfo, TxEvent, TxEventKind
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import ACCEPTED, Evse, ShowMessage
from chargeplane.station.core.transactions import Transactions

CTRLR = "TariffCostCtrlr"
MAX_ELEMENTS = 30
DEFAULTS_KEY = "tariff_defaults"
ENERGY = "Energy.Active.Import.Register"
_UNITS = {"Wh": 1.0, "kWh": 1000.0}
m21 = v21.messages
e21 = v21.enums


@dataclass
class TxCost:
    """The cost state of one ongoing transaction."""

    transaction_id: str
    spans: list[tuple[datetime, dict[str, Any]]]  # (from, 2.1 TariffType in wire form)
    readings: list[Reading] = field(default_factory=list)
    next_cost: datetime | None = None  # when the next RunningCost event is due
    failure: str | None = None  # I12.FR.14

    def to_json(self) -> dict[str, Any]:
        return {
            "transactionId": self.transaction_id,
            "spans": [[to_wire(at), t] for at, t in self.spans],
            "readings": [[to_wire(r.at), r.energy_wh, r.charging] for r in self.readings],
            "nextCost": to_wire(self.next_cost) if self.next_cost else None,
            "failure": self.failure,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TxCost:
        return cls(
            data["transactionId"],
            [(from_wire(at), t) for at, t in data["spans"]],
            [Reading(from_wire(at), wh, charging) for at, wh, charging in data["readings"]],
            from_wire(data["nextCost"]) if data.get("nextCost") else None,
            data.get("failure"),
        )


def _wire_tariff(tariff: v21.datatypes.TariffType) -> dict[str, Any]:
    built: dict[str, Any] = msgspec.to_builtins(tariff)
    return built


def _engine_tariff(wire: dict[str, Any]) -> Tariff:
    return tariff_from_wire(msgspec.convert(wire, v21.datatypes.TariffType))


def _money(value: float) -> str:
    return str(round_money(Decimal(repr(value))))  # half up, to the cent


class TariffCost(Controller):
    __slots__ = ("defaults", "driver", "running")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.defaults: dict[int, list[dict[str, Any]]] = {}  # EVSE -> installed default tariffs, in order
        self.driver: dict[int, dict[str, Any]] = {}  # EVSE -> the driver's tariff of the last Authorize (I08)
        self.running: dict[int, TxCost] = {}  # EVSE -> its transaction's cost

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(CTRLR, "Available", "boolean", "true", "ReadOnly", variable_instance="Tariff"),
            var(CTRLR, "Available", "boolean", "true", "ReadOnly", variable_instance="Cost"),
            var(CTRLR, "Enabled", "boolean", "true", variable_instance="Tariff"),
            var(CTRLR, "Enabled", "boolean", "true", variable_instance="Cost"),
            var(CTRLR, "Currency", "string", "EUR"),
            var(CTRLR, "TariffFallbackMessage", "string", "", max_limit=512),
            var(CTRLR, "TotalCostFallbackMessage", "string", "", max_limit=512),
            # 2.1 local cost calculation (harmless in a 2.0.1 device model)
            var(CTRLR, "Enabled", "boolean", "true", variable_instance="RunningCost"),
            var(CTRLR, "Interval", "integer", "60", unit="s", min_limit=1, variable_instance="Cost"),
            var(CTRLR, "MaxElements", "integer", str(MAX_ELEMENTS), "ReadOnly", variable_instance="Tariff"),
            var(CTRLR, "ConditionsSupported", "boolean", "true", "ReadOnly", variable_instance="Tariff"),
        ]

    # ------------------------------------------------------------------ state
    def start(self, now: datetime) -> None:
        storage = self.ctx.storage
        saved = storage.get_state(DEFAULTS_KEY)
        if saved:
            self.defaults = {int(k): v for k, v in json.loads(saved).items()}
        for evse_id in self.ctx.evses:
            tx = storage.get_state(f"tariff_tx:{evse_id}")
            if tx:
                self.running[evse_id] = TxCost.from_json(json.loads(tx))

    def _save_defaults(self) -> None:
        self.ctx.storage.set_state(DEFAULTS_KEY, json.dumps(self.defaults) if self.defaults else None)

    def _save_tx(self, evse_id: int) -> None:
        state = self.running.get(evse_id)
        self.ctx.storage.set_state(f"tariff_tx:{evse_id}", json.dumps(state.to_json()) if state else None)

    def _flag(self, instance: str) -> bool:
        return self.ctx.model.flag(CTRLR, "Enabled", instance)

    @property
    def local_cost(self) -> bool:
        """2.1 local cost calculation is on (I12.FR.01)."""
        return self.ctx.version is Version.V21 and self._flag("Tariff") and self._flag("Cost")

    def _show(self, text: str) -> None:
        if text:
            self.ctx.act(ShowMessage(text))

    def _currency(self) -> str:
        return self.ctx.model.value(CTRLR, "Currency") or ""

    # ------------------------------------------------------------------ what the driver sees (I01-I06)
    def authorized(self, evse: Evse, info: IdInfo, now: datetime) -> None:
        """I01.FR.03 the driver's tariff text, else I04.FR.01 the fallback; I08 the driver's tariff kept."""
        if info.status != ACCEPTED:
            return
        if info.personal_message:
            self._show(f"Tariff: {info.personal_message}")
        else:
            self._show(self.ctx.model.value(CTRLR, "TariffFallbackMessage") or "")
        if info.tariff is not None and self.local_cost:
            self.driver[evse.id] = info.tariff

    def show_running(self, total: float) -> None:
        self._show(f"Running cost: {_money(total)} {self._currency()}".rstrip())

    def answered(self, request: Payload, response: Payload, now: datetime) -> None:
        """A TransactionEvent's answer: running cost (I02.FR.04), final cost (I03.FR.03) and tariff text (I06)."""
        total = present(getattr(response, "total_cost", None))
        message = present(getattr(response, "updated_personal_message", None))
        if message is not None:
            self._show(f"Tariff: {message.content}")  # I06.FR.03
        if total is None:
            return
        if str(getattr(request, "event_type", "")) != "Ended":
            self.show_running(total)
            return
        if present(getattr(request, "offline", None)) is True:
            return  # I03 remarks: answered after the station came back, the driver has gone
        if "ParkingBayOccupancy" in self.ctx.model.members("TxCtrlr", "TxStopPoint"):
            return  # I03.FR.05
        self._show(f"Total cost: {_money(total)} {self._currency()}".rstrip())

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        if not self.ctx.online:  # I05.FR.02: the CSMS cannot tell the total now
            self._show(self.ctx.model.value(CTRLR, "TotalCostFallbackMessage") or "")

    # ------------------------------------------------------------------ 2.1 local cost (I08, I11, I12)
    def _default_for(self, evse_id: int, at: datetime) -> dict[str, Any] | None:
        """The EVSE's default tariff in force at ``at`` (I07.FR.19: not before its validFrom)."""
        chosen: dict[str, Any] | None = None
        chosen_from = datetime.min.replace(tzinfo=UTC)
        for tariff in self.defaults.get(evse_id, []):
            start = from_wire(tariff["validFrom"]) if tariff.get("validFrom") else chosen_from
            if start <= at and start >= chosen_from:
                chosen, chosen_from = tariff, start
        return chosen

    def decorate(self, evse: Evse, request: m21.TransactionEventRequest, now: datetime) -> Payload:
        """The tariffId and costDetails of a 2.1 TransactionEvent the transactions block built (I12)."""
        tx = evse.tx
        if tx is None or not self.local_cost:
            return request
        at = self.ctx.station_time(now)
        state = self.running.get(evse.id)
        if state is None or state.transaction_id != tx.id:
            tariff = self.driver.pop(evse.id, None) or self._default_for(evse.id, at)
            if tariff is None:
                return request
            state = TxCost(tx.id, [(at, tariff)])
            self.running[evse.id] = state
        elif evse.id in self.driver:  # the driver authorized after the start: his tariff from now on
            state.spans.append((at, self.driver.pop(evse.id)))
        state.readings.extend(_readings(request))
        kind = request.event_type
        ended = kind is e21.TransactionEventEnumType.ENDED
        running = self._flag("RunningCost") and (
            kind is e21.TransactionEventEnumType.STARTED or request.trigger_reason == "RunningCost"
        )
        if running and state.next_cost is None:
            state.next_cost = now + timedelta(
                seconds=max(1, self.ctx.model.number(CTRLR, "Interval", "Cost"))
            )
        details: v21.datatypes.CostDetailsType | None = None
        if ended or running:
            details = self._details(state, with_periods=ended)
            if not ended and details.failure_to_calculate is not True:
                self.show_running(details.total_cost.total.incl_tax or 0.0)
        info = msgspec.structs.replace(request.transaction_info, tariff_id=state.spans[-1][1]["tariffId"])
        if ended:
            del self.running[evse.id]
        self._save_tx(evse.id)
        return msgspec.structs.replace(
            request, transaction_info=info, cost_details=details if details is not None else msgspec.UNSET
        )

    def _details(self, state: TxCost, *, with_periods: bool) -> v21.datatypes.CostDetailsType:
        try:
            spans = [TariffSpan(at, _engine_tariff(t)) for at, t in state.spans]
            return cost_details(cost(spans, meter_samples(state.readings)), with_periods=with_periods)
        except (ValueError, msgspec.ValidationError) as error:  # I12.FR.14
            state.failure = str(error)[:500]
            currency = state.spans[-1][1].get("currency", "")
            return v21.datatypes.CostDetailsType(
                total_cost=v21.datatypes.TotalCostType(
                    currency=currency,
                    type_of_cost=e21.TariffCostEnumType.NORMAL_COST,
                    total=v21.datatypes.TotalPriceType(),
                ),
                total_usage=v21.datatypes.TotalUsageType(energy=0, charging_time=0, idle_time=0),
                failure_to_calculate=True,
                failure_reason=state.failure,
            )

    def cost_now(self, evse: Evse, now: datetime) -> float | None:
        """The transaction's cost including tax up to ``now`` by the local tariff (E16.FR.16), None when
        there is no local cost for it (then the CSMS's cost updates count, E16.FR.15)."""
        tx = evse.tx
        state = self.running.get(evse.id)
        if tx is None or state is None or state.transaction_id != tx.id or not self.local_cost:
            return None
        at = self.ctx.station_time(now)
        readings = [*state.readings, Reading(at, evse.meter.energy_wh, evse.flowing)]
        readings.sort(key=lambda r: r.at)
        try:
            spans = [TariffSpan(start, _engine_tariff(t)) for start, t in state.spans]
            return float(cost(spans, meter_samples(readings)).total.incl_tax)
        except (ValueError, msgspec.ValidationError):
            return None  # I12.FR.14: the tariff cannot be computed; no local cost then

    def next_deadline(self) -> datetime | None:
        due = [s.next_cost for s in self.running.values() if s.next_cost is not None]
        return min(due) if due else None

    def handle_timer(self, now: datetime) -> None:
        """I12.FR.02/03: a TransactionEvent of its own with the running cost every Interval[Cost] seconds."""
        interval = timedelta(seconds=max(1, self.ctx.model.number(CTRLR, "Interval", "Cost")))
        for evse_id, state in list(self.running.items()):
            if state.next_cost is None or state.next_cost > now:
                continue
            state.next_cost = now + interval
            evse = self.ctx.evses[evse_id]
            if evse.tx is None or evse.tx.id != state.transaction_id:
                del self.running[evse_id]
                self._save_tx(evse_id)
                continue
            if self._flag("RunningCost"):
                self.ctx.get(Transactions).emit(evse, TxEvent(TxEventKind.UPDATED, "RunningCost"), now)

    # ------------------------------------------------------------------ checks of a received tariff
    def check(self, wire: v21.datatypes.TariffType) -> str | None:
        """The refusal status of a tariff (I07.FR.02/03/05, I11.FR.02/03), or None when it is usable."""
        try:
            tariff = tariff_from_wire(wire)
        except UnsupportedCondition:
            return "ConditionNotSupported"
        except ValueError:
            return "Rejected"
        if tariff.element_count() > self.ctx.model.number(CTRLR, "MaxElements", "Tariff"):
            return "TooManyElements"
        if tariff.has_conditions() and not self.ctx.model.flag(CTRLR, "ConditionsSupported", "Tariff"):
            return "ConditionNotSupported"
        return None

    def install(self, evse_id: int, tariff: dict[str, Any]) -> None:
        """I07.FR.11/12: a default tariff at one EVSE or all; one without validFrom replaces those in force."""
        targets = list(self.ctx.evses) if evse_id == 0 else [evse_id]
        for target in targets:
            kept = self.defaults.get(target, [])
            if not tariff.get("validFrom"):
                kept = [t for t in kept if t.get("validFrom")]
            self.defaults[target] = [*kept, tariff]
        self._save_defaults()

    def known_ids(self) -> set[str]:
        return {t["tariffId"] for tariffs in self.defaults.values() for t in tariffs}


def _readings(request: m21.TransactionEventRequest) -> list[Reading]:
    """The energy register readings and charging state a TransactionEvent carries (what the CSMS sees)."""
    state = present(request.transaction_info.charging_state)
    charging = None if state is None else str(state) == "Charging"
    found: dict[datetime, float] = {}
    for value in present(request.meter_value) or ():
        for sampled in value.sampled_value:
            measurand = present(sampled.measurand)
            unit = present(sampled.unit_of_measure)
            name = present(unit.unit) if unit is not None else None
            if (measurand is None or str(measurand) == ENERGY) and present(sampled.phase) is None:
                factor = _UNITS.get(name or "Wh")
                if factor is not None:
                    multiplier = present(unit.multiplier) if unit is not None else None
                    found[from_wire(value.timestamp)] = sampled.value * factor * 10.0 ** (multiplier or 0)
    at = from_wire(request.timestamp)
    readings = [Reading(t, wh, charging if t == at else None) for t, wh in sorted(found.items())]
    if at not in found:
        readings.append(Reading(at, None, charging))
        readings.sort(key=lambda r: r.at)
    return readings


# ---------------------------------------------------------------------- handlers
def cost_updated(ctl: TariffCost, request: v2x.CostUpdatedRequestT, now: datetime) -> v2x.CostUpdatedResponse:
    """I02.FR.02/03: answer, and show the running cost (E16.FR.15: it counts against a cost limit)."""
    ctl.show_running(request.total_cost)
    ctl.ctx.get(tx_limits.TxLimits).cost_update(request.transaction_id, request.total_cost, now)
    return v2x.dialect_of(request).CostUpdatedResponse()


def _require_tariffs(ctl: TariffCost) -> None:
    if not ctl._flag("Tariff"):  # I07.FR.01, I11.FR.01
        raise NotSupported("local cost calculation is not enabled (TariffCostCtrlr.Enabled[Tariff])")


def _status_info(reason: str) -> v21.datatypes.StatusInfoType:
    return v21.datatypes.StatusInfoType(reason_code=reason)


def set_default_tariff(
    ctl: TariffCost, request: m21.SetDefaultTariffRequest, now: datetime
) -> m21.SetDefaultTariffResponse:
    """I07."""
    _require_tariffs(ctl)
    status = e21.TariffSetStatusEnumType
    if request.evse_id != 0 and request.evse_id not in ctl.ctx.evses:  # I07.FR.06
        return m21.SetDefaultTariffResponse(status=status.REJECTED, status_info=_status_info("UnknownEVSE"))
    refusal = ctl.check(request.tariff)
    if refusal is not None:
        info = _status_info("InvalidValue") if refusal == "Rejected" else msgspec.UNSET
        return m21.SetDefaultTariffResponse(status=status(refusal), status_info=info)
    if request.tariff.tariff_id in ctl.known_ids():  # I07.FR.04
        return m21.SetDefaultTariffResponse(status=status.DUPLICATE_TARIFF_ID)
    ctl.install(request.evse_id, _wire_tariff(request.tariff))  # I07.FR.10-13
    return m21.SetDefaultTariffResponse(status=status.ACCEPTED)


def get_tariffs(ctl: TariffCost, request: m21.GetTariffsRequest, now: datetime) -> m21.GetTariffsResponse:
    """I09: the default tariffs per EVSE and the driver tariffs of ongoing transactions."""
    _require_tariffs(ctl)
    wanted = list(ctl.ctx.evses) if request.evse_id == 0 else [request.evse_id]
    found: dict[tuple[str, str], tuple[list[int], str | None]] = {}
    for evse_id in wanted:
        for tariff in ctl.defaults.get(evse_id, []):
            entry = found.setdefault(("DefaultTariff", tariff["tariffId"]), ([], tariff.get("validFrom")))
            entry[0].append(evse_id)
        state = ctl.running.get(evse_id)
        if state is not None:
            current = state.spans[-1][1]
            if not any(current["tariffId"] == key[1] for key in found if key[0] == "DefaultTariff"):
                entry = found.setdefault(
                    ("DriverTariff", current["tariffId"]), ([], current.get("validFrom"))
                )
                entry[0].append(evse_id)  # I09.FR.06
    if not found:
        return m21.GetTariffsResponse(status=e21.TariffGetStatusEnumType.NO_TARIFF)  # I09.FR.03
    assignments = [
        v21.datatypes.TariffAssignmentType(
            tariff_id=tariff_id,
            tariff_kind=e21.TariffKindEnumType(kind),
            evse_ids=sorted(evse_ids),
            valid_from=valid_from if valid_from else msgspec.UNSET,
        )
        for (kind, tariff_id), (evse_ids, valid_from) in sorted(found.items())
    ]
    return m21.GetTariffsResponse(status=e21.TariffGetStatusEnumType.ACCEPTED, tariff_assignments=assignments)


def clear_tariffs(
    ctl: TariffCost, request: m21.ClearTariffsRequest, now: datetime
) -> m21.ClearTariffsResponse:
    """I10: the default tariffs that match both filters; transactions keep theirs (I10.FR.07)."""
    _require_tariffs(ctl)
    ids = present(request.tariff_ids)
    evse = present(request.evse_id)
    cleared: list[str] = []
    for evse_id, tariffs in list(ctl.defaults.items()):
        if evse is not None and evse != 0 and evse != evse_id:
            continue
        kept = []
        for tariff in tariffs:
            if ids is None or tariff["tariffId"] in ids:
                if tariff["tariffId"] not in cleared:
                    cleared.append(tariff["tariffId"])
            else:
                kept.append(tariff)
        ctl.defaults[evse_id] = kept
    ctl.defaults = {k: v for k, v in ctl.defaults.items() if v}
    ctl._save_defaults()
    status = e21.TariffClearStatusEnumType
    if not cleared:  # I10.FR.06
        return m21.ClearTariffsResponse(
            clear_tariffs_result=[v21.datatypes.ClearTariffsResultType(status=status.NO_TARIFF)]
        )
    return m21.ClearTariffsResponse(
        clear_tariffs_result=[
            v21.datatypes.ClearTariffsResultType(tariff_id=t, status=status.ACCEPTED) for t in cleared
        ]
    )


def change_transaction_tariff(
    ctl: TariffCost, request: m21.ChangeTransactionTariffRequest, now: datetime
) -> m21.ChangeTransactionTariffResponse:
    """I11: the new tariff from now on, and a TransactionEvent TariffChanged."""
    _require_tariffs(ctl)
    status = e21.TariffChangeStatusEnumType
    evse = next(
        (e for e in ctl.ctx.evses.values() if e.tx is not None and e.tx.id == request.transaction_id), None
    )
    if evse is None:  # I11.FR.04
        return m21.ChangeTransactionTariffResponse(status=status.TX_NOT_FOUND)
    refusal = ctl.check(request.tariff)
    if refusal is not None:
        return m21.ChangeTransactionTariffResponse(status=status(refusal))
    wire = _wire_tariff(request.tariff)
    at = ctl.ctx.station_time(now)
    state = ctl.running.get(evse.id)
    if state is not None and state.transaction_id == request.transaction_id:
        if state.spans[-1][1].get("currency") != wire["currency"]:  # I11.FR.05
            return m21.ChangeTransactionTariffResponse(status=status.NO_CURRENCY_CHANGE)
        state.spans.append((at, wire))  # I11.FR.08
    else:
        assert evse.tx is not None
        ctl.running[evse.id] = TxCost(evse.tx.id, [(at, wire)])
    ctl._save_tx(evse.id)
    ctl.ctx.get(Transactions).emit(evse, TxEvent(TxEventKind.UPDATED, "TariffChanged"), now)  # I11.FR.07
    return m21.ChangeTransactionTariffResponse(status=status.ACCEPTED)


TariffCost.on_2x = (
    route("CostUpdated", cost_updated),
    route("SetDefaultTariff", set_default_tariff),
    route("GetTariffs", get_tariffs),
    route("ClearTariffs", clear_tariffs),
    route("ChangeTransactionTariff", change_transaction_tariff),
)
