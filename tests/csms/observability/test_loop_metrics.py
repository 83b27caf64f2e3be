"""The hot path's lock-free counters and histograms expose what prometheus_client's own would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from chargeplane.csms.observability.loop_metrics import LoopMetrics, child_counter, child_histogram

BOUNDS = (0.001, 0.01, 0.1, 1.0)
VALUES = (0.0, 0.0005, 0.001, 0.0010001, 0.05, 0.1, 0.7, 1.0, 3.0, 42.0)


def test_same_exposition_as_prometheus_client() -> None:
    ours = CollectorRegistry()
    hot = LoopMetrics()
    ours.register(hot)
    histograms = hot.histogram("x_seconds", "doc", ("action",), BOUNDS)
    counters = hot.counter("x_calls", "doc", ("action", "outcome"))
    theirs = CollectorRegistry()
    histogram = Histogram("x_seconds", "doc", ("action",), buckets=BOUNDS, registry=theirs)
    counter = Counter("x_calls", "doc", ("action", "outcome"), registry=theirs)
    for index, value in enumerate(VALUES):
        action = "Heartbeat" if index % 3 else "BootNotification"
        child_histogram(histograms, (action,), BOUNDS).observe(value)
        histogram.labels(action).observe(value)
        child_counter(counters, (action, "result")).inc()
        counter.labels(action, "result").inc()
    expected = sorted(
        line for line in generate_latest(theirs).decode().splitlines() if "_created" not in line
    )
    assert sorted(generate_latest(ours).decode().splitlines()) == expected


def test_bucket_bounds_are_less_or_equal() -> None:
    hot = LoopMetrics()
    histogram = child_histogram(hot.histogram("y", "doc", (), BOUNDS), (), BOUNDS)
    for value in (0.001, 0.01, 1.0, 1.5):
        histogram.observe(value)
    assert histogram.cumulative() == [("0.001", 1), ("0.01", 2), ("0.1", 2), ("1.0", 3), ("+Inf", 4)]
    assert histogram.sum == 2.511
