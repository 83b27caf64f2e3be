"""The security journey (issue #13 "Done when"): our CSMS (a wss port with a server certificate, our CA for
station certificates) and our station runtime. The station starts on profile 1, is upgraded to profile 3 from
the API (A05, with a certificate our CA signed from its CSR, A02/A03), cannot come back below it (A05.FR.07),
renews its certificate when the CSMS asks, then the certificate is revoked: its next connection is refused in
the TLS handshake (the CRL), OCSP answers revoked, and every step is in /api/v1/security-events."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.security_upgrade.settings import SecurityUpgradeSettings
from chargeplane.csms.clock import utc_now
from chargeplane.ocpp.versions import Version
from chargeplane.pki.ca import CertificateAuthority
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.security import TlsSettings, client_tls_context
from tests import migrated_databases
from tests.csms.conftest import PASSWORD, RunningCsms, basic_auth, running, settings_for
from tests.transport import certs

ORG = "Chargeplane"  # the O our station puts in its CSRs (SecurityCtrlr.OrganizationName's default)
STATION = "E2ESEC"


async def _json(csms: RunningCsms, path: str) -> Any:
    response = await csms.api.get(path, headers=csms.auth)
    assert response.status_code == 200, response.text
    return response.json()


async def _until(what: str, check: Any, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_security_journey_profile_1_to_3_renewal_revocation(tmp_path: Path) -> None:
    station_ca = CertificateAuthority.init(tmp_path / "ca" / "station", ORG, now=utc_now())
    client_ca = tmp_path / "station-root.pem"
    client_ca.write_bytes(station_ca.root.public_bytes(serialization.Encoding.PEM))
    tls_root = certs.make_ca(tmp_path, "csms-tls-root")  # the CSMS's TLS CA: the CSMSRootCertificate
    server = certs.issue(tls_root, tmp_path, "localhost", server=True)
    settings = settings_for(
        migrated_databases.sqlite_url(tmp_path),
        PkiSettings(ca_dir=tmp_path / "ca"),
        SecurityUpgradeSettings(csms_root_file=tls_root.path, step_timeout=20.0),
    )
    tls = TlsSettings(certificates=(server,), client_ca=client_ca, operator_name=ORG)
    settings = dataclasses.replace(settings, ocpp=dataclasses.replace(settings.ocpp, tls_port=0, tls=tls))
    async with asyncio.timeout(60), running(settings) as csms:
        await csms.add_station(STATION, securityProfile=1)
        runtime = StationRuntime(
            RuntimeSettings(
                url=csms.ocpp_url,
                station_id=STATION,
                version=Version.V201,
                password=PASSWORD,
                backoff=BackOffSettings(0.2, 0.1, 1),
                database=tmp_path / "station.db",
            )
        )
        task = asyncio.create_task(runtime.run())
        try:
            await asyncio.wait_for(runtime.accepted.wait(), 10)
            # A05 from the API: profile 1 -> 3
            wss = f"wss://127.0.0.1:{csms.app.server.ports[1]}/ocpp"
            started = await csms.api.post(
                f"/api/v1/stations/{STATION}/security-profile-upgrade",
                json={"targetProfile": 3, "url": wss},
                headers=csms.auth,
            )
            assert started.status_code == 202, started.text

            async def finished() -> bool:
                state = await _json(csms, f"/api/v1/stations/{STATION}/security-profile-upgrade")
                return bool(state["status"] != "running")

            await _until("the upgrade", finished)
            upgrade = await _json(csms, f"/api/v1/stations/{STATION}/security-profile-upgrade")
            assert upgrade["status"] == "completed", upgrade["steps"]
            assert upgrade["connectedProfile"] == 3
            assert [s["name"] for s in upgrade["steps"]] == [
                "InstallCsmsRoot",
                "InstallOperatorRoot",
                "StationCertificate",
                "ChooseSlot",
                "SetNetworkProfile",
                "NetworkConfigurationPriority",
                "Reset",
                "Reconnect",
            ]
            assert (await _json(csms, f"/api/v1/stations/{STATION}"))["securityProfile"] == 3
            assert runtime.core.ctx.model.number("SecurityCtrlr", "SecurityProfile") == 3  # A05.FR.06
            # A05.FR.07: profile 1 again is refused; an upgrade "to" a lower profile too
            with pytest.raises(InvalidStatus):
                async with connect(
                    f"{csms.ocpp_url}/{STATION}",
                    subprotocols=["ocpp2.0.1"],
                    additional_headers=basic_auth(STATION),
                ):
                    pass
            again = await csms.api.post(
                f"/api/v1/stations/{STATION}/security-profile-upgrade",
                json={"targetProfile": 2, "url": wss},
                headers=csms.auth,
            )
            assert again.status_code == 409

            # A02 renewal the CSMS triggers: a new certificate from a new CSR, used from the next connection
            first = runtime.core.station_certificate(dt.datetime.now(dt.UTC))
            assert first is not None
            assert first.chain[0].issuer == station_ca.sub.subject
            renew = await csms.api.post(
                f"/api/v1/stations/{STATION}/certificates/renew", json={}, headers=csms.auth
            )
            assert renew.json() == {"status": "Accepted"}

            async def renewed() -> bool:
                now = runtime.core.station_certificate(dt.datetime.now(dt.UTC))
                return now is not None and now.chain[0].serial_number != first.chain[0].serial_number

            await _until("the renewed certificate", renewed)
            current = runtime.core.station_certificate(dt.datetime.now(dt.UTC))
            assert current is not None
            await asyncio.wait_for(runtime.accepted.wait(), 10)

            # revocation: the CRL at the TLS door refuses the next handshake; OCSP says revoked
            serial = format(current.chain[0].serial_number, "x")
            revoked = await csms.api.post(
                f"/api/v1/pki/station/certificates/{serial}/revoke",
                json={"reason": "keyCompromise"},
                headers=csms.auth,
            )
            assert revoked.status_code == 200, revoked.text
            files = runtime._client_certificate()
            assert files is not None
            context = client_tls_context(tls_root.path, files)
            with pytest.raises((OSError, ConnectionClosed, InvalidMessage, InvalidStatus)):
                async with (
                    asyncio.timeout(5),
                    connect(f"{wss}/{STATION}", subprotocols=["ocpp2.0.1"], ssl=context) as ws,
                ):
                    await ws.recv()
            request = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(current.chain[0], station_ca.sub, hashes.SHA1())
                .build()
                .public_bytes(serialization.Encoding.DER)
            )
            answer = ocsp.load_der_ocsp_response(
                await csms.app.blocks.require(PkiService).ocsp("station", request)
            )
            assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED

            async def logged() -> bool:
                page = await _json(csms, f"/api/v1/security-events?stationId={STATION}&limit=200")
                infos = " | ".join(f"{e['type']}: {e.get('techInfo')}" for e in page["items"])
                return "revoked (CRL)" in infos

            await _until("the refused handshake's security event", logged, 10)
            page = await _json(csms, f"/api/v1/security-events?stationId={STATION}&limit=200")
            types = {e["type"] for e in page["items"]}
            assert {
                "SecurityProfileUpgradeStep",
                "SecurityProfileRaised",
                "CertificateRevoked",
                "InvalidChargingStationCertificate",
                "AuthenticationFailed",
            } <= types, types
        finally:
            await runtime.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
