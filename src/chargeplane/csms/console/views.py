"""What the console's pages show, read through the services the blocks provide (the same the HTTP API
calls; no HTTP to itself, no SQL of its own on the blocks' tables)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Protocol, TypeVar

from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.monitoring.service import AlertFilter, MonitoringService
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.security.service import SecurityEventFilter, SecurityService
from chargeplane.csms.blocks.transactions.queries import (
    MeterValueRecord,
    TransactionFilter,
    TransactionQueries,
)
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import UnknownStation

MAX_STATIONS = 5000  # stations one list or overview reads
MAX_TODAY = 10_000  # transactions of today the overview adds up
PAGE = 50
RECENT = 10
CHART_SAMPLES = 10_000
RECENT_POWER = timedelta(minutes=5)  # a power sample older than this is not "now"
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
SOC = "SoC"  # percent, as the EV reports it
_PHASES = frozenset({"L1", "L2", "L3", "L1-N", "L2-N", "L3-N"})
_TO_BASE = {"Wh": 1.0, "kWh": 1000.0, "W": 1.0, "kW": 1000.0}


class Sampled(Protocol):
    """A sampled value as the transactions block reads it."""

    @property
    def timestamp(self) -> datetime: ...
    @property
    def measurand(self) -> str: ...
    @property
    def phase(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def multiplier(self) -> int | None: ...
    @property
    def value(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Overview:
    online: int
    offline: int
    charging: int  # EVSEs with a transaction that is charging
    energy_today_wh: float  # of the transactions started today (UTC)
    faulted: int = 0  # stations with the station, an EVSE or a connector Faulted
    power_w: float = 0.0  # the running transactions' latest Power.Active.Import (of the last RECENT_POWER)
    open_alerts: int = 0  # monitoring alerts not closed


@dataclass(frozen=True, slots=True)
class Series:
    """The charts of a transaction: (time, value) points, energy in Wh, power in W, state of charge in %."""

    energy: list[tuple[str, float]] = field(default_factory=list)
    power: list[tuple[str, float]] = field(default_factory=list)
    soc: list[tuple[str, float]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"energy": self.energy, "power": self.power, "soc": self.soc}


def base_value(sample: Sampled) -> float | None:
    if sample.value is None:
        return None
    scale = _TO_BASE.get(sample.unit or ("Wh" if sample.measurand == ENERGY else "W"))
    if scale is None:
        return None  # varh, kvar...: not what the chart shows
    return sample.value * 10.0 ** (sample.multiplier or 0) * scale


class Phased(Sampled, Protocol):
    @property
    def location(self) -> str | None: ...


K = TypeVar("K")
S = TypeVar("S", bound=Phased)


def latest_power(samples: Iterable[S], since: datetime, key: Callable[[S], K | None]) -> dict[K, float]:
    """The latest total power (W) per ``key`` (an EVSE, a transaction) of samples given oldest first: the
    value without a phase, else the phases of the latest instant added up; outlet samples only."""
    totals: dict[K, float] = {}
    phases: dict[K, tuple[datetime, dict[str, float]]] = {}
    for sample in samples:  # oldest first: a later one replaces an earlier one
        which = key(sample)
        if which is None or sample.timestamp < since or sample.location not in (None, "Outlet"):
            continue
        value = base_value(sample)
        if value is None:
            continue
        if sample.phase is None:
            totals[which] = value
        elif sample.phase in _PHASES:
            at, per_phase = phases.get(which, (sample.timestamp, {}))
            if sample.timestamp > at:
                per_phase = {}
            per_phase[sample.phase] = value
            phases[which] = (sample.timestamp, per_phase)
    found = {which: sum(per_phase.values()) for which, (_, per_phase) in phases.items()}
    found.update(totals)
    return found


def _soc(sample: Sampled) -> float | None:
    """A state of charge in percent (the only unit it has), within 0-100; anything else is left out."""
    if sample.value is None or sample.unit not in (None, "Percent"):
        return None
    value = sample.value * 10.0 ** (sample.multiplier or 0)
    return value if 0.0 <= value <= 100.0 else None


def chart_series(samples: Iterable[Sampled]) -> Series:
    """Energy (the register, Wh) and power (W) over time, from the samples without a phase (the totals);
    a measurand sampled per phase only is added up per timestamp. The state of charge when the meter values
    carry it (an EV's, not per phase)."""
    totals: dict[str, dict[str, float]] = {ENERGY: {}, POWER: {}}
    per_phase: dict[str, dict[str, float]] = {ENERGY: {}, POWER: {}}
    soc: dict[str, float] = {}
    for sample in samples:
        if sample.measurand == SOC:
            percent = _soc(sample)
            if percent is not None:
                soc[sample.timestamp.isoformat().replace("+00:00", "Z")] = percent
            continue
        if sample.measurand not in totals:
            continue
        value = base_value(sample)
        if value is None:
            continue
        at = sample.timestamp.isoformat().replace("+00:00", "Z")
        if sample.phase is None:
            totals[sample.measurand][at] = value
        elif sample.phase in _PHASES:  # per phase: adds up to the total (not N, not line to line)
            bucket = per_phase[sample.measurand]
            bucket[at] = bucket.get(at, 0.0) + value
    points = {measurand: sorted((totals[measurand] or per_phase[measurand]).items()) for measurand in totals}
    return Series(points[ENERGY], points[POWER], sorted(soc.items()))


def _transaction_of(sample: MeterValueRecord) -> int | None:
    return sample.transaction_key


def start_of_day(moment: datetime) -> datetime:
    return datetime.combine(moment.date(), time(0), tzinfo=moment.tzinfo)


def matches(search: str, *texts: str | None) -> bool:
    wanted = search.strip().casefold()
    return not wanted or any(wanted in text.casefold() for text in texts if text)


class ConsoleViews:
    def __init__(
        self,
        stations: ProvisioningService,
        availability: AvailabilityService,
        transactions: TransactionQueries,
        commands: CommandService,
        security: SecurityService,
        monitoring: MonitoringService,
        clock: Clock,
    ) -> None:
        self.monitoring = monitoring
        self.stations = stations
        self.availability = availability
        self.transactions = transactions
        self.commands = commands
        self.security = security
        self.clock = clock

    async def overview(self) -> Overview:
        records, _ = await self.stations.list_stations(0, MAX_STATIONS)
        online = sum(1 for record in records if record.connected)
        active, _ = await self.transactions.find(TransactionFilter(status="active"), 0, MAX_STATIONS * 4)
        charging = {
            (record.station_id, record.evse_id)
            for record in active
            if record.charging_state in (None, "Charging")  # 1.6 has no charging state: its transaction
        }
        today = TransactionFilter(started_from=start_of_day(self.clock.now()))
        started, _ = await self.transactions.find(today, 0, MAX_TODAY)
        energy = sum(record.energy_wh or 0.0 for record in started if record.status != "refused")
        now = self.clock.now()
        samples = await self.transactions.recent_meter_values(
            [record.id for record in active], now - RECENT_POWER, POWER, CHART_SAMPLES
        )
        power = sum(latest_power(samples, now - RECENT_POWER, _transaction_of).values())
        _, open_alerts = await self.monitoring.alerts(AlertFilter(state="open"), 0, 1)
        faulted = await self.availability.faulted_station_count()
        return Overview(online, len(records) - online, len(charging), energy, faulted, power, open_alerts)

    async def station_list(self, search: str = "") -> Sequence[Any]:
        records, _ = await self.stations.list_stations(0, MAX_STATIONS)
        return [
            record
            for record in records
            if matches(search, record.station_id, record.description, record.vendor, record.model)
        ]

    async def station(self, station_id: str) -> dict[str, Any]:
        record = await self.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        name = record.station_id
        commands, _ = await self.commands.command_log(station_id=name, action=None, offset=0, limit=RECENT)
        security, _ = await self.security.find(SecurityEventFilter(station_id=name), 0, RECENT)
        active, _ = await self.transactions.find(TransactionFilter(station_id=name, status="active"), 0, PAGE)
        connectors = await self.availability.connectors(name)
        return {
            "station": record,
            "connectors": [c for c in connectors if c.evse_id > 0],
            "station_status": next((c for c in connectors if c.evse_id == 0), None),
            "commands": commands,
            "security_events": security,
            "active": active,
        }

    async def transaction(self, key: int) -> tuple[Any, Series]:
        detail = await self.transactions.detail(key, CHART_SAMPLES)
        return detail, chart_series(detail.meter_values)
