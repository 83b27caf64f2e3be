"""The 2.1 payment use cases beyond the terminal's C18/C21 end to end on loopback: OUR 2.1 station runtime and
OUR CSMS (in-process, SQLite, the CSMS driven through its HTTP API and its public payment pages only): the
dynamic QR code (C25), the kiosk (C24) with the CSMS's incremental authorization (C23), a prepaid account
(C17) and the terminal's cancellation before and after the start (C19, C20). The station runs at
``time_scale`` so that minutes of charging pass in a second."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from chargeplane.csms.blocks.payments.settings import PaymentsSettings
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings
from chargeplane.station.core.payments import Payments
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_payments import TARIFF
from tests.test_end_to_end_tariff import until

STATION = "E2EPAY21"
CARD = "4111111111111111"  # Luhn-valid: the test provider approves it
FAST_COST = TariffsSettings(cost_updated_interval=0)


async def with_tariff(api: httpx.AsyncClient) -> None:
    """The CSMS prices every session at 60/kWh + 21 % VAT (72.60 a kWh): cents within simulated seconds."""
    assert (await api.post("/tariffs", json={"tariff": TARIFF, "default": True})).status_code == 201


async def payments(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await api.get(f"/payments?stationId={STATION}")
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def payment_in(api: httpx.AsyncClient, status: str) -> dict[str, Any] | None:
    found = [p for p in await payments(api) if p["status"] == status]
    return found[0] if found else None


async def test_C25_dynamic_qr_paid_on_the_csms_page_starts_limited_and_is_captured(tmp_path: Path) -> None:
    blocks = (PaymentsSettings(web_payment_secret="e2e-web-secret"), FAST_COST)
    async with csms_and_station(tmp_path, STATION, [], blocks=blocks, time_scale=30.0) as (api, station):
        await with_tariff(api)
        configured = await api.post(f"/stations/{STATION}/web-payments/dynamic-qr", json={"enabled": True})
        assert configured.status_code == 200, configured.text
        assert set(configured.json().values()) == {"Accepted"}, configured.text  # C25.FR.50
        url = station.payment_url(1, {"maxenergy": 100})  # the driver wants at most 0.1 kWh (C25.FR.04)
        assert url is not None
        assert url.startswith(f"{api.base_url}pay/{STATION}/1/") and url.endswith("?maxenergy=100")
        async with httpx.AsyncClient() as phone:  # the driver's phone: no API token
            page = await phone.get(url)  # C25.FR.07/09: the code checks out, the page is shown
            assert page.status_code == 200, page.text
            assert "0.1 kWh" in page.text
            # C25.FR.21: the station holds the EVSE for the driver on the page
            await until(lambda: 1 in station.core.ctx.get(Payments).web_holds, "the EVSE held")
            paid = await phone.post(url, data={"card": CARD})  # C25.FR.23
        assert paid.status_code == 200, paid.text
        payment = await until(lambda: payment_in(api, "Authorized"), "the pre-authorisation")
        assert (payment["source"], payment["authorized"]) == ("web", "50.00")
        assert payment["driverLimits"] == {"maxEnergy": 100.0}
        station.plug()  # C25.FR.23: the RequestStartTransaction with the DirectPayment token was accepted
        tx = await until(lambda: station.core.transaction(1), "the transaction")
        assert tx.token is not None and (tx.token.value, tx.token.type) == (payment["pspRef"], "DirectPayment")
        await until(lambda: tx.limit_reached, "the energy limit of the QR code (C25.FR.04)")
        assert tx.limits.get("maxEnergy") == 100.0
        energy = station.hardware.evses[1].energy_wh
        station.unplug()
        settled = await until(lambda: payment_in(api, "Settled"), "the capture (C25.FR.40)")
        cost = (await api.get(settled["costUrl"].removeprefix("/api/v1"))).json()
        async with httpx.AsyncClient() as phone:
            receipt = await phone.get(f"{api.base_url}pay/receipts/{settled['receiptId']}")
    assert energy < 120  # stopped at the driver's maximum (a meter tick of slack)
    assert settled["settledBy"] == "csms"
    assert Decimal(settled["captured"]) == Decimal(cost["totalInclTax"]) > 0
    assert receipt.status_code == 200
    assert settled["captured"] in receipt.text
