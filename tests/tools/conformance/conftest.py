"""Chargeplane's own CSMS, in-process on SQLite and loopback, as the system under test of the csms cases."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.smart_charging.settings import SmartChargingSettings
from chargeplane.csms.clock import utc_now
from chargeplane.pki.ca import ROOT_CERT, CertificateAuthority
from chargeplane.tools.conformance.adapter import ChargeplaneAdapter
from chargeplane.tools.conformance.declaration import Configured
from chargeplane.tools.conformance.runner import load_cases
from chargeplane.transport.security import CertificateFiles, TlsSettings
from tests import migrated_databases
from tests.csms.blocks.pki.contract_fake import FakeContractService
from tests.csms.conftest import PASSWORD, RunningCsms, settings_for
from tests.transport import certs

load_cases()

STATION_ID = "CONFORMANCE-1"


@pytest.fixture
async def csms(tmp_path: Path) -> AsyncIterator[RunningCsms]:
    # A short Pending interval so that TC_B_02 does not wait a minute; the master pass group of the C16 cases.
    database = migrated_databases.sqlite_url(tmp_path)
    master_pass = AuthorizationSettings(master_pass_group=Configured().master_pass_group_id)
    # The CSMS's CA (A02 cases): station and V2G sub-CAs of the organisation the tool's CSRs name.
    for kind in ("station", "v2g"):
        CertificateAuthority.init(tmp_path / "ca" / kind, Configured().organization_name, now=utc_now())
    # M01/M02 (TC_M_26 / M_28): the CSMS forwards Get15118EVCertificate to a loopback contract-certificate service
    contracts = FakeContractService()
    contract_server = await asyncio.start_server(contracts.serve, "127.0.0.1", 0)
    contracts.port = contract_server.sockets[0].getsockname()[1]
    pki = PkiSettings(ca_dir=tmp_path / "ca", contract_service_url=contracts.url)
    # The tool expects each case's messages only: no GetChargingProfiles after a boot (a certification run
    # turns the reconciliation off likewise).
    smart = SmartChargingSettings(reconcile_on_boot=False)
    settings = settings_for(database, ProvisioningSettings(boot_retry_interval=1), master_pass, pki, smart)
    # A wss listener beside the ws one, for the TLS cases (TC_A_04, A_06, A_07, A_19): see the csms_tls fixture.
    # An ECDSA and an RSA server certificate (all four cipher suites, A00.FR.421); station certificates of
    # the CSMS's station CA are asked for (security profile 3, TC_A_07 / A_08).
    authority = certs.make_ca(tmp_path, TLS_CA)
    server = certs.issue(authority, tmp_path, "localhost", server=True)
    server_rsa = certs.issue(authority, tmp_path, "localhost-rsa", server=True, rsa_key=True)
    client_ca = tmp_path / "ca" / "station" / ROOT_CERT
    tls_settings = TlsSettings(certificates=(server, server_rsa), client_ca=client_ca)
    tls = dataclasses.replace(settings.ocpp, tls_port=0, tls=tls_settings)
    app = Csms(dataclasses.replace(settings, ocpp=tls))
    token = await app.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}", timeout=30.0) as client:
            yield RunningCsms(app, client, token)
    finally:
        await app.stop(deadline=1.0)
        contract_server.close()


TLS_CA = "conformance-root"


@dataclass(frozen=True)
class CsmsTls:
    tls_url: str  # the CSMS's wss endpoint
    ca_file: Path  # the CA its server certificate is issued by
    client_certificate: CertificateFiles  # a station certificate of the CSMS's station CA (profile 3)


@pytest.fixture
def csms_tls(csms: RunningCsms, tmp_path: Path) -> CsmsTls:
    authority = CertificateAuthority.load(tmp_path / "ca" / "station")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, Configured().organization_name),
            x509.NameAttribute(NameOID.COMMON_NAME, STATION_ID),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
    leaf = authority.issue(csr, now=utc_now(), days=30)
    files = CertificateFiles(tmp_path / "station_client.crt", tmp_path / "station_client.key")
    files.certificate.write_text(authority.chain(leaf))
    files.private_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    url = f"wss://127.0.0.1:{csms.app.server.ports[1]}/ocpp"
    return CsmsTls(url, tmp_path / f"{TLS_CA}.pem", files)


@pytest.fixture
async def adapter(csms: RunningCsms) -> AsyncIterator[ChargeplaneAdapter]:
    client = httpx.AsyncClient(base_url=str(csms.api.base_url), headers=csms.auth, timeout=15.0)
    async with client:
        yield ChargeplaneAdapter(client)


class Operator:
    """Stands in for the person at the terminal of an interactive adapter: records each prompt, presses Enter."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.asked.append(prompt)
        return ""


__all__ = ["PASSWORD", "STATION_ID"]
