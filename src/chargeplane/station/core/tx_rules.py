"""Pure rules of the transaction state machine (E01-E15): no messages, no storage, no clock.

Theory of operation
-------------------
A transaction of an EVSE is either absent (``Idle``) or ``Ongoing``; the messages that describe it move it
through :data:`TRANSITIONS` (Started opens, Updated keeps, Ended closes). Anything else is a bug of the
station and raises :class:`TransactionStateError`.

When it starts and stops is configuration: TxStartPoint / TxStopPoint list conditions (E01, E06), and
:func:`conditions` says which hold for an EVSE now. A station without parking-bay sensor or signing meter
takes ParkingBayOccupancy = EVConnected and DataSigned = PowerPathClosed. :func:`start_due` and
:func:`stop_reason` are evaluated after every event; :func:`charging_state` is what TransactionEvent
reports (E01.FR.18 when it changes).
"""

from __future__ import annotations

import enum

from chargeplane.station.core.adapter import TxEventKind
from chargeplane.station.core.model import Evse


class TxPhase(enum.StrEnum):
    IDLE = "Idle"
    ONGOING = "Ongoing"


class TransactionStateError(RuntimeError):
    """A transaction message the EVSE's transaction state does not allow (a station bug)."""


TRANSITIONS: dict[tuple[TxPhase, TxEventKind], TxPhase] = {
    (TxPhase.IDLE, TxEventKind.STARTED): TxPhase.ONGOING,  # E01-E03: one Started per transaction
    (TxPhase.ONGOING, TxEventKind.UPDATED): TxPhase.ONGOING,
    (TxPhase.ONGOING, TxEventKind.ENDED): TxPhase.IDLE,  # E06: one Ended, then the id is never used again
}


def transition(phase: TxPhase, kind: TxEventKind) -> TxPhase:
    try:
        return TRANSITIONS[(phase, kind)]
    except KeyError:
        raise TransactionStateError(f"transaction {phase.value}: {kind.value} not allowed") from None


def phase_of(evse: Evse) -> TxPhase:
    return TxPhase.IDLE if evse.tx is None else TxPhase.ONGOING


def conditions(evse: Evse) -> dict[str, bool]:
    """The TxStartPoint / TxStopPoint conditions that hold now (E01 / E06)."""
    connected = evse.plugged is not None
    authorized = evse.authorized is not None
    return {
        "EVConnected": connected,
        "ParkingBayOccupancy": connected,
        "Authorized": authorized,
        "PowerPathClosed": connected and authorized,
        "DataSigned": connected and authorized,
        "EnergyTransfer": evse.flowing,
    }


def may_start(evse: Evse, station_operative: bool) -> bool:
    return evse.operative and station_operative and not evse.faulted and not evse.resetting


def start_due(evse: Evse, start_points: list[str]) -> bool:
    """E01.FR.01-06: any configured start point holds."""
    held = conditions(evse)
    return any(held.get(point, False) for point in start_points)


def stop_reason(evse: Evse, stop_points: list[str], stop_on_ev_disconnect: bool) -> tuple[str, str] | None:
    """(stoppedReason, triggerReason) when the running transaction must end now, else None."""
    if evse.forced_stop is not None:
        return evse.forced_stop
    if evse.authorized is None and evse.deauth is not None and evse.deauth[0] == "Timeout":
        return evse.deauth
    seen = evse.tx is not None and evse.tx.ev_seen
    cable_points = any(p in stop_points for p in ("EVConnected", "ParkingBayOccupancy", "PowerPathClosed"))
    if (
        seen and evse.plugged is None and (cable_points or stop_on_ev_disconnect)
    ):  # E09.FR.01 (E10: suspend instead)
        return ("EVDisconnected", "EVCommunicationLost")
    if (
        evse.authorized is None
        and evse.deauth is not None
        # E06.FR.07: with EnergyTransfer, the end of the authorization opens the power path, which stops the
        # energy transfer (the contactor's opening resets flowed_since_close, so the rule below cannot see it)
        and any(p in stop_points for p in ("Authorized", "PowerPathClosed", "EnergyTransfer"))
    ):
        return evse.deauth
    if "EnergyTransfer" in stop_points and evse.flowed_since_close and not evse.flowing:
        return ("StoppedByEV", "ChargingStateChanged")
    return None


# 2.1 E16: the trigger reasons of a reached transaction limit
LIMIT_TRIGGERS = ("CostLimitReached", "EnergyLimitReached", "TimeLimitReached", "SoCLimitReached")


def energy_held(evse: Evse) -> bool:
    """The transaction may not draw energy now: a limit reached (E16.FR.05), or resumed without energy
    transfer (B13.FR.25 / E17.FR.12)."""
    tx = evse.tx
    return tx is not None and (tx.limit_reached is not None or tx.energy_blocked)


def contactor_closed(evse: Evse, stopping: bool, station_operative: bool) -> bool:
    """The power path is closed for a connected, authorized EVSE in service that is not stopping."""
    return (
        not stopping
        and not energy_held(evse)
        and evse.plugged is not None
        and evse.authorized is not None
        and evse.operative
        and station_operative
        and not evse.faulted
        and not evse.suspended_invalid
        and not evse.resetting
    )


def charging_state(evse: Evse, ended: bool = False) -> str:
    """The 2.x ChargingStateEnumType of the EVSE now; ``ended``: for the event that ends the transaction,
    where an EV still connected is EVConnected, not suspended by the EVSE (TC_B_22_CS, E07)."""
    if evse.plugged is None:
        return "Idle"
    if evse.contactor:
        if evse.flowing:
            return "Charging"
        return "SuspendedEV" if evse.flowed_since_close else "EVConnected"
    if evse.authorized is not None and not ended:
        return "SuspendedEVSE"
    return "EVConnected"
