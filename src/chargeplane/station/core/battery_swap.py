"""Battery swapping (2.1 S01-S04): the station as a swap station, each EVSE one battery slot.

A swap is one session: a driver authorized locally (S01, Authorize) or by the CSMS (S02, RequestBatterySwap)
for a set of ``count`` batteries; the station opens that many empty slots, the driver inserts the set
(BatterySwap BatteryIn, S03.FR.01), the station offers as many charged batteries and the driver takes them
(BatteryOut, S03.FR.03). No battery in within BatterySwapCtrlr.Timeout[In]: the authorization ends
(S01.FR.02, S02.FR.05); the offered set not taken within Timeout[Out]: BatteryOutTimeout (S03.FR.06). The
slot's AvailabilityState goes out as a NotifyEvent (S03.FR.02/04).

A battery in a slot charges in a transaction of its own (S04): inserted is plugged in, with the token
BatterySwapCtrlr.IdToken (Central) or an empty NoAuthorization one (S04.FR.02/03), removed is unplugged
(S04.FR.07; TxStartPoint / TxStopPoint EVConnected, S04.FR.08/09, are the operator's to set). Its SoC comes
with the slot's meter readings; at TargetSoc it may be swapped out (S04.FR.05), at MaxSoc its energy stops
with EnergyLimitReached, the transaction kept (S04.FR.06). After a reboot every slot
with a battery starts a new transaction (S04.FR.11). Active only on 2.1 with BatterySwapCtrlr.Enabled.

Each slot's door is its Connector's SlotStatus (2.1 appendix): Open while the slot waits for a returned
battery or offers a charged one to take, Faulted while the EVSE has a fault, else Locked.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from msgspec import UNSET

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import authorization, monitoring, transactions
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import ACCEPTED, Evse, ShowMessage, Token

CTRLR = "BatterySwapCtrlr"
CARTRIDGE = "BatteryCartridge"
STATE_KEY = "battery_swap"
AWAITING_IN, AWAITING_OUT = "in", "out"
OPEN, LOCKED, FAULTED = "Open", "Locked", "Faulted"  # Connector.SlotStatus values
FULL = "EnergyLimitReached"  # S04.FR.06: the trigger of a battery charged to MaxSoc


@dataclass(slots=True)
class Battery:
    serial: str
    soc: float
    soh: float


@dataclass(slots=True)
class Swap:
    """One driver's swap: the token, the requestId shared by its events (S02.FR.02), where it stands."""

    request_id: int
    token: tuple[str, str]  # (idToken, type)
    count: int
    phase: str  # AWAITING_IN | AWAITING_OUT
    deadline: str  # ISO time (station clock) of the In / Out timeout
    opened: list[int] = field(default_factory=list)  # empty slots opened for the returned set
    inserted: list[int] = field(default_factory=list)
    offered: list[int] = field(default_factory=list)
    taken: dict[int, Battery] = field(default_factory=dict)  # slot -> the battery taken out of it


class BatterySwap(Controller):
    __slots__ = ("next_request_id", "session", "slots")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        saved = json.loads(ctx.storage.get_state(STATE_KEY) or "{}")
        self.slots: dict[int, Battery] = {int(k): Battery(**v) for k, v in saved.get("slots", {}).items()}
        raw = saved.get("session")
        self.session: Swap | None = None
        if raw is not None:
            raw["token"] = tuple(raw["token"])
            raw["taken"] = {int(k): Battery(**v) for k, v in raw["taken"].items()}
            self.session = Swap(**raw)
        self.next_request_id: int = saved.get("next_request_id", 1)

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        defs = [
            var(CTRLR, "Enabled", "boolean", "false"),
            var(CTRLR, "TargetSoc", "integer", "70", min_limit=0, max_limit=100),
            var(CTRLR, "MaxSoc", "integer", "100", min_limit=0, max_limit=100),
            var(CTRLR, "IdToken", "string", ""),
            var(CTRLR, "Timeout", "integer", "60", variable_instance="In", unit="s", min_limit=1),
            var(CTRLR, "Timeout", "integer", "60", variable_instance="Out", unit="s", min_limit=1),
        ]
        for evse in range(1, len(layout.connectors) + 1):
            defs += [
                var(CARTRIDGE, "Available", "boolean", "false", "ReadOnly", evse=evse),
                var(CARTRIDGE, "SoC", "integer", "0", "ReadOnly", evse=evse, unit="Percent"),
                var(CARTRIDGE, "SoH", "integer", "0", "ReadOnly", evse=evse, unit="Percent"),
                var(
                    "Connector",
                    "SlotStatus",
                    "OptionList",
                    LOCKED,
                    "ReadOnly",
                    evse=evse,
                    connector=1,
                    values_list=f"{OPEN},{LOCKED},{FAULTED}",
                ),
            ]
        return defs

    def start(self, now: datetime) -> None:
        model = self.ctx.model
        # S04.FR.10: MaxSoc never below TargetSoc
        model.validators[(CTRLR, "TargetSoc")] = lambda v: _order(int(v), model.number(CTRLR, "MaxSoc"))
        model.validators[(CTRLR, "MaxSoc")] = lambda v: _order(model.number(CTRLR, "TargetSoc"), int(v))
        self.refresh_slots()

    def refresh_slots(self) -> None:
        """Connector.SlotStatus of every slot from the swap under way and the EVSE's fault."""
        swap = self.session
        opened: set[int] = set()
        if swap is not None and swap.phase == AWAITING_IN:
            opened = set(swap.opened) - set(swap.inserted)
        elif swap is not None:
            opened = {n for n in swap.offered if n not in swap.taken}
        for n, evse in self.ctx.evses.items():
            status = FAULTED if evse.faulted else OPEN if n in opened else LOCKED
            key = VariableKey("Connector", "SlotStatus", evse=n, connector=1)
            if self.ctx.model.actual(key) != status:
                self.ctx.model.put(key, status)

    # ------------------------------------------------------------------ state
    @property
    def enabled(self) -> bool:
        return self.ctx.version is Version.V21 and self.ctx.model.flag(CTRLR, "Enabled")

    def eligible(self) -> list[int]:
        """S04.FR.05: slots whose battery reached TargetSoc and is not part of the running swap, fullest first."""
        target = self.ctx.model.number(CTRLR, "TargetSoc")
        busy = set(self.session.inserted) if self.session is not None else set()
        ready = [n for n, b in self.slots.items() if b.soc >= target and n not in busy]
        return sorted(ready, key=lambda n: (-self.slots[n].soc, n))

    def empty(self) -> list[int]:
        return [
            n
            for n, evse in self.ctx.evses.items()
            if n not in self.slots and evse.operative and not evse.faulted
        ]

    def enough(self, count: int) -> bool:
        """S03.FR.05: charged batteries to give and empty slots to take the returned ones."""
        return len(self.eligible()) >= count and len(self.empty()) >= count

    def _save(self) -> None:
        self.refresh_slots()  # every change of the swap or the slots is saved
        data = {
            "slots": {str(n): asdict(b) for n, b in self.slots.items()},
            "session": None if self.session is None else asdict(self.session),
            "next_request_id": self.next_request_id,
        }
        self.ctx.storage.set_state(STATE_KEY, json.dumps(data))

    # ------------------------------------------------------------------ authorization (S01, S02)
    def token_presented(self, value: str, token_type: str, count: int, now: datetime) -> None:
        """S01: a driver presents a token to swap a set of ``count`` batteries; the CSMS decides (C01)."""
        ctx = self.ctx
        if not self.enabled or self.session is not None:
            ctx.act(ShowMessage("Swap unavailable"))
            return
        if not self.enough(count):  # S03.FR.05, S01 error handling
            ctx.act(ShowMessage("No battery available"))
            return
        token = Token(value, token_type)
        auth = ctx.get(authorization.Authorization)

        def decided(status: str, at: datetime) -> None:
            if status != ACCEPTED:
                ctx.act(ShowMessage(f"Swap refused: {status}"))
            elif self.session is not None or not self.enough(count):  # taken meanwhile
                ctx.act(ShowMessage("No battery available"))
            else:
                request_id = self.next_request_id
                self.next_request_id += 1
                self._open(request_id, token, count, at)

        local = auth.local_verdict(token, now)  # C01 as S01 says: the local list and cache first
        if local is not None:
            decided(local, now)
            return

        def answered(response: Payload, at: datetime) -> None:
            info = ctx.adapter.authorize_answer(response)
            auth.remember(token, info, at)  # C10: cached like any other answer
            decided(info.status, at)

        if not ctx.send(ctx.adapter.authorize_request(token), now, answered):
            ctx.act(ShowMessage("Authorization unavailable"))

    def remote_request(self, request_id: int, token: Token, now: datetime) -> str | None:
        """S02: None when accepted (S02.FR.01), else the reasonCode of the rejection (S02.FR.04)."""
        if not self.enabled:
            return "UnsupportedRequest"
        if self.session is not None:
            return "Busy"
        if not self.enough(1):
            return "NoBatteryAvailable"
        self._open(request_id, token, 1, now)
        return None

    def _open(self, request_id: int, token: Token, count: int, now: datetime) -> None:
        """S01.FR.01: open the empty slots for the returned set, until Timeout[In]."""
        timeout = self.ctx.model.number(CTRLR, "Timeout", "In")
        deadline = self.ctx.station_time(now) + timedelta(seconds=timeout)
        opened = self.empty()[:count]
        self.session = Swap(
            request_id, (token.value, token.type), count, AWAITING_IN, deadline.isoformat(), opened
        )
        self._save()
        self.ctx.act(ShowMessage(f"Insert battery in slot {', '.join(map(str, opened))}"))

    # ------------------------------------------------------------------ the hardware (S03, S04)
    def stock(self, evse_id: int, battery: Battery, now: datetime) -> bool:
        """The operator puts a battery into an empty slot (no swap): it charges like any other (S04)."""
        if evse_id not in self.ctx.evses or evse_id in self.slots or not self.enabled:
            return False
        self._put(evse_id, battery, now)
        self._save()
        return True

    def inserted(self, evse_id: int, battery: Battery, now: datetime) -> bool:
        """The driver puts a returned battery into an opened slot; once the set is in, BatteryIn (S03.FR.01)
        and the charged set is offered until Timeout[Out]. False: the slot does not take it."""
        swap = self.session
        if swap is None or swap.phase != AWAITING_IN or evse_id not in swap.opened or evse_id in self.slots:
            return False
        swap.inserted.append(evse_id)
        self._put(evse_id, battery, now)
        if len(swap.inserted) < swap.count:
            self._save()
            return True
        self._event("BatteryIn", swap, {n: self.slots[n] for n in swap.inserted}, now)
        swap.offered = self.eligible()[: swap.count]
        swap.phase = AWAITING_OUT
        timeout = self.ctx.model.number(CTRLR, "Timeout", "Out")
        swap.deadline = (self.ctx.station_time(now) + timedelta(seconds=timeout)).isoformat()
        self._save()
        self.ctx.act(ShowMessage(f"Take battery from slot {', '.join(map(str, swap.offered))}"))
        return True

    def removed(self, evse_id: int, now: datetime) -> Battery | None:
        """A battery leaves its slot: its transaction ends (S04.FR.07); the last of an offered set is the
        BatteryOut of the swap (S03.FR.03). None: no battery there."""
        battery = self.slots.pop(evse_id, None)
        if battery is None:
            return None
        swap = self.session
        evse = self.ctx.evses[evse_id]
        self.ctx.get(transactions.Transactions).unplugged(evse, now)
        self._cartridge(evse_id, None)
        self._availability(evse_id, "Available", now)  # S03.FR.04
        if swap is not None and swap.phase == AWAITING_OUT and evse_id in swap.offered:
            swap.taken[evse_id] = battery
            if len(swap.taken) == len(swap.offered):
                self._event("BatteryOut", swap, swap.taken, now)
                self.session = None
        self._save()
        return battery

    def charged(self, evse: Evse, soc: float | None, now: datetime) -> None:
        """The slot's meter reports the battery's SoC (S04.FR.04 goes with the transaction's meter values); at
        MaxSoc the energy stops, the transaction stays (S04.FR.06)."""
        battery = self.slots.get(evse.id)
        if battery is None or soc is None:
            return
        battery.soc = min(soc, 100.0)
        self._cartridge(evse.id, battery)
        self._save()
        tx = evse.tx
        if tx is None or tx.limit_reached is not None or battery.soc < self.ctx.model.number(CTRLR, "MaxSoc"):
            return
        tx.limit_reached = FULL
        sent = tx.seq_no
        txs = self.ctx.get(transactions.Transactions)
        txs.evaluate(evse, now, FULL)  # the contactor opens: SuspendedEVSE with this trigger
        if evse.tx is tx and tx.seq_no == sent:  # suspended already: say why
            txs.emit(evse, TxEvent(TxEventKind.UPDATED, FULL), now)

    def _put(self, evse_id: int, battery: Battery, now: datetime) -> None:
        self.slots[evse_id] = battery
        self._cartridge(evse_id, battery)
        self._availability(evse_id, "Occupied", now)  # S03.FR.02
        self._charge(self.ctx.evses[evse_id], now)

    def _charge(self, evse: Evse, now: datetime) -> None:
        """S04.FR.01-03: the battery is plugged in with the swap station's own token."""
        value = self.ctx.model.value(CTRLR, "IdToken")
        evse.authorized = Token(value, "Central") if value else Token("", "NoAuthorization")
        evse.plugged = None
        self.ctx.get(transactions.Transactions).plugged(evse, 1, now)

    def _cartridge(self, evse_id: int, battery: Battery | None) -> None:
        model = self.ctx.model
        model.put(VariableKey(CARTRIDGE, "Available", evse=evse_id), "false" if battery is None else "true")
        if battery is not None:
            model.put(VariableKey(CARTRIDGE, "SoC", evse=evse_id), str(round(battery.soc)))
            model.put(VariableKey(CARTRIDGE, "SoH", evse=evse_id), str(round(battery.soh)))

    def _availability(self, evse_id: int, state: str, now: datetime) -> None:
        key = VariableKey("Connector", "AvailabilityState", evse=evse_id, connector=1)
        self.ctx.get(monitoring.Monitoring).hardwired(key, state, now)

    def _event(self, kind: str, swap: Swap, batteries: dict[int, Battery], now: datetime) -> None:
        """BatterySwap (S03.FR.01 / 03 / 06): the swap's requestId and token, one batteryData per battery."""
        dt = v21.datatypes
        value, token_type = swap.token
        request = v21.messages.BatterySwapRequest(
            event_type=v21.enums.BatterySwapEventEnumType(kind),
            request_id=swap.request_id,
            id_token=dt.IdTokenType(id_token=value, type=token_type),
            battery_data=[
                dt.BatteryDataType(evse_id=n, serial_number=b.serial, so_c=b.soc, so_h=b.soh)
                for n, b in sorted(batteries.items())
            ],
        )
        self.ctx.send(request, now)

    # ------------------------------------------------------------------ hooks and timer
    def registration_accepted(self, now: datetime) -> None:
        """S04.FR.11: after a boot, every slot with a battery charges in a new transaction."""
        if not self.enabled:
            return
        for evse_id in sorted(self.slots):
            evse = self.ctx.evses.get(evse_id)
            if evse is not None and evse.tx is None:
                self._charge(evse, now)

    def next_deadline(self) -> datetime | None:
        if self.session is None:
            return None
        return datetime.fromisoformat(self.session.deadline) - self.ctx.clock_offset

    def handle_timer(self, now: datetime) -> None:
        swap = self.session
        if swap is None or datetime.fromisoformat(swap.deadline) > self.ctx.station_time(now):
            return
        if swap.phase == AWAITING_IN:
            if swap.inserted:  # part of the set is in: it stays, the swap is over without a BatteryIn
                self.ctx.act(ShowMessage("Swap aborted"))
            else:  # S01.FR.02 / S02.FR.05: no BatterySwap yet, the authorization ends
                self.ctx.act(ShowMessage("Swap timed out"))
        else:  # S03.FR.06: the offered batteries still in their slots
            left = {n: self.slots[n] for n in swap.offered if n not in swap.taken and n in self.slots}
            if swap.taken:
                self._event("BatteryOut", swap, swap.taken, now)
            if left:
                self._event("BatteryOutTimeout", swap, left, now)
        self.session = None
        self._save()


def _order(target: int, maximum: int) -> str | None:
    return None if maximum >= target else "MaxSoc below TargetSoc"  # S04.FR.10


# ---------------------------------------------------------------------- handlers
def request_battery_swap(
    ctl: BatterySwap, request: v21.messages.RequestBatterySwapRequest, now: datetime
) -> v21.messages.RequestBatterySwapResponse:
    """S02: Accepted when a set can be swapped, else Rejected with the reason (S02.FR.04)."""
    token = Token(request.id_token.id_token, str(request.id_token.type))
    refusal = ctl.remote_request(request.request_id, token, now)
    status = v21.enums.GenericStatusEnumType
    if refusal is None:
        return v21.messages.RequestBatterySwapResponse(status=status.ACCEPTED)
    info = v21.datatypes.StatusInfoType(reason_code=refusal, additional_info=UNSET)
    return v21.messages.RequestBatterySwapResponse(status=status.REJECTED, status_info=info)


BatterySwap.on_2x = (route("RequestBatterySwap", request_battery_swap),)
