"""V2X with dynamic profiles on the station (2.1 Q04, Q05.FR.07, Q07): a Dynamic TxProfile / TxDefaultProfile
whose one period has a V2X operation mode follows the setpoints of UpdateDynamicSchedule at once and lapses
chargingSchedule.duration seconds after its last update."""

from __future__ import annotations

from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import EvChargingNeeds, SetPowerSetpoint, V2xAbility
from chargeplane.station.core.smart_charging import SmartCharging
from tests.station.core.helpers import make_rig
from tests.station.core.test_v2x import Csms, central, meter, period, profile, session, set_profile, setpoints

M21 = v21.messages
D21 = v21.datatypes
V2X_NEEDS_WITH_ID = EvChargingNeeds(
    10_000.0,
    control_mode="DynamicControl",
    v2x=V2xAbility(max_discharge_power_w=7_000.0, evccid="WMI0000000042"),
)


def dynamic(periods: list[D21.ChargingSchedulePeriodType], duration: int | None = None, **extra: Any) -> Any:
    raw = profile(periods, **extra)
    schedule = raw.charging_schedule[0]
    if duration is not None:
        schedule = v21.datatypes.ChargingScheduleType(
            id=schedule.id,
            charging_rate_unit=schedule.charging_rate_unit,
            charging_schedule_period=schedule.charging_schedule_period,
            duration=duration,
        )
    return D21.ChargingProfileType(
        id=raw.id,
        stack_level=raw.stack_level,
        charging_profile_purpose=raw.charging_profile_purpose,
        charging_profile_kind="Dynamic",
        transaction_id=raw.transaction_id,
        charging_schedule=[schedule],
    )


def update(rig: Any, profile_id: int = 1, **values: Any) -> Any:
    return rig.handle(
        M21.UpdateDynamicScheduleRequest(
            charging_profile_id=profile_id, schedule_update=D21.ChargingScheduleUpdateType(**values)
        )
    )


def test_Q04_dynamic_central_setpoint_update_changes_the_target_at_once() -> None:
    rig, tx = session()
    assert set_profile(rig, dynamic([central(-3000.0)], tx=tx)).status == "Accepted"
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -3000.0)
    assert update(rig, setpoint=4000.0).status == "Accepted"
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 4000.0)  # no meter reading needed


def test_Q07_central_frequency_dynamic_setpoint_followed_and_dynUpdateTime_stamped() -> None:
    rig, tx = session()
    freq = period(operation_mode="CentralFrequency", setpoint=1000.0)
    assert set_profile(rig, dynamic([freq], tx=tx)).status == "Accepted"
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 1000.0)
    rig.advance(5)
    assert update(rig, setpoint=-2500.0, setpoint_reactive=300.0).status == "Accepted"
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -2500.0, reactive_var=300.0)  # the reactive one too
    [installed] = rig.core.ctx.get(SmartCharging).installed
    wire_period = installed.wire.charging_schedule[0].charging_schedule_period[0]
    assert (wire_period.setpoint, wire_period.setpoint_reactive) == (-2500.0, 300.0)
    assert installed.wire.dyn_update_time == rig.core.ctx.ts(rig.now)  # K28.FR.09


def test_Q04_update_setpoint_stays_within_its_discharge_limit_V2X_04() -> None:
    rig, tx = session()
    set_profile(rig, dynamic([central(-1000.0)], tx=tx))
    update(rig, setpoint=-9000.0, discharge_limit=-4000.0)
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -4000.0)


def test_Q05_FR_07_dynamic_profile_lapses_duration_after_its_last_update_then_next_level_applies() -> None:
    rig, tx = session()
    set_profile(rig, profile([central(2000.0)], id=2, level=0, tx=tx))
    set_profile(rig, dynamic([central(-3000.0)], duration=60, tx=tx, level=1))
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -3000.0)
    rig.advance(50)
    update(rig, setpoint=-3500.0)  # duration counts again from here
    rig.advance(50)
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -3500.0)
    rig.advance(15)  # 65 s after the last update: the Dynamic profile is no longer valid
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 2000.0)  # at its lapse, no meter reading needed
    update(rig, setpoint=-1000.0)  # a late update brings it back
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -1000.0)


# ---------------------------------------------------------------------- Q06 external setpoint profile
def notices(rig: Any) -> list[Any]:
    return rig.of(M21.NotifyChargingLimitRequest)


def ems(rig: Any, setpoint: float | None, evse_id: int = 1, **extra: Any) -> bool:
    """The EMS gives ``setpoint`` W; the core's answer (False: refused)."""
    taken: bool = rig.core.external_setpoint(setpoint, rig.now, evse_id=evse_id, **extra)
    rig.pump()
    return taken


def test_Q06_FR_04_06_07_11_external_setpoint_becomes_a_dynamic_external_constraints_profile() -> None:
    rig, _ = session()
    assert ems(rig, -2000.0, 1, reactive=100.0)
    [installed] = rig.core.ctx.get(SmartCharging).installed
    raw = installed.wire
    assert (raw.charging_profile_purpose, raw.charging_profile_kind) == (
        "ChargingStationExternalConstraints",
        "Dynamic",
    )
    wire_period = raw.charging_schedule[0].charging_schedule_period[0]
    assert (wire_period.operation_mode, wire_period.setpoint, wire_period.setpoint_reactive) == (
        "ExternalSetpoint",
        -2000.0,
        100.0,
    )
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -2000.0, reactive_var=100.0)
    [notice] = notices(rig)  # Q06.FR.11: source EMS with the one-period schedule
    assert (notice.charging_limit.charging_limit_source, notice.evse_id) == ("EMS", 1)
    assert notice.charging_schedule[0].charging_schedule_period[0].setpoint == -2000.0
    rig.advance(3)
    ems(rig, -2010.0, 1)  # Q06.FR.06/07: in place, not significant
    raw = rig.core.ctx.get(SmartCharging).installed[0].wire
    assert raw.charging_schedule[0].charging_schedule_period[0].setpoint == -2010.0
    assert raw.dyn_update_time == rig.core.ctx.ts(rig.now)
    assert len(notices(rig)) == 1
    ems(rig, 3000.0, 1)  # Q06.FR.12: a significant change
    assert len(notices(rig)) == 2
    # the profile keeps the reactive setpoint the EMS gave last (an update without one leaves it)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 3000.0, reactive_var=100.0)
    ems(rig, None, 1)
    assert rig.core.ctx.get(SmartCharging).installed == []
    assert rig.of(M21.ClearedChargingLimitRequest)[-1].charging_limit_source == "EMS"
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, None)


def test_Q06_FR_08_external_setpoint_refused_when_external_constraints_are_disallowed() -> None:
    rig, _ = session()
    rig.core.model.put(VariableKey("SmartChargingCtrlr", "ExternalConstraintsProfileDisallowed"), "true")
    assert not ems(rig, -2000.0, 1)
    assert rig.core.ctx.get(SmartCharging).installed == []
    assert notices(rig) == []


def test_Q05_FR_03_05_external_setpoint_lands_in_the_csms_dynamic_ExternalSetpoint_period() -> None:
    rig, tx = session()
    external = period(operation_mode="ExternalSetpoint", limit=6000.0, discharge_limit=-6000.0)
    assert set_profile(rig, dynamic([external], tx=tx)).status == "Accepted"
    rig.advance(2)
    assert ems(rig, -9000.0, 1)
    [installed] = rig.core.ctx.get(SmartCharging).installed  # no profile of its own (Q05)
    assert installed.wire.charging_schedule[0].charging_schedule_period[0].setpoint == -9000.0
    assert installed.wire.dyn_update_time == rig.core.ctx.ts(rig.now)  # Q05.FR.05
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -6000.0)  # V2X.04: not below dischargeLimit


def test_Q06_FR_21_22_SetpointPriority_decides_between_external_and_csms_setpoints() -> None:
    rig, tx = session()
    set_profile(rig, profile([central(1500.0)], tx=tx))
    ems(rig, -1000.0, 1)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -1000.0)  # Q06.FR.21: by default the external one
    rig.core.model.put(VariableKey("SmartChargingCtrlr", "SetpointPriority"), "CSMS")
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 1500.0)  # Q06.FR.22


def test_Q06_FR_31_station_wide_external_setpoint_shared_by_the_sessions() -> None:
    rig = make_rig(connectors=(1, 1), version=Version.V21, answer=Csms(["AC_three_phase", "AC_BPT"]))
    for evse_id, card in ((1, "TAG1"), (2, "TAG2")):
        rig.do("ev_plugged", evse_id, 1)
        rig.do("token_presented", card, evse_id=evse_id)
    ems(rig, -3000.0, 0)
    assert {a.evse_id: a.setpoint_w for a in setpoints(rig)[-2:]} == {1: -1500.0, 2: -1500.0}


def test_Q06_V2X_04_external_setpoint_stays_within_the_csms_discharge_limit() -> None:
    rig, tx = session()
    set_profile(rig, profile([central(1000.0, discharge_limit=-1500.0)], tx=tx))
    ems(rig, -4000.0, 1)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -1500.0)


# ---------------------------------------------------------------------- Q01.FR.33/34/36
def sampled(event: Any) -> set[str]:
    return {str(s.measurand) for value in event.meter_value for s in value.sampled_value}


def test_Q01_FR_33_34_per_mode_measurands_in_the_started_and_ended_events() -> None:
    rig, _ = session(allowed=["AC_three_phase", "AC_BPT"])
    set_profile(rig, profile([central(-1000.0)], purpose="TxDefaultProfile", level=2), evse_id=1)
    rig.do("ev_unplugged", 1)  # ends the first session; the next one starts under the V2X default
    ended = [e for e in rig.of(M21.TransactionEventRequest) if e.event_type == "Ended"]
    assert "Energy.Active.Export.Register" in sampled(ended[-1])  # Q01.FR.34
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    started = [e for e in rig.of(M21.TransactionEventRequest) if e.event_type == "Started"]
    assert "Energy.Active.Export.Register" in sampled(started[-1])  # Q01.FR.33


def test_Q01_FR_33_no_per_mode_measurands_while_charging_only() -> None:
    rig, _ = session()
    started = [e for e in rig.of(M21.TransactionEventRequest) if e.event_type == "Started"]
    assert "Energy.Active.Export.Register" not in sampled(started[-1])


def test_Q01_FR_36_ConnectedEV_variables_follow_the_ISO_15118_EV() -> None:
    rig, _ = session(needs=V2X_NEEDS_WITH_ID)

    def value(name: str, instance: str | None = None) -> str:
        return rig.core.model.value("ConnectedEV", name, instance, evse=1)

    assert value("Available") == "true"
    assert value("VehicleId") == "WMI0000000042"
    assert value("ProtocolAgreed") == "urn:iso:std:iso:15118:-20:AC,1,0"
    assert value("ProtocolSupportedByEV", "2") == "urn:iso:15118:2:2013:MsgDef,2,0"
    assert value("VehicleCertificate", "Leaf") == ""
    rig.do("ev_unplugged", 1)
    assert (value("Available"), value("VehicleId"), value("ProtocolAgreed")) == ("false", "", "")
