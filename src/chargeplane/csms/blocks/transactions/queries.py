"""The reads of the transactions block that the HTTP API needs (a small query object beside the service, which
keeps the message handling)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from chargeplane.csms.blocks.transactions.repository import (
    EventRecord,
    TransactionRepository,
)
from chargeplane.csms.blocks.transactions.repository import (  # re-exported: what find() and reads return
    MeterValueRecord as MeterValueRecord,
)
from chargeplane.csms.blocks.transactions.repository import (
    TransactionFilter as TransactionFilter,  # re-exported: the filter of find(), for other packages
)
from chargeplane.csms.blocks.transactions.repository import (
    TransactionRecord as TransactionRecord,  # re-exported: what find() returns, for other packages
)
from chargeplane.csms.errors import NotFound


class UnknownTransaction(NotFound):
    def __init__(self, key: int) -> None:
        super().__init__(f"no transaction {key}")


@dataclass(frozen=True, slots=True)
class TransactionDetail:
    transaction: TransactionRecord
    events: list[EventRecord]
    meter_values: list[MeterValueRecord]


# What another block adds to a transaction's API view: (station id, transactionId) -> a msgspec-encodable
# value, or None when it has nothing to say about this transaction.
SectionProvider = Callable[[str, str], Awaitable[object | None]]


class TransactionQueries:
    def __init__(
        self, repository: TransactionRepository, pin_digest: Callable[[str], Awaitable[str]] | None = None
    ) -> None:
        self.repository = repository
        self._pin_digest = pin_digest  # C04.FR.04: how a KeyCode token is stored
        self.sections: dict[str, SectionProvider] = {}

    def add_section(self, name: str, provider: SectionProvider) -> None:
        """A block that keeps something per transaction (e.g. priority charging) shows it in the view."""
        self.sections[name] = provider

    async def sections_of(self, station_id: str, transaction_id: str | None) -> dict[str, object]:
        if transaction_id is None:
            return {}
        found = {name: await provider(station_id, transaction_id) for name, provider in self.sections.items()}
        return {name: value for name, value in found.items() if value is not None}

    async def find(
        self, where: TransactionFilter, offset: int, limit: int
    ) -> tuple[list[TransactionRecord], int]:
        """Transactions, newest first, and how many match; a token filter also finds a KeyCode (PIN) token,
        stored only as its digest."""
        if where.id_token is not None and where.id_token_digest is None and self._pin_digest is not None:
            where = dataclasses.replace(where, id_token_digest=await self._pin_digest(where.id_token))
        return await self.repository.page(where, offset, limit)

    async def detail(self, key: int, meter_value_limit: int) -> TransactionDetail:
        """One transaction with its events and (up to ``meter_value_limit``) sampled values."""
        record = await self.repository.get(key)
        if record is None:
            raise UnknownTransaction(key)
        events = await self.repository.events(key)
        samples = await self.repository.transaction_meter_values(key, meter_value_limit)
        return TransactionDetail(record, events, samples)

    async def recent_meter_values(
        self, keys: list[int], since: datetime, measurand: str, limit: int
    ) -> list[MeterValueRecord]:
        """The ``measurand`` samples of these transactions (by key) since ``since``, oldest first."""
        return await self.repository.recent_meter_values(keys, since, measurand, limit)

    async def station_meter_values(
        self,
        station_id: str,
        *,
        start: datetime | None,
        end: datetime | None,
        measurand: str | None,
        offset: int,
        limit: int,
    ) -> list[MeterValueRecord]:
        """A station's sampled values over time."""
        return await self.repository.station_meter_values(
            station_id, start=start, end=end, measurand=measurand, offset=offset, limit=limit
        )
