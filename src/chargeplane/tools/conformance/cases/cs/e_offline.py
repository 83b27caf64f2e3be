"""Block E, Transactions (Part 6 §2.6), charging-station side: transactions while the connection to the CSMS
is lost (E08, E11, E12).

The tool takes the station offline by closing the WebSocket and refusing its reconnections; the station's
queued TransactionEvents are those it sends after the offline period began with a timestamp before the
reconnection (a message in flight when the connection closed, sent again as it was, is left out).

Readings:
* TC_E_40_CS: "SampledDataEnabled" is SampledDataCtrlr.Enabled (set when the station has it); the measurand
  configured is Energy.Active.Import.Register. The wait of step 2 is the station's own reconnection wait
  (RetryBackOffWaitMinimum, no random part): the tool accepts the reconnection after that wait.
* "All messages" of step 3 are the queued ones; besides the table's checks the tool checks that each
  transaction's seqNo grows in the order the queue is emptied.
"""

from __future__ import annotations

import asyncio

from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import expect_field, expect_present
from chargeplane.tools.conformance.station_states import (
    charging_from_idle,
    configuration,
    expect_all_offline,
    expect_seq_no_order,
    offline_events,
    offline_settings,
    receive_queue,
    sampled_settings,
    wall_clock,
)
from chargeplane.tools.conformance.station_steps import StationTool


@case(
    "TC_E_40_CS",
    "Offline Behaviour - Connection loss during transaction",
    use_cases=("E11",),
    requirements=("E11.FR.01", "E11.FR.02", "E11.FR.06"),
    timeout=60.0,
)
async def tc_e_40_cs(tool: StationTool) -> None:
    wait = tool.configured.retry_backoff_wait_minimum
    async with configuration(tool, "before", sampled_settings(tool) + offline_settings(tool)):
        await charging_from_idle(tool)
        await tool.drain()
        async with tool.offline(1):  # 1. closed, reconnections refused
            await asyncio.sleep(wait)  # 2. the tool waits RetryBackOffWaitMinimum
        reconnected_at = wall_clock()
        await tool.come_online(2, wait * 4 + 10)
        await receive_queue(tool, 3)  # 3. / 4. the queue, answered
        queued = offline_events(tool, reconnected_at)
        expect_all_offline(3, queued)
        for event in queued:
            expect_field(3, event, "eventType", "Updated")
            expect_present(3, event, "meterValue")
        expect_seq_no_order(3, queued)
