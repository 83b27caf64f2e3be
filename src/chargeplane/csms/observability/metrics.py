"""The CSMS's Prometheus metrics: one :class:`CsmsMetrics` per process (per ``Csms``), on its own registry.

Two kinds of figures:

- counted where they happen: OCPP messages by action, direction and outcome, handler and end-to-end latency,
  group-commit batches (the hot path: lock-free figures of the event loop, :mod:`.loop_metrics`: a dict
  lookup and an addition or a ``bisect`` per update; see bench/RESULTS.md), event-loop lag, API requests
  and failed handshakes (``prometheus_client``'s own metrics);
- read when scraped (:class:`StateCollector`): connected stations by version and security profile, admission
  refusals by reason, the group committer's totals. Nothing on the hot path for those.

Every metric and its labels are listed in docs/METRICS.md; ``tests/csms/observability/`` checks that list
against this registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from chargeplane.csms.observability.loop_metrics import LoopMetrics, child_counter, child_histogram
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.events import (
    CallAborted,
    CallRejected,
    CallTimedOut,
    ErrorReceived,
    Event,
    ResultReceived,
)
from chargeplane.ocpp.versions import Version

PREFIX = "chargeplane"

# Latency buckets (seconds): sub-millisecond handlers up to the call timeout range.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Message outcomes (label ``outcome``).
RESULT = "result"
ERROR = "error"
TIMEOUT = "timeout"
ABORTED = "aborted"
IN = "in"
OUT = "out"


class ConnectionView(Protocol):
    """What the state collector reads of a live OCPP connection."""

    @property
    def version(self) -> Version: ...

    @property
    def security_profile(self) -> int | None: ...


class AdmissionView(Protocol):
    refusals: dict[str, int]
    lag: float
    rate: float


class CommitterView(Protocol):
    batches: int
    units: int
    fallbacks: int


class CsmsMetrics:
    """The metrics of one CSMS. The ``*_view`` callables are read at scrape time (set by the app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        hot = LoopMetrics()
        self._messages = hot.counter(
            f"{PREFIX}_ocpp_messages",
            "OCPP CALLs by version, action, direction (in: from a station, out: to a station) and outcome "
            "(result, error, timeout, aborted)",
            ("version", "action", "direction", "outcome"),
        )
        self._handler_seconds = hot.histogram(
            f"{PREFIX}_ocpp_handler_seconds",
            "time in the CSMS handler of an incoming CALL (database writes included), by version and action",
            ("version", "action"),
            LATENCY_BUCKETS,
        )
        self._call_seconds = hot.histogram(
            f"{PREFIX}_ocpp_call_seconds",
            "end-to-end time of an incoming CALL: from its frame read off the WebSocket to its answer ready "
            "to go out (waiting behind the station's earlier CALLs, decoding, handler, encoding), by action",
            ("action",),
            LATENCY_BUCKETS,
        )
        batch_units = hot.histogram(
            f"{PREFIX}_group_commit_batch_units",
            "units of work (and batch-writer items) per committed group-commit batch",
            (),
            BATCH_BUCKETS,
        )
        batch_seconds = hot.histogram(
            f"{PREFIX}_group_commit_seconds",
            "time of one group-commit batch, from its start to its COMMIT",
            (),
            LATENCY_BUCKETS,
        )
        self._batch_units = child_histogram(batch_units, (), BATCH_BUCKETS)
        self._batch_seconds = child_histogram(batch_seconds, (), LATENCY_BUCKETS)
        r.register(hot)
        self.loop_lag = Histogram(
            f"{PREFIX}_event_loop_lag_seconds",
            "how late a short timer of the event loop fired (measured every lag interval)",
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.loop_lag_last = Gauge(
            f"{PREFIX}_event_loop_lag_last_seconds", "the last event-loop lag measurement", registry=r
        )
        self.api_requests = Counter(
            f"{PREFIX}_api_requests",
            "HTTP API requests by method, route (its path template; 'unmatched' for none) and status",
            ("method", "route", "status"),
            registry=r,
        )
        self.handshake_failures = Counter(
            f"{PREFIX}_ocpp_handshake_failures",
            "OCPP connections refused after admission: failed authentication, unknown station, TLS",
            ("kind",),
            registry=r,
        )
        self.connections_view: Callable[[], Iterable[ConnectionView]] = tuple
        self.admission_view: AdmissionView | None = None
        self.committer_view: CommitterView | None = None
        r.register(StateCollector(self))
        self._actions = {
            version: frozenset(ActionCatalog.for_version(version).actions) for version in Version
        }

    # -- hot path -------------------------------------------------------------------------------------------

    def message(self, version: Version, action: str, direction: str, outcome: str) -> None:
        key = (version.value, action, direction, outcome)
        child = self._messages.get(key)
        if child is None:
            child = child_counter(self._messages, key)
        child.value += 1

    def handled(self, version: Version, action: str, outcome: str, seconds: float) -> None:
        """An incoming CALL answered by its handler (``result``) or refused or failed (``error``)."""
        self.message(version, action, IN, outcome)
        key = (version.value, action)
        child = self._handler_seconds.get(key)
        if child is None:
            child = child_histogram(self._handler_seconds, key, LATENCY_BUCKETS)
        child.observe(seconds)

    def answered(self, action: str, seconds: float) -> None:
        key = (action,)
        child = self._call_seconds.get(key)
        if child is None:
            child = child_histogram(self._call_seconds, key, LATENCY_BUCKETS)
        child.observe(seconds)

    def ocpp_event(self, version: Version, event: Event) -> None:
        """The endpoint's events: the outcomes of the CSMS's own CALLs, and incoming CALLs it refused
        before any handler (unknown action, invalid payload: a CALLERROR)."""
        if isinstance(event, ResultReceived):
            self.message(version, event.action, OUT, RESULT)
        elif isinstance(event, ErrorReceived):
            self.message(version, event.action, OUT, ERROR)
        elif isinstance(event, CallTimedOut):
            self.message(version, event.action, OUT, TIMEOUT)
        elif isinstance(event, CallAborted):
            self.message(version, event.action, OUT, ABORTED)
        elif isinstance(event, CallRejected):
            # The action of a refused frame is the station's text: counted under its name only when it is
            # one of the version's actions, so that junk cannot grow the label set.
            known = event.action in self._actions[version]
            self.message(version, event.action if known else "unknown", IN, ERROR)

    def batch(self, units: int, seconds: float) -> None:
        self._batch_units.observe(units)
        self._batch_seconds.observe(seconds)

    def lag(self, seconds: float) -> None:
        self.loop_lag.observe(seconds)
        self.loop_lag_last.set(seconds)


class StateCollector(Collector):
    """Figures read from the live objects at scrape time."""

    def __init__(self, metrics: CsmsMetrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self._metrics
        stations = GaugeMetricFamily(
            f"{PREFIX}_connected_stations",
            "stations connected now, by OCPP version and security profile (0: none, loopback development)",
            labels=("version", "security_profile"),
        )
        counts: dict[tuple[str, str], int] = {(v.value, "0"): 0 for v in Version}
        for connection in metrics.connections_view():
            key = (connection.version.value, str(int(connection.security_profile or 0)))
            counts[key] = counts.get(key, 0) + 1
        for labels, count in sorted(counts.items()):
            stations.add_metric(labels, count)
        yield stations
        refusals = CounterMetricFamily(
            f"{PREFIX}_admission_refusals",
            "new OCPP connections refused by admission control (HTTP 503), by reason: limit (max_connections),"
            " opening (admission_max_opening handshakes in progress), overload (event-loop lag above"
            " admission_max_lag), rate (the admission rate / admission_burst)",
            labels=("reason",),
        )
        admission = metrics.admission_view
        kinds = ("limit", "opening", "overload", "rate")
        seen = dict.fromkeys(kinds, 0) | (admission.refusals if admission else {})
        for reason, count in sorted(seen.items()):
            refusals.add_metric((reason,), count)
        yield refusals
        if admission is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_admission_lag_seconds",
                "the event-loop lag admission control sheds load on (decaying maximum)",
                value=admission.lag,
            )
            yield GaugeMetricFamily(
                f"{PREFIX}_admission_rate",
                "new OCPP connections per second admission control allows now (adapts to the load)",
                value=admission.rate,
            )
        committer = metrics.committer_view
        if committer is not None:
            for name, value, text in (
                ("batches", committer.batches, "group-commit batches committed"),
                ("units", committer.units, "units of work committed by the group committer"),
                ("fallbacks", committer.fallbacks, "failed batches re-run one unit at a time"),
            ):
                yield CounterMetricFamily(f"{PREFIX}_group_commit_{name}", text, value=value)
