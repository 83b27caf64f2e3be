"""Station registration, boot decisions (B01-B03), heartbeats (G02) and presence."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from chargeplane.csms.blocks.provisioning.repository import BootData, StationRecord, StationRepository
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, UnknownStation
from chargeplane.csms.session import ACCEPTED, PENDING, REJECTED, StationSession
from chargeplane.csms.settings import UnknownStationPolicy
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.security import (
    SecurityProfile,
    StationSecurity,
    V16KeyEncoding,
    check_password_rules,
    generate_password,
    hash_generated_password,
    hash_password,
)

log = logging.getLogger(__name__)

BootListener = Callable[[str, datetime], Awaitable[None]]  # station id, when the CSMS got the boot
# A connecting station's record is read once (for its password check) and handed on to the opening of its
# session and to its first boot, which come within milliseconds, instead of being read three times. A record
# older than this is read again (the longest a change made on another node may go unseen by a handshake).
HANDOFF_SECONDS = 5.0


class StationExists(Conflict):
    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id} exists already")


@dataclass(frozen=True, slots=True)
class BootDecision:
    status: str
    interval: int


class ProvisioningService:
    def __init__(
        self, repository: StationRepository, settings: ProvisioningSettings, events: EventBus, clock: Clock
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.events = events
        self.clock = clock
        self._last_seen: dict[str, datetime] = {}
        self._boot_listeners: list[BootListener] = []
        self._accepted_listeners: list[Callable[[str], None]] = []
        # A01: where a password rotation keeps the new password's hash while it is pending (a later block)
        self.pending_password: Callable[[str], Awaitable[str | None]] | None = None
        self._handed: dict[str, tuple[float, StationRecord]] = {}  # by station key: (monotonic, record)

    def _hand_on(self, record: StationRecord) -> None:
        if len(self._handed) > 50_000:  # handshakes that never opened a session: forget the stale ones
            now = time.monotonic()
            self._handed = {k: v for k, v in self._handed.items() if now - v[0] < HANDOFF_SECONDS}
        self._handed[record.station_id.casefold()] = (time.monotonic(), record)

    def _handed_on(self, station_id: str) -> StationRecord | None:
        """The record read moments ago for this station's connection (taken: used once), or ``None``."""
        handed = self._handed.pop(station_id.casefold(), None)
        if handed is None or time.monotonic() - handed[0] > HANDOFF_SECONDS:
            return None
        return handed[1]

    def _forget(self, station_id: str) -> None:
        """A write through this service: a record handed on before it is stale."""
        self._handed.pop(station_id.casefold(), None)

    # -- reads ------------------------------------------------------------------------------------------

    async def get_station(self, station_id: str) -> StationRecord | None:
        """The station (identities compare as the station table does), or ``None``."""
        return await self.repository.get(station_id)

    async def list_stations(self, offset: int, limit: int) -> tuple[list[StationRecord], int]:
        """A page of stations and how many there are."""
        return await self.repository.list(offset, limit), await self.repository.count()

    async def _existing(self, station_id: str) -> StationRecord:
        record = await self.repository.get(station_id)
        if record is None:
            raise UnknownStation(station_id)
        return record

    # -- the transport's StationDirectory ---------------------------------------------------------------

    async def security_for(self, station_id: str) -> StationSecurity | None:
        record = await self.repository.get(station_id)
        if record is None:
            return None
        self._hand_on(record)
        pending = self.pending_password
        return StationSecurity(
            SecurityProfile(record.security_profile),
            record.password_hash,
            V16KeyEncoding(record.v16_key_encoding),
            pending_lookup=functools.partial(pending, record.station_id) if pending is not None else None,
        )

    # -- operator actions -------------------------------------------------------------------------------

    async def create_station(
        self,
        station_id: str,
        *,
        registration_status: str | None = None,
        security_profile: int = 1,
        password: str | None = None,
        v16_key_encoding: str = "hex",
        heartbeat_interval: int | None = None,
        description: str | None = None,
    ) -> tuple[StationRecord, str | None]:
        """Register a station; returns it and, for profiles 1-2 without a given password, the generated one
        (shown once: only its hash is stored)."""
        generated = None
        if security_profile in (1, 2) and password is None:
            password = generated = generate_password(Version.V201)
        if password is not None:
            check_password_rules(
                password, Version.V21
            )  # the widest rules; stricter 1.6/2.0.1 keys fit in them
        created = await self.repository.create(
            station_id,
            registration_status=registration_status or self.settings.default_registration_status,
            security_profile=security_profile,
            password_hash=(
                hash_generated_password(generated)
                if generated is not None
                else hash_password(password)
                if password is not None
                else None
            ),
            v16_key_encoding=V16KeyEncoding(v16_key_encoding).value,
            heartbeat_interval=heartbeat_interval,
            description=description,
            now=self.clock.now(),
        )
        if not created:
            raise StationExists(station_id)
        return await self._existing(station_id), generated

    async def update_station(
        self, station_id: str, password: str | None, values: Mapping[str, object]
    ) -> StationRecord:
        """Set the password (when given) and the stored fields in ``values``; the station as it is now."""
        self._forget(station_id)
        if password is not None:
            await self.set_password(station_id, password)
        if values and not await self.repository.update(station_id, self.clock.now(), **values):
            raise UnknownStation(station_id)
        return await self._existing(station_id)

    async def delete_station(self, station_id: str) -> None:
        self._forget(station_id)
        if not await self.repository.delete(station_id):
            raise UnknownStation(station_id)

    async def set_password(self, station_id: str, password: str) -> None:
        check_password_rules(password, Version.V21)
        self._forget(station_id)
        if not await self.repository.update(
            station_id, self.clock.now(), password_hash=hash_password(password)
        ):
            raise UnknownStation(station_id)

    async def set_password_hash(self, station_id: str, password_hash: str) -> None:
        """A password already checked and hashed (A01: a rotated one the station has connected with)."""
        self._forget(station_id)
        if not await self.repository.update(station_id, self.clock.now(), password_hash=password_hash):
            raise UnknownStation(station_id)

    # -- OCPP -------------------------------------------------------------------------------------------

    async def open_session(self, connection: OcppConnection) -> StationSession:
        """Start a connection's session from the stored registration status and mark the station online."""
        record = self._handed_on(connection.station_id) or await self.repository.get(connection.station_id)
        if record is not None:
            self._hand_on(record)  # for the first boot
        status = (
            record.registration_status if record is not None and record.last_boot_at is not None else None
        )
        session = StationSession(connection.station_id, status)
        connection.state = session
        if record is not None:
            await self.repository.set_presence(
                connection.station_id,
                self.clock.now(),
                connected=True,
                version=connection.version.value,
                security_profile=int(connection.security_profile) if connection.security_profile else None,
                remote_address=connection.remote_address,
            )
        self.events.publish(
            StationEvent("connected", connection.station_id, {"version": connection.version.value})
        )
        return session

    async def close_session(self, connection: OcppConnection, still_current: bool) -> None:
        if still_current:  # a replaced connection must not mark its successor offline
            await self.repository.set_presence(connection.station_id, self.clock.now(), connected=False)
            self._last_seen.pop(connection.station_id, None)
        self.events.publish(StationEvent("disconnected", connection.station_id, {}))

    def add_boot_listener(self, listener: BootListener) -> None:
        """Let a later block act on a station's reboot (the transactions block closes what it left open)."""
        self._boot_listeners.append(listener)

    def add_accepted_listener(self, listener: Callable[[str], None]) -> None:
        """Let a later block act after every boot answered Accepted (the desired configuration applies its
        values). Called before the answer is sent and without awaiting: a listener only schedules its work."""
        self._accepted_listeners.append(listener)

    async def _rebooted(self, station_id: str, now: datetime) -> None:
        for listener in self._boot_listeners:
            try:
                await listener(station_id, now)
            except Exception:  # the station's answer matters more
                log.exception("%s: a boot listener failed", station_id)

    async def boot(self, connection: OcppConnection, boot: BootData) -> BootDecision:
        """B01-B03: persist the boot data, decide Accepted/Pending/Rejected, and open the gate accordingly."""
        station_id = connection.station_id
        now = self.clock.now()
        session = connection.state
        first = not isinstance(session, StationSession) or not session.booted
        record = (self._handed_on(station_id) if first else None) or await self.repository.get(station_id)
        if record is None:
            record = await self._auto_register(station_id)
        if record is None:
            status = REJECTED
        else:
            await self.repository.record_boot(station_id, boot, now)
            status = record.registration_status
        # A reboot: the first boot of this connection (a boot repeated on a live connection was asked for by
        # TriggerMessage, which 2.x also says as its reason) of a station the CSMS knows.
        if record is not None and first and boot.reason != "Triggered":
            await self._rebooted(station_id, now)
        if isinstance(session, StationSession):
            session.registration_status = status
            session.booted = True
        interval = (
            (
                record.heartbeat_interval
                if record and record.heartbeat_interval
                else self.settings.heartbeat_interval
            )
            if status == ACCEPTED
            else self.settings.boot_retry_interval
        )
        # An accepted boot is the everyday case, and its data is in the station record and the bus's boot
        # event: a line each was 10,000 lines and a few percent of the event loop's time for a fleet coming
        # back (#19). Pending and Rejected boots, which want attention, keep theirs.
        log.log(
            logging.DEBUG if status == ACCEPTED else logging.INFO,
            "%s booted (%s, %s %s): %s",
            station_id,
            boot.reason,
            boot.vendor,
            boot.model,
            status,
        )
        self.events.publish(
            StationEvent(
                "boot",
                station_id,
                {"status": status, "reason": boot.reason, "vendor": boot.vendor, "model": boot.model},
            )
        )
        if status == ACCEPTED:
            for accepted in self._accepted_listeners:
                accepted(station_id)
        return BootDecision(status, interval)

    async def _auto_register(self, station_id: str) -> StationRecord | None:
        policy = self.settings.unknown_stations
        if policy is UnknownStationPolicy.REFUSE:
            return None
        status = {UnknownStationPolicy.ACCEPT: ACCEPTED, UnknownStationPolicy.PENDING: PENDING}.get(
            policy, REJECTED
        )
        await self.repository.create(
            station_id,
            registration_status=status,
            security_profile=1,
            password_hash=None,
            v16_key_encoding="hex",
            heartbeat_interval=None,
            description="auto-registered",
            now=self.clock.now(),
        )
        return await self.repository.get(station_id)

    def seen(self, station_id: str) -> None:
        """Any message is proof of life (G02.FR.03); written in batches by :meth:`flush_last_seen`."""
        self._last_seen[station_id] = self.clock.now()

    async def flush_last_seen(self) -> None:
        pending, self._last_seen = self._last_seen, {}
        await self.repository.touch(pending)

    async def tick(self, now: datetime) -> None:
        """One pass of the presence job (every ``presence_flush_interval`` seconds): write last-seen times."""
        await self.flush_last_seen()
