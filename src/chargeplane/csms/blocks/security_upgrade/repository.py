"""All SQL of the security profile upgrade block (the operator's workflow, written outside the OCPP path)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from chargeplane.csms.blocks.security_upgrade.tables import security_upgrades


class Step(msgspec.Struct, rename="camel"):
    name: str  # InstallCsmsRoot | StationCertificate | SetNetworkProfile | NetworkConfigurationPriority | Reset | Reconnect
    status: str  # running | done | failed
    detail: str | None = None  # the station's answer, or why it failed
    at: datetime | None = None


@dataclass
class UpgradeRecord:
    station_id: str
    target_profile: int
    url: str
    configuration_slot: int | None
    reset_type: str
    status: str  # running | completed | failed
    requested_at: datetime
    steps: list[Step] = field(default_factory=list)
    connected_profile: int | None = None
    finished_at: datetime | None = None


class UpgradeRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def save(self, record: UpgradeRecord) -> None:
        """Write the workflow as it is now (the station's previous one is replaced)."""
        t = security_upgrades
        key = record.station_id.casefold()
        values = {
            "station_key": key,
            "station_id": record.station_id,
            "target_profile": record.target_profile,
            "url": record.url,
            "configuration_slot": record.configuration_slot,
            "reset_type": record.reset_type,
            "status": record.status,
            "steps": msgspec.json.encode(record.steps).decode(),
            "connected_profile": record.connected_profile,
            "requested_at": record.requested_at,
            "finished_at": record.finished_at,
        }
        async with self.engine.begin() as connection:
            await connection.execute(sa.delete(t).where(t.c.station_key == key))
            await connection.execute(sa.insert(t).values(values))

    async def get(self, station_id: str) -> UpgradeRecord | None:
        t = security_upgrades
        async with self.engine.connect() as connection:
            row = (
                await connection.execute(sa.select(t).where(t.c.station_key == station_id.casefold()))
            ).first()
        if row is None:
            return None
        return UpgradeRecord(
            row.station_id,
            row.target_profile,
            row.url,
            row.configuration_slot,
            row.reset_type,
            row.status,
            row.requested_at,
            msgspec.json.decode(row.steps, type=list[Step]),
            row.connected_profile,
            row.finished_at,
        )

    async def interrupted(self) -> list[UpgradeRecord]:
        """Workflows a CSMS stop left running."""
        t = security_upgrades
        async with self.engine.connect() as connection:
            keys = (
                await connection.execute(sa.select(t.c.station_id).where(t.c.status == "running"))
            ).scalars()
            names = list(keys)
        found = [await self.get(name) for name in names]
        return [record for record in found if record is not None]
