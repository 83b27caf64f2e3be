"""DER control's effect on the power that flows (2.1 R01-R03): the station's inverter caps each EVSE
(SetInverterLimits from its DCDERCtrlr rating), an AC_BPT_DER EV's own inverter takes the controls it supports
(R02) while the station emulates the rest (R03), and what the simulated hardware then meters."""

from __future__ import annotations

import math
from typing import Any

import msgspec
import pytest
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.der_control import AC_CTRLR, CTRLR, EMULATED_AC
from chargeplane.station.core.der_inverter import Ctl, Envelope, Inverter, Rating
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import (
    EvChargingNeeds,
    EvDerAbility,
    EvDerControls,
    MeterReading,
    SetInverterLimits,
    V2xAbility,
)
from chargeplane.station.hardware import SimulatedEv, SimulatedEvse
from tests.station.core.helpers import Rig, make_rig
from tests.station.core.test_der_control import VOLT_WATT, answer21, curve, rig21, set_curve
from tests.station.core.test_v2x import Csms

M21 = v21.messages
D21 = v21.datatypes
# DCDERCtrlr's mandatory variables (the 2.1 device model appendix) and ACDERCtrlr's
MANDATORY_DC = (
    "MaxW",
    "OverExcitedW",
    "OverExcitedPF",
    "UnderExcitedW",
    "UnderExcitedPF",
    "MaxVA",
    "MaxVar",
    "MaxVarNeg",
    "MaxChargeRateW",
    "MaxChargeRateVA",
    "ModesSupported",
    "InverterManufacturer",
    "InverterModel",
    "InverterSwVersion",
    "InverterHwVersion",
    "ReactiveSusceptance",
)
EV_DER = EvDerAbility(supported=("VoltWatt", "HVMustTrip"), max_discharge_w=10_000.0)
DER_NEEDS = EvChargingNeeds(
    10_000.0,
    control_mode="DynamicControl",
    v2x=V2xAbility(max_discharge_power_w=10_000.0, max_charge_power_w=11_000.0),
    der=EV_DER,
)


def limit_discharge(rig: Rig, pct: float, control_id: str = "lim") -> Any:
    return rig.handle(
        M21.SetDERControlRequest(
            is_default=True,
            control_id=control_id,
            control_type="LimitMaxDischarge",
            limit_max_discharge=D21.LimitMaxDischargeType(priority=1, pct_max_discharge_power=pct),
        )
    )


def caps(rig: Rig) -> list[SetInverterLimits]:
    return [a for a in rig.actions if isinstance(a, SetInverterLimits)]


def test_R01_FR_01_R01_FR_02_every_mandatory_DCDERCtrlr_variable_and_ACDERCtrlr_modes_per_EVSE() -> None:
    rig = make_rig(version=Version.V21, answer=answer21, connectors=(1, 1))
    for name in (CTRLR, AC_CTRLR):
        component = D21.ComponentVariableType(component=D21.ComponentType(name=name))
        assert (
            rig.handle(M21.GetReportRequest(request_id=7, component_variable=[component])).status
            == "Accepted"
        )
    reported = {
        (r.component.name, r.component.evse.id, r.variable.name): r.variable_attribute[0].value
        for part in rig.of(M21.NotifyReportRequest)
        for r in part.report_data
    }
    for evse in (1, 2):
        for variable in MANDATORY_DC:
            assert (CTRLR, evse, variable) in reported, variable
        modes = reported[(AC_CTRLR, evse, "ModesSupported")]
        assert modes == ",".join(c.value for c in EMULATED_AC)  # R03.FR.03


def test_R01_limit_max_discharge_caps_each_EVSE_at_its_own_rating() -> None:
    rig = make_rig(version=Version.V21, answer=answer21, connectors=(1, 1))
    rig.core.ctx.model.put(VariableKey(CTRLR, "MaxW", evse=2), "10000")  # the nameplate of EVSE 2's inverter
    assert limit_discharge(rig, 50).status == "Accepted"
    assert caps(rig) == [SetInverterLimits(1, None, 11_000.0), SetInverterLimits(2, None, 5_000.0)]
    rig.clear()
    assert rig.handle(M21.ClearDERControlRequest(is_default=True)).status == "Accepted"
    assert caps(rig) == [SetInverterLimits(1, None, None), SetInverterLimits(2, None, None)]


def test_R01_volt_watt_caps_both_ways_and_a_must_trip_stops_the_power() -> None:
    rig = rig21()
    set_curve(rig, "vw", "VoltWatt", curve(1, VOLT_WATT))
    set_curve(rig, "hv", "HVMustTrip", curve(1, [(115.0, 0.0)], "Not_Applicable"))
    assert caps(rig)[-1] == SetInverterLimits(1, 22_000.0, 22_000.0)  # 100 % of MaxW at VNom
    rig.do("set_grid", 253.0, None)  # 110 %: 20 % of 22 kW each way
    assert caps(rig)[-1] == SetInverterLimits(1, 4_400.0, 4_400.0)
    rig.do("set_grid", 270.0, None)  # beyond the must-trip curve at once: nothing flows
    assert caps(rig)[-1] == SetInverterLimits(1, 0.0, 0.0)
    rig.do("set_grid", 230.0, None)  # no EnterService control: back at once
    assert caps(rig)[-1] == SetInverterLimits(1, 22_000.0, 22_000.0)


def test_R05_FR_01_R05_FR_02_the_alarm_is_judged_on_what_was_asked_before_the_cap() -> None:
    rig = rig21()
    limit_discharge(rig, 50)
    # the meter shows the capped power; the inverter was asked for more: LimitMaxDischarge deviates
    rig.do("update_meter", 1, MeterReading(power_w=-11_000.0, uncapped_w=-16_000.0))
    [alarm] = rig.of(M21.NotifyDERAlarmRequest)
    assert (alarm.control_type, alarm.grid_event_fault, alarm.alarm_ended) == (
        "LimitMaxDischarge",
        UNSET,
        UNSET,
    )
    rig.do("update_meter", 1, MeterReading(power_w=-9_000.0, uncapped_w=-9_000.0))
    ended = rig.of(M21.NotifyDERAlarmRequest)[-1]
    assert (ended.control_type, ended.alarm_ended) == ("LimitMaxDischarge", True)


def test_inverter_envelope_is_the_limit_of_an_unbounded_request_each_way() -> None:
    inverter = Inverter(Rating(max_w=10_000.0))
    limit = D21.LimitMaxDischargeType(priority=1, pct_max_discharge_power=30)
    assert inverter.envelope({}, inverter.rating) == Envelope(math.inf, math.inf)
    assert inverter.envelope({Ctl.LIMIT_MAX_DISCHARGE: limit}, Rating(max_w=8_000.0)) == Envelope(
        math.inf, 2_400.0
    )
    droop = D21.FreqDroopType(
        priority=1, over_freq=50.2, under_freq=49.8, over_droop=0.05, under_droop=0.05, response_time=1
    )
    assert inverter.envelope({Ctl.FREQ_DROOP: droop}, inverter.rating) == Envelope(math.inf, math.inf)
    inverter.frequency_hz = 50.5  # the droop shifts the power: at most the rating either way
    assert inverter.envelope({Ctl.FREQ_DROOP: droop}, inverter.rating) == Envelope(10_000.0, 10_000.0)


def der_session(supported: tuple[str, ...] = EV_DER.supported) -> Rig:
    rig = make_rig(version=Version.V21, answer=Csms(["AC_three_phase", "AC_BPT", "AC_BPT_DER"]))
    needs = EvChargingNeeds(
        DER_NEEDS.energy_wh,
        control_mode=DER_NEEDS.control_mode,
        v2x=DER_NEEDS.v2x,
        der=EvDerAbility(supported=supported, max_discharge_w=10_000.0),
    )
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, needs)
    rig.do("token_presented", "TAG1")
    assert rig.core.transaction(1) is not None
    return rig


def test_R02_FR_01_R03_FR_01_der_charging_parameters_in_the_EV_charging_needs() -> None:
    rig = der_session()
    [needs] = rig.of(M21.NotifyEVChargingNeedsRequest)
    charging = needs.charging_needs
    assert charging.requested_energy_transfer == "AC_BPT_DER"
    assert "AC_BPT_DER" in charging.available_energy_transfer
    der = charging.der_charging_parameters
    assert der.ev_supported_der_control == ["VoltWatt", "HVMustTrip"]
    assert der.max_discharge_apparent_power == 10_000.0
    assert der.ev_over_excited_power_factor == 0.9
    assert der.ev_inverter_manufacturer == "Chargeplane"


def test_R02_FR_03_R03_FR_04_FR_05_FR_06_the_EV_takes_what_it_supports_the_station_emulates_the_rest() -> (
    None
):
    rig = der_session()
    rig.clear()
    set_curve(rig, "vw", "VoltWatt", curve(1, VOLT_WATT))
    assert limit_discharge(rig, 50).status == "Accepted"
    handed = [a for a in rig.actions if isinstance(a, EvDerControls)]
    assert [kind for kind, _ in handed[-1].controls] == ["VoltWatt"]  # R03.FR.05: not emulated, the EV's
    setting = msgspec.json.decode(handed[-1].controls[0][1])
    assert setting["curveData"][-1] == {"x": 110.0, "y": 20.0}
    # R03 hybrid: LimitMaxDischarge emulated as 50 % of the EV's maximum discharge power; VoltWatt not capped
    assert caps(rig)[-1] == SetInverterLimits(1, None, 5_000.0)
    rig.do("set_grid", 253.0, None)
    assert caps(rig)[-1] == SetInverterLimits(1, None, 5_000.0)
    assert rig.of(M21.NotifyDERAlarmRequest) == []  # the VoltWatt deviation is the EV's to report
    rig.do("ev_unplugged", 1)
    assert caps(rig)[-1] == SetInverterLimits(1, 4_400.0, 4_400.0)  # the EVSE's DC inverter: VoltWatt binds
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, DER_NEEDS)  # the next DER EV gets the controls it supports too
    assert [[kind for kind, _ in a.controls] for a in rig.actions if isinstance(a, EvDerControls)] == [
        ["VoltWatt"]
    ]


def test_R02_the_EV_inverters_alarm_becomes_NotifyDERAlarm_and_its_end_too() -> None:
    rig = der_session()
    rig.do("update_meter", 1, MeterReading(power_w=0.0, ev_der_alarm=("HVMustTrip", "OverVoltage")))
    rig.do("update_meter", 1, MeterReading(power_w=0.0, ev_der_alarm=("HVMustTrip", "OverVoltage")))
    [alarm] = rig.of(M21.NotifyDERAlarmRequest)
    assert (alarm.control_type, alarm.grid_event_fault, alarm.alarm_ended) == (
        "HVMustTrip",
        "OverVoltage",
        UNSET,
    )
    rig.do("update_meter", 1, MeterReading(power_w=-3_000.0))
    ended = rig.of(M21.NotifyDERAlarmRequest)[-1]
    assert (ended.control_type, ended.grid_event_fault, ended.alarm_ended) == (
        "HVMustTrip",
        "OverVoltage",
        True,
    )


def test_simulated_EVSE_meters_the_capped_power_and_the_EV_inverter_applies_its_controls() -> None:
    ev = SimulatedEv(soc=70.0, max_discharge_w=10_000.0, needs=DER_NEEDS)
    evse = SimulatedEvse(closed=True, ev=ev, setpoint_w=-8_000.0)
    evse.set_inverter(None, 5_000.0)
    reading = evse.read(3600.0)
    assert (reading.power_w, reading.uncapped_w) == (-5_000.0, -8_000.0)
    assert evse.energy_export_wh == pytest.approx(5_000.0)
    trip = curve(1, [(115.0, 0.0)], "Not_Applicable")
    evse.der_controls((("HVMustTrip", msgspec.json.encode(trip)),))
    evse.voltage_v = 270.0
    reading = evse.read(1.0)
    assert (reading.power_w, reading.ev_der_alarm) == (0.0, ("HVMustTrip", "OverVoltage"))
    evse.voltage_v = 230.0
    reading = evse.read(1.0)
    assert (reading.power_w, reading.ev_der_alarm) == (-5_000.0, None)


def test_R01_freq_watt_reduces_power_with_the_frequency_and_an_LFMustTrip_stops_it() -> None:
    rig = rig21()
    freq_watt = curve(1, [(50.2, 100.0), (51.0, 25.0)])  # Hz -> % MaxW
    set_curve(rig, "fw", "FreqWatt", freq_watt)
    set_curve(rig, "lf", "LFMustTrip", curve(1, [(49.0, 0.0)], "Not_Applicable"))
    rig.do("set_grid", None, 51.0)
    assert caps(rig)[-1] == SetInverterLimits(1, 5_500.0, 5_500.0)  # 25 % of 22 kW each way
    rig.do("update_meter", 1, MeterReading(power_w=5_500.0, uncapped_w=11_000.0))
    alarm = rig.of(M21.NotifyDERAlarmRequest)[-1]
    assert (alarm.control_type, alarm.grid_event_fault) == ("FreqWatt", "OverFrequency")
    rig.do("set_grid", None, 48.5)
    assert caps(rig)[-1] == SetInverterLimits(1, 0.0, 0.0)
    trip = rig.of(M21.NotifyDERAlarmRequest)[-1]
    assert (trip.control_type, trip.grid_event_fault) == ("LFMustTrip", "UnderFrequency")
