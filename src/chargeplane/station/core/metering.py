"""Metering (J01-J03): which measurands are read, how often, and in which message.

Owns the samples a MeterValue carries (only the measurands this meter has), the periodic values during a
transaction (J02, TxUpdatedInterval: in the transaction's messages), the clock-aligned values (J01,
AlignedDataCtrlr.Interval: in the transaction, or as MeterValues for an idle EVSE) and the SampledDataCtrlr /
AlignedDataCtrlr variables. The adapter turns samples into the version's MeterValue.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from chargeplane.ocpp.messages.base import Payload
from chargeplane.station.core import transactions
from chargeplane.station.core.adapter import Sample, TxEvent, TxEventKind
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import Evse

MEASURANDS = (
    "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC,Energy.Active.Import.Interval,"
    "Energy.Active.Export.Register,Power.Active.Export,Frequency,Power.Reactive.Import,Power.Reactive.Export"
)
SAMPLED = "SampledDataCtrlr"
ALIGNED = "AlignedDataCtrlr"
ENERGY = "Energy.Active.Import.Register"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # a deadline already due


def aligned_after(now: datetime, interval_s: int) -> datetime:
    """J01: the next clock-aligned instant (multiples of the interval since midnight UTC)."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    elapsed = (now - midnight).total_seconds()
    steps = int(elapsed // interval_s) + 1
    return midnight + timedelta(seconds=steps * interval_s)


def samples(evse: Evse, measurands: list[str] | tuple[str, ...], supply_phases: int) -> list[Sample]:
    """(measurand, value, unit) of each requested measurand this meter has (the others are skipped)."""
    reading = evse.meter
    found: list[Sample] = []
    for measurand in measurands:
        if measurand == "Energy.Active.Import.Register":
            value, unit = reading.energy_wh, "Wh"
        elif measurand == "Energy.Active.Import.Interval" and evse.tx is not None:
            value, unit = reading.energy_wh - evse.tx.meter_start_wh, "Wh"
        elif measurand == "Power.Active.Import":
            value, unit = reading.power_w, "W"
        elif measurand == "Voltage":
            value, unit = reading.voltage_v, "V"
        elif measurand == "Current.Import":
            phases = max(1, supply_phases)
            value, unit = (reading.power_w / (reading.voltage_v * phases) if reading.voltage_v else 0.0), "A"
        elif measurand == "SoC" and reading.soc is not None:
            value, unit = reading.soc, "Percent"
        elif measurand == "Energy.Active.Export.Register":  # V2X: what the EV gave back
            value, unit = reading.energy_export_wh, "Wh"
        elif measurand == "Power.Active.Export":
            value, unit = max(0.0, -reading.power_w), "W"
        elif measurand == "Power.Reactive.Import":  # inductive: the EV takes reactive power
            value, unit = max(0.0, reading.reactive_var), "var"
        elif measurand == "Power.Reactive.Export":  # capacitive: the EV gives reactive power
            value, unit = max(0.0, -reading.reactive_var), "var"
        elif measurand == "Frequency" and reading.frequency_hz is not None:
            value, unit = reading.frequency_hz, "Hz"
        else:
            continue
        found.append((measurand, round(value, 3), unit))
    return found


class Metering(Controller):
    __slots__ = (
        "_aligned_for",
        "_ended_aligned_for",
        "_next_aligned",
        "_next_ended_aligned",
        "extra_measurands",
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # measurands an EVSE adds now to SampledDataCtrlr's Tx{Started,Updated,Ended}Measurands (the variable
        # named): V2X per operation mode, Q01.FR.33-35
        self.extra_measurands: Callable[[Evse, str, datetime], tuple[str, ...]] = lambda evse, variable, now: ()
        self._next_aligned: datetime | None = None
        self._aligned_for = 0  # the AlignedDataCtrlr.Interval _next_aligned was computed with
        self._next_ended_aligned: datetime | None = None  # AlignedDataCtrlr.TxEndedInterval
        self._ended_aligned_for = 0

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        def members(component: str, name: str, default: str) -> VariableDef:
            return var(component, name, "MemberList", default, values_list=MEASURANDS)

        def interval(component: str, name: str, default: str) -> VariableDef:
            return var(component, name, "integer", default, unit="s", min_limit=0)

        return [
            var(SAMPLED, "Enabled", "boolean", "true"),
            var(SAMPLED, "Available", "boolean", "true", "ReadOnly"),
            members(SAMPLED, "TxStartedMeasurands", ENERGY),
            members(SAMPLED, "TxUpdatedMeasurands", f"{ENERGY},Power.Active.Import"),
            interval(SAMPLED, "TxUpdatedInterval", "60"),
            members(SAMPLED, "TxEndedMeasurands", ENERGY),
            interval(SAMPLED, "TxEndedInterval", "0"),
            var(ALIGNED, "Enabled", "boolean", "true"),
            var(ALIGNED, "Available", "boolean", "true", "ReadOnly"),
            members(ALIGNED, "Measurands", ENERGY),
            interval(ALIGNED, "Interval", "900"),
            members(ALIGNED, "TxEndedMeasurands", ENERGY),
            interval(ALIGNED, "TxEndedInterval", "0"),
            var(ALIGNED, "SendDuringIdle", "boolean", "false"),
        ]

    def meter_value(
        self, evse: Evse, measurands: list[str] | tuple[str, ...], context: str, now: datetime
    ) -> Payload | None:
        """A MeterValue of the version, or None when the meter has none of the measurands."""
        ctx = self.ctx
        found = samples(evse, measurands, ctx.layout.supply_phases)
        return ctx.adapter.meter_value(found, context, ctx.ts(now)) if found else None

    def with_extra(
        self, evse: Evse, variable: str, measurands: tuple[str, ...], now: datetime
    ) -> tuple[str, ...]:
        """``measurands`` (of SampledDataCtrlr ``variable``) and what the EVSE adds now, once each."""
        extra = self.extra_measurands(evse, variable, now)
        return measurands + tuple(m for m in extra if m not in measurands)

    def transaction_started(self, evse: Evse, now: datetime) -> None:
        interval = self.ctx.model.number(SAMPLED, "TxUpdatedInterval")
        evse.next_sample = now + timedelta(seconds=interval) if interval > 0 else None
        if evse.next_ended_sample is None:
            self._schedule_ended(evse, now)

    def _schedule_ended(self, evse: Evse, now: datetime) -> None:
        interval = self.ctx.model.number(SAMPLED, "TxEndedInterval")
        evse.next_ended_sample = now + timedelta(seconds=interval) if interval > 0 else None

    def _keep_for_end(self, evse: Evse, component: str, context: str, now: datetime) -> None:
        """J01/J02: a reading of TxEndedMeasurands kept for the Ended event (the TxEndedInterval ones)."""
        ctx = self.ctx
        if evse.tx is None:
            return
        measurands = tuple(ctx.model.members(component, "TxEndedMeasurands"))
        if component == SAMPLED:
            measurands = self.with_extra(evse, "TxEndedMeasurands", measurands, now)
        found = samples(evse, measurands, ctx.layout.supply_phases)
        if found:
            evse.tx.ended_readings.append((context, ctx.ts(now), found))

    def _ended_sample(self, evse: Evse, now: datetime) -> None:
        if evse.tx is None:
            evse.next_ended_sample = None
            return
        self._schedule_ended(evse, now)
        self._keep_for_end(evse, SAMPLED, "Sample.Periodic", now)

    def _ended_aligned(self, now: datetime) -> None:
        """J01: AlignedDataCtrlr.TxEndedMeasurands at every clock-aligned TxEndedInterval, for the Ended event."""
        ctx = self.ctx
        interval = ctx.model.number(ALIGNED, "TxEndedInterval")
        if interval <= 0 or not ctx.model.flag(ALIGNED, "Enabled"):
            self._next_ended_aligned = None
            return
        due = self._next_ended_aligned
        if due is not None and due > now and interval == self._ended_aligned_for:
            return
        first = due is None or interval != self._ended_aligned_for
        self._ended_aligned_for = interval
        self._next_ended_aligned = aligned_after(ctx.station_time(now), interval) - ctx.clock_offset
        if not first:
            for evse in ctx.evses.values():
                self._keep_for_end(evse, ALIGNED, "Sample.Clock", now)

    def _periodic(self, evse: Evse, now: datetime) -> None:
        """J02: TxUpdatedMeasurands every TxUpdatedInterval during a transaction (MeterValuePeriodic)."""
        model = self.ctx.model
        if evse.tx is None:
            evse.next_sample = None
            return
        self.transaction_started(evse, now)
        own = tuple(model.members(SAMPLED, "TxUpdatedMeasurands"))
        measurands = self.with_extra(evse, "TxUpdatedMeasurands", own, now)
        if measurands:
            event = TxEvent(
                TxEventKind.UPDATED, "MeterValuePeriodic", context="Sample.Periodic", measurands=measurands
            )
            self.ctx.get(transactions.Transactions).emit(evse, event, now)

    def _aligned(self, now: datetime) -> None:
        """J01: clock-aligned values (AlignedDataCtrlr.Interval), in the transaction or as MeterValues."""
        ctx = self.ctx
        interval = ctx.model.number(ALIGNED, "Interval")
        if interval <= 0 or not ctx.model.flag(ALIGNED, "Enabled"):
            self._next_aligned = None
            return
        if self._next_aligned is not None and self._next_aligned > now and interval == self._aligned_for:
            return
        first = self._next_aligned is None or interval != self._aligned_for  # a new interval: realign first
        self._aligned_for = interval
        self._next_aligned = aligned_after(ctx.station_time(now), interval) - ctx.clock_offset
        measurands = tuple(ctx.model.members(ALIGNED, "Measurands"))
        if first or not measurands:
            return
        busy = any(evse.tx is not None for evse in ctx.evses.values())
        if busy and ctx.model.flag(ALIGNED, "SendDuringIdle"):
            return  # J01: only while no transaction is ongoing
        for evse in ctx.evses.values():
            if evse.tx is not None:
                event = TxEvent(
                    TxEventKind.UPDATED, "MeterValueClock", context="Sample.Clock", measurands=measurands
                )
                ctx.get(transactions.Transactions).emit(evse, event, now)
            else:
                value = self.meter_value(evse, measurands, "Sample.Clock", now)
                if value is not None:
                    ctx.send(ctx.adapter.idle_meter_values(evse.id, value), now)

    def next_deadline(self) -> datetime | None:
        evses = self.ctx.evses.values()
        due = [e.next_sample for e in evses if e.next_sample is not None]
        due += [e.next_ended_sample for e in evses if e.next_ended_sample is not None]
        model = self.ctx.model
        # a changed interval applies at once: wake up to realign on it (the old deadline may be far)
        enabled = model.flag(ALIGNED, "Enabled")
        for deadline, used, component, variable in (
            (self._next_aligned, self._aligned_for, ALIGNED, "Interval"),
            (self._next_ended_aligned, self._ended_aligned_for, ALIGNED, "TxEndedInterval"),
        ):
            interval = model.number(component, variable) if enabled else 0
            if deadline is not None or interval > 0:  # not scheduled yet: schedule it now
                due.append(deadline if deadline is not None and interval == used else EPOCH)
        return min(due, default=None)

    def handle_timer(self, now: datetime) -> None:
        for evse in self.ctx.evses.values():
            if evse.next_sample is not None and evse.next_sample <= now:
                self._periodic(evse, now)
            if evse.next_ended_sample is not None and evse.next_ended_sample <= now:
                self._ended_sample(evse, now)
        self._aligned(now)
        self._ended_aligned(now)
