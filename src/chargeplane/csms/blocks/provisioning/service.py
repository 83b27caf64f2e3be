"""Station registration, boot decisions (B01-B03), heartbeats (G02) and presence."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from chargeplane.csms.blocks.provisioning.repository import BootData, StationRecord, StationRepository
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.session import ACCEPTED, PENDING, REJECTED, StationSession
from chargeplane.csms.settings import CsmsSettings, UnknownStationPolicy
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection
from chargeplane.transport.security import (
    SecurityProfile,
    StationSecurity,
    V16KeyEncoding,
    check_password_rules,
    generate_password,
    hash_password,
)

log = logging.getLogger(__name__)


class StationExists(Exception):
    pass


class UnknownStation(Exception):
    pass


@dataclass(frozen=True, slots=True)
class BootDecision:
    status: str
    interval: int


def utc_now() -> datetime:
    return datetime.now(UTC)


class ProvisioningService:
    def __init__(self, repository: StationRepository, settings: CsmsSettings, events: EventBus) -> None:
        self.repository = repository
        self.settings = settings
        self.events = events
        self._last_seen: dict[str, datetime] = {}

    # -- the transport's StationDirectory ---------------------------------------------------------------

    async def security_for(self, station_id: str) -> StationSecurity | None:
        record = await self.repository.get(station_id)
        if record is None:
            return None
        return StationSecurity(
            SecurityProfile(record.security_profile),
            record.password_hash,
            V16KeyEncoding(record.v16_key_encoding),
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
            password_hash=hash_password(password) if password is not None else None,
            v16_key_encoding=V16KeyEncoding(v16_key_encoding).value,
            heartbeat_interval=heartbeat_interval,
            description=description,
            now=utc_now(),
        )
        if not created:
            raise StationExists(station_id)
        record = await self.repository.get(station_id)
        assert record is not None
        return record, generated

    async def set_password(self, station_id: str, password: str) -> None:
        check_password_rules(password, Version.V21)
        if not await self.repository.update(station_id, utc_now(), password_hash=hash_password(password)):
            raise UnknownStation(station_id)

    # -- OCPP -------------------------------------------------------------------------------------------

    async def open_session(self, connection: OcppConnection) -> StationSession:
        """Start a connection's session from the stored registration status and mark the station online."""
        record = await self.repository.get(connection.station_id)
        status = (
            record.registration_status if record is not None and record.last_boot_at is not None else None
        )
        session = StationSession(connection.station_id, status)
        connection.state = session
        if record is not None:
            await self.repository.set_presence(
                connection.station_id,
                utc_now(),
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
            await self.repository.set_presence(connection.station_id, utc_now(), connected=False)
            self._last_seen.pop(connection.station_id, None)
        self.events.publish(StationEvent("disconnected", connection.station_id, {}))

    async def boot(self, connection: OcppConnection, boot: BootData) -> BootDecision:
        """B01-B03: persist the boot data, decide Accepted/Pending/Rejected, and open the gate accordingly."""
        station_id = connection.station_id
        now = utc_now()
        record = await self.repository.get(station_id)
        if record is None:
            record = await self._auto_register(station_id)
        if record is None:
            status = REJECTED
        else:
            await self.repository.record_boot(station_id, boot, now)
            status = record.registration_status
        session = connection.state
        if isinstance(session, StationSession):
            session.registration_status = status
        interval = (
            (
                record.heartbeat_interval
                if record and record.heartbeat_interval
                else self.settings.heartbeat_interval
            )
            if status == ACCEPTED
            else self.settings.boot_retry_interval
        )
        log.info("%s booted (%s, %s %s): %s", station_id, boot.reason, boot.vendor, boot.model, status)
        self.events.publish(
            StationEvent(
                "boot",
                station_id,
                {"status": status, "reason": boot.reason, "vendor": boot.vendor, "model": boot.model},
            )
        )
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
            now=utc_now(),
        )
        return await self.repository.get(station_id)

    def seen(self, station_id: str) -> None:
        """Any message is proof of life (G02.FR.03); written in batches by :meth:`flush_last_seen`."""
        self._last_seen[station_id] = utc_now()

    async def flush_last_seen(self) -> None:
        pending, self._last_seen = self._last_seen, {}
        await self.repository.touch(pending)

    async def run_presence_flusher(self) -> None:
        """Background job: write last-seen times every ``presence_flush_interval`` seconds."""
        while True:
            await asyncio.sleep(self.settings.presence_flush_interval)
            try:
                await self.flush_last_seen()
            except Exception:
                log.exception("could not write last-seen times")
