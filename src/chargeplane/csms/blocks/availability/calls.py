"""Helpers for the CSMS-initiated CALLs of the availability, reservation and data-transfer blocks: checking
a request against its schema before anything is stored or sent. (Their errors become HTTP answers in
:mod:`chargeplane.csms.api.errors`.)"""

from __future__ import annotations

from typing import TypeVar

import msgspec
from msgspec import UnsetType

from chargeplane.csms.errors import Invalid
from chargeplane.ocpp.messages import v21, v201
from chargeplane.ocpp.messages.base import Payload, json_decoder, present

P = TypeVar("P", bound=Payload)


class InvalidRequest(Invalid):
    """What the operator asked for does not make a valid OCPP request for this station."""


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
