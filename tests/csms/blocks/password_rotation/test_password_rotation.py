"""Password rotation (A01) on the CSMS side against peer stations from the ``ocpp`` package (1.6 with the
security extension's AuthorizationKey, 2.0.1, 2.1), on SQLite and PostgreSQL: the new password pending beside
the old until the station connects with it, a refusal keeping the old one, the security events."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from ocpp.routing import on
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chargeplane.csms.blocks.password_rotation.service import PasswordRotationService
from tests.csms.conftest import PASSWORD, RunningCsms, basic_auth
from tests.csms.peers import MODULES, boot, peer

PASSWORD_STRING = re.compile(r"\A[a-zA-Z0-9*\-_=:+|@.]{16,40}\Z")


def station_class(version: str, answer: str) -> Any:
    module = MODULES[version]

    class RotatingStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Keeps the password it is given and answers ``answer``."""

        received: list[str]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.received = []

        if version == "1.6":

            @on("ChangeConfiguration")
            def change_configuration(self, key: str, value: str, **_: Any) -> Any:
                assert key == "AuthorizationKey"
                self.received.append(value)
                return module.call_result.ChangeConfiguration(status=answer)

        else:

            @on("SetVariables")
            def set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
                [item] = set_variable_data
                assert (item["component"]["name"], item["variable"]["name"]) == (
                    "SecurityCtrlr",
                    "BasicAuthPassword",
                )
                self.received.append(item["attribute_value"])
                result = {
                    "attribute_status": answer,
                    "component": item["component"],
                    "variable": item["variable"],
                }
                return module.call_result.SetVariables(set_variable_result=[result])

    return RotatingStation


async def _rotate(csms: RunningCsms, station_id: str, body: dict[str, Any] | None = None) -> Any:
    return await csms.api.post(
        f"/api/v1/stations/{station_id}/password-rotation", json=body or {}, headers=csms.auth
    )


async def _settled(csms: RunningCsms, station_id: str) -> dict[str, Any]:
    """The rotation once the connection hook has seen the new password's connection (or after 5 s)."""
    for _ in range(100):
        response = await csms.api.get(f"/api/v1/stations/{station_id}/password-rotation", headers=csms.auth)
        state: dict[str, Any] = response.json()
        if state["status"] == "completed":
            break
        await asyncio.sleep(0.05)
    return state


async def _admitted(csms: RunningCsms, station_id: str, password: str, version: str) -> bool:
    try:
        async with connect(
            f"{csms.ocpp_url}/{station_id}",
            subprotocols=[f"ocpp{version}"],
            additional_headers=basic_auth(station_id, password),
        ):
            await asyncio.sleep(0.2)  # as a station would stay: the CSMS opens its session meanwhile
            return True
    except InvalidStatus as refused:
        return refused.response.status_code != 401


async def _csms_events(csms: RunningCsms, station_id: str) -> list[str]:
    page = await csms.api.get(
        f"/api/v1/security-events?stationId={station_id}&source=csms&type=ReconfigurationOfSecurityParameters",
        headers=csms.auth,
    )
    assert page.status_code == 200, page.text
    return [e["techInfo"] for e in page.json()["items"]]


@pytest.mark.parametrize("version", ["1.6", "2.0.1", "2.1"])
async def test_A01_FR_03_new_password_pending_until_used_then_old_retired(
    csms: RunningCsms, version: str
) -> None:
    station_id = f"ROT{version.replace('.', '')}"
    await csms.add_station(station_id)
    async with peer(
        csms.ocpp_url, station_id, version, station_class=station_class(version, "Accepted")
    ) as station:
        await boot(station, version)
        response = await _rotate(csms, station_id)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["stationStatus"], body["pending"]) == ("accepted", "Accepted", True)
        [new] = station.received
        pending = await csms.app.blocks.require(PasswordRotationService).repository.pending_hash(station_id)
        assert pending is not None
        assert pending.startswith("sha256$")
    assert new not in response.text  # never answered (A01.FR.09)
    logged = await csms.api.get(f"/api/v1/commands?station={station_id}", headers=csms.auth)
    assert logged.status_code == 200, logged.text
    assert "***" in logged.text  # the command log shows the request without it
    assert new not in logged.text
    if version == "1.6":
        assert re.fullmatch(r"[0-9a-f]{40}", new)  # a 20-byte AuthorizationKey
    elif version == "2.0.1":
        assert PASSWORD_STRING.match(new)
    assert new != PASSWORD
    # both are valid until the station connects with the new one (A01 scenario step 4)
    assert await _admitted(csms, station_id, PASSWORD, version)
    assert await _admitted(csms, station_id, new, version)
    state = await _settled(csms, station_id)
    assert (state["status"], state["pending"]) == ("completed", False)
    assert state["completedAt"] is not None
    assert not await _admitted(csms, station_id, PASSWORD, version)  # the old one is retired
    assert await _admitted(csms, station_id, new, version)
    events = await _csms_events(csms, station_id)
    assert len(events) == 2
    assert all(new not in (e or "") for e in events)


async def test_A01_FR_04_refused_keeps_the_old_password(csms: RunningCsms) -> None:
    await csms.add_station("ROTREJ")
    async with peer(
        csms.ocpp_url, "ROTREJ", "2.0.1", station_class=station_class("2.0.1", "Rejected")
    ) as station:
        await boot(station, "2.0.1")
        response = await _rotate(csms, "ROTREJ")
        [new] = station.received
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["pending"]) == ("rejected", False)
    assert not await _admitted(csms, "ROTREJ", new, "2.0.1")
    assert await _admitted(csms, "ROTREJ", PASSWORD, "2.0.1")
    assert len(await _csms_events(csms, "ROTREJ")) == 1


async def test_operator_password_checked_against_the_version_rules(csms: RunningCsms) -> None:
    await csms.add_station("ROTOP")
    async with peer(
        csms.ocpp_url, "ROTOP", "2.0.1", station_class=station_class("2.0.1", "Accepted")
    ) as station:
        await boot(station, "2.0.1")
        bad = await _rotate(csms, "ROTOP", {"password": "has spaces, not allowed"})
        assert bad.status_code == 400, bad.text
        chosen = "Operator-Chosen-Password-01"
        good = await _rotate(csms, "ROTOP", {"password": chosen})
        assert good.status_code == 200, good.text
        assert station.received == [chosen]
        pending = await csms.app.blocks.require(PasswordRotationService).repository.pending_hash("ROTOP")
        assert pending is not None
        assert pending.startswith("scrypt$")


async def test_offline_or_unknown_station(csms: RunningCsms) -> None:
    await csms.add_station("ROTOFF")
    assert (await _rotate(csms, "ROTOFF")).status_code == 409
    assert (await _rotate(csms, "NOSUCH")).status_code == 404
    missing = await csms.api.get("/api/v1/stations/ROTOFF/password-rotation", headers=csms.auth)
    assert missing.status_code == 404


async def test_A01_back_with_the_new_password_before_the_answer_is_recorded(csms: RunningCsms) -> None:
    """Our station answers, drops the connection and comes back with the new password at once; under load the
    new connection can complete the rotation before the answer is recorded: the completion stands and the
    answer is recorded beside it (seen as a flaky end-to-end test)."""
    await csms.add_station("ROTFAST")
    repository = csms.app.blocks.require(PasswordRotationService).repository
    now = datetime.now(UTC)
    await repository.start("ROTFAST", "pending-hash", now)
    assert await repository.complete("ROTFAST", "pending-hash", now)
    await repository.answered("ROTFAST", "accepted", "Accepted", now)
    record = await repository.get("ROTFAST")
    assert record is not None
    assert (record.status, record.station_status) == ("completed", "Accepted")
