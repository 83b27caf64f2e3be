"""All SQL of the webhooks block. Registrations and deliveries are written outside the OCPP path (the events
arrive through the event bus, after the station's message was answered)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.webhooks.tables import webhook_deliveries, webhooks

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


@dataclass(frozen=True, slots=True)
class Webhook:
    id: int
    url: str
    events: list[str]
    secret: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    webhook_id: int
    url: str
    secret: str
    kind: str
    body: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewDelivery:
    webhook_id: int
    event_key: str
    kind: str
    body: str


def _insert(dialect: sa.Dialect, table: sa.Table) -> Any:
    """An INSERT with the dialect's ON CONFLICT support (SQLite and PostgreSQL share the syntax)."""
    if dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def _webhook(row: sa.Row[Any]) -> Webhook:
    return Webhook(
        row.id, row.url, msgspec.json.decode(row.events, type=list[str]), row.secret, row.created_at
    )


_DELIVERY_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.webhook_id,
    webhooks.c.url,
    webhooks.c.secret,
    webhook_deliveries.c.kind,
    webhook_deliveries.c.body,
    webhook_deliveries.c.status,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.last_error,
    webhook_deliveries.c.next_attempt_at,
    webhook_deliveries.c.created_at,
    webhook_deliveries.c.finished_at,
)


def _delivery(row: Any) -> Delivery:
    return Delivery(
        row.id,
        row.webhook_id,
        row.url,
        row.secret,
        row.kind,
        row.body,
        row.status,
        row.attempts,
        row.last_error,
        row.next_attempt_at,
        row.created_at,
        row.finished_at,
    )


class WebhookRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    # -- registrations ----------------------------------------------------------------------------------

    async def add(self, url: str, events: list[str], secret: str, now: datetime) -> Webhook:
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.insert(webhooks).values(
                    url=url, events=msgspec.json.encode(events).decode(), secret=secret, created_at=now
                )
            )
            (webhook_id,) = result.inserted_primary_key or (None,)
        assert webhook_id is not None
        return Webhook(int(webhook_id), url, events, secret, now)

    async def all(self) -> list[Webhook]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(sa.select(webhooks).order_by(webhooks.c.id))
            return [_webhook(row) for row in rows]

    async def get(self, webhook_id: int) -> Webhook | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id))).first()
        return _webhook(row) if row is not None else None

    async def remove(self, webhook_id: int) -> bool:
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.delete(webhook_deliveries).where(webhook_deliveries.c.webhook_id == webhook_id)
            )
            result = await connection.execute(sa.delete(webhooks).where(webhooks.c.id == webhook_id))
        return result.rowcount > 0

    # -- deliveries ---------------------------------------------------------------------------------------

    async def enqueue(self, deliveries: Sequence[NewDelivery], now: datetime) -> None:
        """One pending delivery per (webhook, event); an event another node already queued is skipped."""
        if not deliveries:
            return
        async with self.engine.begin() as connection:
            statement = _insert(connection.dialect, webhook_deliveries)
            await connection.execute(
                statement.on_conflict_do_nothing(index_elements=["webhook_id", "event_key"]),
                [
                    {
                        "webhook_id": d.webhook_id,
                        "event_key": d.event_key,
                        "kind": d.kind,
                        "body": d.body,
                        "status": PENDING,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for d in deliveries
                ],
            )

    async def due(self, now: datetime, limit: int) -> list[Delivery]:
        t = webhook_deliveries
        query = (
            sa.select(*_DELIVERY_COLUMNS)
            .join(webhooks, webhooks.c.id == t.c.webhook_id)
            .where(t.c.status == PENDING, t.c.next_attempt_at <= now)
            .order_by(t.c.id)
            .limit(limit)
        )
        async with self.engine.connect() as connection:
            return [_delivery(row) for row in await connection.execute(query)]

    async def delivered(self, delivery_id: int, now: datetime) -> None:
        await self._set(
            delivery_id, status=DELIVERED, attempts=webhook_deliveries.c.attempts + 1, finished_at=now
        )

    async def failed(self, delivery_id: int, error: str, retry_at: datetime | None, now: datetime) -> None:
        """A failed attempt: retried at ``retry_at``, or a dead letter when ``None``."""
        values: dict[str, Any] = {"attempts": webhook_deliveries.c.attempts + 1, "last_error": error[:500]}
        if retry_at is None:
            values |= {"status": DEAD, "finished_at": now}
        else:
            values["next_attempt_at"] = retry_at
        await self._set(delivery_id, **values)

    async def retry(self, delivery_id: int, now: datetime) -> bool:
        """A dead letter back to pending, its attempts counted anew."""
        t = webhook_deliveries
        async with self.engine.begin() as connection:
            result = await connection.execute(
                sa.update(t)
                .where(t.c.id == delivery_id, t.c.status == DEAD)
                .values(status=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
            )
        return result.rowcount > 0

    async def deliveries(self, status: str, limit: int, offset: int) -> tuple[list[Delivery], int]:
        """A page of the deliveries in ``status``, oldest first, and how many there are."""
        t = webhook_deliveries
        query = (
            sa.select(*_DELIVERY_COLUMNS)
            .join(webhooks, webhooks.c.id == t.c.webhook_id)
            .where(t.c.status == status)
            .order_by(t.c.id)
            .limit(limit)
            .offset(offset)
        )
        count = sa.select(sa.func.count()).select_from(t).where(t.c.status == status)
        async with self.engine.connect() as connection:
            rows = [_delivery(row) for row in await connection.execute(query)]
            total = (await connection.execute(count)).scalar_one()
        return rows, int(total)

    async def _set(self, delivery_id: int, **values: Any) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                sa.update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values)
            )
