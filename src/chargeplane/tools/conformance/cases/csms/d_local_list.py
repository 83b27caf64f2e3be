"""Block D, Local Authorization List Management (Part 6 §3.5), CSMS side.

Readings:
* Before a SendLocalList a CSMS may ask the station's list limits (D01.FR.11: GetVariables of
  LocalAuthListCtrlr ItemsPerMessage / BytesPerMessage); the tool answers those as a station without the
  variables would (UnknownVariable), so that the CSMS sends the list in one message.
* TC_D_01's optional GetLocalListVersion (step 1) is answered with version 1 when it comes.
* TC_D_02 / D_03 / D_04 need the CSMS to send a list of a given content (new tokens, removals, empty);
  not implemented yet.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import GetLocalListVersion, SendLocalList
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.steps import CsmsTool, Incoming

PROFILE = ("Local Authorization List Management",)


def _unknown_variables(request: msg.GetVariablesRequest) -> msg.GetVariablesResponse:
    results = [
        dt.GetVariableResultType(
            attribute_status=en.GetVariableStatusEnumType.UNKNOWN_VARIABLE,
            component=item.component,
            variable=item.variable,
        )
        for item in request.get_variable_data
    ]
    return msg.GetVariablesResponse(get_variable_result=results)


async def next_list_call(tool: CsmsTool, step: int | str) -> Incoming[Payload]:
    """The CSMS's next CALL of the local-list exchange, its limit questions answered on the way."""
    while True:
        incoming = await tool.expect(step, Payload)
        if isinstance(incoming.request, msg.GetVariablesRequest):
            incoming.answer(_unknown_variables(incoming.request))
            continue
        if isinstance(incoming.request, msg.GetLocalListVersionRequest):
            incoming.answer(msg.GetLocalListVersionResponse(version_number=1))
            continue
        return incoming


@case(
    "TC_D_01_CSMS",
    "Send Local Authorization List - Full",
    use_cases=("D01",),
    requirements=("D01.FR.01", "D01.FR.02"),
    profiles=PROFILE,
)
async def tc_d_01(tool: CsmsTool) -> None:
    tool.manual(SendLocalList(full=True))
    incoming = await next_list_call(tool, 3)
    request = incoming.request
    if not isinstance(request, msg.SendLocalListRequest):
        incoming.answer(msg.SendLocalListResponse(status=en.SendLocalListStatusEnumType.FAILED))
        raise StepFailed(3, f"expected a SendLocalListRequest, the CSMS sent {type(request).__name__}")
    expect_field(3, request, "updateType", "Full")
    if request.version_number <= 0:
        raise StepFailed(3, f"SendLocalListRequest.versionNumber is {request.version_number}, expected > 0")
    if not request.local_authorization_list:
        raise StepFailed(3, "SendLocalListRequest.localAuthorizationList is empty, expected entries")
    incoming.answer(msg.SendLocalListResponse(status=en.SendLocalListStatusEnumType.ACCEPTED))
    await tool.settle()


async def list_version(tool: CsmsTool, version: int) -> None:
    tool.manual(GetLocalListVersion())
    incoming = await tool.expect(1, msg.GetLocalListVersionRequest)
    incoming.answer(msg.GetLocalListVersionResponse(version_number=version))
    await tool.settle()


@case(
    "TC_D_08_CSMS",
    "Get Local List Version - Success",
    use_cases=("D02",),
    requirements=("D02.FR.01",),
    profiles=PROFILE,
    features=("LA-2",),
)
async def tc_d_08(tool: CsmsTool) -> None:
    await list_version(tool, 1)  # <Configured versionNumber>


@case(
    "TC_D_09_CSMS",
    "Get Local List Version - No list available",
    use_cases=("D02",),
    requirements=("D02.FR.02",),
    profiles=PROFILE,
)
async def tc_d_09(tool: CsmsTool) -> None:
    await list_version(tool, 0)
