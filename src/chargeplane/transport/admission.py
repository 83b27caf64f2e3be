"""Admission control for new connections: a token bucket for the rate, a cap on the total, and load shedding.

After an outage every station reconnects at once. Accepting them all as fast as they come would starve the
live connections of CPU (TLS handshakes, password checks, boot storms), so the server admits at most
``rate`` new connections per second (bursts up to ``burst``) and at most ``max_connections`` in all, and
answers the rest with HTTP 503 and a ``Retry-After``; stations retry with their back-off (2.0.1 Part 4 §5.3).

A fixed rate suits one machine and not another: on a slower or busier one the admitted stations' boots pile
up faster than they are answered (their database reads then wait for a pooled connection until they time
out). So the server also reports its event loop's lag (:meth:`AdmissionControl.observe_lag`: how late a short
timer fired) and, while it is above ``max_lag``, new connections are refused too, whatever the rate allows.

Sans-I/O: time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    retry_after: int  # seconds, for the Retry-After header
    kind: str = "other"  # a short fixed name of the reason (a metrics label): limit, overload, rate


class AdmissionControl:
    def __init__(self, rate: float, burst: int, max_connections: int, max_lag: float | None = None) -> None:
        if rate <= 0 or burst < 1 or max_connections < 1:
            raise ValueError("admission needs rate > 0, burst >= 1 and max_connections >= 1")
        if max_lag is not None and max_lag <= 0:
            raise ValueError("max_lag must be > 0 (or None: no load shedding)")
        self.rate = rate
        self.burst = burst
        self.max_connections = max_connections
        self.max_lag = max_lag
        self._tokens = float(burst)
        self._updated: float | None = None
        self.connections = 0
        self.lag = 0.0  # seconds; the recent event-loop lag, see observe_lag
        self.refusals: dict[str, int] = {}  # refusals so far by Refusal.kind (for /metrics)

    def observe_lag(self, late: float) -> None:
        """One measurement of how late a timer fired (seconds). A spike counts at once; the figure then
        decays by a fifth per measurement, so that one quiet tick does not reopen the doors."""
        self.lag = max(late, self.lag * 0.8)

    def try_admit(self, now: float) -> Refusal | None:
        """Admit one new connection (``None``), or say why not. An admitted one must be :meth:`release`\\ d."""
        refusal = self._refusal(now)
        if refusal is not None:
            self.refusals[refusal.kind] = self.refusals.get(refusal.kind, 0) + 1
            return refusal
        self._tokens -= 1
        self.connections += 1
        return None

    def _refusal(self, now: float) -> Refusal | None:
        self._refill(now)
        if self.connections >= self.max_connections:
            return Refusal(
                "connection limit reached",
                retry_after=max(1, math.ceil(self.burst / self.rate)),
                kind="limit",
            )
        if self.max_lag is not None and self.lag > self.max_lag:
            return Refusal(
                "server busy", retry_after=min(30, max(1, math.ceil(2 * self.lag))), kind="overload"
            )
        if self._tokens < 1:
            return Refusal(
                "connection rate limit reached",
                retry_after=max(1, math.ceil((1 - self._tokens) / self.rate)),
                kind="rate",
            )
        return None

    def release(self) -> None:
        """A connection admitted earlier has ended (or its handshake failed)."""
        if self.connections > 0:
            self.connections -= 1

    def _refill(self, now: float) -> None:
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
