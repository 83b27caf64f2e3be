"""ISO 15118 certificate management on the station: M01/M02 (the EV's contract certificate request forwarded
with Get15118EVCertificate, the answer back to the EV) and M06 (OCSP status of the V2G chain, cached)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID
from msgspec import UNSET

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.iso15118 import Iso15118
from chargeplane.station.core.model import ContractHash, EvCertificateAnswer, Failure
from chargeplane.station.core.storage import MemoryStorage
from chargeplane.tools.conformance.pki import Issued, hash_data, same_certificate
from tests.station.core.helpers import T0, M, Rig, make_rig, set_var
from tests.station.core.pki import DAY, issue

EXI = base64.b64encode(b"CertificateInstallationReq").decode()
URL = "http://ocsp.example/v2g"


def _ev_answer(reply: Payload | Failure | None) -> Rig:
    rig = make_rig(answer=lambda r, now: reply if isinstance(r, M.Get15118EVCertificateRequest) else None)
    rig.do("ev_certificate_request", 1, "Install", EXI)
    return rig


def test_M01_FR_01_install_is_forwarded_and_the_answer_goes_to_the_ev() -> None:
    rig = _ev_answer(M.Get15118EVCertificateResponse(status="Accepted", exi_response="UkVT"))
    [request] = rig.of(M.Get15118EVCertificateRequest)
    assert (request.action, request.exi_request) == ("Install", EXI)
    assert request.iso15118_schema_version == "urn:iso:15118:2:2013:MsgDef"
    assert rig.actions[-1] == EvCertificateAnswer(1, "Install", True, "UkVT")


def test_M02_FR_01_update_is_forwarded_with_action_update() -> None:
    rig = make_rig()
    rig.auto = False
    rig.do("ev_certificate_request", 1, "Update", EXI)
    assert [r.action for r in rig.of(M.Get15118EVCertificateRequest)] == ["Update"]


def test_M01_failed_timeout_and_offline_all_tell_the_ev_it_failed() -> None:
    failed = _ev_answer(M.Get15118EVCertificateResponse(status="Failed", exi_response=""))
    assert failed.actions[-1] == EvCertificateAnswer(1, "Install", False, "")
    timed_out = _ev_answer(Failure("timeout"))
    assert timed_out.actions[-1] == EvCertificateAnswer(1, "Install", False, "")
    offline = make_rig(online=False)
    offline.do("ev_certificate_request", 1, "Install", EXI)
    assert offline.of(M.Get15118EVCertificateRequest) == []
    assert offline.actions[-1] == EvCertificateAnswer(1, "Install", False, "")


def test_M01_installation_disabled_refuses_without_asking() -> None:
    rig = make_rig()
    set_var(rig, "ISO15118Ctrlr", "ContractCertificateInstallationEnabled", "false")
    rig.do("ev_certificate_request", 1, "Install", EXI)
    assert rig.of(M.Get15118EVCertificateRequest) == []
    assert rig.actions[-1] == EvCertificateAnswer(1, "Install", False, "")


def _v2g_chain(rig: Rig) -> tuple[Issued, Issued, Issued]:
    """A V2GCertificate signed into the station (A02): leaf and sub-CA name an OCSP responder."""
    root = issue("V2G root")
    sub = issue("CPO sub-CA", root, ocsp_url=URL + "/root")
    rig.handle(M.InstallCertificateRequest(certificate_type="V2GRootCertificate", certificate=root.pem))
    rig.handle(M.TriggerMessageRequest(requested_message="SignV2GCertificate"))
    csr = x509.load_pem_x509_csr(rig.of(M.SignCertificateRequest)[-1].csr.encode())
    key = csr.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    name = str(csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)
    leaf = issue(name, sub, ca=False, public_key=key, ocsp_url=URL)
    signed = M.CertificateSignedRequest(
        certificate_chain=leaf.pem + sub.pem, certificate_type="V2GCertificate"
    )
    assert rig.handle(signed).status == "Accepted"
    for certificate, issuer in ((leaf, sub), (sub, root)):
        ISSUERS[format(certificate.certificate.serial_number, "x")] = (certificate, issuer)
    return root, sub, leaf


ISSUERS: dict[str, tuple[Issued, Issued]] = {}  # serial -> (certificate, its issuer), for the OCSP answers
ANSWERED: dict[str, str] = {}  # serial -> the OCSP response (base64 DER) the CSMS gave


def signed_ocsp(certificate: Issued, issuer: Issued, signer: Issued | None = None) -> str:
    """A "good" OCSP response about ``certificate``, signed by ``signer`` (by default its issuer)."""
    signer = signer or issuer
    response = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert=certificate.certificate,
            issuer=issuer.certificate,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=T0,
            next_update=None,
            revocation_time=None,
            revocation_reason=None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, signer.certificate)
        .sign(signer.key, hashes.SHA256())
    )
    return base64.b64encode(response.public_bytes(serialization.Encoding.DER)).decode()


def answered(certificate: Issued) -> str:
    return ANSWERED[format(certificate.certificate.serial_number, "x")]


def _ocsp_answer(status: str) -> Callable[[Payload, datetime], Payload | None]:
    def answer(request: Payload, now: datetime) -> Payload | None:
        if not isinstance(request, M.GetCertificateStatusRequest):
            return None
        if status in ("Accepted", "Forged"):
            serial = request.ocsp_request_data.serial_number
            certificate, issuer = ISSUERS[serial]
            forger = issue(issuer.certificate.subject.rfc4514_string()) if status == "Forged" else None
            ANSWERED[serial] = signed_ocsp(certificate, issuer, forger)
            return M.GetCertificateStatusResponse(status="Accepted", ocsp_result=ANSWERED[serial])
        return M.GetCertificateStatusResponse(status="Failed")

    return answer


def test_M06_FR_06_07_a_new_v2g_certificate_gets_its_chain_status_cached() -> None:
    rig = make_rig(answer=_ocsp_answer("Accepted"))
    root, sub, leaf = _v2g_chain(rig)
    rig.advance(1)
    asked = rig.of(M.GetCertificateStatusRequest)
    assert [a.ocsp_request_data.responder_url for a in asked] == [URL, URL + "/root"]
    for request, (certificate, issuer) in zip(asked, [(leaf, sub), (sub, root)], strict=True):
        data = request.ocsp_request_data
        assert same_certificate(data, hash_data(certificate.certificate, issuer.certificate))
    iso = rig.core.ctx.get(Iso15118)
    assert iso.ocsp_response(format(leaf.certificate.serial_number, "x")) == answered(leaf)
    assert iso.ocsp_response(format(sub.certificate.serial_number, "x")) == answered(sub)
    rig.clear()
    rig.advance(6 * 86400)
    assert rig.of(M.GetCertificateStatusRequest) == []
    rig.advance(1 * 86400 + 60)  # M06.FR.10: at least weekly
    assert len(rig.of(M.GetCertificateStatusRequest)) == 2


def test_M06_FR_04_failed_keeps_nothing_and_retries_later() -> None:
    rig = make_rig(answer=_ocsp_answer("Failed"))
    _, _, leaf = _v2g_chain(rig)
    rig.advance(1)
    assert len(rig.of(M.GetCertificateStatusRequest)) == 2
    assert rig.core.ctx.get(Iso15118).ocsp_response(format(leaf.certificate.serial_number, "x")) is None
    rig.clear()
    rig.advance(3600 + 1)
    assert len(rig.of(M.GetCertificateStatusRequest)) == 2


def test_M06_FR_08_an_answer_not_signed_by_the_issuer_is_not_cached() -> None:
    """The station staples the cached answer for EVs: one the certificate's issuer did not sign (a CSMS or a
    path between that forged it) is treated like a failure and asked again later."""
    rig = make_rig(answer=_ocsp_answer("Forged"))
    _, _, leaf = _v2g_chain(rig)
    rig.advance(1)
    assert len(rig.of(M.GetCertificateStatusRequest)) == 2
    assert rig.core.ctx.get(Iso15118).ocsp_response(format(leaf.certificate.serial_number, "x")) is None
    rig.clear()
    rig.answer = _ocsp_answer("Accepted")
    rig.advance(3600 + 1)
    assert rig.core.ctx.get(Iso15118).ocsp_response(format(leaf.certificate.serial_number, "x")) == answered(
        leaf
    )


def test_M06_cache_survives_a_restart() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage, answer=_ocsp_answer("Accepted"))
    _, _, leaf = _v2g_chain(rig)
    rig.advance(1)
    again = make_rig(storage)
    assert again.core.ctx.get(Iso15118).ocsp_response(
        format(leaf.certificate.serial_number, "x")
    ) == answered(leaf)
    again.advance(60)
    assert again.of(M.GetCertificateStatusRequest) == []  # not asked again before the week is over


def test_no_iso15118_on_1_6() -> None:
    rig = make_rig(version=Version.V16)
    rig.do("ev_certificate_request", 1, "Install", EXI)
    assert rig.actions[-1] == EvCertificateAnswer(1, "Install", False, "")


# ---------------------------------------------------------------------- C07: the station's check of the chain

CONTRACT = (ContractHash("SHA256", "aa" * 32, "bb" * 32, "1f2e3d", URL),)


def _contract(**kwargs: object) -> tuple[Issued, str]:
    mo_root = issue("MO root")
    leaf = issue("DECPLC1234567", mo_root, ca=False, **kwargs)  # type: ignore[arg-type]
    return mo_root, leaf.pem


def _present(rig: Rig, pem: str) -> None:
    rig.do("ev_plugged", 1, 1)
    rig.do("contract_presented", "DECPLC1234567", CONTRACT, evse_id=1, certificate=pem)


def test_C07_FR_02_a_chain_the_station_validates_goes_as_ocsp_data_only() -> None:
    rig = make_rig()
    mo_root, pem = _contract()
    rig.handle(M.InstallCertificateRequest(certificate_type="MORootCertificate", certificate=mo_root.pem))
    _present(rig, pem)
    [request] = rig.of(M.AuthorizeRequest)
    assert request.id_token.type == "eMAID"
    assert [d.serial_number for d in request.iso15118_certificate_hash_data] == ["1f2e3d"]
    assert request.certificate is UNSET


def test_C07_FR_06_without_the_root_the_chain_goes_to_the_csms_when_allowed() -> None:
    rig = make_rig()
    _, pem = _contract()
    _present(rig, pem)
    assert rig.of(M.AuthorizeRequest) == []  # CentralContractValidationAllowed false: refused locally
    rig.do("ev_unplugged", 1)
    set_var(rig, "ISO15118Ctrlr", "CentralContractValidationAllowed", "true")
    _present(rig, pem)
    [request] = rig.of(M.AuthorizeRequest)
    assert request.certificate == pem


def test_C07_an_expired_contract_or_pnc_disabled_is_refused_locally() -> None:
    rig = make_rig()
    mo_root, pem = _contract(not_after=T0 - DAY)
    rig.handle(M.InstallCertificateRequest(certificate_type="MORootCertificate", certificate=mo_root.pem))
    _present(rig, pem)
    assert rig.of(M.AuthorizeRequest) == []
    rig.do("ev_unplugged", 1)
    set_var(rig, "ISO15118Ctrlr", "PnCEnabled", "false")
    rig.do("ev_plugged", 1, 1)
    rig.do("contract_presented", "DECPLC1234567", CONTRACT, evse_id=1)
    assert rig.of(M.AuthorizeRequest) == []


def test_C07_FR_08_12_offline_a_valid_contract_is_an_unknown_id() -> None:
    rig = make_rig()
    mo_root, pem = _contract()
    rig.handle(M.InstallCertificateRequest(certificate_type="MORootCertificate", certificate=mo_root.pem))
    set_var(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    rig.do("connection_closed")
    _present(rig, pem)
    assert rig.core.transaction(1) is None  # C07.FR.07: ContractValidationOffline false
    rig.do("ev_unplugged", 1)
    rig.core.model.put(VariableKey("ISO15118Ctrlr", "ContractValidationOffline"), "true")
    _present(rig, pem)
    assert rig.core.transaction(1) is not None  # C07.FR.12
    assert rig.of(M.AuthorizeRequest) == []


def test_a_lost_connection_fails_the_waiting_ev_and_retries_the_ocsp_refresh() -> None:
    rig = make_rig()
    rig.auto = False
    rig.do("ev_certificate_request", 1, "Install", EXI)
    _, _, leaf = _v2g_chain_unanswered(rig)
    rig.advance(1)
    assert len(rig.of(M.GetCertificateStatusRequest)) == 2
    rig.do("connection_closed")
    assert EvCertificateAnswer(1, "Install", False, "") in rig.actions
    rig.auto = True
    rig.answer = _ocsp_answer("Accepted")
    rig.do("connection_opened")
    rig.advance(3600 + 1)
    assert rig.core.ctx.get(Iso15118).ocsp_response(format(leaf.certificate.serial_number, "x")) == answered(
        leaf
    )


def _v2g_chain_unanswered(rig: Rig) -> tuple[Issued, Issued, Issued]:
    """:func:`_v2g_chain` while the rig does not answer by itself: its own CALLs answered by hand."""
    rig.auto = True
    chain = _v2g_chain(rig)
    rig.auto = False
    return chain
