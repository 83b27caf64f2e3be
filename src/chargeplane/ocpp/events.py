"""What the RPC endpoint reports to its driver: frozen, past-tense events."""

from __future__ import annotations

from dataclasses import dataclass

from chargeplane.ocpp.errors import OcppError
from chargeplane.ocpp.messages.base import Payload


@dataclass(frozen=True, slots=True)
class CallReceived:
    """A valid CALL from the peer. Answer it with ``send_result`` or ``send_error`` (same ``message_id``)."""

    message_id: str
    action: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class SendReceived:
    """A valid 2.1 SEND from the peer. It must never be answered."""

    message_id: str
    action: str
    payload: Payload


@dataclass(frozen=True, slots=True)
class ResultReceived:
    """The valid CALLRESULT to our CALL ``message_id``."""

    message_id: str
    action: str
    request: Payload
    payload: Payload


@dataclass(frozen=True, slots=True)
class ErrorReceived:
    """Our CALL ``message_id`` failed: the peer answered CALLERROR, or its CALLRESULT did not validate
    (``rejected_result`` is then True, and on 2.1 the endpoint has answered it with CALLRESULTERROR)."""

    message_id: str
    action: str
    request: Payload
    error: OcppError
    rejected_result: bool = False


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """No answer to our CALL ``message_id`` within the timeout; the next queued CALL goes out."""

    message_id: str
    action: str
    request: Payload


@dataclass(frozen=True, slots=True)
class CallAborted:
    """Our CALL ``message_id`` will get no answer: the connection was closed or replaced
    (:meth:`RpcEndpoint.abort_calls`). ``transmitted`` is False for a CALL that was still queued, which the
    peer never saw and which may safely be sent again."""

    message_id: str
    action: str
    request: Payload
    reason: str
    transmitted: bool


@dataclass(frozen=True, slots=True)
class CallRejected:
    """An incoming CALL the endpoint answered itself with a CALLERROR (bad frame, unknown action, invalid
    payload). ``action`` is empty when the frame could not be read that far."""

    message_id: str
    action: str
    error: OcppError


@dataclass(frozen=True, slots=True)
class ResultErrorReceived:
    """2.1: the peer rejected a CALLRESULT we sent, with a CALLRESULTERROR."""

    message_id: str
    error: OcppError


@dataclass(frozen=True, slots=True)
class MessageIgnored:
    """A message the endpoint dropped without answering: a late or unknown CALLRESULT/CALLERROR, an invalid
    SEND, an unknown message type on 1.6/2.1, a duplicate CALL id."""

    message_id: str
    reason: str


Event = (
    CallReceived
    | SendReceived
    | ResultReceived
    | ErrorReceived
    | CallTimedOut
    | CallAborted
    | CallRejected
    | ResultErrorReceived
    | MessageIgnored
)
