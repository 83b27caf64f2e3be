"""Helpers for the CSMS-initiated CALLs of the availability, reservation and data-transfer blocks: checking
a request against its schema before anything is stored or sent, and turning the command errors into HTTP
answers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import msgspec
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import (
    HTTP_409_CONFLICT,
    HTTP_502_BAD_GATEWAY,
    HTTP_504_GATEWAY_TIMEOUT,
)
from msgspec import UnsetType

from chargeplane.csms.bus.commands import StationOffline
from chargeplane.ocpp.endpoint import LocalProtocolError
from chargeplane.ocpp.errors import UnknownErrorCode
from chargeplane.ocpp.messages import v21, v201
from chargeplane.ocpp.messages.base import Payload, json_decoder, present
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

P = TypeVar("P", bound=Payload)


class InvalidRequest(ValueError):
    """What the operator asked for does not make a valid OCPP request for this station."""


class UnknownStation(LookupError):
    pass


def checked(request: P) -> P:
    """``request`` if it fits its schema (lengths, enums, formats), else :class:`InvalidRequest`."""
    try:
        json_decoder(type(request)).decode(msgspec.json.encode(request))
    except msgspec.ValidationError as error:
        raise InvalidRequest(str(error)) from None
    return request


def status_reason(
    info: v201.datatypes.StatusInfoType | v21.datatypes.StatusInfoType | UnsetType,
) -> tuple[str | None, str | None]:
    """``reasonCode`` and ``additionalInfo`` of a 2.x response's ``statusInfo`` (``None`` when absent)."""
    if isinstance(info, UnsetType):
        return None, None
    return info.reason_code, present(info.additional_info)


@contextmanager
def station_call_errors() -> Iterator[None]:
    """Map the errors of a command to the station onto HTTP: 400 invalid request, 404 unknown station,
    409 station offline, 502 CALLERROR or lost connection, 504 no answer in time."""
    try:
        yield
    except InvalidRequest as error:
        raise ValidationException(str(error)) from None
    except UnknownStation as error:
        raise NotFoundException(f"no station {error}") from None
    except StationOffline as error:
        raise HTTPException(status_code=HTTP_409_CONFLICT, detail=f"station {error} is offline") from None
    except CallFailed as error:
        raise HTTPException(
            status_code=HTTP_502_BAD_GATEWAY,
            detail=f"the station answered with an error: {_describe(error)}",
        ) from None
    except ConnectionLost:
        raise HTTPException(
            status_code=HTTP_502_BAD_GATEWAY, detail="the connection to the station was lost"
        ) from None
    except CallTimeout:
        raise HTTPException(
            status_code=HTTP_504_GATEWAY_TIMEOUT, detail="the station did not answer in time"
        ) from None
    except LocalProtocolError as error:
        raise ValidationException(str(error)) from None


def _describe(failure: CallFailed) -> str:
    error = failure.error
    code = error.received_code if isinstance(error, UnknownErrorCode) else error.code
    return f"{code} {error.description}".strip()
