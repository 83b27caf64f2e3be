"""Block P, Data transfer and custom data (Part 6 §3.17).

Reading: TC_P_03 leaves the TransactionEvent's other fields open; the tool starts a transaction on cable
plug-in, with customData on the request and on its transactionInfo.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.base import CustomData
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.messages import send_as, status_notification, transaction_event
from chargeplane.tools.conformance.states import Charging, Event, Status, Trigger
from chargeplane.tools.conformance.steps import CsmsTool

CUSTOM = CustomData({"vendorId": "org.chargeplane.conformance", "probe": "TC_P_03"})


@case(
    "TC_P_02_CSMS",
    "Data Transfer to the CSMS - Rejected / Unknown VendorId / Unknown MessagingId",
    use_cases=("P02",),
    requirements=("P02.FR.06", "P02.FR.07"),
)
async def tc_p_02(tool: CsmsTool) -> None:
    c = tool.configured
    request = msg.DataTransferRequest(
        vendor_id=c.data_transfer_vendor_id, message_id=c.data_transfer_message_id
    )
    response = await send_as(1, tool, request, msg.DataTransferResponse)
    expect_field(2, response, "status", "UnknownVendorId", "UnknownMessageId", "Rejected")


@case("TC_P_03_CSMS", "CustomData - Receive custom data", use_cases=())
async def tc_p_03(tool: CsmsTool) -> None:
    c = tool.configured
    notification = status_notification(Status.OCCUPIED, c.evse_id, c.connector_id, custom_data=CUSTOM)
    await send_as(1, tool, notification, msg.StatusNotificationResponse)
    await transaction_event(
        tool,
        3,
        Event.STARTED,
        Trigger.CABLE_PLUGGED_IN,
        charging_state=Charging.EV_CONNECTED,
        custom_data=CUSTOM,
    )
