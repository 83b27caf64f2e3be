"""Transaction limits (2.1 E16, F07): a maximum energy, cost, time or state of charge per transaction.

A limit comes from the CSMS in a TransactionEvent answer (E16.FR.02; after a remote start in the answer to
Started, F07.FR.02) or from the driver at the station (E16.FR.01). Only the limits of TxCtrlr.SupportedLimits
are taken (E16.FR.13); one the driver sets never exceeds the CSMS's (E16.FR.04). A set or changed limit goes
once in the next TransactionEvent, an Updated LimitSet of its own (E16.FR.01/03).

The controller checks the limits after every meter reading, cost update and change of limit, and at the end of
the time limit (counted from the Started event, E16.FR.09). The first one reached stops the energy: the EVSE
suspends (chargingState SuspendedEVSE, E16.FR.05), or, with EnergyTransfer in TxStopPoint, the transaction
ends (E16.FR.06); either way with the limit's trigger reason. Raising the limit past the value resumes the
energy (E16.FR.14). The cost is the local tariff's when the station computes it (E16.FR.16), else the CSMS's
totalCost / CostUpdated (E16.FR.15).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from msgspec import UNSET, structs

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.station.core import tariff_cost, transactions
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.context import Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import Evse

TX = "TxCtrlr"
SUPPORTED = "maxEnergy,maxCost,maxTime,maxSoC"
# wire name -> (msgspec field, trigger reason when reached, stoppedReason when it ends the transaction)
KINDS: dict[str, tuple[str, str, str]] = {
    "maxEnergy": ("max_energy", "EnergyLimitReached", "EnergyLimitReached"),
    "maxCost": ("max_cost", "CostLimitReached", "LocalOutOfCredit"),  # ReasonEnumType has no cost reason
    "maxTime": ("max_time", "TimeLimitReached", "TimeLimitReached"),
    "maxSoC": ("max_so_c", "SoCLimitReached", "SOCLimitReached"),
}
TRIGGERS = frozenset(trigger for _, trigger, _ in KINDS.values())


def limits_of(wire: v21.datatypes.TransactionLimitType) -> dict[str, float]:
    """The limits a TransactionLimitType sets, by wire name."""
    found: dict[str, float] = {}
    for name, (attr, _, _) in KINDS.items():
        value = present(getattr(wire, attr))
        if value is not None:
            found[name] = float(value)
    return found


def to_wire(limits: dict[str, float]) -> v21.datatypes.TransactionLimitType:
    return v21.datatypes.TransactionLimitType(
        max_energy=limits.get("maxEnergy", UNSET),
        max_cost=limits.get("maxCost", UNSET),
        max_time=int(limits["maxTime"]) if "maxTime" in limits else UNSET,
        max_so_c=min(100, max(0, int(limits["maxSoC"]))) if "maxSoC" in limits else UNSET,
    )


def reached(limits: dict[str, float], used: dict[str, float | None]) -> str | None:
    """The first limit (in :data:`KINDS` order) whose value is reached: a negative one at once (E16.FR.10)."""
    for name in KINDS:
        limit = limits.get(name)
        value = used.get(name)
        if limit is not None and (limit <= 0 or (value is not None and value >= limit)):
            return name
    return None


class TxLimits(Controller):
    __slots__ = ()

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        # 2.1 (harmless in a 2.0.1 device model, where no message carries a limit)
        return [var(TX, "SupportedLimits", "MemberList", SUPPORTED, "ReadOnly", values_list=SUPPORTED)]

    def supported(self) -> list[str]:
        return self.ctx.model.members(TX, "SupportedLimits")

    # ------------------------------------------------------------------ setting limits
    def set_by_csms(self, evse: Evse, limits: dict[str, float], now: datetime) -> None:
        """E16.FR.03: the supported ones are taken, and confirmed in a LimitSet event."""
        tx = evse.tx
        kept = {k: v for k, v in limits.items() if k in self.supported()}
        if tx is None or not kept:
            return  # E16.FR.13: nothing supported, nothing confirmed
        tx.limits.update(kept)
        tx.csms_limits.update(kept)
        self._announce(evse, now)

    def set_by_driver(self, evse: Evse, limits: dict[str, float], now: datetime) -> dict[str, float]:
        """E16.FR.01: the driver's limits, never above the CSMS's (E16.FR.04); returns what was taken."""
        tx = evse.tx
        if tx is None:
            return {}
        kept = {k: min(v, tx.csms_limits.get(k, v)) for k, v in limits.items() if k in self.supported()}
        if kept:
            tx.limits.update(kept)
            self._announce(evse, now)
        return kept

    def raise_limit(self, evse: Evse, name: str, value: float, now: datetime) -> None:
        """The station's own raise of a limit (C23.FR.02: the terminal holds more), in a LimitSet event."""
        if evse.tx is None:
            return
        evse.tx.limits[name] = value
        self._announce(evse, now)

    def _announce(self, evse: Evse, now: datetime) -> None:
        assert evse.tx is not None
        evse.tx.limits_unsent = True
        self.ctx.get(transactions.Transactions).emit(evse, TxEvent(TxEventKind.UPDATED, "LimitSet"), now)
        self.check(evse, now)  # E16.FR.10 already past it; E16.FR.14 raised above it

    def decorate(self, evse: Evse, request: v21.messages.TransactionEventRequest) -> Payload:
        """The limits, once, in the TransactionEvent after they were set (E16.FR.01/03, F07.FR.03)."""
        tx = evse.tx
        if tx is None or not tx.limits_unsent or not tx.limits:
            return request
        tx.limits_unsent = False
        info = structs.replace(request.transaction_info, transaction_limit=to_wire(tx.limits))
        return structs.replace(request, transaction_info=info)

    # ------------------------------------------------------------------ the CSMS's answers
    def answered(
        self,
        request: v21.messages.TransactionEventRequest,
        response: v21.messages.TransactionEventResponse,
        now: datetime,
    ) -> None:
        tx_id = request.transaction_info.transaction_id
        evse = self._evse_of(tx_id)
        if evse is None:
            return
        total = present(response.total_cost)
        if total is not None:
            self.cost_update(tx_id, total, now)
        limit = present(response.transaction_limit)
        if limit is not None and evse.tx is not None:
            self.set_by_csms(evse, limits_of(limit), now)

    def cost_update(self, transaction_id: str, total: float, now: datetime) -> None:
        """E16.FR.15: the CSMS's running cost (used only without local cost, E16.FR.16)."""
        evse = self._evse_of(transaction_id)
        if evse is None or evse.tx is None:
            return
        evse.tx.cost_reported = total
        self.check(evse, now)

    def _evse_of(self, transaction_id: str) -> Evse | None:
        return next(
            (e for e in self.ctx.evses.values() if e.tx is not None and e.tx.id == transaction_id), None
        )

    # ------------------------------------------------------------------ enforcement
    def used(self, evse: Evse, now: datetime) -> dict[str, float | None]:
        """What the transaction used so far, per limit."""
        tx = evse.tx
        assert tx is not None
        local = self.ctx.get(tariff_cost.TariffCost).cost_now(evse, now)
        elapsed = (self.ctx.station_time(now) - from_wire(tx.started_at)).total_seconds()
        return {
            "maxEnergy": evse.meter.energy_wh - tx.meter_start_wh,
            "maxCost": local if local is not None else tx.cost_reported,
            "maxTime": elapsed,
            "maxSoC": evse.meter.soc,
        }

    def check(self, evse: Evse, now: datetime) -> None:
        """Suspend or end at the first limit reached (E16.FR.05/06); resume once none is (E16.FR.14)."""
        from chargeplane.station.core.payments import Payments  # it imports this module

        tx = evse.tx
        if tx is None or not tx.limits:
            return
        txs = self.ctx.get(transactions.Transactions)
        used = self.used(evse, now)
        self.ctx.get(Payments).check_increase(evse, used["maxCost"], now)  # C23: before the limit is hit
        if evse.tx is not tx:
            return
        hit = reached(tx.limits, used)
        if hit is None:
            if tx.limit_reached is not None:
                tx.limit_reached = None
                txs.evaluate(evse, now, "LimitSet")  # the power path closes again
            return
        if tx.limit_reached is not None:
            return
        _, trigger, stop = KINDS[hit]
        tx.limit_reached = trigger
        if "EnergyTransfer" in self.ctx.model.members(TX, "TxStopPoint"):
            txs.force_stop(evse, stop, trigger, now)  # E16.FR.06
            return
        sent = tx.seq_no
        txs.evaluate(evse, now, trigger)  # the contactor opens: SuspendedEVSE with this trigger
        if evse.tx is tx and tx.seq_no == sent:  # already SuspendedEVSE (e.g. smart charging): say why
            txs.emit(evse, TxEvent(TxEventKind.UPDATED, trigger), now)

    def next_deadline(self) -> datetime | None:
        """The end of each time limit not reached yet (E16.FR.09: from the Started event)."""
        due: list[datetime] = []
        for evse in self.ctx.evses.values():
            tx = evse.tx
            if tx is not None and "maxTime" in tx.limits and tx.limit_reached is None:
                start = from_wire(tx.started_at) - self.ctx.clock_offset  # our clock, not the station time
                due.append(start + timedelta(seconds=max(0.0, tx.limits["maxTime"])))
        return min(due, default=None)

    def handle_timer(self, now: datetime) -> None:
        for evse in self.ctx.evses.values():
            if evse.tx is not None and evse.tx.limits:
                self.check(evse, now)
