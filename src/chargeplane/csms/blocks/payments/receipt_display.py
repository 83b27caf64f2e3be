"""The receipt's URL on the station's display once the CSMS settled a payment (2.1 C24.FR.11 for a kiosk,
C25.FR.41 for a QR payment, and a terminal payment the CSMS settles, C21 third scenario).

Sent after the TransactionEvent is answered (a background job, so the station's event is never held up) with
the display messages block's SetDisplayMessage, only when the station's DisplayMessageCtrlr is not reported
unavailable or disabled, in a format it supports (URI when it can render one, else plain text). The
transaction has ended by then and a message bound to it would be removed at once (O02), so the message is
bound to no transaction and ends after ``receipt_display_time``."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.display_messages.service import DisplayMessageService
from chargeplane.csms.clock import Clock
from chargeplane.ocpp.timestamps import to_wire

log = logging.getLogger(__name__)

_CTRLR = "DisplayMessageCtrlr"
_AVAILABLE, _ENABLED, _FORMATS = (
    f"{_CTRLR}/{name}:Actual" for name in ("Available", "Enabled", "SupportedFormats")
)
_PREFERRED = ("URI", "UTF8", "ASCII")  # a link the display can open, else the URL as text
_MAX_CONTENT = 512  # MessageContentType.content of 2.0.1; 2.1 allows 1024


@dataclass(frozen=True, slots=True)
class ReceiptNotice:
    station_id: str
    url: str


class ReceiptDisplay:
    def __init__(
        self,
        display: DisplayMessageService,
        device_model: DeviceModelService,
        clock: Clock,
        seconds: int,
    ) -> None:
        self.display = display
        self.device_model = device_model
        self.clock = clock
        self.seconds = seconds
        self._pending: asyncio.Queue[ReceiptNotice] = asyncio.Queue()

    def show(self, station_id: str, url: str | None) -> None:
        """Queue the receipt's URL for the station's display (nothing when turned off or too long)."""
        if self.seconds > 0 and url and len(url) <= _MAX_CONTENT:
            self._pending.put_nowait(ReceiptNotice(station_id, url))

    async def run(self) -> None:
        """The background job: one SetDisplayMessage at a time; a failure is logged (the display messages
        block records the request and the station's answer)."""
        while True:
            notice = await self._pending.get()
            try:
                await self.send(notice)
            except Exception as error:  # the station went away, refused the call, ...
                log.info("%s: receipt not displayed: %s", notice.station_id, error)

    async def send(self, notice: ReceiptNotice) -> str | None:
        """SetDisplayMessage with the receipt's URL; its status, None when the station has no display."""
        message_format = await self._format(notice.station_id)
        if message_format is None:
            return None
        now = self.clock.now()
        info: dict[str, Any] = {
            "priority": "NormalCycle",
            "message": {"format": message_format, "content": notice.url},
            "startDateTime": to_wire(now),
            "endDateTime": to_wire(now + timedelta(seconds=self.seconds)),
        }
        record = await self.display.set_message(notice.station_id, info)
        return record.status

    async def _format(self, station_id: str) -> str | None:
        known = await self.device_model.values(station_id, [_AVAILABLE, _ENABLED, _FORMATS])
        for key in (_AVAILABLE, _ENABLED):
            value = known.get(key)
            if value is not None and (value[0] or "").strip().lower() == "false":
                return None
        formats = known.get(_FORMATS)
        if formats is None or formats[0] is None:
            return "UTF8"  # not reported: every display takes plain text
        supported = {item.strip() for item in formats[0].split(",")}
        return next((kind for kind in _PREFERRED if kind in supported), None)
