"""Block B, Provisioning: base reports (B07) and custom reports (B08), charging-station side (Part 6 §2.3).

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
* TC_B_14: the summary must hold ChargingStation.AvailabilityState and the configured EVSE's
  AvailabilityState (the tool knows no other EVSE); components "in an abnormal state" cannot be known to
  the tool, so that part of the post-scenario check is not made.
* TC_B_16: the table checks "variable.name is Enabled" on every reported item, but B08.FR.07-09 make a
  station report every variable of each component that meets the criterion, including the components that
  have no Enabled variable at all. The requirement is followed: every reported Enabled variable must be
  "true", and every Enabled variable a FullInventory reports "true" must be in the custom report (the post
  scenario check, with the FullInventory fetched first as steps 0a/0b). Step 5 reads every reported
  Enabled variable back with one GetVariables.
* TC_B_17 / B_18: the valuesList is compared as a set of comma-separated members (the table writes it with
  spaces after the commas); TC_B_18's damaged "reportData:Evse.type = ReadOnly / attribute.mutability =
  Actual" is read as mutability ReadOnly and type Actual, as in TC_B_17.
* TC_B_54 writes "DeviceDataCtrl" and variable instance "GetVariable": read as DeviceDataCtrlr and the
  instances of Part 2 (GetReport, GetVariables); both must be reported, in any order.
* TC_B_56's "<Configured EVSE count>": the number of EVSE components with an AvailabilityState in a
  FullInventory of the same station (fetched first, steps 0a/0b), each reported once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import msgspec

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


async def custom_report(
    tool: StationTool, step: int, request: msg.GetReportRequest
) -> tuple[msg.GetReportResponse, list[dt.ReportDataType]]:
    """Steps ``step`` .. ``step + 3`` of a GetReport: its answer, and (Accepted) every NotifyReport part in
    sequence (B08.FR.04, B08.FR.14). Every reported variable has its characteristics (B08.FR.12)."""
    response = await tool.send_as(step, request, msg.GetReportResponse)
    items: list[dt.ReportDataType] = []
    if show(response.status) != "Accepted":
        return response, items
    seq_no = 0
    while True:
        part = await tool.expect_answered(
            step + 2,
            msg.NotifyReportRequest,
            REPORT_PART_WITHIN,
            where=lambda r: r.request_id == request.request_id,
        )
        expect_field(step + 2, part, "seqNo", seq_no)
        items.extend(part.report_data if isinstance(part.report_data, list) else [])
        if field_value(part, "tbc") is not True:
            check_characteristics(step + 2, items, values=True)
            return response, items
        seq_no += 1


def accepted(step: int, response: msg.GetReportResponse) -> None:
    expect_field(step, response, "status", "Accepted")
    expect_field(step, response, "statusInfo.reasonCode", "absent", "NoError")


def evse_of(item: dt.ReportDataType) -> int | None:
    evse = item.component.evse
    return evse.id if isinstance(evse, dt.EVSEType) else None


def component_variable(
    component: str, variable: str | None = None, *, evse: int | None = None, instance: str | None = None
) -> dt.ComponentVariableType:
    comp = dt.ComponentType(name=component, evse=dt.EVSEType(id=evse)) if evse is not None else None
    chosen = comp or dt.ComponentType(name=component)
    if variable is None:
        return dt.ComponentVariableType(component=chosen)
    var = dt.VariableType(name=variable, instance=instance) if instance else dt.VariableType(name=variable)
    return dt.ComponentVariableType(component=chosen, variable=var)


def check_availability_state(step: int, item: dt.ReportDataType, evse_id: int) -> None:
    """TC_B_17 / B_18 step 3: EVSE #evse_id AvailabilityState, an OptionList of the five states, Actual and
    ReadOnly."""
    if (item.component.name, evse_of(item), item.variable.name) != ("EVSE", evse_id, "AvailabilityState"):
        raise StepFailed(
            step, f"reported {name_of(item)} (EVSE {evse_of(item)}), expected EVSE.AvailabilityState"
        )
    characteristics = item.variable_characteristics
    assert isinstance(characteristics, dt.VariableCharacteristicsType)  # check_characteristics made sure
    expect_field(step, characteristics, "dataType", "OptionList")
    listed = characteristics.values_list if isinstance(characteristics.values_list, str) else ""
    wanted = {"Available", "Occupied", "Reserved", "Unavailable", "Faulted"}
    if {m.strip() for m in listed.split(",")} != wanted:
        raise StepFailed(
            step, f"AvailabilityState valuesList is {listed!r}, expected {', '.join(sorted(wanted))}"
        )
    for attribute in item.variable_attribute:
        expect_field(step, attribute, "type", "absent", "Actual")
        expect_field(step, attribute, "mutability", "absent", "ReadOnly")


@case(
    "TC_B_14_CS",
    "Get Base Report - SummaryInventory",
    use_cases=("B07",),
    requirements=("B07.FR.01", "B07.FR.03", "B07.FR.04", "B07.FR.09", "B07.FR.10", "B07.FR.12"),
    condition="C-56",
    timeout=40.0,
)
async def tc_b_14_cs(tool: StationTool) -> None:
    items = await base_report(tool, 1, en.ReportBaseEnumType.SUMMARY_INVENTORY)
    check_characteristics("post", items, values=True)
    reported = {(i.component.name, evse_of(i), i.variable.name) for i in items}
    for wanted in (
        ("ChargingStation", None, "AvailabilityState"),
        ("EVSE", tool.configured.evse_id, "AvailabilityState"),
    ):
        if wanted not in reported:
            where = f" (EVSE {wanted[1]})" if wanted[1] is not None else ""
            raise StepFailed("post", f"{wanted[0]}.{wanted[2]}{where} not in the SummaryInventory")


@case(
    "TC_B_16_CS",
    "Get Custom Report - with component criteria",
    use_cases=("B08",),
    requirements=(
        "B08.FR.01",
        "B08.FR.03",
        "B08.FR.04",
        "B08.FR.07",
        "B08.FR.09",
        "B08.FR.10",
        "B08.FR.12",
        "B08.FR.13",
        "B08.FR.14",
    ),
    timeout=60.0,
)
async def tc_b_16_cs(tool: StationTool) -> None:
    full = await base_report(tool, 0, en.ReportBaseEnumType.FULL_INVENTORY)

    def enabled(items: list[dt.ReportDataType]) -> dict[tuple[str, str | None, int | None], str | None]:
        found = {}
        for item in items:
            if item.variable.name != "Enabled" or isinstance(item.variable.instance, str):
                continue
            instance = item.component.instance if isinstance(item.component.instance, str) else None
            actual = [a for a in item.variable_attribute if show(a.type) in ("absent", "Actual")]
            value = actual[0].value if actual and isinstance(actual[0].value, str) else None
            found[(item.component.name, instance, evse_of(item))] = value
        return found

    request = msg.GetReportRequest(
        request_id=new_request_id(), component_criteria=[en.ComponentCriterionEnumType.ENABLED]
    )
    response, items = await custom_report(tool, 1, request)
    accepted(2, response)
    reported = enabled(items)
    for (component, _, evse), value in reported.items():
        if value != "true":
            raise StepFailed(3, f"{component} (EVSE {evse}) Enabled is {value!r} in a report for Enabled")
    missing = [c for c, v in enabled(full).items() if v == "true" and c not in reported]
    if missing:
        raise StepFailed("post", f"Enabled components of the FullInventory not reported: {missing}")
    if not reported:
        return
    asked = [
        dt.GetVariableDataType(
            component=dt.ComponentType(
                name=component,
                instance=instance if instance is not None else msgspec.UNSET,
                evse=dt.EVSEType(id=evse) if evse is not None else msgspec.UNSET,
            ),
            variable=dt.VariableType(name="Enabled"),
        )
        for component, instance, evse in reported
    ]
    answer = await tool.send_as(5, msg.GetVariablesRequest(get_variable_data=asked), msg.GetVariablesResponse)
    for result in answer.get_variable_result:
        expect_field(6, result, "attributeStatus", "Accepted")
        expect_field(6, result, "attributeValue", "true")


@case(
    "TC_B_17_CS",
    "Get Custom Report - with component/variable",
    use_cases=("B08",),
    requirements=("B08.FR.01", "B08.FR.03", "B08.FR.04", "B08.FR.11", "B08.FR.12", "B08.FR.14"),
)
async def tc_b_17_cs(tool: StationTool) -> None:
    evse_id = tool.configured.evse_id
    request = msg.GetReportRequest(
        request_id=new_request_id(),
        component_variable=[component_variable("EVSE", "AvailabilityState", evse=evse_id)],
    )
    response, items = await custom_report(tool, 1, request)
    accepted(2, response)
    if not items:
        raise StepFailed(3, "the report holds no reportData")
    for item in items:
        check_availability_state(3, item, evse_id)


@case(
    "TC_B_18_CS",
    "Get Custom Report - with component criteria and component/variable",
    use_cases=("B08",),
    requirements=(
        "B08.FR.01",
        "B08.FR.03",
        "B08.FR.04",
        "B08.FR.05",
        "B08.FR.11",
        "B08.FR.12",
        "B08.FR.14",
        "B08.FR.15",
    ),
)
async def tc_b_18_cs(tool: StationTool) -> None:
    evse_id = tool.configured.evse_id
    selection = [component_variable("EVSE", "AvailabilityState", evse=evse_id)]
    request = msg.GetReportRequest(
        request_id=new_request_id(),
        component_criteria=[en.ComponentCriterionEnumType.AVAILABLE],
        component_variable=selection,
    )
    response, items = await custom_report(tool, 1, request)
    accepted(2, response)
    if not items:
        raise StepFailed(3, "the report holds no reportData")
    for item in items:
        check_availability_state(3, item, evse_id)
    request = msg.GetReportRequest(
        request_id=new_request_id(),
        component_criteria=[en.ComponentCriterionEnumType.PROBLEM],
        component_variable=selection,
    )
    response = await tool.send_as(5, request, msg.GetReportResponse)
    expect_field(6, response, "status", "EmptyResultSet")
    expect_field(6, response, "statusInfo.reasonCode", "absent", "NotFound")
    await tool.expect_none(6, msg.NotifyReportRequest, 1.0)  # B08.FR.15: no report follows


def items_per_message(items: list[dt.ReportDataType], step: int, instances: set[str]) -> None:
    """TC_B_54 / B_55 step 3: DeviceDataCtrlr.ItemsPerMessage, exactly the ``instances``."""
    found = set()
    for item in items:
        if (item.component.name, item.variable.name) != ("DeviceDataCtrlr", "ItemsPerMessage"):
            raise StepFailed(step, f"reported {name_of(item)}, expected DeviceDataCtrlr.ItemsPerMessage")
        found.add(item.variable.instance if isinstance(item.variable.instance, str) else "")
    if not instances <= found:
        raise StepFailed(step, f"ItemsPerMessage instances {sorted(found)}, expected {sorted(instances)}")
    if len(instances) == 1 and found != instances:
        raise StepFailed(
            step, f"ItemsPerMessage instances {sorted(found)}, expected only {sorted(instances)}"
        )


@case(
    "TC_B_54_CS",
    "Get Custom Report - with component/variable, but no instance",
    use_cases=("B08",),
    requirements=("B08.FR.01", "B08.FR.03", "B08.FR.04", "B08.FR.11", "B08.FR.12", "B08.FR.14"),
)
async def tc_b_54_cs(tool: StationTool) -> None:
    request = msg.GetReportRequest(
        request_id=new_request_id(),
        component_variable=[component_variable("DeviceDataCtrlr", "ItemsPerMessage")],
    )
    response, items = await custom_report(tool, 1, request)
    accepted(2, response)
    items_per_message(items, 3, {"GetReport", "GetVariables"})


@case(
    "TC_B_55_CS",
    "Get Custom Report - with component/variable/instance",
    use_cases=("B08",),
    requirements=("B08.FR.01", "B08.FR.03", "B08.FR.04", "B08.FR.11", "B08.FR.12", "B08.FR.14"),
)
async def tc_b_55_cs(tool: StationTool) -> None:
    request = msg.GetReportRequest(
        request_id=new_request_id(),
        component_variable=[component_variable("DeviceDataCtrlr", "ItemsPerMessage", instance="GetReport")],
    )
    response, items = await custom_report(tool, 1, request)
    accepted(2, response)
    items_per_message(items, 3, {"GetReport"})


@case(
    "TC_B_56_CS",
    "Get Custom Report - with component/variable, but no evseId",
    use_cases=("B08",),
    requirements=("B08.FR.01", "B08.FR.03", "B08.FR.04", "B08.FR.11", "B08.FR.12", "B08.FR.14"),
    timeout=60.0,
)
async def tc_b_56_cs(tool: StationTool) -> None:
    full = await base_report(tool, 0, en.ReportBaseEnumType.FULL_INVENTORY)
    configured = {
        evse_of(i) for i in full if (i.component.name, i.variable.name) == ("EVSE", "AvailabilityState")
    }
    request = msg.GetReportRequest(
        request_id=new_request_id(), component_variable=[component_variable("EVSE", "AvailabilityState")]
    )
    response, items = await custom_report(tool, 1, request)
    accepted(2, response)
    reported = []
    for item in items:
        if (item.component.name, item.variable.name) != ("EVSE", "AvailabilityState"):
            raise StepFailed(3, f"reported {name_of(item)}, expected EVSE.AvailabilityState")
        reported.append(evse_of(item))
    if sorted(reported, key=str) != sorted(configured, key=str):
        raise StepFailed(3, f"EVSEs reported {reported}, expected each of {sorted(configured, key=str)} once")
