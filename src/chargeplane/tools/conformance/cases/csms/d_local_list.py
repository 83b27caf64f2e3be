"""Block D, Local Authorization List Management (Part 6 §3.5), CSMS side.

Readings:
* Before a SendLocalList a CSMS may ask the station's list limits (D01.FR.11: GetVariables of
  LocalAuthListCtrlr ItemsPerMessage / BytesPerMessage); the tool answers those as a station without the
  variables would (UnknownVariable), so that the CSMS sends the list in one message.
* TC_D_01's optional GetLocalListVersion (step 1) is answered with version 1 when it comes.
* TC_D_02 / D_03 / D_04: the manual action changes the CSMS's tokens (the valid token 2 joins or leaves the
  list; no token left on it) and asks for the list update. A GetLocalListVersion the CSMS sends first (TC_D_02
  steps 1-2, and before a differential update in TC_D_03) is answered with the version of the last list
  the tool accepted: "bigger than currently configured in OCTT" compares with that version, and TC_D_02's
  "versionNumber 1" is what TC_D_01 left on a fresh CSMS. Steps 1-2 are taken as optional, as in TC_D_01
  (the validations look at the SendLocalList only).
* So that the tool holds the CSMS's version whatever ran before, TC_D_02 first takes a Full list (the
  manual action of TC_D_01) and TC_D_03 first takes the update that puts the token to remove on the list
  (step "before").
* TC_D_03's list must hold elements without idTokenInfo only; TC_D_04's must be absent or empty.
"""

from __future__ import annotations

from typing import cast

from chargeplane.ocpp.errors import InternalError
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.adapter import ChangeLocalList, GetLocalListVersion, SendLocalList
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, expect_field, field_value
from chargeplane.tools.conformance.steps import DEFAULT_WITHIN, CsmsTool, Incoming

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


# -- TC_D_02 / D_03 / D_04: lists of a given content ---------------------------------------------------------
QUIET = 1.0  # seconds without a CALL after which a list exchange is taken as over


async def list_exchange_call(tool: CsmsTool, step: int | str, version: int) -> Incoming[Payload]:
    """As :func:`next_list_call`, a GetLocalListVersion answered with ``version`` (the tool's list)."""
    while True:
        incoming = await tool.expect(step, Payload)
        if isinstance(incoming.request, msg.GetVariablesRequest):
            incoming.answer(_unknown_variables(incoming.request))
        elif isinstance(incoming.request, msg.GetLocalListVersionRequest):
            incoming.answer(msg.GetLocalListVersionResponse(version_number=version))
        else:
            return incoming


async def take_lists(tool: CsmsTool, version: int) -> int:
    """Step "before": accept what the CSMS sends of its list (at least one SendLocalList) until it is quiet;
    the version the tool holds then."""
    step = "before"
    got = False
    while True:
        try:
            incoming = await tool.expect(step, Payload, QUIET if got else DEFAULT_WITHIN)
        except StepFailed:
            if got:
                break
            raise
        request = incoming.request
        if isinstance(request, msg.GetVariablesRequest):
            incoming.answer(_unknown_variables(request))
        elif isinstance(request, msg.GetLocalListVersionRequest):
            incoming.answer(msg.GetLocalListVersionResponse(version_number=version))
        elif isinstance(request, msg.SendLocalListRequest):
            incoming.answer(msg.SendLocalListResponse(status=en.SendLocalListStatusEnumType.ACCEPTED))
            version, got = request.version_number, True
        else:
            incoming.answer(msg.SendLocalListResponse(status=en.SendLocalListStatusEnumType.FAILED))
            raise StepFailed(step, f"expected the local list, the CSMS sent {type(request).__name__}")
    await tool.settle()
    return version


async def send_local_list(tool: CsmsTool, step: int, version: int) -> Incoming[msg.SendLocalListRequest]:
    """Step ``step``: the CSMS's SendLocalList (after its optional list questions), newer than ``version``."""
    incoming = await list_exchange_call(tool, step, version)
    request = incoming.request
    if not isinstance(request, msg.SendLocalListRequest):
        incoming.refuse(InternalError("the test case expected SendLocalListRequest"))
        raise StepFailed(step, f"expected a SendLocalListRequest, the CSMS sent {type(request).__name__}")
    if request.version_number <= version:
        incoming.answer(msg.SendLocalListResponse(status=en.SendLocalListStatusEnumType.VERSION_MISMATCH))
        raise StepFailed(
            step, f"SendLocalListRequest.versionNumber is {request.version_number}, expected > {version}"
        )
    return cast("Incoming[msg.SendLocalListRequest]", incoming)


def accept(incoming: Incoming[msg.SendLocalListRequest]) -> None:
    incoming.answer(msg.SendLocalListResponse(status=en.SendLocalListStatusEnumType.ACCEPTED))


@case(
    "TC_D_02_CSMS",
    "Send Local Authorization List - Differential Update",
    use_cases=("D01",),
    requirements=("D01.FR.01", "D01.FR.06", "D01.FR.18"),
    profiles=PROFILE,
)
async def tc_d_02(tool: CsmsTool) -> None:
    configured = tool.configured
    tool.manual(SendLocalList(full=True))
    version = await take_lists(tool, 0)
    tool.manual(ChangeLocalList("add", configured.valid_idtoken2, configured.valid_idtoken2_type))
    incoming = await send_local_list(tool, 3, version)
    expect_field(3, incoming.request, "updateType", "Differential")
    if not incoming.request.local_authorization_list:
        accept(incoming)
        raise StepFailed(3, "SendLocalListRequest.localAuthorizationList is empty, expected entries")
    accept(incoming)
    await tool.settle()


@case(
    "TC_D_03_CSMS",
    "Send Local Authorization List - Differential Remove",
    use_cases=("D01",),
    requirements=("D01.FR.01", "D01.FR.06", "D01.FR.18", "D01.FR.17"),
    profiles=PROFILE,
)
async def tc_d_03(tool: CsmsTool) -> None:
    configured = tool.configured
    token, token_type = configured.valid_idtoken2, configured.valid_idtoken2_type
    tool.manual(ChangeLocalList("add", token, token_type))
    version = await take_lists(tool, 0)
    tool.manual(ChangeLocalList("remove", token, token_type))
    incoming = await send_local_list(tool, 1, version)
    request = incoming.request
    accept(incoming)
    expect_field(1, request, "updateType", "Differential")
    entries = request.local_authorization_list
    if not entries:
        raise StepFailed(1, "SendLocalListRequest.localAuthorizationList is empty, expected removals")
    for index in range(len(entries)):
        path = f"localAuthorizationList[{index}].idTokenInfo"
        if field_value(request, path) is not ABSENT:
            raise StepFailed(1, f"SendLocalListRequest.{path} is present, expected elements without it")
    await tool.settle()


@case(
    "TC_D_04_CSMS",
    "Send Local Authorization List - Full with empty list",
    use_cases=("D01",),
    requirements=("D01.FR.01", "D01.FR.06", "D01.FR.18"),
    profiles=PROFILE,
)
async def tc_d_04(tool: CsmsTool) -> None:
    tool.manual(ChangeLocalList("clear"))
    incoming = await send_local_list(tool, 1, 0)
    request = incoming.request
    accept(incoming)
    expect_field(1, request, "updateType", "Full")
    if request.local_authorization_list:
        count = len(request.local_authorization_list)
        raise StepFailed(
            1, f"SendLocalListRequest.localAuthorizationList has {count} elements, expected none"
        )
    await tool.settle()
