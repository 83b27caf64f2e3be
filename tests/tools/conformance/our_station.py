"""Chargeplane's own charging station, in-process, as the system under test of the ``_CS`` cases: the manual
actions of the cases drive its simulated hardware (the tools meet the station on the wire only, so this
adapter lives with the tests)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

from chargeplane.station.core.model import EvChargingNeeds
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.tools.conformance.station_adapter import (
    EnterParkingBay,
    EvNotReady,
    EvSuspends,
    HardwareFault,
    LeaveParkingBay,
    MakeIdle,
    MasterPassStop,
    NextEvIso15118,
    PlugIn,
    PowerCycle,
    PresentToken,
    RenegotiateChargingLimits,
    StationAction,
    StoreCustomerIdentifier,
    Unplug,
    UnplugEvSide,
)
from chargeplane.transport.backoff import BackOffSettings

FAST = BackOffSettings(0.2, 0.1, 1)  # reconnect at once after a reboot


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
        self._renegotiations = 0
        self._iso15118_next = False  # NextEvIso15118: the next PlugIn connects an EV that awaits its schedule

    async def start(self) -> None:
        self.runtime = StationRuntime(self.settings)
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
                pass  # our station keeps no data under customer identifiers (C-14, not declared; issue #14)
            case NextEvIso15118():
                self._iso15118_next = True
            case RenegotiateChargingLimits():
                # an ISO 15118 EV states new needs: a little less energy each time, leaving in two hours
                self._renegotiations += 1
                needs = EvChargingNeeds(30_000.0 - 1_000.0 * self._renegotiations, departure_s=7200)
                self.station.ev_charging_needs(action.evse_id, needs)

    async def _make_idle(self) -> None:
        station = self.station
        for evse_id, evse in station.hardware.evses.items():
            if evse.ev is not None:
                station.unplug(evse_id)
        await asyncio.sleep(0.3)
        evses = station.core.evses.values()
        if any(e.tx is not None or e.authorized is not None or e.pending_remote_start for e in evses):
            await self.perform(PowerCycle())  # what the unplug did not end (a stop point, an authorization)
