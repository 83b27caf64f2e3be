"""ISO 15118-2 certificate installation (M01) with a real EXI codec: the codec's round trip, the message security
(xmldsig over EXI, the contract key's ECDH / KDF / AES-128-CBC encryption), the built-in test V2G PKI backend and
the simulated EV that asks it for a contract and installs the answer."""

from __future__ import annotations

import base64
import dataclasses
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargeplane.csms.clock import utc_now
from chargeplane.pki.ca import CertificateAuthority, verify_issued_by
from chargeplane.pki.contract import ContractAnswer, ContractRequest
from chargeplane.pki.dev_v2g_pki import IssueError, TestV2gPki
from chargeplane.pki.v2g_exi import (
    MSG_DEF,
    CertificateChain,
    CertificateInstallationReq,
    CertificateInstallationRes,
    ExiError,
    Reference,
    RootCertificateId,
    Signature,
    SignedInfo,
    V2gMessage,
    decode_message,
    encode_message,
    signed_elements,
)
from chargeplane.pki.v2g_security import (
    CURVE,
    KeyDecryptionError,
    decrypt_private_key,
    encrypt_private_key,
    sign,
    signature_problem,
)
from chargeplane.station.ev_contract import ContractRefused, EvProvisioning

pytestmark = pytest.mark.usefixtures("exi_codec")
NOW = utc_now()


def _request() -> CertificateInstallationReq:
    return CertificateInstallationReq("id1", b"\x30\x82" * 40, (RootCertificateId("CN=V2G Root,O=X", 2**70),))


def _response() -> CertificateInstallationRes:
    return CertificateInstallationRes(
        "OK",
        CertificateChain(b"sa" * 30, (b"sa-sub" * 10,)),
        CertificateChain(b"contract" * 10, (b"mo-sub" * 10, b"mo-sub2" * 10), "id1"),
        b"k" * 48,
        b"\x04" + b"d" * 64,
        "DECPL123456789",
    )


def test_M01_codec_round_trip_of_request_and_response() -> None:
    signature = Signature(SignedInfo((Reference("#id1", b"\x01" * 32),)), b"\x02" * 64)
    for body in (_request(), _response()):
        message = V2gMessage("0A0B0C0D0E0F1011", body, signature)
        assert decode_message(encode_message(message)) == message
    assert decode_message(encode_message(V2gMessage("01", _request()))).signature is None
    # what a signature covers: the request itself; the response's four elements, by their Ids
    assert [i for i, _ in signed_elements(_request())] == ["id1"]
    assert [i for i, _ in signed_elements(_response())] == ["id1", "id2", "id3", "id4"]


def test_M01_codec_refuses_what_is_not_a_certificate_installation() -> None:
    exi = encode_message(V2gMessage("01", _request()))
    for bad in (b"", b"not EXI at all", exi[: len(exi) // 2]):
        with pytest.raises(ExiError):
            decode_message(bad)


def test_M01_signature_verifies_and_tampering_is_seen() -> None:
    key = ec.generate_private_key(CURVE)
    elements = signed_elements(_response())
    signature = sign(elements, key)
    assert signature_problem(signature, elements, key.public_key()) is None
    other = ec.generate_private_key(CURVE).public_key()
    assert signature_problem(signature, elements, other) == "the signature does not verify"
    changed = signed_elements(dataclasses.replace(_response(), emaid="DECPL999999999"))
    assert signature_problem(signature, changed, key.public_key()) == "element id4 does not match its digest"
    flipped = dataclasses.replace(signature, value=bytes([signature.value[0] ^ 1]) + signature.value[1:])
    assert signature_problem(flipped, elements, key.public_key()) == "the signature does not verify"
    assert signature_problem(None, elements, key.public_key()) == "the message is not signed"
    partial = sign(elements[:3], key)
    assert signature_problem(partial, elements, key.public_key()) == "element id4 is not signed"


def test_M01_contract_key_encrypted_for_the_oem_key_only() -> None:
    contract, oem = ec.generate_private_key(CURVE), ec.generate_private_key(CURVE)
    dh_public, encrypted = encrypt_private_key(contract, oem.public_key())
    assert len(dh_public) == 65
    assert len(encrypted) == 48
    decrypted = decrypt_private_key(encrypted, dh_public, oem)
    assert decrypted.private_numbers() == contract.private_numbers()
    stranger = ec.generate_private_key(CURVE)
    try:
        wrong = decrypt_private_key(encrypted, dh_public, stranger)
    except KeyDecryptionError:
        pass  # a scalar out of range
    else:
        assert wrong.private_numbers() != contract.private_numbers()
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(encrypted[:40], dh_public, oem)
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(encrypted, b"\x04" + b"\x00" * 64, oem)


class CaIssuers:
    """The test PKI's issuers on two CA directories (mo, v2g), as the CSMS's pki block gives them."""

    def __init__(self, tmp_path: Path) -> None:
        self.mo = CertificateAuthority.init(tmp_path / "mo", "Test MO", name="MO", now=NOW)
        self.v2g = CertificateAuthority.init(tmp_path / "v2g", "Test V2G", name="V2G", now=NOW)
        self.broken = False

    async def contract(self, csr: x509.CertificateSigningRequest, station_id: str) -> list[x509.Certificate]:
        if self.broken:
            raise IssueError("no mo CA")
        return [self.mo.issue(csr, now=NOW, days=30), self.mo.sub]

    async def sa_provisioning(self, csr: x509.CertificateSigningRequest) -> list[x509.Certificate]:
        return [self.v2g.issue(csr, now=NOW, days=30), self.v2g.sub, self.v2g.root]


def _ask(exi: bytes, schema: str = MSG_DEF) -> ContractRequest:
    return ContractRequest("CS1", schema, "Install", base64.b64encode(exi).decode())


async def test_M01_test_pki_issues_a_contract_the_ev_installs(tmp_path: Path) -> None:
    issuers = CaIssuers(tmp_path)
    backend = TestV2gPki(issuers, lambda: NOW)
    ev = EvProvisioning.generate((issuers.v2g.root,), NOW)
    answer = await backend.certificate(_ask(ev.request()))
    assert answer.accepted, answer.detail
    contract = ev.install(base64.b64decode(answer.exi_response), NOW)
    leaf, sub = contract.chain
    assert verify_issued_by(leaf, issuers.mo.sub)
    assert sub == issuers.mo.sub
    assert leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == contract.emaid
    assert len(contract.emaid) == 14
    assert contract.emaid.startswith("DECPL")
    public = leaf.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.public_numbers() == contract.key.public_key().public_numbers()
    assert contract.pem().count("BEGIN CERTIFICATE") == 2
    # one SA certificate, a new contract each time; M02 Update with an installation request is served alike
    again = await backend.certificate(
        ContractRequest("CS1", MSG_DEF, "Update", _ask(ev.request()).exi_request)
    )
    assert ev.install(base64.b64decode(again.exi_response), NOW).emaid != contract.emaid


async def test_M01_ev_refuses_a_tampered_or_foreign_response(tmp_path: Path) -> None:
    issuers = CaIssuers(tmp_path)
    ev = EvProvisioning.generate((issuers.v2g.root,), NOW)
    answer = await TestV2gPki(issuers, lambda: NOW).certificate(_ask(ev.request()))
    exi = base64.b64decode(answer.exi_response)
    message = decode_message(exi)
    body = message.body
    assert isinstance(body, CertificateInstallationRes)
    forged = dataclasses.replace(message, body=dataclasses.replace(body, emaid="DECPL000000000"))
    with pytest.raises(ContractRefused, match="SA signature: element id4 does not match its digest"):
        ev.install(encode_message(forged), NOW)
    other_key = dataclasses.replace(
        message, body=dataclasses.replace(body, dh_public_key=b"\x04" + b"\x01" * 64)
    )
    with pytest.raises(ContractRefused, match="SA signature"):
        ev.install(encode_message(other_key), NOW)
    stranger = EvProvisioning.generate((CertificateAuthority.init(tmp_path / "x", "X", now=NOW).root,), NOW)
    with pytest.raises(ContractRefused, match="V2G root the EV trusts"):
        stranger.install(exi, NOW)
    someone_else = dataclasses.replace(ev, key=ec.generate_private_key(CURVE))  # not the key it was made for
    with pytest.raises(ContractRefused):
        someone_else.install(exi, NOW)
    with pytest.raises(ContractRefused, match="not valid now"):
        ev.install(exi, NOW + timedelta(days=400))
    with pytest.raises(ContractRefused, match="not a CertificateInstallationRes"):
        ev.install(ev.request(), NOW)


def _refused(answer: ContractAnswer, reason: str) -> None:
    assert (answer.accepted, answer.exi_response, answer.reason) == (False, "", reason), answer.detail
    assert answer.detail


async def test_M01_test_pki_answers_failed_with_a_reason(tmp_path: Path) -> None:
    issuers = CaIssuers(tmp_path)
    backend = TestV2gPki(issuers, lambda: NOW)
    ev = EvProvisioning.generate((issuers.v2g.root,), NOW)
    request = ev.request()
    _refused(await backend.certificate(ContractRequest("CS1", MSG_DEF, "Install", "%%")), "InvalidExi")
    _refused(await backend.certificate(_ask(b"not EXI")), "InvalidExi")
    _refused(
        await backend.certificate(_ask(request, "urn:iso:std:iso:15118:-20:CommonMessages")), "NotSupported"
    )
    message = decode_message(request)
    body = message.body
    assert isinstance(body, CertificateInstallationReq)
    unsigned = encode_message(dataclasses.replace(message, signature=None))
    _refused(await backend.certificate(_ask(unsigned)), "InvalidSignature")
    resigned = dataclasses.replace(
        message, signature=sign(signed_elements(body), ec.generate_private_key(CURVE))
    )
    _refused(await backend.certificate(_ask(encode_message(resigned))), "InvalidSignature")
    not_x509 = dataclasses.replace(
        message, body=dataclasses.replace(body, oem_provisioning_cert=b"\x30\x03abc")
    )
    _refused(await backend.certificate(_ask(encode_message(not_x509))), "InvalidCertificate")
    stranger = EvProvisioning.generate((CertificateAuthority.init(tmp_path / "x", "X", now=NOW).root,), NOW)
    _refused(await backend.certificate(_ask(stranger.request())), "NoTrustedRoot")
    assert ev.oem_ca is not None
    strict = TestV2gPki(issuers, lambda: NOW, oem_cas=[ev.oem_ca])  # an OEM PKI that knows this EV's OEM only
    assert (await strict.certificate(_ask(request))).accepted
    other_oem = EvProvisioning.generate((issuers.v2g.root,), NOW)
    _refused(await strict.certificate(_ask(other_oem.request())), "InvalidCertificate")
    late = TestV2gPki(issuers, lambda: NOW + timedelta(days=400))
    _refused(await late.certificate(_ask(request)), "InvalidCertificate")
    issuers.broken = True
    _refused(await backend.certificate(_ask(request)), "NoContractCert")


def test_provisioning_certificate_is_der_of_the_pcid() -> None:
    ev = EvProvisioning.generate((), NOW)
    der = ev.certificate.public_bytes(serialization.Encoding.DER)
    assert x509.load_der_x509_certificate(der).subject.rfc4514_string() == "CN=DECPLSIMEV00000001"


async def test_M01_test_pki_without_a_codec_answers_service_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chargeplane.pki import v2g_exi

    monkeypatch.setattr(v2g_exi, "_JVM", v2g_exi._Jvm())  # a process whose JVM has not started
    monkeypatch.setattr(v2g_exi, "unavailable", lambda: "no java on the PATH")
    answer = await TestV2gPki(CaIssuers(tmp_path), lambda: NOW).certificate(_ask(b"\x80\x98\x02"))
    assert (answer.accepted, answer.reason) == (False, "ServiceUnavailable")
    assert answer.detail == "the EXI codec cannot run: no java on the PATH"


async def test_M01_the_evs_root_list_may_write_the_v2g_root_name_its_own_way(tmp_path: Path) -> None:
    issuers = CaIssuers(tmp_path)
    ev = EvProvisioning.generate((issuers.v2g.root,), NOW)
    message = decode_message(ev.request())
    body = message.body
    assert isinstance(body, CertificateInstallationReq)
    root = issuers.v2g.root
    backend = TestV2gPki(issuers, lambda: NOW)
    for name, serial, accepted in (
        ("cn=V2G Root CA, o=Test V2G", root.serial_number, True),  # the other order, case, spaces
        ("/O=Test V2G/CN=V2G Root CA", root.serial_number, True),  # OpenSSL's one-line form
        ("CN=V2G Root CA,O=Test V2G", root.serial_number + 1, False),  # another certificate of that name
        ("CN=Another Root,O=Test V2G", root.serial_number, False),
    ):
        listed = dataclasses.replace(body, root_certificate_ids=(RootCertificateId(name, serial),))
        request = dataclasses.replace(message, body=listed, signature=sign(signed_elements(listed), ev.key))
        answer = await backend.certificate(_ask(encode_message(request)))
        assert (answer.accepted, answer.reason) == (accepted, None if accepted else "NoTrustedRoot"), name
