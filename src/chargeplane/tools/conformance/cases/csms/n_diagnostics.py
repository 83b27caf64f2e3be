"""Block N, Diagnostics (Part 6 §3.16), CSMS side: log retrieval (N01) and customer information (N09, N10).

Readings:
* The tables give no manual action; each case starts with one that asks the CSMS for the request of its
  step 1: GetLog of the log type the validations name (DiagnosticsLog when they name none; the upload goes
  to the declaration's ``log_location``), CustomerInformation about the valid token with the report / clear
  flags the validations name (TC_N_27 / N_28 / N_29: report only; TC_N_32: clear without report).
* The tool's LogStatusNotifications carry the requestId of the CSMS's GetLog (TC_N_36: the first one until
  it is cancelled, then the second one).
* "+ data" / "no data": the tool's NotifyCustomerInformation carries a line about the token, or an empty
  ``data``; the tables validate only the CSMS's request.
* TC_N_32 also has the tool send a NotifyCustomerInformation, although no report was asked: kept.
* TC_N_62 (C-14) asks about customerIdentifier "OpenChargeAlliance" (the table's value).
* TC_N_46: its memory state (a local list on the station) is a Full list the tool takes first (step
  "before"); step 5 is then a Differential update newer than that list, not empty (the cleared token's
  removal). Its post-scenario check ("all messages received") is met by the steps, each of which waited for
  its message.
* TC_N_29_CSMS / TC_N_34_CSMS are mandatory for a CSMS although the CSV leaves their station column empty.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.tools.conformance.adapter import CustomerInformation, GetLog, SendLocalList
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.csms.d_local_list import accept, send_local_list, take_lists
from chargeplane.tools.conformance.checks import StepFailed, expect_field, expect_present
from chargeplane.tools.conformance.messages import send_as
from chargeplane.tools.conformance.steps import CsmsTool

LOG_REQUEST_IDS = (4701, 4702)  # what the manual actions ask the CSMS to use (it may choose its own)
CUSTOMER_REQUEST_ID = 4711
CUSTOMER_IDENTIFIER = "OpenChargeAlliance"  # TC_N_62
UploadStatus = en.UploadLogStatusEnumType


# -- N01: GetLog ----------------------------------------------------------------------------------------------
async def get_log(
    tool: CsmsTool, step: int, log_type: str, status: en.LogStatusEnumType, request_id: int
) -> int:
    """Steps ``step`` / ``step + 1``: the CSMS's GetLog, answered with ``status``; its requestId."""
    tool.manual(GetLog(log_type, tool.configured.log_location, request_id))
    incoming = await tool.expect(step, msg.GetLogRequest)
    expect_field(step, incoming.request, "logType", log_type)
    expect_present(step, incoming.request, "log.remoteLocation")
    incoming.answer(msg.GetLogResponse(status=status))
    await tool.settle()
    return incoming.request.request_id


async def log_status(tool: CsmsTool, step: int, status: UploadStatus, request_id: int) -> None:
    """Steps ``step`` / ``step + 1``: the tool's LogStatusNotification and the CSMS's answer."""
    request = msg.LogStatusNotificationRequest(status=status, request_id=request_id)
    await send_as(step, tool, request, msg.LogStatusNotificationResponse)


async def log_uploaded(tool: CsmsTool, log_type: str) -> None:
    request_id = await get_log(tool, 1, log_type, en.LogStatusEnumType.ACCEPTED, LOG_REQUEST_IDS[0])
    await log_status(tool, 3, UploadStatus.UPLOADING, request_id)
    await log_status(tool, 5, UploadStatus.UPLOADED, request_id)


@case(
    "TC_N_25_CSMS",
    "Retrieve Log Information - Diagnostics Log - Success",
    use_cases=("N01",),
)
async def tc_n_25(tool: CsmsTool) -> None:
    await log_uploaded(tool, "DiagnosticsLog")


@case(
    "TC_N_34_CSMS",
    "Retrieve Log Information - Rejected",
    use_cases=("N01",),
)
async def tc_n_34(tool: CsmsTool) -> None:
    await get_log(tool, 1, "DiagnosticsLog", en.LogStatusEnumType.REJECTED, LOG_REQUEST_IDS[0])


@case(
    "TC_N_35_CSMS",
    "Retrieve Log Information - Security Log - Success",
    use_cases=("N01",),
)
async def tc_n_35(tool: CsmsTool) -> None:
    await log_uploaded(tool, "SecurityLog")


@case(
    "TC_N_36_CSMS",
    "Retrieve Log Information - Second Request",
    use_cases=("N01",),
)
async def tc_n_36(tool: CsmsTool) -> None:
    accepted = en.LogStatusEnumType.ACCEPTED
    first = await get_log(tool, 1, "DiagnosticsLog", accepted, LOG_REQUEST_IDS[0])
    await log_status(tool, 3, UploadStatus.UPLOADING, first)
    canceled = en.LogStatusEnumType.ACCEPTED_CANCELED
    second = await get_log(tool, 5, "DiagnosticsLog", canceled, LOG_REQUEST_IDS[1])
    await log_status(tool, 7, UploadStatus.ACCEPTED_CANCELED, first)
    await log_status(tool, 9, UploadStatus.UPLOADING, second)
    await log_status(tool, 11, UploadStatus.UPLOADED, second)


# -- N09 / N10: customer information --------------------------------------------------------------------------
async def customer_information(
    tool: CsmsTool,
    *,
    report: bool,
    clear: bool,
    status: en.CustomerInformationStatusEnumType = en.CustomerInformationStatusEnumType.ACCEPTED,
    by_identifier: bool = False,
) -> int:
    """Steps 1 / 2: the CSMS's CustomerInformation about the valid token (or the customer identifier),
    answered with ``status``; its requestId."""
    configured = tool.configured
    action = (
        CustomerInformation(CUSTOMER_REQUEST_ID, report, clear, customer_identifier=CUSTOMER_IDENTIFIER)
        if by_identifier
        else CustomerInformation(
            CUSTOMER_REQUEST_ID, report, clear, configured.valid_idtoken, configured.valid_idtoken_type
        )
    )
    tool.manual(action)
    incoming = await tool.expect(1, msg.CustomerInformationRequest)
    request = incoming.request
    incoming.answer(msg.CustomerInformationResponse(status=status))
    expect_field(1, request, "report", report)
    if clear:
        expect_field(1, request, "clear", True)
    if by_identifier:
        expect_field(1, request, "customerIdentifier", CUSTOMER_IDENTIFIER)
    else:
        expect_field(1, request, "idToken.idToken", configured.valid_idtoken)
        expect_field(1, request, "idToken.type", configured.valid_idtoken_type)
    await tool.settle()
    return request.request_id


async def notify_customer_information(tool: CsmsTool, request_id: int, *, with_data: bool) -> None:
    """Steps 3 / 4: the tool's report and the CSMS's answer."""
    data = f"id token {tool.configured.valid_idtoken}: no sessions stored" if with_data else ""
    request = msg.NotifyCustomerInformationRequest(
        data=data, seq_no=0, generated_at=utc_now(), request_id=request_id
    )
    await send_as(3, tool, request, msg.NotifyCustomerInformationResponse)


@case(
    "TC_N_27_CSMS",
    "Get Customer Information - Accepted + data",
    use_cases=("N09",),
)
async def tc_n_27(tool: CsmsTool) -> None:
    request_id = await customer_information(tool, report=True, clear=False)
    await notify_customer_information(tool, request_id, with_data=True)


@case(
    "TC_N_28_CSMS",
    "Get Customer Information - Accepted + no data",
    use_cases=("N09",),
)
async def tc_n_28(tool: CsmsTool) -> None:
    request_id = await customer_information(tool, report=True, clear=False)
    await notify_customer_information(tool, request_id, with_data=False)


@case(
    "TC_N_29_CSMS",
    "Get Customer Information - Not Accepted",
    use_cases=("N09",),
)
async def tc_n_29(tool: CsmsTool) -> None:
    rejected = en.CustomerInformationStatusEnumType.REJECTED
    await customer_information(tool, report=True, clear=False, status=rejected)


@case(
    "TC_N_30_CSMS",
    "Clear Customer Information - Clear and report + data",
    use_cases=("N10",),
    requirements=("N10.FR.08",),
)
async def tc_n_30(tool: CsmsTool) -> None:
    request_id = await customer_information(tool, report=True, clear=True)
    await notify_customer_information(tool, request_id, with_data=True)


@case(
    "TC_N_31_CSMS",
    "Clear Customer Information - Clear and report + no data",
    use_cases=("N10",),
    requirements=("N10.FR.08",),
)
async def tc_n_31(tool: CsmsTool) -> None:
    request_id = await customer_information(tool, report=True, clear=True)
    await notify_customer_information(tool, request_id, with_data=False)


@case(
    "TC_N_32_CSMS",
    "Clear Customer Information - Clear and no report",
    use_cases=("N10",),
)
async def tc_n_32(tool: CsmsTool) -> None:
    request_id = await customer_information(tool, report=False, clear=True)
    await notify_customer_information(tool, request_id, with_data=False)


@case(
    "TC_N_62_CSMS",
    "Clear Customer Information - Clear and report - customerIdentifier",
    use_cases=("N10",),
    requirements=("N10.FR.08",),
    features=("C-14",),
)
async def tc_n_62(tool: CsmsTool) -> None:
    request_id = await customer_information(tool, report=True, clear=True, by_identifier=True)
    await notify_customer_information(tool, request_id, with_data=True)


@case(
    "TC_N_46_CSMS",
    "Clear Customer Information - Update Local Authorization List",
    use_cases=("N10",),
    profiles=("Local Authorization List Management",),
)
async def tc_n_46(tool: CsmsTool) -> None:
    tool.manual(SendLocalList(full=True))
    version = await take_lists(tool, 0)
    request_id = await customer_information(tool, report=True, clear=True)
    await notify_customer_information(tool, request_id, with_data=True)
    incoming = await send_local_list(tool, 5, version)
    accept(incoming)
    request = incoming.request
    expect_field(5, request, "updateType", "Differential")
    if not request.local_authorization_list:
        raise StepFailed(5, "SendLocalListRequest.localAuthorizationList is empty, expected entries")
    await tool.settle()
