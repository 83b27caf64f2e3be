"""The firmware tests' CSMS and peer stations of the ``ocpp`` package that update their firmware."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from ocpp.routing import after, on

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.diagnostics.settings import DiagnosticsSettings
from chargeplane.csms.blocks.firmware.settings import FirmwareSettings
from chargeplane.csms.clock import Clock
from tests.csms.conftest import RunningCsms, settings_for
from tests.csms.peers import MODULES, peer

IMAGE = bytes(range(256)) * 2048 + b"firmware 2.0 tail"  # 512 KiB and a bit


@asynccontextmanager
async def running(
    database_url: str, tmp_path: Path, clock: Clock | None = None, token: str | None = None, **settings: Any
) -> AsyncIterator[RunningCsms]:
    """A CSMS with its files under ``tmp_path``; ``token``: the API token of an earlier start on the same
    database (a restart makes none)."""
    firmware = FirmwareSettings(
        files_dir=tmp_path / "firmware",
        signing_dir=tmp_path / "signing",
        campaign_interval=3600,  # the tests run the campaign job's passes themselves
        **settings,
    )
    diagnostics = DiagnosticsSettings(files_dir=tmp_path / "uploads")
    # Making the signing keys keeps the event loop busy for a moment; on the shared test machine that lag must
    # not make the OCPP server shed the peers' connections (HTTP 503).
    app = Csms(settings_for(database_url, diagnostics, firmware, ocpp_admission_max_lag=60.0), clock)
    token = await app.start() or token
    assert token is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}") as client:
            yield RunningCsms(app, client, token)
    finally:
        await app.stop(deadline=1.0)


@pytest.fixture
async def csms(database_url: str, tmp_path: Path) -> AsyncIterator[RunningCsms]:
    async with running(database_url, tmp_path) as running_csms:
        yield running_csms


async def api(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    headers = csms.auth | kwargs.pop("headers", {})
    response = await csms.api.request(method, f"/api/v1{url}", headers=headers, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


async def upload_image(
    csms: RunningCsms, version: str = "2.0", body: bytes = IMAGE, name: str = "acme-m1"
) -> Any:
    return await api(
        csms,
        "POST",
        f"/firmware?name={name}&version={version}",
        201,
        content=body,
        headers={"Content-Type": "application/octet-stream"},
    )


def verify(certificate_pem: str, signature: str, data: bytes) -> bool:
    """As a station checks the image: the signing certificate's key over the whole file, SHA-256 (L01.FR.04)."""
    public = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    try:
        if isinstance(public, rsa.RSAPublicKey):
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
            public.verify(base64.b64decode(signature), data, pss, hashes.SHA256())
        else:
            assert isinstance(public, ec.EllipticCurvePublicKey)
            public.verify(base64.b64decode(signature), data, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    """Poll ``check()`` in a short bounded loop."""
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def boot_with(station: Any, version: str, firmware_version: str, reason: str = "PowerUp") -> Any:
    module = MODULES[version]
    if version == "1.6":
        return await station.call(
            module.call.BootNotification(
                charge_point_model="M1", charge_point_vendor="Acme", firmware_version=firmware_version
            )
        )
    return await station.call(
        module.call.BootNotification(
            charging_station={"model": "M1", "vendor_name": "Acme", "firmware_version": firmware_version},
            reason=reason,
        )
    )


def station_class(
    version: str, *, fail_with: str | None = None, reboots: asyncio.Queue[Any] | None = None
) -> Any:
    """A station that downloads the image from the location it gets, checks the signature with the signing
    certificate and reports each step; ``fail_with``: the failure status it ends with; ``reboots``: where
    it asks to be rebooted into the new firmware (the test reconnects it), else it reports Installed at once."""
    module = MODULES[version]
    call, result = module.call, module.call_result

    class FirmwareStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.requests: list[dict[str, Any]] = []
            self.images: list[bytes] = []
            self.publications: list[dict[str, Any]] = []
            self.done = asyncio.Event()

        async def _fetch(self, location: str) -> bytes:
            async with httpx.AsyncClient() as client:
                response = await client.get(location)
            assert response.status_code == 200, response.text
            self.images.append(response.content)
            return response.content

        async def _run(
            self, send: Callable[[str], Awaitable[Any]], firmware: dict[str, Any], request_id: int
        ) -> None:
            await send("Downloading")
            data = await self._fetch(firmware["location"])
            await send("Downloaded")
            if not verify(firmware["signing_certificate"], firmware["signature"], data):
                await send("InvalidSignature")
                return
            await send("SignatureVerified")
            await send("Installing")
            if fail_with is not None:
                await send(fail_with)
            elif reboots is not None:
                await send("InstallRebooting")
                reboots.put_nowait((self.id, request_id))  # the rebooted station is done once Installed
                return
            else:
                await send("Installed")
            self.done.set()

        if version == "1.6":

            @on("UpdateFirmware")
            def update_firmware(self, location: str, retrieve_date: str, **extra: Any) -> Any:
                self.requests.append({"location": location, "retrieve_date": retrieve_date, **extra})
                return result.UpdateFirmware()

            @after("UpdateFirmware")
            async def run_update(self, location: str, **_: Any) -> None:
                for status in ("Downloading", "Downloaded", "Installing", "Installed"):
                    if status == "Downloaded":
                        await self._fetch(location)
                    await self.call(call.FirmwareStatusNotification(status=status))
                self.done.set()

            @on("SignedUpdateFirmware")
            def signed_update(self, request_id: int, firmware: dict[str, Any], **_: Any) -> Any:
                self.requests.append({"request_id": request_id, **firmware})
                return result.SignedUpdateFirmware(status="Accepted")

            @after("SignedUpdateFirmware")
            async def run_signed(self, request_id: int, firmware: dict[str, Any], **_: Any) -> None:
                async def send(status: str) -> Any:
                    return await self.call(
                        call.SignedFirmwareStatusNotification(status=status, request_id=request_id)
                    )

                await self._run(send, firmware, request_id)

        else:

            @on("UpdateFirmware")
            def update_firmware(self, request_id: int, firmware: dict[str, Any], **extra: Any) -> Any:
                self.requests.append({"request_id": request_id, **firmware, **extra})
                return result.UpdateFirmware(status="Accepted")

            @after("UpdateFirmware")
            async def run_update(self, request_id: int, firmware: dict[str, Any], **_: Any) -> None:
                async def send(status: str) -> Any:
                    return await self.call(
                        call.FirmwareStatusNotification(status=status, request_id=request_id)
                    )

                await self._run(send, firmware, request_id)

            @on("PublishFirmware")
            def publish_firmware(self, location: str, checksum: str, request_id: int, **_: Any) -> Any:
                self.publications.append(
                    {"location": location, "checksum": checksum, "request_id": request_id}
                )
                return result.PublishFirmware(status="Accepted")

            @after("PublishFirmware")
            async def run_publish(self, location: str, checksum: str, request_id: int, **_: Any) -> None:
                import hashlib

                await self.call(
                    call.PublishFirmwareStatusNotification(status="Downloading", request_id=request_id)
                )
                data = await self._fetch(location)
                verified = hashlib.md5(data, usedforsecurity=False).hexdigest() == checksum
                status = "ChecksumVerified" if verified else "InvalidChecksum"
                await self.call(call.PublishFirmwareStatusNotification(status=status, request_id=request_id))
                if verified:
                    await self.call(
                        call.PublishFirmwareStatusNotification(
                            status="Published", request_id=request_id, location=["http://lc.local/fw.bin"]
                        )
                    )

            @on("UnpublishFirmware")
            def unpublish_firmware(self, checksum: str, **_: Any) -> Any:
                return result.UnpublishFirmware(status="Unpublished")

    return FirmwareStation


class Fleet:
    """Peer stations that reboot into their new firmware: a new connection, a BootNotification with the new
    version (reason FirmwareUpdate), then Installed (L01.FR.32 (a))."""

    def __init__(self, url: str, version: str, new_version: str) -> None:
        self.url = url
        self.version = version
        self.new_version = new_version
        self.reboots: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.stations: dict[str, Any] = {}
        self._stacks: dict[str, AsyncExitStack] = {}
        self._failing: dict[str, str] = {}
        self._worker: asyncio.Task[None] | None = None

    async def connect(self, station_id: str, firmware_version: str, fail_with: str | None = None) -> Any:
        if fail_with is not None:
            self._failing[station_id] = fail_with
        kind = station_class(self.version, fail_with=self._failing.get(station_id), reboots=self.reboots)
        stack = AsyncExitStack()
        station = await stack.enter_async_context(
            peer(self.url, station_id, self.version, station_class=kind)
        )
        self._stacks[station_id] = stack
        self.stations[station_id] = station
        reason = "FirmwareUpdate" if firmware_version == self.new_version else "PowerUp"
        await boot_with(station, self.version, firmware_version, reason)
        return station

    async def _reboot(self) -> None:
        module = MODULES[self.version]
        while True:
            station_id, request_id = await self.reboots.get()
            await self._stacks.pop(station_id).aclose()
            station = await self.connect(station_id, self.new_version)
            if self.version == "1.6":  # the security extension's (SignedUpdateFirmware)
                installed = module.call.SignedFirmwareStatusNotification(
                    status="Installed", request_id=request_id
                )
            else:
                installed = module.call.FirmwareStatusNotification(status="Installed", request_id=request_id)
            await station.call(installed)
            station.done.set()

    async def __aenter__(self) -> Fleet:
        self._worker = asyncio.create_task(self._reboot())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for stack in list(self._stacks.values()):
            await stack.aclose()
