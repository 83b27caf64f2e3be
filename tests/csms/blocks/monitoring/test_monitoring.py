"""Monitoring on the CSMS side (N02-N08) against peer stations from the ``ocpp`` package (2.0.1 and 2.1): monitors
set and cleared within the station's limits, monitoring reports assembled into the inventory, level and base,
every NotifyEvent stored and turned into alerts by the operator's rules; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.exceptions import NotSupportedError
from ocpp.routing import after, on

from chargeplane.csms.bus.events import StationEvent
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["2.0.1", "2.1"]
HARD_WIRED_ID = 1  # a monitor the peer station cannot clear (N06.FR.03)
LIMIT = 2  # the peer's MonitoringCtrlr.ItemsPerMessage for Set- and ClearVariableMonitoring

EVSE_AVAILABILITY = {
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "AvailabilityState"},
}
STATION_POWER = {"component": {"name": "ChargingStation"}, "variable": {"name": "Power"}}
TEMPERATURE = {"component": {"name": "TemperatureSensor"}, "variable": {"name": "Temperature"}}


def station_class(version: str) -> Any:
    module = MODULES[version]

    class MonitoringStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Holds monitors like a small real station: one hard-wired, the others set by the CSMS."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.next_id = 10
            self.monitors: dict[int, dict[str, Any]] = {
                HARD_WIRED_ID: {
                    "component": {"name": "ChargingStation"},
                    "variable": {"name": "Power"},
                    "id": HARD_WIRED_ID,
                    "type": "UpperThreshold",
                    "value": 50000.0,
                    "severity": 2,
                    "transaction": False,
                    "kind": "HardWiredMonitor",
                }
            }
            self.calls: list[tuple[str, Any]] = []
            self.level_range = range(0, 10)
            self.tells_limits = True

        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            self.calls.append(("GetVariables", get_variable_data))
            if not self.tells_limits:
                raise NotSupportedError("no GetVariables here")
            results = []
            for item in get_variable_data:
                known = item["component"]["name"] == "MonitoringCtrlr"
                value = str(LIMIT) if item["variable"]["name"] == "ItemsPerMessage" else "4000"
                results.append(
                    {
                        "attribute_status": "Accepted" if known else "UnknownComponent",
                        "component": item["component"],
                        "variable": item["variable"],
                        **({"attribute_value": value} if known else {}),
                    }
                )
            return module.call_result.GetVariables(get_variable_result=results)

        @on("SetVariableMonitoring")
        def set_variable_monitoring(self, set_monitoring_data: list[dict[str, Any]], **_: Any) -> Any:
            self.calls.append(("SetVariableMonitoring", set_monitoring_data))
            results = []
            for item in set_monitoring_data:
                result = {k: item[k] for k in ("type", "severity", "component", "variable")}
                wanted = item.get("id")
                if item["component"]["name"] == "Nope":
                    status = "UnknownComponent"  # N04.FR.03
                elif wanted is not None and (wanted not in self.monitors or wanted == HARD_WIRED_ID):
                    status = "Rejected"  # N04.FR.13, N04.FR.18
                else:
                    status = "Accepted"
                    if wanted is None:
                        wanted, self.next_id = self.next_id, self.next_id + 1
                    self.monitors[wanted] = {
                        "component": item["component"],
                        "variable": item["variable"],
                        "id": wanted,
                        "type": item["type"],
                        "value": item["value"],
                        "severity": item["severity"],
                        "transaction": item.get("transaction", False),
                        "kind": "CustomMonitor",
                    }
                    result["id"] = wanted
                results.append(result | {"status": status})
            return module.call_result.SetVariableMonitoring(set_monitoring_result=results)

        @on("ClearVariableMonitoring")
        def clear_variable_monitoring(self, id: list[int], **_: Any) -> Any:
            self.calls.append(("ClearVariableMonitoring", id))
            results = []
            for monitor_id in id:
                if monitor_id == HARD_WIRED_ID:
                    status = "Rejected"
                elif self.monitors.pop(monitor_id, None) is None:
                    status = "NotFound"
                else:
                    status = "Accepted"
                results.append({"id": monitor_id, "status": status})
            return module.call_result.ClearVariableMonitoring(clear_monitoring_result=results)

        @on("SetMonitoringLevel")
        def set_monitoring_level(self, severity: int, **_: Any) -> Any:
            status = "Accepted" if severity in self.level_range else "Rejected"
            return module.call_result.SetMonitoringLevel(status=status)

        @on("SetMonitoringBase")
        def set_monitoring_base(self, monitoring_base: str, **_: Any) -> Any:
            if monitoring_base != "All":
                self.monitors = {k: m for k, m in self.monitors.items() if m["kind"] == "HardWiredMonitor"}
            return module.call_result.SetMonitoringBase(status="Accepted")

        def _matching(self, monitoring_criteria: list[str] | None) -> list[dict[str, Any]]:
            kinds = {
                "ThresholdMonitoring": ("UpperThreshold", "LowerThreshold"),
                "DeltaMonitoring": ("Delta",),
            }
            wanted = {t for c in monitoring_criteria or kinds for t in kinds.get(c, ())}
            return [m for m in self.monitors.values() if m["type"] in wanted]

        @on("GetMonitoringReport")
        def get_monitoring_report(self, request_id: int, monitoring_criteria: Any = None, **_: Any) -> Any:
            self.calls.append(("GetMonitoringReport", monitoring_criteria))
            status = "Accepted" if self._matching(monitoring_criteria) else "EmptyResultSet"  # N02.FR.10
            return module.call_result.GetMonitoringReport(status=status)

        @after("GetMonitoringReport")
        async def send_report(self, request_id: int, monitoring_criteria: Any = None, **_: Any) -> None:
            found = self._matching(monitoring_criteria)
            for seq_no, monitor in enumerate(found):  # one monitor per part (N02.FR.09: seqNo from 0)
                variable_monitoring = {
                    k: monitor[k] for k in ("id", "transaction", "value", "type", "severity")
                }
                if version == "2.1":
                    variable_monitoring["event_notification_type"] = monitor["kind"]
                await self.call(
                    module.call.NotifyMonitoringReport(
                        request_id=request_id,
                        seq_no=seq_no,
                        generated_at="2026-12-07T04:00:00Z",
                        tbc=seq_no < len(found) - 1,
                        monitor=[
                            {
                                "component": monitor["component"],
                                "variable": monitor["variable"],
                                "variable_monitoring": [variable_monitoring],
                            }
                        ],
                    )
                )

    return MonitoringStation


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def _monitors(csms: RunningCsms, station_id: str) -> dict[int, dict[str, Any]]:
    page = await _json(csms, "GET", f"/stations/{station_id}/monitoring/monitors")
    return {m["id"]: m for m in page["items"]}


async def _report_complete(csms: RunningCsms, station_id: str, request_id: int) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            report: dict[str, Any] = await _json(
                csms, "GET", f"/stations/{station_id}/monitoring/reports/{request_id}"
            )
            if report["status"] == "complete":
                return report
            await asyncio.sleep(0.05)


def _event(event_id: int, data: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "timestamp": "2026-12-07T05:00:00Z",
        "trigger": "Alerting",
        "actual_value": "61",
        "event_notification_type": "CustomMonitor",
        **data,
        **fields,
    }


@pytest.mark.parametrize("version", VERSIONS)
async def test_N04_N06_monitors_set_and_cleared_within_the_station_limits(
    csms: RunningCsms, version: str
) -> None:
    """N04.FR.09 / N06.FR.04 (TC_N_18_CSMS): more items than ItemsPerMessage go in several messages;
    N04.FR.11: the station's ids are stored; N04.FR.17: a Delta monitor's value defaults to 1."""
    await csms.add_station("MON1")
    async with peer(csms.ocpp_url, "MON1", version, station_class=station_class(version)) as station:
        await boot(station, version)
        items = [
            EVSE_AVAILABILITY | {"type": "Delta", "severity": 8},
            TEMPERATURE | {"type": "UpperThreshold", "value": 60, "severity": 3, "transaction": True},
            {"component": {"name": "Nope"}, "variable": {"name": "X"}, "type": "Delta", "severity": 5},
        ]
        results = await _json(
            csms, "POST", "/stations/MON1/monitoring/monitors", json={"setMonitoringData": items}
        )
        assert [(r["status"], r.get("id")) for r in results] == [
            ("Accepted", 10),
            ("Accepted", 11),
            ("UnknownComponent", None),
        ]
        assert [name for name, _ in station.calls] == [
            "GetVariables",
            "SetVariableMonitoring",
            "SetVariableMonitoring",
        ]
        assert [len(data) for name, data in station.calls if name == "SetVariableMonitoring"] == [2, 1]
        assert station.calls[1][1][0]["value"] == 1  # N04.FR.17
        held = await _monitors(csms, "MON1")
        assert set(held) == {10, 11}
        assert (held[10]["type"], held[10]["value"], held[10]["severity"], held[10]["transaction"]) == (
            "Delta",
            1.0,
            8,
            False,
        )
        assert held[10]["component"] == {"name": "EVSE", "evse": {"id": 1}}
        assert (held[11]["kind"], held[11]["status"], held[11]["transaction"]) == (
            "CustomMonitor",
            "Accepted",
            True,
        )

        # N04.FR.12: an id replaces that monitor; one item needs no limits read
        station.calls.clear()
        replaced = await _json(
            csms,
            "POST",
            "/stations/MON1/monitoring/monitors",
            json={
                "setMonitoringData": [
                    TEMPERATURE | {"id": 11, "type": "UpperThreshold", "value": 70, "severity": 3}
                ]
            },
        )
        assert replaced[0]["status"] == "Accepted"
        assert [name for name, _ in station.calls] == ["SetVariableMonitoring"]
        assert (await _monitors(csms, "MON1"))[11]["value"] == 70.0

        station.calls.clear()
        cleared = await _json(
            csms, "POST", "/stations/MON1/monitoring/clear", json={"ids": [10, 999, HARD_WIRED_ID]}
        )
        assert [(r["id"], r["status"]) for r in cleared] == [
            (10, "Accepted"),
            (999, "NotFound"),
            (1, "Rejected"),
        ]
        assert [(n, d) for n, d in station.calls if n == "ClearVariableMonitoring"] == [
            ("ClearVariableMonitoring", [10, 999]),
            ("ClearVariableMonitoring", [HARD_WIRED_ID]),
        ]
    assert set(await _monitors(csms, "MON1")) == {11}


async def test_N04_a_station_that_cannot_tell_its_limits_gets_one_message_and_a_2_1_type_is_not_sent_to_2_0_1(
    csms: RunningCsms,
) -> None:
    await csms.add_station("MON9")
    async with peer(csms.ocpp_url, "MON9", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        station.tells_limits = False
        items = [
            EVSE_AVAILABILITY | {"type": "Delta", "severity": 8},
            STATION_POWER | {"type": "Periodic", "value": 60, "severity": 9},
            TEMPERATURE | {"type": "LowerThreshold", "value": -20, "severity": 2},
        ]
        results = await _json(
            csms, "POST", "/stations/MON9/monitoring/monitors", json={"setMonitoringData": items}
        )
        assert [r["status"] for r in results] == ["Accepted"] * 3
        assert [(name, len(data)) for name, data in station.calls] == [
            ("GetVariables", 2),
            ("SetVariableMonitoring", 3),
        ]
        target = STATION_POWER | {"type": "TargetDelta", "value": 5, "severity": 9}
        await _json(
            csms,
            "POST",
            "/stations/MON9/monitoring/monitors",
            status=422,
            json={"setMonitoringData": [target]},
        )


@pytest.mark.parametrize("version", VERSIONS)
async def test_N02_a_full_report_replaces_the_inventory_and_an_empty_result_set_completes(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("MON2")
    async with (
        csms.app.events.subscribe() as subscription,
        peer(csms.ocpp_url, "MON2", version, station_class=station_class(version)) as station,
    ):
        await boot(station, version)
        await _json(
            csms,
            "POST",
            "/stations/MON2/monitoring/monitors",
            json={
                "setMonitoringData": [TEMPERATURE | {"type": "LowerThreshold", "value": -10, "severity": 4}]
            },
        )
        del station.monitors[10]  # gone from the station behind the CSMS's back (e.g. a reset)
        station.monitors[12] = {
            **EVSE_AVAILABILITY,
            "id": 12,
            "type": "Delta",
            "value": 1.0,
            "severity": 6,
            "transaction": False,
            "kind": "PreconfiguredMonitor",
        }
        answer = await _json(csms, "POST", "/stations/MON2/monitoring/reports", json={})
        assert (answer["stationStatus"], answer["criteria"]) == ("Accepted", None)
        report = await _report_complete(csms, "MON2", answer["requestId"])
        async with asyncio.timeout(5):
            while (event := await subscription.get()).kind != "monitoring.report_complete":
                pass
        assert (report["parts"], report["monitors"], report["solicited"]) == (2, 2, True)
        assert event.data == {"requestId": answer["requestId"], "parts": 2, "monitors": 2}
        held = await _monitors(csms, "MON2")
        assert set(held) == {HARD_WIRED_ID, 12}  # 10 is gone: the report named every monitor
        assert held[12]["status"] == "Reported"
        assert held[12]["kind"] == ("PreconfiguredMonitor" if version == "2.1" else None)

        # N02.FR.10: nothing matches: complete at once, nothing removed
        criteria = {"monitoringCriteria": ["PeriodicMonitoring"], "componentVariable": [STATION_POWER]}
        empty = await _json(csms, "POST", "/stations/MON2/monitoring/reports", json=criteria)
        assert (empty["status"], empty["stationStatus"], empty["parts"]) == ("complete", "EmptyResultSet", 0)
        assert empty["criteria"] == criteria
        assert station.calls[-1] == ("GetMonitoringReport", ["PeriodicMonitoring"])
        assert set(await _monitors(csms, "MON2")) == {HARD_WIRED_ID, 12}
        # a filtered report adds, and removes nothing
        delta = await _json(
            csms,
            "POST",
            "/stations/MON2/monitoring/reports",
            json={"monitoringCriteria": ["DeltaMonitoring"]},
        )
        assert (await _report_complete(csms, "MON2", delta["requestId"]))["monitors"] == 1
        assert set(await _monitors(csms, "MON2")) == {HARD_WIRED_ID, 12}
        reports = await _json(csms, "GET", "/stations/MON2/monitoring/reports")
        assert reports["total"] == 3


async def test_N02_an_unrequested_report_is_kept_as_not_solicited(csms: RunningCsms) -> None:
    await csms.add_station("MON3")
    call = MODULES["2.0.1"].call
    async with peer(csms.ocpp_url, "MON3", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(
            call.NotifyMonitoringReport(
                request_id=77,
                seq_no=0,
                generated_at="2026-12-07T04:00:00Z",
                monitor=[
                    STATION_POWER
                    | {
                        "variable_monitoring": [
                            {"id": 5, "transaction": False, "value": 3, "type": "Periodic", "severity": 9}
                        ]
                    }
                ],
            )
        )
    report = await _json(csms, "GET", "/stations/MON3/monitoring/reports/77")
    assert (report["solicited"], report["status"], report["monitors"]) == (False, "complete", 1)
    assert (await _monitors(csms, "MON3"))[5]["type"] == "Periodic"


@pytest.mark.parametrize("version", VERSIONS)
async def test_N03_N05_base_and_level(csms: RunningCsms, version: str) -> None:
    """TC_N_16/17_CSMS: the station's answer comes back; only an accepted level is stored. N03.FR.04: an accepted
    FactoryDefault drops the custom monitors from the inventory."""
    await csms.add_station("MON4")
    async with peer(csms.ocpp_url, "MON4", version, station_class=station_class(version)) as station:
        await boot(station, version)
        accepted = await _json(csms, "POST", "/stations/MON4/monitoring/level", json={"severity": 4})
        assert accepted == {"status": "Accepted"}
        station.level_range = range(0, 3)
        rejected = await _json(csms, "POST", "/stations/MON4/monitoring/level", json={"severity": 4})
        assert rejected == {"status": "Rejected"}
        await _json(csms, "POST", "/stations/MON4/monitoring/level", status=400, json={"severity": 10})
        await _json(
            csms,
            "POST",
            "/stations/MON4/monitoring/monitors",
            json={
                "setMonitoringData": [TEMPERATURE | {"type": "UpperThreshold", "value": 60, "severity": 3}]
            },
        )
        answer = await _json(csms, "POST", "/stations/MON4/monitoring/reports", json={})
        await _report_complete(csms, "MON4", answer["requestId"])
        assert set(await _monitors(csms, "MON4")) == {HARD_WIRED_ID, 10}
        base = await _json(
            csms, "POST", "/stations/MON4/monitoring/base", json={"monitoringBase": "FactoryDefault"}
        )
        assert base == {"status": "Accepted"}
    held = await _monitors(csms, "MON4")
    # the hard-wired monitor stays when its kind is known (2.1 reports it); 2.0.1 does not say: gone until reported
    assert set(held) == ({HARD_WIRED_ID} if version == "2.1" else set())
    assert await _json(csms, "GET", "/stations/MON4/monitoring") == {"level": 4, "base": "FactoryDefault"}


@pytest.mark.parametrize("version", VERSIONS)
async def test_N07_events_are_stored_and_rules_raise_and_clear_alerts(
    csms: RunningCsms, version: str
) -> None:
    """TC_N_21/49_CSMS: every eventData stored; the severity of a 2.0.1 event is that of the monitor it names
    (N07.FR.06); an event matching a rule opens an alert, the cleared event closes it (N07.FR.02)."""
    await csms.add_station("MON5")
    await csms.add_station("MON8")
    rule = await _json(
        csms,
        "POST",
        "/alert-rules",
        status=201,
        json={"name": "hot", "maxSeverity": 4, "component": "Temp*", "stationId": "mon5"},
    )
    assert rule["stationId"] == "MON5"
    await _json(
        csms,
        "POST",
        "/alert-rules",
        status=201,
        json={"name": "other station", "maxSeverity": 9, "stationId": "MON8"},
    )
    call = MODULES[version].call
    async with (
        csms.app.events.subscribe() as subscription,
        peer(csms.ocpp_url, "MON5", version, station_class=station_class(version)) as station,
    ):
        await boot(station, version)
        results = await _json(
            csms,
            "POST",
            "/stations/MON5/monitoring/monitors",
            json={
                "setMonitoringData": [TEMPERATURE | {"type": "UpperThreshold", "value": 60, "severity": 3}]
            },
        )
        monitor_id = results[0]["id"]
        severity = {"severity": 3} if version == "2.1" else {}
        await station.call(
            call.NotifyEvent(
                generated_at="2026-12-07T05:00:00Z",
                seq_no=0,
                event_data=[
                    _event(1, TEMPERATURE, variable_monitoring_id=monitor_id, tech_code="T1", **severity),
                    _event(2, TEMPERATURE, trigger="Periodic", variable_monitoring_id=monitor_id, **severity),
                    _event(
                        3, STATION_POWER, event_notification_type="HardWiredNotification", actual_value="9"
                    ),
                ],
            )
        )
        raised = await _next(subscription, "alert.raised")
        alerts = await _json(csms, "GET", "/alerts?stationId=MON5&state=open")
        assert alerts["total"] == 1
        alert = alerts["items"][0]
        assert (
            alert["ruleId"],
            alert["subject"],
            alert["severity"],
            alert["monitorId"],
            alert["techCode"],
        ) == (
            rule["id"],
            "TemperatureSensor/Temperature",
            3,
            monitor_id,
            "T1",
        )
        assert raised.data["alertId"] == alert["id"]
        await station.call(
            call.NotifyEvent(
                generated_at="2026-12-07T05:01:00Z",
                seq_no=0,
                event_data=[
                    _event(4, TEMPERATURE, actual_value="55", cleared=True, variable_monitoring_id=monitor_id)
                ],
            )
        )
        cleared = await _next(subscription, "alert.cleared")
    assert cleared.data["closedBy"] == "cleared"
    closed = await _json(csms, "GET", f"/alerts/{alert['id']}")
    assert (closed["state"], closed["closedBy"]) == ("closed", "cleared")
    events = await _json(csms, "GET", "/stations/MON5/monitoring/events")
    assert [(e["eventId"], e["severity"], e["cleared"]) for e in events["items"]] == [
        (4, 3, True),
        (3, None, False),
        (2, 3, False),
        (1, 3, False),
    ]
    assert events["items"][-1]["component"] == {"name": "TemperatureSensor"}
    assert (await _json(csms, "GET", "/stations/MON5/monitoring/events?cleared=true"))["total"] == 1


async def _next(subscription: Any, kind: str) -> StationEvent:
    async with asyncio.timeout(5):
        while True:
            event: StationEvent = await subscription.get()
            if event.kind == kind:
                return event


async def test_alerts_are_acknowledged_and_rules_managed(csms: RunningCsms) -> None:
    await csms.add_station("MON6")
    rule = await _json(csms, "POST", "/alert-rules", status=201, json={"name": "all", "maxSeverity": 9})
    call = MODULES["2.1"].call
    async with csms.app.events.subscribe() as subscription, peer(csms.ocpp_url, "MON6", "2.1") as station:
        await boot(station, "2.1")
        event = _event(
            1,
            EVSE_AVAILABILITY,
            trigger="Delta",
            actual_value="Faulted",
            event_notification_type="HardWiredNotification",
        )
        await station.call(
            call.NotifyEvent(generated_at="2026-12-07T05:00:00Z", seq_no=0, event_data=[event])
        )
        # the same subject again: still one open alert per rule
        await station.call(
            call.NotifyEvent(
                generated_at="2026-12-07T05:00:01Z", seq_no=0, event_data=[event | {"event_id": 2}]
            )
        )
        await _next(subscription, "alert.raised")
        page = await _json(csms, "GET", "/alerts?state=open")
        assert page["total"] == 1
        alert_id = page["items"][0]["id"]
        acknowledged = await _json(
            csms, "POST", f"/alerts/{alert_id}/acknowledge", json={"note": "sent a tech"}
        )
        assert (acknowledged["state"], acknowledged["closedBy"], acknowledged["note"]) == (
            "closed",
            "acknowledged",
            "sent a tech",
        )
        assert (await _next(subscription, "alert.cleared")).data["alertId"] == alert_id
        again = await _json(csms, "POST", f"/alerts/{alert_id}/acknowledge", json={})
        assert again["closedAt"] == acknowledged["closedAt"]
    changed = await _json(
        csms, "PATCH", f"/alert-rules/{rule['id']}", json={"maxSeverity": 2, "component": "EVSE"}
    )
    assert (changed["maxSeverity"], changed["component"], changed["variable"]) == (2, "EVSE", None)
    changed = await _json(
        csms, "PATCH", f"/alert-rules/{rule['id']}", json={"component": None, "enabled": False}
    )
    assert (changed["component"], changed["enabled"]) == (None, False)
    await _json(csms, "PATCH", f"/alert-rules/{rule['id']}", status=400, json={"maxSeverity": None})
    await _json(csms, "PATCH", f"/alert-rules/{rule['id']}", status=400, json={"maxSeverity": 10})
    await _json(
        csms, "POST", "/alert-rules", status=404, json={"name": "x", "maxSeverity": 1, "stationId": "NOPE"}
    )
    await _json(csms, "DELETE", f"/alert-rules/{rule['id']}", status=204)
    await _json(csms, "DELETE", f"/alert-rules/{rule['id']}", status=404)
    await _json(csms, "GET", f"/alert-rules/{rule['id']}", status=404)
    assert (await _json(csms, "GET", f"/alerts?ruleId={rule['id']}"))["total"] == 1  # its alerts stay
    await _json(csms, "POST", "/alerts/999999/acknowledge", status=404, json={})


async def test_bad_requests_and_1_6_stations_are_refused(csms: RunningCsms) -> None:
    await csms.add_station("MON7")
    url = "/stations/MON7/monitoring"
    upper = TEMPERATURE | {"type": "UpperThreshold", "severity": 3}
    await _json(csms, "POST", f"{url}/monitors", status=400, json={"setMonitoringData": [upper]})  # no value
    await _json(csms, "POST", f"{url}/monitors", status=400, json={"setMonitoringData": []})
    negative = EVSE_AVAILABILITY | {"type": "Delta", "severity": 3, "value": -1}
    await _json(csms, "POST", f"{url}/monitors", status=400, json={"setMonitoringData": [negative]})
    await _json(
        csms,
        "POST",
        f"{url}/monitors",
        status=400,
        json={"setMonitoringData": [upper | {"value": 1, "type": "Sometimes"}]},
    )
    await _json(csms, "POST", f"{url}/clear", status=400, json={"ids": []})
    await _json(csms, "POST", f"{url}/base", status=400, json={"monitoringBase": "Nothing"})
    await _json(csms, "POST", f"{url}/reports", status=400, json={"monitoringCriteria": ["Everything"]})
    await _json(csms, "GET", "/stations/NOPE/monitoring/monitors", status=404)
    await _json(csms, "GET", f"{url}/reports/1", status=404)
    await _json(csms, "POST", f"{url}/level", status=409, json={"severity": 3})  # offline
    async with peer(csms.ocpp_url, "MON7", "1.6") as station:
        await boot(station, "1.6")
        refused = await _json(csms, "POST", f"{url}/level", status=422, json={"severity": 3})
    assert "1.6" in str(refused)
