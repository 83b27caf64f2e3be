"""Smart charging (block K: K01 SetChargingProfile, K05 remote start with a profile, K08 GetCompositeSchedule,
K09 GetChargingProfiles, K10 ClearChargingProfile; 1.6 Smart Charging profile §3.13, §5.5, §5.7, §5.11, §5.16).

The profiles the CSMS sets are checked (:mod:`chargeplane.smart_charging.validation`), kept as received (so
that GetChargingProfiles reports them verbatim) with their version-neutral form, and persisted in the
station's storage (K01.FR.27). The shared engine (:mod:`chargeplane.smart_charging.composite`) gives the
limit of every EVSE; the station obeys it: on every meter reading the limit in force is worked out again and,
when it changed, put out as a :class:`~.model.SetPowerLimit` action for the hardware (K01.FR.07, K10.FR.05).

TxProfiles belong to a transaction: one set with RequestStartTransaction / RemoteStartTransaction waits for
the transaction the request starts and is bound to it (K05.FR.03); every TxProfile is removed when its
transaction ends.

ISO 15118 schedule selection (K01.FR.34, K15.FR.07): the TxProfile of a transaction whose EV sent its needs
(``iso15118_tx`` says so) may offer the EV two or three chargingSchedules, one composite each
(:meth:`SmartCharging.offers`). The EV picks one and follows it; the spec gives the station no rule of its own
for the time before, so it enforces the first schedule (the one a CSMS following K15.FR.18 would send alone)
until the EV's pick arrives (:meth:`SmartCharging.select_schedule`), then the picked one, kept across a reboot.

Decisions where the spec leaves room: the EVSE's own maximum (``StationLayout.max_power_w``, EVSE 0: the sum
of the EVSEs) fills the composite where no profile limits it; SmartChargingCtrlr.Enabled false makes the
station answer Rejected (reasonCode Disabled) and ignore a remote-start profile (K05.FR.04).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v2x, v16, v21, v201
from chargeplane.ocpp.messages.base import Payload, dec_hook, present
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging import rules21, validation, wire
from chargeplane.smart_charging.composite import Fallback, composite_schedule, limit_at, station_total
from chargeplane.smart_charging.model import Composite, Kind, Period, Profile, Purpose, RateUnit, Schedule
from chargeplane.smart_charging.wire import Profile2x, Schedule2x
from chargeplane.station.core import transactions
from chargeplane.station.core.adapter import TxEvent, TxEventKind, narrow
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import Evse, SetPowerLimit

CTRLR = "SmartChargingCtrlr"
STATE_KEY = "charging_profiles"
MAX_STACK_LEVEL = 10
MAX_PERIODS = 24
MAX_PROFILES = 32
REPORT_PER_MESSAGE = 8  # profiles per ReportChargingProfiles (K09.FR.02: tbc on all but the last)
WAIT_MARGIN_S = 60
CSO = "CSO"
EXTERNAL_ID_BASE = 1_000_000  # the id of an external limit's profile: this plus the EVSE id
UNITS_16 = {"Current": RateUnit.AMPERE, "Power": RateUnit.WATT}


# one wire profile type at a time (mypy checks the 2.x handler body per dialect)
Profile2xT = TypeVar("Profile2xT", v201.datatypes.ChargingProfileType, v21.datatypes.ChargingProfileType)
Offered = tuple[tuple[int, Schedule], ...]  # an ISO 15118 TxProfile's chargingSchedules: id and schedule


@dataclass(slots=True)
class Installed:
    profile: Profile  # version-neutral, what the engine reads (its schedule: the one enforced)
    wire: Payload  # as received: v16 ChargingProfile or the 2.x ChargingProfileType
    source: str = CSO  # chargingLimitSource: the CSMS, or the external system of a K11/K12 limit
    offered: Offered = ()  # more than one: the EV's choice (K15); empty otherwise
    selected: int | None = None  # the id of the schedule the EV picked (None: not yet, the first applies)


@dataclass(slots=True)
class Waiting:
    """K05: a remote start's TxProfile, until the transaction it starts exists."""

    profile: Profile
    wire: Payload
    until: datetime


class SmartCharging(Controller):
    __slots__ = (
        "_limits",
        "installed",
        "iso15118_tx",
        "priority_tx",
        "profile_checks",
        "suspended",
        "tx_profile_listeners",
        "waiting",
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.installed: list[Installed] = []
        self.waiting: dict[int, Waiting] = {}
        self._limits: dict[int, float | None] = {}  # the limit each EVSE was last told
        # told (evse id, now) when the CSMS installed a TxProfile for a running transaction (ISO 15118, K15-K17)
        self.tx_profile_listeners: list[Callable[[int, datetime], None]] = []
        # whether the CSMS got NotifyEVChargingNeeds for this transaction (K01.FR.34; set by ISO 15118)
        self.iso15118_tx: Callable[[str], bool] = lambda transaction_id: False
        # whether this transaction charges with priority (2.1 K21/K22; set by the priority charging block)
        self.priority_tx: Callable[[str], bool] = lambda transaction_id: False
        # further checks of a 2.x profile (raw, evse id) before the K01 ones: V2X periods (block Q)
        self.profile_checks: list[Callable[[Payload, int], validation.Verdict | None]] = []
        # whether an installed profile sits out now (2.1 maxOfflineDuration passed offline, K01 / Q11)
        self.suspended: Callable[[Installed, datetime], bool] = lambda installed, now: False

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        return [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "Available", "boolean", "true", ro),
            var(CTRLR, "ProfileStackLevel", "integer", str(MAX_STACK_LEVEL), ro),
            var(CTRLR, "RateUnit", "MemberList", "A,W", ro, values_list="A,W"),
            var(CTRLR, "PeriodsPerSchedule", "integer", str(MAX_PERIODS), ro),
            var(
                CTRLR,
                "Entries",
                "integer",
                "0",
                ro,
                variable_instance="ChargingProfiles",
                max_limit=MAX_PROFILES,
            ),
            var(CTRLR, "LimitChangeSignificance", "decimal", "1.0", unit="Percent"),
            # whether an external system's (EMS) limits count (K23/K27 prerequisite; StationCore reads it)
            var(CTRLR, "ExternalControlSignalsEnabled", "boolean", "true"),
            var(CTRLR, "ACPhaseSwitchingSupported", "boolean", "false", ro),
            var(CTRLR, "NotifyChargingLimitWithSchedules", "boolean", "false"),
        ]

    # ------------------------------------------------------------------ state
    @property
    def enabled(self) -> bool:
        return self.ctx.model.flag(CTRLR, "Enabled")

    @property
    def legacy(self) -> bool:
        return self.ctx.version is Version.V16

    def caps(self) -> validation.Capabilities:
        model = self.ctx.model
        if self.legacy:
            units = frozenset(
                UNITS_16[u] for u in model.members("OCPP16", "ChargingScheduleAllowedChargingRateUnit")
            )
            max_profiles = model.number("OCPP16", "MaxChargingProfilesInstalled")
        else:
            units = frozenset(RateUnit(u) for u in model.members(CTRLR, "RateUnit"))
            max_profiles = MAX_PROFILES
        return validation.Capabilities(
            evse_ids=frozenset(self.ctx.evses),
            rate_units=units,
            max_stack_level=model.number(CTRLR, "ProfileStackLevel"),
            max_periods=model.number(CTRLR, "PeriodsPerSchedule"),
            max_profiles=max_profiles,
            phase_switching=model.flag(CTRLR, "ACPhaseSwitchingSupported"),
        )

    def running(self) -> dict[int, str]:
        return {e.id: e.tx.id for e in self.ctx.evses.values() if e.tx is not None}

    def profiles(self) -> list[Profile]:
        return [i.profile for i in self.installed]

    def in_force(self, now: datetime) -> list[Profile]:
        """The profiles that count for the limit now (the installed ones less those sitting out offline)."""
        return [i.profile for i in self.installed if not self.suspended(i, now)]

    def _save(self) -> None:
        records = [  # an external system's limits are its to send again after a reboot
            {"evse": i.profile.evse_id, "tx": i.profile.transaction_id, "profile": i.wire, "pick": i.selected}
            for i in self.installed
            if i.source == CSO
        ]
        self.ctx.storage.set_state(STATE_KEY, msgspec.json.encode(records).decode() if records else None)
        self.ctx.model.put(
            VariableKey(CTRLR, "Entries", variable_instance="ChargingProfiles"), str(len(self.installed))
        )

    def changed(self, now: datetime) -> None:
        """Another block changed an installed profile in place (2.1 dynamic values): persist it and obey."""
        self._save()
        self.obey(now)

    def limit_notified(self, profile: Profile, evse_id: int, source: str, now: datetime) -> None:
        """A limit from outside changed significantly: NotifyChargingLimit (K11.FR.02, also 2.1 K29) and
        ChargingRateChanged for the transactions on ``evse_id`` (K11.FR.04)."""
        self._notify_limit(profile, source, now)
        self._rate_changed(evse_id, now)

    def limit_cleared(self, evse_id: int, source: str, now: datetime) -> None:
        """K13: an external system lifted its limit on ``evse_id``."""
        self._cleared(evse_id, source, now)

    def _wire_type(self) -> type[Payload]:
        if self.legacy:
            return v16.datatypes.ChargingProfile
        if self.ctx.version is Version.V201:
            return v201.datatypes.ChargingProfileType
        return v21.datatypes.ChargingProfileType

    def _convert(self, raw: Payload, evse_id: int) -> Profile:
        if isinstance(raw, v16.datatypes.ChargingProfile):
            return wire.from_16(raw, evse_id)
        if isinstance(raw, v201.datatypes.ChargingProfileType | v21.datatypes.ChargingProfileType):
            return wire.from_2x(raw, evse_id)
        raise TypeError(f"not a charging profile: {type(raw).__qualname__}")

    def start(self, now: datetime) -> None:
        """K01.FR.27: the profiles survive a reboot; TxProfiles only with their transaction still running."""
        text = self.ctx.storage.get_state(STATE_KEY)
        if not text:
            return
        running = self.running()
        records: list[dict[str, Any]] = msgspec.json.decode(text)
        for record in records:
            try:
                raw = msgspec.convert(record["profile"], self._wire_type(), dec_hook=dec_hook)
                evse_id = int(record["evse"])
                profile = replace(self._convert(raw, evse_id), transaction_id=record["tx"])
            except (msgspec.ValidationError, wire.Unconvertible, KeyError, TypeError, ValueError):
                continue  # written by another OCPP version of this station: not ours to apply
            current = running.get(evse_id)
            if profile.purpose is Purpose.TX and (
                current is None or profile.transaction_id not in (None, current)
            ):
                continue
            self.installed.append(self._restored(profile, raw, record.get("pick")))
        self._save()

    @staticmethod
    def _restored(profile: Profile, raw: Payload, pick: object) -> Installed:
        """An installed profile read back, with the schedule its EV picked before the reboot."""
        if not isinstance(raw, Profile2x) or len(raw.charging_schedule) <= 1:
            return Installed(profile, raw)
        offered = tuple(wire.schedules_2x(raw))
        if not isinstance(pick, int) or pick not in dict(offered):
            return Installed(profile, raw, offered=offered)
        return Installed(replace(profile, schedule=dict(offered)[pick]), raw, offered=offered, selected=pick)

    # ------------------------------------------------------------------ operations
    def set_profile(
        self, profile: Profile, raw: Payload, now: datetime, offered: Offered = ()
    ) -> validation.Verdict:
        """K01: check, replace (K01.FR.05 / 1.6 §3.13.1), persist (K01.FR.27) and obey (K01.FR.07).
        ``offered``: all chargingSchedules of a 2.x profile (K01.FR.34)."""
        if not self.enabled:
            return validation.Verdict(False, "Disabled", "SmartChargingCtrlr.Enabled is false")
        caps = self.caps()
        verdict = validation.check_set(
            profile, installed=self.profiles(), running=self.running(), caps=caps, legacy=self.legacy
        )
        if verdict.accepted:  # the transaction is the EVSE's running one (checked above)
            tx_id = profile.transaction_id
            iso15118 = tx_id is not None and self.iso15118_tx(tx_id)
            verdict = validation.check_offer(profile, offered, iso15118=iso15118, caps=caps)
        if not verdict.accepted:
            return verdict
        if self.legacy:  # 1.6: the connector's running transaction, whose id may still change (local -> real)
            profile = replace(profile, transaction_id=None)
        self._install(profile, raw, now, offered if len(offered) > 1 else ())
        return verdict

    def _install(self, profile: Profile, raw: Payload, now: datetime, offered: Offered = ()) -> None:
        gone = validation.replaced(profile, self.profiles(), legacy=self.legacy)
        self.installed = [i for i in self.installed if i.profile not in gone]
        self.installed.append(Installed(profile, raw, offered=offered))
        self._save()
        self.obey(now)

    def check_21(self, raw: Profile2xT, now: datetime) -> Profile2xT | validation.Verdict:
        """The 2.1 rules of :mod:`~chargeplane.smart_charging.rules21` (a refusal), else the profile to
        keep: a Dynamic one stamped with dynUpdateTime when it came without (K28.FR.05)."""
        if not isinstance(raw, v21.datatypes.ChargingProfileType):
            return raw
        model = self.ctx.model
        caps = rules21.Capabilities21(
            dynamic_profiles=model.flag(CTRLR, "SupportsDynamicProfiles"),
            additional_purposes=frozenset(model.members(CTRLR, "SupportedAdditionalPurposes")),
        )
        refusal = rules21.check_21(raw, caps)
        if refusal is not None:
            return refusal
        if str(raw.charging_profile_kind) == Kind.DYNAMIC.value and present(raw.dyn_update_time) is None:
            return msgspec.structs.replace(raw, dyn_update_time=self.ctx.ts(now))
        return raw

    def tx_installed(self, evse_id: int) -> Installed | None:
        """The newest TxProfile of the transaction on ``evse_id``."""
        mine = [i for i in self.installed if i.profile.purpose is Purpose.TX and i.profile.evse_id == evse_id]
        return mine[-1] if mine else None

    def select_schedule(self, evse_id: int, schedule_id: int, now: datetime) -> bool:
        """K15.FR.19: the EV on ``evse_id`` picked the offered schedule ``schedule_id``: enforce it from now on.
        False: its TxProfile offered no such choice."""
        installed = self.tx_installed(evse_id)
        chosen = None if installed is None else dict(installed.offered).get(schedule_id)
        if installed is None or chosen is None:
            return False
        installed.profile = replace(installed.profile, schedule=chosen)
        installed.selected = schedule_id
        self._save()
        self.obey(now)
        return True

    def remote_profile(self, raw: Payload, evse_id: int) -> tuple[Profile | None, validation.Verdict]:
        """The profile of a remote start (``evse_id`` 0: the station picks the EVSE), checked (K05.FR.05)."""
        try:
            profile = self._convert(raw, evse_id)
        except wire.Unconvertible as error:
            return None, validation.Verdict(False, "InvalidProfile", error.detail)
        if (
            isinstance(raw, v201.datatypes.ChargingProfileType | v21.datatypes.ChargingProfileType)
            and len(raw.charging_schedule) > 1
        ):
            return None, validation.Verdict(False, "InvalidProfile", "one chargingSchedule (K01.FR.34)")
        return profile, self.check_remote(profile)

    def check_remote(self, profile: Profile) -> validation.Verdict:
        """K05 / F01.FR.09-11: a TxProfile without transactionId, otherwise as SetChargingProfile."""
        if profile.purpose is not Purpose.TX or profile.transaction_id is not None:
            return validation.Verdict(False, "InvalidProfile", "a TxProfile without transactionId")
        caps = self.caps()
        # the transaction does not exist yet: check against a placeholder on an EVSE of the station
        evse_id = profile.evse_id if profile.evse_id in caps.evse_ids else min(caps.evse_ids, default=1)
        probe = replace(profile, evse_id=evse_id, transaction_id="remote-start")
        others = [p for p in self.profiles() if p.purpose is not Purpose.TX]
        verdict = validation.check_set(
            probe, installed=others, running={evse_id: "remote-start"}, caps=caps, legacy=self.legacy
        )
        if not verdict.accepted:
            return validation.Verdict(False, "InvalidProfile", verdict.detail)
        return verdict

    def remote_started(self, evse: Evse, profile: Profile, raw: Payload, now: datetime) -> None:
        """K05.FR.03: the profile waits for the transaction the remote start begins on ``evse`` (at most
        EVConnectionTimeOut and a minute: after that the remote start came to nothing)."""
        wait = max(0, self.ctx.model.number("TxCtrlr", "EVConnectionTimeOut")) + WAIT_MARGIN_S
        self.waiting[evse.id] = Waiting(replace(profile, evse_id=evse.id), raw, now + timedelta(seconds=wait))
        self._bind(evse, now)

    def _bind(self, evse: Evse, now: datetime) -> None:
        waiting = self.waiting.get(evse.id)
        if waiting is None:
            return
        if evse.tx is None:
            if now >= waiting.until:
                del self.waiting[evse.id]
            return
        del self.waiting[evse.id]
        raw = waiting.wire
        if isinstance(raw, v201.datatypes.ChargingProfileType | v21.datatypes.ChargingProfileType):
            raw = msgspec.structs.replace(raw, transaction_id=evse.tx.id)
            self._install(replace(waiting.profile, transaction_id=evse.tx.id), raw, now)
        else:  # 1.6: the connector's running transaction (see set_profile)
            self._install(waiting.profile, raw, now)

    def clear(
        self,
        profile_id: int | None,
        evse_id: int | None,
        purpose: Purpose | None,
        stack_level: int | None,
        now: datetime,
    ) -> bool:
        """K10 / 1.6 §5.5: by id, else by the criteria (all of them, AND); never an external constraints
        profile (K10.FR.03/04/08/09). False: nothing matched (Unknown, K10.FR.01)."""

        def matches(p: Profile) -> bool:
            if p.purpose is Purpose.EXTERNAL_CONSTRAINTS:
                return False
            if profile_id is not None:
                return p.id == profile_id
            return (
                (evse_id is None or p.evse_id == evse_id)
                and (purpose is None or p.purpose is purpose)
                and (stack_level is None or p.stack_level == stack_level)
            )

        kept = [i for i in self.installed if not matches(i.profile)]
        if len(kept) == len(self.installed):
            return False
        self.installed = kept
        self._save()
        self.obey(now)
        return True

    def select(
        self, evse_id: int | None, purpose: str | None, stack_level: int | None, ids: list[int] | None
    ) -> list[Installed]:
        """K09.FR.04-06: the installed profiles on ``evse_id`` (None: all) matching every criterion given."""
        return [
            i
            for i in self.installed
            if (evse_id is None or i.profile.evse_id == evse_id)
            and (purpose is None or i.profile.purpose.value == purpose)
            and (stack_level is None or i.profile.stack_level == stack_level)
            and (not ids or i.profile.id in ids)
        ]

    # ------------------------------------------------------------------ external limits (K11-K13)
    def external_limit(
        self, evse_id: int, limit: float | None, unit: RateUnit, now: datetime, source: str = "EMS"
    ) -> None:
        """An external system (an EMS, the grid operator) limits EVSE ``evse_id`` (0: the whole station) from
        now on, or lifts its limit (``limit`` None). It becomes a ChargingStationExternalConstraints profile
        (K11.FR.06 / K12.FR.05) that the composite honours (K11.FR.01 / K12.FR.01). A change by more than
        LimitChangeSignificance percent is notified (K11.FR.02, K12.FR.02; never as CSO, K11.FR.05) and
        every transaction it touches gets an event with trigger ChargingRateChanged (K11.FR.04); a lifted
        limit is reported with ClearedChargingLimit (K13)."""
        profile_id = EXTERNAL_ID_BASE + evse_id
        old = next((i for i in self.installed if i.profile.id == profile_id), None)
        self.installed = [i for i in self.installed if i.profile.id != profile_id]
        at = self.ctx.station_time(now)
        if limit is None:
            if old is None:
                return
            self._save()
            self.obey(now)
            self._cleared(evse_id, old.source, now)
            self._rate_changed(evse_id, now)
            return
        profile = Profile(
            id=profile_id,
            stack_level=0,
            purpose=Purpose.EXTERNAL_CONSTRAINTS,
            # K29.FR.04: in 2.1 a single value from outside is a Dynamic profile (K11.FR.06: Absolute before)
            kind=Kind.DYNAMIC if self.ctx.version is Version.V21 else Kind.ABSOLUTE,
            schedule=Schedule(unit, (Period(0, limit),), None, at.replace(microsecond=0)),
            evse_id=evse_id,
        )
        self.installed.append(Installed(profile, self._external_wire(profile), source))
        self._save()
        self.obey(now)
        before = None if old is None else old.profile.schedule.periods[0].limit
        significance = float(self.ctx.model.value(CTRLR, "LimitChangeSignificance") or 0)
        if before is not None and abs(limit - before) <= before * significance / 100:
            return
        self._notify_limit(profile, source, now)
        self._rate_changed(evse_id, now)

    def _external_wire(self, profile: Profile) -> Payload:
        """The external limit as a wire profile of the station's version (what reports show)."""
        period = profile.schedule.periods[0]
        start = to_wire(profile.schedule.start) if profile.schedule.start is not None else UNSET
        if self.legacy:  # 1.6 has no such purpose; the profile is never reported nor persisted there
            return v16.datatypes.ChargingProfile(
                charging_profile_id=profile.id,
                stack_level=0,
                charging_profile_purpose=v16.enums.ChargingProfilePurposeType.CHARGE_POINT_MAX_PROFILE,
                charging_profile_kind=v16.enums.ChargingProfileKindType.ABSOLUTE,
                charging_schedule=v16.datatypes.ChargingSchedule(
                    start_schedule=start,
                    charging_rate_unit=v16.enums.ChargingRateUnitType(profile.schedule.unit.value),
                    charging_schedule_period=[
                        v16.datatypes.ChargingSchedulePeriod(start_period=0, limit=period.limit)
                    ],
                ),
            )

        def build(ns: v2x.Dialect) -> Profile2x:
            return ns.ChargingProfileType(
                id=profile.id,
                stack_level=0,
                charging_profile_purpose=ns.ChargingProfilePurposeEnumType.CHARGING_STATION_EXTERNAL_CONSTRAINTS,
                charging_profile_kind=ns.ChargingProfileKindEnumType(profile.kind.value),
                charging_schedule=[narrow(self._schedule_2x(ns, profile), ns.ChargingScheduleType)],
            )

        built = v2x.with_dialect(self.ctx.version, build)
        if isinstance(built, v21.datatypes.ChargingProfileType) and profile.kind is Kind.DYNAMIC:
            # K29 scenario 1: its one period says the limit is the external system's (ExternalLimits)
            schedule = built.charging_schedule[0]
            external = msgspec.structs.replace(
                schedule.charging_schedule_period[0],
                operation_mode=v21.enums.OperationModeEnumType.EXTERNAL_LIMITS,
            )
            return msgspec.structs.replace(
                built,
                charging_schedule=[msgspec.structs.replace(schedule, charging_schedule_period=[external])],
                dyn_update_time=start,  # K29.FR.06: updated now
            )
        return built

    @staticmethod
    def _schedule_2x(ns: v2x.Dialect, profile: Profile) -> Schedule2x:
        period = profile.schedule.periods[0]
        start = profile.schedule.start
        return ns.ChargingScheduleType(
            id=1,
            start_schedule=to_wire(start) if start is not None else UNSET,
            charging_rate_unit=ns.ChargingRateUnitEnumType(profile.schedule.unit.value),
            charging_schedule_period=[ns.ChargingSchedulePeriodType(start_period=0, limit=period.limit)],
        )

    def _notify_limit(self, profile: Profile, source: str, now: datetime) -> None:
        if self.legacy:
            return  # 1.6 has no NotifyChargingLimit
        with_schedule = self.ctx.model.flag(CTRLR, "NotifyChargingLimitWithSchedules")  # K11.FR.03
        evse_id = profile.evse_id
        if self.ctx.version is Version.V201:
            n201 = v201.Messages
            request: Payload = n201.NotifyChargingLimitRequest(
                charging_limit=n201.ChargingLimitType(
                    charging_limit_source=v201.enums.ChargingLimitSourceEnumType(source)
                ),
                evse_id=evse_id,
                charging_schedule=[narrow(self._schedule_2x(n201, profile), n201.ChargingScheduleType)]
                if with_schedule
                else UNSET,
            )
        else:
            n21 = v21.Messages
            request = n21.NotifyChargingLimitRequest(
                charging_limit=n21.ChargingLimitType(charging_limit_source=source),
                evse_id=evse_id,
                charging_schedule=[narrow(self._schedule_2x(n21, profile), n21.ChargingScheduleType)]
                if with_schedule
                else UNSET,
            )
        self.ctx.send(request, now)

    def _cleared(self, evse_id: int, source: str, now: datetime) -> None:
        if self.ctx.version is Version.V201:
            self.ctx.send(
                v201.messages.ClearedChargingLimitRequest(
                    charging_limit_source=v201.enums.ChargingLimitSourceEnumType(source), evse_id=evse_id
                ),
                now,
            )
        elif self.ctx.version is Version.V21:
            self.ctx.send(
                v21.messages.ClearedChargingLimitRequest(charging_limit_source=source, evse_id=evse_id), now
            )

    def _rate_changed(self, evse_id: int, now: datetime) -> None:
        """K11.FR.04: every running transaction the limit applies to (EVSE 0: all) gets ChargingRateChanged."""
        if self.legacy:
            return
        event = TxEvent(TxEventKind.UPDATED, "ChargingRateChanged")
        for evse in self.ctx.evses.values():
            if evse.tx is not None and evse_id in (0, evse.id):
                self.ctx.get(transactions.Transactions).emit(evse, event, now)

    # ------------------------------------------------------------------ the composite and the hardware
    def _fallback(self, evse_id: int) -> Fallback:
        layout = self.ctx.layout
        count = len(self.ctx.evses) if evse_id == 0 else 1
        return Fallback(layout.max_power_w * count, RateUnit.WATT, layout.supply_phases)

    def _transaction(self, evse_id: int) -> tuple[str | None, datetime | None]:
        evse = self.ctx.evses.get(evse_id)
        if evse is None or evse.tx is None:
            return None, None
        started = from_wire(evse.tx.started_at) if evse.tx.started_at else None
        return evse.tx.id, started

    def composite(self, evse_id: int, duration: int, unit: RateUnit, now: datetime) -> Composite:
        """K08 / 1.6 §5.7: from now (station time) for ``duration`` seconds; EVSE 0: the station's total
        (K08.FR.03), the sum of its EVSEs capped by the station-wide profiles."""
        own = self._composite(evse_id, duration, unit, now)
        if evse_id != 0:
            return own
        return station_total([self._composite(e, duration, unit, now) for e in self.ctx.evses], own)

    def offers(
        self, evse_id: int, duration: int, unit: RateUnit, now: datetime
    ) -> list[tuple[int, Composite]]:
        """What the EV on ``evse_id`` is offered (ISO 15118 SAScheduleTuples, K15.FR.07): the composite of the
        EVSE with each chargingSchedule of its TxProfile in turn, by schedule id; without a choice, the one
        composite, with the TxProfile's schedule id (1 without a TxProfile from the CSMS)."""
        installed = self.tx_installed(evse_id)
        if installed is None or not installed.offered:
            schedule_id = 1
            if installed is not None and isinstance(installed.wire, Profile2x):
                schedule_id = installed.wire.charging_schedule[0].id
            return [(schedule_id, self.composite(evse_id, duration, unit, now))]
        out = []
        for schedule_id, schedule in installed.offered:
            profiles = [
                replace(p, schedule=schedule) if p is installed.profile else p for p in self.profiles()
            ]
            out.append((schedule_id, self._composite(evse_id, duration, unit, now, profiles)))
        return out

    def _composite(
        self,
        evse_id: int,
        duration: int,
        unit: RateUnit,
        now: datetime,
        profiles: list[Profile] | None = None,
    ) -> Composite:
        tx_id, tx_start = self._transaction(evse_id)
        return composite_schedule(
            self.in_force(now) if profiles is None else profiles,
            start=self.ctx.station_time(now),
            duration=max(1, duration),
            evse_id=evse_id,
            unit=unit,
            fallback=self._fallback(evse_id),
            transaction_id=tx_id,
            transaction_start=tx_start,
            priority=tx_id is not None and self.priority_tx(tx_id),
        )

    def limit_w(self, evse_id: int, now: datetime) -> float | None:
        """The composite limit of an EVSE now, in watts (None: no profile applies, the EVSE's own maximum)."""
        if not self.installed:
            return None
        at = self.ctx.station_time(now)
        tx_id, tx_start = self._transaction(evse_id)
        fallback = self._fallback(evse_id)
        limit, _ = limit_at(
            self.in_force(now),
            at,
            evse_id=evse_id,
            unit=RateUnit.WATT,
            fallback=fallback,
            anchor=tx_start or at,
            transaction_id=tx_id,
            priority=tx_id is not None and self.priority_tx(tx_id),
        )
        return None if limit >= fallback.limit else round(limit, 1)

    def told(self) -> dict[int, float | None]:
        """The limit each EVSE was last told."""
        return dict(self._limits)

    def max_profile_changed(self, before: dict[int, float | None], now: datetime) -> None:
        """K24-K26 (an EMS as Local Controller sets ChargingStationMaxProfiles, K14.FR.05): a running
        transaction whose limit the new profile moved by more than LimitChangeSignificance gets
        ChargingRateChanged. ``before``: :meth:`told` before the profile was set."""
        significance = float(self.ctx.model.value(CTRLR, "LimitChangeSignificance") or 0)
        for evse_id in self.ctx.evses:
            old, new = before.get(evse_id), self._limits.get(evse_id)
            if old == new:
                continue
            if old is not None and new is not None and abs(new - old) <= abs(old) * significance / 100:
                continue
            self._rate_changed(evse_id, now)  # the EVSE's running transaction, if any

    def obey(self, now: datetime) -> None:
        """Tell the hardware of every EVSE whose limit changed."""
        for evse_id in self.ctx.evses:
            self._tell(evse_id, now)

    def _tell(self, evse_id: int, now: datetime) -> None:
        limit = self.limit_w(evse_id, now)
        if self._limits.get(evse_id) != limit:
            self._limits[evse_id] = limit
            self.ctx.act(SetPowerLimit(evse_id, limit))

    def metered(self, evse: Evse, now: datetime) -> None:
        """Every meter reading: bind a waiting remote-start profile, follow the schedule second by second."""
        self._bind(evse, now)
        if self.installed or self._limits.get(evse.id) is not None:
            self._tell(evse.id, now)

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        """TxProfiles end with their transaction (K01: a TxProfile applies to one transaction only)."""
        self.waiting.pop(evse.id, None)
        before = len(self.installed)
        self.installed = [
            i
            for i in self.installed
            if not (i.profile.purpose is Purpose.TX and i.profile.evse_id == evse.id)
        ]
        if len(self.installed) != before:
            self._save()
        self.obey(now)


# ---------------------------------------------------------------------- 2.x handlers
def set_charging_profile(
    ctl: SmartCharging, request: v2x.SetChargingProfileRequestT, now: datetime
) -> v2x.SetChargingProfileResponse:
    """K01."""
    ns = v2x.dialect_of(request)
    raw = request.charging_profile
    before = ctl.told()
    try:
        refusal = ctl.check_21(raw, now)
        if isinstance(refusal, validation.Verdict):
            verdict = refusal
        else:
            raw = refusal
            offered = tuple(wire.schedules_2x(raw))  # K01.FR.34: more than one is for ISO 15118 (K15-K17)
            refusals = (check(raw, request.evse_id) for check in ctl.profile_checks)  # V2X periods (Q)
            refused = next((r for r in refusals if r is not None), None)
            verdict = refused or ctl.set_profile(wire.from_2x(raw, request.evse_id), raw, now, offered)
    except wire.Unconvertible as error:
        verdict = validation.Verdict(False, error.reason, error.detail)
    if verdict.accepted and str(raw.charging_profile_purpose) == Purpose.TX.value:
        for listener in ctl.tx_profile_listeners:
            listener(request.evse_id, now)
    if verdict.accepted and str(raw.charging_profile_purpose) == Purpose.CHARGING_STATION_MAX.value:
        ctl.max_profile_changed(before, now)
    info = (
        ns.StatusInfoType(reason_code=verdict.reason, additional_info=(verdict.detail or "-")[:512])
        if verdict.reason is not None
        else UNSET
    )
    return ns.SetChargingProfileResponse(
        status=ns.ChargingProfileStatusEnumType(verdict.status), status_info=info
    )


def _reports_201(request_id: int, evse_id: int, source: str, parts: list[list[Installed]]) -> list[Payload]:
    return [
        v201.messages.ReportChargingProfilesRequest(
            request_id=request_id,
            charging_limit_source=v201.enums.ChargingLimitSourceEnumType(source),
            charging_profile=[narrow(i.wire, v201.datatypes.ChargingProfileType) for i in part],
            evse_id=evse_id,
        )
        for part in parts
    ]


def _reports_21(request_id: int, evse_id: int, source: str, parts: list[list[Installed]]) -> list[Payload]:
    return [
        v21.messages.ReportChargingProfilesRequest(
            request_id=request_id,
            charging_limit_source=source,
            charging_profile=[narrow(i.wire, v21.datatypes.ChargingProfileType) for i in part],
            evse_id=evse_id,
        )
        for part in parts
    ]


def get_charging_profiles(
    ctl: SmartCharging, request: v2x.GetChargingProfilesRequestT, now: datetime
) -> v2x.GetChargingProfilesResponse:
    """K09: Accepted and ReportChargingProfiles after the answer (one EVSE per report, at most
    REPORT_PER_MESSAGE profiles each, tbc on all but the last, K09.FR.01/02); NoProfiles when none match."""
    ns = v2x.dialect_of(request)
    criteria = request.charging_profile
    purpose = present(criteria.charging_profile_purpose)
    sources = present(criteria.charging_limit_source)
    found = ctl.select(
        present(request.evse_id),
        None if purpose is None else str(purpose),
        present(criteria.stack_level),
        present(criteria.charging_profile_id),
    )
    if sources is not None:
        wanted = {str(s) for s in sources}
        found = [i for i in found if i.source in wanted]
    if not found:
        return ns.GetChargingProfilesResponse(status=ns.GetChargingProfileStatusEnumType.NO_PROFILES)
    reports: list[Payload] = []
    for evse_id, source in sorted({(i.profile.evse_id, i.source) for i in found}):
        mine = [i for i in found if (i.profile.evse_id, i.source) == (evse_id, source)]
        parts = [mine[k : k + REPORT_PER_MESSAGE] for k in range(0, len(mine), REPORT_PER_MESSAGE)]
        build = _reports_201 if ctl.ctx.version is Version.V201 else _reports_21
        reports += build(request.request_id, evse_id, source, parts)
    for index, report in enumerate(reports):
        if index < len(reports) - 1:
            report = msgspec.structs.replace(report, tbc=True)
        ctl.ctx.send(report, now)
    return ns.GetChargingProfilesResponse(status=ns.GetChargingProfileStatusEnumType.ACCEPTED)


def clear_charging_profile(
    ctl: SmartCharging, request: v2x.ClearChargingProfileRequestT, now: datetime
) -> v2x.ClearChargingProfileResponse:
    """K10."""
    ns = v2x.dialect_of(request)
    status = ns.ClearChargingProfileStatusEnumType
    criteria = present(request.charging_profile_criteria)
    name = present(criteria.charging_profile_purpose) if criteria is not None else None
    if name is not None and str(name) not in _PURPOSES:
        return ns.ClearChargingProfileResponse(status=status.UNKNOWN)  # a 2.1 purpose we never hold
    cleared = ctl.clear(
        present(request.charging_profile_id),
        present(criteria.evse_id) if criteria is not None else None,
        None if name is None else Purpose(str(name)),
        present(criteria.stack_level) if criteria is not None else None,
        now,
    )
    return ns.ClearChargingProfileResponse(status=status.ACCEPTED if cleared else status.UNKNOWN)


_PURPOSES = frozenset(p.value for p in Purpose)


def get_composite_schedule(
    ctl: SmartCharging, request: v2x.GetCompositeScheduleRequestT, now: datetime
) -> v2x.GetCompositeScheduleResponse:
    """K08: Rejected for an unknown EVSE (K08.FR.05) or a unit the station does not support."""
    ns = v2x.dialect_of(request)
    unit_name = present(request.charging_rate_unit)
    unit = RateUnit.AMPERE if unit_name is None else RateUnit(str(unit_name))
    known = request.evse_id == 0 or request.evse_id in ctl.ctx.evses
    if not known or unit not in ctl.caps().rate_units or request.duration <= 0:
        reason = "UnknownEVSE" if not known else "InvalidValue"
        return ns.GetCompositeScheduleResponse(
            status=ns.GenericStatusEnumType.REJECTED, status_info=ns.StatusInfoType(reason_code=reason)
        )
    composite = ctl.composite(request.evse_id, request.duration, unit, now)
    schedule = ns.CompositeScheduleType(
        evse_id=request.evse_id,
        duration=composite.duration,
        schedule_start=to_wire(composite.start),
        charging_rate_unit=ns.ChargingRateUnitEnumType(composite.unit.value),
        charging_schedule_period=[
            ns.ChargingSchedulePeriodType(start_period=start, limit=limit, number_phases=phases)
            for start, limit, phases in wire.composite_periods(composite)
        ],
    )
    return ns.GetCompositeScheduleResponse(status=ns.GenericStatusEnumType.ACCEPTED, schedule=schedule)


# ---------------------------------------------------------------------- 1.6 handlers
def set_charging_profile16(
    ctl: SmartCharging, request: v16.messages.SetChargingProfileRequest, now: datetime
) -> v16.messages.SetChargingProfileResponse:
    """1.6 §5.16 (§3.13.1: TxDefaultProfile on connector 0 for all, TxProfile only with a transaction)."""
    raw = request.cs_charging_profiles
    try:
        verdict = ctl.set_profile(wire.from_16(raw, request.connector_id), raw, now)
    except wire.Unconvertible:
        verdict = validation.Verdict(False)
    return v16.messages.SetChargingProfileResponse(status=v16.enums.ChargingProfileStatus(verdict.status))


def clear_charging_profile16(
    ctl: SmartCharging, request: v16.messages.ClearChargingProfileRequest, now: datetime
) -> v16.messages.ClearChargingProfileResponse:
    """1.6 §5.5: by id, else by connector / purpose / stack level (none: all)."""
    purpose = present(request.charging_profile_purpose)
    cleared = ctl.clear(
        present(request.id),
        present(request.connector_id),
        None if purpose is None else wire.PURPOSE_16[str(purpose)],
        present(request.stack_level),
        now,
    )
    status = v16.enums.ClearChargingProfileStatus
    return v16.messages.ClearChargingProfileResponse(status=status.ACCEPTED if cleared else status.UNKNOWN)


def get_composite_schedule16(
    ctl: SmartCharging, request: v16.messages.GetCompositeScheduleRequest, now: datetime
) -> v16.messages.GetCompositeScheduleResponse:
    """1.6 §5.7: Rejected for an unknown connector or a unit not allowed."""
    name = present(request.charging_rate_unit)
    unit = RateUnit.AMPERE if name is None else RateUnit(str(name))
    connector = request.connector_id
    status = v16.enums.GetCompositeScheduleStatus
    if (connector != 0 and connector not in ctl.ctx.evses) or unit not in ctl.caps().rate_units:
        return v16.messages.GetCompositeScheduleResponse(status=status.REJECTED)
    composite = ctl.composite(connector, request.duration, unit, now)
    return v16.messages.GetCompositeScheduleResponse(
        status=status.ACCEPTED,
        connector_id=connector,
        schedule_start=to_wire(composite.start),
        charging_schedule=wire.composite_16(composite),
    )


SmartCharging.on_2x = (
    route("SetChargingProfile", set_charging_profile),
    route("GetChargingProfiles", get_charging_profiles),
    route("ClearChargingProfile", clear_charging_profile),
    route("GetCompositeSchedule", get_composite_schedule),
)
SmartCharging.on_16 = (
    route("SetChargingProfile", set_charging_profile16),
    route("ClearChargingProfile", clear_charging_profile16),
    route("GetCompositeSchedule", get_composite_schedule16),
)
