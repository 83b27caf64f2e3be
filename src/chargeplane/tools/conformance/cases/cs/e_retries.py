"""Block E, Transactions (Part 6 §2.6), charging-station side: a TransactionEvent the CSMS does not accept is
sent again (E13), MessageAttempts times at most, waiting MessageAttemptInterval times the number of
transmissions so far in between.

The tool leaves a transmission unanswered by holding it until the station's next CALL arrives (a station
sends its next CALL only once the one before is answered or timed out); the held one then gets a late
CALLERROR, which the station, having timed out, ignores.

Readings:
* Step 5's message is the first TransactionEvent after the reusable states that is not one of the optional
  steps 1-4 (triggerReason SignedDataReceived, or ChargingStateChanged to SuspendedEVSE; TC_E_42's step 1
  says DataReceived in its row and SignedDataReceived in its validations: read as SignedDataReceived). Its
  transmissions are the messages with the same transactionId and seqNo; other TransactionEvents (the ones
  queued behind it) get the tool's default answer.
* Timing: between transmission n and n+1 the station waits at least MessageAttemptInterval x n (half a
  second of slack for timers) and, after a CALLERROR, at most that plus two seconds; after no
  answer, at most that plus the station's OCPPCommCtrlr.MessageTimeout (instance Default; 30 s when the
  station does not report it) plus two seconds. The tool cannot see when the station's
  MessageTimeout began, so it does not require the wait to contain the whole MessageTimeout.
* "The OCTT waits an additional iteration": MessageAttemptInterval x the number of transmissions, plus (for
  the cases without an answer) the time the station took to give up on the first transmission, as
  observed, plus two seconds; no further transmission of the message may come.
* TC_E_42_CS / TC_E_51_CS: the second transmission is answered; "sent 2 times" is checked as exactly two.
"""

from __future__ import annotations

from collections.abc import Callable

from chargeplane.ocpp.errors import InternalError
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.checks import StepFailed, field_value
from chargeplane.tools.conformance.station_states import (
    Setting,
    TxEvent,
    authorized_local,
    configuration,
    ev_connected_pre_session,
    get_variable,
)
from chargeplane.tools.conformance.station_steps import StationTool
from chargeplane.tools.conformance.steps import Incoming

COMM = "OCPPCommCtrlr"
TX = "TransactionEvent"
EARLY = 0.5  # seconds a retry may come before its interval (timer granularity)
LATE = 2.0  # seconds a retry may come after it (a loaded machine delays timers)

# How the tool answers transmission n (1-based) of step 5's message.
Answer = Callable[[StationTool, int, Incoming[TxEvent]], None]


def no_answer(tool: StationTool, n: int, incoming: Incoming[TxEvent]) -> None:
    tool.withhold(incoming)


def call_error(tool: StationTool, n: int, incoming: Incoming[TxEvent]) -> None:
    incoming.refuse(InternalError("the conformance tool refuses this TransactionEvent"))


def second_accepted(first: Answer) -> Answer:
    def answer(tool: StationTool, n: int, incoming: Incoming[TxEvent]) -> None:
        if n == 2:
            tool.answer_default(incoming)
        else:
            first(tool, n, incoming)

    return answer


def _optional(event: TxEvent) -> bool:
    """Steps 1-4: a SignedDataReceived event, or the change to SuspendedEVSE."""
    reason = event.trigger_reason
    if reason is en.TriggerReasonEnumType.SIGNED_DATA_RECEIVED:
        return True
    return reason is en.TriggerReasonEnumType.CHARGING_STATE_CHANGED and str(
        field_value(event, "transactionInfo.chargingState")
    ) in ("SuspendedEVSE", en.ChargingStateEnumType.SUSPENDED_EVSE.value)


async def retries(tool: StationTool, answer: Answer, transmissions: int, *, timed_out: bool) -> None:
    """The shared body: configuration state, Authorized then EVConnectedPreSession, steps 1-5, the extra
    iteration."""
    configured = tool.configured
    attempts, interval = configured.message_attempts, configured.message_attempt_interval
    settings: list[Setting] = [
        (COMM, "MessageAttempts", TX, str(attempts), True),
        (COMM, "MessageAttemptInterval", TX, str(interval), True),
    ]
    async with configuration(tool, "before", settings):
        reported = await get_variable(tool, "before", COMM, "MessageTimeout", "Default")
        message_timeout = int(reported) if reported is not None and reported.isdigit() else 30
        await authorized_local(tool)
        await ev_connected_pre_session(tool)
        try:
            while True:  # 1.-4. optional, answered; then 5.
                incoming = await tool.expect(5, TxEvent, within=20.0)
                if not _optional(incoming.request):
                    break
                tool.answer_default(incoming)
            first = incoming.request
            key = (first.transaction_info.transaction_id, first.seq_no)

            def same(event: TxEvent) -> bool:
                return (event.transaction_info.transaction_id, event.seq_no) == key

            answer(tool, 1, incoming)
            last = incoming.received_at
            give_up = 0.0  # how long the station waited for an answer before retrying (observed)
            for n in range(1, transmissions):
                wait = interval * n
                most = wait + (message_timeout if timed_out else 0) + LATE
                incoming = await tool.expect(5, TxEvent, within=most + 1.0, where=same)
                gap = incoming.received_at - last
                if gap < wait - EARLY:
                    raise StepFailed(
                        5,
                        f"transmission {n + 1} came {gap:.1f} s after the one before, "
                        f"expected at least {wait} s (MessageAttemptInterval x {n})",
                    )
                if gap > most:
                    raise StepFailed(
                        5,
                        f"transmission {n + 1} came {gap:.1f} s after the one before, "
                        f"expected at most {most:g} s",
                    )
                if n == 1 and timed_out:
                    give_up = max(gap - wait, 0.0)
                answer(tool, n + 1, incoming)
                last = incoming.received_at
            extra = interval * transmissions + give_up + LATE  # the additional iteration
            try:
                again = await tool.expect(5, TxEvent, within=extra, where=same)
            except StepFailed:
                return
            tool.answer_default(again)
            raise StepFailed(5, f"the station sent the TransactionEventRequest a {transmissions + 1}th time")
        finally:
            tool.endpoint.release_held()


@case(
    "TC_E_41_CS",
    "Retry sending transaction message when failed - Max retry count reached",
    use_cases=("E13",),
    requirements=("E13.FR.01", "E13.FR.02", "E13.FR.03", "E13.FR.04"),
    timeout=100.0,
)
async def tc_e_41_cs(tool: StationTool) -> None:
    await retries(tool, no_answer, tool.configured.message_attempts, timed_out=True)


@case(
    "TC_E_42_CS",
    "Retry sending transaction message when failed - Success before reaching the max retry count",
    use_cases=("E13",),
    requirements=("E13.FR.01", "E13.FR.02", "E13.FR.03"),
    timeout=80.0,
)
async def tc_e_42_cs(tool: StationTool) -> None:
    await retries(tool, second_accepted(no_answer), 2, timed_out=True)


@case(
    "TC_E_50_CS",
    "Retry sending transaction message when failed - Max retry count reached - CallError",
    use_cases=("E13",),
    requirements=("E13.FR.01", "E13.FR.02", "E13.FR.03", "E13.FR.04"),
    timeout=40.0,
)
async def tc_e_50_cs(tool: StationTool) -> None:
    await retries(tool, call_error, tool.configured.message_attempts, timed_out=False)


@case(
    "TC_E_51_CS",
    "Retry sending transaction message when failed - Success before reaching the max retry count - CallError",
    use_cases=("E13",),
    requirements=("E13.FR.01", "E13.FR.02", "E13.FR.03"),
    timeout=40.0,
)
async def tc_e_51_cs(tool: StationTool) -> None:
    await retries(tool, second_accepted(call_error), 2, timed_out=False)
