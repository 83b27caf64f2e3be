"""The TLS door with the CSMS's own CA: a station certificate revoked outside the CSMS process (what
`chargeplane ca revoke` writes) is refused in the handshake once the periodic CRL reload has run."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from chargeplane.csms.blocks.pki.service import PkiService, certificate_serial
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.security_upgrade.service import SecurityUpgradeService
from chargeplane.csms.blocks.security_upgrade.settings import SecurityUpgradeSettings
from chargeplane.csms.clock import utc_now
from chargeplane.pki.ca import CertificateAuthority, generate_key
from chargeplane.transport.security import CertificateFiles, TlsSettings, client_tls_context
from tests import migrated_databases
from tests.csms.blocks.pki.test_pki import ORG
from tests.csms.blocks.pki.test_profile3 import _csr, _files
from tests.csms.conftest import running, settings_for
from tests.transport import certs


async def test_a_revocation_by_the_cli_reaches_the_tls_door_at_the_next_crl_reload(tmp_path: Path) -> None:
    ca = CertificateAuthority.init(tmp_path / "ca" / "station", ORG, now=utc_now())
    root_file = tmp_path / "station-root.pem"
    root_file.write_bytes(ca.root.public_bytes(serialization.Encoding.PEM))
    server_ca = certs.make_ca(tmp_path, "server-root")
    server = certs.issue(server_ca, tmp_path, "localhost", server=True)
    settings = settings_for(
        migrated_databases.sqlite_url(tmp_path),
        PkiSettings(ca_dir=tmp_path / "ca"),
        SecurityUpgradeSettings(crl_refresh_interval=3600.0),  # the test runs the reload itself
    )
    tls = TlsSettings(certificates=(server,), client_ca=root_file, operator_name=ORG)
    settings = dataclasses.replace(settings, ocpp=dataclasses.replace(settings.ocpp, tls_port=0, tls=tls))
    async with asyncio.timeout(30), running(settings) as csms:
        await csms.add_station("CRL3", securityProfile=3)
        pki = csms.app.blocks.require(PkiService)
        key = generate_key("ec-p256")
        _, chain = await pki.issue(_csr("CRL3", key), "station", "ChargingStationCertificate", "CRL3", "cli")
        pem = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
        files = _files(tmp_path, "crl3", pem, key)
        url = f"wss://127.0.0.1:{csms.app.server.ports[1]}/ocpp/CRL3"

        async def admitted(files: CertificateFiles) -> bool:
            try:
                context = client_tls_context(server_ca.path, files)
                async with asyncio.timeout(5), connect(url, subprotocols=["ocpp2.0.1"], ssl=context) as ws:
                    await ws.ping()
                return True
            except (OSError, ConnectionClosed, InvalidMessage, InvalidStatus):
                return False

        for _ in range(50):  # the CRL is loaded by a job at start
            if await admitted(files):
                break
            await asyncio.sleep(0.05)
        assert await admitted(files)
        # `chargeplane ca revoke` in another process: the database says revoked, this process was not told
        await pki.repository.revoke("station", certificate_serial(chain[0]), "keyCompromise", utc_now())
        assert await admitted(files)  # the loaded CRL does not list it yet
        await csms.app.blocks.require(SecurityUpgradeService).refresh_crl(utc_now())  # the periodic reload
        assert not await admitted(files)
