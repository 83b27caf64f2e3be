"""Counters and histograms for the hot path, cheaper than ``prometheus_client``'s own.

``prometheus_client`` makes every update thread-safe: a histogram observation takes a lock for its sum and
another for its bucket. The CSMS updates these figures only from its event loop thread (handlers, the
connection's dispatch, the group committer's writer task), so plain integers suffice: an observation is one
``bisect`` and two additions. They are exposed through a collector at scrape time, in the same text format.

Not thread-safe by design: update them from the event loop only.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Sequence

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector


class LoopCounter:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0

    def inc(self) -> None:
        self.value += 1


class LoopHistogram:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # Prometheus buckets are "less than or equal": the first bound >= value.
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        total = 0
        buckets: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += count
            buckets.append(("+Inf" if bound == float("inf") else repr(float(bound)), total))
        return buckets


class LoopMetrics(Collector):
    """Labelled :class:`LoopCounter` and :class:`LoopHistogram` families, collected at scrape time."""

    def __init__(self) -> None:
        self._counters: list[tuple[str, str, tuple[str, ...], dict[tuple[str, ...], LoopCounter]]] = []
        self._histograms: list[
            tuple[str, str, tuple[str, ...], tuple[float, ...], dict[tuple[str, ...], LoopHistogram]]
        ] = []

    def counter(
        self, name: str, documentation: str, labels: Sequence[str]
    ) -> dict[tuple[str, ...], LoopCounter]:
        """The children of a new counter family, by label values (filled by :func:`child_counter`)."""
        children: dict[tuple[str, ...], LoopCounter] = {}
        self._counters.append((name, documentation, tuple(labels), children))
        return children

    def histogram(
        self, name: str, documentation: str, labels: Sequence[str], bounds: Sequence[float]
    ) -> dict[tuple[str, ...], LoopHistogram]:
        children: dict[tuple[str, ...], LoopHistogram] = {}
        self._histograms.append((name, documentation, tuple(labels), tuple(bounds), children))
        return children

    def collect(self) -> Iterator[Metric]:
        for name, documentation, labels, counters in self._counters:
            counter_family = CounterMetricFamily(name, documentation, labels=labels)
            for values, counter in sorted(counters.items()):
                counter_family.add_metric(values, counter.value)
            yield counter_family
        for name, documentation, labels, _, histograms in self._histograms:
            histogram_family = HistogramMetricFamily(name, documentation, labels=labels)
            for values, histogram in sorted(histograms.items()):
                histogram_family.add_metric(values, histogram.cumulative(), histogram.sum)
            yield histogram_family


def child_counter(children: dict[tuple[str, ...], LoopCounter], key: tuple[str, ...]) -> LoopCounter:
    child = children.get(key)
    if child is None:
        child = children[key] = LoopCounter()
    return child


def child_histogram(
    children: dict[tuple[str, ...], LoopHistogram], key: tuple[str, ...], bounds: Sequence[float]
) -> LoopHistogram:
    child = children.get(key)
    if child is None:
        child = children[key] = LoopHistogram(bounds)
    return child
