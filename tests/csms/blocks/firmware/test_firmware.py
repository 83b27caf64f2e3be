"""Firmware management on the CSMS side (L01-L04; 1.6 UpdateFirmware and SignedUpdateFirmware) against peer
stations of the ``ocpp`` package: the image repository, its signatures checked with ``cryptography`` against the
exported root, the image downloaded from the URL the station got, every status notification stored; on SQLite
and PostgreSQL."""

from __future__ import annotations

import hashlib
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from ocpp.routing import on

from chargeplane.csms.blocks.firmware.signing import SigningKeys, verify_signature
from chargeplane.csms.clock import ManualClock
from tests.csms.blocks.firmware.conftest import (
    IMAGE,
    api,
    boot_with,
    eventually,
    running,
    station_class,
    upload_image,
    verify,
)
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, peer


async def test_L01_FR_09_an_uploaded_image_is_hashed_and_signed_and_verifies_against_the_exported_root(
    csms: RunningCsms, tmp_path: Path
) -> None:
    image = await upload_image(csms)
    assert image["size"] == len(IMAGE)
    assert image["sha256"] == hashlib.sha256(IMAGE).hexdigest()
    assert image["md5"] == hashlib.md5(IMAGE, usedforsecurity=False).hexdigest()
    assert image["signatureAlgorithm"] == "RSA-PSS-SHA256"
    assert verify(image["signingCertificate"], image["signature"], IMAGE)
    assert not verify(image["signingCertificate"], image["signature"], IMAGE + b"x")
    # The root the stations trust (ManufacturerRootCertificate) issued the signing certificate.
    response = await csms.api.get("/api/v1/firmware/root-certificate", headers=csms.auth)
    assert response.status_code == 200
    root = x509.load_pem_x509_certificate(response.content)
    signing = x509.load_pem_x509_certificate(image["signingCertificate"].encode())
    signing.verify_directly_issued_by(root)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert signing.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)  # A00.FR.509
    key = await api(csms, "GET", "/firmware/signing-key")
    assert key["certificate"] == image["signingCertificate"]
    assert key["generated"] is True
    # The key files are the operator's only (0600).
    for name in ("signing-key.pem", "signing-cert.pem", "root-cert.pem", "root-key.pem"):
        mode = stat.S_IMODE((tmp_path / "signing" / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    # Listed, downloadable by the operator, deleted.
    listed = await api(csms, "GET", "/firmware")
    assert [i["id"] for i in listed["items"]] == [image["id"]]
    file = await csms.api.get(f"/api/v1/firmware/{image['id']}/file", headers=csms.auth)
    assert file.content == IMAGE
    await api(csms, "DELETE", f"/firmware/{image['id']}", 204)
    await api(csms, "GET", f"/firmware/{image['id']}", 404)
    assert not list((tmp_path / "firmware").glob("image-*"))


async def test_an_image_comes_as_a_form_once_per_name_and_version_and_within_the_limit(
    database_url: str, tmp_path: Path
) -> None:
    async with running(
        database_url, tmp_path, max_image_bytes=len(IMAGE) + 1000
    ) as csms:  # a form adds its headers
        response = await csms.api.post(
            "/api/v1/firmware?name=acme&version=3.1",
            files={"file": ("acme-3.1.bin", IMAGE, "application/octet-stream")},
            headers=csms.auth,
        )
        assert response.status_code == 201, response.text
        assert response.json()["fileName"] == "acme-3.1.bin"
        assert response.json()["sha256"] == hashlib.sha256(IMAGE).hexdigest()
        again = await csms.api.post(
            "/api/v1/firmware?name=acme&version=3.1", content=b"other", headers=csms.auth
        )
        assert again.status_code == 409
        too_large = await csms.api.post(
            "/api/v1/firmware?name=acme&version=3.2", content=IMAGE + b"!" * 1001, headers=csms.auth
        )
        assert too_large.status_code == 413
        missing = await csms.api.post("/api/v1/firmware?name=acme", content=b"x", headers=csms.auth)
        assert missing.status_code == 400
        assert len(list((tmp_path / "firmware").glob("image-*"))) == 1


async def test_an_ecdsa_key_and_an_imported_key(database_url: str, tmp_path: Path) -> None:
    async with running(database_url, tmp_path, signing_key_type="ecdsa-p256") as csms:
        image = await upload_image(csms)
        assert image["signatureAlgorithm"] == "ECDSA-SHA256"
        assert verify(image["signingCertificate"], image["signature"], IMAGE)
        # The operator's own key: made elsewhere, imported; the next image is signed with it.
        other = SigningKeys(tmp_path / "elsewhere", "rsa-2048", "Manufacturer").create()
        key_pem = other.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        body = {"key": key_pem, "certificate": other.certificate_pem, "rootCertificate": other.root_pem}
        mismatched = body | {"certificate": image["signingCertificate"]}
        refused = await api(csms, "PUT", "/firmware/signing-key", 400, json=mismatched)
        assert "does not belong" in refused["detail"]
        wrong_root = body | {"rootCertificate": other.certificate_pem}
        await api(csms, "PUT", "/firmware/signing-key", 400, json=wrong_root)
        imported = await api(csms, "PUT", "/firmware/signing-key", json=body)
        assert imported["generated"] is False
        assert imported["rootCertificate"] == other.root_pem
        assert not (tmp_path / "signing" / "root-key.pem").exists()
        second = await upload_image(csms, version="2.1")
        assert second["signingCertificate"] == other.certificate_pem
        assert verify_signature(other.certificate_pem, second["signature"], IMAGE)
        weak = ec.generate_private_key(ec.SECP192R1()) if hasattr(ec, "SECP192R1") else None
        if weak is not None:
            weak_pem = weak.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            await api(csms, "PUT", "/firmware/signing-key", 400, json=body | {"key": weak_pem})


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_TC_L_01_CSMS_the_station_downloads_the_signed_image_and_every_status_is_stored(
    csms: RunningCsms, version: str
) -> None:
    image = await upload_image(csms)
    await csms.add_station("FW1")
    async with peer(csms.ocpp_url, "FW1", version, station_class=station_class(version)) as station:
        await boot_with(station, version, "1.0")
        body = {
            "firmwareId": image["id"],
            "retrieveDateTime": "2026-12-07T05:00:00Z",
            "installDateTime": "2026-12-07T06:00:00Z",
            "retries": 2,
            "retryInterval": 30,
        }
        update = await api(csms, "POST", "/stations/FW1/firmware/update", json=body)
        assert update["stationStatus"] == "Accepted"
        assert update["method"] == "UpdateFirmware"
        sent = station.requests[0]
        # L01.FR.11: the signing certificate and the signature come with the request.
        assert sent["signing_certificate"] == image["signingCertificate"]
        assert sent["signature"] == image["signature"]
        assert sent["request_id"] == update["requestId"]
        assert sent["retries"] == 2
        assert sent["install_date_time"].startswith("2026-12-07T06:00:00")
        await station.done.wait()
        assert station.images == [IMAGE]  # downloaded from the URL it got, no API token

        async def installed() -> bool:
            found = await api(csms, "GET", "/stations/FW1/firmware")
            return bool(found["updates"][0]["state"] == "installed")

        await eventually(installed)
        # A triggered Idle (no requestId) concerns no update.
        await station.call(MODULES[version].call.FirmwareStatusNotification(status="Idle"))
    found = await api(csms, "GET", "/stations/FW1/firmware")
    assert found["firmwareVersion"] == "1.0"  # from the BootNotification (the provisioning block's record)
    record = found["updates"][0]
    assert record["firmwareStatus"] == "Installed"
    assert [n["status"] for n in record["notifications"]] == [
        "Downloading",
        "Downloaded",
        "SignatureVerified",
        "Installing",
        "Installed",
    ]
    assert [n["status"] for n in found["otherNotifications"]] == ["Idle"]
    # The download URL is the station's own: an unknown token is refused.
    async with httpx.AsyncClient() as client:
        unknown = await client.get(record["location"].rsplit("/", 1)[0] + "/not-a-token")
    assert unknown.status_code == 404


async def test_TC_L_10_CSMS_AcceptedCanceled_cancels_the_update_going_on(csms: RunningCsms) -> None:
    image = await upload_image(csms)
    await csms.add_station("FW2")
    module = MODULES["2.0.1"]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        answers = iter(["Accepted", "AcceptedCanceled", "InvalidCertificate"])

        @on("UpdateFirmware")
        def update_firmware(self, request_id: int, firmware: dict[str, Any], **_: Any) -> Any:
            return module.call_result.UpdateFirmware(status=next(self.answers))

    async with peer(csms.ocpp_url, "FW2", "2.0.1", station_class=Station) as station:
        await boot_with(station, "2.0.1", "1.0")
        first = await api(csms, "POST", "/stations/FW2/firmware/update", json={"firmwareId": image["id"]})
        second = await api(csms, "POST", "/stations/FW2/firmware/update", json={"firmwareId": image["id"]})
        third = await api(csms, "POST", "/stations/FW2/firmware/update", json={"firmwareId": image["id"]})
        # The canceled update's late DownloadFailed (L01.FR.24 note) does not revive it.
        await station.call(
            module.call.FirmwareStatusNotification(status="DownloadFailed", request_id=first["requestId"])
        )
    page = await api(csms, "GET", "/stations/FW2/firmware/updates?limit=2")
    assert page["total"] == 3
    assert [u["id"] for u in page["items"]] == [third["id"], second["id"]]
    states = {u["id"]: u for u in (await api(csms, "GET", "/stations/FW2/firmware"))["updates"]}
    assert states[first["id"]]["state"] == "canceled"
    assert states[first["id"]]["firmwareStatus"] == "DownloadFailed"
    assert states[second["id"]]["state"] == "accepted"
    assert states[second["id"]]["stationStatus"] == "AcceptedCanceled"
    assert states[third["id"]]["state"] == "rejected"
    assert states[third["id"]]["stationStatus"] == "InvalidCertificate"


async def test_1_6_UpdateFirmware_and_the_security_extension_SignedUpdateFirmware(csms: RunningCsms) -> None:
    image = await upload_image(csms)
    await csms.add_station("FW16")
    async with peer(csms.ocpp_url, "FW16", "1.6", station_class=station_class("1.6")) as station:
        await boot_with(station, "1.6", "1.0")
        plain = await api(csms, "POST", "/stations/FW16/firmware/update", json={"firmwareId": image["id"]})
        assert plain["method"] == "UpdateFirmware"
        assert plain["stationStatus"] == "Accepted"
        assert "signature" not in station.requests[0]  # core 1.6 has no signature
        await station.done.wait()

        async def plain_installed() -> bool:
            found = await api(csms, "GET", "/stations/FW16/firmware")
            return bool(found["updates"][0]["state"] == "installed")

        await eventually(plain_installed)
        station.done.clear()
        body = {"firmwareId": image["id"], "v16Signed": True}
        signed = await api(csms, "POST", "/stations/FW16/firmware/update", json=body)
        assert signed["method"] == "SignedUpdateFirmware"
        assert station.requests[1]["signing_certificate"] == image["signingCertificate"]
        await station.done.wait()

        async def signed_installed() -> bool:
            found = await api(csms, "GET", "/stations/FW16/firmware")
            return bool(found["updates"][0]["state"] == "installed")

        await eventually(signed_installed)
    assert station.images == [IMAGE, IMAGE]
    updates = (await api(csms, "GET", "/stations/FW16/firmware"))["updates"]
    assert [n["message"] for n in updates[0]["notifications"]] == ["SignedFirmwareStatusNotification"] * 5
    assert [n["status"] for n in updates[1]["notifications"]] == [
        "Downloading",
        "Downloaded",
        "Installing",
        "Installed",
    ]
    assert {n["message"] for n in updates[1]["notifications"]} == {"FirmwareStatusNotification"}


async def test_L03_L04_publish_and_unpublish_on_a_local_controller(csms: RunningCsms) -> None:
    image = await upload_image(csms)
    await csms.add_station("LC1")
    await csms.add_station("LC16")
    async with peer(csms.ocpp_url, "LC1", "2.1", station_class=station_class("2.1")) as station:
        await boot_with(station, "2.1", "1.0")
        record = await api(csms, "POST", "/stations/LC1/firmware/publish", json={"firmwareId": image["id"]})
        assert record["stationStatus"] == "Accepted"
        assert record["checksum"] == image["md5"]
        assert station.publications[0]["checksum"] == image["md5"]

        async def published() -> bool:
            page = await api(csms, "GET", "/stations/LC1/firmware/publications")
            return bool(page["items"][0]["state"] == "published")

        await eventually(published)
        answer = await api(csms, "POST", "/stations/LC1/firmware/unpublish", json={"firmwareId": image["id"]})
        assert answer == {"status": "Unpublished"}
    page = await api(csms, "GET", "/stations/LC1/firmware/publications")
    item = page["items"][0]
    assert item["state"] == "unpublished"
    assert item["locations"] == ["http://lc.local/fw.bin"]
    assert [n["status"] for n in item["notifications"]] == ["Downloading", "ChecksumVerified", "Published"]
    assert station.images == [IMAGE]
    async with peer(csms.ocpp_url, "LC16", "1.6") as old:
        await boot_with(old, "1.6", "1.0")
        refused = await api(
            csms, "POST", "/stations/LC16/firmware/publish", 422, json={"firmwareId": image["id"]}
        )
        assert "NotSupportedByVersion" in refused["detail"]


async def test_bad_requests(csms: RunningCsms) -> None:
    await csms.add_station("FW9")
    await api(csms, "POST", "/stations/FW9/firmware/update", 404, json={"firmwareId": 99})
    image = await upload_image(csms)
    offline = await api(csms, "POST", "/stations/FW9/firmware/update", 409, json={"firmwareId": image["id"]})
    assert "offline" in offline["detail"]
    backwards = {
        "firmwareId": image["id"],
        "retrieveDateTime": "2026-12-07T06:00:00Z",
        "installDateTime": "2026-12-07T05:00:00Z",
    }
    await api(csms, "POST", "/stations/FW9/firmware/update", 400, json=backwards)
    await api(csms, "POST", "/stations/NOPE/firmware/update", 404, json={"firmwareId": image["id"]})
    # Refused before anything was recorded.
    updates = (await api(csms, "GET", "/stations/FW9/firmware"))["updates"]
    assert updates == []


async def test_a_download_url_expires_after_the_retrieval_time_and_serves_no_deleted_image(
    database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))
    async with running(database_url, tmp_path, clock, download_url_lifetime=60) as csms:
        image = await upload_image(csms)
        await csms.add_station("DL1")
        kind = station_class("2.0.1")
        async with peer(csms.ocpp_url, "DL1", "2.0.1", station_class=kind) as station:
            await boot_with(station, "2.0.1", "1.0")
            later = {"firmwareId": image["id"], "retrieveDateTime": "2026-12-07T04:00:00Z"}
            update = await api(csms, "POST", "/stations/DL1/firmware/update", json=later)
            await station.done.wait()
        async with httpx.AsyncClient() as client:
            clock.set(datetime(2026, 12, 7, 4, 0, 59, tzinfo=UTC))  # valid until retrieval + 60 s
            assert (await client.get(update["location"])).content == IMAGE
            clock.advance(2)
            expired = await client.get(update["location"])
            assert expired.status_code == 410
            assert "expired" in expired.json()["detail"]
