"""Device model monitoring on the station (N02-N08): monitors set, replaced and cleared, bases and levels,
the monitoring report, and the NotifyEvents of thresholds, deltas and periods (online and offline)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from msgspec import UNSET

from chargeplane.ocpp.errors import FormatViolation, OccurrenceConstraintViolation
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import MeterReading
from chargeplane.station.core.monitoring import FIRST_CUSTOM_ID, Monitoring
from chargeplane.station.core.station import StationCore
from tests.station.core.helpers import T0, D, M, Rig, make_rig, rig16, set_var

M21, D21 = v21.messages, v21.datatypes
HOT, COLD = 1, 2  # the hard-wired temperature monitors (70 °C up, -25 °C down)


def component(name: str, evse: int | None = None) -> D.ComponentType:
    return D.ComponentType(name=name, evse=D.EVSEType(id=evse)) if evse else D.ComponentType(name=name)


def data(
    name: str,
    variable: str,
    kind: str,
    value: float,
    severity: int = 5,
    evse: int | None = None,
    **extra: Any,
) -> D.SetMonitoringDataType:
    return D.SetMonitoringDataType(
        value=value,
        type=kind,
        severity=severity,
        component=component(name, evse),
        variable=D.VariableType(name=variable),
        **extra,
    )


def set_monitors(rig: Rig, *items: D.SetMonitoringDataType) -> list[D.SetMonitoringResultType]:
    return list(
        rig.handle(M.SetVariableMonitoringRequest(set_monitoring_data=list(items))).set_monitoring_result
    )


def events(rig: Rig) -> list[D.EventDataType]:
    return [e for m in rig.of(M.NotifyEventRequest) for e in m.event_data]


def temperature(rig: Rig, celsius: float) -> None:
    rig.do("set_temperature", celsius)


def monitoring(rig: Rig) -> Monitoring:
    return rig.core.ctx.get(Monitoring)


# ---------------------------------------------------------------------- N04 Set Variable Monitoring
def test_N04_FR_01_02_03_04_05_every_item_answered_in_order_with_its_status() -> None:
    rig = make_rig()
    results = set_monitors(
        rig,
        data("NoSuchComponent", "Power", "Delta", 1),
        data("EVSE", "unknownVariable", "Delta", 1, evse=1),
        data("ChargingStation", "AvailabilityState", "UpperThreshold", 1),  # not numeric
        data("EVSE", "Power", "Delta", 500, evse=1),
    )
    assert [r.status for r in results] == [
        "UnknownComponent",
        "UnknownVariable",
        "UnsupportedMonitorType",
        "Accepted",
    ]
    assert [(r.component.name, r.variable.name, r.type, r.severity) for r in results] == [
        ("NoSuchComponent", "Power", "Delta", 5),
        ("EVSE", "unknownVariable", "Delta", 5),
        ("ChargingStation", "AvailabilityState", "UpperThreshold", 5),
        ("EVSE", "Power", "Delta", 5),
    ]
    assert results[3].id == FIRST_CUSTOM_ID  # N04.FR.11: a generated id
    assert all(r.id is UNSET for r in results[:3])  # no id for a refusal


def test_N04_FR_06_14_out_of_range_threshold_and_negative_delta_are_rejected() -> None:
    rig = make_rig()
    results = set_monitors(
        rig,
        data("ChargingStation", "Temperature", "UpperThreshold", 500),  # maxLimit 120
        data("EVSE", "Power", "Delta", -1, evse=1),
        data("ChargingStation", "Temperature", "UpperThreshold", 60),
    )
    assert [r.status for r in results] == ["Rejected", "Rejected", "Accepted"]
    assert results[0].status_info.reason_code == "ValueOutOfRange"


def test_N04_FR_10_same_type_and_severity_on_a_variable_is_a_duplicate() -> None:
    rig = make_rig()
    first, second, third = set_monitors(
        rig,
        data("ChargingStation", "Temperature", "UpperThreshold", 60, severity=4),
        data("ChargingStation", "Temperature", "UpperThreshold", 65, severity=4),
        data("ChargingStation", "Temperature", "UpperThreshold", 65, severity=3),
    )
    assert (first.status, second.status, third.status) == ("Accepted", "Duplicate", "Accepted")


def test_N04_FR_12_13_15_16_18_replacing_by_id() -> None:
    rig = make_rig()
    power = 101  # the preconfigured EVSE 1 Power UpperThreshold
    replaced, unknown, other, hard = set_monitors(
        rig,
        data("EVSE", "Power", "UpperThreshold", 11000, evse=1, id=power),
        data("EVSE", "Power", "UpperThreshold", 11000, severity=1, evse=1, id=4242),
        data("ChargingStation", "Power", "UpperThreshold", 1000, id=power),
        data("ChargingStation", "Temperature", "UpperThreshold", 90, id=HOT),
    )
    assert (replaced.status, replaced.id) == ("Accepted", power)  # N04.FR.12
    assert unknown.status == "Rejected"  # N04.FR.13
    assert other.status == "Rejected"  # N04.FR.16: component/variable cannot change
    assert hard.status == "Rejected"  # N04.FR.18
    monitor = monitoring(rig).monitors[power]
    assert (monitor.value, monitor.kind) == (11000.0, "CustomMonitor")  # N04.FR.15
    assert monitoring(rig).monitors[HOT].value == 70.0


def test_N04_FR_09_more_items_than_ItemsPerMessage_is_a_callerror() -> None:
    rig = make_rig()
    items = [data("EVSE", "Power", "Delta", i + 1, severity=i % 10, evse=1) for i in range(21)]
    with pytest.raises(OccurrenceConstraintViolation):
        rig.handle(M.SetVariableMonitoringRequest(set_monitoring_data=items))


# ---------------------------------------------------------------------- N06 Clear
def test_N06_FR_01_02_03_05_one_result_per_id() -> None:
    rig = make_rig()
    [result] = set_monitors(rig, data("EVSE", "Power", "Delta", 100, evse=1))
    answer = rig.handle(M.ClearVariableMonitoringRequest(id=[result.id, 999_999, HOT]))
    assert [(r.id, r.status) for r in answer.clear_monitoring_result] == [
        (result.id, "Accepted"),
        (999_999, "NotFound"),
        (HOT, "Rejected"),
    ]
    assert result.id not in monitoring(rig).monitors


# ---------------------------------------------------------------------- N03 Base, N05 Level
def test_N03_FR_03_04_05_bases() -> None:
    rig = make_rig()
    [custom] = set_monitors(rig, data("EVSE", "Power", "Delta", 100, evse=1))
    assert rig.handle(M.SetMonitoringBaseRequest(monitoring_base="All")).status == "Accepted"
    ids = set(monitoring(rig).monitors)
    assert custom.id in ids
    assert {10, 11, 12, 201} <= ids
    assert rig.core.model.value("MonitoringCtrlr", "ActiveMonitoringBase") == "All"
    rig.handle(M.SetMonitoringBaseRequest(monitoring_base="FactoryDefault"))
    assert set(monitoring(rig).monitors) == {HOT, COLD, 10, 11, 12, 101, 201}  # N03.FR.04: custom ones gone
    rig.handle(M.SetMonitoringBaseRequest(monitoring_base="HardWiredOnly"))
    assert set(monitoring(rig).monitors) == {HOT, COLD}  # N03.FR.05
    assert rig.core.model.value("MonitoringCtrlr", "MonitoringBase") == "HardWiredOnly"


def test_N05_FR_01_02_levels_0_to_9() -> None:
    rig = make_rig()
    assert rig.handle(M.SetMonitoringLevelRequest(severity=4)).status == "Accepted"
    assert rig.core.model.value("MonitoringCtrlr", "ActiveMonitoringLevel") == "4"
    assert rig.handle(M.SetMonitoringLevelRequest(severity=10)).status == "Rejected"
    assert rig.handle(M.SetMonitoringLevelRequest(severity=-1)).status == "Rejected"


def test_N05_FR_03_N07_FR_15_events_above_the_level_are_not_sent() -> None:
    rig = make_rig()
    rig.handle(M.SetMonitoringLevelRequest(severity=1))
    temperature(rig, 75)  # the hard-wired monitor has severity 2
    assert events(rig) == []
    rig.handle(M.SetMonitoringLevelRequest(severity=2))
    temperature(rig, 20)
    [cleared] = events(rig)
    assert cleared.cleared is True  # the crossing was seen, only not reported


# ---------------------------------------------------------------------- N02 Report
def report(rig: Rig, request_id: int = 7, **fields: Any) -> tuple[str, list[M.NotifyMonitoringReportRequest]]:
    rig.clear()
    answer = rig.handle(M.GetMonitoringReportRequest(request_id=request_id, **fields))
    return answer.status, rig.of(M.NotifyMonitoringReportRequest)


def reported(parts: list[M.NotifyMonitoringReportRequest]) -> list[tuple[str, str, str]]:
    return [
        (m.component.name, m.variable.name, vm.type)
        for part in parts
        for m in part.monitor
        for vm in m.variable_monitoring
    ]


def test_N02_FR_01_03_04_09_11_all_monitors_in_parts() -> None:
    rig = make_rig()
    rig.handle(M.SetMonitoringBaseRequest(monitoring_base="All"))
    rig.core.model.put(VariableKey("DeviceDataCtrlr", "ItemsPerMessage", None, "GetReport"), "2")
    status, parts = report(rig)
    assert status == "Accepted"
    assert [p.seq_no for p in parts] == list(range(len(parts)))
    assert all(p.request_id == 7 for p in parts)
    assert [p.tbc for p in parts][:-1] == [True] * (len(parts) - 1)
    assert parts[-1].tbc is not True
    assert len(reported(parts)) == len(monitoring(rig).monitors)


def test_N02_FR_06_12_13_14_criteria() -> None:
    rig = make_rig()
    rig.handle(M.SetMonitoringBaseRequest(monitoring_base="All"))
    _, parts = report(rig, monitoring_criteria=["ThresholdMonitoring"])
    assert {t for _, _, t in reported(parts)} == {"UpperThreshold", "LowerThreshold"}
    _, parts = report(rig, monitoring_criteria=["DeltaMonitoring", "PeriodicMonitoring"])
    assert {t for _, _, t in reported(parts)} == {"Delta", "Periodic", "PeriodicClockAligned"}


def test_N02_FR_05_08_16_component_variables() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.handle(M.SetMonitoringBaseRequest(monitoring_base="All"))
    wanted = [
        D.ComponentVariableType(
            component=component("ChargingStation"), variable=D.VariableType(name="AvailabilityState")
        ),
        D.ComponentVariableType(component=component("EVSE", 2)),  # every variable of EVSE 2 (N02.FR.16)
    ]
    _, parts = report(rig, component_variable=wanted)
    assert sorted(reported(parts)) == [
        ("ChargingStation", "AvailabilityState", "Delta"),
        ("EVSE", "AvailabilityState", "Delta"),
        ("EVSE", "Power", "UpperThreshold"),
    ]
    assert {m.component.evse.id for p in parts for m in p.monitor if m.component.name == "EVSE"} == {2}
    status, parts = report(rig, component_variable=wanted, monitoring_criteria=["PeriodicMonitoring"])
    assert (status, parts) == ("EmptyResultSet", [])  # N02.FR.10


# ---------------------------------------------------------------------- N07 Alert events
def test_N07_FR_02_06_07_16_upper_threshold_once_until_cleared() -> None:
    rig = make_rig()
    rig.clear()
    temperature(rig, 70)  # on the threshold: nothing
    temperature(rig, 71)
    temperature(rig, 80)  # still exceeded: no second event
    temperature(rig, 69)
    notifications = rig.of(M.NotifyEventRequest)
    assert [n.seq_no for n in notifications] == [0, 0]
    alert, cleared = events(rig)
    assert (alert.trigger, alert.actual_value, alert.variable_monitoring_id) == ("Alerting", "71.0", HOT)
    assert (alert.component.name, alert.variable.name, alert.event_notification_type) == (
        "ChargingStation",
        "Temperature",
        "HardWiredMonitor",
    )
    assert alert.cleared is not True
    assert (cleared.cleared, cleared.actual_value) == (True, "69.0")
    assert cleared.event_id > alert.event_id


def test_N07_FR_17_lower_threshold() -> None:
    rig = make_rig()
    temperature(rig, -26)
    [event] = events(rig)
    assert (event.variable_monitoring_id, event.trigger) == (COLD, "Alerting")


def test_N07_FR_18_numeric_delta_from_the_last_report() -> None:
    rig = make_rig()
    set_monitors(rig, data("EVSE", "Power", "Delta", 1000, evse=1))
    meter = [900.0, 1100.0, 1500.0, 2200.0]
    for power in meter:
        rig.do("update_meter", 1, MeterReading(energy_wh=10, power_w=power))
    assert [(e.trigger, e.actual_value) for e in events(rig)] == [("Delta", "1100.0"), ("Delta", "2200.0")]


def test_N07_FR_19_non_numeric_delta_on_every_change_with_the_transaction() -> None:
    rig = make_rig()
    set_monitors(rig, data("EVSE", "AvailabilityState", "Delta", 1, evse=1))
    rig.do("ev_plugged", 1, 1)
    rig.advance(0)  # the change came from another block: evaluated at the next timer tick, due at once
    [event] = events(rig)
    assert (event.trigger, event.actual_value, event.event_notification_type) == (
        "Delta",
        "Occupied",
        "CustomMonitor",
    )


def test_N07_FR_10_write_only_variable_reports_no_actual_value() -> None:
    rig = make_rig()
    [result] = set_monitors(rig, data("SecurityCtrlr", "BasicAuthPassword", "Delta", 1))
    assert result.status == "Accepted"
    set_var(rig, "SecurityCtrlr", "BasicAuthPassword", "a-new-secret-of-some-length")
    rig.advance(0)
    [event] = events(rig)
    assert (event.actual_value, event.variable_monitoring_id) == ("", result.id)
    assert "a-new-secret" not in str(rig.storage.get_state("monitoring"))  # only a digest is persisted


def test_N07_FR_11_changing_a_threshold_clears_or_raises() -> None:
    rig = make_rig()
    [result] = set_monitors(rig, data("ChargingStation", "Temperature", "UpperThreshold", 30))
    temperature(rig, 35)
    set_monitors(rig, data("ChargingStation", "Temperature", "UpperThreshold", 40, id=result.id))
    set_monitors(rig, data("ChargingStation", "Temperature", "UpperThreshold", 33, id=result.id))
    assert [(e.variable_monitoring_id, e.cleared is True) for e in events(rig)] == [
        (result.id, False),
        (result.id, True),  # 40 clears the old threshold
        (result.id, False),  # 33 is exceeded again
    ]


def test_N07_FR_12_removing_an_exceeded_threshold_sends_no_cleared() -> None:
    rig = make_rig()
    [result] = set_monitors(rig, data("ChargingStation", "Temperature", "UpperThreshold", 30))
    temperature(rig, 35)
    rig.handle(M.ClearVariableMonitoringRequest(id=[result.id]))
    temperature(rig, 20)
    assert [e.cleared is True for e in events(rig)] == [False]


def test_N07_FR_13_14_monitors_and_their_state_survive_a_reboot() -> None:
    rig = make_rig()
    [result] = set_monitors(rig, data("ChargingStation", "Temperature", "UpperThreshold", 30, severity=3))
    temperature(rig, 35)
    assert len(events(rig)) == 1
    rebooted = make_rig(storage=rig.storage)  # the temperature reads 25 again after the reboot
    assert rebooted.core.ctx.get(Monitoring).monitors[result.id].value == 30.0
    [cleared] = events(rebooted)  # queued at start (severity 3 <= 4), sent once accepted
    assert (cleared.variable_monitoring_id, cleared.cleared) == (result.id, True)


def test_N07_transaction_monitor_only_while_charging() -> None:
    rig = make_rig()
    set_monitors(rig, data("EVSE", "Power", "UpperThreshold", 5000, evse=1, transaction=True))
    rig.do("update_meter", 1, MeterReading(energy_wh=10, power_w=6000))
    assert events(rig) == []
    rig.do("update_meter", 1, MeterReading(energy_wh=10, power_w=0))
    rig.do("token_presented", "TOKEN1")
    rig.do("ev_plugged", 1, 1)
    rig.do("update_meter", 1, MeterReading(energy_wh=20, power_w=6000))
    [event] = events(rig)
    assert isinstance(event.transaction_id, str)
    assert event.transaction_id


def test_N07_a_fault_is_a_hard_wired_notification_and_sets_Problem() -> None:
    rig = make_rig()
    rig.do("fault", 1, True)
    rig.do("fault", 1, True)  # no change: nothing more
    rig.do("fault", 1, False)
    raised, cleared = events(rig)
    assert (raised.event_notification_type, raised.component.name, raised.variable.name) == (
        "HardWiredNotification",
        "EVSE",
        "Problem",
    )
    assert (raised.actual_value, raised.variable_monitoring_id, raised.cleared) == ("true", UNSET, UNSET)
    assert (cleared.actual_value, cleared.cleared) == ("false", True)
    assert rig.core.model.value("EVSE", "Problem", evse=1) == "false"


# ---------------------------------------------------------------------- N08 Periodic events
def test_N08_FR_04_05_06_periodic_from_the_time_set() -> None:
    rig = make_rig()
    rig.advance(7)
    set_monitors(rig, data("ChargingStation", "Power", "Periodic", 60))
    rig.advance(59)
    assert events(rig) == []
    rig.advance(1)
    rig.advance(60)
    notifications = rig.of(M.NotifyEventRequest)
    assert [n.seq_no for n in notifications] == [0, 0]
    assert [(e.trigger, e.actual_value) for e in events(rig)] == [("Periodic", "0"), ("Periodic", "0")]


def test_N08_FR_07_clock_aligned() -> None:
    rig = make_rig()  # T0 is 12:00:00
    rig.advance(10)
    set_monitors(rig, data("ChargingStation", "Temperature", "PeriodicClockAligned", 900))
    rig.advance(900 - 11)
    assert events(rig) == []
    rig.advance(1)  # 12:15:00
    [event] = events(rig)
    assert event.timestamp.startswith("2026-01-01T12:15:00")


# ---------------------------------------------------------------------- offline (N07.FR.04, N08.FR.03)
def test_N07_FR_04_offline_events_up_to_OfflineQueuingSeverity_are_queued() -> None:
    rig = make_rig()
    assert set_var(rig, "MonitoringCtrlr", "OfflineQueuingSeverity", "2") == "Accepted"
    set_monitors(rig, data("EVSE", "Power", "UpperThreshold", 5000, severity=3, evse=1))
    rig.do("connection_closed")
    temperature(rig, 75)  # severity 2: queued
    rig.do("update_meter", 1, MeterReading(energy_wh=10, power_w=6000))  # severity 3: dropped
    rig.clear()
    rig.do("connection_opened")
    [event] = events(rig)
    assert (event.variable_monitoring_id, event.actual_value) == (HOT, "75.0")


def test_disabled_monitoring_reports_nothing() -> None:
    rig = make_rig()
    set_var(rig, "MonitoringCtrlr", "Enabled", "false")
    temperature(rig, 90)
    assert events(rig) == []
    assert rig.handle(M.GetMonitoringReportRequest(request_id=1)).status == "Rejected"


# ---------------------------------------------------------------------- 2.1 and 1.6
def accept21(request: Payload, now: datetime) -> Payload | None:
    if isinstance(request, M21.BootNotificationRequest):
        return M21.BootNotificationResponse(current_time=to_wire(now), interval=60, status="Accepted")
    if isinstance(request, M21.StatusNotificationRequest):
        return M21.StatusNotificationResponse()
    if isinstance(request, M21.NotifyEventRequest):
        return M21.NotifyEventResponse()
    if isinstance(request, M21.NotifyMonitoringReportRequest):
        return M21.NotifyMonitoringReportResponse()
    return None


def rig21() -> Rig:
    return make_rig(version=Version.V21, answer=accept21)


def test_21_report_has_eventNotificationType_and_events_the_severity() -> None:
    rig = rig21()
    rig.handle(M21.GetMonitoringReportRequest(request_id=3))
    kinds = {
        vm.event_notification_type
        for part in rig.of(M21.NotifyMonitoringReportRequest)
        for m in part.monitor
        for vm in m.variable_monitoring
    }
    assert kinds == {"HardWiredMonitor", "PreconfiguredMonitor"}  # 2.1 N02.FR.22
    temperature(rig, 71)
    [event] = [e for m in rig.of(M21.NotifyEventRequest) for e in m.event_data]
    assert event.severity == 2  # 2.1 N07.FR.20


def test_21_target_delta_against_the_target_attribute() -> None:
    rig = rig21()
    request = M21.SetVariableMonitoringRequest(
        set_monitoring_data=[
            D21.SetMonitoringDataType(
                value=10,
                type="TargetDelta",
                severity=5,
                component=D21.ComponentType(name="ChargingStation"),
                variable=D21.VariableType(name="Temperature"),
            ),
            D21.SetMonitoringDataType(
                value=0.1,
                type="TargetDeltaRelative",
                severity=5,
                component=D21.ComponentType(name="EVSE", evse=D21.EVSEType(id=1)),
                variable=D21.VariableType(name="Power"),
            ),
        ]
    )
    statuses = [r.status for r in rig.handle(request).set_monitoring_result]
    assert statuses == ["Accepted", "UnsupportedMonitorType"]  # EVSE.Power has no Target
    temperature(rig, 36)  # target 25 +- 10
    temperature(rig, 30)
    data21 = [e for m in rig.of(M21.NotifyEventRequest) for e in m.event_data]
    assert [(e.trigger, e.cleared is True) for e in data21] == [("Alerting", False), ("Alerting", True)]


def test_16_station_has_no_monitoring() -> None:
    rig = rig16()
    assert not any("Monitoring" in t.__name__ for t in rig.core.handled_requests())
    rig.clear()  # the boot's SecurityEventNotification (A04) is no monitoring event
    rig.do("set_temperature", 90)
    assert not [m for m in rig.sent if "Event" in type(m).__name__]


def test_periodic_monitor_keeps_a_deadline() -> None:
    core = StationCore(Version.V201, make_rig().storage, T0)
    core.ctx.get(Monitoring).set_base("All", T0)
    deadline = core.next_deadline()
    assert deadline is not None
    assert deadline <= T0 + timedelta(seconds=900)


def test_N06_FR_06_more_ids_than_ItemsPerMessage_is_a_callerror() -> None:
    rig = make_rig()
    with pytest.raises(OccurrenceConstraintViolation):
        rig.handle(M.ClearVariableMonitoringRequest(id=list(range(5000, 5021))))


def test_N03_base_refused_while_monitoring_is_disabled() -> None:
    rig = make_rig()
    set_var(rig, "MonitoringCtrlr", "Enabled", "false")
    assert rig.handle(M.SetMonitoringBaseRequest(monitoring_base="HardWiredOnly")).status == "Rejected"
    assert set(monitoring(rig).monitors) >= {10, 101}


def test_21_N02_FR_23_target_delta_criterion() -> None:
    rig = rig21()
    request = M21.SetVariableMonitoringRequest(
        set_monitoring_data=[
            D21.SetMonitoringDataType(
                value=5,
                type="TargetDelta",
                severity=5,
                component=D21.ComponentType(name="ChargingStation"),
                variable=D21.VariableType(name="Temperature"),
            )
        ]
    )
    [result] = rig.handle(request).set_monitoring_result
    rig.clear()
    answer = rig.handle(
        M21.GetMonitoringReportRequest(request_id=9, monitoring_criteria=["TargetDeltaMonitoring"])
    )
    assert answer.status == "Accepted"
    [part] = rig.of(M21.NotifyMonitoringReportRequest)
    assert [(vm.id, vm.type) for m in part.monitor for vm in m.variable_monitoring] == [
        (result.id, "TargetDelta")
    ]


def test_N06_FR_07_a_request_over_BytesPerMessage_is_a_format_violation() -> None:
    rig = make_rig()
    rig.core.model.put(
        VariableKey("MonitoringCtrlr", "BytesPerMessage", None, "ClearVariableMonitoring"), "20"
    )
    with pytest.raises(FormatViolation):
        rig.handle(M.ClearVariableMonitoringRequest(id=[1000, 1001, 1002, 1003]))
    assert (
        rig.handle(M.ClearVariableMonitoringRequest(id=[7])).clear_monitoring_result[0].status == "NotFound"
    )
