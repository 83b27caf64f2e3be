"""Hardware abstraction of a charging station, and simulated implementations.

The runtime talks to hardware only through these small Protocols: it reads the meter, switches the
contactor and the connector lock, shows text, and receives plug / unplug / card events from the control
side. :class:`SimulatedStation` implements them all: a meter whose energy register grows with the power
an :class:`SimulatedEv` draws while the contactor is closed (limited by the EVSE, the EV and its state of
charge).
"""

from __future__ import annotations

import base64
import binascii
import logging
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec

from chargeplane.ocpp.messages import v21
from chargeplane.pki.hashes import hash_data
from chargeplane.station.core.der_control import ev_rating, setting_type
from chargeplane.station.core.der_inverter import UNCAPPED, Cause, Ctl, Envelope, Inverter, Setting
from chargeplane.station.core.iso15118 import responder_url
from chargeplane.station.core.model import ContractHash, EvChargingNeeds, EvDerAbility, MeterReading
from chargeplane.station.ev_contract import ContractRefused, EvProvisioning, InstalledContract

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

    def set_inverter(self, max_charge_w: float | None, max_discharge_w: float | None) -> None:
        """2.1 R01/R03: the inverter lets at most this through each way under the DER controls (None: no
        cap): the power that flows and is metered."""
        ...


class EvseHardware(Meter, Contactor, ConnectorLock, PowerLimiter, Protocol):
    """One EVSE: meter, contactor, connector locks and the power it offers."""


UPDATE_BEFORE = timedelta(days=30)  # a simulated EV renews its contract certificate this long before expiry
CONTRACT_LIFETIME = timedelta(days=730)


PriceSchedule = v21.datatypes.AbsolutePriceScheduleType | v21.datatypes.PriceLevelScheduleType


@dataclass
class SimulatedContract:
    """An ISO 15118 Plug & Charge EV's contract: its eMAID, the OCSP data of its contract certificate chain
    and the chain itself (presented at authorization, C07), until when its contract certificate holds (None: it
    has none yet), and the EXI request it sends for one (M01/M02).

    With ``provisioning`` (its OEM provisioning certificate and key) it is a real ISO 15118-2 EV: it sends a
    signed CertificateInstallationReq and installs only a CertificateInstallationRes it can verify and decrypt
    (:mod:`chargeplane.station.ev_contract`), whose contract certificate it then presents. Without, the EXI is
    opaque: it sends bytes of its own and takes an Accepted answer as its new contract certificate."""

    emaid: str
    chain: tuple[ContractHash, ...] = ()
    valid_until: datetime | None = None
    exi_request: bytes = b"chargeplane simulated EV: certificate request"
    certificate_pem: str | None = None  # its contract certificate chain, leaf first (C07.FR.06 / FR.08)
    answers: list[tuple[str, bool, str]] = field(default_factory=list)  # (action, accepted, exiResponse)
    provisioning: EvProvisioning | None = None
    installed: InstalledContract | None = None  # with provisioning: the contract it verified and decrypted
    refusals: list[str] = field(default_factory=list)  # with provisioning: why it refused an Accepted answer

    def certificate_action(self, now: datetime) -> str | None:
        """M01 ``Install`` without a contract certificate, M02 ``Update`` when it expires soon, else None."""
        if self.valid_until is None:
            return "Install"
        return "Update" if self.valid_until - now <= UPDATE_BEFORE else None

    def certificate_request(self) -> bytes:
        """The EXI it sends: a signed CertificateInstallationReq with ``provisioning``, else its own bytes."""
        return self.exi_request if self.provisioning is None else self.provisioning.request()

    def certificate_answer(self, action: str, accepted: bool, exi_response: str, now: datetime) -> bool:
        """The CSMS's answer reaches the EV; whether it now holds a new contract certificate."""
        self.answers.append((action, accepted, exi_response))
        if not accepted:
            return False
        if self.provisioning is None:
            self.valid_until = now + CONTRACT_LIFETIME
            return True
        try:
            contract = self.provisioning.install(base64.b64decode(exi_response), now)
        except (ContractRefused, binascii.Error) as error:
            log.info("simulated EV refused its contract certificate: %s", error)
            self.refusals.append(str(error))
            return False
        self._hold(contract)
        return True

    def _hold(self, contract: InstalledContract) -> None:
        leaf, *subs = contract.chain
        self.installed = contract
        self.emaid = contract.emaid
        self.certificate_pem = contract.pem()
        self.valid_until = leaf.not_valid_after_utc
        url = responder_url(leaf)
        if url is None or not subs:
            self.chain = ()
            return
        data = hash_data(
            leaf, subs[0]
        )  # C07.FR.02: the leaf's OCSP data (its sub-CA's issuer is not in hand)
        self.chain = (
            ContractHash(
                data.hash_algorithm, data.issuer_name_hash, data.issuer_key_hash, data.serial_number, url
            ),
        )


EV_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # the EV inverter's clock counts metered seconds from here


@dataclass
class SimulatedEvInverter:
    """R02/R03: the inverter of an AC_BPT_DER EV (what it can do is in its needs): it executes the DER
    controls the station handed it (ISO 15118-20 ChargeParameterDiscoveryRes) on the grid at the EVSE, on a
    clock of metered seconds; its alarm (a control making it deviate) rides on the meter reading."""

    ability: EvDerAbility
    controls: dict[Ctl, Setting] = field(default_factory=dict)
    clock_s: float = 0.0
    cause: Cause | None = None
    inverter: Inverter = field(init=False)

    def __post_init__(self) -> None:
        ability = self.ability  # its own nameplate: MaxW is its largest active power either way
        rating = ev_rating(ability)
        self.inverter = Inverter(replace(rating, max_w=max(ability.max_charge_w, ability.max_discharge_w)))

    def receive(self, controls: tuple[tuple[str, bytes], ...]) -> None:
        self.controls = {
            Ctl(kind): msgspec.json.decode(raw, type=setting_type(Ctl(kind))[1]) for kind, raw in controls
        }

    def apply(self, requested_w: float, voltage_v: float, frequency_hz: float) -> float:
        """What the EV's inverter exchanges when its EV asks ``requested_w`` on this grid."""
        inverter = self.inverter
        inverter.voltage_v, inverter.frequency_hz, inverter.requested_w = voltage_v, frequency_hz, requested_w
        out = inverter.step(self.controls, EV_EPOCH + timedelta(seconds=self.clock_s))
        self.cause = out.cause
        return out.active_w

    @property
    def alarm(self) -> tuple[str, str | None] | None:
        cause = self.cause
        if cause is None:
            return None
        return cause.control_type.value, None if cause.fault is None else cause.fault.value


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
    needs_after_s: float = 0.0  # seconds after plug-in it states them (0: at once)
    waits_for_schedule: bool = False  # ISO 15118: no energy before the station agreed a schedule with it
    max_discharge_w: float = 0.0  # V2X: what it can give back (0: a unidirectional EV)
    min_soc: float = 20.0  # V2X: it stops discharging there
    inverter: SimulatedEvInverter | None = None  # R02/R03: its own (AC_BPT_DER) inverter, from its needs
    # ISO 15118-20: the price schedule the station handed it (K19.FR.09), by the chargingSchedule's id
    prices: dict[int, PriceSchedule] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.inverter is None and self.needs is not None and self.needs.der is not None:
            self.inverter = SimulatedEvInverter(self.needs.der)

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
    cap: Envelope = UNCAPPED  # R01/R03: what the station's DER inverter lets through each way
    uncapped_w: float = 0.0  # what would flow without that cap
    # V2X: the setpoint per phase (setpoint_L2/L3)
    phase_setpoints_w: tuple[float, float, float] | None = None
    reactive_setpoint_var: float | None = None  # V2X: setpointReactive to follow (positive: inductive)

    def offered_w(self) -> float:
        """What the EVSE offers the EV: its maximum, capped by the charging limit."""
        return self.max_power_w if self.limit_w is None else min(self.max_power_w, self.limit_w)

    def _asked(self) -> float:
        if not self.closed or self.ev is None or self.sleeping:
            return 0.0
        offered = self.offered_w()
        if self.setpoint_w is None:
            return self.ev.accepted_power(offered)
        if self.setpoint_w >= 0:
            return self.ev.accepted_power(min(offered, self.setpoint_w))
        return -self.ev.dischargeable_power(min(-self.setpoint_w, self.max_power_w))

    def _power(self) -> float:
        """What the EV asks, through its own inverter if it has one (R02), capped by the station's (R01/R03)."""
        asked = self._asked()
        inverter = self.ev.inverter if self.ev is not None else None
        if inverter is not None:
            asked = inverter.apply(asked, self.voltage_v, self.frequency_hz)
        self.uncapped_w = asked
        return self.cap.clamp(asked)

    def advance(self, elapsed_s: float) -> None:
        """Count the energy of the last ``elapsed_s`` seconds at the power the EVSE's state gives now: call
        it before the state changes (contactor, limit, setpoint) so each stretch counts at its own power."""
        if self.ev is not None and self.ev.inverter is not None:
            self.ev.inverter.clock_s += max(0.0, elapsed_s)
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
            round(self.uncapped_w, 1),
            None if self.ev is None or self.ev.inverter is None else self.ev.inverter.alarm,
            round(self.reactive_var, 1),
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
        return (self.reactive_setpoint_var or 0.0) if working else 0.0

    def set_inverter(self, max_charge_w: float | None, max_discharge_w: float | None) -> None:
        inf = float("inf")
        self.cap = Envelope(
            inf if max_charge_w is None else max_charge_w, inf if max_discharge_w is None else max_discharge_w
        )

    def der_controls(self, controls: tuple[tuple[str, bytes], ...]) -> None:
        """R02.FR.03: the controls for the EV's own inverter (an EV without one ignores them)."""
        if self.ev is not None and self.ev.inverter is not None:
            self.ev.inverter.receive(controls)


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
