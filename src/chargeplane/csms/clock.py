"""The CSMS's one source of the current time.

Services and background jobs ask the :class:`Clock` in their block context instead of reading the system time
themselves, so that tests can set the time (:class:`ManualClock`) and run a job's pass with ``tick(now)``
instead of sleeping until the job's loop comes round. :func:`utc_now` stays for the few places that need a
plain function (defaults of records built outside a service).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


def utc_now() -> datetime:
    return datetime.now(UTC)


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start if start is not None else utc_now()
        if self._now.tzinfo is None:
            raise ValueError("a ManualClock needs a timezone-aware start")

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta | float) -> datetime:
        """Move forward by ``by`` (a timedelta or seconds); returns the new time."""
        self._now += by if isinstance(by, timedelta) else timedelta(seconds=by)
        return self._now

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("a ManualClock needs timezone-aware times")
        self._now = moment


class ScaledClock:
    """A clock from ``start`` that runs ``scale`` times as fast as the real one (a demo runs a simulated day
    in minutes; 1: real time from another moment). ``now`` is also the callable a station runtime takes."""

    def __init__(self, start: datetime, scale: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("a ScaledClock needs a timezone-aware start")
        if scale <= 0:
            raise ValueError("a ScaledClock's scale is > 0")
        self.start = start
        self.scale = scale
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._origin) * self.scale)

    def reset(self, start: datetime, scale: float) -> None:
        """Run on from ``start`` (not before now: the time never goes back) at ``scale``: a demo sets up in
        real time, then jumps to its first event and runs fast."""
        if scale <= 0:
            raise ValueError("a ScaledClock's scale is > 0")
        self.start, self.scale, self._origin = max(start, self.now()), scale, time.monotonic()
