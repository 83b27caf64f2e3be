"""A firmware rollout end to end (issue #14, "Done when"): OUR CSMS in-process (loopback, SQLite, its HTTP API
only) and 50 of OUR simulated stations (StationRuntime, mixed 2.0.1 / 2.1 / 1.6 with SignedUpdateFirmware).

Each station is registered through the API and trusts the CSMS's firmware root (``GET
/api/v1/firmware/root-certificate``) as its factory ManufacturerRootCertificate. A signed image is uploaded,
a campaign rolls it out to the stations' group in batches of 10 (L01 / 1.6 security extension):

* every station boots the new version (its BootNotification, as the CSMS keeps it), the campaign counts 50
  installed, its batches never overlap;
* each station's status sequence is the spec's (L01.FR.01, L01.FR.15, L01.FR.32 option a): Downloading,
  Downloaded, SignatureVerified, Installing, InstallRebooting, Installed.

Then one tampered image (its stored file changed after it was signed) to one 2.0.1 station, and to one 1.6
station with SignedUpdateFirmware: InvalidSignature (L01.FR.03, as TC_L_06_CS), the station stays on its
version, and its SecurityEventNotification InvalidFirmwareSignature is in the CSMS's security log.

The stations' simulated hardware takes a second to reboot (offline meanwhile), so that an update spans several
passes of the campaign job and a batch started too early would show.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.diagnostics.settings import DiagnosticsSettings
from chargeplane.csms.blocks.firmware.settings import FirmwareSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import (
    FleetStationStorage,
    RuntimeSettings,
    SqliteFleetStore,
    StationRuntime,
)
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases
from tests.test_end_to_end_device_management import until

STATIONS = 50
BATCH = 10
VERSIONS = (Version.V201, Version.V21, Version.V16)
PASSWORD = "fw50-password-0123456789"
GROUP = "fw50"
OLD, NEW, TAMPERED = "0.1.0", "2.0.0", "2.0.1"
REBOOT_S = 1.0
SPEC_SEQUENCE = [
    "Downloading",
    "Downloaded",
    "SignatureVerified",
    "Installing",
    "InstallRebooting",
    "Installed",
]


class RebootingStation(StationRuntime):
    """Our station runtime whose simulated hardware takes ``REBOOT_S`` to come back after a reboot (offline
    meanwhile), so that an update lasts over several passes of the campaign job, as a real one does."""

    def __init__(self, settings: RuntimeSettings, storage: FleetStationStorage) -> None:
        super().__init__(settings, storage)
        self.starts = 0

    async def _run_once(self) -> None:
        self.starts += 1
        if self.starts > 1:
            await asyncio.sleep(REBOOT_S)
        await super()._run_once()


def image(version: str) -> bytes:
    """A firmware image of the simulated hardware: its first line names the version it boots into."""
    return f"CHARGEPLANE-SIM-FIRMWARE {version}\n".encode() + bytes(range(256)) * 32


def station_id(index: int) -> str:
    return f"FW{index + 1:04d}"


@asynccontextmanager
async def our_csms(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """Our CSMS with its firmware files under ``tmp_path`` and a quick campaign job: its API client and the
    stations' OCPP URL."""
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
            # no load shedding: on the shared test machine the loop may run late, 50 boots must all get in
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None, admission_max_lag=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(
                ProvisioningSettings(presence_flush_interval=0.2),
                DiagnosticsSettings(files_dir=tmp_path / "uploads"),
                FirmwareSettings(
                    files_dir=tmp_path / "firmware",
                    signing_dir=tmp_path / "signing",
                    campaign_interval=0.25,
                ),
            ),
        )
    )
    token = await csms.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,
        ) as api:
            yield api, f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp"
    finally:
        await csms.stop(deadline=1.0)


@asynccontextmanager
async def our_fleet(url: str, roots: tuple[str, ...]) -> AsyncIterator[list[StationRuntime]]:
    """The stations, sharing one SQLite store and connected ten at a time (as ``chargeplane simulate``'s fleet
    does), all accepted; stopped on exit."""
    store = SqliteFleetStore(":memory:")
    runtimes: list[StationRuntime] = [
        RebootingStation(
            RuntimeSettings(
                url=url,
                station_id=station_id(index),
                version=VERSIONS[index % len(VERSIONS)],
                password=PASSWORD,
                backoff=BackOffSettings(0.1, 0.2, 1),  # a failed connection is tried again soon
                call_timeout=20.0,
                ping_interval=None,
                manufacturer_roots=roots,  # factory-installed: the CSMS's firmware root
            ),
            store.station(station_id(index)),
        )
        for index in range(STATIONS)
    ]
    tasks: list[asyncio.Task[None]] = []
    async with AsyncExitStack() as stack:

        async def stop_all() -> None:
            await asyncio.gather(*(r.stop() for r in runtimes), return_exceptions=True)
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=10)

        stack.callback(store.close)
        stack.push_async_callback(stop_all)
        for index, runtime in enumerate(runtimes):
            tasks.append(asyncio.create_task(runtime.run()))
            if index % 10 == 9:
                await asyncio.sleep(0.05)
        await until(lambda: all(r.accepted.is_set() for r in runtimes), "every station accepted", 30.0)
        yield runtimes


async def upload(api: httpx.AsyncClient, version: str) -> dict[str, Any]:
    answer = await api.post(
        f"/firmware?name=chargeplane-sim&version={version}",
        content=image(version),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert answer.status_code == 201, answer.text
    uploaded: dict[str, Any] = answer.json()
    assert uploaded["sha256"] == hashlib.sha256(image(version)).hexdigest()
    return uploaded


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# 50 stations and the CSMS on one event loop: sized for a core of its own (about 20 s), like the fleet test
@pytest.mark.serial
async def test_L01_TC_L_01_TC_L_06_a_campaign_to_50_of_our_stations_in_batches_then_a_tampered_image(
    tmp_path: Path,
) -> None:
    async with our_csms(tmp_path) as (api, url):
        root = await api.get("/firmware/root-certificate")
        assert root.status_code == 200, root.text
        assert root.text.startswith("-----BEGIN CERTIFICATE-----")
        assert (await api.post("/groups", json={"name": GROUP})).status_code == 201
        for index in range(STATIONS):
            created = await api.post("/stations", json={"stationId": station_id(index), "password": PASSWORD})
            assert created.status_code == 201, created.text
            joined = await api.put(f"/groups/{GROUP}/members/{station_id(index)}")
            assert joined.status_code == 200, joined.text
        async with our_fleet(url, (root.text,)) as fleet:
            await rollout(api, fleet)
            await tampered(api, fleet, tmp_path / "firmware")


async def station_firmware(api: httpx.AsyncClient, station: str) -> dict[str, Any]:
    answer = await api.get(f"/stations/{station}/firmware")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


async def rollout(api: httpx.AsyncClient, fleet: list[StationRuntime]) -> None:
    """The campaign to the group, a batch of 10 at a time, until every station runs the new version."""
    for runtime in fleet:
        assert runtime.core.layout.firmware_version == OLD
    uploaded = await upload(api, NEW)
    started = await api.post(
        "/firmware/campaigns",
        json={
            "name": "fleet to 2.0.0",
            "firmwareId": uploaded["id"],
            "group": GROUP,
            "batchSize": BATCH,
            "failureThreshold": 0,  # one failure aborts: the test fails at once, with the reason
            "stationTimeout": 60,
            "v16Signed": True,  # the 1.6 stations get SignedUpdateFirmware (security extension)
        },
    )
    assert started.status_code == 201, started.text
    campaign_id = started.json()["id"]
    assert len(started.json()["stations"]) == STATIONS

    async def ended() -> dict[str, Any] | None:
        found: dict[str, Any] = (await api.get(f"/firmware/campaigns/{campaign_id}")).json()
        return found if found["state"] not in ("running", "paused") else None

    campaign = await until(ended, "the campaign's end", 60.0)
    assert (campaign["state"], campaign["reason"]) == ("completed", None)
    assert campaign["counts"]["installed"] == STATIONS
    assert campaign["batchesStarted"] == STATIONS // BATCH

    # every station reports the new version in its BootNotification, its updates' statuses are the spec's
    batches: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for member in campaign["stations"]:
        assert member["state"] == "installed", member
        assert member["firmwareStatus"] == "Installed"
        firmware = await station_firmware(api, member["stationId"])
        assert firmware["firmwareVersion"] == NEW, member["stationId"]
        [update] = firmware["updates"]
        assert update["id"] == member["updateId"]
        assert update["state"] == "installed"
        assert [n["status"] for n in update["notifications"]] == SPEC_SEQUENCE, member["stationId"]
        assert {n["requestId"] for n in update["notifications"]} == {update["requestId"]}  # L01.FR.10
        assert at(firmware["lastBootAt"]) >= at(update["notifications"][-2]["receivedAt"])  # the reboot
        batches.setdefault(member["batch"], []).append((member, update))
    assert sorted(batches) == list(range(1, STATIONS // BATCH + 1))
    assert all(len(members) == BATCH for members in batches.values())

    # the batches never overlapped: no station of batch n+1 got its turn, its update or sent a status before
    # every station of batch n had finished
    for number in sorted(batches)[1:]:
        finished = max(at(m["finishedAt"]) for m, _ in batches[number - 1])
        for member, update in batches[number]:
            assert at(member["turnAt"]) >= finished, (number, member)
            assert at(update["requestedAt"]) >= finished, (number, member)
            assert min(at(n["receivedAt"]) for n in update["notifications"]) >= finished, (number, member)

    # each station's new firmware reported the security event FirmwareUpdated (L01.FR.31)
    everyone = sorted(m["stationId"] for m in campaign["stations"])

    async def reported() -> bool:
        page = await api.get("/security-events", params={"type": "FirmwareUpdated", "limit": 100})
        assert page.status_code == 200, page.text
        return sorted(e["stationId"] for e in page.json()["items"]) == everyone

    await until(reported, "FirmwareUpdated from every station", 10.0)

    # the 1.6 stations spoke the security extension's messages, the 2.x stations L01's
    by_id = {r.settings.station_id: r for r in fleet}
    for members in batches.values():
        for member, update in members:
            runtime = by_id[member["stationId"]]
            assert runtime.core.layout.firmware_version == NEW
            signed16 = runtime.settings.version is Version.V16
            assert update["method"] == ("SignedUpdateFirmware" if signed16 else "UpdateFirmware")
            messages = {n["message"] for n in update["notifications"]}
            assert messages == {
                "SignedFirmwareStatusNotification" if signed16 else "FirmwareStatusNotification"
            }


def tamper(images: Path, sha256: str) -> None:
    """Change the last byte of the stored image with this digest: still a firmware image of the simulated
    hardware, but not the one the CSMS signed."""
    [stored] = [p for p in images.iterdir() if hashlib.sha256(p.read_bytes()).hexdigest() == sha256]
    content = bytearray(stored.read_bytes())
    content[-1] ^= 0xFF
    stored.write_bytes(bytes(content))


async def tampered(api: httpx.AsyncClient, fleet: list[StationRuntime], images: Path) -> None:
    """An image whose stored bytes changed after the CSMS signed them (L01.FR.03), to one 2.0.1 station, and
    (SignedUpdateFirmware) to one 1.6 station."""
    uploaded = await upload(api, TAMPERED)
    await asyncio.to_thread(tamper, images, uploaded["sha256"])
    assert [r.settings.version for r in fleet[:3]] == [Version.V201, Version.V21, Version.V16]
    await refused(api, fleet[0], uploaded["id"])
    await refused(api, fleet[2], uploaded["id"])


async def refused(api: httpx.AsyncClient, runtime: StationRuntime, firmware_id: int) -> None:
    """The station downloads the tampered image, finds the signature wrong, reports it and stays."""
    target = runtime.settings.station_id
    before = await station_firmware(api, target)
    sent = await api.post(
        f"/stations/{target}/firmware/update", json={"firmwareId": firmware_id, "v16Signed": True}
    )
    assert sent.status_code == 200, sent.text
    assert (sent.json()["stationStatus"], sent.json()["state"]) == ("Accepted", "accepted")
    update_id = sent.json()["id"]

    async def failed() -> dict[str, Any] | None:
        updates = (await station_firmware(api, target))["updates"]
        found: dict[str, Any] = next(u for u in updates if u["id"] == update_id)
        return found if found["state"] != "accepted" else None

    update = await until(failed, "the tampered update's outcome", 20.0)
    assert (update["state"], update["firmwareStatus"]) == ("failed", "InvalidSignature")
    assert [n["status"] for n in update["notifications"]] == ["Downloading", "Downloaded", "InvalidSignature"]

    async def logged() -> list[dict[str, Any]]:
        page = await api.get(
            "/security-events", params={"stationId": target, "type": "InvalidFirmwareSignature"}
        )
        assert page.status_code == 200, page.text
        items: list[dict[str, Any]] = page.json()["items"]
        return items

    [event] = await until(logged, "the InvalidFirmwareSignature security event", 10.0)
    assert event["source"] == "station"
    after = await station_firmware(api, target)
    assert (after["firmwareVersion"], after["lastBootAt"]) == (NEW, before["lastBootAt"])  # no reboot
    assert runtime.core.layout.firmware_version == NEW
