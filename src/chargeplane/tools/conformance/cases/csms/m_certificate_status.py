"""Block M, ISO 15118 certificate management (Part 6 §3.14), CSMS side: the status of a certificate (M06).

Readings:
* TC_M_24: "<hashes from configured (V2G) certificate chain SubCA's>" are the OCSP hash data (SHA256) of the
  declaration's ``v2g_sub_ca_certificate`` as issued by ``v2g_root_certificate``; responderURL is
  ``ocsp_responder_url``. "One or more subsequent" requests: the tool sends one for the sub-CA. The check of
  step 2 decodes ocspResult as a DER OCSPResponse (RFC 6960) that is successful and about the serial asked.
"""

from __future__ import annotations

import base64
import binascii

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import send_as
from chargeplane.tools.conformance.steps import CsmsTool


def sub_ca_request_data(tool: CsmsTool) -> tuple[dt.OCSPRequestDataType, int]:
    c = tool.configured
    if not (c.v2g_sub_ca_certificate and c.v2g_root_certificate and c.ocsp_responder_url):
        raise StepFailed(
            "before",
            "tool configuration: v2g_root_certificate, v2g_sub_ca_certificate and ocsp_responder_url",
        )
    sub = x509.load_pem_x509_certificate(c.v2g_sub_ca_certificate.encode())
    root = x509.load_pem_x509_certificate(c.v2g_root_certificate.encode())
    request = ocsp.OCSPRequestBuilder().add_certificate(sub, root, hashes.SHA256()).build()
    data = dt.OCSPRequestDataType(
        hash_algorithm=en.HashAlgorithmEnumType.SHA256,
        issuer_name_hash=request.issuer_name_hash.hex(),
        issuer_key_hash=request.issuer_key_hash.hex(),
        serial_number=format(sub.serial_number, "x"),
        responder_url=c.ocsp_responder_url,
    )
    return data, sub.serial_number


@case(
    "TC_M_24_CSMS",
    "Get Charging Station Certificate status - Success",
    use_cases=("M06",),
    requirements=("M06.FR.01", "M06.FR.02", "M06.FR.03", "M06.FR.08", "M06.FR.09"),
)
async def tc_m_24(tool: CsmsTool) -> None:
    data, serial = sub_ca_request_data(tool)
    request = msg.GetCertificateStatusRequest(ocsp_request_data=data)
    response = await send_as(1, tool, request, msg.GetCertificateStatusResponse)
    expect_field(2, response, "status", "Accepted")
    encoded = present(response.ocsp_result)
    if encoded is None:
        raise StepFailed(2, "GetCertificateStatusResponse has no ocspResult")
    try:
        result = ocsp.load_der_ocsp_response(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error):
        raise StepFailed(2, "ocspResult is not a base64 DER OCSPResponse") from None
    if result.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise StepFailed(2, f"the OCSPResponse's status is {result.response_status.name}")
    if result.serial_number != serial:
        raise StepFailed(2, "the OCSPResponse is not about the sub-CA asked for")
