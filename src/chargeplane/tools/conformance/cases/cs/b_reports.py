"""Block B, Provisioning: base reports (Part 6 §2.3, B07), charging-station side.

Readings:
* "<Generated requestId>": the tool draws a fresh id per case; every NotifyReportRequest must carry it.
* The parts of a report are taken until one without ``tbc`` (or with tbc false); each must carry the next
  ``seqNo`` from 0. "generatedAt = <timestamp at charging station>" cannot be compared with anything the
  tool knows: only its presence is checked (the schema makes it a date-time).
* The post-scenario checks are done on every reported variable: ``variableCharacteristics`` present, a
  ``valuesList`` (not empty) for OptionList / SequenceList / MemberList, and (TC_B_53) each reported value
  of such a list within it (for a MemberList / SequenceList: each comma-separated member), no value for a
  WriteOnly attribute; TC_B_12: every attribute ReadWrite or WriteOnly.
* "The required variables of the implemented functional blocks" (TC_B_12, TC_B_13, TC_B_53): the Core
  ones of Part 2 §2 (Referenced Components and Variables, required "yes") for blocks B, C, E, F, G and J
  and the charging infrastructure (§2.13), listed in :data:`REQUIRED_VARIABLES`; TC_B_12 checks the
  writable ones of them (those Part 2 marks ReadWrite only), TC_B_13 / B_53 all. Part 2 spells the
  Tx-ended intervals "TxEndInterval" in its tables; the appendix name ``TxEndedInterval`` is used. Physical
  components (EVSE, Connector) are checked for the configured EVSE and connector.
* TC_B_15 (Part 5: NOT C-56) is N/A for a station that declares C-56 (SummaryInventory); it waits 2 s for
  a NotifyReportRequest that must not come.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value, show
from chargeplane.tools.conformance.station_steps import StationTool

LISTS = ("OptionList", "SequenceList", "MemberList")
REPORT_PART_WITHIN = 10.0  # seconds between two parts of a report


@dataclass(frozen=True)
class Required:
    component: str
    variable: str
    instance: str | None = None
    writable: bool = False  # Part 2 requires it ReadWrite (a ConfigurationInventory must report it)
    physical: str | None = None  # "evse" / "connector": the component sits on the configured EVSE tier


def _r(component: str, variable: str, instance: str | None = None, *, rw: bool = False) -> Required:
    return Required(component, variable, instance, rw)


# Part 2 §2 required variables of the Core blocks (B, C, E, F, G, J) and of the infrastructure (§2.13).
REQUIRED_VARIABLES = (
    _r("OCPPCommCtrlr", "MessageTimeout", "Default"),
    _r("OCPPCommCtrlr", "FileTransferProtocols"),
    _r("OCPPCommCtrlr", "NetworkConfigurationPriority", rw=True),
    _r("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", rw=True),
    _r("OCPPCommCtrlr", "OfflineThreshold", rw=True),
    _r("OCPPCommCtrlr", "MessageAttempts", "TransactionEvent", rw=True),
    _r("OCPPCommCtrlr", "MessageAttemptInterval", "TransactionEvent", rw=True),
    _r("OCPPCommCtrlr", "UnlockOnEVSideDisconnect"),
    _r("OCPPCommCtrlr", "ResetRetries", rw=True),
    _r("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"),
    _r("DeviceDataCtrlr", "ItemsPerMessage", "GetVariables"),
    _r("DeviceDataCtrlr", "BytesPerMessage", "GetReport"),
    _r("DeviceDataCtrlr", "BytesPerMessage", "GetVariables"),
    _r("DeviceDataCtrlr", "ItemsPerMessage", "SetVariables"),
    _r("DeviceDataCtrlr", "BytesPerMessage", "SetVariables"),
    _r("ClockCtrlr", "DateTime"),
    _r("ClockCtrlr", "TimeSource"),
    _r("SecurityCtrlr", "OrganizationName", rw=True),
    _r("SecurityCtrlr", "CertificateEntries"),
    _r("SecurityCtrlr", "SecurityProfile"),
    _r("AuthCtrlr", "AuthorizeRemoteStart"),
    _r("AuthCtrlr", "LocalAuthorizationOffline", rw=True),
    _r("AuthCtrlr", "LocalPreAuthorize", rw=True),
    _r("TxCtrlr", "EVConnectionTimeOut", rw=True),
    _r("TxCtrlr", "StopTxOnEVSideDisconnect"),
    _r("TxCtrlr", "TxStartPoint"),
    _r("TxCtrlr", "TxStopPoint"),
    _r("TxCtrlr", "StopTxOnInvalidId", rw=True),
    _r("SampledDataCtrlr", "TxEndedMeasurands", rw=True),
    _r("SampledDataCtrlr", "TxEndedInterval", rw=True),
    _r("SampledDataCtrlr", "TxStartedMeasurands", rw=True),
    _r("SampledDataCtrlr", "TxUpdatedMeasurands", rw=True),
    _r("SampledDataCtrlr", "TxUpdatedInterval", rw=True),
    _r("AlignedDataCtrlr", "Measurands", rw=True),
    _r("AlignedDataCtrlr", "Interval", rw=True),
    _r("AlignedDataCtrlr", "TxEndedMeasurands", rw=True),
    _r("AlignedDataCtrlr", "TxEndedInterval", rw=True),
    _r("ChargingStation", "Available"),
    _r("ChargingStation", "AvailabilityState"),
    _r("ChargingStation", "SupplyPhases"),
    Required("EVSE", "Available", physical="evse"),
    Required("EVSE", "AvailabilityState", physical="evse"),
    Required("EVSE", "SupplyPhases", physical="evse"),
    Required("EVSE", "Power", physical="evse"),
    Required("Connector", "Available", physical="connector"),
    Required("Connector", "ConnectorType", physical="connector"),
    Required("Connector", "SupplyPhases", physical="connector"),
)


def new_request_id() -> int:
    return random.randint(1, 2**31 - 1)


async def base_report(
    tool: StationTool, step: int, base: en.ReportBaseEnumType, request_id: int | None = None
) -> list[dt.ReportDataType]:
    """Steps ``step`` .. ``step + 3``: GetBaseReport (Accepted), then every NotifyReport part of it, in
    sequence. Returns the reported items."""
    request_id = new_request_id() if request_id is None else request_id
    request = msg.GetBaseReportRequest(request_id=request_id, report_base=base)
    response = await tool.send_as(step, request, msg.GetBaseReportResponse)
    expect_field(step + 1, response, "status", "Accepted")
    expect_field(step + 1, response, "statusInfo.reasonCode", "absent", "NoError")
    items: list[dt.ReportDataType] = []
    seq_no = 0
    while True:
        part = await tool.expect_answered(
            step + 2, msg.NotifyReportRequest, REPORT_PART_WITHIN, where=lambda r: r.request_id == request_id
        )
        expect_field(step + 2, part, "seqNo", seq_no)
        expect_field(step + 2, part, "requestId", request_id)
        items.extend(part.report_data if isinstance(part.report_data, list) else [])
        if field_value(part, "tbc") is not True:
            return items
        seq_no += 1


def name_of(item: dt.ReportDataType) -> str:
    component = item.component.name
    if isinstance(item.component.instance, str):
        component += f"[{item.component.instance}]"
    variable = item.variable.name
    if isinstance(item.variable.instance, str):
        variable += f"[{item.variable.instance}]"
    return f"{component}.{variable}"


def check_characteristics(step: int | str, items: list[dt.ReportDataType], *, values: bool) -> None:
    """Every item has variableCharacteristics, a list type has a valuesList and (``values``) its reported
    values are members of it, a WriteOnly attribute has no value (``values``)."""
    for item in items:
        characteristics = item.variable_characteristics
        if not isinstance(characteristics, dt.VariableCharacteristicsType):
            raise StepFailed(step, f"{name_of(item)}: variableCharacteristics absent")
        kind = show(characteristics.data_type)
        if kind not in LISTS:
            continue
        allowed = characteristics.values_list if isinstance(characteristics.values_list, str) else ""
        if not allowed.strip():
            raise StepFailed(step, f"{name_of(item)}: dataType {kind} without a valuesList")
        if not values:
            continue
        members = {m.strip() for m in allowed.split(",")}
        for attribute in item.variable_attribute:
            value = attribute.value
            if not isinstance(value, str) or not value:
                continue
            given = [value] if kind == "OptionList" else [v.strip() for v in value.split(",")]
            stray = [v for v in given if v not in members]
            if stray:
                raise StepFailed(step, f"{name_of(item)}: {value!r} is not within valuesList {allowed!r}")
    if values:
        for item in items:
            for attribute in item.variable_attribute:
                if show(attribute.mutability) == "WriteOnly" and isinstance(attribute.value, str):
                    raise StepFailed(step, f"{name_of(item)}: a WriteOnly value is reported")


def check_required(
    tool: StationTool, step: int | str, items: list[dt.ReportDataType], *, writable_only: bool
) -> None:
    configured = tool.configured
    reported = set()
    for item in items:
        evse = item.component.evse
        evse_id = evse.id if isinstance(evse, dt.EVSEType) else None
        connector = evse.connector_id if isinstance(evse, dt.EVSEType) else None
        connector_id = connector if isinstance(connector, int) else None
        instance = item.variable.instance if isinstance(item.variable.instance, str) else None
        reported.add((item.component.name, item.variable.name, instance, evse_id, connector_id))
    missing = []
    for required in REQUIRED_VARIABLES:
        if writable_only and not required.writable:
            continue
        evse_id = configured.evse_id if required.physical else None
        connector_id = configured.connector_id if required.physical == "connector" else None
        key = (required.component, required.variable, required.instance, evse_id, connector_id)
        # a connector reported without its connectorId on the EVSE tier is accepted (one connector per EVSE)
        loose = (required.component, required.variable, required.instance, evse_id, None)
        if key not in reported and not (required.physical == "connector" and loose in reported):
            where = f" (EVSE {evse_id})" if evse_id is not None else ""
            name = required.variable + (f"[{required.instance}]" if required.instance else "")
            missing.append(f"{required.component}.{name}{where}")
    if missing:
        raise StepFailed(step, f"required variables not reported: {', '.join(missing)}")


@case(
    "TC_B_12_CS",
    "Get Base Report - ConfigurationInventory",
    use_cases=("B07",),
    requirements=("B07.FR.01", "B07.FR.03", "B07.FR.04", "B07.FR.07", "B07.FR.10", "B07.FR.12"),
    timeout=40.0,
)
async def tc_b_12_cs(tool: StationTool) -> None:
    items = await base_report(tool, 1, en.ReportBaseEnumType.CONFIGURATION_INVENTORY)
    check_characteristics("post", items, values=False)
    for item in items:
        for attribute in item.variable_attribute:
            mutability = show(attribute.mutability)
            if mutability not in ("ReadWrite", "WriteOnly"):
                raise StepFailed(
                    "post", f"{name_of(item)}: mutability {mutability} in a ConfigurationInventory"
                )
    check_required(tool, "post", items, writable_only=True)


@case(
    "TC_B_13_CS",
    "Get Base Report - FullInventory",
    use_cases=("B07",),
    requirements=("B07.FR.01", "B07.FR.03", "B07.FR.04", "B07.FR.08", "B07.FR.10", "B07.FR.12"),
    timeout=40.0,
)
async def tc_b_13_cs(tool: StationTool) -> None:
    items = await base_report(tool, 1, en.ReportBaseEnumType.FULL_INVENTORY)
    check_characteristics("post", items, values=False)
    check_required(tool, "post", items, writable_only=False)


@case(
    "TC_B_15_CS",
    "Get Base Report - Not Supported base report",
    use_cases=("B07",),
    requirements=("B07.FR.02",),
    condition="not C-56",
)
async def tc_b_15_cs(tool: StationTool) -> None:
    request = msg.GetBaseReportRequest(
        request_id=new_request_id(), report_base=en.ReportBaseEnumType.SUMMARY_INVENTORY
    )
    response = await tool.send_as(1, request, msg.GetBaseReportResponse)
    expect_field(2, response, "status", "NotSupported")
    expect_field(2, response, "statusInfo.reasonCode", "absent", "UnsupportedParam")
    await tool.expect_none(2, msg.NotifyReportRequest, 2.0)


@case(
    "TC_B_53_CS",
    "Get Base Report - Test mandatory DM variables via FullInventory",
    use_cases=("B07",),
    requirements=(),  # Part 2's chapter on referenced components and variables
    timeout=40.0,
)
async def tc_b_53_cs(tool: StationTool) -> None:
    items = await base_report(tool, 1, en.ReportBaseEnumType.FULL_INVENTORY)
    check_required(tool, "post", items, writable_only=False)
    check_characteristics("post", items, values=True)
