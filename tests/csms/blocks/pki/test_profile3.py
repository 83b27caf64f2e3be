"""End to end with security profile 3: a station certificate from the built-in CA opens a mutual-TLS
connection to the CSMS (A00.FR.4xx: CN the identity, O the operator), the station renews it over that
connection (A02: a new key, the CSR, CertificateSigned), and the renewed certificate opens the next
connection; a certificate of another CA is refused by the TLS handshake."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import ocpp.v201
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.clock import utc_now
from chargeplane.pki.ca import CertificateAuthority, PrivateKey, generate_key
from chargeplane.transport.security import CertificateFiles, TlsSettings, client_tls_context
from tests.csms.blocks.pki.test_pki import ORG, station_class
from tests.csms.conftest import running, settings_for
from tests.csms.peers import boot
from tests.transport import certs


def _csr(station_id: str, key: PrivateKey) -> x509.CertificateSigningRequest:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, station_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORG),
        ]
    )
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())


def _files(directory: Path, name: str, chain_pem: str, key: PrivateKey) -> CertificateFiles:
    chain, key_file = directory / f"{name}.pem", directory / f"{name}.key"
    chain.write_text(chain_pem)
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return CertificateFiles(chain, key_file)


async def test_A02_a_certificate_of_our_ca_opens_profile_3_and_is_renewed(
    database_url: str, tmp_path: Path
) -> None:
    ca_dir = tmp_path / "ca"
    ca = CertificateAuthority.init(ca_dir / "station", ORG, now=utc_now())
    root_file = tmp_path / "station-root.pem"
    root_file.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    server_ca = certs.make_ca(tmp_path, "server-root")
    server = certs.issue(server_ca, tmp_path, "localhost", server=True)
    settings = settings_for(database_url, PkiSettings(ca_dir=ca_dir))
    tls = TlsSettings(certificates=(server,), client_ca=root_file, operator_name=ORG)
    settings = dataclasses.replace(settings, ocpp=dataclasses.replace(settings.ocpp, tls_port=0, tls=tls))
    async with running(settings) as csms:
        await csms.add_station("PKI3S", securityProfile=3)
        url = f"wss://127.0.0.1:{csms.app.server.ports[1]}/ocpp/PKI3S"
        # the first certificate, as `chargeplane ca issue` makes it (factory provisioning)
        first_key = generate_key("ec-p256")
        service = csms.app.blocks.require(PkiService)
        _, chain = await service.issue(
            _csr("PKI3S", first_key), "station", "ChargingStationCertificate", "PKI3S", "cli"
        )
        first = _files(
            tmp_path,
            "first",
            "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain),
            first_key,
        )

        async def session(files: CertificateFiles) -> Any:
            context = client_tls_context(server_ca.path, files)
            return connect(url, subprotocols=["ocpp2.0.1"], ssl=context)

        async with await session(first) as websocket:
            station = station_class("2.0.1")("PKI3S", websocket, response_timeout=10)
            task = asyncio.create_task(station.start())
            try:
                await boot(station, "2.0.1")
                answer = await csms.api.post(
                    "/api/v1/stations/PKI3S/certificates/renew", json={}, headers=csms.auth
                )
                assert answer.json() == {"status": "Accepted"}
                delivered = await asyncio.wait_for(station.chains.get(), 5)
            finally:
                task.cancel()
        renewed_chain = x509.load_pem_x509_certificates(delivered["chain"].encode())
        assert renewed_chain[1] == ca.sub
        renewed = _files(tmp_path, "renewed", delivered["chain"], station.keys[-1])  # the station's new key
        async with await session(renewed) as websocket:
            station = ocpp.v201.ChargePoint("PKI3S", websocket, response_timeout=10)
            task = asyncio.create_task(station.start())
            try:
                assert (await boot(station, "2.0.1")).status == "Accepted"
            finally:
                task.cancel()
        # a certificate of another CA does not get through the handshake
        other = certs.issue(certs.make_ca(tmp_path, "other"), tmp_path, "PKI3S", organization=ORG)
        with pytest.raises((OSError, ConnectionClosed, InvalidMessage, InvalidStatus)):
            async with asyncio.timeout(5), await session(other) as websocket:
                await websocket.recv()
