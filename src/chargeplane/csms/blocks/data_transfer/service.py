"""Data transfer (P01, P02): a registry of vendor handlers for incoming DataTransfer, and outgoing ones.

A handler gets ``(station_id, message_id, data)`` and returns ``(status, data)``, directly or awaited; the
status is a DataTransfer status (``Accepted``, ``Rejected``, ``UnknownMessageId``, ``UnknownVendorId``) and
``data`` any JSON value (``None``: no data). Register one per vendor (``message_id=None``: every message of
the vendor) or per vendor and message.
"""

from __future__ import annotations

import inspect
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from chargeplane.csms.blocks.availability.calls import checked, status_reason
from chargeplane.csms.blocks.data_transfer.repository import DataTransferRepository, TransferRecord
from chargeplane.csms.bus.commands import CommandRouter, StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.errors import InternalError
from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present, unset_if_none
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

ACCEPTED, REJECTED = "Accepted", "Rejected"
UNKNOWN_MESSAGE_ID, UNKNOWN_VENDOR_ID = "UnknownMessageId", "UnknownVendorId"
STATUSES = frozenset({ACCEPTED, REJECTED, UNKNOWN_MESSAGE_ID, UNKNOWN_VENDOR_ID})

VendorHandler = Callable[[str, str | None, Any], "tuple[str, Any] | Awaitable[tuple[str, Any]]"]


@dataclass(frozen=True, slots=True)
class TransferAnswer:
    status: str
    data: Any = None
    reason_code: str | None = None
    additional_info: str | None = None


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"))


class DataTransferService:
    def __init__(
        self, repository: DataTransferRepository, events: EventBus, commands: CommandRouter, clock: Clock
    ) -> None:
        self.repository = repository
        self.events = events
        self.commands = commands
        self.clock = clock
        self._handlers: dict[tuple[str, str | None], VendorHandler] = {}

    def register(self, vendor_id: str, handler: VendorHandler, message_id: str | None = None) -> None:
        key = (vendor_id, message_id)
        if key in self._handlers:
            raise ValueError(f"a handler for vendor {vendor_id!r} message {message_id!r} exists already")
        self._handlers[key] = handler

    async def find(self, station_id: str | None, offset: int, limit: int) -> tuple[list[TransferRecord], int]:
        """Data transfers in both directions, newest first, and how many match."""
        return await self.repository.find(station_id, offset, limit)

    # -- P02: from the station ---------------------------------------------------------------------------

    async def receive(
        self, station_id: str, vendor_id: str, message_id: str | None, data: Any
    ) -> TransferAnswer:
        """Answer an incoming DataTransfer: UnknownVendorId (P02.FR.06) when no handler knows the vendor,
        UnknownMessageId (P02.FR.07) when the vendor's handlers do not know the message, else the handler's."""
        handler = self._handler_for(vendor_id, message_id)
        if handler is None:
            known_vendor = any(vendor == vendor_id for vendor, _ in self._handlers)
            answer = TransferAnswer(UNKNOWN_MESSAGE_ID if known_vendor else UNKNOWN_VENDOR_ID)
        else:
            try:
                outcome = handler(station_id, message_id, data)
                status, reply = await outcome if inspect.isawaitable(outcome) else outcome
                if status not in STATUSES:
                    raise ValueError(f"handler returned status {status!r}")
                answer = TransferAnswer(status, reply)
            except Exception:
                log.exception("DataTransfer handler for %s/%s failed", vendor_id, message_id)
                await self._log(station_id, "in", vendor_id, message_id, data, "InternalError", None)
                raise InternalError() from None
        await self._log(station_id, "in", vendor_id, message_id, data, answer.status, answer.data)
        self.events.publish(
            StationEvent(
                "data_transfer",
                station_id,
                {"direction": "in", "vendorId": vendor_id, "messageId": message_id, "status": answer.status},
            )
        )
        return answer

    def _handler_for(self, vendor_id: str, message_id: str | None) -> VendorHandler | None:
        if message_id is not None and (vendor_id, message_id) in self._handlers:
            return self._handlers[(vendor_id, message_id)]
        return self._handlers.get((vendor_id, None))

    # -- P01: to the station -----------------------------------------------------------------------------

    async def send(
        self, station_id: str, vendor_id: str, message_id: str | None, data: Any
    ) -> TransferAnswer:
        """Send DataTransfer and return the station's answer; every attempt is logged. 1.6 data is a string:
        other JSON values are sent as their JSON text."""
        version = self.commands.version_of(station_id)
        if version is None:
            raise StationOffline(station_id)
        request: v16.messages.DataTransferRequest | v2x.DataTransferRequest
        if version is Version.V16:
            text = data if data is None or isinstance(data, str) else json.dumps(data, separators=(",", ":"))
            request = v16.messages.DataTransferRequest(
                vendor_id=vendor_id, message_id=unset_if_none(message_id), data=unset_if_none(text)
            )
        else:

            def build(ns: v2x.Dialect) -> v2x.DataTransferRequest:
                return ns.DataTransferRequest(
                    vendor_id=vendor_id, message_id=unset_if_none(message_id), data=unset_if_none(data)
                )

            request = v2x.with_dialect(version, build)
        checked(request)
        try:
            response = await self.commands.call(station_id, request)
        except (CallFailed, CallTimeout, ConnectionLost) as error:
            await self._log(station_id, "out", vendor_id, message_id, data, type(error).__name__, None)
            raise
        if isinstance(response, v16.messages.DataTransferResponse):
            answer = TransferAnswer(str(response.status), present(response.data))
        else:
            assert isinstance(response, v2x.DataTransferResponse)
            answer = TransferAnswer(
                str(response.status), present(response.data), *status_reason(response.status_info)
            )
        await self._log(station_id, "out", vendor_id, message_id, data, answer.status, answer.data)
        return answer

    async def _log(
        self,
        station_id: str,
        direction: str,
        vendor_id: str,
        message_id: str | None,
        data: Any,
        status: str,
        response_data: Any,
    ) -> None:
        await self.repository.log(
            station_id=station_id,
            direction=direction,
            vendor_id=vendor_id,
            message_id=message_id,
            data=_json(data),
            status=status,
            response_data=_json(response_data),
            now=self.clock.now(),
        )
