"""Display messages on the CSMS side (O01-O06; OCPP 2.0.1 and 2.1, 1.6 has none).

The operator sets a message (SetDisplayMessage: a new id is chosen when none is given; the same id replaces
the station's message, O06), asks which messages a station holds (GetDisplayMessages, with the id /
priority / state filters of O04) or clears one (ClearDisplayMessage, O05). Every request is recorded with the
station's answer; the NotifyDisplayMessages parts are stored per requestId and, with the last one, turned
into the list of messages the station holds (an unfiltered report replaces that list: messages that ended or
whose transaction ended are gone, O01.FR.07 / O02.FR.02). An accepted message joins the list at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import msgspec

from chargeplane.csms.blocks.display_messages.repository import (
    DisplayMessageRepository,
    HeldMessage,
    RequestRecord,
)
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import NotFound
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost


class _StatusAnswer(msgspec.Struct):
    status: str


@dataclass(frozen=True, slots=True)
class Query:
    """GetDisplayMessages filters (O04); none: every message (O03)."""

    ids: list[int] | None = None
    priority: str | None = None
    state: str | None = None


class UnknownRequest(NotFound):
    def __init__(self, station_id: str, request_id: int) -> None:
        super().__init__(f"no display-message request {request_id} for {station_id}")


class DisplayMessageService:
    def __init__(
        self, repository: DisplayMessageRepository, commands: CommandService, events: EventBus, clock: Clock
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.events = events
        self.clock = clock

    async def _station_2x(self, station_id: str) -> str:
        return await self.commands.station_2x(station_id, "display messages")

    async def _send(self, station_id: str, row_id: int, action: str, payload: dict[str, Any]) -> str:
        """Send one request; its status, or the failure recorded and raised."""
        try:
            sent = await self.commands.send_action(station_id, action, msgspec.json.encode(payload))
        except (CallFailed, CallTimeout, ConnectionLost, StationOffline, InvalidCommand) as error:
            outcome = error.code if isinstance(error, InvalidCommand) else type(error).__name__
            await self.repository.failed(row_id, outcome, self.clock.now())
            raise
        return msgspec.convert(msgspec.to_builtins(sent.response), _StatusAnswer).status

    async def set_message(self, station_id: str, info: dict[str, Any]) -> RequestRecord:
        """O01 / O02 / O06: ``info`` is a MessageInfo in wire form (its ``id`` chosen when missing)."""
        station_id = await self._station_2x(station_id)
        if info.get("id") is None:
            used = await self.repository.used_message_ids(station_id)
            info = {**info, "id": max(used, default=0) + 1}
        payload = {"message": info}
        now = self.clock.now()
        row_id = await self.repository.add_request(
            station_id, "SetDisplayMessage", payload, now, message_id=int(info["id"])
        )
        status = await self._send(station_id, row_id, "SetDisplayMessage", payload)
        await self.repository.set_answered(station_id, row_id, status, info, self.clock.now())
        return await self._record(station_id, row_id)

    async def get_messages(self, station_id: str, query: Query) -> RequestRecord:
        """O03 / O04: the answer; the messages follow in NotifyDisplayMessages parts."""
        station_id = await self._station_2x(station_id)
        request_id = await self._new_request_id(station_id)
        payload: dict[str, Any] = {"requestId": request_id}
        if query.ids is not None:
            payload["id"] = query.ids
        if query.priority is not None:
            payload["priority"] = query.priority
        if query.state is not None:
            payload["state"] = query.state
        row_id = await self.repository.add_request(
            station_id, "GetDisplayMessages", payload, self.clock.now(), request_id=request_id
        )
        status = await self._send(station_id, row_id, "GetDisplayMessages", payload)
        # Unknown: nothing fits; for an unfiltered or an id-only query the station holds none of them
        by_ids_only = query.priority is None and query.state is None
        await self.repository.get_answered(
            station_id, row_id, status, query.ids, by_ids_only, self.clock.now()
        )
        return await self._record(station_id, row_id)

    async def clear_message(self, station_id: str, message_id: int) -> RequestRecord:
        """O05: Accepted (removed) or Unknown (the station has no such message)."""
        station_id = await self._station_2x(station_id)
        payload = {"id": message_id}
        row_id = await self.repository.add_request(
            station_id, "ClearDisplayMessage", payload, self.clock.now(), message_id=message_id
        )
        status = await self._send(station_id, row_id, "ClearDisplayMessage", payload)
        await self.repository.clear_answered(station_id, row_id, message_id, status, self.clock.now())
        return await self._record(station_id, row_id)

    async def part(self, station_id: str, request_id: int, tbc: bool, infos: list[dict[str, Any]]) -> None:
        """One NotifyDisplayMessages (O03.FR.02-05, O04.FR.03-06): stored before it is answered."""
        record = await self.repository.part(station_id, request_id, tbc, infos, self.clock.now())
        if record.complete:
            self.events.publish(
                StationEvent(
                    "display_messages.reported",
                    station_id,
                    {"requestId": request_id, "messages": len(record.messages)},
                )
            )

    async def held(self, station_id: str, offset: int, limit: int) -> tuple[list[HeldMessage], int]:
        return await self.repository.held(station_id, offset, limit)

    async def requests(self, station_id: str, offset: int, limit: int) -> tuple[list[RequestRecord], int]:
        return await self.repository.requests(station_id, offset, limit)

    async def request(self, station_id: str, row_id: int) -> RequestRecord:
        record = await self.repository.request(row_id)
        if record is None or record.station_id.casefold() != station_id.casefold():
            raise UnknownRequest(station_id, row_id)
        return record

    async def _record(self, station_id: str, row_id: int) -> RequestRecord:
        return await self.request(station_id, row_id)

    async def _new_request_id(self, station_id: str) -> int:
        used = await self.repository.used_request_ids(station_id)
        while True:
            candidate = random.randrange(1, 2**31)  # an id, not a secret
            if candidate not in used:
                return candidate
