"""Resuming transactions (2.1 B13 Reset ImmediateAndResume, E17 after a forced reboot or power loss).

Resumption is on when TxCtrlr.ResumptionTimeout > 0 (B13 remarks, E17 prerequisite). While a transaction
runs the station then records every :data:`ALIVE_EVERY` seconds that it is up (E17.FR.02: how long the
interruption lasted is measured from that record); the transaction itself is in storage after every event
(E17.FR.01).

At boot, :meth:`Resumption.restore` decides for each transaction found in storage: one cut by a Reset
ImmediateAndResume (or by the reboot of a firmware installed while charging, C-43) is always resumed
(B13.FR.23), another one when the interruption did not last longer than
the timeout (E17.FR.10); else the transactions block ends it as before (E17.FR.20-22). A resumed transaction
keeps its id and seqNo; once the station knows whether the EV is still there (the hardware reports the cable
right after boot), :meth:`Resumption.handle_timer` resumes it in its former charging state, without energy
when TxCtrlr.AllowEnergyTransferResumption is false (B13.FR.25, E17.FR.12), and (2.1) sends TxResumed
(B13.FR.30, E17.FR.14); an EV gone with TxStopPoint met ends it normally (E17.FR.17). After a power loss
(not a B13 reset) a transaction that was Charging gets its energy back only after a random delay of at most
TxCtrlr.EnergyTransferResumptionRandomRange seconds (E17.FR.18), so that a whole area does not draw power at
the same instant; until then it is resumed SuspendedEVSE. The delay is drawn from a generator seeded with the
serial number and the boot time: every station its own, yet a test sees the same one each run.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import transactions, tx_rules
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import Evse, Reboot, SetContactor, SetLock, tx_to_json

TX = "TxCtrlr"
ALIVE_KEY = "tx_alive_at"
ALIVE_EVERY = timedelta(seconds=10)
HELD_STATES = ("Charging", "SuspendedEV")  # states with energy transfer (possible) before the interruption


class Resumption(Controller):
    __slots__ = ("_alive", "_due", "_release")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._alive: datetime | None = None  # when "up" was last recorded
        self._due: datetime | None = None  # restored transactions wait for their TxResumed
        self._release: dict[int, datetime] = {}  # E17.FR.18: EVSE -> when its energy may flow again

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        # 2.1 (harmless in a 2.0.1 device model: 0 turns resumption off)
        return [
            var(TX, "ResumptionTimeout", "integer", "0", unit="s", min_limit=0),
            var(TX, "AllowEnergyTransferResumption", "boolean", "true"),
            var(TX, "EnergyTransferResumptionRandomRange", "integer", "0", unit="s", min_limit=0),
        ]

    @property
    def enabled(self) -> bool:
        ctx = self.ctx
        return ctx.version is Version.V21 and ctx.model.number(TX, "ResumptionTimeout") > 0

    # ------------------------------------------------------------------ B13: Reset ImmediateAndResume
    def reset_and_resume(self, now: datetime) -> str:
        """B13.FR.01 Rejected without resumption; else ResetCommand for each transaction (B13.FR.04), the
        energy stopped and the connectors unlocked (B13.FR.20), and a reboot (B13.FR.21)."""
        ctx = self.ctx
        if not self.enabled:
            return "Rejected"
        txs = ctx.get(transactions.Transactions)
        for evse in ctx.evses.values():
            tx = evse.tx
            if tx is None:
                continue
            txs.emit(evse, TxEvent(TxEventKind.UPDATED, "ResetCommand"), now)
            tx.resume_after_reset = True  # kept with the charging state it had (B13 step 4)
            ctx.storage.set_state(f"tx:{evse.id}", json.dumps(tx_to_json(tx)))
            ctx.act(SetContactor(evse.id, False))
            if evse.plugged is not None:
                ctx.act(SetLock(evse.id, evse.plugged, False))
        ctx.storage.set_state("boot_reason", "RemoteReset")
        ctx.act(Reboot("RemoteReset"))
        return "Accepted"

    # ------------------------------------------------------------------ E17: at boot
    def restore(self, evse: Evse, now: datetime) -> bool:
        """Whether the transaction found in storage on ``evse`` resumes (it then waits for TxResumed)."""
        tx = evse.tx
        assert tx is not None
        if not tx.resume_after_reset:
            alive = self.ctx.storage.get_state(ALIVE_KEY)
            if not self.enabled or alive is None:
                return False
            timeout = self.ctx.model.number(TX, "ResumptionTimeout")
            if now - from_wire(alive) > timedelta(seconds=timeout):
                return False  # E17.FR.20: interrupted too long
        after_reset, tx.resume_after_reset = tx.resume_after_reset, False
        if tx.charging_state in HELD_STATES and not self.ctx.model.flag(TX, "AllowEnergyTransferResumption"):
            tx.energy_blocked = True  # B13.FR.25 / E17.FR.12: SuspendedEVSE
        elif tx.charging_state == "Charging" and not after_reset:
            spread = self.ctx.model.number(TX, "EnergyTransferResumptionRandomRange")
            if spread > 0:  # E17.FR.18
                draw = random.Random(f"{self.ctx.layout.serial_number}:{to_wire(now)}:{evse.id}")
                tx.energy_blocked = True
                self._release[evse.id] = now + timedelta(seconds=draw.uniform(0, spread))
        evse.authorized = tx.token  # the transaction's authorization survives the reboot
        evse.resuming = True
        self._due = now
        return True

    def _resume(self, evse: Evse, now: datetime) -> None:
        evse.resuming = False
        ctx = self.ctx
        txs = ctx.get(transactions.Transactions)
        if evse.plugged is None:
            stop = tx_rules.stop_reason(
                evse, ctx.model.members(TX, "TxStopPoint"), ctx.model.flag(TX, "StopTxOnEVSideDisconnect")
            )
            if stop is not None:  # E17.FR.17: the EV left; the transaction ends as E06 says
                txs.force_stop(evse, stop[0], stop[1], now)
                return
        txs.resumed(evse, now)

    # ------------------------------------------------------------------ timers
    def transaction_started(self, evse: Evse, now: datetime) -> None:
        self._record_alive(now)

    def _record_alive(self, now: datetime) -> None:
        if self.enabled:
            self._alive = now
            self.ctx.storage.set_state(ALIVE_KEY, to_wire(now))

    def next_deadline(self) -> datetime | None:
        due = [self._due] if self._due is not None else []
        due += self._release.values()
        if self.enabled and any(e.tx is not None for e in self.ctx.evses.values()):
            # never recorded yet (resumption just turned on): at once
            due.append(
                self._alive + ALIVE_EVERY if self._alive is not None else datetime.min.replace(tzinfo=UTC)
            )
        return min(due, default=None)

    def handle_timer(self, now: datetime) -> None:
        for evse_id, at in list(self._release.items()):
            if at <= now:  # E17.FR.18: the random delay is over, the energy flows again
                del self._release[evse_id]
                evse = self.ctx.evses[evse_id]
                if evse.tx is not None and evse.tx.energy_blocked:
                    evse.tx.energy_blocked = False
                    self.ctx.get(transactions.Transactions).evaluate(evse, now, "ChargingStateChanged")
        if self._due is not None and self._due <= now:
            self._due = None
            for evse in self.ctx.evses.values():
                if evse.resuming and evse.tx is not None:
                    self._resume(evse, now)
        busy = any(e.tx is not None for e in self.ctx.evses.values())
        if busy and (self._alive is None or now - self._alive >= ALIVE_EVERY):
            self._record_alive(now)
