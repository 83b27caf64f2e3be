"""Admission control for new connections: an adaptive rate, a cap on the total and on handshakes in progress,
and load shedding.

After an outage every station reconnects at once. Accepting them all as fast as they come would starve the
live connections of CPU (TLS handshakes, password checks, boot storms), so the server admits new connections
through a token bucket (bursts up to ``burst``) and at most ``max_connections`` in all, and answers the
rest with HTTP 503 and a ``Retry-After``; stations retry with their back-off (2.0.1 Part 4 §5.3). Before any
of that, and before the server does any work for a request (the station's database read, its password
check), at most ``max_opening`` requests may be in progress (:meth:`AdmissionControl.begin`): in a storm the
others get an immediate 503 instead of queueing for the database until their opening handshake times out.

A fixed rate suits one machine and not another: too slow for a fast one (10,000 stations at 200/s take 50 s
whatever the CPU), too fast for a slow or busy one (the admitted stations' boots pile up faster than they are
answered). So the rate adapts (:class:`AdaptiveRate`, multiplicative increase and decrease, as a congestion
window does): the server reports, about ten times a second, its event loop's lag (how late a short
timer fired) and the database writer's backlog (units of work queued for the group commit) through
:meth:`AdmissionControl.observe`. While both are under their targets and the bucket was what held stations
back, the rate grows by ``increase`` per report up to ``max_rate``; when either is over its target the rate
shrinks by ``decrease`` per report, down to the configured base rate. And while the lag (a decaying maximum)
is above ``max_lag`` new connections are refused whatever the rate allows.

Sans-I/O: time is an argument.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: str
    retry_after: int  # seconds, for the Retry-After header
    kind: str = "other"  # a short fixed name of the reason (a metrics label): limit, opening, overload, rate


_TOO_MANY_OPENING = Refusal("too many handshakes in progress", retry_after=1, kind="opening")


@dataclass(frozen=True, slots=True)
class AdaptiveRate:
    """How the admission rate follows the load. The floor is the base rate given to :class:`AdmissionControl`."""

    max_rate: float  # connections per second at most
    target_lag: float  # seconds of event-loop lag above which the rate backs off
    max_backlog: int  # writer units queued above which the rate backs off
    increase: float = 1.25  # factor per report while the server keeps up and stations are waiting
    decrease: float = 0.7  # factor per report while it does not

    def __post_init__(self) -> None:
        if self.max_rate <= 0 or self.target_lag <= 0 or self.max_backlog < 1:
            raise ValueError("adaptive admission needs max_rate > 0, target_lag > 0 and max_backlog >= 1")
        if not (self.increase > 1 and 0 < self.decrease < 1):
            raise ValueError("adaptive admission needs increase > 1 and 0 < decrease < 1")


class AdmissionControl:
    def __init__(
        self,
        rate: float,
        burst: int,
        max_connections: int,
        max_lag: float | None = None,
        *,
        adaptive: AdaptiveRate | None = None,
        max_opening: int | None = None,
    ) -> None:
        if rate <= 0 or burst < 1 or max_connections < 1:
            raise ValueError("admission needs rate > 0, burst >= 1 and max_connections >= 1")
        if max_lag is not None and max_lag <= 0:
            raise ValueError("max_lag must be > 0 (or None: no load shedding)")
        if max_opening is not None and max_opening < 1:
            raise ValueError("max_opening must be >= 1 (or None: no cap)")
        if adaptive is not None and adaptive.max_rate < rate:
            raise ValueError("adaptive admission's max_rate must be at least the base rate")
        self.base_rate = rate
        self.rate = rate  # the current rate: the base one, or where the adaptive control has taken it
        self.burst = burst
        self.max_connections = max_connections
        self.max_lag = max_lag
        self.adaptive = adaptive
        self.max_opening = max_opening
        self._tokens = float(burst)
        self._updated: float | None = None
        self._held_back = False  # the bucket refused someone (or ran dry) since the last report
        self.connections = 0
        self.opening = 0  # requests begun whose opening handshake is still going on
        self.lag = 0.0  # seconds; the recent event-loop lag (a decaying maximum), see observe
        self.backlog = 0  # the writer's backlog at the last report
        self.refusals: dict[str, int] = {}  # refusals so far by Refusal.kind (for /metrics)

    def observe(self, now: float, late: float, backlog: int = 0) -> None:
        """One report of the load: how late a timer fired (seconds) and how many units of work wait for the
        database writer. A lag spike counts at once for the shedding; the figure then decays by a fifth per
        report, so that one quiet tick does not reopen the doors. The adaptive rate follows each report."""
        self.lag = max(late, self.lag * 0.8)
        self.backlog = backlog
        adaptive = self.adaptive
        if adaptive is None:
            return
        self._refill(now)  # tokens earned so far at the old rate
        if late > adaptive.target_lag or backlog > adaptive.max_backlog:
            self.rate = max(self.base_rate, self.rate * adaptive.decrease)
        elif self._held_back:
            self.rate = min(adaptive.max_rate, self.rate * adaptive.increase)
        self._held_back = False

    @property
    def capacity(self) -> float:
        """Tokens the bucket holds at most: the burst, or a tenth of a second at a higher adapted rate."""
        return max(float(self.burst), self.rate / 10)

    def begin(self) -> Refusal | None:
        """A request arrives, before any work is done for it: go on (``None``; then :meth:`opened` once its
        opening handshake is over, however it ends), or say why not."""
        if self.max_opening is not None and self.opening >= self.max_opening:
            return self._count(_TOO_MANY_OPENING)
        self.opening += 1
        return None

    def saturated(self, arriving: int = 0) -> Refusal | None:
        """Why a connection is refused as it arrives, before its request is read (counted as refused), or
        None: handshakes in progress, with the ``arriving`` connections whose requests have not reached
        :meth:`begin` yet, at the cap, or the loop lagging past ``max_lag`` (as any admission would)."""
        if self.max_opening is not None and self.opening + arriving >= self.max_opening:
            return self._count(_TOO_MANY_OPENING)
        if self.max_lag is not None and self.lag > self.max_lag:
            return self._count(self._overload())
        return None

    def try_admit(self, now: float) -> Refusal | None:
        """Admit one new connection (``None``), or say why not. An admitted one must be :meth:`release`\\ d."""
        admitted = self.admit_within(now, 0.0)
        return admitted if isinstance(admitted, Refusal) else None

    def admit_within(self, now: float, max_wait: float) -> Refusal | float:
        """Admit one new connection after at most ``max_wait`` seconds: the seconds to wait before it goes on
        (its token is taken now: the bucket goes into debt, so the connections waiting go on one after the
        other at the rate, in arrival order), or say why not (the rate refuses only a wait longer than
        ``max_wait``). An admitted one must be :meth:`release`\\ d."""
        refusal = self._refusal(now)
        wait = 0.0
        if refusal is not None and refusal.kind == "rate":
            wait = (1 - self._tokens) / self.rate
            if wait <= max_wait:
                refusal = None
        if refusal is not None:
            return self._count(refusal)
        self._tokens -= 1
        if self._tokens < 1:
            self._held_back = True
        self.connections += 1
        return wait

    def _count(self, refusal: Refusal) -> Refusal:
        self.refusals[refusal.kind] = self.refusals.get(refusal.kind, 0) + 1
        return refusal

    def _refusal(self, now: float) -> Refusal | None:
        self._refill(now)
        if self.connections >= self.max_connections:
            return Refusal(
                "connection limit reached",
                retry_after=max(1, math.ceil(self.burst / self.rate)),
                kind="limit",
            )
        if self.max_lag is not None and self.lag > self.max_lag:
            return self._overload()
        if self._tokens < 1:
            self._held_back = True
            return Refusal(
                "connection rate limit reached",
                retry_after=max(1, math.ceil((1 - self._tokens) / self.rate)),
                kind="rate",
            )
        return None

    def _overload(self) -> Refusal:
        return Refusal("server busy", retry_after=min(30, max(1, math.ceil(2 * self.lag))), kind="overload")

    def opened(self) -> None:
        """The opening handshake of a request :meth:`begin` let go on is over (accepted or refused)."""
        if self.opening > 0:
            self.opening -= 1

    def release(self) -> None:
        """A connection admitted earlier has ended (or its handshake failed)."""
        if self.connections > 0:
            self.connections -= 1

    def _refill(self, now: float) -> None:
        if self._updated is not None:
            self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
