"""Block M, ISO 15118 certificate management (Part 6 §2.12): the V2G and MO roots (M03/M05), the station's V2G
certificate chain and its OCSP status (M06), the EV's contract certificate installation and update (M01/M02).

Readings:
* The V2G root, its CPO sub-CA and the MO root are the tool's test PKI (``pki.py``). Memory State
  RenewV2GChargingStationCertificate: TriggerMessage SignV2GCertificate without an EVSE (the tool does not look
  for ISO15118Ctrlr.SeccId instances), the CSR signed by the sub-CA (no SubCA2) with an OCSP responder in its
  Authority Information Access (the station needs one to ask for the status, M06 remark); the chain sent is
  the leaf and the sub-CA.
* TC_M_15_CS's prerequisite (a V2G certificate chain installed) is met the same way before step 1.
* TC_M_24_CS / TC_M_25_CS: the station may send one GetCertificateStatus per certificate of its chain; step 1
  is the first, which must be about a certificate of the chain just signed (M06.FR.07). Every one is answered
  as step 2 says: an OCSP response of the tool's CA for the certificate asked (DER, base64), or Failed.
* TC_M_26_CS - TC_M_29_CS: "SendISO15118AuthorizationMethod PnC" and "SendInstallISO15118CertificateMethod"
  are one manual action (an ISO 15118 EV using Plug & Charge that first asks for a contract certificate;
  Install when it has none, Update when it expires soon), then EVConnectedPreSession. The tool's exiResponse
  is not a real CertificateInstallationRes (the tool has no EXI codec): the station forwards the EXI without
  reading it, and the simulated EV of our station takes an Accepted answer as its contract. The 2.0.1 schema
  requires exiResponse, so "omitted" is sent as an empty string. A Failed case waits 5 s for an Authorize
  that must not come (ISO 15118-2's timeout of the whole exchange).
"""

from __future__ import annotations

import base64
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.m_certificates import (
    Install,
    Use,
    certificate_installed,
    get_installed_certificates,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.pki import Issued, hash_data, same_certificate
from chargeplane.tools.conformance.station_adapter import PlugInIso15118Ev
from chargeplane.tools.conformance.station_states import Status, configuration, connector_status
from chargeplane.tools.conformance.station_steps import StationTool

OCSP_URL = "http://127.0.0.1:9/conformance-ocsp"  # named in the certificates; the tool itself answers
EXI_RESPONSE = base64.b64encode(b"conformance tool: CertificateInstallationRes").decode()
NO_AUTHORIZE_WITHIN = 5.0


# --- the roots (M05) and their listing (M03) ---


@case(
    "TC_M_03_CS",
    "Install CA certificate - V2GRootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01", "M05.FR.02"),
)
async def tc_m_03_cs(tool: StationTool) -> None:
    root = tool.pki().v2g_root
    await certificate_installed(tool, 1, Install.V2G_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 2, [(Use.V2G_ROOT_CERTIFICATE, root, None)])


@case(
    "TC_M_04_CS",
    "Install CA certificate - MORootCertificate",
    use_cases=("M05",),
    requirements=("M05.FR.01", "M05.FR.02"),
)
async def tc_m_04_cs(tool: StationTool) -> None:
    root = tool.pki().mo_root
    await certificate_installed(tool, 1, Install.MO_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 2, [(Use.MO_ROOT_CERTIFICATE, root, None)])


@case(
    "TC_M_14_CS",
    "Retrieve certificates from Charging Station - V2GRootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04"),
)
async def tc_m_14_cs(tool: StationTool) -> None:
    root = tool.pki().v2g_root
    await certificate_installed(tool, "before", Install.V2G_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 1, [(Use.V2G_ROOT_CERTIFICATE, root, None)])


@case(
    "TC_M_16_CS",
    "Retrieve certificates from Charging Station - MORootCertificate",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04"),
)
async def tc_m_16_cs(tool: StationTool) -> None:
    root = tool.pki().mo_root
    await certificate_installed(tool, "before", Install.MO_ROOT_CERTIFICATE, root)
    await get_installed_certificates(tool, 1, [(Use.MO_ROOT_CERTIFICATE, root, None)])


# --- the station's V2G certificate (A02 as a memory state, M03.FR.05, M06) ---


def sign_csr(csr_pem: str, issuer: Issued) -> x509.Certificate:
    """The station's CSR signed by ``issuer`` for a year, naming the tool's OCSP responder."""
    try:
        csr = x509.load_pem_x509_csr(csr_pem.encode())
    except ValueError as error:
        raise StepFailed(3, f"the csr is not a PEM certificate signing request: {error}") from None
    now = datetime.datetime.now(datetime.UTC)
    access = x509.AccessDescription(
        AuthorityInformationAccessOID.OCSP, x509.UniformResourceIdentifier(OCSP_URL)
    )
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityInformationAccess([access]), critical=False)
        .sign(issuer.key, hashes.SHA256())
    )


async def renew_v2g_certificate(tool: StationTool, step: int | str = "before") -> x509.Certificate:
    """Memory State RenewV2GChargingStationCertificate: the station's new V2G certificate (the leaf)."""
    trigger = msg.TriggerMessageRequest(requested_message=en.MessageTriggerEnumType.SIGN_V2G_CERTIFICATE)
    response = await tool.send_as(step, trigger, msg.TriggerMessageResponse)
    expect_field(step, response, "status", "Accepted")
    incoming = await tool.expect(step, msg.SignCertificateRequest)
    expect_field(step, incoming.request, "certificateType", "V2GCertificate")
    incoming.answer(msg.SignCertificateResponse(status=en.GenericStatusEnumType.ACCEPTED))
    sub = tool.pki().v2g_sub
    leaf = sign_csr(incoming.request.csr, sub)
    chain = leaf.public_bytes(serialization.Encoding.PEM).decode() + sub.pem
    signed = msg.CertificateSignedRequest(
        certificate_chain=chain, certificate_type=en.CertificateSigningUseEnumType.V2G_CERTIFICATE
    )
    answer = await tool.send_as(step, signed, msg.CertificateSignedResponse)
    expect_field(step, answer, "status", "Accepted")
    return leaf


async def v2g_roots_installed(tool: StationTool) -> None:
    pki = tool.pki()
    await certificate_installed(tool, "before", Install.V2G_ROOT_CERTIFICATE, pki.v2g_root)
    await certificate_installed(tool, "before", Install.MO_ROOT_CERTIFICATE, pki.mo_root)


@case(
    "TC_M_15_CS",
    "Retrieve certificates from Charging Station - V2GCertificateChain",
    use_cases=("M03",),
    requirements=("M03.FR.01", "M03.FR.03", "M03.FR.04", "M03.FR.05"),
)
async def tc_m_15_cs(tool: StationTool) -> None:
    pki = tool.pki()
    await certificate_installed(tool, "before", Install.V2G_ROOT_CERTIFICATE, pki.v2g_root)
    leaf = await renew_v2g_certificate(tool)
    response = await get_installed_certificates(tool, 1, [], Use.V2G_CERTIFICATE_CHAIN)
    for entry in response.certificate_hash_data_chain or []:
        data = entry.certificate_hash_data
        ours = hash_data(leaf, pki.v2g_sub.certificate, data.hash_algorithm)
        if entry.certificate_type is Use.V2G_CERTIFICATE_CHAIN and same_certificate(data, ours):
            break
    else:
        raise StepFailed(
            1, "certificateHashDataChain has no V2GCertificateChain entry for the V2G certificate"
        )
    sub = hash_data(pki.v2g_sub.certificate, pki.v2g_root.certificate, data.hash_algorithm)
    if not any(same_certificate(child, sub) for child in entry.child_certificate_hash_data or []):
        raise StepFailed(
            1, "the V2GCertificateChain entry does not list the sub-CA in childCertificateHashData"
        )


def _about(data: dt.OCSPRequestDataType, certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    ours = hash_data(certificate, issuer, data.hash_algorithm)
    return same_certificate(
        dt.CertificateHashDataType(
            hash_algorithm=data.hash_algorithm,
            issuer_name_hash=data.issuer_name_hash,
            issuer_key_hash=data.issuer_key_hash,
            serial_number=data.serial_number,
        ),
        ours,
    )


def ocsp_response(tool: StationTool, data: dt.OCSPRequestDataType, leaf: x509.Certificate) -> str | None:
    """The tool's OCSP response (DER, base64) saying good for the certificate asked about, or None when it is
    not one the tool issued."""
    pki = tool.pki()
    known = [(leaf, pki.v2g_sub), (pki.v2g_sub.certificate, pki.v2g_root)]
    for certificate, issuer in known:
        if _about(data, certificate, issuer.certificate):
            now = datetime.datetime.now(datetime.UTC)
            response = (
                ocsp.OCSPResponseBuilder()
                .add_response(
                    cert=certificate,
                    issuer=issuer.certificate,
                    algorithm=hashes.SHA256(),
                    cert_status=ocsp.OCSPCertStatus.GOOD,
                    this_update=now,
                    next_update=now + datetime.timedelta(days=7),
                    revocation_time=None,
                    revocation_reason=None,
                )
                .responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.certificate)
                .sign(issuer.key, hashes.SHA256())
            )
            return base64.b64encode(response.public_bytes(serialization.Encoding.DER)).decode()
    return None


async def certificate_status(tool: StationTool, accepted: bool) -> None:
    await v2g_roots_installed(tool)
    leaf = await renew_v2g_certificate(tool)
    incoming = await tool.expect(1, msg.GetCertificateStatusRequest, within=15.0)
    while True:
        data = incoming.request.ocsp_request_data
        result = ocsp_response(tool, data, leaf)
        if result is None:
            incoming.answer(msg.GetCertificateStatusResponse(status=en.GetCertificateStatusEnumType.FAILED))
            raise StepFailed(
                1, "the GetCertificateStatusRequest is not about a certificate of the new V2G chain"
            )
        if accepted:
            answer = msg.GetCertificateStatusResponse(
                status=en.GetCertificateStatusEnumType.ACCEPTED, ocsp_result=result
            )
        else:
            answer = msg.GetCertificateStatusResponse(status=en.GetCertificateStatusEnumType.FAILED)
        incoming.answer(answer)
        try:  # the station's requests for the rest of its chain get the same answer
            incoming = await tool.expect(2, msg.GetCertificateStatusRequest, within=2.0)
        except StepFailed:
            return


@case(
    "TC_M_24_CS",
    "Get Charging Station Certificate status - Success",
    use_cases=("M06",),
    requirements=("M06.FR.06", "M06.FR.07"),
)
async def tc_m_24_cs(tool: StationTool) -> None:
    await certificate_status(tool, accepted=True)


@case(
    "TC_M_25_CS",
    "Get Charging Station Certificate status - Rejected",
    use_cases=("M06",),
    requirements=("M06.FR.04",),
)
async def tc_m_25_cs(tool: StationTool) -> None:
    await certificate_status(tool, accepted=False)


# --- the EV's contract certificate (M01 / M02) ---


async def ev_asks_certificate(tool: StationTool, action: str, accept: bool) -> None:
    """Steps 1-4 of TC_M_26_CS - TC_M_29_CS after the preparations."""
    await v2g_roots_installed(tool)
    configured = tool.configured
    await tool.manual(PlugInIso15118Ev(configured.evse_id, configured.connector_id, action))
    await connector_status(tool, "EVConnectedPreSession/1", Status.OCCUPIED)
    tool.progress.add("EVConnected")  # the clean-up disconnects it
    incoming = await tool.expect(1, msg.Get15118EVCertificateRequest, within=10.0)
    expect_field(1, incoming.request, "action", action)
    status = en.Iso15118EVCertificateStatusEnumType
    if not accept:
        incoming.answer(msg.Get15118EVCertificateResponse(status=status.FAILED, exi_response=""))
        await tool.expect_none(3, msg.AuthorizeRequest, NO_AUTHORIZE_WITHIN)
        return
    incoming.answer(msg.Get15118EVCertificateResponse(status=status.ACCEPTED, exi_response=EXI_RESPONSE))
    authorize = await tool.expect(3, msg.AuthorizeRequest, within=10.0)
    authorize.answer(
        msg.AuthorizeResponse(
            id_token_info=dt.IdTokenInfoType(status=en.AuthorizationStatusEnumType.ACCEPTED)
        )
    )


INSTALLATION_ENABLED = [("ISO15118Ctrlr", "ContractCertificateInstallationEnabled", None, "true", True)]


@case(
    "TC_M_26_CS",
    "Certificate Installation EV - Success",
    use_cases=("M01",),
    requirements=("M01.FR.01",),
)
async def tc_m_26_cs(tool: StationTool) -> None:
    await ev_asks_certificate(tool, "Install", accept=True)


@case("TC_M_27_CS", "Certificate Installation EV - Failed", use_cases=("M01",))
async def tc_m_27_cs(tool: StationTool) -> None:
    await ev_asks_certificate(tool, "Install", accept=False)


@case(
    "TC_M_28_CS",
    "Certificate Update EV - Success",
    use_cases=("M02",),
    requirements=("M02.FR.01",),
)
async def tc_m_28_cs(tool: StationTool) -> None:
    async with configuration(tool, "before", INSTALLATION_ENABLED):
        await ev_asks_certificate(tool, "Update", accept=True)


@case(
    "TC_M_29_CS",
    "Certificate Update EV - Failed",
    use_cases=("M02",),
    requirements=("M02.FR.01",),
)
async def tc_m_29_cs(tool: StationTool) -> None:
    async with configuration(tool, "before", INSTALLATION_ENABLED):
        await ev_asks_certificate(tool, "Update", accept=False)
