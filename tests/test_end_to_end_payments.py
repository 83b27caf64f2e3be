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

from chargeplane.csms.blocks.tariffs.settings import TariffsSettings
from chargeplane.ocpp.versions import Version
from tests.test_end_to_end_local_auth import STATION, csms_and_station
from tests.test_end_to_end_tariff import until

TARIFF = {  # high enough for a session of seconds to cost cents
    "tariffId": "adhoc",
    "currency": "EUR",
    "energy": {"prices": [{"priceKwh": 60}], "taxRates": [{"type": "vat", "tax": 21}]},
}


async def test_C18_C21_terminal_payment_settled_for_the_csms_cost(tmp_path: Path) -> None:
    tariffs = TariffsSettings(cost_updated_interval=0)
    async with csms_and_station(tmp_path, Version.V21, True, tariffs) as (api, station):
        assert (await api.post("/tariffs", json={"tariff": TARIFF, "default": True})).status_code == 201
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

        async def final_cost() -> dict[str, Any] | None:
            # The terminal settles as the Ended event leaves the station; under load that event can be
            # answered after the settlement (a call timed out and sent again).
            found: dict[str, Any] = (await api.get(payment["costUrl"].removeprefix("/api/v1"))).json()
            return found if found["status"] == "ended" else None

        cost = await until(final_cost, "the final cost")
        async with httpx.AsyncClient() as driver:  # the driver's phone: no API token
            page = await driver.get(receipt_url)
    assert (payment["pspRef"], payment["source"], payment["settledBy"]) == (psp_ref, "terminal", "station")
    assert payment["authorized"] == "50.00"  # C18.FR.06: PaymentCtrlr.AuthorizationAmount as maxCost
    assert cost["status"] == "ended"
    assert cost["mismatch"] is None
    assert Decimal(payment["captured"]) == Decimal(cost["totalInclTax"])  # the terminal took the CSMS's cost
    assert Decimal(payment["captured"]) > 0
    assert receipt_url.startswith(f"{str(api.base_url).rstrip('/')}/pay/receipts/")
    assert page.status_code == 200
    assert payment["captured"] in page.text
