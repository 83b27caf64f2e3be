"""Commands across nodes: NATS request/reply to the node that holds the station's socket.

The asking node encodes the request as on the wire (action and JSON payload) and sends it to
``chargeplane.node.<holder>.call``; the holder decodes it with the same generated types, sends the CALL on
its connection and answers with the station's response payload, or with the kind of error, which the asking
node raises again as the same exception a local call would raise (so the API's error mapping is the one of
one node: 409 offline, 502 CALLERROR or connection lost, 504 timeout, 503 queue full...).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

import msgspec
from nats.aio.client import Client as Nats
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout

from chargeplane.csms.bus.commands import ConnectionLookup, LocalCommandRouter, StationOffline
from chargeplane.csms.cluster.presence import PresenceRegistry
from chargeplane.csms.errors import Conflict
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.endpoint import CallQueueFull, LocalProtocolError
from chargeplane.ocpp.errors import OcppError, error_from_wire
from chargeplane.ocpp.messages.base import ActionSpec, Payload
from chargeplane.ocpp.validation import decode_payload
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost, OcppConnection

log = logging.getLogger(__name__)

REPLY_MARGIN = 5.0  # seconds the asking node waits beyond the holder's call timeout


HolderGate = Callable[[OcppConnection, Payload], Awaitable[Payload]]
"""How the holding node sends a request that came from another node on its connection: where the rules that
need the connection's session apply (the remote control block's: B03.FR.03, the TriggerMessage gate)."""


async def _plain_call(connection: OcppConnection, request: Payload) -> Payload:
    return await connection.call(request)


def call_subject(node_id: str) -> str:
    return f"chargeplane.node.{node_id}.call"


class CallRequest(msgspec.Struct, frozen=True):
    station_id: str
    version: str
    action: str
    payload: msgspec.Raw


class CallReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """The holder's answer: ``payload`` or the kind of ``error`` (offline, failed, timeout, lost, queue_full,
    protocol, conflict) with what the asking node needs to raise it again."""

    payload: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))
    error: str | None = None
    message: str = ""
    action: str = ""
    code: str = ""
    description: str = ""
    details: dict[str, Any] = {}
    transmitted: bool = True


_encoder = msgspec.json.Encoder()


def _spec(version: Version, request: Payload) -> ActionSpec:
    spec = ActionCatalog.for_version(version).by_request.get(type(request))
    if spec is None:
        raise LocalProtocolError(f"{type(request).__name__} is not a request of OCPP {version.value}")
    return spec


def _reply_for(error: Exception, action: str) -> CallReply:
    """What the holder sends back for a call that raised ``error``."""
    if isinstance(error, StationOffline):
        return CallReply(error="offline")
    if isinstance(error, Conflict):  # a session rule on the holder (a Rejected station: B03.FR.03)
        return CallReply(error="conflict", message=str(error))
    if isinstance(error, CallFailed):
        ocpp = error.error
        code = getattr(ocpp, "received_code", ocpp.code)
        return CallReply(
            error="failed", action=action, code=code, description=ocpp.description, details=ocpp.details
        )
    if isinstance(error, CallTimeout):
        return CallReply(error="timeout", message=str(error))
    if isinstance(error, ConnectionLost):
        return CallReply(error="lost", message=str(error), transmitted=error.transmitted)
    if isinstance(error, CallQueueFull):
        return CallReply(error="queue_full", message=str(error))
    if isinstance(error, LocalProtocolError):
        return CallReply(error="protocol", message=str(error))
    if isinstance(error, OcppError):  # the request did not decode on the holder (a version mismatch)
        return CallReply(error="protocol", message=f"{error.code}: {error.description}")
    raise error


def raise_reply_error(reply: CallReply, station_id: str) -> NoReturn:
    """Raise on the asking node what the call raised on the holder."""
    kind = reply.error
    if kind == "offline":
        raise StationOffline(station_id)
    if kind == "conflict":
        raise Conflict(reply.message)
    if kind == "failed":
        raise CallFailed(reply.action, error_from_wire(reply.code, reply.description, reply.details))
    if kind == "timeout":
        raise CallTimeout(reply.message)
    if kind == "lost":
        raise ConnectionLost(reply.message, transmitted=reply.transmitted)
    if kind == "queue_full":
        raise CallQueueFull(reply.message)
    raise LocalProtocolError(reply.message or f"the holding node answered {kind!r}")


class ClusterCommandRouter(LocalCommandRouter):
    """A :class:`~chargeplane.csms.bus.commands.CommandRouter` for several nodes: local connections first,
    else the holding node named by the presence registry."""

    def __init__(
        self, connections: ConnectionLookup, presence: PresenceRegistry, call_timeout: float
    ) -> None:
        super().__init__(connections)
        self.presence = presence
        self.call_timeout = call_timeout
        self._nats: Nats | None = None
        self._subscription: Subscription | None = None
        self._serving: set[asyncio.Task[None]] = set()
        self.holder_gate: HolderGate = _plain_call

    async def start(self, nats: Nats) -> None:
        self._nats = nats
        self._subscription = await nats.subscribe(call_subject(self.presence.node_id), cb=self._on_request)

    async def stop(self) -> None:
        if self._subscription is not None:
            await self._subscription.unsubscribe()
            self._subscription = None
        for task in list(self._serving):
            task.cancel()
        await asyncio.gather(*self._serving, return_exceptions=True)

    # -- the CommandRouter ------------------------------------------------------------------------------

    def version_of(self, station_id: str) -> Version | None:
        local = super().version_of(station_id)
        if local is not None:
            return local
        entry = self.presence.holder(station_id)
        if entry is None or entry.node == self.presence.node_id:
            return None
        return Version(entry.version)

    async def call(self, station_id: str, request: Payload) -> Payload:
        connection = self.connection_for(station_id)
        if connection is not None and connection.is_open:
            return await connection.call(request)
        entry = self.presence.holder(station_id)
        if entry is None or entry.node == self.presence.node_id or self._nats is None:
            raise StationOffline(station_id)
        version = Version(entry.version)
        spec = _spec(version, request)
        body = _encoder.encode(
            CallRequest(station_id, entry.version, spec.action, msgspec.Raw(_encoder.encode(request)))
        )
        try:
            message = await self._nats.request(
                call_subject(entry.node), body, timeout=self.call_timeout + REPLY_MARGIN
            )
        except NoRespondersError:  # the holder is gone (its entry has not expired yet)
            raise StationOffline(station_id) from None
        except NatsTimeout:
            raise CallTimeout(f"no answer from node {entry.node} for {spec.action}") from None
        reply = msgspec.json.decode(message.data, type=CallReply)
        if reply.error is not None:
            raise_reply_error(reply, station_id)
        if spec.response_decoder is None:
            raise LocalProtocolError(f"{spec.action} is never answered")
        response: Payload = decode_payload(spec.response_decoder, bytes(reply.payload), version)
        return response

    # -- the holder's side --------------------------------------------------------------------------------

    async def _on_request(self, message: Msg) -> None:
        # Every request in its own task: a slow station must not hold up the calls to the others.
        task = asyncio.create_task(self._serve(message), name="cluster-call")
        self._serving.add(task)
        task.add_done_callback(self._serving.discard)

    async def _serve(self, message: Msg) -> None:
        try:
            request = msgspec.json.decode(message.data, type=CallRequest)
        except msgspec.DecodeError as error:  # another version of the product on the other node?
            await message.respond(
                _encoder.encode(CallReply(error="protocol", message=f"bad cluster call: {error}"))
            )
            return
        reply = await self._answer(request)
        try:
            await message.respond(_encoder.encode(reply))
        except Exception:  # the asker gave up, or NATS is away: nothing to answer to
            log.warning("%s: could not answer a cluster call", request.station_id, exc_info=True)

    async def _answer(self, request: CallRequest) -> CallReply:
        try:
            connection = self.connection_for(request.station_id)
            if connection is None or not connection.is_open:
                raise StationOffline(request.station_id)
            spec = ActionCatalog.for_version(connection.version).actions.get(request.action)
            if spec is None:
                raise LocalProtocolError(
                    f"{request.action} is not an action of OCPP {connection.version.value}"
                )
            payload = decode_payload(spec.request_decoder, bytes(request.payload), connection.version)
            response = await self.holder_gate(connection, payload)
        except Exception as error:
            return _reply_for(error, request.action)
        return CallReply(payload=msgspec.Raw(_encoder.encode(response)))
