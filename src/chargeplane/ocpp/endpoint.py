"""The OCPP-J RPC endpoint: one per connection, sans-I/O.

Theory of operation
-------------------
The driver feeds every WebSocket text message to :meth:`RpcEndpoint.receive` and then

* drains :meth:`events` and acts on them (answer each :class:`CallReceived` with :meth:`send_result` or
  :meth:`send_error`; complete its own requests on :class:`ResultReceived`, :class:`ErrorReceived`,
  :class:`CallTimedOut`, :class:`CallAborted`);
* drains :meth:`data_to_send` into the socket, as text frames, in order;
* arms one timer at :meth:`get_timer` and calls :meth:`handle_timer` when it fires.

Time is an argument (``now``, seconds on any monotonic clock); nothing here sleeps or does I/O.

Outgoing CALLs: at most one is outstanding (OCPP-J 1.6 §4.1.1 SHOULD, 2.0.1/2.1 Part 4 §4.1.1 SHALL).
:meth:`send_call` transmits at once when the line is free and queues otherwise; queued CALLs go out in order
as each outstanding one is answered, rejected or times out. The timeout runs from transmission.

=============  ==============================  ============================================
state          on                              next
=============  ==============================  ============================================
idle           send_call                       outstanding (transmitted)
outstanding    send_call                       outstanding (request queued, bounded)
outstanding    CALLRESULT/CALLERROR same id    idle, then the next queued CALL goes out
outstanding    handle_timer past deadline      idle (CallTimedOut), then the next queued
any            abort_calls                     idle, queue empty (CallAborted for each)
=============  ==============================  ============================================

Incoming CALLs are independent of that (CALLs may cross, Part 4 §4.1.1): each is validated and reported,
and stays open until the application answers it. 2.1 SEND messages bypass all of this in both directions
(2.1 Part 4 §4.2.4).

Incoming errors are answered with the code of the negotiated version (see :mod:`chargeplane.ocpp.errors`
and :mod:`chargeplane.ocpp.validation`): unknown action -> NotImplemented; known action that this end does
not receive or handle -> NotSupported; invalid payload -> the constraint's code; unreadable frame ->
RpcFrameworkError with id ``"-1"``; unknown message type -> MessageTypeNotSupported on 2.0.1, ignored on
2.1 (2.1 Part 4 §4.4) and on 1.6 (which defines no answer).
"""

from __future__ import annotations

import secrets
from collections import deque
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

import msgspec

from chargeplane.ocpp import frames
from chargeplane.ocpp.catalog import ActionCatalog, Role
from chargeplane.ocpp.errors import (
    FormatViolation,
    MessageTypeNotSupported,
    NotImplementedAction,
    NotSupported,
    OcppError,
    error_from_wire,
)
from chargeplane.ocpp.events import (
    CallAborted,
    CallReceived,
    CallRejected,
    CallTimedOut,
    ErrorReceived,
    Event,
    MessageIgnored,
    ResultErrorReceived,
    ResultReceived,
    SendReceived,
)
from chargeplane.ocpp.messages.base import ActionSpec, Payload
from chargeplane.ocpp.validation import decode_payload
from chargeplane.ocpp.versions import Version

DEFAULT_CALL_TIMEOUT = 30.0  # seconds; the spec leaves it to the implementation (2.0.1 Part 2 §3.2)
DEFAULT_MAX_MESSAGE_SIZE = 1 << 20  # bytes; OCPP-J sets no limit (Part 4 §4.1), memory does
DEFAULT_MAX_QUEUED_CALLS = 1000

_ENCODER = msgspec.json.Encoder()


class LocalProtocolError(Exception):
    """The application asked the endpoint for something the protocol does not allow."""


class CallQueueFull(LocalProtocolError):
    """More CALLs are waiting behind the outstanding one than ``max_queued_calls`` allows."""


class MessageTooLarge(LocalProtocolError):
    """An outgoing message would exceed ``max_message_size``."""


class InvalidOutgoingPayload(LocalProtocolError):
    """An outgoing payload breaks its schema (a bug on this side); it was not sent."""

    def __init__(self, action: str, error: OcppError) -> None:
        super().__init__(f"{action}: {error.description}")
        self.error = error


@dataclass(slots=True)
class _OutgoingCall:
    message_id: str
    spec: ActionSpec
    request: Payload
    payload: bytes
    deadline: float = 0.0


class RpcEndpoint:
    """One side of one OCPP-J connection. Not thread-safe; one driver owns it."""

    def __init__(
        self,
        version: Version,
        role: Role,
        *,
        catalog: ActionCatalog | None = None,
        handled_actions: Collection[str] | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE,
        max_queued_calls: int = DEFAULT_MAX_QUEUED_CALLS,
        validate_outgoing: bool = True,
        message_ids: Callable[[], str] | None = None,
    ) -> None:
        """
        :param handled_actions: the incoming actions the application handles (a router's
            ``handled_actions``); other known actions get NotSupported. ``None``: every action this role
            may receive.
        :param validate_outgoing: check every outgoing payload against its schema before it is sent; the
            generated Structs do not check constraints when built in Python.
        :param message_ids: factory of outgoing message ids (at most 36 characters, unique on this
            connection); by default a random prefix and a counter.
        """
        self.version = version
        self.role = role
        self.catalog = catalog if catalog is not None else ActionCatalog.for_version(version)
        self.handled_actions = handled_actions
        self.call_timeout = call_timeout
        self.max_message_size = max_message_size
        self.max_queued_calls = max_queued_calls
        self.validate_outgoing = validate_outgoing
        self._message_ids = message_ids if message_ids is not None else _counter_ids()
        self._events: deque[Event] = deque()
        self._output: deque[bytes] = deque()
        self._outstanding: _OutgoingCall | None = None
        self._queue: deque[_OutgoingCall] = deque()
        self._open_incoming: dict[str, ActionSpec] = {}

    # -- what the driver drains -------------------------------------------------------------------------

    def events(self) -> list[Event]:
        """The events produced since the last call, oldest first."""
        events = list(self._events)
        self._events.clear()
        return events

    def data_to_send(self) -> list[bytes]:
        """The messages to write to the socket as text frames (UTF-8 JSON), in order."""
        output = list(self._output)
        self._output.clear()
        return output

    @property
    def has_output(self) -> bool:
        """Whether :meth:`data_to_send` has something."""
        return bool(self._output)

    def get_timer(self) -> float | None:
        """When :meth:`handle_timer` must be called next, or ``None``."""
        return self._outstanding.deadline if self._outstanding is not None else None

    @property
    def outstanding_call(self) -> str | None:
        """The message id of our CALL awaiting its answer."""
        return self._outstanding.message_id if self._outstanding is not None else None

    @property
    def queued_calls(self) -> int:
        return len(self._queue)

    @property
    def open_incoming_calls(self) -> Collection[str]:
        """Message ids of the peer's CALLs that the application has not answered yet."""
        return self._open_incoming.keys()

    # -- what the application sends ---------------------------------------------------------------------

    def send_call(self, request: Payload, now: float) -> str:
        """Send (or queue behind the outstanding one) a CALL; returns its message id.

        Raises :class:`LocalProtocolError` when this role may not send the request, :class:`CallQueueFull`,
        :class:`MessageTooLarge` or :class:`InvalidOutgoingPayload`.
        """
        spec = self._spec_for_request(request)
        if spec.is_send:
            raise LocalProtocolError(f"{spec.action} is a SEND message: use send_message()")
        if self._outstanding is not None and len(self._queue) >= self.max_queued_calls:
            raise CallQueueFull(f"{self.max_queued_calls} CALLs already wait for the outstanding one")
        payload = self._encode_payload(spec, request, spec.request_decoder)
        call = _OutgoingCall(self._message_ids(), spec, request, payload)
        self._check_size(len(payload) + len(call.message_id) + len(spec.action) + 16)
        if self._outstanding is None:
            self._transmit(call, now)
        else:
            self._queue.append(call)
        return call.message_id

    def send_message(self, payload: Payload) -> str:
        """Send a 2.1 SEND message (never answered, exempt from the one-outstanding rule)."""
        spec = self._spec_for_request(payload)
        if not spec.is_send:
            raise LocalProtocolError(f"{spec.action} is not a SEND message: use send_call()")
        body = self._encode_payload(spec, payload, spec.request_decoder)
        message_id = self._message_ids()
        data = frames.encode_send(message_id, spec.action, body)
        self._check_size(len(data))
        self._output.append(data)
        return message_id

    def send_result(self, message_id: str, response: Payload) -> None:
        """Answer the peer's CALL ``message_id`` with a CALLRESULT."""
        spec = self._open_incoming.get(message_id)
        if spec is None:
            raise LocalProtocolError(f"no open incoming CALL with id {message_id!r}")
        if type(response) is not spec.response:
            expected = spec.response.__name__ if spec.response else "nothing"
            raise LocalProtocolError(
                f"{spec.action} is answered with {expected}, not {type(response).__name__}"
            )
        assert spec.response_decoder is not None  # a response type implies a decoder
        body = self._encode_payload(spec, response, spec.response_decoder)
        data = frames.encode_result(message_id, body)
        self._check_size(len(data))
        del self._open_incoming[message_id]
        self._output.append(data)

    def send_error(self, message_id: str, error: OcppError) -> None:
        """Answer the peer's CALL ``message_id`` with a CALLERROR in this version's spelling."""
        if self._open_incoming.pop(message_id, None) is None:
            raise LocalProtocolError(f"no open incoming CALL with id {message_id!r}")
        self._output.append(self._error_frame(message_id, error))

    def abort_calls(self, reason: str) -> None:
        """Give up on the outstanding and queued CALLs (the connection is gone); each gets CallAborted."""
        if self._outstanding is not None:
            call = self._outstanding
            self._events.append(CallAborted(call.message_id, call.spec.action, call.request, reason, True))
        for call in self._queue:
            self._events.append(CallAborted(call.message_id, call.spec.action, call.request, reason, False))
        self._outstanding = None
        self._queue.clear()

    # -- what the driver feeds --------------------------------------------------------------------------

    def receive(self, data: str | bytes, now: float) -> None:
        """Process one WebSocket text message from the peer."""
        if len(data) > self.max_message_size:
            self._receive_oversize(data, now)
            return
        try:
            frame = frames.parse(data)
        except frames.FrameError as exc:
            self._reject(exc.message_id, "", exc.error)
            return
        if isinstance(frame, frames.Call):
            self._receive_call(frame)
        elif isinstance(frame, frames.CallResult):
            self._receive_result(frame, now)
        elif isinstance(frame, frames.CallError):
            self._receive_error(frame, now)
        elif isinstance(frame, frames.Send) and self.version is Version.V21:
            self._receive_send(frame)
        elif isinstance(frame, frames.CallResultError) and self.version is Version.V21:
            error = error_from_wire(frame.error_code, frame.error_description, frame.error_details)
            self._events.append(ResultErrorReceived(frame.message_id, error))
        else:  # an unknown type, or a 2.1-only type on an older version
            self._receive_unknown_type(frame.message_type, frame.message_id)

    def handle_timer(self, now: float) -> None:
        """Time out the outstanding CALL if its deadline has passed, then send the next queued one."""
        call = self._outstanding
        if call is not None and now >= call.deadline:
            self._outstanding = None
            self._events.append(CallTimedOut(call.message_id, call.spec.action, call.request))
            self._advance(now)

    # -- internals --------------------------------------------------------------------------------------

    def _receive_call(self, frame: frames.Call) -> None:
        if frame.message_id in self._open_incoming:
            # Still answering the first one; a second answer with the same id would be ambiguous.
            self._events.append(MessageIgnored(frame.message_id, "CALL id is already open"))
            return
        spec = self.catalog.actions.get(frame.action)
        if spec is None:
            self._reject(
                frame.message_id, frame.action, NotImplementedAction(f"Unknown action {frame.action}")
            )
            return
        if spec.is_send or spec.direction not in self.role.receives or not self._handles(spec.action):
            self._reject(frame.message_id, frame.action, NotSupported(f"{frame.action} is not supported"))
            return
        try:
            payload = decode_payload(spec.request_decoder, frame.payload, self.version)
        except OcppError as error:
            self._reject(frame.message_id, frame.action, error)
            return
        self._open_incoming[frame.message_id] = spec
        self._events.append(CallReceived(frame.message_id, spec.action, payload))

    def _receive_send(self, frame: frames.Send) -> None:
        spec = self.catalog.actions.get(frame.action)
        if spec is None or not spec.is_send or spec.direction not in self.role.receives:
            self._events.append(
                MessageIgnored(frame.message_id, f"SEND of unsupported action {frame.action}")
            )
            return
        try:
            payload = decode_payload(spec.request_decoder, frame.payload, self.version)
        except OcppError as error:
            # A SEND is never answered, not even with an error (2.1 Part 4 §4.2.4).
            self._events.append(
                MessageIgnored(frame.message_id, f"invalid {frame.action}: {error.description}")
            )
            return
        self._events.append(SendReceived(frame.message_id, spec.action, payload))

    def _receive_result(self, frame: frames.CallResult, now: float) -> None:
        call = self._take_outstanding(frame.message_id, "CALLRESULT")
        if call is None:
            return
        assert call.spec.response_decoder is not None  # SEND actions are never outstanding
        try:
            payload = decode_payload(call.spec.response_decoder, frame.payload, self.version)
        except OcppError as error:
            self._reject_result(call, error)
        else:
            self._events.append(ResultReceived(call.message_id, call.spec.action, call.request, payload))
        self._advance(now)

    def _receive_error(self, frame: frames.CallError, now: float) -> None:
        call = self._take_outstanding(frame.message_id, "CALLERROR")
        if call is None:
            return
        error = error_from_wire(frame.error_code, frame.error_description, frame.error_details)
        self._events.append(ErrorReceived(call.message_id, call.spec.action, call.request, error))
        self._advance(now)

    def _receive_unknown_type(self, message_type: int, message_id: str) -> None:
        if self.version is Version.V201:
            error = MessageTypeNotSupported(f"Message type {message_type} is not supported")
            self._reject(message_id, "", error)
        else:
            self._events.append(MessageIgnored(message_id, f"unknown message type {message_type}"))

    def _receive_oversize(self, data: str | bytes, now: float) -> None:
        error = FormatViolation(f"Message exceeds {self.max_message_size} bytes")
        head = frames.peek_head(data)
        message_type, message_id = head if head is not None else (0, frames.UNREADABLE_MESSAGE_ID)
        if message_type == frames.MessageType.CALL:
            self._reject(message_id, "", error)
        elif message_type == frames.MessageType.CALLRESULT and message_id == self.outstanding_call:
            # The answer to our CALL that we cannot take: fail the CALL now rather than let it time out.
            call = self._outstanding
            assert call is not None
            self._outstanding = None
            self._reject_result(call, error)
            self._advance(now)
        else:
            self._events.append(MessageIgnored(message_id, error.description))

    def _reject(self, message_id: str, action: str, error: OcppError) -> None:
        self._output.append(self._error_frame(message_id, error))
        self._events.append(CallRejected(message_id, action, error))

    def _reject_result(self, call: _OutgoingCall, error: OcppError) -> None:
        if self.version is Version.V21:  # 2.1 Part 4 §4.2.3: CALLRESULTERROR answers an invalid CALLRESULT
            self._output.append(self._error_frame(call.message_id, error, frames.MessageType.CALLRESULTERROR))
        self._events.append(ErrorReceived(call.message_id, call.spec.action, call.request, error, True))

    def _take_outstanding(self, message_id: str, what: str) -> _OutgoingCall | None:
        call = self._outstanding
        if call is None or call.message_id != message_id:
            self._events.append(MessageIgnored(message_id, f"{what} matches no outstanding CALL"))
            return None
        self._outstanding = None
        return call

    def _advance(self, now: float) -> None:
        if self._outstanding is None and self._queue:
            self._transmit(self._queue.popleft(), now)

    def _transmit(self, call: _OutgoingCall, now: float) -> None:
        call.deadline = now + self.call_timeout
        self._outstanding = call
        self._output.append(frames.encode_call(call.message_id, call.spec.action, call.payload))

    def _handles(self, action: str) -> bool:
        return self.handled_actions is None or action in self.handled_actions

    def _spec_for_request(self, request: Payload) -> ActionSpec:
        spec = self.catalog.by_request.get(type(request))
        if spec is None:
            raise LocalProtocolError(
                f"{type(request).__name__} is not a request of OCPP {self.version.value}"
            )
        if spec.direction not in self.role.sends:
            raise LocalProtocolError(f"a {self.role.name} does not send {spec.action}")
        return spec

    def _encode_payload(
        self, spec: ActionSpec, payload: Payload, decoder: msgspec.json.Decoder[Any]
    ) -> bytes:
        body = _ENCODER.encode(payload)
        if self.validate_outgoing:
            try:
                decode_payload(decoder, body, self.version)
            except OcppError as error:
                raise InvalidOutgoingPayload(spec.action, error) from None
        return body

    def _check_size(self, size: int) -> None:
        if size > self.max_message_size:
            raise MessageTooLarge(f"message of {size} bytes exceeds {self.max_message_size}")

    def _error_frame(
        self, message_id: str, error: OcppError, kind: frames.MessageType = frames.MessageType.CALLERROR
    ) -> bytes:
        return frames.encode_error(
            message_id, error.code_for(self.version), error.description, error.details, kind
        )


def _counter_ids() -> Callable[[], str]:
    """Message ids ``<12 random hex>-<counter>``: unique on the connection, unlikely to repeat across them.

    The prefix is drawn with the first id: most of a CSMS's connections send nothing in their first minutes,
    and the draw is a system call that gave up the GIL in the middle of every handshake (#19)."""
    prefix = ""
    counter = 0

    def next_id() -> str:
        nonlocal counter, prefix
        if not prefix:
            prefix = secrets.token_hex(6)
        counter += 1
        return f"{prefix}-{counter}"

    return next_id
