"""The durable queue of transaction messages (E04, E11-E13; 1.6 §3.7, §4.10).

Owns every transaction-related message from creation to answer: each is persisted before it is sent, sent
one at a time in order while the station is online and accepted, retried with a growing interval after an
error and dropped after MessageAttempts (E13), sent again whole after a reconnect. A message created while
offline carries ``offline`` (2.x, E04.FR.03). The answer goes to the version adapter, which hands the
verdict on the token to the transactions controller.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import msgspec

from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.messages.base import Payload
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.model import Failure

log = logging.getLogger(__name__)
COMM = "OCPPCommCtrlr"
TX = "TransactionEvent"


@dataclass(slots=True)
class Queued:
    key: int
    action: str
    request: Payload
    attempts: int = 0
    not_before: datetime | None = None


class OfflineQueue(Controller):
    __slots__ = ("_in_flight", "items")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.items: list[Queued] = []
        self._in_flight: dict[int, Queued] = {}  # ref -> the head while it is sent

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(COMM, "MessageAttempts", "integer", "3", variable_instance=TX, min_limit=0),
            var(COMM, "MessageAttemptInterval", "integer", "30", variable_instance=TX, unit="s", min_limit=0),
            var(COMM, "QueueAllMessages", "boolean", "false", "ReadOnly"),
        ]

    def start(self, now: datetime) -> None:
        catalog = ActionCatalog.for_version(self.ctx.version)
        for record in self.ctx.storage.queue_load():
            request = catalog.actions[record.action].request_decoder.decode(record.payload)
            self.items.append(Queued(record.key, record.action, request))

    def push(self, request: Payload, now: datetime) -> Queued:
        """E04/E11: persist, then send when possible; marked offline when created offline (2.x)."""
        ctx = self.ctx
        if ctx.adapter.offline_flag and not ctx.accepted:
            request = msgspec.structs.replace(request, offline=True)
        action = ActionCatalog.for_version(ctx.version).by_request[type(request)].action
        queued = Queued(ctx.storage.queue_push(action, msgspec.json.encode(request)), action, request)
        self.items.append(queued)
        self.pump(now)
        return queued

    def replace(self, queued: Queued, request: Payload) -> None:
        """Rewrite a message still waiting (in memory and in storage)."""
        queued.request = request
        self.ctx.storage.queue_replace(queued.key, msgspec.json.encode(request))

    def pump(self, now: datetime) -> None:
        if not self.ctx.accepted or not self.items:
            return
        head = self.items[0]
        if any(q is head for q in self._in_flight.values()):
            return
        if head.not_before is not None and head.not_before > now:
            return
        head.not_before = None  # due: no deadline while it is in flight (the timer would spin on it)
        self._in_flight[self.ctx.emit(head.request, now)] = head

    def answered(self, ref: int, response: Payload, now: datetime) -> bool:
        """The answer to ``ref`` if it was ours (False: not a queued message)."""
        queued = self._in_flight.pop(ref, None)
        if queued is None:
            return False
        self._drop(queued)
        self.ctx.adapter.transaction_answered(self.ctx, queued.request, response, now, queued.key)
        self.pump(now)
        return True

    def failed(self, ref: int, failure: Failure, now: datetime) -> bool:
        queued = self._in_flight.pop(ref, None)
        if queued is None:
            return False
        if failure is not Failure.OFFLINE:  # E13.FR.01-03: count, back off, then discard
            model = self.ctx.model
            queued.attempts += 1
            if queued.attempts >= max(1, model.number(COMM, "MessageAttempts", TX)):
                log.warning("dropping %s after %d attempts", queued.action, queued.attempts)
                self._drop(queued)
            else:
                interval = model.number(COMM, "MessageAttemptInterval", TX)
                queued.not_before = now + timedelta(seconds=interval * queued.attempts)
        self.pump(now)
        return True

    def _drop(self, queued: Queued) -> None:
        self.ctx.storage.queue_remove(queued.key)
        if queued in self.items:
            self.items.remove(queued)

    def connection_opened(self, now: datetime) -> None:
        self.pump(now)

    def connection_closed(self, now: datetime) -> None:
        self._in_flight.clear()  # the head is sent again after reconnecting

    def next_deadline(self) -> datetime | None:
        if self.ctx.accepted and self.items:
            return self.items[0].not_before
        return None

    def handle_timer(self, now: datetime) -> None:
        self.pump(now)
