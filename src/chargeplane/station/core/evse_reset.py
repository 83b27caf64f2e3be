"""Reset of one EVSE (B11/B12 with evseId, 2.1 B13.FR.10-14): the EVSE restarts, the station does not.

An EVSE that announces EVSE.AllowReset true (B11.FR.10; ReadOnly, a manufacturer's setting) can be reset on its
own; one that does not is Rejected (B11.FR.09 / B12.FR.09). While it resets (:data:`RESET_TIME`) the EVSE is
Unavailable (B11.FR.08's optional notice) and takes no session; the other EVSEs carry on. A reservation and an
Inoperative state survive the reset (B11.FR.05, B12.FR.06): neither is touched here.

* Immediate: the EVSE's transaction ends first, stoppedReason ImmediateReset, triggerReason ResetCommand
  (B12.FR.08); Accepted.
* OnIdle: with a transaction, Scheduled (B12.FR.01); the reset starts once that transaction has ended normally
  (B12.FR.07). Without one, Accepted and reset at once.
* 2.1 ImmediateAndResume: Rejected without transaction resumption (B13.FR.01); else the transaction gets an
  Updated event ResetCommand (B13.FR.04), its energy stops (B13.FR.10), the EVSE resets (B13.FR.11) and the
  transaction then resumes in its former state whatever the ResumptionTimeout (B13.FR.12), without energy when
  AllowEnergyTransferResumption is false (B13.FR.13/14), with TxResumed (B13.FR.30).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from chargeplane.station.core import availability, transactions, tx_resume
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import Evse, SetContactor

RESET_TIME = timedelta(seconds=1)  # how long the simulated EVSE hardware takes to restart
ALLOW_RESET = ("EVSE", "AllowReset")
IMMEDIATE, ON_IDLE, AND_RESUME = "Immediate", "OnIdle", "ImmediateAndResume"


class EvseReset(Controller):
    __slots__ = ("_due", "_resume", "_scheduled")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._due: dict[int, datetime] = {}  # EVSEs resetting, until when
        self._resume: set[int] = set()  # EVSEs whose transaction resumes after the reset (B13.FR.12)
        self._scheduled: set[int] = set()  # OnIdle resets waiting for the EVSE's transaction (B12.FR.07)

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        # B11.FR.10: every EVSE of this station can be reset on its own
        return [
            var(*ALLOW_RESET, "boolean", "true", "ReadOnly", evse=evse)
            for evse in range(1, len(layout.connectors) + 1)
        ]

    def allowed(self, evse: Evse) -> bool:
        return self.ctx.model.value(*ALLOW_RESET, evse=evse.id) == "true"

    def request(self, evse_id: int, kind: str, now: datetime) -> str:
        """Accepted, Scheduled or Rejected (an unknown EVSE, or one that cannot be reset on its own)."""
        ctx = self.ctx
        evse = ctx.evses.get(evse_id)
        if evse is None or not self.allowed(evse):
            return "Rejected"
        if kind == AND_RESUME:
            return self._reset_and_resume(evse, now)
        if evse.tx is not None:
            if kind == ON_IDLE:
                self._scheduled.add(evse.id)
                return "Scheduled"
            # B12.FR.08: ended before the EVSE resets
            ctx.get(transactions.Transactions).force_stop(evse, "ImmediateReset", "ResetCommand", now)
        self._begin(evse, now)
        return "Accepted"

    def _reset_and_resume(self, evse: Evse, now: datetime) -> str:
        ctx = self.ctx
        if not ctx.get(tx_resume.Resumption).enabled:
            return "Rejected"  # B13.FR.01
        tx = evse.tx
        if tx is not None and not evse.resuming:
            ctx.get(transactions.Transactions).emit(evse, TxEvent(TxEventKind.UPDATED, "ResetCommand"), now)
            tx.resume_after_reset = True  # its state is kept as it was (meter readings ignored meanwhile)
            self._resume.add(evse.id)
            if evse.contactor:  # B13.FR.10: the energy stops while the EVSE resets
                evse.contactor = evse.flowing = evse.flowed_since_close = False
                ctx.act(SetContactor(evse.id, False))
        self._begin(evse, now)
        return "Accepted"

    def _begin(self, evse: Evse, now: datetime) -> None:
        self._scheduled.discard(evse.id)
        evse.resetting = True
        self._due[evse.id] = now + RESET_TIME
        self.ctx.get(availability.Availability).update_status(evse, now)  # Unavailable while resetting

    def _finish(self, evse: Evse, now: datetime) -> None:
        ctx = self.ctx
        evse.resetting = False
        txs = ctx.get(transactions.Transactions)
        tx = evse.tx
        if evse.id in self._resume and tx is not None:
            self._resume.discard(evse.id)
            tx.resume_after_reset = False
            if tx.charging_state in tx_resume.HELD_STATES and not ctx.model.flag(
                tx_resume.TX, "AllowEnergyTransferResumption"
            ):
                tx.energy_blocked = True  # B13.FR.14: SuspendedEVSE
            txs.resumed(evse, now)  # B13.FR.12 / B13.FR.30
            return
        self._resume.discard(evse.id)
        txs.evaluate(evse, now, "ResetCommand")  # back in service: its status, a session may start again

    # ------------------------------------------------------------------ hooks and timer
    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        if evse.id in self._scheduled:
            self._begin(evse, now)  # B12.FR.07: the OnIdle reset that waited

    def next_deadline(self) -> datetime | None:
        return min(self._due.values(), default=None)

    def handle_timer(self, now: datetime) -> None:
        for evse_id, due in sorted(self._due.items()):
            if due <= now:
                del self._due[evse_id]
                self._finish(self.ctx.evses[evse_id], now)
