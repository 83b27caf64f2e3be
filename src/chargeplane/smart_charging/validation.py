"""The checks of a SetChargingProfile (2.0.1 K01.FR.*, 1.6 §3.13 / §5.16) before a profile is installed.

:func:`check_set` answers with a :class:`Verdict`: accepted, or the reason (a StatusInfo reasonCode, at most 20
characters) and a human-readable detail for the Rejected answer. :func:`replaced` names the installed profiles
the new one takes the place of. Both are written once, version-neutral; the few rules that differ between 1.6
and 2.x take ``legacy`` (1.6):

* 1.6 replaces a profile with the same stackLevel / purpose / connector (§3.13.1); 2.x refuses it when the
  validity periods overlap (K01.FR.06, K01.FR.39; reasonCode DuplicateProfile), and refuses TxDefaultProfiles
  on EVSE 0 and on an EVSE at one stack level (K01.FR.52/53), which 1.6 does not;
* 1.6 TxProfiles may leave the transactionId out (the running transaction of the connector is meant); 2.x
  needs it (K01.FR.03);
* 2.x forbids a startSchedule on a Relative profile (K01.FR.41); 1.6 ignores it.

:func:`check_offer` adds the 2.x rule on how many chargingSchedules a profile carries (K01.FR.34).

Pure: no clock, no I/O.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from chargeplane.smart_charging.model import Kind, Profile, Purpose, RateUnit, Schedule

MAX_SCHEDULES = 3  # ChargingProfileType.chargingSchedule maxItems: the SAScheduleTuples of ISO 15118


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What the station supports (SmartChargingCtrlr variables; 1.6 configuration keys)."""

    evse_ids: frozenset[int]  # the EVSEs (1.6: connectors) that exist; 0 is the station
    rate_units: frozenset[
        RateUnit
    ]  # ChargingScheduleChargingRateUnit / ChargingScheduleAllowedChargingRateUnit
    max_stack_level: int  # ProfileStackLevel / ChargeProfileMaxStackLevel
    max_periods: int  # PeriodsPerSchedule / ChargingScheduleMaxPeriods
    max_profiles: int | None = None  # Entries of ChargingProfiles / MaxChargingProfilesInstalled
    phase_switching: bool = False  # ACPhaseSwitchingSupported (K01.FR.46/48)


@dataclass(frozen=True, slots=True)
class Verdict:
    accepted: bool
    reason: str | None = None
    detail: str | None = None

    @property
    def status(self) -> str:
        return "Accepted" if self.accepted else "Rejected"


ACCEPTED = Verdict(True)


def _no(reason: str, detail: str) -> Verdict:
    return Verdict(False, reason, detail)


def _overlap(a: Profile, b: Profile) -> bool:
    """Whether the validity periods [validFrom, validTo) of two profiles overlap (open ends: forever)."""
    a_before = a.valid_to is not None and b.valid_from is not None and a.valid_to <= b.valid_from
    b_before = b.valid_to is not None and a.valid_from is not None and b.valid_to <= a.valid_from
    return not (a_before or b_before)


def replaced(profile: Profile, installed: Iterable[Profile], *, legacy: bool) -> list[Profile]:
    """The installed profiles the new one replaces: the one with its id (K01.FR.05; 1.6 §3.13.1), and in 1.6
    also the one with the same stackLevel, purpose and connector."""
    out = []
    for old in installed:
        if old.id == profile.id or (
            legacy
            and old.stack_level == profile.stack_level
            and old.purpose is profile.purpose
            and old.evse_id == profile.evse_id
        ):
            out.append(old)
    return out


def _check_target(
    profile: Profile, running: Mapping[int, str], caps: Capabilities, *, legacy: bool
) -> Verdict | None:
    """Purpose, EVSE and transaction."""
    evse = profile.evse_id
    if profile.purpose is Purpose.EXTERNAL_CONSTRAINTS:
        return _no("InvalidPurpose", "ChargingStationExternalConstraints is not set by the CSMS (K01.FR.22)")
    if evse != 0 and evse not in caps.evse_ids:
        return _no("UnknownEVSE", f"EVSE {evse} does not exist (K01.FR.28)")
    if profile.purpose is Purpose.CHARGING_STATION_MAX:
        if evse != 0:
            return _no("InvalidEVSE", "ChargingStationMaxProfile only on EVSE 0")
        if profile.kind is Kind.RELATIVE:
            return _no("InvalidKind", "ChargingStationMaxProfile is not Relative (K01.FR.38)")
    if profile.purpose is Purpose.TX:
        if evse == 0:
            return _no("InvalidEVSE", "TxProfile only on an EVSE > 0 (K01.FR.16)")
        current = running.get(evse)
        if profile.transaction_id is None and not legacy:
            return _no("MissingTransaction", "TxProfile without transactionId (K01.FR.03)")
        if current is None:
            return _no("NoTransaction", f"no transaction on EVSE {evse} (K01.FR.09)")
        if profile.transaction_id is not None and profile.transaction_id != current:
            return _no("UnknownTransaction", f"transaction {profile.transaction_id} is not on EVSE {evse}")
    return None


def _check_schedule(profile: Profile, caps: Capabilities, *, legacy: bool) -> Verdict | None:
    schedule = profile.schedule
    if schedule.unit not in caps.rate_units:
        return _no("UnsupportedRateUnit", f"chargingRateUnit {schedule.unit.value} (K01.FR.26)")
    if not 0 <= profile.stack_level <= caps.max_stack_level:
        return _no("InvalidStackLevel", f"stackLevel above {caps.max_stack_level}")
    periods = schedule.periods
    if not periods or periods[0].start != 0:
        return _no("InvalidSchedule", "the first startPeriod is 0 (K01.FR.31)")
    if any(b.start <= a.start for a, b in itertools.pairwise(periods)):
        return _no("InvalidSchedule", "startPeriods ascend (K01.FR.35)")
    if len(periods) > caps.max_periods:
        return _no("TooManyPeriods", f"more than {caps.max_periods} periods (PeriodsPerSchedule)")
    for period in periods:
        if period.limit < 0:
            return _no("InvalidValue", "a negative limit")
        if period.number_phases is not None and not 1 <= period.number_phases <= 3:
            return _no("InvalidValue", "numberPhases is 1, 2 or 3")
        if period.phase_to_use is not None:
            if period.number_phases != 1:
                return _no("InvalidValue", "phaseToUse only with numberPhases 1 (K01.FR.19)")
            if not caps.phase_switching:
                return _no("NoPhaseSwitching", "the EVSE cannot switch phases (K01.FR.48)")
    if profile.kind is Kind.DYNAMIC and len(periods) != 1:
        return _no("InvalidSchedule", "a Dynamic profile has one period from 0 (K28.FR.01-03)")
    if profile.purpose is Purpose.PRIORITY_CHARGING and schedule.duration is not None:
        return _no("InvalidSchedule", "a PriorityCharging schedule has no duration (K01.FR.70)")
    if schedule.duration is not None and schedule.duration <= 0:
        return _no("InvalidValue", "duration is positive")
    if profile.kind in (Kind.ABSOLUTE, Kind.RECURRING) and schedule.start is None:
        return _no("MissingStartSchedule", "Absolute and Recurring need startSchedule (K01.FR.40)")
    if profile.kind is Kind.RELATIVE and schedule.start is not None and not legacy:
        return _no("InvalidSchedule", "a Relative profile has no startSchedule (K01.FR.41)")
    if profile.kind is Kind.RECURRING and profile.recurrency is None:
        return _no("MissingRecurrency", "a Recurring profile needs recurrencyKind")
    if (
        profile.valid_from is not None
        and profile.valid_to is not None
        and profile.valid_to <= profile.valid_from
    ):
        return _no("InvalidValue", "validTo is after validFrom")
    return None


def _check_installed(
    profile: Profile, installed: Sequence[Profile], caps: Capabilities, *, legacy: bool
) -> Verdict | None:
    gone = replaced(profile, installed, legacy=legacy)
    if any(old.purpose is Purpose.EXTERNAL_CONSTRAINTS for old in gone):
        return _no("InvalidProfileId", "an external constraints profile is not replaced (K01.FR.05)")
    others = [old for old in installed if old not in gone]
    for old in others:
        if old.stack_level != profile.stack_level or old.purpose is not profile.purpose:
            continue
        if legacy:  # 1.6 has neither rule: the connector's own profile leads on equal levels
            continue
        if profile.purpose is Purpose.TX_DEFAULT and (old.evse_id == 0) != (profile.evse_id == 0):
            # K01.FR.52 (new on EVSE 0, one on an EVSE) and K01.FR.53 (new on an EVSE, one on EVSE 0)
            return _no("DuplicateProfile", f"TxDefaultProfile {old.id} has stackLevel {old.stack_level}")
        if profile.purpose is Purpose.TX:
            if old.transaction_id == profile.transaction_id:  # K01.FR.39
                return _no("DuplicateProfile", f"TxProfile {old.id} has this stackLevel and transaction")
        elif old.evse_id == profile.evse_id and _overlap(old, profile):  # K01.FR.06
            return _no("DuplicateProfile", f"profile {old.id} has this stackLevel, purpose and EVSE")
    if caps.max_profiles is not None and len(others) >= caps.max_profiles:
        return _no("TooManyProfiles", f"{caps.max_profiles} profiles are installed already")
    return None


def check_set(
    profile: Profile,
    *,
    installed: Sequence[Profile],
    running: Mapping[int, str],
    caps: Capabilities,
    legacy: bool = False,
) -> Verdict:
    """Whether to install ``profile`` (its ``evse_id`` is the request's evseId / connectorId).

    ``installed``: the profiles on the station; ``running``: the transaction id per EVSE with one."""
    return (
        _check_target(profile, running, caps, legacy=legacy)
        or _check_schedule(profile, caps, legacy=legacy)
        or _check_installed(profile, installed, caps, legacy=legacy)
        or ACCEPTED
    )


def check_offer(
    profile: Profile, schedules: Sequence[tuple[int, Schedule]], *, iso15118: bool, caps: Capabilities
) -> Verdict:
    """K01.FR.34 / K15.FR.07: the chargingSchedules of a 2.x profile (``schedules``: id and schedule, the
    first the one :func:`check_set` saw). One, unless it is the TxProfile of a transaction whose EV sent its
    needs over ISO 15118 (``iso15118``); then up to three, each valid as a lone one, their ids distinct (the
    EV names its pick by id, K15.FR.19)."""
    if len(schedules) <= 1:
        return ACCEPTED
    if profile.kind is Kind.DYNAMIC:
        return _no("InvalidSchedule", "a Dynamic profile has one chargingSchedule (K28.FR.01)")
    if profile.purpose is not Purpose.TX or not iso15118:
        return _no("TooManySchedules", "one chargingSchedule without ISO 15118 (K01.FR.34)")
    if len(schedules) > MAX_SCHEDULES:
        return _no("TooManySchedules", f"at most {MAX_SCHEDULES} chargingSchedules (K15.FR.07)")
    if len({schedule_id for schedule_id, _ in schedules}) != len(schedules):
        return _no("InvalidSchedule", "the chargingSchedule ids are not distinct")
    for schedule_id, schedule in schedules:
        verdict = _check_schedule(replace(profile, schedule=schedule), caps, legacy=False)
        if verdict is not None:
            return Verdict(False, verdict.reason, f"chargingSchedule {schedule_id}: {verdict.detail}")
    return ACCEPTED
