"""The OCPP-J error codes as one exception tree.

Each class knows its wire code per version (OCPP-J 1.6 §4.2.3 Table 7, 2.0.1 Part 4 §4.3 Table 8,
2.1 Part 4 §4.3 Table 9). 1.6 keeps two misspellings that its errata (§5.1-5.2) will not fix:
``FormationViolation`` and ``OccurenceConstraintViolation``; we send those on 1.6 and accept both spellings
of every code on receive. 2.0.1 and 2.1 use ``OccurrenceConstraintViolation`` (Part 4 Table 8; some
peers send the 1.6 spelling on 2.0.1, which is why receive is lenient).

Codes that do not exist in 1.6 (``MessageTypeNotSupported``, ``RpcFrameworkError``) are sent there as
the closest 1.6 code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from chargeplane.ocpp.versions import Version

MAX_DESCRIPTION_LENGTH = 255  # ErrorDescription is string[255] (2.0.1 Part 4 Table 7)


class OcppError(Exception):
    """An error that travels as a CALLERROR (or a 2.1 CALLRESULTERROR).

    ``description`` is meant for the peer: keep internals out of it. It is cut to 255 characters.
    """

    code: ClassVar[str] = "GenericError"
    code_v16: ClassVar[str | None] = None  # the 1.6 spelling, where it differs
    default_description: ClassVar[str] = ""

    def __init__(self, description: str | None = None, details: Mapping[str, Any] | None = None) -> None:
        text = self.default_description if description is None else description
        self.description = text[:MAX_DESCRIPTION_LENGTH]
        self.details: dict[str, Any] = dict(details) if details else {}
        super().__init__(self.description)

    def code_for(self, version: Version) -> str:
        """The wire code of this error in ``version``."""
        if version is Version.V16 and self.code_v16 is not None:
            return self.code_v16
        return self.code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r})"


class NotImplementedAction(OcppError):
    """The action is not known to the receiver."""

    code = "NotImplemented"
    default_description = "Requested action is not known"


class NotSupported(OcppError):
    """The action is known but this implementation does not support it."""

    code = "NotSupported"
    default_description = "Requested action is not supported"


class InternalError(OcppError):
    code = "InternalError"
    default_description = "An internal error occurred"


class ProtocolError(OcppError):
    """2.x: the payload does not fit the message's structure; 1.6: the payload is incomplete."""

    code = "ProtocolError"


class SecurityError(OcppError):
    code = "SecurityError"


class FormatViolation(OcppError):
    """The payload (or the frame) is syntactically incorrect."""

    code = "FormatViolation"
    code_v16 = "FormationViolation"


class PropertyConstraintViolation(OcppError):
    """A field holds a value outside what its type allows (enum, range, length, format)."""

    code = "PropertyConstraintViolation"


class OccurrenceConstraintViolation(OcppError):
    """A field occurs a wrong number of times (missing required field, too few or too many items)."""

    code = "OccurrenceConstraintViolation"
    code_v16 = "OccurenceConstraintViolation"


class TypeConstraintViolation(OcppError):
    """A field has the wrong JSON type (e.g. a number where a string belongs)."""

    code = "TypeConstraintViolation"


class GenericError(OcppError):
    code = "GenericError"


class MessageTypeNotSupported(OcppError):
    """2.0.1: a frame with a message type number this implementation does not support."""

    code = "MessageTypeNotSupported"
    code_v16 = "FormationViolation"


class RpcFrameworkError(OcppError):
    """The frame is not a valid RPC message (e.g. its message id cannot be read)."""

    code = "RpcFrameworkError"
    code_v16 = "FormationViolation"


class UnknownErrorCode(GenericError):
    """A CALLERROR we received with a code that no version defines; ``received_code`` keeps it."""

    def __init__(self, received_code: str, description: str = "", details: Mapping[str, Any] | None = None):
        super().__init__(description, details)
        self.received_code = received_code


_ALL: tuple[type[OcppError], ...] = (
    NotImplementedAction,
    NotSupported,
    InternalError,
    ProtocolError,
    SecurityError,
    FormatViolation,
    PropertyConstraintViolation,
    OccurrenceConstraintViolation,
    TypeConstraintViolation,
    GenericError,
    MessageTypeNotSupported,
    RpcFrameworkError,
)

# Receive side: every spelling of every version. The 1.6 names that stand in for 2.x-only codes
# (FormationViolation for RpcFrameworkError) resolve to the 1.6 meaning, FormatViolation.
_BY_CODE: dict[str, type[OcppError]] = {cls.code: cls for cls in _ALL}
_BY_CODE["FormationViolation"] = FormatViolation
_BY_CODE["OccurenceConstraintViolation"] = OccurrenceConstraintViolation


def error_from_wire(code: str, description: str, details: Mapping[str, Any]) -> OcppError:
    """The exception for a received CALLERROR / CALLRESULTERROR, whatever the version's spelling."""
    cls = _BY_CODE.get(code)
    if cls is None:
        return UnknownErrorCode(code, description, details)
    return cls(description, details)
