"""Monitoring end to end (N04, N07, N02): a CSMS written with the independent ``ocpp`` package sets a monitor on
the running station, the simulated temperature sensor crosses it, and the NotifyEvents arrive."""

from __future__ import annotations

import ocpp.v21.call

from chargeplane.ocpp.versions import Version
from chargeplane.station.control import execute
from tests.station.csms_peer import CsmsBehaviour, call, peer_csms, wait_for
from tests.station.test_runtime import running_station


async def test_N04_N07_a_monitor_set_by_the_ocpp_package_raises_notify_event_once_then_cleared() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url, running_station(url) as station:
        await wait_for(lambda: behaviour.of("StatusNotification"))
        csms = behaviour.stations[0]
        answer = await csms.call(
            call.SetVariableMonitoring(
                set_monitoring_data=[
                    {
                        "value": 40.0,
                        "type": "UpperThreshold",
                        "severity": 3,
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Temperature"},
                    }
                ]
            )
        )
        [result] = answer.set_monitoring_result
        assert result["status"] == "Accepted"
        monitor_id = result["id"]
        await execute(station, "temperature 45.5")  # the console's command drives the sensor
        station.set_temperature(47.0)  # still above: no second event
        await wait_for(lambda: behaviour.of("NotifyEvent"))
        station.set_temperature(30.0)
        await wait_for(lambda: len(behaviour.of("NotifyEvent")) == 2)
        alert, cleared = (n["event_data"][0] for n in behaviour.of("NotifyEvent"))
        assert (alert["variable_monitoring_id"], alert["trigger"], alert["actual_value"]) == (
            monitor_id,
            "Alerting",
            "45.5",
        )
        assert alert["event_notification_type"] == "CustomMonitor"
        assert "cleared" not in alert or alert["cleared"] is False
        assert (cleared["variable_monitoring_id"], cleared["cleared"]) == (monitor_id, True)
        assert all(n["seq_no"] == 0 for n in behaviour.of("NotifyEvent"))

        report = await csms.call(
            call.GetMonitoringReport(request_id=5, monitoring_criteria=["ThresholdMonitoring"])
        )
        assert report.status == "Accepted"
        await wait_for(lambda: behaviour.of("NotifyMonitoringReport"))
        parts = behaviour.of("NotifyMonitoringReport")
        ids = {vm["id"] for part in parts for m in part["monitor"] for vm in m["variable_monitoring"]}
        assert monitor_id in ids
        assert all(part["request_id"] == 5 for part in parts)


async def test_21_N07_FR_20_the_event_of_a_2_1_station_carries_the_severity() -> None:
    behaviour = CsmsBehaviour()
    async with (
        peer_csms(behaviour, "ocpp2.1") as url,
        running_station(url, version=Version.V21) as station,
    ):
        await wait_for(lambda: behaviour.of("StatusNotification"))
        answer = await behaviour.stations[0].call(
            ocpp.v21.call.SetVariableMonitoring(
                set_monitoring_data=[
                    {
                        "value": 5.0,
                        "type": "TargetDelta",
                        "severity": 4,
                        "component": {"name": "ChargingStation"},
                        "variable": {"name": "Temperature"},
                    }
                ]
            )
        )
        [result] = answer.set_monitoring_result
        assert result["status"] == "Accepted"
        station.set_temperature(31.0)  # the Target is 25: 6 degrees off
        await wait_for(lambda: behaviour.of("NotifyEvent"))
        [event] = behaviour.of("NotifyEvent")[0]["event_data"]
        assert (event["variable_monitoring_id"], event["severity"], event["trigger"]) == (
            result["id"],
            4,
            "Alerting",
        )
