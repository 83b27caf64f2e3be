"""M01/M02 through the HTTP contract-certificate backend: the CSMS forwards the EV's EXI request to a loopback
contract-certificate service and passes its answer on; a service that is slow, broken or refusing gives Failed
with a statusInfo. The `ocpp` package plays the 2.0.1 station (it checks each answer against the OCA schema)."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ocsp

from chargeplane.csms.blocks.pki.block import load_contract_backend
from chargeplane.csms.blocks.pki.contract_service import HttpContractBackend
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.clock import ManualClock, utc_now
from chargeplane.csms.settings import SettingsError
from chargeplane.pki.ca import CertificateAuthority
from chargeplane.pki.contract import ContractRequest
from chargeplane.pki.hashes import hash_data
from tests.csms.blocks.pki.contract_fake import contract_service
from tests.csms.blocks.pki.test_pki import ORG, station_class
from tests.csms.conftest import running, settings_for
from tests.csms.peers import MODULES, boot, peer

SCHEMA = "urn:iso:15118:2:2013:MsgDef"
EXI = base64.b64encode(b"CertificateInstallationReq").decode()


def _request(action: str = "Install") -> ContractRequest:
    return ContractRequest("CS1", SCHEMA, action, EXI, 2, ("EMAID1",))


async def test_M01_the_service_is_asked_with_the_request_and_its_answer_passed_on() -> None:
    async with contract_service() as fake:
        answer = await HttpContractBackend(fake.url, 2.0).certificate(_request())
    assert answer.accepted
    assert base64.b64decode(answer.exi_response) == b"res:Install:CertificateInstallationReq"
    assert fake.asked == [
        {
            "stationId": "CS1",
            "exiRequest": EXI,
            "iso15118SchemaVersion": SCHEMA,
            "action": "Install",
            "maximumContractCertificateChains": 2,
            "prioritizedEMAIDs": ["EMAID1"],
        }
    ]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        ("hang", "Timeout"),
        ("error", "ServiceUnavailable"),
        ("garbage", "InvalidResponse"),
        ("refuse", "NoCertAvailable"),
    ],
)
async def test_M01_a_slow_broken_or_refusing_service_gives_failed_with_a_reason(
    mode: str, reason: str
) -> None:
    async with contract_service() as fake:
        fake.mode = mode  # type: ignore[assignment]
        answer = await HttpContractBackend(fake.url, 0.3).certificate(_request("Update"))
    assert (answer.accepted, answer.exi_response, answer.reason) == (False, "", reason)
    assert answer.detail


async def test_M01_an_unreachable_service_gives_failed() -> None:
    async with contract_service() as fake:
        url = fake.url  # the port is free again once the service is gone
    answer = await HttpContractBackend(url, 1.0).certificate(_request())
    assert (answer.accepted, answer.reason) == (False, "ServiceUnavailable")


def test_the_http_backend_is_the_default_when_a_service_is_configured(tmp_path: Path) -> None:
    assert load_contract_backend(PkiSettings(ca_dir=tmp_path)) is None
    backend = load_contract_backend(PkiSettings(ca_dir=tmp_path, contract_service_url="http://127.0.0.1:1/c"))
    assert isinstance(backend, HttpContractBackend)
    with pytest.raises(SettingsError):
        PkiSettings(ca_dir=tmp_path, contract_service_url="ftp://x")
    with pytest.raises(SettingsError):
        PkiSettings(ca_dir=tmp_path, contract_service_timeout=0)


async def test_ocpp_package_station_gets_ev_certificates_and_v2g_ocsp_status(
    database_url: str, tmp_path: Path
) -> None:
    """The `ocpp` package as a 2.0.1 station: Get15118EVCertificate Install and Update (M01/M02, TC_M_26/28)
    come back Accepted with the service's EXI, a refused one Failed with statusInfo; GetCertificateStatus for
    its V2G certificate (M06) carries a DER OCSP response of our V2G CA saying good."""
    ca_dir = tmp_path / "ca"
    CertificateAuthority.init(ca_dir / "station", ORG, now=utc_now())
    CertificateAuthority.init(ca_dir / "v2g", ORG, algorithm="ec-p256", name="V2G", now=utc_now())
    call = MODULES["2.0.1"].call
    async with contract_service() as fake:
        pki = PkiSettings(ca_dir=ca_dir, contract_service_url=fake.url, contract_service_timeout=2.0)
        async with running(settings_for(database_url, pki), ManualClock()) as csms:
            await csms.add_station("PKI30")
            kind = station_class("2.0.1")
            async with peer(csms.ocpp_url, "PKI30", "2.0.1", station_class=kind) as station:
                await boot(station, "2.0.1")
                for action in ("Install", "Update"):
                    answer = await station.call(
                        call.Get15118EVCertificate(
                            iso15118_schema_version=SCHEMA, action=action, exi_request=EXI
                        )
                    )
                    assert answer.status == "Accepted"
                    expected = f"res:{action}:CertificateInstallationReq".encode()
                    assert base64.b64decode(answer.exi_response) == expected
                fake.mode = "refuse"
                refused = await station.call(
                    call.Get15118EVCertificate(
                        iso15118_schema_version=SCHEMA, action="Install", exi_request=EXI
                    )
                )
                assert refused.status == "Failed"
                assert refused.status_info["reason_code"] == "NoCertAvailable"

                await station.sign("V2GCertificate")
                chain = x509.load_pem_x509_certificates(
                    (await asyncio.wait_for(station.chains.get(), 5))["chain"].encode()
                )
                leaf, issuer = chain[0], chain[1]
                data = hash_data(leaf, issuer)
                responder = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
                request_data = {
                    "hash_algorithm": "SHA256",
                    "issuer_name_hash": data.issuer_name_hash,
                    "issuer_key_hash": data.issuer_key_hash,
                    "serial_number": data.serial_number,
                    "responder_url": str(responder[0].access_location.value),
                }
                status = await station.call(call.GetCertificateStatus(ocsp_request_data=request_data))
            assert csms.app.blocks.require(PkiService).authority("v2g") is not None
    assert status.status == "Accepted"
    result = ocsp.load_der_ocsp_response(base64.b64decode(status.ocsp_result))
    assert result.certificate_status == ocsp.OCSPCertStatus.GOOD
    assert result.serial_number == leaf.serial_number
    assert [a["action"] for a in fake.asked] == ["Install", "Update", "Install"]
    assert all(a["stationId"] == "PKI30" for a in fake.asked)
