"""Hardware abstraction of a charging station, and simulated implementations.

The runtime talks to hardware only through these small Protocols: it reads the meter, switches the
contactor and the connector lock, shows text, and receives plug / unplug / card events from the control
side. :class:`SimulatedStation` implements them all: a meter whose energy register grows with the power
an :class:`SimulatedEv` draws while the contactor is closed (limited by the EVSE, the EV and its state of
charge).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from chargeplane.station.core.model import ContractHash, EvChargingNeeds, MeterReading

log = logging.getLogger(__name__)


class Meter(Protocol):
    def read(self, elapsed_s: float) -> MeterReading:
        """The reading now, ``elapsed_s`` seconds after the previous one."""
        ...


class Contactor(Protocol):
    def set_closed(self, closed: bool) -> None: ...


class ConnectorLock(Protocol):
    def set_locked(self, connector_id: int, locked: bool) -> None: ...


class Display(Protocol):
    def show(self, text: str) -> None: ...


class PowerLimiter(Protocol):
    def set_limit(self, limit_w: float | None) -> None:
        """Offer the EV at most ``limit_w`` (None: the EVSE's maximum): smart charging."""
        ...

    def set_setpoint(
        self,
        setpoint_w: float | None,
        sleep: bool,
        phases_w: tuple[float, float, float] | None = None,
        reactive_var: float | None = None,
    ) -> None:
        """V2X: the EV follows ``setpoint_w`` (negative: it discharges; None: the limit alone), split over
        L1..L3 as ``phases_w`` when given, and the reactive power ``reactive_var`` (setpointReactive)."""
        ...


class EvseHardware(Meter, Contactor, ConnectorLock, PowerLimiter, Protocol):
    """One EVSE: meter, contactor, connector locks and the power it offers."""


UPDATE_BEFORE = timedelta(days=30)  # a simulated EV renews its contract certificate this long before expiry
CONTRACT_LIFETIME = timedelta(days=730)


@dataclass
class SimulatedContract:
    """An ISO 15118 Plug & Charge EV's contract: its eMAID, the OCSP data of its contract certificate chain
    and the chain itself (presented at authorization, C07), until when its contract certificate holds (None: it has none yet), and
    the EXI request it sends for one. The EXI is opaque to the station (it only forwards it), so the simulated
    EV sends bytes of its own and takes an Accepted answer as its new contract certificate."""

    emaid: str
    chain: tuple[ContractHash, ...] = ()
    valid_until: datetime | None = None
    exi_request: bytes = b"chargeplane simulated EV: certificate request"
    certificate_pem: str | None = None  # its contract certificate chain, leaf first (C07.FR.06 / FR.08)
    answers: list[tuple[str, bool, str]] = field(default_factory=list)  # (action, accepted, exiResponse)

    def certificate_action(self, now: datetime) -> str | None:
        """M01 ``Install`` without a contract certificate, M02 ``Update`` when it expires soon, else None."""
        if self.valid_until is None:
            return "Install"
        return "Update" if self.valid_until - now <= UPDATE_BEFORE else None

    def certificate_answer(self, action: str, accepted: bool, exi_response: str, now: datetime) -> None:
        self.answers.append((action, accepted, exi_response))
        if accepted:
            self.valid_until = now + CONTRACT_LIFETIME


@dataclass
class SimulatedEv:
    """An EV: battery capacity, state of charge and maximum charging power; a Plug & Charge EV has a
    contract; with ``needs`` an ISO 15118 EV that states them on plug-in (K15)."""

    capacity_wh: float = 60_000.0
    soc: float = 40.0  # percent
    max_power_w: float = 11_000.0
    draws_power: bool = True  # False: behaves like a full or paused car (SuspendedEV)
    contract: SimulatedContract | None = None
    needs: EvChargingNeeds | None = None  # None: a basic (IEC 61851) EV, no high-level communication
    waits_for_schedule: bool = False  # ISO 15118: no energy before the station agreed a schedule with it
    max_discharge_w: float = 0.0  # V2X: what it can give back (0: a unidirectional EV)
    min_soc: float = 20.0  # V2X: it stops discharging there

    def accepted_power(self, offered_w: float) -> float:
        if not self.draws_power or self.waits_for_schedule or self.soc >= 100.0:
            return 0.0
        taper = 1.0 if self.soc < 80.0 else max(0.1, (100.0 - self.soc) / 20.0)
        return min(offered_w, self.max_power_w * taper)

    def dischargeable_power(self, asked_w: float) -> float:
        """V2X: what it gives back when asked for ``asked_w``."""
        if self.waits_for_schedule or self.soc <= self.min_soc:
            return 0.0
        return min(asked_w, self.max_discharge_w)

    def charge(self, energy_wh: float) -> None:
        """Energy in (negative: out, V2X); the state of charge moves both ways."""
        self.soc = max(0.0, min(100.0, self.soc + 100.0 * energy_wh / self.capacity_wh))


@dataclass
class SimulatedEvse:
    max_power_w: float = 22_080.0
    voltage_v: float = 230.0
    energy_wh: float = 0.0
    closed: bool = False
    locks: dict[int, bool] = field(default_factory=dict)
    ev: SimulatedEv | None = None
    power_w: float = 0.0
    ev_connector: int = 1  # the connector the EV is plugged into (a reboot reads it back)
    limit_w: float | None = None  # smart charging: what the station's composite schedule allows
    setpoint_w: float | None = None  # V2X: the power the EV follows (negative: discharging)
    sleeping: bool = False  # V2X Idle with evseSleep: the power electronics off
    energy_export_wh: float = 0.0
    frequency_hz: float = 50.0  # the simulated grid's frequency (settable, V2X frequency support)
    phase_setpoints_w: tuple[float, float, float] | None = (
        None  # V2X: the setpoint per phase (setpoint_L2/L3)
    )
    reactive_setpoint_var: float | None = None  # V2X: setpointReactive to follow (positive: inductive)

    def offered_w(self) -> float:
        """What the EVSE offers the EV: its maximum, capped by the charging limit."""
        return self.max_power_w if self.limit_w is None else min(self.max_power_w, self.limit_w)

    def _power(self) -> float:
        if not self.closed or self.ev is None or self.sleeping:
            return 0.0
        offered = self.offered_w()
        if self.setpoint_w is None:
            return self.ev.accepted_power(offered)
        if self.setpoint_w >= 0:
            return self.ev.accepted_power(min(offered, self.setpoint_w))
        return -self.ev.dischargeable_power(min(-self.setpoint_w, self.max_power_w))

    def advance(self, elapsed_s: float) -> None:
        """Count the energy of the last ``elapsed_s`` seconds at the power the EVSE's state gives now: call
        it before the state changes (contactor, limit, setpoint) so each stretch counts at its own power."""
        power = self._power()
        delivered = power * max(0.0, elapsed_s) / 3600.0
        if delivered >= 0:
            self.energy_wh += delivered
        else:
            self.energy_export_wh -= delivered
        if self.ev is not None:
            self.ev.charge(delivered)
        self.power_w = power

    def read(self, elapsed_s: float) -> MeterReading:
        self.advance(elapsed_s)
        power = self.power_w
        soc = self.ev.soc if self.ev is not None else None
        return MeterReading(
            round(self.energy_wh, 3),
            round(power, 1),
            self.voltage_v,
            soc,
            round(self.energy_export_wh, 3),
            self.frequency_hz,
        )

    def set_closed(self, closed: bool) -> None:
        self.closed = closed

    def set_locked(self, connector_id: int, locked: bool) -> None:
        self.locks[connector_id] = locked

    def set_limit(self, limit_w: float | None) -> None:
        self.limit_w = limit_w

    def set_setpoint(
        self,
        setpoint_w: float | None,
        sleep: bool,
        phases_w: tuple[float, float, float] | None = None,
        reactive_var: float | None = None,
    ) -> None:
        self.setpoint_w = setpoint_w
        self.sleeping = sleep
        self.phase_setpoints_w = phases_w
        self.reactive_setpoint_var = reactive_var

    @property
    def phase_power_w(self) -> tuple[float, float, float]:
        """The power per phase L1..L3: as the setpoint splits it when per phase, else evenly."""
        split = self.phase_setpoints_w
        total = sum(split) if split is not None else 0.0
        if split is None or total == 0.0:
            return (self.power_w / 3, self.power_w / 3, self.power_w / 3)
        ratio = self.power_w / total  # the EV may give or take less than asked: every phase in proportion
        return (split[0] * ratio, split[1] * ratio, split[2] * ratio)

    @property
    def reactive_var(self) -> float:
        """The reactive power the EV exchanges: its setpoint while it is connected and working, else 0."""
        working = self.closed and self.ev is not None and not self.sleeping
        return self.reactive_setpoint_var or 0.0 if working else 0.0


class LogDisplay:
    """A display that writes to the log (and keeps the last text)."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.text = ""

    def show(self, text: str) -> None:
        self.text = text
        log.debug("%s display: %s", self.station_id, text)  # the event lines say it (events.py)


@dataclass
class SimulatedStation:
    evses: dict[int, SimulatedEvse]
    display: Display
    temperature_c: float | None = None  # the temperature sensor, once driven (None: the model's default)
    grid_voltage_v: float | None = None  # the simulated grid at the connection point, once moved (DER, R05)
    grid_frequency_hz: float | None = None

    @classmethod
    def build(cls, station_id: str, evse_count: int, max_power_w: float = 22_080.0) -> SimulatedStation:
        return cls(
            {i: SimulatedEvse(max_power_w=max_power_w) for i in range(1, evse_count + 1)},
            LogDisplay(station_id),
        )
