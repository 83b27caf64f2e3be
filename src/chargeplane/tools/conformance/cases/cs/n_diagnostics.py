"""Block N, Diagnostics (Part 6 §2.13): log upload and customer information, charging-station side.

Readings:
* Logs go to the tool's HTTP file server (``remoteLocation`` is its upload URL; the station PUTs or POSTs
  there). Beyond the tables, the status Uploaded must follow an upload the server really received.
* TC_N_25_CS step 5 asks for status "Updated", which the enum does not have: read as Uploaded (as in
  TC_N_35_CS).
* TC_N_26_CS: the server refuses every upload. A failure status (UploadFailure, BadMessage, PermissionDenied,
  NotSupportedOperation) may come after each attempt (N01.FR.10 recommends one after the last retry); the
  last one must come 3 retry intervals after the first Uploading (one interval of slack either way for the
  upload attempts themselves), and the server must have seen 1 + 3 attempts.
* TC_N_36_CS: the server holds the first upload open (it answers once the second GetLog was answered), so that
  the station has an upload to cancel. The AcceptedCanceled notification (step 7) is not tied to a request id.
* TC_N_27/N_28/N_30/N_31_CS: the condition "(C-30 or C-31 or C-34) and (Local Authorization List
  Management or C-49)" is declared as "C-49 or LA-1" (local authorization options leave a case mandatory;
  LA-1, the local list enabled, stands for the profile). The "(If implemented)" configuration and memory states are sent
  and their answers not judged; Authorized (local) is a presented token whose AuthorizeRequest, if the
  station sends one, is accepted (with LocalPreAuthorize true the station may not ask). "ParkingBayUnoccupied"
  has no message. AuthCtrlr.LocalPreAuthorize is put back to false after the case.
* TC_N_28_CS's memory state (clear the token's customer information) is a CustomerInformationRequest with
  clear true and report false, its answer and notification not judged. "A message indicating no data" (N_28,
  N_31) and "that the data is cleared" (N_32) is the notification that came; its free text is not judged.
* TC_N_30_CS: step 8's "tbc not true" is read as a rule on step 7's notification, which is only required when
  step 6 was Accepted.
* Customer information notifications must carry the request's requestId; parts with tbc true are followed
  until the last.
* TC_N_62_CS step 7 asks for empty data, while N09.FR.06 has the station say that no data was found: one
  part whose text is empty, or other than what step 3 reported, passes.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field, expect_present, field_value
from chargeplane.tools.conformance.station_adapter import PresentToken, StoreCustomerIdentifier
from chargeplane.tools.conformance.station_states import valid_token
from chargeplane.tools.conformance.station_steps import StationTool

LogStatus = en.UploadLogStatusEnumType
Notify = msg.NotifyCustomerInformationRequest
UPLOAD_WITHIN = 30.0  # seconds for a station to start, and to finish, an upload on loopback
FAILED = ("UploadFailure", "BadMessage", "PermissionDenied", "NotSupportedOperation")


# --- Retrieve log information (N01) ---


async def get_log(
    tool: StationTool,
    step: int,
    request_id: int,
    log_type: str,
    retries: int | None = None,
    interval: int = 0,
) -> msg.GetLogResponse:
    files = await tool.file_server()
    request = msg.GetLogRequest(
        log=dt.LogParametersType(remote_location=files.upload_url()),
        log_type=en.LogEnumType(log_type),
        request_id=request_id,
    )
    if retries is not None:
        request = msgspec.structs.replace(request, retries=retries, retry_interval=interval)
    return await tool.send_as(step, request, msg.GetLogResponse)


async def log_status(
    tool: StationTool, step: int, request_id: int | None, *statuses: str, within: float = UPLOAD_WITHIN
) -> msg.LogStatusNotificationRequest:
    """The next LogStatusNotification (of ``request_id`` when given), which must have one of ``statuses``."""
    notification = await tool.expect_answered(
        step,
        msg.LogStatusNotificationRequest,
        within,
        where=lambda r: request_id is None or field_value(r, "requestId") == request_id,
    )
    expect_field(step, notification, "status", *statuses)
    return notification


async def uploaded(tool: StationTool, step: int, request_id: int) -> None:
    """The status Uploaded, after an upload the tool's server received."""
    await log_status(tool, step, request_id, "Uploaded")
    files = await tool.file_server()
    if not files.store.uploads:
        raise StepFailed(step, "status Uploaded, but the tool's server received no upload")


@case(
    "TC_N_25_CS",
    "Retrieve Log Information - Diagnostics Log - Success",
    use_cases=("N01",),
    requirements=("N01.FR.01", "N01.FR.02", "N01.FR.04", "N01.FR.07", "N01.FR.08", "N01.FR.09", "N01.FR.13"),
    timeout=60.0,
)
async def tc_n_25_cs(tool: StationTool) -> None:
    (await tool.file_server()).store.uploads.clear()
    response = await get_log(tool, 1, 2501, "DiagnosticsLog")
    expect_field(2, response, "status", "Accepted")
    if not str(expect_present(2, response, "filename")).strip():
        raise StepFailed(2, "GetLogResponse.filename is empty, expected a file name")
    await log_status(tool, 3, 2501, "Uploading")
    await uploaded(tool, 5, 2501)


@case(
    "TC_N_26_CS",
    "Retrieve Log Information - Diagnostics Log - Upload failed",
    use_cases=("N01",),
    requirements=("N01.FR.01", "N01.FR.02", "N01.FR.04", "N01.FR.07", "N01.FR.08", "N01.FR.10", "N01.FR.13"),
    timeout=120.0,
)
async def tc_n_26_cs(tool: StationTool) -> None:
    files = await tool.file_server()
    interval, retries = tool.configured.log_retry_interval, 3
    files.store.refuse_uploads = True
    files.store.upload_attempts = 0
    try:
        response = await get_log(tool, 1, 2601, "DiagnosticsLog", retries, interval)
        expect_field(2, response, "status", "Accepted")
        await log_status(tool, 3, 2601, "Uploading")
        loop = asyncio.get_running_loop()
        first = loop.time()
        earliest, latest = retries * interval - interval, retries * interval + interval + UPLOAD_WITHIN
        last_failure: float | None = None
        # 5. / 6. (with 3. / 4. again, optionally) until the retries are spent
        while (left := first + latest - loop.time()) > 0:
            try:
                notification = await log_status(tool, 5, 2601, "Uploading", *FAILED, within=left)
            except StepFailed:
                if last_failure is not None:
                    break  # nothing more came after a failure status: the station gave up
                raise
            if notification.status is not LogStatus.UPLOADING:
                last_failure = loop.time() - first
                if last_failure >= earliest and files.store.upload_attempts >= 1 + retries:
                    break
        if last_failure is None:
            raise StepFailed(5, "no LogStatusNotification with a failure status")
        if last_failure < earliest:
            raise StepFailed(
                5,
                f"the last failure status came {last_failure:.1f} s after Uploading, "
                f"expected about {retries * interval} s (3 retries of {interval} s)",
            )
        if files.store.upload_attempts < 1 + retries:
            raise StepFailed(5, f"{files.store.upload_attempts} upload attempt(s), expected {1 + retries}")
    finally:
        files.store.refuse_uploads = False


@case(
    "TC_N_35_CS",
    "Retrieve Log Information - Security Log - Success",
    use_cases=("N01",),
    requirements=("N01.FR.01", "N01.FR.02", "N01.FR.03", "N01.FR.07", "N01.FR.08", "N01.FR.09", "N01.FR.13"),
    timeout=60.0,
)
async def tc_n_35_cs(tool: StationTool) -> None:
    (await tool.file_server()).store.uploads.clear()
    response = await get_log(tool, 1, 3501, "SecurityLog")
    expect_field(2, response, "status", "Accepted")
    await log_status(tool, 3, 3501, "Uploading")
    await uploaded(tool, 5, 3501)


@case(
    "TC_N_36_CS",
    "Retrieve Log Information - Second Request",
    use_cases=("N01",),
    requirements=(
        "N01.FR.01",
        "N01.FR.02",
        "N01.FR.03",
        "N01.FR.07",
        "N01.FR.08",
        "N01.FR.09",
        "N01.FR.12",
        "N01.FR.13",
    ),
    features=("C-57",),
    timeout=90.0,
)
async def tc_n_36_cs(tool: StationTool) -> None:
    files = await tool.file_server()
    log_type = tool.configured.log_type
    files.store.uploads.clear()
    files.store.hold.clear()  # the first upload stays open: the station has one to cancel
    try:
        response = await get_log(tool, 1, 3601, log_type)
        expect_field(2, response, "status", "Accepted")
        await log_status(tool, 3, 3601, "Uploading")
        response = await get_log(tool, 5, 3602, log_type)
        expect_field(6, response, "status", "AcceptedCanceled")
        files.store.hold.set()
        await log_status(tool, 7, None, "AcceptedCanceled")
        await log_status(tool, 9, 3602, "Uploading")
        await uploaded(tool, 11, 3602)
    finally:
        files.store.hold.set()


# --- Customer information (N09, N10) ---


def _set(component: str, variable: str, value: str) -> dt.SetVariableDataType:
    return dt.SetVariableDataType(
        attribute_value=value,
        component=dt.ComponentType(name=component),
        variable=dt.VariableType(name=variable),
    )


async def with_cached_token(tool: StationTool) -> None:
    """The Before of TC_N_27 / TC_N_30: local lists and cache on, the valid token in both, Authorized (local)."""
    settings = [
        _set("LocalAuthListCtrlr", "Enabled", "true"),
        _set("AuthCtrlr", "LocalPreAuthorize", "true"),
        _set("AuthCacheCtrlr", "Enabled", "true"),
    ]
    await tool.send_as(
        "before", msg.SetVariablesRequest(set_variable_data=settings), msg.SetVariablesResponse
    )
    tool.progress.add("LocalPreAuthorize")  # put back by restore_pre_authorize
    entry = dt.AuthorizationData(
        id_token=valid_token(tool),
        id_token_info=dt.IdTokenInfoType(status=en.AuthorizationStatusEnumType.ACCEPTED),
    )
    local_list = msg.SendLocalListRequest(
        version_number=2701, update_type=en.UpdateEnumType.DIFFERENTIAL, local_authorization_list=[entry]
    )
    with contextlib.suppress(StepFailed):  # (If implemented): a station without a local list refuses it
        await tool.send("before", local_list)
    configured = tool.configured
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
    tool.progress.add("Authorized")
    await tool.drain(within=1.0, limit=5.0)  # an AuthorizeRequest, if the station asks, is accepted


async def restore_pre_authorize(tool: StationTool) -> None:
    """Outside the table: back to the general precondition LocalPreAuthorize false."""
    if "LocalPreAuthorize" in tool.progress:
        tool.progress.discard("LocalPreAuthorize")
        request = msg.SetVariablesRequest(set_variable_data=[_set("AuthCtrlr", "LocalPreAuthorize", "false")])
        await tool.send_as("after", request, msg.SetVariablesResponse)


async def customer_information(
    tool: StationTool,
    step: int | str,
    request_id: int,
    *,
    report: bool,
    clear: bool,
    identifier: str | None = None,
) -> msg.CustomerInformationResponse:
    if identifier is None:
        request = msg.CustomerInformationRequest(
            request_id=request_id, report=report, clear=clear, id_token=valid_token(tool)
        )
    else:
        request = msg.CustomerInformationRequest(
            request_id=request_id, report=report, clear=clear, customer_identifier=identifier
        )
    return await tool.send_as(step, request, msg.CustomerInformationResponse)


async def report_parts(tool: StationTool, step: int, request_id: int) -> list[Notify]:
    """Steps "3. / 4." with their repetitions: the NotifyCustomerInformation parts up to the one without tbc."""
    parts: list[Notify] = []
    while True:
        part = await tool.expect_answered(step, Notify, where=lambda r: r.request_id == request_id)
        parts.append(part)
        if field_value(part, "tbc") is not True:
            return parts


def expect_data(step: int, parts: list[Notify]) -> None:
    if not "".join(p.data for p in parts).strip():
        raise StepFailed(step, "NotifyCustomerInformationRequest.data is empty, expected the customer's data")


@case(
    "TC_N_27_CS",
    "Get Customer Information - Accepted + data",
    use_cases=("N09",),
    requirements=("N09.FR.02", "N09.FR.05"),
    condition="C-49 or LA-1",
    timeout=40.0,
)
async def tc_n_27_cs(tool: StationTool) -> None:
    await with_cached_token(tool)
    try:
        response = await customer_information(tool, 1, 2701, report=True, clear=False)
        expect_field(2, response, "status", "Accepted")
        expect_data(3, await report_parts(tool, 3, 2701))
    finally:
        await restore_pre_authorize(tool)


@case(
    "TC_N_28_CS",
    "Get Customer Information - Accepted + no data",
    use_cases=("N09",),
    requirements=("N09.FR.02", "N09.FR.06"),
    condition="C-49 or LA-1",
)
async def tc_n_28_cs(tool: StationTool) -> None:
    await customer_information(tool, "before", 2800, report=False, clear=True)
    await tool.drain(within=1.0, limit=5.0)  # its notification, if any
    response = await customer_information(tool, 1, 2801, report=True, clear=False)
    expect_field(2, response, "status", "Accepted")
    await report_parts(tool, 3, 2801)  # 3. / 4.: the last part has tbc not true


@case(
    "TC_N_30_CS",
    "Clear Customer Information - Clear and report + data",
    use_cases=("N10",),
    requirements=("N10.FR.01", "N10.FR.03"),
    condition="C-49 or LA-1",
    timeout=40.0,
)
async def tc_n_30_cs(tool: StationTool) -> None:
    await with_cached_token(tool)
    try:
        response = await customer_information(tool, 1, 3001, report=True, clear=True)
        expect_field(2, response, "status", "Accepted")
        expect_data(3, await report_parts(tool, 3, 3001))
        response = await customer_information(tool, 5, 3002, report=True, clear=False)
        if response.status is en.CustomerInformationStatusEnumType.ACCEPTED:
            await report_parts(tool, 7, 3002)  # 7. / 8.: a single part, tbc not true
    finally:
        await restore_pre_authorize(tool)


@case(
    "TC_N_31_CS",
    "Clear Customer Information - Clear and report + no data",
    use_cases=("N10",),
    requirements=("N10.FR.01", "N10.FR.04"),
    condition="C-49 or LA-1",
)
async def tc_n_31_cs(tool: StationTool) -> None:
    response = await customer_information(tool, 1, 3101, report=True, clear=True)
    expect_field(2, response, "status", "Accepted")
    await report_parts(tool, 3, 3101)


@case(
    "TC_N_32_CS",
    "Clear Customer Information - Clear and no report",
    use_cases=("N10",),
    requirements=("N10.FR.01", "N10.FR.06"),
)
async def tc_n_32_cs(tool: StationTool) -> None:
    response = await customer_information(tool, 1, 3201, report=False, clear=True)
    expect_field(2, response, "status", "Accepted")
    await report_parts(tool, 3, 3201)


@case(
    "TC_N_62_CS",
    "Clear Customer Information - Clear and report - customerIdentifier",
    use_cases=("N10",),
    requirements=("N10.FR.01", "N10.FR.03"),
    features=("C-14",),
    timeout=40.0,
)
async def tc_n_62_cs(tool: StationTool) -> None:
    identifier = tool.configured.customer_identifier
    await tool.manual(StoreCustomerIdentifier(identifier))
    response = await customer_information(tool, 1, 6201, report=True, clear=True, identifier=identifier)
    expect_field(2, response, "status", "Accepted")
    cleared = await report_parts(tool, 3, 6201)
    expect_data(3, cleared)
    response = await customer_information(tool, 5, 6202, report=True, clear=False, identifier=identifier)
    expect_field(6, response, "status", "Accepted")
    before = "".join(p.data for p in cleared)
    parts = await report_parts(tool, 7, 6202)
    after = "".join(p.data for p in parts)
    if after.strip() and (len(parts) > 1 or after == before):
        raise StepFailed(
            7, "NotifyCustomerInformationRequest.data still reports the customer after the clear"
        )
