"""OCPP-J frames: JSON arrays in WebSocket text messages (OCPP-J 1.6 §4.2, 2.0.1 Part 4 §4.2, 2.1 Part 4 §4.2).

=================  ======  ==========================================================  ========
frame              number  layout                                                      versions
=================  ======  ==========================================================  ========
CALL               2       ``[2, id, action, payload]``                                all
CALLRESULT         3       ``[3, id, payload]``                                        all
CALLERROR          4       ``[4, id, errorCode, errorDescription, errorDetails]``      all
CALLRESULTERROR    5       same as CALLERROR                                           2.1
SEND               6       ``[6, id, action, payload]``                                2.1
=================  ======  ==========================================================  ========

Payloads stay raw JSON (:class:`msgspec.Raw`) here: the endpoint decodes them straight into the typed
Struct of the action, so each message is parsed once.

One rule says which error a malformed message earns (2.0.1 / 2.1 Part 4 §4.2.3; 1.6 has one code for
both, FormationViolation): if the message id cannot be read, the message is no RPC message at all:
RpcFrameworkError, answered with the id ``"-1"``. If the id can be read (the head ``[type, "id"`` is
intact), what follows is a syntactically incorrect payload: FormatViolation with that id. Nesting deeper
than the decoder's recursion limit (the interpreter's, about a thousand levels; no OCPP message comes
close) is syntactically incorrect in the same way, never a crash.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import msgspec

from chargeplane.ocpp.errors import FormatViolation, RpcFrameworkError

MAX_MESSAGE_ID_LENGTH = 36  # OCPP-J 1.6 §4.1.4, 2.0.1 Part 4 §4.1.4, 2.1 Part 4 §4.1.4
UNREADABLE_MESSAGE_ID = "-1"  # 2.0.1 Part 4 §4.2.3: the id to answer with when the id cannot be read


class MessageType(enum.IntEnum):
    CALL = 2
    CALLRESULT = 3
    CALLERROR = 4
    CALLRESULTERROR = 5
    SEND = 6


@dataclass(frozen=True, slots=True)
class Call:
    message_type: ClassVar[int] = MessageType.CALL

    message_id: str
    action: str
    payload: msgspec.Raw


@dataclass(frozen=True, slots=True)
class CallResult:
    message_type: ClassVar[int] = MessageType.CALLRESULT

    message_id: str
    payload: msgspec.Raw


@dataclass(frozen=True, slots=True)
class CallError:
    message_type: ClassVar[int] = MessageType.CALLERROR

    message_id: str
    error_code: str
    error_description: str
    error_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallResultError:
    """2.1: the receiver of a CALLRESULT rejects it; ``message_id`` is the CALLRESULT's."""

    message_type: ClassVar[int] = MessageType.CALLRESULTERROR

    message_id: str
    error_code: str
    error_description: str
    error_details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Send:
    """2.1: a message that is never answered (only ``NotifyPeriodicEventStream``)."""

    message_type: ClassVar[int] = MessageType.SEND

    message_id: str
    action: str
    payload: msgspec.Raw


@dataclass(frozen=True, slots=True)
class UnknownFrame:
    """A well-formed frame whose message type number no version defines (or this one does not)."""

    message_type: int
    message_id: str


Frame = Call | CallResult | CallError | CallResultError | Send | UnknownFrame


class FrameError(Exception):
    """A message that cannot be read as a frame; carries the OCPP error to answer with and the id to use."""

    def __init__(self, error: FormatViolation | RpcFrameworkError, message_id: str = UNREADABLE_MESSAGE_ID):
        super().__init__(error.description)
        self.error = error
        self.message_id = message_id


_ELEMENTS = msgspec.json.Decoder(list[msgspec.Raw])
_CALL_FRAME = msgspec.json.Decoder(tuple[Literal[2], str, str, msgspec.Raw])
_RESULT_FRAME = msgspec.json.Decoder(tuple[Literal[3], str, msgspec.Raw])
_INT = msgspec.json.Decoder(int)
_STR = msgspec.json.Decoder(str)
_DETAILS = msgspec.json.Decoder(dict[str, Any])
_ENCODER = msgspec.json.Encoder()
# Enough of a frame to find its message id without parsing the rest (for an oversize message).
_FRAME_HEAD = re.compile(rb'\A\s*\[\s*([0-9]+)\s*,\s*"([^"\\]{1,36})"')


def parse(data: str | bytes) -> Frame:
    """Parse one WebSocket text message into a frame, or raise :class:`FrameError`.

    Payloads are checked to be JSON objects only by the typed decode that follows; everything else about
    the frame (element count and types, id length) is checked here.
    """
    fast = _fast_parse(data)
    if fast is not None:
        return fast
    try:
        elements = _ELEMENTS.decode(data)
    except msgspec.ValidationError:
        raise FrameError(RpcFrameworkError("Message is not a JSON array")) from None
    except msgspec.DecodeError:
        raise _unreadable(data, "Message is not valid JSON") from None
    except RecursionError:
        raise _unreadable(data, "Message is nested too deeply") from None
    if len(elements) < 3:
        raise FrameError(RpcFrameworkError("Message has too few elements"))
    message_type = _decode_element(_INT, elements[0], "message type")
    message_id = _decode_element(_STR, elements[1], "message id")
    if not message_id or len(message_id) > MAX_MESSAGE_ID_LENGTH:
        raise FrameError(RpcFrameworkError(f"Message id must be 1 to {MAX_MESSAGE_ID_LENGTH} characters"))

    def expect(count: int) -> None:
        if len(elements) != count:
            raise FrameError(
                RpcFrameworkError(f"Message of type {message_type} needs {count} elements"), message_id
            )

    if message_type == MessageType.CALL or message_type == MessageType.SEND:
        expect(4)
        action = _decode_element(_STR, elements[2], "action", message_id)
        kind = Call if message_type == MessageType.CALL else Send
        return kind(message_id, action, elements[3])
    if message_type == MessageType.CALLRESULT:
        expect(3)
        return CallResult(message_id, elements[2])
    if message_type == MessageType.CALLERROR or message_type == MessageType.CALLRESULTERROR:
        expect(5)
        code = _decode_element(_STR, elements[2], "error code", message_id)
        description = _decode_element(_STR, elements[3], "error description", message_id)
        details = _decode_element(_DETAILS, elements[4], "error details", message_id)
        error_kind = CallError if message_type == MessageType.CALLERROR else CallResultError
        return error_kind(message_id, code, description, details)
    return UnknownFrame(message_type, message_id)


def _fast_parse(data: str | bytes) -> Call | CallResult | None:
    """One decode for the two frames that make up nearly all traffic, when compactly written; ``None``
    sends anything unusual through the general path, which also words the errors."""
    head = data[:3]
    try:
        if head in ("[2,", b"[2,"):
            _, message_id, action, payload = _CALL_FRAME.decode(data)
            if 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
                return Call(message_id, action, payload)
        elif head in ("[3,", b"[3,"):
            _, message_id, payload = _RESULT_FRAME.decode(data)
            if 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
                return CallResult(message_id, payload)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        pass
    return None


def _unreadable(data: str | bytes, what: str) -> FrameError:
    """The error for a message that is not JSON (or too deep to read): the rule of the module docstring."""
    head = peek_head(data)
    if head is None:
        return FrameError(RpcFrameworkError(what))
    return FrameError(FormatViolation(what), head[1])


def _decode_element(
    decoder: msgspec.json.Decoder[Any], raw: msgspec.Raw, what: str, message_id: str = ""
) -> Any:
    try:
        return decoder.decode(raw)
    except msgspec.ValidationError:
        raise FrameError(
            RpcFrameworkError(f"Message {what} has the wrong type"), message_id or UNREADABLE_MESSAGE_ID
        ) from None


def peek_head(data: str | bytes) -> tuple[int, str] | None:
    """Message type and id read from the head of a message too large to parse, or ``None``."""
    head = data[:96].encode() if isinstance(data, str) else data[:96]
    match = _FRAME_HEAD.match(head)
    if match is None:
        return None
    return int(match.group(1)), match.group(2).decode()


def encode_call(message_id: str, action: str, payload: bytes) -> bytes:
    return _ENCODER.encode((MessageType.CALL, message_id, action, msgspec.Raw(payload)))


def encode_send(message_id: str, action: str, payload: bytes) -> bytes:
    return _ENCODER.encode((MessageType.SEND, message_id, action, msgspec.Raw(payload)))


def encode_result(message_id: str, payload: bytes) -> bytes:
    return _ENCODER.encode((MessageType.CALLRESULT, message_id, msgspec.Raw(payload)))


def encode_error(
    message_id: str,
    code: str,
    description: str,
    details: dict[str, Any],
    message_type: MessageType = MessageType.CALLERROR,
) -> bytes:
    return _ENCODER.encode((message_type, message_id, code, description, details))
