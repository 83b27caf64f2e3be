"""V2X on the station (2.1 block Q: bidirectional power transfer, Q01-Q12).

The periods of a 2.1 TxProfile / TxDefaultProfile may carry an operation mode (Part 2 Q §2.2). The smart
charging block keeps such profiles like any other (their charging cap is ``limit`` where given, see
:mod:`chargeplane.smart_charging.wire`); this block checks their V2X fields on SetChargingProfile
(:mod:`chargeplane.smart_charging.v2x`: V2X.05, Q08.FR.03-05, Q09.FR.01/02, Q10.FR.02, K01.FR.126) and, at every
meter reading, finds the V2X period in force on each EVSE (the transaction's TxProfiles, else the
TxDefaultProfiles, the highest stack level with a period now) and puts its target out as a
:class:`~.model.SetPowerSetpoint` for the hardware: negative watts make the simulated EV discharge.

Allowed energy transfer (Q01/Q02): the Authorize answer's ``allowedEnergyTransfer`` for the EVSE, replaced
during the session by NotifyAllowedEnergyTransfer (Q02.FR.06: Accepted, and an ISO 15118-20 EV that can
discharge renegotiates: its needs go out again asking for the bidirectional transfer, Q02.FR.07). The station
never discharges an EV without a bidirectional transfer allowed (a negative target becomes zero), nor one that
said it cannot (its V2X charging parameters). The CSMS rejecting a bidirectional request ends the transaction
(Q01.FR.06).

Frequency support: LocalFrequency follows the grid frequency the meter reads (Q08.FR.06), recomputed when it
moved by LocalFrequencyUpdateThreshold mHz (Q08.FR.07), plus the aFRR signal of AFRRSignal from its timestamp
(Q08.FR.10; Rejected NoSignalWattCurve without such a period in force, Q08.FR.11). LocalLoadBalancing
corrects the target by the upstream meter's load (``StationCore.upstream_load``, Q09.FR.04). Idle: zero, and
with evseSleep the EVSE's electronics off (Q10.FR.03).

Offline (Q11/Q12, K01 maxOfflineDuration): a profile whose maxOfflineDuration has passed since the connection
dropped leaves the choice of the V2X period (the next stack level applies); back online it counts again,
unless invalidAfterOfflineDuration: then it was removed when its time ran out.

External control (Q06): an EMS's ExternalSetpoint in a ChargingStationExternalConstraints profile (made by
:mod:`~chargeplane.station.core.dynamic_schedule`) wins over the CSMS's setpoint unless
SmartChargingCtrlr.SetpointPriority is CSMS (Q06.FR.20-22), kept within the CSMS period's limit and
dischargeLimit when both are in the same unit (V2X.03/04); set on EVSE 0 it is shared equally by the EVSEs with
a transaction (Q06.FR.31).

Decisions: measurands of V2XChargingCtrlr.TxUpdatedMeasurands[<mode>] default to the export register and
export power for every mode but ChargingOnly, TxStarted / TxEndedMeasurands[<mode>] to the export register
(Q01.FR.33/34; the mode of the Started event is the period in force then, before any target); without allowedEnergyTransfer (Q01.FR.08) nothing bidirectional is
allowed until NotifyAllowedEnergyTransfer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging import v2x as rules
from chargeplane.smart_charging import validation
from chargeplane.smart_charging.composite import is_valid, period_at
from chargeplane.smart_charging.model import Electrical, Purpose, RateUnit
from chargeplane.smart_charging.v2x import OperationMode, V2xPeriod
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.iso15118_charging import AC_MODES, Iso15118Charging
from chargeplane.station.core.metering import MEASURANDS, Metering
from chargeplane.station.core.model import EvChargingNeeds, Evse, SetPowerSetpoint
from chargeplane.station.core.smart_charging import Installed, SmartCharging
from chargeplane.station.core.transactions import Transactions

CTRLR = "V2XChargingCtrlr"
EXTERNAL_SETPOINT = OperationMode.EXTERNAL_SETPOINT.value
STATE_KEY = "v2x_allowed"
SMART = "SmartChargingCtrlr"
LOAD_BALANCING = "LocalLoadBalancing"
EXPORT_REGISTER = "Energy.Active.Export.Register"
EXPORT_MEASURANDS = f"{EXPORT_REGISTER},Power.Active.Export"
AC_TRANSFERS = "AC_single_phase,AC_two_phase,AC_three_phase,AC_BPT"
DC_TRANSFERS = "DC,DC_BPT"
DC_CONNECTORS = ("cCCS", "cG105", "cChaoJi", "cGBT-DC", "cMCS")  # ConnectorEnumType values of DC plugs
TARGET_PURPOSES = (Purpose.TX.value, Purpose.TX_DEFAULT.value)


@dataclass(frozen=True, slots=True)
class Active:
    """The V2X period in force on an EVSE, with its profile and unit."""

    installed: Installed
    period: V2xPeriod
    unit: RateUnit
    phases: int
    share: int = 1  # an external setpoint for EVSE 0 is shared by this many EVSEs (Q06.FR.31)


class V2x(Controller):
    __slots__ = (
        "_expired",
        "_frequency_used",
        "_load_reading",
        "_load_used",
        "_mode_of_target",
        "_restored",
        "allowed",
        "external_reactive",
        "external_setpoint",
        "frequency_hz",
        "load_w",
        "offline_since",
        "requested",
        "signal",
        "signals",
        "targets",
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.allowed: dict[int, tuple[str, ...]] = {}  # EVSE -> allowedEnergyTransfer of its session
        self.requested: dict[int, str] = {}  # EVSE -> the transfer its EV asked for last
        self.frequency_hz: float | None = None  # the latest grid frequency read
        self._frequency_used: dict[int, float | None] = {}  # the frequency each EVSE's target was made with
        self.signals: list[
            tuple[datetime, int]
        ] = []  # aFRR signals waiting for their timestamp (station time)
        self.signal: int | None = None  # the aFRR signal in force
        self.load_w: float | None = None  # the upstream meter (Q09)
        self._load_reading = 0  # how many upstream readings came in
        self._load_used: dict[int, int] = {}  # the reading each EVSE's load-balancing target last corrected
        self.external_setpoint: float | None = None  # an external system's (Q05.FR.01)
        self.external_reactive: float | None = None  # and its reactive setpoint
        self.targets: dict[int, SetPowerSetpoint] = {}
        self.offline_since: datetime | None = None
        self._expired: set[int] = set()  # profiles whose maxOfflineDuration ran out in this offline period
        self._mode_of_target: dict[int, OperationMode | None] = {}
        self._restored: dict[str, tuple[str, ...]] = {}  # transaction id -> allowed, read back after a reboot

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        modes = ",".join(m.value for m in rules.ALL_MODES)
        transfers = DC_TRANSFERS if layout.connector_type.startswith(DC_CONNECTORS) else AC_TRANSFERS
        per_mode = [
            var(CTRLR, name, "MemberList", default, variable_instance=mode.value, values_list=MEASURANDS)
            for name, default in (
                ("TxStartedMeasurands", EXPORT_REGISTER),  # Q01.FR.33
                ("TxUpdatedMeasurands", EXPORT_MEASURANDS),  # Q01.FR.35
                ("TxEndedMeasurands", EXPORT_REGISTER),  # Q01.FR.34
            )
            for mode in rules.ALL_MODES
            if mode is not OperationMode.CHARGING_ONLY
        ]
        thresholds = [
            var(CTRLR, LOAD_BALANCING, "decimal", "", variable_instance=name, unit="W")
            for name in ("UpperThreshold", "LowerThreshold", "UpperOffset", "LowerOffset")
        ]
        return [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "SupportedOperationModes", "MemberList", modes, ro, values_list=modes),  # Q01.FR.30
            var(CTRLR, "SupportedEnergyTransferModes", "MemberList", transfers, ro, values_list=transfers),
            var(CTRLR, "LocalFrequencyUpdateThreshold", "integer", "10", unit="mHz", min_limit=0),
            var(SMART, "SupportsEvseSleep", "boolean", "true", ro),
            *per_mode,
            *thresholds,
        ]

    @property
    def enabled(self) -> bool:
        return self.ctx.version is Version.V21 and self.ctx.model.flag(CTRLR, "Enabled")

    def _save(self) -> None:
        """The allowed transfers of running transactions survive a reboot with them (B13 resumption)."""
        data = {
            evse.tx.id: list(self.allowed[evse.id])
            for evse in self.ctx.evses.values()
            if evse.tx is not None and evse.id in self.allowed
        }
        self.ctx.storage.set_state(STATE_KEY, json.dumps(data) if data else None)

    def _load(self) -> None:
        text = self.ctx.storage.get_state(STATE_KEY)
        try:
            data = json.loads(text) if text else {}
            self._restored = {str(tx): tuple(str(t) for t in transfers) for tx, transfers in data.items()}
        except (ValueError, TypeError, AttributeError):
            self._restored = {}  # unreadable: nothing bidirectional until the CSMS says so again

    def _allowed_of(self, evse_id: int) -> tuple[str, ...]:
        """The session's allowed transfers; after a reboot those its resumed transaction had."""
        found = self.allowed.get(evse_id)
        if found is not None:
            return found
        evse = self.ctx.evses.get(evse_id)
        return () if evse is None or evse.tx is None else self._restored.get(evse.tx.id, ())

    def start(self, now: datetime) -> None:
        self._load()
        smart = self.ctx.get(SmartCharging)
        smart.profile_checks.append(self.check_profile)
        smart.suspended = self._suspended
        iso = self.ctx.get(Iso15118Charging)
        iso.needs_extras.append(self.decorate_needs)
        iso.needs_answered.append(self.needs_answered)
        self.ctx.get(Metering).extra_measurands = self.measurands

    # ------------------------------------------------------------------ SetChargingProfile checks
    def supported(self) -> frozenset[OperationMode]:
        if not self.enabled:
            return frozenset({OperationMode.CHARGING_ONLY})
        return frozenset(OperationMode(m) for m in self.ctx.model.members(CTRLR, "SupportedOperationModes"))

    def load_balancing(self) -> rules.LoadBalancing | None:
        model = self.ctx.model
        values = []
        for name in ("UpperThreshold", "LowerThreshold", "UpperOffset", "LowerOffset"):
            try:
                values.append(float(model.value(CTRLR, LOAD_BALANCING, name)))
            except ValueError:
                return None  # Q09.FR.02: not set
        return rules.LoadBalancing(*values)

    def check_profile(self, raw: Payload, evse_id: int) -> validation.Verdict | None:
        """Block Q's refusals of a 2.1 profile's periods (None: nothing against it here)."""
        if not isinstance(raw, v21.datatypes.ChargingProfileType):
            return None
        supported = self.supported()
        sleep = self.ctx.model.flag(SMART, "SupportsEvseSleep")
        purpose = str(raw.charging_profile_purpose)
        for schedule in raw.charging_schedule:
            watts = str(schedule.charging_rate_unit) == RateUnit.WATT.value
            for wire_period in schedule.charging_schedule_period:
                period = rules.from_wire(wire_period)
                where = f"schedule {schedule.id}, period at {period.start} s"
                if period.evse_sleep and not sleep:  # K01.FR.126
                    return validation.Verdict(False, "InvalidSchedule", f"{where}: evseSleep not supported")
                if not rules.is_v2x(wire_period) and wire_period.operation_mode is UNSET:
                    continue  # a plain limit period: block K's rules
                external_setpoint = (
                    purpose == Purpose.EXTERNAL_CONSTRAINTS.value
                    and period.mode is OperationMode.EXTERNAL_SETPOINT
                )
                if period.controls_setpoint and not external_setpoint and purpose not in TARGET_PURPOSES:
                    # Q03 prerequisites: V2X operations through a TxProfile / TxDefaultProfile
                    return validation.Verdict(False, "InvalidProfile", f"{where}: not in a {purpose}")
                refusal = rules.check_period(
                    period, watts=watts, supported=supported, load_balancing=self.load_balancing()
                )
                if refusal is not None:
                    return validation.Verdict(False, refusal.reason, f"{where}: {refusal.detail}")
        return None

    # ------------------------------------------------------------------ allowed energy transfer
    def authorized(self, evse: Evse, response: Payload, now: datetime) -> None:
        """Q01.FR.01: the Authorize answer's allowedEnergyTransfer for the session on ``evse``."""
        if isinstance(response, v21.messages.AuthorizeResponse):
            allowed = present(response.allowed_energy_transfer)
            self.allowed[evse.id] = tuple(str(a) for a in allowed or ())
            self._save()

    def may_discharge(self, evse_id: int) -> bool:
        return self.enabled and bool(rules.BIDIRECTIONAL_TRANSFERS & set(self._allowed_of(evse_id)))

    def allow(self, transaction_id: str, allowed: list[str], now: datetime) -> bool:
        """Q02.FR.05/06: a new allowedEnergyTransfer for a running transaction; False: no such transaction."""
        evse = next(
            (e for e in self.ctx.evses.values() if e.tx is not None and e.tx.id == transaction_id), None
        )
        if evse is None:
            return False
        self.allowed[evse.id] = tuple(allowed)
        self._save()
        iso = self.ctx.get(Iso15118Charging)
        session = iso.session(evse.id)
        if session is not None and session.needs.v2x is not None:
            wanted = self._transfer_for(evse.id, session.needs)
            if wanted != self.requested.get(evse.id):  # Q02.FR.06/07: the EV renegotiates its service
                iso.ev_needs(evse, session.needs, now)
        self.evaluate(evse, now)
        return True

    def _transfer_for(self, evse_id: int, needs: EvChargingNeeds) -> str:
        """The transfer an EV asks for: bidirectional when it can and it is allowed, else charging only."""
        default = "DC" if needs.dc else AC_MODES.get(needs.phases, "AC_three_phase")
        bidirectional = "DC_BPT" if needs.dc else "AC_BPT"
        allowed = self._allowed_of(evse_id)
        if needs.v2x is not None and self.enabled and needs.der is not None and "AC_BPT_DER" in allowed:
            return "AC_BPT_DER"  # R02/R03: an EV with its own inverter, under DER control
        if needs.v2x is not None and self.enabled and bidirectional in allowed:
            return bidirectional
        return default

    def decorate_needs(self, evse_id: int, needs: EvChargingNeeds, charging: dict[str, object]) -> None:
        """Q01.FR.03 / Q01.FR.09 / Q02.FR.04: the requested and available transfers, the V2X parameters."""
        if needs.v2x is None or not self.enabled:
            return
        default = "DC" if needs.dc else AC_MODES.get(needs.phases, "AC_three_phase")
        requested = self._transfer_for(evse_id, needs)
        self.requested[evse_id] = requested
        charging["requestedEnergyTransfer"] = requested
        available = [default, "DC_BPT" if needs.dc else "AC_BPT"]
        charging["availableEnergyTransfer"] = [*available, "AC_BPT_DER"] if needs.der else available
        charging["controlMode"] = "DynamicControl"
        parameters: dict[str, float] = {
            "maxDischargePower": needs.v2x.max_discharge_power_w,
            "minDischargePower": needs.v2x.min_discharge_power_w,
        }
        if needs.v2x.max_charge_power_w is not None:
            parameters["maxChargePower"] = needs.v2x.max_charge_power_w
        charging["v2xChargingParameters"] = parameters

    def needs_answered(self, evse_id: int, status: str, now: datetime) -> None:
        """Q01.FR.04/06: the CSMS refused the bidirectional transfer: the transaction ends."""
        evse = self.ctx.evses[evse_id]
        if status == "Rejected" and self.requested.get(evse_id) in rules.BIDIRECTIONAL_TRANSFERS and evse.tx:
            self.ctx.get(Transactions).force_stop(evse, "ReqEnergyTransferRejected", "AbnormalCondition", now)

    # ------------------------------------------------------------------ the period in force
    def _suspended(self, installed: Installed, at: datetime) -> bool:
        """Q11: offline for longer than the profile's maxOfflineDuration."""
        raw = installed.wire
        if self.offline_since is None or not isinstance(raw, v21.datatypes.ChargingProfileType):
            return False
        limit = present(raw.max_offline_duration)
        return limit is not None and (at - self.offline_since).total_seconds() >= limit

    def active(self, evse: Evse, now: datetime) -> Active | None:
        """The V2X period in force on ``evse``: the transaction's TxProfiles, else the TxDefaultProfiles."""
        if evse.tx is None:
            return None
        at = self.ctx.station_time(now)
        anchor = from_wire(evse.tx.started_at) if evse.tx.started_at else at
        smart = self.ctx.get(SmartCharging)
        usable = [i for i in smart.installed if not self._suspended(i, now)]
        tx = [
            i
            for i in usable
            if i.profile.purpose is Purpose.TX
            and i.profile.evse_id == evse.id
            and i.profile.transaction_id in (None, evse.tx.id)
        ]
        default = [
            i for i in usable if i.profile.purpose is Purpose.TX_DEFAULT and i.profile.evse_id in (0, evse.id)
        ]
        group = tx if any(is_valid(i.profile, at) for i in tx) else default
        best: tuple[Installed, int] | None = None
        for installed in group:
            period = period_at(installed.profile, at, anchor)
            if period is not None and (
                best is None or installed.profile.stack_level > best[0].profile.stack_level
            ):
                best = (installed, period.start)
        if best is None or not isinstance(best[0].wire, v21.datatypes.ChargingProfileType):
            return None
        installed, start = best
        schedules = best[0].wire.charging_schedule
        schedule = next((s for s in schedules if s.id == installed.selected), schedules[0])
        wire_period = next((p for p in schedule.charging_schedule_period if p.start_period == start), None)
        if wire_period is None:
            return None
        phases = present(wire_period.number_phases) or self.ctx.layout.supply_phases
        return Active(
            installed, rules.from_wire(wire_period), RateUnit(str(schedule.charging_rate_unit)), phases
        )

    def external_active(self, evse: Evse, now: datetime) -> Active | None:
        """Q06.FR.04: the ExternalSetpoint period of a ChargingStationExternalConstraints profile in force on
        ``evse`` (its own before the station's), while it has a transaction."""
        if evse.tx is None:
            return None
        at = self.ctx.station_time(now)
        found: list[tuple[Installed, v21.datatypes.ChargingScheduleType]] = []
        for installed in self.ctx.get(SmartCharging).installed:
            raw = installed.wire
            profile = installed.profile
            if (
                profile.purpose is not Purpose.EXTERNAL_CONSTRAINTS
                or profile.evse_id not in (0, evse.id)
                or not isinstance(raw, v21.datatypes.ChargingProfileType)
                or period_at(profile, at, at) is None
            ):
                continue
            schedule = raw.charging_schedule[0]
            if any(
                str(present(p.operation_mode)) == EXTERNAL_SETPOINT for p in schedule.charging_schedule_period
            ):
                found.append((installed, schedule))
        if not found:
            return None
        installed, schedule = max(found, key=lambda f: (f[0].profile.evse_id, f[0].profile.stack_level))
        period = period_at(installed.profile, at, at)
        assert period is not None
        wire_period = next(p for p in schedule.charging_schedule_period if p.start_period == period.start)
        if str(present(wire_period.operation_mode)) != EXTERNAL_SETPOINT:
            return None
        phases = present(wire_period.number_phases) or self.ctx.layout.supply_phases
        sharing = sum(1 for e in self.ctx.evses.values() if e.tx is not None)
        return Active(
            installed,
            rules.from_wire(wire_period),
            RateUnit(str(schedule.charging_rate_unit)),
            phases,
            sharing if installed.profile.evse_id == 0 else 1,
        )

    def external_floor(self, evse: Evse, now: datetime) -> float | None:
        """Q06.FR.05 / Q06.FR.30: the dischargeLimit (W, <= 0) of the external system's ExternalLimits periods
        in force on ``evse`` (a ChargingStationExternalConstraints profile of its own or of EVSE 0, the
        latter shared equally by the EVSEs with a transaction); the tightest; None: none."""
        at = self.ctx.station_time(now)
        sharing = max(1, sum(1 for e in self.ctx.evses.values() if e.tx is not None))
        floors: list[float] = []
        for installed in self.ctx.get(SmartCharging).installed:
            raw, profile = installed.wire, installed.profile
            if (
                profile.purpose is not Purpose.EXTERNAL_CONSTRAINTS
                or profile.evse_id not in (0, evse.id)
                or not isinstance(raw, v21.datatypes.ChargingProfileType)
            ):
                continue
            period = period_at(profile, at, at)
            schedule = raw.charging_schedule[0]
            found = None if period is None else next(
                (p for p in schedule.charging_schedule_period if p.start_period == period.start), None
            )  # fmt: skip
            if found is None or str(present(found.operation_mode)) != OperationMode.EXTERNAL_LIMITS.value:
                continue
            floor = present(found.discharge_limit)
            if floor is None:
                continue
            unit = RateUnit(str(schedule.charging_rate_unit))
            phases = present(found.number_phases) or self.ctx.layout.supply_phases
            watts = Electrical(evse.meter.voltage_v or 230.0).to_unit(floor, unit, phases, RateUnit.WATT)
            floors.append(watts / sharing if profile.evse_id == 0 else watts)
        return max(floors, default=None)

    def _in_force(self, evse: Evse, now: datetime) -> tuple[Active | None, bool]:
        """The period whose target the EVSE follows, and whether it is the external system's. Q06.FR.21:
        the external setpoint wins unless SmartChargingCtrlr.SetpointPriority is CSMS and the CSMS's period
        sets a setpoint itself (Q06.FR.22)."""
        active = self.active(evse, now)
        external = self.external_active(evse, now)
        if external is None:
            return active, False
        csms_first = self.ctx.model.value(SMART, "SetpointPriority") == "CSMS"
        if active is not None and active.period.controls_setpoint and csms_first:
            return active, False
        if active is not None and active.unit is external.unit:  # V2X.03/04: within the CSMS's limits
            period = external.period
            limits = [v for v in (period.limit, active.period.limit) if v is not None]
            floors = [v for v in (period.discharge_limit, active.period.discharge_limit) if v is not None]
            capped = replace(
                period, limit=min(limits, default=None), discharge_limit=max(floors, default=None)
            )
            external = replace(external, period=capped)
        return external, True

    def takes_external_setpoint(self, evse_id: int, now: datetime) -> bool:
        """Q05.FR.01: a CSMS period in force on ``evse_id`` (0: any EVSE) waits for the external setpoint."""
        return any(
            (active := self.active(evse, now)) is not None
            and active.period.mode is OperationMode.EXTERNAL_SETPOINT
            for evse in self.ctx.evses.values()
            if evse_id in (0, evse.id)
        )

    def mode(self, evse: Evse, now: datetime) -> OperationMode | None:
        active = self.active(evse, now)
        return None if active is None else active.period.mode

    def measurands(self, evse: Evse, variable: str, now: datetime) -> tuple[str, ...]:
        """Q01.FR.33-35: V2XChargingCtrlr's ``variable`` (TxStarted / TxUpdated / TxEndedMeasurands) of the
        operation mode in force on ``evse`` (the one its target was last worked out with, else the period
        in force now: a Started event comes before the first target)."""
        if not self.enabled:
            return ()
        target = self.targets.get(evse.id)
        mode = self._mode_of_target.get(evse.id) if target is not None else None
        if mode is None:
            active, _ = self._in_force(evse, now)
            mode = None if active is None else active.period.mode
        if mode is None or mode is OperationMode.CHARGING_ONLY:
            return ()
        value = self.ctx.model.value(CTRLR, variable, mode.value)
        return tuple(m.strip() for m in value.split(",") if m.strip())

    # ------------------------------------------------------------------ the target
    def evaluate(self, evse: Evse, now: datetime) -> None:
        """Work the target of ``evse`` out again and tell the hardware when it changed."""
        active, external = self._in_force(evse, now) if self.enabled else (None, False)
        if active is None:
            self._tell(SetPowerSetpoint(evse.id, None), None)
            return
        period = active.period
        if period.mode is OperationMode.LOCAL_FREQUENCY:
            used = self._frequency_used.get(evse.id)
            threshold = self.ctx.model.number(CTRLR, "LocalFrequencyUpdateThreshold") / 1000.0
            if used is None or (
                self.frequency_hz is not None and abs(self.frequency_hz - used) >= threshold
            ):  # Q08.FR.06 at the start, Q08.FR.07 on a change past the threshold
                self._frequency_used[evse.id] = self.frequency_hz
        load_w = self.load_w
        if period.mode is OperationMode.LOCAL_LOAD_BALANCING:
            # Q09.FR.04: each upstream reading corrects the setpoint once (a meter tick in between
            # would add the same correction again to a target the reading does not yet reflect)
            if self._load_used.get(evse.id) == self._load_reading:
                load_w = None
            self._load_used[evse.id] = self._load_reading
        electrical = Electrical(evse.meter.voltage_v or 230.0)
        previous = self.targets.get(evse.id)
        inputs = rules.Inputs(
            frequency_hz=self._frequency_used.get(evse.id),
            afrr_signal=self.signal,
            load_w=load_w,
            # the external profile holds the EMS's value itself; the plain value feeds Q05 periods
            external_setpoint=None if external else self.external_setpoint,
            previous=None if previous is None or previous.setpoint_w is None else
            electrical.to_unit(previous.setpoint_w, RateUnit.WATT, active.phases, active.unit),
        )  # fmt: skip
        value = rules.target(period, inputs, self.load_balancing())
        if value is not None and active.share > 1:  # Q06.FR.31: EVSE 0's setpoint over its sessions
            value /= active.share
        watts = (
            None if value is None else electrical.to_unit(value, active.unit, active.phases, RateUnit.WATT)
        )
        if watts is not None and watts < 0:
            floor = self.external_floor(evse, now)  # Q06.FR.05/30: the EMS's dischargeLimit
            watts = max(watts, -self._ev_discharge_w(evse.id), -math.inf if floor is None else floor)
            watts = watts if self.may_discharge(evse.id) else 0.0
        sleep = (
            period.mode is OperationMode.IDLE
            and period.evse_sleep
            and self.ctx.model.flag(SMART, "SupportsEvseSleep")
        )
        final = None if watts is None else round(watts, 1)
        action = SetPowerSetpoint(
            evse.id, final, sleep, *self._phases_and_reactive(active, electrical, final)
        )
        self._tell(action, period.mode)

    def _phases_and_reactive(
        self, active: Active, electrical: Electrical, watts: float | None
    ) -> tuple[tuple[float, float, float] | None, float | None]:
        """The period's setpoint per phase (setpoint_L2 / _L3, scaled to the final ``watts``) and its
        reactive setpoint (setpointReactive and its L2 / L3 values; an external system's for ExternalSetpoint),
        in W / var; Q05.FR.01, V2X.03/04 per phase."""
        period = active.period
        split = rules.phase_setpoints(period)
        phases = None
        if split is not None and watts is not None:
            per = [electrical.to_unit(v, active.unit, 1, RateUnit.WATT) for v in split]
            total = sum(per)
            scale = (
                0.0 if total == 0.0 else watts / total
            )  # an EV's cap or a refused discharge: in proportion
            phases = (round(per[0] * scale, 1), round(per[1] * scale, 1), round(per[2] * scale, 1))
        var_ = rules.reactive(period, self.external_reactive)
        var_w = None if var_ is None else electrical.to_unit(var_, active.unit, active.phases, RateUnit.WATT)
        return phases, None if var_w is None else round(var_w, 1)

    def _ev_discharge_w(self, evse_id: int) -> float:
        """What the EV said it can give (its V2X charging parameters); unknown: no cap of ours."""
        session = self.ctx.get(Iso15118Charging).session(evse_id)
        if session is None or session.needs.v2x is None:
            return float("inf")
        return session.needs.v2x.max_discharge_power_w

    def _tell(self, action: SetPowerSetpoint, mode: OperationMode | None) -> None:
        self._mode_of_target[action.evse_id] = mode
        before = self.targets.get(action.evse_id)
        if before == action or (before is None and action.setpoint_w is None and not action.sleep):
            return
        self.targets[action.evse_id] = action
        self.ctx.act(action)

    def decorate(
        self, evse: Evse, request: v21.messages.TransactionEventRequest
    ) -> v21.messages.TransactionEventRequest:
        """Q10.FR.04: evseSleep while the EVSE sleeps; Q01.FR.02: the EV's EVCCID with the token that starts
        an ISO 15118-20 transaction, for the CSMS to decide on V2X."""
        if self.sleeping(evse.id):
            request = msgspec.structs.replace(request, evse_sleep=True)
        session = self.ctx.get(Iso15118Charging).session(evse.id)
        token = present(request.id_token)
        ability = None if session is None else session.needs.v2x
        if token is not None and ability is not None and ability.evccid and request.event_type == "Started":
            extra = v21.datatypes.AdditionalInfoType(additional_id_token=ability.evccid, type="EVCCID")
            token = msgspec.structs.replace(
                token, additional_info=[*(present(token.additional_info) or []), extra]
            )
            request = msgspec.structs.replace(request, id_token=token)
        return request

    def sleeping(self, evse_id: int) -> bool:
        """Q10.FR.04: whether the EVSE's electronics are off (evseSleep in its TransactionEvents)."""
        target = self.targets.get(evse_id)
        return target is not None and target.sleep

    # ------------------------------------------------------------------ inputs
    def metered(self, evse: Evse, now: datetime) -> None:
        if evse.meter.frequency_hz is not None:
            self.frequency_hz = evse.meter.frequency_hz
        self.evaluate(evse, now)

    def upstream_load(self, load_w: float, now: datetime) -> None:
        """Q09.FR.03: the upstream (building) meter's power, positive when consuming."""
        self.load_w = load_w
        self._load_reading += 1
        self.evaluate_all(now)

    def external(self, setpoint_w: float | None, now: datetime) -> None:
        """Q05.FR.01: the external system's setpoint for ExternalSetpoint periods."""
        self.external_setpoint = setpoint_w
        self.evaluate_all(now)

    def evaluate_all(self, now: datetime) -> None:
        for evse in self.ctx.evses.values():
            self.evaluate(evse, now)

    def afrr(self, timestamp: datetime, signal: int, now: datetime) -> bool:
        """Q08.FR.10/11: an aFRR signal, applied from ``timestamp``; False: no LocalFrequency period with a
        v2xSignalWattCurve in force."""
        active = [self.active(e, now) for e in self.ctx.evses.values()]
        if not any(a is not None and a.period.signal_watt for a in active):
            return False
        self.signals.append((timestamp, signal))
        self.signals.sort()
        self.handle_timer(now)
        return True

    # ------------------------------------------------------------------ hooks
    def transaction_started(self, evse: Evse, now: datetime) -> None:
        self._save()

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        if self.allowed.pop(evse.id, None) is not None:
            self._save()
        self.requested.pop(evse.id, None)
        self._frequency_used.pop(evse.id, None)
        self._load_used.pop(evse.id, None)
        self._tell(SetPowerSetpoint(evse.id, None), None)

    def connection_closed(self, now: datetime) -> None:
        if self.offline_since is None:
            self.offline_since = now

    def connection_opened(self, now: datetime) -> None:
        """Q12: back online, the profiles that only waited for the connection count again."""
        self.offline_since = None
        self._expired.clear()
        self.ctx.get(SmartCharging).obey(now)
        self.evaluate_all(now)

    def _offline_expiries(self) -> list[tuple[datetime, Installed]]:
        if self.offline_since is None:
            return []
        out = []
        for installed in self.ctx.get(SmartCharging).installed:
            raw = installed.wire
            if isinstance(raw, v21.datatypes.ChargingProfileType):
                limit = present(raw.max_offline_duration)
                if limit is not None:
                    out.append((self.offline_since + timedelta(seconds=limit), installed))
        return out

    def next_deadline(self) -> datetime | None:
        due = [self.signals[0][0] - self.ctx.clock_offset] if self.signals else []
        due += [at for at, installed in self._offline_expiries() if installed.profile.id not in self._expired]
        return min(due, default=None)

    def handle_timer(self, now: datetime) -> None:
        at = self.ctx.station_time(now)
        changed = False
        while self.signals and self.signals[0][0] <= at:
            self.signal = self.signals.pop(0)[1]
            changed = True
        smart = self.ctx.get(SmartCharging)
        for when, installed in self._offline_expiries():
            if when > now or installed.profile.id in self._expired:
                continue
            self._expired.add(installed.profile.id)
            changed = True
            raw = installed.wire
            if isinstance(raw, v21.datatypes.ChargingProfileType) and present(
                raw.invalid_after_offline_duration
            ):
                smart.clear(installed.profile.id, None, None, None, now)  # Q12 #3: never again
        if changed:
            smart.obey(now)  # the limit without the profiles that sit out now
            self.evaluate_all(now)


# ---------------------------------------------------------------------- 2.1 handlers
def notify_allowed_energy_transfer(
    ctl: V2x, request: v21.messages.NotifyAllowedEnergyTransferRequest, now: datetime
) -> v21.messages.NotifyAllowedEnergyTransferResponse:
    """Q02.FR.05/06."""
    status = v21.enums.NotifyAllowedEnergyTransferStatusEnumType
    allowed = [str(a) for a in request.allowed_energy_transfer]
    if not ctl.enabled:
        return v21.messages.NotifyAllowedEnergyTransferResponse(
            status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code="Disabled")
        )
    if not ctl.allow(request.transaction_id, allowed, now):
        return v21.messages.NotifyAllowedEnergyTransferResponse(
            status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code="TxNotFound")
        )
    return v21.messages.NotifyAllowedEnergyTransferResponse(status=status.ACCEPTED)


def afrr_signal(
    ctl: V2x, request: v21.messages.AFRRSignalRequest, now: datetime
) -> v21.messages.AFRRSignalResponse:
    """Q08.FR.10/11."""
    status = v21.enums.GenericStatusEnumType
    try:
        timestamp = from_wire(request.timestamp)
    except ValueError:
        return v21.messages.AFRRSignalResponse(
            status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code="InvalidValue")
        )
    if not ctl.enabled or not ctl.afrr(timestamp, request.signal, now):
        return v21.messages.AFRRSignalResponse(
            status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code="NoSignalWattCurve")
        )
    return v21.messages.AFRRSignalResponse(status=status.ACCEPTED)


V2x.on_2x = (
    route("NotifyAllowedEnergyTransfer", notify_allowed_energy_transfer),
    route("AFRRSignal", afrr_signal),
)
