"""A typed, per-instance registry of handlers for incoming CALLs.

A handler takes the decoded request Struct and a context (whatever the driver passes: the station's
session, say) and returns the response Struct, directly or as an awaitable::

    router = Router[Session](Version.V201, CSMS)

    @router.on(v201.HeartbeatRequest)
    async def heartbeat(request: v201.HeartbeatRequest, session: Session) -> v201.HeartbeatResponse:
        ...

A handler whose annotated return type is neither the action's response type nor a union holding it (a
handler written once for 2.0.1 and 2.1, see :func:`register_2x`) is refused at registration; every
response is checked again on each call (the endpoint refuses a wrong type, the peer gets
InternalError). Handlers raise :class:`~chargeplane.ocpp.errors.OcppError` to answer with a CALLERROR;
any other exception becomes InternalError with a generic description, and is logged here.
"""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar, overload

from chargeplane.ocpp.catalog import ActionCatalog, Role
from chargeplane.ocpp.endpoint import RpcEndpoint
from chargeplane.ocpp.errors import InternalError, OcppError
from chargeplane.ocpp.events import CallReceived
from chargeplane.ocpp.messages.base import ActionSpec, Payload
from chargeplane.ocpp.versions import Version

log = logging.getLogger(__name__)

C = TypeVar("C")
R = TypeVar("R", bound=Payload)
Handler = Callable[[Any, C], Payload | Awaitable[Payload]]
R201 = TypeVar("R201", bound=Payload)
R21 = TypeVar("R21", bound=Payload)
_C_contra = TypeVar("_C_contra", contravariant=True)
_R201_contra = TypeVar("_R201_contra", bound=Payload, contravariant=True)
_R21_contra = TypeVar("_R21_contra", bound=Payload, contravariant=True)


class HandlerRegistrationError(TypeError):
    """A handler that cannot serve the action it was registered for."""


Guard = Callable[[str, C], OcppError | None]


class Router(Generic[C]):
    """Handlers for the incoming CALLs of one version and role.

    ``guard``, when given, sees each action and context before the handler and may refuse the CALL with an
    error (a CSMS refusing a station that is not accepted yet with SecurityError, B02.FR.09 / B03.FR.07).
    """

    def __init__(
        self,
        version: Version,
        role: Role,
        catalog: ActionCatalog | None = None,
        guard: Guard[C] | None = None,
    ) -> None:
        self.version = version
        self.role = role
        self.catalog = catalog if catalog is not None else ActionCatalog.for_version(version)
        self.guard = guard
        self._handlers: dict[str, Handler[C]] = {}
        self._handled: frozenset[str] = frozenset()
        self._send_handlers: dict[str, Callable[[Payload, C], Awaitable[None]]] = {}

    @property
    def handled_actions(self) -> frozenset[str]:
        """The actions with a handler: give this to the endpoint so that the others get NotSupported."""
        return self._handled

    @property
    def consumed_sends(self) -> frozenset[str]:
        """The 2.1 SEND actions with a consumer (never answered, so not among ``handled_actions``)."""
        return frozenset(self._send_handlers)

    def register(
        self, request_type: type[R], handler: Callable[[R, C], Payload | Awaitable[Payload]]
    ) -> None:
        spec = self._spec_for(request_type)
        if spec.action in self._handlers:
            raise HandlerRegistrationError(f"{spec.action} already has a handler")
        _check_return_annotation(spec, handler)
        self._handlers[spec.action] = handler
        self._handled = frozenset(self._handlers)

    def register_send(self, message_type: type[R], handler: Callable[[R, C], Awaitable[None]]) -> None:
        """A consumer of a 2.1 SEND message (never answered, not even when the consumer fails)."""
        spec = self.catalog.by_request.get(message_type)
        if spec is None or not spec.is_send or spec.direction not in self.role.receives:
            raise HandlerRegistrationError(f"{message_type.__name__} is not a SEND this side receives")
        self._send_handlers[spec.action] = typing.cast(Callable[[Payload, C], Awaitable[None]], handler)

    async def consume(self, action: str, payload: Payload, context: C) -> None:
        """Give a received SEND to its consumer, if any; failures are logged, never answered."""
        handler = self._send_handlers.get(action)
        if handler is None:
            log.info("SEND %s without a consumer: dropped", action)
            return
        try:
            await handler(payload, context)
        except Exception:
            log.exception("consumer of %s failed", action)

    def delegate(
        self,
        request_types: Iterable[type[Payload]],
        handler: Callable[[Payload, C], Payload | Awaitable[Payload]],
    ) -> None:
        """Route every action of ``request_types`` to one forwarding handler.

        For a driver over a core that keeps its own typed handler table (the station runtime forwards each
        CALL to ``StationCore.handle``): the forwarder can only promise a Payload, so its response is
        checked per call (the endpoint refuses a response of another action, the peer gets InternalError).
        """
        for request_type in request_types:
            spec = self._spec_for(request_type)
            if spec.action in self._handlers:
                raise HandlerRegistrationError(f"{spec.action} already has a handler")
            self._handlers[spec.action] = handler
        self._handled = frozenset(self._handlers)

    def on(self, request_type: type[R]) -> Callable[[Callable[[R, C], Any]], Callable[[R, C], Any]]:
        """Decorator form of :meth:`register`."""

        def decorate(handler: Callable[[R, C], Any]) -> Callable[[R, C], Any]:
            self.register(request_type, handler)
            return handler

        return decorate

    async def handle(self, endpoint: RpcEndpoint, call: CallReceived, context: C) -> None:
        """Run the handler of ``call`` and answer it on ``endpoint`` (result or CALLERROR)."""
        pending = self.dispatch(endpoint, call, context)
        if pending is not None:
            await pending

    def dispatch(
        self, endpoint: RpcEndpoint, call: CallReceived, context: C
    ) -> Coroutine[Any, Any, None] | None:
        """Like :meth:`handle`, but a synchronous handler is answered at once, with no coroutine at all; for an
        asynchronous one, the returned coroutine awaits it and answers (drivers run it as a task)."""
        outcome = self._start(endpoint, call, context)
        return None if outcome is None else self._finish(endpoint, call, outcome)

    async def _finish(self, endpoint: RpcEndpoint, call: CallReceived, outcome: Awaitable[Any]) -> None:
        try:
            endpoint.send_result(call.message_id, await outcome)
        except OcppError as error:
            endpoint.send_error(call.message_id, error)
        except Exception:
            self._crashed(endpoint, call)

    def _start(self, endpoint: RpcEndpoint, call: CallReceived, context: C) -> Any:
        """Answer ``call`` unless its handler returned an awaitable, which is returned to be awaited."""
        handler = self._handlers.get(call.action)
        if handler is None:  # the endpoint was built without this router's handled_actions
            endpoint.send_error(call.message_id, InternalError())
            log.error(
                "no handler for %s on %s; pass handled_actions to the endpoint", call.action, self.version
            )
            return None
        refusal = self.guard(call.action, context) if self.guard is not None else None
        if refusal is not None:
            endpoint.send_error(call.message_id, refusal)
            return None
        try:
            outcome = handler(call.payload, context)
            if inspect.isawaitable(outcome):
                return outcome
            endpoint.send_result(call.message_id, outcome)
        except OcppError as error:
            endpoint.send_error(call.message_id, error)
        except Exception:
            self._crashed(endpoint, call)
        return None

    @staticmethod
    def _crashed(endpoint: RpcEndpoint, call: CallReceived) -> None:
        log.exception("handler for %s failed", call.action)
        if call.message_id in endpoint.open_incoming_calls:
            endpoint.send_error(call.message_id, InternalError())

    def _spec_for(self, request_type: type[Payload]) -> ActionSpec:
        spec = self.catalog.by_request.get(request_type)
        if spec is None:
            raise HandlerRegistrationError(
                f"{request_type.__name__} is not a request of OCPP {self.version.value}"
            )
        if spec.direction not in self.role.receives:
            raise HandlerRegistrationError(f"a {self.role.name} never receives {spec.action}")
        if spec.is_send:
            raise HandlerRegistrationError(
                f"{spec.action} is a SEND message, never answered: not a CALL handler"
            )
        return spec


class Handler2x(Protocol[_R201_contra, _R21_contra, _C_contra]):
    """A handler written once that takes the request of 2.0.1 and the request of 2.1 (a function whose
    request parameter is a constrained TypeVar of :mod:`chargeplane.ocpp.messages.v2x`)."""

    @overload
    def __call__(self, request: _R201_contra, context: _C_contra, /) -> Payload | Awaitable[Payload]: ...
    @overload
    def __call__(self, request: _R21_contra, context: _C_contra, /) -> Payload | Awaitable[Payload]: ...


def register_2x(
    routers: Mapping[Version, Router[C]],
    request_types: tuple[type[R201], type[R21]],
    handler: Handler2x[R201, R21, C],
) -> None:
    """Register ``handler`` for the 2.0.1 request on ``routers[Version.V201]`` and for the 2.1 request on
    ``routers[Version.V21]``::

        async def heartbeat(request: v2x.HeartbeatRequestT, conn: Conn) -> v2x.HeartbeatResponse: ...

        register_2x(routers, (v201.messages.HeartbeatRequest, v21.messages.HeartbeatRequest), heartbeat)

    mypy checks the handler against both request types; each router checks its request type's version.
    """
    request_201, request_21 = request_types
    routers[Version.V201].register(request_201, handler)
    routers[Version.V21].register(request_21, handler)


def _check_return_annotation(spec: ActionSpec, handler: Callable[..., Any]) -> None:
    try:
        hints = typing.get_type_hints(handler)
    except Exception:  # unresolvable forward references: fall back to the per-call check
        return
    returned = hints.get("return")
    if returned is None or returned is Any:
        return
    # A union passes if the response is one of its members: a handler written once for 2.0.1 and 2.1
    # returns either version's response; the endpoint still refuses the other version's on each call.
    candidates = _returned_types(returned)
    if spec.response not in candidates:
        expected = spec.response.__name__ if spec.response else "nothing"
        names = " | ".join(getattr(t, "__name__", repr(t)) for t in candidates)
        raise HandlerRegistrationError(
            f"handler for {spec.action} returns {names}; it must return {expected}"
        )


def _returned_types(annotation: Any) -> tuple[Any, ...]:
    """The types a return annotation may produce: union members, with ``Awaitable[X]`` and the like unwrapped."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return tuple(t for arg in args for t in _returned_types(arg))
    if origin is not None and args:  # Awaitable[X], Coroutine[Any, Any, X]
        return _returned_types(args[-1])
    return (annotation,)
