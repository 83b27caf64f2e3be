"""Block E, Transactions (Part 6 §2.6), charging-station side.

Readings:
* TC_E_03_CS / TC_E_04_CS have Part 5 conditions on local authorization options (C-30 to C-35): a station
  with none of them declares none, yet these stay mandatory here (every station of this tool reads cards).
* TC_E_28_CS's "randomly generated" transaction id is a fresh UUID.
"""

from __future__ import annotations

import uuid

from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_states import (
    authorized_local,
    energy_transfer_started,
    ev_connected_pre_session,
)
from chargeplane.tools.conformance.station_steps import StationTool


@case(
    "TC_E_03_CS",
    "Local start transaction - Cable plugin first - Success",
    use_cases=("E02", "C01"),
    requirements=("E02.FR.01", "E01.FR.16", "C01.FR.02"),
    timeout=40.0,
)
async def tc_e_03_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    await authorized_local(tool)
    await energy_transfer_started(tool)


@case(
    "TC_E_04_CS",
    "Local start transaction - Authorization first - Success",
    use_cases=("E03", "C01"),
    requirements=("E03.FR.01", "C01.FR.02"),
    timeout=40.0,
)
async def tc_e_04_cs(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)


@case(
    "TC_E_28_CS",
    "Check Transaction status - TransactionId unknown",
    use_cases=("E14",),
    requirements=("E14.FR.02", "E14.FR.04"),
)
async def tc_e_28_cs(tool: StationTool) -> None:
    request = msg.GetTransactionStatusRequest(transaction_id=str(uuid.uuid4()))
    response = await tool.send_as(1, request, msg.GetTransactionStatusResponse)
    expect_field(2, response, "ongoingIndicator", False)
    expect_field(2, response, "messagesInQueue", False)
