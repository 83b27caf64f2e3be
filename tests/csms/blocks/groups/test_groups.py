"""Station groups: the API (create, list, change, delete; members; a station's groups, in priority order) and
the service other blocks use; on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from chargeplane.csms.blocks.groups.service import StationGroupService
from tests.csms.conftest import RunningCsms


async def _call(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def test_groups_crud_and_members(csms: RunningCsms) -> None:
    for station in ("G1", "G2", "G3"):
        await csms.add_station(station)
    created = await _call(csms, "POST", "/groups", 201, json={"name": "depot-north", "priority": 5})
    assert created["members"] == 0
    assert created["priority"] == 5
    await _call(csms, "POST", "/groups", 201, json={"name": "Fast.DC", "description": "DC chargers"})
    # names are unique whatever their case
    refused = await _call(csms, "POST", "/groups", 409, json={"name": "DEPOT-NORTH"})
    assert "exists" in refused["detail"]
    await _call(csms, "POST", "/groups", 400, json={"name": "no spaces"})
    await _call(csms, "POST", "/groups", 400, json={"name": "x", "priority": 5000})

    added = await _call(csms, "PUT", "/groups/depot-north/members/G2")
    assert added == {"group": "depot-north", "stationId": "G2", "added": True}
    assert (await _call(csms, "PUT", "/groups/depot-north/members/G2"))["added"] is False  # idempotent
    await _call(csms, "PUT", "/groups/depot-north/members/G1")
    await _call(csms, "PUT", "/groups/Fast.DC/members/G1")  # a station in two groups
    await _call(csms, "PUT", "/groups/depot-north/members/NOPE", 404)
    await _call(csms, "PUT", "/groups/nope/members/G1", 404)

    members = await _call(csms, "GET", "/groups/depot-north/members")
    assert [m["stationId"] for m in members["items"]] == ["G1", "G2"]
    assert members["total"] == 2
    page = await _call(csms, "GET", "/groups?limit=1")
    assert page["total"] == 2
    assert [g["name"] for g in page["items"]] == ["depot-north"]
    assert (await _call(csms, "GET", "/groups/DEPOT-north"))["members"] == 2

    # a station's groups: highest priority first
    groups = await _call(csms, "GET", "/stations/G1/groups")
    assert [g["name"] for g in groups] == ["depot-north", "Fast.DC"]
    await _call(csms, "PATCH", "/groups/Fast.DC", json={"priority": 9})
    groups = await _call(csms, "GET", "/stations/G1/groups")
    assert [g["name"] for g in groups] == ["Fast.DC", "depot-north"]

    service = csms.app.blocks.require(StationGroupService)
    assert await service.members("depot-north") == ["G1", "G2"]
    assert await service.members("fast.dc") == ["G1"]

    await _call(csms, "DELETE", "/groups/depot-north/members/G2", 204)
    await _call(csms, "DELETE", "/groups/depot-north/members/G2", 404)  # not a member any more
    assert await service.members("depot-north") == ["G1"]
    await _call(csms, "DELETE", "/groups/depot-north", 204)
    await _call(csms, "GET", "/groups/depot-north", 404)
    await _call(csms, "DELETE", "/groups/depot-north", 404)
    assert [g["name"] for g in await _call(csms, "GET", "/stations/G1/groups")] == ["Fast.DC"]
    # a group of the same name starts empty
    await _call(csms, "POST", "/groups", 201, json={"name": "depot-north"})
    assert await service.members("depot-north") == []


async def test_group_routes_need_an_admin_token_to_change(csms: RunningCsms) -> None:
    response = await csms.api.post("/api/v1/groups", json={"name": "g"})
    assert response.status_code == 401
