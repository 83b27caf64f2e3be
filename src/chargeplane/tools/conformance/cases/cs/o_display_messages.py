"""Block O, Display Message (Part 6, Advanced User Interface): set, get, clear and replace display messages,
charging-station side.

Readings:
* <Configured priority> is NormalCycle, <Configured format> ASCII, <Configured message> a text naming the
  case; the "display_message_2" values of TC_O_34 / O_35 are the state Charging and the priority InFront.
* The tool cannot see the display: notes such as "the display message is displayed" are not judged; what
  the station holds is read back with GetDisplayMessages, as the tables do.
* The 60 seconds of TC_O_13 / O_14 / O_27 / O_28 are the declaration's ``display_message_window`` (a short
  window keeps the case short; the rule is the same).
* Memory states "a message is configured" are a SetDisplayMessage whose answer must be Accepted; every case
  clears the messages it set when it ends, and TC_O_03 / O_33 ("no messages configured") clear what the
  station reports first.
* GetDisplayMessages answered Accepted must be followed by NotifyDisplayMessages with the request's requestId,
  followed while tbc is true; the messages asked for by id must be in them.
* TC_O_24 / O_32 (001.FR.16): the second AlwaysFront message replaces the first, which is then Unknown.
* TC_O_17 / O_19: the unsupported priority / format is one that DisplayMessageCtrlr.SupportedPriorities /
  SupportedFormats does not list.
* TC_O_15: <Configured language> is "nl"; the message is in that language. The tool cannot see which
  language is shown: the steps and their validations are run as written.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import msgspec

from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.tools.conformance.case import case
from chargeplane.tools.conformance.cases.cs.g_availability import change_availability
from chargeplane.tools.conformance.checks import StepFailed, expect_field
from chargeplane.tools.conformance.station_adapter import PresentToken
from chargeplane.tools.conformance.station_states import (
    authorized_local,
    booted,
    energy_transfer_started,
    ev_connected_pre_session,
    ev_disconnected,
    get_variable,
    stop_authorized_local,
    transaction_id,
    wall_clock,
)
from chargeplane.tools.conformance.station_steps import StationTool, token_info

Priority = en.MessagePriorityEnumType
State = en.MessageStateEnumType
NOTIFY_WITHIN = 10.0
LANGUAGE = "nl"  # <Configured language> of TC_O_15


def message_info(
    message_id: int, text: str, priority: str = "NormalCycle", **fields: Any
) -> dt.MessageInfoType:
    content = dt.MessageContentType(
        format=en.MessageFormatEnumType(fields.pop("format", "ASCII")), content=text
    )
    return dt.MessageInfoType(id=message_id, priority=Priority(priority), message=content, **fields)


async def set_message(
    tool: StationTool, step: int | str, info: dt.MessageInfoType, *statuses: str
) -> msg.SetDisplayMessageResponse:
    """SetDisplayMessage; its answer must have one of ``statuses`` (Accepted when none given)."""
    response = await tool.send_as(
        step, msg.SetDisplayMessageRequest(message=info), msg.SetDisplayMessageResponse
    )
    expect_field(step, response, "status", *(statuses or ("Accepted",)))
    return response


async def get_messages(
    tool: StationTool, step: int, request_id: int, status: str, **filters: Any
) -> list[dt.MessageInfoType]:
    """GetDisplayMessages (step, step + 1) answered with ``status``; when Accepted, the messages of every
    NotifyDisplayMessages part with the request's requestId, followed while tbc is true (step + 2)."""
    request = msg.GetDisplayMessagesRequest(request_id=request_id, **filters)
    response = await tool.send_as(step, request, msg.GetDisplayMessagesResponse)
    expect_field(step + 1, response, "status", status)
    if status != "Accepted":
        return []
    found: list[dt.MessageInfoType] = []
    while True:
        notify = await tool.expect_answered(
            step + 2,
            msg.NotifyDisplayMessagesRequest,
            NOTIFY_WITHIN,
            where=lambda r: r.request_id == request_id,
        )
        if isinstance(notify.message_info, list):
            found += notify.message_info
        if notify.tbc is not True:
            return found


def the_one(step: int | str, found: list[dt.MessageInfoType], message_id: int) -> dt.MessageInfoType:
    for info in found:
        if info.id == message_id:
            return info
    raise StepFailed(step, f"NotifyDisplayMessagesRequest does not name message {message_id}")


async def clear(tool: StationTool, step: int | str, message_id: int) -> str:
    request = msg.ClearDisplayMessageRequest(id=message_id)
    return str((await tool.send_as(step, request, msg.ClearDisplayMessageResponse)).status)


async def clear_all(tool: StationTool) -> None:
    """The memory state "no display messages configured": whatever the station reports, cleared."""
    response = await tool.send_as(
        "before", msg.GetDisplayMessagesRequest(request_id=9990), msg.GetDisplayMessagesResponse
    )
    if response.status is not en.GetDisplayMessagesStatusEnumType.ACCEPTED:
        return
    ids: list[int] = []
    while True:
        notify = await tool.expect_answered(
            "before", msg.NotifyDisplayMessagesRequest, NOTIFY_WITHIN, where=lambda r: r.request_id == 9990
        )
        ids += [i.id for i in notify.message_info] if isinstance(notify.message_info, list) else []
        if notify.tbc is not True:
            break
    for message_id in ids:
        await clear(tool, "before", message_id)


class Cleanup:
    """Clears the messages a case set, when it ends (so that the next case starts with none)."""

    def __init__(self, tool: StationTool) -> None:
        self.tool = tool
        self.ids: set[int] = set()

    async def __aenter__(self) -> Cleanup:
        return self

    async def __aexit__(self, *_: object) -> None:
        for message_id in sorted(self.ids):
            await clear(self.tool, "after", message_id)

    async def set(self, step: int | str, info: dt.MessageInfoType, *statuses: str) -> None:
        self.ids.add(info.id)
        await set_message(self.tool, step, info, *statuses)


def later(seconds: float) -> str:
    return to_wire(wall_clock() + timedelta(seconds=seconds))


async def end_session(tool: StationTool) -> None:
    await stop_authorized_local(tool)
    await ev_disconnected(tool)


async def charging(tool: StationTool) -> None:
    await authorized_local(tool)
    await energy_transfer_started(tool)


# --- O01 / O06: set and replace ---


@case(
    "TC_O_01_CS",
    "Set Display Message - Success",
    use_cases=("O01",),
    requirements=("O01.FR.12",),
    condition="UI-1 and UI-2",
)
async def tc_o_01_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(101, "TC_O_01 message"))
        info = the_one(5, await get_messages(tool, 3, 1011, "Accepted", id=[101]), 101)
    expect_field(5, info, "priority", "NormalCycle")
    expect_field(5, info, "message.format", "ASCII")
    expect_field(5, info, "message.content", "TC_O_01 message")


@case(
    "TC_O_12_CS",
    "Set Display Message - Replace DisplayMessage",
    use_cases=("O06",),
    requirements=("O06.FR.01",),
)
async def tc_o_12_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(112, "TC_O_12 first"))
        await messages.set(1, message_info(112, "TC_O_12 second", "InFront"))
        info = the_one("after", await get_messages(tool, 3, 1121, "Accepted", id=[112]), 112)
    expect_field("after", info, "message.content", "TC_O_12 second")


@case(
    "TC_O_13_CS",
    "Set Display Message - Display message at StartTime",
    use_cases=("O01",),
    requirements=("O01.FR.06",),
)
async def tc_o_13_cs(tool: StationTool) -> None:
    window = tool.configured.display_message_window
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(113, "TC_O_13", start_date_time=later(window)))
        info = the_one(5, await get_messages(tool, 3, 1131, "Accepted", id=[113]), 113)
        if not isinstance(info.start_date_time, str):
            raise StepFailed(5, "startDateTime is omitted")
        await asyncio.sleep(window)


@case(
    "TC_O_14_CS",
    "Set Display Message - Remove message after EndTime",
    use_cases=("O01",),
    requirements=("O01.FR.07",),
)
async def tc_o_14_cs(tool: StationTool) -> None:
    window = tool.configured.display_message_window
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(114, "TC_O_14", end_date_time=later(window)))
        the_one(5, await get_messages(tool, 3, 1141, "Accepted", id=[114]), 114)
        await asyncio.sleep(window + 1)
        await get_messages(tool, 7, 1142, "Unknown", id=[114])
        messages.ids.clear()


@case(
    "TC_O_19_CS",
    "Set Display Message - NotSupportedMessageFormat",
    use_cases=("O01",),
    requirements=("O01.FR.03", "O02.FR.05"),
    condition="not (UI-2.1 and UI-2.2 and UI-2.3 and UI-2.4)",
)
async def tc_o_19_cs(tool: StationTool) -> None:
    reported = await get_variable(tool, "before", "DisplayMessageCtrlr", "SupportedFormats") or ""
    supported = {f.strip() for f in reported.split(",")}
    unsupported = [f for f in ("HTML", "URI", "ASCII", "UTF8") if f not in supported]
    if not unsupported:
        raise StepFailed(1, "the station reports every format as supported")
    await set_message(
        tool, 1, message_info(119, "<b>TC_O_19</b>", format=unsupported[0]), "NotSupportedMessageFormat"
    )


@case(
    "TC_O_15_CS",
    "Set Display Message - Language preference of the EV Driver",
    use_cases=("O01",),
    requirements=("O01.FR.08",),
    timeout=60.0,
)
async def tc_o_15_cs(tool: StationTool) -> None:
    configured = tool.configured
    await ev_connected_pre_session(tool)
    await tool.manual(PresentToken(configured.valid_idtoken, configured.valid_idtoken_type))
    incoming = await tool.expect(1, msg.AuthorizeRequest)
    expect_field(1, incoming.request, "idToken.idToken", configured.valid_idtoken)
    expect_field(1, incoming.request, "idToken.type", configured.valid_idtoken_type)
    info = token_info(incoming.request.id_token, tool.answers)
    incoming.answer(msg.AuthorizeResponse(id_token_info=msgspec.structs.replace(info, language1=LANGUAGE)))
    tool.progress.add("Authorized")
    await energy_transfer_started(tool)
    async with Cleanup(tool) as messages:
        content = dt.MessageContentType(
            format=en.MessageFormatEnumType.ASCII, language=LANGUAGE, content="Welkom"
        )
        await messages.set(4, dt.MessageInfoType(id=115, priority=Priority.NORMAL_CYCLE, message=content))
    await end_session(tool)


@case(
    "TC_O_17_CS",
    "Set Display Message - NotSupportedPriority",
    use_cases=("O01",),
    requirements=("O01.FR.01", "O02.FR.03"),
    condition="not (UI-1.1 and UI-1.2 and UI-1.3)",
)
async def tc_o_17_cs(tool: StationTool) -> None:
    reported = await get_variable(tool, "before", "DisplayMessageCtrlr", "SupportedPriorities") or ""
    supported = {p.strip() for p in reported.split(",")}
    unsupported = [p for p in Priority if p not in supported]
    if not unsupported:
        raise StepFailed(1, "the station reports every priority as supported")
    info = message_info(117, "TC_O_17", unsupported[0])
    await set_message(tool, 1, info, "NotSupportedPriority")


@case(
    "TC_O_20_CS",
    "Set Display Message - Persistent over reboot",
    use_cases=("O01",),
    requirements=("O01.FR.10",),
)
async def tc_o_20_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(120, "TC_O_20 kept"))
        await booted(tool)
        info = the_one(6, await get_messages(tool, 4, 1201, "Accepted", id=[120]), 120)
    expect_field(6, info, "message.content", "TC_O_20 kept")


@case(
    "TC_O_22_CS",
    "Set Display Message - Multiple In front priority",
    use_cases=("O01",),
    requirements=("O01.FR.14",),
    condition="UI-1.2",
)
async def tc_o_22_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(122, "TC_O_22 one", "InFront"))
        await messages.set(3, message_info(123, "TC_O_22 two", "InFront"))
        the_one(7, await get_messages(tool, 5, 1221, "Accepted", id=[122]), 122)
        the_one(11, await get_messages(tool, 9, 1222, "Accepted", id=[123]), 123)


@case(
    "TC_O_24_CS",
    "Set Display Message - Second Alwaysfront priority",
    use_cases=("O01",),
    requirements=("O01.FR.16",),
    condition="UI-1.1",
)
async def tc_o_24_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(124, "TC_O_24 one", "AlwaysFront"))
        await messages.set(3, message_info(125, "TC_O_24 two", "AlwaysFront"))
        await get_messages(tool, 5, 1241, "Unknown", id=[124])
        the_one(9, await get_messages(tool, 7, 1242, "Accepted", id=[125]), 125)
        messages.ids.discard(124)


async def state_case(tool: StationTool, message_id: int, state: State) -> None:
    """TC_O_36 / O_37: a message for ``state`` survives a charging session; it is reported with its state."""
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(message_id, f"state {state}", state=state))
        await charging(tool)
        await end_session(tool)
        info = the_one(
            13, await get_messages(tool, 11, message_id * 10, "Accepted", id=[message_id]), message_id
        )
    expect_field(13, info, "state", str(state))


@case("TC_O_36_CS", "Set Display Message - State Charging", use_cases=("O01",), timeout=60.0)
async def tc_o_36_cs(tool: StationTool) -> None:
    await state_case(tool, 136, State.CHARGING)


@case("TC_O_37_CS", "Set Display Message - State Idle", use_cases=("O01",), timeout=60.0)
async def tc_o_37_cs(tool: StationTool) -> None:
    await state_case(tool, 137, State.IDLE)


@case("TC_O_38_CS", "Set Display Message - State Unavailable", use_cases=("O01",), timeout=60.0)
async def tc_o_38_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(138, "TC_O_38 unavailable", state=State.UNAVAILABLE))
        operational = en.OperationalStatusEnumType
        try:
            await change_availability(tool, 3, operational.INOPERATIVE, "station")
        finally:
            await change_availability(tool, 4, operational.OPERATIVE, "station")
        info = the_one(10, await get_messages(tool, 8, 1381, "Accepted", id=[138]), 138)
    expect_field(10, info, "state", "Unavailable")


# --- O02: for a transaction ---


@case(
    "TC_O_06_CS",
    "Set Display Message - Specific transaction - Success",
    use_cases=("O02",),
    requirements=("O02.FR.02", "O02.FR.14"),
    timeout=60.0,
)
async def tc_o_06_cs(tool: StationTool) -> None:
    await charging(tool)
    tx = transaction_id(tool, 1)
    await set_message(tool, 1, message_info(106, "TC_O_06 your session", transaction_id=tx))
    await end_session(tool)
    await get_messages(tool, 7, 1061, "Unknown", id=[106])


@case(
    "TC_O_10_CS",
    "Set Display Message - Specific transaction - UnknownTransaction",
    use_cases=("O02",),
    requirements=("O02.FR.01",),
)
async def tc_o_10_cs(tool: StationTool) -> None:
    info = message_info(110, "TC_O_10", transaction_id="no-such-transaction-0110")
    await set_message(tool, 1, info, "UnknownTransaction")


@case(
    "TC_O_27_CS",
    "Set Display Message - Specific transaction - Display message at StartTime",
    use_cases=("O02",),
    requirements=("O02.FR.06",),
    timeout=60.0,
)
async def tc_o_27_cs(tool: StationTool) -> None:
    window = tool.configured.display_message_window
    await charging(tool)
    tx = transaction_id(tool, 1)
    async with Cleanup(tool) as messages:
        await messages.set(1, message_info(127, "TC_O_27", transaction_id=tx, start_date_time=later(window)))
        info = the_one(5, await get_messages(tool, 3, 1271, "Accepted", id=[127]), 127)
        if not isinstance(info.start_date_time, str):
            raise StepFailed(5, "startDateTime is omitted")
        await asyncio.sleep(window)
    await end_session(tool)


@case(
    "TC_O_28_CS",
    "Set Display Message - Specific transaction - Remove message after EndTime",
    use_cases=("O02",),
    requirements=("O02.FR.07",),
    timeout=60.0,
)
async def tc_o_28_cs(tool: StationTool) -> None:
    window = tool.configured.display_message_window
    await charging(tool)
    tx = transaction_id(tool, 1)
    await set_message(tool, 1, message_info(128, "TC_O_28", transaction_id=tx, end_date_time=later(window)))
    await asyncio.sleep(window + 1)
    await get_messages(tool, 3, 1281, "Unknown", id=[128])
    await end_session(tool)


@case(
    "TC_O_30_CS",
    "Set Display Message - Specific transaction - Multiple In front priority",
    use_cases=("O02",),
    requirements=("O02.FR.16",),
    timeout=60.0,
    condition="UI-1.2",
)
async def tc_o_30_cs(tool: StationTool) -> None:
    await charging(tool)
    tx = transaction_id(tool, 1)
    await set_message(tool, 1, message_info(130, "TC_O_30", "InFront", transaction_id=tx))
    await set_message(tool, 3, message_info(131, "TC_O_30 2", "InFront", transaction_id=tx))
    for step, message_id in ((5, 130), (9, 131)):
        info = the_one(
            step + 2, await get_messages(tool, step, message_id * 10, "Accepted", id=[message_id]), message_id
        )
        expect_field(step + 2, info, "transactionId", tx)
        expect_field(step + 2, info, "priority", "InFront")
    await end_session(tool)
    await get_messages(tool, 17, 1302, "Unknown", id=[130, 131])


@case(
    "TC_O_32_CS",
    "Set Display Message - Specific transaction - Second Alwaysfront priority",
    use_cases=("O02",),
    requirements=("O02.FR.18",),
    timeout=60.0,
    condition="UI-1.1",
)
async def tc_o_32_cs(tool: StationTool) -> None:
    await charging(tool)
    tx = transaction_id(tool, 1)
    await set_message(tool, 1, message_info(132, "TC_O_32", "AlwaysFront", transaction_id=tx))
    await set_message(tool, 3, message_info(133, "TC_O_32 2", "AlwaysFront", transaction_id=tx))
    await get_messages(tool, 5, 1321, "Unknown", id=[132])
    the_one(9, await get_messages(tool, 7, 1322, "Accepted", id=[133]), 133)
    await end_session(tool)
    await get_messages(tool, 17, 1323, "Unknown", id=[133])


# --- O03 / O04: get ---


@case(
    "TC_O_02_CS",
    "Get all Display Messages - Success",
    use_cases=("O03",),
    requirements=("O03.FR.01", "O03.FR.02", "O03.FR.03", "O03.FR.04", "O03.FR.05"),
)
async def tc_o_02_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(102, "TC_O_02 one"))
        await messages.set("before", message_info(103, "TC_O_02 two", "InFront"))
        found = await get_messages(tool, 1, 1021, "Accepted")
        for message_id in (102, 103):
            the_one(3, found, message_id)


@case(
    "TC_O_03_CS",
    "Get all Display Messages - No DisplayMessages configured",
    use_cases=("O03",),
    requirements=("O03.FR.06",),
)
async def tc_o_03_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await get_messages(tool, 1, 1031, "Unknown")


@case(
    "TC_O_07_CS",
    "Get a Specific Display Message - Id",
    use_cases=("O04",),
    requirements=("O04.FR.01", "O04.FR.03", "O04.FR.04", "O04.FR.05", "O04.FR.06"),
)
async def tc_o_07_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(107, "TC_O_07"))
        await messages.set("before", message_info(108, "TC_O_07 other"))
        found = await get_messages(tool, 1, 1071, "Accepted", id=[107])
    if [i.id for i in found] != [107]:
        raise StepFailed(3, f"reported messages {[i.id for i in found]}, expected [107]")


@case(
    "TC_O_08_CS",
    "Get a Specific Display Message - Priority",
    use_cases=("O04",),
    requirements=("O04.FR.01", "O04.FR.03", "O04.FR.04", "O04.FR.05", "O04.FR.06"),
    condition="UI-1",
)
async def tc_o_08_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(180, "TC_O_08 normal"))
        await messages.set("before", message_info(181, "TC_O_08 in front", "InFront"))
        found = await get_messages(tool, 1, 1081, "Accepted", priority=Priority.NORMAL_CYCLE)
    if any(i.priority is not Priority.NORMAL_CYCLE for i in found) or 180 not in [i.id for i in found]:
        raise StepFailed(3, "the report is not the NormalCycle messages")


@case(
    "TC_O_09_CS",
    "Get a Specific Display Message - State",
    use_cases=("O04",),
    requirements=("O04.FR.01", "O04.FR.03", "O04.FR.04", "O04.FR.05", "O04.FR.06"),
)
async def tc_o_09_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(190, "TC_O_09 idle", state=State.IDLE))
        await messages.set("before", message_info(191, "TC_O_09 any"))
        found = await get_messages(tool, 1, 1091, "Accepted", state=State.IDLE)
    if [i.id for i in found] != [190]:
        raise StepFailed(3, f"reported messages {[i.id for i in found]}, expected [190]")


@case(
    "TC_O_11_CS",
    "Get a Specific Display Message - Unknown parameters",
    use_cases=("O04",),
    requirements=("O04.FR.02",),
)
async def tc_o_11_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(211, "TC_O_11"))
        await get_messages(tool, 1, 2111, "Unknown", id=[212])


@case(
    "TC_O_33_CS",
    "Get a Specific Display Message - No DisplayMessages configured",
    use_cases=("O04",),
    requirements=("O04.FR.07",),
)
async def tc_o_33_cs(tool: StationTool) -> None:
    await clear_all(tool)
    await get_messages(tool, 1, 3331, "Unknown", id=[233])


@case(
    "TC_O_34_CS",
    "Get a Specific Display Message - Known Id, but not matching State",
    use_cases=("O04",),
    requirements=("O04.FR.02",),
)
async def tc_o_34_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(234, "TC_O_34", state=State.IDLE))
        await get_messages(tool, 1, 2341, "Unknown", id=[234], state=State.CHARGING)


@case(
    "TC_O_35_CS",
    "Get a Specific Display Message - Known Id, but not matching Priority",
    use_cases=("O04",),
    requirements=("O04.FR.02",),
    condition="(UI-1.1 and UI-1.2) or (UI-1.2 and UI-1.3) or (UI-1.3 and UI-1.1)",
)
async def tc_o_35_cs(tool: StationTool) -> None:
    async with Cleanup(tool) as messages:
        await messages.set("before", message_info(235, "TC_O_35"))
        await get_messages(tool, 1, 2351, "Unknown", id=[235], priority=Priority.IN_FRONT)


# --- O05: clear ---


@case("TC_O_04_CS", "Clear Display Message - Success", use_cases=("O05",), requirements=("O05.FR.01",))
async def tc_o_04_cs(tool: StationTool) -> None:
    await set_message(tool, "before", message_info(104, "TC_O_04"))
    status = await clear(tool, 1, 104)
    if status != "Accepted":
        raise StepFailed(2, f"ClearDisplayMessageResponse.status is {status}, expected Accepted")
    await get_messages(tool, 3, 1041, "Unknown", id=[104])


@case("TC_O_05_CS", "Clear Display Message - Unknown Key", use_cases=("O05",), requirements=("O05.FR.02",))
async def tc_o_05_cs(tool: StationTool) -> None:
    status = await clear(tool, 1, 105)
    if status != "Unknown":
        raise StepFailed(2, f"ClearDisplayMessageResponse.status is {status}, expected Unknown")
