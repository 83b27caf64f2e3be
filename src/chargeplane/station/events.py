"""What a station's owner wants to see happen (``chargeplane station``): connected, boot status, EV plugged,
authorized (or refused), transaction started and ended (its id, the energy), offline, and what the display
shows (the CSMS's display messages, O01-O06, as the display-message controller picks them); one log line
each.

The lines go through logging (logger ``chargeplane.station.events``, INFO), not print: one stream with
the warnings, in order, with time stamps and the station id, and JSON lines with ``--log-format json``;
that is what a supervisor's journal or a log shipper needs from an unattended station.

:class:`EventReporter` compares the core's plain state after each change with what it saw before, so the
sans-I/O core needs no hook and a fleet without a reporter pays nothing.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass

from chargeplane.station.core.display_messages import DisplayMessages
from chargeplane.station.core.local_auth_methods import loggable
from chargeplane.station.core.model import Registration, Transaction
from chargeplane.station.runtime import StationRuntime

log = logging.getLogger("chargeplane.station.events")


@dataclass
class _Seen:
    plugged: int | None = None
    authorized: str | None = None
    tx: Transaction | None = None
    tx_id: str | None = None


class EventReporter:
    """A watcher of :class:`StationRuntime` (``runtime.watchers``) that logs each change of state."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger
        self.online = False
        self.registration = Registration.UNKNOWN
        self.evses: dict[int, _Seen] = {}
        self.refused: Counter[str] = Counter()  # "<action> <status>" answers seen so far
        self.display: str | None = None  # the display message on the display

    def __call__(self, runtime: StationRuntime) -> None:
        core = runtime.core
        online = runtime.connected.is_set()
        if online != self.online:
            self.online = online
            if online:
                self.log.info(
                    "connected to %s (OCPP %s)", runtime.settings.url, runtime.settings.version.value
                )
            else:
                self.log.info("offline")
        if core.registration is not self.registration and core.registration is not Registration.UNKNOWN:
            self.log.info("boot: %s", core.registration.value)
        self.registration = core.registration
        if runtime.stats.rejected != self.refused.total():  # a card refused (Authorize, transaction start)
            for refusal, count in (runtime.stats.refused_by_action - self.refused).items():
                if refusal.startswith("BootNotification"):
                    continue  # said by the boot line
                self.log.info("refused by the CSMS: %s%s", refusal, f" ({count} times)" if count > 1 else "")
            self.refused = Counter(runtime.stats.refused_by_action)
        for evse in core.evses.values():
            seen = self.evses.setdefault(evse.id, _Seen())
            if evse.plugged != seen.plugged:
                if evse.plugged is None:
                    self.log.info("EVSE %d: EV unplugged", evse.id)
                else:
                    self.log.info("EVSE %d: EV plugged in (connector %d)", evse.id, evse.plugged)
                seen.plugged = evse.plugged
            token = loggable(evse.authorized) if evse.authorized is not None else None
            if token != seen.authorized:
                if token is None:
                    self.log.info("EVSE %d: authorization ended", evse.id)
                else:
                    self.log.info("EVSE %d: authorized %s", evse.id, token)
                seen.authorized = token
            self._transaction(evse.id, evse.tx, evse.meter.energy_wh, seen)
        shown = core.ctx.get(DisplayMessages).shown
        if shown != self.display:
            self.log.info("display: %s", shown if shown is not None else "(no display message)")
            self.display = shown

    def _transaction(self, evse_id: int, tx: Transaction | None, energy_wh: float, seen: _Seen) -> None:
        if tx is not None and seen.tx is not None:
            if tx.id == seen.tx_id:  # the same one (a rebooted core restores it as a new object)
                seen.tx = tx
                return
            if tx is seen.tx:  # 1.6: the CSMS's transactionId replaced the local one
                self.log.info("EVSE %d: transaction %s is %s at the CSMS", evse_id, seen.tx_id, tx.id)
                seen.tx_id = tx.id
                return
        if seen.tx is not None:
            used = max(0.0, energy_wh - seen.tx.meter_start_wh)
            self.log.info("EVSE %d: transaction %s ended, %.1f Wh", evse_id, seen.tx_id, used)
        if tx is not None:
            self.log.info("EVSE %d: transaction %s started", evse_id, tx.id)
        seen.tx = tx
        seen.tx_id = tx.id if tx is not None else None
