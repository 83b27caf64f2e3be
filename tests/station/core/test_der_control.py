"""DER control on the station (2.1 R01, R04, R05): stored controls, priorities, schedules, reports,
clearing, and the simulated inverter's alarms."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.der_control import CTRLR, PER_REPORT, DerControl
from chargeplane.station.core.der_inverter import Ctl, Inverter, Rating, interpolate
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import T0, Rig, charge, make_rig

M21 = v21.messages
D21 = v21.datatypes


def answer21(request: Any, now: datetime) -> Any:
    if isinstance(request, M21.BootNotificationRequest):
        return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
    name = type(request).__name__.removesuffix("Request")
    if name in (
        "StatusNotification",
        "NotifyDERAlarm",
        "NotifyDERStartStop",
        "ReportDERControl",
        "MeterValues",
    ):
        return getattr(M21, f"{name}Response")()
    if name in ("TransactionEvent", "SecurityEventNotification", "NotifyReport"):
        return getattr(M21, f"{name}Response")()
    return None


def rig21(storage: MemoryStorage | None = None) -> Rig:
    return make_rig(storage=storage, version=Version.V21, answer=answer21)


def curve(priority: int, points: list[tuple[float, float]], unit: str = "PctMaxW", **timing: Any) -> Any:
    data = [D21.DERCurvePointsType(x=x, y=y) for x, y in points]
    return D21.DERCurveType(curve_data=data, priority=priority, y_unit=unit, **timing)


def scheduled(start_in: float, duration: float) -> dict[str, Any]:
    return {"start_time": to_wire(T0 + timedelta(seconds=start_in)), "duration": duration}


VOLT_WATT = [(100.0, 100.0), (106.0, 100.0), (110.0, 20.0)]  # % VNom -> % MaxW


def set_curve(rig: Rig, control_id: str, ctype: str, setting: Any, default: bool = True) -> Any:
    request = M21.SetDERControlRequest(
        is_default=default, control_id=control_id, control_type=ctype, curve=setting
    )
    return rig.handle(request)


def ids(response: Any) -> list[str]:
    superseded = response.superseded_ids
    return list(superseded) if isinstance(superseded, list) else []


def test_R04_FR_01_unsupported_type_is_NotSupported() -> None:
    rig = rig21()
    answer = set_curve(rig, "c1", "HFMayTrip", curve(1, [(50.5, 10.0)], "Not_Applicable"))
    assert answer.status == "NotSupported"
    assert (
        rig.handle(M21.GetDERControlRequest(request_id=1, control_type="HFMayTrip")).status == "NotSupported"
    )
    cleared = rig.handle(M21.ClearDERControlRequest(is_default=True, control_type="HFMayTrip"))
    assert cleared.status == "NotSupported"  # R04.FR.36 / R04.FR.43


def set_dc_der(rig: Rig, variable: str, value: str, component: str = CTRLR) -> str:
    data = D21.SetVariableDataType(
        attribute_value=value,
        component=D21.ComponentType(name=component, evse=D21.EVSEType(id=1)),
        variable=D21.VariableType(name=variable),
    )
    answer = rig.handle(M21.SetVariablesRequest(set_variable_data=[data]))
    return str(answer.set_variable_result[0].attribute_status)


def test_R04_FR_01_type_left_out_of_modes_supported_is_NotSupported() -> None:
    rig = rig21()
    assert set_curve(rig, "a", "VoltWatt", curve(1, VOLT_WATT)).status == "Accepted"
    assert set_dc_der(rig, "ModesSupported", "VoltVar,HVMustTrip") == "Accepted"
    assert set_curve(rig, "b", "VoltWatt", curve(1, VOLT_WATT)).status == "Accepted"  # emulated for AC EVs
    assert set_dc_der(rig, "ModesSupported", "HVMustTrip", "ACDERCtrlr") == "Accepted"
    assert set_curve(rig, "b", "VoltWatt", curve(1, VOLT_WATT)).status == "NotSupported"
    assert set_dc_der(rig, "Enabled", "false") == "Accepted"
    assert set_curve(rig, "c", "VoltVar", curve(1, VOLT_WATT, "PctMaxVar")).status == "NotSupported"


def test_R04_mismatched_setting_or_missing_schedule_is_Rejected() -> None:
    rig = rig21()
    wrong = M21.SetDERControlRequest(
        is_default=True,
        control_id="x",
        control_type="FreqDroop",
        curve=curve(1, VOLT_WATT),
    )
    assert rig.handle(wrong).status == "Rejected"
    assert set_curve(rig, "y", "VoltWatt", curve(1, VOLT_WATT), default=False).status == "Rejected"
    assert (
        set_curve(rig, "z", "VoltWatt", curve(1, VOLT_WATT, duration=0), default=False).status == "Rejected"
    )
    assert rig.core.der.controls == {}


def test_R04_FR_10_a_default_with_start_and_duration_is_in_force_within_them_only() -> None:
    rig = rig21()
    assert set_curve(rig, "d", "VoltWatt", curve(1, VOLT_WATT, **scheduled(30, 60))).status == "Accepted"
    der = rig.core.der
    assert der.in_force(rig.now) == {}
    rig.advance(30)
    assert der.in_force(rig.now)[Ctl.VOLT_WATT].id == "d"
    rig.advance(60)
    assert der.controls == {}  # deleted after startTime + duration
    assert rig.of(M21.NotifyDERStartStopRequest) == []  # start/stop notices are for scheduled controls


def test_R04_FR_02_R04_FR_03_default_superseded_by_lower_priority_value() -> None:
    rig = rig21()
    first = set_curve(rig, "d1", "VoltWatt", curve(2, VOLT_WATT))
    assert first.status == "Accepted"
    assert ids(first) == []
    second = set_curve(rig, "d2", "VoltWatt", curve(1, VOLT_WATT))
    assert second.status == "Accepted"
    assert ids(second) == ["d1"]
    der = rig.core.der
    assert der.controls["d1"].superseded
    assert not der.controls["d2"].superseded
    assert der.in_force(T0)[Ctl.VOLT_WATT].id == "d2"  # R04.FR.09


def test_R04_FR_08_new_control_with_higher_priority_value_is_superseded_itself() -> None:
    rig = rig21()
    set_curve(rig, "d1", "VoltWatt", curve(1, VOLT_WATT))
    answer = set_curve(rig, "d2", "VoltWatt", curve(5, VOLT_WATT))
    assert answer.status == "Accepted"
    assert ids(answer) == ["d2"]
    assert rig.core.der.in_force(T0)[Ctl.VOLT_WATT].id == "d1"


def test_R04_FR_05_R04_FR_06_pending_scheduled_control_superseded_at_once() -> None:
    rig = rig21()
    assert (
        set_curve(rig, "s1", "VoltWatt", curve(3, VOLT_WATT, **scheduled(60, 60)), False).status == "Accepted"
    )
    answer = set_curve(rig, "s2", "VoltWatt", curve(1, VOLT_WATT, **scheduled(600, 60)), False)
    assert ids(answer) == ["s1"]  # even though s2 starts much later (R04.FR.06)
    rig.clear()
    rig.advance(90)
    assert rig.of(M21.NotifyDERStartStopRequest) == []  # a superseded control never runs (R04.FR.09)


def test_R04_FR_20_R04_FR_22_R04_FR_10_R04_FR_11_scheduled_start_stop_and_fall_back_to_default() -> None:
    rig = rig21()
    set_curve(rig, "d", "VoltWatt", curve(1, VOLT_WATT))
    set_curve(rig, "s", "VoltWatt", curve(1, [(100.0, 50.0)], **scheduled(30, 60)), False)
    der = rig.core.der
    assert der.in_force(T0)[Ctl.VOLT_WATT].id == "d"
    rig.advance(30)
    started = rig.of(M21.NotifyDERStartStopRequest)
    assert [(n.control_id, n.started) for n in started] == [("s", True)]  # R04.FR.20
    assert der.in_force(rig.now)[Ctl.VOLT_WATT].id == "s"
    rig.advance(60)
    notes = [(n.control_id, n.started) for n in rig.of(M21.NotifyDERStartStopRequest)]
    assert notes == [("s", True), ("s", False)]  # R04.FR.22
    assert "s" not in der.controls  # R04.FR.10
    assert der.in_force(rig.now)[Ctl.VOLT_WATT].id == "d"  # R04.FR.11


def test_R04_FR_07_R04_FR_21_running_control_superseded_at_the_start_of_the_new_one() -> None:
    rig = rig21()
    set_curve(rig, "b", "VoltWatt", curve(3, VOLT_WATT, **scheduled(0, 600)), False)
    rig.advance(1)
    assert rig.core.der.controls["b"].started
    answer = set_curve(rig, "a", "VoltWatt", curve(1, VOLT_WATT, **scheduled(120, 60)), False)
    assert answer.status == "Accepted"
    assert ids(answer) == []
    assert rig.core.der.in_force(rig.now)[Ctl.VOLT_WATT].id == "b"
    rig.clear()
    rig.advance(120)
    [note] = rig.of(M21.NotifyDERStartStopRequest)
    assert note.control_id == "a"
    assert note.started
    assert note.superseded_ids == ["b"]
    assert rig.core.der.controls["b"].superseded


def test_R04_FR_04_default_set_while_a_scheduled_one_runs_leaves_it_running() -> None:
    rig = rig21()
    set_curve(rig, "s", "VoltWatt", curve(1, VOLT_WATT, **scheduled(0, 600)), False)
    rig.advance(1)
    assert set_curve(rig, "d", "VoltWatt", curve(0, VOLT_WATT)).status == "Accepted"
    assert rig.core.der.in_force(rig.now)[Ctl.VOLT_WATT].id == "s"


def test_R01_FR_03_controls_persist_across_a_reboot() -> None:
    storage = MemoryStorage()
    rig = rig21(storage)
    set_curve(rig, "d", "VoltWatt", curve(1, VOLT_WATT))
    rig.handle(
        M21.SetDERControlRequest(
            is_default=True,
            control_id="lim",
            control_type="LimitMaxDischarge",
            limit_max_discharge=D21.LimitMaxDischargeType(priority=1, pct_max_discharge_power=50),
        )
    )
    again = rig21(storage)
    assert set(again.core.der.controls) == {"d", "lim"}
    assert again.core.der.controls["lim"].setting == rig.core.der.controls["lim"].setting


def test_R04_FR_30_to_35_get_reports_in_parts_with_request_id_and_tbc() -> None:
    rig = rig21()
    assert rig.handle(M21.GetDERControlRequest(request_id=7)).status == "NotFound"  # R04.FR.30
    for n in range(PER_REPORT + 2):  # equal priorities coexist
        set_curve(rig, f"s{n}", "VoltWatt", curve(1, VOLT_WATT, **scheduled(1000 * (n + 1), 60)), False)
    set_curve(rig, "d", "VoltVar", curve(1, [(95.0, 40.0), (105.0, -40.0)], "PctMaxVar"))
    rig.clear()
    assert rig.handle(M21.GetDERControlRequest(request_id=7)).status == "Accepted"  # R04.FR.33
    reports = rig.of(M21.ReportDERControlRequest)
    assert [r.request_id for r in reports] == [7, 7]  # R04.FR.31
    assert next(r.tbc for r in reports) is True
    assert reports[1].tbc is not True
    total = sum(len(r.curve) for r in reports)
    assert total == PER_REPORT + 3
    rig.clear()
    assert rig.handle(M21.GetDERControlRequest(request_id=8, control_type="VoltVar")).status == "Accepted"
    [only] = rig.of(M21.ReportDERControlRequest)
    assert [(c.id, c.curve_type, c.is_default) for c in only.curve] == [("d", "VoltVar", True)]  # R04.FR.34
    rig.clear()
    answer = rig.handle(M21.GetDERControlRequest(request_id=9, control_id="s3", is_default=False))
    assert answer.status == "Accepted"
    assert [c.id for c in rig.of(M21.ReportDERControlRequest)[0].curve] == ["s3"]
    missing = rig.handle(M21.GetDERControlRequest(request_id=10, control_id="s3", is_default=True))
    assert missing.status == "NotFound"  # R04.FR.35 with isDefault matching


def test_R04_FR_41_to_45_clear_by_type_id_and_all() -> None:
    rig = rig21()
    set_curve(rig, "d1", "VoltWatt", curve(1, VOLT_WATT))
    set_curve(rig, "d2", "VoltVar", curve(1, [(100.0, 0.0)], "PctMaxVar"))
    set_curve(rig, "s1", "VoltWatt", curve(1, VOLT_WATT, **scheduled(60, 60)), False)
    clear = M21.ClearDERControlRequest
    assert rig.handle(clear(is_default=False, control_type="VoltVar")).status == "NotFound"  # R04.FR.41
    assert rig.handle(clear(is_default=False, control_id="d1")).status == "NotFound"  # R04.FR.42
    assert rig.handle(clear(is_default=True, control_type="VoltWatt")).status == "Accepted"  # R04.FR.45
    assert set(rig.core.der.controls) == {"d2", "s1"}
    assert rig.handle(clear(is_default=False, control_id="s1")).status == "Accepted"
    assert rig.handle(clear(is_default=True)).status == "Accepted"  # R04.FR.44
    assert rig.core.der.controls == {}


def test_R05_FR_01_R05_FR_02_volt_watt_alarm_and_its_end() -> None:
    rig = rig21()
    set_curve(rig, "vw", "VoltWatt", curve(1, VOLT_WATT))
    charge(rig, power=10_000.0)
    rig.clear()
    out = rig.core.set_grid(253.0, None, rig.now)  # 110 %: at most 20 % of 22 kW
    rig.pump()
    assert out.active_w == pytest.approx(4400.0)
    [alarm] = rig.of(M21.NotifyDERAlarmRequest)
    assert (alarm.control_type, alarm.grid_event_fault, alarm.alarm_ended) == (
        "VoltWatt",
        "OverVoltage",
        UNSET,
    )
    rig.do("set_grid", 251.0, None)  # still limiting: no second alarm (once per occurrence)
    assert len(rig.of(M21.NotifyDERAlarmRequest)) == 1
    rig.do("set_grid", 230.0, None)
    ended = rig.of(M21.NotifyDERAlarmRequest)[-1]
    assert (ended.control_type, ended.grid_event_fault, ended.alarm_ended) == (
        "VoltWatt",
        "OverVoltage",
        True,
    )


def test_R05_FR_03_R05_FR_04_a_trip_takes_over_without_ending_the_first_alarm() -> None:
    rig = rig21()
    set_curve(rig, "vw", "VoltWatt", curve(1, VOLT_WATT))
    set_curve(rig, "hv", "HVMustTrip", curve(1, [(115.0, 2.0), (120.0, 0.0)], "Not_Applicable"))
    charge(rig, power=10_000.0)
    rig.clear()
    rig.do("set_grid", 255.0, None)  # 111 %: VoltWatt limits
    rig.do("set_grid", 268.0, None)  # 116.5 %: beyond the HV curve, trips after 2 s
    assert [a.control_type for a in rig.of(M21.NotifyDERAlarmRequest)] == ["VoltWatt"]
    rig.advance(2)
    alarms = rig.of(M21.NotifyDERAlarmRequest)
    assert [(a.control_type, a.grid_event_fault, a.alarm_ended) for a in alarms][1][:2] == (
        "HVMustTrip",
        "OverVoltage",
    )
    assert all(a.alarm_ended is not True for a in alarms)  # R05.FR.04
    assert rig.core.der.last is not None
    assert rig.core.der.last.tripped


def test_R04_enter_service_delays_the_return_after_a_trip() -> None:
    rig = rig21()
    set_curve(rig, "lf", "LFMustTrip", curve(1, [(49.0, 0.0)], "Not_Applicable"))
    enter = D21.EnterServiceType(
        priority=1, high_voltage=110, low_voltage=90, high_freq=50.2, low_freq=49.8, delay=30
    )
    rig.handle(
        M21.SetDERControlRequest(
            is_default=True, control_id="es", control_type="EnterService", enter_service=enter
        )
    )
    rig.do("set_grid", None, 48.5)
    assert rig.core.der.last is not None
    assert rig.core.der.last.tripped
    rig.do("set_grid", None, 50.0)
    assert rig.core.der.last.tripped  # still waiting for the EnterService delay
    rig.advance(30)
    assert not rig.core.der.last.tripped
    ended = rig.of(M21.NotifyDERAlarmRequest)[-1]
    assert (ended.control_type, ended.grid_event_fault, ended.alarm_ended) == (
        "LFMustTrip",
        "UnderFrequency",
        True,
    )


def test_inverter_reactive_controls_and_limit_max_discharge() -> None:
    inverter = Inverter(Rating(max_w=10_000, max_var=5_000))
    inverter.voltage_v = 230.0 * 1.04
    volt_var = curve(1, [(96.0, 50.0), (104.0, -50.0)], "PctMaxVar")
    out = inverter.step({Ctl.VOLT_VAR: volt_var}, T0)
    assert out.reactive_var == pytest.approx(-2500.0)
    assert out.cause is None
    inverter.requested_w = -8000.0
    limit = D21.LimitMaxDischargeType(priority=1, pct_max_discharge_power=50)
    out = inverter.step({Ctl.LIMIT_MAX_DISCHARGE: limit}, T0)
    assert out.active_w == -5000.0
    assert out.cause is not None
    assert out.cause.control_type is Ctl.LIMIT_MAX_DISCHARGE
    fixed = D21.FixedPFType(priority=1, displacement=0.8, excitation=True)
    out = inverter.step({Ctl.FIXED_PF_INJECT: fixed}, T0)
    assert out.reactive_var == pytest.approx(5000.0)  # 8 kW at pf 0.8 is 6 kvar, capped at MaxVar
    assert interpolate(volt_var.curve_data, 100.0) == pytest.approx(0.0)


def test_der_control_is_not_there_on_2_0_1() -> None:
    rig = make_rig()
    assert rig.core.der.supported() == set()
    assert not any(t.__name__.startswith("SetDER") for t in rig.core.handled_requests())
    assert isinstance(rig.core.der, DerControl)


def test_R01_FR_01_R01_FR_02_DCDERCtrlr_reported_per_EVSE() -> None:
    rig = make_rig(version=Version.V21, answer=answer21, connectors=(1, 1))
    component = D21.ComponentVariableType(component=D21.ComponentType(name=CTRLR))
    answer = rig.handle(M21.GetReportRequest(request_id=5, component_variable=[component]))
    assert answer.status == "Accepted"
    reported = [
        (r.component.evse.id, r.variable.name)
        for part in rig.of(M21.NotifyReportRequest)
        for r in part.report_data
    ]
    for evse in (1, 2):
        for variable in ("MaxW", "MaxVar", "MaxVarNeg", "ModesSupported", "InverterManufacturer"):
            assert (evse, variable) in reported
