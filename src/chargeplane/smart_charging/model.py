"""Charging profiles as the composite-schedule engine sees them, the same for 1.6, 2.0.1 and 2.1.

The wire types of each version are converted into these (``wire.py``), so the rules of block K (2.0.1 Part 2
K01, K08; 1.6 §3.13) are written once. Times are aware UTC datetimes; schedule offsets are whole seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class Purpose(enum.Enum):
    # 1.6 calls it ChargePointMaxProfile; the rules are the same (EVSE/connector 0 only).
    CHARGING_STATION_MAX = "ChargingStationMaxProfile"
    TX_DEFAULT = "TxDefaultProfile"
    TX = "TxProfile"
    EXTERNAL_CONSTRAINTS = "ChargingStationExternalConstraints"
    PRIORITY_CHARGING = "PriorityCharging"  # 2.1 K21/K22: replaces Tx(Default) while activated
    LOCAL_GENERATION = "LocalGeneration"  # 2.1 K27: capacity added on top of the composite (SC.01)


class Kind(enum.Enum):
    ABSOLUTE = "Absolute"
    RECURRING = "Recurring"
    RELATIVE = "Relative"
    DYNAMIC = "Dynamic"  # 2.1 K28/K29: one period from startPeriod 0, its values updated in place


class Recurrency(enum.Enum):
    DAILY = "Daily"
    WEEKLY = "Weekly"

    @property
    def seconds(self) -> int:
        return 86_400 if self is Recurrency.DAILY else 7 * 86_400


class RateUnit(enum.Enum):
    AMPERE = "A"  # per phase
    WATT = "W"  # summed over the phases in use


DEFAULT_PHASES = 3  # an AC period without numberPhases means three (K01.FR.49 / 1.6 §7.13)


@dataclass(frozen=True, slots=True)
class Period:
    start: int  # seconds from the start of the schedule
    limit: float  # in the schedule's unit
    number_phases: int | None = None
    phase_to_use: int | None = None

    @property
    def phases(self) -> int:
        return DEFAULT_PHASES if self.number_phases is None else self.number_phases


@dataclass(frozen=True, slots=True)
class Schedule:
    unit: RateUnit
    periods: tuple[Period, ...]  # ascending start, the first at 0 (checked by ``validation``)
    duration: int | None = None  # seconds; None: the last period goes on (until the recurrence restarts)
    start: datetime | None = None  # startSchedule: needed by Absolute and Recurring
    min_charging_rate: float | None = None


@dataclass(frozen=True, slots=True)
class Profile:
    id: int
    stack_level: int
    purpose: Purpose
    kind: Kind
    schedule: Schedule
    evse_id: int = 0  # 0: the whole station (for TxDefault: every EVSE)
    recurrency: Recurrency | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None
    transaction_id: str | None = None  # a TxProfile's transaction


@dataclass(frozen=True, slots=True)
class Electrical:
    """What turns amperes into watts and back: the line voltage (phase to neutral) of the EVSE."""

    voltage: float = 230.0

    def to_unit(self, value: float, unit: RateUnit, phases: int, target: RateUnit) -> float:
        if unit is target:
            return value
        if unit is RateUnit.AMPERE:  # A per phase -> W in all phases
            return value * self.voltage * phases
        return value / (self.voltage * phases)


@dataclass(frozen=True, slots=True)
class Interval:
    """One piece of a composite schedule: from ``start`` (seconds after the composite's start) to the next
    piece's start, the limit in the composite's unit with the phases it assumes."""

    start: int
    limit: float
    number_phases: int


@dataclass(frozen=True, slots=True)
class Composite:
    start: datetime
    duration: int
    unit: RateUnit
    intervals: tuple[Interval, ...] = field(default=())

    def limit_at(self, offset: int) -> Interval:
        """The interval in force ``offset`` seconds after the start (0 <= offset < duration)."""
        current = self.intervals[0]
        for interval in self.intervals:
            if interval.start > offset:
                break
            current = interval
        return current
