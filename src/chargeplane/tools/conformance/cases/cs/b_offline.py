"""Block B, Provisioning (Part 6 §2.3), charging-station side: the connection to the CSMS lost and back.

The tool takes the station offline by closing the WebSocket and answering its reconnection attempts as an
unknown station (HTTP 404) until the case accepts them again; every attempt's time is kept by the tool.

Readings:
* TC_B_51_CS names "OCPPCommCtrl.RoutineThreshold" in its configuration state: read as OfflineThreshold (the
  variable of its title and of TC_B_52_CS).
* TC_B_51_CS / TC_B_52_CS: the offline period is the station's own reconnection wait, RetryBackOffWaitMinimum
  = threshold + 2 s (B_51) or threshold - 2 s (B_52); B_51 refuses the station until the threshold has passed.
  Step 4 of both takes the first StatusNotification of the configured connector after the reconnection, which
  must say Occupied (the EV was connected offline); the NotifyEvent the tables list beside it is the device
  model's form of the same report and is not required. With one EVSE (the tool's configured one) "all connectors" is that connector (B_51's prerequisite says so).
* The other connectors (none with the one configured EVSE): after B_51's long offline period their reports
  must say Available; after B_52's short one they must not be reported (their state did not change). The
  tool looks at what comes within a second of the configured connector's report.
* TC_B_57_CS: "the reconnection time" is taken from the closing of the connection (or from the refused
  attempt, step 7) to the station's next attempt; step 7 compares with twice the configured minimum (what
  step 5 waited when on time), with half a second of slack for timer granularity either way.
* The RetryBackOff and OfflineThreshold values the cases set are put back afterwards (outside the verdict).
"""

from __future__ import annotations

import asyncio

from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_adapter import PlugIn
from chargeplane.tools.conformance.station_states import Setting, configuration
from chargeplane.tools.conformance.station_steps import StationTool

COMM = "OCPPCommCtrlr"
SLACK = 0.5  # seconds: timer granularity, both ways


async def next_attempt(tool: StationTool, step: int | str, after: int, within: float) -> tuple[float, bool]:
    """The station's connection attempt number ``after`` (0-based), waited for at most ``within`` s."""
    loop = asyncio.get_running_loop()
    until = loop.time() + within
    while len(tool.endpoint.attempts) <= after:
        if loop.time() > until:
            raise StepFailed(step, f"the station did not try to reconnect within {within:g} s")
        await asyncio.sleep(0.02)
    return tool.endpoint.attempts[after]


@case(
    "TC_B_57_CS",
    "Network Reconnection - After connection loss",
    use_cases=("Part 4 §5.3",),
    requirements=("Part 4 §5.3",),
    timeout=60.0,
)
async def tc_b_57_cs(tool: StationTool) -> None:
    minimum = tool.configured.retry_backoff_wait_minimum
    settings: list[Setting] = [
        (COMM, "RetryBackOffRepeatTimes", None, "2", True),
        (COMM, "RetryBackOffRandomRange", None, "0", True),
        (COMM, "RetryBackOffWaitMinimum", None, str(minimum), True),
    ]
    async with configuration(tool, "before", settings):
        await tool.drain()
        loop = asyncio.get_running_loop()
        endpoint = tool.endpoint
        closed_at = loop.time()
        attempts = len(endpoint.attempts)
        await endpoint.drop_connection(1, refuse=False)  # 1. the tool closes the connection
        at, _ = await next_attempt(tool, 2, attempts, minimum * 4 + 10)  # 2. the station reconnects
        if at - closed_at < minimum - SLACK:
            raise StepFailed(2, f"reconnected after {at - closed_at:.1f} s, before RetryBackOffWaitMinimum")
        await endpoint.wait_connected(3, 10.0)  # 3. accepted
        await tool.drain()
        try:
            closed_at = loop.time()
            attempts = len(endpoint.attempts)
            await endpoint.drop_connection(4, refuse=True)  # 4. closed again
            first, _ = await next_attempt(tool, 5, attempts, minimum * 4 + 10)  # 5. / 6. refused
            waited = first - closed_at
            if waited < minimum - SLACK:
                raise StepFailed(5, f"reconnected after {waited:.1f} s, before RetryBackOffWaitMinimum")
            endpoint.refusing = False
            second, _ = await next_attempt(tool, 7, attempts + 1, minimum * 8 + 10)  # 7. / 8.
            if second - first < 2 * minimum - SLACK:
                raise StepFailed(
                    7,
                    f"tried again {second - first:.1f} s after the refused attempt, expected at least "
                    f"{2 * minimum} s (twice RetryBackOffWaitMinimum)",
                )
            await endpoint.wait_connected(8, 10.0)
        finally:
            endpoint.refusing = False


async def status_after_offline(
    tool: StationTool, step: int, wait_minimum: int, accept_after: float, *, report_all: bool
) -> None:
    """B_51 / B_52 steps 1-5: offline, the EV connected meanwhile, back online, the connector's state; the
    other connectors (unchanged, Available) are reported after a long offline period only."""
    configured = tool.configured
    threshold = configured.offline_threshold
    settings: list[Setting] = [
        (COMM, "OfflineThreshold", None, str(threshold), True),
        (COMM, "RetryBackOffWaitMinimum", None, str(wait_minimum), True),
        (COMM, "RetryBackOffRandomRange", None, "0", True),
    ]
    async with configuration(tool, "before", settings):
        await tool.drain()
        async with tool.offline(1):  # 1. closed, reconnections refused
            await tool.manual(PlugIn(configured.evse_id, configured.connector_id))  # 2.
            tool.progress.add("EVConnected")
            await asyncio.sleep(accept_after)
        await tool.come_online(3, wait_minimum * 4 + 10)  # 3. accepted

        report = await tool.expect_answered(
            step,
            msg.StatusNotificationRequest,
            where=lambda r: r.evse_id == configured.evse_id and r.connector_id == configured.connector_id,
        )
        expect_field(step, report, "connectorStatus", "Occupied")
        start = len(tool.seen)
        await tool.drain(within=1.0, limit=3.0)
        for other in tool.seen[start:]:
            if not isinstance(other, msg.StatusNotificationRequest) or (
                other.evse_id == configured.evse_id and other.connector_id == configured.connector_id
            ):
                continue
            if not report_all:
                raise StepFailed(
                    step, f"EVSE {other.evse_id} connector {other.connector_id} reported unchanged"
                )
            expect_field(step, other, "connectorStatus", "Available")


@case(
    "TC_B_51_CS",
    "Status change during offline period - > Offline Threshold",
    use_cases=("B04",),
    requirements=("B04.FR.01",),
    timeout=60.0,
)
async def tc_b_51_cs(tool: StationTool) -> None:
    threshold = tool.configured.offline_threshold
    await status_after_offline(tool, 4, threshold + 2, accept_after=threshold + 0.5, report_all=True)


@case(
    "TC_B_52_CS",
    "Status change during offline period - < Offline Threshold",
    use_cases=("B04",),
    requirements=("B04.FR.02",),
    timeout=60.0,
)
async def tc_b_52_cs(tool: StationTool) -> None:
    threshold = tool.configured.offline_threshold
    await status_after_offline(tool, 4, max(threshold - 2, 1), accept_after=0.0, report_all=False)
