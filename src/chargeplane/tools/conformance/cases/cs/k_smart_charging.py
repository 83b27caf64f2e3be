"""Block K, Smart Charging (Part 6 §2.11), charging-station side.

Readings:
* TC_K_38_CS is for a station without the Smart Charging profile (Part 5: NOT Smart Charging): N/A for a
  declaration that lists that profile. The profile sent is a TxProfile, kind Relative, one period from 0 s
  with the declaration's ``number_phases`` and a limit of 6 A or 6000 W after its ``charging_rate_unit``;
  its id and stack level (not given by the table) are 1 and 0.
* Step 3's "InvalidateRequest" is the AuthorizeRequest: when the station sends one (AuthorizeRemoteStart
  true), it must carry the configured valid id token.
* Step 2's transactionId is checked when a transaction already ran before the request (a TxStartPoint
  EVConnected station, from EVConnectedPreSession).
* Step 5's TransactionEvent is the first one after the request (triggerReason RemoteStart, with the
  remoteStartId), as in the other remote start cases; step 7 is Reusable State EnergyTransferStarted.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field, expect_present
from chargeplane.tools.conformance.station_states import (
    TxEvent,
    energy_transfer_started,
    ev_connected_pre_session,
    first_event_after_remote_start,
    transaction_events,
    valid_token,
)
from chargeplane.tools.conformance.station_steps import StationTool

REMOTE_START_ID = 3838


def tx_profile(tool: StationTool) -> dt.ChargingProfileType:
    configured = tool.configured
    watts = configured.charging_rate_unit == "W"
    period = dt.ChargingSchedulePeriodType(
        start_period=0, limit=6000.0 if watts else 6.0, number_phases=configured.number_phases
    )
    schedule = dt.ChargingScheduleType(
        id=1,
        charging_rate_unit=en.ChargingRateUnitEnumType.W if watts else en.ChargingRateUnitEnumType.A,
        charging_schedule_period=[period],
    )
    return dt.ChargingProfileType(
        id=1,
        stack_level=0,
        charging_profile_purpose=en.ChargingProfilePurposeEnumType.TX_PROFILE,
        charging_profile_kind=en.ChargingProfileKindEnumType.RELATIVE,
        charging_schedule=[schedule],
    )


@case(
    "TC_K_38_CS",
    "Remote start transaction with charging profile - Ignore chargingProfile",
    use_cases=("F01",),
    requirements=("F01.FR.12", "F01.FR.13"),
    unless_profiles=("Smart Charging",),
    timeout=40.0,
)
async def tc_k_38_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    running = transaction_events(tool)
    request = msg.RequestStartTransactionRequest(
        id_token=valid_token(tool),
        evse_id=tool.configured.evse_id,
        remote_start_id=REMOTE_START_ID,
        charging_profile=tx_profile(tool),
    )
    tool.remote_started_at = len(tool.seen)
    response = await tool.send_as(1, request, msg.RequestStartTransactionResponse)
    expect_field(2, response, "status", "Accepted")
    tool.progress.add("Authorized")
    tool.remote_start_id = REMOTE_START_ID
    if running:
        expect_field(2, response, "transactionId", running[0].transaction_info.transaction_id)
    await energy_transfer_started(tool)  # 3.-6. on the way, 7.
    first_event_after_remote_start(tool, 5)
    for authorize in (m for m in tool.seen[tool.remote_started_at :] if isinstance(m, msg.AuthorizeRequest)):
        expect_field(3, authorize, "idToken.idToken", tool.configured.valid_idtoken)
        expect_field(3, authorize, "idToken.type", tool.configured.valid_idtoken_type)
    first = next(e for e in tool.seen[tool.remote_started_at :] if isinstance(e, TxEvent))
    expect_present(5, first, "transactionInfo.remoteStartId")
