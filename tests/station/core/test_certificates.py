"""The station's certificates: CA certificates installed, listed and deleted (M03-M05, the 1.6 security
extension's messages), and its own certificate renewed with a CSR (A02/A03)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.certificates import Certificates
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.diagnostics import Diagnostics
from chargeplane.station.core.model import Reconnect
from chargeplane.station.core.storage import MemoryStorage
from chargeplane.tools.conformance.pki import Issued, hash_data, same_certificate
from tests.station.core.helpers import D16, M16, T0, D, M, Rig, make_rig, rig16, set_var
from tests.station.core.pki import DAY, issue


def install(rig: Rig, kind: str, certificate: Issued) -> str:
    response = rig.handle(M.InstallCertificateRequest(certificate_type=kind, certificate=certificate.pem))
    return str(response.status)


def listed(rig: Rig, *kinds: str) -> M.GetInstalledCertificateIdsResponse:
    request = (
        M.GetInstalledCertificateIdsRequest(certificate_type=list(kinds))
        if kinds
        else M.GetInstalledCertificateIdsRequest()
    )
    response: M.GetInstalledCertificateIdsResponse = rig.handle(request)
    return response


def entries(response: M.GetInstalledCertificateIdsResponse) -> list[tuple[str, D.CertificateHashDataType]]:
    return [
        (str(e.certificate_type), e.certificate_hash_data) for e in response.certificate_hash_data_chain or []
    ]


# ---------------------------------------------------------------------- M05 install, M03 list


def test_TC_M_01_M05_FR_02_M03_FR_04_installed_root_listed_with_its_hash_data() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    assert install(rig, "CSMSRootCertificate", root) == "Accepted"
    response = listed(rig, "CSMSRootCertificate")
    assert response.status == "Accepted"
    [(kind, data)] = entries(response)
    assert kind == "CSMSRootCertificate"
    assert data.hash_algorithm == "SHA256"
    assert same_certificate(data, hash_data(root.certificate))  # the tool's own computation agrees
    assert rig.core.model.value("SecurityCtrlr", "CertificateEntries") == "1"


def test_M03_FR_01_filter_by_type_and_all_types() -> None:
    rig = make_rig()
    install(rig, "CSMSRootCertificate", issue("CSMS root"))
    install(rig, "ManufacturerRootCertificate", issue("Manufacturer root"))
    assert [k for k, _ in entries(listed(rig, "ManufacturerRootCertificate"))] == [
        "ManufacturerRootCertificate"
    ]
    assert sorted(k for k, _ in entries(listed(rig))) == [
        "CSMSRootCertificate",
        "ManufacturerRootCertificate",
    ]


def test_TC_M_19_M03_FR_02_not_found_without_matches() -> None:
    rig = make_rig()
    response = listed(rig, "MORootCertificate")
    assert response.status == "NotFound"
    assert response.certificate_hash_data_chain is None or not response.certificate_hash_data_chain


def test_TC_M_07_M05_FR_07_expired_not_ca_or_garbage_rejected() -> None:
    rig = make_rig()
    expired = issue("old", not_before=T0 - 100 * DAY, not_after=T0 - DAY)
    assert install(rig, "CSMSRootCertificate", expired) == "Rejected"
    assert install(rig, "CSMSRootCertificate", issue("leaf", ca=False)) == "Rejected"
    response = rig.handle(
        M.InstallCertificateRequest(certificate_type="CSMSRootCertificate", certificate="junk")
    )
    assert response.status == "Rejected"
    assert listed(rig).status == "NotFound"


def test_M05_FR_17_installing_again_replaces() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    assert install(rig, "CSMSRootCertificate", root) == "Accepted"
    assert install(rig, "CSMSRootCertificate", root) == "Accepted"
    assert len(entries(listed(rig))) == 1


def test_M05_FR_06_certificate_entries_limit() -> None:
    rig = make_rig()
    for n in range(24):
        assert install(rig, "MORootCertificate", issue(f"MO root {n}")) == "Accepted"
    assert install(rig, "MORootCertificate", issue("one too many")) == "Rejected"
    assert rig.core.model.value("SecurityCtrlr", "CertificateEntries") == "24"


def test_M05_FR_10_12_additional_root_certificate_check() -> None:
    rig = make_rig()
    old = issue("CSMS root old")
    install(rig, "CSMSRootCertificate", old)
    rig.core.model.put(
        VariableKey("SecurityCtrlr", "AdditionalRootCertificateCheck"),
        "true",
    )
    assert install(rig, "CSMSRootCertificate", issue("not signed by the old")) == "Rejected"  # M05.FR.11
    new = issue("CSMS root new", old)
    assert install(rig, "CSMSRootCertificate", new) == "Accepted"  # M05.FR.12: the old one stays as fallback
    roots = rig.core.ctx.get(Certificates).roots("CSMSRootCertificate")
    assert {r.subject for r in roots} == {old.certificate.subject, new.certificate.subject}
    rig.core.ctx.get(Certificates).connected_with_new_root()  # M05.FR.13
    assert rig.core.ctx.get(Certificates).roots("CSMSRootCertificate") == [new.certificate]


def test_M05_FR_13_14_the_new_root_on_trial_then_the_fallback() -> None:
    rig = make_rig()
    old = issue("CSMS root old")
    install(rig, "CSMSRootCertificate", old)
    rig.core.model.put(VariableKey("SecurityCtrlr", "AdditionalRootCertificateCheck"), "true")
    assert rig.core.csms_trust() == ([old.certificate], False)  # no fallback: nothing on trial
    new = issue("CSMS root new", old)
    assert install(rig, "CSMSRootCertificate", new) == "Accepted"
    assert rig.core.csms_trust() == ([new.certificate], True)  # M05.FR.13: the new root alone first
    rig.core.tls_refused("InvalidCsmsCertificate", True, T0, "certificate verify failed")
    assert not [e for e in rig.core.ctx.get(Diagnostics).security_log if e.type == "InvalidCsmsCertificate"]
    roots, trial = rig.core.csms_trust()  # M05.FR.14: the old one too from now on
    assert not trial
    assert set(roots) == {old.certificate, new.certificate}
    rig.core.tls_connected(False)  # verified with both: the fallback stays
    assert len(rig.core.csms_roots()) == 2
    again = make_rig(storage=rig.storage)  # the next boot tries the new root alone again
    assert again.core.csms_trust() == ([new.certificate], True)
    again.core.tls_connected(True)  # M05.FR.13: it worked, the fallback goes
    assert again.core.csms_roots() == [new.certificate]


def test_reprovision_replaces_the_csms_roots_and_their_fallback() -> None:
    rig = make_rig()
    old = issue("CSMS root old")
    install(rig, "CSMSRootCertificate", old)
    install(rig, "ManufacturerRootCertificate", issue("Manufacturer root"))
    rig.core.model.put(VariableKey("SecurityCtrlr", "AdditionalRootCertificateCheck"), "true")
    install(rig, "CSMSRootCertificate", issue("CSMS root new", old))  # the old one kept as fallback
    other = issue("Another CSMS root")
    assert rig.core.reprovision_csms_roots(other.pem, T0) == 1
    assert rig.core.csms_trust() == ([other.certificate], False)  # no fallback left to try
    assert len(rig.core.ctx.get(Certificates).roots("ManufacturerRootCertificate")) == 1


def test_A00_FR_310_316_tls_refusals_reported_once_until_connected() -> None:
    rig = make_rig()
    for _ in range(3):
        rig.core.tls_refused("InvalidCsmsCertificate", False, T0, "certificate verify failed")
    rig.core.tls_refused("InvalidTLSVersion", False, T0, "unsupported protocol")
    rig.do("connection_opened")
    rig.core.tls_refused("InvalidCsmsCertificate", False, T0, "certificate verify failed")
    logged = [e.type for e in rig.core.ctx.get(Diagnostics).security_log if e.type.startswith("Invalid")]
    assert logged == ["InvalidCsmsCertificate", "InvalidTLSVersion", "InvalidCsmsCertificate"]


def test_certificates_survive_a_restart() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    root = issue("Manufacturer root")
    install(rig, "ManufacturerRootCertificate", root)
    again = make_rig(storage=storage)
    assert again.core.ctx.get(Certificates).roots("ManufacturerRootCertificate") == [root.certificate]


def test_2_1_oem_root() -> None:
    rig = make_rig(version=Version.V21)
    root = issue("OEM root")
    response = rig.handle(
        v21.messages.InstallCertificateRequest(certificate_type="OEMRootCertificate", certificate=root.pem)
    )
    assert response.status == "Accepted"
    listing = rig.handle(
        v21.messages.GetInstalledCertificateIdsRequest(certificate_type=["OEMRootCertificate"])
    )
    assert listing.status == "Accepted"


# ---------------------------------------------------------------------- M04 delete


def _delete(rig: Rig, data: D.CertificateHashDataType) -> str:
    return str(rig.handle(M.DeleteCertificateRequest(certificate_hash_data=data)).status)


def test_TC_M_20_M04_FR_02_delete_then_gone() -> None:
    rig = make_rig()
    root = issue("CSMS root 2")
    install(rig, "CSMSRootCertificate", root)
    [(_, data)] = entries(listed(rig, "CSMSRootCertificate"))
    assert _delete(rig, data) == "Accepted"
    assert listed(rig, "CSMSRootCertificate").status == "NotFound"
    assert rig.core.model.value("SecurityCtrlr", "CertificateEntries") == "0"


def test_M04_FR_07_other_hash_algorithm_and_serial_forms() -> None:
    rig = make_rig()
    root = issue("Manufacturer root")
    install(rig, "ManufacturerRootCertificate", root)
    data = hash_data(root.certificate, None, "SHA384")
    upper = D.CertificateHashDataType(
        hash_algorithm="SHA384",
        issuer_name_hash=data.issuer_name_hash.upper(),
        issuer_key_hash=data.issuer_key_hash.upper(),
        serial_number="00" + data.serial_number,
    )
    assert _delete(rig, upper) == "Accepted"


def test_TC_M_22_M04_FR_04_not_found() -> None:
    rig = make_rig()
    install(rig, "CSMSRootCertificate", issue("CSMS root"))
    other = hash_data(issue("unknown").certificate)
    assert _delete(rig, other) == "NotFound"


def test_M04_FR_03_last_csms_root_kept_on_a_tls_profile() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    rig.core.model.put(VariableKey("SecurityCtrlr", "SecurityProfile"), "2")
    assert _delete(rig, hash_data(root.certificate)) == "Failed"
    second = issue("CSMS root 2")
    install(rig, "CSMSRootCertificate", second)
    assert _delete(rig, hash_data(root.certificate)) == "Accepted"  # another root remains


# ---------------------------------------------------------------------- 1.6 security extension


def test_1_6_install_list_delete() -> None:
    rig = rig16()
    root = issue("Central system root")
    answer = rig.handle(
        M16.InstallCertificateRequest(certificate_type="CentralSystemRootCertificate", certificate=root.pem)
    )
    assert answer.status == "Accepted"
    listing = rig.handle(
        M16.GetInstalledCertificateIdsRequest(certificate_type="CentralSystemRootCertificate")
    )
    assert listing.status == "Accepted"
    [data] = listing.certificate_hash_data
    assert same_certificate(data, hash_data(root.certificate))
    empty = rig.handle(M16.GetInstalledCertificateIdsRequest(certificate_type="ManufacturerRootCertificate"))
    assert empty.status == "NotFound"
    wire = D16.CertificateHashDataType(
        hash_algorithm="SHA256",
        issuer_name_hash=data.issuer_name_hash,
        issuer_key_hash=data.issuer_key_hash,
        serial_number=data.serial_number,
    )
    assert rig.handle(M16.DeleteCertificateRequest(certificate_hash_data=wire)).status == "Accepted"
    assert rig.handle(M16.DeleteCertificateRequest(certificate_hash_data=wire)).status == "NotFound"


# ---------------------------------------------------------------------- A02 / A03


def _csr(rig: Rig) -> x509.CertificateSigningRequest:
    request = rig.of(M.SignCertificateRequest)[-1]
    return x509.load_pem_x509_csr(request.csr.encode())


def _sign(csr: x509.CertificateSigningRequest, ca: Issued, **kwargs: object) -> Issued:
    public_key = csr.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    name = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return issue(str(name), ca, ca=False, public_key=public_key, **kwargs)  # type: ignore[arg-type]


def _trigger(rig: Rig, what: str = "SignChargingStationCertificate") -> None:
    assert rig.handle(M.TriggerMessageRequest(requested_message=what)).status == "Accepted"


def test_TC_A_11_A02_FR_02_03_trigger_sends_a_csr_with_the_station_subject() -> None:
    rig = make_rig()
    set_var(rig, "SecurityCtrlr", "OrganizationName", "Acme CPO")
    _trigger(rig)
    [request] = rig.of(M.SignCertificateRequest)
    assert request.certificate_type == "ChargingStationCertificate"
    csr = _csr(rig)
    assert csr.is_signature_valid
    assert csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == rig.core.layout.serial_number
    assert csr.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme CPO"
    assert "PRIVATE" not in request.csr  # A02.FR.05


def test_A02_FR_06_certificate_signed_accepted_and_used() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    _trigger(rig)
    signed = _sign(_csr(rig), root)
    chain = signed.pem
    answer = rig.handle(
        M.CertificateSignedRequest(certificate_chain=chain, certificate_type="ChargingStationCertificate")
    )
    assert answer.status == "Accepted"
    own = rig.core.ctx.get(Certificates).station_certificate("ChargingStationCertificate", rig.now)
    assert own is not None
    assert own.leaf == signed.certificate
    assert "PRIVATE KEY" in own.key_pem
    # M04.FR.06: the station certificate cannot be deleted
    data = hash_data(signed.certificate, root.certificate)
    assert _delete(rig, data) == "Failed"


def test_A02_FR_07_invalid_certificates_rejected_with_a_security_event() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    cases = [
        lambda csr: issue("someone else", root, ca=False).pem,  # not the CSR's key
        lambda csr: _sign(csr, root, not_before=T0 - 30 * DAY, not_after=T0 - DAY).pem,  # expired
        lambda csr: _sign(csr, issue("unknown root")).pem,  # outside the operator's hierarchy
        lambda csr: "not a certificate",
    ]
    for make in cases:
        _trigger(rig)
        rig.clear()
        answer = rig.handle(M.CertificateSignedRequest(certificate_chain=make(_csr_from(rig))))
        assert answer.status == "Rejected"
        [event] = rig.of(M.SecurityEventNotificationRequest)
        assert event.type == "InvalidChargingStationCertificate"
    assert rig.core.ctx.get(Certificates).own == []


def _csr_from(rig: Rig) -> x509.CertificateSigningRequest:
    pending = rig.core.ctx.get(Certificates).pending["ChargingStationCertificate"]
    return x509.load_pem_x509_csr(pending.csr_pem.encode())


def test_A02_FR_07_no_signing_request_waiting() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    answer = rig.handle(M.CertificateSignedRequest(certificate_chain=issue("x", root, ca=False).pem))
    assert answer.status == "Rejected"


def test_A02_FR_16_chain_too_long() -> None:
    rig = make_rig()
    rig.core.model.put(VariableKey("SecurityCtrlr", "MaxCertificateChainSize"), "100")
    _trigger(rig)
    answer = rig.handle(M.CertificateSignedRequest(certificate_chain=_sign(_csr(rig), issue("r")).pem))
    assert answer.status == "Rejected"


def test_A02_FR_17_19_resend_with_doubling_back_off_then_stop() -> None:
    rig = make_rig()
    set_var(rig, "SecurityCtrlr", "CertSigningWaitMinimum", "10")
    set_var(rig, "SecurityCtrlr", "CertSigningRepeatTimes", "2")

    def accept(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, M.SignCertificateRequest):
            return M.SignCertificateResponse(status="Accepted")
        return None

    rig.answer = accept
    _trigger(rig)
    assert len(rig.of(M.SignCertificateRequest)) == 1
    rig.advance(9)
    assert len(rig.of(M.SignCertificateRequest)) == 1
    rig.advance(2)  # 10 s: the first resend
    assert len(rig.of(M.SignCertificateRequest)) == 2
    rig.advance(18)
    assert len(rig.of(M.SignCertificateRequest)) == 2
    rig.advance(2)  # then 20 s later (t = 30 s) the second
    assert len(rig.of(M.SignCertificateRequest)) == 3
    rig.advance(38)
    assert len(rig.of(M.SignCertificateRequest)) == 3
    rig.advance(2)  # the back-off doubled twice (RepeatTimes 2): 40 s later (t = 70 s) the third
    assert len(rig.of(M.SignCertificateRequest)) == 4
    rig.advance(200)  # A02.FR.19: no more
    assert len(rig.of(M.SignCertificateRequest)) == 4
    csrs = {r.csr for r in rig.of(M.SignCertificateRequest)}
    assert len(csrs) == 1  # the same CSR each time


def test_A02_rejected_csr_is_not_resent() -> None:
    rig = make_rig()

    def reject(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, M.SignCertificateRequest):
            return M.SignCertificateResponse(status="Rejected")
        return None

    rig.answer = reject
    _trigger(rig)
    rig.advance(3600)
    assert len(rig.of(M.SignCertificateRequest)) == 1


def test_A03_V2G_certificate_and_chain_listing() -> None:
    rig = make_rig()
    v2g_root = issue("V2G root")
    sub_ca = issue("CPO sub-CA", v2g_root)
    install(rig, "V2GRootCertificate", v2g_root)
    _trigger(rig, "SignV2GCertificate")
    [request] = rig.of(M.SignCertificateRequest)
    assert request.certificate_type == "V2GCertificate"
    leaf = _sign(_csr(rig), sub_ca)
    answer = rig.handle(
        M.CertificateSignedRequest(certificate_chain=leaf.pem + sub_ca.pem, certificate_type="V2GCertificate")
    )
    assert answer.status == "Accepted"
    response = listed(rig, "V2GCertificateChain")
    [entry] = response.certificate_hash_data_chain
    assert same_certificate(entry.certificate_hash_data, hash_data(leaf.certificate, sub_ca.certificate))
    [child] = entry.child_certificate_hash_data
    assert same_certificate(child, hash_data(sub_ca.certificate, v2g_root.certificate))


def test_A03_FR_02_renewal_a_month_before_expiry_once() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    _trigger(rig)
    signed = _sign(_csr(rig), root, not_after=T0 + 40 * DAY)
    assert rig.handle(M.CertificateSignedRequest(certificate_chain=signed.pem)).status == "Accepted"
    rig.clear()
    rig.advance(9 * 86400)
    assert rig.of(M.SignCertificateRequest) == []
    rig.advance(2 * 86400)  # now within 30 days of expiry
    assert len(rig.of(M.SignCertificateRequest)) == 1


def test_A02_FR_08_profile_3_reconnects_with_the_new_certificate() -> None:
    rig = make_rig()
    rig.core.model.put(VariableKey("SecurityCtrlr", "SecurityProfile"), "3")
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    _trigger(rig)
    signed = _sign(_csr(rig), root, not_before=T0 + timedelta(seconds=60))
    assert rig.handle(M.CertificateSignedRequest(certificate_chain=signed.pem)).status == "Accepted"
    assert not [a for a in rig.actions if isinstance(a, Reconnect)]
    rig.advance(61)  # once its validity has started
    assert [a for a in rig.actions if isinstance(a, Reconnect)]


def test_TC_A_13_A00_FR_428_combined_certificate_stored_for_both_uses() -> None:
    rig = make_rig()
    rig.core.model.put(VariableKey("SecurityCtrlr", "SecurityProfile"), "3")
    install(rig, "CSMSRootCertificate", issue("CSMS root"))
    v2g_root = issue("V2G root")
    install(rig, "V2GRootCertificate", v2g_root)
    _trigger(rig, "SignCombinedCertificate")
    [request] = rig.of(M.SignCertificateRequest)
    assert request.certificate_type is UNSET  # one certificate for both connections: no type
    assert _csr(rig).is_signature_valid
    signed = _sign(_csr(rig), v2g_root)  # the V2G hierarchy signs it (TC_A_13_CS)
    assert rig.handle(M.CertificateSignedRequest(certificate_chain=signed.pem)).status == "Accepted"
    certificates = rig.core.ctx.get(Certificates)
    for kind in ("ChargingStationCertificate", "V2GCertificate"):
        own = certificates.station_certificate(kind, rig.now)
        assert own is not None
        assert own.leaf == signed.certificate
        assert own.combined
    assert certificates.pending == {}
    rig.advance(1)
    assert [a for a in rig.actions if isinstance(a, Reconnect)]  # A02.FR.08: the TLS connection uses it
    [entry] = listed(rig, "V2GCertificateChain").certificate_hash_data_chain
    assert same_certificate(entry.certificate_hash_data, hash_data(signed.certificate, v2g_root.certificate))


def test_A00_FR_428_combined_certificate_outside_both_hierarchies_rejected() -> None:
    rig = make_rig()
    install(rig, "CSMSRootCertificate", issue("CSMS root"))
    install(rig, "V2GRootCertificate", issue("V2G root"))
    _trigger(rig, "SignCombinedCertificate")
    signed = _sign(_csr(rig), issue("unknown root"))
    assert rig.handle(M.CertificateSignedRequest(certificate_chain=signed.pem)).status == "Rejected"
    assert rig.core.ctx.get(Certificates).own == []


def test_A03_FR_02_combined_certificate_renewed_once_as_combined() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    _trigger(rig, "SignCombinedCertificate")
    signed = _sign(_csr(rig), root, not_after=T0 + 40 * DAY)
    assert rig.handle(M.CertificateSignedRequest(certificate_chain=signed.pem)).status == "Accepted"
    rig = make_rig(storage=storage)  # a restart keeps it combined
    rig.clear()
    rig.advance(11 * 86400)  # within 30 days of expiry: one CSR for both kinds, still without a type
    [renewal] = rig.of(M.SignCertificateRequest)
    assert renewal.certificate_type is UNSET
    rig.advance(86400)
    assert len(rig.of(M.SignCertificateRequest)) == 1


def test_certificate_signed_without_type_for_a_station_csr_stays_a_station_certificate() -> None:
    rig = make_rig()
    root = issue("CSMS root")
    install(rig, "CSMSRootCertificate", root)
    _trigger(rig)
    assert rig.handle(M.CertificateSignedRequest(certificate_chain=_sign(_csr(rig), root).pem)).status == (
        "Accepted"
    )
    certificates = rig.core.ctx.get(Certificates)
    assert certificates.newest("V2GCertificate") is None
    newest = certificates.newest("ChargingStationCertificate")
    assert newest is not None
    assert not newest.combined


def test_1_6_extended_trigger_sign_charge_point_certificate() -> None:
    rig = rig16()
    root = issue("Central system root")
    answer = rig.handle(M16.ExtendedTriggerMessageRequest(requested_message="SignChargePointCertificate"))
    assert answer.status == "Accepted"
    [request] = rig.of(M16.SignCertificateRequest)
    csr = x509.load_pem_x509_csr(request.csr.encode())
    signed = _sign(csr, root)
    assert rig.handle(M16.CertificateSignedRequest(certificate_chain=signed.pem)).status == "Accepted"
    heartbeat = rig.handle(M16.ExtendedTriggerMessageRequest(requested_message="Heartbeat"))
    assert heartbeat.status == "Accepted"
    # the whitepaper's FirmwareStatusNotification trigger: a SignedFirmwareStatusNotification (Idle: no update)
    firmware = rig.handle(M16.ExtendedTriggerMessageRequest(requested_message="FirmwareStatusNotification"))
    assert firmware.status == "Accepted"
    assert [m.status for m in rig.of(M16.SignedFirmwareStatusNotificationRequest)] == ["Idle"]


def test_2_1_request_id_sent_and_echo_checked() -> None:
    rig = make_rig(version=Version.V21)
    root = issue("CSMS root")
    trigger = v21.messages.TriggerMessageRequest(requested_message="SignChargingStationCertificate")
    assert rig.handle(trigger).status == "Accepted"
    [request] = rig.of(v21.messages.SignCertificateRequest)
    assert isinstance(request.request_id, int)
    signed = _sign(x509.load_pem_x509_csr(request.csr.encode()), root)
    wrong = v21.messages.CertificateSignedRequest(
        certificate_chain=signed.pem, request_id=request.request_id + 1
    )
    assert rig.handle(wrong).status == "Rejected"
    assert rig.handle(trigger).status == "Accepted"
    request = rig.of(v21.messages.SignCertificateRequest)[-1]
    signed = _sign(x509.load_pem_x509_csr(request.csr.encode()), root)
    right = v21.messages.CertificateSignedRequest(certificate_chain=signed.pem, request_id=request.request_id)
    assert rig.handle(right).status == "Accepted"


def test_M03_provisioned_roots_listed_once_in_a_life() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    factory = issue("Factory CSMS root")
    bundle = factory.pem + issue("another root").pem
    assert rig.core.provision_csms_roots(bundle, rig.now) == 2
    [(_, data), _] = entries(listed(rig, "CSMSRootCertificate"))
    assert same_certificate(data, hash_data(factory.certificate))
    assert _delete(rig, data) == "Accepted"
    again = make_rig(storage=storage)  # a restart with the same bundle: what the CSMS deleted stays deleted
    assert again.core.provision_csms_roots(bundle, again.now) == 0
    assert len(entries(listed(again, "CSMSRootCertificate"))) == 1
