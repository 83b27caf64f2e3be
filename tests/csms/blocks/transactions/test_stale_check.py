"""Closing stale transactions asks first whether the station has any active one (issue #19): every boot and
every EVSE reported Available asks, and the Core UPDATE ... RETURNING cost about a millisecond of CPU per
station brought up although a station seldom has anything left open."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from chargeplane.csms.blocks.transactions.repository import (
    EVSE_AVAILABLE,
    STATION_REBOOTED,
    Stale,
    close_stale,
)
from chargeplane.csms.blocks.transactions.tables import transactions

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _row(key: int, station_id: str, status: str) -> dict[str, Any]:
    return {
        "id": key,
        "station_id": station_id,
        "transaction_id": f"tx-{key}",
        "ocpp_version": "2.0.1",
        "evse_id": 1,
        "connector_id": 1,
        "status": status,
        "started_at": T0,
        "seq_gaps": [],
        "created_at": T0,
        "updated_at": T0,
    }


@pytest.fixture
def connection() -> Iterator[sa.Connection]:
    """S1 with an active transaction, S2 with an ended one; ``core`` lists the Core statements run."""
    engine = sa.create_engine("sqlite://")
    transactions.metadata.create_all(engine, tables=[transactions])
    with engine.begin() as connection:
        connection.execute(sa.insert(transactions), [_row(1, "S1", "active"), _row(2, "S2", "ended")])
        core: list[str] = []
        sa.event.listen(connection, "before_execute", lambda _c, statement, *_: core.append(str(statement)))
        connection.info["core"] = core
        yield connection
    engine.dispose()


@pytest.mark.parametrize("station_id", ["S2", "S3"])
def test_a_station_with_nothing_active_costs_no_core_statement(
    connection: sa.Connection, station_id: str
) -> None:
    assert close_stale(connection, Stale(station_id, STATION_REBOOTED, T0), T0) == []
    assert close_stale(connection, Stale(station_id, EVSE_AVAILABLE, T0, evse_id=1), T0) == []
    assert connection.info["core"] == []


def test_an_active_transaction_is_still_closed(connection: sa.Connection) -> None:
    closed = close_stale(connection, Stale("S1", STATION_REBOOTED, T0), T0)
    assert [(record.id, record.status, record.closed_reason) for record in closed] == [
        (1, "ended", STATION_REBOOTED)
    ]
    assert close_stale(connection, Stale("S1", STATION_REBOOTED, T0), T0) == []  # closed once
