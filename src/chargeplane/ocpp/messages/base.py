"""Hand-written support for the generated message modules (``v16``, ``v201``, ``v21``).

The generated Structs follow three conventions that keep them faithful to the OCA schemas:

* optional fields default to :data:`msgspec.UNSET`, never ``None``: a ``null`` on the wire is rejected
  (the schemas do not allow it) and unset fields are left out on encode (OCPP-J 2.0.1 Part 4 §4.1.5);
* ``date-time`` fields are :data:`DateTime` strings checked against RFC 3339, kept verbatim so that what was
  received is what is re-encoded (signed data must survive); :mod:`chargeplane.ocpp.timestamps` converts;
* 2.x ``customData`` is an open object with a required ``vendorId``: :class:`CustomData`, checked by
  :func:`dec_hook`, which every decoder of generated types must use (see :func:`json_decoder`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, TypeVar

import msgspec

# RFC 3339 date-time (section 5.6), ASCII digits only, with the day checked against the month and
# 29 February only in leap years, as a JSON Schema ``format: date-time`` validator does. Like the
# validator behind jsonschema's format checker (rfc3339-validator), and like Python's datetime, it refuses
# year 0000 and leap seconds (``:60``), so every accepted value converts to a datetime.
_YEAR = "[0-9]{4}"
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = f"(?!0000)(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = (
    "[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
)
# msgspec applies patterns with re.search: anchor with \A and \Z (``$`` would let a trailing newline through).
RFC3339_PATTERN = f"\\A{_DATE}{_TIME}\\Z"

DateTime = Annotated[str, msgspec.Meta(pattern=RFC3339_PATTERN)]
"""A ``date-time`` string as it appears on the wire."""


class CustomData(dict[str, Any]):
    """2.x ``customData``: vendor extension data, open-ended apart from its required ``vendorId``."""

    @property
    def vendor_id(self) -> str:
        return str(self["vendorId"])


_VENDOR_ID_MAX_LENGTH = 255


def dec_hook(type_: type, obj: Any) -> Any:
    """msgspec decode hook for the types msgspec does not know natively (only :class:`CustomData`).

    Errors are raised as TypeError/ValueError so that msgspec adds the path; their texts follow msgspec's
    own wording, which :mod:`chargeplane.ocpp.validation` maps to OCPP error codes.
    """
    if type_ is CustomData:
        if not isinstance(obj, dict):
            raise TypeError(f"Expected `object`, got `{type(obj).__name__}`")
        vendor_id = obj.get("vendorId")
        if vendor_id is None:
            raise ValueError("Object missing required field `vendorId`")
        if not isinstance(vendor_id, str):
            raise TypeError(f"Expected `str`, got `{type(vendor_id).__name__}` for `vendorId`")
        if len(vendor_id) > _VENDOR_ID_MAX_LENGTH:
            raise ValueError(f"Expected `str` of length <= {_VENDOR_ID_MAX_LENGTH} for `vendorId`")
        return CustomData(obj)
    raise NotImplementedError(f"no decoder for {type_!r}")


class Payload(msgspec.Struct, kw_only=True, omit_defaults=True, frozen=True, gc=False):
    """Base of every generated request/response/datatype Struct."""


P = TypeVar("P", bound=Payload)
T = TypeVar("T")


def present(value: T | msgspec.UnsetType) -> T | None:
    """The value of an optional field, or ``None`` when it is unset."""
    return None if isinstance(value, msgspec.UnsetType) else value


def unset_if_none(value: T | None) -> T | msgspec.UnsetType:
    """The inverse of :func:`present`: ``None`` leaves an optional field unset (out of the message)."""
    return msgspec.UNSET if value is None else value


def json_decoder(type_: type[P]) -> msgspec.json.Decoder[P]:
    """A JSON decoder for a generated type, with the hooks the generated types rely on."""
    return msgspec.json.Decoder(type_, dec_hook=dec_hook)


class Direction(enum.Enum):
    """Who may send the request of an action (OCPP calls the two ends Charging Station and CSMS)."""

    STATION_TO_CSMS = "StationToCsms"
    CSMS_TO_STATION = "CsmsToStation"
    BOTH = "Both"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """One OCPP action of one version: its payload types and who sends it.

    ``response`` is ``None`` for a 2.1 SEND message (``NotifyPeriodicEventStream``), which is never answered.
    """

    action: str
    request: type[Payload]
    response: type[Payload] | None
    direction: Direction
    request_decoder: msgspec.json.Decoder[Any]
    response_decoder: msgspec.json.Decoder[Any] | None

    @classmethod
    def build(
        cls,
        action: str,
        request: type[Payload],
        response: type[Payload] | None,
        direction: Direction,
    ) -> ActionSpec:
        return cls(
            action=action,
            request=request,
            response=response,
            direction=direction,
            request_decoder=json_decoder(request),
            response_decoder=json_decoder(response) if response is not None else None,
        )

    @property
    def is_send(self) -> bool:
        return self.response is None


def check_multiple_of(value: float, step: str, field: str) -> None:
    """``multipleOf`` in decimal arithmetic, as the schema means it (1.6 charging limits: one decimal).

    Binary floating point would reject ``6.3`` as a multiple of ``0.1`` (``6.3 / 0.1 == 62.99999999999999``);
    the decimal text of the value does not have that problem. Called from the ``__post_init__`` of generated
    Structs.
    """
    if Decimal(repr(value)) % Decimal(step) != 0:
        raise ValueError(f"Expected `float` that's a multiple of {step} for `{field}`")
