"""Block P, DataTransfer and CustomData (Part 6 §2.17), charging-station side.

Readings:
* TC_P_01_CS: the vendorId is the one the table gives (the OCTT's own, which no station implements), the
  messageId the declaration's ``data_transfer_message_id`` ("msgageld" is messageId).
* TC_P_03_CS: the table's requests carry no customData of their own, yet the case is about receiving it:
  the tool puts a customData element (its vendorId and one vendor field) on both requests and on their
  component and variable. "OCPPCommCtrl" is OCPPCommCtrlr. The station's previous OfflineThreshold is put
  back afterwards, outside the verdict.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.base import CustomData
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_steps import StationTool

OCTT_VENDOR = "org.openchargealliance.octt"
CUSTOM = CustomData({"vendorId": "org.chargeplane.conformance", "probe": "TC_P_03"})


@case(
    "TC_P_01_CS",
    "Data Transfer to the Charging Station - Rejected / Unknown VendorId / Unknown MessagingId",
    use_cases=("P01",),
    requirements=("P01.FR.05", "P01.FR.06"),
)
async def tc_p_01_cs(tool: StationTool) -> None:
    request = msg.DataTransferRequest(
        vendor_id=OCTT_VENDOR, message_id=tool.configured.data_transfer_message_id
    )
    response = await tool.send_as(1, request, msg.DataTransferResponse)
    expect_field(2, response, "status", "UnknownVendorId", "UnknownMessageId", "Rejected")


def _threshold() -> tuple[dt.ComponentType, dt.VariableType]:
    return (
        dt.ComponentType(name="OCPPCommCtrlr", custom_data=CUSTOM),
        dt.VariableType(name="OfflineThreshold", custom_data=CUSTOM),
    )


async def _offline_threshold(tool: StationTool, step: int | str) -> msg.GetVariablesResponse:
    component, variable = _threshold()
    data = dt.GetVariableDataType(
        component=component, variable=variable, attribute_type=en.AttributeEnumType.ACTUAL, custom_data=CUSTOM
    )
    request = msg.GetVariablesRequest(get_variable_data=[data], custom_data=CUSTOM)
    return await tool.send_as(step, request, msg.GetVariablesResponse)


async def _set_offline_threshold(tool: StationTool, step: int | str, value: str) -> msg.SetVariablesResponse:
    component, variable = _threshold()
    data = dt.SetVariableDataType(
        attribute_value=value,
        component=component,
        variable=variable,
        attribute_type=en.AttributeEnumType.ACTUAL,
        custom_data=CUSTOM,
    )
    request = msg.SetVariablesRequest(set_variable_data=[data], custom_data=CUSTOM)
    return await tool.send_as(step, request, msg.SetVariablesResponse)


@case("TC_P_03_CS", "CustomData - Receive custom data", use_cases=())
async def tc_p_03_cs(tool: StationTool) -> None:
    before = await _offline_threshold(tool, "before")
    previous = before.get_variable_result[0].attribute_value if before.get_variable_result else None
    try:
        response = await _set_offline_threshold(tool, 1, "200")
        expect_field(2, response, "setVariableResult[0].attributeStatus", "Accepted")
        got = await _offline_threshold(tool, 3)
        expect_field(4, got, "getVariableResult[0].attributeStatus", "Accepted")
        expect_field(4, got, "getVariableResult[0].attributeType", "Actual", "absent")
        expect_field(4, got, "getVariableResult[0].attributeValue", "200")
    finally:
        if isinstance(previous, str):
            await _set_offline_threshold(tool, "after", previous)
