"""A05 on the CSMS side against peer stations of the ``ocpp`` package: the upgrade workflow's refusals (no
downgrade, wss only, 2.x only, a connected station), a step the station refuses stops it with its security event,
and which answers of a station make an upgrade pending. The full journey with our own station is
``tests/test_end_to_end_security.py``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.security_upgrade.repository import Step, UpgradeRecord
from chargeplane.csms.blocks.security_upgrade.service import SecurityUpgradeService, upgrade_target
from chargeplane.csms.clock import utc_now
from chargeplane.ocpp.versions import Version
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer
from tests.transport import certs

PATH = "/api/v1/stations/{}/security-profile-upgrade"


def refusing_station(version: str) -> Any:
    module = MODULES[version]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        installed: list[str]

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.installed = []

        @on("InstallCertificate")
        def install_certificate(self, certificate_type: str, certificate: str, **_: Any) -> Any:
            self.installed.append(certificate_type)
            return module.call_result.InstallCertificate(status="Rejected")  # A05.FR.02 cannot be met

    return Station


async def _start(csms: RunningCsms, station_id: str, body: dict[str, Any]) -> Any:
    return await csms.api.post(PATH.format(station_id), json=body, headers=csms.auth)


async def test_A05_refusals_of_the_upgrade_route(csms: RunningCsms, tmp_path: Path) -> None:
    root = certs.make_ca(tmp_path, "csms-root").path.read_text()
    wss = {"url": "wss://127.0.0.1:1/ocpp", "csmsRootCertificate": root}
    await csms.add_station("UPG2", securityProfile=2)
    await csms.add_station("UPG1")
    await csms.add_station("UPG16")
    assert (await _start(csms, "NOSUCH", {"targetProfile": 2} | wss)).status_code == 404
    assert (await csms.api.get(PATH.format("UPG1"), headers=csms.auth)).status_code == 404  # none yet
    assert (await _start(csms, "UPG1", {"targetProfile": 2} | wss)).status_code == 409  # not connected
    assert (await _start(csms, "UPG2", {"targetProfile": 2} | wss)).status_code == 409  # no downgrade/same
    assert (await _start(csms, "UPG1", {"targetProfile": 1} | wss)).status_code == 400
    async with peer(csms.ocpp_url, "UPG1", "2.0.1") as station:
        await boot(station, "2.0.1")
        ws = {"targetProfile": 2, "url": "ws://127.0.0.1:1/ocpp", "csmsRootCertificate": root}
        assert (await _start(csms, "UPG1", ws)).status_code == 400  # profiles 2-3 are wss
        no_root = await _start(csms, "UPG1", {"targetProfile": 2, "url": "wss://127.0.0.1:1/ocpp"})
        assert no_root.status_code == 400  # nothing to install as CSMSRootCertificate
    async with peer(csms.ocpp_url, "UPG16", "1.6") as station:
        await boot(station, "1.6")
        assert (await _start(csms, "UPG16", {"targetProfile": 2} | wss)).status_code == 400


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_A05_FR_02_a_refused_root_stops_the_upgrade(
    csms: RunningCsms, tmp_path: Path, version: str
) -> None:
    station_id = f"UPGREF{version.replace('.', '')}"
    root = certs.make_ca(tmp_path, "csms-root").path.read_text()
    await csms.add_station(station_id)
    async with peer(csms.ocpp_url, station_id, version, station_class=refusing_station(version)) as station:
        await boot(station, version)
        body = {"targetProfile": 2, "url": "wss://127.0.0.1:1/ocpp", "csmsRootCertificate": root}
        started = await _start(csms, station_id, body)
        assert started.status_code == 202, started.text
        assert started.json()["status"] == "running"
        for _ in range(100):
            state = (await csms.api.get(PATH.format(station_id), headers=csms.auth)).json()
            if state["status"] != "running":
                break
            await asyncio.sleep(0.05)
        assert station.installed == ["CSMSRootCertificate"]
    assert state["status"] == "failed"
    assert [(s["name"], s["status"], s["detail"]) for s in state["steps"]] == [
        ("InstallCsmsRoot", "failed", "Rejected")
    ]
    events = await csms.api.get(
        f"/api/v1/security-events?stationId={station_id}&type=SecurityProfileUpgradeStep", headers=csms.auth
    )
    assert [e["techInfo"] for e in events.json()["items"]] == ["InstallCsmsRoot failed: Rejected"]
    record = (await csms.api.get(f"/api/v1/stations/{station_id}", headers=csms.auth)).json()
    assert record["securityProfile"] == 1  # nothing raised


def test_A05_which_answers_make_an_upgrade_pending() -> None:
    network = {"configurationSlot": 1, "connectionData": {"securityProfile": 3, "ocppCsmsUrl": "wss://x"}}
    assert upgrade_target(Version.V201, "SetNetworkProfile", network, {"status": "Accepted"}) == 3
    assert upgrade_target(Version.V21, "SetNetworkProfile", network, {"status": "Accepted"}) == 3
    assert upgrade_target(Version.V201, "SetNetworkProfile", network, {"status": "Rejected"}) is None
    change = {"key": "SecurityProfile", "value": "2"}
    assert upgrade_target(Version.V16, "ChangeConfiguration", change, {"status": "Accepted"}) == 2
    assert upgrade_target(Version.V16, "ChangeConfiguration", change, {"status": "RebootRequired"}) is None
    other = {"key": "HeartbeatInterval", "value": "2"}
    assert upgrade_target(Version.V16, "ChangeConfiguration", other, {"status": "Accepted"}) is None


async def test_an_upgrade_a_stop_interrupted_is_failed_at_start(csms: RunningCsms) -> None:
    service = csms.app.blocks.require(SecurityUpgradeService)
    await csms.add_station("UPGINT")
    running = UpgradeRecord("UPGINT", 3, "wss://127.0.0.1:1/ocpp", 1, "Immediate", "running", utc_now())
    running.steps.append(Step("Reset", "done", "Accepted", utc_now()))
    await service.repository.save(running)
    await service.fail_interrupted()
    state = (await csms.api.get(PATH.format("UPGINT"), headers=csms.auth)).json()
    assert state["status"] == "failed"
    assert [(s["name"], s["status"]) for s in state["steps"]] == [
        ("Reset", "done"),
        ("Interrupted", "failed"),
    ]
