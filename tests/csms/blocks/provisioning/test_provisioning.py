"""Station lifecycle (B01-B03, G02) against peer stations from the ``ocpp`` package, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.repository import StationRecord
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.clock import ManualClock
from tests.csms.conftest import PASSWORD, RunningCsms, basic_auth, settings_for
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_B01_boot_accepted_persists_boot_data_and_presence(csms: RunningCsms, version: str) -> None:
    await csms.add_station("CS1", heartbeatInterval=120)
    async with peer(csms.ocpp_url, "CS1", version) as station:
        response = await boot(station, version)
        assert response.status == "Accepted"
        assert response.interval == 120
        heartbeat = await station.call(MODULES[version].call.Heartbeat())
        assert heartbeat.current_time.endswith("Z")
        record = (await csms.api.get("/api/v1/stations/CS1", headers=csms.auth)).json()
        assert record["connected"] is True
        assert record["ocppVersion"] == version
        assert record["connectedSecurityProfile"] == 1
        assert (record["vendor"], record["model"]) == ("Acme", "M1")
        if version != "1.6":
            assert (record["serialNumber"], record["firmwareVersion"], record["bootReason"]) == (
                "SN-1",
                "1.0",
                "PowerUp",
            )
    for _ in range(50):
        record = (await csms.api.get("/api/v1/stations/CS1", headers=csms.auth)).json()
        if not record["connected"]:
            break
        await asyncio.sleep(0.02)
    assert record["connected"] is False
    assert record["lastSeenAt"] is not None


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_B02_pending_then_accepted(csms: RunningCsms, version: str) -> None:
    await csms.add_station("CS2", registrationStatus="Pending")
    async with peer(csms.ocpp_url, "CS2", version) as station:
        response = await boot(station, version)
        assert response.status == "Pending"
        assert response.interval == csms.app.settings.block(ProvisioningSettings).boot_retry_interval
        # B02.FR.09: anything but BootNotification (and solicited messages) gets SecurityError while pending.
        result = await station.call(MODULES[version].call.Heartbeat(), suppress=False) if False else None
        assert result is None
        error = await _call_error(station, MODULES[version].call.Heartbeat())
        assert error == "SecurityError"
        patched = await csms.api.patch(
            "/api/v1/stations/CS2", json={"registrationStatus": "Accepted"}, headers=csms.auth
        )
        assert patched.status_code == 200
        assert (await boot(station, version)).status == "Accepted"
        assert (await station.call(MODULES[version].call.Heartbeat())).current_time


async def test_B03_rejected_station_gets_security_error(csms: RunningCsms) -> None:
    await csms.add_station("CS3", registrationStatus="Rejected")
    async with peer(csms.ocpp_url, "CS3", "2.0.1") as station:
        assert (await boot(station, "2.0.1")).status == "Rejected"
        assert await _call_error(station, MODULES["2.0.1"].call.Heartbeat()) == "SecurityError"


async def test_reconnect_without_boot_keeps_accepted_status(csms: RunningCsms) -> None:
    await csms.add_station("CS4")
    async with peer(csms.ocpp_url, "CS4", "2.0.1") as station:
        await boot(station, "2.0.1")
    async with peer(csms.ocpp_url, "CS4", "2.0.1") as station:  # Part 4 §5.3: no new boot on reconnect
        assert (await station.call(MODULES["2.0.1"].call.Heartbeat())).current_time


async def test_never_booted_station_must_boot_first(csms: RunningCsms) -> None:
    await csms.add_station("CS5")
    async with peer(csms.ocpp_url, "CS5", "2.0.1") as station:
        assert await _call_error(station, MODULES["2.0.1"].call.Heartbeat()) == "SecurityError"


async def test_unknown_station_and_wrong_password_get_the_same_401(csms: RunningCsms) -> None:
    """Issue #13: no enumeration of identities by the status or the body of the refusal."""
    await csms.add_station("CS6")
    answers = []
    for station_id, password in (("NOPE", "x" * 20), ("CS6", "wrong-password-000000")):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                f"{csms.ocpp_url}/{station_id}",
                subprotocols=["ocpp2.0.1"],
                additional_headers=basic_auth(station_id, password),
            ):
                pass
        response = refused.value.response
        answers.append((response.status_code, response.body, response.headers.get("WWW-Authenticate")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


async def test_station_api_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    assert (await api.get("/api/v1/stations")).status_code == 401
    assert (await api.get("/api/v1/stations", headers={"Authorization": "Bearer nope"})).status_code == 401
    assert (await api.get("/api/v1/stations/NOPE", headers=auth)).status_code == 404
    created = await api.post("/api/v1/stations", json={"stationId": "CS7"}, headers=auth)
    assert created.status_code == 201
    assert len(created.json()["generatedPassword"]) == 40  # shown once
    generated = await csms.app.provisioning.security_for("CS7")
    assert generated is not None
    assert (generated.password_hash or "").startswith("sha256$")
    chosen = await csms.add_station("CS9")
    assert "generatedPassword" not in chosen or chosen["generatedPassword"] is None
    operator = await csms.app.provisioning.security_for("CS9")
    assert operator is not None
    assert (operator.password_hash or "").startswith("scrypt$")
    assert (await api.post("/api/v1/stations", json={"stationId": "CS7"}, headers=auth)).status_code == 409
    assert (await api.post("/api/v1/stations", json={"stationId": "bad:id"}, headers=auth)).status_code == 400
    short = await api.post("/api/v1/stations", json={"stationId": "CS8", "password": "short"}, headers=auth)
    assert short.status_code == 400
    assert (
        await api.patch("/api/v1/stations/NOPE", json={"description": "x"}, headers=auth)
    ).status_code == 404
    assert (await api.delete("/api/v1/stations/CS7", headers=auth)).status_code == 204
    assert (await api.delete("/api/v1/stations/CS7", headers=auth)).status_code == 404
    page = (await api.get("/api/v1/stations?limit=10", headers=auth)).json()
    assert page["total"] == 1  # CS9


async def _call_error(station: object, request: object) -> str:
    from ocpp.exceptions import OCPPError

    try:
        await station.call(request, suppress=False)  # type: ignore[attr-defined]
    except OCPPError as error:
        return str(error.code)
    return "no error"


async def test_G02_FR_03_presence_job_writes_last_seen_at_the_clock_time(database_url: str) -> None:
    clock = ManualClock(datetime(2026, 1, 1, tzinfo=UTC))
    # The job's own loop waits an hour: only the tick below writes.
    settings = settings_for(database_url, ProvisioningSettings(presence_flush_interval=3600))
    app = Csms(settings, clock=clock)
    await app.start(serve_http=False)
    try:
        service = app.provisioning
        await service.create_station("CS-P", password=PASSWORD)
        clock.advance(60)
        service.seen("CS-P")  # any message is proof of life
        clock.advance(5)
        await service.tick(clock.now())  # one pass of the presence job
        record = await service.get_station("CS-P")
        assert record is not None
        assert record.last_seen_at == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
        assert record.created_at == datetime(2026, 1, 1, tzinfo=UTC)
    finally:
        await app.stop(deadline=1.0)


async def test_a_connecting_station_is_read_once_for_its_password_session_and_first_boot(
    csms: RunningCsms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #19: the record read for the password check is handed on to the session and the first boot."""
    await csms.add_station("CS9")
    provisioning = csms.app.provisioning
    reads: list[str] = []
    get = provisioning.repository.get

    async def counted(station_id: str) -> StationRecord | None:
        reads.append(station_id)
        return await get(station_id)

    monkeypatch.setattr(provisioning.repository, "get", counted)
    async with peer(csms.ocpp_url, "CS9", "2.0.1") as station:
        assert (await boot(station, "2.0.1")).status == "Accepted"
        assert reads == ["CS9"]
        assert (await boot(station, "2.0.1")).status == "Accepted"  # a later boot reads the record again
        assert reads == ["CS9", "CS9"]


async def test_a_change_through_the_service_drops_a_record_handed_on(csms: RunningCsms) -> None:
    await csms.add_station("CS8")
    provisioning = csms.app.provisioning
    await provisioning.security_for("CS8")  # read for a password check, handed on
    await provisioning.update_station("CS8", None, {"registration_status": "Rejected"})
    assert provisioning._handed_on("CS8") is None  # the next step reads the changed record
    await provisioning.security_for("CS8")
    handed = provisioning._handed_on("CS8")
    assert handed is not None
    assert handed.registration_status == "Rejected"
    assert provisioning._handed_on("CS8") is None  # used once


async def test_an_accepted_boot_logs_no_info_line_a_pending_one_does(
    csms: RunningCsms, caplog: pytest.LogCaptureFixture
) -> None:  # #19: a fleet coming back wrote a line per station
    caplog.set_level("INFO", logger="chargeplane.csms.blocks.provisioning.service")
    await csms.add_station("CS10")
    await csms.add_station("CS11", registrationStatus="Pending")
    for station_id, status in (("CS10", "Accepted"), ("CS11", "Pending")):
        async with peer(csms.ocpp_url, station_id, "2.0.1") as station:
            assert (await boot(station, "2.0.1")).status == status
    booted = [r.getMessage() for r in caplog.records if "booted" in r.getMessage() and r.levelname == "INFO"]
    assert [line.split()[0] for line in booted] == ["CS11"]
