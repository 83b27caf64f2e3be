"""Bearer tokens of the operator API: random 32-byte secrets, stored only as SHA-256 digests.

A token is a high-entropy random string, so a plain digest is enough (no slow KDF needed: nothing to
brute-force). The first start creates one and prints it once.

An operator-side store, not on the OCPP path: it reads and writes directly on the engine (see the write paths
in ``storage/group_commit.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.clock import utc_now
from chargeplane.csms.storage.metadata import metadata, utc_timestamp

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("digest", sa.String(64), nullable=False, unique=True),
    utc_timestamp("created_at", nullable=False),
)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._digests: frozenset[str] = frozenset()

    async def load(self) -> None:
        async with self.engine.connect() as connection:
            rows = (await connection.execute(sa.select(api_tokens.c.digest))).scalars().all()
        self._digests = frozenset(rows)

    async def create(self, name: str) -> str:
        token = "cp_" + secrets.token_urlsafe(32)
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.insert(api_tokens).values(name=name, digest=digest(token), created_at=utc_now())
            )
        await self.load()
        return token

    async def ensure_one(self) -> str | None:
        """Create the first token if there is none; returns it (to be shown once) or ``None``."""
        await self.load()
        if self._digests:
            return None
        return await self.create("initial")

    def valid(self, token: str) -> bool:
        candidate = digest(token)
        return any(hmac.compare_digest(candidate, known) for known in self._digests)
