"""Diagnostics on the CSMS side (N01, N09, N10; 1.6 GetDiagnostics) against peer stations of the ``ocpp``
package: logs uploaded to the CSMS's one-time URLs and downloaded again, the upload URL's guards, customer
information reports assembled from their parts, a clear taking the id token off the local list; on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from ocpp.routing import after, on

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.diagnostics.settings import DiagnosticsSettings
from chargeplane.csms.clock import Clock, ManualClock
from tests.csms.conftest import RunningCsms, settings_for
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["2.0.1", "2.1"]
LOG = b"2026-12-07T04:00:00Z boot\n" * 2000 + b"\x00\xff binary tail"


@asynccontextmanager
async def running(
    database_url: str, files: Path, clock: Clock | None = None, **settings: Any
) -> AsyncIterator[RunningCsms]:
    app = Csms(settings_for(database_url, DiagnosticsSettings(files_dir=files, **settings)), clock)
    token = await app.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}") as client:
            yield RunningCsms(app, client, token)
    finally:
        await app.stop(deadline=1.0)


@pytest.fixture
async def csms(database_url: str, tmp_path: Path) -> AsyncIterator[RunningCsms]:
    """The CSMS of every test here, with its uploads under the test's directory."""
    async with running(database_url, tmp_path / "uploads") as running_csms:
        yield running_csms


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


async def upload(url: str, body: bytes, multipart: bool, method: str = "PUT") -> httpx.Response:
    """How a station uploads: the file as the body (PUT), or a form with one file field (POST)."""
    async with httpx.AsyncClient() as client:
        if multipart:
            return await client.post(url, files={"file": ("diag.log", body, "text/plain")})
        return await client.request(method, url, content=body)


def station_class(version: str, *, multipart: bool = False) -> Any:
    module = MODULES[version]

    class DiagnosticsStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Uploads its log when asked and says how it went; reports a customer in two parts; holds a
        local list."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.locations: list[str] = []
            self.uploads: list[httpx.Response] = []
            self.uploading: int | None = None  # the requestId of the upload in progress
            self.hold = asyncio.Event()  # set: the upload in progress may finish
            self.hold.set()
            self.list_version = 0
            self.local_lists: list[dict[str, Any]] = []
            self.certificates: list[dict[str, Any]] = []

        @on("GetLog")
        def get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any) -> Any:
            self.locations.append(log["remote_location"])
            status = "AcceptedCanceled" if self.uploading is not None else "Accepted"
            return module.call_result.GetLog(status=status, filename=f"{log_type}.log")

        @after("GetLog")
        async def send_log(self, log: dict[str, Any], request_id: int, **_: Any) -> None:
            call = module.call
            if self.uploading is not None:  # N01.FR.12: the one in progress is cancelled
                await self.call(
                    call.LogStatusNotification(status="AcceptedCanceled", request_id=self.uploading)
                )
            self.uploading = request_id
            await self.call(call.LogStatusNotification(status="Uploading", request_id=request_id))
            await self.hold.wait()
            if self.uploading != request_id:
                return
            self.uploads.append(await upload(log["remote_location"], LOG, multipart))
            self.uploading = None
            await self.call(call.LogStatusNotification(status="Uploaded", request_id=request_id))

        @on("CustomerInformation")
        def customer_information(
            self, request_id: int, report: bool, clear: bool, customer_certificate: Any = None, **_: Any
        ) -> Any:
            if customer_certificate is not None:
                self.certificates.append(customer_certificate)
            return module.call_result.CustomerInformation(status="Accepted")

        @after("CustomerInformation")
        async def report_customer(self, request_id: int, report: bool, **_: Any) -> None:
            parts = ["sessions: 2; ", "last: 2026-12-06"] if report else ["cleared"]
            for seq_no, data in enumerate(parts):
                await self.call(
                    module.call.NotifyCustomerInformation(
                        data=data,
                        seq_no=seq_no,
                        generated_at="2026-12-07T04:00:00Z",
                        request_id=request_id,
                        tbc=seq_no < len(parts) - 1,
                    )
                )

        @on("GetVariables")
        def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
            results = [
                {
                    "attribute_status": "UnknownComponent",
                    "component": i["component"],
                    "variable": i["variable"],
                }
                for i in get_variable_data
            ]
            return module.call_result.GetVariables(get_variable_result=results)

        @on("GetLocalListVersion")
        def get_local_list_version(self, **_: Any) -> Any:
            return module.call_result.GetLocalListVersion(version_number=self.list_version)

        @on("SendLocalList")
        def send_local_list(self, version_number: int, update_type: str, **rest: Any) -> Any:
            self.local_lists.append({"update_type": update_type, **rest})
            self.list_version = version_number
            return module.call_result.SendLocalList(status="Accepted")

    return DiagnosticsStation


async def _log_done(csms: RunningCsms, station_id: str, log_id: int, status: str) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            page = await _json(csms, "GET", f"/stations/{station_id}/logs")
            found: dict[str, Any] = next(item for item in page["items"] if item["id"] == log_id)
            if found["status"] == status and (status != "uploaded" or found["file"] is not None):
                return found
            await asyncio.sleep(0.05)


@pytest.mark.parametrize(("version", "multipart"), [("2.0.1", False), ("2.1", True)])
async def test_N01_a_log_uploaded_to_the_one_time_url_is_downloaded_with_its_sha256(
    csms: RunningCsms, version: str, multipart: bool
) -> None:
    await csms.add_station("DG1")
    kind = station_class(version, multipart=multipart)
    async with peer(csms.ocpp_url, "DG1", version, station_class=kind) as station:
        await boot(station, version)
        answer = await _json(
            csms,
            "POST",
            "/stations/DG1/logs",
            json={"logType": "DiagnosticsLog", "oldestTimestamp": "2026-12-06T00:00:00Z", "retries": 2},
        )
        assert (answer["method"], answer["stationStatus"], answer["filename"]) == (
            "GetLog",
            "Accepted",
            "DiagnosticsLog.log",
        )
        done = await _log_done(csms, "DG1", answer["id"], "uploaded")
        location = station.locations[0]
    assert location.startswith(f"http://127.0.0.1:{csms.app.api_port}/api/v1/uploads/")
    assert [e["status"] for e in done["notifications"]] == ["Uploading", "Uploaded"]
    assert done["requestId"] == answer["requestId"]
    assert done["oldestTimestamp"] is not None
    digest = hashlib.sha256(LOG).hexdigest()
    assert (done["file"]["size"], done["file"]["sha256"]) == (len(LOG), digest)
    assert done["file"]["name"] == ("diag.log" if multipart else "DiagnosticsLog.log")
    assert station.uploads[0].status_code == 201
    assert station.uploads[0].json() == {"logId": answer["id"], "size": len(LOG), "sha256": digest}
    response = await csms.api.get(f"/api/v1/logs/{answer['id']}/file", headers=csms.auth)
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == digest
    assert (await csms.api.get(f"/api/v1/logs/{answer['id']}/file")).status_code == 401
    # One upload per URL (the station's second try is refused), nothing read without a token.
    again = await upload(location, b"other", multipart=False)
    assert again.status_code == 410
    assert "used" in again.json()["detail"]
    unknown = await upload(location[:-3] + "xyz", b"other", multipart=False)
    assert unknown.status_code == 404


async def test_N01_an_upload_url_expires_and_refuses_a_log_over_the_limit(
    database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock()
    async with running(
        database_url, tmp_path / "uploads", clock, max_upload_bytes=1000, upload_url_lifetime=60
    ) as csms:
        await csms.add_station("DG2")
        kind = station_class("2.0.1")
        async with peer(csms.ocpp_url, "DG2", "2.0.1", station_class=kind) as station:
            await boot(station, "2.0.1")
            station.hold.clear()  # the station waits: the test uploads in its stead
            first = await _json(csms, "POST", "/stations/DG2/logs", json={"logType": "SecurityLog"})
            too_large = await upload(station.locations[0], b"x" * 1001, multipart=False)
            assert too_large.status_code == 413
            # The refused upload gave the URL back: a log within the limit still goes, by POST too.
            # N01.FR.19: a POST names its file in Content-Disposition.
            async with httpx.AsyncClient() as client:
                fits = await client.post(
                    station.locations[0],
                    content=b"y" * 1000,
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Disposition": 'attachment; filename="../security-1.log"',
                    },
                )
            assert fits.status_code == 201, fits.text
            again = await upload(station.locations[0], b"z", multipart=False)
            assert again.status_code == 410  # used now
            station.uploading = None  # no AcceptedCanceled for the next request
            await _json(csms, "POST", "/stations/DG2/logs", json={"logType": "SecurityLog"})
            clock.advance(61)
            expired = await upload(station.locations[1], b"z", multipart=False)
            assert expired.status_code == 410
            assert "expired" in expired.json()["detail"]
            station.hold.set()
        logs = await _json(csms, "GET", "/stations/DG2/logs")
    by_id = {item["id"]: item for item in logs["items"]}
    assert (by_id[first["id"]]["file"]["size"], by_id[first["id"]]["file"]["name"]) == (
        1000,
        "security-1.log",
    )
    assert not list((tmp_path / "uploads").glob(".upload-*"))  # nothing left of the refused upload


async def chunks(total: int) -> AsyncIterator[bytes]:
    for _ in range(total // 100):
        yield b"c" * 100


async def test_N01_an_upload_without_a_length_is_counted_and_a_form_without_a_file_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    async with running(database_url, tmp_path / "uploads", max_upload_bytes=1000) as csms:
        await csms.add_station("DG8")
        async with peer(csms.ocpp_url, "DG8", "2.0.1", station_class=station_class("2.0.1")) as station:
            await boot(station, "2.0.1")
            station.hold.clear()
            answer = await _json(csms, "POST", "/stations/DG8/logs", json={"logType": "DiagnosticsLog"})
            url = station.locations[0]
            async with httpx.AsyncClient() as client:
                chunked = await client.put(url, content=chunks(1100))  # no Content-Length: chunked
                assert chunked.status_code == 413, chunked.text
                no_file = await client.post(
                    url,
                    content=b"--b\r\nContent-Disposition: form-data; name=a\r\n\r\nx\r\n--b\r\n"
                    b"Content-Disposition: form-data; name=c\r\n\r\ny\r\n--b--\r\n",
                    headers={"Content-Type": "multipart/form-data; boundary=b"},
                )
                assert no_file.status_code == 400
                assert "no file part" in no_file.json()["detail"]
                fits = await client.put(f"{url}/named.log", content=chunks(1000))  # N01.FR.21
                assert fits.status_code == 201, fits.text
            station.hold.set()
        logs = await _json(csms, "GET", "/stations/DG8/logs")
    assert logs["items"][0]["id"] == answer["id"]
    assert (logs["items"][0]["file"]["size"], logs["items"][0]["file"]["name"]) == (1000, "named.log")
    assert [p.name for p in (tmp_path / "uploads").iterdir()] == [f"log-{answer['id']}"]


async def test_N01_FR_12_a_second_request_while_uploading_cancels_the_first(csms: RunningCsms) -> None:
    await csms.add_station("DG3")
    async with peer(csms.ocpp_url, "DG3", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        station.hold.clear()
        first = await _json(csms, "POST", "/stations/DG3/logs", json={"logType": "DiagnosticsLog"})
        await _log_done(csms, "DG3", first["id"], "uploading")
        second = await _json(csms, "POST", "/stations/DG3/logs", json={"logType": "DiagnosticsLog"})
        assert second["stationStatus"] == "AcceptedCanceled"
        station.hold.set()
        done = await _log_done(csms, "DG3", second["id"], "uploaded")
        canceled = await _log_done(csms, "DG3", first["id"], "canceled")
    assert done["file"]["sha256"] == hashlib.sha256(LOG).hexdigest()
    assert canceled["file"] is None


def v16_station_class() -> Any:
    module = MODULES["1.6"]

    class DiagnosticsStation16(module.ChargePoint):  # type: ignore[misc,name-defined]
        @on("GetDiagnostics")
        def get_diagnostics(self, location: str, **_: Any) -> Any:
            return module.call_result.GetDiagnostics(file_name="diagnostics.zip")

        @after("GetDiagnostics")
        async def send(self, location: str, **_: Any) -> None:
            await self.call(module.call.DiagnosticsStatusNotification(status="Uploading"))
            response = await upload(location, LOG, multipart=True)
            status = "Uploaded" if response.status_code == 201 else "UploadFailed"
            await self.call(module.call.DiagnosticsStatusNotification(status=status))

    return DiagnosticsStation16


def v16_security_station_class() -> Any:
    module = MODULES["1.6"]

    class SecurityLogStation16(module.ChargePoint):  # type: ignore[misc,name-defined]
        @on("GetLog")
        def get_log(self, log: dict[str, Any], log_type: str, request_id: int, **_: Any) -> Any:
            return module.call_result.GetLog(status="Accepted", filename="security.log")

        @after("GetLog")
        async def send(self, log: dict[str, Any], request_id: int, **_: Any) -> None:
            await self.call(module.call.LogStatusNotification(status="Uploading", request_id=request_id))
            await upload(log["remote_location"], LOG, multipart=False)
            await self.call(module.call.LogStatusNotification(status="Uploaded", request_id=request_id))

    return SecurityLogStation16


async def test_1_6_security_extension_GetLog_for_the_security_log(csms: RunningCsms) -> None:
    await csms.add_station("DG9")
    async with peer(csms.ocpp_url, "DG9", "1.6", station_class=v16_security_station_class()) as station:
        await boot(station, "1.6")
        answer = await _json(csms, "POST", "/stations/DG9/logs", json={"logType": "SecurityLog"})
        assert (answer["method"], answer["stationStatus"]) == ("GetLog", "Accepted")
        done = await _log_done(csms, "DG9", answer["id"], "uploaded")
    assert [(e["message"], e["status"]) for e in done["notifications"]] == [
        ("LogStatusNotification", "Uploading"),
        ("LogStatusNotification", "Uploaded"),
    ]
    assert done["file"]["sha256"] == hashlib.sha256(LOG).hexdigest()


async def test_1_6_GetDiagnostics_with_its_status_notifications(csms: RunningCsms) -> None:
    await csms.add_station("DG4")
    async with peer(csms.ocpp_url, "DG4", "1.6", station_class=v16_station_class()) as station:
        await boot(station, "1.6")
        answer = await _json(
            csms,
            "POST",
            "/stations/DG4/logs",
            json={
                "logType": "DiagnosticsLog",
                "latestTimestamp": "2026-12-07T00:00:00Z",
                "retryInterval": 30,
            },
        )
        assert (answer["method"], answer["stationStatus"], answer["filename"]) == (
            "GetDiagnostics",
            "Accepted",
            "diagnostics.zip",
        )
        done = await _log_done(csms, "DG4", answer["id"], "uploaded")
    assert [(e["message"], e["status"]) for e in done["notifications"]] == [
        ("DiagnosticsStatusNotification", "Uploading"),
        ("DiagnosticsStatusNotification", "Uploaded"),
    ]
    assert done["file"]["sha256"] == hashlib.sha256(LOG).hexdigest()


async def _customer_complete(csms: RunningCsms, station_id: str, request_id: int) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            record: dict[str, Any] = await _json(
                csms, "GET", f"/stations/{station_id}/customer-information/{request_id}"
            )
            if record["status"] == "complete":
                return record
            await asyncio.sleep(0.05)


@pytest.mark.parametrize("version", VERSIONS)
async def test_N09_a_customer_report_in_two_parts_is_assembled(csms: RunningCsms, version: str) -> None:
    await csms.add_station("DG5")
    async with peer(csms.ocpp_url, "DG5", version, station_class=station_class(version)) as station:
        await boot(station, version)
        answer = await _json(
            csms,
            "POST",
            "/stations/DG5/customer-information",
            json={"report": True, "customerIdentifier": "customer-42"},
        )
        assert (answer["stationStatus"], answer["customerIdentifier"]) == ("Accepted", "customer-42")
        record = await _customer_complete(csms, "DG5", answer["requestId"])
        certificate = {
            "hashAlgorithm": "SHA256",
            "issuerNameHash": "a" * 64,
            "issuerKeyHash": "b" * 64,
            "serialNumber": "0123",
        }
        by_certificate = await _json(
            csms,
            "POST",
            "/stations/DG5/customer-information",
            json={"report": True, "clear": True, "customerCertificate": certificate},
        )
        assert station.certificates == [
            {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": "a" * 64,
                "issuer_key_hash": "b" * 64,
                "serial_number": "0123",
            }
        ]
    assert (record["parts"], record["data"]) == (2, "sessions: 2; last: 2026-12-06")
    assert [(p["seqNo"], p["tbc"]) for p in record["items"]] == [(0, True), (1, False)]
    assert (by_certificate["customerCertificate"], by_certificate["localList"]) == (certificate, None)
    listed = await _json(csms, "GET", "/stations/DG5/customer-information")
    assert [(r["requestId"], r["data"]) for r in listed["items"]] == [
        (by_certificate["requestId"], None),
        (answer["requestId"], None),
    ]


async def _local_list_done(csms: RunningCsms, station_id: str, request_id: int) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            url = f"/stations/{station_id}/customer-information/{request_id}"
            record: dict[str, Any] = await _json(csms, "GET", url)
            if record["localList"] != "queued":
                return record
            await asyncio.sleep(0.05)


async def test_N10_FR_02_a_clear_takes_the_id_token_off_the_local_list(csms: RunningCsms) -> None:
    await csms.add_station("DG6")
    for token in ("CLEARME", "KEEPME"):
        await _json(
            csms,
            "POST",
            "/id-tokens",
            status=201,
            json={"idToken": token, "type": "ISO14443", "localList": True},
        )
    async with peer(csms.ocpp_url, "DG6", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        clear_keep = {"clear": True, "idToken": {"idToken": "KEEPME", "type": "ISO14443"}}
        before = await _json(csms, "POST", "/stations/DG6/customer-information", json=clear_keep)
        assert before["localList"] == "not on the station's local list"  # it holds no list yet
        await _json(csms, "POST", "/stations/DG6/local-list", json={"full": True})
        assert len(station.local_lists[0]["local_authorization_list"]) == 2
        answer = await _json(
            csms,
            "POST",
            "/stations/DG6/customer-information",
            json={"report": False, "clear": True, "idToken": {"idToken": "CLEARME", "type": "ISO14443"}},
        )
        assert answer["localList"] == "queued"
        record = await _local_list_done(csms, "DG6", answer["requestId"])
    assert record["localList"].startswith("removed"), record["localList"]
    assert record["data"] == "cleared"
    update = station.local_lists[-1]
    assert update["update_type"] == "Differential"
    assert update["local_authorization_list"] == [{"id_token": {"id_token": "CLEARME", "type": "ISO14443"}}]
    assert len(station.local_lists) == 2  # the full list, then the removal
    token = await _json(csms, "GET", "/id-tokens/CLEARME?type=ISO14443")
    assert token["localList"] is False
    kept = await _json(csms, "GET", "/id-tokens/KEEPME?type=ISO14443")
    assert kept["localList"] is True


async def test_bad_requests_are_answered_with_a_reason(csms: RunningCsms) -> None:
    await csms.add_station("DG7")
    about = {"report": True}
    for body, reason in (
        (about, "exactly one"),
        (about | {"customerIdentifier": "x", "idToken": {"idToken": "A", "type": "ISO14443"}}, "exactly one"),
        ({"customerIdentifier": "x"}, "report, clear"),
    ):
        refused = await _json(csms, "POST", "/stations/DG7/customer-information", status=400, json=body)
        assert reason in refused["detail"]
    bad_type = {"report": True, "idToken": {"idToken": "A", "type": "Passport"}}
    await _json(csms, "POST", "/stations/DG7/customer-information", status=400, json=bad_type)
    await _json(csms, "POST", "/stations/DG7/logs", status=400, json={"logType": "EverythingLog"})
    backwards = {
        "logType": "DiagnosticsLog",
        "oldestTimestamp": "2026-12-07T00:00:00Z",
        "latestTimestamp": "2026-12-06T00:00:00Z",
    }
    refused = await _json(csms, "POST", "/stations/DG7/logs", status=400, json=backwards)
    assert "after" in refused["detail"]
    await _json(csms, "GET", "/stations/NOPE/logs", status=404)
    await _json(csms, "GET", "/logs/12345/file", status=404)
    await _json(csms, "GET", "/stations/DG7/customer-information/1", status=404)
    offline = await _json(csms, "POST", "/stations/DG7/logs", status=409, json={"logType": "SecurityLog"})
    assert "offline" in offline["detail"]
    async with peer(csms.ocpp_url, "DG7", "1.6") as station:
        await boot(station, "1.6")
        refused = await _json(
            csms,
            "POST",
            "/stations/DG7/customer-information",
            status=422,
            json={"report": True, "customerIdentifier": "x"},
        )
    assert "1.6" in refused["detail"]
