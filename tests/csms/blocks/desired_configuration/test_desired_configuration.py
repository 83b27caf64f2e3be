"""Desired configuration of station groups against ``ocpp`` package stations (2.0.1 and 1.6): applied after an
accepted boot and when the desired set changes, only the values that differ, every answer recorded; the drift
per station and per group (in_sync, drifted, pending, rejected, unknown); conflicts between groups settled by
priority; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from ocpp.routing import on

from chargeplane.csms.blocks.desired_configuration.repository import Result
from chargeplane.csms.blocks.desired_configuration.service import DesiredConfigurationService, state_of
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

HEARTBEAT = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
OFFLINE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "OfflineThreshold"}}
POWER = {
    "component": {"name": "EVSE", "evse": {"id": 1}},
    "variable": {"name": "Power"},
    "attributeType": "MaxSet",
}
NOPE = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "NoSuchThing"}}
HEARTBEAT_KEY = "OCPPCommCtrlr/HeartbeatInterval:Actual"
OFFLINE_KEY = "OCPPCommCtrlr/OfflineThreshold:Actual"
POWER_KEY = "EVSE@1/Power:MaxSet"
NOPE_KEY = "OCPPCommCtrlr/NoSuchThing:Actual"
ITEMS_KEY = "DeviceDataCtrlr/ItemsPerMessage[GetVariables]:Actual"


def station201() -> Any:
    module = MODULES["2.0.1"]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Keeps values per component/variable/attribute; EVSE Power MaxSet needs a reboot; numbers only."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.values = {HEARTBEAT_KEY: "300", OFFLINE_KEY: "60", POWER_KEY: "22000"}
            self.gets = 0
            self.sets: list[str] = []

        @staticmethod
        def _key(item: dict[str, Any]) -> str:
            component = item["component"]["name"]
            if "evse" in item["component"]:
                component += f"@{item['component']['evse']['id']}"
            variable = item["variable"]["name"]
            if "instance" in item["variable"]:
                variable += f"[{item['variable']['instance']}]"
            return f"{component}/{variable}:{item.get('attribute_type', 'Actual')}"

        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            self.gets += 1
            results = []
            for item in get_variable_data:
                key = self._key(item)
                known = key in self.values
                results.append(
                    {
                        "attribute_status": "Accepted" if known else "UnknownVariable",
                        "attribute_type": item.get("attribute_type", "Actual"),
                        "component": item["component"],
                        "variable": item["variable"],
                        **({"attribute_value": self.values[key]} if known else {}),
                    }
                )
            return module.call_result.GetVariables(get_variable_result=results)

        @on("SetVariables")
        def set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            results = []
            for item in set_variable_data:
                key = self._key(item)
                self.sets.append(key)
                if key not in self.values:
                    status = "UnknownVariable"
                elif not item["attribute_value"].isdigit():
                    status = "Rejected"
                else:
                    self.values[key] = item["attribute_value"]
                    status = "RebootRequired" if key == POWER_KEY else "Accepted"
                results.append(
                    {
                        "attribute_status": status,
                        "attribute_type": item.get("attribute_type", "Actual"),
                        "component": item["component"],
                        "variable": item["variable"],
                    }
                )
            return module.call_result.SetVariables(set_variable_result=results)

    return Station


def station16() -> Any:
    module = MODULES["1.6"]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.values = {
                "HeartbeatInterval": "300",
                "NumberOfConnectors": "1",
                "MeterValueSampleInterval": "60",
            }
            self.changes: list[str] = []

        @on("GetConfiguration")
        def get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
            asked = key or list(self.values)
            known = [
                {"key": k, "readonly": k == "NumberOfConnectors", "value": self.values[k]}
                for k in asked
                if k in self.values
            ]
            unknown = [k for k in asked if k not in self.values]
            return module.call_result.GetConfiguration(configuration_key=known, unknown_key=unknown)

        @on("ChangeConfiguration")
        def change_configuration(self, key: str, value: str, **_: Any) -> Any:
            self.changes.append(key)
            if key not in self.values:
                return module.call_result.ChangeConfiguration(status="NotSupported")
            if key == "NumberOfConnectors":
                return module.call_result.ChangeConfiguration(status="Rejected")
            self.values[key] = value
            status = "RebootRequired" if key == "MeterValueSampleInterval" else "Accepted"
            return module.call_result.ChangeConfiguration(status=status)

    return Station


async def _call(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def _settled(csms: RunningCsms, station_id: str, applications: int = 1) -> dict[str, Any]:
    """The station's drift once ``applications`` background applications are done."""
    service = csms.app.blocks.require(DesiredConfigurationService)
    async with csms.app.events.subscribe() as events, asyncio.timeout(10):
        done = 0
        while done < applications:
            event = await events.get()
            done += event.kind == "desired_configuration.applied" and event.station_id == station_id
    await service.settle()
    return await _call(csms, "GET", f"/stations/{station_id}/desired-configuration")


async def _change_settled(csms: RunningCsms, station_id: str, method: str, url: str, body: Any = None) -> Any:
    """Make a change through the API and return the station's drift once the application it causes is done."""
    waiting = asyncio.create_task(_settled(csms, station_id))
    await asyncio.sleep(0)
    await _call(csms, method, url, json=body)
    return await waiting


def _by_target(drift: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["target"]: e for e in drift["entries"]}


async def test_desired_variables_applied_after_boot_with_drift_and_priority(csms: RunningCsms) -> None:
    await csms.add_station("DC1")
    await _call(csms, "POST", "/groups", 201, json={"name": "depot"})
    await _call(csms, "POST", "/groups", 201, json={"name": "fleet", "priority": 5})
    await _call(csms, "PUT", "/groups/depot/members/DC1")
    await _call(csms, "PUT", "/groups/fleet/members/DC1")
    depot = {
        "variables": [
            HEARTBEAT | {"value": "120"},
            OFFLINE | {"value": "90"},
            POWER | {"value": "11000"},
            NOPE | {"value": "1"},
        ]
    }
    stored = await _call(csms, "PUT", "/groups/depot/desired-configuration", json=depot)
    assert len(stored["variables"]) == 4
    # the group of higher priority wins the conflict on HeartbeatInterval
    await _call(
        csms, "PUT", "/groups/fleet/desired-configuration", json={"variables": [HEARTBEAT | {"value": "600"}]}
    )

    offline = _by_target(await _call(csms, "GET", "/stations/DC1/desired-configuration"))
    assert {t: e["state"] for t, e in offline.items()} == dict.fromkeys(
        (HEARTBEAT_KEY, OFFLINE_KEY, POWER_KEY, NOPE_KEY), "pending"
    )
    assert offline[HEARTBEAT_KEY]["desired"] == "600"
    assert offline[HEARTBEAT_KEY]["group"] == "fleet"
    assert offline[HEARTBEAT_KEY]["overridden"] == ["depot"]

    async with peer(csms.ocpp_url, "DC1", "2.0.1", station_class=station201()) as station:
        waiting = asyncio.create_task(_settled(csms, "DC1"))
        await asyncio.sleep(0)
        await boot(station, "2.0.1")
        drift = await waiting
        assert station.values[HEARTBEAT_KEY] == "600"
        assert station.values[OFFLINE_KEY] == "90"
        assert station.values[POWER_KEY] == "11000"
        entries = _by_target(drift)
        assert entries[HEARTBEAT_KEY]["state"] == "in_sync"
        assert entries[HEARTBEAT_KEY]["lastResult"]["status"] == "Accepted"
        assert entries[HEARTBEAT_KEY]["lastResult"]["group"] == "fleet"
        assert entries[POWER_KEY]["state"] == "in_sync"  # RebootRequired: taken, the inventory holds it
        assert entries[POWER_KEY]["lastResult"]["status"] == "RebootRequired"
        assert entries[NOPE_KEY]["state"] == "rejected"
        assert entries[NOPE_KEY]["lastResult"]["status"] == "UnknownVariable"
        assert drift["states"] == {"in_sync": 3, "drifted": 0, "pending": 0, "rejected": 1, "unknown": 0}
        assert drift["connectedVersion"] == "2.0.1"

        # someone changes a value at the station; the CSMS learns it: drifted
        station.values[OFFLINE_KEY] = "30"
        await _call(csms, "POST", "/stations/DC1/variables/get", json={"getVariableData": [OFFLINE]})
        entries = _by_target(await _call(csms, "GET", "/stations/DC1/desired-configuration"))
        assert entries[OFFLINE_KEY]["state"] == "drifted"
        assert entries[OFFLINE_KEY]["known"] == "30"
        group = await _call(csms, "GET", "/groups/depot/drift")
        assert group["states"]["drifted"] == 1
        assert group["states"]["rejected"] == 1
        # HeartbeatInterval is fleet's: not counted for depot
        assert HEARTBEAT_KEY not in {e["target"] for e in group["stations"][0]["entries"]}

        # applied on request: read ItemsPerMessageGetVariables items at a time (B06.FR.05), only the value that
        # differs is written
        station.values[ITEMS_KEY] = "1"
        items = {
            "component": {"name": "DeviceDataCtrlr"},
            "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
        }
        await _call(csms, "POST", "/stations/DC1/variables/get", json={"getVariableData": [items]})
        station.sets.clear()
        station.gets = 0
        applied = await _call(csms, "POST", "/stations/DC1/desired-configuration/apply", json={})
        assert sorted(station.sets) == sorted([OFFLINE_KEY, NOPE_KEY])
        assert station.gets == 4  # one GetVariables per desired target
        assert _by_target(applied)[OFFLINE_KEY]["state"] == "in_sync"
        assert station.values[OFFLINE_KEY] == "90"

        # a new desired set is applied to the connected members at once; a value the station refuses
        station.sets.clear()
        refused = {"variables": [OFFLINE | {"value": "abc"}]}
        entries = _by_target(
            await _change_settled(csms, "DC1", "PUT", "/groups/depot/desired-configuration", refused)
        )
        assert station.sets == [OFFLINE_KEY]
        assert entries[OFFLINE_KEY]["state"] == "rejected"
        assert entries[OFFLINE_KEY]["lastResult"]["status"] == "Rejected"
        assert set(entries) == {OFFLINE_KEY, HEARTBEAT_KEY}  # fleet's HeartbeatInterval stays

        # depot outranks fleet now: its HeartbeatInterval wins and is applied at once
        lower = {"variables": [HEARTBEAT | {"value": "120"}]}
        await _change_settled(csms, "DC1", "PUT", "/groups/depot/desired-configuration", lower)
        assert station.values[HEARTBEAT_KEY] == "600"  # fleet's value still wins
        entries = _by_target(await _change_settled(csms, "DC1", "PATCH", "/groups/depot", {"priority": 10}))
        assert station.values[HEARTBEAT_KEY] == "120"
        assert (entries[HEARTBEAT_KEY]["group"], entries[HEARTBEAT_KEY]["overridden"]) == ("depot", ["fleet"])

    # offline: applying now is refused, the state stays what was learnt
    await _call(csms, "POST", "/stations/DC1/desired-configuration/apply", 409, json={})
    await _call(csms, "DELETE", "/groups/fleet", 204)
    entries = _by_target(await _call(csms, "GET", "/stations/DC1/desired-configuration"))
    assert set(entries) == {HEARTBEAT_KEY}


async def test_desired_keys_applied_to_an_ocpp16_station(csms: RunningCsms) -> None:
    await csms.add_station("K16")
    await _call(csms, "POST", "/groups", 201, json={"name": "legacy"})
    desired = {
        "keys16": [
            {"key": "HeartbeatInterval", "value": "900"},
            {"key": "NumberOfConnectors", "value": "2"},
            {"key": "NoSuchKey", "value": "1"},
            {"key": "MeterValueSampleInterval", "value": "30"},
        ],
        "variables": [HEARTBEAT | {"value": "1"}],  # not for a 1.6 station
    }
    await _call(csms, "PUT", "/groups/legacy/desired-configuration", json=desired)
    async with peer(csms.ocpp_url, "K16", "1.6", station_class=station16()) as station:
        waiting = asyncio.create_task(_settled(csms, "K16"))
        await asyncio.sleep(0)
        await boot(station, "1.6")
        assert (await waiting)["entries"] == []  # in no group yet
        # joining the group while connected applies at once
        drift = await _change_settled(csms, "K16", "PUT", "/groups/legacy/members/K16")
        entries = _by_target(drift)
        assert station.values["HeartbeatInterval"] == "900"
        assert entries["HeartbeatInterval"]["state"] == "in_sync"
        assert entries["NumberOfConnectors"]["state"] == "rejected"
        assert entries["NumberOfConnectors"]["known"] == "1"
        assert entries["NoSuchKey"]["state"] == "rejected"
        assert entries["NoSuchKey"]["lastResult"]["status"] == "NotSupported"
        assert entries["MeterValueSampleInterval"]["lastResult"]["status"] == "RebootRequired"
        assert entries["MeterValueSampleInterval"]["state"] == "in_sync"
        assert entries[HEARTBEAT_KEY]["state"] == "pending"  # a 2.x variable: never sent to a 1.6 station
        # nothing differs any more but the refused ones: only those are asked again
        station.changes.clear()
        await _call(csms, "POST", "/stations/K16/desired-configuration/apply", json={})
        assert sorted(station.changes) == ["NoSuchKey", "NumberOfConnectors"]
        station.changes.clear()
        await _call(csms, "POST", "/stations/K16/desired-configuration/apply", json={"force": True})
        assert len(station.changes) == 4  # every desired key, unread


async def test_desired_configuration_bad_input(csms: RunningCsms) -> None:
    await _call(csms, "PUT", "/groups/nope/desired-configuration", 404, json={})
    await _call(csms, "POST", "/groups", 201, json={"name": "g"})
    twice = {"variables": [HEARTBEAT | {"value": "1"}, HEARTBEAT | {"value": "2"}]}
    assert "twice" in (await _call(csms, "PUT", "/groups/g/desired-configuration", 400, json=twice))["detail"]
    bad_type = {"variables": [HEARTBEAT | {"value": "1", "attributeType": "Maximum"}]}
    await _call(csms, "PUT", "/groups/g/desired-configuration", 400, json=bad_type)
    await _call(
        csms, "PUT", "/groups/g/desired-configuration", 400, json={"keys16": [{"key": "", "value": "1"}]}
    )
    assert await _call(csms, "GET", "/groups/g/desired-configuration") == {"variables": [], "keys16": []}
    await _call(csms, "GET", "/stations/NOPE/desired-configuration", 404)


def test_drift_states() -> None:
    def result(value: str, status: str) -> Result:
        return Result("variable", "t", value, "g", status, None, None)  # type: ignore[arg-type]

    assert state_of("1", "1", None) == "in_sync"
    assert state_of("1", None, None) == "pending"
    assert state_of("1", "2", None) == "pending"
    assert state_of("1", "2", result("1", "Failed")) == "pending"
    assert state_of("1", "2", result("1", "RebootRequired")) == "pending"
    assert state_of("1", "2", result("1", "Rejected")) == "rejected"
    assert state_of("1", "1", result("1", "Rejected")) == "rejected"
    assert state_of("1", "2", result("0", "Rejected")) == "pending"  # an answer to an earlier value
    assert state_of("1", "2", result("1", "Accepted")) == "drifted"
    assert state_of("1", None, result("1", "Accepted")) == "unknown"
