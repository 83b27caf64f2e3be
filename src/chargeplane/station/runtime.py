"""The asyncio driver of the station core: WebSocket client, timers, SQLite storage, simulated hardware.

It feeds the core (:class:`~chargeplane.station.core.station.StationCore`) with connection changes,
CSMS CALLs, answers to its own CALLs, meter readings and the single timer the core asks for, then drains
what the core wants done: CALLs to send (each as a task, in order: the connection keeps one outstanding
CALL and queues the rest) and hardware actions. A Reset (``Reboot`` action) drops the connection and
builds a new core on the same storage, like a restarted process would.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chargeplane.ocpp.catalog import STATION
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import StationLayout, VariableKey
from chargeplane.station.core.model import (
    Failure,
    OutgoingCall,
    Reboot,
    Registration,
    SetContactor,
    SetLock,
    ShowMessage,
)
from chargeplane.station.core.station import StationCore
from chargeplane.station.core.storage import QueuedRecord, Storage
from chargeplane.station.hardware import SimulatedEv, SimulatedStation
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.client import ClientSettings, ConnectionState, OcppClient
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost, OcppConnection
from chargeplane.transport.security import CertificateFiles

log = logging.getLogger(__name__)


class SqliteStorage:
    """:class:`~chargeplane.station.core.storage.Storage` in one SQLite file (survives restarts)."""

    def __init__(self, path: str | Path) -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("CREATE TABLE IF NOT EXISTS dm_values (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.db.execute("CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL,"
            " payload BLOB NOT NULL)"
        )

    def close(self) -> None:
        self.db.close()

    def load_values(self) -> dict[str, str]:
        return dict(self.db.execute("SELECT key, value FROM dm_values").fetchall())

    def save_value(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO dm_values (key, value) VALUES (?, ?)", (key, value))

    def get_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM state WHERE key = ?", (key,))
        else:
            self.db.execute("INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)", (key, value))

    def queue_load(self) -> list[QueuedRecord]:
        rows = self.db.execute("SELECT id, action, payload FROM queue ORDER BY id").fetchall()
        return [QueuedRecord(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def queue_push(self, action: str, payload: bytes) -> int:
        cursor = self.db.execute("INSERT INTO queue (action, payload) VALUES (?, ?)", (action, payload))
        return int(cursor.lastrowid or 0)

    def queue_replace(self, key: int, payload: bytes) -> None:
        self.db.execute("UPDATE queue SET payload = ? WHERE id = ?", (payload, key))

    def queue_remove(self, key: int) -> None:
        self.db.execute("DELETE FROM queue WHERE id = ?", (key,))


@dataclass
class RuntimeSettings:
    url: str
    station_id: str
    version: Version = Version.V201
    connectors: tuple[int, ...] = (1,)  # connectors per EVSE
    password: str | None = None
    security_profile: int = 1
    ca_bundle: Path | None = None
    client_certificate: CertificateFiles | None = None
    database: str | Path = ":memory:"
    meter_tick_s: float = 1.0
    backoff: BackOffSettings = field(default_factory=lambda: BackOffSettings(3.0, 2.0, 5))
    call_timeout: float = 30.0
    variables: dict[tuple[str, str, str | None], str] = field(default_factory=dict)  # site configuration
    vendor: str = "Chargeplane"
    model: str = "SimStation"


def utc_now() -> datetime:
    return datetime.now(UTC)


class StationRuntime:
    """A running station: ``await run()`` until ``await stop()``; control with plug/unplug/token/fault."""

    def __init__(
        self,
        settings: RuntimeSettings,
        storage: Storage | None = None,
        hardware: SimulatedStation | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.storage: Storage = storage if storage is not None else SqliteStorage(settings.database)
        self.hardware = hardware or SimulatedStation.build(settings.station_id, len(settings.connectors))
        self.clock = clock
        self.layout = StationLayout(
            connectors=settings.connectors,
            vendor=settings.vendor,
            model=settings.model,
            serial_number=settings.station_id[:25],
            security_profile=settings.security_profile,
        )
        self.core = self._new_core()
        self.client: OcppClient | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._rebooting = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.connected = asyncio.Event()
        self.accepted = asyncio.Event()  # connected and accepted by the CSMS (B01)
        self.calls_sent = 0
        self.calls_failed = 0

    def _new_core(self) -> StationCore:
        if self.settings.version is Version.V16:
            from chargeplane.station.core.station16 import Station16Core

            core: StationCore = Station16Core(self.storage, self.clock(), self.layout)
        else:
            core = StationCore(self.settings.version, self.storage, self.clock(), self.layout)
        for (component, variable, instance), value in self.settings.variables.items():
            core.model.put(VariableKey(component, variable, None, instance), value, persist=True)
        return core

    # ------------------------------------------------------------------ control (simulated hardware)
    def plug(self, evse_id: int = 1, connector_id: int = 1, ev: SimulatedEv | None = None) -> None:
        self.hardware.evses[evse_id].ev = ev or SimulatedEv()
        self.core.ev_plugged(evse_id, connector_id, self.clock())
        self._pump()

    def unplug(self, evse_id: int = 1) -> None:
        self.hardware.evses[evse_id].ev = None
        self.core.ev_unplugged(evse_id, self.clock())
        self._pump()

    def present_token(self, token: str, evse_id: int | None = None, token_type: str = "ISO14443") -> None:
        self.core.token_presented(token, self.clock(), token_type=token_type, evse_id=evse_id)
        self._pump()

    def fault(self, evse_id: int = 1, faulted: bool = True) -> None:
        self.core.fault(evse_id, faulted, self.clock())
        self._pump()

    async def go_offline(self) -> None:
        """Drop the connection (the client reconnects after back-off)."""
        if self.client is not None:
            await self.client.disconnect()

    # ------------------------------------------------------------------ lifecycle
    async def run(self) -> None:
        while not self._stopping:
            self._rebooting = False
            await self._run_once()
            if not self._rebooting:
                break
            log.info("%s: rebooting", self.settings.station_id)
            self.core = self._new_core()

    async def stop(self) -> None:
        self._stopping = True
        if self.client is not None:
            await self.client.stop()
        self._wake.set()

    async def _run_once(self) -> None:
        settings = self.settings
        client_settings = ClientSettings(
            url=settings.url,
            station_id=settings.station_id,
            versions=(settings.version,),
            password=settings.password,
            ca_bundle=settings.ca_bundle,
            client_certificate=settings.client_certificate,
            queue_offline=False,  # the core queues (durably) what must survive a connection loss
            backoff=settings.backoff,
            call_timeout=settings.call_timeout,
        )
        self.client = OcppClient(client_settings, self._router_for, on_state=self._on_state)
        self._wake = asyncio.Event()
        client_task = asyncio.create_task(self.client.run())
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._timer_loop(client_task))
                group.create_task(self._meter_loop(client_task))
                await client_task
                self._wake.set()
        finally:
            for task in list(self._tasks):
                task.cancel()
            self.connected.clear()

    def _router_for(self, version: Version) -> Router[OcppConnection]:
        router = Router[OcppConnection](version, STATION)
        for request_type in self.core.handled_requests():
            router.register(request_type, self._handle)
        return router

    def _handle(self, request: Any, connection: OcppConnection) -> Any:
        response = self.core.handle(request, self.clock())
        asyncio.get_running_loop().call_soon(self._pump)  # events the request caused go after the answer
        return response

    def _on_state(self, state: ConnectionState) -> None:
        now = self.clock()
        if state is ConnectionState.CONNECTED:
            self.core.connection_opened(now)
            self.connected.set()
        elif state in (ConnectionState.DISCONNECTED, ConnectionState.STOPPED):
            self.core.connection_closed(now)
            self.connected.clear()
            self.accepted.clear()
        if state is ConnectionState.CONNECTED:
            asyncio.get_running_loop().call_soon(self._pump)

    # ------------------------------------------------------------------ draining the core
    def _pump(self) -> None:
        for call in self.core.take_calls():
            task = asyncio.create_task(self._send(call))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        for action in self.core.take_actions():
            self._apply(action)
        if self.core.online and self.core.registration is Registration.ACCEPTED:
            self.accepted.set()
        else:
            self.accepted.clear()
        self._wake.set()

    async def _send(self, call: OutgoingCall) -> None:
        client = self.client
        failure: Failure | None = None
        response: Payload | None = None
        if client is None:
            failure = Failure.OFFLINE
        else:
            try:
                self.calls_sent += 1
                response = await client.call(call.request)
            except CallFailed as exc:
                log.warning("%s: %s", self.settings.station_id, exc)
                failure = Failure.ERROR
            except CallTimeout:
                failure = Failure.TIMEOUT
            except ConnectionLost:
                failure = Failure.OFFLINE
        if response is not None:
            self.core.call_result(call.ref, response, self.clock())
        else:
            self.calls_failed += 1
            self.core.call_failed(call.ref, failure or Failure.ERROR, self.clock())
        self._pump()

    def _apply(self, action: object) -> None:
        if isinstance(action, SetContactor):
            self.hardware.evses[action.evse_id].set_closed(action.closed)
        elif isinstance(action, SetLock):
            self.hardware.evses[action.evse_id].set_locked(action.connector_id, action.locked)
        elif isinstance(action, ShowMessage):
            self.hardware.display.show(action.text)
        elif isinstance(action, Reboot):
            self._rebooting = True
            if self.client is not None:
                task = asyncio.create_task(self.client.stop())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _timer_loop(self, client_task: asyncio.Task[None]) -> None:
        while not client_task.done():
            self._wake.clear()
            deadline = self.core.next_deadline()
            timeout = None if deadline is None else max(0.0, (deadline - self.clock()).total_seconds())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=timeout)
            if client_task.done():
                return
            now = self.clock()
            if deadline is not None and deadline <= now:
                self.core.handle_timer(now)
                self._pump()

    async def _meter_loop(self, client_task: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        while not client_task.done():
            await asyncio.sleep(self.settings.meter_tick_s)
            now = loop.time()
            for evse_id, evse in self.hardware.evses.items():
                reading = evse.read(now - last)
                self.core.update_meter(evse_id, reading, self.clock())
            last = now
            self._pump()
