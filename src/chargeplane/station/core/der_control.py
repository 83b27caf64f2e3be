"""DER control (2.1 R01, R03-R05) on the station: the controls the CSMS sets, and the inverter obeying them.

SetDERControl stores a control per type as a default or scheduled one (startTime / duration), persisted
(R01.FR.03); a type missing from DCDERCtrlr.ModesSupported of every enabled EVSE is NotSupported (R04.FR.01).
Priorities (a lower value wins) supersede as R04.FR.02-08 say: a new control with a lower value supersedes
the not-yet-started ones of its kind (default or scheduled) at once, a running scheduled one only at its own
start (R04.FR.07, reported in NotifyDERStartStop supersededIds, R04.FR.21); a new control with a higher
value than a running or installed one is superseded itself (R04.FR.08). Equal priorities supersede nothing:
both stay, and when both are in force the one received later is executed (the spec is silent there).
A scheduled control starts and stops with NotifyDERStartStop (R04.FR.20/22) and is deleted after its
duration (R04.FR.10); without a scheduled control in force the default is executed (R04.FR.11).
GetDERControl reports in ReportDERControl parts (R04.FR.30-36), ClearDERControl by id, type or all
(R04.FR.41-45). The :class:`~.der_inverter.Inverter` applies the controls in force to the simulated grid
(:meth:`DerControl.set_grid`) and the EVSEs' power; when a control makes it deviate, NotifyDERAlarm, and its
end when it no longer does (R05.FR.01-04).

DER controls exist in 2.1 only: the variables come through the 2.1 adapter's extra variables, the handlers
are skipped on 2.0.1 (not in its catalog).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.der_inverter import (
    SIMULATED,
    UNCAPPED,
    Cause,
    Ctl,
    Envelope,
    Fault,
    Inverter,
    Output,
    Rating,
    Setting,
)
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.iso15118_charging import Iso15118Charging
from chargeplane.station.core.model import (
    EvChargingNeeds,
    EvDerAbility,
    EvDerControls,
    Evse,
    SetInverterLimits,
)

CTRLR = "DCDERCtrlr"
AC_CTRLR = "ACDERCtrlr"
STATE_KEY = "der_controls"
PER_REPORT = 24  # controls per ReportDERControlRequest (the schema's cap of each list)
m21 = v21.messages
d21 = v21.datatypes
Status = v21.enums.DERControlStatusEnumType
CURVES = frozenset(
    {
        Ctl.FREQ_WATT,
        Ctl.HF_MUST_TRIP,
        Ctl.HF_MAY_TRIP,
        Ctl.HV_MUST_TRIP,
        Ctl.HV_MOM_CESS,
        Ctl.HV_MAY_TRIP,
        Ctl.LF_MUST_TRIP,
        Ctl.LV_MUST_TRIP,
        Ctl.LV_MOM_CESS,
        Ctl.LV_MAY_TRIP,
        Ctl.POWER_MONITORING_MUST_TRIP,
        Ctl.VOLT_VAR,
        Ctl.VOLT_WATT,
        Ctl.WATT_PF,
        Ctl.WATT_VAR,
    }
)
# the field of SetDERControlRequest that carries each non-curve type, and its Struct
FIELDS: dict[Ctl, tuple[str, type[Setting]]] = {
    Ctl.ENTER_SERVICE: ("enter_service", d21.EnterServiceType),
    Ctl.FREQ_DROOP: ("freq_droop", d21.FreqDroopType),
    Ctl.FIXED_PF_ABSORB: ("fixed_pf_absorb", d21.FixedPFType),
    Ctl.FIXED_PF_INJECT: ("fixed_pf_inject", d21.FixedPFType),
    Ctl.FIXED_VAR: ("fixed_var", d21.FixedVarType),
    Ctl.GRADIENTS: ("gradient", d21.GradientType),
    Ctl.LIMIT_MAX_DISCHARGE: ("limit_max_discharge", d21.LimitMaxDischargeType),
}
SETTING_FIELDS = ("curve", *(name for name, _ in FIELDS.values()))
# types whose setting has no startTime / duration: defaults only
UNSCHEDULED = frozenset({Ctl.ENTER_SERVICE, Ctl.GRADIENTS})
# R03.FR.03: what the station emulates for an AC EV's inverter by capping the power it grants the EV (its
# EVSEMaximumDischargePower and EVSETargetActivePower): the controls that only limit active power or stop it
EMULATED_AC = (
    Ctl.LIMIT_MAX_DISCHARGE,
    Ctl.VOLT_WATT,
    Ctl.FREQ_WATT,
    Ctl.HV_MUST_TRIP,
    Ctl.LV_MUST_TRIP,
    Ctl.HF_MUST_TRIP,
    Ctl.LF_MUST_TRIP,
)


def setting_type(ctype: Ctl) -> tuple[str, type[Setting]]:
    return ("curve", d21.DERCurveType) if ctype in CURVES else FIELDS[ctype]


@dataclass
class DerCtl:
    """One stored DER control: its setting in wire form plus the station's bookkeeping."""

    id: str
    type: Ctl
    is_default: bool
    setting: Setting
    received: int  # order of arrival (equal priorities: the later one is executed)
    superseded: bool = False
    supersede_at: datetime | None = None  # R04.FR.07: superseded at this (station) time
    started: bool = False  # NotifyDERStartStop started=true went out

    @property
    def priority(self) -> int:
        return self.setting.priority

    @property
    def start(self) -> datetime | None:
        value = present(getattr(self.setting, "start_time", UNSET))
        return from_wire(value) if isinstance(value, str) else None

    @property
    def end(self) -> datetime | None:
        start, duration = self.start, present(getattr(self.setting, "duration", UNSET))
        if start is None or not isinstance(duration, int | float):
            return None
        return start + timedelta(seconds=duration)

    def within(self, at: datetime) -> bool:
        """Not before its start nor at or after its end (a default may carry them: the spec leaves it open)."""
        start, end = self.start, self.end
        return (start is None or start <= at) and (end is None or at < end)

    def running(self, at: datetime) -> bool:
        """A scheduled control between its start and its end (superseded or not)."""
        start, end = self.start, self.end
        return start is not None and end is not None and start <= at < end

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "isDefault": self.is_default,
            "setting": msgspec.to_builtins(self.setting),
            "received": self.received,
            "superseded": self.superseded,
            "supersedeAt": to_wire(self.supersede_at) if self.supersede_at else None,
            "started": self.started,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DerCtl:
        ctype = Ctl(data["type"])
        return cls(
            data["id"],
            ctype,
            data["isDefault"],
            msgspec.convert(data["setting"], setting_type(ctype)[1]),
            data["received"],
            data["superseded"],
            from_wire(data["supersedeAt"]) if data.get("supersedeAt") else None,
            data["started"],
        )


def variables(layout: StationLayout) -> list[VariableDef]:
    """DCDERCtrlr per EVSE (R01.FR.01): the inverter's nameplate and the modes it supports."""
    rating = Rating()
    modes = ",".join(c.value for c in SIMULATED)
    every = ",".join(c.value for c in Ctl)
    out: list[VariableDef] = []
    for evse in range(1, len(layout.connectors) + 1):
        ro: dict[str, Any] = {"mutability": "ReadOnly", "evse": evse}
        out += [
            var(CTRLR, "Enabled", "boolean", "true", evse=evse),
            var(CTRLR, "ModesSupported", "MemberList", modes, evse=evse, values_list=every),
            var(CTRLR, "MaxW", "decimal", str(rating.max_w), unit="W", **ro),
            var(CTRLR, "OverExcitedW", "decimal", str(rating.max_w * 0.9), unit="W", **ro),
            var(CTRLR, "OverExcitedPF", "decimal", "0.9", **ro),
            var(CTRLR, "UnderExcitedW", "decimal", str(rating.max_w * 0.9), unit="W", **ro),
            var(CTRLR, "UnderExcitedPF", "decimal", "0.9", **ro),
            var(CTRLR, "MaxVA", "decimal", str(rating.max_w), unit="VA", **ro),
            var(CTRLR, "MaxVar", "decimal", str(rating.max_var), unit="Var", **ro),
            var(CTRLR, "MaxVarNeg", "decimal", str(rating.max_var), unit="Var", **ro),
            var(CTRLR, "MaxChargeRateW", "decimal", str(rating.max_w), unit="W", **ro),
            var(CTRLR, "MaxChargeRateVA", "decimal", str(rating.max_w), unit="VA", **ro),
            var(CTRLR, "VNom", "decimal", str(rating.v_nom), unit="V", **ro),
            var(CTRLR, "InverterManufacturer", "string", "Chargeplane", **ro),
            var(CTRLR, "InverterModel", "string", "SimInverter", **ro),
            var(CTRLR, "InverterSwVersion", "string", "1.0", **ro),
            var(CTRLR, "InverterHwVersion", "string", "1.0", **ro),
            var(CTRLR, "ReactiveSusceptance", "decimal", "0", unit="s", **ro),
            var(CTRLR, "MaxV", "decimal", str(round(rating.v_nom * 1.1, 1)), unit="V", **ro),
            var(CTRLR, "MinV", "decimal", str(round(rating.v_nom * 0.9, 1)), unit="V", **ro),
            var(CTRLR, "InverterSerialNumber", "string", f"SIM-{evse:04d}", **ro),
            # R03.FR.03: the controls emulated for an AC_BPT_DER EV's inverter
            var(
                AC_CTRLR,
                "ModesSupported",
                "MemberList",
                ",".join(c.value for c in EMULATED_AC),
                evse=evse,
                values_list=",".join(c.value for c in EMULATED_AC),
            ),
        ]
    return out


def ev_rating(ability: EvDerAbility) -> Rating:
    """An AC EV's inverter as the station sees it: its nameplate from derChargingParameters (R03: e.g.
    LimitMaxDischarge is a share of the EV's maximum discharge power)."""
    return Rating(ability.max_discharge_w, ability.max_var, ability.nominal_voltage_v)


def wire(setting: Setting) -> bytes:
    return msgspec.json.encode(setting)


class DerControl(Controller):
    __slots__ = (
        "alarm",
        "controls",
        "ev_abilities",
        "ev_alarms",
        "ev_sent",
        "inverter",
        "last",
        "limits",
        "received",
        "seen",
    )

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.controls: dict[str, DerCtl] = {}
        self.received = 0
        self.inverter = Inverter(self._rating())
        self.alarm: Cause | None = None  # the alarm last reported (R05.FR.03/04: one at a time)
        self.last: Output | None = None
        self.seen: datetime | None = None  # the core time of the last inverter step
        self.limits: dict[int, Envelope] = {}  # EVSE -> the cap last given its hardware (absent: none)
        self.ev_abilities: dict[int, EvDerAbility] = {}  # EVSE -> the AC_BPT_DER EV's inverter (R02/R03)
        self.ev_sent: dict[int, tuple[tuple[str, bytes], ...]] = {}  # EVSE -> the controls handed its EV
        self.ev_alarms: dict[int, tuple[str, str | None]] = {}  # EVSE -> the EV inverter's alarm reported

    # ------------------------------------------------------------------ state
    @property
    def enabled(self) -> bool:
        return self.ctx.version is Version.V21

    def _rating(self, evse: int = 1) -> Rating:
        """R01.FR.01: the DC inverter's nameplate of ``evse`` as its DCDERCtrlr variables state it."""

        def number(name: str, default: float) -> float:
            value = self.ctx.model.value(CTRLR, name, evse=evse) if self.enabled else None
            try:
                return float(value) if value else default
            except ValueError:
                return default

        base = Rating()
        return Rating(number("MaxW", base.max_w), number("MaxVar", base.max_var), number("VNom", base.v_nom))

    def start(self, now: datetime) -> None:
        self.ctx.get(Iso15118Charging).needs_extras.append(self.decorate_needs)
        saved = self.ctx.storage.get_state(STATE_KEY)
        if saved:  # R01.FR.03: they survive a reboot
            data = json.loads(saved)
            self.received = data["received"]
            self.alarm = Cause(Ctl(data["alarm"][0]), _fault(data["alarm"][1])) if data.get("alarm") else None
            for item in data["controls"]:
                control = DerCtl.from_json(item)
                self.controls[control.id] = control

    def _save(self) -> None:
        alarm = [self.alarm.control_type.value, self.alarm.fault] if self.alarm else None
        data = {
            "received": self.received,
            "alarm": alarm,
            "controls": [c.to_json() for c in self.controls.values()],
        }
        self.ctx.storage.set_state(STATE_KEY, json.dumps(data) if self.controls or alarm else None)

    def supported(self) -> set[Ctl]:
        """R04.FR.01: the union of ModesSupported over the EVSEs whose DC inverter is enabled, and of the
        controls emulated for AC EVs (ACDERCtrlr, R03.FR.03)."""
        out: set[Ctl] = set()
        for evse in self.ctx.evses:
            out |= self._dc_modes(evse) | self._ac_modes(evse)
        return out

    def _modes(self, component: str, evse: int) -> set[Ctl]:
        modes = self.ctx.model.value(component, "ModesSupported", evse=evse) or ""
        return {Ctl(m) for m in modes.split(",") if m in Ctl.__members__.values()}

    def _dc_modes(self, evse: int) -> set[Ctl]:
        if self.ctx.model.value(CTRLR, "Enabled", evse=evse) != "true":
            return set()
        return self._modes(CTRLR, evse)

    def _ac_modes(self, evse: int) -> set[Ctl]:
        return self._modes(AC_CTRLR, evse)

    # ------------------------------------------------------------------ set (R04.FR.01-08)
    def set(self, request: m21.SetDERControlRequest, now: datetime) -> m21.SetDERControlResponse:
        ctype = Ctl(request.control_type)
        if ctype not in self.supported():
            return m21.SetDERControlResponse(status=Status.NOT_SUPPORTED)  # R04.FR.01
        name, kind = setting_type(ctype)
        setting = getattr(request, name)
        others = [f for f in SETTING_FIELDS if f != name and present(getattr(request, f)) is not None]
        if not isinstance(setting, kind) or others:
            return _rejected("InvalidValue", f"{ctype.value} is set through {name} alone")
        scheduled = not request.is_default
        has_time = present(getattr(setting, "start_time", UNSET)) is not None
        has_duration = present(getattr(setting, "duration", UNSET)) is not None
        if scheduled and (ctype in UNSCHEDULED or not (has_time and has_duration)):
            return _rejected("MissingParam", "a scheduled control needs startTime and duration")
        if has_duration and (present(getattr(setting, "duration", UNSET)) or 0) <= 0:
            return _rejected("InvalidValue", "duration must be positive")
        at = self.ctx.station_time(now)
        new = DerCtl(request.control_id, ctype, request.is_default, setting, self.received + 1)
        if new.end is not None and new.end <= at:
            return _rejected("InvalidValue", "the control would already be over")
        self.controls.pop(request.control_id, None)  # the same id again: the new one replaces it
        self.received += 1
        superseded = self._supersede(new, at)
        self.controls[new.id] = new
        self._save()
        self.apply(now)
        return m21.SetDERControlResponse(status=Status.ACCEPTED, superseded_ids=superseded or UNSET)

    def _supersede(self, new: DerCtl, at: datetime) -> list[str]:
        """R04.FR.03 / 06 / 07 / 08: what the new control supersedes now (or is superseded by)."""
        superseded: list[str] = []
        for old in self.controls.values():
            if old.type is not new.type or old.is_default != new.is_default or old.superseded:
                continue
            running = old.running(at)
            if new.priority < old.priority:
                if running:  # R04.FR.07: the running one goes on until the new one starts
                    start = new.start
                    old.supersede_at = (
                        start if old.supersede_at is None or start is None else min(old.supersede_at, start)
                    )
                else:  # R04.FR.03 / 06
                    old.superseded = True
                    superseded.append(old.id)
            elif new.priority > old.priority and not new.superseded:  # R04.FR.08
                new.superseded = True
                superseded.append(new.id)
        return superseded

    # ------------------------------------------------------------------ in force (R04.FR.09/11)
    def in_force(self, at: datetime) -> dict[Ctl, DerCtl]:
        """Per type the control executed at ``at``: a running scheduled one, else the default."""
        chosen: dict[Ctl, DerCtl] = {}
        for ctype in {c.type for c in self.controls.values()}:
            candidates = [c for c in self.controls.values() if c.type is ctype and not c.superseded]
            scheduled = [c for c in candidates if not c.is_default and c.running(at)]
            defaults = [c for c in candidates if c.is_default and c.within(at)]
            pool = scheduled or defaults
            if pool:
                chosen[ctype] = min(pool, key=lambda c: (c.priority, -c.received))
        return chosen

    def settings(self, at: datetime) -> dict[Ctl, Setting]:
        return {ctype: c.setting for ctype, c in self.in_force(at).items()}

    # ------------------------------------------------------------------ time (R04.FR.07/10/20-22)
    def next_deadline(self) -> datetime | None:
        if not self.enabled:
            return None
        offset = self.ctx.clock_offset
        moments: list[datetime] = []
        seen = self.ctx.station_time(self.seen) if self.seen is not None else None
        for c in self.controls.values():
            # a scheduled control's start until it is handled; a timed default's start while still ahead
            start = (
                c.start
                if not c.started and (not c.is_default or (seen is not None and c.start and c.start > seen))
                else None
            )
            for moment in (c.supersede_at, start, c.end):
                if moment is not None:
                    moments.append(moment - offset)
        if self.seen is not None:
            inverter = self.inverter.next_deadline(self.settings(self.ctx.station_time(self.seen)))
            if inverter is not None:
                moments.append(inverter)
        return min(moments) if moments else None

    def handle_timer(self, now: datetime) -> None:
        if not self.enabled:
            return
        self.tick(now)

    def tick(self, now: datetime) -> None:
        """Starts, supersessions, ends and expiries due at ``now``, then the inverter."""
        at = self.ctx.station_time(now)
        changed = False
        due = sorted(
            (
                c
                for c in self.controls.values()
                if not c.is_default and not c.started and c.start and c.start <= at
            ),
            key=lambda c: (c.start or at, c.received),
        )
        for control in due:
            if control.superseded or (control.end is not None and control.end <= at):
                control.started = True  # never executed (R04.FR.09), or missed entirely: nothing to report
                changed = True
                continue
            replaced = [
                o
                for o in self.controls.values()
                if o.supersede_at is not None
                and o.supersede_at <= at
                and o.type is control.type
                and not o.superseded
            ]
            for old in replaced:
                old.superseded = True
                old.supersede_at = None
            control.started = True
            changed = True
            ids = [o.id for o in replaced]
            self._start_stop(control.id, True, now, ids)  # R04.FR.20 / 21
        for old in self.controls.values():
            if old.supersede_at is not None and old.supersede_at <= at:
                old.superseded, old.supersede_at, changed = True, None, True
        for control in list(self.controls.values()):
            end = control.end
            if end is not None and end <= at:  # R04.FR.10
                if control.started and not control.superseded:
                    self._start_stop(control.id, False, now)  # R04.FR.22
                del self.controls[control.id]
                changed = True
        if changed:
            self._save()
        self.apply(now)

    def _start_stop(
        self, control_id: str, started: bool, now: datetime, superseded: list[str] | None = None
    ) -> None:
        request = m21.NotifyDERStartStopRequest(
            control_id=control_id,
            started=started,
            timestamp=self.ctx.ts(now),
            superseded_ids=superseded[:24] if superseded else UNSET,
        )
        self.ctx.send(request, now)

    # ------------------------------------------------------------------ the inverter (R05)
    def set_grid(self, voltage_v: float | None, frequency_hz: float | None, now: datetime) -> Output:
        """The simulated grid at the connection point moves (None: unchanged)."""
        if voltage_v is not None:
            self.inverter.voltage_v = voltage_v
        if frequency_hz is not None:
            self.inverter.frequency_hz = frequency_hz
        return self.apply(now)

    def metered(self, evse: Evse, now: datetime) -> None:
        """The EVSEs' power changed: what they ask of the inverter (charging positive, before its cap), and
        the alarm of the EV's own inverter on ``evse`` (R02: reported as the station's NotifyDERAlarm)."""
        if not self.enabled:
            return
        self.inverter.requested_w = sum(
            e.meter.power_w if e.meter.uncapped_w is None else e.meter.uncapped_w
            for e in self.ctx.evses.values()
        )
        self._ev_alarm(evse, now)
        if self.controls or self.alarm is not None or self.limits:  # no controls: the power passes through
            self.apply(now)

    def _ev_alarm(self, evse: Evse, now: datetime) -> None:
        """R05.FR.01/02 for the EV's inverter: a new alarm it raises, or the end of the last one."""
        alarm = evse.meter.ev_der_alarm
        previous = self.ev_alarms.get(evse.id)
        if alarm == previous:
            return
        if alarm is not None:
            self.ev_alarms[evse.id] = alarm
            self._notify_alarm(
                Cause(Ctl(alarm[0]), _fault(alarm[1])), False, now, f"EV inverter, EVSE {evse.id}"
            )
        elif previous is not None:
            del self.ev_alarms[evse.id]
            self._notify_alarm(
                Cause(Ctl(previous[0]), _fault(previous[1])), True, now, f"EV inverter, EVSE {evse.id}"
            )

    # ------------------------------------------------------------------ the EV's inverter (R02/R03)
    def ev_connected(self, evse: Evse, needs: EvChargingNeeds, now: datetime) -> None:
        """An ISO 15118-20 EV told its needs: with an inverter of its own (AC_BPT_DER) it takes the controls
        it supports (R02.FR.03, R03.FR.05), the station emulates the rest it can (R03.FR.04)."""
        if not self.enabled:
            return
        self.ev_sent.pop(evse.id, None)  # an EV that states its needs gets its controls (again)
        if needs.der is None:
            self.ev_abilities.pop(evse.id, None)
        else:
            self.ev_abilities[evse.id] = needs.der
        self.apply(now)

    def decorate_needs(self, evse_id: int, needs: EvChargingNeeds, charging: dict[str, Any]) -> None:
        """R02.FR.01 / R03.FR.01: an AC_BPT_DER EV's inverter nameplate and the DER controls it supports in
        derChargingParameters (the V2X block asks for AC_BPT_DER for it)."""
        ability = needs.der
        if ability is None or not self.enabled:
            return
        supported = [c for c in ability.supported if c in Ctl.__members__.values()]
        parameters: dict[str, Any] = {
            "evOverExcitedMaxDischargePower": ability.max_discharge_w,
            "evOverExcitedPowerFactor": ability.over_excited_pf,
            "evUnderExcitedMaxDischargePower": ability.max_discharge_w,
            "evUnderExcitedPowerFactor": ability.under_excited_pf,
            "maxApparentPower": max(ability.max_charge_w, ability.max_discharge_w),
            "maxChargeApparentPower": ability.max_charge_w,
            "maxDischargeApparentPower": ability.max_discharge_w,
            "maxChargeReactivePower": ability.max_var,
            "maxDischargeReactivePower": ability.max_var,
            "nominalVoltage": ability.nominal_voltage_v,
            "evInverterManufacturer": ability.manufacturer,
            "evInverterModel": ability.model,
        }
        if supported:
            parameters["evSupportedDERControl"] = supported
        charging["derChargingParameters"] = parameters

    def ev_left(self, evse: Evse, now: datetime) -> None:
        if self.ev_abilities.pop(evse.id, None) is None and evse.id not in self.ev_alarms:
            return
        self.ev_sent.pop(evse.id, None)
        self.ev_alarms.pop(evse.id, None)  # the EV's inverter went with it: its alarm ends unreported
        if self.enabled:
            self.apply(now)

    def _split(
        self, evse: int, settings: dict[Ctl, Setting]
    ) -> tuple[dict[Ctl, Setting], dict[Ctl, Setting]]:
        """What ``evse``'s EV executes and what the station executes, of the controls in force: an EV with
        its own inverter takes those it supports (R03.FR.05), the station those in ACDERCtrlr.ModesSupported
        (R03.FR.03/04); otherwise the EVSE's DC inverter takes those in DCDERCtrlr.ModesSupported (R01)."""
        ability = self.ev_abilities.get(evse)
        if ability is None:
            modes = self._dc_modes(evse)
            return {}, {t: s for t, s in settings.items() if t in modes}
        ev = {t: s for t, s in settings.items() if t.value in ability.supported}
        modes = self._ac_modes(evse)
        return ev, {t: s for t, s in settings.items() if t not in ev and t in modes}

    def _executing(
        self, evse: int, settings: dict[Ctl, Setting]
    ) -> tuple[dict[Ctl, Setting], dict[Ctl, Setting], Rating]:
        """:meth:`_split`, and the rating the station's part applies to: the EVSE's DC inverter (R01), or the
        AC EV's inverter whose power the station caps (R03: e.g. a share of EVMaximumDischargePower)."""
        ev_part, own = self._split(evse, settings)
        ability = self.ev_abilities.get(evse)
        return ev_part, own, self._rating(evse) if ability is None else ev_rating(ability)

    def _flow(self, settings: dict[Ctl, Setting]) -> None:
        """R01/R03: cap each EVSE's power by what its inverter lets through, and hand each AC_BPT_DER EV
        its controls (R02.FR.03); only changes are acted on."""
        for evse in self.ctx.evses:
            ev_part, own, rating = self._executing(evse, settings)
            if evse in self.ev_abilities:
                handed = tuple(sorted((t.value, wire(s)) for t, s in ev_part.items()))
                if self.ev_sent.get(evse) != handed:
                    self.ev_sent[evse] = handed
                    self.ctx.act(EvDerControls(evse, handed))
            envelope = self.inverter.envelope(own, rating)
            if envelope != self.limits.get(evse, UNCAPPED):
                if envelope == UNCAPPED:
                    del self.limits[evse]
                else:
                    self.limits[evse] = envelope
                self.ctx.act(
                    SetInverterLimits(evse, _finite(envelope.max_charge_w), _finite(envelope.max_discharge_w))
                )

    def _deviation(self, settings: dict[Ctl, Setting]) -> Cause | None:
        """R05.FR.01: the control that bites on what an EVSE asks of the inverter executing for it (its DC
        inverter, or the station's emulation for an AC EV's), the first EVSE's that has one."""
        for evse_id, evse in self.ctx.evses.items():
            _, own, rating = self._executing(evse_id, settings)
            meter = evse.meter
            asked = meter.power_w if meter.uncapped_w is None else meter.uncapped_w
            _, cause = self.inverter.limit(own, asked, rating)
            if cause is not None:
                return cause
        return None

    def apply(self, now: datetime) -> Output:
        """Run the inverter with the controls in force, cap the EVSEs by it and report a changed deviation
        (R05.FR.01-04); the controls handed to EVs are theirs to report."""
        settings = self.settings(self.ctx.station_time(now))
        handed = {t for evse in self.ev_abilities for t in self._split(evse, settings)[0]}
        own = {t: s for t, s in settings.items() if t not in handed}
        out = self.inverter.step(own, now)
        self.last, self.seen = out, now
        if not self.enabled:
            return out
        self._flow(settings)
        cause = out.cause if out.tripped else self._deviation(settings)
        if cause == self.alarm:
            return out
        previous, self.alarm = self.alarm, cause
        if cause is not None:  # R05.FR.01, R05.FR.03: a new cause takes over, no end of the old one
            self._notify_alarm(cause, False, now)
        elif previous is not None:  # R05.FR.02
            self._notify_alarm(previous, True, now)
        self._save()
        return out

    def _notify_alarm(
        self, cause: Cause, ended: bool, now: datetime, source: str = "station inverter"
    ) -> None:
        request = m21.NotifyDERAlarmRequest(
            control_type=cause.control_type,
            grid_event_fault=cause.fault if cause.fault is not None else UNSET,
            alarm_ended=True if ended else UNSET,
            timestamp=self.ctx.ts(now),
            extra_info=f"{source}: V={self.inverter.voltage_v:.1f} f={self.inverter.frequency_hz:.2f}",
        )
        self.ctx.send(request, now)

    # ------------------------------------------------------------------ get / clear (R04.FR.30-45)
    def matching(self, is_default: bool | None, ctype: Ctl | None, control_id: str | None) -> list[DerCtl]:
        return [
            c
            for c in sorted(self.controls.values(), key=lambda c: c.received)
            if (is_default is None or c.is_default == is_default)
            and (ctype is None or c.type is ctype)
            and (control_id is None or c.id == control_id)
        ]

    def report(self, request_id: int, controls: list[DerCtl], now: datetime) -> None:
        """R04.FR.31/32: the controls in parts of PER_REPORT, tbc on all but the last."""
        parts = [controls[i : i + PER_REPORT] for i in range(0, len(controls), PER_REPORT)]
        for index, part in enumerate(parts):
            self.ctx.send(_report(request_id, part, index < len(parts) - 1), now)


def _finite(watts: float) -> float | None:
    return None if math.isinf(watts) else round(watts, 1)


def _ctl(value: str | None) -> Ctl | None:
    return Ctl(value) if value is not None else None


def _fault(value: str | None) -> Fault | None:
    return Fault(value) if value else None


def _rejected(reason: str, text: str) -> m21.SetDERControlResponse:
    info = d21.StatusInfoType(reason_code=reason, additional_info=text[:1024])
    return m21.SetDERControlResponse(status=Status.REJECTED, status_info=info)


def _report(request_id: int, part: list[DerCtl], tbc: bool) -> m21.ReportDERControlRequest:
    curves: list[d21.DERCurveGetType] = []
    enter: list[d21.EnterServiceGetType] = []
    gradients: list[d21.GradientGetType] = []
    absorb: list[d21.FixedPFGetType] = []
    inject: list[d21.FixedPFGetType] = []
    fixed_var: list[d21.FixedVarGetType] = []
    droop: list[d21.FreqDroopGetType] = []
    discharge: list[d21.LimitMaxDischargeGetType] = []
    for c in part:
        s, cid, default, gone = c.setting, c.id, c.is_default, c.superseded
        if isinstance(s, d21.DERCurveType):
            curves.append(
                d21.DERCurveGetType(
                    curve=s, curve_type=c.type, id=cid, is_default=default, is_superseded=gone
                )
            )
        elif isinstance(s, d21.EnterServiceType):
            enter.append(d21.EnterServiceGetType(enter_service=s, id=c.id))
        elif isinstance(s, d21.GradientType):
            gradients.append(d21.GradientGetType(gradient=s, id=c.id))
        elif isinstance(s, d21.FixedPFType):
            into = absorb if c.type is Ctl.FIXED_PF_ABSORB else inject
            into.append(d21.FixedPFGetType(fixed_pf=s, id=cid, is_default=default, is_superseded=gone))
        elif isinstance(s, d21.FixedVarType):
            fixed_var.append(d21.FixedVarGetType(fixed_var=s, id=cid, is_default=default, is_superseded=gone))
        elif isinstance(s, d21.FreqDroopType):
            droop.append(d21.FreqDroopGetType(freq_droop=s, id=cid, is_default=default, is_superseded=gone))
        else:
            discharge.append(
                d21.LimitMaxDischargeGetType(
                    limit_max_discharge=s, id=cid, is_default=default, is_superseded=gone
                )
            )
    return m21.ReportDERControlRequest(
        request_id=request_id,
        tbc=True if tbc else UNSET,
        curve=curves or UNSET,
        enter_service=enter or UNSET,
        gradient=gradients or UNSET,
        fixed_pf_absorb=absorb or UNSET,
        fixed_pf_inject=inject or UNSET,
        fixed_var=fixed_var or UNSET,
        freq_droop=droop or UNSET,
        limit_max_discharge=discharge or UNSET,
    )


def set_der_control(
    ctl: DerControl, request: m21.SetDERControlRequest, now: datetime
) -> m21.SetDERControlResponse:
    return ctl.set(request, now)


def get_der_control(
    ctl: DerControl, request: m21.GetDERControlRequest, now: datetime
) -> m21.GetDERControlResponse:
    ctype = _ctl(present(request.control_type))
    if ctype is not None and ctype not in ctl.supported():
        return m21.GetDERControlResponse(status=Status.NOT_SUPPORTED)  # R04.FR.36
    found = ctl.matching(present(request.is_default), ctype, present(request.control_id))
    if not found:
        return m21.GetDERControlResponse(status=Status.NOT_FOUND)  # R04.FR.30
    ctl.report(request.request_id, found, now)  # R04.FR.33-35
    return m21.GetDERControlResponse(status=Status.ACCEPTED)


def clear_der_control(
    ctl: DerControl, request: m21.ClearDERControlRequest, now: datetime
) -> m21.ClearDERControlResponse:
    ctype = _ctl(present(request.control_type))
    control_id = present(request.control_id)
    if ctype is not None and control_id is None and ctype not in ctl.supported():
        return m21.ClearDERControlResponse(status=Status.NOT_SUPPORTED)  # R04.FR.43
    found = ctl.matching(request.is_default, ctype, control_id)
    if not found and (ctype is not None or control_id is not None):
        return m21.ClearDERControlResponse(status=Status.NOT_FOUND)  # R04.FR.41 / 42
    at = ctl.ctx.station_time(now)
    for control in found:  # R04.FR.44 / 45
        if control.started and not control.superseded and control.running(at):
            ctl._start_stop(control.id, False, now)  # a running control stops with its clearing
        del ctl.controls[control.id]
    ctl._save()
    ctl.apply(now)
    return m21.ClearDERControlResponse(status=Status.ACCEPTED)


DerControl.on_2x = (
    route("SetDERControl", set_der_control),
    route("GetDERControl", get_der_control),
    route("ClearDERControl", clear_der_control),
)
