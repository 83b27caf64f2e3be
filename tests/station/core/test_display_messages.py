"""Display messages on the station (O01-O06): the checks of SetDisplayMessage, the display's choice at each
moment (priority, state, schedule, cycling), GetDisplayMessages parts, ClearDisplayMessage, persistence."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.display_messages import CTRLR, DisplayMessages, ShowDisplayMessage
from chargeplane.station.core.model import ShowMessage
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import D, M, Rig, charge, make_rig

M21 = v21.messages
D21 = v21.datatypes


def info(message_id: int, text: str = "hello", priority: str = "NormalCycle", **fields: Any) -> Any:
    fmt = fields.pop("format", "UTF8")
    return D.MessageInfoType(
        id=message_id, priority=priority, message=D.MessageContentType(format=fmt, content=text), **fields
    )


def put(rig: Rig, message_id: int, text: str = "hello", priority: str = "NormalCycle", **fields: Any) -> str:
    answer = rig.handle(M.SetDisplayMessageRequest(message=info(message_id, text, priority, **fields)))
    return str(answer.status)


def get(rig: Rig, request_id: int = 1, **filters: Any) -> tuple[str, list[int]]:
    rig.clear()
    status = str(rig.handle(M.GetDisplayMessagesRequest(request_id=request_id, **filters)).status)
    ids = [i.id for n in rig.of(M.NotifyDisplayMessagesRequest) for i in n.message_info]
    return status, ids


def shown(rig: Rig) -> str | None:
    return rig.core.ctx.get(DisplayMessages).shown


def test_TC_O_01_CS_set_then_get_by_id_reports_the_message_and_the_display_shows_it() -> None:
    rig = make_rig()
    assert put(rig, 7, "Welcome") == "Accepted"
    assert ShowDisplayMessage("Welcome") in rig.actions
    rig.clear()
    assert rig.handle(M.GetDisplayMessagesRequest(request_id=42, id=[7])).status == "Accepted"
    [notify] = rig.of(M.NotifyDisplayMessagesRequest)
    assert notify.request_id == 42
    assert notify.tbc is False
    [message] = notify.message_info
    assert (message.id, message.priority, message.message.format, message.message.content) == (
        7,
        "NormalCycle",
        "UTF8",
        "Welcome",
    )
    assert rig.core.model.value(CTRLR, "DisplayMessages") == "1"


def test_O03_FR_06_TC_O_03_CS_nothing_configured_is_unknown() -> None:
    rig = make_rig()
    assert get(rig) == ("Unknown", [])
    assert get(rig, id=[1]) == ("Unknown", [])  # TC_O_33_CS


def test_O03_FR_03_FR_04_many_messages_in_parts_with_tbc_and_the_request_id() -> None:
    rig = make_rig()
    for message_id in range(1, 11):
        assert put(rig, message_id) == "Accepted"
    status, ids = get(rig, request_id=9)
    assert status == "Accepted"
    assert ids == list(range(1, 11))
    parts = rig.of(M.NotifyDisplayMessagesRequest)
    assert [p.tbc for p in parts] == [True, True, False]
    assert {p.request_id for p in parts} == {9}


def test_O04_filters_priority_state_and_id_TC_O_07_08_09_34_CS() -> None:
    rig = make_rig()
    put(rig, 1, priority="InFront", state="Idle")
    put(rig, 2, priority="NormalCycle", state="Charging")
    put(rig, 3, priority="NormalCycle")
    assert get(rig, id=[2, 3]) == ("Accepted", [2, 3])
    assert get(rig, priority="InFront") == ("Accepted", [1])
    assert get(rig, state="Charging") == ("Accepted", [2])
    assert get(rig, id=[1], state="Charging") == ("Unknown", [])  # O04.FR.02
    assert get(rig, id=[2], priority="AlwaysFront") == ("Unknown", [])  # TC_O_35_CS


def test_O05_clear_accepted_then_unknown_TC_O_04_05_CS() -> None:
    rig = make_rig()
    put(rig, 5, "bye")
    assert rig.handle(M.ClearDisplayMessageRequest(id=5)).status == "Accepted"
    assert ShowDisplayMessage("") in rig.actions  # the display is empty again
    assert rig.handle(M.ClearDisplayMessageRequest(id=5)).status == "Unknown"
    assert get(rig, id=[5]) == ("Unknown", [])
    assert rig.core.model.value(CTRLR, "DisplayMessages") == "0"


def test_O01_FR_01_FR_02_FR_03_unsupported_priority_state_format() -> None:
    rig = make_rig()
    model = rig.core.model
    model.put(VariableKey(CTRLR, "SupportedPriorities"), "NormalCycle,InFront")
    model.put(VariableKey(CTRLR, "SupportedStates"), "Idle,Charging")
    assert put(rig, 1, priority="AlwaysFront") == "NotSupportedPriority"  # TC_O_17_CS
    assert put(rig, 1, state="Faulted") == "NotSupportedState"  # TC_O_18_CS
    assert put(rig, 1, format="HTML") == "NotSupportedMessageFormat"  # TC_O_19_CS
    assert get(rig) == ("Unknown", [])


def test_O01_FR_11_TC_O_26_CS_beyond_max_limit_rejected_but_replacing_is_fine() -> None:
    rig = make_rig()
    limit = rig.core.ctx.get(DisplayMessages).limit()
    for message_id in range(limit):
        assert put(rig, message_id) == "Accepted"
    assert put(rig, limit) == "Rejected"
    assert put(rig, 0, "replaced") == "Accepted"  # O06.FR.01: same id, no new message


def test_O06_FR_01_TC_O_12_CS_replace_takes_every_new_parameter() -> None:
    rig = make_rig()
    put(rig, 3, "first", priority="NormalCycle")
    assert put(rig, 3, "second", priority="InFront", state="Idle") == "Accepted"
    rig.clear()
    rig.handle(M.GetDisplayMessagesRequest(request_id=1, id=[3]))
    [message] = rig.of(M.NotifyDisplayMessagesRequest)[0].message_info
    assert (message.priority, message.state, message.message.content) == ("InFront", "Idle", "second")


def test_O01_FR_16_TC_O_24_CS_a_second_always_front_replaces_the_first() -> None:
    rig = make_rig()
    put(rig, 1, "first", priority="AlwaysFront")
    put(rig, 2, "second", priority="AlwaysFront")
    assert get(rig, id=[1]) == ("Unknown", [])
    assert get(rig, id=[2]) == ("Accepted", [2])
    assert shown(rig) == "second"


def test_O01_FR_13_FR_14_FR_15_priorities_and_cycling_TC_O_22_CS() -> None:
    rig = make_rig()
    put(rig, 1, "normal")
    assert shown(rig) == "normal"
    put(rig, 2, "front A", priority="InFront")
    put(rig, 3, "front B", priority="InFront")
    seen = set()
    for _ in range(4):
        rig.advance(5)
        seen.add(shown(rig))
    assert seen == {"front A", "front B"}  # cycled, the NormalCycle one never in between
    put(rig, 4, "always", priority="AlwaysFront")
    rig.advance(12)
    assert shown(rig) == "always"


def test_O01_FR_12_normal_cycle_messages_take_turns() -> None:
    rig = make_rig()
    put(rig, 1, "one")
    put(rig, 2, "two")
    texts = []
    for _ in range(4):
        rig.advance(5)
        texts.append(shown(rig))
    assert set(texts) == {"one", "two"}
    assert texts[0] != texts[1]


def test_O01_FR_06_FR_07_TC_O_13_14_CS_schedule() -> None:
    rig = make_rig()
    start = to_wire(rig.now + timedelta(seconds=30))
    end = to_wire(rig.now + timedelta(seconds=60))
    assert put(rig, 1, "later", start_date_time=start, end_date_time=end) == "Accepted"
    assert shown(rig) is None  # not before the start
    rig.advance(31)
    assert shown(rig) == "later"
    rig.advance(30)
    assert shown(rig) is None
    assert get(rig, id=[1]) == ("Unknown", [])  # removed after the end


def test_TC_O_36_37_38_CS_state_messages_follow_the_station_state() -> None:
    rig = make_rig()
    put(rig, 1, "charging", state="Charging")
    put(rig, 2, "idle", state="Idle")
    put(rig, 3, "unavailable", state="Unavailable")
    assert shown(rig) == "idle"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "CARD1")
    charge(rig)
    rig.advance(5)
    assert shown(rig) == "charging"
    rig.do("ev_unplugged", 1)
    rig.advance(5)
    assert shown(rig) == "idle"
    answer = rig.handle(M.ChangeAvailabilityRequest(operational_status="Inoperative"))
    assert answer.status == "Accepted"
    rig.advance(5)
    assert shown(rig) == "unavailable"


def test_O02_FR_01_FR_02_TC_O_06_10_CS_transaction_bound_message() -> None:
    rig = make_rig()
    assert put(rig, 1, "tx", transaction_id="no-such-tx") == "UnknownTransaction"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "CARD1")
    tx = rig.core.transaction(1)
    assert tx is not None
    assert put(rig, 1, "your session", transaction_id=tx.id) == "Accepted"
    assert put(rig, 2, "not bound") == "Accepted"
    assert shown(rig) in {"your session", "not bound"}
    rig.do("ev_unplugged", 1)
    assert rig.core.transaction(1) is None
    assert get(rig) == ("Accepted", [2])  # O02.FR.02: removed when the transaction ended


def test_O01_FR_10_TC_O_20_CS_messages_survive_a_reboot() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    put(rig, 4, "kept", priority="InFront")
    again = make_rig(storage=storage)
    assert get(again, id=[4]) == ("Accepted", [4])
    assert shown(again) == "kept"
    assert again.core.model.value(CTRLR, "DisplayMessages") == "1"


def test_O01_disabled_rejects() -> None:
    rig = make_rig()
    rig.core.model.put(VariableKey(CTRLR, "Enabled"), "false")
    assert put(rig, 1) == "Rejected"


def put21(rig: Rig, message: Any) -> str:
    return str(rig.handle(M21.SetDisplayMessageRequest(message=message)).status)


def test_21_O01_FR_18_language_and_message_extra_and_new_states() -> None:
    rig = make_rig(version=Version.V21)

    def content(text: str, language: str) -> Any:
        return D21.MessageContentType(format="UTF8", language=language, content=text)

    unknown = D21.MessageInfoType(id=1, priority="NormalCycle", message=content("hallo", "xx"))
    assert put21(rig, unknown) == "LanguageNotSupported"
    extra = D21.MessageInfoType(
        id=1, priority="NormalCycle", message=content("hallo", "nl"), message_extra=[content("hello", "en")]
    )
    assert put21(rig, extra) == "Accepted"
    assert shown(rig) == "hello"  # the station's language (en) picked from messageExtra
    discharging = D21.MessageInfoType(
        id=2, priority="NormalCycle", state="Discharging", message=content("v2x", "en")
    )
    assert put21(rig, discharging) == "NotSupportedState"
    suspended = D21.MessageInfoType(
        id=2, priority="NormalCycle", state="Suspended", message=content("paused", "en")
    )
    assert put21(rig, suspended) == "Accepted"
    assert rig.handle(M21.ClearDisplayMessageRequest(id=9)).status == "Unknown"


def test_16_has_no_display_messages() -> None:
    rig = make_rig(version=Version.V16)
    names = {kind.__name__ for kind in rig.core.handled_requests()}
    assert not any("Display" in name for name in names)


def answer21(request: Any, now: Any) -> Any:
    """A 2.1 CSMS: boot accepted, the driver's token accepted with Dutch as their language."""
    if isinstance(request, M21.BootNotificationRequest):
        return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
    if isinstance(request, M21.AuthorizeRequest):
        return M21.AuthorizeResponse(id_token_info=D21.IdTokenInfoType(status="Accepted", language1="nl"))
    for name in ("StatusNotification", "TransactionEvent", "SecurityEventNotification", "MeterValues"):
        if type(request).__name__ == f"{name}Request":
            return getattr(M21, f"{name}Response")()
    return None


def test_O01_FR_08_FR_09_TC_O_15_CS_the_drivers_language_then_english() -> None:
    rig = make_rig(version=Version.V21, online=False, answer=answer21)
    rig.do("connection_opened")

    def content(text: str, language: str) -> Any:
        return D21.MessageContentType(format="UTF8", language=language, content=text)

    info = D21.MessageInfoType(
        id=1,
        priority="InFront",
        message=content("welcome", "en"),
        message_extra=[content("welkom", "nl"), content("willkommen", "de")],
    )
    assert put21(rig, info) == "Accepted"
    assert shown(rig) == "welcome"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "CARD-NL")
    assert rig.core.transaction(1) is not None
    assert shown(rig) == "welkom"  # the driver's preferred language (idTokenInfo.language1)
    rig.do("ev_unplugged", 1)
    assert shown(rig) == "welcome"  # the session ended: the station's language again


def refuse(request: Any, now: Any) -> Any:
    if isinstance(request, M.AuthorizeRequest):
        return M.AuthorizeResponse(id_token_info=D.IdTokenInfoType(status="Invalid"))
    return None


def test_O01_FR_15_the_stations_own_texts_do_not_replace_an_always_front_message() -> None:
    rig = make_rig(answer=refuse)
    put(rig, 1, "always", priority="AlwaysFront")
    rig.clear()
    rig.do("token_presented", "BAD1")
    assert rig.of(M.AuthorizeRequest)
    assert [a for a in rig.actions if isinstance(a, ShowMessage)] == []
    assert shown(rig) == "always"


def test_a_normal_message_comes_back_after_a_text_of_the_station() -> None:
    rig = make_rig(answer=refuse)
    put(rig, 1, "normal")
    rig.clear()
    rig.do("token_presented", "BAD1")
    texts = [a.text for a in rig.actions if isinstance(a, ShowMessage)]
    assert texts == ["Token BAD1: Invalid"]
    rig.advance(5)
    assert [a.text for a in rig.actions if isinstance(a, ShowMessage)][-1] == "normal"


def test_21_O05_FR_03_a_disabled_display_rejects_a_clear() -> None:
    rig = make_rig(version=Version.V21)
    rig.core.model.put(VariableKey(CTRLR, "Enabled"), "false")
    assert rig.handle(M21.ClearDisplayMessageRequest(id=1)).status == "Rejected"
