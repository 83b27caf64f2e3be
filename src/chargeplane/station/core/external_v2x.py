"""An external system's (EMS) V2X limits and schedules on a 2.1 station (block Q, Q05.FR.02/04/06 and Q06).

The EMS is an input of the station like the grid frequency: ``StationCore.external_limits`` gives a single
charging ``limit`` and ``dischargeLimit`` (W, negative) for an EVSE (0: the station), and
``StationCore.external_schedule`` a schedule of such limits (operation mode ExternalLimits) or of setpoints
(ExternalSetpoint, with setpointReactive) from now on.

* A single pair of limits lands in the CSMS's Dynamic TxProfile / TxDefaultProfile whose period is
  ExternalLimits (Q05.FR.02/04/06: both values, dynUpdateTime now, through
  :meth:`DynamicSchedules.apply`); else it is a Dynamic ChargingStationExternalConstraints profile with one
  ExternalLimits period (Q06.FR.02/05/07), notified (Q06.FR.11) and again on a change above
  LimitChangeSignificance (Q06.FR.12).
* A schedule is an Absolute ChargingStationExternalConstraints profile starting now (Q06.FR.01 limits,
  Q06.FR.03 setpoints), notified with the received schedule (Q06.FR.10).
* ExternalConstraintsProfileDisallowed refuses both (Q06.FR.08: False, no profile).

The composite caps charging with the profiles' ``limit``; :class:`~.v2x.V2x` keeps a discharging target at or
above the ``dischargeLimit`` of the ExternalLimits period in force (Q06.FR.05; on EVSE 0 shared equally by the
EVSEs with a transaction, Q06.FR.30) and follows an ExternalSetpoint period of a schedule as it does a single
setpoint (Q06.FR.20-22, 31).

Decisions: one profile per EVSE for the single limits and one for a schedule (a new schedule replaces the
last); ``limit`` None in a single pair means no charging cap of the EMS (the period says so with an infinite
limit left out), both None lift the EMS's limits (ClearedChargingLimit, K13).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present
from chargeplane.smart_charging import wire
from chargeplane.smart_charging.model import Kind, Purpose
from chargeplane.station.core.context import Controller
from chargeplane.station.core.dynamic_schedule import DynamicSchedules, notify_external
from chargeplane.station.core.smart_charging import CTRLR, EXTERNAL_ID_BASE, Installed, SmartCharging
from chargeplane.station.core.v2x import V2x

LIMITS_ID_BASE = EXTERNAL_ID_BASE + 300_000  # the EMS's single V2X limits: plus the EVSE id
SCHEDULE_ID_BASE = EXTERNAL_ID_BASE + 200_000  # the EMS's V2X schedule: plus the EVSE id
Mode = v21.enums.OperationModeEnumType
EXTERNAL_LIMITS = Mode.EXTERNAL_LIMITS
EXTERNAL_SETPOINT = Mode.EXTERNAL_SETPOINT


@dataclass(frozen=True, slots=True)
class ExternalPeriod:
    """One period of an EMS schedule, from ``start`` seconds after now (W; discharge_limit <= 0)."""

    start: int
    limit: float | None = None
    discharge_limit: float | None = None
    setpoint: float | None = None
    setpoint_reactive: float | None = None


def _opt(value: float | None) -> float | msgspec.UnsetType:
    return UNSET if value is None else value


def wire_period(mode: Mode, period: ExternalPeriod) -> v21.datatypes.ChargingSchedulePeriodType:
    """The 2.1 period of ``mode``: limits for ExternalLimits, setpoints for ExternalSetpoint."""
    if mode is EXTERNAL_LIMITS:
        return v21.datatypes.ChargingSchedulePeriodType(
            start_period=period.start,
            operation_mode=mode,
            limit=_opt(period.limit),
            discharge_limit=_opt(period.discharge_limit),
        )
    return v21.datatypes.ChargingSchedulePeriodType(
        start_period=period.start,
        operation_mode=mode,
        setpoint=_opt(period.setpoint),
        setpoint_reactive=_opt(period.setpoint_reactive),
    )


def check(mode: Mode, periods: Sequence[ExternalPeriod]) -> str | None:
    """What is wrong with an EMS schedule (None: nothing): starts ascending from 0, a dischargeLimit <= 0,
    a limit >= 0, a setpoint for each ExternalSetpoint period."""
    if not periods or periods[0].start != 0:
        return "the first period must start at 0"
    if any(b.start <= a.start for a, b in itertools.pairwise(periods)):
        return "periods must start in ascending order"
    for p in periods:
        if p.discharge_limit is not None and p.discharge_limit > 0:
            return "a dischargeLimit must be 0 or negative"
        if p.limit is not None and p.limit < 0:
            return "a limit must be 0 or positive"
        if mode is EXTERNAL_SETPOINT and p.setpoint is None:
            return "an ExternalSetpoint period needs a setpoint"
    return None


class ExternalV2x(Controller):
    __slots__ = ()

    @property
    def _smart(self) -> SmartCharging:
        return self.ctx.get(SmartCharging)

    def _find(self, profile_id: int) -> Installed | None:
        return next((i for i in self._smart.installed if i.profile.id == profile_id), None)

    def limits(
        self, evse_id: int, limit: float | None, discharge_limit: float | None, now: datetime, source: str
    ) -> bool:
        """The EMS's single charging and discharging limits (W) for ``evse_id`` (0: the station); both None:
        none any more. False: refused (Q06.FR.08)."""
        dynamic = self.ctx.get(DynamicSchedules)
        targets = [i for i in self._smart.installed if _waits_for_limits(i, evse_id)]
        if targets and (limit is not None or discharge_limit is not None):  # Q05.FR.02/04/06
            update = v21.datatypes.ChargingScheduleUpdateType(
                limit=_opt(limit), discharge_limit=_opt(discharge_limit)
            )
            for installed in targets:
                dynamic.apply(installed, update, now)
            return True
        profile_id = LIMITS_ID_BASE + evse_id
        old = self._find(profile_id)
        if limit is None and discharge_limit is None:
            if old is not None:
                self._remove(old, evse_id, now)
            return True
        if self.ctx.model.flag(CTRLR, "ExternalConstraintsProfileDisallowed"):
            return False  # Q06.FR.08
        period = wire_period(EXTERNAL_LIMITS, ExternalPeriod(0, limit, discharge_limit))
        raw = self._profile(profile_id, v21.enums.ChargingProfileKindEnumType.DYNAMIC, [period], now)
        before = None if old is None else _values(old)
        self._install(raw, evse_id, source, now)
        if before is None or self._significant(before, (limit, discharge_limit)):  # Q06.FR.11/12
            notify_external(self.ctx, raw, evse_id, source, now)
        return True

    def schedule(
        self, evse_id: int, mode_name: str, periods: Sequence[ExternalPeriod], now: datetime, source: str
    ) -> bool:
        """Q06.FR.01/03: the EMS's schedule of limits (ExternalLimits) or setpoints (ExternalSetpoint) from
        now, an Absolute external constraints profile, notified (Q06.FR.10); empty: none any more. False:
        refused (Q06.FR.08); ValueError: another mode or a malformed schedule."""
        mode = Mode(mode_name)
        if mode not in (EXTERNAL_LIMITS, EXTERNAL_SETPOINT):
            raise ValueError(f"an external schedule is ExternalLimits or ExternalSetpoint, not {mode_name}")
        profile_id = SCHEDULE_ID_BASE + evse_id
        if not periods:
            old = self._find(profile_id)
            if old is not None:
                self._remove(old, evse_id, now)
            return True
        problem = check(mode, periods)
        if problem is not None:
            raise ValueError(problem)
        if self.ctx.model.flag(CTRLR, "ExternalConstraintsProfileDisallowed"):
            return False
        raw = self._profile(
            profile_id,
            v21.enums.ChargingProfileKindEnumType.ABSOLUTE,
            [wire_period(mode, p) for p in periods],
            now,
        )
        self._install(raw, evse_id, source, now)
        notify_external(self.ctx, raw, evse_id, source, now)
        return True

    # ------------------------------------------------------------------ helpers
    def _profile(
        self,
        profile_id: int,
        kind: v21.enums.ChargingProfileKindEnumType,
        periods: list[v21.datatypes.ChargingSchedulePeriodType],
        now: datetime,
    ) -> v21.datatypes.ChargingProfileType:
        stamp = self.ctx.station_time(now).replace(microsecond=0)
        dynamic = kind is v21.enums.ChargingProfileKindEnumType.DYNAMIC
        return v21.datatypes.ChargingProfileType(
            id=profile_id,
            stack_level=0,
            charging_profile_purpose=v21.enums.ChargingProfilePurposeEnumType.CHARGING_STATION_EXTERNAL_CONSTRAINTS,
            charging_profile_kind=kind,
            dyn_update_time=self.ctx.ts(now) if dynamic else UNSET,  # Q06.FR.07
            charging_schedule=[
                v21.datatypes.ChargingScheduleType(
                    id=1,
                    start_schedule=UNSET if dynamic else self.ctx.ts(stamp),
                    charging_rate_unit=v21.enums.ChargingRateUnitEnumType.W,
                    charging_schedule_period=periods,
                )
            ],
        )

    def _install(
        self, raw: v21.datatypes.ChargingProfileType, evse_id: int, source: str, now: datetime
    ) -> None:
        smart = self._smart
        smart.installed = [i for i in smart.installed if i.profile.id != raw.id]
        smart.installed.append(Installed(wire.from_2x(raw, evse_id), raw, source))
        smart.changed(now)
        self.ctx.get(V2x).evaluate_all(now)

    def _remove(self, old: Installed, evse_id: int, now: datetime) -> None:
        smart = self._smart
        smart.installed = [i for i in smart.installed if i is not old]
        smart.changed(now)
        smart.limit_cleared(evse_id, old.source, now)  # K13
        self.ctx.get(V2x).evaluate_all(now)

    def _significant(
        self, before: tuple[float | None, float | None], after: tuple[float | None, float | None]
    ) -> bool:
        """Q06.FR.12: a value appeared, went, or moved by more than LimitChangeSignificance percent."""
        significance = float(self.ctx.model.value(CTRLR, "LimitChangeSignificance") or 0)
        for old, new in zip(before, after, strict=True):
            if (old is None) != (new is None):
                return True
            if old is not None and new is not None and abs(new - old) > abs(old) * significance / 100:
                return True
        return False


def _waits_for_limits(installed: Installed, evse_id: int) -> bool:
    """Q05.FR.02: a CSMS's Dynamic TxProfile / TxDefaultProfile on ``evse_id`` (or EVSE 0) whose period is
    ExternalLimits: the EMS's limits go into it."""
    raw = installed.wire
    return (
        isinstance(raw, v21.datatypes.ChargingProfileType)
        and installed.profile.kind is Kind.DYNAMIC
        and installed.profile.purpose in (Purpose.TX, Purpose.TX_DEFAULT)
        and installed.profile.evse_id in (0, evse_id)
        and present(raw.charging_schedule[0].charging_schedule_period[0].operation_mode) == EXTERNAL_LIMITS
    )


def _values(installed: Installed) -> tuple[float | None, float | None]:
    """The limit and dischargeLimit of an EMS single-limits profile's one period."""
    raw = installed.wire
    if not isinstance(raw, v21.datatypes.ChargingProfileType):
        return (None, None)
    period = raw.charging_schedule[0].charging_schedule_period[0]
    return (present(period.limit), present(period.discharge_limit))
