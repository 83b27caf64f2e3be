"""Block D, Local Authorization List Management (Part 6 §2.4), charging-station side.

Readings:
* Configuration State "LocalAuthListEnabled is true (If implemented)": the tool sets
  LocalAuthListCtrlr.Enabled with SetVariables; a station without the variable (UnknownComponent /
  UnknownVariable) is taken as always enabled. TC_D_10 sets it false the same way and puts it back to true.
* <Configured versionNumber> is the declaration's ``local_list_version`` (default 2, since TC_D_06 needs more
  than 1). Memory State IdTokenLocalAuthList sends a Full list with that version and the valid token
  (idTokenInfo Accepted; the state's table gives no version nor status).
* An "empty" localAuthorizationList (TC_D_04 / D_05) is left out: the schema allows no empty array.
* TC_D_02's "<Configured valid_idtoken_idtoken2>" is the declaration's ``valid_idtoken2``, sent with
  idTokenInfo Accepted (D01.FR.16: an element with info is added). TC_D_03 removes the valid token of the
  memory state (its element without idTokenInfo). TC_D_06's "not empty" list is the second token.
* TC_D_03 validates the version in "Step 3": read as step 4 (the GetLocalListVersionResponse).
* TC_D_07's Charging State "Booted" is the reboot between storing the list and asking its version:
  Reusable State Booted (ResetRequest Immediate).
* TC_D_08 is mandatory for a station: LA-2 (the CSV's feature) is in the CSMS table of Part 5 only.
* After each case the tool leaves the station's list empty (a Full update without entries, outside the
  verdict), so that the valid token is authorized online again by the cases that follow.
"""

from __future__ import annotations

from msgspec import UNSET

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_states import booted
from chargeplane.tools.conformance.station_steps import StationTool

PROFILE = ("Local Authorization List Management",)
Update = en.UpdateEnumType
NOT_IMPLEMENTED = ("Accepted", "UnknownComponent", "UnknownVariable")  # "(If implemented)"


def entry(token: str, token_type: str, *, with_info: bool = True) -> dt.AuthorizationData:
    """An element of a list: with idTokenInfo Accepted (add / update), or without it (remove)."""
    id_token = dt.IdTokenType(id_token=token, type=en.IdTokenEnumType(token_type))
    if not with_info:
        return dt.AuthorizationData(id_token=id_token)
    info = dt.IdTokenInfoType(status=en.AuthorizationStatusEnumType.ACCEPTED)
    return dt.AuthorizationData(id_token=id_token, id_token_info=info)


def valid_entry(tool: StationTool, *, with_info: bool = True) -> dt.AuthorizationData:
    return entry(tool.configured.valid_idtoken, tool.configured.valid_idtoken_type, with_info=with_info)


def second_entry(tool: StationTool) -> dt.AuthorizationData:
    return entry(tool.configured.valid_idtoken2, tool.configured.valid_idtoken2_type)


async def send_list(
    tool: StationTool,
    step: int | str,
    update: Update,
    version: int,
    entries: list[dt.AuthorizationData] | None,
    status: str = "Accepted",
) -> None:
    """Step ``step``: SendLocalList (``entries`` None: left out); the next step: its status."""
    request = msg.SendLocalListRequest(
        version_number=version, update_type=update, local_authorization_list=entries or UNSET
    )
    response = await tool.send_as(step, request, msg.SendLocalListResponse)
    expect_field(step if isinstance(step, str) else step + 1, response, "status", status)


async def list_version(tool: StationTool, step: int, expected: int) -> None:
    """Step ``step``: GetLocalListVersion; step ``step + 1``: its versionNumber."""
    response = await tool.send_as(step, msg.GetLocalListVersionRequest(), msg.GetLocalListVersionResponse)
    expect_field(step + 1, response, "versionNumber", expected)


async def local_list_enabled(tool: StationTool, step: str, enabled: bool) -> None:
    data = dt.SetVariableDataType(
        attribute_value="true" if enabled else "false",
        component=dt.ComponentType(name="LocalAuthListCtrlr"),
        variable=dt.VariableType(name="Enabled"),
    )
    response = await tool.send_as(
        step, msg.SetVariablesRequest(set_variable_data=[data]), msg.SetVariablesResponse
    )
    expect_field(step, response, "setVariableResult[0].attributeStatus", *NOT_IMPLEMENTED)


async def id_token_local_auth_list(tool: StationTool) -> None:
    """Memory State IdTokenLocalAuthList: the valid token in a Full list of <Configured versionNumber>."""
    version = tool.configured.local_list_version
    await send_list(tool, "IdTokenLocalAuthList/1", Update.FULL, version, [valid_entry(tool)])


async def empty_list(tool: StationTool) -> None:
    """Outside the verdict: no list entries left for the next cases."""
    await send_list(tool, "after", Update.FULL, tool.configured.local_list_version, None)


async def with_list(tool: StationTool) -> None:
    await local_list_enabled(tool, "before", True)
    await id_token_local_auth_list(tool)


@case(
    "TC_D_01_CS",
    "Send Local Authorization List - Full",
    use_cases=("D01",),
    requirements=("D01.FR.02", "D01.FR.15"),
    profiles=PROFILE,
)
async def tc_d_01_cs(tool: StationTool) -> None:
    version = tool.configured.local_list_version
    await local_list_enabled(tool, "before", True)
    try:
        await send_list(tool, 1, Update.FULL, version, [valid_entry(tool)])
        await list_version(tool, 3, version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_02_CS",
    "Send Local Authorization List - Differential Update",
    use_cases=("D01",),
    requirements=("D01.FR.02", "D01.FR.16"),
    profiles=PROFILE,
)
async def tc_d_02_cs(tool: StationTool) -> None:
    version = tool.configured.local_list_version + 1
    await with_list(tool)
    try:
        await send_list(tool, 1, Update.DIFFERENTIAL, version, [second_entry(tool)])
        await list_version(tool, 3, version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_03_CS",
    "Send Local Authorization List - Differential Remove",
    use_cases=("D01",),
    requirements=("D01.FR.02", "D01.FR.17"),
    profiles=PROFILE,
)
async def tc_d_03_cs(tool: StationTool) -> None:
    version = tool.configured.local_list_version + 1
    await with_list(tool)
    try:
        await send_list(tool, 1, Update.DIFFERENTIAL, version, [valid_entry(tool, with_info=False)])
        await list_version(tool, 3, version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_04_CS",
    "Send Local Authorization List - Full with empty list",
    use_cases=("D01",),
    requirements=("D01.FR.02", "D01.FR.04"),
    profiles=PROFILE,
)
async def tc_d_04_cs(tool: StationTool) -> None:
    version = tool.configured.local_list_version
    await with_list(tool)
    try:
        await send_list(tool, 1, Update.FULL, version, None)
        await list_version(tool, 3, version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_05_CS",
    "Send Local Authorization List - Differential with empty list",
    use_cases=("D01",),
    requirements=("D01.FR.02", "D01.FR.05"),
    profiles=PROFILE,
)
async def tc_d_05_cs(tool: StationTool) -> None:
    version = tool.configured.local_list_version + 1
    await with_list(tool)
    try:
        await send_list(tool, 1, Update.DIFFERENTIAL, version, None)
        await list_version(tool, 3, version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_06_CS",
    "Send Local Authorization List - VersionMismatch",
    use_cases=("D01",),
    requirements=("D01.FR.19",),
    profiles=PROFILE,
)
async def tc_d_06_cs(tool: StationTool) -> None:
    version = tool.configured.local_list_version
    await with_list(tool)
    try:
        await send_list(
            tool, 1, Update.DIFFERENTIAL, version - 1, [second_entry(tool)], status="VersionMismatch"
        )
        await list_version(tool, 3, version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_07_CS",
    "Send Local Authorization List - Persistent over reboot",
    use_cases=("D01",),
    requirements=("D01.FR.10",),
    profiles=PROFILE,
    timeout=60.0,
)
async def tc_d_07_cs(tool: StationTool) -> None:
    await with_list(tool)
    try:
        await booted(tool)
        await list_version(tool, 1, tool.configured.local_list_version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_08_CS",
    "Get Local List Version - Success",
    use_cases=("D02",),
    requirements=("D02.FR.01",),
    profiles=PROFILE,
)
async def tc_d_08_cs(tool: StationTool) -> None:
    await with_list(tool)
    try:
        await list_version(tool, 1, tool.configured.local_list_version)
    finally:
        await empty_list(tool)


@case(
    "TC_D_10_CS",
    "Get Local List Version - Function disabled",
    use_cases=("D02",),
    requirements=("D02.FR.03",),
    profiles=PROFILE,
)
async def tc_d_10_cs(tool: StationTool) -> None:
    await local_list_enabled(tool, "before", False)
    try:
        await list_version(tool, 1, 0)
    finally:
        await local_list_enabled(tool, "after", True)
