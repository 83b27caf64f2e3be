"""What a transaction's messages say about its energy and state, turned into the engine's samples.

Both ends keep the same readings (those in the TransactionEvents: the CSMS receives them, the station sends
them) and turn them into samples with this one function, so that their costs agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from chargeplane.cost.model import MeterSample


@dataclass(frozen=True, slots=True)
class Reading:
    at: datetime
    energy_wh: float | None  # None: an event without an energy register reading
    charging: bool | None  # None: an event that does not say the charging state


def meter_samples(readings: Sequence[Reading], until: datetime | None = None) -> list[MeterSample]:
    """Readings (in time order) as engine samples: a reading without energy gets the energy interpolated
    between its neighbours (the last one after the last reading, the first one before the first); an unknown
    charging state the previous one, or at the start whether the energy rises later. ``until`` adds a sample
    at that time with the last energy and state (a running cost up to now)."""
    known = [(r.at, r.energy_wh) for r in readings if r.energy_wh is not None]
    out: list[MeterSample] = []
    state: bool | None = None
    for index, row in enumerate(readings):
        energy = row.energy_wh
        if energy is None:
            before = [k for k in known if k[0] <= row.at]
            after = [k for k in known if k[0] > row.at]
            if before and after:
                (t0, e0), (t1, e1) = before[-1], after[0]
                energy = e0 + (e1 - e0) * ((row.at - t0) / (t1 - t0))
            elif before:
                energy = before[-1][1]
            elif after:
                energy = after[0][1]
            else:
                energy = 0.0
        if row.charging is not None:
            state = row.charging
        elif state is None:
            later = [r.energy_wh for r in readings[index + 1 :] if r.energy_wh is not None]
            state = bool(later) and later[-1] > energy
        out.append(MeterSample(row.at, Decimal(repr(float(energy))), state))
    if until is not None and out and until > out[-1].at:
        last = out[-1]
        out.append(MeterSample(until, last.energy_wh, last.charging))
    return out
