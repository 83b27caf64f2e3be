"""Adaptive admission control (issue #19): the rate follows the event loop's lag and the database writer's
backlog, between the base rate and ``max_rate``; handshakes in progress are capped. Time is an argument."""

from __future__ import annotations

import pytest

from chargeplane.transport.admission import AdaptiveRate, AdmissionControl, Refusal

ADAPTIVE = AdaptiveRate(max_rate=1000.0, target_lag=0.1, max_backlog=100)


def admit_all(admission: AdmissionControl, now: float, attempts: int) -> int:
    """How many of ``attempts`` arrivals at ``now`` are admitted."""
    return sum(admission.try_admit(now) is None for _ in range(attempts))


def test_the_rate_grows_while_the_server_keeps_up_and_stations_wait() -> None:
    admission = AdmissionControl(rate=100.0, burst=10, max_connections=100_000, adaptive=ADAPTIVE)
    now = 0.0
    for _ in range(30):
        admit_all(admission, now, 500)  # more than the bucket holds: the rate holds them back
        now += 0.1
        admission.observe(now, late=0.01, backlog=5)
    assert admission.rate == 1000.0  # 100 * 1.25**n, capped at max_rate
    admitted = admit_all(admission, now, 10_000)
    assert admitted == 100  # a tenth of a second at 1000/s is what the bucket holds now
    assert admit_all(admission, now + 1.0, 10_000) == 100  # refilled at 1000/s, up to that capacity


def test_the_rate_stays_without_demand() -> None:
    admission = AdmissionControl(rate=100.0, burst=10, max_connections=1000, adaptive=ADAPTIVE)
    for tick in range(1, 20):
        assert admission.try_admit(tick * 0.1) is None  # one arrival per tick: the bucket never runs dry
        admission.observe(tick * 0.1, late=0.0)
    assert admission.rate == 100.0


@pytest.mark.parametrize(("late", "backlog"), [(0.25, 0), (0.0, 101)])
def test_the_rate_backs_off_on_lag_or_writer_backlog_down_to_the_base_rate(late: float, backlog: int) -> None:
    admission = AdmissionControl(rate=100.0, burst=10, max_connections=100_000, adaptive=ADAPTIVE)
    now = 0.0
    for _ in range(20):
        admit_all(admission, now, 500)
        now += 0.1
        admission.observe(now, late=0.0)
    assert admission.rate == 1000.0
    admission.observe(now, late=late, backlog=backlog)
    assert admission.rate == pytest.approx(700.0)
    for _ in range(20):
        admission.observe(now, late=late, backlog=backlog)
    assert admission.rate == 100.0  # never below the configured base rate
    admission.observe(now, late=0.0, backlog=0)  # healthy, but nobody was held back since: no growth
    assert admission.rate == 100.0


def test_a_fixed_rate_ignores_the_load_reports() -> None:
    admission = AdmissionControl(rate=100.0, burst=10, max_connections=1000)
    admit_all(admission, 0.0, 50)
    admission.observe(0.1, late=0.0)
    assert admission.rate == 100.0
    assert admission.backlog == 0


def test_tokens_earned_before_a_rate_change_are_kept_at_the_old_rate() -> None:
    admission = AdmissionControl(rate=100.0, burst=50, max_connections=1000, adaptive=ADAPTIVE)
    assert admit_all(admission, 0.0, 60) == 50
    admission.observe(0.2, late=0.0)  # faster from 0.2 s on: the tokens of 0.0-0.2 s were earned at 100/s
    assert admission.rate == 125.0
    assert admit_all(admission, 0.2, 60) == 20
    assert admit_all(admission, 0.4, 60) == 25


def test_requests_in_progress_are_capped_before_any_work() -> None:
    admission = AdmissionControl(rate=1000.0, burst=100, max_connections=1000, max_opening=2)
    assert [admission.begin(), admission.begin()] == [None, None]
    refused = admission.begin()
    assert refused is not None
    assert (refused.kind, refused.retry_after) == ("opening", 1)
    assert admission.try_admit(0.0) is None  # the cap is on requests begun, not on connections admitted
    admission.opened()  # one handshake is over: its place is free
    assert admission.begin() is None
    assert (admission.opening, admission.connections) == (2, 1)
    for _ in range(5):
        admission.opened()
    assert admission.opening == 0
    assert admission.refusals == {"opening": 1}


def test_arrivals_are_refused_once_those_in_progress_and_arriving_fill_the_cap_or_the_loop_lags() -> None:
    admission = AdmissionControl(rate=1000.0, burst=100, max_connections=1000, max_lag=0.5, max_opening=3)
    assert admission.begin() is None
    assert admission.saturated(arriving=1) is None  # 1 in progress + 1 let in this turn: room for a third
    refused = admission.saturated(arriving=2)
    assert refused is not None
    assert (refused.kind, refused.reason) == ("opening", "too many handshakes in progress")
    admission.opened()
    assert admission.saturated(arriving=2) is None
    admission.observe(1.0, late=0.8)
    shed = admission.saturated()
    assert shed is not None
    assert (shed.kind, shed.retry_after) == ("overload", 2)
    assert admission.refusals == {"opening": 1, "overload": 1}


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_rate"):
        AdaptiveRate(max_rate=0, target_lag=0.1, max_backlog=1)
    with pytest.raises(ValueError, match="increase"):
        AdaptiveRate(max_rate=10, target_lag=0.1, max_backlog=1, decrease=1.0)
    with pytest.raises(ValueError, match="at least the base rate"):
        AdmissionControl(rate=100.0, burst=1, max_connections=1, adaptive=AdaptiveRate(50, 0.1, 1))
    with pytest.raises(ValueError, match="max_opening"):
        AdmissionControl(rate=1.0, burst=1, max_connections=1, max_opening=0)


def test_a_rate_wait_within_the_limit_takes_a_token_on_credit_in_arrival_order() -> None:
    """Issue #19 (admission_opening_wait): beyond the burst a station waits its turn at the rate instead of
    a 503 that brings every refused station back after the same second."""
    admission = AdmissionControl(rate=10.0, burst=2, max_connections=1000)
    assert [admission.admit_within(0.0, 0.25) for _ in range(2)] == [0.0, 0.0]  # the burst
    waits = [admission.admit_within(0.0, 0.25) for _ in range(3)]
    assert waits[:2] == pytest.approx([0.1, 0.2])  # one after the other at 10/s
    refused = waits[2]  # 0.3 s: longer than allowed
    assert isinstance(refused, Refusal)
    assert refused.kind == "rate"
    assert admission.connections == 4
    assert admission.try_admit(0.0) is not None  # no wait allowed: refused as before
    assert admission.admit_within(0.25, 0.25) == pytest.approx(0.05)  # the debt is paid back at the rate
