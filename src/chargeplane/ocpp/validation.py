"""Payload decoding with the OCPP error code each kind of schema violation earns.

The generated Structs enforce every schema constraint; this module turns msgspec's complaint into the
code of OCPP-J 2.0.1 Part 4 Table 8 (1.6 spellings come from :mod:`chargeplane.ocpp.errors`):

===========================================  ===============================
what is wrong                                 code
===========================================  ===============================
not JSON                                      FormatViolation
payload is not an object, unknown field       ProtocolError (2.x) /
                                              FormationViolation (1.6)
required field missing, too few/many items    OccurrenceConstraintViolation
wrong JSON type (``null`` included)           TypeConstraintViolation
enum, range, length, date-time, multipleOf    PropertyConstraintViolation
===========================================  ===============================

The description names the field by its JSON path (``$.chargingStation.model``) and never echoes values.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from chargeplane.ocpp.errors import (
    FormatViolation,
    OccurrenceConstraintViolation,
    OcppError,
    PropertyConstraintViolation,
    ProtocolError,
    TypeConstraintViolation,
)
from chargeplane.ocpp.versions import Version

_PATH = re.compile(r" - at `(?P<path>[^`]*)`$")
_REGEX_DETAIL = re.compile(r" matching regex '.*'", re.DOTALL)


def decode_payload(decoder: msgspec.json.Decoder[Any], data: bytes, version: Version) -> Any:
    """Decode and validate ``data`` with a registry decoder; raise the matching :class:`OcppError`."""
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise error_for_validation(str(exc), version) from None
    except msgspec.DecodeError:
        raise FormatViolation("Payload is not valid JSON") from None
    except RecursionError:  # deeper than the decoder's limit (see chargeplane.ocpp.frames)
        raise FormatViolation("Payload is nested too deeply") from None


def error_for_validation(message: str, version: Version) -> OcppError:
    """The OCPP error for one msgspec validation message."""
    match = _PATH.search(message)
    path = match.group("path") if match else "$"
    reason = message[: match.start()] if match else message
    reason = _REGEX_DETAIL.sub(" in the required format", reason)
    description = f"{reason} at {path}" if match else reason
    if reason.startswith("Object contains unknown field") or (
        path == "$" and reason.startswith("Expected `object`, got")
    ):
        return (ProtocolError if version.is_2x else FormatViolation)(description)
    if reason.startswith("Object missing required field") or reason.startswith("Expected `array` of length"):
        return OccurrenceConstraintViolation(description)
    if reason.startswith("Expected `") and "`, got `" in reason:
        return TypeConstraintViolation(description)
    return PropertyConstraintViolation(description)
