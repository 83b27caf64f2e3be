"""All SQL of the smart charging block. Every message a station sends (a profile report part, a limit, EV
needs) is one unit of work of the group committer, committed before the handler answers; the API's writes
take the same path so that one station's rows are written in one order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.smart_charging.tables import (
    charging_limit_events,
    charging_profile_reports,
    charging_profiles,
)
from chargeplane.csms.storage.batch_read import BatchReader
from chargeplane.csms.storage.driver import dbapi_cursor, positional
from chargeplane.csms.storage.group_commit import GroupCommitter, execute

INSTALLED, DRIFT, REPORTED = "installed", "drift", "reported"
# Reports: requested -> receiving -> complete; empty (NoProfiles), failed (no answer)
REQUESTED, RECEIVING, COMPLETE, EMPTY, FAILED = "requested", "receiving", "complete", "empty", "failed"


def station_key(station_id: str) -> str:
    """Station ids compare without case (as the station table's)."""
    return station_id.casefold()


@dataclass(frozen=True, slots=True)
class StoredProfile:
    profile_id: int
    evse_id: int
    purpose: str
    stack_level: int
    transaction_id: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    version: str
    profile: dict[str, Any]  # wire form of ``version``
    state: str
    drift: str | None
    source: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ReportedProfile:
    evse_id: int
    source: str  # chargingLimitSource
    profile: dict[str, Any]  # wire form


@dataclass(frozen=True, slots=True)
class ReportRecord:
    request_id: int
    status: str
    reconcile: bool
    parts: int
    profiles: tuple[ReportedProfile, ...]
    requested_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class LimitEvent:
    id: int
    message: str
    evse_id: int | None
    source: str | None
    transaction_id: str | None
    answer: str | None
    data: dict[str, Any]
    received_at: datetime


def _profile(row: sa.Row[Any]) -> StoredProfile:
    m = row._mapping
    return StoredProfile(
        m["profile_id"],
        m["evse_id"],
        m["purpose"],
        m["stack_level"],
        m["transaction_id"],
        m["valid_from"],
        m["valid_to"],
        m["version"],
        msgspec.json.decode(m["profile"]),
        m["state"],
        m["drift"],
        m["source"],
        m["updated_at"],
    )


def _values(station_id: str, profile: StoredProfile) -> dict[str, Any]:
    return {
        "station_key": station_key(station_id),
        "profile_id": profile.profile_id,
        "evse_id": profile.evse_id,
        "purpose": profile.purpose,
        "stack_level": profile.stack_level,
        "transaction_id": profile.transaction_id,
        "valid_from": profile.valid_from,
        "valid_to": profile.valid_to,
        "version": profile.version,
        "profile": msgspec.json.encode(profile.profile).decode(),
        "state": profile.state,
        "drift": profile.drift,
        "source": profile.source,
        "updated_at": profile.updated_at,
    }


def _report(row: sa.Row[Any]) -> ReportRecord:
    m = row._mapping
    profiles = msgspec.json.decode(m["profiles"], type=list[ReportedProfile])
    return ReportRecord(
        m["request_id"],
        m["status"],
        m["reconcile"],
        m["parts"],
        tuple(profiles),
        m["requested_at"],
        m["completed_at"],
    )


def _holding_profiles(connection: sa.Connection, keys: Sequence[str]) -> dict[str, bool]:
    """The :class:`BatchReader`'s read: which of these station keys have a stored profile (only those).
    Driver level (``storage/driver.py``): a Core statement cost ten times as much as the read itself."""
    marks = ", ".join("?" * len(keys))
    sql = f"SELECT DISTINCT station_key FROM charging_profiles WHERE station_key IN ({marks})"
    cursor = dbapi_cursor(connection)
    try:
        cursor.execute(positional(connection.dialect, sql), tuple(keys))
        return {str(key): True for (key,) in cursor.fetchall()}
    finally:
        cursor.close()


class SmartChargingRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer
        # read after every accepted 2.x boot (reconciliation): many stations' reads share one
        self._holding: BatchReader[str, bool] = BatchReader(engine, _holding_profiles)

    # -- the store of profiles ------------------------------------------------------------------------------

    async def profiles(self, station_id: str) -> list[StoredProfile]:
        c = charging_profiles.c
        query = (
            sa.select(*charging_profiles.c)
            .where(c.station_key == station_key(station_id))
            .order_by(c.evse_id, c.purpose, c.stack_level.desc(), c.profile_id)
        )
        async with self.engine.connect() as connection:
            return [_profile(row) for row in (await connection.execute(query)).all()]

    async def stations_with_profiles(self, station_ids: Sequence[str]) -> set[str]:
        """The keys of those of ``station_ids`` that have a profile in the store (one read)."""
        found = await self._holding.get_many(sorted({station_key(station_id) for station_id in station_ids}))
        return {key for key, holds in found.items() if holds}

    def close(self) -> None:
        self._holding.close()

    async def install(self, station_id: str, profile: StoredProfile, replaced: Iterable[int]) -> None:
        """An accepted SetChargingProfile: the profiles it replaced leave the store, it takes their place."""
        key = station_key(station_id)
        gone = {*replaced, profile.profile_id}
        c = charging_profiles.c

        def work(connection: sa.Connection) -> None:
            connection.execute(
                sa.delete(charging_profiles).where(c.station_key == key, c.profile_id.in_(gone))
            )
            connection.execute(sa.insert(charging_profiles).values(_values(station_id, profile)))

        await self.committer.run(work)

    async def remove(self, station_id: str, profile_ids: Iterable[int]) -> int:
        c = charging_profiles.c
        statement = sa.delete(charging_profiles).where(
            c.station_key == station_key(station_id), c.profile_id.in_(list(profile_ids))
        )
        return await self.committer.run(execute(statement))

    async def reconciled(
        self,
        station_id: str,
        states: Mapping[int, tuple[str, str | None]],
        reported: Sequence[StoredProfile],
    ) -> None:
        """The outcome of comparing a complete report with the store: each stored profile's state (and drift),
        and the profiles only the station has (stored as ``reported``, replacing earlier reported ones)."""
        key = station_key(station_id)
        c = charging_profiles.c

        def work(connection: sa.Connection) -> None:
            for profile_id, (state, drift) in states.items():
                connection.execute(
                    sa.update(charging_profiles)
                    .where(c.station_key == key, c.profile_id == profile_id)
                    .values(state=state, drift=drift)
                )
            if reported:
                ids = [p.profile_id for p in reported]
                connection.execute(
                    sa.delete(charging_profiles).where(c.station_key == key, c.profile_id.in_(ids))
                )
                connection.execute(sa.insert(charging_profiles), [_values(station_id, p) for p in reported])

        await self.committer.run(work)

    # -- reports (GetChargingProfiles -> ReportChargingProfiles) --------------------------------------------

    async def add_report(self, station_id: str, request_id: int, reconcile: bool, now: datetime) -> None:
        values = {
            "station_key": station_key(station_id),
            "request_id": request_id,
            "status": REQUESTED,
            "reconcile": reconcile,
            "parts": 0,
            "profiles": "[]",
            "requested_at": now,
        }
        await self.committer.run(execute(sa.insert(charging_profile_reports).values(values)))

    async def report_answered(self, station_id: str, request_id: int, status: str, now: datetime) -> None:
        """The GetChargingProfiles answer: ``empty`` and ``failed`` end the report; ``requested`` waits."""
        c = charging_profile_reports.c
        done = {"completed_at": now} if status in (EMPTY, FAILED) else {}
        statement = (
            sa.update(charging_profile_reports)
            .where(
                c.station_key == station_key(station_id),
                c.request_id == request_id,
                c.status == REQUESTED,
            )
            .values(status=status, **done)
        )
        await self.committer.run(execute(statement))

    async def report_part(
        self,
        station_id: str,
        request_id: int,
        profiles: Sequence[ReportedProfile],
        tbc: bool,
        now: datetime,
    ) -> ReportRecord:
        """One ReportChargingProfiles: its profiles appended to the report of ``request_id`` (one this CSMS
        did not ask for is recorded too, without reconciliation)."""
        key = station_key(station_id)
        c = charging_profile_reports.c

        def work(connection: sa.Connection) -> ReportRecord:
            where = (c.station_key == key, c.request_id == request_id)
            row = connection.execute(sa.select(*charging_profile_reports.c).where(*where)).first()
            if row is None:
                connection.execute(
                    sa.insert(charging_profile_reports).values(
                        station_key=key,
                        request_id=request_id,
                        status=RECEIVING,
                        reconcile=False,
                        parts=0,
                        profiles="[]",
                        requested_at=now,
                    )
                )
                row = connection.execute(sa.select(*charging_profile_reports.c).where(*where)).one()
            before = _report(row)
            merged = [*before.profiles, *profiles]
            connection.execute(
                sa.update(charging_profile_reports)
                .where(*where)
                .values(
                    status=RECEIVING if tbc else COMPLETE,
                    parts=before.parts + 1,
                    profiles=msgspec.json.encode(merged).decode(),
                    completed_at=None if tbc else now,
                )
            )
            return _report(connection.execute(sa.select(*charging_profile_reports.c).where(*where)).one())

        return await self.committer.run(work)

    async def report(self, station_id: str, request_id: int) -> ReportRecord | None:
        c = charging_profile_reports.c
        query = sa.select(*charging_profile_reports.c).where(
            c.station_key == station_key(station_id), c.request_id == request_id
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else _report(row)

    async def used_request_ids(self, station_id: str) -> set[int]:
        c = charging_profile_reports.c
        query = sa.select(c.request_id).where(c.station_key == station_key(station_id))
        async with self.engine.connect() as connection:
            return set((await connection.execute(query)).scalars())

    # -- limits and EV needs (K11-K17) ----------------------------------------------------------------------

    async def add_limit_event(
        self,
        station_id: str,
        message: str,
        evse_id: int | None,
        source: str | None,
        transaction_id: str | None,
        answer: str | None,
        data: bytes,
        now: datetime,
    ) -> None:
        values = {
            "station_key": station_key(station_id),
            "message": message,
            "evse_id": evse_id,
            "source": source,
            "transaction_id": transaction_id,
            "answer": answer,
            "data": data.decode(),
            "received_at": now,
        }
        await self.committer.run(execute(sa.insert(charging_limit_events).values(values)))

    async def limit_events(
        self,
        station_id: str,
        offset: int,
        limit: int,
        message: str | None = None,
        transaction_id: str | None = None,
    ) -> tuple[list[LimitEvent], int]:
        c = charging_limit_events.c
        conditions = [c.station_key == station_key(station_id)]
        if message is not None:
            conditions.append(c.message == message)
        if transaction_id is not None:
            conditions.append(c.transaction_id == transaction_id)
        query = (
            sa.select(*charging_limit_events.c)
            .where(*conditions)
            .order_by(c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(charging_limit_events).where(*conditions)
        async with self.engine.connect() as connection:
            # counted first: events only come, so the page read after holds at least what was counted (a
            # caller that waits for the count then reads the newest event gets that event, not an older one)
            total = int((await connection.execute(count)).scalar_one())
            rows = (await connection.execute(query)).all()
        events = [
            LimitEvent(
                r.id,
                r.message,
                r.evse_id,
                r.source,
                r.transaction_id,
                r.answer,
                msgspec.json.decode(r.data),
                r.received_at,
            )
            for r in rows
        ]
        return events, total
