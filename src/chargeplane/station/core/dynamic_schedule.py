"""Dynamic charging profiles on the station (2.1 K28, K29) and local generation (K27).

A profile of kind Dynamic holds one period whose values change in place (K28.FR.01/02; the checks are in
:mod:`chargeplane.smart_charging.rules21`). Its values come from

* the CSMS pushing them: UpdateDynamicSchedule (K28.FR.06, Rejected with InvalidProfile for a profile that
  is not installed or not Dynamic, K28.FR.11);
* the station pulling them: every dynUpdateInterval seconds after its dynUpdateTime a
  PullDynamicScheduleUpdate (K28.FR.10), whose Accepted answer is applied at once (K28.FR.08);
* an external system (K29): a Tx / TxDefault Dynamic profile whose period says operationMode ExternalLimits
  takes the external value as its limit (K29.FR.03); otherwise the value is a Dynamic
  ChargingStationExternalConstraints profile (K29.FR.04, :meth:`SmartCharging.external_limit`), unless
  SmartChargingCtrlr.ExternalConstraintsProfileDisallowed forbids it.

Every applied update stamps dynUpdateTime (K28.FR.09, K29.FR.06), is kept in the profile as it is reported
by GetChargingProfiles, persisted with it, and obeyed by the composite at once. An external change bigger
than LimitChangeSignificance is reported with NotifyChargingLimit (K29 scenario step 4, as in K11).

Q06: an external system's single setpoint (``StationCore.external_setpoint``) lands in the CSMS's Dynamic
Tx(Default) profiles whose period is ExternalSetpoint (Q05.FR.03/05), else becomes a Dynamic
ChargingStationExternalConstraints profile with one ExternalSetpoint period (Q06.FR.04/06/07), refused when
ExternalConstraintsProfileDisallowed (Q06.FR.08), notified with its schedule (Q06.FR.11/12); which setpoint
wins against a CSMS setpoint is SmartChargingCtrlr.SetpointPriority's choice (Q06.FR.20-22, in
:mod:`~chargeplane.station.core.v2x`).

K27: an external value of locally generated capacity becomes a LocalGeneration profile (K27.FR.01), reported
by GetChargingProfiles (K27.FR.02), added on top of the composite (SC.01) and notified with
isLocalGeneration true (K27.FR.03/04).

Decisions: the values of a dynamic update other than ``limit`` are kept in the wire profile (reported as
received); the charging cap obeys ``limit``, and a V2X period's setpoint, setpointReactive and dischargeLimit
are read from the wire profile by :mod:`~chargeplane.station.core.v2x`, re-evaluated at once (Q04, Q07); an
update without a limit keeps the limit in force. A Dynamic profile with chargingSchedule.duration lapses
duration seconds after its last update (:func:`~chargeplane.smart_charging.wire.dynamic_start`, Q05.FR.07):
the next valid profile applies. A pull that gets no answer or a refusal is tried again an interval later;
one missed offline goes out as soon as the station is online again. Offline longer than a Dynamic (or
PriorityCharging) profile's maxOfflineDuration the profile sits out and the next valid one applies
(K01.FR.101/102, the K21 remark; :mod:`~chargeplane.station.core.v2x` keeps the offline clock).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging import wire
from chargeplane.smart_charging.composite import MAINS
from chargeplane.smart_charging.model import Kind, Period, Profile, Purpose, RateUnit, Schedule
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.smart_charging import CTRLR, EXTERNAL_ID_BASE, Installed, SmartCharging
from chargeplane.station.core.v2x import V2x

ChargingScheduleUpdate = v21.datatypes.ChargingScheduleUpdateType
GENERATION_ID_BASE = EXTERNAL_ID_BASE + 500_000  # the id of a local generation profile: this plus the EVSE id
SETPOINT_ID_BASE = (
    EXTERNAL_ID_BASE + 400_000
)  # the id of an external setpoint profile (Q06): plus the EVSE id
EXTERNAL_LIMITS = "ExternalLimits"
EXTERNAL_SETPOINT = "ExternalSetpoint"
# the update's fields that land on the one period (the wire names of ChargingScheduleUpdateType)
UPDATE_FIELDS = tuple(f for f in ChargingScheduleUpdate.__struct_fields__ if f != "custom_data")


def _wire(installed: Installed) -> v21.datatypes.ChargingProfileType | None:
    raw = installed.wire
    return raw if isinstance(raw, v21.datatypes.ChargingProfileType) else None


def is_dynamic(installed: Installed) -> bool:
    return installed.profile.kind is Kind.DYNAMIC and _wire(installed) is not None


class DynamicSchedules(Controller):
    __slots__ = ("_in_flight", "_lapsed", "_tried")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._tried: dict[int, datetime] = {}  # profile id -> when we last pulled (our clock)
        self._in_flight: set[int] = set()
        self._lapsed: set[tuple[int, datetime]] = set()  # (profile id, lapse) already obeyed

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        purposes = f"{Purpose.PRIORITY_CHARGING.value},{Purpose.LOCAL_GENERATION.value}"
        return [
            var(CTRLR, "SupportsDynamicProfiles", "boolean", "true", ro),
            var(CTRLR, "SupportedAdditionalPurposes", "MemberList", purposes, ro, values_list=purposes),
            var(CTRLR, "ExternalConstraintsProfileDisallowed", "boolean", "false"),
            # Q06.FR.20-22: whose setpoint wins when an external ExternalSetpoint meets a CSMS setpoint
            var(CTRLR, "SetpointPriority", "OptionList", "ExternalSystem", values_list="ExternalSystem,CSMS"),
        ]

    @property
    def _smart(self) -> SmartCharging:
        return self.ctx.get(SmartCharging)

    def find(self, profile_id: int) -> Installed | None:
        return next((i for i in self._smart.installed if i.profile.id == profile_id), None)

    # ------------------------------------------------------------------ applying values
    def apply(self, installed: Installed, update: ChargingScheduleUpdate, now: datetime) -> None:
        """K28.FR.06/08/09, K29.FR.05/06: the update's values into the one period, dynUpdateTime now."""
        raw = _wire(installed)
        if raw is None:
            return
        schedule = raw.charging_schedule[0]
        values = {name: getattr(update, name) for name in UPDATE_FIELDS if getattr(update, name) is not UNSET}
        period = msgspec.structs.replace(schedule.charging_schedule_period[0], **values)
        raw = msgspec.structs.replace(
            raw,
            charging_schedule=[msgspec.structs.replace(schedule, charging_schedule_period=[period])],
            dyn_update_time=self.ctx.ts(now),
        )
        limit = present(period.limit)
        old = installed.profile.schedule.periods[0]
        new_period = old if limit is None else replace(old, limit=limit)
        kept = replace(installed.profile.schedule, periods=(new_period,))
        if kept.duration is not None:  # Q05.FR.07: duration counts again from this update
            kept = replace(kept, start=wire.dynamic_start(raw))
        installed.profile = replace(installed.profile, schedule=kept)
        installed.wire = raw
        self._tried.pop(installed.profile.id, None)
        self._smart.changed(now)
        # Q04 / Q07 / Q05.FR.03: a V2X period's new setpoint is the EVSE's target at once
        self.ctx.get(V2x).evaluate_all(now)

    # ------------------------------------------------------------------ pulling (K28.FR.10)
    def _due(self, installed: Installed) -> datetime | None:
        """When (our clock) the profile's next pull is due; None: it is not pulled."""
        raw = _wire(installed)
        if raw is None or installed.profile.kind is not Kind.DYNAMIC:
            return None
        interval = present(raw.dyn_update_interval)
        stamp = present(raw.dyn_update_time)
        if not interval or interval <= 0 or stamp is None:
            return None
        step = timedelta(seconds=interval)
        due = from_wire(stamp) - self.ctx.clock_offset + step
        tried = self._tried.get(installed.profile.id)
        return due if tried is None else max(due, tried + step)

    def _lapses(self) -> list[tuple[int, datetime]]:
        """Q05.FR.07: when (our clock) each Dynamic profile with a duration lapses, unless updated first."""
        out = []
        for installed in self._smart.installed:
            schedule = installed.profile.schedule
            if installed.profile.kind is Kind.DYNAMIC and schedule.duration and schedule.start:
                end = schedule.start + timedelta(seconds=schedule.duration) - self.ctx.clock_offset
                out.append((installed.profile.id, end))
        return out

    def next_deadline(self) -> datetime | None:
        if self.ctx.version is not Version.V21:
            return None
        dues = [d for i in self._smart.installed if (d := self._due(i)) is not None]
        dues += [lapse[1] for lapse in self._lapses() if lapse not in self._lapsed]
        return min(dues) if dues else None

    def handle_timer(self, now: datetime) -> None:
        if self.ctx.version is not Version.V21:
            return
        lapses = self._lapses()
        self._lapsed &= set(lapses)  # forget the ones of profiles updated or gone
        lapsed = [lapse for lapse in lapses if lapse[1] <= now and lapse not in self._lapsed]
        if lapsed:  # the next valid profile takes over now, not at the next meter reading
            self._lapsed.update(lapsed)
            self._smart.obey(now)
            self.ctx.get(V2x).evaluate_all(now)
        for installed in list(self._smart.installed):
            due = self._due(installed)
            profile_id = installed.profile.id
            if due is None or due > now or profile_id in self._in_flight:
                continue
            self._tried[profile_id] = now
            self._pull(profile_id, now)

    def connection_opened(self, now: datetime) -> None:
        if self.ctx.accepted:  # back online, still accepted (no new boot needed)
            self.registration_accepted(now)

    def registration_accepted(self, now: datetime) -> None:
        """Back online: a pull missed offline is due at once, not an interval after the failed try (the
        values are stale; a profile that sat out offline, K01.FR.102, is obeyed again with fresh ones)."""
        self._tried.clear()

    def _pull(self, profile_id: int, now: datetime) -> None:
        def answered(response: Payload, at: datetime) -> None:
            self._in_flight.discard(profile_id)
            if not isinstance(response, v21.messages.PullDynamicScheduleUpdateResponse):
                return
            update = present(response.schedule_update)
            installed = self.find(profile_id)
            if str(response.status) == "Accepted" and update is not None and installed is not None:
                self.apply(installed, update, at)

        def failed(at: datetime) -> None:
            self._in_flight.discard(profile_id)

        request = v21.messages.PullDynamicScheduleUpdateRequest(charging_profile_id=profile_id)
        if self.ctx.send(request, now, answered, on_failure=failed):
            self._in_flight.add(profile_id)

    # ------------------------------------------------------------------ external systems (K27, K29)
    def external_value(
        self, evse_id: int, limit: float | None, unit: RateUnit, now: datetime, source: str
    ) -> bool:
        """An external system's single value for EVSE ``evse_id`` (0: the station). K29.FR.03: the CSMS's
        Dynamic profiles there with operationMode ExternalLimits take it; else it is an external constraint
        (K29.FR.04), unless those are disallowed (then False: ignored)."""
        targets = [i for i in self._smart.installed if self._external_target(i, evse_id)]
        if targets and limit is not None:
            for installed in targets:
                period = installed.profile.schedule.periods[0]
                before = period.limit
                # in the profile's own unit (A per phase <-> W over the period's phases, at 230 V)
                value = MAINS.to_unit(limit, unit, period.phases, installed.profile.schedule.unit)
                self.apply(installed, ChargingScheduleUpdate(limit=value), now)
                if self._significant(before, value):
                    self._smart.limit_notified(installed.profile, evse_id, source, now)
            return True
        if self.ctx.model.flag(CTRLR, "ExternalConstraintsProfileDisallowed"):
            return False
        self._smart.external_limit(evse_id, limit, unit, now, source)
        return True

    @staticmethod
    def _external_target(installed: Installed, evse_id: int, mode: str = EXTERNAL_LIMITS) -> bool:
        raw = _wire(installed)
        if raw is None or installed.profile.kind is not Kind.DYNAMIC:
            return False
        if installed.profile.purpose not in (Purpose.TX, Purpose.TX_DEFAULT):
            return False
        found = present(raw.charging_schedule[0].charging_schedule_period[0].operation_mode)
        return str(found) == mode and installed.profile.evse_id in (0, evse_id)

    def external_setpoint(
        self, evse_id: int, setpoint_w: float | None, reactive: float | None, now: datetime, source: str
    ) -> bool:
        """An external system's (EMS) single setpoint in W for EVSE ``evse_id`` (0: the station), with its
        reactive setpoint; None: it gives none any more. Q05.FR.03/05: the CSMS's Dynamic Tx(Default)
        profiles there whose period is ExternalSetpoint take it (Absolute / Relative ones read it at every
        evaluation, Q05.FR.01); else, unless ExternalConstraintsProfileDisallowed (Q06.FR.08: False,
        refused), it is a Dynamic ChargingStationExternalConstraints profile with one ExternalSetpoint
        period (Q06.FR.04/06/07), notified to the CSMS (Q06.FR.11/12)."""
        v2x = self.ctx.get(V2x)
        v2x.external(setpoint_w, now)  # Q05.FR.01 for the non-Dynamic ExternalSetpoint periods
        targets = [i for i in self._smart.installed if self._external_target(i, evse_id, EXTERNAL_SETPOINT)]
        if targets:
            if setpoint_w is not None:
                for installed in targets:
                    unit = installed.profile.schedule.unit
                    phases = installed.profile.schedule.periods[0].phases
                    value = MAINS.to_unit(setpoint_w, RateUnit.WATT, phases, unit)
                    update = ChargingScheduleUpdate(
                        setpoint=value, setpoint_reactive=UNSET if reactive is None else reactive
                    )
                    self.apply(installed, update, now)
            return True
        if v2x.takes_external_setpoint(evse_id, now):  # Q05.FR.01: the CSMS's period takes it as it is
            return True
        if self.ctx.model.flag(CTRLR, "ExternalConstraintsProfileDisallowed"):
            return False
        self._external_setpoint_profile(evse_id, setpoint_w, reactive, now, source)
        return True

    def _external_setpoint_profile(
        self, evse_id: int, setpoint_w: float | None, reactive: float | None, now: datetime, source: str
    ) -> None:
        smart = self._smart
        profile_id = SETPOINT_ID_BASE + evse_id
        old = self.find(profile_id)
        if setpoint_w is None:
            if old is not None:
                smart.installed = [i for i in smart.installed if i.profile.id != profile_id]
                smart.changed(now)
                smart.limit_cleared(evse_id, old.source, now)
                self.ctx.get(V2x).evaluate_all(now)
            return
        update = ChargingScheduleUpdate(
            setpoint=setpoint_w, setpoint_reactive=UNSET if reactive is None else reactive
        )
        if old is not None:
            raw_old = _wire(old)
            period = None if raw_old is None else raw_old.charging_schedule[0].charging_schedule_period[0]
            previous = None if period is None else present(period.setpoint)
            self.apply(old, update, now)  # Q06.FR.06/07: the value in place, dynUpdateTime now
            if previous is None or self._significant(previous, setpoint_w):  # Q06.FR.12
                self._notify_setpoint(old, evse_id, source, now)
            return
        profile = self._station_profile(
            profile_id, Purpose.EXTERNAL_CONSTRAINTS, RateUnit.WATT, math.inf, evse_id, now
        )
        setpoint = v21.datatypes.ChargingSchedulePeriodType(
            start_period=0,
            operation_mode=v21.enums.OperationModeEnumType.EXTERNAL_SETPOINT,
            setpoint=setpoint_w,
            setpoint_reactive=UNSET if reactive is None else reactive,
        )  # no limit: no cap of its own
        raw = self._one_period_wire(profile, setpoint, now)
        installed = Installed(profile, raw, source)
        smart.installed.append(installed)
        smart.changed(now)
        self.ctx.get(V2x).evaluate_all(now)
        self._notify_setpoint(installed, evse_id, source, now)  # Q06.FR.11

    def _notify_setpoint(self, installed: Installed, evse_id: int, source: str, now: datetime) -> None:
        """Q06.FR.11/12: the EMS's setpoint profile told to the CSMS."""
        raw = _wire(installed)
        if raw is not None:
            notify_external(self.ctx, raw, evse_id, source, now)

    def _significant(self, before: float, after: float) -> bool:
        significance = float(self.ctx.model.value(CTRLR, "LimitChangeSignificance") or 0)
        return abs(after - before) > abs(before) * significance / 100

    def local_generation(
        self, evse_id: int, capacity: float | None, unit: RateUnit, now: datetime, source: str = "EMS"
    ) -> None:
        """K27: locally generated capacity for EVSE ``evse_id`` (0: the station) from an external system,
        or none any more (``capacity`` None)."""
        if self.ctx.version is not Version.V21:
            return  # LocalGeneration is 2.1
        smart = self._smart
        profile_id = GENERATION_ID_BASE + evse_id
        old = self.find(profile_id)
        smart.installed = [i for i in smart.installed if i.profile.id != profile_id]
        if capacity is None:
            smart.changed(now)
            if old is not None:
                smart.limit_cleared(evse_id, old.source, now)
            return
        profile = self._station_profile(profile_id, Purpose.LOCAL_GENERATION, unit, capacity, evse_id, now)
        raw = self._generation_wire(profile, now)
        smart.installed.append(Installed(profile, raw, source))
        smart.changed(now)
        before = None if old is None else old.profile.schedule.periods[0].limit
        if before is None or self._significant(before, capacity):
            self._notify_generation(raw, evse_id, source, now)

    def _station_profile(
        self, profile_id: int, purpose: Purpose, unit: RateUnit, limit: float, evse_id: int, now: datetime
    ) -> Profile:
        """A Dynamic profile of the station's own making (an external system's value), in force from now."""
        at = self.ctx.station_time(now).replace(microsecond=0)
        return Profile(
            id=profile_id,
            stack_level=0,
            purpose=purpose,
            kind=Kind.DYNAMIC,
            schedule=Schedule(unit, (Period(0, limit),), None, at),
            evse_id=evse_id,
        )

    def _generation_wire(self, profile: Profile, now: datetime) -> v21.datatypes.ChargingProfileType:
        period = v21.datatypes.ChargingSchedulePeriodType(
            start_period=0,
            limit=profile.schedule.periods[0].limit,
            operation_mode=v21.enums.OperationModeEnumType.EXTERNAL_LIMITS,
        )
        return self._one_period_wire(profile, period, now)

    def _one_period_wire(
        self, profile: Profile, period: v21.datatypes.ChargingSchedulePeriodType, now: datetime
    ) -> v21.datatypes.ChargingProfileType:
        """``profile`` as reported (2.1): Dynamic, its one ``period``, updated now."""
        return v21.datatypes.ChargingProfileType(
            id=profile.id,
            stack_level=0,
            charging_profile_purpose=v21.enums.ChargingProfilePurposeEnumType(profile.purpose.value),
            charging_profile_kind=v21.enums.ChargingProfileKindEnumType.DYNAMIC,
            dyn_update_time=self.ctx.ts(now),
            charging_schedule=[
                v21.datatypes.ChargingScheduleType(
                    id=1,
                    charging_rate_unit=v21.enums.ChargingRateUnitEnumType(profile.schedule.unit.value),
                    charging_schedule_period=[period],
                )
            ],
        )

    def _notify_generation(
        self, raw: v21.datatypes.ChargingProfileType, evse_id: int, source: str, now: datetime
    ) -> None:
        """K27.FR.03/04/05: its own NotifyChargingLimit, isLocalGeneration true, schedules if configured."""
        with_schedule = self.ctx.model.flag(CTRLR, "NotifyChargingLimitWithSchedules")
        self.ctx.send(
            v21.messages.NotifyChargingLimitRequest(
                charging_limit=v21.datatypes.ChargingLimitType(
                    charging_limit_source=source, is_local_generation=True
                ),
                evse_id=evse_id,
                charging_schedule=list(raw.charging_schedule) if with_schedule else UNSET,
            ),
            now,
        )


# ---------------------------------------------------------------------- 2.1 handlers
def update_dynamic_schedule(
    ctl: DynamicSchedules, request: v21.messages.UpdateDynamicScheduleRequest, now: datetime
) -> v21.messages.UpdateDynamicScheduleResponse:
    """K28.FR.06 / K28.FR.11."""
    status = v21.enums.ChargingProfileStatusEnumType
    installed = ctl.find(request.charging_profile_id)
    if installed is None or not is_dynamic(installed):
        detail = "no such profile" if installed is None else "the profile is not Dynamic"
        return v21.messages.UpdateDynamicScheduleResponse(
            status=status.REJECTED,
            status_info=v21.datatypes.StatusInfoType(reason_code="InvalidProfile", additional_info=detail),
        )
    ctl.apply(installed, request.schedule_update, now)
    return v21.messages.UpdateDynamicScheduleResponse(status=status.ACCEPTED)


DynamicSchedules.on_2x = (route("UpdateDynamicSchedule", update_dynamic_schedule),)


def notify_external(
    ctx: Context, raw: v21.datatypes.ChargingProfileType, evse_id: int, source: str, now: datetime
) -> None:
    """Q06.FR.10/11/12: NotifyChargingLimit from an external system with its profile's schedule as received
    (the 2.1 schema has no isDynamic: a Dynamic profile's single period says it)."""
    ctx.send(
        v21.messages.NotifyChargingLimitRequest(
            charging_limit=v21.datatypes.ChargingLimitType(charging_limit_source=source),
            evse_id=evse_id,
            charging_schedule=list(raw.charging_schedule),
        ),
        now,
    )
