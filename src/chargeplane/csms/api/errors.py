"""One mapping from what services and station commands raise to HTTP answers, for every route.

===  ==================================================================================================
400  :class:`~chargeplane.csms.errors.Invalid` (a rule beyond the body's types), a password against the
     rules, a request the OCPP endpoint refuses to send
404  :class:`~chargeplane.csms.errors.NotFound` (no such station, token, reservation, ...)
409  :class:`~chargeplane.csms.errors.Conflict` (station Rejected: B03.FR.03, the CSMS initiates nothing),
     station offline
422  :class:`~chargeplane.csms.errors.Unsendable`, the commands API will not send it: unknown action, an action stations send, payload against the
     schema or the spec (``extra.code`` is the OCPP error code, ``extra.description`` says where)
502  the station answered with a CALLERROR (``extra.code`` / ``extra.description``) or the connection
     was lost before the answer
503  :class:`~chargeplane.csms.errors.Busy`: too many commands wait for this station already
504  no answer within the call timeout
===  ==================================================================================================

The body is Litestar's error body (``status_code``, ``detail``, ``extra``), as for its own exceptions
(:class:`ErrorBody`). Besides these, every route may answer 400 (a body or parameter against its schema), 401
(no valid bearer token) and 403 (the token's scope does not allow the route). Routes document theirs with
``responses=error_responses(...)``; the statuses common to every route are added by ``build_api``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.exceptions.responses import create_exception_response
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_410_GONE,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_502_BAD_GATEWAY,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_504_GATEWAY_TIMEOUT,
)
from litestar.types import ExceptionHandlersMap

from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.errors import Busy, Conflict, Invalid, NotFound, Unsendable
from chargeplane.ocpp.endpoint import CallQueueFull, LocalProtocolError
from chargeplane.ocpp.errors import UnknownErrorCode
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost
from chargeplane.transport.security import PasswordRuleError


def _plain(status: int) -> Callable[[Exception], HTTPException]:
    return lambda error: HTTPException(status_code=status, detail=str(error))


def _offline(error: Exception) -> HTTPException:
    return HTTPException(status_code=HTTP_409_CONFLICT, detail=f"station {error} is offline")


def _unsendable(error: Exception) -> HTTPException:
    assert isinstance(error, Unsendable)
    return HTTPException(
        status_code=HTTP_422_UNPROCESSABLE_ENTITY,
        detail=f"{error.code}: {error.description}",
        extra={"code": error.code, "description": error.description},
    )


def _call_failed(error: Exception) -> HTTPException:
    assert isinstance(error, CallFailed)
    ocpp = error.error
    code = ocpp.received_code if isinstance(ocpp, UnknownErrorCode) else ocpp.code
    return HTTPException(
        status_code=HTTP_502_BAD_GATEWAY,
        detail=f"the station answered with an error: {code} {ocpp.description}".strip(),
        extra={"code": code, "description": ocpp.description},
    )


def _connection_lost(error: Exception) -> HTTPException:
    assert isinstance(error, ConnectionLost)
    return HTTPException(
        status_code=HTTP_502_BAD_GATEWAY,
        detail=f"connection lost before the answer: {error}",
        extra={"code": "ConnectionLost", "transmitted": error.transmitted},
    )


# The most specific class first where one derives from another (CallQueueFull is a LocalProtocolError).
_MAPPING: dict[type[Exception], Callable[[Exception], HTTPException]] = {
    NotFound: _plain(HTTP_404_NOT_FOUND),
    Conflict: _plain(HTTP_409_CONFLICT),
    Invalid: _plain(HTTP_400_BAD_REQUEST),
    PasswordRuleError: _plain(HTTP_400_BAD_REQUEST),
    Busy: _plain(HTTP_503_SERVICE_UNAVAILABLE),
    CallQueueFull: _plain(HTTP_503_SERVICE_UNAVAILABLE),
    LocalProtocolError: _plain(HTTP_400_BAD_REQUEST),
    StationOffline: _offline,
    Unsendable: _unsendable,
    CallFailed: _call_failed,
    ConnectionLost: _connection_lost,
    CallTimeout: lambda error: HTTPException(
        status_code=HTTP_504_GATEWAY_TIMEOUT, detail="no answer within the call timeout"
    ),
}


def http_error(error: Exception) -> HTTPException:
    """The HTTP answer for ``error`` (by its nearest mapped class)."""
    for kind in type(error).__mro__:
        answer = _MAPPING.get(kind)
        if answer is not None:
            return answer(error)
    raise TypeError(f"{type(error).__name__} has no HTTP mapping") from error


def _handle(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    return create_exception_response(request, http_error(error))


def exception_handlers() -> ExceptionHandlersMap:
    """For ``Litestar(exception_handlers=...)``: Litestar picks the handler by the exception's class."""
    return dict.fromkeys(_MAPPING, _handle)


# -- the OpenAPI side of the same mapping ------------------------------------------------------------------


class InvalidField(msgspec.Struct):
    """One complaint of a 400 about the request's body or parameters."""

    message: str
    key: str | None = None
    source: str | None = None  # body, query, path, header


class ErrorBody(msgspec.Struct):
    """Every error answer (Litestar's error body): ``extra`` holds the OCPP error of a 422 or 502 as
    ``{"code", "description"}``, the complaints of a 400 as a list."""

    status_code: int
    detail: str
    extra: dict[str, Any] | list[InvalidField] | None = None


STATUS_DESCRIPTIONS: dict[int, str] = {
    HTTP_400_BAD_REQUEST: "A body or parameter against its schema, or a rule beyond it (``detail`` says which)",
    HTTP_401_UNAUTHORIZED: "No valid bearer token",
    HTTP_403_FORBIDDEN: "The token's scope does not allow this route",
    HTTP_404_NOT_FOUND: "No such station (or other resource named in the path)",
    HTTP_409_CONFLICT: "Conflict: the resource exists already, or the station is offline or Rejected",
    HTTP_410_GONE: "The one-time URL was used already or has expired",
    HTTP_413_REQUEST_ENTITY_TOO_LARGE: "The body is larger than the limit",
    HTTP_422_UNPROCESSABLE_ENTITY: "The CSMS will not send this to the station: ``extra.code`` is the OCPP "
    "error code, ``extra.description`` says where",
    HTTP_502_BAD_GATEWAY: "The station answered with a CALLERROR (``extra.code``, ``extra.description``) or "
    "the connection was lost before the answer",
    HTTP_503_SERVICE_UNAVAILABLE: "Too many commands wait for this station already",
    HTTP_504_GATEWAY_TIMEOUT: "The station did not answer within the call timeout",
}
COMMON = (HTTP_400_BAD_REQUEST, HTTP_401_UNAUTHORIZED, HTTP_403_FORBIDDEN)  # every route
# A route that sends a CALL to a station: what the command router and the station may answer.
STATION_CALL = (
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_502_BAD_GATEWAY,
    HTTP_503_SERVICE_UNAVAILABLE,
    HTTP_504_GATEWAY_TIMEOUT,
)


def error_responses(*statuses: int) -> dict[int, ResponseSpec]:
    """``responses=`` for a route decorator: these statuses with the error body and their meaning."""
    return {
        status: ResponseSpec(
            data_container=ErrorBody, generate_examples=False, description=STATUS_DESCRIPTIONS[status]
        )
        for status in statuses
    }
