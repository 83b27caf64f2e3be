"""Block G, Availability (Part 6 §2.8), charging-station side.

Readings:
* Reusable State Unavailable "for <Configured evseId>" (TC_G_03) makes the EVSE Inoperative; for the whole
  station (TC_G_05) no EVSE is given; TC_G_07 names the configured connector.
* The "Unavailable" memory state of TC_G_04 / G_06 / G_08 is entered with the same request first.
* Every case puts the station back to Operative at its end, outside the verdict (general preconditions).
* Same-state cases (TC_G_09/G_12/G_15 Operative again, TC_G_10/G_13/G_16 Inoperative again) check the
  response only: the tables ask for no new StatusNotification.
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field
from chargeplane.tools.conformance.station_adapter import Unplug
from chargeplane.tools.conformance.station_states import Status, connector_status, ev_connected_pre_session
from chargeplane.tools.conformance.station_steps import StationTool

Operational = en.OperationalStatusEnumType


@case(
    "TC_G_01_CS",
    "Connector status Notification - Available to Occupied",
    use_cases=("G01",),
    requirements=("G01.FR.01",),
)
async def tc_g_01_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)


@case(
    "TC_G_02_CS",
    "Connector status Notification - Occupied to Available",
    use_cases=("G01", "N07"),
    requirements=("G01.FR.01",),
)
async def tc_g_02_cs(tool: StationTool) -> None:
    await ev_connected_pre_session(tool)
    configured = tool.configured
    await tool.manual(Unplug(configured.evse_id, configured.connector_id))
    await connector_status(tool, 3, Status.AVAILABLE)
    tool.progress.clear()


async def send_availability(
    tool: StationTool, step: int | str, status: Operational, scope: str
) -> msg.ChangeAvailabilityResponse:
    """ChangeAvailability of the ``scope`` (station, evse, connector) holding the configured connector."""
    configured = tool.configured
    evse = {
        "station": None,
        "evse": dt.EVSEType(id=configured.evse_id),
        "connector": dt.EVSEType(id=configured.evse_id, connector_id=configured.connector_id),
    }[scope]
    request = (
        msg.ChangeAvailabilityRequest(operational_status=status)
        if evse is None
        else msg.ChangeAvailabilityRequest(operational_status=status, evse=evse)
    )
    return await tool.send_as(step, request, msg.ChangeAvailabilityResponse)


async def change_availability(
    tool: StationTool, step: int | str, status: Operational, scope: str, *, check: bool = True
) -> None:
    """:func:`send_availability`, then the connector's StatusNotification."""
    response = await send_availability(tool, step, status, scope)
    if check:
        expect_field(step, response, "status", "Accepted")
    connector = Status.UNAVAILABLE if status is Operational.INOPERATIVE else Status.AVAILABLE
    await connector_status(tool, step if isinstance(step, str) else step + 2, connector)


async def inoperative(tool: StationTool, scope: str) -> None:
    try:
        await change_availability(tool, 1, Operational.INOPERATIVE, scope)
    finally:
        await change_availability(tool, "after", Operational.OPERATIVE, scope, check=False)


async def back_to_operative(tool: StationTool, scope: str) -> None:
    await change_availability(tool, "before", Operational.INOPERATIVE, scope)
    await change_availability(tool, 1, Operational.OPERATIVE, scope)


@case(
    "TC_G_03_CS",
    "Change Availability EVSE - Operative to inoperative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_03_cs(tool: StationTool) -> None:
    await inoperative(tool, "evse")


@case(
    "TC_G_04_CS",
    "Change Availability EVSE - Inoperative to operative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_04_cs(tool: StationTool) -> None:
    await back_to_operative(tool, "evse")


@case(
    "TC_G_05_CS",
    "Change Availability Charging Station - Operative to inoperative",
    use_cases=("G04",),
    requirements=("G04.FR.01",),
)
async def tc_g_05_cs(tool: StationTool) -> None:
    await inoperative(tool, "station")


@case(
    "TC_G_06_CS",
    "Change Availability Charging Station - Inoperative to operative",
    use_cases=("G04",),
    requirements=("G04.FR.01",),
)
async def tc_g_06_cs(tool: StationTool) -> None:
    await back_to_operative(tool, "station")


@case(
    "TC_G_07_CS",
    "Change Availability Connector - Operative to inoperative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_07_cs(tool: StationTool) -> None:
    await inoperative(tool, "connector")


@case(
    "TC_G_08_CS",
    "Change Availability Connector - Inoperative to operative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_08_cs(tool: StationTool) -> None:
    await back_to_operative(tool, "connector")


async def same_state(tool: StationTool, scope: str, status: Operational) -> None:
    if status is Operational.INOPERATIVE:
        await change_availability(tool, "before", Operational.INOPERATIVE, scope)
    try:
        response = await send_availability(tool, 1, status, scope)
        expect_field(2, response, "status", "Accepted")
    finally:
        if status is Operational.INOPERATIVE:
            await change_availability(tool, "after", Operational.OPERATIVE, scope, check=False)


@case(
    "TC_G_09_CS",
    "Change Availability EVSE - Operative to operative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_09_cs(tool: StationTool) -> None:
    await same_state(tool, "evse", Operational.OPERATIVE)


@case(
    "TC_G_10_CS",
    "Change Availability EVSE - Inoperative to inoperative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_10_cs(tool: StationTool) -> None:
    await same_state(tool, "evse", Operational.INOPERATIVE)


@case(
    "TC_G_12_CS",
    "Change Availability Charging Station - Operative to operative",
    use_cases=("G04",),
    requirements=("G04.FR.01",),
)
async def tc_g_12_cs(tool: StationTool) -> None:
    await same_state(tool, "station", Operational.OPERATIVE)


@case(
    "TC_G_13_CS",
    "Change Availability Charging Station - Inoperative to inoperative",
    use_cases=("G04",),
    requirements=("G04.FR.01",),
)
async def tc_g_13_cs(tool: StationTool) -> None:
    await same_state(tool, "station", Operational.INOPERATIVE)


@case(
    "TC_G_15_CS",
    "Change Availability Connector - Operative to operative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_15_cs(tool: StationTool) -> None:
    await same_state(tool, "connector", Operational.OPERATIVE)


@case(
    "TC_G_16_CS",
    "Change Availability Connector - Inoperative to inoperative",
    use_cases=("G03",),
    requirements=("G03.FR.01",),
)
async def tc_g_16_cs(tool: StationTool) -> None:
    await same_state(tool, "connector", Operational.INOPERATIVE)
