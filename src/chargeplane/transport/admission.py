"""Admission control for new connections: a token bucket for the rate and a cap on the total.

After an outage every station reconnects at once. Accepting them all as fast as they come would starve the
live connections of CPU (TLS handshakes, password checks, boot storms), so the server admits at most
``rate`` new connections per second (bursts up to ``burst``) and at most ``max_connections`` in all, and
answers the rest with HTTP 503 and a ``Retry-After``; stations retry with their back-off (2.0.1 Part 4 §5.3).

Sans-I/O: time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    retry_after: int  # seconds, for the Retry-After header


class AdmissionControl:
    def __init__(self, rate: float, burst: int, max_connections: int) -> None:
        if rate <= 0 or burst < 1 or max_connections < 1:
            raise ValueError("admission needs rate > 0, burst >= 1 and max_connections >= 1")
        self.rate = rate
        self.burst = burst
        self.max_connections = max_connections
        self._tokens = float(burst)
        self._updated: float | None = None
        self.connections = 0

    def try_admit(self, now: float) -> Refusal | None:
        """Admit one new connection (``None``), or say why not. An admitted one must be :meth:`release`\\ d."""
        self._refill(now)
        if self.connections >= self.max_connections:
            return Refusal("connection limit reached", retry_after=max(1, math.ceil(self.burst / self.rate)))
        if self._tokens < 1:
            return Refusal(
                "connection rate limit reached", retry_after=max(1, math.ceil((1 - self._tokens) / self.rate))
            )
        self._tokens -= 1
        self.connections += 1
        return None

    def release(self) -> None:
        """A connection admitted earlier has ended (or its handshake failed)."""
        if self.connections > 0:
            self.connections -= 1

    def _refill(self, now: float) -> None:
        if self._updated is not None:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
