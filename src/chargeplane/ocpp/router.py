"""A typed, per-instance registry of handlers for incoming CALLs.

A handler takes the decoded request Struct and a context (whatever the driver passes: the station's
session, say) and returns the response Struct, directly or as an awaitable::

    router = Router[Session](Version.V201, CSMS)

    @router.on(v201.HeartbeatRequest)
    async def heartbeat(request: v201.HeartbeatRequest, session: Session) -> v201.HeartbeatResponse:
        ...

A handler whose annotated return type is not the action's response type is refused at registration; one
without annotation is checked on every call (the endpoint refuses a wrong type, the peer gets
InternalError). Handlers raise :class:`~chargeplane.ocpp.errors.OcppError` to answer with a CALLERROR;
any other exception becomes InternalError with a generic description, and is logged here.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Generic, TypeVar

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

    @property
    def handled_actions(self) -> frozenset[str]:
        """The actions with a handler: give this to the endpoint so that the others get NotSupported."""
        return self._handled

    def register(
        self, request_type: type[R], handler: Callable[[R, C], Payload | Awaitable[Payload]]
    ) -> None:
        spec = self._spec_for(request_type)
        if spec.action in self._handlers:
            raise HandlerRegistrationError(f"{spec.action} already has a handler")
        _check_return_annotation(spec, handler)
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


def _check_return_annotation(spec: ActionSpec, handler: Callable[..., Any]) -> None:
    try:
        hints = typing.get_type_hints(handler)
    except Exception:  # unresolvable forward references: fall back to the per-call check
        return
    returned = hints.get("return")
    if returned is None or returned is Any:
        return
    if typing.get_origin(returned) is not None and typing.get_args(returned):  # Awaitable[X] and the like
        returned = typing.get_args(returned)[-1]
    if returned is not spec.response:
        expected = spec.response.__name__ if spec.response else "nothing"
        name = getattr(returned, "__name__", repr(returned))
        raise HandlerRegistrationError(f"handler for {spec.action} returns {name}; it must return {expected}")
