"""Log output of every ``chargeplane`` command: one line format, the station on every line, no floods.

* One format for the whole process, text (``2026-12-07T01:02:03.456Z WARNING chargeplane.transport.server
  [CS001] message``) or JSON lines (``--log-format json``: ``ts``, ``level``, ``logger``, ``station``,
  ``message``, ``fields`` when the line has structured values, and ``exception``), for people and for log
  shippers alike.
* The station: :data:`current_station` is set by each connection's task (``OcppConnection.run``) and by
  each simulated station, and tasks started from there inherit it, so every line logged while serving a
  station names it without every call site passing it.
* No floods: the same warning (same logger, level and text) repeated within :data:`REPEAT_WINDOW` seconds
  is counted instead of printed; the next one after the window says how many were held back. A reconnect
  storm of a thousand failing stations then costs a few lines, not a few thousand.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import TextIO

current_station: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "chargeplane_station", default=None
)

REPEAT_WINDOW = 60.0  # seconds
FORMATS = ("text", "json")
# Libraries that narrate their own start-up at INFO: only their warnings are worth a line.
# websockets' server says "connection open" / "connection closed" at INFO for every connection, without the
# station: two records per station coming online (issue #19); its warnings and errors still come through.
QUIET_LOGGERS = ("alembic.runtime.plugins", "websockets.server")


class StationFilter(logging.Filter):
    """Puts the current station (or ``None``) on every record as ``record.station``."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "station"):
            record.station = current_station.get()
        return True


class RepeatFilter(logging.Filter):
    """Holds back a WARNING or worse that repeats within the window; counts what it held back."""

    def __init__(self, window: float = REPEAT_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window = window
        self.clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}  # key -> (window start, held back)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, record.levelno, record.getMessage())
        now = self.clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self.window:
            self._seen[key] = (seen[0], seen[1] + 1)
            return False
        if seen is not None and seen[1]:
            record.msg = f"{record.getMessage()} (and {seen[1]} more like it in {self.window:.0f} s)"
            record.args = None
        if len(self._seen) > 10_000:  # bounded memory: forget windows that have closed
            self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
        self._seen[key] = (now, 0)
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(station_part)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        return _utc(record.created)

    def format(self, record: logging.LogRecord) -> str:
        station = getattr(record, "station", None)
        record.station_part = f" [{station}]" if station else ""
        return super().format(record)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "station": getattr(record, "station", None),
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)  # structured values of a line (e.g. the access log)
        if isinstance(fields, dict):
            line["fields"] = fields
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure(level: str = "INFO", fmt: str = "text", stream: TextIO | None = None) -> logging.Handler:
    """Route the root logger through one handler with our format and filters (replacing earlier ones)."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(StationFilter())
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return handler


def _utc(created: float) -> str:
    seconds = int(created)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{int((created - seconds) * 1000):03d}Z"
    )
