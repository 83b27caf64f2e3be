"""A02 through the runtime, on security profile 3: the station's CSR signed by the CSMS's CA comes back in
CertificateSigned; the station reconnects at once and presents the new certificate in its TLS handshake
(A02.FR.08-09)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from chargeplane.ocpp.messages import v201
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.security import SecurityProfile, StationSecurity, TlsSettings
from tests.transport import certs
from tests.transport.conftest import Directory, FakeCsms, csms_router, running_server

M = v201.messages


def _sign(csr_pem: str, ca: certs.Authority) -> str:
    csr = x509.load_pem_x509_csr(csr_pem.encode())
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(ca.key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


async def test_A02_FR_08_profile_3_station_reconnects_with_its_renewed_certificate(tmp_path: Path) -> None:
    ca = certs.make_ca(tmp_path, "csms-ca")
    server = certs.issue(ca, tmp_path, "localhost", server=True)
    tls = TlsSettings(certificates=(server,), client_ca=ca.path, operator_name="Chargeplane Test")
    presented: list[int] = []  # the serial of the client certificate of each connection
    csrs: asyncio.Queue[str] = asyncio.Queue()

    async def on_connect(connection: OcppConnection) -> None:
        ssl_object = connection.websocket.transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True)
        presented.append(x509.load_der_x509_certificate(der).serial_number)

    router = csms_router(Version.V201)

    def sign_certificate(request: M.SignCertificateRequest, conn: OcppConnection) -> Any:
        csrs.put_nowait(request.csr)
        return M.SignCertificateResponse(status="Accepted")

    router.register(M.SignCertificateRequest, sign_certificate)
    for action in (M.StatusNotificationRequest, M.SecurityEventNotificationRequest):
        response = getattr(M, action.__name__.replace("Request", "Response"))
        router.register(action, lambda request, conn, response=response: response())
    app = FakeCsms(on_connect=on_connect, routers={Version.V201: router})
    directory = Directory({"CS3": StationSecurity(SecurityProfile.TLS_CLIENT_CERTIFICATE)})
    factory = certs.issue(ca, tmp_path, "CS3")
    factory_serial = x509.load_pem_x509_certificate(factory.certificate.read_bytes()).serial_number
    async with running_server(directory, app, tls=tls) as harness:
        runtime = StationRuntime(
            RuntimeSettings(
                url=harness.tls_url,
                station_id="CS3",
                version=Version.V201,
                security_profile=3,
                ca_bundle=ca.path,
                client_certificate=factory,
                database=tmp_path / "station.db",
                backoff=BackOffSettings(0.2, 0.1, 1),
                variables={("SecurityCtrlr", "OrganizationName", None): "Chargeplane Test"},
            )
        )
        task = asyncio.create_task(runtime.run())
        try:
            await asyncio.wait_for(runtime.accepted.wait(), 10)
            assert presented == [factory_serial]
            connection = harness.server.connection_for("CS3")
            assert connection is not None
            trigger = M.TriggerMessageRequest(requested_message="SignChargingStationCertificate")
            assert (await connection.call(trigger)).status == "Accepted"  # type: ignore[attr-defined]
            csr = await asyncio.wait_for(csrs.get(), 10)
            chain = _sign(csr, ca)
            answer = await connection.call(M.CertificateSignedRequest(certificate_chain=chain))
            assert answer.status == "Accepted"  # type: ignore[attr-defined]
            renewed = x509.load_pem_x509_certificate(chain.encode()).serial_number
            for _ in range(200):
                if len(presented) > 1:
                    break
                await asyncio.sleep(0.05)
            assert presented[-1] == renewed
            key_file = tmp_path / "station.db.tls" / "station.key"
            assert key_file.stat().st_mode & 0o077 == 0  # the private key stays the owner's
        finally:
            await runtime.stop()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5)
