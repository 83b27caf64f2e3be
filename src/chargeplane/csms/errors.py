"""The kinds of refusal a CSMS service raises, so that the HTTP API answers each kind the same way.

A block's own errors subclass one of these (``class UnknownToken(NotFound)``); the one mapping to HTTP status
codes lives in :mod:`chargeplane.csms.api.errors`. The message is what the operator reads (``detail``).
"""

from __future__ import annotations


class NotFound(LookupError):
    """What the request names does not exist (HTTP 404)."""


class Conflict(Exception):
    """The request contradicts the stored state (HTTP 409)."""


class Invalid(ValueError):
    """The request cannot be carried out as asked: a rule beyond the body's types (HTTP 400)."""


class Unsendable(Exception):
    """The CSMS will not send the command it was asked to (HTTP 422): ``code`` is an OCPP error code where
    one fits (the payload broke the schema) or a short reason (``UnknownAction``, ...)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


class Busy(Exception):
    """Too many requests wait for the same station already (HTTP 503)."""


class UnknownStation(NotFound):
    """No such station in the station table."""

    def __init__(self, station_id: str) -> None:
        super().__init__(f"no station {station_id}")
        self.station_id = station_id
