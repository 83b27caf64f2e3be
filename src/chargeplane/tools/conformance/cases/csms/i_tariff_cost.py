"""Block I, Tariff and Cost (Part 6, Advanced User Interface): the running and final cost the CSMS sends.

Readings:
* The CSMS must know a cost for the tool's transaction: the Chargeplane adapter installs a default tariff at
  the CSMS when it prepares the run (``ChargeplaneAdapter.prepare``); another CSMS is to be configured so.
* Part 6 has no table for TC_I_01_CSMS (Part 5 names it for the CSMS): read from I02.FR.01, during a
  transaction with energy flowing the CSMS either answers the tool's TransactionEvent Updated with totalCost,
  or sends a CostUpdatedRequest with the transaction's id (within <Configured cost interval>, 70 s: the
  CSMS's own interval may be a minute).
* The tool's events carry the energy register (Energy.Active.Import.Register, Wh) so that the cost is not
  trivially zero; totalCost 0.00 is still a cost (I03.FR.04).
"""

from __future__ import annotations

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import ABSENT, StepFailed, expect_field, expect_present, field_value
from chargeplane.tools.conformance.messages import transaction_event
from chargeplane.tools.conformance.states import (
    energy_transfer_started,
    ev_connected_post_session,
    ev_disconnected,
    notify_connector,
)
from chargeplane.tools.conformance.steps import CsmsTool

Event = en.TransactionEventEnumType
Trigger = en.TriggerReasonEnumType
COST_INTERVAL = 70.0


def energy(wh: float) -> list[dt.MeterValueType]:
    sampled = dt.SampledValueType(
        value=wh,
        measurand=en.MeasurandEnumType.ENERGY_ACTIVE_IMPORT_REGISTER,
        unit_of_measure=dt.UnitOfMeasureType(unit="Wh"),
    )
    return [dt.MeterValueType(timestamp=utc_now(), sampled_value=[sampled])]


@case(
    "TC_I_01_CSMS",
    "Show EV Driver running total cost during charging",
    use_cases=("I02",),
    requirements=("I02.FR.01",),
    timeout=COST_INTERVAL + 30,
)
async def tc_i_01(tool: CsmsTool) -> None:
    await energy_transfer_started(tool)
    answer = await transaction_event(
        tool, 1, Event.UPDATED, Trigger.METER_VALUE_PERIODIC, charging_state=None, meter_value=energy(2500)
    )
    if field_value(answer, "totalCost") is ABSENT:
        incoming = await tool.expect(2, msg.CostUpdatedRequest, COST_INTERVAL)
        assert tool.transaction is not None
        expect_field(2, incoming.request, "transactionId", tool.transaction.id)
        incoming.answer(msg.CostUpdatedResponse())
        await tool.settle()
    await ev_disconnected(tool, meter_value=energy(5000))


@case(
    "TC_I_02_CSMS",
    "Show EV Driver Final Total Cost After Charging",
    use_cases=("I03",),
    requirements=("I03.FR.02",),
)
async def tc_i_02(tool: CsmsTool) -> None:
    await ev_connected_post_session(tool)
    await notify_connector(tool, 1, en.ConnectorStatusEnumType.AVAILABLE)  # steps 1-2
    answer = await transaction_event(
        tool,
        3,
        Event.ENDED,
        Trigger.EV_COMMUNICATION_LOST,
        charging_state=en.ChargingStateEnumType.IDLE,
        stopped_reason=en.ReasonEnumType.EV_DISCONNECTED,
        meter_value=energy(3000),
    )
    cost = expect_present(4, answer, "totalCost")  # I03.FR.02
    if not isinstance(cost, int | float) or cost < 0:
        raise StepFailed(4, f"totalCost is {cost}, expected an amount")
    tool.progress = type(tool.progress)()
