"""Between each version's wire types and the version-neutral model (``model.py``): 1.6 ``ChargingProfile``
(csChargingProfiles, §7.7), 2.0.1 / 2.1 ``ChargingProfileType`` into :class:`Profile`; a :class:`Composite` back
into 1.6 ``ChargingSchedule`` (GetCompositeSchedule.conf) and 2.x ``CompositeScheduleType`` (K08).

What the model cannot hold is refused with :class:`Unconvertible` (the caller answers Rejected with its
reason): 2.1 purposes and kinds it lacks, a period with neither ``limit`` nor a V2X field, timestamps that do
not parse. A 2.1 V2X period without ``limit`` (block Q: a setpoint, a frequency curve, Idle) caps no charging:
its limit is infinite, and :mod:`.v2x` works its target out. Pure: no clock, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime
from typing import TypeAlias

from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.smart_charging import v2x
from chargeplane.smart_charging.model import (
    Composite,
    Kind,
    Period,
    Profile,
    Purpose,
    RateUnit,
    Recurrency,
    Schedule,
)

Profile2x: TypeAlias = v201.datatypes.ChargingProfileType | v21.datatypes.ChargingProfileType
Schedule2x: TypeAlias = v201.datatypes.ChargingScheduleType | v21.datatypes.ChargingScheduleType
Period2x: TypeAlias = v201.datatypes.ChargingSchedulePeriodType | v21.datatypes.ChargingSchedulePeriodType

PURPOSE_16 = {
    "ChargePointMaxProfile": Purpose.CHARGING_STATION_MAX,
    "TxDefaultProfile": Purpose.TX_DEFAULT,
    "TxProfile": Purpose.TX,
}
PURPOSE_TO_16 = {purpose: name for name, purpose in PURPOSE_16.items()}


class Unconvertible(ValueError):
    """A wire profile the model cannot represent; ``reason`` is a StatusInfo reasonCode (<= 20 chars)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _kind(name: str) -> Kind:
    try:
        return Kind(name)
    except ValueError as error:  # not a kind of OCPP (the schemas keep this from happening)
        raise Unconvertible("UnsupportedKind", f"chargingProfileKind {name} is not supported") from error


def _recurrency(name: str | None) -> Recurrency | None:
    return None if name is None else Recurrency(name)


def from_16(profile: v16.datatypes.ChargingProfile, connector_id: int) -> Profile:
    """A 1.6 csChargingProfiles set on ``connector_id`` (0: the charge point)."""
    schedule = profile.charging_schedule
    tx = present(profile.transaction_id)
    return Profile(
        id=profile.charging_profile_id,
        stack_level=profile.stack_level,
        purpose=PURPOSE_16[str(profile.charging_profile_purpose)],
        kind=_kind(str(profile.charging_profile_kind)),
        schedule=Schedule(
            RateUnit(str(schedule.charging_rate_unit)),
            tuple(
                Period(p.start_period, p.limit, present(p.number_phases))
                for p in schedule.charging_schedule_period
            ),
            present(schedule.duration),
            _aware(present(schedule.start_schedule), "startSchedule"),
            present(schedule.min_charging_rate),
        ),
        evse_id=connector_id,
        recurrency=_recurrency(_str(present(profile.recurrency_kind))),
        valid_from=_aware(present(profile.valid_from), "validFrom"),
        valid_to=_aware(present(profile.valid_to), "validTo"),
        transaction_id=None if tx is None else str(tx),
    )


def _str(value: object | None) -> str | None:
    return None if value is None else str(value)


def _aware(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        return from_wire(text)
    except ValueError as error:
        raise Unconvertible("InvalidValue", f"{what}: {error}") from error


def _period_2x(period: Period2x) -> Period:
    limit = present(period.limit)
    if limit is None and isinstance(period, v21.datatypes.ChargingSchedulePeriodType) and v2x.is_v2x(period):
        limit = math.inf  # 2.1 V2X (block Q): no charging cap of its own; its target is ``v2x``'s business
    if limit is None:
        raise Unconvertible("UnsupportedPeriod", "a chargingSchedulePeriod without limit is not supported")
    return Period(period.start_period, limit, present(period.number_phases), present(period.phase_to_use))


def _schedule_2x(schedule: Schedule2x) -> Schedule:
    return Schedule(
        RateUnit(str(schedule.charging_rate_unit)),
        tuple(_period_2x(p) for p in schedule.charging_schedule_period),
        present(schedule.duration),
        _aware(present(schedule.start_schedule), "startSchedule"),
        present(schedule.min_charging_rate),
    )


def schedules_2x(profile: Profile2x) -> list[tuple[int, Schedule]]:
    """Every chargingSchedule of the profile with its id: the 2-3 an ISO 15118 EV chooses from (K15.FR.07)."""
    return [(s.id, _schedule_2x(s)) for s in profile.charging_schedule]


def dynamic_start(profile: Profile2x) -> datetime | None:
    """Where a Dynamic profile's chargingSchedule.duration counts from: its last update (dynUpdateTime), so
    that it lapses when no update came within duration (K28 scenario, Q04 step 4, Q05.FR.07); None: from
    receipt (a 2.0.1 profile or one not stamped yet)."""
    stamp = (
        present(profile.dyn_update_time) if isinstance(profile, v21.datatypes.ChargingProfileType) else None
    )
    return None if stamp is None else _aware(stamp, "dynUpdateTime")


def from_2x(profile: Profile2x, evse_id: int) -> Profile:
    """A 2.0.1 / 2.1 ChargingProfileType set on ``evse_id``, with its first chargingSchedule. More than one
    is for ISO 15118 schedule selection (K15-K17, K01.FR.34): see :func:`schedules_2x`."""
    name = str(profile.charging_profile_purpose)
    try:
        purpose = Purpose(name)
    except ValueError as error:  # not a purpose of OCPP (the schemas keep this from happening)
        raise Unconvertible(
            "UnsupportedPurpose", f"chargingProfilePurpose {name} is not supported"
        ) from error
    kind = _kind(str(profile.charging_profile_kind))
    schedule = _schedule_2x(profile.charging_schedule[0])
    if kind is Kind.DYNAMIC and schedule.duration is not None:
        schedule = replace(schedule, start=dynamic_start(profile))
    return Profile(
        id=profile.id,
        stack_level=profile.stack_level,
        purpose=purpose,
        kind=kind,
        schedule=schedule,
        evse_id=evse_id,
        recurrency=_recurrency(_str(present(profile.recurrency_kind))),
        valid_from=_aware(present(profile.valid_from), "validFrom"),
        valid_to=_aware(present(profile.valid_to), "validTo"),
        transaction_id=present(profile.transaction_id),
    )


def schedule_count(profile: Profile2x) -> int:
    return len(profile.charging_schedule)


def _limit(value: float) -> float:
    """Wire limits with one decimal (2.0.1 "multipleOf 0.1" for A; W are whole in practice)."""
    return round(value, 1)


def composite_16(composite: Composite) -> v16.datatypes.ChargingSchedule:
    """1.6 GetCompositeSchedule.conf chargingSchedule (its scheduleStart goes next to it)."""
    return v16.datatypes.ChargingSchedule(
        duration=composite.duration,
        start_schedule=to_wire(composite.start),
        charging_rate_unit=v16.enums.ChargingRateUnitType(composite.unit.value),
        charging_schedule_period=[
            v16.datatypes.ChargingSchedulePeriod(
                start_period=i.start, limit=_limit(i.limit), number_phases=i.number_phases
            )
            for i in composite.intervals
        ],
    )


def composite_periods(composite: Composite) -> list[tuple[int, float, int]]:
    """The pieces of a composite as 2.x ``chargingSchedulePeriod`` values (startPeriod, limit, numberPhases):
    the caller builds its dialect's ``CompositeScheduleType`` around them (K08.FR.04: the unit asked for,
    the phases each piece assumes)."""
    return [(i.start, _limit(i.limit), i.number_phases) for i in composite.intervals]
