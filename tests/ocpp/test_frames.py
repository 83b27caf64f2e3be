"""Frame parsing and encoding (OCPP-J 1.6 §4.2, 2.0.1 Part 4 §4.2, 2.1 Part 4 §4.2)."""

from __future__ import annotations

import msgspec
import pytest

from chargeplane.ocpp import frames
from chargeplane.ocpp.errors import FormatViolation, RpcFrameworkError


def test_parse_each_message_type() -> None:
    call = frames.parse('[2, "id1", "Heartbeat", {}]')
    assert isinstance(call, frames.Call)
    assert (call.message_id, call.action, bytes(call.payload)) == ("id1", "Heartbeat", b"{}")
    assert frames.parse('[ 3, "id1", {}]') == frames.CallResult("id1", msgspec.Raw(b"{}"))  # general path
    result = frames.parse(b'[3,"id1",{"a":1}]')
    assert isinstance(result, frames.CallResult)
    assert bytes(result.payload) == b'{"a":1}'
    assert frames.parse('[4,"id1","GenericError","d",{"x":1}]') == frames.CallError(
        "id1", "GenericError", "d", {"x": 1}
    )
    assert frames.parse('[5,"id1","GenericError","d",{}]') == frames.CallResultError(
        "id1", "GenericError", "d", {}
    )
    send = frames.parse('[6,"id2","NotifyPeriodicEventStream",{}]')
    assert isinstance(send, frames.Send)
    assert send.message_type == frames.MessageType.SEND
    assert frames.parse('[7,"id3",{}]') == frames.UnknownFrame(7, "id3")


@pytest.mark.parametrize(
    ("text", "error", "message_id"),
    [
        # one rule (issue #12): no readable id -> RpcFrameworkError "-1"; readable id -> FormatViolation
        ("not json", RpcFrameworkError, "-1"),
        ('[2,"a",', FormatViolation, "a"),
        ('[2,"a","Heartbeat",{]', FormatViolation, "a"),
        ("[" * 100_000 + "]" * 100_000, RpcFrameworkError, "-1"),
        ('[2,"a","Heartbeat",' + "[" * 100_000 + "]" * 100_000 + "]", FormatViolation, "a"),
        ('[2,"a","Heartbeat",{"x":' + "[" * 100_000 + "]" * 100_000 + "}]", FormatViolation, "a"),
        ('[4,"a","GenericError","",{"x":' + "[" * 100_000 + "]" * 100_000 + "}]", FormatViolation, "a"),
        ('{"a":1}', RpcFrameworkError, "-1"),
        ('[2,"a"]', RpcFrameworkError, "-1"),
        ('["2","a","X",{}]', RpcFrameworkError, "-1"),
        ('[2,null,"X",{}]', RpcFrameworkError, "-1"),
        ('[2,"","X",{}]', RpcFrameworkError, "-1"),
        ('[2,"' + "x" * 37 + '","X",{}]', RpcFrameworkError, "-1"),  # Part 4 §4.1.4: at most 36
        ('[2,"a","X",{},1]', RpcFrameworkError, "a"),
        ('[2,"a",3,{}]', RpcFrameworkError, "a"),
        ('[3,"a",{},{}]', RpcFrameworkError, "a"),
        ('[4,"a","GenericError","",[]]', RpcFrameworkError, "a"),
        ('[4,"a","GenericError",5,{}]', RpcFrameworkError, "a"),
    ],
)
def test_unreadable_frames_raise_with_error_and_reply_id(text: str, error: type, message_id: str) -> None:
    with pytest.raises(frames.FrameError) as caught:
        frames.parse(text)
    assert isinstance(caught.value.error, error)
    assert caught.value.message_id == message_id


def test_36_character_id_is_accepted() -> None:
    assert frames.parse('[3,"' + "x" * 36 + '",{}]').message_id == "x" * 36


def test_encoders_produce_compact_frames_with_raw_payloads() -> None:
    assert frames.encode_call("i", "Heartbeat", b"{}") == b'[2,"i","Heartbeat",{}]'
    assert frames.encode_send("i", "A", b'{"x":1}') == b'[6,"i","A",{"x":1}]'
    assert frames.encode_result('q"x', b"{}") == b'[3,"q\\"x",{}]'  # ids are JSON-escaped
    assert frames.encode_error("i", "GenericError", "d", {}) == b'[4,"i","GenericError","d",{}]'
    frame = frames.encode_error("i", "GenericError", "d", {}, frames.MessageType.CALLRESULTERROR)
    assert msgspec.json.decode(frame) == [5, "i", "GenericError", "d", {}]


def test_peek_head_reads_type_and_id_from_a_prefix() -> None:
    assert frames.peek_head('[2, "abc","X",{' + "x" * 1000) == (2, "abc")
    assert frames.peek_head(b'[3,"r1",{') == (3, "r1")
    assert frames.peek_head("garbage") is None


def test_fast_path_defers_unusual_frames_to_the_general_parser() -> None:
    assert frames.parse('[2,"i","A",{"x":[1]}]') == frames.Call("i", "A", msgspec.Raw(b'{"x":[1]}'))
    with pytest.raises(frames.FrameError):  # id too long: the general path words the error
        frames.parse('[2,"' + "x" * 40 + '","A",{}]')
    with pytest.raises(frames.FrameError):
        frames.parse('[3,"' + "x" * 40 + '",{}]')
    with pytest.raises(frames.FrameError):  # looks like a CALL, is not one
        frames.parse('[2,"i","A"]')
