"""Bearer tokens of the operator API: random 32-byte secrets, stored only as SHA-256 digests, each with a scope.

A token is a high-entropy random string, so a plain digest is enough (no slow KDF needed: nothing to
brute-force). The first start creates an ``admin`` token and prints it once; ``chargeplane token
create|list|revoke`` manage them on the database directly, whether the CSMS runs or not. A running CSMS
rereads the table when it sees an unknown token and at most every :data:`REFRESH_SECONDS` otherwise, so a
token created or revoked from the command line counts within that time.

Scopes, each including the ones below it:

``read``      GET only
``operator``  also the routes that act on stations (commands, availability, reservations, local lists, ...)
``admin``     everything: stations and their credentials, id tokens

An operator-side store, not on the OCPP path: it reads and writes directly on the engine (see the write paths
in ``storage/group_commit.py``).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.clock import utc_now
from chargeplane.csms.storage.metadata import metadata, utc_timestamp

REFRESH_SECONDS = 5.0
NAME_LENGTH = 100


class Scope(enum.Enum):
    READ = "read"
    OPERATOR = "operator"
    ADMIN = "admin"

    def allows(self, needed: Scope) -> bool:
        return _RANK[self] >= _RANK[needed]


_RANK = {Scope.READ: 0, Scope.OPERATOR: 1, Scope.ADMIN: 2}

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    utc_timestamp("created_at", nullable=False),
    sa.Column("scope", sa.String(16), nullable=False, server_default=Scope.ADMIN.value),
)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What ``token list`` shows: never the secret (it is not stored)."""

    id: int
    name: str
    scope: Scope
    created_at: datetime


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: AsyncEngine, refresh_seconds: float = REFRESH_SECONDS) -> None:
        self.engine = engine
        self.refresh_seconds = refresh_seconds
        self._scopes: dict[str, Scope] = {}  # digest -> scope
        self._names: dict[str, str] = {}  # digest -> name (who made a call, for the audit log)
        self._loaded_at = float("-inf")

    async def load(self) -> None:
        async with self.engine.connect() as connection:
            query = sa.select(api_tokens.c.digest, api_tokens.c.scope, api_tokens.c.name)
            rows = (await connection.execute(query)).all()
        self._scopes = {row.digest: Scope(row.scope) for row in rows}
        self._names = {row.digest: row.name for row in rows}
        self._loaded_at = time.monotonic()

    async def create(self, name: str, scope: Scope = Scope.ADMIN) -> str:
        """A new token; the secret is returned once and only its digest is stored."""
        if not name or len(name) > NAME_LENGTH:
            raise ValueError(f"a token name has 1 to {NAME_LENGTH} characters")
        token = "cp_" + secrets.token_urlsafe(32)
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.insert(api_tokens).values(
                    name=name, digest=digest(token), scope=scope.value, created_at=utc_now()
                )
            )
        await self.load()
        return token

    async def all(self) -> list[TokenInfo]:
        query = sa.select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.scope, api_tokens.c.created_at)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query.order_by(api_tokens.c.id))).all()
        return [TokenInfo(row.id, row.name, Scope(row.scope), row.created_at) for row in rows]

    async def revoke(self, which: str) -> list[TokenInfo]:
        """Delete the token with this id, else every token with this name; returns what was deleted."""
        found = [t for t in await self.all() if (which.isdigit() and t.id == int(which)) or t.name == which]
        if found:
            async with self.engine.begin() as connection:
                await connection.execute(
                    sa.delete(api_tokens).where(api_tokens.c.id.in_([t.id for t in found]))
                )
            await self.load()
        return found

    async def ensure_one(self) -> str | None:
        """Create the first (admin) token if there is none; returns it (to be shown once) or ``None``."""
        await self.load()
        if self._scopes:
            return None
        return await self.create("initial", Scope.ADMIN)

    async def scope_of(self, token: str) -> Scope | None:
        """The scope of a valid token, else ``None``; rereads the table when the answer may be stale."""
        found = await self.identify(token)
        return found[1] if found is not None else None

    async def identify(self, token: str) -> tuple[str, Scope] | None:
        """The name and scope of a valid token, else ``None`` (see :meth:`scope_of`)."""
        if time.monotonic() - self._loaded_at >= self.refresh_seconds:
            await self.load()
        found = self._lookup(token)
        # Created a moment ago? Reread, at most once a second (unknown tokens must not cost a query each).
        if found is None and time.monotonic() - self._loaded_at >= min(1.0, self.refresh_seconds):
            await self.load()
            found = self._lookup(token)
        return found

    def _lookup(self, token: str) -> tuple[str, Scope] | None:
        candidate = digest(token)
        found: tuple[str, Scope] | None = None
        for known, scope in self._scopes.items():  # compare with every digest: no early exit to time
            if hmac.compare_digest(candidate, known):
                found = self._names.get(known, ""), scope
        return found
