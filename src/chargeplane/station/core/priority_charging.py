"""Priority charging on the station (2.1 K21 remotely, K22 locally).

A transaction charges with priority once the CSMS asks for it (UsePriorityCharging activate true) or the
driver presses the priority button of the EVSE, provided a PriorityCharging profile is installed for that
EVSE or for EVSE 0 (K21.FR.01/03, K22.FR.01/02). While it does, the composite of its EVSE takes the
PriorityCharging profile in place of the TxProfile / TxDefaultProfile (K21.FR.04, K22.FR.02; the station-wide
profiles still cap it: :func:`chargeplane.smart_charging.composite.limit_at`). Switching on or off is told
to the CSMS with NotifyPriorityCharging (K21.FR.05/08, K22.FR.03/05); offline the notice waits for the next
accepted connection (K22 remark). Priority ends with its transaction.

Decisions: the button toggles (on when off, off when on, as K22.FR.04 wants the UI to offer "end" only
while priority is on); a button press without a profile shows a message on the display (K22.FR.01).
Priority is not persisted: after a reboot a resumed transaction charges on its Tx(Default)Profile again.
"""

from __future__ import annotations

from datetime import datetime

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.composite import is_valid
from chargeplane.smart_charging.model import Purpose
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.model import Evse, ShowMessage
from chargeplane.station.core.smart_charging import SmartCharging

NO_PROFILE_TEXT = "Priority charging is not available here"


class PriorityCharging(Controller):
    __slots__ = ("active", "unsent")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.active: dict[int, str] = {}  # EVSE id -> the transaction charging with priority
        self.unsent: list[tuple[str, bool]] = []  # notices made offline: transaction id, activated

    def start(self, now: datetime) -> None:
        self.ctx.get(SmartCharging).priority_tx = lambda transaction_id: (
            transaction_id in self.active.values()
        )

    def has_profile(self, evse: Evse, now: datetime) -> bool:
        """K21.FR.01 / K22.FR.01: a PriorityCharging profile for the EVSE or EVSE 0, valid now."""
        at = self.ctx.station_time(now)
        return any(
            p.purpose is Purpose.PRIORITY_CHARGING and p.evse_id in (0, evse.id) and is_valid(p, at)
            for p in self.ctx.get(SmartCharging).profiles()
        )

    def evse_of(self, transaction_id: str) -> Evse | None:
        return next(
            (e for e in self.ctx.evses.values() if e.tx is not None and e.tx.id == transaction_id), None
        )

    def switch(self, evse: Evse, on: bool, now: datetime) -> None:
        """Priority on or off for the transaction on ``evse``; told when it changed (K21.FR.05/08)."""
        if evse.tx is None or (evse.id in self.active) == on:
            return
        if on:
            self.active[evse.id] = evse.tx.id
        else:
            del self.active[evse.id]
        self.ctx.get(SmartCharging).obey(now)
        self._notify(evse.tx.id, on, now)

    def _notify(self, transaction_id: str, activated: bool, now: datetime) -> None:
        request = v21.messages.NotifyPriorityChargingRequest(
            transaction_id=transaction_id, activated=activated
        )
        if not self.ctx.send(request, now):
            self.unsent.append((transaction_id, activated))

    def connection_opened(self, now: datetime) -> None:
        if self.ctx.accepted:  # back online, still accepted (no new boot needed)
            self.registration_accepted(now)

    def registration_accepted(self, now: datetime) -> None:
        unsent, self.unsent = self.unsent, []
        for transaction_id, activated in unsent:
            self._notify(transaction_id, activated, now)

    def button(self, evse_id: int, now: datetime) -> bool:
        """K22: the driver's priority button on ``evse_id``; True when priority is on afterwards."""
        evse = self.ctx.evses.get(evse_id)
        if self.ctx.version is not Version.V21 or evse is None or evse.tx is None:
            return False
        if evse_id in self.active:  # K22.FR.04/05
            self.switch(evse, False, now)
            return False
        if not self.has_profile(evse, now):  # K22.FR.01
            self.ctx.act(ShowMessage(NO_PROFILE_TEXT))
            return False
        self.switch(evse, True, now)  # K22.FR.02/03
        return True

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        self.active.pop(evse.id, None)  # the K21 / K22 remark: priority lasts as long as its transaction


def use_priority_charging(
    ctl: PriorityCharging, request: v21.messages.UsePriorityChargingRequest, now: datetime
) -> v21.messages.UsePriorityChargingResponse:
    """K21.FR.01-08."""
    status = v21.enums.PriorityChargingStatusEnumType
    evse = ctl.evse_of(request.transaction_id)
    if evse is None:  # K21.FR.02
        return v21.messages.UsePriorityChargingResponse(
            status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code="TxNotFound")
        )
    if request.activate and not ctl.has_profile(evse, now):  # K21.FR.01
        return v21.messages.UsePriorityChargingResponse(
            status=status.NO_PROFILE, status_info=v21.datatypes.StatusInfoType(reason_code="NotFound")
        )
    ctl.switch(evse, request.activate, now)  # K21.FR.03-05, K21.FR.06-08
    return v21.messages.UsePriorityChargingResponse(status=status.ACCEPTED)


PriorityCharging.on_2x = (route("UsePriorityCharging", use_priority_charging),)
