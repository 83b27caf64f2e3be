"""Transactions (E01-E15): when a transaction starts, what it reports, when and why it ends.

Owns the per-EVSE transaction and its authorization state, the hardware events that move it (cable,
meter, fault), the contactor and lock, the TxCtrlr variables, the EVConnectionTimeOut deadline (E03.FR.05),
the recovery of a transaction cut by a power loss or reboot (E06, B11), the CSMS's verdict on the token
carried in a transaction message (E05, C15) and GetTransactionStatus (E14).

Theory of operation: after every event :meth:`Transactions.evaluate` applies the pure rules of
:mod:`.tx_rules` (TxStartPoint / TxStopPoint, charging state) and emits the transaction messages through
:meth:`Transactions.emit`, which checks each against the transition table and hands it to the version
adapter (TransactionEvent in 2.x, Start/Stop/MeterValues in 1.6); the adapter puts it in the durable queue.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

from chargeplane.ocpp.messages import v2x
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import availability, offline_queue, reservation, tx_resume, tx_rules
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.context import Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import (
    Evse,
    MeterReading,
    Registration,
    SetContactor,
    SetLock,
    ShowMessage,
    Token,
    Transaction,
    tx_from_json,
)

TX = "TxCtrlr"
TX_POINTS = "ParkingBayOccupancy,EVConnected,Authorized,DataSigned,PowerPathClosed,EnergyTransfer"
STARTED, UPDATED, ENDED = TxEventKind.STARTED, TxEventKind.UPDATED, TxEventKind.ENDED


class Transactions(Controller):
    __slots__ = ()

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", "boolean", "true"),
            var(TX, "Enabled", "boolean", "true", "ReadOnly"),
            var(TX, "EVConnectionTimeOut", "integer", "60", unit="s", min_limit=0),
            var(TX, "StopTxOnEVSideDisconnect", "boolean", "true"),
            var(TX, "StopTxOnInvalidId", "boolean", "true"),
            var(TX, "MaxEnergyOnInvalidId", "integer", "0", unit="Wh", min_limit=0),
            var(TX, "TxBeforeAcceptedEnabled", "boolean", "false"),
            var(TX, "TxStartPoint", "MemberList", "PowerPathClosed", values_list=TX_POINTS),
            var(TX, "TxStopPoint", "MemberList", "EVConnected,Authorized", values_list=TX_POINTS),
        ]

    def start(self, now: datetime) -> None:
        """A transaction still open in storage was cut by a power loss or reboot: end it (E06, B11), unless
        it resumes (2.1 B13 / E17)."""
        ctx = self.ctx
        for evse in ctx.evses.values():
            raw = ctx.storage.get_state(f"tx:{evse.id}")
            if raw is None:
                continue
            evse.tx = tx_from_json(json.loads(raw))
            if ctx.get(tx_resume.Resumption).restore(evse, now):
                continue
            reboot = ctx.boot_reason in ("RemoteReset", "LocalReset")
            reason = "Reboot" if reboot else "PowerLoss"
            self._end(evse, now, reason, "ResetCommand" if reboot else "AbnormalCondition")

    # ------------------------------------------------------------------ hardware events
    def plugged(self, evse: Evse, connector_id: int, now: datetime) -> None:
        if evse.plugged is not None:
            return
        evse.plugged = connector_id
        if evse.resuming:  # sensed at boot: the resumption reports the state (TxResumed)
            return
        evse.auth_deadline = None
        self.evaluate(evse, now, "CablePluggedIn")

    def unplugged(self, evse: Evse, now: datetime) -> None:
        if evse.plugged is None:
            return
        connector_id = evse.plugged
        evse.plugged = None
        evse.flowing = False
        evse.finishing = False
        self.evaluate(evse, now, "EVCommunicationLost")
        if evse.tx is None:
            evse.authorized = None
            evse.deauth = None
        if self.ctx.model.flag("OCPPCommCtrlr", "UnlockOnEVSideDisconnect"):
            self.ctx.act(SetLock(evse.id, connector_id, False))
        self.ctx.get(availability.Availability).update_status(evse, now)

    def meter(self, evse: Evse, reading: MeterReading, now: datetime) -> None:
        if evse.tx is not None and evse.tx.resume_after_reset:
            return  # B13: going down for the reset; the state before it is what resumes
        evse.meter = reading
        flowing = evse.contactor and reading.power_w > 1.0
        tx = evse.tx
        limit = None if tx is None or evse.suspended_invalid else tx.invalid_energy_limit_wh
        if tx is not None and limit is not None and reading.energy_wh - tx.meter_start_wh >= limit:
            evse.suspended_invalid = True  # C15: MaxEnergyOnInvalidId reached
            self.evaluate(evse, now, "EnergyLimitReached")
        if flowing != evse.flowing:
            evse.flowing = flowing
            evse.flowed_since_close = evse.flowed_since_close or flowing
            self.evaluate(evse, now, "ChargingStateChanged")

    def fault(self, evse: Evse, faulted: bool, now: datetime) -> None:
        evse.faulted = faulted
        if faulted and evse.tx is not None:
            evse.forced_stop = ("Other", "AbnormalCondition")  # E06.FR.16
        self.evaluate(evse, now, "AbnormalCondition")

    # ------------------------------------------------------------------ authorization of the EVSE
    def authorize(
        self, evse: Evse, token: Token, now: datetime, trigger: str, offline_unknown: bool = False
    ) -> None:
        ctx = self.ctx
        holder = evse.tx.token if evse.tx is not None and evse.tx.token else evse.authorized
        if holder is not None:
            ctx.act(ShowMessage("EVSE busy"))
            evse.pending_remote_start = None
            return
        from chargeplane.station.core.payments import Payments  # it imports this module

        if evse.pending_remote_start is not None:
            ctx.get(Payments).remote_start(evse, token, now)  # C25.FR.22: the CSMS starts the paid session
        elif ctx.get(Payments).held_for_web(evse, now):
            ctx.act(ShowMessage("Payment in progress on the web"))  # C25.FR.22
            return
        booked = ctx.get(reservation.Reservations).on(evse.id)
        if booked is not None and not reservation.matches(booked, token):
            ctx.act(
                ShowMessage("EVSE reserved")
            )  # H03.FR.01 / H03.FR.04: reserved for another token or group
            evse.pending_remote_start = None
            return
        evse.authorized = token
        evse.reservation_used = None
        if booked is not None and ctx.version is not Version.V16:
            # H03.FR.09 / H03.FR.10: consumed now, the connector freed (1.6 §5.13: at the transaction's start)
            evse.reservation_used = booked.id
            ctx.get(reservation.Reservations).use(booked.id)
        evse.deauth = None
        evse.suspended_invalid = False
        if evse.plugged is None:
            timeout = ctx.model.number(TX, "EVConnectionTimeOut")
            evse.auth_deadline = now + timedelta(seconds=timeout) if timeout > 0 else None
        if evse.tx is not None:
            evse.tx.offline_unknown_token = offline_unknown
        self.evaluate(evse, now, trigger)

    def end_authorization(self, evse: Evse, reason: str, trigger: str, now: datetime) -> None:
        ended = evse.authorized if evse.tx is None else None
        evse.authorized = None
        evse.auth_deadline = None
        evse.deauth = (reason, trigger)
        self.evaluate(evse, now, trigger)
        if evse.tx is None and evse.plugged is None:
            evse.deauth = None
        if ended is not None and evse.tx is None:  # C19: no transaction came of it
            for controller in self.ctx.controllers:
                controller.authorization_ended(evse, ended, now)

    def force_stop(self, evse: Evse, reason: str, trigger: str, now: datetime) -> None:
        """End the running transaction now with (stoppedReason, triggerReason)."""
        evse.forced_stop = (reason, trigger)
        self.evaluate(evse, now, trigger)

    def holder(self, evse: Evse) -> Token | None:
        """The token the EVSE runs for: the transaction's, else the pending authorization."""
        return evse.tx.token if evse.tx is not None and evse.tx.token else evse.authorized

    # ------------------------------------------------------------------ the state machine
    def evaluate(self, evse: Evse, now: datetime, trigger: str) -> None:
        ctx = self.ctx
        start_points = ctx.model.members(TX, "TxStartPoint")
        stop_points = ctx.model.members(TX, "TxStopPoint")
        if evse.plugged is not None and evse.tx is not None:
            evse.tx.ev_seen = True
        stop = None
        if evse.tx is not None:
            stop = tx_rules.stop_reason(evse, stop_points, ctx.model.flag(TX, "StopTxOnEVSideDisconnect"))
        # before the event, so that it has the new chargingState
        self._set_contactor(evse, tx_rules.contactor_closed(evse, stop is not None, ctx.station_operative))
        sent = False
        if evse.tx is None:
            evse.forced_stop = None
            accepted = ctx.registration is Registration.ACCEPTED or ctx.model.flag(
                TX, "TxBeforeAcceptedEnabled"
            )  # B02.FR.03 / B03.FR.01
            if (
                tx_rules.may_start(evse, ctx.station_operative)
                and accepted
                and tx_rules.start_due(evse, start_points)
            ):
                self._start(evse, now, trigger)
                sent = True
        elif stop is not None:
            self._end(evse, now, stop[0], stop[1])
            for controller in ctx.controllers:
                controller.transaction_ended(evse, now)
            ctx.get(availability.Availability).update_status(evse, now)
            return
        else:
            tx = evse.tx
            if evse.authorized is not None and not tx.token_sent:  # E03.FR.01 idToken once when authorized
                tx.token = evse.authorized
                self.emit(evse, TxEvent(UPDATED, trigger), now)
                sent = True
            elif evse.deauth is not None and tx.token_sent and tx.token is not None:
                self.emit(evse, TxEvent(UPDATED, evse.deauth[1], with_token=True), now)  # E07.FR.02
                tx.token = None
                sent = True
            elif evse.plugged is None and trigger == "EVCommunicationLost":
                self.emit(evse, TxEvent(UPDATED, trigger), now)  # E10: suspended, the EV may come back
                sent = True
        current = evse.tx
        if current is not None and not sent and tx_rules.charging_state(evse) != current.charging_state:
            # the cable plugged into a running transaction (started earlier, or suspended by an EV-side
            # disconnect, E10) is its own trigger (Part 6 EnergyTransferStarted step 3, TC_E_26)
            kept = (*tx_rules.LIMIT_TRIGGERS, "CablePluggedIn")
            reason = trigger if trigger in kept else "ChargingStateChanged"
            self.emit(evse, TxEvent(UPDATED, reason), now)
        ctx.get(availability.Availability).update_status(evse, now)

    def resumed(self, evse: Evse, now: datetime) -> None:
        """B13.FR.22-25 / E17.FR.11-16: a restored transaction takes up its former charging state (the power
        path closed and the connector locked again unless energy is held), then TxResumed says so."""
        tx = evse.tx
        assert tx is not None
        before = tx.charging_state
        self._set_contactor(evse, tx_rules.contactor_closed(evse, False, self.ctx.station_operative))
        if evse.contactor and before in tx_resume.HELD_STATES:  # the EV takes up where it was
            evse.flowed_since_close = True
            evse.flowing = before == "Charging"
        if self.ctx.version is Version.V21:  # 2.0.1 has no TxResumed: the transaction simply goes on
            tx.charging_state = None  # E17.FR.14: TxResumed carries its chargingState
            self.emit(evse, TxEvent(UPDATED, "TxResumed"), now)
        for controller in self.ctx.controllers:  # the metering samples again
            controller.transaction_started(evse, now)
        self.evaluate(evse, now, "TxResumed")

    def emit(self, evse: Evse, event: TxEvent, now: datetime) -> None:
        """One transaction message, checked against the transition table, built by the adapter."""
        tx_rules.transition(
            tx_rules.TxPhase.ONGOING if evse.tx is not None else tx_rules.TxPhase.IDLE, event.kind
        )
        self.ctx.adapter.transaction_event(self.ctx, evse, event, now)

    def _set_contactor(self, evse: Evse, closed: bool) -> None:
        if evse.contactor == closed:
            return
        evse.contactor = closed
        if not closed:
            evse.flowing = False
            evse.flowed_since_close = False
        self.ctx.act(SetContactor(evse.id, closed))
        if closed and evse.plugged is not None:
            self.ctx.act(SetLock(evse.id, evse.plugged, True))

    def _start(self, evse: Evse, now: datetime, trigger: str) -> None:
        """E01/E02/E03: Started, with a station-generated id never reused (E01.FR.08)."""
        ctx = self.ctx
        tx_rules.transition(tx_rules.phase_of(evse), STARTED)
        tx = Transaction(
            id=str(uuid.uuid4()),
            evse_id=evse.id,
            connector_id=evse.plugged or 1,
            started_at=ctx.ts(now),
            meter_start_wh=evse.meter.energy_wh,
            token=evse.authorized,
            remote_start_id=evse.pending_remote_start,
            ev_seen=evse.plugged is not None,
        )
        reservations = ctx.get(reservation.Reservations)
        booked = reservations.on(evse.id)
        if (
            booked is not None
            and evse.authorized is not None
            and reservation.matches(booked, evse.authorized)
        ):
            tx.reservation_id = booked.id  # E01.FR.13 reservationId once
            reservations.use(booked.id)
        elif evse.reservation_used is not None:  # consumed when its token authorized the EVSE
            tx.reservation_id = evse.reservation_used
        evse.reservation_used = None
        if tx.remote_start_id is not None:  # F02: the first event after a remote start says so (Part 6)
            trigger = "RemoteStart"
        evse.pending_remote_start = None
        evse.tx = tx
        ctx.adapter.transaction_event(ctx, evse, TxEvent(STARTED, trigger, context="Transaction.Begin"), now)
        for controller in ctx.controllers:  # the metering starts its samples; a firmware download pauses
            controller.transaction_started(evse, now)

    def _end(self, evse: Evse, now: datetime, reason: str, trigger: str) -> None:
        tx = evse.tx
        assert tx is not None
        # E07.FR.02: the token that ended it; a master pass stop is not the holder's doing (C16), so none then
        with_token = (
            tx.token is not None
            and tx.token_sent
            and trigger in ("StopAuthorized", "Deauthorized")
            and reason != "MasterPass"
        )
        event = TxEvent(
            ENDED, trigger, stopped_reason=reason, context="Transaction.End", with_token=with_token
        )
        # the Ended event's chargingState is the state after the end: an EV still connected to an open power
        # path is EVConnected, not SuspendedEVSE (the authorization ends with the transaction)
        evse.authorized = None
        self.emit(evse, event, now)
        evse.tx = None
        evse.next_sample = None
        evse.next_ended_sample = None
        evse.forced_stop = None
        evse.authorized = None
        evse.auth_deadline = None
        evse.deauth = None
        evse.suspended_invalid = False
        self.ctx.storage.set_state(f"tx:{evse.id}", None)

    # ------------------------------------------------------------------ the CSMS's verdict on the token
    def token_rejected(self, transaction_id: str, now: datetime) -> None:
        """E05 / C15 (2.x): a non-Accepted idTokenInfo ends or suspends the transaction."""
        ctx = self.ctx
        evse = next((e for e in ctx.evses.values() if e.tx is not None and e.tx.id == transaction_id), None)
        if evse is None or evse.tx is None or evse.authorized is None:
            return
        stop_points = ctx.model.members(TX, "TxStopPoint")
        if ctx.model.flag(TX, "StopTxOnInvalidId") or any(
            p in stop_points for p in ("Authorized", "PowerPathClosed")
        ):
            self.end_authorization(evse, "DeAuthorized", "Deauthorized", now)  # E05.FR.09-10 / C15.FR.03-04
            if evse.tx is not None:
                self.force_stop(evse, "DeAuthorized", "Deauthorized", now)
            return
        limit = ctx.model.number(TX, "MaxEnergyOnInvalidId")
        if limit > 0:  # E05.FR.03 / C15.FR.07: go on up to MaxEnergyOnInvalidId
            evse.tx.invalid_energy_limit_wh = float(limit)
        else:
            evse.suspended_invalid = True
            self.evaluate(evse, now, "Deauthorized")

    def token_rejected16(self, evse: Evse, now: datetime) -> None:
        """1.6 §4.8 StopTransactionOnInvalidId: stop, else suspend the energy."""
        if evse.tx is None:
            return
        if self.ctx.model.flag(TX, "StopTxOnInvalidId"):
            evse.authorized = None
            self.force_stop(evse, "DeAuthorized", "Deauthorized", now)
        else:
            evse.suspended_invalid = True
            self.evaluate(evse, now, "Deauthorized")

    # ------------------------------------------------------------------ timer
    def next_deadline(self) -> datetime | None:
        return min(
            (e.auth_deadline for e in self.ctx.evses.values() if e.auth_deadline is not None), default=None
        )

    def handle_timer(self, now: datetime) -> None:
        for evse in self.ctx.evses.values():
            if evse.auth_deadline is not None and evse.auth_deadline <= now:  # E03.FR.05 EVConnectionTimeOut
                evse.auth_deadline = None
                if evse.plugged is None and evse.authorized is not None:
                    self.end_authorization(evse, "Timeout", "EVConnectTimeout", now)


# ---------------------------------------------------------------------- handlers
def get_transaction_status(
    ctl: Transactions,
    request: v2x.GetTransactionStatusRequestT,
    now: datetime,
) -> v2x.GetTransactionStatusResponse:
    """E14: ongoingIndicator only for a given transactionId."""
    ns = v2x.dialect_of(request)
    queue = ctl.ctx.get(offline_queue.OfflineQueue).items
    tx_id = present(request.transaction_id)
    if tx_id is None:
        return ns.GetTransactionStatusResponse(messages_in_queue=bool(queue))
    ongoing = any(e.tx is not None and e.tx.id == tx_id for e in ctl.ctx.evses.values())
    queued = any(
        isinstance(q.request, ns.TransactionEventRequest)
        and q.request.transaction_info.transaction_id == tx_id
        for q in queue
    )
    return ns.GetTransactionStatusResponse(ongoing_indicator=ongoing, messages_in_queue=queued)


Transactions.on_2x = (route("GetTransactionStatus", get_transaction_status),)
