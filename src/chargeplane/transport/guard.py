"""Defences of the OCPP server against hostile clients: brute force, flooding strangers (issue #13).

* **Failure counting with exponential lockout**, per station identity and per source address: after
  ``threshold`` failed authentications the key is locked for ``base`` seconds, each further failure doubles
  that (up to ``maximum``); a success clears the key, failures are forgotten after ``forget_after`` quiet
  seconds. While a key is locked the server answers without computing any password hash.
* **A per-source failure budget**: a token bucket per source address, charged by each failed (or unknown
  identity) handshake and checked before any work (no database read, no hash). Successful handshakes cost
  nothing, so a site of many stations behind one address is not slowed down; a stranger that only fails is.

Failures are counted for any identity, known or not, so that lockouts do not tell which identities exist.
Every table is bounded (the oldest entries go first). Sans-I/O: ``now`` (seconds, monotonic) is an argument.

Several processes (nodes, ``--workers``) each have a guard; so that an attacker does not get N times the
attempts by spreading them, a guard tells ``shared`` of every local failure, of a success that cleared a record
and of an operator's unlock, and applies those of the others through :meth:`AttackGuard.apply` (the CSMS's
cluster passes them over NATS).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

STATION, SOURCE = "station", "source"
FAILED, SUCCEEDED, UNLOCKED = "failed", "succeeded", "unlocked"  # what one guard tells the others


@dataclass(frozen=True, slots=True)
class GuardSettings:
    station_failures: int = 5  # failures of one identity before its first lockout; 0: no station lockout
    source_failures: int = 50  # failures from one address before its first lockout; 0: no source lockout
    lockout_base: float = 2.0  # seconds of the first lockout; doubled by each further failure
    lockout_max: float = 900.0  # the longest lockout
    forget_after: float = 900.0  # failures forgotten after this many seconds without one
    source_rate: float = 5.0  # failed handshakes per second one address may spend; 0: no limit
    source_burst: int = 50  # failed handshakes in a burst above that rate
    max_tracked: int = 100_000  # entries per table at most (the least recently used are dropped)


@dataclass(frozen=True, slots=True)
class Lockout:
    kind: str  # STATION (key: the casefolded identity) or SOURCE (key: the address)
    key: str
    failures: int
    until: float  # in the clock of ``now``
    duration: float  # seconds this lockout lasts (from its last failure)


@dataclass(slots=True)
class _Record:
    failures: int = 0
    last: float = 0.0
    locked_until: float = 0.0
    duration: float = 0.0


class FailureTracker:
    """Failed attempts per key and the exponential lockout they earn."""

    def __init__(self, kind: str, threshold: int, settings: GuardSettings) -> None:
        self.kind = kind
        self.threshold = threshold
        self.settings = settings
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def locked(self, key: str, now: float) -> float | None:
        """Seconds left of the key's lockout, or ``None`` when it is not locked."""
        record = self._records.get(key)
        if record is None or record.locked_until <= now:
            return None
        return record.locked_until - now

    def failed(self, key: str, now: float) -> Lockout | None:
        """Count a failure; the lockout it starts (or extends), if any."""
        if self.threshold <= 0:
            return None
        record = self._records.get(key)
        if record is None or now - record.last > self.settings.forget_after:
            record = _Record()
        self._records[key] = record
        self._records.move_to_end(key)
        if len(self._records) > self.settings.max_tracked:
            self._records.popitem(last=False)
        record.failures += 1
        record.last = now
        if record.failures < self.threshold:
            return None
        exponent = min(record.failures - self.threshold, 32)
        record.duration = min(self.settings.lockout_max, self.settings.lockout_base * 2**exponent)
        record.locked_until = now + record.duration
        return Lockout(self.kind, key, record.failures, record.locked_until, record.duration)

    def succeeded(self, key: str) -> bool:
        """Forget the key's failures; whether it had any."""
        return self._records.pop(key, None) is not None

    def unlock(self, key: str) -> bool:
        """Lift a lockout and forget the key's failures (an operator's decision); whether it was tracked."""
        return self._records.pop(key, None) is not None

    def lockouts(self, now: float) -> list[Lockout]:
        return [
            Lockout(self.kind, key, r.failures, r.locked_until, r.duration)
            for key, r in self._records.items()
            if r.locked_until > now
        ]


class FailureBudget:
    """A token bucket per source address, spent by failures only."""

    def __init__(self, rate: float, burst: int, max_tracked: int) -> None:
        self.rate = rate
        self.burst = burst
        self.max_tracked = max_tracked
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, updated)

    def retry_after(self, key: str, now: float) -> int | None:
        """Seconds until the source may try again when its budget is spent, else ``None``."""
        if self.rate <= 0:
            return None
        tokens = self._tokens(key, now)
        if tokens >= 1:
            return None
        return max(1, math.ceil((1 - tokens) / self.rate))

    def spend(self, key: str, now: float) -> None:
        if self.rate <= 0:
            return
        self._buckets[key] = (self._tokens(key, now) - 1, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.max_tracked:
            self._buckets.popitem(last=False)

    def _tokens(self, key: str, now: float) -> float:
        found = self._buckets.get(key)
        if found is None:
            return float(self.burst)
        tokens, updated = found
        return min(float(self.burst), tokens + max(0.0, now - updated) * self.rate)


@dataclass(slots=True)
class GuardCounters:
    """What the guard did since the start, for the API and the benchmark."""

    failures: int = 0  # failed authentications (unknown identities included)
    lockouts: int = 0  # lockouts started or extended
    refused_locked: int = 0  # attempts answered without a hash check because a key was locked
    refused_source: int = 0  # attempts refused because the source's failure budget was spent


class AttackGuard:
    """Per-station and per-source failure counting, lockouts and the per-source failure budget."""

    def __init__(self, settings: GuardSettings | None = None) -> None:
        self.settings = settings or GuardSettings()
        s = self.settings
        self.stations = FailureTracker(STATION, s.station_failures, s)
        self.sources = FailureTracker(SOURCE, s.source_failures, s)
        self.budget = FailureBudget(s.source_rate, s.source_burst, s.max_tracked)
        self.counters = GuardCounters()
        # (what, station identity or None, source or kind): called for what the other guards must apply
        self.shared: Callable[[str, str | None, str], None] | None = None

    def refuse_source(self, source: str, now: float) -> int | None:
        """Before any work: ``Retry-After`` seconds when this address is locked or out of budget."""
        locked = self.sources.locked(source, now)
        if locked is not None:
            self.counters.refused_source += 1
            return max(1, math.ceil(locked))
        wait = self.budget.retry_after(source, now)
        if wait is not None:
            self.counters.refused_source += 1
        return wait

    def station_locked(self, station_id: str, now: float) -> float | None:
        """Seconds left of the identity's lockout, or ``None``."""
        return self.stations.locked(station_id.casefold(), now)

    def refused_while_locked(self, source: str, now: float) -> None:
        """An attempt refused (without a password check) because its identity is locked: it spends the
        source's failure budget, so that a brute force soon gets the cheaper 429."""
        self.counters.refused_locked += 1
        self.budget.spend(source, now)

    def failed(self, station_id: str | None, source: str, now: float) -> list[Lockout]:
        """A failed authentication (or TLS handshake: no identity yet); the lockouts it starts."""
        if self.shared is not None:
            self.shared(FAILED, station_id, source)
        return self._failed(station_id, source, now)

    def _failed(self, station_id: str | None, source: str, now: float) -> list[Lockout]:
        self.counters.failures += 1
        self.budget.spend(source, now)
        started = [self.sources.failed(source, now)]
        if station_id is not None:
            started.append(self.stations.failed(station_id.casefold(), now))
        lockouts = [lockout for lockout in started if lockout is not None]
        self.counters.lockouts += len(lockouts)
        return lockouts

    def refused_unknown(self, source: str, now: float) -> None:
        """An attempt for an unknown identity refused by admission control (its budget spent): it costs
        the source's failure budget too, so that one stranger soon gets the cheaper 429."""
        self.budget.spend(source, now)

    def succeeded(self, station_id: str, source: str) -> None:
        # Told only when it cleared something: every success of a storm would otherwise cross the cluster.
        cleared = self.stations.succeeded(station_id.casefold())
        cleared = self.sources.succeeded(source) or cleared
        if cleared and self.shared is not None:
            self.shared(SUCCEEDED, station_id, source)

    def lockouts(self, now: float) -> list[Lockout]:
        """The lockouts in force, stations first."""
        return self.stations.lockouts(now) + self.sources.lockouts(now)

    def unlock(self, kind: str, key: str) -> bool:
        tracker = self.stations if kind == STATION else self.sources
        tracked = tracker.unlock(key.casefold() if kind == STATION else key)
        if tracked and self.shared is not None:
            self.shared(UNLOCKED, key, "") if kind == STATION else self.shared(UNLOCKED, None, key)
        return tracked

    def apply(self, what: str, station_id: str | None, source: str, now: float) -> None:
        """What another process's guard told (see ``shared``): counted here as if it happened here, without
        telling anyone again. An unknown ``what`` (a newer node) is ignored."""
        if what == FAILED:
            self._failed(station_id, source, now)
        elif what == SUCCEEDED and station_id is not None:
            self.stations.succeeded(station_id.casefold())
            self.sources.succeeded(source)
        elif what == UNLOCKED:
            if station_id is not None:
                self.stations.unlock(station_id.casefold())
            else:
                self.sources.unlock(source)
