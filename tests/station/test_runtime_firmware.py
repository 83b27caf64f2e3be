"""End-to-end firmware update (L01; 1.6 UpdateFirmware): the station runtime downloads the image from a loopback
HTTP server, verifies it, "reboots" into the new version and reports every status to a CSMS written with the
independent ``ocpp`` package."""

from __future__ import annotations

import http.server
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.tools.conformance.pki import Issued, issue, sign
from tests.station.csms_peer import CsmsBehaviour, call, peer_central_system16, peer_csms, wait_for
from tests.station.test_runtime import running_station

IMAGE = b"CHARGEPLANE-SIM-FIRMWARE 3.1.4\n" + bytes(range(256)) * 16


class _FirmwareServer:
    """Firmware images on loopback (stdlib HTTP server in a thread); ``hold`` keeps GETs waiting."""

    def __init__(self) -> None:
        store = self
        self.images: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.hold = threading.Event()
        self.hold.set()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                store.requests.append(self.path)
                store.hold.wait(10.0)
                image = store.images.get(self.path.rsplit("/", 1)[-1])
                self.send_response(200 if image is not None else 404)
                self.send_header("Content-Length", str(len(image or b"")))
                self.end_headers()
                self.wfile.write(image or b"")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/firmware/{name}"

    def __enter__(self) -> _FirmwareServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def _pki() -> tuple[Issued, Issued]:
    root = issue("Runtime test manufacturer root", ca=True)
    return root, issue("Runtime test firmware signing", root, ca=False, code_signing=True)


def _firmware(location: str, signer: Issued, image: bytes = IMAGE) -> dict[str, Any]:
    return {
        "location": location,
        "retrieve_date_time": to_wire(datetime.now(UTC) - timedelta(hours=2)),
        "signing_certificate": signer.pem,
        "signature": sign(image, signer),
    }


def _published(behaviour: CsmsBehaviour) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("request_id")) for p in behaviour.of("PublishFirmwareStatusNotification")]


def _statuses(behaviour: CsmsBehaviour) -> list[tuple[str, int | None]]:
    return [(p["status"], p.get("request_id")) for p in behaviour.of("FirmwareStatusNotification")]


async def test_L01_TC_L_01_CS_update_firmware_from_an_ocpp_package_csms_reboots_into_the_new_version() -> (
    None
):
    behaviour = CsmsBehaviour()
    root, signer = _pki()
    with _FirmwareServer() as files:
        files.images["fw.bin"] = IMAGE
        async with (
            peer_csms(behaviour) as url,
            running_station(url, manufacturer_roots=(root.pem,)) as station,
        ):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            answer = await behaviour.stations[0].call(
                call.UpdateFirmware(request_id=41, firmware=_firmware(files.url("fw.bin"), signer))
            )
            assert answer.status == "Accepted"
            await wait_for(lambda: ("Installed", 41) in _statuses(behaviour), within=10.0)
            await wait_for(
                lambda: any(e["type"] == "FirmwareUpdated" for e in behaviour.of("SecurityEventNotification"))
            )
            assert station.core.layout.firmware_version == "3.1.4"
    assert _statuses(behaviour) == [
        ("Downloading", 41),
        ("Downloaded", 41),
        ("SignatureVerified", 41),
        ("Installing", 41),
        ("InstallRebooting", 41),
        ("Installed", 41),  # by the new firmware, after its boot
    ]
    first, second = behaviour.of("BootNotification")
    assert first["charging_station"]["firmware_version"] == "0.1.0"
    assert (second["reason"], second["charging_station"]["firmware_version"]) == ("FirmwareUpdate", "3.1.4")
    assert len(behaviour.stations) == 2  # it reconnected
    connectors = [p["connector_status"] for p in behaviour.of("StatusNotification")]
    assert connectors == ["Available", "Unavailable", "Available"]  # Unavailable while installing


async def test_L01_FR_03_the_runtime_verifies_the_signature_over_the_downloaded_bytes() -> None:
    behaviour = CsmsBehaviour()
    root, signer = _pki()
    with _FirmwareServer() as files:
        files.images["fw.bin"] = IMAGE + b"changed on the server"
        async with peer_csms(behaviour) as url, running_station(url, manufacturer_roots=(root.pem,)):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            answer = await behaviour.stations[0].call(
                call.UpdateFirmware(request_id=42, firmware=_firmware(files.url("fw.bin"), signer))
            )
            assert answer.status == "Accepted"
            await wait_for(lambda: ("InvalidSignature", 42) in _statuses(behaviour))
            await wait_for(
                lambda: any(
                    e["type"] == "InvalidFirmwareSignature" for e in behaviour.of("SecurityEventNotification")
                )
            )
    assert len(behaviour.of("BootNotification")) == 1  # no reboot


async def test_L01_FR_22_an_unknown_signer_without_trusted_roots_is_an_invalid_certificate() -> None:
    behaviour = CsmsBehaviour()
    _, signer = _pki()
    async with peer_csms(behaviour) as url, running_station(url):  # no manufacturer root at all
        await wait_for(lambda: behaviour.of("StatusNotification"))
        answer = await behaviour.stations[0].call(
            call.UpdateFirmware(request_id=43, firmware=_firmware("http://127.0.0.1:9/fw.bin", signer))
        )
        assert answer.status == "InvalidCertificate"
        await wait_for(
            lambda: any(
                e["type"] == "InvalidFirmwareSigningCertificate"
                for e in behaviour.of("SecurityEventNotification")
            )
        )


async def test_L01_FR_24_30_a_new_update_cancels_a_held_download_and_a_missing_file_fails() -> None:
    behaviour = CsmsBehaviour()
    root, signer = _pki()
    with _FirmwareServer() as files:
        files.images["first.bin"] = IMAGE
        files.hold.clear()  # the first download stays open
        async with peer_csms(behaviour) as url, running_station(url, manufacturer_roots=(root.pem,)):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            station = behaviour.stations[0]
            first = await station.call(
                call.UpdateFirmware(request_id=1, firmware=_firmware(files.url("first.bin"), signer))
            )
            assert first.status == "Accepted"
            await wait_for(lambda: files.requests)
            missing = _firmware(files.url("missing.bin"), signer)
            second = await station.call(
                call.UpdateFirmware(request_id=2, firmware=missing, retries=1, retry_interval=1)
            )
            assert second.status == "AcceptedCanceled"
            files.hold.set()
            await wait_for(lambda: ("DownloadFailed", 2) in _statuses(behaviour))
    assert _statuses(behaviour) == [
        ("Downloading", 1),
        ("Downloading", 2),
        ("Downloading", 2),
        ("DownloadFailed", 2),
    ]


async def test_16_update_firmware_core_profile_end_to_end() -> None:
    behaviour = CsmsBehaviour()
    with _FirmwareServer() as files:
        files.images["fw16.bin"] = IMAGE
        async with (
            peer_central_system16(behaviour) as url,
            running_station(url, version=Version.V16) as station,
        ):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            import ocpp.v16

            await behaviour.stations[0].call(
                ocpp.v16.call.UpdateFirmware(
                    location=files.url("fw16.bin"), retrieve_date=to_wire(datetime.now(UTC))
                )
            )
            await wait_for(lambda: "Installed" in [s for s, _ in _statuses(behaviour)], within=10.0)
            assert station.core.layout.firmware_version == "3.1.4"
    assert [s for s, _ in _statuses(behaviour)] == ["Downloading", "Downloaded", "Installing", "Installed"]
    assert behaviour.of("BootNotification")[-1]["firmware_version"] == "3.1.4"


async def test_L03_L04_the_local_controller_publishes_on_loopback_and_unpublishes() -> None:
    import hashlib

    import httpx

    behaviour = CsmsBehaviour()
    checksum = hashlib.md5(IMAGE, usedforsecurity=False).hexdigest()
    with _FirmwareServer() as files:
        files.images["lc.bin"] = IMAGE
        async with peer_csms(behaviour) as url, running_station(url):
            await wait_for(lambda: behaviour.of("StatusNotification"))
            station = behaviour.stations[0]
            answer = await station.call(
                call.PublishFirmware(location=files.url("lc.bin"), checksum=checksum, request_id=71)
            )
            assert answer.status == "Accepted"
            await wait_for(lambda: ("Published", 71) in _published(behaviour))
            [uri] = behaviour.of("PublishFirmwareStatusNotification")[-1]["location"]
            assert uri.startswith("http://127.0.0.1:")
            async with httpx.AsyncClient() as client:
                assert (await client.get(uri)).content == IMAGE
                gone = await station.call(call.UnpublishFirmware(checksum=checksum))
                assert gone.status == "Unpublished"
                assert (await client.get(uri)).status_code == 404
    assert _published(behaviour) == [
        ("Downloading", 71),
        ("Downloaded", 71),
        ("ChecksumVerified", 71),
        ("Published", 71),
    ]
