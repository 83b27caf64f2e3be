"""Block B, Provisioning: GetVariables (B06) and SetVariables (B05) (Part 6 §2.3), charging-station side.

Readings:
* Component names the tables give as "OCPPCommCtrl", "AuthCtrl", "SmartChargingCtrl", "ClockCtrl" are read
  as the Part 2 names OCPPCommCtrlr, AuthCtrlr, SmartChargingCtrlr, ClockCtrlr (the tables use both).
* "NotSupportedcliffeType" (TC_B_34 / B_37) is NotSupportedAttributeType; TC_B_09's
  "setVariableResult[0].attributename" is ``variable.name``; TC_B_10's two results, numbered [1] and [2],
  are the two results in any order (as for TC_B_07), each found by its component and variable.
* "attributeStatusInfo is absent or reasonCode NoError" is checked as such wherever a table says it.
* Configuration states (TC_B_06: OfflineThreshold 300; TC_B_07: and LocalAuthorizationOffline true) are
  set with SetVariables before step 1; values the tool changes are put back afterwards, outside the verdict.
* TC_B_11: the five values are 300 (the "<configured offlineThreshold>" of the tool), 300.1, true, the
  current time and "abc", each sent to OfflineThreshold (integer), SmartChargingCtrlr.LimitChangeSignificance
  (decimal), AuthCtrlr.AuthorizeRemoteStart (boolean) and ClockCtrlr.NextTimeOffsetTransitionDateTime
  (dateTime) in the order of the main steps (the tool validations swap steps 4 and 6). A value that does
  not fit the variable's type must be Rejected; one that fits may be Accepted or Rejected (a range the
  tool does not know may refuse it); the reasonCode InvalidValue is "not required": not checked. Steps 3-4 and 7-8 are skipped when GetVariables finds the variable
  unknown; steps 5-6 when the station refuses AuthorizeRemoteStart its own current value (ReadOnly).
* TC_B_39 gives no attributeValue: the tool sends MessageTimeout[Default]'s current value (read first).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import from_wire, utc_now
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_steps import StationTool

Attribute = en.AttributeEnumType
COMM, AUTH = "OCPPCommCtrlr", "AuthCtrlr"
OFFLINE_THRESHOLD = "300"  # the <Configured offlineThreshold> of the tool


def component_variable(
    component: str, variable: str, instance: str | None = None
) -> tuple[dt.ComponentType, dt.VariableType]:
    return (
        dt.ComponentType(name=component),
        dt.VariableType(name=variable)
        if instance is None
        else dt.VariableType(name=variable, instance=instance),
    )


def get_data(
    component: str, variable: str, attribute: Attribute | None = None, instance: str | None = None
) -> dt.GetVariableDataType:
    c, v = component_variable(component, variable, instance)
    if attribute is None:
        return dt.GetVariableDataType(component=c, variable=v)
    return dt.GetVariableDataType(component=c, variable=v, attribute_type=attribute)


def set_data(
    component: str, variable: str, value: str, attribute: Attribute | None = None, instance: str | None = None
) -> dt.SetVariableDataType:
    c, v = component_variable(component, variable, instance)
    if attribute is None:
        return dt.SetVariableDataType(attribute_value=value, component=c, variable=v)
    return dt.SetVariableDataType(attribute_value=value, component=c, variable=v, attribute_type=attribute)


async def get_variables(
    tool: StationTool, step: int | str, *data: dt.GetVariableDataType
) -> msg.GetVariablesResponse:
    request = msg.GetVariablesRequest(get_variable_data=list(data))
    return await tool.send_as(step, request, msg.GetVariablesResponse)


async def set_variables(
    tool: StationTool, step: int | str, *data: dt.SetVariableDataType
) -> msg.SetVariablesResponse:
    request = msg.SetVariablesRequest(set_variable_data=list(data))
    return await tool.send_as(step, request, msg.SetVariablesResponse)


async def current_value(
    tool: StationTool, step: int | str, component: str, variable: str, instance: str | None = None
) -> str | None:
    """The Actual value, or None when the station does not give it (unknown, rejected)."""
    response = await get_variables(tool, step, get_data(component, variable, instance=instance))
    result = response.get_variable_result[0] if response.get_variable_result else None
    if result is None or result.attribute_status is not en.GetVariableStatusEnumType.ACCEPTED:
        return None
    return result.attribute_value if isinstance(result.attribute_value, str) else ""


async def configure(tool: StationTool, component: str, variable: str, value: str) -> str | None:
    """A configuration state: set ``value`` before step 1; returns the previous value (to put back)."""
    previous = await current_value(tool, "before", component, variable)
    response = await set_variables(tool, "before", set_data(component, variable, value))
    expect_field("before", response, "setVariableResult[0].attributeStatus", "Accepted")
    return previous


async def put_back(tool: StationTool, component: str, variable: str, value: str | None) -> None:
    if value is not None:
        await set_variables(tool, "after", set_data(component, variable, value))


def result_index(step: int | str, payload: Payload, results: str, component: str, variable: str) -> int:
    """The index of the result for component.variable in the ``results`` list (any order)."""
    index = 0
    while (name := field_value(payload, f"{results}[{index}].component.name")) is not ABSENT:
        if name == component and field_value(payload, f"{results}[{index}].variable.name") == variable:
            return index
        index += 1
    raise StepFailed(step, f"{type(payload).__name__} has no result for {component}.{variable}")


def expect_no_error(step: int | str, payload: Payload, path: str) -> None:
    expect_field(step, payload, f"{path}.attributeStatusInfo.reasonCode", "absent", "NoError")


# ---------------------------------------------------------------------------------------- GetVariables
@case(
    "TC_B_06_CS",
    "Get Variables - single value",
    use_cases=("B06",),
    requirements=("B06.FR.01", "B06.FR.02", "B06.FR.03", "B06.FR.04", "B06.FR.10", "B06.FR.11"),
)
async def tc_b_06_cs(tool: StationTool) -> None:
    previous = await configure(tool, COMM, "OfflineThreshold", OFFLINE_THRESHOLD)
    try:
        response = await get_variables(tool, 1, get_data(COMM, "OfflineThreshold", Attribute.ACTUAL))
        r = "getVariableResult[0]"
        expect_field(2, response, f"{r}.attributeStatus", "Accepted")
        expect_field(2, response, f"{r}.attributeType", "Actual")
        expect_field(2, response, f"{r}.attributeValue", OFFLINE_THRESHOLD)
        expect_field(2, response, f"{r}.component.name", COMM)
        expect_field(2, response, f"{r}.variable.name", "OfflineThreshold")
        expect_no_error(2, response, r)
    finally:
        await put_back(tool, COMM, "OfflineThreshold", previous)


@case(
    "TC_B_07_CS",
    "Get Variables - multiple values",
    use_cases=("B06",),
    requirements=("B06.FR.01", "B06.FR.02", "B06.FR.03", "B06.FR.04", "B06.FR.10"),
)
async def tc_b_07_cs(tool: StationTool) -> None:
    threshold = await configure(tool, COMM, "OfflineThreshold", OFFLINE_THRESHOLD)
    offline = await configure(tool, AUTH, "LocalAuthorizationOffline", "true")
    try:
        response = await get_variables(
            tool,
            1,
            get_data(COMM, "OfflineThreshold", Attribute.ACTUAL),
            get_data(AUTH, "LocalAuthorizationOffline", Attribute.ACTUAL),
        )
        for component, variable, value in (
            (COMM, "OfflineThreshold", OFFLINE_THRESHOLD),
            (AUTH, "LocalAuthorizationOffline", "true"),
        ):
            r = f"getVariableResult[{result_index(2, response, 'getVariableResult', component, variable)}]"
            expect_field(2, response, f"{r}.attributeStatus", "Accepted")
            expect_field(2, response, f"{r}.attributeType", "Actual")
            expect_field(2, response, f"{r}.attributeValue", value)
            expect_no_error(2, response, r)
    finally:
        await put_back(tool, COMM, "OfflineThreshold", threshold)
        await put_back(tool, AUTH, "LocalAuthorizationOffline", offline)


async def get_refused(
    tool: StationTool, data: dt.GetVariableDataType, status: str, attribute: str | None = None
) -> None:
    response = await get_variables(tool, 1, data)
    r = "getVariableResult[0]"
    expect_field(2, response, f"{r}.attributeStatus", status)
    expect_field(2, response, f"{r}.component.name", data.component.name)
    expect_field(2, response, f"{r}.variable.name", data.variable.name)
    if attribute is not None:
        expect_field(2, response, f"{r}.attributeType", attribute)


@case(
    "TC_B_32_CS",
    "Get Variables - Unknown component",
    use_cases=("B06",),
    requirements=("B06.FR.06",),
)
async def tc_b_32_cs(tool: StationTool) -> None:
    await get_refused(tool, get_data("UnknownComponent", "OfflineThreshold"), "UnknownComponent")


@case(
    "TC_B_33_CS",
    "Get Variables - Unknown variable",
    use_cases=("B06",),
    requirements=("B06.FR.07",),
)
async def tc_b_33_cs(tool: StationTool) -> None:
    await get_refused(tool, get_data(COMM, "UnknownVariable"), "UnknownVariable")


@case(
    "TC_B_34_CS",
    "Get Variables - Not supported attribute type",
    use_cases=("B06",),
    requirements=("B06.FR.08",),
)
async def tc_b_34_cs(tool: StationTool) -> None:
    data = get_data(COMM, "OfflineThreshold", Attribute.TARGET)
    await get_refused(tool, data, "NotSupportedAttributeType", "Target")


# ---------------------------------------------------------------------------------------- SetVariables
@case(
    "TC_B_09_CS",
    "Set Variables - single value",
    use_cases=("B05",),
    requirements=("B05.FR.01", "B05.FR.02", "B05.FR.03", "B05.FR.10", "B05.FR.12"),
)
async def tc_b_09_cs(tool: StationTool) -> None:
    previous = await current_value(tool, "before", COMM, "OfflineThreshold")
    try:
        data = set_data(COMM, "OfflineThreshold", OFFLINE_THRESHOLD, Attribute.ACTUAL)
        response = await set_variables(tool, 1, data)
        r = "setVariableResult[0]"
        expect_field(2, response, f"{r}.attributeStatus", "Accepted")
        expect_field(2, response, f"{r}.attributeType", "Actual")
        expect_field(2, response, f"{r}.component.name", COMM)
        expect_field(2, response, f"{r}.variable.name", "OfflineThreshold")
        expect_no_error(2, response, r)
    finally:
        await put_back(tool, COMM, "OfflineThreshold", previous)


@case(
    "TC_B_10_CS",
    "Set Variables - multiple values",
    use_cases=("B05",),
    requirements=("B05.FR.01", "B05.FR.02", "B05.FR.03", "B05.FR.10", "B05.FR.12"),
)
async def tc_b_10_cs(tool: StationTool) -> None:
    threshold = await current_value(tool, "before", COMM, "OfflineThreshold")
    offline = await current_value(tool, "before", AUTH, "LocalAuthorizationOffline")
    try:
        response = await set_variables(
            tool,
            1,
            set_data(COMM, "OfflineThreshold", OFFLINE_THRESHOLD, Attribute.ACTUAL),
            set_data(AUTH, "LocalAuthorizationOffline", "true", Attribute.ACTUAL),
        )
        for component, variable in ((COMM, "OfflineThreshold"), (AUTH, "LocalAuthorizationOffline")):
            r = f"setVariableResult[{result_index(2, response, 'setVariableResult', component, variable)}]"
            expect_field(2, response, f"{r}.attributeStatus", "Accepted")
            expect_field(2, response, f"{r}.attributeType", "Actual")
            expect_no_error(2, response, r)
    finally:
        await put_back(tool, COMM, "OfflineThreshold", threshold)
        await put_back(tool, AUTH, "LocalAuthorizationOffline", offline)


async def set_refused(
    tool: StationTool, data: dt.SetVariableDataType, status: str
) -> msg.SetVariablesResponse:
    response = await set_variables(tool, 1, data)
    r = "setVariableResult[0]"
    expect_field(2, response, f"{r}.attributeStatus", status)
    expect_field(2, response, f"{r}.component.name", data.component.name)
    expect_field(2, response, f"{r}.variable.name", data.variable.name)
    return response


@case(
    "TC_B_35_CS",
    "Set Variables - Unknown component",
    use_cases=("B05",),
    requirements=("B05.FR.04",),
)
async def tc_b_35_cs(tool: StationTool) -> None:
    await set_refused(
        tool, set_data("UnknownComponent", "OfflineThreshold", OFFLINE_THRESHOLD), "UnknownComponent"
    )


@case(
    "TC_B_36_CS",
    "Set Variables - Unknown variable",
    use_cases=("B05",),
    requirements=("B05.FR.05",),
)
async def tc_b_36_cs(tool: StationTool) -> None:
    await set_refused(tool, set_data(COMM, "UnknownVariable", OFFLINE_THRESHOLD), "UnknownVariable")


@case(
    "TC_B_37_CS",
    "Set Variables - Not supported attribute type",
    use_cases=("B05",),
    requirements=("B05.FR.06",),
)
async def tc_b_37_cs(tool: StationTool) -> None:
    data = set_data(COMM, "OfflineThreshold", OFFLINE_THRESHOLD, Attribute.TARGET)
    response = await set_refused(tool, data, "NotSupportedAttributeType")
    expect_field(2, response, "setVariableResult[0].attributeType", "Target")


def _integer(value: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", value) is not None


def _decimal(value: str) -> bool:
    return re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?", value) is not None


def _boolean(value: str) -> bool:
    return value in ("true", "false")


def _date_time(value: str) -> bool:
    try:
        from_wire(value)
    except ValueError:
        return False
    return True


# TC_B_11's steps: (request step, component, variable, does a value fit the variable's type)
FORMAT_STEPS: tuple[tuple[int, str, str, Callable[[str], bool]], ...] = (
    (1, COMM, "OfflineThreshold", _integer),
    (3, "SmartChargingCtrlr", "LimitChangeSignificance", _decimal),
    (5, AUTH, "AuthorizeRemoteStart", _boolean),
    (7, "ClockCtrlr", "NextTimeOffsetTransitionDateTime", _date_time),
)


@case(
    "TC_B_11_CS",
    "Set Variables - invalidly formatted values",
    use_cases=("B05",),
    requirements=("B05.FR.07",),
    timeout=40.0,
)
async def tc_b_11_cs(tool: StationTool) -> None:
    originals: dict[tuple[str, str], str] = {}
    for _step, component, variable, _fits in FORMAT_STEPS:
        value = await current_value(tool, "before", component, variable)
        if value is not None:
            originals[(component, variable)] = value
    if (AUTH, "AuthorizeRemoteStart") in originals:
        # steps 5-6 only for a writable AuthorizeRemoteStart: its own value back is Accepted then
        own = originals[(AUTH, "AuthorizeRemoteStart")]
        probe = await set_variables(tool, "before", set_data(AUTH, "AuthorizeRemoteStart", own))
        if probe.set_variable_result[0].attribute_status is not en.SetVariableStatusEnumType.ACCEPTED:
            del originals[(AUTH, "AuthorizeRemoteStart")]
    if (COMM, "OfflineThreshold") not in originals:
        raise StepFailed("before", f"{COMM}.OfflineThreshold cannot be read (a required variable)")
    values = (OFFLINE_THRESHOLD, OFFLINE_THRESHOLD + ".1", "true", utc_now(), "abc")
    try:
        for value in values:
            for step, component, variable, fits in FORMAT_STEPS:
                if (component, variable) not in originals:
                    continue
                response = await set_variables(tool, step, set_data(component, variable, value))
                r = "setVariableResult[0]"
                wanted = ("Accepted", "Rejected") if fits(value) else ("Rejected",)
                expect_field(step + 1, response, f"{r}.attributeStatus", *wanted)
                expect_field(step + 1, response, f"{r}.attributeType", "Actual")
                expect_field(step + 1, response, f"{r}.component.name", component)
                expect_field(step + 1, response, f"{r}.variable.name", variable)
    finally:
        for (component, variable), original in originals.items():
            await put_back(tool, component, variable, original)


@case(
    "TC_B_39_CS",
    "Set Variables - Read-only",
    use_cases=("B05",),
    requirements=("B05.FR.09",),
)
async def tc_b_39_cs(tool: StationTool) -> None:
    value = await current_value(tool, "before", COMM, "MessageTimeout", "Default")
    data = set_data(COMM, "MessageTimeout", value or "30", instance="Default")
    response = await set_refused(tool, data, "Rejected")
    expect_field(2, response, "setVariableResult[0].variable.instance", "Default")
