"""ConcurrentTx as an operator policy (E02.FR.04 / 2.x IdTokenInfo ConcurrentTx; 1.6 §4.8 StartTransaction
idTagInfo ConcurrentTx): no limit by default, a limit per group, checked atomically with the write even with
parallel writers, and a refused start never counts as active. Peer stations from the ``ocpp`` package."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.transactions.fold import STARTED, EventFacts
from chargeplane.csms.blocks.transactions.service import TransactionService
from chargeplane.csms.settings import SettingsError, from_environment
from tests.csms.blocks.transactions.test_transactions import T0, V2X, add_token, at, tx_event
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

ALL = ["1.6", *V2X]


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[RunningCsms]:
    """A CSMS where a token may have one transaction at once, tokens of group FLEET any number."""
    settings = AuthorizationSettings(concurrent_transactions=1, group_concurrent_transactions="FLEET=0")
    async with running(settings_for(database_url, settings)) as running_csms:
        yield running_csms


async def start(station: Any, version: str, connector: int, seconds: float, token: str) -> str:
    """Start a transaction on ``connector`` (1.6 StartTransaction, 2.x TransactionEvent Started): the status."""
    if version == "1.6":
        response = await station.call(
            MODULES[version].call.StartTransaction(
                connector_id=connector, id_tag=token, meter_start=0, timestamp=at(seconds)
            )
        )
        return str(response.id_tag_info["status"])
    response = await station.call(
        tx_event(
            version,
            "Started",
            0,
            seconds,
            transaction_id=f"T{connector}-{seconds}",
            trigger="Authorized",
            evse={"id": connector, "connector_id": 1},
            id_token={"id_token": token, "type": "ISO14443"},
        )
    )
    return str(response.id_token_info["status"])


async def statuses(csms: RunningCsms, station_id: str) -> list[str]:
    page = (await csms.api.get(f"/api/v1/transactions?station={station_id}", headers=csms.auth)).json()
    return sorted(item["status"] for item in page["items"])


def test_E02_limit_settings_default_none_group_override_and_bad_text() -> None:
    assert AuthorizationSettings().concurrency_limit("ANY") is None  # default: no limit
    settings = AuthorizationSettings(
        concurrent_transactions=2, group_concurrent_transactions="fleet=0, Staff=1"
    )
    assert settings.concurrency_limit(None) == 2
    assert settings.concurrency_limit("FLEET") is None
    assert settings.concurrency_limit("staff") == 1
    with pytest.raises(SettingsError):
        AuthorizationSettings(group_concurrent_transactions="FLEET")
    environ = {
        "CHARGEPLANE_AUTHORIZATION_CONCURRENT_TRANSACTIONS": "1",
        "CHARGEPLANE_AUTHORIZATION_GROUP_CONCURRENT_TRANSACTIONS": "FLEET=0",
    }
    read = from_environment(environ).block(AuthorizationSettings)
    assert (read.concurrency_limit(None), read.concurrency_limit("fleet")) == (1, None)


@pytest.mark.parametrize("version", ALL)
async def test_E02_default_one_card_on_many_connectors_is_accepted(csms: RunningCsms, version: str) -> None:
    """The field report: a fleet using one idTag on every connector got ConcurrentTx."""
    await add_token(csms, "FLEET-CARD")
    await csms.add_station("CC1")
    async with peer(csms.ocpp_url, "CC1", version) as station:
        await boot(station, version)
        answers = [
            await start(station, version, connector, connector, "FLEET-CARD") for connector in (1, 2, 3)
        ]
    assert answers == ["Accepted"] * 3
    assert await statuses(csms, "CC1") == ["active"] * 3


@pytest.mark.parametrize("version", ALL)
async def test_E02_refused_start_never_counts_as_active(limited: RunningCsms, version: str) -> None:
    csms = limited
    await add_token(csms, "ONE-CAR")
    await csms.add_station("CC2")
    async with peer(csms.ocpp_url, "CC2", version) as station:
        await boot(station, version)
        assert await start(station, version, 1, 0, "ONE-CAR") == "Accepted"
        assert await start(station, version, 2, 5, "ONE-CAR") == "ConcurrentTx"
        assert await statuses(csms, "CC2") == ["active", "refused"]
        # The first transaction ends; the card starts again (the refused one was never active).
        if version == "1.6":
            page = (
                await csms.api.get("/api/v1/transactions?station=CC2&status=active", headers=csms.auth)
            ).json()
            key = int(page["items"][0]["transactionId"])
            await station.call(
                MODULES[version].call.StopTransaction(transaction_id=key, meter_stop=10, timestamp=at(20))
            )
        else:
            await station.call(tx_event(version, "Ended", 1, 20, transaction_id="T1-0", trigger="EVDeparted"))
        assert await start(station, version, 3, 30, "ONE-CAR") == "Accepted"


@pytest.mark.parametrize("version", ALL)
async def test_E02_group_limit_overrides_the_default(limited: RunningCsms, version: str) -> None:
    csms = limited
    await add_token(csms, "F-1", group_id_token="FLEET")
    await csms.add_station("CC3")
    async with peer(csms.ocpp_url, "CC3", version) as station:
        await boot(station, version)
        answers = [await start(station, version, connector, connector, "F-1") for connector in (1, 2)]
    assert answers == ["Accepted", "Accepted"]


@pytest.mark.parametrize("separate_batches", [False, True])
async def test_E02_limit_is_atomic_with_parallel_writers(
    limited: RunningCsms, separate_batches: bool
) -> None:
    """Many stations start the same card at the same moment: exactly one start is admitted, whether the
    starts share a batch (each sees the ones before it) or run on parallel writers (PostgreSQL: 4)."""
    csms = limited
    await add_token(csms, "RACE")
    service = csms.app.blocks.require(TransactionService)
    if separate_batches:
        csms.app.committer.max_batch = 1

    async def start_2x(number: int) -> str:
        facts = EventFacts(
            transaction_id=f"R{number}",
            event_type=STARTED,
            timestamp=T0 + timedelta(seconds=number),
            seq_no=0,
            evse_id=1,
            id_token="RACE",
            token_type="ISO14443",
        )
        outcome = await service.transaction_event(f"RS{number}", "2.0.1", facts)
        assert outcome.decision is not None
        return outcome.decision.status

    async def start_16(number: int) -> str:
        outcome = await service.start_v16(
            f"RS{number}",
            connector_id=1,
            id_tag="RACE",
            meter_start=0,
            timestamp=T0 + timedelta(seconds=number),
            reservation_id=None,
        )
        assert outcome.decision is not None
        return outcome.decision.status

    answers = await asyncio.gather(*(start_2x(n) if n % 2 else start_16(n) for n in range(12)))
    assert sorted(answers) == ["Accepted"] + ["ConcurrentTx"] * 11
    page = (await csms.api.get("/api/v1/transactions?status=active", headers=csms.auth)).json()
    assert page["total"] == 1
