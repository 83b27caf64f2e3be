"""The asyncio driver of the station core: WebSocket client, timers, SQLite storage, simulated hardware.

It feeds the core (:class:`~chargeplane.station.core.station.StationCore`) with connection changes,
CSMS CALLs, answers to its own CALLs, meter readings and the single timer the core asks for, then drains
what the core wants done: CALLs to send (each as a task, in order: the connection keeps one outstanding
CALL and queues the rest) and hardware actions. A Reset (``Reboot`` action) drops the connection and
builds a new core on the same storage, like a restarted process would.

A simulator runs thousands of these in one process, so a station costs little while it waits: one task
(the connection), the core's timer and the meter as plain event-loop timers (the meter is read only while
an EV is plugged in or power flows), routers shared between stations of a version, and, in a fleet, one
SQLite connection for every station (:class:`SqliteFleetStore`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import math
import sqlite3
import ssl
import tempfile
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from chargeplane.ocpp.catalog import STATION
from chargeplane.ocpp.endpoint import LocalProtocolError
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import StationLayout, VariableKey
from chargeplane.station.core.external_v2x import ExternalPeriod
from chargeplane.station.core.model import (
    CancelDownload,
    CancelUpload,
    DownloadFirmware,
    EvCertificateAnswer,
    EvChargingNeeds,
    EvDerControls,
    Failure,
    OfferPrices,
    OutgoingCall,
    PublishFile,
    Reboot,
    Reconnect,
    Registration,
    SetContactor,
    SetInverterLimits,
    SetLock,
    SetPowerLimit,
    SetPowerSetpoint,
    ShowMessage,
    StartPowerDelivery,
    UnpublishFile,
    UploadLog,
)
from chargeplane.station.core.station import StationCore, handler_table
from chargeplane.station.core.storage import QueuedRecord, Storage
from chargeplane.station.hardware import SimulatedContract, SimulatedEv, SimulatedStation
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.client import ClientSettings, ConnectionState, Credentials, OcppClient
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost, OcppConnection
from chargeplane.transport.security import CertificateFiles, csms_refusal_event

log = logging.getLogger(__name__)

UPLOAD_TIMEOUT_S = 60.0  # one attempt of a log upload (connect, send, answer)
DOWNLOAD_TIMEOUT_S = 60.0  # one attempt of a firmware download, between two reads
MAX_FIRMWARE_BYTES = 64 * 1024 * 1024  # a simulated station's flash


class PublishedFiles:
    """The Local Controller's firmware files (L03) on a minimal HTTP/1.1 server: ``GET /firmware/<name>``
    answers the file, anything else 404. Started on the first publication, on loopback by default."""

    MAX_REQUEST = 8192  # request line and headers

    def __init__(self, host: str) -> None:
        self.host = host
        self.files: dict[str, tuple[str, bytes]] = {}  # checksum -> (name, content)
        self._server: asyncio.Server | None = None

    async def publish(self, checksum: str, name: str, content: bytes) -> str:
        if self._server is None:
            self._server = await asyncio.start_server(self._serve, self.host, 0)
        port = self._server.sockets[0].getsockname()[1]
        self.files[checksum] = (name, content)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}/firmware/{name}"

    def remove(self, checksum: str) -> None:
        self.files.pop(checksum, None)

    async def close(self) -> None:
        self.files.clear()
        server, self._server = self._server, None
        if server is not None:
            server.close()
            await server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
            method, _, rest = head[: self.MAX_REQUEST].partition(b" ")
            path = rest.partition(b" ")[0].decode("latin-1")
            name = path.removeprefix("/firmware/")
            content = next((c for n, c in self.files.values() if n == name), None)
            if method != b"GET" or content is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            else:
                header = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                    f"Content-Length: {len(content)}\r\nConnection: close\r\n\r\n"
                )
                writer.write(header.encode() + content)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


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


class SqliteFleetStore:
    """One SQLite connection for many stations (a simulated fleet): :meth:`station` gives each its
    :class:`~chargeplane.station.core.storage.Storage`, rows keyed by station id. A connection costs tens of
    kilobytes, which is more than a whole simulated station otherwise. ``":memory:"`` (the default) keeps
    nothing after the process; a file survives it (written with ``synchronous=NORMAL``)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.db = sqlite3.connect(str(path), isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS dm_values (station TEXT NOT NULL, key TEXT NOT NULL,"
            " value TEXT NOT NULL, PRIMARY KEY (station, key))"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS state (station TEXT NOT NULL, key TEXT NOT NULL,"
            " value TEXT NOT NULL, PRIMARY KEY (station, key))"
        )
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS queue (id INTEGER PRIMARY KEY AUTOINCREMENT, station TEXT NOT NULL,"
            " action TEXT NOT NULL, payload BLOB NOT NULL)"
        )
        self.db.execute("CREATE INDEX IF NOT EXISTS queue_station ON queue (station, id)")

    def station(self, station_id: str) -> FleetStationStorage:
        return FleetStationStorage(self.db, station_id)

    def close(self) -> None:
        self.db.close()


class FleetStationStorage:
    """One station's rows in a :class:`SqliteFleetStore`."""

    __slots__ = ("db", "station")

    def __init__(self, db: sqlite3.Connection, station: str) -> None:
        self.db = db
        self.station = station

    def load_values(self) -> dict[str, str]:
        rows = self.db.execute("SELECT key, value FROM dm_values WHERE station = ?", (self.station,))
        return dict(rows.fetchall())

    def save_value(self, key: str, value: str) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO dm_values (station, key, value) VALUES (?, ?, ?)",
            (self.station, key, value),
        )

    def get_state(self, key: str) -> str | None:
        row = self.db.execute(
            "SELECT value FROM state WHERE station = ? AND key = ?", (self.station, key)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.db.execute("DELETE FROM state WHERE station = ? AND key = ?", (self.station, key))
        else:
            self.db.execute(
                "INSERT OR REPLACE INTO state (station, key, value) VALUES (?, ?, ?)",
                (self.station, key, value),
            )

    def queue_load(self) -> list[QueuedRecord]:
        rows = self.db.execute(
            "SELECT id, action, payload FROM queue WHERE station = ? ORDER BY id", (self.station,)
        ).fetchall()
        return [QueuedRecord(int(r[0]), str(r[1]), bytes(r[2])) for r in rows]

    def queue_push(self, action: str, payload: bytes) -> int:
        cursor = self.db.execute(
            "INSERT INTO queue (station, action, payload) VALUES (?, ?, ?)", (self.station, action, payload)
        )
        return int(cursor.lastrowid or 0)

    def queue_replace(self, key: int, payload: bytes) -> None:
        self.db.execute("UPDATE queue SET payload = ? WHERE id = ?", (payload, key))

    def queue_remove(self, key: int) -> None:
        self.db.execute("DELETE FROM queue WHERE id = ?", (key,))


class LatencyHistogram:
    """Call latencies in logarithmic buckets (8 % wide, from 0.1 ms): fixed memory however many calls.
    The exact smallest and largest values are kept too, so ``max`` is the real maximum and no percentile
    lies outside what was seen."""

    RATIO = 1.08
    BASE = 0.0001  # seconds
    SIZE = 200  # up to about 480 s

    def __init__(self) -> None:
        self.counts = [0] * self.SIZE
        self.count = 0
        self.min = math.inf
        self.max = 0.0

    def add(self, seconds: float) -> None:
        index = 0 if seconds <= self.BASE else int(math.log(seconds / self.BASE, self.RATIO)) + 1
        self.counts[min(index, self.SIZE - 1)] += 1
        self.count += 1
        self.min = min(self.min, seconds)
        self.max = max(self.max, seconds)

    def percentile(self, fraction: float) -> float | None:
        """The ``fraction`` quantile (seconds): linear within its bucket, as a histogram quantile is
        (the bucket's upper bound made p90 equal max whenever both fell into the same 8 % bucket)."""
        if not self.count:
            return None
        if fraction >= 1.0:
            return self.max
        rank = max(0.0, fraction) * self.count  # how many values lie at or below the quantile
        below = 0
        for index, count in enumerate(self.counts):
            if count and below + count >= rank:
                low = max(self.min, self.BASE * self.RATIO ** (index - 1) if index else 0.0)
                high = self.max if index == self.SIZE - 1 else min(self.max, self.BASE * self.RATIO**index)
                return low + (high - low) * (rank - below) / count
            below += count
        return self.max


@dataclass
class CallStats:
    """What the stations' CALLs came to; one object may be shared by a whole fleet.

    Every CALL sent is, at any moment, answered, failed or in flight: ``sent == answered + failed +
    abandoned + in_flight`` (``in_flight`` being the stations' own counters)."""

    sent: int = 0
    answered: int = 0
    errors: int = 0  # CALLERROR answers, answers that broke the schema, calls this side could not send
    timeouts: int = 0
    connection_lost: int = 0  # no answer because the connection closed first
    abandoned: int = 0  # still waiting for the answer when the station stopped
    rejected: int = 0  # answered, but refused: status Rejected, or an idToken not Accepted
    transactions_started: int = 0  # answered StartTransaction / TransactionEvent(Started)
    transactions_ended: int = 0  # answered StopTransaction / TransactionEvent(Ended)
    sessions_started: int = 0  # transactions the CSMS accepted: start answered, its token (if any) Accepted
    sessions_completed: int = 0  # of those, the end answered too
    by_action: Counter[str] = field(default_factory=Counter)  # answered calls per action
    refused_by_action: Counter[str] = field(default_factory=Counter)  # "<action> <status>": count
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    open_sessions: set[str] = field(default_factory=set)  # "<station>/<transaction id>" accepted, not ended

    @property
    def failed(self) -> int:
        return self.errors + self.timeouts + self.connection_lost

    def record_answer(self, station_id: str, request: Payload, response: Payload, seconds: float) -> None:
        self.answered += 1
        self.latency.add(seconds)
        action = type(request).__name__.removesuffix("Request")
        self.by_action[action] += 1
        refused = _refusal(response)
        if refused is not None:
            self.rejected += 1
            self.refused_by_action[f"{action} {refused}"] += 1
        event = str(getattr(request, "event_type", ""))
        if action == "StartTransaction" or event == "Started":
            self.transactions_started += 1
            if refused is None:
                self.sessions_started += 1
                self.open_sessions.add(f"{station_id}/{_transaction_id(request, response)}")
        elif action == "StopTransaction" or event == "Ended":
            self.transactions_ended += 1
            key = f"{station_id}/{_transaction_id(request, response)}"
            if key in self.open_sessions:
                self.open_sessions.discard(key)
                self.sessions_completed += 1


def _transaction_id(request: Payload, response: Payload) -> str:
    """2.x: the request's transactionInfo; 1.6: StopTransaction's id, or the one StartTransaction got."""
    info: Any = present(getattr(request, "transaction_info", None))
    if info is not None:
        return str(info.transaction_id)
    own = present(getattr(request, "transaction_id", None))
    return str(own if own is not None else getattr(response, "transaction_id", ""))


def _refusal(response: Payload) -> str | None:
    """The status of a negative answer: Rejected (boot, ...) or that of an IdTokenInfo / IdTagInfo that is
    not Accepted (Invalid, ConcurrentTx, ...); None for any other answer."""
    status = present(getattr(response, "status", None))
    if status is not None and str(status) == "Rejected":
        return "Rejected"
    info: Any = present(getattr(response, "id_token_info", None)) or present(
        getattr(response, "id_tag_info", None)
    )
    return None if info is None or str(info.status) == "Accepted" else str(info.status)


def _shared_handle(request: Payload, connection: OcppConnection) -> Payload:
    runtime: StationRuntime = connection.state
    return runtime.handle_request(request)


# One router per version, shared by every station: the handler finds its station through ``connection.state``.
_ROUTERS: dict[Version, Router[OcppConnection]] = {}


def _build_routers(version: Version) -> dict[Version, Router[OcppConnection]]:
    """The router of ``version`` (2.x: both 2.x routers at once), every CALL the core handles going to it."""
    versions = (version,) if version is Version.V16 else (Version.V201, Version.V21)
    routers = {v: Router[OcppConnection](v, STATION) for v in versions}
    for v, router in routers.items():  # the core's own table is typed per action; the runtime forwards
        router.delegate(handler_table(v), _shared_handle)
    return routers


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
    # Simulated seconds per real second (a demo runs a day in minutes): the core's deadlines wait that much
    # less and the simulated meter counts that much more energy per tick. Give the runtime a clock that runs
    # as fast. 1: real time.
    time_scale: float = 1.0
    backoff: BackOffSettings = field(default_factory=lambda: BackOffSettings(3.0, 2.0, 5))
    call_timeout: float = 30.0
    variables: dict[tuple[str, str, str | None], str] = field(default_factory=dict)  # site configuration
    vendor: str = "Chargeplane"
    model: str = "SimStation"
    ping_interval: float | None = 60.0  # WebSocket pings from the station; None: only the CSMS pings
    # L01 trust seam: the ManufacturerRootCertificates (PEM) a firmware signing certificate must chain to;
    # the factory-installed ones, or a provider asked at each UpdateFirmware (it wins when set)
    manufacturer_roots: tuple[str, ...] = ()
    manufacturer_roots_provider: Callable[[], Sequence[str]] | None = None
    allow_unsigned_firmware: bool = False  # L02: accept a 2.x UpdateFirmware without signature
    firmware_download_while_charging: bool = False  # Part 5 AQ-7: the hardware downloads during transactions
    firmware_install_while_charging: bool = False  # Part 5 C-43: it installs (and reboots) during them too
    publish_host: str = "127.0.0.1"  # L03: where the Local Controller serves the firmware it publishes


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
        stats: CallStats | None = None,
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
        self.stats = stats if stats is not None else CallStats()
        self.in_flight = 0  # CALLs sent and not answered yet
        self._stopping = False
        self._rebooting = False
        self._running = False
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: datetime | None = None
        self._meter: asyncio.TimerHandle | None = None
        self._meter_last = 0.0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._uploads: dict[int, asyncio.Task[None]] = {}  # log uploads in flight, by upload id
        self._downloads: dict[tuple[str, int], asyncio.Task[None]] = {}  # downloads in flight (purpose, id)
        self.files = PublishedFiles(settings.publish_host)  # L03: what this Local Controller publishes
        self._tls_dir: Path | None = None  # where the station certificate is written for the ssl context
        self._root_trial = False  # the last attempt verified the CSMS with a new CSMS root alone (M05.FR.13)
        self.connected = asyncio.Event()
        self.accepted = asyncio.Event()  # connected and accepted by the CSMS (B01)
        # called after every change the runtime drives (e.g. the console's EventReporter); none in a fleet
        self.watchers: list[Callable[[StationRuntime], None]] = []

    @property
    def calls_sent(self) -> int:
        return self.stats.sent

    @property
    def calls_failed(self) -> int:
        return self.stats.failed

    @property
    def busy(self) -> bool:
        """CALLs in flight, or transaction messages still queued (a fleet waits for this before stopping)."""
        return self.in_flight > 0 or bool(self.core.queue)

    def _new_core(self) -> StationCore:
        core = StationCore(self.settings.version, self.storage, self.clock(), self.layout)
        for (component, variable, instance), value in self.settings.variables.items():
            core.model.put(VariableKey(component, variable, None, instance), value, persist=True)
        settings = self.settings
        factory = settings.manufacturer_roots
        core.firmware.trust_roots = settings.manufacturer_roots_provider or (lambda: factory)
        core.firmware.allow_unsigned = settings.allow_unsigned_firmware
        core.firmware.download_while_charging = settings.firmware_download_while_charging
        core.firmware.install_while_charging = settings.firmware_install_while_charging
        if self.settings.ca_bundle is not None:  # the roots it was set up with: its first CSMS roots (M03)
            try:
                core.provision_csms_roots(self.settings.ca_bundle.read_text(), self.clock())
            except (OSError, ValueError) as error:
                log.warning("%s: CA bundle not taken as CSMS roots: %s", self.settings.station_id, error)
        return core

    # ------------------------------------------------------------------ control (simulated hardware)
    def plug(self, evse_id: int = 1, connector_id: int = 1, ev: SimulatedEv | None = None) -> None:
        """An EV connects. A Plug & Charge EV then talks ISO 15118: it asks for a contract certificate when it
        has none or it expires soon (M01/M02), else presents its contract (C07); an EV with ``needs`` states
        them and charges once it agreed a schedule (K15)."""
        car = ev or SimulatedEv()
        if car.needs is not None:
            car.waits_for_schedule = True  # ISO 15118: it charges once it agreed a schedule (K15)
        self.hardware.evses[evse_id].ev = car
        self.hardware.evses[evse_id].ev_connector = connector_id
        now = self.clock()
        self.core.ev_plugged(evse_id, connector_id, now)
        contract = car.contract
        if contract is not None:
            action = contract.certificate_action(now)
            if action is None:
                self.core.contract_presented(
                    contract.emaid, contract.chain, now, evse_id, contract.certificate_pem
                )
            elif contract.provisioning is not None:  # real EXI: the codec's calls go to a worker thread
                self._background(self._ev_certificate_request(evse_id, action, contract))
            else:
                exi = base64.b64encode(contract.certificate_request()).decode()
                self.core.ev_certificate_request(evse_id, action, exi, now)
        if car.needs is not None and car.needs.control_mode is not None:  # ISO 15118-20: service agreed
            self.core.ev_hlc_started(evse_id, car.needs.control_mode, now)
        if car.needs is not None and car.needs_after_s > 0:  # its ScheduleExchangeReq comes later
            asyncio.get_running_loop().call_later(car.needs_after_s, self._late_needs, evse_id, car)
        elif car.needs is not None:
            self.core.ev_charging_needs(evse_id, car.needs, self.clock())
        self._pump()

    def _late_needs(self, evse_id: int, car: SimulatedEv) -> None:
        if self.hardware.evses[evse_id].ev is car and car.needs is not None:  # still there
            self.ev_charging_needs(evse_id, car.needs)

    def ev_charging_needs(self, evse_id: int, needs: EvChargingNeeds) -> None:
        """The EV at ``evse_id`` states (new) charging needs over ISO 15118 (K15 / K17)."""
        ev = self.hardware.evses[evse_id].ev
        if ev is None:
            raise ValueError(f"no EV at EVSE {evse_id}")
        ev.needs = needs
        self.core.ev_charging_needs(evse_id, needs, self.clock())
        self._pump()

    def change_departure(self, evse_id: int, departure_s: int) -> bool:
        """K20 scenario 3: the driver enters a new departure (seconds from now) at the station for the
        ISO 15118-20 EV in dynamic control at ``evse_id``; False: no such EV there."""
        needs = self.core.departure_changed(evse_id, departure_s, self.clock())
        evse = self.hardware.evses.get(evse_id)
        if needs is not None and evse is not None and evse.ev is not None:
            evse.ev.needs = needs  # the station told the EV (ChargeLoopRes)
        self._pump()
        return needs is not None

    def unplug(self, evse_id: int = 1) -> None:
        self.hardware.evses[evse_id].ev = None
        self.core.ev_unplugged(evse_id, self.clock())
        self._pump()

    def present_token(self, token: str, evse_id: int | None = None, token_type: str = "ISO14443") -> None:
        self.core.token_presented(token, self.clock(), token_type=token_type, evse_id=evse_id)
        self._pump()

    def press_start_button(self, evse_id: int = 1) -> None:
        """C02: the simulated start/stop button of ``evse_id``."""
        self.core.start_button(evse_id, self.clock())
        self._pump()

    def enter_pin(self, pin: str, evse_id: int | None = None) -> None:
        """C04: the simulated PIN keypad."""
        self.core.pin_entered(pin, self.clock(), evse_id=evse_id)
        self._pump()

    def pay_by_card(self, evse_id: int | None = None) -> str | None:
        """C03 / C18: the simulated payment terminal approves a card."""
        psp_ref = self.core.card_paid(self.clock(), evse_id=evse_id)
        self._pump()
        return psp_ref

    def enrol_customer(self, identifier: str, token: str | None = None, token_type: str = "ISO14443") -> None:
        """A driver enrols at the station's terminal under a customer identifier (C-14, N09/N10)."""
        self.core.customer_enrolled(identifier, self.clock(), token, token_type)
        self._pump()

    def swap_token(self, token: str, token_type: str = "ISO14443", count: int = 1) -> None:
        """S01: a driver presents a token at the swap station to swap a set of ``count`` batteries."""
        self.core.swap_token(token, self.clock(), token_type=token_type, count=count)
        self._pump()

    def insert_battery(
        self, evse_id: int, serial: str, soc: float, soh: float = 100.0, stock: bool = False
    ) -> bool:
        """S03: a battery (2 kWh, charged at up to 1 kW) goes into slot ``evse_id`` (``stock``: by the operator,
        outside any swap); False: the slot did not take it."""
        taken = self.core.battery_inserted(evse_id, serial, soc, soh, self.clock(), stock=stock)
        if taken:
            self.hardware.evses[evse_id].ev = SimulatedEv(capacity_wh=2_000.0, soc=soc, max_power_w=1_000.0)
        self._pump()
        return taken

    def remove_battery(self, evse_id: int) -> bool:
        """S03 / S04.FR.07: the battery of slot ``evse_id`` is taken out; False: the slot was empty."""
        battery = self.core.battery_removed(evse_id, self.clock())
        if battery is not None:
            self.hardware.evses[evse_id].ev = None
        self._pump()
        return battery is not None

    def cancel_payment(self, evse_id: int | None = None) -> None:
        """C19 / C20: the driver cancels the payment on the simulated terminal."""
        self.core.payment_canceled(self.clock(), evse_id=evse_id)
        self._pump()

    def payment_url(self, evse_id: int = 1, limits: dict[str, float] | None = None) -> str | None:
        """C25: the URL the EVSE's dynamic QR code shows now, with the driver's maximums (C25.FR.03-06)."""
        return self.core.payment_url(evse_id, self.clock(), self.settings.station_id, limits)

    def enter_vat_number(self, vat_number: str, evse_id: int | None = None) -> None:
        """C18.FR.08: the driver enters a VAT number on the simulated terminal."""
        self.core.vat_number_entered(vat_number, self.clock(), evse_id=evse_id)
        self._pump()

    def fault(self, evse_id: int = 1, faulted: bool = True) -> None:
        self.core.fault(evse_id, faulted, self.clock())
        self._pump()

    def external_limit(self, evse_id: int, limit: float | None, unit: str = "W", source: str = "EMS") -> None:
        """An external system's charging limit (K11-K13), None lifting it."""
        self.core.external_limit(evse_id, limit, unit, self.clock(), source)
        self._pump()

    def local_generation(self, evse_id: int, capacity: float | None, unit: str = "W") -> None:
        """K27: an EMS reports locally generated capacity (None: none any more)."""
        self.core.local_generation(evse_id, capacity, unit, self.clock())
        self._pump()

    def press_priority_button(self, evse_id: int = 1) -> bool:
        """K22: the simulated priority charging button of ``evse_id`` (toggles)."""
        on = self.core.priority_button(evse_id, self.clock())
        self._pump()
        return on

    def set_temperature(self, celsius: float) -> None:
        """The station's temperature sensor reads ``celsius`` (ChargingStation.Temperature, monitored)."""
        self.hardware.temperature_c = celsius
        self.core.set_temperature(celsius, self.clock())
        self._pump()

    def set_grid(self, voltage_v: float | None = None, frequency_hz: float | None = None) -> None:
        """The simulated grid at the connection point moves (None: unchanged); 2.1 DER controls act on it."""
        if voltage_v is not None:
            self.hardware.grid_voltage_v = voltage_v
            for evse in self.hardware.evses.values():  # every EVSE's meter and an EV's inverter see it (R02)
                evse.voltage_v = voltage_v
        if frequency_hz is not None:
            self.hardware.grid_frequency_hz = frequency_hz
            for evse in self.hardware.evses.values():  # every EVSE's meter reads it (V2X frequency, Q08)
                evse.frequency_hz = frequency_hz
        self.core.set_grid(voltage_v, frequency_hz, self.clock())
        self._pump()  # a trip or its end is a NotifyDERAlarm to send now, not at the next meter tick

    def external_setpoint(
        self, evse_id: int, setpoint_w: float | None, reactive: float | None = None, source: str = "EMS"
    ) -> bool:
        """An EMS's setpoint in W (Q05/Q06; None: none any more). False: refused (Q06.FR.08)."""
        taken = self.core.external_setpoint(
            setpoint_w, self.clock(), evse_id=evse_id, reactive=reactive, source=source
        )
        self._pump()
        return taken

    def external_limits(
        self, evse_id: int, limit: float | None, discharge_limit: float | None, source: str = "EMS"
    ) -> bool:
        """An EMS's charging limit and dischargeLimit in W (Q05/Q06; both None: lifted). False: refused."""
        taken = self.core.external_limits(evse_id, limit, discharge_limit, self.clock(), source)
        self._pump()
        return taken

    def external_schedule(
        self, evse_id: int, mode: str, periods: list[ExternalPeriod], source: str = "EMS"
    ) -> bool:
        """An EMS's schedule of ExternalLimits / ExternalSetpoint periods from now (Q06.FR.01/03)."""
        taken = self.core.external_schedule(evse_id, mode, periods, self.clock(), source)
        self._pump()
        return taken

    def upstream_load(self, load_w: float) -> None:
        """The upstream (building) meter reads ``load_w`` (V2X local load balancing, Q09)."""
        self.core.upstream_load(load_w, self.clock())
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
            await self.files.close()  # a reboot forgets what the Local Controller published
            self.core = self._new_core()
            # an EV still plugged in across the reset: the new core senses it (connector Occupied, B11/B12)
            for evse_id, evse in self.hardware.evses.items():
                if evse.ev is not None:
                    self.core.ev_plugged(evse_id, evse.ev_connector, self.clock())
            if self.hardware.temperature_c is not None:  # the sensor still reads what it read
                self.core.set_temperature(self.hardware.temperature_c, self.clock())
            hardware = self.hardware  # the grid is where it was
            self.core.set_grid(hardware.grid_voltage_v, hardware.grid_frequency_hz, self.clock())

    async def stop(self) -> None:
        self.quiesce()
        await self.files.close()
        if self.client is not None:
            await self.client.stop()

    def quiesce(self) -> None:
        """Stop the timers (heartbeats, meter values, retries) ahead of :meth:`stop`: from now on the
        station sends nothing of its own accord; the connection stays up for the answers still due."""
        self._stopping = True
        self._running = False
        for handle in (self._timer, self._meter):
            if handle is not None:
                handle.cancel()
        self._timer = self._meter = None
        self._timer_at = None

    async def _run_once(self) -> None:
        settings = self.settings
        client_settings = ClientSettings(
            url=settings.url,
            station_id=settings.station_id,
            versions=(settings.version,),
            password=settings.password,
            ca_bundle=settings.ca_bundle,
            client_certificate=settings.client_certificate,
            ping_interval=settings.ping_interval,
            queue_offline=False,  # the core queues (durably) what must survive a connection loss
            backoff=settings.backoff,
            call_timeout=settings.call_timeout,
        )
        self.client = OcppClient(
            client_settings,
            self._router_for,
            on_state=self._on_state,
            on_connected=self._on_connected,
            choose_url=lambda: self.core.next_url(settings.url),
            choose_credentials=self._credentials,
        )
        self._running = not self._stopping
        self._arm()
        try:
            await self.client.run()
        finally:
            stopping = self._stopping
            self.quiesce()
            self._stopping = stopping
            for task in list(self._tasks):
                task.cancel()
            self.connected.clear()

    def _credentials(self) -> Credentials:
        """What the next connection attempt presents and trusts: the BasicAuthPassword the CSMS set (A01), the
        installed CSMS roots (M05) and the newest station certificate (A02); the settings' otherwise."""
        return Credentials(
            self.core.basic_auth_password(self.settings.password),
            self._trust_bundle(),
            self._client_certificate(),
        )

    def _tls_directory(self) -> Path:
        """Where the TLS files are written: beside the database (a temporary directory for one in memory)."""
        if self._tls_dir is None:
            database = self.settings.database
            if str(database) == ":memory:":
                self._tls_dir = Path(tempfile.mkdtemp(prefix="chargeplane-station-"))
            else:
                self._tls_dir = Path(database).parent / f"{Path(database).name}.tls"
                self._tls_dir.mkdir(mode=0o700, exist_ok=True)
        return self._tls_dir

    def _trust_bundle(self) -> Path | None:
        """The installed CSMS roots (M05) as a CA bundle: a new one on trial alone, then with the one it
        replaced (M05.FR.13/14). None: no root installed (the settings' bundle, else the system's)."""
        roots, self._root_trial = self.core.csms_trust()
        if not roots:
            return None
        bundle = self._tls_directory() / "csms_roots.pem"
        bundle.write_bytes(b"".join(root.public_bytes(serialization.Encoding.PEM) for root in roots))
        return bundle

    def _client_certificate(self) -> CertificateFiles | None:
        """The station certificate the CSMS last signed (A02), as the files an ssl context loads; None: the
        factory one of the settings. The key is readable by the owner only."""
        own = self.core.station_certificate(self.clock())
        if own is None:
            return None
        directory = self._tls_directory()
        certificate, key = directory / "station.crt", directory / "station.key"
        key.touch(mode=0o600)
        key.write_text(own.key_pem)
        certificate.write_text(own.chain_pem)
        return CertificateFiles(certificate, key)

    def _router_for(self, version: Version) -> Router[OcppConnection]:
        if version not in _ROUTERS:
            _ROUTERS.update(_build_routers(version))
        return _ROUTERS[version]

    def _on_connected(self, connection: OcppConnection) -> None:
        connection.state = self  # for the shared router

    def handle_request(self, request: Payload) -> Payload:
        """Answer a CSMS CALL (through the core)."""
        response = self.core.handle(request, self.clock())
        asyncio.get_running_loop().call_soon(self._pump)  # events the request caused go after the answer
        return response

    def _on_state(self, state: ConnectionState) -> None:
        now = self.clock()
        client = self.client
        if state is ConnectionState.CONNECTED:
            if client is not None and client.uri.startswith("wss:"):
                self.core.tls_connected(self._root_trial)
            self.core.connection_opened(now)
            self.connected.set()
        elif state in (ConnectionState.DISCONNECTED, ConnectionState.STOPPED):
            refused = client.last_error if client is not None else None
            event = csms_refusal_event(refused) if refused is not None else None
            if event is not None:  # A00: this attempt ended in the TLS handshake
                self.core.tls_refused(event, self._root_trial, now, str(refused))
            self.core.connection_closed(now)
            self.connected.clear()
            self.accepted.clear()
            if self.client is not None:  # the wait before the next attempt follows the device model
                self.client.backoff.settings = self._backoff_settings()
        if state is ConnectionState.CONNECTED:
            asyncio.get_running_loop().call_soon(self._pump)
        self._notify()

    def _backoff_settings(self) -> BackOffSettings:
        """Part 4 §5.3: OCPPCommCtrlr.RetryBackOff* once the CSMS (or the site configuration) set them; the
        runtime's own back-off otherwise."""
        base = self.settings.backoff
        model = self.core.model
        comm = "OCPPCommCtrlr"

        def pick(variable: str, fallback: float) -> float:
            return float(model.number(comm, variable)) if model.is_set(comm, variable) else fallback

        return BackOffSettings(
            pick("RetryBackOffWaitMinimum", base.wait_minimum),
            pick("RetryBackOffRandomRange", base.random_range),
            int(pick("RetryBackOffRepeatTimes", base.repeat_times)),
        )

    def _notify(self) -> None:
        for watcher in self.watchers:
            watcher(self)

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
        self._arm()
        self._notify()

    async def _send(self, call: OutgoingCall) -> None:
        client = self.client
        if isinstance(call.request, v21.messages.NotifyPeriodicEventStream):  # a 2.1 SEND: never answered
            connection = client.connection if client is not None else None
            if connection is not None and connection.is_open:
                with contextlib.suppress(ConnectionLost):
                    await connection.send_message(call.request)
            return
        stats = self.stats
        failure: Failure | None = None
        response: Payload | None = None
        if client is None:
            failure = Failure.OFFLINE
        else:
            loop = asyncio.get_running_loop()
            stats.sent += 1
            self.in_flight += 1
            started = loop.time()
            try:
                response = await client.call(call.request)
            except CallFailed as exc:
                log.warning("%s: %s", self.settings.station_id, exc)
                stats.errors += 1
                failure = Failure.ERROR
            except CallTimeout as exc:
                log.warning("%s: %s", self.settings.station_id, exc)
                stats.timeouts += 1
                failure = Failure.TIMEOUT
            except ConnectionLost:
                stats.connection_lost += 1
                failure = Failure.OFFLINE
            except LocalProtocolError as exc:  # e.g. too many CALLs queued: the core must still hear of it
                log.warning("%s: %s", self.settings.station_id, exc)
                stats.errors += 1
                failure = Failure.ERROR
            except asyncio.CancelledError:
                stats.abandoned += 1
                raise
            finally:
                self.in_flight -= 1
            if response is not None:
                stats.record_answer(self.settings.station_id, call.request, response, loop.time() - started)
        if response is not None:
            self.core.call_result(call.ref, response, self.clock())
        else:
            self.core.call_failed(call.ref, failure or Failure.ERROR, self.clock())
        self._pump()

    def _apply(self, action: object) -> None:
        if (
            isinstance(
                action, SetContactor | SetPowerLimit | SetPowerSetpoint | SetInverterLimits | EvDerControls
            )
            and self._meter is not None
        ):
            self._settle_meters()
        if isinstance(action, SetContactor):
            self.hardware.evses[action.evse_id].set_closed(action.closed)
        elif isinstance(action, SetLock):
            self.hardware.evses[action.evse_id].set_locked(action.connector_id, action.locked)
        elif isinstance(action, ShowMessage):
            self.hardware.display.show(action.text)
        elif isinstance(action, SetPowerLimit):
            self.hardware.evses[action.evse_id].set_limit(action.limit_w)
        elif isinstance(action, SetPowerSetpoint):
            self.hardware.evses[action.evse_id].set_setpoint(
                action.setpoint_w, action.sleep, action.phases_w, action.reactive_var
            )
        elif isinstance(action, SetInverterLimits):
            self.hardware.evses[action.evse_id].set_inverter(action.max_charge_w, action.max_discharge_w)
        elif isinstance(action, EvDerControls):
            self.hardware.evses[action.evse_id].der_controls(action.controls)
        elif isinstance(action, EvCertificateAnswer):
            self._ev_certificate_answer(action)
        elif isinstance(action, StartPowerDelivery):
            car = self.hardware.evses[action.evse_id].ev
            if car is not None:
                car.waits_for_schedule = False
        elif isinstance(action, OfferPrices):
            ev = self.hardware.evses[action.evse_id].ev
            if ev is not None:
                ev.prices[action.schedule_id] = action.prices
        elif isinstance(action, UploadLog):
            task = asyncio.create_task(self._upload(action))
            self._uploads[action.upload_id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(action, CancelUpload):
            upload = self._uploads.pop(action.upload_id, None)
            if upload is not None:
                upload.cancel()
        elif isinstance(action, DownloadFirmware):
            task = asyncio.create_task(self._download(action))
            self._downloads[action.purpose, action.download_id] = task
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(action, CancelDownload):
            download = self._downloads.pop((action.purpose, action.download_id), None)
            if download is not None:
                download.cancel()
        elif isinstance(action, PublishFile):
            task = asyncio.create_task(self._publish(action))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif isinstance(action, UnpublishFile):
            self.files.remove(action.checksum)
        elif isinstance(action, Reconnect):
            if self.client is not None:
                task = asyncio.create_task(self._reconnect(self.client))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        elif isinstance(action, Reboot):
            self._rebooting = True
            if self.client is not None:
                task = asyncio.create_task(self._reboot(self.client))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def _ev_certificate_answer(self, answer: EvCertificateAnswer) -> None:
        """M01/M02: the answer goes to the EV still plugged in; with its new contract certificate it goes on
        to authorize (C07), after a failure it does not."""
        ev = self.hardware.evses[answer.evse_id].ev
        contract = ev.contract if ev is not None else None
        if contract is None:
            return  # the EV left meanwhile
        if contract.provisioning is not None and answer.accepted:  # it decodes and verifies the EXI
            self._background(self._ev_installs(answer, contract))
        elif contract.certificate_answer(answer.action, answer.accepted, answer.exi_response, self.clock()):
            self._present(contract, answer.evse_id)

    def _present(self, contract: SimulatedContract, evse_id: int) -> None:
        """With its new contract certificate the EV authorizes (C07); the Authorize goes out now."""
        now = self.clock()
        self.core.contract_presented(contract.emaid, contract.chain, now, evse_id, contract.certificate_pem)
        self._pump()

    async def _ev_certificate_request(self, evse_id: int, action: str, contract: SimulatedContract) -> None:
        """M01/M02 of an EV with its OEM provisioning certificate: its signed EXI request, made off the loop."""
        exi = await asyncio.to_thread(contract.certificate_request)
        ev = self.hardware.evses[evse_id].ev
        if ev is None or ev.contract is not contract:
            return  # it left meanwhile
        self.core.ev_certificate_request(evse_id, action, base64.b64encode(exi).decode(), self.clock())
        self._pump()

    async def _ev_installs(self, answer: EvCertificateAnswer, contract: SimulatedContract) -> None:
        now = self.clock()
        held = await asyncio.to_thread(
            contract.certificate_answer, answer.action, answer.accepted, answer.exi_response, now
        )
        ev = self.hardware.evses[answer.evse_id].ev
        if held and ev is not None and ev.contract is contract:  # still plugged in
            self._present(contract, answer.evse_id)

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _upload(self, action: UploadLog) -> None:
        """One attempt of a log upload (N01): HTTP(S) POST, multipart form data naming the file (N01.FR.19),
        trusting the CSMS's CA bundle when the station has one, else the system's (N01.FR.15/16)."""
        verify: ssl.SSLContext | bool = True
        if self.settings.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(self.settings.ca_bundle))
        files = {"uploadfile": (action.filename, action.content, "application/octet-stream")}
        ok = False
        try:
            async with httpx.AsyncClient(verify=verify, timeout=UPLOAD_TIMEOUT_S) as client:
                response = await client.post(action.location, files=files)
            ok = response.is_success
            if not ok:
                log.warning("%s: log upload refused: HTTP %s", self.settings.station_id, response.status_code)
        except httpx.HTTPError as error:
            log.warning("%s: log upload failed: %s", self.settings.station_id, error)
        finally:
            self._uploads.pop(action.upload_id, None)
        self.core.upload_finished(action.upload_id, ok, self.clock())
        self._pump()

    async def _download(self, action: DownloadFirmware) -> None:
        """One attempt of a firmware download (L01): HTTP(S) GET, at most :data:`MAX_FIRMWARE_BYTES`,
        trusting the CSMS's CA bundle when the station has one, else the system's."""
        verify: ssl.SSLContext | bool = True
        if self.settings.ca_bundle is not None:
            verify = ssl.create_default_context(cafile=str(self.settings.ca_bundle))
        image: bytes | None = None
        try:
            async with (
                httpx.AsyncClient(verify=verify, timeout=DOWNLOAD_TIMEOUT_S) as client,
                client.stream("GET", action.location) as response,
            ):
                if response.is_success:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_FIRMWARE_BYTES:
                            raise httpx.DecodingError("firmware image too large")
                        chunks.append(chunk)
                    image = b"".join(chunks)
                else:
                    log.warning(
                        "%s: firmware download: HTTP %s", self.settings.station_id, response.status_code
                    )
        except httpx.HTTPError as error:
            log.warning("%s: firmware download failed: %s", self.settings.station_id, error)
        finally:
            self._downloads.pop((action.purpose, action.download_id), None)
        self.core.download_finished(action.download_id, image, self.clock(), action.purpose)
        self._pump()

    async def _publish(self, action: PublishFile) -> None:
        """L03: serve the file on the loopback HTTP server (started on the first publication)."""
        urls: list[str] | None = None
        try:
            urls = [await self.files.publish(action.checksum, action.name, action.content)]
        except OSError as error:
            log.warning("%s: cannot publish firmware: %s", self.settings.station_id, error)
        self.core.publish_finished(action.checksum, urls, self.clock())
        self._pump()

    async def _reconnect(self, client: OcppClient) -> None:
        """A01 steps 3-4 / A02.FR.08: once what was sent before is answered (within one CALL timeout), drop the
        connection and connect again at once with the new credentials."""
        await self._settle(client)
        if self.client is client:
            await client.reconnect()

    async def _settle(self, client: OcppClient) -> None:
        tick = 0.05
        await asyncio.sleep(0)  # the answer that led here goes out first
        for _ in range(math.ceil(self.settings.call_timeout / tick)):  # polled: busy has no event of its own
            if not self.busy or self.client is not client:
                break
            await asyncio.sleep(tick)

    async def _reboot(self, client: OcppClient) -> None:
        """Close the connection for the reboot once what the reset itself sent (the Ended events of an
        Immediate reset, B12.FR.02) is delivered, within one CALL timeout: they come before the boot."""
        await self._settle(client)
        await client.stop()

    # ------------------------------------------------------------------ timers (event-loop handles, no tasks)
    def _arm(self) -> None:
        """Arm the core's timer for its next deadline, and the meter while it has something to measure."""
        if not self._running:
            return
        loop = asyncio.get_running_loop()
        deadline = self.core.next_deadline()
        if deadline != self._timer_at or (deadline is not None and self._timer is None):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._timer_at = deadline
            if deadline is not None:
                delay = max(0.0, (deadline - self.clock()).total_seconds()) / self.settings.time_scale
                self._timer = loop.call_later(delay, self._on_timer)
        if self._meter is None and self._metering():
            self._meter_last = loop.time()
            self._meter = loop.call_later(self.settings.meter_tick_s, self._on_meter)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        now = self.clock()
        deadline = self.core.next_deadline()
        if deadline is not None and deadline <= now:
            if self._meter is not None:
                # what the deadline samples (clock-aligned, periodic, ended) is the register now, not the one
                # of the last tick (a tick is meter_tick_s * time_scale simulated seconds: a minute at 720x)
                self._read_meters()
            self.core.handle_timer(now)
        self._pump()

    def _metering(self) -> bool:
        """An EV is plugged in, the contactor is closed, or the last reading had power: read the meter.
        (An idle simulated meter does not change, so an idle station costs no timer.)"""
        return any(
            evse.ev is not None or evse.closed or evse.power_w > 0 for evse in self.hardware.evses.values()
        )

    def _on_meter(self) -> None:
        self._meter = None
        self._read_meters()
        if (
            self._running and self._metering()
        ):  # the next tick counts from this reading (not from _arm's time)
            self._meter = asyncio.get_running_loop().call_later(self.settings.meter_tick_s, self._on_meter)
        self._pump()

    def _elapsed(self) -> float:
        """Simulated seconds since the meters last counted; from now on they count from now."""
        now = asyncio.get_running_loop().time()
        elapsed = (now - self._meter_last) * self.settings.time_scale
        self._meter_last = now
        return elapsed

    def _read_meters(self) -> None:
        elapsed = self._elapsed()
        for evse_id, evse in self.hardware.evses.items():
            self.core.update_meter(evse_id, evse.read(elapsed), self.clock())

    def _settle_meters(self) -> None:
        """Count every EVSE's energy up to now at the power in force, before an action changes it (else the
        next tick would count the whole stretch since the last one at the new power)."""
        elapsed = self._elapsed()
        for evse in self.hardware.evses.values():
            evse.advance(elapsed)
