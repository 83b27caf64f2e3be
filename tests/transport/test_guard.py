"""The guard's rules without sockets (issue #13): lockouts per identity and per address, the failure budget."""

from __future__ import annotations

from chargeplane.transport.guard import SOURCE, STATION, AttackGuard, GuardSettings


def guard(**settings: float) -> AttackGuard:
    return AttackGuard(GuardSettings(**settings))  # type: ignore[arg-type]


def test_a_station_is_locked_after_the_threshold_and_each_further_failure_doubles_the_lockout() -> None:
    g = guard(station_failures=3, source_failures=0, lockout_base=2.0, lockout_max=10.0, source_rate=0)
    assert g.failed("CS1", "10.0.0.1", 0.0) == []
    assert g.failed("CS1", "10.0.0.1", 0.1) == []
    [first] = g.failed("CS1", "10.0.0.1", 0.2)
    assert (first.kind, first.key, first.failures, first.duration) == (STATION, "cs1", 3, 2.0)
    assert g.station_locked("cs1", 1.0) is not None  # identities compare case-insensitively
    assert g.station_locked("CS1", 2.2) is None  # expired
    assert g.failed("CS1", "10.0.0.1", 2.3)[0].duration == 4.0
    assert g.failed("CS1", "10.0.0.1", 6.4)[0].duration == 8.0
    assert g.failed("CS1", "10.0.0.1", 14.5)[0].duration == 10.0  # capped
    assert g.counters.lockouts == 4
    assert g.counters.failures == 6


def test_a_success_clears_the_count_and_old_failures_are_forgotten() -> None:
    g = guard(station_failures=2, source_failures=0, forget_after=60.0, source_rate=0)
    g.failed("CS1", "a", 0.0)
    g.succeeded("CS1", "a")
    assert g.failed("CS1", "a", 1.0) == []  # counting starts again
    assert g.failed("CS1", "a", 100.0) == []  # the failure at 1.0 is forgotten
    assert len(g.failed("CS1", "a", 101.0)) == 1


def test_unknown_identities_are_counted_like_known_ones_and_each_identity_separately() -> None:
    g = guard(station_failures=2, source_failures=0, source_rate=0)
    g.failed("NOBODY", "a", 0.0)
    g.failed("CS1", "a", 0.0)
    assert g.lockouts(0.5) == []
    g.failed("NOBODY", "a", 0.5)
    assert [(lock.kind, lock.key) for lock in g.lockouts(0.6)] == [(STATION, "nobody")]


def test_an_address_is_locked_after_its_failures_on_many_identities() -> None:
    g = guard(station_failures=0, source_failures=3, lockout_base=5.0, source_rate=0)
    for i in range(2):
        assert g.failed(f"X{i}", "10.0.0.9", float(i)) == []
    [lockout] = g.failed(None, "10.0.0.9", 2.0)  # a TLS handshake failure has no identity
    assert (lockout.kind, lockout.key) == (SOURCE, "10.0.0.9")
    assert g.refuse_source("10.0.0.9", 3.0) == 4  # Retry-After: the rest of the lockout
    assert g.refuse_source("10.0.0.8", 3.0) is None
    assert g.refuse_source("10.0.0.9", 7.5) is None
    assert g.unlock(SOURCE, "10.0.0.9") is True
    assert g.lockouts(3.0) == []


def test_the_failure_budget_refuses_an_address_that_only_fails_and_refills_with_time() -> None:
    g = guard(station_failures=0, source_failures=0, source_rate=2.0, source_burst=3)
    for _ in range(3):
        assert g.refuse_source("s", 0.0) is None
        g.failed("X", "s", 0.0)
    assert g.refuse_source("s", 0.0) == 1
    assert g.refuse_source("other", 0.0) is None
    assert g.refuse_source("s", 0.5) is None  # one token back after 1/rate seconds
    assert g.counters.refused_source == 1


def test_successes_do_not_spend_the_budget() -> None:
    g = guard(source_rate=1.0, source_burst=1)
    for _ in range(100):
        assert g.refuse_source("nat", 0.0) is None
        g.succeeded("CS", "nat")


def test_tables_are_bounded() -> None:
    g = guard(station_failures=1, source_failures=1, max_tracked=10, source_rate=1.0)
    for i in range(100):
        g.failed(f"X{i}", f"10.0.0.{i}", 0.0)
    assert len(g.lockouts(0.1)) == 20


def test_unknown_identities_refused_by_admission_spend_the_failure_budget() -> None:
    g = guard(source_rate=1.0, source_burst=2)
    g.refused_unknown("s", 0.0)
    g.refused_unknown("s", 0.0)
    assert g.refuse_source("s", 0.0) == 1


def linked(**settings: float) -> tuple[AttackGuard, AttackGuard]:
    """Two guards (two processes) that tell each other everything at once, as the cluster does over NATS."""
    a, b = guard(**settings), guard(**settings)
    a.shared = lambda what, station, source: b.apply(what, station, source, 0.0)
    b.shared = lambda what, station, source: a.apply(what, station, source, 0.0)
    return a, b


def test_failures_spread_over_two_processes_lock_the_identity_on_both() -> None:
    a, b = linked(station_failures=4, source_failures=0, source_rate=0)
    a.failed("CS1", "10.0.0.1", 0.0)
    b.failed("CS1", "10.0.0.2", 0.0)
    a.failed("CS1", "10.0.0.3", 0.0)
    assert a.station_locked("CS1", 0.0) is None
    assert b.station_locked("CS1", 0.0) is None
    b.failed("CS1", "10.0.0.4", 0.0)  # the fourth, wherever it lands
    assert a.station_locked("CS1", 0.1) is not None
    assert b.station_locked("CS1", 0.1) is not None
    assert a.counters.failures == b.counters.failures == 4


def test_an_operators_unlock_and_a_clearing_success_reach_the_other_process() -> None:
    a, b = linked(station_failures=2, source_failures=0, source_rate=0)
    a.failed("CS1", "x", 0.0)
    a.failed("CS1", "x", 0.0)
    assert b.station_locked("CS1", 0.1) is not None
    assert b.unlock(STATION, "CS1") is True
    assert a.station_locked("CS1", 0.1) is None
    a.failed("CS2", "y", 0.0)
    b.succeeded("CS2", "y")  # the right password, on the other process: the failure is forgotten on both
    assert a.failed("CS2", "y", 0.0) == []


def test_only_successes_that_clear_something_are_told() -> None:
    told: list[tuple[str, str | None, str]] = []
    g = guard(station_failures=3, source_failures=3, source_rate=0)
    g.shared = lambda what, station, source: told.append((what, station, source))
    g.succeeded("CS1", "a")  # nothing to clear: a storm of good connections crosses no cluster
    assert told == []
    g.failed("CS1", "a", 0.0)
    g.succeeded("CS1", "a")
    assert told == [("failed", "CS1", "a"), ("succeeded", "CS1", "a")]
    g.apply("some-newer-notice", "CS1", "a", 0.0)  # a newer node's notice is ignored
    assert told == [("failed", "CS1", "a"), ("succeeded", "CS1", "a")]
