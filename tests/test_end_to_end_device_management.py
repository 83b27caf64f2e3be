"""Round trips between OUR station runtime and OUR CSMS (in-process, loopback, SQLite), through the CSMS's HTTP
API only (issue #14, "Done when"):

(a) N01: the operator asks the station for its log; the station uploads it to the CSMS's one-time URL, its
    LogStatusNotifications arrive, and the file downloaded from the API is byte for byte what the station sent;
(b) N09 / N10: a customer-information report about an id token the station holds in its authorization cache
    and its local list arrives in parts and is assembled; after a clear the station holds it no more (its cache
    entry by the station itself, N10.FR.03; its local list entry by the CSMS, N10.FR.02, with a Differential
    SendLocalList).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.diagnostics.settings import DiagnosticsSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.authorization import Authorization
from chargeplane.station.core.local_list import LocalListController
from chargeplane.station.core.model import UploadLog
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases

PASSWORD = "e2e-password-0123456789"
CARD = "E2ECARD01"


class RecordingStation(StationRuntime):
    """Our station runtime, keeping what it uploads (to compare with what the CSMS serves)."""

    def __init__(self, settings: RuntimeSettings) -> None:
        super().__init__(settings)
        self.uploaded: list[bytes] = []

    def _apply(self, action: object) -> None:
        if isinstance(action, UploadLog):
            self.uploaded.append(action.content)
        super()._apply(action)


@asynccontextmanager
async def csms_and_station(
    tmp_path: Path, version: Version, prepare: Callable[[httpx.AsyncClient], Awaitable[None]] | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, RecordingStation]]:
    """Our CSMS with the station E2E1 registered (then ``prepare`` run on the API), and our station connected
    and accepted."""
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(
                ProvisioningSettings(presence_flush_interval=0.2),
                DiagnosticsSettings(files_dir=tmp_path / "uploads"),
            ),
        )
    )
    token = await csms.start()
    assert token is not None
    try:
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}/api/v1", headers=headers, timeout=30.0
        ) as api:
            created = await api.post("/stations", json={"stationId": "E2E1", "password": PASSWORD})
            assert created.status_code == 201, created.text
            if prepare is not None:
                await prepare(api)
            settings = RuntimeSettings(
                url=f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                station_id="E2E1",
                version=version,
                password=PASSWORD,
                database=tmp_path / "station.db",
                meter_tick_s=0.2,
                backoff=BackOffSettings(0.1, 0.0, 1),
            )
            station = RecordingStation(settings)
            task = asyncio.create_task(station.run())
            try:
                async with asyncio.timeout(10):
                    await station.accepted.wait()
                yield api, station
            finally:
                await station.stop()
                await asyncio.wait_for(task, timeout=5)
    finally:
        await csms.stop(deadline=1.0)


async def until(check: Callable[[], Any], what: str, seconds: float = 15.0) -> Any:
    async with asyncio.timeout(seconds):
        while True:
            found = check()
            if inspect.isawaitable(found):
                found = await found
            if found:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover (the timeout raises first)


async def test_N01_our_station_uploads_its_log_to_our_csms_and_it_is_downloadable(tmp_path: Path) -> None:
    async with csms_and_station(tmp_path, Version.V201) as (api, station):
        asked = await api.post("/stations/E2E1/logs", json={"logType": "DiagnosticsLog"})
        assert asked.status_code == 200, asked.text
        log = asked.json()
        assert log["stationStatus"] == "Accepted"

        async def uploaded() -> dict[str, Any] | None:
            page = (await api.get("/stations/E2E1/logs")).json()
            found: dict[str, Any] = next(item for item in page["items"] if item["id"] == log["id"])
            return found if found["status"] == "uploaded" and found["file"] is not None else None

        done = await until(uploaded, "the log upload")
        assert [n["status"] for n in done["notifications"]] == ["Uploading", "Uploaded"]
        [sent] = station.uploaded
        download = await api.get(f"/logs/{log['id']}/file")
        assert download.status_code == 200
        assert download.content == sent
        assert done["file"]["sha256"] == hashlib.sha256(sent).hexdigest()
        first = json.loads(sent.splitlines()[0])
        assert first["station"] == "E2E1"
        assert first["registration"] == "Accepted"


async def test_N09_N10_customer_information_report_and_clear_between_our_station_and_our_csms(
    tmp_path: Path,
) -> None:
    async with csms_and_station(tmp_path, Version.V201) as (api, station):
        created = await api.post("/id-tokens", json={"idToken": CARD, "type": "ISO14443", "localList": True})
        assert created.status_code == 201, created.text
        # the card in the station's authorization cache (C10: Authorize, Accepted) and in its local list (D01)
        station.present_token(CARD)
        cache = lambda: station.core.ctx.get(Authorization).cache.entries  # noqa: E731
        local_list = lambda: station.core.ctx.get(LocalListController).list.entries  # noqa: E731
        await until(lambda: any(CARD in key for key in cache()), "the card cached")
        synced = await api.post("/stations/E2E1/local-list", json={"full": True})
        assert synced.status_code == 200, synced.text
        assert any(CARD in key for key in local_list())

        about = {"idToken": CARD, "type": "ISO14443"}
        report = await api.post(
            "/stations/E2E1/customer-information", json={"report": True, "idToken": about}
        )
        assert report.status_code == 200, report.text
        request_id = report.json()["requestId"]

        async def complete(request_id: int) -> dict[str, Any] | None:
            record: dict[str, Any] = (
                await api.get(f"/stations/E2E1/customer-information/{request_id}")
            ).json()
            return record if record["status"] == "complete" else None

        record = await until(lambda: complete(request_id), "the customer report")
        assert record["parts"] >= 1
        assert [p["seqNo"] for p in record["items"]] == list(range(record["parts"]))
        assert "Authorization Cache" in record["data"]
        assert CARD in record["data"]

        clear = await api.post(
            "/stations/E2E1/customer-information", json={"report": False, "clear": True, "idToken": about}
        )
        assert clear.status_code == 200, clear.text
        assert clear.json()["localList"] == "queued"
        cleared_id = clear.json()["requestId"]

        async def off_the_list() -> dict[str, Any] | None:
            record: dict[str, Any] = (
                await api.get(f"/stations/E2E1/customer-information/{cleared_id}")
            ).json()
            return record if record["localList"] != "queued" else None

        cleared = await until(off_the_list, "the local list update")
        assert cleared["localList"].startswith("removed"), cleared["localList"]
        assert not any(CARD in key for key in cache())
        assert not any(CARD in key for key in local_list())
        # and a new report finds nothing about the card
        again = await api.post("/stations/E2E1/customer-information", json={"report": True, "idToken": about})
        assert again.status_code == 200, again.text
        record = await until(lambda: complete(again.json()["requestId"]), "the second report")
        assert "Authorization Cache" not in (record["data"] or "")


async def test_N09_N10_C_14_customer_identifier_report_and_clear_between_our_station_and_our_csms(
    tmp_path: Path,
) -> None:
    """The driver enrolled at the station's terminal under a customer identifier: our CSMS asks by that
    identifier, our station reports the enrolment and clears it (C-14)."""
    async with csms_and_station(tmp_path, Version.V201) as (api, station):
        station.enrol_customer("driver-77", CARD)

        async def complete(request_id: int) -> dict[str, Any] | None:
            record: dict[str, Any] = (
                await api.get(f"/stations/E2E1/customer-information/{request_id}")
            ).json()
            return record if record["status"] == "complete" else None

        asked = await api.post(
            "/stations/E2E1/customer-information",
            json={"report": True, "clear": True, "customerIdentifier": "driver-77"},
        )
        assert asked.status_code == 200, asked.text
        record = await until(lambda: complete(asked.json()["requestId"]), "the customer report")
        assert "driver-77" in record["data"]
        assert CARD in record["data"]
        again = await api.post(
            "/stations/E2E1/customer-information", json={"report": True, "customerIdentifier": "driver-77"}
        )
        record = await until(lambda: complete(again.json()["requestId"]), "the second report")
        assert "driver-77" not in (record["data"] or "")


async def test_desired_configuration_and_custom_report_between_our_station_and_our_csms(
    tmp_path: Path,
) -> None:
    """(c) a group's desired value reaches our station at its boot (SetVariables), the drift says in_sync; a B08
    custom report from the API is assembled from our station's NotifyReport parts."""

    async def prepare(api: httpx.AsyncClient) -> None:
        assert (await api.post("/groups", json={"name": "e2e"})).status_code == 201
        assert (await api.put("/groups/e2e/members/E2E1")).status_code == 200
        desired = {
            "variables": [
                {
                    "component": {"name": "OCPPCommCtrlr"},
                    "variable": {"name": "OfflineThreshold"},
                    "value": "77",
                },
                {"component": {"name": "ClockCtrlr"}, "variable": {"name": "NoSuchVariable"}, "value": "1"},
            ]
        }
        assert (await api.put("/groups/e2e/desired-configuration", json=desired)).status_code == 200

    async with csms_and_station(tmp_path, Version.V201, prepare) as (api, station):

        async def settled() -> dict[str, Any] | None:
            drift: dict[str, Any] = (await api.get("/stations/E2E1/desired-configuration")).json()
            return drift if drift["states"]["pending"] == 0 else None

        drift = await until(settled, "the desired configuration applied")
        states = {e["target"]: e["state"] for e in drift["entries"]}
        assert states == {
            "OCPPCommCtrlr/OfflineThreshold:Actual": "in_sync",
            "ClockCtrlr/NoSuchVariable:Actual": "rejected",
        }
        assert station.core.model.value("OCPPCommCtrlr", "OfflineThreshold") == "77"

        asked = await api.post(
            "/stations/E2E1/reports",
            json={
                "componentCriteria": ["Available"],
                "componentVariable": [{"component": {"name": "EVSE", "evse": {"id": 1}}}],
            },
        )
        assert asked.status_code == 200, asked.text
        request_id = asked.json()["requestId"]

        async def complete() -> dict[str, Any] | None:
            report: dict[str, Any] = (await api.get(f"/stations/E2E1/reports/{request_id}")).json()
            return report if report["status"] == "complete" else None

        report = await until(complete, "the custom report")
        assert report["items"] > 0
        inventory = (await api.get("/stations/E2E1/variables?component=EVSE&evseId=1")).json()
        assert "AvailabilityState" in {v["variable"]["name"] for v in inventory["items"]}
        empty = await api.post(
            "/stations/E2E1/reports",
            json={"componentCriteria": ["Problem"], "componentVariable": [{"component": {"name": "EVSE"}}]},
        )
        assert empty.json()["stationStatus"] == "EmptyResultSet"
        assert empty.json()["status"] == "complete"


async def test_desired_keys_reach_our_ocpp16_station(tmp_path: Path) -> None:
    """(d) the same for a 1.6 station of ours: GetConfiguration, then ChangeConfiguration of what differs."""
    async with csms_and_station(tmp_path, Version.V16) as (api, station):
        assert (await api.post("/groups", json={"name": "legacy"})).status_code == 201
        desired = {
            "keys16": [
                {"key": "ClockAlignedDataInterval", "value": "900"},
                {"key": "NumberOfConnectors", "value": "4"},  # read-only: Rejected
            ]
        }
        assert (await api.put("/groups/legacy/desired-configuration", json=desired)).status_code == 200
        assert (await api.put("/groups/legacy/members/E2E1")).status_code == 200

        async def settled() -> dict[str, Any] | None:
            drift: dict[str, Any] = (await api.get("/stations/E2E1/desired-configuration")).json()
            return drift if drift["states"]["pending"] == 0 else None

        drift = await until(settled, "the desired keys applied")
        entries = {e["target"]: e for e in drift["entries"]}
        assert entries["ClockAlignedDataInterval"]["state"] == "in_sync"
        assert entries["NumberOfConnectors"]["state"] == "rejected"
        assert entries["NumberOfConnectors"]["known"] == "1"
        assert station.core.model.value("AlignedDataCtrlr", "Interval") == "900"
