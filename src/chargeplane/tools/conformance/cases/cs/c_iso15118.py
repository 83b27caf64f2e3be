"""Block C, ISO 15118 authorization with contract certificates (Part 6 §2.3, C07): Plug & Charge online with
the station's own check of the contract chain or the CSMS's (TC_C_50 - C_53), and offline (TC_C_54, C_55).

Readings:
* The EV's contract certificate is issued under the tool's MO root (``pki.py``), as the OCTT's EV emulator's
  is under the OCTT's; the manual action connects an ISO 15118 EV using Plug & Charge (EVConnectedPreSession
  for such an EV). TC_C_50_CS's main scenario is not in the specification text we have: it is read as
  TC_C_52_CS's with the validations of TC_C_51_CS (iso15118CertificateHashData provided).
* "If implemented" settings (AuthCtrlr.Enabled, ISO15118Ctrlr.V2GCertificateInstallationEnabled, SeccId,
  CountryName, OrganizationName) are set without requiring Accepted.
* TC_C_52_CS / C_53_CS: the MO roots the station lists are deleted first (the prerequisite: the root that
  validates the contract must not be there).
* Post scenario validations "shall not charge": no TransactionEvent with triggerReason Authorized or
  chargingState Charging in the case, waited for 3 s after the last step. TC_C_55_CS waits the configured
  transaction duration offline, then as long again online.
* TC_C_54_CS: the authorization cache is cleared first: earlier cases cached the eMAID as Invalid, which
  offline would refuse it (C07.FR.11); unknown, it is charged by OfflineTxForUnknownIdEnabled (C07.FR.12).
  The memory states IdTokenCached / IdTokenLocalAuthList of the valid id token are not made (they play no
  part for the eMAID). The queued TransactionEvents and the status may come in any order after the reconnection; the
  tool answers the eMAID the station authorized offline as Accepted (step 8) whichever event carries it first.
"""

from __future__ import annotations

import asyncio

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.m_certificates import (
    Install,
    Use,
    certificate_installed,
    get_installed,
)
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import PlugInIso15118Ev
from chargeplane.tools.conformance.station_states import (
    Setting,
    Status,
    TxEvent,
    configuration,
    connector_status,
    energy_transfer_started,
    offline_settings,
    transaction_events,
)
from chargeplane.tools.conformance.station_steps import StationTool

ISO, AUTH = "ISO15118Ctrlr", "AuthCtrlr"
NO_CHARGING_WITHIN = 3.0


def online_settings(central: bool) -> list[Setting]:
    return [
        (AUTH, "Enabled", None, "true", False),
        (AUTH, "DisableRemoteAuthorization", None, "false", False),
        (ISO, "CentralContractValidationAllowed", None, "true" if central else "false", True),
        (ISO, "ContractCertificateInstallationEnabled", None, "true", False),
        (ISO, "V2GCertificateInstallationEnabled", None, "true", False),
        (ISO, "PnCEnabled", None, "true", True),
    ]


async def roots_installed(tool: StationTool) -> None:
    pki = tool.pki()
    await certificate_installed(tool, "before", Install.V2G_ROOT_CERTIFICATE, pki.v2g_root)
    await certificate_installed(tool, "before", Install.MO_ROOT_CERTIFICATE, pki.mo_root)


async def mo_roots_removed(tool: StationTool) -> None:
    tool.pki()  # made (and kept) before the EV's contract is issued under its MO root
    listed = await get_installed(tool, "before", Use.MO_ROOT_CERTIFICATE)
    for entry in listed.certificate_hash_data_chain or []:
        request = msg.DeleteCertificateRequest(certificate_hash_data=entry.certificate_hash_data)
        await tool.send_as("before", request, msg.DeleteCertificateResponse)


async def pnc_ev_connected(tool: StationTool) -> None:
    """Reusable State EVConnectedPreSession, with an EV using Plug & Charge."""
    configured = tool.configured
    await tool.manual(PlugInIso15118Ev(configured.evse_id, configured.connector_id))
    await connector_status(tool, "EVConnectedPreSession/1", Status.OCCUPIED)
    tool.progress.add("EVConnected")


async def contract_authorize(
    tool: StationTool, *, central: bool, status: en.AuthorizationStatusEnumType, certificate_status: str
) -> None:
    """Steps 1-2: the eMAID's AuthorizeRequest (with the chain's OCSP data, or with the chain itself for the
    CSMS to validate) answered as the case says; the tool answers the eMAID's TransactionEvents alike."""
    incoming = await tool.expect(1, msg.AuthorizeRequest, within=10.0)
    request = incoming.request
    expect_field(1, request, "idToken.type", "eMAID")
    if central and not request.certificate:
        raise StepFailed(1, "certificate is absent: the station must pass the contract chain (C07.FR.06)")
    if not central and not request.iso15118_certificate_hash_data:
        raise StepFailed(1, "iso15118CertificateHashData is absent (C07.FR.02)")
    tool.answers.statuses[request.id_token.id_token] = status
    info = dt.IdTokenInfoType(status=status)
    incoming.answer(
        msg.AuthorizeResponse(
            id_token_info=info, certificate_status=en.AuthorizeCertificateStatusEnumType(certificate_status)
        )
    )


async def authorized_and_charging(tool: StationTool) -> None:
    """Steps 3-5: the TransactionEvent with triggerReason Authorized, then EnergyTransferStarted."""
    authorized = en.TriggerReasonEnumType.AUTHORIZED
    if not any(e.trigger_reason is authorized for e in transaction_events(tool)):
        await tool.expect_answered(3, TxEvent, where=lambda e: e.trigger_reason is authorized)
    await energy_transfer_started(tool)


def _charging_started(event: TxEvent) -> bool:
    charging = field_value(event, "transactionInfo.chargingState") == en.ChargingStateEnumType.CHARGING
    return event.trigger_reason is en.TriggerReasonEnumType.AUTHORIZED or bool(charging)


async def not_charging(tool: StationTool, step: int | str, within: float = NO_CHARGING_WITHIN) -> None:
    """Post scenario validation: not authorized, no charging."""
    await tool.drain(within=within, limit=within * 2)
    if any(_charging_started(e) for e in transaction_events(tool)):
        raise StepFailed(
            step, "the station sent a TransactionEvent with triggerReason Authorized or Charging"
        )


async def online_case(tool: StationTool, *, central: bool, accepted: bool) -> None:
    """TC_C_50 - C_53: the contract validated by the station (its MO root installed) or by the CSMS (no MO
    root at the station), the CSMS accepting it or not."""
    async with configuration(tool, "before", online_settings(central)):
        await (mo_roots_removed(tool) if central else roots_installed(tool))
        await pnc_ev_connected(tool)
        if accepted:
            status = en.AuthorizationStatusEnumType.ACCEPTED
            await contract_authorize(tool, central=central, status=status, certificate_status="Accepted")
            await authorized_and_charging(tool)
            return
        refused = "CertificateRevoked" if central else "ContractCancelled"
        status = en.AuthorizationStatusEnumType.INVALID
        await contract_authorize(tool, central=central, status=status, certificate_status=refused)
        await not_charging(tool, "post")


async def pnc_ev_connected_offline(tool: StationTool) -> None:
    """TC_C_54 / C_55 steps 1-2: offline, the Plug & Charge EV connected, the transaction duration waited,
    then back online."""
    configured = tool.configured
    async with tool.offline(1):
        await tool.manual(PlugInIso15118Ev(configured.evse_id, configured.connector_id))
        tool.progress.add("EVConnected")
        await asyncio.sleep(configured.transaction_duration)
    await tool.come_online(2, configured.retry_backoff_wait_minimum * 4 + 10)


@case(
    "TC_C_50_CS",
    "Authorization using Contract Certificates 15118 - Online - Local contract certificate validation - Accepted",
    use_cases=("C07",),
    requirements=("C07.FR.01", "C07.FR.02"),
)
async def tc_c_50_cs(tool: StationTool) -> None:
    await online_case(tool, central=False, accepted=True)


@case(
    "TC_C_51_CS",
    "Authorization using Contract Certificates 15118 - Online - Local contract certificate validation - Rejected",
    use_cases=("C07",),
    requirements=("C07.FR.01", "C07.FR.02"),
)
async def tc_c_51_cs(tool: StationTool) -> None:
    await online_case(tool, central=False, accepted=False)


@case(
    "TC_C_52_CS",
    "Authorization using Contract Certificates 15118 - Online - Central contract certificate validation - Accepted",
    use_cases=("C07",),
    requirements=("C07.FR.01", "C07.FR.02", "C07.FR.06"),
    features=("ISO-5",),
)
async def tc_c_52_cs(tool: StationTool) -> None:
    await online_case(tool, central=True, accepted=True)


@case(
    "TC_C_53_CS",
    "Authorization using Contract Certificates 15118 - Online - Central contract validation fails",
    use_cases=("C07",),
    features=("ISO-5",),
)
async def tc_c_53_cs(tool: StationTool) -> None:
    await online_case(tool, central=True, accepted=False)


def offline_contract_settings(tool: StationTool, validate_offline: bool) -> list[Setting]:
    return [
        (AUTH, "Enabled", None, "true", False),
        (AUTH, "OfflineTxForUnknownIdEnabled", None, "true", False),
        *offline_settings(tool),
        (ISO, "ContractValidationOffline", None, "true" if validate_offline else "false", True),
        (ISO, "PnCEnabled", None, "true", True),
    ]


@case(
    "TC_C_55_CS",
    "Authorization using Contract Certificates 15118 - Offline - ContractValidationOffline is false",
    use_cases=("C07",),
    requirements=("C07.FR.07",),
    timeout=60.0,
)
async def tc_c_55_cs(tool: StationTool) -> None:
    configured = tool.configured
    async with configuration(tool, "before", offline_contract_settings(tool, validate_offline=False)):
        await roots_installed(tool)
        await pnc_ev_connected_offline(tool)
        await connector_status(tool, 3, Status.OCCUPIED)
        await not_charging(tool, 7, within=max(NO_CHARGING_WITHIN, configured.transaction_duration))


@case(
    "TC_C_54_CS",
    "Authorization using Contract Certificates 15118 - Offline - ContractValidationOffline is true",
    use_cases=("C07",),
    requirements=("C07.FR.08", "C07.FR.09", "C07.FR.10", "C07.FR.11", "C07.FR.12"),
    timeout=60.0,
)
async def tc_c_54_cs(tool: StationTool) -> None:
    async with configuration(tool, "before", offline_contract_settings(tool, validate_offline=True)):
        await roots_installed(tool)
        cleared = await tool.send_as("before", msg.ClearCacheRequest(), msg.ClearCacheResponse)
        expect_field("before", cleared, "status", "Accepted")
        await pnc_ev_connected_offline(tool)
        # the queued events come in any order with the status: each eMAID the station authorized offline
        # is answered Accepted (step 8), until the Authorized one
        authorized = None
        while authorized is None:
            incoming = await tool.expect(7, TxEvent, within=15.0)
            event = incoming.request
            token = event.id_token
            if isinstance(token, dt.IdTokenType) and token.type == "eMAID":
                tool.answers.valid_tokens.add(token.id_token)
            tool.answer_default(incoming)
            if event.trigger_reason is en.TriggerReasonEnumType.AUTHORIZED:
                authorized = event
        expect_field(7, authorized, "offline", True)
        occupied = [
            s
            for s in tool.seen
            if isinstance(s, msg.StatusNotificationRequest) and s.connector_status is Status.OCCUPIED
        ]
        if not occupied:
            await connector_status(tool, 3, Status.OCCUPIED)
        plugged = [
            e
            for e in transaction_events(tool)
            if e.trigger_reason is en.TriggerReasonEnumType.CABLE_PLUGGED_IN
        ]
        if plugged:  # step 5: only when TxStartPoint holds EVConnected
            expect_field(5, plugged[-1], "transactionInfo.chargingState", "EVConnected")
            expect_field(5, plugged[-1], "offline", True)
        await energy_transfer_started(tool)
