"""The sans-I/O charging station (OCPP 1.6, 2.0.1 and 2.1): a thin core over one controller per block.

Theory of operation
-------------------
Feed events in, with the current time as an argument:

* connection: :meth:`StationCore.connection_opened` / :meth:`connection_closed`;
* hardware: :meth:`ev_plugged`, :meth:`ev_unplugged`, :meth:`token_presented`, :meth:`update_meter`,
  :meth:`fault`;
* CSMS CALLs: :meth:`handle` (returns the response Struct or raises an OCPP error);
* answers to our CALLs: :meth:`call_result` / :meth:`call_failed`;
* time: :meth:`handle_timer` once :meth:`next_deadline` has passed.

Then drain :meth:`take_calls` (CALLs to send, each with a ``ref``) and :meth:`take_actions` (hardware
actions: contactor, lock, display, reboot). Transaction messages go through a durable queue (storage) and
are sent one at a time, in order (E04, E11-E13); everything else is sent at once when allowed by the
registration status (B01-B03) or dropped while offline (connector statuses are re-sent on reconnect, B04).

The work is done by the controllers of :data:`CONTROLLERS`, one per functional block, over a shared
:class:`~.context.Context`; the version's wire format is the :class:`~.adapter.Adapter`'s. Adding a block
is one controller module and one line in :data:`CONTROLLERS`: its variables join the device model, its
handlers the dispatch table, its deadline the core's timer.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime

from cryptography import x509

from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.errors import SecurityError
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.model import RateUnit
from chargeplane.station.core.adapter import Adapter
from chargeplane.station.core.adapter2x import ADAPTER_21, ADAPTER_201
from chargeplane.station.core.adapter16 import ADAPTER_16
from chargeplane.station.core.authorization import AuthCache, Authorization
from chargeplane.station.core.availability import Availability
from chargeplane.station.core.battery_swap import Battery, BatterySwap
from chargeplane.station.core.certificates import (
    CSMS_ROOT,
    STATION_CERTIFICATE,
    Certificates,
    OwnCertificate,
)
from chargeplane.station.core.connected_ev import ConnectedEv
from chargeplane.station.core.context import Context, Controller, ErasedHandler
from chargeplane.station.core.customer_information import CustomerInformation
from chargeplane.station.core.data_transfer import DataTransfer
from chargeplane.station.core.der_control import DerControl
from chargeplane.station.core.der_inverter import Output as InverterOutput
from chargeplane.station.core.device_model import Definitions, DeviceModel, StationLayout
from chargeplane.station.core.diagnostics import Diagnostics
from chargeplane.station.core.display_messages import DisplayMessages
from chargeplane.station.core.dynamic_schedule import DynamicSchedules
from chargeplane.station.core.evse_reset import EvseReset
from chargeplane.station.core.external_v2x import ExternalPeriod, ExternalV2x
from chargeplane.station.core.firmware import VERSION_KEY, Firmware
from chargeplane.station.core.iso15118 import Iso15118
from chargeplane.station.core.iso15118_charging import Iso15118Charging
from chargeplane.station.core.local_auth_methods import LocalAuthMethods
from chargeplane.station.core.local_list import LocalList, LocalListController
from chargeplane.station.core.metering import Metering
from chargeplane.station.core.model import (
    ContractHash,
    EvChargingNeeds,
    Evse,
    Failure,
    HardwareAction,
    MeterReading,
    OutgoingCall,
    Registration,
    Reservation,
    Transaction,
)
from chargeplane.station.core.monitoring import Monitoring
from chargeplane.station.core.network import NetworkProfiles
from chargeplane.station.core.offline_queue import OfflineQueue, Queued
from chargeplane.station.core.payments import Payments, Terminal
from chargeplane.station.core.priority_charging import PriorityCharging
from chargeplane.station.core.provisioning import Provisioning
from chargeplane.station.core.publish import PURPOSE as PUBLISH
from chargeplane.station.core.publish import FirmwarePublisher
from chargeplane.station.core.registration import Registrar
from chargeplane.station.core.remote import Remote
from chargeplane.station.core.reservation import Reservations
from chargeplane.station.core.security import Security
from chargeplane.station.core.smart_charging import CTRLR as SMART_CHARGING
from chargeplane.station.core.smart_charging import SmartCharging
from chargeplane.station.core.storage import Storage
from chargeplane.station.core.tariff_cost import TariffCost
from chargeplane.station.core.transactions import Transactions
from chargeplane.station.core.tx_limits import TxLimits
from chargeplane.station.core.tx_resume import Resumption
from chargeplane.station.core.v2x import V2x

# The blocks of every station, in the order they see connection changes and timers (and their variables
# appear in reports). The queue loads before transactions recover into it.
CONTROLLERS: tuple[type[Controller], ...] = (
    Registrar,
    OfflineQueue,
    Provisioning,
    Authorization,
    LocalAuthMethods,
    LocalListController,
    Transactions,
    Metering,
    Reservations,
    Availability,
    Remote,
    EvseReset,
    DataTransfer,
    Security,
    Diagnostics,
    CustomerInformation,
    NetworkProfiles,
    Monitoring,
    Firmware,
    FirmwarePublisher,
    DisplayMessages,
    Certificates,
    Iso15118,
    TariffCost,
    TxLimits,
    Payments,
    Resumption,
    SmartCharging,
    Iso15118Charging,
    DerControl,
    BatterySwap,
    DynamicSchedules,
    PriorityCharging,
    V2x,
    ExternalV2x,
    ConnectedEv,
)
for _index, _kind in enumerate(CONTROLLERS):
    _kind.index = _index

ADAPTERS: dict[Version, Adapter] = {
    Version.V16: ADAPTER_16,
    Version.V201: ADAPTER_201,
    Version.V21: ADAPTER_21,
}
Table = dict[type[Payload], tuple[int, ErasedHandler]]


def standard_variables(layout: StationLayout) -> Definitions:
    """The minimum required device model (2.0.1 appendix, "Required = yes") plus the optional variables
    of the blocks this station implements, with our defaults: every controller's, in controller order.

    The result is shared between stations of the same layout (the serial number plays no part): never
    change it in place; build a new list (``standard_variables(layout) + more``) instead."""
    return _standard_variables(dataclasses.replace(layout, serial_number=""))


@functools.cache
def _standard_variables(layout: StationLayout) -> Definitions:
    return Definitions(definition for kind in CONTROLLERS for definition in kind.variables(layout))


@functools.cache
def _definitions(version: Version, layout: StationLayout) -> Definitions:
    """The device model of a version: shared by every station of the version and layout."""
    extra = ADAPTERS[version].extra_variables(layout)
    return Definitions(standard_variables(layout) + extra) if extra else standard_variables(layout)


@functools.cache
def handler_table(version: Version) -> Table:
    """Request type -> (controller index, handler), built once per version and shared by every core."""
    catalog = ActionCatalog.for_version(version)
    table: Table = {}
    for kind in CONTROLLERS:
        for action, handler in kind.on_16 if version is Version.V16 else kind.on_2x:
            if action not in catalog.actions:
                continue  # a 2.1-only action on 2.0.1
            table[catalog.actions[action].request] = (kind.index, handler)
    return table


class StationCore:
    # thousands of cores run in one simulator process: no per-instance __dict__
    __slots__ = ("_table", "ctx")

    def __init__(
        self,
        version: Version,
        storage: Storage,
        now: datetime,
        layout: StationLayout | None = None,
        boot_reason: str | None = None,
    ) -> None:
        layout = layout or StationLayout()
        installed = storage.get_state(VERSION_KEY)  # L01: the version a firmware update installed
        if installed is not None:
            layout = dataclasses.replace(layout, firmware_version=installed)
        adapter = ADAPTERS[version]
        model = DeviceModel(_definitions(version, dataclasses.replace(layout, serial_number="")), storage)
        adapter.configure(model)
        reason = boot_reason or storage.get_state("boot_reason") or "PowerUp"
        storage.set_state("boot_reason", None)
        self.ctx = ctx = Context(version, layout, storage, model, adapter, reason)
        ctx.controllers = tuple(kind(ctx) for kind in CONTROLLERS)
        self._table = handler_table(version)
        for controller in ctx.controllers:
            controller.start(now)

    # ------------------------------------------------------------------ outputs
    def take_calls(self) -> list[OutgoingCall]:
        calls, self.ctx.calls = self.ctx.calls, []
        return calls

    def take_actions(self) -> list[HardwareAction]:
        actions, self.ctx.actions = self.ctx.actions, []
        return self.ctx.get(DisplayMessages).screen(actions)  # O01.FR.15: AlwaysFront stays in front

    def station_time(self, now: datetime) -> datetime:
        return self.ctx.station_time(now)

    # ------------------------------------------------------------------ connection and answers
    def connection_opened(self, now: datetime) -> None:
        self.ctx.online = True
        for controller in self.ctx.controllers:
            controller.connection_opened(now)

    def connection_closed(self, now: datetime) -> None:
        self.ctx.online = False
        self.ctx.callbacks.clear()  # no answer will come
        for controller in self.ctx.controllers:
            controller.connection_closed(now)

    def call_result(self, ref: int, response: Payload, now: datetime) -> None:
        if self.ctx.get(OfflineQueue).answered(ref, response, now):
            return
        on_result, _ = self.ctx.callbacks.pop(ref, (None, None))
        if on_result is not None:
            on_result(response, now)

    def call_failed(self, ref: int, failure: Failure, now: datetime) -> None:
        if self.ctx.get(OfflineQueue).failed(ref, failure, now):
            return
        _, on_failure = self.ctx.callbacks.pop(ref, (None, None))
        if on_failure is not None:
            on_failure(now)

    # ------------------------------------------------------------------ timers
    def next_deadline(self) -> datetime | None:
        deadlines = [d for c in self.ctx.controllers if (d := c.next_deadline()) is not None]
        return min(deadlines) if deadlines else None

    def handle_timer(self, now: datetime) -> None:
        for controller in self.ctx.controllers:
            controller.handle_timer(now)

    # ------------------------------------------------------------------ hardware events
    def ev_plugged(self, evse_id: int, connector_id: int, now: datetime) -> None:
        self.ctx.get(Transactions).plugged(self.ctx.evses[evse_id], connector_id, now)

    def ev_unplugged(self, evse_id: int, now: datetime) -> None:
        self.ctx.get(Transactions).unplugged(self.ctx.evses[evse_id], now)
        self.ctx.get(Iso15118Charging).unplugged(self.ctx.evses[evse_id])
        self.ctx.get(ConnectedEv).disconnected(self.ctx.evses[evse_id])
        self.ctx.get(DerControl).ev_left(self.ctx.evses[evse_id], now)

    def ev_hlc_started(self, evse_id: int, control_mode: str, now: datetime) -> None:
        """2.1 K18/K19: the ISO 15118-20 EV at ``evse_id`` agreed ``control_mode`` (ScheduledControl /
        DynamicControl) and will state its needs; a TxProfile before them is out of sequence."""
        self.ctx.get(Iso15118Charging).hlc_started(self.ctx.evses[evse_id], control_mode)

    def ev_charging_needs(self, evse_id: int, needs: EvChargingNeeds, now: datetime) -> None:
        """K15 / K17: the ISO 15118 EV at ``evse_id`` states its charging needs (on plug-in, or new ones later)."""
        self.ctx.get(ConnectedEv).connected(self.ctx.evses[evse_id], needs)  # Q01.FR.36
        self.ctx.get(Iso15118Charging).ev_needs(self.ctx.evses[evse_id], needs, now)
        self.ctx.get(DerControl).ev_connected(self.ctx.evses[evse_id], needs, now)  # R02/R03

    def departure_changed(self, evse_id: int, departure_s: int, now: datetime) -> EvChargingNeeds | None:
        """K20 scenario 3: the driver sets a new departure at the station for the ISO 15118-20 EV (dynamic
        control) at ``evse_id``; the needs it now states (None: no such EV there, nothing sent)."""
        needs = self.ctx.get(Iso15118Charging).new_departure(evse_id, departure_s)
        if needs is not None:
            self.ev_charging_needs(evse_id, needs, now)
        return needs

    def update_meter(self, evse_id: int, reading: MeterReading, now: datetime) -> None:
        self.ctx.get(Transactions).meter(self.ctx.evses[evse_id], reading, now)
        self.ctx.get(TxLimits).check(self.ctx.evses[evse_id], now)  # E16: energy, SoC, local cost
        self.ctx.get(Monitoring).metered(self.ctx.evses[evse_id], reading, now)
        self.ctx.get(SmartCharging).metered(self.ctx.evses[evse_id], now)
        self.ctx.get(DerControl).metered(self.ctx.evses[evse_id], now)  # R01-R05: the inverter and its cap

        self.ctx.get(BatterySwap).charged(self.ctx.evses[evse_id], reading.soc, now)

        self.ctx.get(V2x).metered(self.ctx.evses[evse_id], now)

    def upstream_load(self, load_w: float, now: datetime) -> None:
        """The upstream (building) meter reads ``load_w`` (V2X local load balancing, Q09)."""
        self.ctx.get(V2x).upstream_load(load_w, now)

    def external_setpoint(
        self,
        setpoint_w: float | None,
        now: datetime,
        *,
        evse_id: int = 0,
        reactive: float | None = None,
        source: str = "EMS",
    ) -> bool:
        """An external system's (EMS) setpoint in W for EVSE ``evse_id`` (0: the station; None: none any
        more): the CSMS's ExternalSetpoint periods take it (Q05), else on 2.1 it is an external constraints
        profile (Q06). False: refused (ExternalConstraintsProfileDisallowed, Q06.FR.08, or external control
        signals disabled)."""
        if not self._external_signals(setpoint_w):
            return False
        v2x = self.ctx.get(V2x)
        v2x.external_reactive = reactive  # Q05.FR.01: with the setpoint, read at the next evaluation
        if self.ctx.version is not Version.V21:
            v2x.external(setpoint_w, now)
            return True
        dynamic = self.ctx.get(DynamicSchedules)
        return dynamic.external_setpoint(evse_id, setpoint_w, reactive, now, source)

    def external_limits(
        self,
        evse_id: int,
        limit: float | None,
        discharge_limit: float | None,
        now: datetime,
        source: str = "EMS",
    ) -> bool:
        """2.1: an external system's (EMS) charging limit and dischargeLimit in W for EVSE ``evse_id`` (0:
        the station; both None: lifted), into the CSMS's Dynamic ExternalLimits periods (Q05.FR.02/06), else
        an external constraints profile (Q06.FR.02/05). False: refused (Q06.FR.08, or external control
        signals disabled) or not 2.1."""
        if self.ctx.version is not Version.V21:
            return False
        if not self._external_signals(limit if limit is not None else discharge_limit):
            return False
        return self.ctx.get(ExternalV2x).limits(evse_id, limit, discharge_limit, now, source)

    def external_schedule(
        self, evse_id: int, mode: str, periods: list[ExternalPeriod], now: datetime, source: str = "EMS"
    ) -> bool:
        """2.1: an external system's schedule from now of ExternalLimits or ExternalSetpoint periods (Q06.FR.01
        / 03; empty: none any more). False: refused (Q06.FR.08) or not 2.1; ValueError: a malformed one."""
        if self.ctx.version is not Version.V21:
            return False
        return self.ctx.get(ExternalV2x).schedule(evse_id, mode, periods, now, source)

    def set_temperature(self, celsius: float, now: datetime) -> None:
        """The station's temperature sensor (ChargingStation.Temperature, watched by monitors, N07)."""
        self.ctx.get(Monitoring).measured_temperature(celsius, now)

    def set_grid(self, voltage_v: float | None, frequency_hz: float | None, now: datetime) -> InverterOutput:
        """The simulated grid at the connection point (None: unchanged); 2.1 DER controls act on it (R05)."""
        return self.ctx.get(DerControl).set_grid(voltage_v, frequency_hz, now)

    @property
    def der(self) -> DerControl:
        """The DER controls (R04) and the simulated inverter's last output."""
        return self.ctx.get(DerControl)

    def customer_enrolled(
        self, identifier: str, now: datetime, token: str | None = None, token_type: str = "ISO14443"
    ) -> None:
        """C-14: a driver enrols under a customer identifier by local means (optionally with an id token)."""
        linked = (token, token_type) if token is not None else None
        self.ctx.get(CustomerInformation).enrol(identifier, linked, now)

    def fault(self, evse_id: int, faulted: bool, now: datetime) -> None:
        self.ctx.get(Transactions).fault(self.ctx.evses[evse_id], faulted, now)
        self.ctx.get(Monitoring).problem(self.ctx.evses[evse_id], faulted, now)
        self.ctx.get(BatterySwap).refresh_slots()  # a faulted slot's door

    def set_transaction_limit(
        self, evse_id: int, limits: dict[str, float], now: datetime
    ) -> dict[str, float]:
        """E16.FR.01: the driver sets limits (TransactionLimitType names: maxEnergy, maxCost, maxTime, maxSoC)
        on the transaction of ``evse_id``; returns those taken (supported, capped by the CSMS's)."""
        return self.ctx.get(TxLimits).set_by_driver(self.ctx.evses[evse_id], limits, now)

    def external_limit(
        self, evse_id: int, limit: float | None, unit: str, now: datetime, source: str = "EMS"
    ) -> None:
        """K11-K13: an external system limits EVSE ``evse_id`` (0: the station) to ``limit`` in ``unit``
        ("A" or "W"); None lifts its limit. 2.1 K29: into the CSMS's Dynamic profiles that wait for it, else
        a Dynamic external constraint (none when ExternalConstraintsProfileDisallowed)."""
        if not self._external_signals(limit):
            return
        if self.ctx.version is Version.V21:
            self.ctx.get(DynamicSchedules).external_value(evse_id, limit, RateUnit(unit), now, source)
            return
        self.ctx.get(SmartCharging).external_limit(evse_id, limit, RateUnit(unit), now, source)

    def _external_signals(self, value: float | None) -> bool:
        """SmartChargingCtrlr.ExternalControlSignalsEnabled (2.x; the prerequisite of K11, K23, K27, Q05/Q06):
        false makes the station ignore an external system's new values; lifting one (None) still passes, so
        that no stale external limit stays. 1.6 has no such key: its external limits always count."""
        if self.ctx.version is Version.V16 or value is None:
            return True
        return self.ctx.model.flag(SMART_CHARGING, "ExternalControlSignalsEnabled")

    def local_generation(
        self, evse_id: int, capacity: float | None, unit: str, now: datetime, source: str = "EMS"
    ) -> None:
        """K27: locally generated capacity for EVSE ``evse_id`` (0: the station); None: none any more."""
        if not self._external_signals(capacity):
            return
        self.ctx.get(DynamicSchedules).local_generation(evse_id, capacity, RateUnit(unit), now, source)

    def priority_button(self, evse_id: int, now: datetime) -> bool:
        """K22: the driver presses the priority charging button of ``evse_id`` (a toggle); True: on."""
        return self.ctx.get(PriorityCharging).button(evse_id, now)

    def next_url(self, factory_url: str) -> str:
        """The CSMS URL of the next connection attempt (B10: the priority of the network profiles)."""
        return self.ctx.get(NetworkProfiles).next_url(factory_url)

    def basic_auth_password(self, factory: str | None) -> str | None:
        """The Basic-auth password of the next connection attempt (A01: the one the CSMS set, if any)."""
        return self.ctx.get(Security).basic_auth_password(factory)

    def provision_csms_roots(self, pem: str, now: datetime) -> int:
        """The CA bundle the station was set up with, as its CSMSRootCertificates (once in its life)."""
        return self.ctx.get(Certificates).provision(CSMS_ROOT, pem, now)

    def reprovision_csms_roots(self, pem: str, now: datetime) -> int:
        """An installer's reset of the CSMS trust: the CSMSRootCertificates become the bundle ``pem``."""
        return self.ctx.get(Certificates).reprovision(CSMS_ROOT, pem, now)

    def csms_roots(self) -> list[x509.Certificate]:
        """M05: the installed CSMSRootCertificates."""
        return self.ctx.get(Certificates).roots(CSMS_ROOT)

    def csms_trust(self) -> tuple[list[x509.Certificate], bool]:
        """The CSMS roots the next TLS connection verifies the server with, and whether they are a new root on
        trial (M05.FR.13/14, AdditionalRootCertificateCheck)."""
        return self.ctx.get(Certificates).csms_trust()

    def tls_connected(self, trial: bool) -> None:
        """A TLS connection came up; ``trial``: verified with the new CSMS root alone (M05.FR.13)."""
        if trial:
            self.ctx.get(Certificates).connected_with_new_root()

    def tls_refused(self, event_type: str, trial: bool, now: datetime, tech_info: str) -> None:
        """A connection attempt ended in the TLS handshake with ``event_type`` (InvalidCsmsCertificate,
        InvalidTLSVersion); ``trial``: the CSMS certificate was checked with the new CSMS root alone. A
        certificate the new root alone did not verify is no event yet: the fallback root decides next."""
        if trial and event_type == "InvalidCsmsCertificate":
            self.ctx.get(Certificates).new_root_refused()  # M05.FR.14: the fallback next time
            return
        self.ctx.get(Security).tls_refused(event_type, now, tech_info)

    def station_certificate(self, now: datetime) -> OwnCertificate | None:
        """The newest valid ChargingStationCertificate with its key (A02.FR.09), for a TLS client (profile 3)."""
        return self.ctx.get(Certificates).station_certificate(STATION_CERTIFICATE, now)

    def upload_finished(self, upload_id: int, ok: bool, now: datetime) -> None:
        """The runtime's outcome of an :class:`~.model.UploadLog` attempt."""
        self.ctx.get(Diagnostics).upload_finished(upload_id, ok, now)

    def download_finished(
        self, download_id: int, image: bytes | None, now: datetime, purpose: str = "update"
    ) -> None:
        """The runtime's outcome of a :class:`~.model.DownloadFirmware` attempt (None: it failed)."""
        if purpose == PUBLISH:
            self.ctx.get(FirmwarePublisher).download_finished(download_id, image, now)
        else:
            self.ctx.get(Firmware).download_finished(download_id, image, now)

    def publish_finished(self, checksum: str, urls: list[str] | None, now: datetime) -> None:
        """The runtime's outcome of a :class:`~.model.PublishFile` (the URIs it serves the file at; None:
        it could not)."""
        self.ctx.get(FirmwarePublisher).publish_finished(checksum, urls, now)

    @property
    def firmware(self) -> Firmware:
        """The firmware controller (its ``trust_roots`` is the trust seam of L01)."""
        return self.ctx.get(Firmware)

    def token_presented(
        self, value: str, now: datetime, token_type: str = "ISO14443", evse_id: int | None = None
    ) -> None:
        """C01 / E02 / E07: a token at the reader (``evse_id`` None: the station's single reader)."""
        ctx = self.ctx
        ctx.get(Authorization).token_presented(value, ctx.adapter.token_type(token_type), evse_id, now)

    def contract_presented(
        self,
        emaid: str,
        contract: tuple[ContractHash, ...],
        now: datetime,
        evse_id: int | None = None,
        certificate: str | None = None,
    ) -> None:
        """C07: an EV presents its ISO 15118 contract certificate (its eMAID, the chain's OCSP data and, when
        the EV gave it, the chain itself in PEM)."""
        self.ctx.get(Authorization).contract_presented(emaid, contract, evse_id, now, certificate)

    def ev_certificate_request(self, evse_id: int, action: str, exi_request: str, now: datetime) -> None:
        """M01/M02: the EV at ``evse_id`` asks for a contract certificate (``Install``) or a new one
        (``Update``); its base64 EXI request goes to the CSMS, the answer comes back as an action."""
        self.ctx.get(Iso15118).ev_certificate(evse_id, action, exi_request, now)

    def start_button(self, evse_id: int, now: datetime) -> None:
        """C02: the start (and stop) button of ``evse_id`` is pressed."""
        self.ctx.get(LocalAuthMethods).start_button(evse_id, now)

    def pin_entered(self, pin: str, now: datetime, evse_id: int | None = None) -> None:
        """C04: a PIN typed on the keypad."""
        self.ctx.get(LocalAuthMethods).pin_entered(pin, evse_id, now)

    def card_paid(self, now: datetime, evse_id: int | None = None) -> str | None:
        """C03 / C18: the payment terminal approved a card; the PSP reference when it became a token."""
        return self.ctx.get(LocalAuthMethods).card_paid(evse_id, now)

    @property
    def battery_swap(self) -> BatterySwap:
        """S01-S04: the swap station's slots and the running swap."""
        return self.ctx.get(BatterySwap)

    def swap_token(self, value: str, now: datetime, token_type: str = "ISO14443", count: int = 1) -> None:
        """S01: a driver presents a token at the swap station to swap a set of ``count`` batteries."""
        self.ctx.get(BatterySwap).token_presented(value, token_type, count, now)

    def battery_inserted(
        self, evse_id: int, serial: str, soc: float, soh: float, now: datetime, *, stock: bool = False
    ) -> bool:
        """S03: a battery goes into slot ``evse_id`` (``stock``: by the operator, outside any swap)."""
        swap, battery = self.ctx.get(BatterySwap), Battery(serial, soc, soh)
        return swap.stock(evse_id, battery, now) if stock else swap.inserted(evse_id, battery, now)

    def battery_removed(self, evse_id: int, now: datetime) -> Battery | None:
        """S03 / S04.FR.07: the battery of slot ``evse_id`` is taken out."""
        return self.ctx.get(BatterySwap).removed(evse_id, now)

    # ------------------------------------------------------------------ CSMS-initiated CALLs
    def payment_canceled(self, now: datetime, evse_id: int | None = None) -> None:
        """The driver cancels the payment on the terminal (C19 before the transaction, C20 after)."""
        self.ctx.get(Payments).cancel(evse_id, now)

    def vat_number_entered(self, vat_number: str, now: datetime, evse_id: int | None = None) -> None:
        """The driver enters a VAT number on the terminal (C18.FR.08: VatNumberValidation)."""
        self.ctx.get(Payments).vat_number_entered(vat_number, evse_id, now)

    def payment_url(
        self,
        evse_id: int,
        now: datetime,
        identity: str | None = None,
        limits: dict[str, float] | None = None,
    ) -> str | None:
        """C25: the dynamic QR code's URL for ``evse_id`` now (None: web payments off), with the driver's
        maximum time / energy / cost (``maxtime`` / ``maxenergy`` / ``maxcost``) when supported."""
        return self.ctx.get(Payments).payment_url(evse_id, now, identity, limits)

    @property
    def payment_terminal(self) -> Terminal:
        """The simulated terminal: what its PSP answers next, what it released and settled."""
        return self.ctx.get(Payments).terminal

    def handled_requests(self) -> list[type[Payload]]:
        return list(self._table)

    def handle(self, request: Payload, now: datetime) -> Payload:
        """Answer one CSMS CALL. B03.FR.08: while Rejected, every CALL gets SecurityError."""
        ctx = self.ctx
        if ctx.registration is Registration.REJECTED:
            raise SecurityError("not accepted by the CSMS")
        index, handler = self._table[type(request)]
        return handler(ctx.controllers[index], request, now)

    # ------------------------------------------------------------------ inspection
    @property
    def version(self) -> Version:
        return self.ctx.version

    @property
    def layout(self) -> StationLayout:
        return self.ctx.layout

    @property
    def storage(self) -> Storage:
        return self.ctx.storage

    @property
    def model(self) -> DeviceModel:
        return self.ctx.model

    @property
    def evses(self) -> dict[int, Evse]:
        return self.ctx.evses

    @property
    def online(self) -> bool:
        return self.ctx.online

    @property
    def registration(self) -> Registration:
        return self.ctx.registration

    @property
    def queue(self) -> list[Queued]:
        return self.ctx.get(OfflineQueue).items

    @property
    def cache(self) -> AuthCache:
        return self.ctx.get(Authorization).cache

    @property
    def local_list(self) -> LocalList:
        return self.ctx.get(LocalListController).list

    @property
    def reservations(self) -> dict[int, Reservation]:
        return self.ctx.get(Reservations).items

    def transaction(self, evse_id: int) -> Transaction | None:
        return self.ctx.evses[evse_id].tx
