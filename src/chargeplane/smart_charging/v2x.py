"""V2X (bidirectional power transfer, 2.1 Part 2 block Q) in charging schedules: the operation mode of a
period, its checks and the power it asks for. Pure and version-neutral like the rest of the engine.

A period's operation mode (Part 2 Q §2.2) says where the power target comes from: none (ChargingOnly:
``limit`` caps charging as in block K), the period's ``setpoint`` (CentralSetpoint, CentralFrequency), an
external system's (ExternalSetpoint), the grid frequency through ``v2xFreqWattCurve`` plus an aFRR signal
through ``v2xSignalWattCurve`` (LocalFrequency), the load on the upstream meter and the station's thresholds
(LocalLoadBalancing) or zero (Idle). Positive watts charge the EV, negative ones discharge it; the target is
always capped by ``limit`` and ``dischargeLimit`` (V2X.03 / V2X.04, Q09.FR.05).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present

# the modes as the 2.1 schemas name them (Part 2 Q §2.2)
OperationMode = v21.enums.OperationModeEnumType

ALL_MODES = tuple(OperationMode)
# Q01.FR.31: the modes every V2X station supports at least
REQUIRED_MODES = frozenset(
    {OperationMode.CHARGING_ONLY, OperationMode.CENTRAL_SETPOINT, OperationMode.CENTRAL_FREQUENCY}
)
# energy transfer modes that allow discharging (EnergyTransferModeEnumType)
BIDIRECTIONAL_TRANSFERS = frozenset({"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"})


@dataclass(frozen=True, slots=True)
class V2xPeriod:
    """One chargingSchedulePeriod as far as V2X is concerned. With its _L2 and _L3 values a field is phase
    L1's, else the sum of all phases (the 2.1 schema's rule for setpoint, setpointReactive, limit and
    dischargeLimit)."""

    start: int
    mode: OperationMode = OperationMode.CHARGING_ONLY
    limit: float | None = None
    discharge_limit: float | None = None  # <= 0
    setpoint: float | None = None
    setpoint_reactive: float | None = None
    baseline: float | None = None
    freq_watt: tuple[tuple[float, float], ...] = ()  # (Hz, W)
    signal_watt: tuple[tuple[float, float], ...] = ()  # (aFRR signal, W)
    preconditioning: bool | None = None
    evse_sleep: bool = False
    setpoint_l2: float | None = None
    setpoint_l3: float | None = None
    setpoint_reactive_l2: float | None = None
    setpoint_reactive_l3: float | None = None
    limit_l2: float | None = None
    limit_l3: float | None = None
    discharge_limit_l2: float | None = None
    discharge_limit_l3: float | None = None

    @property
    def controls_setpoint(self) -> bool:
        return self.mode not in (OperationMode.CHARGING_ONLY, OperationMode.EXTERNAL_LIMITS)


@dataclass(frozen=True, slots=True)
class LoadBalancing:
    """V2XChargingCtrlr.LocalLoadBalancing thresholds and offsets (W, Part 2 Q §2.2 LocalLoadBalancing)."""

    upper_threshold: float
    lower_threshold: float
    upper_offset: float
    lower_offset: float


@dataclass(frozen=True, slots=True)
class Inputs:
    """What the station measures or was told when it works a target out."""

    frequency_hz: float | None = None  # the grid frequency at the meter
    afrr_signal: int | None = None  # the aFRR signal in force (AFRRSignalRequest), None: none yet
    load_w: float | None = None  # the upstream (building) meter, positive: consumption
    external_setpoint: float | None = None  # an external system's (EMS) setpoint, ExternalSetpoint
    previous: float | None = None  # the target worked out last time (load balancing corrects it)


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str  # StatusInfo reasonCode
    detail: str


def from_wire(period: v21.datatypes.ChargingSchedulePeriodType) -> V2xPeriod:
    mode = present(period.operation_mode)
    curve = present(period.v2x_freq_watt_curve) or []
    signals = present(period.v2x_signal_watt_curve) or []
    return V2xPeriod(
        start=period.start_period,
        mode=OperationMode.CHARGING_ONLY if mode is None else OperationMode(str(mode)),
        limit=present(period.limit),
        discharge_limit=present(period.discharge_limit),
        setpoint=present(period.setpoint),
        setpoint_reactive=present(period.setpoint_reactive),
        baseline=present(period.v2x_baseline),
        freq_watt=tuple(sorted((p.frequency, p.power) for p in curve)),
        signal_watt=tuple(sorted((float(p.signal), p.power) for p in signals)),
        preconditioning=present(period.preconditioning_request),
        evse_sleep=bool(present(period.evse_sleep)),
        setpoint_l2=present(period.setpoint_l2),
        setpoint_l3=present(period.setpoint_l3),
        setpoint_reactive_l2=present(period.setpoint_reactive_l2),
        setpoint_reactive_l3=present(period.setpoint_reactive_l3),
        limit_l2=present(period.limit_l2),
        limit_l3=present(period.limit_l3),
        discharge_limit_l2=present(period.discharge_limit_l2),
        discharge_limit_l3=present(period.discharge_limit_l3),
    )


def is_v2x(period: v21.datatypes.ChargingSchedulePeriodType) -> bool:
    """A period the plain limit engine cannot express: a mode other than ChargingOnly or a V2X field."""
    mode = present(period.operation_mode)
    return (mode is not None and str(mode) != OperationMode.CHARGING_ONLY.value) or any(
        present(value) is not None
        for value in (
            period.setpoint,
            period.discharge_limit,
            period.v2x_baseline,
            period.v2x_freq_watt_curve,
        )
    )


def has_v2x_period(profile: Mapping[str, Any]) -> bool:
    """Whether a 2.x wire profile (camelCase JSON) has a period with an operation mode other than ChargingOnly:
    an operator's V2X schedule, which an offer of plain limits must not hide."""
    return any(
        period.get("operationMode", OperationMode.CHARGING_ONLY.value) != OperationMode.CHARGING_ONLY.value
        for schedule in profile.get("chargingSchedule") or []
        for period in schedule.get("chargingSchedulePeriod") or []
    )


def check_period(
    period: V2xPeriod,
    *,
    watts: bool,
    supported: frozenset[OperationMode],
    load_balancing: LoadBalancing | None,
    check_thresholds: bool = True,
) -> Refusal | None:
    """The station's checks of one period (``watts``: chargingRateUnit W). None: acceptable.
    ``check_thresholds`` False: the LocalLoadBalancing thresholds are the station's business (the CSMS)."""
    where = f"period at {period.start} s"
    mode = period.mode
    if mode not in supported:  # Q09.FR.01, and the same rule for every mode the station lacks
        return Refusal("UnsupportedParam", f"{where}: operationMode {mode.value} is not supported")
    fields = {  # Q08.FR.04 / Q10.FR.02 name the L2 / L3 variants too
        "limit": period.limit,
        "limit_L2": period.limit_l2,
        "limit_L3": period.limit_l3,
        "dischargeLimit": period.discharge_limit,
        "dischargeLimit_L2": period.discharge_limit_l2,
        "dischargeLimit_L3": period.discharge_limit_l3,
        "setpoint": period.setpoint,
        "setpoint_L2": period.setpoint_l2,
        "setpoint_L3": period.setpoint_l3,
        "setpointReactive": period.setpoint_reactive,
        "setpointReactive_L2": period.setpoint_reactive_l2,
        "setpointReactive_L3": period.setpoint_reactive_l3,
    }
    given = [name for name, value in fields.items() if value is not None]
    if mode in (OperationMode.IDLE, OperationMode.LOCAL_FREQUENCY) and given:  # Q10.FR.02, Q08.FR.04
        return Refusal("InvalidSchedule", f"{where}: {', '.join(given)} not allowed with {mode.value}")
    if mode is OperationMode.LOCAL_FREQUENCY:
        if period.baseline is None or len(period.freq_watt) < 2:  # Q08.FR.03
            return Refusal("NoFreqWattCurve", f"{where}: v2xBaseline and 2+ v2xFreqWattCurve points needed")
        if not watts:  # Q08.FR.05
            return Refusal("InvalidSchedule", f"{where}: LocalFrequency needs chargingRateUnit W")
    if (
        mode is OperationMode.LOCAL_LOAD_BALANCING
        and check_thresholds
        and (load_balancing is None or load_balancing.upper_threshold <= load_balancing.lower_threshold)
    ):  # Q09.FR.02
        return Refusal("MissingDevModelInfo", f"{where}: V2X load-balancing thresholds and offsets not set")
    if mode is OperationMode.CHARGING_ONLY:
        if period.limit is None:  # limits and setpoints per operation mode: limit required
            return Refusal("InvalidSchedule", f"{where}: ChargingOnly needs a limit")
        extra = [n for n in given if n.startswith(("dischargeLimit", "setpoint"))]
        if extra:  # Q02.FR.02, with the L2 / L3 variants
            return Refusal("InvalidSchedule", f"{where}: ChargingOnly has no {', '.join(extra)}")
    if mode in (OperationMode.CENTRAL_SETPOINT, OperationMode.CENTRAL_FREQUENCY) and period.setpoint is None:
        return Refusal("InvalidSchedule", f"{where}: {mode.value} needs a setpoint")
    if period.limit is not None and period.limit < 0:
        return Refusal("InvalidSchedule", f"{where}: a negative limit")
    if period.setpoint is not None:  # V2X.05: the setpoint within dischargeLimit .. limit
        low = period.discharge_limit
        if (period.limit is not None and period.setpoint > period.limit) or (
            low is not None and period.setpoint < low
        ):
            return Refusal("InvalidSchedule", f"{where}: setpoint outside dischargeLimit .. limit")
    return None


def check_update(
    period: v21.datatypes.ChargingSchedulePeriodType,
    update: v21.datatypes.ChargingScheduleUpdateType,
    *,
    watts: bool,
) -> Refusal | None:
    """The CSMS's dynamic update (UpdateDynamicSchedule, a pull's answer) of a Dynamic profile's one
    ``period``, Q04 / Q07: a central mode's period takes setpoints only, never limit / dischargeLimit
    (Q03.FR.02, which Q04 and Q07 follow); ChargingOnly takes no setpoint nor dischargeLimit; Idle and
    LocalFrequency take no values at all (Q10.FR.02, Q08.FR.04); the period as updated must pass the
    station's checks (V2X.05: the setpoint within dischargeLimit .. limit). None: acceptable."""
    fields = [
        f
        for f in msgspec.structs.fields(update)
        if f.name != "custom_data" and getattr(update, f.name) is not UNSET
    ]
    given = {f.name: getattr(update, f.name) for f in fields}
    names = sorted(f.encode_name for f in fields)
    mode = from_wire(period).mode
    if mode in (OperationMode.CENTRAL_SETPOINT, OperationMode.CENTRAL_FREQUENCY):
        limits = [n for n in names if n.startswith(("limit", "dischargeLimit"))]
        if limits:  # Q03.FR.02
            return Refusal("InvalidValue", f"{mode.value}: the CSMS sends no {', '.join(limits)}")
    if mode is OperationMode.CHARGING_ONLY:
        extra = [n for n in names if n.startswith(("setpoint", "dischargeLimit"))]
        if extra:
            return Refusal("InvalidValue", f"ChargingOnly: no {', '.join(extra)}")
    if mode in (OperationMode.IDLE, OperationMode.LOCAL_FREQUENCY) and names:
        return Refusal("InvalidValue", f"{mode.value}: no {', '.join(names)}")
    merged = from_wire(msgspec.structs.replace(period, **given))
    return check_period(
        merged, watts=watts, supported=frozenset(OperationMode), load_balancing=None, check_thresholds=False
    )


def interpolate(curve: Sequence[tuple[float, float]], x: float) -> float:
    """Linear interpolation on a curve of (x, y) points sorted by x; flat beyond its ends."""
    if x <= curve[0][0]:
        return curve[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(curve):
        if x <= x1:
            return y0 if x1 == x0 else y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return curve[-1][1]


def load_delta(load_w: float, config: LoadBalancing) -> float:
    """Q09.FR.04: what the EV adds to its setpoint to bring the upstream load back between the thresholds."""
    if load_w > config.upper_threshold:
        return config.upper_threshold + config.upper_offset - load_w
    if load_w < config.lower_threshold:
        return config.lower_threshold + config.lower_offset - load_w
    return 0.0


def cap(value: float, period: V2xPeriod) -> float:
    """V2X.03 / V2X.04 / Q09.FR.05: not above ``limit``, not below ``dischargeLimit``."""
    if period.limit is not None:
        value = min(value, period.limit)
    if period.discharge_limit is not None:
        value = max(value, period.discharge_limit)
    return value


Phases = tuple[float, float, float]


def _per_phase(l1: float | None, l2: float | None, l3: float | None) -> Phases | None:
    """Three phase values when L2 and L3 are given (L1 the field itself), else None."""
    if l1 is None or l2 is None or l3 is None:
        return None
    return (l1, l2, l3)


def _phase_bounds(first: float | None, l2: float | None, l3: float | None) -> tuple[float | None, ...]:
    """A limit (or dischargeLimit) per phase: its L1 / L2 / L3 values, else a third of the sum each."""
    given = _per_phase(first, l2, l3)
    if given is not None:
        return given
    return (None,) * 3 if first is None else (first / 3,) * 3


def phase_setpoints(period: V2xPeriod) -> Phases | None:
    """A central mode's setpoint per phase when the period gives setpoint_L2 and _L3 (setpoint is then L1),
    each kept within its phase's limit and dischargeLimit (V2X.03/04); None: one setpoint for the sum."""
    if period.mode not in (OperationMode.CENTRAL_SETPOINT, OperationMode.CENTRAL_FREQUENCY):
        return None
    given = _per_phase(period.setpoint, period.setpoint_l2, period.setpoint_l3)
    if given is None:
        return None
    highs = _phase_bounds(period.limit, period.limit_l2, period.limit_l3)
    lows = _phase_bounds(period.discharge_limit, period.discharge_limit_l2, period.discharge_limit_l3)
    out = []
    for value, high, low in zip(given, highs, lows, strict=True):
        value = value if high is None else min(value, high)
        out.append(value if low is None else max(value, low))
    return (out[0], out[1], out[2])


def reactive(period: V2xPeriod, external: float | None = None) -> float | None:
    """The reactive setpoint (sum of the phases; positive inductive) the period asks for: setpointReactive,
    plus its _L2 / _L3 values when given; an ExternalSetpoint period's from the external system when it gave
    one (Q05.FR.01). None: none (Idle and LocalFrequency have none, Q08.FR.01 / Q10.FR.01)."""
    if period.mode is OperationMode.EXTERNAL_SETPOINT and external is not None:
        return external
    if period.mode not in (
        OperationMode.CENTRAL_SETPOINT,
        OperationMode.CENTRAL_FREQUENCY,
        OperationMode.EXTERNAL_SETPOINT,
        OperationMode.LOCAL_LOAD_BALANCING,
    ):
        return None
    phases = _per_phase(period.setpoint_reactive, period.setpoint_reactive_l2, period.setpoint_reactive_l3)
    return period.setpoint_reactive if phases is None else sum(phases)


def target(period: V2xPeriod, inputs: Inputs, load_balancing: LoadBalancing | None = None) -> float | None:
    """The signed power (or current) target of ``period`` in its schedule's unit; None: no target, the
    EV charges as the limits allow (ChargingOnly, ExternalLimits, an external setpoint not given yet)."""
    mode = period.mode
    if mode is OperationMode.IDLE:
        return 0.0
    if mode in (OperationMode.CENTRAL_SETPOINT, OperationMode.CENTRAL_FREQUENCY):
        phases = phase_setpoints(period)
        if phases is not None:  # setpoint_L2 / _L3: the sum of the phases' (each within its own bounds)
            return sum(phases)
        return None if period.setpoint is None else cap(period.setpoint, period)
    if mode is OperationMode.EXTERNAL_SETPOINT:  # Q05.FR.01
        value = inputs.external_setpoint if inputs.external_setpoint is not None else period.setpoint
        return None if value is None else cap(value, period)
    if mode is OperationMode.LOCAL_FREQUENCY:  # Q08.FR.06 / Q08.FR.10
        value = period.baseline or 0.0
        if inputs.frequency_hz is not None and period.freq_watt:
            value += interpolate(period.freq_watt, inputs.frequency_hz)
        if inputs.afrr_signal is not None and period.signal_watt:
            value += interpolate(period.signal_watt, float(inputs.afrr_signal))
        return value
    if mode is OperationMode.LOCAL_LOAD_BALANCING:  # Q09.FR.04 / FR.05
        # the upstream meter sees the EV too: the correction adds to the target already in force
        value = inputs.previous if inputs.previous is not None else (period.setpoint or 0.0)
        if inputs.load_w is not None and load_balancing is not None:
            value += load_delta(inputs.load_w, load_balancing)
        return cap(value, period)
    return None
