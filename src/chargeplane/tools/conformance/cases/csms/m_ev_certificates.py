"""Block M, ISO 15118 certificate management (Part 6 §3.14), CSMS side: the EV's contract certificate
installation and update (M01/M02).

Readings:
* The tool has no EXI codec: its exiRequest is bytes of its own, base64 (what an EV sent is opaque to OCPP;
  the CSMS hands it to its contract-certificate backend). Step 2's "Raw CertificateInstallationRes response"
  is judged as far as OCPP shows it: status Accepted and a non-empty base64 exiResponse.
"""

from __future__ import annotations

import base64
import binascii

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import send_as
from chargeplane.tools.conformance.steps import CsmsTool

SCHEMA_15118_2 = "urn:iso:15118:2:2013:MsgDef"
EXI_REQUEST = base64.b64encode(b"conformance tool: EV certificate request").decode()


async def ev_certificate(tool: CsmsTool, action: en.CertificateActionEnumType) -> None:
    request = msg.Get15118EVCertificateRequest(
        iso15118_schema_version=SCHEMA_15118_2, action=action, exi_request=EXI_REQUEST
    )
    response = await send_as(1, tool, request, msg.Get15118EVCertificateResponse)
    expect_field(2, response, "status", "Accepted")
    if not response.exi_response:
        raise StepFailed(2, "exiResponse is empty")
    try:
        base64.b64decode(response.exi_response, validate=True)
    except binascii.Error:
        raise StepFailed(2, "exiResponse is not base64") from None


@case(
    "TC_M_26_CSMS",
    "Certificate Installation EV - Success",
    use_cases=("M01",),
    requirements=("M01.FR.01",),
)
async def tc_m_26(tool: CsmsTool) -> None:
    await ev_certificate(tool, en.CertificateActionEnumType.INSTALL)


@case(
    "TC_M_28_CSMS",
    "Certificate Update EV - Success",
    use_cases=("M02",),
    requirements=("M02.FR.01",),
)
async def tc_m_28(tool: CsmsTool) -> None:
    await ev_certificate(tool, en.CertificateActionEnumType.UPDATE)
