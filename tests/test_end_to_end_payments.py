"""Payments end to end on loopback: OUR 2.1 station runtime and OUR CSMS (in-process, SQLite, through the HTTP
API only): a card paid at the station's terminal (C18), the session priced by the station's local tariff and by
the CSMS, settled by the terminal with NotifySettlement (C21) for the amount the CSMS computed, the CSMS's
receipt URL shown to the driver and served."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings
from chargeplane.csms.settings import CsmsSettings
from chargeplane.ocpp.versions import Version
from chargeplane.station.runtime import RuntimeSettings
from chargeplane.transport.backoff import BackOffSettings
from chargeplane.transport.server import ServerSettings
from tests.test_end_to_end_tariff import DisplayedStation, until

PASSWORD = "e2e-password-0123456789"
STATION = "E2EPAY"
TARIFF = {  # high enough for a session of seconds to cost cents
    "tariffId": "adhoc",
    "currency": "EUR",
    "energy": {"prices": [{"priceKwh": 60}], "taxRates": [{"type": "vat", "tax": 21}]},
}


async def test_C18_C21_terminal_payment_settled_for_the_csms_cost(tmp_path: Path) -> None:
    csms = Csms(
        CsmsSettings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'csms.db'}",
            ocpp=ServerSettings(host="127.0.0.1", port=0, tls_port=None),
            api_host="127.0.0.1",
            api_port=0,
            blocks=(
                ProvisioningSettings(presence_flush_interval=0.2),
                AuthorizationSettings(direct_payment=True),
                TariffsSettings(cost_updated_interval=0),
            ),
        )
    )
    token = await csms.start()
    assert token is not None
    try:
        base = f"http://127.0.0.1:{csms.api_port}"
        async with httpx.AsyncClient(
            base_url=f"{base}/api/v1", headers={"Authorization": f"Bearer {token}"}
        ) as api:
            created = await api.post("/stations", json={"stationId": STATION, "password": PASSWORD})
            assert created.status_code == 201, created.text
            assert (await api.post("/tariffs", json={"tariff": TARIFF, "default": True})).status_code == 201
            settings = RuntimeSettings(
                url=f"ws://127.0.0.1:{csms.server.ports[0]}/ocpp",
                station_id=STATION,
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
                installed = await api.post(f"/stations/{STATION}/tariffs/default", json={"tariffId": "adhoc"})
                assert installed.json()["status"] == "Accepted", installed.text  # the station prices locally
                station.plug()
                psp_ref = station.pay_by_card()
                assert psp_ref is not None
                await until(lambda: station.core.transaction(1) is not None, "the transaction")
                await asyncio.sleep(2.0)  # charging
                station.unplug()

                async def settled() -> dict[str, Any] | None:
                    items = (await api.get(f"/payments?stationId={STATION}")).json()["items"]
                    return items[0] if items and items[0]["status"] == "Settled" else None

                payment = await until(settled, "the settlement")
                receipt_url = await until(
                    lambda: next((t[9:] for t in station.shown if t.startswith("Receipt: ")), None),
                    "the receipt on the display",
                )
                cost = (await api.get(payment["costUrl"].removeprefix("/api/v1"))).json()
                async with httpx.AsyncClient() as driver:
                    page = await driver.get(receipt_url)
            finally:
                await station.stop()
                await asyncio.wait_for(task, timeout=5)
    finally:
        await csms.stop(deadline=1.0)
    assert (payment["pspRef"], payment["source"], payment["settledBy"]) == (psp_ref, "terminal", "station")
    assert payment["authorized"] == "50.00"  # C18.FR.06: PaymentCtrlr.AuthorizationAmount as maxCost
    assert cost["status"] == "ended"
    assert cost["mismatch"] is None
    assert Decimal(payment["captured"]) == Decimal(cost["totalInclTax"])  # the terminal took the CSMS's cost
    assert Decimal(payment["captured"]) > 0
    assert receipt_url.startswith(f"{base}/api/v1/pay/receipts/")
    assert page.status_code == 200
    assert payment["captured"] in page.text
