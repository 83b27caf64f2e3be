"""Block N, monitoring (Part 6 §2.13, N02-N08): monitoring reports, bases, levels, monitors set and cleared, and
the events they raise, charging-station side.

Readings:
* Every case starts from a known set of monitors, outside the verdict: SetMonitoringBase FactoryDefault (the
  custom monitors of earlier cases are gone, the hard-wired and preconfigured ones are there) or, where a case
  "assumes that no monitor is active on this variable", HardWiredOnly. Cases whose preparations ask for base
  All send it. The monitoring level a case changes is put back afterwards.
* Report parts are taken until one without ``tbc`` (or tbc false); each must carry the request's id and the
  next seqNo from 0. An EmptyResultSet answer is followed by no part.
* "<Configured threshold monitor component variable>" is ``threshold_component`` / ``threshold_variable`` of
  the declaration on the configured EVSE (EVSE.Power by default): a charge (Reusable States
  EnergyTransferStarted, from idle, and StopAuthorized) takes it above ``threshold_value`` and back below
  ``threshold_value2``.
* TC_N_37_CS names component "EVSE" without an EVSE: the configured EVSE is given (the status judged is the
  variable's, UnknownVariable).
* TC_N_11_CS: the unknown EVSE may be UnknownComponent or Rejected, the unknown component UnknownComponent or
  UnknownVariable, each without an id.
* TC_N_15_CS: of the two equal monitors one must be Accepted and the other Duplicate, in either order.
* TC_N_18_CS: ID1 and ID2 are the monitors on the two AvailabilityState variables as the station reports them
  (preconfigured or custom); all of them are cleared, and the report after must be empty.
* TC_N_19_CS: the id is one above the highest reported (123456 when none is).
* TC_N_21_CS: "trigger a hardwired notification" is a hardware fault of the configured EVSE (a manual action),
  ended after the case.
* TC_N_24_CS: the interval is the station cases' clock-aligned interval (``station_aligned_interval``); two
  Periodic events must come, about one interval apart (one interval of slack).
* TC_N_44_CS: the first id reported (of a report of all monitors) must be a hard-wired monitor (AQ-5).
* TC_N_48_CS: the station may report the changed password at once (it is a change of the variable) or after
  the reboot RebootRequired asks for; the reboot is done only when no NotifyEvent came before.
* TC_N_22_CS / TC_N_23_CS: the monitoring level is 9 during the case (so that the monitor of severity
  <Configured severity> + 1 would be reported when online); after the reconnection the queued NotifyEvent
  must come within ``transaction_duration`` seconds (N_22), none may come (N_23).
"""

from __future__ import annotations

import asyncio
import logging
import random
import string
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from msgspec import UNSET

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.a_security import restore_password
from chargeplane.tools.conformance.checks import StepFailed, expect_field, field_value
from chargeplane.tools.conformance.station_adapter import HardwareFault, PlugIn, PowerCycle, Unplug
from chargeplane.tools.conformance.station_states import (
    after_boot,
    charging_from_idle,
    configuration,
    connector_status,
    get_variable,
    stop_authorized_local,
)
from chargeplane.tools.conformance.station_steps import StationTool

Mon = en.MonitorEnumType
Status = en.ConnectorStatusEnumType
PART_WITHIN = 10.0  # seconds for each report part
EVENT_WITHIN = 15.0  # seconds for a NotifyEvent after what triggers it
CTRLR = "MonitoringCtrlr"
# (component, evse, variable, type, id, severity) of a reported monitor
Reported = tuple[str, int | None, str, str, int, int]


# ---------------------------------------------------------------------- helpers
def component(name: str, evse: int | None = None) -> dt.ComponentType:
    return dt.ComponentType(name=name, evse=UNSET if evse is None else dt.EVSEType(id=evse))


log = logging.getLogger(__name__)


def wanted(name: str, variable: str | None = None, evse: int | None = None) -> dt.ComponentVariableType:
    return dt.ComponentVariableType(
        component=component(name, evse),
        variable=UNSET if variable is None else dt.VariableType(name=variable),
    )


def monitor(
    name: str,
    variable: str,
    kind: Mon,
    value: float,
    severity: int,
    evse: int | None = None,
    monitor_id: int | None = None,
) -> dt.SetMonitoringDataType:
    return dt.SetMonitoringDataType(
        id=UNSET if monitor_id is None else monitor_id,
        value=value,
        type=kind,
        severity=severity,
        component=component(name, evse),
        variable=dt.VariableType(name=variable),
    )


def threshold(
    tool: StationTool, kind: Mon, value: float, monitor_id: int | None = None
) -> dt.SetMonitoringDataType:
    configured = tool.configured
    return monitor(
        configured.threshold_component,
        configured.threshold_variable,
        kind,
        value,
        configured.monitor_severity,
        configured.evse_id,
        monitor_id,
    )


def evse_state(
    tool: StationTool, kind: Mon, value: float, severity: int, monitor_id: int | None = None
) -> dt.SetMonitoringDataType:
    return monitor("EVSE", "AvailabilityState", kind, value, severity, tool.configured.evse_id, monitor_id)


async def set_monitoring(
    tool: StationTool, step: int | str, *items: dt.SetMonitoringDataType
) -> list[dt.SetMonitoringResultType]:
    request = msg.SetVariableMonitoringRequest(set_monitoring_data=list(items))
    response = await tool.send_as(step, request, msg.SetVariableMonitoringResponse)
    results = list(response.set_monitoring_result)
    if len(results) != len(items):  # N04.FR.01
        raise StepFailed(
            step, f"{len(results)} setMonitoringResult elements for {len(items)} setMonitoringData"
        )
    return results


def check_result(
    step: int | str, result: dt.SetMonitoringResultType, item: dt.SetMonitoringDataType, *statuses: str
) -> int | None:
    """The result echoes the item (N04.FR.02) and has one of ``statuses``; its id (None when absent)."""
    expect_field(step, result, "status", *statuses)
    expect_field(step, result, "type", item.type)
    expect_field(step, result, "severity", item.severity)
    expect_field(step, result, "component.name", item.component.name)
    expect_field(step, result, "variable.name", item.variable.name)
    evse = item.component.evse
    if isinstance(evse, dt.EVSEType):
        expect_field(step, result, "component.evse.id", evse.id)
    monitor_id = result.id if isinstance(result.id, int) else None
    if result.status is en.SetMonitoringStatusEnumType.ACCEPTED:
        if monitor_id is None:
            raise StepFailed(step, "an Accepted setMonitoringResult without id (N04.FR.11)")
    elif monitor_id is not None:
        raise StepFailed(step, f"setMonitoringResult.id is {monitor_id}, expected absent for {result.status}")
    return monitor_id


async def accepted(tool: StationTool, step: int | str, *items: dt.SetMonitoringDataType) -> list[int]:
    """Install monitors (preparations or steps): every one Accepted; their ids."""
    results = await set_monitoring(tool, step, *items)
    ids = []
    for result, item in zip(results, items, strict=True):
        monitor_id = check_result(step, result, item, "Accepted")
        assert monitor_id is not None
        ids.append(monitor_id)
    return ids


async def base(tool: StationTool, step: int | str, monitoring_base: str) -> None:
    request = msg.SetMonitoringBaseRequest(monitoring_base=en.MonitoringBaseEnumType(monitoring_base))
    response = await tool.send_as(step, request, msg.SetMonitoringBaseResponse)
    expect_field(step, response, "status", "Accepted")
    expect_field(step, response, "statusInfo.reasonCode", "absent", "NoError")


def _mid(event: dt.EventDataType) -> int | None:
    return event.variable_monitoring_id if isinstance(event.variable_monitoring_id, int) else None


def _then(step: int | str, n: int) -> int | str:
    return step + n if isinstance(step, int) else step


async def report(
    tool: StationTool,
    step: int | str,
    criteria: Sequence[str] = (),
    components: Sequence[dt.ComponentVariableType] = (),
    status: str = "Accepted",
) -> list[Reported]:
    """GetMonitoringReport (step) answered with ``status`` (step + 1), then its parts (step + 2): the reported
    monitors."""
    request_id = random.randint(1, 2**31 - 1)
    request = msg.GetMonitoringReportRequest(
        request_id=request_id,
        monitoring_criteria=[en.MonitoringCriterionEnumType(c) for c in criteria] if criteria else UNSET,
        component_variable=list(components) if components else UNSET,
    )
    response = await tool.send_as(step, request, msg.GetMonitoringReportResponse)
    expect_field(_then(step, 1), response, "status", status)
    if status != "Accepted":
        return []
    monitors: list[Reported] = []
    seq_no = 0
    while True:
        part = await tool.expect_answered(
            _then(step, 2),
            msg.NotifyMonitoringReportRequest,
            PART_WITHIN,
            where=lambda r: r.request_id == request_id,
        )
        expect_field(_then(step, 2), part, "seqNo", seq_no)  # N02.FR.09
        for data in part.monitor if isinstance(part.monitor, list) else []:
            evse = data.component.evse
            for vm in data.variable_monitoring:
                monitors.append(
                    (
                        data.component.name,
                        evse.id if isinstance(evse, dt.EVSEType) else None,
                        data.variable.name,
                        str(vm.type),
                        vm.id,
                        vm.severity,
                    )
                )
        if field_value(part, "tbc") is not True:
            return monitors
        seq_no += 1


def only_types(step: int | str, monitors: list[Reported], *types: str) -> None:
    if not monitors:
        raise StepFailed(step, "no monitor reported")
    others = sorted({m[3] for m in monitors} - set(types))
    if others:
        raise StepFailed(
            step, f"monitors of type {', '.join(others)} reported, expected only {', '.join(types)}"
        )


def find(
    monitors: list[Reported], name: str, variable: str, kind: str, evse: int | None = None
) -> list[Reported]:
    return [
        m
        for m in monitors
        if m[0] == name and m[2] == variable and m[3] == kind and (evse is None or m[1] == evse)
    ]


def require(
    step: int | str, monitors: list[Reported], name: str, variable: str, kind: str, evse: int | None = None
) -> Reported:
    found = find(monitors, name, variable, kind, evse)
    if not found:
        where = f"{name}" + (f" EVSE {evse}" if evse is not None else "")
        raise StepFailed(step, f"no {kind} monitor on {where}.{variable} reported")
    return found[0]


async def notify_event(
    tool: StationTool,
    step: int | str,
    monitor_id: int,
    *,
    cleared: bool | None = None,
    within: float = EVENT_WITHIN,
) -> dt.EventDataType:
    """The next NotifyEvent with an event of monitor ``monitor_id`` (N07.FR.06), seqNo 0 (N07.FR.07)."""

    def where(request: msg.NotifyEventRequest) -> bool:
        return any(
            e.variable_monitoring_id == monitor_id and (cleared is None or (e.cleared is True) == cleared)
            for e in request.event_data
        )

    request = await tool.expect_answered(step, msg.NotifyEventRequest, within, where=where)
    expect_field(step, request, "seqNo", 0)
    return next(e for e in request.event_data if e.variable_monitoring_id == monitor_id)


async def no_event_of(tool: StationTool, step: int | str, monitor_ids: set[int], within: float) -> None:
    try:
        request = await tool.expect_answered(
            step,
            msg.NotifyEventRequest,
            within,
            where=lambda r: any(e.variable_monitoring_id in monitor_ids for e in r.event_data),
        )
    except StepFailed:
        return
    ids = sorted({e.variable_monitoring_id for e in request.event_data} & monitor_ids)  # type: ignore[type-var]
    raise StepFailed(step, f"a NotifyEvent for monitor {ids}, expected none")


@asynccontextmanager
async def level(tool: StationTool, step: int | str, severity: int) -> AsyncIterator[None]:
    """The monitoring level ``severity`` inside the block, the station's own afterwards."""
    before = await get_variable(tool, step, CTRLR, "ActiveMonitoringLevel")
    await set_level(tool, step, severity, "Accepted")
    try:
        yield
    finally:
        if before is not None and before.isdigit():
            await tool.send(f"{step}/restore", msg.SetMonitoringLevelRequest(severity=int(before)))


async def set_level(
    tool: StationTool, step: int | str, severity: int, status: str
) -> msg.SetMonitoringLevelResponse:
    response = await tool.send_as(
        step, msg.SetMonitoringLevelRequest(severity=severity), msg.SetMonitoringLevelResponse
    )
    expect_field(step, response, "status", status)
    return response


# ---------------------------------------------------------------------- N02 Get Monitoring Report
@case(
    "TC_N_01_CS",
    "Get Monitoring Report - with monitoringCriteria",
    use_cases=("N02",),
    requirements=(
        "N02.FR.01",
        "N02.FR.03",
        "N02.FR.04",
        "N02.FR.05",
        "N02.FR.06",
        "N02.FR.09",
        "N02.FR.12",
        "N02.FR.13",
        "N02.FR.14",
    ),
)
async def tc_n_01_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "All")
    threshold_types = ("UpperThreshold", "LowerThreshold")
    only_types(3, await report(tool, 1, ["ThresholdMonitoring"]), *threshold_types)
    only_types(
        7, await report(tool, 5, ["ThresholdMonitoring", "DeltaMonitoring"]), *threshold_types, "Delta"
    )
    periodic = ("Delta", "Periodic", "PeriodicClockAligned")
    only_types(11, await report(tool, 9, ["DeltaMonitoring", "PeriodicMonitoring"]), *periodic)


@case(
    "TC_N_02_CS",
    "Get Monitoring Report - with component/variable",
    use_cases=("N02",),
    requirements=("N02.FR.01", "N02.FR.03", "N02.FR.04", "N02.FR.05", "N02.FR.08", "N02.FR.09"),
)
async def tc_n_02_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "FactoryDefault")
    evse = tool.configured.evse_id
    monitors = await report(
        tool, 1, (), [wanted("ChargingStation", "AvailabilityState"), wanted("EVSE", evse=evse)]
    )
    for name, at, variable, kind, _, _ in monitors:
        if (name, at) not in (("ChargingStation", None), ("EVSE", evse)):
            raise StepFailed(
                3, f"a monitor of {name} {at} reported, expected ChargingStation and EVSE {evse} only"
            )
        if variable == "AvailabilityState" and kind != "Delta":
            raise StepFailed(3, f"an AvailabilityState monitor of type {kind}, expected Delta")
    require("post", monitors, "ChargingStation", "AvailabilityState", "Delta")
    require("post", monitors, "EVSE", "AvailabilityState", "Delta", evse)


@case(
    "TC_N_03_CS",
    "Get Monitoring Report - with component criteria and component/variable",
    use_cases=("N02",),
    requirements=("N02.FR.01", "N02.FR.03", "N02.FR.04", "N02.FR.05", "N02.FR.09", "N02.FR.10", "N02.FR.13"),
)
async def tc_n_03_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "FactoryDefault")
    evse = tool.configured.evse_id
    both = [wanted("ChargingStation", "AvailabilityState"), wanted("EVSE", "AvailabilityState", evse)]
    await report(tool, 1, ["ThresholdMonitoring"], both, status="EmptyResultSet")  # N02.FR.10
    monitors = await report(tool, 3, ["DeltaMonitoring"], both)
    only_types(5, monitors, "Delta")
    require("post", monitors, "ChargingStation", "AvailabilityState", "Delta")
    require("post", monitors, "EVSE", "AvailabilityState", "Delta", evse)


@case(
    "TC_N_47_CS",
    "Get Monitoring report - Report all",
    use_cases=("N02",),
    requirements=("N02.FR.01", "N02.FR.11"),
)
async def tc_n_47_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "FactoryDefault")
    monitors = await report(tool, 1)
    require(3, monitors, "ChargingStation", "AvailabilityState", "Delta")
    require(3, monitors, "EVSE", "AvailabilityState", "Delta", tool.configured.evse_id)


# ---------------------------------------------------------------------- N03 Set Monitoring Base
@case(
    "TC_N_05_CS",
    "Set Monitoring Base - success",
    use_cases=("N03",),
    requirements=("N03.FR.01", "N03.FR.03", "N03.FR.04", "N03.FR.05"),
)
async def tc_n_05_cs(tool: StationTool) -> None:
    await base(tool, 1, "All")
    await base(tool, 3, "FactoryDefault")
    await base(tool, 5, "HardWiredOnly")
    await base(tool, "restore", "FactoryDefault")


@case(
    "TC_N_06_CS",
    "Set Monitoring Base - test removal custom monitors",
    use_cases=("N03",),
    requirements=("N03.FR.05",),
)
async def tc_n_06_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "FactoryDefault")
    station_state = [wanted("ChargingStation", "AvailabilityState")]
    require(3, await report(tool, 1, (), station_state), "ChargingStation", "AvailabilityState", "Delta")
    await base(tool, 5, "HardWiredOnly")
    await report(tool, 7, (), station_state, status="EmptyResultSet")


# ---------------------------------------------------------------------- N04 Set Variable Monitoring
@case(
    "TC_N_08_CS",
    "Set Variable Monitoring - one setMonitoringData element",
    use_cases=("N04",),
    requirements=("N04.FR.01", "N04.FR.02", "N04.FR.08", "N04.FR.11"),
)
async def tc_n_08_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(tool, 1, evse_state(tool, Mon.DELTA, 1, 8))
    evse = tool.configured.evse_id
    monitors = await report(tool, 3, (), [wanted("EVSE", "AvailabilityState", evse)])
    found = require(5, monitors, "EVSE", "AvailabilityState", "Delta", evse)
    if (found[4], found[5]) != (monitor_id, 8):
        raise StepFailed(
            5, f"monitor {found[4]} of severity {found[5]} reported, expected {monitor_id} of severity 8"
        )


@case(
    "TC_N_09_CS",
    "Set Variable Monitoring - Multiple elements on different component and variable",
    use_cases=("N04",),
    requirements=("N04.FR.01", "N04.FR.02", "N04.FR.08"),
)
async def tc_n_09_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    severity = tool.configured.monitor_severity
    ids = await accepted(
        tool,
        1,
        evse_state(tool, Mon.DELTA, 1, severity),
        monitor("ChargingStation", "AvailabilityState", Mon.DELTA, 1, severity),
    )
    evse = tool.configured.evse_id
    monitors = await report(
        tool,
        3,
        (),
        [wanted("EVSE", "AvailabilityState", evse), wanted("ChargingStation", "AvailabilityState")],
    )
    if sorted(m[4] for m in monitors) != sorted(ids):
        raise StepFailed(5, f"monitors {sorted(m[4] for m in monitors)} reported, expected {sorted(ids)}")


@case(
    "TC_N_10_CS",
    "Set Variable Monitoring - Multiple monitors on the same component and variable",
    use_cases=("N04",),
    requirements=("N04.FR.01", "N04.FR.08", "N04.FR.10"),
)
async def tc_n_10_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    ids = await accepted(tool, 1, evse_state(tool, Mon.DELTA, 1, 8), evse_state(tool, Mon.DELTA, 1, 7))
    if ids[0] == ids[1]:
        raise StepFailed(2, f"both monitors got id {ids[0]}")


@case(
    "TC_N_11_CS",
    "Set Variable Monitoring - Unknown component",
    use_cases=("N04",),
    requirements=("N04.FR.03",),
)
async def tc_n_11_cs(tool: StationTool) -> None:
    severity = tool.configured.monitor_severity
    items = (
        monitor("EVSE", "AvailabilityState", Mon.DELTA, 1, severity, evse=99),
        monitor("NonExistent", "Power", Mon.UPPER_THRESHOLD, 1234.0, severity),
    )
    first, second = await set_monitoring(tool, 1, *items)
    check_result(2, first, items[0], "UnknownComponent", "Rejected")
    check_result(2, second, items[1], "UnknownComponent", "UnknownVariable")


@case(
    "TC_N_12_CS",
    "Set Variable Monitoring - Value out of range - Delta monitor",
    use_cases=("N04",),
    requirements=("N04.FR.14",),
)
async def tc_n_12_cs(tool: StationTool) -> None:
    item = evse_state(tool, Mon.DELTA, -1, tool.configured.monitor_severity)
    [result] = await set_monitoring(tool, 1, item)
    check_result(2, result, item, "Rejected")
    expect_field(2, result, "statusInfo.reasonCode", "absent", "ValueOutOfRange", "ValuePositiveOnly")


@case(
    "TC_N_13_CS",
    "Set Variable Monitoring - Value out of range - Threshold monitor",
    use_cases=("N04",),
    requirements=("N04.FR.06",),
)
async def tc_n_13_cs(tool: StationTool) -> None:
    item = threshold(tool, Mon.UPPER_THRESHOLD, tool.configured.threshold_out_of_range)
    [result] = await set_monitoring(tool, 1, item)
    check_result(2, result, item, "Rejected")


@case(
    "TC_N_15_CS",
    "Set Variable Monitoring - Duplicate Variable type/severity combination",
    use_cases=("N04",),
    requirements=("N04.FR.10",),
)
async def tc_n_15_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    severity = tool.configured.monitor_severity
    items = (evse_state(tool, Mon.DELTA, 1, severity), evse_state(tool, Mon.DELTA, 1, severity))
    results = await set_monitoring(tool, 1, *items)
    statuses = sorted(str(r.status) for r in results)
    if statuses != ["Accepted", "Duplicate"]:
        raise StepFailed(2, f"statuses {statuses}, expected one Accepted and one Duplicate")
    for result, item in zip(results, items, strict=True):
        check_result(2, result, item, "Accepted", "Duplicate")


@case(
    "TC_N_24_CS",
    "Set Variable Monitoring - Periodic event",
    use_cases=("N04", "N08"),
    requirements=("N08.FR.04", "N08.FR.05", "N08.FR.06"),
    timeout=60.0,
)
async def tc_n_24_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    interval = tool.configured.station_aligned_interval
    item = evse_state(tool, Mon.PERIODIC, interval, tool.configured.monitor_severity)
    [monitor_id] = await accepted(tool, 1, item)
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(2):
        event = await notify_event(tool, 3, monitor_id, within=interval * 2 + 5)
        expect_field(3, event, "trigger", "Periodic")
        expect_field(3, event, "component.name", "EVSE")
        expect_field(3, event, "component.evse.id", tool.configured.evse_id)
        expect_field(3, event, "variable.name", "AvailabilityState")
        times.append(loop.time())
    gap = times[1] - times[0]
    if not interval - 1 <= gap <= interval + 2:
        raise StepFailed(3, f"the periodic events came {gap:.1f} s apart, expected {interval} s")
    await base(tool, "restore", "FactoryDefault")


@case(
    "TC_N_37_CS",
    "Set Variable Monitoring - Unknown Variable",
    use_cases=("N04",),
    requirements=("N04.FR.04",),
)
async def tc_n_37_cs(tool: StationTool) -> None:
    item = monitor(
        "EVSE", "unknownVariable", Mon.DELTA, 1, tool.configured.monitor_severity, tool.configured.evse_id
    )
    [result] = await set_monitoring(tool, 1, item)
    check_result(2, result, item, "UnknownVariable")


@case(
    "TC_N_39_CS",
    "Set Variable Monitoring - Component/Variable combination does NOT correspond",
    use_cases=("N04",),
    requirements=("N04.FR.16",),
)
async def tc_n_39_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    severity = tool.configured.monitor_severity
    [monitor_id] = await accepted(tool, "prepare", evse_state(tool, Mon.DELTA, 1, severity))
    item = monitor("ChargingStation", "Power", Mon.UPPER_THRESHOLD, 1000.0, severity, monitor_id=monitor_id)
    [result] = await set_monitoring(tool, 1, item)
    check_result(2, result, item, "Rejected")
    monitors = await report(tool, 3)
    found = require(5, monitors, "EVSE", "AvailabilityState", "Delta")
    if not any(m[4] == monitor_id for m in find(monitors, "EVSE", "AvailabilityState", "Delta")):
        raise StepFailed(5, f"monitor {monitor_id} on EVSE.AvailabilityState not reported (found {found[4]})")


@case(
    "TC_N_40_CS",
    "Set Variable Monitoring - Replace Variable Monitor",
    use_cases=("N04",),
    requirements=("N04.FR.12",),
)
async def tc_n_40_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(tool, "prepare", evse_state(tool, Mon.DELTA, 1, 5))
    [same] = await accepted(tool, 1, evse_state(tool, Mon.DELTA, 1, 4, monitor_id))
    if same != monitor_id:
        raise StepFailed(2, f"the replaced monitor has id {same}, expected {monitor_id}")
    evse = tool.configured.evse_id
    monitors = await report(tool, 3, ["DeltaMonitoring"], [wanted("EVSE", "AvailabilityState", evse)])
    if [(m[4], m[5]) for m in monitors] != [(monitor_id, 4)]:
        raise StepFailed(
            5, f"reported (id, severity) {[(m[4], m[5]) for m in monitors]}, expected [({monitor_id}, 4)]"
        )


@case(
    "TC_N_41_CS",
    "Set Variable Monitoring - Return to FactoryDefault",
    use_cases=("N04", "N03"),
    requirements=("N04.FR.15", "N03.FR.04"),
)
async def tc_n_41_cs(tool: StationTool) -> None:
    configured = tool.configured
    await base(tool, "prepare", "FactoryDefault")
    pre, severity = configured.preconfigured_monitor_id, configured.preconfigured_severity
    await accepted(tool, 1, evse_state(tool, Mon.DELTA, 1, severity + 1, pre))
    this = [wanted("EVSE", "AvailabilityState", configured.evse_id)]
    monitors = await report(tool, 3, ["DeltaMonitoring"], this)
    if (pre, severity + 1) not in [(m[4], m[5]) for m in monitors]:
        raise StepFailed(5, f"monitor {pre} not reported with severity {severity + 1}")
    await base(tool, 7, "FactoryDefault")
    monitors = await report(tool, 9, ["DeltaMonitoring"], this)
    if (pre, severity) not in [(m[4], m[5]) for m in monitors]:
        raise StepFailed(11, f"the preconfigured monitor {pre} not back with severity {severity}")


@case(
    "TC_N_43_CS",
    "Set Variable Monitoring - First SetMonitoringData and third SetMonitoringData are valid, but the second contains an out of range value",
    use_cases=("N04",),
    requirements=("N04.FR.01", "N04.FR.08", "N04.FR.14"),
)
async def tc_n_43_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    configured = tool.configured
    items = (
        threshold(tool, Mon.UPPER_THRESHOLD, configured.threshold_value),
        threshold(tool, Mon.DELTA, -1.0),
        threshold(tool, Mon.LOWER_THRESHOLD, configured.threshold_value2),
    )
    results = await set_monitoring(tool, 1, *items)
    for result, item, status in zip(results, items, ("Accepted", "Rejected", "Accepted"), strict=True):
        check_result(2, result, item, status)
    await base(tool, "restore", "FactoryDefault")


@case(
    "TC_N_51_CS",
    "Set Variable Monitoring - Modifying a VariableMonitor and trigger",
    use_cases=("N04", "N07"),
    requirements=("N07.FR.11",),
    timeout=90.0,
)
async def tc_n_51_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    # a threshold the charge does not reach (the variable's maxLimit - 1, as the table has it)
    [monitor_id] = await accepted(
        tool, "prepare", threshold(tool, Mon.UPPER_THRESHOLD, tool.configured.threshold_unreached)
    )
    await charging_from_idle(tool)  # 1.
    await no_event_of(tool, 1, {monitor_id}, 1.0)
    await accepted(tool, 2, threshold(tool, Mon.UPPER_THRESHOLD, tool.configured.threshold_value, monitor_id))
    event = await notify_event(tool, 4, monitor_id, cleared=False)  # the new threshold is exceeded
    expect_field(4, event, "trigger", "Alerting")
    await stop_authorized_local(tool)


@case(
    "TC_N_52_CS",
    "Set Variable Monitoring - Removing a VariableMonitor",
    use_cases=("N06", "N07"),
    requirements=("N07.FR.12",),
    timeout=90.0,
)
async def tc_n_52_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(tool, "prepare", threshold(tool, Mon.UPPER_THRESHOLD, 0.0))
    await charging_from_idle(tool)
    await notify_event(tool, "prepare", monitor_id, cleared=False)
    response = await tool.send_as(
        1, msg.ClearVariableMonitoringRequest(id=[monitor_id]), msg.ClearVariableMonitoringResponse
    )
    expect_field(2, response, "clearMonitoringResult[0].status", "Accepted")
    configured = tool.configured
    this = [wanted(configured.threshold_component, configured.threshold_variable, configured.evse_id)]
    monitors = await report(tool, 3, ["ThresholdMonitoring"], this, status="EmptyResultSet")
    if any(m[4] == monitor_id for m in monitors):
        raise StepFailed(4, f"the cleared monitor {monitor_id} is still reported")
    await stop_authorized_local(tool)  # 5.
    await no_event_of(tool, 6, {monitor_id}, configured.silence_wait)


# ---------------------------------------------------------------------- N05 Set Monitoring Level
@case(
    "TC_N_16_CS",
    "Set Monitoring Level - Success",
    use_cases=("N05",),
    requirements=("N05.FR.01", "N05.FR.03"),
    timeout=60.0,
)
async def tc_n_16_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(tool, "prepare", evse_state(tool, Mon.DELTA, 1, 8))
    configured = tool.configured
    async with level(tool, 1, 7):
        await tool.manual(PlugIn(configured.evse_id, configured.connector_id))  # 3.
        await connector_status(tool, 3, Status.OCCUPIED)
        await no_event_of(tool, 4, {monitor_id}, configured.silence_wait)
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))
        await tool.drain()


@case("TC_N_17_CS", "Set Monitoring Level - Out of range", use_cases=("N05",), requirements=("N05.FR.02",))
async def tc_n_17_cs(tool: StationTool) -> None:
    response = await set_level(tool, 1, 10, "Rejected")
    expect_field(2, response, "statusInfo.reasonCode", "absent", "ValueOutOfRange", "ValueTooHigh")
    response = await set_level(tool, 3, -1, "Rejected")
    expect_field(4, response, "statusInfo.reasonCode", "absent", "ValueOutOfRange", "ValueTooLow")


# ---------------------------------------------------------------------- N06 Clear Monitoring
@case("TC_N_18_CS", "Clear Monitoring - Success", use_cases=("N06",), requirements=("N06.FR.01", "N06.FR.05"))
async def tc_n_18_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "FactoryDefault")
    evse = tool.configured.evse_id
    both = [wanted("ChargingStation", "AvailabilityState"), wanted("EVSE", "AvailabilityState", evse)]
    ids = sorted({m[4] for m in await report(tool, "prepare", (), both)})
    if not ids:
        severity = tool.configured.monitor_severity
        ids = await accepted(
            tool,
            "prepare",
            monitor("ChargingStation", "AvailabilityState", Mon.DELTA, 1, severity),
            evse_state(tool, Mon.DELTA, 1, severity),
        )
    response = await tool.send_as(
        1, msg.ClearVariableMonitoringRequest(id=ids), msg.ClearVariableMonitoringResponse
    )
    results = {r.id: r for r in response.clear_monitoring_result}
    if sorted(results) != sorted(ids):
        raise StepFailed(2, f"results for ids {sorted(results)}, expected {ids}")
    for result in results.values():
        expect_field(2, result, "status", "Accepted")
        expect_field(2, result, "statusInfo.reasonCode", "absent", "NoError")
    await report(tool, 3, (), both, status="EmptyResultSet")
    await base(tool, "restore", "FactoryDefault")


@case("TC_N_19_CS", "Clear Monitoring - Not found", use_cases=("N06",), requirements=("N06.FR.02",))
async def tc_n_19_cs(tool: StationTool) -> None:
    reported = await report(tool, "prepare")
    unknown = max(m[4] for m in reported) + 1 if reported else 123456
    response = await tool.send_as(
        1, msg.ClearVariableMonitoringRequest(id=[unknown]), msg.ClearVariableMonitoringResponse
    )
    expect_field(2, response, "clearMonitoringResult[0].status", "NotFound")
    expect_field(2, response, "clearMonitoringResult[0].id", unknown)


@case(
    "TC_N_44_CS",
    "Clear Monitoring - Rejected",
    use_cases=("N06",),
    requirements=("N06.FR.03",),
    condition="AQ-5",
)
async def tc_n_44_cs(tool: StationTool) -> None:
    reported = await report(tool, "prepare")
    if not reported:
        raise StepFailed("prepare", "no monitor reported, expected the hard-wired ones (AQ-5)")
    first = reported[0][4]
    response = await tool.send_as(
        1, msg.ClearVariableMonitoringRequest(id=[first]), msg.ClearVariableMonitoringResponse
    )
    expect_field(2, response, "clearMonitoringResult[0].status", "Rejected")


# ---------------------------------------------------------------------- N07 Alert events
@case(
    "TC_N_20_CS",
    "Alert Event - Threshold value exceeded",
    use_cases=("N07",),
    requirements=("N07.FR.02", "N07.FR.06", "N07.FR.07", "N07.FR.16", "N07.FR.17"),
    timeout=90.0,
)
async def tc_n_20_cs(tool: StationTool) -> None:
    configured = tool.configured
    await base(tool, "prepare", "All")
    [upper] = await accepted(
        tool, "prepare", threshold(tool, Mon.UPPER_THRESHOLD, configured.threshold_value)
    )
    await charging_from_idle(tool)  # 1.
    event = await notify_event(tool, 2, upper, cleared=False)
    expect_field(2, event, "trigger", "Alerting")
    [lower] = await accepted(tool, 4, threshold(tool, Mon.LOWER_THRESHOLD, configured.threshold_value2))
    await stop_authorized_local(tool)  # 6.
    # 7.: back below the upper threshold (cleared, N07.FR.02) and below the lower one, in one or two requests
    pending: dict[int | None, bool] = {upper: True, lower: False}
    while pending:
        request = await tool.expect_answered(
            7,
            msg.NotifyEventRequest,
            EVENT_WITHIN,
            where=lambda r: any(pending.get(_mid(e)) == (e.cleared is True) for e in r.event_data),
        )
        for event in request.event_data:
            if pending.get(_mid(event)) == (event.cleared is True):
                expect_field(7, event, "trigger", "Alerting")
                del pending[_mid(event)]


@case(
    "TC_N_21_CS",
    "Alert Event - HardWiredMonitor",
    use_cases=("N07",),
    requirements=("N07.FR.07",),
    condition="AQ-5",
)
async def tc_n_21_cs(tool: StationTool) -> None:
    evse = tool.configured.evse_id
    await tool.manual(HardwareFault(evse))
    try:
        request = await tool.expect_answered(
            1,
            msg.NotifyEventRequest,
            EVENT_WITHIN,
            where=lambda r: any(
                e.event_notification_type is en.EventNotificationEnumType.HARD_WIRED_NOTIFICATION
                for e in r.event_data
            ),
        )
        expect_field(1, request, "seqNo", 0)
    finally:
        await tool.manual(HardwareFault(evse, faulted=False))
        await tool.drain()


@case(
    "TC_N_45_CS",
    "Alert Event - Delta value exceeded",
    use_cases=("N07",),
    requirements=("N07.FR.18",),
    timeout=90.0,
)
async def tc_n_45_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(
        tool, "prepare", threshold(tool, Mon.DELTA, tool.configured.threshold_value)
    )
    await charging_from_idle(tool)  # 1.
    event = await notify_event(tool, 2, monitor_id)
    expect_field(2, event, "trigger", "Delta")
    expect_field(2, event, "component.name", tool.configured.threshold_component)
    expect_field(2, event, "variable.name", tool.configured.threshold_variable)
    await stop_authorized_local(tool)


@case(
    "TC_N_48_CS",
    "Alert Event - Variable monitoring on write only",
    use_cases=("N07",),
    requirements=("N07.FR.10",),
    timeout=90.0,
)
async def tc_n_48_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    item = monitor("SecurityCtrlr", "BasicAuthPassword", Mon.DELTA, 1, tool.configured.monitor_severity)
    [monitor_id] = await accepted(tool, "prepare", item)
    password = "".join(random.choices(string.ascii_letters + string.digits, k=22))
    request = msg.SetVariablesRequest(
        set_variable_data=[
            dt.SetVariableDataType(
                attribute_value=password,
                component=component("SecurityCtrlr"),
                variable=dt.VariableType(name="BasicAuthPassword"),
            )
        ]
    )
    response = await tool.send_as(1, request, msg.SetVariablesResponse)
    status = expect_field(2, response, "setVariableResult[0].attributeStatus", "Accepted", "RebootRequired")
    tool.endpoint.set_password(password)  # a station connects with its new password from now on (A01)
    try:
        try:
            event = await notify_event(tool, 4, monitor_id, within=10.0)  # it may reconnect first
        except StepFailed:
            if status != "RebootRequired":
                raise
            await tool.manual(PowerCycle())  # 3. Booted
            await after_boot(tool, "3")
            event = await notify_event(tool, 4, monitor_id)
        expect_field(4, event, "actualValue", "")
    finally:
        try:
            await restore_password(tool, password)
        except StepFailed as failed:  # outside the verdict
            log.warning("TC_N_48_CS: putting the configured password back failed: %s", failed)


@case(
    "TC_N_53_CS",
    "Alert Event - Persistent over reboot",
    use_cases=("N07",),
    requirements=("N07.FR.13",),
    timeout=90.0,
)
async def tc_n_53_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(
        tool, "prepare", threshold(tool, Mon.UPPER_THRESHOLD, tool.configured.threshold_value)
    )
    await tool.manual(PowerCycle())  # Booted
    await after_boot(tool, "Booted")
    monitors = await report(tool, 1, ["ThresholdMonitoring"])
    if not any(m[4] == monitor_id and m[3] == "UpperThreshold" for m in monitors):
        raise StepFailed(3, f"the UpperThreshold monitor {monitor_id} is not reported after the reboot")


@case(
    "TC_N_56_CS",
    "Alert Event - Delta value NOT numeric exceeded",
    use_cases=("N07",),
    requirements=("N07.FR.19",),
    timeout=60.0,
)
async def tc_n_56_cs(tool: StationTool) -> None:
    await base(tool, "prepare", "HardWiredOnly")
    [monitor_id] = await accepted(
        tool, "prepare", evse_state(tool, Mon.DELTA, 1.0, tool.configured.monitor_severity)
    )
    configured = tool.configured
    await tool.manual(PlugIn(configured.evse_id, configured.connector_id))
    event = await notify_event(tool, 1, monitor_id)
    expect_field(1, event, "trigger", "Delta")
    expect_field(1, event, "component.name", "EVSE")
    expect_field(1, event, "variable.name", "AvailabilityState")
    await tool.manual(Unplug(configured.evse_id, configured.connector_id))
    await tool.drain()


# ---------------------------------------------------------------------- offline (DM-3)
@case(
    "TC_N_22_CS",
    "Offline Notification - OfflineMonitoringEventQueuingSeverity set equal or lower than severityLevel of the monitor",
    use_cases=("N07",),
    requirements=("N07.FR.04",),
    features=("DM-3",),
    timeout=90.0,
)
async def tc_n_22_cs(tool: StationTool) -> None:
    await offline_case(tool, tool.configured.monitor_severity, queued=True)


@case(
    "TC_N_23_CS",
    "Offline Notification - OfflineMonitoringEventQueuingSeverity set higher than severityLevel of the monitor",
    use_cases=("N07",),
    requirements=("N07.FR.04",),
    features=("DM-3",),
    timeout=90.0,
)
async def tc_n_23_cs(tool: StationTool) -> None:
    await offline_case(tool, tool.configured.monitor_severity + 1, queued=False)


async def offline_case(tool: StationTool, monitor_severity: int, *, queued: bool) -> None:
    configured = tool.configured
    await base(tool, "prepare", "HardWiredOnly")
    setting = (CTRLR, "OfflineQueuingSeverity", None, str(configured.monitor_severity), True)
    [monitor_id] = await accepted(tool, "prepare", evse_state(tool, Mon.DELTA, 1, monitor_severity))
    plug = PlugIn(configured.evse_id, configured.connector_id)
    async with configuration(tool, "prepare", [setting]), level(tool, "prepare", 9):
        if not queued:  # TC_N_23_CS 1.: online, the monitor reports the change
            await tool.manual(plug)
            await connector_status(tool, 1, Status.OCCUPIED)
            await notify_event(tool, 1, monitor_id)
            await tool.drain()
        async with tool.offline("offline"):
            if not queued:
                await tool.manual(Unplug(configured.evse_id, configured.connector_id))
            await tool.manual(plug)  # TC_N_22_CS 1.
            await asyncio.sleep(configured.transaction_duration)
        await tool.come_online("online")
        if queued:
            event = await notify_event(tool, 3, monitor_id)
            expect_field(3, event, "trigger", "Delta")
            expect_field(3, event, "actualValue", "Occupied")
            expect_field(3, event, "component.name", "EVSE")
            expect_field(3, event, "component.evse.id", configured.evse_id)
            expect_field(3, event, "variable.name", "AvailabilityState")
        else:
            await no_event_of(tool, 5, {monitor_id}, configured.silence_wait)
        await tool.manual(Unplug(configured.evse_id, configured.connector_id))
        await tool.drain()
