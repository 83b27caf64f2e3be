"""Block C, Authorization (Part 6 §3.4).

Readings:
* TC_C_06's table is damaged in the converted text (its name and token say "Linked"); it is the
  blocked-token case: the blocked token is stored as Blocked at the CSMS, the answer must be Blocked or
  Invalid.
* TC_C_02 accepts Invalid or Unknown (a CSMS may not tell an unknown token from an invalid one).
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.messages import authorize, id_token, send_as, transaction_event
from chargeplane.tools.conformance.states import Event, Trigger, ev_connected_pre_session
from chargeplane.tools.conformance.steps import CsmsTool


async def authorize_expecting(tool: CsmsTool, token: str, token_type: str, *statuses: str) -> None:
    response = await send_as(1, tool, authorize(id_token(token, token_type)), msg.AuthorizeResponse)
    expect_field(2, response, "idTokenInfo.status", *statuses)


@case(
    "TC_C_02_CSMS",
    "Local start transaction - Authorization Invalid/Unknown",
    use_cases=("C01", "C04", "C06"),
    requirements=("C01.FR.07", "C04.FR.01", "C06.FR.04"),
)
async def tc_c_02(tool: CsmsTool) -> None:
    c = tool.configured
    await authorize_expecting(tool, c.invalid_idtoken, c.invalid_idtoken_type, "Invalid", "Unknown")


@case(
    "TC_C_06_CSMS",
    "Local start transaction - Authorization Blocked",
    use_cases=("C01",),
    requirements=("C01.FR.07",),
)
async def tc_c_06(tool: CsmsTool) -> None:
    c = tool.configured
    await authorize_expecting(tool, c.blocked_idtoken, c.blocked_idtoken_type, "Blocked", "Invalid")


@case(
    "TC_C_07_CSMS",
    "Local start transaction - Authorization Expired",
    use_cases=("C01",),
    requirements=("C01.FR.07",),
)
async def tc_c_07(tool: CsmsTool) -> None:
    c = tool.configured
    await authorize_expecting(tool, c.expired_idtoken, c.expired_idtoken_type, "Expired", "Invalid")


@case(
    "TC_C_20_CSMS",
    "Authorization through authorization cache - Invalid",
    use_cases=("C12",),
    requirements=("C12.FR.03",),
)
async def tc_c_20(tool: CsmsTool) -> None:
    await ev_connected_pre_session(tool)  # before
    c = tool.configured
    token = id_token(c.invalid_idtoken, c.invalid_idtoken_type)
    answer = await transaction_event(tool, 1, Event.UPDATED, Trigger.AUTHORIZED, token=token)
    expect_field(2, answer, "idTokenInfo.status", "Invalid", "Unknown")
