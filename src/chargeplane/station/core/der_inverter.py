"""A simulated grid inverter that obeys DER controls (2.1 R01, R04, R05), pure and sans-I/O.

The inverter sits between the EVSE and the grid. Its inputs are the grid voltage and frequency (moved by
tests and the simulator), the active power the EVSE asks for (positive: charging, negative: discharging)
and the DER controls in force, one per control type (chosen by :mod:`.der_control`). Its output is the
active and reactive power it actually exchanges and, when a control makes it deviate from what was asked,
the cause: the control type and the grid fault, which the controller reports with NotifyDERAlarm (R05).

Units (the spec leaves the x-axis to the curve type): voltage curves and EnterService voltages in percent
of the nominal voltage (VNom), frequency curves and frequency settings in Hz, trip-curve y values in
seconds, power curves' y in the curve's DERUnit. The simulation is instantaneous: response times,
hysteresis, gradients and ramp rates are stored and reported but not modelled.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present

Ctl = v21.enums.DERControlEnumType
Unit = v21.enums.DERUnitEnumType
Fault = v21.enums.GridEventFaultEnumType
Dt = v21.datatypes
Setting = (
    Dt.DERCurveType
    | Dt.EnterServiceType
    | Dt.FixedPFType
    | Dt.FixedVarType
    | Dt.FreqDroopType
    | Dt.GradientType
    | Dt.LimitMaxDischargeType
)

# must-trip curves: (measured quantity, True when "beyond" means above the curve)
TRIP_CURVES: dict[Ctl, tuple[str, bool]] = {
    Ctl.HV_MUST_TRIP: ("voltage", True),
    Ctl.LV_MUST_TRIP: ("voltage", False),
    Ctl.HF_MUST_TRIP: ("frequency", True),
    Ctl.LF_MUST_TRIP: ("frequency", False),
}
TRIP_FAULTS = {
    Ctl.HV_MUST_TRIP: Fault.OVER_VOLTAGE,
    Ctl.LV_MUST_TRIP: Fault.UNDER_VOLTAGE,
    Ctl.HF_MUST_TRIP: Fault.OVER_FREQUENCY,
    Ctl.LF_MUST_TRIP: Fault.UNDER_FREQUENCY,
}
# the control types the simulation applies (the others can only be stored, so they are not offered)
SIMULATED: tuple[Ctl, ...] = (
    *TRIP_CURVES,
    Ctl.ENTER_SERVICE,
    Ctl.VOLT_WATT,
    Ctl.FREQ_WATT,
    Ctl.FREQ_DROOP,
    Ctl.LIMIT_MAX_DISCHARGE,
    Ctl.FIXED_VAR,
    Ctl.FIXED_PF_INJECT,
    Ctl.FIXED_PF_ABSORB,
    Ctl.VOLT_VAR,
    Ctl.WATT_VAR,
    Ctl.WATT_PF,
    Ctl.GRADIENTS,
)


@dataclass(frozen=True, slots=True)
class Rating:
    """The inverter's nameplate (DCDERCtrlr MaxW, MaxVar, VNom) and the grid's nominal frequency."""

    max_w: float = 22_000.0
    max_var: float = 11_000.0
    v_nom: float = 230.0
    f_nom: float = 50.0


@dataclass(frozen=True, slots=True)
class Cause:
    """Why the inverter deviates from what the EVSE asked (R05.FR.01): a control type and a grid fault."""

    control_type: Ctl
    fault: Fault | None


@dataclass(frozen=True, slots=True)
class Envelope:
    """What an inverter lets through at most, each way, in W (inf: no DER cap): the power that flows."""

    max_charge_w: float
    max_discharge_w: float

    def clamp(self, power_w: float) -> float:
        return max(-self.max_discharge_w, min(self.max_charge_w, power_w))


UNCAPPED = Envelope(math.inf, math.inf)


@dataclass(frozen=True, slots=True)
class Output:
    active_w: float
    reactive_var: float
    tripped: bool
    cause: Cause | None


def interpolate(points: list[Dt.DERCurvePointsType], x: float) -> float:
    """The curve's y at ``x``: linear between points (sorted by x), flat beyond the ends."""
    ordered = sorted(points, key=lambda p: p.x)
    if x <= ordered[0].x:
        return ordered[0].y
    for left, right in itertools.pairwise(ordered):
        if x <= right.x:
            if right.x == left.x:
                return right.y
            return left.y + (right.y - left.y) * (x - left.x) / (right.x - left.x)
    return ordered[-1].y


def _beyond(value: float, x: float, above: bool) -> bool:
    return value > x if above else value < x


class Inverter:
    """One inverter's grid state and trip state; :meth:`step` applies the controls in force."""

    __slots__ = ("frequency_hz", "normal_since", "rating", "requested_w", "since", "tripped_by", "voltage_v")

    def __init__(self, rating: Rating) -> None:
        self.rating = rating
        self.voltage_v = rating.v_nom
        self.frequency_hz = rating.f_nom
        self.requested_w = 0.0
        self.since: dict[Ctl, datetime] = {}  # trip curve -> when the grid went beyond its most lenient point
        self.tripped_by: Cause | None = None
        self.normal_since: datetime | None = None  # tripped: since when the grid is back within limits

    @property
    def voltage_pct(self) -> float:
        return 100.0 * self.voltage_v / self.rating.v_nom

    def _measured(self, quantity: str) -> float:
        return self.voltage_pct if quantity == "voltage" else self.frequency_hz

    # ------------------------------------------------------------------ trips
    def _trip_check(self, controls: Mapping[Ctl, Setting], now: datetime) -> None:
        """A must-trip curve: beyond a point's x for at least its y seconds trips the inverter."""
        for ctype, (quantity, above) in TRIP_CURVES.items():
            curve = controls.get(ctype)
            if not isinstance(curve, Dt.DERCurveType):
                self.since.pop(ctype, None)
                continue
            value = self._measured(quantity)
            beyond = [p for p in curve.curve_data if _beyond(value, p.x, above)]
            if not beyond:
                self.since.pop(ctype, None)
                continue
            since = self.since.setdefault(ctype, now)
            if self.tripped_by is None and any(now - since >= timedelta(seconds=p.y) for p in beyond):
                self.tripped_by = Cause(ctype, TRIP_FAULTS[ctype])
                self.normal_since = None

    def _may_return(self, controls: Mapping[Ctl, Setting], now: datetime) -> None:
        """Back in service once the grid is within every trip curve and the EnterService window for its
        delay (no EnterService control: at once)."""
        if self.tripped_by is None:
            return
        if self.since:
            self.normal_since = None
            return
        enter = controls.get(Ctl.ENTER_SERVICE)
        if isinstance(enter, Dt.EnterServiceType):
            inside = (
                enter.low_voltage <= self.voltage_pct <= enter.high_voltage
                and enter.low_freq <= self.frequency_hz <= enter.high_freq
            )
            if not inside:
                self.normal_since = None
                return
            delay = present(enter.delay) or 0.0
        else:
            delay = 0.0
        if self.normal_since is None:
            self.normal_since = now
        if now - self.normal_since >= timedelta(seconds=delay):
            self.tripped_by = None
            self.normal_since = None

    def next_deadline(self, controls: Mapping[Ctl, Setting]) -> datetime | None:
        """When a trip or a return to service may next happen without the grid moving."""
        moments: list[datetime] = []
        if self.tripped_by is None:
            for ctype, since in self.since.items():
                curve = controls.get(ctype)
                if isinstance(curve, Dt.DERCurveType):
                    quantity, above = TRIP_CURVES[ctype]
                    value = self._measured(quantity)
                    ys = [p.y for p in curve.curve_data if _beyond(value, p.x, above)]
                    if ys:
                        moments.append(since + timedelta(seconds=min(ys)))
        elif self.normal_since is not None:
            enter = controls.get(Ctl.ENTER_SERVICE)
            delay = present(enter.delay) or 0.0 if isinstance(enter, Dt.EnterServiceType) else 0.0
            moments.append(self.normal_since + timedelta(seconds=delay))
        return min(moments) if moments else None

    # ------------------------------------------------------------------ power
    def _scale(self, value: float, unit: Unit, rating: Rating | None = None) -> float:
        """A setpoint or curve y in ``unit`` as vars (reactive) or watts (the Pct*W units) of ``rating``."""
        rating = rating or self.rating
        if unit in (Unit.PCT_MAX_W, Unit.PCT_W_AVAIL):
            return value * rating.max_w / 100.0
        if unit in (Unit.PCT_MAX_VAR, Unit.PCT_VAR_AVAIL):
            return value * rating.max_var / 100.0
        return value

    def envelope(self, controls: Mapping[Ctl, Setting], rating: Rating) -> Envelope:
        """The most an inverter of ``rating`` lets through each way under ``controls`` on the grid as it is
        now (the trip state as the last :meth:`step` left it): tripped, nothing (the must-trip curves); else
        the VoltWatt / FreqWatt curves' limit both ways and LimitMaxDischarge's share of the rating for
        discharging, as :meth:`limit` applies them to an unbounded request each way."""
        if self.tripped_by is not None and self.tripped_by.control_type in controls:
            return Envelope(0.0, 0.0)
        charge, _ = self.limit(controls, math.inf, rating)
        discharge, _ = self.limit(controls, -math.inf, rating)
        return Envelope(charge, -discharge)

    def _active(self, controls: Mapping[Ctl, Setting]) -> tuple[float, Cause | None]:
        return self.limit(controls, self.requested_w, self.rating)

    def limit(
        self, controls: Mapping[Ctl, Setting], requested_w: float, rating: Rating
    ) -> tuple[float, Cause | None]:
        """The active power after the power-limiting controls; the cause of the last one that bit."""
        power = requested_w
        cause: Cause | None = None
        over_v = Fault.OVER_VOLTAGE if self.voltage_pct > 100.0 else Fault.UNDER_VOLTAGE
        over_f = Fault.OVER_FREQUENCY if self.frequency_hz > self.rating.f_nom else Fault.UNDER_FREQUENCY
        droop = controls.get(Ctl.FREQ_DROOP)
        if isinstance(droop, Dt.FreqDroopType):
            # over-frequency: less export / more import; under-frequency: the reverse (per-unit droop)
            f_nom, max_w = rating.f_nom, rating.max_w
            shift = 0.0
            if self.frequency_hz > droop.over_freq and droop.over_droop > 0:
                shift = (self.frequency_hz - droop.over_freq) / (f_nom * droop.over_droop) * max_w
            elif self.frequency_hz < droop.under_freq and droop.under_droop > 0:
                shift = -(droop.under_freq - self.frequency_hz) / (f_nom * droop.under_droop) * max_w
            if shift:
                power = max(-max_w, min(max_w, power + shift))
                cause = Cause(Ctl.FREQ_DROOP, over_f)
        for ctype, measured, fault in (
            (Ctl.VOLT_WATT, self.voltage_pct, over_v),
            (Ctl.FREQ_WATT, self.frequency_hz, over_f),
        ):
            curve = controls.get(ctype)
            if isinstance(curve, Dt.DERCurveType):
                limit = max(0.0, self._scale(interpolate(curve.curve_data, measured), curve.y_unit, rating))
                if abs(power) > limit:
                    power = math.copysign(limit, power)
                    cause = Cause(ctype, fault)
        discharge = controls.get(Ctl.LIMIT_MAX_DISCHARGE)
        if isinstance(discharge, Dt.LimitMaxDischargeType):
            pct = present(discharge.pct_max_discharge_power)
            if pct is not None and power < -pct * rating.max_w / 100.0:
                power = -pct * rating.max_w / 100.0
                cause = Cause(Ctl.LIMIT_MAX_DISCHARGE, None)
        return power, cause

    def _reactive(self, controls: Mapping[Ctl, Setting], power: float) -> float:
        """The reactive power of the first reactive control in force (positive: injecting)."""
        fixed_var = controls.get(Ctl.FIXED_VAR)
        inject = controls.get(Ctl.FIXED_PF_INJECT)
        absorb = controls.get(Ctl.FIXED_PF_ABSORB)
        volt_var = controls.get(Ctl.VOLT_VAR)
        watt_var = controls.get(Ctl.WATT_VAR)
        watt_pf = controls.get(Ctl.WATT_PF)
        pct_w = 100.0 * abs(power) / self.rating.max_w
        q = 0.0
        if isinstance(fixed_var, Dt.FixedVarType):
            q = self._scale(fixed_var.setpoint, fixed_var.unit)
        elif isinstance(inject, Dt.FixedPFType):
            q = abs(power) * _tan_phi(inject.displacement)
        elif isinstance(absorb, Dt.FixedPFType):
            q = -abs(power) * _tan_phi(absorb.displacement)
        elif isinstance(volt_var, Dt.DERCurveType):
            q = self._scale(interpolate(volt_var.curve_data, self.voltage_pct), volt_var.y_unit)
        elif isinstance(watt_var, Dt.DERCurveType):
            q = self._scale(interpolate(watt_var.curve_data, pct_w), watt_var.y_unit)
        elif isinstance(watt_pf, Dt.DERCurveType):
            pf = interpolate(watt_pf.curve_data, pct_w)  # positive: absorbing (the curve point's rule)
            q = -math.copysign(abs(power) * _tan_phi(abs(pf)), pf)
        return max(-self.rating.max_var, min(self.rating.max_var, q))

    def step(self, controls: Mapping[Ctl, Setting], now: datetime) -> Output:
        """Apply ``controls`` (one per type, those in force) to the grid as it is at ``now``."""
        self._trip_check(controls, now)
        self._may_return(controls, now)
        if self.tripped_by is not None:
            return Output(0.0, 0.0, True, self.tripped_by)
        power, cause = self._active(controls)
        return Output(power, self._reactive(controls, power), False, cause)


def _tan_phi(displacement: float) -> float:
    """tan(acos(pf)): vars per watt at displacement power factor ``pf`` (0 < pf <= 1)."""
    pf = min(1.0, max(1e-3, abs(displacement)))
    return math.tan(math.acos(pf))
