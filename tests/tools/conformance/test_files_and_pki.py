"""The tool's file server (firmware downloads, log uploads) and its test PKI (blocks A, L, M, N)."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.declaration import Declaration
from chargeplane.tools.conformance.file_server import FileServer
from chargeplane.tools.conformance.pki import TestPki, hash_data, same_certificate, sign
from chargeplane.tools.conformance.report import Outcome
from chargeplane.tools.conformance.runner import load_cases, run_station_cases
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, ListenSettings
from chargeplane.tools.conformance.tls_front import TlsFront
from tests.tools.conformance.our_station import OurStation

load_cases()


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    server = FileServer("127.0.0.1")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_file_server_serves_published_firmware_only(files: FileServer) -> None:
    files.store.firmware["image.bin"] = b"\x00firmware"
    async with httpx.AsyncClient() as client:
        found = await client.get(files.firmware_url("image.bin"))
        missing = await client.get(files.firmware_url("other.bin"))
    assert (found.status_code, found.content) == (200, b"\x00firmware")
    assert missing.status_code == 404


async def test_file_server_records_uploads_unless_told_to_refuse(files: FileServer) -> None:
    async with httpx.AsyncClient() as client:
        put = await client.put(files.upload_url(), content=b"log one")
        files.store.refuse_uploads = True
        refused = await client.post(files.upload_url(), content=b"log two")
    assert (put.status_code, refused.status_code) == (201, 403)
    assert [u.body for u in files.store.uploads] == [b"log one"]
    assert files.store.upload_attempts == 2


async def test_file_server_holds_uploads_until_released(files: FileServer) -> None:
    files.store.hold.clear()
    async with httpx.AsyncClient() as client:
        upload = asyncio.create_task(client.put(files.upload_url(), content=b"held"))
        await asyncio.sleep(0.3)
        assert not upload.done()
        assert not files.store.uploads
        files.store.hold.set()
        assert (await upload).status_code == 201
    assert files.store.uploads[0].body == b"held"


def test_pki_signs_firmware_that_the_signing_certificate_verifies() -> None:
    pki = TestPki()
    signature = base64.b64decode(sign(b"image", pki.firmware_signer))
    key = pki.firmware_signer.certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signature, b"image", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(InvalidSignature):
        key.verify(signature, b"other image", ec.ECDSA(hashes.SHA256()))
    assert pki.firmware_signer.certificate.issuer == pki.manufacturer_root.certificate.subject


def test_pki_hash_data_tells_certificates_apart() -> None:
    pki = TestPki()
    root = hash_data(pki.csms_root.certificate)
    assert same_certificate(root, hash_data(pki.csms_root.certificate))
    assert not same_certificate(root, hash_data(pki.csms_root_new.certificate, pki.csms_root.certificate))
    assert not same_certificate(root, pki.unknown_hash_data())
    assert len(root.issuer_name_hash) == 64
    assert root.hash_algorithm == "SHA256"
    now = datetime.datetime.now(datetime.UTC)
    assert pki.expired_root.certificate.not_valid_after_utc < now


async def test_tls_front_presents_the_chosen_certificate_and_pipes_to_the_endpoint() -> None:
    received: list[bytes] = []

    async def endpoint(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await reader.read(100))
        writer.write(b"pong")
        await writer.drain()
        writer.close()

    plain = await asyncio.start_server(endpoint, "127.0.0.1", 0)
    pki = TestPki()
    front = TlsFront("127.0.0.1", plain.sockets[0].getsockname()[1], pki)
    await front.start()
    trusting = ssl.create_default_context(cafile=pki.files(pki.csms_root)[0])
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", front.port, ssl=trusting)
        writer.write(b"ping")
        assert await reader.read(100) == b"pong"
        writer.close()
        front.present(pki.untrusted_server)
        with pytest.raises(ssl.SSLError):
            await asyncio.open_connection("127.0.0.1", front.port, ssl=trusting)
        await asyncio.sleep(0.2)
    finally:
        await front.stop()
        plain.close()
    assert received == [b"ping"]
    assert [h.ok for h in front.handshakes] == [True, False]
    assert front.handshakes[0].version in ("TLSv1.2", "TLSv1.3")
    assert front.url("/ocpp") == f"wss://127.0.0.1:{front.port}/ocpp"


def test_pki_kept_in_a_directory_is_the_same_next_run(tmp_path: Path) -> None:
    first = TestPki(directory=tmp_path / "pki")
    again = TestPki(directory=tmp_path / "pki")
    assert again.csms_root.certificate == first.csms_root.certificate
    assert again.firmware_signer.pem == first.firmware_signer.pem
    assert (tmp_path / "pki" / "manufacturer_root.crt").read_text() == first.manufacturer_root.pem
    assert TestPki().csms_root.certificate != first.csms_root.certificate


async def test_tls_cases_pass_against_our_station_given_the_wss_url(tmp_path: Path) -> None:
    """Our station cannot be moved to security profile 2 over OCPP yet (issue #13), but its client speaks
    wss when configured so: the TLS cases then pass through the tool's wss listener."""
    password = "a-long-password-456789"
    endpoint = CsmsEndpoint(ListenSettings("127.0.0.1", 0, "CS-TLS", password, tls_port=0))
    await endpoint.start()
    assert endpoint.tls_url is not None
    station = OurStation(endpoint.tls_url, "CS-TLS", password, tmp_path / "station.db")
    station.settings.ca_bundle = endpoint.test_pki().files(endpoint.test_pki().csms_root)[0]
    await station.start()
    try:
        cases = REGISTRY.select(Side.STATION, ["TC_A_04_CS", "TC_A_06_CS"])
        results = await run_station_cases(cases, endpoint, station, Declaration())
    finally:
        await station.stop()
        await endpoint.stop()
    assert [(r.case.id, r.outcome) for r in results] == [
        ("TC_A_04_CS", Outcome.PASS),
        ("TC_A_06_CS", Outcome.PASS),
    ]
    assert endpoint.tls is not None
    assert any(not h.ok for h in endpoint.tls.handshakes)  # A_06's TLS 1.1 offer was refused
