"""Display messages (O01-O06, 2.0.1 and 2.1; OCPP 1.6 has no display messages): what the CSMS asks the
station's display to show, and what it shows at each moment.

Owns the messages set with SetDisplayMessage (persisted, O01.FR.10 / O02.FR.10), their checks (priority,
state, format, 2.1 language against the DisplayMessageCtrlr variables; the transaction they are bound to;
the DisplayMessages maxLimit), GetDisplayMessages with its filters and the NotifyDisplayMessages parts,
ClearDisplayMessage, and the display itself: :func:`on_display` picks, from the messages whose schedule
and state fit the moment, the one AlwaysFront message, else the InFront ones in turn, else the NormalCycle
ones in turn (one every ``DisplayMessageCtrlr.CycleInterval`` seconds). When the choice changes the
controller puts a :class:`~.model.ShowMessage` action out (the runtime's display prints it). The timer
removes the messages whose endDateTime has passed (O01.FR.07) and wakes up at each start, end and cycle
step; the end of a transaction removes the messages bound to it (O02.FR.02).

The station's state for a message's ``state``: Unavailable when the station or every EVSE is inoperative,
Faulted when an EVSE is faulted, Charging while a transaction is ongoing (2.1: Suspended when no energy
flows in any ongoing transaction), Idle otherwise. Discharging (2.1, V2X) is not supported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from chargeplane.ocpp.messages import v2x, v21
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import Evse, HardwareAction, ShowMessage

CTRLR = "DisplayMessageCtrlr"
STATE_KEY = "display_messages"
MAX_MESSAGES = 20  # DisplayMessages maxLimit
PER_PART = 4  # messages per NotifyDisplayMessagesRequest (O03.FR.03 / O04.FR.04)
PRIORITIES = ("AlwaysFront", "InFront", "NormalCycle")
FORMATS = "ASCII,UTF8"  # a text display: no HTML, URI or QR code rendering
STATES_201 = ("Charging", "Faulted", "Idle", "Unavailable")
STATES_21 = (*STATES_201, "Suspended")  # no V2X: Discharging is not supported
LANGUAGES = "en,nl,de,fr"


@dataclass(frozen=True, slots=True)
class ShowDisplayMessage(ShowMessage):
    """A display message of the CSMS on the display (the station's own texts are plain ShowMessage)."""


@dataclass(frozen=True, slots=True)
class DisplayMessage:
    """One message as set by the CSMS, version-neutral; ``wire`` is its MessageInfo in wire form."""

    id: int
    priority: str
    state: str | None
    start: datetime | None
    end: datetime | None
    transaction_id: str | None
    contents: tuple[tuple[str, str | None, str], ...]  # (format, language, content): message, then extras
    wire: dict[str, Any]

    @classmethod
    def from_wire(cls, wire: dict[str, Any]) -> DisplayMessage:
        main = wire["message"]
        contents = tuple(
            (str(c["format"]), c.get("language"), str(c["content"]))
            for c in (main, *wire.get("messageExtra", ()))
        )
        start, end = wire.get("startDateTime"), wire.get("endDateTime")
        return cls(
            id=int(wire["id"]),
            priority=str(wire["priority"]),
            state=wire.get("state"),
            start=from_wire(start) if start else None,
            end=from_wire(end) if end else None,
            transaction_id=wire.get("transactionId"),
            contents=contents,
            wire=wire,
        )

    def text(self, language: str | None) -> str:
        """O01.FR.08 / O01.FR.09: the content in ``language`` if there is one, else English, else the
        message itself."""
        for wanted in (language, "en"):
            for _, lang, content in self.contents:
                if wanted and lang and lang.split("-")[0].lower() == wanted.split("-")[0].lower():
                    return content
        return self.contents[0][2]

    def scheduled(self, at: datetime) -> bool:
        """O01.FR.06 / O01.FR.07: not before the start, not from the end on."""
        return (self.start is None or self.start <= at) and (self.end is None or at < self.end)


def on_display(
    messages: list[DisplayMessage], state: str, at: datetime, cycle: float
) -> DisplayMessage | None:
    """What the display shows at ``at`` (station time) in ``state``: the AlwaysFront message (O01.FR.15),
    else the InFront messages in turn (O01.FR.13 / FR.14), else the NormalCycle ones in turn (O01.FR.12)."""
    live = [m for m in messages if m.scheduled(at) and (m.state is None or m.state == state)]
    for priority in PRIORITIES:
        group = sorted((m for m in live if m.priority == priority), key=lambda m: m.id)
        if group:
            step = int(at.timestamp() // cycle) if cycle > 0 else 0
            return group[step % len(group)]
    return None


class DisplayMessages(Controller):
    __slots__ = ("always_front", "interrupted", "items", "languages", "seen", "shown")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.items: dict[int, DisplayMessage] = {}
        self.shown: str | None = None  # the text on the display (None: nothing of ours)
        self.seen: datetime | None = None  # the latest moment the display was computed for
        self.languages: dict[int, str] = {}  # EVSE id -> its driver's preferred language (O01.FR.08)
        self.always_front = False  # the message shown is AlwaysFront: the station's own texts wait
        self.interrupted = False  # a text of the station's own replaced ours: show ours again
        for wire in json.loads(ctx.storage.get_state(STATE_KEY) or "[]"):
            message = DisplayMessage.from_wire(wire)
            self.items[message.id] = message

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "Available", "boolean", "true", "ReadOnly"),
            var(CTRLR, "DisplayMessages", "integer", "0", "ReadOnly", max_limit=MAX_MESSAGES),
            var(CTRLR, "SupportedFormats", "MemberList", FORMATS, "ReadOnly", values_list=FORMATS),
            var(
                CTRLR,
                "SupportedPriorities",
                "MemberList",
                ",".join(PRIORITIES),
                "ReadOnly",
                values_list=",".join(PRIORITIES),
            ),
            # 2.1 additions (harmless in a 2.0.1 device model: unknown to the CSMS, read only)
            var(
                CTRLR,
                "SupportedStates",
                "MemberList",
                ",".join(STATES_21),
                "ReadOnly",
                values_list=",".join(STATES_21),
            ),
            var(CTRLR, "Language", "OptionList", "en", values_list=LANGUAGES),
            var(CTRLR, "CycleInterval", "integer", "5", unit="s", min_limit=1),
        ]

    # ------------------------------------------------------------------ state
    def start(self, now: datetime) -> None:
        self._count()
        self.refresh(now)

    def supported_states(self) -> list[str]:
        allowed = STATES_21 if self.ctx.version is Version.V21 else STATES_201
        return [s for s in self.ctx.model.members(CTRLR, "SupportedStates") if s in allowed]

    def station_state(self) -> str:
        ctx = self.ctx
        evses = list(ctx.evses.values())
        if not ctx.station_operative or all(not e.operative for e in evses):
            return "Unavailable"
        if any(e.faulted for e in evses):
            return "Faulted"
        ongoing = [e for e in evses if e.tx is not None]
        if ongoing:
            if ctx.version is Version.V21 and not any(e.flowing for e in ongoing):
                return "Suspended"
            return "Charging"
        return "Idle"

    def ongoing(self) -> set[str]:
        return {e.tx.id for e in self.ctx.evses.values() if e.tx is not None}

    def _save(self, now: datetime) -> None:
        self.ctx.storage.set_state(STATE_KEY, json.dumps([m.wire for m in self.items.values()]))
        self._count()
        self.refresh(now)

    def _count(self) -> None:
        self.ctx.model.put(VariableKey(CTRLR, "DisplayMessages"), str(len(self.items)))

    def limit(self) -> int:
        definition = self.ctx.model.definition(VariableKey(CTRLR, "DisplayMessages"))
        limit = definition.max_limit if definition is not None else None
        return int(limit) if limit is not None else MAX_MESSAGES

    def cycle(self) -> float:
        return float(self.ctx.model.number(CTRLR, "CycleInterval") or 5)

    def current(self, now: datetime) -> DisplayMessage | None:
        if not self.ctx.model.flag(CTRLR, "Enabled"):
            return None
        at = self.ctx.station_time(now)
        return on_display(list(self.items.values()), self.station_state(), at, self.cycle())

    def driver_language(self, evse_id: int, language: str | None, now: datetime) -> None:
        """The language of the driver authorized at ``evse_id`` (idTokenInfo.language1), None: not known."""
        if language:
            self.languages[evse_id] = language
        else:
            self.languages.pop(evse_id, None)
        self.refresh(now)

    def language(self) -> str | None:
        """O01.FR.08: the preferred language of a driver at the station, else the station's own."""
        if self.languages:  # kept from the accepted Authorize to the end of the session
            return self.languages[min(self.languages)]
        return self.ctx.model.value(CTRLR, "Language") or None

    def refresh(self, now: datetime) -> None:
        """Show what should be shown now, if that changed."""
        self.seen = now
        message = self.current(now)
        text = None if message is None else message.text(self.language())
        self.always_front = message is not None and message.priority == "AlwaysFront"
        if text != self.shown or (self.interrupted and text is not None):
            self.shown = text
            self.ctx.act(ShowDisplayMessage(text or ""))
        self.interrupted = False

    def screen(self, actions: list[HardwareAction]) -> list[HardwareAction]:
        """The hardware actions as the display lets them through: while an AlwaysFront message is shown the
        station's own texts do not replace it (O01.FR.15 / O02.FR.17); another message is shown again at
        the next cycle step after one."""
        kept: list[HardwareAction] = []
        for action in actions:
            if isinstance(action, ShowMessage) and not isinstance(action, ShowDisplayMessage):
                if self.always_front:
                    continue
                self.interrupted = self.shown is not None
            kept.append(action)
        return kept

    # ------------------------------------------------------------------ the CSMS's requests
    def set_message(self, wire: dict[str, Any], now: datetime) -> str:
        """O01 / O02 / O06: check and store one message; the SetDisplayMessage status."""
        model = self.ctx.model
        message = DisplayMessage.from_wire(wire)
        if not model.flag(CTRLR, "Enabled"):
            return "Rejected"
        if message.priority not in model.members(CTRLR, "SupportedPriorities"):
            return "NotSupportedPriority"  # O01.FR.01 / O02.FR.03
        if message.state is not None and message.state not in self.supported_states():
            return "NotSupportedState"  # O01.FR.02 / O02.FR.04
        formats = model.members(CTRLR, "SupportedFormats")
        if any(fmt not in formats for fmt, _, _ in message.contents):
            return "NotSupportedMessageFormat"  # O01.FR.03 / O02.FR.05
        if self.ctx.version is Version.V21:
            definition = model.definition(VariableKey(CTRLR, "Language"))
            if definition is None and len(message.contents) > 1:
                return "Rejected"  # O01.FR.19 (2.1)
            languages = (definition.values_list or "").split(",") if definition is not None else []
            if any(lang is not None and lang not in languages for _, lang, _ in message.contents):
                return "LanguageNotSupported"  # O01.FR.18 (2.1)
        if message.transaction_id is not None and message.transaction_id not in self.ongoing():
            return "UnknownTransaction"  # O02.FR.01
        replaced = {message.id}
        if message.priority == "AlwaysFront":  # O01.FR.16 / O02.FR.18: the new one replaces the old
            replaced |= {m.id for m in self.items.values() if m.priority == "AlwaysFront"}
        if len([i for i in self.items if i not in replaced]) + 1 > self.limit():
            return "Rejected"  # O01.FR.11 / O02.FR.11
        for old in replaced:
            self.items.pop(old, None)
        self.items[message.id] = message  # O06.FR.01: same id, every parameter replaced
        self._save(now)
        return "Accepted"

    def matching(
        self, ids: list[int] | None, priority: str | None, state: str | None
    ) -> list[DisplayMessage]:
        """O04: the messages that fit every given filter (all of them when none is given, O03)."""
        return [
            m
            for m in sorted(self.items.values(), key=lambda m: m.id)
            if (ids is None or m.id in ids)
            and (priority is None or m.priority == priority)
            and (state is None or m.state == state)
        ]

    def clear(self, message_id: int, now: datetime) -> bool:
        """O05.FR.01 / FR.02: True when there was such a message."""
        if self.items.pop(message_id, None) is None:
            return False
        self._save(now)
        return True

    def notify(self, request_id: int, messages: list[DisplayMessage], now: datetime) -> None:
        """O03.FR.02-05 / O04.FR.03-06: the messages in parts of PER_PART, tbc on all but the last."""
        ctx = self.ctx
        parts = [messages[i : i + PER_PART] for i in range(0, len(messages), PER_PART)]
        for index, part in enumerate(parts):
            tbc = index < len(parts) - 1
            wires = [m.wire for m in part]

            def build(
                ns: v2x.Dialect, wires: list[dict[str, Any]] = wires, tbc: bool = tbc
            ) -> v2x.NotifyDisplayMessagesRequest:
                infos = [msgspec.convert(w, ns.MessageInfoType) for w in wires]
                return ns.NotifyDisplayMessagesRequest(request_id=request_id, message_info=infos, tbc=tbc)

            ctx.send(v2x.with_dialect(ctx.version, build), now)

    # ------------------------------------------------------------------ time and transactions
    def _expire(self, now: datetime) -> None:
        at = self.ctx.station_time(now)
        expired = [m.id for m in self.items.values() if m.end is not None and m.end <= at]
        if expired:  # O01.FR.07 / O02.FR.07
            for message_id in expired:
                del self.items[message_id]
            self._save(now)

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        self.languages.pop(evse.id, None)
        ongoing = self.ongoing()
        bound = [m.id for m in self.items.values() if m.transaction_id and m.transaction_id not in ongoing]
        if bound:  # O02.FR.02
            for message_id in bound:
                del self.items[message_id]
            self._save(now)
        else:
            self.refresh(now)

    def next_deadline(self) -> datetime | None:
        if not self.items or self.seen is None:
            return None
        offset = self.ctx.clock_offset
        seen = self.seen
        moments = [
            m.start - offset for m in self.items.values() if m.start is not None and m.start - offset > seen
        ]
        moments += [m.end - offset for m in self.items.values() if m.end is not None]
        # the next cycle step, and a look at the station's state, when anything may be shown
        if (
            self.shown is not None
            or self.interrupted
            or any(m.state is not None for m in self.items.values())
        ):
            moments.append(_next_step(self.ctx, self.seen, self.cycle()))
        return min(moments) if moments else None

    def handle_timer(self, now: datetime) -> None:
        self._expire(now)
        self.refresh(now)


def _next_step(ctx: Context, seen: datetime, cycle: float) -> datetime:
    """The next multiple of ``cycle`` seconds of station time after ``seen``, in core time."""
    at = ctx.station_time(seen)
    step = (int(at.timestamp() // cycle) + 1) * cycle
    return datetime.fromtimestamp(step, at.tzinfo) - ctx.clock_offset


def _filters(
    request: v2x.GetDisplayMessagesRequestT,
) -> tuple[list[int] | None, str | None, str | None]:
    ids = present(request.id)
    priority = present(request.priority)
    state = present(request.state)
    return (
        list(ids) if ids is not None else None,
        str(priority) if priority is not None else None,
        str(state) if state is not None else None,
    )


def set_display_message(
    ctl: DisplayMessages, request: v2x.SetDisplayMessageRequestT, now: datetime
) -> v2x.SetDisplayMessageResponse:
    ns = v2x.dialect_of(request)
    wire: dict[str, Any] = msgspec.to_builtins(request.message)
    return ns.SetDisplayMessageResponse(status=ns.DisplayMessageStatusEnumType(ctl.set_message(wire, now)))


def get_display_messages(
    ctl: DisplayMessages, request: v2x.GetDisplayMessagesRequestT, now: datetime
) -> v2x.GetDisplayMessagesResponse:
    ns = v2x.dialect_of(request)
    found = ctl.matching(*_filters(request))
    if not found:  # O03.FR.06 / O04.FR.02 / O04.FR.07
        return ns.GetDisplayMessagesResponse(status=ns.GetDisplayMessagesStatusEnumType.UNKNOWN)
    ctl.notify(request.request_id, found, now)
    return ns.GetDisplayMessagesResponse(status=ns.GetDisplayMessagesStatusEnumType.ACCEPTED)


def clear_display_message(
    ctl: DisplayMessages, request: v2x.ClearDisplayMessageRequestT, now: datetime
) -> v2x.ClearDisplayMessageResponse:
    ns = v2x.dialect_of(request)
    status = ns.ClearMessageStatusEnumType
    if not ctl.ctx.model.flag(CTRLR, "Enabled") and issubclass(ns, v21.Messages):
        return ns.ClearDisplayMessageResponse(
            status=v21.enums.ClearMessageStatusEnumType.REJECTED
        )  # O05.FR.03
    return ns.ClearDisplayMessageResponse(
        status=status.ACCEPTED if ctl.clear(request.id, now) else status.UNKNOWN
    )


DisplayMessages.on_2x = (
    route("SetDisplayMessage", set_display_message),
    route("GetDisplayMessages", get_display_messages),
    route("ClearDisplayMessage", clear_display_message),
)
