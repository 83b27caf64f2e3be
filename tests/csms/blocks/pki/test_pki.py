"""The PKI block against peer stations from the ``ocpp`` package (1.6 security extension, 2.0.1, 2.1) that make
real CSRs, on SQLite and PostgreSQL: A02/A03 signing, renewal, CRL and OCSP, M03-M06."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from ocpp.routing import after, on

from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.clock import ManualClock, utc_now
from chargeplane.pki.ca import CertificateAuthority, PrivateKey, generate_key
from chargeplane.pki.contract import ContractAnswer, ContractRequest
from chargeplane.pki.hashes import hash_data
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]
ORG = "Acme Charging"


def make_csr(common_name: str, organisation: str = ORG, key: PrivateKey | None = None) -> str:
    key = key or generate_key("ec-p256")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
async def pki_csms(database_url: str, tmp_path: Path) -> AsyncIterator[RunningCsms]:
    ca_dir = tmp_path / "ca"
    CertificateAuthority.init(ca_dir / "station", ORG, now=utc_now())
    CertificateAuthority.init(ca_dir / "v2g", ORG, algorithm="ec-p256", name="V2G", now=utc_now())
    settings = settings_for(database_url, PkiSettings(ca_dir=ca_dir, certificate_days=90))
    async with running(settings, ManualClock()) as csms:
        yield csms


def station_class(version: str) -> Any:
    module = MODULES[version]
    call, result = module.call, module.call_result
    trigger = "ExtendedTriggerMessage" if version == "1.6" else "TriggerMessage"

    class CertificateStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Makes a CSR when triggered, keeps what CertificateSigned brings, holds CA certificates."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.chains: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            self.signed_answer = "Accepted"
            self.triggers: list[str] = []
            self.organisation = ORG
            self.installed: list[tuple[str, str]] = []
            self.deleted: list[dict[str, Any]] = []
            self.keys: list[PrivateKey] = []

        async def sign(self, certificate_type: str | None = None) -> Any:
            key = generate_key("ec-p256")
            self.keys.append(key)  # the new key pair stays on the station (A02.FR.02)
            csr = make_csr(self.id, self.organisation, key)
            if version == "1.6":
                return await self.call(call.SignCertificate(csr=csr))
            return await self.call(call.SignCertificate(csr=csr, certificate_type=certificate_type))

        @on(trigger)
        def on_trigger(self, requested_message: str, **_: Any) -> Any:
            self.triggers.append(requested_message)
            if version == "1.6":
                return result.ExtendedTriggerMessage(status="Accepted")
            return result.TriggerMessage(status="Accepted")

        @after(trigger)
        async def after_trigger(self, requested_message: str, **_: Any) -> None:
            kinds = {"SignV2GCertificate": "V2GCertificate", "SignCombinedCertificate": None}
            await self.sign(kinds.get(requested_message, "ChargingStationCertificate"))

        @on("CertificateSigned")
        def certificate_signed(self, certificate_chain: str, **rest: Any) -> Any:
            self.chains.put_nowait({"chain": certificate_chain, **rest})
            return result.CertificateSigned(status=self.signed_answer)

        @on("InstallCertificate")
        def install_certificate(self, certificate_type: str, certificate: str, **_: Any) -> Any:
            self.installed.append((certificate_type, certificate))
            return result.InstallCertificate(status="Accepted")

        @on("DeleteCertificate")
        def delete_certificate(self, certificate_hash_data: dict[str, Any], **_: Any) -> Any:
            self.deleted.append(certificate_hash_data)
            return result.DeleteCertificate(status="Accepted")

        @on("GetInstalledCertificateIds")
        def installed_ids(self, certificate_type: Any = None, **_: Any) -> Any:
            hashes_of = []
            for kind, pem in self.installed:
                data = hash_data(x509.load_pem_x509_certificate(pem.encode()), None).wire()
                data = {
                    "hash_algorithm": data["hashAlgorithm"],
                    "issuer_name_hash": data["issuerNameHash"],
                    "issuer_key_hash": data["issuerKeyHash"],
                    "serial_number": data["serialNumber"],
                }
                hashes_of.append((kind, data))
            if version == "1.6":
                found = [d for k, d in hashes_of if k == certificate_type]
                if not found:
                    return result.GetInstalledCertificateIds(status="NotFound")
                return result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data=found)
            chains = [
                {"certificate_type": k, "certificate_hash_data": d}
                for k, d in hashes_of
                if certificate_type is None or k in certificate_type
            ]
            if not chains:
                return result.GetInstalledCertificateIds(status="NotFound")
            return result.GetInstalledCertificateIds(status="Accepted", certificate_hash_data_chain=chains)

    return CertificateStation


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, url, headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


def _chain(text: str) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(text.encode())


def _ca(csms: RunningCsms, kind: str = "station") -> CertificateAuthority:
    found = csms.app.blocks.require(PkiService).authority(kind)
    assert found is not None
    return found


@pytest.mark.parametrize("version", VERSIONS)
async def test_A03_sign_certificate_is_checked_signed_and_delivered_with_the_chain(
    pki_csms: RunningCsms, version: str
) -> None:
    """A03 (and TC_A_11_CSMS's second half): the station's CSR is accepted, signed by the sub-CA and sent back
    in CertificateSigned with the sub-CA; the certificate is in the inventory with the station's answer."""
    await pki_csms.add_station("PKI1")
    async with peer(pki_csms.ocpp_url, "PKI1", version, station_class=station_class(version)) as station:
        await boot(station, version)
        answer = await station.sign("ChargingStationCertificate")
        assert answer.status == "Accepted"
        delivered = await asyncio.wait_for(station.chains.get(), 5)
        await asyncio.sleep(0.2)  # the answer is recorded after the station replied
    leaf, sub = _chain(delivered["chain"])
    ca = _ca(pki_csms)
    assert sub == ca.sub
    leaf.verify_directly_issued_by(ca.sub)
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "PKI1"
    if version != "1.6":
        assert delivered["certificate_type"] == "ChargingStationCertificate"
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert not usage.key_cert_sign
    with pytest.raises(x509.ExtensionNotFound):  # A00.FR.513: no extended key usage
        leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    inventory = await _json(pki_csms, "GET", "/api/v1/stations/PKI1/certificates")
    [issued] = inventory["issued"]
    assert issued["serial"] == format(leaf.serial_number, "x")
    assert issued["deliveryStatus"] == "Accepted"
    assert issued["status"] == "issued"
    assert inventory["signRequests"][0]["status"] == "Accepted"
    assert inventory["signRequests"][0]["outcome"] == "Accepted"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_A02_FR_07_csr_with_wrong_organisation_is_rejected(pki_csms: RunningCsms, version: str) -> None:
    await pki_csms.add_station("PKI2")
    async with peer(pki_csms.ocpp_url, "PKI2", version, station_class=station_class(version)) as station:
        await boot(station, version)
        station.organisation = "Someone Else"
        answer = await station.sign("ChargingStationCertificate")
        assert answer.status == "Rejected"
        await asyncio.sleep(0.3)
        assert station.chains.empty()  # nothing is signed
    inventory = await _json(pki_csms, "GET", "/api/v1/stations/PKI2/certificates")
    assert inventory["issued"] == []
    [refused] = inventory["signRequests"]
    assert refused["status"] == "Rejected"
    assert "organisation" in refused["reason"]


async def test_A02_csr_for_another_station_and_garbage_are_rejected(pki_csms: RunningCsms) -> None:
    await pki_csms.add_station("PKI3")
    call = MODULES["2.0.1"].call
    async with peer(pki_csms.ocpp_url, "PKI3", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        other = await station.call(call.SignCertificate(csr=make_csr("PKI-OTHER")))
        assert other.status == "Rejected"
        assert other.status_info["reason_code"] == "InvalidCSR"
        garbage = await station.call(call.SignCertificate(csr="-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"))
        assert garbage.status == "Rejected"


async def test_TC_A_14_certificate_the_station_rejects_is_revoked(pki_csms: RunningCsms) -> None:
    await pki_csms.add_station("PKI4")
    async with peer(pki_csms.ocpp_url, "PKI4", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        station.signed_answer = "Rejected"
        assert (await station.sign("ChargingStationCertificate")).status == "Accepted"
        await asyncio.wait_for(station.chains.get(), 5)
        await asyncio.sleep(0.3)
    [issued] = (await _json(pki_csms, "GET", "/api/v1/stations/PKI4/certificates"))["issued"]
    assert issued["deliveryStatus"] == "Rejected"
    assert issued["status"] == "revoked"


@pytest.mark.parametrize("version", VERSIONS)
async def test_A02_renewal_job_triggers_a_new_csr_before_expiry(pki_csms: RunningCsms, version: str) -> None:
    """TC_A_11_CSMS as a job: 30 days (renew_before_days) before the certificate expires the CSMS asks for a
    new CSR (TriggerMessage / ExtendedTriggerMessage), signs it, and asks once only."""
    service = pki_csms.app.blocks.require(PkiService)
    await pki_csms.add_station("PKI5")
    async with peer(pki_csms.ocpp_url, "PKI5", version, station_class=station_class(version)) as station:
        await boot(station, version)
        await station.sign("ChargingStationCertificate")
        first = await asyncio.wait_for(station.chains.get(), 5)
        clock = service.clock
        assert isinstance(clock, ManualClock)
        await service.renew(clock.now())  # 90 days left: nothing to do
        assert station.triggers == []
        later = clock.advance(timedelta(days=90 - 29))  # 29 days left: within renew_before_days (30)
        await service.renew(later)
        expected = "SignChargePointCertificate" if version == "1.6" else "SignChargingStationCertificate"
        assert station.triggers == [expected]
        second = await asyncio.wait_for(station.chains.get(), 5)
        assert _chain(second["chain"])[0] != _chain(first["chain"])[0]
        await asyncio.sleep(0.2)
        await service.renew(later)  # the renewed one is newest and far from expiry; the old one was asked
        assert station.triggers == [expected]


async def test_renew_route_and_v2g_certificate(pki_csms: RunningCsms) -> None:
    """TC_A_12_CSMS: a V2G certificate is signed by the V2G CA; its CN need not be the station's identity."""
    await pki_csms.add_station("PKI6")
    async with peer(pki_csms.ocpp_url, "PKI6", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        body = {"certificateType": "V2GCertificate"}
        answer = await _json(pki_csms, "POST", "/api/v1/stations/PKI6/certificates/renew", json=body)
        assert answer == {"status": "Accepted"}
        delivered = await asyncio.wait_for(station.chains.get(), 5)
    assert station.triggers == ["SignV2GCertificate"]
    _, sub = _chain(delivered["chain"])
    assert sub == _ca(pki_csms, "v2g").sub
    assert delivered["certificate_type"] == "V2GCertificate"


async def _ocsp_status(
    csms: RunningCsms, leaf: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPResponse:
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA256()).build()
    der = request.public_bytes(serialization.Encoding.DER)
    response = await csms.api.post(
        "/api/v1/pki/station/ocsp", content=der, headers={"Content-Type": "application/ocsp-request"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/ocsp-response"
    encoded = base64.urlsafe_b64encode(der).decode()  # GET (RFC 6960 A.1) answers the same
    by_get = await csms.api.get(f"/api/v1/pki/station/ocsp/{encoded}")
    assert (
        ocsp.load_der_ocsp_response(by_get.content).certificate_status
        == ocsp.load_der_ocsp_response(response.content).certificate_status
    )
    return ocsp.load_der_ocsp_response(response.content)


async def test_revocation_shows_in_crl_and_ocsp_and_GetCertificateStatus(pki_csms: RunningCsms) -> None:
    """CRL and OCSP of our CA verified with ``cryptography``; M06 GetCertificateStatus through a real OCSP
    request to the responder the certificate names (ours): good, then revoked."""
    await pki_csms.add_station("PKI7")
    ca = _ca(pki_csms)
    call = MODULES["2.0.1"].call
    async with peer(pki_csms.ocpp_url, "PKI7", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        await station.sign("ChargingStationCertificate")
        leaf, _ = _chain((await asyncio.wait_for(station.chains.get(), 5))["chain"])
        good = await _ocsp_status(pki_csms, leaf, ca.sub)
        assert good.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
        ca.sub.public_key().verify(good.signature, good.tbs_response_bytes, _ecdsa())  # type: ignore[call-arg,arg-type]
        responder = leaf.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        url = str(responder[0].access_location.value)
        data = hash_data(leaf, ca.sub)
        request_data = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": data.issuer_name_hash,
            "issuer_key_hash": data.issuer_key_hash,
            "serial_number": data.serial_number,
            "responder_url": url,
        }
        status = await station.call(call.GetCertificateStatus(ocsp_request_data=request_data))
        assert status.status == "Accepted"
        assert ocsp.load_der_ocsp_response(base64.b64decode(status.ocsp_result)).certificate_status == (
            ocsp.OCSPCertStatus.GOOD
        )
        serial = format(leaf.serial_number, "x")
        revoked = await _json(
            pki_csms,
            "POST",
            f"/api/v1/pki/station/certificates/{serial}/revoke",
            json={"reason": "keyCompromise"},
        )
        assert revoked["status"] == "revoked"
        bad = await _ocsp_status(pki_csms, leaf, ca.sub)
        assert bad.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert bad.revocation_reason == x509.ReasonFlags.key_compromise
        pki_csms.app.blocks.require(
            PkiService
        )._ocsp_cache.clear()  # the cached good answer lasts till nextUpdate
        status = await station.call(call.GetCertificateStatus(ocsp_request_data=request_data))
        assert ocsp.load_der_ocsp_response(base64.b64decode(status.ocsp_result)).certificate_status == (
            ocsp.OCSPCertStatus.REVOKED
        )
        unreachable = dict(request_data, responder_url="http://127.0.0.1:9/ocsp")
        failed = await station.call(call.GetCertificateStatus(ocsp_request_data=unreachable))
        assert failed.status == "Failed"
    crl_response = await pki_csms.api.get("/api/v1/pki/station/crl")
    assert crl_response.status_code == 200
    crl = x509.load_der_x509_crl(crl_response.content)
    assert crl.is_signature_valid(ca.sub.public_key())  # type: ignore[arg-type]
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry is not None
    assert (await pki_csms.api.get("/api/v1/pki/other/crl")).status_code == 404


def _ecdsa() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.ECDSA(hashes.SHA256())


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_M03_M04_M05_install_query_delete_follow_the_answers(
    pki_csms: RunningCsms, version: str
) -> None:
    await pki_csms.add_station("PKI8")
    root_type = "CentralSystemRootCertificate" if version == "1.6" else "CSMSRootCertificate"
    root_pem = (await _json(pki_csms, "GET", "/api/v1/pki/station/ca"))["root"]
    async with peer(pki_csms.ocpp_url, "PKI8", version, station_class=station_class(version)) as station:
        await boot(station, version)
        body = {"certificateType": root_type, "certificate": root_pem}
        assert await _json(pki_csms, "POST", "/api/v1/stations/PKI8/certificates/install", json=body) == {
            "status": "Accepted"
        }
        assert station.installed == [(root_type, root_pem)]
        inventory = await _json(pki_csms, "GET", "/api/v1/stations/PKI8/certificates")
        [installed] = inventory["installed"]
        assert installed["certificateType"] == root_type
        query = await _json(pki_csms, "POST", "/api/v1/stations/PKI8/certificates/query", json={})
        assert query == {"status": "Accepted"}
        [reported] = (await _json(pki_csms, "GET", "/api/v1/stations/PKI8/certificates"))["installed"]
        assert reported["serialNumber"] == installed["serialNumber"]
        hash_body = {
            k: reported[k] for k in ("hashAlgorithm", "issuerNameHash", "issuerKeyHash", "serialNumber")
        }
        deleted = await _json(pki_csms, "POST", "/api/v1/stations/PKI8/certificates/delete", json=hash_body)
        assert deleted == {"status": "Accepted"}
        assert station.deleted[0]["serial_number"] == reported["serialNumber"]
        inventory = await _json(pki_csms, "GET", "/api/v1/stations/PKI8/certificates")
        assert inventory["installed"] == []
        assert [op["action"] for op in inventory["operations"]][-1] == "InstallCertificate"
    bad = {"certificateType": root_type, "certificate": "not a certificate"}
    await _json(pki_csms, "POST", "/api/v1/stations/PKI8/certificates/install", status=400, json=bad)
    leaf = _ca(pki_csms).issue(x509.load_pem_x509_csr(make_csr("PKI8").encode()), now=utc_now(), days=1)
    body = {
        "certificateType": root_type,
        "certificate": leaf.public_bytes(serialization.Encoding.PEM).decode(),
    }
    answer = await _json(
        pki_csms, "POST", "/api/v1/stations/PKI8/certificates/install", status=400, json=body
    )
    assert "not a CA certificate" in answer["detail"]  # a station certificate is no CA certificate
    await _json(pki_csms, "GET", "/api/v1/stations/NOPE/certificates", status=404)


async def test_no_ca_rejects_and_api_says_so(database_url: str, tmp_path: Path) -> None:
    settings = settings_for(database_url, PkiSettings(ca_dir=tmp_path / "empty"))
    async with running(settings) as csms:
        await csms.add_station("PKI9")
        async with peer(csms.ocpp_url, "PKI9", "2.0.1", station_class=station_class("2.0.1")) as station:
            await boot(station, "2.0.1")
            assert (await station.sign("ChargingStationCertificate")).status == "Rejected"
        await _json(csms, "GET", "/api/v1/pki/station/ca", status=409)


class OperatorCa:
    """An operator's own CA (the ExternalCa protocol), made by ``external_ca = "<this module>:operator_ca"``."""

    def __init__(self, directory: Path) -> None:
        self.ca = CertificateAuthority.init(directory, ORG, name="Operator", now=utc_now())
        self.signed: list[tuple[str, str]] = []

    def sign(
        self, csr: x509.CertificateSigningRequest, certificate_type: str, station_id: str
    ) -> list[x509.Certificate]:
        self.signed.append((certificate_type, station_id))
        return [self.ca.issue(csr, now=utc_now(), days=10), self.ca.sub]


OPERATOR_CAS: list[OperatorCa] = []


def operator_ca(settings: PkiSettings) -> OperatorCa:
    assert settings.ca_dir is not None
    made = OperatorCa(settings.ca_dir / "operator")
    OPERATOR_CAS.append(made)
    return made


async def test_an_external_ca_signs_the_checked_csr(database_url: str, tmp_path: Path) -> None:
    pki = PkiSettings(ca_dir=tmp_path / "ca", organisation=ORG, external_ca=f"{__name__}:operator_ca")
    async with running(settings_for(database_url, pki)) as csms:
        external = OPERATOR_CAS[-1]
        await csms.add_station("PKI10")
        async with peer(csms.ocpp_url, "PKI10", "2.0.1", station_class=station_class("2.0.1")) as station:
            await boot(station, "2.0.1")
            assert (await station.sign("ChargingStationCertificate")).status == "Accepted"
            delivered = await asyncio.wait_for(station.chains.get(), 5)
            station.organisation = "Evil"
            assert (await station.sign("ChargingStationCertificate")).status == "Rejected"  # checked first
    leaf, sub = _chain(delivered["chain"])
    assert sub == external.ca.sub
    leaf.verify_directly_issued_by(external.ca.sub)
    assert external.signed == [("ChargingStationCertificate", "PKI10")]


async def test_M07_certificate_chain_status_through_ocsp_and_crl(pki_csms: RunningCsms) -> None:
    """2.1 GetCertificateChainStatus: OCSP (M07.FR.01-03) and CRL (M07.FR.04-07) against our own responder and
    CRL; a URL that does not answer gives Failed (M07.FR.02 / 05); each entry names what it answers."""
    await pki_csms.add_station("PKI11")
    ca = _ca(pki_csms)
    call = MODULES["2.1"].call
    async with peer(pki_csms.ocpp_url, "PKI11", "2.1", station_class=station_class("2.1")) as station:
        await boot(station, "2.1")
        await station.sign("ChargingStationCertificate")
        leaf, _ = _chain((await asyncio.wait_for(station.chains.get(), 5))["chain"])
        await asyncio.sleep(0.2)
        urls = pki_csms.app.blocks.require(PkiService).urls("station")
        data = hash_data(leaf, ca.sub)
        hash_wire = {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": data.issuer_name_hash,
            "issuer_key_hash": data.issuer_key_hash,
            "serial_number": data.serial_number,
        }

        async def ask(*entries: tuple[str, list[str]]) -> list[dict[str, Any]]:
            requests = [{"certificate_hash_data": hash_wire, "source": s, "urls": u} for s, u in entries]
            answer = await station.call(call.GetCertificateChainStatus(certificate_status_requests=requests))
            return list(answer.certificate_status)

        dead = "http://127.0.0.1:9/nothing"
        good = await ask(("OCSP", [dead, str(urls.ocsp)]), ("CRL", [str(urls.crl)]), ("CRL", [dead]))
        assert [(a["source"], a["status"]) for a in good] == [
            ("OCSP", "Good"),
            ("CRL", "Good"),
            ("CRL", "Failed"),
        ]
        assert all(a["certificate_hash_data"]["serial_number"] == data.serial_number for a in good)
        serial = format(leaf.serial_number, "x")
        await _json(pki_csms, "POST", f"/api/v1/pki/station/certificates/{serial}/revoke", json={})
        revoked = await ask(("OCSP", [str(urls.ocsp)]), ("CRL", [str(urls.crl)]))
        assert [a["status"] for a in revoked] == ["Revoked", "Revoked"]


class RecordingBackend:
    """A contract-certificate backend for the test: answers an EXI response made from what it was asked."""

    def __init__(self) -> None:
        self.asked: list[ContractRequest] = []

    async def certificate(self, request: ContractRequest) -> ContractAnswer:
        self.asked.append(request)
        return ContractAnswer(
            True, base64.b64encode(b"res:" + base64.b64decode(request.exi_request)).decode()
        )


BACKENDS: list[RecordingBackend] = []
SCHEMA = "urn:iso:15118:2:2013:MsgDef"


def recording_backend(settings: PkiSettings) -> RecordingBackend:
    BACKENDS.append(RecordingBackend())
    return BACKENDS[-1]


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_M01_M02_ev_certificate_requests_go_to_the_contract_backend(
    database_url: str, tmp_path: Path, version: str
) -> None:
    pki = PkiSettings(ca_dir=tmp_path / "ca", contract_backend=f"{__name__}:recording_backend")
    call = MODULES[version].call
    exi = base64.b64encode(b"CertificateInstallationReq").decode()
    async with running(settings_for(database_url, pki)) as csms:
        backend = BACKENDS[-1]
        await csms.add_station("PKI12")
        async with peer(csms.ocpp_url, "PKI12", version) as station:
            await boot(station, version)
            for action in ("Install", "Update"):
                schema = {
                    "iso_15118_schema_version" if version == "2.1" else "iso15118_schema_version": SCHEMA
                }
                answer = await station.call(
                    call.Get15118EVCertificate(action=action, exi_request=exi, **schema)
                )
                assert answer.status == "Accepted"
                assert base64.b64decode(answer.exi_response) == b"res:CertificateInstallationReq"
    assert [(r.station_id, r.action, r.exi_request) for r in backend.asked] == [
        ("PKI12", "Install", exi),
        ("PKI12", "Update", exi),
    ]


async def test_M01_without_a_contract_backend_the_answer_is_failed(pki_csms: RunningCsms) -> None:
    await pki_csms.add_station("PKI13")
    call = MODULES["2.0.1"].call
    async with peer(pki_csms.ocpp_url, "PKI13", "2.0.1") as station:
        await boot(station, "2.0.1")
        answer = await station.call(
            call.Get15118EVCertificate(
                iso15118_schema_version="urn:iso:15118:2:2013:MsgDef", action="Install", exi_request="AA=="
            )
        )
    assert answer.status == "Failed"
    assert answer.status_info["reason_code"] == "NoContractCert"


async def test_A02_FR_27_hash_root_certificate_names_the_pki(pki_csms: RunningCsms) -> None:
    """2.1: a V2G CSR with hashRootCertificate is signed when it names our V2G root, refused otherwise; the
    CertificateSigned echoes the requestId (A02.FR.25)."""
    await pki_csms.add_station("PKI14")
    call = MODULES["2.1"].call
    root = hash_data(_ca(pki_csms, "v2g").root, None, "SHA384").wire()
    ours = {
        "hash_algorithm": root["hashAlgorithm"],
        "issuer_name_hash": root["issuerNameHash"],
        "issuer_key_hash": root["issuerKeyHash"],
        "serial_number": root["serialNumber"],
    }
    other = dict(ours, serial_number="1234")
    async with peer(pki_csms.ocpp_url, "PKI14", "2.1", station_class=station_class("2.1")) as station:
        await boot(station, "2.1")
        refused = await station.call(
            call.SignCertificate(
                csr=make_csr("SECC-1"),
                certificate_type="V2GCertificate",
                hash_root_certificate=other,
                request_id=7,
            )
        )
        assert refused.status == "Rejected"
        accepted = await station.call(
            call.SignCertificate(
                csr=make_csr("SECC-1"),
                certificate_type="V2GCertificate",
                hash_root_certificate=ours,
                request_id=8,
            )
        )
        assert accepted.status == "Accepted"
        delivered = await asyncio.wait_for(station.chains.get(), 5)
    assert delivered["request_id"] == 8
    assert delivered["certificate_type"] == "V2GCertificate"


async def test_an_accepted_csr_is_signed_after_a_restart(pki_csms: RunningCsms) -> None:
    """The CSR is stored with its Accepted answer: a delivery job that starts (after a restart) signs the
    accepted CSRs not signed yet."""
    service = pki_csms.app.blocks.require(PkiService)
    await pki_csms.add_station("PKI15")
    async with peer(pki_csms.ocpp_url, "PKI15", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        now = service.clock.now()
        await service.repository.add_sign_request(
            "PKI15", "ChargingStationCertificate", None, "Accepted", None, now, make_csr("PKI15")
        )
        job = asyncio.create_task(service.deliver())  # as at the start of a CSMS
        try:
            delivered = await asyncio.wait_for(station.chains.get(), 5)
            await asyncio.sleep(0.2)
        finally:
            job.cancel()
    leaf, _ = _chain(delivered["chain"])
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "PKI15"
    assert await service.repository.pending_sign_requests() == []


async def test_A02_combined_certificate_without_certificate_type(pki_csms: RunningCsms) -> None:
    """No certificateType: one certificate for both connections, signed by the station CA; CertificateSigned
    carries no certificateType either (A02.FR.14); renewed with SignCombinedCertificate."""
    await pki_csms.add_station("PKI16")
    async with peer(pki_csms.ocpp_url, "PKI16", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        body = {"certificateType": "CombinedCertificate"}
        answer = await _json(pki_csms, "POST", "/api/v1/stations/PKI16/certificates/renew", json=body)
        assert answer == {"status": "Accepted"}
        delivered = await asyncio.wait_for(station.chains.get(), 5)
        await asyncio.sleep(0.2)
    assert station.triggers == ["SignCombinedCertificate"]
    assert delivered.get("certificate_type") is None
    _, sub = _chain(delivered["chain"])
    assert sub == _ca(pki_csms).sub
    [issued] = (await _json(pki_csms, "GET", "/api/v1/stations/PKI16/certificates"))["issued"]
    assert (issued["certificateType"], issued["deliveryStatus"]) == ("CombinedCertificate", "Accepted")


class ChainStation(MODULES["2.0.1"].ChargePoint):  # type: ignore[misc,name-defined]
    """Holds a V2G certificate chain: its leaf and one sub-CA (childCertificateHashData)."""

    @on("GetInstalledCertificateIds")
    def installed_ids(self, certificate_type: Any = None, **_: Any) -> Any:
        def data(serial: str) -> dict[str, str]:
            return {
                "hash_algorithm": "SHA256",
                "issuer_name_hash": "AA" * 32,
                "issuer_key_hash": "BB" * 32,
                "serial_number": serial,
            }

        chain = {
            "certificate_type": "V2GCertificateChain",
            "certificate_hash_data": data("0A1"),
            "child_certificate_hash_data": [data("B2")],
        }
        return MODULES["2.0.1"].call_result.GetInstalledCertificateIds(
            status="Accepted", certificate_hash_data_chain=[chain]
        )


async def test_M03_FR_05_a_v2g_chain_is_kept_with_its_sub_cas(pki_csms: RunningCsms) -> None:
    await pki_csms.add_station("PKI17")
    async with peer(pki_csms.ocpp_url, "PKI17", "2.0.1", station_class=ChainStation) as station:
        await boot(station, "2.0.1")
        body = {"certificateTypes": ["V2GCertificateChain"]}
        assert await _json(pki_csms, "POST", "/api/v1/stations/PKI17/certificates/query", json=body) == {
            "status": "Accepted"
        }
    installed = (await _json(pki_csms, "GET", "/api/v1/stations/PKI17/certificates"))["installed"]
    assert [(i["serialNumber"], i["childOf"], i["issuerNameHash"]) for i in installed] == [
        ("a1", None, "aa" * 32),  # normalised: lower case, no leading zeros
        ("b2", "a1", "aa" * 32),
    ]
