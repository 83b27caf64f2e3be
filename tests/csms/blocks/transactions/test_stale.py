"""Stale transactions: closed, with the reason recorded, when the station shows they are over without ending
them (a reboot, B01; the EVSE / 1.6 connector reporting Available, G01 / 1.6 §4.9; a new transaction on the
same EVSE, E01). Peer stations from the ``ocpp`` package, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from chargeplane.csms.bus.events import StationEvent
from tests.csms.blocks.transactions.test_concurrency import ALL, start
from tests.csms.blocks.transactions.test_transactions import T0, V2X, add_token, at, tx_event
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer


@asynccontextmanager
async def started(csms: RunningCsms, station_id: str, version: str, token: str) -> AsyncIterator[Any]:
    """A booted peer station with a transaction of ``token`` on EVSE / connector 1 at T0."""
    await add_token(csms, token)
    await csms.add_station(station_id)
    async with peer(csms.ocpp_url, station_id, version) as station:
        await boot(station, version)
        assert await start(station, version, 1, 0, token) == "Accepted"
        yield station


async def transactions_of(csms: RunningCsms, station_id: str) -> list[dict[str, Any]]:
    page = (await csms.api.get(f"/api/v1/transactions?station={station_id}", headers=csms.auth)).json()
    return sorted(page["items"], key=lambda item: item["startedAt"])


async def available(station: Any, version: str, connector: int, seconds: float) -> None:
    call = MODULES[version].call
    if version == "1.6":
        await station.call(
            call.StatusNotification(
                connector_id=connector, error_code="NoError", status="Available", timestamp=at(seconds)
            )
        )
    else:
        await station.call(
            call.StatusNotification(
                timestamp=at(seconds), connector_status="Available", evse_id=connector, connector_id=1
            )
        )


@pytest.mark.parametrize("version", ALL)
async def test_B01_boot_closes_what_the_station_left_open(csms: RunningCsms, version: str) -> None:
    async with started(csms, "ST1", version, "TAG-R"):
        pass  # the connection closes with the transaction still running
    async with csms.app.events.subscribe() as queue, peer(csms.ocpp_url, "ST1", version) as station:
        await boot(station, version)  # rebooted: the transaction was never ended
        event = await asyncio.wait_for(_next(queue, "transaction.closed"), 5)
    assert event.data["closedReason"] == "StationRebooted"
    [closed] = await transactions_of(csms, "ST1")
    assert (closed["status"], closed["closedReason"], closed["stopReason"]) == (
        "ended",
        "StationRebooted",
        "StationRebooted",
    )


async def _next(queue: asyncio.Queue[StationEvent], kind: str) -> StationEvent:
    while True:
        event = await queue.get()
        if event.kind == kind:
            return event


@pytest.mark.parametrize("version", V2X)
async def test_B01_triggered_boot_closes_nothing(csms: RunningCsms, version: str) -> None:
    async with started(csms, "ST2", version, "TAG-T") as station:
        await station.call(
            MODULES[version].call.BootNotification(
                charging_station={"model": "M1", "vendor_name": "Acme"}, reason="Triggered"
            )
        )
    assert [t["status"] for t in await transactions_of(csms, "ST2")] == ["active"]


@pytest.mark.parametrize("version", ALL)
async def test_G01_available_connector_closes_its_transaction_only(csms: RunningCsms, version: str) -> None:
    async with started(csms, "ST3", version, "TAG-A") as station:
        assert await start(station, version, 2, 5, "TAG-A") == "Accepted"
        await available(station, version, 2, -5)  # older than the start: says nothing about it
        assert [t["status"] for t in await transactions_of(csms, "ST3")] == ["active", "active"]
        await available(station, version, 2, 30)
    first, second = await transactions_of(csms, "ST3")
    assert (first["status"], first["closedReason"]) == ("active", None)
    assert (second["status"], second["closedReason"]) == ("ended", "EvseAvailable")


@pytest.mark.parametrize("version", ALL)
async def test_E01_new_transaction_on_the_evse_replaces_the_stale_one(
    csms: RunningCsms, version: str
) -> None:
    async with started(csms, "ST4", version, "TAG-N") as station:
        assert await start(station, version, 2, 5, "TAG-N") == "Accepted"
        assert await start(station, version, 1, 60, "TAG-N") == "Accepted"
    old, other, new = await transactions_of(csms, "ST4")
    assert (old["status"], old["closedReason"]) == ("ended", "ReplacedOnEvse")
    assert (other["status"], new["status"]) == ("active", "active")


@pytest.mark.parametrize("version", V2X)
async def test_E01_station_events_after_a_stale_close_still_count(csms: RunningCsms, version: str) -> None:
    """A transaction the CSMS closed goes on when the station's later event shows it (2.1 E17 TxResumed);
    the station's own Ended then gives the real end."""
    async with started(csms, "ST5", version, "TAG-E") as station:
        await available(station, version, 1, 10)
        await station.call(
            tx_event(version, "Updated", 1, 20, transaction_id="T1-0", trigger="ChargingStateChanged")
        )
        [resumed] = await transactions_of(csms, "ST5")
        assert (resumed["status"], resumed["closedReason"]) == ("active", None)
        await station.call(tx_event(version, "Ended", 2, 30, transaction_id="T1-0", trigger="EVDeparted"))
    [ended] = await transactions_of(csms, "ST5")
    assert (ended["status"], ended["stopReason"]) == ("ended", "Local")
    assert datetime.fromisoformat(ended["endedAt"]) == T0 + timedelta(seconds=30)
