"""Bidirectional sessions of a site (issue #16 item 4): what a V2X EV allows the planner, from the API (state
of charge in percent of a capacity) or from an OCPP 2.1 station's NotifyEVChargingNeeds
(``v2xChargingParameters``, Q01.FR.03: energies relative to the battery now); a site's grid service (at
least so many kilowatts exported over a time window) as the planner's slots; and the 2.1 schedule period that
carries a planned setpoint (Q03 CentralSetpoint). Pure: no clock, no I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated

import msgspec

from chargeplane.smart_charging.planner import BPT_DEGRADATION, GridService

# Energy transfer modes in which the EV may discharge (2.1 EnergyTransferModeEnumType).
BIDIRECTIONAL_TRANSFERS = frozenset({"AC_BPT", "AC_BPT_DER", "DC_BPT", "DC_ACDP_BPT"})
Kwh = Annotated[float, msgspec.Meta(ge=-10_000, le=10_000)]


class V2xNeeds(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """What the planner may do with a V2X EV's battery, in kWh from any common origin (0 = now when the EV
    told it in relative energies)."""

    max_discharge: float  # watts it may give back, all phases together
    stored: float  # kWh in the battery now
    capacity: float  # kWh at its maximum state of charge
    floor: float  # kWh it keeps at all times (its minimum SoC for V2X)
    energy: float | None = None  # kWh to add by departure; None: up to its capacity
    degradation: float = BPT_DEGRADATION  # per kWh discharged
    max_charge: float | None = None  # watts it takes at most, all phases (the EV's maxChargePower); None: any
    # kWh of a full battery on this origin when the needs came in states of charge (the API): a SoC reading
    # in percent is then ``percent_of * soc / 100`` kWh stored; None: relative energies (ISO 15118 needs)
    percent_of: float | None = None

    def __post_init__(self) -> None:
        if not (
            self.max_discharge >= 0
            and (self.max_charge is None or self.max_charge >= 0)
            and self.degradation >= 0
            and self.floor <= self.capacity
            and self.stored <= self.capacity
        ):
            raise ValueError(
                "V2X needs maxDischarge >= 0, degradation >= 0, floor and stored within capacity"
            )

    def advanced(self, stored: float) -> V2xNeeds:
        """The same battery and departure target with ``stored`` kWh in it now (within floor and capacity
        as the plan keeps it)."""
        now = min(self.capacity, stored)
        energy = None if self.energy is None else self.stored + self.energy - now
        return V2xNeeds(
            self.max_discharge,
            now,
            self.capacity,
            self.floor,
            energy,
            self.degradation,
            self.max_charge,
            self.percent_of,
        )

    def at_soc(self, soc: float) -> V2xNeeds | None:
        """The same battery holding ``soc`` percent now (a SoC meter value), its departure target kept;
        None: these needs are relative energies, a percentage cannot be placed on them."""
        if self.percent_of is None or not 0 <= soc <= 100:
            return None
        return self.advanced(self.percent_of * soc / 100)

    @property
    def wanted(self) -> float:
        """kWh to add to the battery by departure (0 when it holds that already)."""
        target = self.capacity if self.energy is None else min(self.capacity, self.stored + self.energy)
        return max(0.0, target - self.stored)


def from_soc(
    max_discharge: float,
    capacity: float,
    soc: float,
    min_soc: float,
    departure_soc: float | None,
    degradation: float | None,
) -> V2xNeeds:
    """From states of charge in percent of ``capacity`` kWh (the API's form)."""
    if not (capacity > 0 and 0 <= min_soc <= 100 and 0 <= soc <= 100):
        raise ValueError("V2X needs a capacity > 0 and states of charge of 0 to 100 %")
    if departure_soc is not None and not 0 <= departure_soc <= 100:
        raise ValueError("departureSoc is 0 to 100 %")
    stored = capacity * soc / 100
    return V2xNeeds(
        max_discharge,
        stored,
        capacity,
        capacity * min_soc / 100,
        None if departure_soc is None else capacity * departure_soc / 100 - stored,
        BPT_DEGRADATION if degradation is None else degradation,
        percent_of=capacity,
    )


def from_charging_needs(needs: Mapping[str, object], degradation: float = BPT_DEGRADATION) -> V2xNeeds | None:
    """A 2.1 NotifyEVChargingNeeds' chargingNeeds (wire form) of a bidirectional transfer, relative to the
    battery now: the floor is the energy to its minimum V2X SoC (evMinV2XEnergyRequest, positive when below
    it), the capacity the energy to its maximum SoC (evMaxEnergyRequest, else evMaxV2XEnergyRequest), the
    departure need its target (evTargetEnergyRequest); its charge power at most maxChargePower. None: not a bidirectional transfer, no
    maxDischargePower, or parameters that cannot be read."""
    params = needs.get("v2xChargingParameters")
    if needs.get("requestedEnergyTransfer") not in BIDIRECTIONAL_TRANSFERS or not isinstance(params, dict):
        return None

    def wh(name: str) -> float | None:
        value = params.get(name)
        return float(value) / 1000 if isinstance(value, int | float) and math.isfinite(value) else None

    discharge = params.get("maxDischargePower")
    top = wh("evMaxEnergyRequest")
    top = wh("evMaxV2XEnergyRequest") if top is None else top
    if not isinstance(discharge, int | float) or discharge <= 0 or top is None or top < 0:
        return None
    low = wh("evMinV2XEnergyRequest")
    floor = min(top, 0.0 if low is None else low)
    target = wh("evTargetEnergyRequest")
    charge = params.get("maxChargePower")
    most = float(charge) if isinstance(charge, int | float) and charge >= 0 else None
    try:
        return V2xNeeds(float(discharge), 0.0, top, floor, target, degradation, most)
    except ValueError:
        return None


class GridServiceWindow(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A grid operator's request: the site exports at least ``export_kw`` from ``start`` to ``end``."""

    start: datetime
    end: datetime
    export_kw: Annotated[float, msgspec.Meta(gt=0, le=1e6)]

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset")
        if self.end <= self.start:
            raise ValueError("end must be after start")

    def slots(self, first_slot: datetime, slot_seconds: int, slots: int) -> GridService | None:
        """The window over the plan's slots (from ``first_slot``): every slot it overlaps, so that the
        export holds through the whole window; None when it is outside the plan."""
        step = timedelta(seconds=slot_seconds)
        first = max(0, math.floor((self.start - first_slot) / step))
        last = min(slots, math.ceil((self.end - first_slot) / step))
        if last <= first:
            return None
        return GridService(first, last, self.export_kw * 1000)


def setpoint_period(start: int, amperes: float, phases: int) -> dict[str, object]:
    """A 2.1 chargingSchedulePeriod of a planned V2X slot: operationMode CentralSetpoint (Q03.FR.01), the
    setpoint in amperes per phase (negative: discharge); no limit nor dischargeLimit (Q03.FR.02: the
    setpoint alone says what to do)."""
    return {
        "startPeriod": start,
        "operationMode": "CentralSetpoint",
        "setpoint": amperes,
        "numberPhases": phases,
    }
