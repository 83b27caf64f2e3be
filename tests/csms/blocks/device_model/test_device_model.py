"""Device model on the CSMS side (B05-B08) against peer stations from the ``ocpp`` package: reports requested
from the API and assembled from NotifyReport parts, Get/SetVariables with their results stored, the history of
values; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.routing import after, on

from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["2.0.1", "2.1"]

HEARTBEAT = {
    "component": {"name": "OCPPCommCtrlr"},
    "variable": {"name": "HeartbeatInterval"},
    "variable_attribute": [{"type": "Actual", "value": "300", "mutability": "ReadWrite", "persistent": True}],
    "variable_characteristics": {"data_type": "integer", "supports_monitoring": False, "unit": "s"},
}
EVSE_POWER = {
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
    "variable_attribute": [{"type": "Actual", "value": "0"}, {"type": "MaxSet", "value": "22000"}],
    "variable_characteristics": {
        "data_type": "decimal",
        "supports_monitoring": True,
        "unit": "W",
        "max_limit": 22000,
    },
}
SERIAL = {
    "component": {"name": "ChargingStation"},
    "variable": {"name": "SerialNumber"},
    "variable_attribute": [{"type": "Actual", "value": "SN-1", "mutability": "ReadOnly", "constant": True}],
}


def station_class(version: str) -> Any:
    module = MODULES[version]

    class DeviceModelStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Answers the device-model requests like a small real station: a base report in two parts."""

        values: dict[str, str]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.values = {"OCPPCommCtrlr/HeartbeatInterval": "300"}

        @on("GetBaseReport")
        def get_base_report(self, request_id: int, report_base: str, **_: Any) -> Any:
            status = "NotSupported" if report_base == "SummaryInventory" else "Accepted"
            return module.call_result.GetBaseReport(status=status)

        @after("GetBaseReport")
        async def send_report(self, request_id: int, report_base: str, **_: Any) -> None:
            if report_base == "SummaryInventory":
                return
            parts = [[HEARTBEAT, EVSE_POWER], [SERIAL]]
            for seq_no, data in enumerate(parts):
                await self.call(
                    module.call.NotifyReport(
                        request_id=request_id,
                        generated_at="2026-12-07T04:00:00Z",
                        seq_no=seq_no,
                        report_data=data,
                        tbc=seq_no < len(parts) - 1,
                    )
                )

        @on("GetReport")
        def get_report(self, request_id: int, **_: Any) -> Any:
            return module.call_result.GetReport(status="EmptyResultSet")  # no component is in Problem

        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            results = []
            for item in get_variable_data:
                name = f"{item['component']['name']}/{item['variable']['name']}"
                known = name in self.values
                results.append(
                    {
                        "attribute_status": "Accepted" if known else "UnknownVariable",
                        "component": item["component"],
                        "variable": item["variable"],
                        **({"attribute_value": self.values[name]} if known else {}),
                    }
                )
            return module.call_result.GetVariables(get_variable_result=results)

        @on("SetVariables")
        def set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            results = []
            for item in set_variable_data:
                name = f"{item['component']['name']}/{item['variable']['name']}"
                ok = name in self.values and item["attribute_value"].isdigit()
                if ok:
                    self.values[name] = item["attribute_value"]
                results.append(
                    {
                        "attribute_status": "Accepted" if ok else "Rejected",
                        "component": item["component"],
                        "variable": item["variable"],
                    }
                )
            return module.call_result.SetVariables(set_variable_result=results)

    return DeviceModelStation


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


async def _report_complete(csms: RunningCsms, station_id: str, request_id: int) -> dict[str, Any]:
    async with asyncio.timeout(5):
        while True:
            report: dict[str, Any] = await _json(csms, "GET", f"/stations/{station_id}/reports/{request_id}")
            if report["status"] == "complete":
                return report
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("version", VERSIONS)
async def test_B07_a_base_report_in_parts_builds_the_inventory(csms: RunningCsms, version: str) -> None:
    await csms.add_station("DM1")
    async with (
        csms.app.events.subscribe() as subscription,
        peer(csms.ocpp_url, "DM1", version, station_class=station_class(version)) as station,
    ):
        await boot(station, version)
        answer = await _json(csms, "POST", "/stations/DM1/reports", json={"reportBase": "FullInventory"})
        assert answer["stationStatus"] == "Accepted"
        assert answer["kind"] == "base"
        report = await _report_complete(csms, "DM1", answer["requestId"])
        async with asyncio.timeout(5):
            while (event := await subscription.get()).kind != "device_model.report_complete":
                pass
    assert (report["parts"], report["items"]) == (2, 4)
    assert event.data == {"requestId": answer["requestId"], "parts": 2, "items": 4}
    page = await _json(csms, "GET", "/stations/DM1/variables")
    assert page["total"] == 4
    by_key = {v["key"]: v for v in page["items"]}
    assert set(by_key) == {
        "ChargingStation/SerialNumber:Actual",
        "EVSE@1/Power:Actual",
        "EVSE@1/Power:MaxSet",
        "OCPPCommCtrlr/HeartbeatInterval:Actual",
    }
    heartbeat = by_key["OCPPCommCtrlr/HeartbeatInterval:Actual"]
    assert (heartbeat["value"], heartbeat["mutability"], heartbeat["unit"], heartbeat["source"]) == (
        "300",
        "ReadWrite",
        "s",
        "report",
    )
    assert by_key["EVSE@1/Power:MaxSet"]["maxLimit"] == 22000
    assert by_key["EVSE@1/Power:MaxSet"]["component"] == {"name": "EVSE", "evse": {"id": 1}}
    evse_only = await _json(csms, "GET", "/stations/DM1/variables?evseId=1")
    assert evse_only["total"] == 2


@pytest.mark.parametrize("version", VERSIONS)
async def test_B05_B06_set_and_get_variables_store_what_the_station_took(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("DM2")
    heartbeat = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    unknown = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchThing"}}
    async with peer(csms.ocpp_url, "DM2", version, station_class=station_class(version)) as station:
        await boot(station, version)
        results = await _json(
            csms,
            "POST",
            "/stations/DM2/variables/set",
            json={
                "setVariableData": [heartbeat | {"attributeValue": "60"}, unknown | {"attributeValue": "x"}]
            },
        )
        assert [r["attributeStatus"] for r in results] == ["Accepted", "Rejected"]
        read = await _json(
            csms, "POST", "/stations/DM2/variables/get", json={"getVariableData": [heartbeat, unknown]}
        )
        assert [(r["attributeStatus"], r.get("attributeValue")) for r in read] == [
            ("Accepted", "60"),
            ("UnknownVariable", None),
        ]
        assert station.values["OCPPCommCtrlr/HeartbeatInterval"] == "60"
    page = await _json(csms, "GET", "/stations/DM2/variables")
    assert [(v["key"], v["value"], v["source"]) for v in page["items"]] == [
        ("OCPPCommCtrlr/HeartbeatInterval:Actual", "60", "get")
    ]
    history = await _json(csms, "GET", "/stations/DM2/variables/history")
    assert [(c["oldValue"], c["newValue"], c["source"]) for c in history["items"]] == [(None, "60", "set")]


async def test_B08_an_empty_result_set_completes_the_report_and_a_refusal_is_kept(csms: RunningCsms) -> None:
    await csms.add_station("DM3")
    async with peer(csms.ocpp_url, "DM3", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        empty = await _json(csms, "POST", "/stations/DM3/reports", json={"componentCriteria": ["Problem"]})
        refused = await _json(csms, "POST", "/stations/DM3/reports", json={"reportBase": "SummaryInventory"})
    assert (empty["kind"], empty["status"], empty["stationStatus"]) == (
        "custom",
        "complete",
        "EmptyResultSet",
    )
    assert empty["criteria"] == {"componentCriteria": ["Problem"]}
    assert (refused["status"], refused["stationStatus"]) == ("refused", "NotSupported")
    reports = await _json(csms, "GET", "/stations/DM3/reports")
    assert reports["total"] == 2


async def test_B08_FR_06_no_more_component_variables_than_items_per_message_get_report(
    csms: RunningCsms,
) -> None:
    await csms.add_station("DM6")
    async with peer(csms.ocpp_url, "DM6", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        station.values["DeviceDataCtrlr/ItemsPerMessage"] = "2"
        items = {
            "component": {"name": "DeviceDataCtrlr"},
            "variable": {"name": "ItemsPerMessage", "instance": "GetReport"},
        }
        await _json(csms, "POST", "/stations/DM6/variables/get", json={"getVariableData": [items]})
        three = [{"component": {"name": n}} for n in ("EVSE", "Connector", "ChargingStation")]
        refused = await _json(
            csms, "POST", "/stations/DM6/reports", status=400, json={"componentVariable": three}
        )
        assert "ItemsPerMessageGetReport" in refused["detail"]
        sent = await _json(csms, "POST", "/stations/DM6/reports", json={"componentVariable": three[:2]})
        assert sent["stationStatus"] == "EmptyResultSet"


async def test_a_report_nobody_asked_for_is_stored_as_unsolicited(csms: RunningCsms) -> None:
    await csms.add_station("DM4")
    call = MODULES["2.0.1"].call
    async with peer(csms.ocpp_url, "DM4", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(
            call.NotifyReport(
                request_id=77, generated_at="2026-12-07T04:00:00Z", seq_no=0, report_data=[SERIAL]
            )
        )
    report = await _json(csms, "GET", "/stations/DM4/reports/77")
    assert (report["kind"], report["status"], report["items"]) == ("unsolicited", "complete", 1)


async def test_bad_report_requests_and_1_6_stations_are_refused(csms: RunningCsms) -> None:
    await csms.add_station("DM5")
    both = {"reportBase": "FullInventory", "componentCriteria": ["Active"]}
    await _json(csms, "POST", "/stations/DM5/reports", status=400, json=both)
    await _json(csms, "POST", "/stations/DM5/reports", status=400, json={})
    await _json(csms, "POST", "/stations/DM5/reports", status=400, json={"reportBase": "Everything"})
    await _json(csms, "POST", "/stations/DM5/variables/get", status=400, json={"getVariableData": []})
    await _json(csms, "GET", "/stations/NOPE/variables", status=404)
    await _json(csms, "GET", "/stations/DM5/reports/1", status=404)
    async with peer(csms.ocpp_url, "DM5", "1.6") as station:
        await boot(station, "1.6")
        refused = await _json(
            csms, "POST", "/stations/DM5/reports", status=422, json={"reportBase": "FullInventory"}
        )
    assert "1.6" in str(refused)
