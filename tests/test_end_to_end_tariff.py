"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API
only: a time-of-day tariff installed on the station (I07), a charging session priced locally by the station
(I12 costDetails) and by the CSMS from the same TransactionEvents; the two agree to the cent, the driver is shown
the final cost the CSMS answered (I03), and the receipt is in the API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings, TariffText
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.model import ShowMessage
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests import migrated_databases

PASSWORD = "e2e-password-0123456789"
CARD = "E2ECARD02"


class DisplayedStation(StationRuntime):
    """Our station runtime, keeping what its display showed."""

    def __init__(self, settings: RuntimeSettings) -> None:
        super().__init__(settings)
        self.shown: list[str] = []

    def _apply(self, action: object) -> None:
        if isinstance(action, ShowMessage):
            self.shown.append(action.text)
        super()._apply(action)


async def until(check: Callable[[], Awaitable[Any] | Any], what: str, seconds: float = 20.0) -> Any:
    async with asyncio.timeout(seconds):
        while True:
            found = check()
            if asyncio.iscoroutine(found):
                found = await found
            if found:
                return found
            await asyncio.sleep(0.05)
    raise AssertionError(what)  # pragma: no cover


def time_of_day_tariff(now: datetime) -> dict[str, Any]:
    """50/kWh in the hour window around now, 20 outside; 6 per charging minute; 21 % VAT (prices high enough
    for a session of seconds to cost cents)."""
    start, end = (
        (now - timedelta(minutes=30)).strftime("%H:%M"),
        (now + timedelta(minutes=30)).strftime("%H:%M"),
    )
    vat = [{"type": "vat", "tax": 21}]
    return {
        "tariffId": "tod",
        "currency": "EUR",
        "description": [{"format": "UTF8", "content": "50 EUR/kWh now, 20 off-peak"}],
        "energy": {
            "prices": [
                {"priceKwh": 50, "conditions": {"startTimeOfDay": start, "endTimeOfDay": end}},
                {"priceKwh": 20},
            ],
            "taxRates": vat,
        },
        "chargingTime": {"prices": [{"priceMinute": 6}], "taxRates": vat},
    }


async def test_I07_I12_our_21_station_and_our_csms_agree_on_a_time_of_day_cost(tmp_path: Path) -> None:
    csms = Csms(
        CsmsSettings(
            database_url=migrated_databases.sqlite_url(tmp_path),
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(
                ProvisioningSettings(presence_flush_interval=0.2),
                TariffsSettings(cost_updated_interval=0, tariff_text=TariffText.ALWAYS),
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
            assert (
                await api.post("/stations", json={"stationId": "E2E2", "password": PASSWORD})
            ).status_code == 201
            card = {"idToken": CARD, "type": "ISO14443"}
            assert (await api.post("/id-tokens", json=card)).status_code == 201
            tariff = time_of_day_tariff(datetime.now(UTC))
            created = await api.post("/tariffs", json={"tariff": tariff, "default": True})
            assert created.status_code == 201, created.text
            settings = RuntimeSettings(
                url=f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                station_id="E2E2",
                version=Version.V21,
                password=PASSWORD,
                database=tmp_path / "station.db",
                meter_tick_s=0.2,
                backoff=BackOffSettings(0.1, 0.0, 1),
            )
            station = DisplayedStation(settings)
            task = asyncio.create_task(station.run())
            try:
                async with asyncio.timeout(10):
                    await station.accepted.wait()
                installed = await api.post("/stations/E2E2/tariffs/default", json={"tariffId": "tod"})
                assert installed.status_code == 200, installed.text
                assert installed.json()["status"] == "Accepted"
                station.plug()
                station.present_token(CARD)
                await until(lambda: station.core.transaction(1) is not None, "the transaction")
                await asyncio.sleep(2.5)  # charging
                station.unplug()

                async def receipt() -> dict[str, Any] | None:
                    page = (await api.get("/transactions?station=E2E2")).json()
                    if not page["items"]:
                        return None
                    answer = await api.get(f"/transactions/{page['items'][0]['id']}/cost")
                    found: dict[str, Any] = answer.json()
                    return found if answer.status_code == 200 and found["status"] == "ended" else None

                done = await until(receipt, "the receipt")
                await until(lambda: any(t.startswith("Total cost") for t in station.shown), "the total shown")
            finally:
                await station.stop()
                await asyncio.wait_for(task, timeout=5)
    finally:
        await csms.stop(deadline=1.0)
    assert done["tariffId"] == "tod"
    assert done["mismatch"] is None, done
    ours = Decimal(done["totalInclTax"])
    theirs = done["stationCostDetails"]["totalCost"]["total"]
    assert Decimal(repr(theirs["inclTax"])) == ours  # to the cent
    assert Decimal(repr(theirs["exclTax"])) == Decimal(done["totalExclTax"])
    assert ours > 0, done
    usage = done["costDetails"]["totalUsage"]
    assert usage["energy"] > 0
    assert usage["chargingTime"] >= 1
    assert f"Total cost: {ours} EUR" in station.shown  # I03.FR.03: the CSMS's final cost on the display
    assert "Tariff: 50 EUR/kWh now, 20 off-peak" in station.shown  # I01.FR.03
