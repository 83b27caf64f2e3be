"""Chargeplane's own charging station, in-process, as the system under test of the ``_CS`` cases: the manual
actions of the cases drive its simulated hardware (the tools meet the station on the wire only, so this
adapter lives with the tests)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chargeplane.station.core.device_model import ACTUAL, VariableKey
from chargeplane.station.core.model import ContractHash, EvChargingNeeds
from chargeplane.station.hardware import SimulatedContract, SimulatedEv
from chargeplane.station.runtime import RuntimeSettings, SqliteStorage, StationRuntime
from chargeplane.tools.conformance.pki import Issued, hash_data, issue
from chargeplane.tools.conformance.station_adapter import (
    ConfigureRootCertificateCheck,
    EnterParkingBay,
    EvNotReady,
    EvSuspends,
    HardwareFault,
    LeaveParkingBay,
    MakeIdle,
    MasterPassStop,
    NextEvIso15118,
    PlugIn,
    PlugInIso15118Ev,
    PowerCycle,
    PresentToken,
    RenegotiateChargingLimits,
    SetUpConnection,
    StationAction,
    StoreCustomerIdentifier,
    Unplug,
    UnplugEvSide,
)
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.security import CertificateFiles

FAST = BackOffSettings(0.2, 0.1, 1)  # reconnect at once after a reboot
EMAID = "NLCPOC1234567A"  # the simulated Plug & Charge EV's contract


def _contract(certificate: str | None, now: datetime, pki: Path | None) -> SimulatedContract:
    """A Plug & Charge EV's contract: a contract certificate under the tool's MO root (from the tool's PKI
    directory; one of its own before the tool made it), its OCSP data and chain (C07); none yet for
    ``Install``, one that expires within weeks for ``Update``."""
    mo_root = issue("Simulated MO root", ca=True)
    if pki is not None and (pki / "mo_root.key").exists():
        key = serialization.load_pem_private_key((pki / "mo_root.key").read_bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        mo_root = Issued(x509.load_pem_x509_certificate((pki / "mo_root.crt").read_bytes()), key)
    leaf = issue(EMAID, mo_root, ca=False)
    data = hash_data(leaf.certificate, mo_root.certificate)
    chain = (
        ContractHash(
            data.hash_algorithm.value,
            data.issuer_name_hash,
            data.issuer_key_hash,
            data.serial_number,
            "http://127.0.0.1:9/ocsp",
        ),
    )
    valid_until = {"Install": None, "Update": now + timedelta(days=10)}.get(
        certificate or "", now + timedelta(days=365)
    )
    return SimulatedContract(EMAID, chain, valid_until, certificate_pem=leaf.pem)


ROOT_CHECK = ("SecurityCtrlr", "AdditionalRootCertificateCheck", None)  # M05 (AS-2)


def _roots_in(directory: Path) -> Callable[[], list[str]]:
    """The manufacturer root the tool's PKI wrote into ``directory`` (none before the tool made it)."""

    def roots() -> list[str]:
        root = directory / "manufacturer_root.crt"
        return [root.read_text()] if root.exists() else []

    return roots


class OurStation:
    """The :class:`~chargeplane.tools.conformance.station_adapter.StationAdapter` of our station runtime."""

    def __init__(
        self,
        url: str,
        station_id: str,
        password: str,
        database: Path,
        manufacturer_roots: Path | None = None,
        ca_bundle: Path | None = None,
    ) -> None:
        self.settings = RuntimeSettings(
            url=url,
            station_id=station_id,
            password=password,
            ca_bundle=ca_bundle,  # the CSMS root it is set up with (its first CSMSRootCertificate)
            database=database,  # a file: a power cycle keeps the device model, like a real station
            meter_tick_s=0.2,
            backoff=FAST,
            call_timeout=4.0,  # how long an unanswered CALL waits (the retry cases wait for it)
            # L01: the tool's manufacturer root, given beforehand (the tool's PKI directory, as its own
            # readings allow) until InstallCertificate ManufacturerRootCertificate reaches the station
            manufacturer_roots_provider=_roots_in(manufacturer_roots) if manufacturer_roots else None,
        )
        self.runtime: StationRuntime | None = None
        self._task: asyncio.Task[None] | None = None
        self._ev_not_ready = False  # EvNotReady: the next PlugIn connects an EV that takes no energy
        self._pki = manufacturer_roots  # the tool's PKI directory: its MO root issues the EV's contract
        self._trust: str | None = None  # SetUpConnection's CSMS root, for the next start
        self._renegotiations = 0
        self._iso15118_next = False  # NextEvIso15118: the next PlugIn connects an EV that awaits its schedule

    async def start(self) -> None:
        self.runtime = StationRuntime(self.settings)
        if self._trust is not None:  # a set-up: the CSMS roots become the one given
            self.runtime.core.reprovision_csms_roots(self._trust, self.runtime.clock())
            self._trust = None
        self._task = asyncio.create_task(self.runtime.run())

    async def stop(self) -> None:
        runtime, task = self.runtime, self._task
        self.runtime = self._task = None
        if runtime is not None:
            await runtime.stop()
        if task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 5.0)

    @property
    def station(self) -> StationRuntime:
        assert self.runtime is not None, "the station is not running"
        return self.runtime

    async def perform(self, action: StationAction) -> None:
        match action:
            case PlugIn():
                ev = SimulatedEv(draws_power=False) if self._ev_not_ready else None
                if self._iso15118_next:
                    ev = SimulatedEv(waits_for_schedule=True)
                self._ev_not_ready = self._iso15118_next = False
                self.station.plug(action.evse_id, action.connector_id, ev)
            case PlugInIso15118Ev():
                ev = SimulatedEv(contract=_contract(action.certificate, self.station.clock(), self._pki))
                self.station.plug(action.evse_id, action.connector_id, ev)
            case Unplug():
                self.station.unplug(action.evse_id)
            case PresentToken():
                self.station.present_token(action.id_token, action.evse_id, action.token_type)
            case PowerCycle():
                await self.stop()
                await self.start()
            case MakeIdle():
                await self._make_idle()
            # the EV side (block E): our simulated EVSE only knows whether an EV is there, so a disconnect
            # on the EV side is its unplug (it unlocks or not as UnlockOnEVSideDisconnect says)
            case UnplugEvSide():
                self.station.unplug(action.evse_id)
            case EvSuspends():
                ev = self.station.hardware.evses[action.evse_id].ev
                assert ev is not None, "no EV connected to suspend"
                ev.draws_power = False  # the meter then reads 0 W: the station sees the EV suspend
            case EvNotReady():
                self._ev_not_ready = True  # the next EV plugged in takes no energy
            case EnterParkingBay() | LeaveParkingBay():
                pass  # no parking bay sensor: our station declares neither C-09.6 nor C-10.5
            case MasterPassStop():
                pass  # our station has no UI: a master pass stops every transaction at once (C16.FR.02)
            case HardwareFault():
                self.station.fault(action.evse_id, action.faulted)
            case StoreCustomerIdentifier():
                self.station.enrol_customer(action.identifier)  # a driver enrols at the station (C-14)
            case ConfigureRootCertificateCheck():  # a read-only variable: the site configuration, then a boot
                await self.stop()
                variables = dict(self.settings.variables)
                variables[ROOT_CHECK] = str(action.enabled).lower()
                self.settings = dataclasses.replace(self.settings, variables=variables)
                await self.start()
            case SetUpConnection():
                await self.stop()
                self._set_up(action)
                await self.start()
            case NextEvIso15118():
                self._iso15118_next = True
            case RenegotiateChargingLimits():
                # an ISO 15118 EV states new needs: a little less energy each time, leaving in two hours
                self._renegotiations += 1
                needs = EvChargingNeeds(30_000.0 - 1_000.0 * self._renegotiations, departure_s=7200)
                self.station.ev_charging_needs(action.evse_id, needs)

    def _set_up(self, action: SetUpConnection) -> None:
        """What an installer does: the factory connection (URL, security profile, the CSMS root to trust, the
        station certificate) and the connection's variables back to that factory profile alone."""
        directory = self.settings.database.parent if isinstance(self.settings.database, Path) else Path(".")
        ca_bundle = self.settings.ca_bundle
        if action.csms_root:
            ca_bundle = directory / "set_up_csms_root.crt"
            ca_bundle.write_text(action.csms_root)
        client = None
        if action.certificate:
            client = CertificateFiles(directory / "set_up_station.crt", directory / "set_up_station.key")
            client.certificate.write_text(action.certificate)
            client.private_key.touch(mode=0o600)
            client.private_key.write_text(action.private_key)
        self._trust = action.csms_root or None  # installed in place of the CSMS roots at the start
        self.settings = dataclasses.replace(
            self.settings,
            url=action.url,
            security_profile=action.security_profile,
            ca_bundle=ca_bundle,
            client_certificate=client,
        )
        storage = SqliteStorage(self.settings.database)
        try:
            for key, value in (
                (VariableKey("SecurityCtrlr", "SecurityProfile"), str(action.security_profile)),
                (VariableKey("OCPPCommCtrlr", "NetworkConfigurationPriority"), "0"),
            ):
                storage.save_value(key.storage_key(ACTUAL), value)
            storage.set_state("network_last_good_slot", "0")
        finally:
            storage.close()

    async def _make_idle(self) -> None:
        station = self.station
        for evse_id, evse in station.hardware.evses.items():
            if evse.ev is not None:
                station.unplug(evse_id)
        await asyncio.sleep(0.3)
        evses = station.core.evses.values()
        if any(e.tx is not None or e.authorized is not None or e.pending_remote_start for e in evses):
            await self.perform(PowerCycle())  # what the unplug did not end (a stop point, an authorization)
