"""Per-connection CSMS state and the registration gate (B02, B03).

Until a station is Accepted it may send only what the spec allows:

==========  ==================================================================================
status      what the CSMS accepts from the station
==========  ==================================================================================
Accepted    everything
Pending     BootNotification, NotifyReport (answers to GetBaseReport/GetReport, B02.FR.02) and
            the messages the CSMS asked for with TriggerMessage; anything else: SecurityError
            (B02.FR.09)
Rejected    BootNotification only; anything else: SecurityError (B03.FR.07)
(no boot)   as Pending: a station the CSMS has never seen boot must boot first
==========  ==================================================================================

The status persists across reconnects: a station that reconnects without rebooting does not send
BootNotification again (2.0.1 Part 4 §5.3), so the session starts from the stored status.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chargeplane.ocpp.errors import OcppError, SecurityError
from chargeplane.transport.connection import OcppConnection

ACCEPTED, PENDING, REJECTED = "Accepted", "Pending", "Rejected"

_ALWAYS = frozenset({"BootNotification"})
_WHILE_PENDING = _ALWAYS | {"NotifyReport"}


@dataclass
class StationSession:
    station_id: str
    registration_status: str | None  # None: never booted
    triggered: set[str] = field(default_factory=set)  # actions requested by TriggerMessage, allowed once
    booted: bool = False  # a BootNotification came on this connection (a later one is no reboot)

    def refusal(self, action: str) -> OcppError | None:
        status = self.registration_status
        if status == ACCEPTED or action in _ALWAYS:
            return None
        if status == REJECTED:
            return SecurityError("Charging station is rejected; only BootNotification is accepted")
        if action in _WHILE_PENDING:
            return None
        if action in self.triggered:
            self.triggered.discard(action)
            return None
        return SecurityError("Charging station is not accepted yet")


def session_of(connection: OcppConnection) -> StationSession:
    session = connection.state
    if not isinstance(session, StationSession):
        raise RuntimeError(f"connection of {connection.station_id} has no CSMS session")
    return session


def registration_guard(action: str, connection: OcppConnection) -> OcppError | None:
    """The router guard of every CSMS router."""
    return session_of(connection).refusal(action)
