"""Device model monitoring (N02-N08, 2.0.1 and 2.1): monitors on variables, their events and reports.

Theory of operation
-------------------
A :class:`Monitor` watches one variable of the device model: a threshold (UpperThreshold / LowerThreshold,
and 2.1's TargetDelta / TargetDeltaRelative against the Target attribute), a Delta, or a period (Periodic,
PeriodicClockAligned). The device model tells this controller which watched variable changed (its
``observer``). The inputs of this block (the meters, the temperature sensor, a fault, the monitoring
requests) evaluate the monitors at once; a change another block makes (an AvailabilityState, a SetVariables)
makes this block's deadline due at once, and the core's next timer tick evaluates it (the runtime fires it
right after the input; sans-I/O tests call ``handle_timer``), with the time of that tick as the event's
timestamp.

Thresholds have hysteresis: crossing raises one Alerting event; the next event of that monitor is the one
with ``cleared`` once the value is back within the limit (N07.FR.02, N07.FR.16, N07.FR.17). A Delta monitor
compares with the value at the time it was set or last reported (N07.FR.18, N07.FR.19). A periodic monitor
reports the value every ``value`` seconds from the time it was set, or on the clock-aligned grid of
``value`` seconds from midnight (N08.FR.06, N08.FR.07).

What the simulated station ships with (the manufacturer defines the bases, N03):

* hard-wired (always active, cannot be replaced or cleared, N04.FR.18, N06.FR.03): the station's temperature
  sensor (ChargingStation.Temperature) above 70 °C (severity 2) and below -25 °C (severity 4); and a hardware
  fault of an EVSE is a hard-wired notification (no monitor) on EVSE.Problem, severity 1;
* preconfigured (All and FactoryDefault, the same set: FactoryDefault also deletes the custom monitors, All
  keeps them): per EVSE, EVSE.Power above the EVSE's rating (severity 4) and a Delta on its AvailabilityState
  (severity 8); a Delta on the station's AvailabilityState (8), ChargingStation.Power every 900 s (Periodic,
  8) and the temperature on the hour (PeriodicClockAligned, 8).

The monitoring level starts at 5: the informational monitors report nothing until the CSMS raises it, so a
station out of the box does not double its status traffic with NotifyEvents.

Events whose monitor's severity is above the active monitoring level are not reported (N05.FR.03,
N07.FR.15). While the station cannot send (offline, or not accepted yet), events of a severity up to
MonitoringCtrlr.OfflineQueuingSeverity are kept (bounded, oldest dropped) and sent once accepted again;
the others are dropped (N07.FR.04, N08.FR.03). Monitors, their trigger state and the ids are persisted
(N04 remark, N07.FR.13), so a threshold exceeded before a reboot reports its clearing after it
(N07.FR.14).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import msgspec
from msgspec import UNSET, UnsetType

from chargeplane.ocpp.errors import FormatViolation, OccurrenceConstraintViolation
from chargeplane.ocpp.messages import v2x, v21, v201
from chargeplane.ocpp.messages.base import Payload, present, unset_if_none
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import (
    ACTUAL,
    GetStatus,
    StationLayout,
    VariableDef,
    VariableKey,
    var,
)
from chargeplane.station.core.model import Evse, MeterReading

CTRLR = "MonitoringCtrlr"
STATION = "ChargingStation"
SET, CLEAR = "SetVariableMonitoring", "ClearVariableMonitoring"
HARD, PRE, CUSTOM = "HardWiredMonitor", "PreconfiguredMonitor", "CustomMonitor"
HARD_NOTE = "HardWiredNotification"
UPPER, LOWER, DELTA = "UpperThreshold", "LowerThreshold", "Delta"
PERIODIC, ALIGNED = "Periodic", "PeriodicClockAligned"
TARGET_DELTA, TARGET_RELATIVE = "TargetDelta", "TargetDeltaRelative"
ALL, FACTORY, HARD_ONLY = "All", "FactoryDefault", "HardWiredOnly"
BASES = f"{ALL},{FACTORY},{HARD_ONLY}"
THRESHOLDS = frozenset({UPPER, LOWER, TARGET_DELTA, TARGET_RELATIVE})  # with hysteresis and ``cleared``
PERIODICS = frozenset({PERIODIC, ALIGNED})
NUMERIC = frozenset({"integer", "decimal"})
CRITERIA = {
    "ThresholdMonitoring": frozenset({UPPER, LOWER}),  # N02.FR.12
    "DeltaMonitoring": frozenset({DELTA}),  # N02.FR.13
    "PeriodicMonitoring": PERIODICS,  # N02.FR.14
    "TargetDeltaMonitoring": frozenset({TARGET_DELTA, TARGET_RELATIVE}),  # 2.1 N02.FR.23
}
DEFAULT_LEVEL = "5"  # Alert and worse are reported out of the box; Warning to Debug once the CSMS asks (N05)
FIRST_CUSTOM_ID = 1000  # the ids below are the factory's
MAX_QUEUED = 500  # events kept while offline
TEMPERATURE = VariableKey(STATION, "Temperature")
STATE_KEY = "monitoring"


@dataclass(slots=True)
class Monitor:
    id: int
    key: VariableKey
    type: str
    value: float
    severity: int
    kind: str  # HardWiredMonitor, PreconfiguredMonitor, CustomMonitor (EventNotificationEnumType)
    transaction: bool = False  # only while a transaction runs (on the monitor's EVSE, or any)
    triggered: bool = False  # a threshold is exceeded and its clearing not reported yet
    reference: str | None = None  # Delta: the value when set or last reported
    due: datetime | None = None  # periodic: the next report
    stream: tuple[int, int] | None = None  # 2.1 periodicEventStream (interval s, values; 0 = not given)

    def stored(self) -> _Stored:
        key = self.key
        where = (
            key.component,
            key.variable,
            key.component_instance,
            key.variable_instance,
            key.evse,
            key.connector,
        )
        return _Stored(
            self.id,
            where,
            self.type,
            self.value,
            self.severity,
            self.kind,
            self.transaction,
            self.triggered,
            self.reference,
            self.stream,
        )


class _Stored(msgspec.Struct, array_like=True):
    """A monitor as persisted (N07.FR.13): its trigger state too, for N07.FR.14."""

    id: int
    key: tuple[str, str, str | None, str | None, int | None, int | None]
    type: str
    value: float
    severity: int
    kind: str
    transaction: bool
    triggered: bool
    reference: str | None
    stream: tuple[int, int] | None = None  # N11: persisted like the monitor (a state without it still loads)

    def monitor(self) -> Monitor:
        key = VariableKey(*self.key)
        return Monitor(
            self.id,
            key,
            self.type,
            self.value,
            self.severity,
            self.kind,
            self.transaction,
            self.triggered,
            self.reference,
            stream=self.stream,
        )


@dataclass(slots=True)
class Stream:
    """2.1 periodic event stream of one monitor (N11-N15); its id is the monitor's id."""

    monitor_id: int
    interval: int  # flush at least every interval s (N15.FR.06), 0: not by time
    values: int  # flush when this many are buffered, and never more at a time (N15.FR.07/08), 0: no limit
    asked: bool = False  # OpenPeriodicEventStream sent, answer awaited or received
    open: bool = False  # the CSMS accepted it (N11.FR.06)
    flushed: datetime | None = None
    buffer: list[tuple[datetime, str]] = field(default_factory=list)

    def constant(self, key: int) -> v21.datatypes.ConstantStreamDataType:
        return v21.datatypes.ConstantStreamDataType(
            id=key, params=_params(self.interval, self.values), variable_monitoring_id=self.monitor_id
        )


def _params(interval: int, values: int) -> v21.datatypes.PeriodicEventStreamParamsType:
    return v21.datatypes.PeriodicEventStreamParamsType(
        interval=interval if interval else UNSET, values=values if values else UNSET
    )


MAX_BUFFERED = 1000  # per stream, while the station cannot send (the oldest values go first)


class _State(msgspec.Struct):
    next_id: int
    event_id: int
    monitors: list[_Stored]


@dataclass(frozen=True, slots=True)
class Event:
    """One eventData element, version-neutral."""

    event_id: int
    timestamp: str
    trigger: str  # Alerting, Delta, Periodic
    actual: str
    cleared: bool
    key: VariableKey
    monitor_id: int | None  # None: a hard-wired notification, no monitor
    kind: str  # EventNotificationEnumType
    severity: int
    transaction_id: str | None


def factory_monitors(layout: StationLayout, base: str) -> list[Monitor]:
    """The monitors a base activates: the hard-wired ones, and but for HardWiredOnly the preconfigured ones
    (the same set for All and FactoryDefault: they differ in what happens to the custom monitors, N03)."""
    return [
        Monitor(*spec) for spec in _factory(dataclasses.replace(layout, serial_number=""), base != HARD_ONLY)
    ]


@functools.cache
def _factory(
    layout: StationLayout, preconfigured: bool
) -> tuple[tuple[int, VariableKey, str, float, int, str], ...]:
    """The factory monitors of a layout (shared by the stations of a fleet: their keys too)."""
    specs = [
        (1, TEMPERATURE, UPPER, 70.0, 2, HARD),
        (2, TEMPERATURE, LOWER, -25.0, 4, HARD),
    ]
    if not preconfigured:
        return tuple(specs)
    evses = range(1, len(layout.connectors) + 1)
    specs += [
        (10, VariableKey(STATION, "AvailabilityState"), DELTA, 1.0, 8, PRE),
        (11, VariableKey(STATION, "Power"), PERIODIC, 900.0, 8, PRE),
        (12, TEMPERATURE, ALIGNED, 3600.0, 8, PRE),
        *((100 + n, VariableKey("EVSE", "Power", evse=n), UPPER, layout.max_power_w, 4, PRE) for n in evses),
        *((200 + n, VariableKey("EVSE", "AvailabilityState", evse=n), DELTA, 1.0, 8, PRE) for n in evses),
    ]
    return tuple(specs)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


class Monitoring(Controller):
    __slots__ = ("_clock", "_dirty", "_event_id", "_next_id", "_watched", "monitors", "queued", "streams")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.monitors: dict[int, Monitor] = {}
        self.queued: list[Event] = []  # waiting for the connection (N07.FR.04, N08.FR.03)
        self._dirty: set[VariableKey] = set()
        self._watched: dict[VariableKey, str | None] = {}  # watched variable -> its value last evaluated
        self._next_id = FIRST_CUSTOM_ID
        self._event_id = 0
        self._clock: datetime | None = None  # the latest time this controller saw
        self.streams: dict[int, Stream] = {}  # 2.1 periodic event streams by id (= monitor id)

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        defs = [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "Available", "boolean", "true", ro),
            var(CTRLR, "ItemsPerMessage", "integer", "20", ro, variable_instance=SET),
            var(CTRLR, "BytesPerMessage", "integer", "8000", ro, variable_instance=SET),
            var(CTRLR, "ItemsPerMessage", "integer", "20", ro, variable_instance=CLEAR),
            var(CTRLR, "BytesPerMessage", "integer", "4000", ro, variable_instance=CLEAR),
            var(CTRLR, "OfflineQueuingSeverity", "integer", "4", min_limit=0, max_limit=9),
            var(CTRLR, "ActiveMonitoringBase", "OptionList", FACTORY, ro, values_list=BASES),
            var(CTRLR, "ActiveMonitoringLevel", "integer", DEFAULT_LEVEL, ro, min_limit=0, max_limit=9),
            var(CTRLR, "MonitoringBase", "OptionList", FACTORY, ro, values_list=BASES),
            var(CTRLR, "MonitoringLevel", "integer", DEFAULT_LEVEL, ro, min_limit=0, max_limit=9),
            # the simulated hardware's sensor and meters (StationCore.set_temperature / update_meter)
            var(
                STATION,
                "Temperature",
                "decimal",
                "25",
                ro,
                unit="Celsius",
                min_limit=-40,
                max_limit=120,
                extra={"Target": "25"},
            ),
            var(
                STATION,
                "Power",
                "decimal",
                "0",
                ro,
                unit="W",
                min_limit=0,
                max_limit=layout.max_power_w * len(layout.connectors),
            ),
        ]
        return defs

    # ------------------------------------------------------------------ lifecycle
    def start(self, now: datetime) -> None:
        if self.ctx.version is Version.V16:
            return  # monitoring is a 2.x block
        self._clock = now
        stored = self.ctx.storage.get_state(STATE_KEY)
        if stored is None:
            monitors = factory_monitors(self.ctx.layout, FACTORY)
        else:
            state = msgspec.json.decode(stored, type=_State)
            self._next_id, self._event_id = state.next_id, state.event_id
            monitors = [item.monitor() for item in state.monitors]
            hard = {m.id for m in monitors if m.kind == HARD}
            monitors += [m for m in factory_monitors(self.ctx.layout, HARD_ONLY) if m.id not in hard]
        for monitor in monitors:
            self._install(monitor, now)
            if monitor.stream is not None and self.ctx.version is Version.V21:
                self.streams[monitor.id] = Stream(monitor.id, *monitor.stream)  # opened once accepted
        self.ctx.model.observer = self._changed
        self._watch()
        # N07.FR.14: a threshold exceeded before the reboot may be cleared now; a Delta sees what changed
        self._dirty.update(m.key for m in monitors if m.type not in PERIODICS)
        self.handle_timer(now)

    def registration_accepted(self, now: datetime) -> None:
        self._flush(now)
        for stream in list(self.streams.values()):
            if not stream.asked:
                self._open(stream, now)

    def connection_opened(self, now: datetime) -> None:
        self._clock = now
        if self.ctx.accepted:
            self._flush(now)

    # ------------------------------------------------------------------ inputs of the simulated hardware
    def metered(self, evse: Evse, reading: MeterReading, now: datetime) -> None:
        """EVSE.Power and ChargingStation.Power follow the meters."""
        model = self.ctx.model
        model.put(VariableKey("EVSE", "Power", evse=evse.id), _text(reading.power_w))
        total = sum(e.meter.power_w for e in self.ctx.evses.values())
        model.put(VariableKey(STATION, "Power"), _text(total))
        self.handle_timer(now)

    def measured_temperature(self, celsius: float, now: datetime) -> None:
        self.ctx.model.put(TEMPERATURE, _text(celsius))
        self.handle_timer(now)

    def problem(self, evse: Evse, faulted: bool, now: datetime) -> None:
        """A hardware fault of an EVSE starts or ends: EVSE.Problem follows, and a hard-wired notification
        (no monitor) reports it, severity 1 (hardware failure); its end is the ``cleared`` one."""
        key = VariableKey("EVSE", "Problem", evse=evse.id)
        model = self.ctx.model
        value = "true" if faulted else "false"
        if self.ctx.version is Version.V16 or model.actual(key) == value:
            return
        model.put(key, value)
        self._event_id += 1
        tx = evse.tx.id if evse.tx is not None else None
        event = Event(
            self._event_id, self.ctx.ts(now), "Alerting", value, not faulted, key, None, HARD_NOTE, 1, tx
        )
        self._report([event], now)

    def hardwired(self, key: VariableKey, value: str, now: datetime) -> None:
        """A value the station reports whatever the monitors (S03.FR.02/04: a battery slot's
        AvailabilityState): put into the model and sent as a Delta hard-wired notification, severity 8,
        whatever the monitoring level (a requirement, not a monitor); queued while offline."""
        if self.ctx.version is Version.V16:
            return
        self.ctx.model.put(key, value)
        self._event_id += 1
        event = Event(self._event_id, self.ctx.ts(now), "Delta", value, False, key, None, HARD_NOTE, 8, None)
        if self.ctx.accepted:
            self._send([event], now)
        else:
            self.queued.append(event)
            del self.queued[:-MAX_QUEUED]

    # ------------------------------------------------------------------ timer
    def next_deadline(self) -> datetime | None:
        if self._dirty and self._clock is not None:
            return self._clock
        due = [m.due for m in self.monitors.values() if m.due is not None]
        due += [
            s.flushed + timedelta(seconds=s.interval)
            for s in self.streams.values()
            if s.open and s.interval > 0 and s.flushed is not None and s.buffer
        ]
        return min(due) if due else None

    def handle_timer(self, now: datetime) -> None:
        """Evaluate the changed variables' monitors and the periodic ones that are due (also called at once
        after an input or a request of this block that may change what the monitors see)."""
        self._clock = now
        if not self.monitors:
            self._dirty.clear()
            return
        events: list[Event] = []
        dirty, self._dirty = self._dirty, set()
        for key in dirty:
            if key in self._watched:
                self._watched[key] = self.ctx.model.actual(key)
        for monitor in sorted(self.monitors.values(), key=lambda m: m.id):
            if monitor.key in dirty and monitor.type not in PERIODICS:
                event = self._evaluate(monitor, now)
                if event is not None:
                    events.append(event)
            elif monitor.due is not None and monitor.due <= now:
                monitor.due = self._next_due(monitor, now)
                if self._active(monitor):  # N08.FR.06, N08.FR.07
                    events.append(self._event(monitor, PERIODIC, False, now))
        if events:
            self._save()
            reported = []
            for event in events:
                stream = self.streams.get(event.monitor_id) if event.monitor_id is not None else None
                if stream is not None and stream.open:  # N15: into the stream's buffer, with its time
                    stream.buffer.append((now, event.actual))
                    del stream.buffer[:-MAX_BUFFERED]
                else:  # no stream, or not (yet) accepted: NotifyEvent (N11.FR.07)
                    reported.append(event)
            if reported:
                self._report(reported, now)
        self._flush_streams(now)

    # ------------------------------------------------------------------ requests
    def set_monitor(
        self, item: _SetData, now: datetime, stream: tuple[int, int] | None = None
    ) -> tuple[str, int | None, str | None]:
        """N04 for one setMonitoringData: (status, monitor id, reason); ``stream``: its 2.1
        periodicEventStream (N11.FR.01)."""
        self._clock = now
        key = _key(item.component, item.variable)
        model = self.ctx.model
        found = model.get(key, ACTUAL).status
        if found is GetStatus.UNKNOWN_COMPONENT:
            return "UnknownComponent", None, None  # N04.FR.03
        if found is GetStatus.UNKNOWN_VARIABLE:
            return "UnknownVariable", None, None  # N04.FR.04
        definition = model.definition(key)
        assert definition is not None
        kind = str(item.type)
        wanted = present(item.id)
        existing = self.monitors.get(wanted) if wanted is not None else None
        if wanted is not None:
            if existing is None:
                return "Rejected", None, "UnknownMonitorId"  # N04.FR.13
            if existing.kind == HARD:
                return "Rejected", None, "HardWiredMonitor"  # N04.FR.18
            if existing.key != key:
                return "Rejected", None, "OtherVariable"  # N04.FR.16
        numeric = definition.data_type in NUMERIC
        if kind in (UPPER, LOWER) and not numeric:
            return "UnsupportedMonitorType", None, None  # N04.FR.05
        if kind in (TARGET_DELTA, TARGET_RELATIVE) and (not numeric or "Target" not in definition.defaults):
            return "UnsupportedMonitorType", None, None
        refusal = _refuse_value(definition, kind, item.value, item.severity)
        if refusal is not None:
            return "Rejected", None, refusal  # N04.FR.06, N04.FR.14
        for other in self.monitors.values():  # N04.FR.10
            if (
                other.key == key
                and other.type == kind
                and other.severity == item.severity
                and other.id != wanted
            ):
                return "Duplicate", None, None
        if existing is None:
            monitor_id, self._next_id = self._next_id, self._next_id + 1  # N04.FR.11
        else:  # N04.FR.12 replace; N04.FR.15 a replaced preconfigured one is custom now
            monitor_id = existing.id
        monitor = Monitor(
            monitor_id,
            key,
            kind,
            float(item.value),
            item.severity,
            CUSTOM,
            present(item.transaction) or False,
            stream=stream,
        )
        if existing is not None:
            self._close(existing.id, now)  # N13.FR.06 (a replaced stream is opened again below)
        if existing is not None and existing.type == kind and kind in THRESHOLDS:
            monitor.triggered = existing.triggered  # N07.FR.11: the new threshold may clear the old one
        self._install(monitor, now)
        self._watch()
        if kind not in PERIODICS:
            self._dirty.add(key)  # evaluated at once (N07.FR.11)
        self._save()
        if stream is not None:
            self.streams[monitor_id] = Stream(monitor_id, *stream)
            self._open(self.streams[monitor_id], now)  # N11.FR.02
        return "Accepted", monitor_id, None

    def clear_monitor(self, monitor_id: int, now: datetime) -> str:
        """N06 for one id; its event stream is closed too (N13.FR.05)."""
        monitor = self.monitors.get(monitor_id)
        if monitor is None:
            return "NotFound"  # N06.FR.02
        if monitor.kind == HARD:
            return "Rejected"  # N06.FR.03
        self._close(monitor_id, now)
        del self.monitors[monitor_id]  # N07.FR.12: no cleared event for a removed exceeded threshold
        self._watch()
        self._save()
        return "Accepted"  # N06.FR.01

    def set_base(self, base: str, now: datetime) -> None:
        """N03: HardWiredOnly and FactoryDefault drop the custom monitors; All keeps them (N03.FR.03-05)."""
        self._clock = now
        if base != ALL:
            for gone in [i for i, m in self.monitors.items() if m.kind != HARD]:
                self._close(gone, now)  # N13.FR.05
            self.monitors = {i: m for i, m in self.monitors.items() if m.kind == HARD}
        for monitor in factory_monitors(self.ctx.layout, base):
            if monitor.id not in self.monitors:
                self._install(monitor, now)
                if monitor.type not in PERIODICS:
                    self._dirty.add(monitor.key)
        self._watch()
        self._save()
        for name in ("ActiveMonitoringBase", "MonitoringBase"):
            self.ctx.model.put(VariableKey(CTRLR, name), base, persist=True)

    def set_level(self, severity: int) -> bool:
        """N05: 0-9, else refused (N05.FR.02)."""
        if not 0 <= severity <= 9:
            return False
        for name in ("ActiveMonitoringLevel", "MonitoringLevel"):
            self.ctx.model.put(VariableKey(CTRLR, name), str(severity), persist=True)
        return True

    def report(self, criteria: list[str], wanted: Sequence[_ComponentVariable]) -> list[Monitor]:
        """N02: the monitors of the criteria (all when none) and of the component/variables (all when none)."""
        types: frozenset[str] | None = None
        if criteria:
            types = frozenset(t for c in criteria for t in CRITERIA[c])
        chosen = [
            m
            for m in sorted(self.monitors.values(), key=lambda m: m.id)
            if (types is None or m.type in types)
            and (not wanted or any(_matches(m.key, cv) for cv in wanted))
        ]
        return chosen

    # ------------------------------------------------------------------ internals
    def _changed(self, key: VariableKey) -> None:
        watched = self._watched
        if key in watched and watched[key] != self.ctx.model.actual(key):
            self._dirty.add(key)

    def _watch(self) -> None:
        model, old = self.ctx.model, self._watched
        keys = {m.key for m in self.monitors.values() if m.type not in PERIODICS}
        self._watched = {key: old[key] if key in old else model.actual(key) for key in keys}  # in memory only

    def _observed(self, key: VariableKey) -> str | None:
        """The value a Delta compares: a WriteOnly one only as its digest (the monitors are persisted)."""
        value = self.ctx.model.actual(key)
        definition = self.ctx.model.definition(key)
        if value is not None and definition is not None and definition.mutability == "WriteOnly":
            return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
        return value

    def _install(self, monitor: Monitor, now: datetime) -> None:
        if monitor.type == DELTA and monitor.reference is None:
            monitor.reference = self._observed(monitor.key)
        if monitor.type in PERIODICS:
            monitor.due = self._next_due(monitor, now)
        self.monitors[monitor.id] = monitor

    def _next_due(self, monitor: Monitor, now: datetime) -> datetime:
        period = timedelta(seconds=max(1.0, monitor.value))
        if monitor.type == PERIODIC:
            return now + period  # N08.FR.06: from the time it was set or triggered
        local = self.ctx.station_time(now)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        steps = math.floor((local - midnight) / period) + 1
        return now + (midnight + steps * period - local)  # N08.FR.07

    def _active(self, monitor: Monitor) -> bool:
        if not monitor.transaction:
            return True
        evses = self.ctx.evses
        if monitor.key.evse is not None:
            evse = evses.get(monitor.key.evse)
            return evse is not None and evse.tx is not None
        return any(e.tx is not None for e in evses.values())

    def _evaluate(self, monitor: Monitor, now: datetime) -> Event | None:
        model = self.ctx.model
        text = self._observed(monitor.key)
        kind = monitor.type
        if kind == DELTA:
            definition = model.definition(monitor.key)
            numeric = definition is not None and definition.data_type in NUMERIC
            old, new = _number(monitor.reference), _number(text)
            if numeric and old is not None and new is not None:
                changed = abs(new - old) > monitor.value  # N07.FR.18
            else:
                changed = text != monitor.reference  # N07.FR.19
            if not changed:
                return None
            monitor.reference = text
            return self._event(monitor, "Delta", False, now) if self._active(monitor) else None
        value = _number(text)
        if value is None:
            return None
        if kind == UPPER:
            exceeded = value > monitor.value  # N07.FR.16: above, not on, the threshold
        elif kind == LOWER:
            exceeded = value < monitor.value  # N07.FR.17
        else:
            target = _number(model.get(monitor.key, "Target").value)
            if target is None:
                return None
            margin = monitor.value if kind == TARGET_DELTA else monitor.value * abs(target)
            exceeded = abs(value - target) > margin  # 2.1 N07.FR.22, N07.FR.23
        if exceeded == monitor.triggered:
            return None  # one event per crossing until cleared
        monitor.triggered = exceeded
        if not self._active(monitor):
            return None
        return self._event(monitor, "Alerting", not exceeded, now)  # N07.FR.02: cleared

    def _event(self, monitor: Monitor, trigger: str, cleared: bool, now: datetime) -> Event:
        self._event_id += 1
        definition = self.ctx.model.definition(monitor.key)
        write_only = definition is not None and definition.mutability == "WriteOnly"
        actual = "" if write_only else (self.ctx.model.actual(monitor.key) or "")  # N07.FR.10
        evse = self.ctx.evses.get(monitor.key.evse) if monitor.key.evse is not None else None
        tx = evse.tx.id if evse is not None and evse.tx is not None else None
        return Event(
            self._event_id,
            self.ctx.ts(now),
            trigger,
            actual[:2500],
            cleared,
            monitor.key,
            monitor.id,
            monitor.kind,
            monitor.severity,
            tx,
        )

    def _report(self, events: list[Event], now: datetime) -> None:
        model = self.ctx.model
        if not model.flag(CTRLR, "Enabled"):
            return
        level = model.number(CTRLR, "ActiveMonitoringLevel")
        events = [e for e in events if e.severity <= level]  # N05.FR.03, N07.FR.15
        if not events:
            return
        if self.ctx.accepted:
            self._send(events, now)
            return
        limit = model.number(CTRLR, "OfflineQueuingSeverity")
        self.queued += [e for e in events if e.severity <= limit]  # N07.FR.04, N08.FR.03
        del self.queued[:-MAX_QUEUED]

    def _flush(self, now: datetime) -> None:
        queued, self.queued = self.queued, []
        if queued:
            self._send(queued, now)

    def _send(self, events: list[Event], now: datetime) -> None:
        """NotifyEvent, seqNo from 0 (N07.FR.07, N08.FR.04), parts of DeviceDataCtrlr ItemsPerMessage."""
        ctx = self.ctx
        per = max(1, ctx.model.number("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"))
        parts = [events[i : i + per] for i in range(0, len(events), per)]
        generated = ctx.ts(now)
        for seq, part in enumerate(parts):
            tbc = seq < len(parts) - 1
            if ctx.version is Version.V21:
                request: v2x.NotifyEventRequest = _notify21(part, seq, tbc, generated)
            else:
                request = _notify201(part, seq, tbc, generated)
            ctx.send(request, now)

    # ------------------------------------------------------------------ periodic event streams (2.1)
    def adjust_stream(self, stream_id: int, interval: int, values: int, now: datetime) -> str | None:
        """N14: None when applied (N14.FR.03), else the reason of the rejection (N14.FR.02)."""
        stream = self.streams.get(stream_id)
        if stream is None or not stream.open:
            return "UnknownStream"
        if not interval and not values:
            return "NoParams"  # nothing to flush by: the stream could never send
        stream.interval, stream.values = interval, values
        monitor = self.monitors.get(stream.monitor_id)
        if monitor is not None:
            monitor.stream = (interval, values)
            self._save()
        self._flush_streams(now)
        return None

    def _open(self, stream: Stream, now: datetime) -> None:
        """N11.FR.02: ask the CSMS; values go by NotifyEvent until it accepts (N11.FR.07 if it does not)."""

        def answered(response: Payload, at: datetime) -> None:
            if self.streams.get(stream.monitor_id) is not stream:
                return  # closed or replaced meanwhile
            if (
                isinstance(response, v21.messages.OpenPeriodicEventStreamResponse)
                and str(response.status) == "Accepted"
            ):
                stream.open, stream.flushed = True, at  # N11.FR.06
                return
            del self.streams[stream.monitor_id]  # N11.FR.05 / N11.FR.07: NotifyEvent for this monitor
            monitor = self.monitors.get(stream.monitor_id)
            if monitor is not None:
                monitor.stream = None
                self._save()

        def failed(at: datetime) -> None:
            stream.asked = False  # asked again after the next registration

        request = v21.messages.OpenPeriodicEventStreamRequest(
            constant_stream_data=stream.constant(stream.monitor_id)
        )
        stream.asked = self.ctx.send(request, now, answered, on_failure=failed)

    def _close(self, stream_id: int, now: datetime) -> None:
        """N13.FR.01: the buffered values first (N13.FR.03), then ClosePeriodicEventStream; NotifyEvent for
        the monitor from now on (N13.FR.04)."""
        stream = self.streams.pop(stream_id, None)
        if stream is None or not stream.open or not self.ctx.accepted:
            return
        while stream.buffer:
            self._notify_stream(stream_id, stream, now)
        self.ctx.send(v21.messages.ClosePeriodicEventStreamRequest(id=stream_id), now)

    def _flush_streams(self, now: datetime) -> None:
        if not self.ctx.accepted:
            return  # kept in the buffers (bounded) until the station may send
        for stream_id, stream in self.streams.items():
            if not stream.open:
                continue
            while stream.values and len(stream.buffer) >= stream.values:  # N15.FR.08
                self._notify_stream(stream_id, stream, now)
            assert stream.flushed is not None
            if stream.interval and now - stream.flushed >= timedelta(seconds=stream.interval):
                if stream.buffer:
                    self._notify_stream(stream_id, stream, now)  # N15.FR.06
                else:
                    stream.flushed = now

    def _notify_stream(self, stream_id: int, stream: Stream, now: datetime) -> None:
        """One NotifyPeriodicEventStream (a SEND, N15.FR.01) of at most ``values`` values (N15.FR.07); basetime is
        the first value's time (N15.FR.09); pending: what stays buffered (N15.FR.04)."""
        cut = stream.values or len(stream.buffer)
        chunk, stream.buffer = stream.buffer[:cut], stream.buffer[cut:]
        base = chunk[0][0]
        data = [v21.datatypes.StreamDataElementType(t=(at - base).total_seconds(), v=v) for at, v in chunk]
        message = v21.messages.NotifyPeriodicEventStream(
            data=data, id=stream_id, pending=len(stream.buffer), basetime=self.ctx.ts(base)
        )
        self.ctx.emit(message, now)  # never answered: no callback
        stream.flushed = now

    def _save(self) -> None:
        state = _State(self._next_id, self._event_id, [m.stored() for m in self.monitors.values()])
        self.ctx.storage.set_state(STATE_KEY, msgspec.json.encode(state).decode())


def _text(number: float) -> str:
    return f"{number:.1f}"


def _refuse_value(definition: VariableDef, kind: str, value: float, severity: int) -> str | None:
    if not 0 <= severity <= 9:
        return "SeverityOutOfRange"
    if not math.isfinite(value):
        return "ValueOutOfRange"
    if kind in (UPPER, LOWER):  # N04.FR.06
        low, high = definition.min_limit, definition.max_limit
        if (low is not None and value < low) or (high is not None and value > high):
            return "ValueOutOfRange"
    elif kind in PERIODICS:
        if value < 1:
            return "ValueOutOfRange"
    elif value < 0:  # N04.FR.14 (and a negative margin of TargetDelta)
        return "ValueOutOfRange"
    return None


# ---------------------------------------------------------------------- wire helpers
class _Evse(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def connector_id(self) -> int | UnsetType: ...


class _Component(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def instance(self) -> str | UnsetType: ...
    @property
    def evse(self) -> _Evse | UnsetType: ...


class _Variable(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def instance(self) -> str | UnsetType: ...


class _SetData(Protocol):
    @property
    def id(self) -> int | UnsetType: ...
    @property
    def transaction(self) -> bool | UnsetType: ...
    @property
    def value(self) -> float: ...
    @property
    def type(self) -> str: ...
    @property
    def severity(self) -> int: ...
    @property
    def component(self) -> _Component: ...
    @property
    def variable(self) -> _Variable: ...


class _ComponentVariable(Protocol):
    @property
    def component(self) -> _Component: ...
    @property
    def variable(self) -> _Variable | UnsetType: ...


def _key(component: _Component, variable: _Variable) -> VariableKey:
    evse = present(component.evse)
    return VariableKey(
        component.name,
        variable.name,
        present(component.instance),
        present(variable.instance),
        evse.id if evse is not None else None,
        present(evse.connector_id) if evse is not None else None,
    )


def _matches(key: VariableKey, wanted: _ComponentVariable) -> bool:
    """N02.FR.16-21: what is given must match, what is missing matches every value."""
    component = wanted.component
    if key.component != component.name:
        return False
    instance = present(component.instance)
    if instance is not None and key.component_instance != instance:
        return False
    evse = present(component.evse)
    if evse is not None:
        connector = present(evse.connector_id)
        if key.evse != evse.id or (connector is not None and key.connector != connector):
            return False
    variable = present(wanted.variable)
    if variable is None:
        return True
    variable_instance = present(variable.instance)
    return key.variable == variable.name and (
        variable_instance is None or key.variable_instance == variable_instance
    )


def _component201(key: VariableKey) -> tuple[v201.datatypes.ComponentType, v201.datatypes.VariableType]:
    dt = v201.datatypes
    evse = (
        UNSET
        if key.evse is None
        else dt.EVSEType(id=key.evse, connector_id=UNSET if key.connector is None else key.connector)
    )
    return (
        dt.ComponentType(name=key.component, instance=key.component_instance or UNSET, evse=evse),
        dt.VariableType(name=key.variable, instance=key.variable_instance or UNSET),
    )


def _component21(key: VariableKey) -> tuple[v21.datatypes.ComponentType, v21.datatypes.VariableType]:
    dt = v21.datatypes
    evse = (
        UNSET
        if key.evse is None
        else dt.EVSEType(id=key.evse, connector_id=UNSET if key.connector is None else key.connector)
    )
    return (
        dt.ComponentType(name=key.component, instance=key.component_instance or UNSET, evse=evse),
        dt.VariableType(name=key.variable, instance=key.variable_instance or UNSET),
    )


def _notify201(events: list[Event], seq: int, tbc: bool, generated: str) -> v201.messages.NotifyEventRequest:
    dt, en = v201.datatypes, v201.enums
    data = []
    for e in events:
        component, variable = _component201(e.key)
        data.append(
            dt.EventDataType(
                event_id=e.event_id,
                timestamp=e.timestamp,
                trigger=en.EventTriggerEnumType(e.trigger),
                actual_value=e.actual,
                cleared=True if e.cleared else UNSET,
                transaction_id=e.transaction_id if e.transaction_id is not None else UNSET,
                component=component,
                variable_monitoring_id=unset_if_none(e.monitor_id),  # N07.FR.06
                event_notification_type=en.EventNotificationEnumType(e.kind),
                variable=variable,
            )
        )
    return v201.messages.NotifyEventRequest(
        generated_at=generated, seq_no=seq, tbc=True if tbc else UNSET, event_data=data
    )


def _notify21(events: list[Event], seq: int, tbc: bool, generated: str) -> v21.messages.NotifyEventRequest:
    dt, en = v21.datatypes, v21.enums
    data = []
    for e in events:
        component, variable = _component21(e.key)
        data.append(
            dt.EventDataType(
                event_id=e.event_id,
                timestamp=e.timestamp,
                trigger=en.EventTriggerEnumType(e.trigger),
                actual_value=e.actual,
                cleared=True if e.cleared else UNSET,
                transaction_id=e.transaction_id if e.transaction_id is not None else UNSET,
                component=component,
                variable_monitoring_id=unset_if_none(e.monitor_id),
                event_notification_type=en.EventNotificationEnumType(e.kind),
                variable=variable,
                severity=e.severity,  # 2.1 N07.FR.20, N07.FR.21
            )
        )
    return v21.messages.NotifyEventRequest(
        generated_at=generated, seq_no=seq, tbc=True if tbc else UNSET, event_data=data
    )


def _monitoring_data201(monitors: list[Monitor]) -> list[v201.datatypes.MonitoringDataType]:
    dt, en = v201.datatypes, v201.enums
    out = []
    for key, group in _grouped(monitors):
        component, variable = _component201(key)
        items = [
            dt.VariableMonitoringType(
                id=m.id,
                transaction=m.transaction,
                value=m.value,
                type=en.MonitorEnumType(m.type),
                severity=m.severity,
            )
            for m in group
        ]
        out.append(dt.MonitoringDataType(component=component, variable=variable, variable_monitoring=items))
    return out


def _monitoring_data21(monitors: list[Monitor]) -> list[v21.datatypes.MonitoringDataType]:
    dt, en = v21.datatypes, v21.enums
    out = []
    for key, group in _grouped(monitors):
        component, variable = _component21(key)
        items = [
            dt.VariableMonitoringType(
                id=m.id,
                transaction=m.transaction,
                value=m.value,
                type=en.MonitorEnumType(m.type),
                severity=m.severity,
                event_notification_type=en.EventNotificationEnumType(m.kind),  # 2.1 N02.FR.22
            )
            for m in group
        ]
        out.append(dt.MonitoringDataType(component=component, variable=variable, variable_monitoring=items))
    return out


def _grouped(monitors: list[Monitor]) -> list[tuple[VariableKey, list[Monitor]]]:
    groups: dict[VariableKey, list[Monitor]] = {}
    for monitor in monitors:
        groups.setdefault(monitor.key, []).append(monitor)
    return list(groups.items())


# ---------------------------------------------------------------------- 2.x handlers
def _check_enabled(ctl: Monitoring) -> bool:
    model = ctl.ctx.model
    return model.flag(CTRLR, "Enabled") and model.flag(CTRLR, "Available")


def _check_bytes(ctl: Monitoring, request: Payload, instance: str) -> None:
    """BytesPerMessage of the request (its JSON payload, as encoded): FormatViolation beyond it (N06.FR.07)."""
    limit = ctl.ctx.model.number(CTRLR, "BytesPerMessage", instance)
    size = len(msgspec.json.encode(request))
    if limit and size > limit:
        raise FormatViolation(f"{size} bytes, more than BytesPerMessage {limit}")


def set_variable_monitoring(
    ctl: Monitoring, request: v2x.SetVariableMonitoringRequestT, now: datetime
) -> v2x.SetVariableMonitoringResponse:
    """N04: one result per setMonitoringData, in order, echoing type, severity, component and variable
    (N04.FR.01, N04.FR.02)."""
    ns = v2x.dialect_of(request)
    limit = ctl.ctx.model.number(CTRLR, "ItemsPerMessage", SET)
    if limit and len(request.set_monitoring_data) > limit:  # N04.FR.09
        raise OccurrenceConstraintViolation(f"more than {limit} setMonitoringData elements")
    _check_bytes(ctl, request, SET)
    results = []
    for item in request.set_monitoring_data:
        outcome: tuple[str, int | None, str | None]
        if isinstance(item, v21.datatypes.SetMonitoringDataType) and not isinstance(
            item.periodic_event_stream, UnsetType
        ):
            params = item.periodic_event_stream
            interval, values = present(params.interval) or 0, present(params.values) or 0
            if not interval and not values:
                outcome = ("Rejected", None, "NoParams")  # N11.FR.09: interval or values or both
            else:
                outcome = ctl.set_monitor(item, now, (interval, values))  # N11.FR.01
        else:
            outcome = ctl.set_monitor(item, now)
        status, monitor_id, reason = outcome
        results.append(
            ns.SetMonitoringResultType(
                id=monitor_id if monitor_id is not None else UNSET,
                status=ns.SetMonitoringStatusEnumType(status),
                status_info=ns.StatusInfoType(reason_code=reason) if reason else UNSET,
                type=item.type,
                component=item.component,
                variable=item.variable,
                severity=item.severity,
            )
        )
    ctl.handle_timer(now)  # N07.FR.11: a new or changed threshold may be exceeded, or clear the old one
    return ns.SetVariableMonitoringResponse(set_monitoring_result=results)


def clear_variable_monitoring(
    ctl: Monitoring, request: v2x.ClearVariableMonitoringRequestT, now: datetime
) -> v2x.ClearVariableMonitoringResponse:
    """N06: one result per id (N06.FR.05); more ids than ItemsPerMessage: CALLERROR (N06.FR.06)."""
    ns = v2x.dialect_of(request)
    limit = ctl.ctx.model.number(CTRLR, "ItemsPerMessage", CLEAR)
    if limit and len(request.id) > limit:
        raise OccurrenceConstraintViolation(f"more than {limit} ids")
    _check_bytes(ctl, request, CLEAR)  # N06.FR.07
    results = [
        ns.ClearMonitoringResultType(id=i, status=ns.ClearMonitoringStatusEnumType(ctl.clear_monitor(i, now)))
        for i in request.id
    ]
    return ns.ClearVariableMonitoringResponse(clear_monitoring_result=results)


def set_monitoring_base(
    ctl: Monitoring, request: v2x.SetMonitoringBaseRequestT, now: datetime
) -> v2x.SetMonitoringBaseResponse:
    """N03: every base is supported (N03.FR.01); Rejected while monitoring is disabled."""
    ns = v2x.dialect_of(request)
    if not _check_enabled(ctl):
        return ns.SetMonitoringBaseResponse(status=ns.GenericDeviceModelStatusEnumType.REJECTED)
    ctl.set_base(str(request.monitoring_base), now)
    ctl.handle_timer(now)
    return ns.SetMonitoringBaseResponse(status=ns.GenericDeviceModelStatusEnumType.ACCEPTED)


def set_monitoring_level(
    ctl: Monitoring, request: v2x.SetMonitoringLevelRequestT, now: datetime
) -> v2x.SetMonitoringLevelResponse:
    """N05: Accepted for 0-9 (N05.FR.01), Rejected out of range (N05.FR.02)."""
    ns = v2x.dialect_of(request)
    accepted = ctl.set_level(request.severity)
    if accepted:
        return ns.SetMonitoringLevelResponse(status=ns.GenericStatusEnumType.ACCEPTED)
    return ns.SetMonitoringLevelResponse(
        status=ns.GenericStatusEnumType.REJECTED, status_info=ns.StatusInfoType(reason_code="ValueOutOfRange")
    )


def get_monitoring_report(
    ctl: Monitoring, request: v2x.GetMonitoringReportRequestT, now: datetime
) -> v2x.GetMonitoringReportResponse:
    """N02: Accepted and NotifyMonitoringReport parts (seqNo from 0, tbc on all but the last, the request's
    id: N02.FR.03, N02.FR.04, N02.FR.09); EmptyResultSet when nothing matches (N02.FR.10)."""
    ns = v2x.dialect_of(request)
    ctx = ctl.ctx
    if not _check_enabled(ctl):
        return ns.GetMonitoringReportResponse(status=ns.GenericDeviceModelStatusEnumType.REJECTED)
    criteria = [str(c) for c in present(request.monitoring_criteria) or []]
    wanted = list(present(request.component_variable) or [])
    chosen = ctl.report(criteria, wanted)
    if not chosen:
        return ns.GetMonitoringReportResponse(status=ns.GenericDeviceModelStatusEnumType.EMPTY_RESULT_SET)
    per = max(1, ctx.model.number("DeviceDataCtrlr", "ItemsPerMessage", "GetReport"))
    groups = _grouped(chosen)
    parts = [groups[i : i + per] for i in range(0, len(groups), per)]
    generated = ctx.ts(now)
    for seq, part in enumerate(parts):
        monitors = [m for _, group in part for m in group]
        tbc = True if seq < len(parts) - 1 else UNSET
        if ctx.version is Version.V21:
            report: v2x.NotifyMonitoringReportRequest = v21.messages.NotifyMonitoringReportRequest(
                request_id=request.request_id,
                seq_no=seq,
                tbc=tbc,
                generated_at=generated,
                monitor=_monitoring_data21(monitors),
            )
        else:
            report = v201.messages.NotifyMonitoringReportRequest(
                request_id=request.request_id,
                seq_no=seq,
                tbc=tbc,
                generated_at=generated,
                monitor=_monitoring_data201(monitors),
            )
        ctx.send(report, now)
    return ns.GetMonitoringReportResponse(status=ns.GenericDeviceModelStatusEnumType.ACCEPTED)


def get_periodic_event_stream(
    ctl: Monitoring, request: v21.messages.GetPeriodicEventStreamRequest, now: datetime
) -> v21.messages.GetPeriodicEventStreamResponse:
    """N12.FR.01: the constant data of every open stream (none: the field is left out, it has minItems 1)."""
    found = [s.constant(i) for i, s in sorted(ctl.streams.items()) if s.open]
    return v21.messages.GetPeriodicEventStreamResponse(constant_stream_data=found or UNSET)


def adjust_periodic_event_stream(
    ctl: Monitoring, request: v21.messages.AdjustPeriodicEventStreamRequest, now: datetime
) -> v21.messages.AdjustPeriodicEventStreamResponse:
    """N14.FR.02 / N14.FR.03."""
    params = request.params
    reason = ctl.adjust_stream(request.id, present(params.interval) or 0, present(params.values) or 0, now)
    status = v21.enums.GenericStatusEnumType
    if reason is None:
        return v21.messages.AdjustPeriodicEventStreamResponse(status=status.ACCEPTED)
    return v21.messages.AdjustPeriodicEventStreamResponse(
        status=status.REJECTED, status_info=v21.datatypes.StatusInfoType(reason_code=reason)
    )


Monitoring.on_2x = (
    route("SetVariableMonitoring", set_variable_monitoring),
    route("ClearVariableMonitoring", clear_variable_monitoring),
    route("SetMonitoringBase", set_monitoring_base),
    route("SetMonitoringLevel", set_monitoring_level),
    route("GetMonitoringReport", get_monitoring_report),
    route("GetPeriodicEventStream", get_periodic_event_stream),  # 2.1 only
    route("AdjustPeriodicEventStream", adjust_periodic_event_stream),
)
