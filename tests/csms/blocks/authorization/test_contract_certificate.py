"""C07 (ISO 15118 Plug & Charge authorization), CSMS side: an Authorize with iso15118CertificateHashData has the
contract certificate checked by OCSP at our MO CA's responder, against peer stations of the ``ocpp`` package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from chargeplane.csms.blocks.authorization.service import TokenDecision, contract_answer
from chargeplane.csms.blocks.pki.service import PkiService
from chargeplane.csms.blocks.pki.settings import PkiSettings
from chargeplane.csms.clock import ManualClock, utc_now
from chargeplane.pki.ca import CertificateAuthority, generate_key
from chargeplane.pki.hashes import hash_data
from chargeplane.tools.conformance.pki import chain_pem, issue
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["2.0.1", "2.1"]
EMAID = "DECPLC1234567"


@pytest.fixture
async def mo_csms(database_url: str, tmp_path: Path) -> AsyncIterator[RunningCsms]:
    ca_dir = tmp_path / "ca"
    CertificateAuthority.init(ca_dir / "station", "Acme Charging", now=utc_now())
    CertificateAuthority.init(ca_dir / "mo", "Mobility Op", name="MO", now=utc_now())
    async with running(settings_for(database_url, PkiSettings(ca_dir=ca_dir)), ManualClock()) as csms:
        yield csms


async def contract_hash_data(csms: RunningCsms, emaid: str) -> list[dict[str, str]]:
    """A contract certificate from our MO CA (the EV's), as the station passes it on (C07.FR.02)."""
    service = csms.app.blocks.require(PkiService)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, emaid),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mobility Op"),
        ]
    )
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(generate_key("ec-p256"), hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    _, chain = await service.issue(x509.load_pem_x509_csr(pem), "mo", "ContractCertificate", None, "test")
    data = hash_data(chain[0], chain[1])
    url = service.urls("mo").ocsp
    assert url is not None
    return [
        {
            "hash_algorithm": "SHA256",
            "issuer_name_hash": data.issuer_name_hash,
            "issuer_key_hash": data.issuer_key_hash,
            "serial_number": data.serial_number,
            "responder_url": url,
        }
    ]


async def authorize(station: Any, version: str, emaid: str, chain: list[dict[str, str]] | None) -> Any:
    call = MODULES[version].call
    token = {"id_token": emaid, "type": "eMAID"}
    if chain is None:
        return await station.call(call.Authorize(id_token=token))
    field = "iso_15118_certificate_hash_data" if version == "2.1" else "iso15118_certificate_hash_data"
    return await station.call(call.Authorize(id_token=token, **{field: chain}))


@pytest.mark.parametrize("version", VERSIONS)
async def test_C07_FR_05_13_14_16_17_contract_checked_by_ocsp(mo_csms: RunningCsms, version: str) -> None:
    await mo_csms.add_station("PNC1")
    response = await mo_csms.api.post(
        "/api/v1/id-tokens", json={"idToken": EMAID, "type": "eMAID"}, headers=mo_csms.auth
    )
    assert response.status_code == 201, response.text
    chain = await contract_hash_data(mo_csms, EMAID)
    service = mo_csms.app.blocks.require(PkiService)
    async with peer(mo_csms.ocpp_url, "PNC1", version) as station:
        await boot(station, version)
        good = await authorize(station, version, EMAID, chain)  # C07.FR.14
        assert (good.certificate_status, good.id_token_info["status"]) == ("Accepted", "Accepted")
        unknown = await authorize(station, version, "DECPLC0000000", chain)  # C07.FR.13: eMAID not accepted
        assert unknown.certificate_status == "ContractCancelled"
        assert unknown.id_token_info["status"] != "Accepted"
        plain = await authorize(station, version, EMAID, None)  # no certificate: no certificateStatus
        assert plain.certificate_status is None
        broken = [dict(chain[0], responder_url="http://127.0.0.1:9/ocsp")]  # C07.FR.17: cannot be verified
        failed = await authorize(station, version, EMAID, broken)
        assert (failed.certificate_status, failed.id_token_info["status"]) == ("CertChainError", "Invalid")
        await service.revoke("mo", chain[0]["serial_number"], "keyCompromise")
        service._ocsp_cache.clear()  # the cached good answer would last till its nextUpdate (C07.FR.05)
        revoked = await authorize(station, version, EMAID, chain)  # C07.FR.16
        assert (revoked.certificate_status, revoked.id_token_info["status"]) == (
            "CertificateRevoked",
            "Invalid",
        )


def test_C07_FR_13_to_17_answer_rules() -> None:
    accepted, blocked = TokenDecision(status="Accepted"), TokenDecision(status="Blocked")
    assert contract_answer(accepted, "Accepted") == (accepted, "Accepted")
    assert contract_answer(TokenDecision(status="NotAtThisLocation"), "Accepted")[1] == "Accepted"
    assert contract_answer(blocked, "Accepted") == (blocked, "ContractCancelled")
    assert contract_answer(accepted, "CertificateExpired")[0].status == "Expired"
    assert contract_answer(accepted, "CertificateRevoked")[0].status == "Invalid"
    assert contract_answer(accepted, "CertChainError") == (TokenDecision(status="Invalid"), "CertChainError")


async def contract_pem(csms: RunningCsms, emaid: str) -> tuple[str, str]:
    """A contract chain from our MO CA in PEM (leaf, sub-CA) as a station passes it on (C07.FR.06), and the
    leaf's serial; the leaf names our MO CA's OCSP responder."""
    service = csms.app.blocks.require(PkiService)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, emaid)])
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(name)
        .sign(generate_key("ec-p256"), hashes.SHA256())
    )
    pem = csr.public_bytes(serialization.Encoding.PEM)
    _, chain = await service.issue(x509.load_pem_x509_csr(pem), "mo", "ContractCertificate", None, "test")
    text = "".join(c.public_bytes(serialization.Encoding.PEM).decode() for c in chain)
    return text, format(chain[0].serial_number, "x")


async def authorize_pem(station: Any, version: str, emaid: str, pem: str) -> Any:
    call = MODULES[version].call
    return await station.call(call.Authorize(id_token={"id_token": emaid, "type": "eMAID"}, certificate=pem))


@pytest.mark.parametrize("version", VERSIONS)
async def test_C07_FR_06_pem_chain_checked_by_the_csms(mo_csms: RunningCsms, version: str) -> None:
    await mo_csms.add_station("PNC2")
    for emaid, status in ((EMAID, "Accepted"), ("DECPLC7654321", "Blocked")):
        response = await mo_csms.api.post(
            "/api/v1/id-tokens",
            json={"idToken": emaid, "type": "eMAID", "status": status},
            headers=mo_csms.auth,
        )
        assert response.status_code == 201, response.text
    pem, serial = await contract_pem(mo_csms, EMAID)
    blocked_pem, _ = await contract_pem(mo_csms, "DECPLC7654321")
    foreign_root = issue("Foreign MO root", ca=True)
    foreign_sub = issue("Foreign MO sub-CA", foreign_root, ca=True)
    foreign = chain_pem(issue(EMAID, foreign_sub, ca=False).certificate, foreign_sub.certificate)
    service = mo_csms.app.blocks.require(PkiService)
    async with peer(mo_csms.ocpp_url, "PNC2", version) as station:
        await boot(station, version)
        good = await authorize_pem(station, version, EMAID, pem)  # C07.FR.14: our MO root, OCSP good
        assert (good.certificate_status, good.id_token_info["status"]) == ("Accepted", "Accepted")
        cancelled = await authorize_pem(station, version, "DECPLC7654321", blocked_pem)  # C07.FR.13
        assert (cancelled.certificate_status, cancelled.id_token_info["status"]) == (
            "ContractCancelled",
            "Blocked",
        )
        untrusted = await authorize_pem(station, version, EMAID, foreign)  # C07.FR.17: root not trusted
        assert (untrusted.certificate_status, untrusted.id_token_info["status"]) == (
            "CertChainError",
            "Invalid",
        )
        await service.revoke("mo", serial, "keyCompromise")
        service._ocsp_cache.clear()  # the good answer is cached till its nextUpdate (C07.FR.05)
        revoked = await authorize_pem(station, version, EMAID, pem)  # C07.FR.16
        assert (revoked.certificate_status, revoked.id_token_info["status"]) == (
            "CertificateRevoked",
            "Invalid",
        )


async def test_contract_roots_api(mo_csms: RunningCsms) -> None:
    listed = await mo_csms.api.get("/api/v1/pki/contract-roots", headers=mo_csms.auth)
    assert listed.status_code == 200
    assert len(listed.json()) == 1  # the root of our own MO CA
    root = issue("Foreign MO root", ca=True)
    for _ in range(2):  # twice: one entry
        added = await mo_csms.api.post(
            "/api/v1/pki/contract-roots", json={"certificate": root.pem}, headers=mo_csms.auth
        )
        assert added.status_code == 201, added.text
    assert len((await mo_csms.api.get("/api/v1/pki/contract-roots", headers=mo_csms.auth)).json()) == 2
    leaf = issue("Some leaf", root, ca=False)
    refused = await mo_csms.api.post(
        "/api/v1/pki/contract-roots", json={"certificate": leaf.pem}, headers=mo_csms.auth
    )
    assert refused.status_code == 400
    assert service_roots(mo_csms) == 2
    fingerprint = root.certificate.fingerprint(hashes.SHA256()).hex()
    removed = await mo_csms.api.delete(f"/api/v1/pki/contract-roots/{fingerprint}", headers=mo_csms.auth)
    assert removed.status_code == 204, removed.text
    assert service_roots(mo_csms) == 1
    again = await mo_csms.api.delete(f"/api/v1/pki/contract-roots/{fingerprint}", headers=mo_csms.auth)
    assert again.status_code == 404
    own = (await mo_csms.api.get("/api/v1/pki/contract-roots", headers=mo_csms.auth)).json()[0]["sha256"]
    kept = await mo_csms.api.delete(f"/api/v1/pki/contract-roots/{own}", headers=mo_csms.auth)
    assert kept.status_code == 409  # our own MO CA's root goes with its CA, not through this route
    assert service_roots(mo_csms) == 1


async def test_C07_FR_17_a_forged_ocsp_answer_is_no_answer(
    mo_csms: RunningCsms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone between the CSMS and the MO's responder answers "good" for a contract, signed with a key that
    is not the MO sub-CA's: the CSMS takes it for no answer (RFC 6960 §4.2.2.2) and the chain is not accepted."""
    pem, _ = await contract_pem(mo_csms, EMAID)
    leaf, sub = (x509.load_pem_x509_certificate(block.encode() + b"\n") for block in split_pem(pem))
    impostor_key = generate_key("ec-p256")
    impostor = (  # the sub-CA's name on another key
        x509.CertificateBuilder()
        .subject_name(sub.subject)
        .issuer_name(sub.subject)
        .public_key(impostor_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(sub.not_valid_before_utc)
        .not_valid_after(sub.not_valid_after_utc)
        .sign(impostor_key, hashes.SHA256())
    )
    forged = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=leaf,
            issuer=sub,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=utc_now(),
            next_update=None,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.NAME, impostor)
        .sign(impostor_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    service = mo_csms.app.blocks.require(PkiService)
    assert await service.contract_chain_status(pem, EMAID) == "Accepted"  # the real responder's answer
    service._ocsp_cache.clear()

    async def intercepted(url: str, request_der: bytes | None) -> httpx.Response:
        return httpx.Response(200, content=forged)

    monkeypatch.setattr(service, "_http", intercepted)
    assert await service.contract_chain_status(pem, EMAID) == "CertChainError"


def split_pem(pem: str) -> list[str]:
    return [part + "-----END CERTIFICATE-----" for part in pem.split("-----END CERTIFICATE-----")[:-1]]


def service_roots(csms: RunningCsms) -> int:
    return len(csms.app.blocks.require(PkiService).contract_roots())
