"""Local authorization methods end to end on loopback: OUR 2.0.1 station runtime and OUR CSMS (in-process,
SQLite, through the HTTP API) for the start button (C02), the payment terminal (C03) and the PIN keypad (C04);
and the PIN start against the ``ocpp`` package as an independent CSMS."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases
from tests.station.csms_peer import CsmsBehaviour, peer_csms, wait_for
from tests.test_end_to_end_tariff import DisplayedStation, until

PASSWORD = "e2e-password-0123456789"
STATION = "E2ELOCAL"
FAST = BackOffSettings(0.1, 0.0, 1)


@asynccontextmanager
async def csms_and_station(
    tmp_path: Path, version: Version = Version.V201, direct_payment: bool = True, *blocks: object
) -> AsyncIterator[tuple[httpx.AsyncClient, DisplayedStation]]:
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(
                ProvisioningSettings(presence_flush_interval=0.2),
                AuthorizationSettings(direct_payment=direct_payment),
                *blocks,
            ),
        )
    )
    token = await csms.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{csms.api_port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30.0,  # calls that wait on a station can take more than 5 s on a loaded machine
        ) as api:
            created = await api.post("/stations", json={"stationId": STATION, "password": PASSWORD})
            assert created.status_code == 201, created.text
            settings = RuntimeSettings(
                url=f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                station_id=STATION,
                version=version,
                password=PASSWORD,
                database=tmp_path / "station.db",
                meter_tick_s=0.2,
                backoff=FAST,
            )
            station = DisplayedStation(settings)
            task = asyncio.create_task(station.run())
            try:
                async with asyncio.timeout(10):
                    await station.accepted.wait()
                yield api, station
            finally:
                await station.stop()
                await asyncio.wait_for(task, timeout=5)
    finally:
        await csms.stop(deadline=1.0)


async def set_variable(api: httpx.AsyncClient, component: str, variable: str, value: str) -> None:
    data = {"attributeValue": value, "component": {"name": component}, "variable": {"name": variable}}
    answer = await api.post(f"/stations/{STATION}/variables/set", json={"setVariableData": [data]})
    assert answer.status_code == 200, answer.text
    assert answer.json()[0]["attributeStatus"] == "Accepted"


async def transactions(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get(f"/transactions?station={STATION}")).json()["items"]
    return items


async def decisions(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await api.get(f"/authorization-log?stationId={STATION}")).json()["items"]
    return items


async def test_C02_start_button_without_authorization_our_station_and_csms(tmp_path: Path) -> None:
    async with csms_and_station(tmp_path) as (api, station):
        await set_variable(api, "AuthCtrlr", "Enabled", "false")
        station.plug()
        station.press_start_button(1)
        await until(lambda: station.core.transaction(1) is not None, "the transaction")
        found = await until(lambda: transactions(api), "the CSMS's transaction")
        assert found[0]["tokenType"] == "NoAuthorization"  # C02.FR.01
        assert found[0]["idToken"] in ("", None)
        assert found[0]["status"] == "active"  # C02.FR.02: the CSMS accepted it
        logged = await until(lambda: decisions(api), "the decision")
        assert {(d["tokenType"], d["context"], d["status"]) for d in logged} == {
            ("NoAuthorization", "TransactionEvent", "Accepted")  # no Authorize was sent
        }
        assert station.core.transaction(1) is not None  # not ended by a refusal


async def test_C03_paid_card_remote_start_with_central_token_is_not_reauthorized(tmp_path: Path) -> None:
    async with csms_and_station(tmp_path) as (api, station):
        await set_variable(api, "AuthCtrlr", "AuthorizeRemoteStart", "true")
        paid = {"idToken": "PAY-7F3A", "type": "Central"}  # what the payment system's approval created
        assert (await api.post("/id-tokens", json=paid)).status_code == 201
        station.plug()
        assert station.pay_by_card() is None  # 2.0.1: the terminal's own back office reaches the CSMS
        started = await api.post(
            f"/stations/{STATION}/remote-start",
            json={"idToken": "PAY-7F3A", "tokenType": "Central", "evseId": 1},
        )
        assert started.status_code == 200, started.text
        await until(lambda: station.core.transaction(1) is not None, "the transaction")
        found = await until(lambda: transactions(api), "the CSMS's transaction")
        assert (found[0]["idToken"], found[0]["tokenType"]) == ("PAY-7F3A", "Central")
        logged = await until(lambda: decisions(api), "the decision")
        assert all(d["context"] != "Authorize" for d in logged)  # C03.FR.01
        cache = station.core.ctx.get(_authorization()).cache.entries
        assert all(e.token_type != "Central" for e in cache.values())  # C03.FR.02


@pytest.mark.parametrize("accepted", [True, False])
async def test_C18_21_payment_terminal_direct_payment_our_station_and_csms(
    tmp_path: Path, accepted: bool
) -> None:
    async with csms_and_station(tmp_path, Version.V21, direct_payment=accepted) as (api, station):
        station.plug()
        psp_ref = station.pay_by_card()
        assert psp_ref is not None
        logged = await until(lambda: decisions(api), "the decision")
        assert (logged[-1]["idToken"], logged[-1]["tokenType"], logged[-1]["context"]) == (
            psp_ref,
            "DirectPayment",
            "Authorize",
        )  # C18.FR.04 (PaymentCtrlr.AuthorizeDirectPayment true by default)
        if not accepted:  # the CSMS does not take ad hoc payments: no charging (C18.FR.07)
            assert logged[-1]["status"] == "Unknown"
            await until(lambda: any("Unknown" in text for text in station.shown), "the refusal")
            assert station.core.transaction(1) is None
            return
        await until(lambda: station.core.transaction(1) is not None, "the transaction")
        found = await until(lambda: transactions(api), "the CSMS's transaction")
        assert (found[0]["idToken"], found[0]["tokenType"]) == (psp_ref, "DirectPayment")  # C18.FR.06


def _authorization() -> Any:
    from chargeplane.station.core.authorization import Authorization

    return Authorization


async def test_C04_pin_code_our_station_and_csms(tmp_path: Path) -> None:
    async with csms_and_station(tmp_path) as (api, station):
        assert (await api.post("/id-tokens", json={"idToken": "80451", "type": "KeyCode"})).status_code == 201
        station.plug()
        station.enter_pin("11111")
        await until(lambda: "PIN: Invalid" in station.shown, "the refusal")  # C04.FR.01
        station.enter_pin("80451")
        await until(lambda: station.core.transaction(1) is not None, "the transaction")  # C04.FR.02
        found = await until(lambda: transactions(api), "the CSMS's transaction")
        assert found[0]["tokenType"] == "KeyCode"
        logged = await until(lambda: _three(api), "the decisions")
        assert [(d["context"], d["status"]) for d in reversed(logged)] == [
            ("Authorize", "Invalid"),
            ("Authorize", "Accepted"),
            ("TransactionEvent", "Accepted"),
        ]
        assert all("80451" not in d["idToken"] and "11111" not in d["idToken"] for d in logged)  # C04.FR.04
        assert all("80451" not in text and "11111" not in text for text in station.shown)


async def _three(api: httpx.AsyncClient) -> list[dict[str, Any]] | None:
    logged = await decisions(api)
    return logged if len(logged) >= 3 else None


async def test_C04_pin_start_seen_by_the_ocpp_package_csms() -> None:
    behaviour = CsmsBehaviour()
    async with peer_csms(behaviour) as url:
        settings = RuntimeSettings(
            url=url, station_id="CS001", database=":memory:", meter_tick_s=0.05, backoff=FAST
        )
        runtime = StationRuntime(settings)
        task = asyncio.create_task(runtime.run())
        try:
            await wait_for(lambda: len(behaviour.of("StatusNotification")) >= 1)
            runtime.plug()
            runtime.enter_pin("2468")
            await wait_for(lambda: runtime.core.transaction(1) is not None)
            await wait_for(lambda: len(behaviour.of("TransactionEvent")) >= 2)
        finally:
            await runtime.stop()
            await asyncio.wait_for(task, timeout=5)
    (asked,) = behaviour.of("Authorize")
    assert asked["id_token"] == {"id_token": "2468", "type": "KeyCode"}
    with_token = [e for e in behaviour.of("TransactionEvent") if "id_token" in e]
    assert with_token[0]["id_token"] == {"id_token": "2468", "type": "KeyCode"}
    assert with_token[0]["trigger_reason"] == "Authorized"
