"""Liveness and readiness: ``/healthz`` (the process answers) and ``/readyz`` (it can do its work).

Readiness checks, each with a short timeout:

- ``database``: one short query on the engine (the migration table, so a database that lost its schema, or an
  SQLite file replaced by an empty one, is not ready either);
- ``bus``: the command bus can reach stations, i.e. the OCPP server listens (it does from ``start()`` until
  the graceful stop begins).

Both routes are open (no bearer token: probes of an orchestrator carry none) and say nothing but the names
of the checks and ``ok`` / ``failed``; the reason of a failure goes to the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

Check = Callable[[], Awaitable[None]]  # returns when fine, raises when not

OK = "ok"
FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Readiness:
    ready: bool
    checks: dict[str, str]  # check name -> ok / failed


def database_check(engine: AsyncEngine) -> Check:
    async def check() -> None:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT version_num FROM alembic_version"))

    return check


def listening_check(ports: Callable[[], list[int]]) -> Check:
    async def check() -> None:
        if not ports():
            raise RuntimeError("the OCPP server does not listen")

    return check


async def readiness(checks: Mapping[str, Check], seconds: float) -> Readiness:
    """Run every check at once, each within ``seconds``."""

    async def run(name: str, check: Check) -> str:
        try:
            async with asyncio.timeout(seconds):
                await check()
        except Exception as error:  # any failure makes the check fail; the reason is for the operator's log
            log.warning("readiness check %s failed: %s", name, f"{type(error).__name__}: {error}"[:300])
            return FAILED
        return OK

    names = list(checks)
    outcomes = await asyncio.gather(*(run(name, checks[name]) for name in names))
    results = dict(zip(names, outcomes, strict=True))
    return Readiness(all(outcome == OK for outcome in outcomes), results)
