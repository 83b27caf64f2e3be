"""All SQL of the payments block. Writes on the OCPP path are units of work of the group committer (committed
before the station gets its answer); reads use the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.payments.tables import payments, prepaid_accounts
from chargeplane.csms.storage.group_commit import GroupCommitter, execute


def _decimal(text: str | None) -> Decimal | None:
    return None if text is None else Decimal(text)


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    id: int
    psp_ref: str
    station_id: str
    evse_id: int | None
    source: str
    status: str
    currency: str | None
    authorized_amount: Decimal | None
    settlement_amount: Decimal | None
    refunded_amount: Decimal | None
    transaction_id: str | None
    transaction_key: int | None
    limit_sent: bool
    settled_by: str | None
    status_info: str | None
    receipt_id: str | None
    receipt_url: str | None
    vat_number: str | None
    vat_company: dict[str, Any] | None
    card_bin: str | None
    card_last4: str | None
    card_details: dict[str, str] | None  # C18.FR.04/06 additionalInfo of the terminal, masked
    driver_limits: dict[str, float] | None  # C25.FR.59 maxEnergy / maxTime the driver asked for
    attempts: int
    next_attempt_at: datetime | None
    settlement_time: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: sa.Row[Any]) -> PaymentRecord:
        data = dict(row._mapping)
        data.pop("station_key")
        for name in ("authorized_amount", "settlement_amount", "refunded_amount"):
            data[name] = _decimal(data[name])
        return cls(**data)


def _texts(values: dict[str, Any]) -> dict[str, Any]:
    """Amounts go in as decimal text (exact on SQLite and PostgreSQL alike)."""
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in values.items()}


class PaymentRepository:
    def __init__(self, engine: AsyncEngine, committer: GroupCommitter) -> None:
        self.engine = engine
        self.committer = committer

    async def insert(self, station_id: str, values: dict[str, Any], now: datetime) -> PaymentRecord:
        row = _texts(values) | {
            "station_key": station_id.casefold(),
            "station_id": station_id,
            "created_at": now,
            "updated_at": now,
        }
        row.setdefault("limit_sent", False)
        row.setdefault("attempts", 0)
        await self.committer.run(execute(sa.insert(payments).values(**row)))
        found = await self.by_psp_ref(values["psp_ref"])
        assert found is not None
        return found

    async def update(self, payment_id: int, changes: dict[str, Any], now: datetime) -> PaymentRecord:
        statement = (
            sa.update(payments).where(payments.c.id == payment_id).values(**_texts(changes), updated_at=now)
        )
        await self.committer.run(execute(statement))
        found = await self.get(payment_id)
        assert found is not None
        return found

    async def _one(self, *conditions: sa.ColumnElement[bool]) -> PaymentRecord | None:
        async with self.engine.connect() as connection:
            row = (await connection.execute(sa.select(payments).where(*conditions))).first()
        return None if row is None else PaymentRecord.of(row)

    async def get(self, payment_id: int) -> PaymentRecord | None:
        return await self._one(payments.c.id == payment_id)

    async def by_psp_ref(self, psp_ref: str) -> PaymentRecord | None:
        return await self._one(payments.c.psp_ref == psp_ref)

    async def by_receipt(self, receipt_id: str) -> PaymentRecord | None:
        return await self._one(payments.c.receipt_id == receipt_id)

    async def by_transaction_key(self, key: int) -> list[PaymentRecord]:
        query = sa.select(payments).where(payments.c.transaction_key == key).order_by(payments.c.id)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [PaymentRecord.of(row) for row in rows]

    async def by_transaction(self, station_id: str, transaction_id: str) -> list[PaymentRecord]:
        query = (
            sa.select(payments)
            .where(
                payments.c.station_key == station_id.casefold(), payments.c.transaction_id == transaction_id
            )
            .order_by(payments.c.id)
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [PaymentRecord.of(row) for row in rows]

    async def find(
        self, station_id: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[list[PaymentRecord], int]:
        """Newest first."""
        conditions: list[sa.ColumnElement[bool]] = []
        if station_id is not None:
            conditions.append(payments.c.station_key == station_id.casefold())
        if status is not None:
            conditions.append(payments.c.status == status)
        query = (
            sa.select(payments).where(*conditions).order_by(payments.c.id.desc()).offset(offset).limit(limit)
        )
        count = sa.select(sa.func.count()).select_from(payments).where(*conditions)
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
            total = int((await connection.execute(count)).scalar_one())
        return [PaymentRecord.of(row) for row in rows], total

    async def due_retries(self, now: datetime) -> list[PaymentRecord]:
        """Failed or rejected settlements whose next capture attempt is due (C22)."""
        query = sa.select(payments).where(
            payments.c.status.in_(("Failed", "Rejected")),
            payments.c.next_attempt_at.is_not(None),
            payments.c.next_attempt_at <= now,
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [PaymentRecord.of(row) for row in rows]

    async def unstarted(self, sources: tuple[str, ...], created_before: datetime) -> list[PaymentRecord]:
        """Pre-authorisations of ``sources`` still without a transaction, made before ``created_before``."""
        query = sa.select(payments).where(
            payments.c.status == "Authorized",
            payments.c.source.in_(sources),
            payments.c.transaction_key.is_(None),
            payments.c.transaction_id.is_(None),
            payments.c.created_at <= created_before,
        )
        async with self.engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [PaymentRecord.of(row) for row in rows]

    # -- C17 prepaid balances --------------------------------------------------------------------------

    async def balance(self, id_token: str) -> tuple[Decimal, str] | None:
        query = sa.select(prepaid_accounts.c.balance, prepaid_accounts.c.currency).where(
            prepaid_accounts.c.id_token == id_token
        )
        async with self.engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else (Decimal(row.balance), row.currency)

    async def set_balance(self, id_token: str, balance: Decimal, currency: str, now: datetime) -> None:
        async with self.engine.begin() as connection:
            changed = await connection.execute(
                sa.update(prepaid_accounts)
                .where(prepaid_accounts.c.id_token == id_token)
                .values(balance=str(balance), currency=currency, updated_at=now)
            )
            if changed.rowcount == 0:
                await connection.execute(
                    sa.insert(prepaid_accounts).values(
                        id_token=id_token, balance=str(balance), currency=currency, updated_at=now
                    )
                )

    async def charge(self, id_token: str, amount: Decimal, now: datetime) -> None:
        """Take ``amount`` off the balance (C17: the transaction's cost at its end)."""
        async with self.engine.begin() as connection:
            row = (
                await connection.execute(
                    sa.select(prepaid_accounts.c.balance).where(prepaid_accounts.c.id_token == id_token)
                )
            ).first()
            if row is None:
                return
            await connection.execute(
                sa.update(prepaid_accounts)
                .where(prepaid_accounts.c.id_token == id_token)
                .values(balance=str(Decimal(row.balance) - amount), updated_at=now)
            )
