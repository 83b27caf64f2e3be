"""The generic commands endpoint and the command log: every status code, against peer stations of the
``ocpp`` package, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from chargeplane.csms.app import Csms
from tests.csms.blocks.remote_control.test_remote_control import station
from tests.csms.conftest import RunningCsms, settings_for
from tests.csms.peers import boot


async def command(csms: RunningCsms, station_id: str, action: str, body: object) -> httpx.Response:
    return await csms.api.post(
        f"/api/v1/stations/{station_id}/commands/{action}", json=body, headers=csms.auth
    )


async def test_commands_endpoint_status_codes_and_command_log(csms: RunningCsms) -> None:
    await csms.add_station("CA1")
    await csms.add_station("CA2")
    await csms.add_station("CA3", registrationStatus="Rejected")
    assert (await command(csms, "NOPE", "Reset", {"type": "Immediate"})).status_code == 404
    offline = await command(csms, "CA1", "Reset", {"type": "Immediate"})
    assert offline.status_code == 409
    assert (
        await csms.api.post("/api/v1/stations/CA1/commands/Reset", json={"type": "Immediate"})
    ).status_code == 401

    async with station(csms, "CA1", "2.0.1") as v2, station(csms, "CA2", "1.6") as v16:
        await boot(v2, "2.0.1")
        await boot(v16, "1.6")

        ok = await command(csms, "ca1", "Reset", {"type": "OnIdle"})  # identities are case-insensitive
        assert ok.status_code == 200, ok.text
        assert ok.json() == {
            "action": "Reset",
            "request": {"type": "OnIdle"},
            "response": {"status": "Scheduled"},
        }

        # 422: payload against the schema, with the OCPP code of the station's negotiated version.
        cases = [
            ("CA1", "Reset", {"type": "Hard"}, "PropertyConstraintViolation"),
            ("CA1", "Reset", {}, "OccurrenceConstraintViolation"),
            ("CA1", "Reset", {"type": 1}, "TypeConstraintViolation"),
            ("CA1", "Reset", {"type": "Immediate", "extra": 1}, "ProtocolError"),
            ("CA2", "Reset", {}, "OccurenceConstraintViolation"),  # the 1.6 spelling on 1.6
            ("CA2", "Reset", {"type": "Immediate"}, "PropertyConstraintViolation"),
            ("CA1", "Foo", {}, "UnknownAction"),
            ("CA1", "RemoteStartTransaction", {"idTag": "T"}, "UnknownAction"),  # 1.6 only
            ("CA2", "RequestStartTransaction", {}, "UnknownAction"),  # 2.x only
            ("CA1", "BootNotification", {}, "NotCsmsAction"),  # stations send it, not a CSMS
            ("CA1", "Heartbeat", {}, "NotCsmsAction"),
            (
                "CA1",
                "TriggerMessage",
                {"requestedMessage": "StatusNotification"},
                "OccurrenceConstraintViolation",
            ),
        ]
        for station_id, action, body, code in cases:
            refused = await command(csms, station_id, action, body)
            assert refused.status_code == 422, (action, body, refused.text)
            assert refused.json()["extra"]["code"] == code, (action, body, refused.text)
        not_json = await csms.api.post(
            "/api/v1/stations/CA1/commands/Reset", content=b"{not json", headers=csms.auth
        )
        assert not_json.status_code == 422
        assert not_json.json()["extra"]["code"] == "FormatViolation"

        # 502: the station answers with a CALLERROR; the body carries its code and description.
        for station_id in ("CA1", "CA2"):
            failed = await command(csms, station_id, "ClearCache", {})
            assert failed.status_code == 502, failed.text
            assert failed.json()["extra"] == {"code": "GenericError", "description": "cache on fire"}
        assert v2.received == [("Reset", {"type": "OnIdle"})]  # nothing refused reached the station

        # 409: B03.FR.03, the CSMS initiates nothing towards a Rejected station.
        async with station(csms, "CA3", "2.1") as rejected:
            assert (await boot(rejected, "2.1")).status == "Rejected"
            refused_rejected = await command(csms, "CA3", "Reset", {"type": "Immediate"})
            assert refused_rejected.status_code == 409
            assert "B03.FR.03" in refused_rejected.json()["detail"]
            assert rejected.received == []

    # The command log: newest first, filters, paging, every outcome with its reason.
    auth = csms.auth
    everything = (await csms.api.get("/api/v1/commands?limit=500", headers=auth)).json()
    items = everything["items"]
    assert everything["total"] == len(items) == 1 + 1 + len(cases) + 1 + 2 + 1
    assert [item["id"] for item in items] == sorted((item["id"] for item in items), reverse=True)
    newest = items[0]
    assert (newest["stationId"], newest["action"], newest["outcome"]) == ("CA3", "Reset", "invalid")
    assert newest["errorCode"] == "StationRejected"
    oldest = items[-1]
    assert (oldest["stationId"], oldest["outcome"], oldest["version"]) == ("CA1", "offline", None)
    ok_entry = next(item for item in items if item["outcome"] == "ok")
    assert ok_entry["version"] == "2.0.1"
    assert ok_entry["request"] == {"type": "OnIdle"}
    assert ok_entry["response"] == {"status": "Scheduled"}
    assert ok_entry["durationMs"] >= 0
    errors = (await csms.api.get("/api/v1/commands?action=ClearCache", headers=auth)).json()
    assert errors["total"] == 2
    assert {(e["stationId"], e["outcome"], e["errorCode"]) for e in errors["items"]} == {
        ("CA1", "callerror", "GenericError"),
        ("CA2", "callerror", "GenericError"),
    }
    invalid = [item for item in items if item["outcome"] == "invalid" and item["stationId"] == "CA2"]
    assert invalid[-1]["errorDescription"]  # the reason is kept
    not_json_entry = next(item for item in items if item["errorCode"] == "FormatViolation")
    assert not_json_entry["request"] == "{not json"  # kept as it came
    page = (await csms.api.get("/api/v1/commands?station=CA2&offset=1&limit=2", headers=auth)).json()
    assert (page["offset"], page["limit"], len(page["items"])) == (1, 2, 2)
    assert page["total"] == sum(1 for item in items if item["stationId"] == "CA2")
    assert (await csms.api.get("/api/v1/commands?limit=0", headers=auth)).status_code == 400


@pytest.fixture
async def slow_csms(database_url: str) -> AsyncIterator[RunningCsms]:
    app = Csms(settings_for(database_url, ocpp_call_timeout=0.3))
    token = await app.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}") as client:
            yield RunningCsms(app, client, token)
    finally:
        await app.stop(deadline=1.0)


async def test_commands_endpoint_504_when_the_station_does_not_answer_in_time(slow_csms: RunningCsms) -> None:
    csms = slow_csms
    await csms.add_station("CA4")
    async with station(csms, "CA4", "2.0.1") as slow:
        await boot(slow, "2.0.1")
        slow.slow_seconds = 0.6
        body = {
            "getVariableData": [
                {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
            ]
        }
        timed_out = await command(csms, "CA4", "GetVariables", body)
        assert timed_out.status_code == 504, timed_out.text
    log = (await csms.api.get("/api/v1/commands?station=CA4", headers=csms.auth)).json()
    assert log["items"][0]["outcome"] == "timeout"
    assert log["items"][0]["durationMs"] >= 250
