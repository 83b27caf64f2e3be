"""Block A, Security (Part 6 §3.2), CSMS side: the station certificate updated by request of the CSMS (A02).

Readings:
* Reusable State RenewChargingStationCertificate, CSMS side: the manual action has the CSMS send the
  TriggerMessageRequest (SignChargingStationCertificate; SignV2GCertificate for TC_A_12, SignCombinedCertificate
  for TC_A_13, whose SignCertificateRequest has no certificateType: "<Configured CSR>"); the tool answers
  Accepted, sends a SignCertificateRequest with a CSR it makes (a new P-256 key; CN the station identity, O
  ``<Configured organization_name>``), and answers the CSMS's CertificateSignedRequest.
* Step 5's certificate checks are not part of the verdict (Part 6: the CSMS may not make the certificate
  itself); the tool does check that certificateType, when present, is the one asked for and that the chain
  is PEM whose first certificate carries the CSR's key, and fails the step otherwise: a CSMS that signs
  someone else's key has not answered this CSR.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import Trigger
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.steps import CsmsTool

CHARGING_STATION = en.CertificateSigningUseEnumType.CHARGING_STATION_CERTIFICATE
V2G = en.CertificateSigningUseEnumType.V2G_CERTIFICATE


def station_csr(tool: CsmsTool) -> tuple[str, bytes]:
    """A CSR (PEM) for the station and its public key (DER), the private key kept by no one after the case."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, tool.station_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, tool.configured.organization_name),
        ]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return request.public_bytes(serialization.Encoding.PEM).decode(), public


async def renew_certificate(
    tool: CsmsTool,
    trigger: str,
    certificate_type: en.CertificateSigningUseEnumType | None,
    answer: en.CertificateSignedStatusEnumType,
) -> None:
    """Steps 1-6 of TC_A_11 / A_12 / A_14 (the Reusable State RenewChargingStationCertificate)."""
    tool.manual(Trigger(trigger))
    incoming = await tool.expect(1, msg.TriggerMessageRequest)
    expect_field(1, incoming.request, "requestedMessage", trigger)
    incoming.answer(msg.TriggerMessageResponse(status=en.TriggerMessageStatusEnumType.ACCEPTED))
    await tool.settle()
    csr, public_key = station_csr(tool)
    request = (
        msg.SignCertificateRequest(csr=csr)
        if certificate_type is None  # a combined certificate: no type (TC_A_13)
        else msg.SignCertificateRequest(csr=csr, certificate_type=certificate_type)
    )
    response = await tool.send(3, request)
    expect_field(4, response, "status", "Accepted")
    signed = await tool.expect(5, msg.CertificateSignedRequest)
    given = present(signed.request.certificate_type)
    if given is not None and certificate_type is not None and given != certificate_type:
        raise StepFailed(
            5, f"CertificateSignedRequest.certificateType is {given}, expected {certificate_type}"
        )
    try:
        chain = x509.load_pem_x509_certificates(signed.request.certificate_chain.encode())
    except ValueError:
        raise StepFailed(5, "CertificateSignedRequest.certificateChain is not PEM X.509") from None
    leaf_key = (
        chain[0]
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    if leaf_key != public_key:
        raise StepFailed(5, "the first certificate of the chain does not carry the CSR's key")
    signed.answer(msg.CertificateSignedResponse(status=answer))
    await tool.settle()


@case(
    "TC_A_11_CSMS",
    "Update Charging Station Certificate by request of CSMS - Success - Charging Station Certificate",
    use_cases=("A02", "F06"),
    requirements=("A02.FR.11", "A02.FR.14", "F06.FR.01"),
)
async def tc_a_11(tool: CsmsTool) -> None:
    await renew_certificate(
        tool, "SignChargingStationCertificate", CHARGING_STATION, en.CertificateSignedStatusEnumType.ACCEPTED
    )


@case(
    "TC_A_12_CSMS",
    "Update Charging Station Certificate by request of CSMS - Success - V2G Certificate",
    use_cases=("A02", "F06"),
    requirements=("A02.FR.11", "F06.FR.01"),
)
async def tc_a_12(tool: CsmsTool) -> None:
    await renew_certificate(tool, "SignV2GCertificate", V2G, en.CertificateSignedStatusEnumType.ACCEPTED)


@case(
    "TC_A_13_CSMS",
    "Update Charging Station Certificate by request of CSMS - Success - Combined Certificate",
    use_cases=("A02",),
    requirements=("A02.FR.11",),
    features=("ISO-3",),
)
async def tc_a_13(tool: CsmsTool) -> None:
    await renew_certificate(
        tool, "SignCombinedCertificate", None, en.CertificateSignedStatusEnumType.ACCEPTED
    )


@case(
    "TC_A_14_CSMS",
    "Update Charging Station Certificate by request of CSMS - Invalid certificate",
    use_cases=("A02",),
    requirements=(),
)
async def tc_a_14(tool: CsmsTool) -> None:
    await renew_certificate(
        tool, "SignChargingStationCertificate", CHARGING_STATION, en.CertificateSignedStatusEnumType.REJECTED
    )
