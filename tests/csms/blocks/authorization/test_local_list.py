"""Local authorization lists (D01, D02; 1.6 SendLocalList / GetLocalListVersion) against peer stations that
keep a list the way a station does, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import ocpp.v16
import ocpp.v21
import ocpp.v201
from ocpp.routing import on

from chargeplane.csms.blocks.authorization.local_list import ListLimits, LocalListService, _Item, _split
from chargeplane.csms.blocks.authorization.repository import ListEntry
from chargeplane.ocpp.versions import Version
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot, peer


def list_station(module: Any) -> Any:
    """A 2.x peer that answers GetVariables with its limits and keeps its list per D01."""

    class ListStation(module.ChargePoint):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.limits: dict[str, str] = {"ItemsPerMessage": "2"}
            self.version = 0
            self.entries: dict[tuple[str, str], dict[str, Any]] = {}
            self.received: list[dict[str, Any]] = []
            self.forced: list[str] = []  # statuses to answer instead of applying the update

        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            results = []
            for item in get_variable_data:
                name = item["variable"]["name"]
                known = item["component"]["name"] == "LocalAuthListCtrlr" and name in self.limits
                result = {
                    "attribute_status": "Accepted" if known else "UnknownVariable",
                    "component": item["component"],
                    "variable": item["variable"],
                }
                if known:
                    result["attribute_value"] = self.limits[name]
                results.append(result)
            return module.call_result.GetVariables(get_variable_result=results)

        @on("GetLocalListVersion")
        def get_local_list_version(self, **_: Any) -> Any:
            return module.call_result.GetLocalListVersion(version_number=self.version)

        @on("SendLocalList")
        def send_local_list(
            self,
            version_number: int,
            update_type: str,
            local_authorization_list: list[dict[str, Any]] | None = None,
            **_: Any,
        ) -> Any:
            entries = local_authorization_list or []
            self.received.append({"type": update_type, "version": version_number, "list": entries})
            if self.forced:
                return module.call_result.SendLocalList(status=self.forced.pop(0))
            if update_type == "Differential" and version_number <= self.version:  # D01.FR.19
                return module.call_result.SendLocalList(status="VersionMismatch")
            if update_type == "Full":  # D01.FR.04, D01.FR.15
                self.entries = {}
            for entry in entries:
                key = (entry["id_token"]["id_token"].casefold(), entry["id_token"]["type"])
                if "id_token_info" in entry:  # D01.FR.16
                    self.entries[key] = entry["id_token_info"]
                else:  # D01.FR.17
                    self.entries.pop(key, None)
            self.version = version_number
            return module.call_result.SendLocalList(status="Accepted")

    return ListStation


class V16ListStation(ocpp.v16.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.version = 0
        self.entries: dict[str, dict[str, Any]] = {}
        self.received: list[dict[str, Any]] = []
        self.configuration_requests: list[Any] = []

    @on("GetConfiguration")
    def get_configuration(self, key: list[str] | None = None, **_: Any) -> Any:
        self.configuration_requests.append(key)
        return ocpp.v16.call_result.GetConfiguration(
            configuration_key=[{"key": "SendLocalListMaxLength", "readonly": True, "value": "2"}]
        )

    @on("GetLocalListVersion")
    def get_local_list_version(self, **_: Any) -> Any:
        return ocpp.v16.call_result.GetLocalListVersion(list_version=self.version)

    @on("SendLocalList")
    def send_local_list(
        self, list_version: int, update_type: str, local_authorization_list: list[Any] | None = None, **_: Any
    ) -> Any:
        entries = local_authorization_list or []
        self.received.append({"type": update_type, "version": list_version, "list": entries})
        if update_type == "Full":
            self.entries = {}
        for entry in entries:
            if "id_tag_info" in entry:
                self.entries[entry["id_tag"].casefold()] = entry["id_tag_info"]
            else:
                self.entries.pop(entry["id_tag"].casefold(), None)
        self.version = list_version
        return ocpp.v16.call_result.SendLocalList(status="Accepted")


async def add_token(csms: RunningCsms, id_token: str, **fields: Any) -> None:
    response = await csms.api.post(
        "/api/v1/id-tokens", json={"idToken": id_token} | fields, headers=csms.auth
    )
    assert response.status_code == 201, response.text


async def sync(csms: RunningCsms, station_id: str, full: bool) -> dict[str, Any]:
    response = await csms.api.post(
        f"/api/v1/stations/{station_id}/local-list", json={"full": full}, headers=csms.auth
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def shape(result: dict[str, Any]) -> list[tuple[str, int, int, str]]:
    return [(m["updateType"], m["versionNumber"], m["entries"], m["status"]) for m in result["messages"]]


def test_D01_FR_11_split_respects_items_and_bytes() -> None:
    def item(size: int) -> _Item:
        return _Item(ListEntry("k", "t", "k", "d"), None, size, removal=False)  # type: ignore[arg-type]

    items = [item(100) for _ in range(7)]
    assert [len(c) for c in _split(items, ListLimits(items=3), Version.V201)] == [3, 3, 1]
    by_bytes = _split(items, ListLimits(bytes=450), Version.V201)
    assert len(by_bytes) > 1
    assert all(len(chunk) * 101 + 64 + 60 < 450 for chunk in by_bytes)
    assert _split([], ListLimits(items=2), Version.V16) == [[]]  # D01.FR.04: a Full update without list
    assert [len(c) for c in _split(items, ListLimits(), Version.V21)] == [7]


async def test_D01_full_split_differential_and_fallbacks_on_2_0_1(csms: RunningCsms) -> None:
    await csms.add_station("LL1")
    for name in ("CARD1", "CARD2", "CARD3", "CARD4"):
        await add_token(csms, name)
    await add_token(csms, "CARD5", status="Blocked", groupIdToken="G")
    await add_token(csms, "APP-1", type="Central")  # C05: never in a local list
    await add_token(csms, "HIDDEN", localList=False)
    await add_token(csms, "E" * 40, type="eMAID")  # longer than a 2.0.1 idToken
    await add_token(csms, "VIN123", type="VIN")  # a 2.1-only type
    api, auth = csms.api, csms.auth
    async with peer(csms.ocpp_url, "LL1", "2.0.1", station_class=list_station(ocpp.v201)) as station:
        await boot(station, "2.0.1")
        # D01.FR.11, D01.FR.15: Full first, then Differential with increasing versions
        full = await sync(csms, "LL1", True)
        assert shape(full) == [
            ("Full", 1, 2, "Accepted"),
            ("Differential", 2, 2, "Accepted"),
            ("Differential", 3, 1, "Accepted"),
        ]
        assert (full["itemsPerMessage"], full["bytesPerMessage"], full["version"], full["completed"]) == (
            2,
            None,
            3,
            True,
        )
        assert set(station.entries) == {(f"card{i}", "ISO14443") for i in range(1, 6)}
        assert station.entries[("card5", "ISO14443")]["status"] == "Blocked"
        assert station.entries[("card5", "ISO14443")]["group_id_token"] == {
            "id_token": "G",
            "type": "Central",
        }
        record = (await api.get("/api/v1/stations/LL1/local-list", headers=auth)).json()
        assert (record["version"], record["entries"]) == (3, 5)
        # D02: the station's own version
        asked = (await api.get("/api/v1/stations/LL1/local-list/station-version", headers=auth)).json()
        assert asked["version"] == 3

        # Differential: changed, new and removed entries only (D01.FR.16, D01.FR.17)
        assert (
            await api.patch("/api/v1/id-tokens/CARD1", json={"status": "Blocked"}, headers=auth)
        ).status_code == 200
        assert (await api.delete("/api/v1/id-tokens/CARD2", headers=auth)).status_code == 204
        await add_token(csms, "CARD6")
        station.received.clear()
        diff = await sync(csms, "LL1", False)
        assert diff["stationVersionBefore"] == 3
        assert [m["updateType"] for m in diff["messages"]] == ["Differential", "Differential"]
        assert [m["versionNumber"] for m in diff["messages"]] == [4, 5]
        assert sum(m["entries"] for m in diff["messages"]) == 3
        assert sum(m["removals"] for m in diff["messages"]) == 1
        sent = [entry for message in station.received for entry in message["list"]]
        removal = next(entry for entry in sent if entry["id_token"]["id_token"] == "CARD2")
        assert "id_token_info" not in removal
        assert set(station.entries) == {(f"card{i}", "ISO14443") for i in (1, 3, 4, 5, 6)}
        assert station.entries[("card1", "ISO14443")]["status"] == "Blocked"
        assert (await api.get("/api/v1/stations/LL1/local-list", headers=auth)).json()["entries"] == 5

        # nothing changed: nothing sent
        nothing = await sync(csms, "LL1", False)
        assert (nothing["messages"], nothing["completed"], nothing["version"]) == ([], True, 5)

        # D01.FR.03: Failed on a Differential -> the full list again
        await add_token(csms, "CARD7")
        station.forced = ["Failed"]
        retried = await sync(csms, "LL1", False)
        assert shape(retried) == [
            ("Differential", 6, 1, "Failed"),
            ("Full", 6, 2, "Accepted"),
            ("Differential", 7, 2, "Accepted"),
            ("Differential", 8, 2, "Accepted"),
        ]
        assert retried["completed"] is True
        assert station.version == 8
        assert len(station.entries) == 6

        # the station lost its list (its version differs from the record): Full instead of Differential
        station.version, station.entries = 0, {}
        resent = await sync(csms, "LL1", False)
        assert resent["stationVersionBefore"] == 0
        assert [m["versionNumber"] for m in resent["messages"]] == [9, 10, 11]
        assert resent["messages"][0]["updateType"] == "Full"
        assert len(station.entries) == 6

        # a failed Full update leaves the list unknown: the record is dropped
        station.forced = ["Failed"]
        failed = await sync(csms, "LL1", True)
        assert (shape(failed), failed["completed"], failed["version"]) == (
            [("Full", 12, 2, "Failed")],
            False,
            None,
        )
        assert (await api.get("/api/v1/stations/LL1/local-list", headers=auth)).json()["version"] == 0


async def test_D01_v16_and_v21_local_lists_and_api_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    await csms.add_station("LL16")
    await csms.add_station("LL21")
    await add_token(csms, "TAG1", expiresAt="2030-01-01T00:00:00Z", groupIdToken="PARENT")
    await add_token(csms, "tag1", type="KeyCode")  # the same value: one 1.6 entry (D01.FR.06)
    await add_token(csms, "TAG2")
    await add_token(csms, "TAG3")
    await add_token(csms, "T" * 25)  # longer than a 1.6 idTag
    await add_token(csms, "VIN123", type="VIN", personalMessage={"content": "x" * 300})

    async with peer(csms.ocpp_url, "LL16", "1.6", station_class=V16ListStation) as station:
        await boot(station, "1.6")
        full = await sync(csms, "LL16", True)
        assert shape(full) == [("Full", 1, 2, "Accepted"), ("Differential", 2, 2, "Accepted")]
        assert station.configuration_requests == [["SendLocalListMaxLength"]]
        assert set(station.entries) == {"tag1", "tag2", "tag3", "vin123"}  # 1.6 ignores types
        assert station.entries["tag1"] == {
            "status": "Accepted",
            "expiry_date": "2030-01-01T00:00:00Z",
            "parent_id_tag": "PARENT",
        }
        assert (await api.delete("/api/v1/id-tokens/TAG3", headers=auth)).status_code == 204
        diff = await sync(csms, "LL16", False)
        assert shape(diff) == [("Differential", 3, 1, "Accepted")]
        assert station.received[-1]["list"] == [{"id_tag": "TAG3"}]
        assert set(station.entries) == {"tag1", "tag2", "vin123"}

    async with peer(csms.ocpp_url, "LL21", "2.1", station_class=list_station(ocpp.v21)) as station:
        await boot(station, "2.1")
        station.limits = {"BytesPerMessage": "700"}  # no ItemsPerMessage: only the byte limit applies
        full = await sync(csms, "LL21", True)
        assert full["completed"] is True
        assert (full["itemsPerMessage"], full["bytesPerMessage"]) == (None, 700)
        assert len(full["messages"]) > 1
        assert full["messages"][0]["updateType"] == "Full"
        assert len(station.entries) == 5  # 2.1: long tokens, VIN and KeyCode all fit (TAG3 is gone)
        for message in station.received:
            assert len(json.dumps(message["list"], separators=(",", ":"))) < 700

    # errors: unknown station 404, not connected 409, bad body 400, no bearer 401
    assert (
        await api.post("/api/v1/stations/NOPE/local-list", json={"full": True}, headers=auth)
    ).status_code == 404
    assert (await api.get("/api/v1/stations/NOPE/local-list", headers=auth)).status_code == 404
    offline = await api.post("/api/v1/stations/LL16/local-list", json={"full": True}, headers=auth)
    assert offline.status_code == 409
    assert (
        await api.get("/api/v1/stations/LL16/local-list/station-version", headers=auth)
    ).status_code == 409
    bad = await api.post("/api/v1/stations/LL16/local-list", json={"full": "yes"}, headers=auth)
    assert bad.status_code == 400
    assert (await api.post("/api/v1/stations/LL16/local-list", json={"full": True})).status_code == 401
    record = (await api.get("/api/v1/stations/LL16/local-list", headers=auth)).json()
    assert (record["version"], record["entries"]) == (3, 3)
    assert (await api.get("/api/v1/stations/LL21/local-list", headers=auth)).json()["entries"] == 5
    # the local list service is offered to later blocks
    assert isinstance(csms.app.blocks.require(LocalListService), LocalListService)
