"""Block C, ISO 15118 Plug & Charge authorization (Part 6 §3.3, C07), CSMS side: the CSMS checks an EV's contract
certificate, from its OCSP hash data (TC_C_50 / C_51) or from the PEM chain (TC_C_52), by OCSP at the tool's
responder, and decides on the eMAID.

Readings:
* The "OCSP service for OCTT" is the tool's own responder (``ocsp_responder.py``), up for the case; each case
  issues a fresh contract certificate, so the CSMS cannot hold a cached answer for it (the prerequisite).
* The contract chain: an MO root, an MO sub-CA and the contract certificate, EC P-256 (the errata of
  TC_C_52_CSMS: ECDSA and at least one sub-CA), the contract's CN the configured ``emaid`` (the errata of
  TC_C_50_CSMS), its authorityInfoAccess naming the tool's responder. The root is made trusted at the CSMS
  by the manual action TrustContractRoot ("signed by the configured MORoot at the CSMS").
* "<hashes from configured (V2G) certificate chain>" (TC_C_50 / C_51): the SHA256 OCSP hash data of the
  contract certificate and of the sub-CA, both with the tool's responder as responderURL.
* TC_C_51 step 3 reads "responds that certificate is valid", against its prerequisite (revoked) and its
  requirement (C07.FR.16): the responder answers revoked, and the tool expects certificateStatus
  CertificateRevoked with idTokenInfo.status Invalid.
* "CSMS sends an OCSP request" (step 2) is checked at the tool's responder: it must have been asked about the
  contract certificate before the AuthorizeResponse.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import TrustContractRoot
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.messages import id_token, send_as, transaction_event
from chargeplane.tools.conformance.ocsp_responder import OcspResponder
from chargeplane.tools.conformance.pki import Issued, chain_pem, hash_data, issue
from chargeplane.tools.conformance.states import (
    Event,
    Trigger,
    energy_transfer_started,
    ev_connected_pre_session,
)
from chargeplane.tools.conformance.steps import CsmsTool


@dataclass(frozen=True)
class ContractChain:
    root: Issued
    sub: Issued
    contract: Issued


def contract_chain(emaid: str, responder: OcspResponder) -> ContractChain:
    """A fresh MO chain whose contract certificate (CN ``emaid``) the tool's responder answers for."""
    root = issue("Conformance MO root", ca=True)
    sub = issue("Conformance MO sub-CA", root, ca=True, ocsp_url=responder.url)
    contract = issue(emaid, sub, ca=False, ocsp_url=responder.url)
    responder.register(sub.certificate, root)
    responder.register(contract.certificate, sub)
    return ContractChain(root, sub, contract)


def hash_chain(chain: ContractChain, responder: OcspResponder) -> list[dt.OCSPRequestDataType]:
    """iso15118CertificateHashData of the contract certificate and its sub-CA."""
    data = [
        hash_data(chain.contract.certificate, chain.sub.certificate),
        hash_data(chain.sub.certificate, chain.root.certificate),
    ]
    return [
        dt.OCSPRequestDataType(
            hash_algorithm=d.hash_algorithm,
            issuer_name_hash=d.issuer_name_hash,
            issuer_key_hash=d.issuer_key_hash,
            serial_number=d.serial_number,
            responder_url=responder.url,
        )
        for d in data
    ]


def expect_ocsp_asked(step: int, responder: OcspResponder, chain: ContractChain) -> None:
    if not responder.was_asked(chain.contract.certificate):
        raise StepFailed(step, "the CSMS did not ask the responder about the contract certificate")


async def authorized_and_charging(tool: CsmsTool, token: dt.IdTokenType) -> None:
    """Steps 5-6 and Reusable State EnergyTransferStarted, with the eMAID."""
    answer = await transaction_event(tool, 5, Event.UPDATED, Trigger.AUTHORIZED, token=token)
    expect_field(6, answer, "idTokenInfo.status", "Accepted")
    tool.progress.authorized = True
    await energy_transfer_started(tool)


@case(
    "TC_C_50_CSMS",
    "Authorization using Contract Certificates 15118 - Online - Local contract certificate validation - Accepted",
    use_cases=("C07",),
    requirements=("C07.FR.04", "C07.FR.05", "C07.FR.14"),
)
async def tc_c_50(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)
    token = id_token(tool.configured.emaid, en.IdTokenEnumType.E_MAID.value)
    async with OcspResponder() as responder:
        chain = contract_chain(tool.configured.emaid, responder)
        request = msg.AuthorizeRequest(
            id_token=token, iso15118_certificate_hash_data=hash_chain(chain, responder)
        )
        response = await send_as(1, tool, request, msg.AuthorizeResponse)
        expect_ocsp_asked(2, responder, chain)
    expect_field(4, response, "idTokenInfo.status", "Accepted")
    expect_field(4, response, "certificateStatus", "Accepted")
    await authorized_and_charging(tool, token)


@case(
    "TC_C_51_CSMS",
    "Authorization using Contract Certificates 15118 - Online - Local contract certificate validation - Rejected",
    use_cases=("C07",),
    requirements=("C07.FR.05", "C07.FR.16"),
)
async def tc_c_51(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)
    token = id_token(tool.configured.emaid, en.IdTokenEnumType.E_MAID.value)
    async with OcspResponder() as responder:
        chain = contract_chain(tool.configured.emaid, responder)
        responder.revoke(chain.contract.certificate)
        request = msg.AuthorizeRequest(
            id_token=token, iso15118_certificate_hash_data=hash_chain(chain, responder)
        )
        response = await send_as(1, tool, request, msg.AuthorizeResponse)
        expect_ocsp_asked(2, responder, chain)
    expect_field(4, response, "certificateStatus", "CertificateRevoked")
    expect_field(4, response, "idTokenInfo.status", "Invalid")


@case(
    "TC_C_52_CSMS",
    "Authorization using Contract Certificates 15118 - Online - Central contract certificate validation - Accepted",
    use_cases=("C07",),
    requirements=("C07.FR.04", "C07.FR.05", "C07.FR.06", "C07.FR.14"),
)
async def tc_c_52(tool: CsmsTool) -> None:
    token = id_token(tool.configured.emaid, en.IdTokenEnumType.E_MAID.value)
    async with OcspResponder() as responder:
        chain = contract_chain(tool.configured.emaid, responder)
        tool.manual(TrustContractRoot(chain.root.pem))
        await tool.settle()
        await ev_connected_pre_session(tool)
        pem = chain_pem(chain.contract.certificate, chain.sub.certificate)
        request = msg.AuthorizeRequest(id_token=token, certificate=pem)  # no hash data: the CSMS derives it
        response = await send_as(1, tool, request, msg.AuthorizeResponse)
        expect_ocsp_asked(2, responder, chain)
    expect_field(4, response, "idTokenInfo.status", "Accepted")
    expect_field(4, response, "certificateStatus", "Accepted")
    await authorized_and_charging(tool, token)
