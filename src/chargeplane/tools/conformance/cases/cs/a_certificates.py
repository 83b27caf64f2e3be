"""Block A, Security (Part 6 §2.2): the station certificate (security profile 3: TLS client certificate, A00;
its renewal by request of the CSMS, A02; the station certificate cannot be deleted, M04), charging-station side.

Readings:
* Security profile 3 (A_07, A_11, A_13, A_14, A_15): the configuration state of ``station_tls.py``: the tool's
  wss listener requires a station certificate of the tool's station CA (under its CSMS root); a station not
  declared on profile 3 is set up on it (manual action) and set up as declared again after the case.
* TC_A_07_CS step 4: the client certificate's checks are the ones a handshake shows: it verified against the
  tool's station CA, its CN is not empty and it has a serial number; its key is at least 224 bits (EC) or 2048
  bits (RSA). The cipher rule is TC_A_04_CS's. Step 9: the StatusNotification Available, as in TC_A_04_CS.
* Reusable State RenewChargingStationCertificate (A_11, M_23): the tool signs the CSR with its station CA and
  sends the chain (the certificate, then the CA), certificateType ChargingStationCertificate. The CSR must be
  PEM (RFC 2986) with an EC key of 224 bits or more, or an RSA key of 2048 bits or more.
* RenewV2GChargingStationCertificate (A_12): the tool signs with its own V2G root (the V2G chain of its PKI)
  and sends certificateType V2GCertificate; the EVSE is omitted (the tool does not read ISO15118Ctrl.SeccId).
  A station that checks V2G chains against its V2G roots must trust the tool's.
* TC_A_13_CS (ISO-3): the combined certificate is signed by the tool's V2G root, certificateType omitted; as
  it is the station's TLS certificate too (A00.FR.428), the profile 3 listener also takes certificates of the
  tool's V2G root.
* TC_A_14_CS: the invalid certificate is one for another key, signed by a root the station does not know.
* TC_A_15_CS: after the Rejected SignCertificateResponse the station must not send the CSR again within
  ``silence_wait`` (A02.FR.19: no resend of a CSR the CSMS did not accept).
* TC_A_23_CS (AS-3): CertSigningWaitMinimum is ``cert_signing_wait_minimum``; each resend is judged against
  its earliest allowed time (SLACK early at most); the errata (2025-02) has the tool sign each of the three
  CSRs, at least one signed answer must be Accepted.
* TC_M_23_CS: the certificate to delete is the one renewed before; NotFound or Failed pass.
"""

from __future__ import annotations

import asyncio

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.a_security import (
    boot_and_status,
    booting_over_tls,
    check_suites,
    connected_over_tls,
    security_event,
    set_variable,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.pki import Issued, chain_pem, hash_data, issue, sign_csr
from chargeplane.tools.conformance.station_states import BOOT_WITHIN
from chargeplane.tools.conformance.station_steps import StationTool
from chargeplane.tools.conformance.station_tls import on_security_profile
from chargeplane.tools.conformance.tls_front import TlsFront

Trigger = en.MessageTriggerEnumType
CertificateUse = en.CertificateSigningUseEnumType
SLACK = 0.5  # seconds a resend may come before its time (clock and scheduling)
MIN_EC_BITS, MIN_RSA_BITS = 224, 2048
# a set-up on profile 3 and back: two boots more than the case's own steps
WITH_SET_UP = 3 * BOOT_WITHIN


def key_problem(key: object) -> str | None:
    """Why a station's key is too weak for A00 / A02 (None: strong enough)."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        return None if key.curve.key_size >= MIN_EC_BITS else f"an EC key of {key.curve.key_size} bits"
    if isinstance(key, rsa.RSAPublicKey):
        return None if key.key_size >= MIN_RSA_BITS else f"an RSA key of {key.key_size} bits"
    return f"a {type(key).__name__}, neither EC nor RSA"


def check_csr(step: int | str, csr_pem: str) -> x509.CertificateSigningRequest:
    """A02: a PEM CSR (RFC 2986) whose signature verifies, with a key strong enough."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as error:
        raise StepFailed(step, f"the csr is not a PEM certificate signing request: {error}") from None
    if not csr.is_signature_valid:
        raise StepFailed(step, "the csr's signature does not verify")
    problem = key_problem(csr.public_key())
    if problem is not None:
        raise StepFailed(step, f"the csr has {problem}")
    return csr


async def triggered(tool: StationTool, step: int, message: Trigger) -> None:
    """TriggerMessage ``message`` (a Sign...Certificate), answered Accepted."""
    request = msg.TriggerMessageRequest(requested_message=message)
    response = await tool.send_as(step, request, msg.TriggerMessageResponse)
    expect_field(step + 1, response, "status", "Accepted")


async def sign_request(
    tool: StationTool, step: int, status: en.GenericStatusEnumType = en.GenericStatusEnumType.ACCEPTED
) -> msg.SignCertificateRequest:
    """The station's SignCertificateRequest (its CSR checked), answered with ``status``."""
    incoming = await tool.expect(step, msg.SignCertificateRequest)
    incoming.answer(msg.SignCertificateResponse(status=status))
    check_csr(step, incoming.request.csr)
    return incoming.request


async def certificate_signed(
    tool: StationTool,
    step: int,
    chain: str,
    kind: en.CertificateSigningUseEnumType | None,
    expected: str | None = "Accepted",
) -> str:
    """CertificateSignedRequest with ``chain``; returns the answer's status, which must be ``expected`` (the
    next step's check) unless None."""
    request = (
        msg.CertificateSignedRequest(certificate_chain=chain, certificate_type=kind)
        if kind is not None
        else msg.CertificateSignedRequest(certificate_chain=chain)
    )
    response = await tool.send_as(step, request, msg.CertificateSignedResponse)
    status = str(response.status)
    if expected is not None and status != expected:
        raise StepFailed(step + 1, f"CertificateSignedResponse.status is {status}, expected {expected}")
    return status


def signed_chain(csr_pem: str, issuer: Issued, *above: Issued) -> tuple[x509.Certificate, str]:
    certificate = sign_csr(csr_pem, issuer)
    return certificate, chain_pem(certificate, issuer.certificate, *(a.certificate for a in above))


async def renew_station_certificate(tool: StationTool, step: int = 1) -> x509.Certificate:
    """Reusable State RenewChargingStationCertificate (steps ``step`` to ``step + 5``): the station's new
    certificate, signed by the tool's station CA."""
    await triggered(tool, step, Trigger.SIGN_CHARGING_STATION_CERTIFICATE)
    request = await sign_request(tool, step + 2)
    expect_field(step + 2, request, "certificateType", CertificateUse.CHARGING_STATION_CERTIFICATE, None)
    certificate, chain = signed_chain(request.csr, tool.pki().station_ca)
    await certificate_signed(tool, step + 4, chain, CertificateUse.CHARGING_STATION_CERTIFICATE)
    return certificate


@case(
    "TC_A_07_CS",
    "TLS - Client-side certificate - valid certificate",
    use_cases=("A00",),
    requirements=(
        "A00.FR.401",
        "A00.FR.402",
        "A00.FR.415",
        "A00.FR.416",
        "A00.FR.422",
        "A00.FR.502",
        "A00.FR.503",
        "A00.FR.507",
        "A00.FR.508",
        "A00.FR.511",
    ),
    timeout=WITH_SET_UP,
)
async def tc_a_07_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, 3) as front:
        connections, handshakes = await booting_over_tls(tool, front)
        await boot_and_status(tool, 7, 9)
        await connected_over_tls(tool, 1, front, connections, handshakes)
        check_suites(4, front, handshakes)
        check_client_certificate(4, front, handshakes)


def check_client_certificate(step: int, front: TlsFront, handshakes: int) -> None:
    handshake = next(h for h in front.handshakes[handshakes:] if h.ok)
    certificate = handshake.client_certificate
    if certificate is None:
        raise StepFailed(step, "the station presented no client certificate")
    names = certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    if not names or not str(names[0].value).strip():
        raise StepFailed(step, "the client certificate's subject has no commonName (the station's serial)")
    if not certificate.serial_number:
        raise StepFailed(step, "the client certificate has no serial number")
    problem = key_problem(certificate.public_key())
    if problem is not None:
        raise StepFailed(step, f"the client certificate has {problem}")


@case(
    "TC_A_11_CS",
    "Update Charging Station Certificate by request of CSMS - Success - Charging Station Certificate",
    use_cases=("A02", "F06"),
    requirements=("A02.FR.02", "A02.FR.03", "A02.FR.06", "A02.FR.08", "A02.FR.09", "F06.FR.04", "F06.FR.05"),
    timeout=WITH_SET_UP,
)
async def tc_a_11_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, 3):
        await renew_station_certificate(tool)


@case(
    "TC_A_12_CS",
    "Update Charging Station Certificate by request of CSMS - Success - V2G Certificate",
    use_cases=("A02", "F06"),
    requirements=("A02.FR.02", "A02.FR.03", "A02.FR.06", "A02.FR.13", "A02.FR.15", "F06.FR.04", "F06.FR.05"),
)
async def tc_a_12_cs(tool: StationTool) -> None:
    await triggered(tool, 1, Trigger.SIGN_V2G_CERTIFICATE)
    request = await sign_request(tool, 3)
    expect_field(3, request, "certificateType", CertificateUse.V2G_CERTIFICATE)  # A02.FR.13
    csr = x509.load_pem_x509_csr(request.csr.encode())
    if not isinstance(csr.public_key(), ec.EllipticCurvePublicKey):
        raise StepFailed(3, "the V2G csr's key is not an EC key (ISO 15118 uses ECDSA only)")
    _, chain = signed_chain(request.csr, tool.pki().v2g_root)
    await certificate_signed(tool, 5, chain, CertificateUse.V2G_CERTIFICATE)


@case(
    "TC_A_13_CS",
    "Update Charging Station Certificate by request of CSMS - Success - Combined Certificate",
    use_cases=("A00", "A02"),
    requirements=("A00.FR.428", "A02.FR.02", "A02.FR.03", "A02.FR.06"),
    features=("ISO-3",),
    timeout=WITH_SET_UP,
)
async def tc_a_13_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, 3):
        await triggered(tool, 1, Trigger.SIGN_COMBINED_CERTIFICATE)
        request = await sign_request(tool, 3)
        _, chain = signed_chain(request.csr, tool.pki().v2g_root)
        await certificate_signed(tool, 5, chain, None)


@case(
    "TC_A_14_CS",
    "Update Charging Station Certificate by request of CSMS - Invalid certificate",
    use_cases=("A02",),
    requirements=("A02.FR.07", "A03.FR.07"),
    timeout=WITH_SET_UP,
)
async def tc_a_14_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, 3):
        await triggered(tool, 1, Trigger.SIGN_CHARGING_STATION_CERTIFICATE)
        request = await sign_request(tool, 3)
        csr = x509.load_pem_x509_csr(request.csr.encode())
        names = csr.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        subject = str(names[0].value) if names else tool.endpoint.settings.station_id
        invalid = issue(subject, tool.pki().unknown_root, ca=False)  # another key, an unknown root
        kind = CertificateUse.CHARGING_STATION_CERTIFICATE
        await certificate_signed(tool, 5, invalid.pem, kind, "Rejected")
        await security_event(tool, 7, "InvalidChargingStationCertificate")


@case(
    "TC_A_15_CS",
    "Update Charging Station Certificate by request of CSMS - SignCertificateRequest Rejected",
    use_cases=("A02",),
    timeout=WITH_SET_UP,
)
async def tc_a_15_cs(tool: StationTool) -> None:
    async with on_security_profile(tool, 3):
        await triggered(tool, 1, Trigger.SIGN_CHARGING_STATION_CERTIFICATE)
        await sign_request(tool, 3, en.GenericStatusEnumType.REJECTED)
        await tool.expect_none(4, msg.SignCertificateRequest, tool.configured.silence_wait)


@case(
    "TC_A_23_CS",
    "Update Charging Station Certificate by request of CSMS - CertificateSignedRequest Timeout",
    use_cases=("A02", "F06"),
    requirements=("A02.FR.17", "A02.FR.18"),
    features=("AS-3",),
)
async def tc_a_23_cs(tool: StationTool) -> None:
    wait = tool.configured.cert_signing_wait_minimum
    await set_variable(tool, "before", "SecurityCtrlr", "CertSigningWaitMinimum", str(wait))
    await set_variable(tool, "before", "SecurityCtrlr", "CertSigningRepeatTimes", "1")
    loop = asyncio.get_running_loop()
    await triggered(tool, 1, Trigger.SIGN_CHARGING_STATION_CERTIFICATE)
    csrs = [(await sign_request(tool, 3)).csr]
    answered = loop.time()
    for step, back_off in ((6, wait), (9, 2 * wait)):  # 5. / 8.: the tool sends no CertificateSigned
        incoming = await tool.expect(step, msg.SignCertificateRequest, back_off + BOOT_WITHIN / 6)
        early = answered + back_off - SLACK - loop.time()
        incoming.answer(msg.SignCertificateResponse(status=en.GenericStatusEnumType.ACCEPTED))
        answered = loop.time()
        if early > 0:
            raise StepFailed(step - 1, f"the SignCertificateRequest came {early:.1f} s before {back_off} s")
        check_csr(step, incoming.request.csr)
        csrs.append(incoming.request.csr)
    statuses = []
    for step, csr in zip((11, 13, 15), csrs, strict=True):
        _, chain = signed_chain(csr, tool.pki().station_ca)
        kind = CertificateUse.CHARGING_STATION_CERTIFICATE
        statuses.append(await certificate_signed(tool, step, chain, kind, None))
    if "Accepted" not in statuses:
        raise StepFailed(12, f"no CertificateSignedResponse was Accepted ({', '.join(statuses)})")


@case(
    "TC_M_23_CS",
    "Delete a certificate from a Charging Station - Unable to delete the Charging Station Certificate",
    use_cases=("M04",),
    requirements=("M04.FR.01", "M04.FR.06"),
)
async def tc_m_23_cs(tool: StationTool) -> None:
    certificate = await renew_station_certificate(tool)  # before: RenewChargingStationCertificate
    response = await tool.send_as(
        1, msg.GetInstalledCertificateIdsRequest(), msg.GetInstalledCertificateIdsResponse
    )
    expect_field(1, response, "status", "Accepted", "NotFound")
    data = hash_data(certificate, tool.pki().station_ca.certificate)
    deleted = await tool.send_as(
        2, msg.DeleteCertificateRequest(certificate_hash_data=data), msg.DeleteCertificateResponse
    )
    expect_field(3, deleted, "status", "NotFound", "Failed")
