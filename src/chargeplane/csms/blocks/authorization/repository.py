"""All SQL of the authorization block: id tokens, the decision log, local list state.

The OCPP-path writes are units of work of the CSMS's group committer: the decision log (Authorize, tokens in
transactions), :meth:`AuthorizationRepository.create_token` (the unknown-token policy records tokens it
accepts; the API shares it), and the local-list state a station accepted (or lost). The operator's other
token changes through the HTTP API (update, delete, bulk import) write directly on the engine; reads use the
engine.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.authorization.tables import (
    authorization_log,
    id_tokens,
    local_list_entries,
    local_lists,
    token_digest_keys,
)
from chargeplane.csms.storage.group_commit import GroupCommitter, execute, insert_absent

KEY_CODE = "KeyCode"


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id_token: str
    type: str
    status: str
    expires_at: datetime | None
    group_id_token: str | None
    group_id_token_type: str | None
    language1: str | None
    language2: str | None
    personal_message_format: str | None
    personal_message_language: str | None
    personal_message_content: str | None
    charging_priority: int | None
    local_list: bool
    description: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class LogRecord:
    id: int
    station_id: str
    id_token: str
    token_type: str | None
    context: str
    status: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ListEntry:
    """One entry of a station's local list as it was last accepted."""

    token_key: str
    type: str
    id_token: str
    digest: str


@dataclass(frozen=True, slots=True)
class ListState:
    version: int
    updated_at: datetime
    entries: dict[tuple[str, str], ListEntry]


TOKEN_FIELDS = tuple(name for name in TokenRecord.__dataclass_fields__)
_TOKEN_COLUMNS = [id_tokens.c[name] for name in TOKEN_FIELDS]


def token_key(id_token: str) -> str:
    return id_token.casefold()


def station_key(station_id: str) -> str:
    return station_id.casefold()


def logged_token(id_token: str, token_type: str | None) -> str:
    """The plain digest earlier versions logged KeyCode tokens as: kept to find their old log rows."""
    if token_type == KEY_CODE:
        return "sha256:" + hashlib.sha256(token_key(id_token).encode()).hexdigest()[:24]
    return id_token


def token_digest(id_token: str, token_type: str | None, key: bytes) -> str:
    """What the CSMS stores of a token: KeyCode tokens (PIN codes) only as a digest keyed with the CSMS's own
    secret (C04.FR.04), the same for the same PIN so that lookups still work; other tokens as they are."""
    if token_type == KEY_CODE:
        return "hmac:" + hmac.new(key, token_key(id_token).encode(), hashlib.sha256).hexdigest()[:32]
    return id_token


class AuthorizationRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer
        self._digest_key: bytes | None = None

    # -- id tokens --------------------------------------------------------------------------------------

    async def find(self, id_token: str, token_type: str | None = None) -> list[TokenRecord]:
        """The tokens with this value (any case); of one type when ``token_type`` is given. The order is
        stable: ISO14443 first (1.6 idTags are RFID UIDs), then by type."""
        query = sa.select(*_TOKEN_COLUMNS).where(id_tokens.c.token_key == token_key(id_token))
        if token_type is not None:
            query = query.where(id_tokens.c.type == token_type)
        query = query.order_by(sa.case((id_tokens.c.type == "ISO14443", 0), else_=1), id_tokens.c.type)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [TokenRecord(**row._mapping) for row in rows]

    async def list_tokens(
        self, *, status: str | None, group: str | None, offset: int, limit: int
    ) -> tuple[list[TokenRecord], int]:
        conditions = []
        if status is not None:
            conditions.append(id_tokens.c.status == status)
        if group is not None:
            conditions.append(id_tokens.c.group_id_token == group)
        query = (
            sa.select(*_TOKEN_COLUMNS)
            .where(*conditions)
            .order_by(id_tokens.c.token_key, id_tokens.c.type)
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(id_tokens).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [TokenRecord(**row._mapping) for row in rows], total

    async def local_list_tokens(self, excluded_types: Iterable[str]) -> list[TokenRecord]:
        query = (
            sa.select(*_TOKEN_COLUMNS)
            .where(id_tokens.c.local_list.is_(True), id_tokens.c.type.not_in(list(excluded_types)))
            .order_by(id_tokens.c.token_key, sa.case((id_tokens.c.type == "ISO14443", 0), else_=1))
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [TokenRecord(**row._mapping) for row in rows]

    async def create_token(self, values: dict[str, Any], now: datetime) -> bool:
        """Insert a token; False if (token, type) exists already."""
        row = dict(values, token_key=token_key(values["id_token"]), created_at=now, updated_at=now)
        key = (id_tokens.c.token_key == row["token_key"], id_tokens.c.type == row["type"])
        try:
            return await self.committer.run(insert_absent(id_tokens, row, *key))
        except sa.exc.IntegrityError:  # PostgreSQL: inserted by a parallel writer since the check
            return False

    async def update_token(
        self, id_token: str, token_type: str, values: dict[str, Any], now: datetime
    ) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.update(id_tokens)
                .where(id_tokens.c.token_key == token_key(id_token), id_tokens.c.type == token_type)
                .values(updated_at=now, **values)
            )
        return result.rowcount > 0

    async def delete_token(self, id_token: str, token_type: str) -> bool:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.delete(id_tokens).where(
                    id_tokens.c.token_key == token_key(id_token), id_tokens.c.type == token_type
                )
            )
        return result.rowcount > 0

    async def upsert_tokens(self, rows: Sequence[dict[str, Any]], now: datetime) -> tuple[int, int]:
        """Insert or replace tokens (keyed by token and type) in one transaction; (created, updated)."""
        if not rows:
            return 0, 0
        by_key = {(token_key(row["id_token"]), row["type"]): row for row in rows}  # the last one wins
        created = updated = 0
        async with self.engine.begin() as connection:
            existing: set[tuple[str, str]] = set()
            keys = sorted({key for key, _ in by_key})
            for start in range(0, len(keys), 500):
                found = await connection.execute(
                    sa.select(id_tokens.c.token_key, id_tokens.c.type).where(
                        id_tokens.c.token_key.in_(keys[start : start + 500])
                    )
                )
                existing.update((k, t) for k, t in found.all())
            inserts = []
            for (key, kind), row in by_key.items():
                if (key, kind) in existing:
                    await connection.execute(
                        sa.update(id_tokens)
                        .where(id_tokens.c.token_key == key, id_tokens.c.type == kind)
                        .values(updated_at=now, **row)
                    )
                    updated += 1
                else:
                    inserts.append(dict(row, token_key=key, created_at=now, updated_at=now))
            if inserts:
                await connection.execute(sa.insert(id_tokens), inserts)
                created = len(inserts)
        return created, updated

    # -- KeyCode digests ---------------------------------------------------------------------------------

    async def digest_key(self) -> bytes:
        """The key of :func:`token_digest`: made at random once per database, then read (and kept)."""
        if self._digest_key is None:
            row = token_digest_keys.c.id == 1
            await self.committer.run(
                insert_absent(token_digest_keys, {"id": 1, "key": secrets.token_hex(32)}, row)
            )
            async with self.engine.connect() as connection:
                stored = (
                    await connection.execute(sa.select(token_digest_keys.c.key).where(row))
                ).scalar_one()
            self._digest_key = bytes.fromhex(stored)
        return self._digest_key

    async def stored_token(self, id_token: str, token_type: str | None) -> str:
        if token_type != KEY_CODE:
            return id_token
        return token_digest(id_token, token_type, await self.digest_key())

    # -- decision log -----------------------------------------------------------------------------------

    async def log_decision(
        self, station_id: str, id_token: str, token_type: str | None, context: str, status: str, at: datetime
    ) -> None:
        stored = await self.stored_token(id_token, token_type)
        await self.committer.run(
            execute(
                sa.insert(authorization_log).values(
                    station_id=station_id,
                    id_token=stored,
                    token_type=token_type,
                    context=context,
                    status=status,
                    at=at,
                )
            )
        )

    async def list_log(
        self, *, station_id: str | None, id_token: str | None, offset: int, limit: int
    ) -> tuple[list[LogRecord], int]:
        conditions = []
        if station_id is not None:
            conditions.append(authorization_log.c.station_id == station_id)
        if id_token is not None:
            digests = [await self.stored_token(id_token, KEY_CODE), logged_token(id_token, KEY_CODE)]
            conditions.append(authorization_log.c.id_token.in_([id_token, *digests]))
        query = (
            sa.select(authorization_log)
            .where(*conditions)
            .order_by(authorization_log.c.at.desc(), authorization_log.c.id.desc())
            .offset(offset)
            .limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(authorization_log).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [LogRecord(**row._mapping) for row in rows], total

    # -- local lists ------------------------------------------------------------------------------------

    async def list_state(self, station_id: str) -> ListState | None:
        key = station_key(station_id)
        async with self.engine.connect() as connection:
            head = (
                await connection.execute(
                    sa.select(local_lists.c.version, local_lists.c.updated_at).where(
                        local_lists.c.station_key == key
                    )
                )
            ).first()
            if head is None:
                return None
            rows = (
                await connection.execute(
                    sa.select(
                        local_list_entries.c.token_key,
                        local_list_entries.c.type,
                        local_list_entries.c.id_token,
                        local_list_entries.c.digest,
                    ).where(local_list_entries.c.station_key == key)
                )
            ).all()
        entries = {(row.token_key, row.type): ListEntry(**row._mapping) for row in rows}
        return ListState(head.version, head.updated_at, entries)

    async def list_summary(self, station_id: str) -> tuple[int, int, datetime] | None:
        """(version, entry count, updated at) on record, without loading the entries."""
        key = station_key(station_id)
        async with self.engine.connect() as connection:
            head = (
                await connection.execute(
                    sa.select(local_lists.c.version, local_lists.c.updated_at).where(
                        local_lists.c.station_key == key
                    )
                )
            ).first()
            if head is None:
                return None
            count = (
                await connection.execute(
                    sa.select(sa.func.count())
                    .select_from(local_list_entries)
                    .where(local_list_entries.c.station_key == key)
                )
            ).scalar_one()
        return int(head.version), int(count), head.updated_at

    async def record_list_update(
        self,
        station_id: str,
        version: int,
        *,
        replace: bool,
        upserts: Sequence[ListEntry],
        removals: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        """What a station accepted: a Full update (``replace``) or a Differential one, at ``version``."""
        key = station_key(station_id)
        entries = local_list_entries.c

        def write(connection: sa.Connection) -> None:
            changed = connection.execute(
                sa.update(local_lists)
                .where(local_lists.c.station_key == key)
                .values(version=version, updated_at=now, station_id=station_id)
            )
            if changed.rowcount == 0:
                connection.execute(
                    sa.insert(local_lists).values(
                        station_key=key, station_id=station_id, version=version, updated_at=now
                    )
                )
            if replace:
                connection.execute(sa.delete(local_list_entries).where(entries.station_key == key))
            else:
                gone = [*removals, *((e.token_key, e.type) for e in upserts)]
                for start in range(0, len(gone), 200):
                    chunk = gone[start : start + 200]
                    connection.execute(
                        sa.delete(local_list_entries).where(
                            entries.station_key == key,
                            sa.or_(*(sa.and_(entries.token_key == k, entries.type == t) for k, t in chunk)),
                        )
                    )
            if upserts:
                connection.execute(
                    sa.insert(local_list_entries),
                    [
                        {
                            "station_key": key,
                            "token_key": e.token_key,
                            "type": e.type,
                            "id_token": e.id_token,
                            "digest": e.digest,
                        }
                        for e in upserts
                    ],
                )

        await self.committer.run(write)

    async def forget_list(self, station_id: str) -> None:
        """The station's list is unknown (a Full update failed): the next sync sends Full."""
        key = station_key(station_id)

        def forget(connection: sa.Connection) -> None:
            connection.execute(sa.delete(local_list_entries).where(local_list_entries.c.station_key == key))
            connection.execute(sa.delete(local_lists).where(local_lists.c.station_key == key))

        await self.committer.run(forget)
