"""RPC endpoint behaviour, traced to OCPP-J 1.6 §4, 2.0.1 Part 4 §4 and 2.1 Part 4 §4."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chargeplane.ocpp.catalog import CSMS, STATION, Role
from chargeplane.ocpp.endpoint import (
    CallQueueFull,
    InvalidOutgoingPayload,
    LocalProtocolError,
    MessageTooLarge,
    RpcEndpoint,
)
from chargeplane.ocpp.errors import GenericError, SecurityError
from chargeplane.ocpp.events import (
    CallAborted,
    CallReceived,
    CallRejected,
    CallTimedOut,
    ErrorReceived,
    MessageIgnored,
    ResultErrorReceived,
    ResultReceived,
    SendReceived,
)
from chargeplane.ocpp.versions import Version
from tests.ocpp import fakes


def make(version: Version = Version.V201, role: Role = CSMS, **options: Any) -> RpcEndpoint:
    counter = iter(range(1, 10_000))
    options.setdefault("message_ids", lambda: f"m{next(counter)}")
    return RpcEndpoint(version, role, catalog=fakes.CATALOG, call_timeout=30.0, **options)


def sent(endpoint: RpcEndpoint) -> list[list[Any]]:
    return [json.loads(data) for data in endpoint.data_to_send()]


def test_valid_call_is_reported_and_answered_with_callresult() -> None:
    csms = make()
    csms.receive('[2,"a1","Hello",{"model":"X1"}]', now=0.0)
    [event] = csms.events()
    assert event == CallReceived("a1", "Hello", fakes.HelloRequest(model="X1"))
    assert list(csms.open_incoming_calls) == ["a1"]
    csms.send_result("a1", fakes.HelloResponse(status="ok"))
    assert sent(csms) == [[3, "a1", {"status": "ok"}]]
    assert list(csms.open_incoming_calls) == []


def test_optional_fields_are_omitted_never_null() -> None:  # 2.0.1 Part 4 §4.1.5
    station = make(role=STATION)
    station.send_call(fakes.HelloRequest(model="X1"), now=0.0)
    assert sent(station) == [[2, "m1", "Hello", {"model": "X1"}]]


def test_bytes_input_is_accepted() -> None:
    csms = make()
    csms.receive(b'[2,"a1","Ping",{}]', now=0.0)
    assert csms.events() == [CallReceived("a1", "Ping", fakes.PingRequest())]


def test_answering_with_error_uses_the_version_spelling() -> None:
    csms = make(Version.V16)
    csms.receive('[2,"a1","Ping",{}]', now=0.0)
    csms.events()
    csms.send_error("a1", SecurityError("not accepted"))
    assert sent(csms) == [[4, "a1", "SecurityError", "not accepted", {}]]


def test_send_result_refuses_unknown_id_and_wrong_type() -> None:
    csms = make()
    with pytest.raises(LocalProtocolError, match="no open incoming CALL"):
        csms.send_result("nope", fakes.HelloResponse(status="ok"))
    with pytest.raises(LocalProtocolError, match="no open incoming CALL"):
        csms.send_error("nope", GenericError())
    csms.receive('[2,"a1","Hello",{"model":"X"}]', now=0.0)
    with pytest.raises(LocalProtocolError, match="answered with HelloResponse, not PingResponse"):
        csms.send_result("a1", fakes.PingResponse(current_time="2024-01-01T00:00:00Z"))


def test_invalid_outgoing_response_is_refused_before_sending() -> None:
    csms = make()
    csms.receive('[2,"a1","Hello",{"model":"X"}]', now=0.0)
    with pytest.raises(InvalidOutgoingPayload, match="Hello: Expected `str` of length <= 8"):
        csms.send_result("a1", fakes.HelloResponse(status="far too long"))
    assert csms.data_to_send() == []
    assert list(csms.open_incoming_calls) == ["a1"]


def test_outgoing_validation_can_be_switched_off() -> None:
    station = make(role=STATION, validate_outgoing=False)
    station.send_call(fakes.HelloRequest(model="M" * 30), now=0.0)
    assert sent(station) == [[2, "m1", "Hello", {"model": "M" * 30}]]


# -- one outstanding CALL per direction (2.0.1 Part 4 §4.1.1, FR.01) -------------------------------------


def test_FR_01_second_call_waits_until_first_is_answered() -> None:
    station = make(role=STATION)
    first = station.send_call(fakes.PingRequest(), now=0.0)
    second = station.send_call(fakes.HelloRequest(model="A"), now=0.0)
    third = station.send_call(fakes.HelloRequest(model="B"), now=0.0)
    assert [frame[1] for frame in sent(station)] == [first]
    assert station.outstanding_call == first
    assert station.queued_calls == 2

    station.receive(f'[3,"{first}",{{"currentTime":"2024-01-01T00:00:00Z"}}]', now=1.0)
    [event] = station.events()
    assert isinstance(event, ResultReceived)
    assert event.payload == fakes.PingResponse(current_time="2024-01-01T00:00:00Z")
    assert event.request == fakes.PingRequest()
    assert sent(station) == [[2, second, "Hello", {"model": "A"}]]

    station.receive(f'[4,"{second}","GenericError","nope",{{}}]', now=2.0)
    [error] = station.events()
    assert isinstance(error, ErrorReceived)
    assert isinstance(error.error, GenericError)
    assert error.error.description == "nope"
    assert sent(station) == [[2, third, "Hello", {"model": "B"}]]


def test_crossing_calls_are_both_served() -> None:  # 2.0.1 Part 4 §4.1.1 note
    station = make(role=STATION)
    mine = station.send_call(fakes.PingRequest(), now=0.0)
    station.data_to_send()
    station.receive('[2,"c1","Reset",{"type":"Immediate"}]', now=0.5)
    assert station.events() == [CallReceived("c1", "Reset", fakes.ResetRequest(kind="Immediate"))]
    station.send_result("c1", fakes.ResetResponse(status="Accepted"))
    station.receive(f'[3,"{mine}",{{"currentTime":"2024-01-01T00:00:00Z"}}]', now=1.0)
    assert isinstance(station.events()[0], ResultReceived)
    assert sent(station) == [[3, "c1", {"status": "Accepted"}]]


def test_timeout_is_driven_by_now_and_releases_the_queue() -> None:
    station = make(role=STATION)
    assert station.get_timer() is None
    first = station.send_call(fakes.PingRequest(), now=10.0)
    second = station.send_call(fakes.PingRequest(), now=12.0)
    station.data_to_send()
    assert station.get_timer() == 40.0
    station.handle_timer(39.9)
    assert station.events() == []
    station.handle_timer(40.0)
    assert station.events() == [CallTimedOut(first, "Ping", fakes.PingRequest())]
    assert [frame[1] for frame in sent(station)] == [second]
    assert station.get_timer() == 70.0  # the timeout runs from transmission, not from queueing


def test_late_result_after_timeout_is_ignored_and_reported() -> None:
    station = make(role=STATION)
    first = station.send_call(fakes.PingRequest(), now=0.0)
    station.handle_timer(31.0)
    station.events()
    station.receive(f'[3,"{first}",{{"currentTime":"2024-01-01T00:00:00Z"}}]', now=32.0)
    assert station.events() == [MessageIgnored(first, "CALLRESULT matches no outstanding CALL")]
    station.receive('[4,"zz","GenericError","",{}]', now=32.0)
    assert station.events() == [MessageIgnored("zz", "CALLERROR matches no outstanding CALL")]
    assert station.data_to_send() == [b'[2,"m1","Ping",{}]']  # nothing answered to the stray messages


def test_call_queue_is_bounded() -> None:
    station = make(role=STATION, max_queued_calls=2)
    for _ in range(3):
        station.send_call(fakes.PingRequest(), now=0.0)
    with pytest.raises(CallQueueFull):
        station.send_call(fakes.PingRequest(), now=0.0)


def test_abort_calls_fails_outstanding_and_queued_in_order() -> None:
    station = make(role=STATION)
    station.abort_calls("nothing to abort")
    assert station.events() == []
    ids = [station.send_call(fakes.PingRequest(), now=0.0) for _ in range(3)]
    station.abort_calls("connection replaced")
    assert station.events() == [
        CallAborted(i, "Ping", fakes.PingRequest(), "connection replaced", transmitted=i == ids[0])
        for i in ids
    ]
    assert station.outstanding_call is None
    assert station.queued_calls == 0
    assert station.get_timer() is None


def test_default_message_ids_are_unique_and_at_most_36_chars() -> None:  # Part 4 §4.1.4
    station = RpcEndpoint(Version.V201, STATION, catalog=fakes.CATALOG, max_queued_calls=5000)
    ids = {station.send_call(fakes.PingRequest(), now=0.0) for _ in range(2000)}
    assert len(ids) == 2000
    assert max(len(i) for i in ids) <= 36
    other = RpcEndpoint(Version.V201, STATION, catalog=fakes.CATALOG)
    assert other.send_call(fakes.PingRequest(), now=0.0) not in ids


def test_the_random_prefix_of_the_message_ids_is_drawn_with_the_first_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # #19: a connection that sends nothing costs no draw (a system call)
    drawn: list[int] = []

    def token_hex(size: int) -> str:
        drawn.append(size)
        return "ab" * size

    monkeypatch.setattr("secrets.token_hex", token_hex)
    station = RpcEndpoint(Version.V201, STATION, catalog=fakes.CATALOG)
    assert drawn == []
    ids = [station.send_call(fakes.PingRequest(), now=0.0) for _ in range(2)]
    assert ids == ["abababababab-1", "abababababab-2"]
    assert drawn == [6]


def test_role_may_only_send_its_own_direction() -> None:
    station = make(role=STATION)
    with pytest.raises(LocalProtocolError, match="a ChargingStation does not send Reset"):
        station.send_call(fakes.ResetRequest(kind="x"), now=0.0)
    with pytest.raises(LocalProtocolError, match=r"not a request of OCPP 2\.0\.1"):
        station.send_call(fakes.PingResponse(current_time="2024-01-01T00:00:00Z"), now=0.0)
    csms = make()
    csms.send_call(fakes.TransferRequest(vendor_id="v"), now=0.0)  # BOTH directions
    assert sent(csms) == [[2, "m1", "Transfer", {"vendorId": "v"}]]


def test_outgoing_message_size_is_limited() -> None:
    station = make(role=STATION, max_message_size=40, validate_outgoing=False)
    with pytest.raises(MessageTooLarge):
        station.send_call(fakes.HelloRequest(model="M" * 40), now=0.0)
    csms = make(max_message_size=20)
    csms.receive('[2,"a1","Ping",{}]', now=0.0)
    with pytest.raises(MessageTooLarge):
        csms.send_result("a1", fakes.PingResponse(current_time="2024-01-01T00:00:00Z"))


# -- incoming errors and their codes (Part 4 §4.3, DIGEST 1.4) -------------------------------------------


@pytest.mark.parametrize(
    ("version", "message", "expected"),
    [
        (Version.V201, '[2,"a","Nope",{}]', [4, "a", "NotImplemented", "Unknown action Nope", {}]),
        (
            Version.V201,
            '[2,"a","Reset",{"type":"x"}]',
            [4, "a", "NotSupported", "Reset is not supported", {}],
        ),
        (Version.V21, '[2,"a","Stream",{"id":1}]', [4, "a", "NotSupported", "Stream is not supported", {}]),
        (
            Version.V201,
            '[2,"a","Hello",{}]',
            [4, "a", "OccurrenceConstraintViolation", "Object missing required field `model`", {}],
        ),
        (
            Version.V16,
            '[2,"a","Hello",{}]',
            [4, "a", "OccurenceConstraintViolation", "Object missing required field `model`", {}],
        ),
        (
            Version.V201,
            '[2,"a","Hello",{"model":"X","tags":["a","b","c"]}]',
            [4, "a", "OccurrenceConstraintViolation", "Expected `array` of length <= 2 at $.tags", {}],
        ),
        (
            Version.V201,
            '[2,"a","Hello",{"model":7}]',
            [4, "a", "TypeConstraintViolation", "Expected `str`, got `int` at $.model", {}],
        ),
        (
            Version.V201,
            '[2,"a","Hello",{"model":null}]',
            [4, "a", "TypeConstraintViolation", "Expected `str`, got `null` at $.model", {}],
        ),
        (
            Version.V201,
            '[2,"a","Hello",{"model":"X","count":11}]',
            [4, "a", "PropertyConstraintViolation", "Expected `int` <= 10 at $.count", {}],
        ),
        (
            Version.V201,
            '[2,"a","Hello",{"model":"' + "X" * 21 + '"}]',
            [4, "a", "PropertyConstraintViolation", "Expected `str` of length <= 20 at $.model", {}],
        ),
        (
            Version.V201,
            '[2,"a","Hello",{"model":"X","extra":1}]',
            [4, "a", "ProtocolError", "Object contains unknown field `extra`", {}],
        ),
        (
            Version.V16,
            '[2,"a","Hello",{"model":"X","extra":1}]',
            [4, "a", "FormationViolation", "Object contains unknown field `extra`", {}],
        ),
        (Version.V201, '[2,"a","Hello",[]]', [4, "a", "ProtocolError", "Expected `object`, got `array`", {}]),
        (
            Version.V201,
            '[2,"a","Ping",{"customData":{"x":1}}]',
            [
                4,
                "a",
                "OccurrenceConstraintViolation",
                "Object missing required field `vendorId` at $.customData",
                {},
            ],
        ),
        (Version.V201, '[2,"a",', [4, "a", "FormatViolation", "Message is not valid JSON", {}]),
        (Version.V201, "[2,", [4, "-1", "RpcFrameworkError", "Message is not valid JSON", {}]),
        (Version.V16, "[2,", [4, "-1", "FormationViolation", "Message is not valid JSON", {}]),
        (
            Version.V201,
            '[2,"a","Heartbeat",' + "[" * 50_000 + "]" * 50_000 + "]",
            [4, "a", "FormatViolation", "Message is nested too deeply", {}],
        ),
        (Version.V16, "{}", [4, "-1", "FormationViolation", "Message is not a JSON array", {}]),
        (Version.V201, "{}", [4, "-1", "RpcFrameworkError", "Message is not a JSON array", {}]),
        (
            Version.V201,
            '[2,17,"Ping",{}]',
            [4, "-1", "RpcFrameworkError", "Message message id has the wrong type", {}],
        ),
        (
            Version.V201,
            '[2,"a","Ping"]',
            [4, "a", "RpcFrameworkError", "Message of type 2 needs 4 elements", {}],
        ),
        (
            Version.V201,
            '[9,"a",{}]',
            [4, "a", "MessageTypeNotSupported", "Message type 9 is not supported", {}],
        ),
        (
            Version.V201,
            '[6,"a","Stream",{"id":1}]',
            [4, "a", "MessageTypeNotSupported", "Message type 6 is not supported", {}],
        ),
        (
            Version.V201,
            '[5,"a","GenericError","",{}]',
            [4, "a", "MessageTypeNotSupported", "Message type 5 is not supported", {}],
        ),
    ],
)
def test_incoming_errors_are_answered_with_the_version_code(
    version: Version, message: str, expected: list[Any]
) -> None:
    csms = make(version, handled_actions={"Ping", "Hello"})
    csms.receive(message, now=0.0)
    assert sent(csms) == [expected]
    [event] = csms.events()
    assert isinstance(event, CallRejected)
    assert event.error.code_for(version) == expected[2]


def test_unknown_message_type_is_ignored_on_21_and_16() -> None:  # 2.1 Part 4 §4.4
    for version in (Version.V21, Version.V16):
        csms = make(version)
        csms.receive('[9,"a",{}]', now=0.0)
        assert csms.data_to_send() == []
        assert csms.events() == [MessageIgnored("a", "unknown message type 9")]
    old = make(Version.V16)
    old.receive('[6,"a","Stream",{"id":1}]', now=0.0)
    assert old.events() == [MessageIgnored("a", "unknown message type 6")]


def test_error_description_is_at_most_255_characters() -> None:
    csms = make()
    csms.receive('[2,"a","' + "N" * 400 + '",{}]', now=0.0)
    [[_, _, _, description, _]] = sent(csms)
    assert len(description) == 255


def test_duplicate_open_call_id_is_ignored() -> None:
    csms = make()
    csms.receive('[2,"a","Ping",{}]', now=0.0)
    csms.receive('[2,"a","Ping",{}]', now=0.0)
    assert csms.events()[1] == MessageIgnored("a", "CALL id is already open")


def test_oversize_call_gets_formatviolation_with_its_id() -> None:
    csms = make(max_message_size=64)
    csms.receive('[2,"big","Hello",{"model":"' + "x" * 100 + '"}]', now=0.0)
    assert sent(csms) == [[4, "big", "FormatViolation", "Message exceeds 64 bytes", {}]]


def test_oversize_result_fails_the_outstanding_call() -> None:
    station = make(Version.V21, role=STATION, max_message_size=64)
    first = station.send_call(fakes.PingRequest(), now=0.0)
    second = station.send_call(fakes.PingRequest(), now=0.0)
    station.data_to_send()
    station.receive(f'[3,"{first}",{{"currentTime":"' + "x" * 100 + '"}]', now=1.0)
    [event] = station.events()
    assert isinstance(event, ErrorReceived)
    assert event.rejected_result
    assert sent(station) == [
        [5, first, "FormatViolation", "Message exceeds 64 bytes", {}],
        [2, second, "Ping", {}],
    ]
    station.receive(b"x" * 100, now=1.0)
    assert station.events() == [MessageIgnored("-1", "Message exceeds 64 bytes")]


def test_invalid_callresult_on_21_is_answered_with_callresulterror() -> None:  # 2.1 Part 4 §4.2.3
    station = make(Version.V21, role=STATION)
    mine = station.send_call(fakes.PingRequest(), now=0.0)
    station.data_to_send()
    station.receive(f'[3,"{mine}",{{"currentTime":"yesterday"}}]', now=1.0)
    [event] = station.events()
    assert isinstance(event, ErrorReceived)
    assert event.rejected_result
    assert event.error.code == "PropertyConstraintViolation"
    [[kind, message_id, code, _, _]] = sent(station)
    assert (kind, message_id, code) == (5, mine, "PropertyConstraintViolation")


def test_invalid_callresult_on_201_fails_the_call_silently() -> None:
    station = make(Version.V201, role=STATION)
    mine = station.send_call(fakes.PingRequest(), now=0.0)
    station.data_to_send()
    station.receive(f'[3,"{mine}",{{}}]', now=1.0)
    [event] = station.events()
    assert isinstance(event, ErrorReceived)
    assert event.error.code == "OccurrenceConstraintViolation"
    assert station.data_to_send() == []


def test_callresulterror_is_reported_on_21() -> None:
    station = make(Version.V21, role=STATION)
    station.receive('[5,"r1","OccurenceConstraintViolation","bad",{"k":1}]', now=0.0)
    [event] = station.events()
    assert isinstance(event, ResultErrorReceived)
    assert event.error.code == "OccurrenceConstraintViolation"  # both spellings accepted
    assert event.error.details == {"k": 1}


# -- SEND (2.1 Part 4 §4.2.4) ----------------------------------------------------------------------------


def test_send_is_exempt_from_the_outstanding_rule_and_never_answered() -> None:
    station = make(Version.V21, role=STATION)
    station.send_call(fakes.PingRequest(), now=0.0)
    message_id = station.send_message(fakes.StreamRequest(id=3))
    assert sent(station) == [[2, "m1", "Ping", {}], [6, message_id, "Stream", {"id": 3}]]
    with pytest.raises(LocalProtocolError, match="is a SEND message"):
        station.send_call(fakes.StreamRequest(id=3), now=0.0)
    with pytest.raises(LocalProtocolError, match="is not a SEND message"):
        station.send_message(fakes.PingRequest())

    csms = make(Version.V21)
    csms.receive('[6,"s1","Stream",{"id":3}]', now=0.0)
    assert csms.events() == [SendReceived("s1", "Stream", fakes.StreamRequest(id=3))]
    csms.receive('[6,"s2","Stream",{"id":"x"}]', now=0.0)
    csms.receive('[6,"s3","Ping",{}]', now=0.0)
    ignored = csms.events()
    assert [type(e) for e in ignored] == [MessageIgnored, MessageIgnored]
    assert ignored[0].message_id == "s2"
    assert csms.data_to_send() == []


def test_send_too_large_is_refused() -> None:
    station = make(Version.V21, role=STATION, max_message_size=10)
    with pytest.raises(MessageTooLarge):
        station.send_message(fakes.StreamRequest(id=3))
