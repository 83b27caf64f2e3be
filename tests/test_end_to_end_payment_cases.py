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
from chargeplane.station.core.display_messages import DisplayMessages
from chargeplane.station.core.payments import Payments
from chargeplane.station.hardware import SimulatedEv
from tests.end_to_end import csms_and_station
from tests.test_end_to_end_payments import TARIFF
from tests.test_end_to_end_tariff import until

STATION = "E2EPAY21"
CARD = "4111111111111111"  # Luhn-valid: the test provider approves it
FAST_COST = TariffsSettings(cost_updated_interval=0)
# I02: the running cost answers every TransactionEvent Updated, sent every second (deadlines follow the
# station's clock, real time here; time_scale 30 makes each meter tick count 30 times the energy): a 250 W EV
# then costs about 0.15 a second, so a limit of some tens of cents is reached within seconds
RUNNING_COST = TariffsSettings(cost_updated_interval=0, running_cost_in_response=True)
OFTEN = {"variables": {("SampledDataCtrlr", "TxUpdatedInterval", None): "1"}, "time_scale": 30.0}


def slow_ev() -> SimulatedEv:
    return SimulatedEv(max_power_w=250.0)


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
        assert url.startswith(f"{api.base_url}pay/{STATION}/1/")
        assert url.endswith("?maxenergy=100")
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
        assert tx.token is not None
        assert (tx.token.value, tx.token.type) == (
            payment["pspRef"],
            "DirectPayment",
        )
        await until(lambda: tx.limit_reached, "the energy limit of the QR code (C25.FR.04)")
        assert tx.limits.get("maxEnergy") == 100.0
        energy = station.hardware.evses[1].energy_wh
        station.unplug()
        settled = await until(lambda: payment_in(api, "Settled"), "the capture (C25.FR.40)")
        cost = (await api.get(settled["costUrl"].removeprefix("/api/v1"))).json()
        receipt_url = f"{api.base_url}pay/receipts/{settled['receiptId']}"

        def on_display() -> bool:  # C25.FR.41: SetDisplayMessage with the receipt's URL
            items = station.core.ctx.get(DisplayMessages).items.values()
            return any(text == receipt_url for item in items for _, _, text in item.contents)

        await until(on_display, "the receipt's URL on the station's display")
        async with httpx.AsyncClient() as phone:
            receipt = await phone.get(receipt_url)
    assert energy < 120  # stopped at the driver's maximum (a meter tick of slack)
    assert settled["settledBy"] == "csms"
    assert Decimal(settled["captured"]) == Decimal(cost["totalInclTax"]) > 0
    assert receipt.status_code == 200
    assert settled["captured"] in receipt.text


async def test_C24_kiosk_payment_started_C23_raised_as_the_cost_nears_it(tmp_path: Path) -> None:
    # a 0.50 hold raised by 1.00 once the cost passes 0.20 (C23.FR.01): within two seconds
    rules = PaymentsSettings(incremental_amount="1.00", incremental_threshold="0.30", receipt_display_time=0)
    blocks = (rules, RUNNING_COST)
    async with csms_and_station(tmp_path, STATION, [], blocks=blocks, **OFTEN) as (api, station):
        await with_tariff(api)
        station.plug(ev=slow_ev())
        kiosk = {
            "stationId": STATION,
            "evseId": 1,
            "pspRef": "KIOSK-PSP-1",
            "amount": "0.50",
            "cardLast4": "1111",
        }
        started = await api.post("/payments/kiosk", json=kiosk)  # C24.FR.01
        assert started.status_code == 200, started.text
        assert started.json()["status"] == "Authorized"
        tx = await until(lambda: station.core.transaction(1), "the transaction")
        assert tx.token is not None
        assert (tx.token.value, tx.token.type) == ("KIOSK-PSP-1", "DirectPayment")
        await until(lambda: tx.limits.get("maxCost") == 0.5, "maxCost = the kiosk's amount (C24.FR.02)")
        await until(lambda: tx.limits.get("maxCost") == 1.5, "maxCost raised by the CSMS (C23)")
        station.unplug()
        settled = await until(lambda: payment_in(api, "Settled"), "the capture (C24.FR.10)")
        cost = (await api.get(settled["costUrl"].removeprefix("/api/v1"))).json()
    assert Decimal(settled["authorized"]) >= Decimal("1.50")  # raised (C23.FR.01), maybe more than once
    assert (settled["source"], settled["settledBy"], settled["cardLast4"]) == ("kiosk", "csms", "1111")
    assert (
        Decimal(settled["authorized"])
        >= Decimal(settled["captured"])
        == Decimal(cost["totalInclTax"])
        > Decimal("0.20")
    )


async def test_C17_prepaid_balance_is_the_limit_and_is_debited(tmp_path: Path) -> None:
    card = {"idToken": "PREPAID-1", "type": "ISO14443"}
    blocks = (PaymentsSettings(), RUNNING_COST)
    async with csms_and_station(tmp_path, STATION, [card], blocks=blocks, **OFTEN) as (api, station):
        await with_tariff(api)
        funded = await api.put("/prepaid-accounts/PREPAID-1", json={"balance": "0.50"})
        assert funded.status_code == 200, funded.text
        station.plug(ev=slow_ev())
        station.present_token("PREPAID-1")
        tx = await until(lambda: station.core.transaction(1), "the transaction")
        await until(lambda: tx.limits.get("maxCost") == 0.5, "maxCost = the balance (C17.FR.03)")
        await until(lambda: tx.limit_reached, "the cost limit reached")
        reached = tx.limit_reached
        station.unplug()
        await until(lambda: station.core.transaction(1) is None, "the end")

        async def debited() -> dict[str, Any] | None:
            account: dict[str, Any] = (await api.get("/prepaid-accounts/PREPAID-1")).json()
            return account if Decimal(account["balance"]) < Decimal("0.50") else None

        account = await until(debited, "the cost taken off the balance (C17)")
        asked = station.calls_sent
        station.present_token("PREPAID-1")  # C17.FR.02/05: no credit left, not cached: asked and refused
        await until(lambda: station.calls_sent > asked and station.in_flight == 0, "the Authorize answered")
        refused = station.core.ctx.evses[1].authorized
        ended = (await api.get(f"/transactions?stationId={STATION}")).json()["items"][0]
        cost = (await api.get(f"/transactions/{ended['id']}/cost")).json()
    assert reached == "CostLimitReached"
    assert refused is None
    assert Decimal(account["balance"]) == Decimal("0.50") - Decimal(cost["totalInclTax"])
    assert Decimal("0.50") <= Decimal(cost["totalInclTax"]) <= Decimal("0.70")  # at the balance (+ a second)


async def test_C19_canceled_on_the_terminal_before_the_start_is_released(tmp_path: Path) -> None:
    async with csms_and_station(tmp_path, STATION, [], blocks=(PaymentsSettings(),)) as (api, station):
        psp_ref = station.pay_by_card()
        assert psp_ref is not None
        await until(lambda: station.core.ctx.evses[1].authorized is not None, "the card authorised")
        station.cancel_payment()
        canceled = await until(lambda: payment_in(api, "Canceled"), "NotifySettlement Canceled (C19.FR.02)")
    assert station.core.payment_terminal.released == [psp_ref]  # C19.FR.01
    assert station.core.transaction(1) is None
    assert (canceled["pspRef"], canceled["settledBy"], canceled["transactionId"]) == (
        psp_ref,
        "station",
        None,
    )


async def test_C19_ev_never_connected_after_the_card_is_released(tmp_path: Path) -> None:
    timeout = {("TxCtrlr", "EVConnectionTimeOut", None): "1"}  # C19.FR.01: or EVConnectionTimeOut occurs
    async with csms_and_station(tmp_path, STATION, [], blocks=(PaymentsSettings(),), variables=timeout) as (
        api,
        station,
    ):
        psp_ref = station.pay_by_card()
        assert psp_ref is not None
        canceled = await until(lambda: payment_in(api, "Canceled"), "NotifySettlement Canceled (C19.FR.02)")
    assert station.core.payment_terminal.released == [psp_ref]
    assert (canceled["pspRef"], canceled["transactionId"]) == (psp_ref, None)


async def test_C20_canceled_on_the_terminal_after_the_start_ends_it_without_cost(tmp_path: Path) -> None:
    blocks = (PaymentsSettings(), FAST_COST)
    async with csms_and_station(tmp_path, STATION, [], blocks=blocks) as (api, station):
        await with_tariff(api)  # priced, yet nothing is delivered before the driver cancels
        psp_ref = station.pay_by_card()
        assert psp_ref is not None
        station.plug(ev=SimulatedEv(draws_power=False))
        tx = await until(lambda: station.core.transaction(1), "the transaction")
        station.cancel_payment()  # C20.FR.01: the transaction ends, StopAuthorized
        await until(lambda: station.core.transaction(1) is None, "the transaction ended")
        canceled = await until(lambda: payment_in(api, "Canceled"), "NotifySettlement Canceled (C20.FR.05)")
        ended = (await api.get(f"/transactions?stationId={STATION}")).json()["items"][0]
        cost = (await api.get(f"/transactions/{ended['id']}/cost")).json()
    assert (ended["transactionId"], ended["status"], ended["stopReason"]) == (tx.id, "ended", "Local")
    assert Decimal(cost["totalInclTax"]) == 0  # C20.FR.03: the CSMS's totalCost 0
    assert station.core.payment_terminal.released == [psp_ref]  # C20.FR.04
    assert (canceled["pspRef"], canceled["transactionId"], canceled["settledBy"]) == (
        psp_ref,
        tx.id,
        "station",
    )


async def test_C25_paid_but_never_plugged_in_the_csms_releases_the_pre_authorisation(tmp_path: Path) -> None:
    # TxStartPoint PowerPathClosed: at EVConnectionTimeOut the station drops the remote start and says
    # nothing, so the CSMS releases after start_timeout (checked every second with retry_interval 4)
    rules = PaymentsSettings(web_payment_secret="e2e-web-secret", start_timeout=2, retry_interval=4.0)
    timeout = {("TxCtrlr", "EVConnectionTimeOut", None): "1"}
    async with csms_and_station(tmp_path, STATION, [], blocks=(rules,), variables=timeout) as (api, station):
        assert (await api.post(f"/stations/{STATION}/web-payments/dynamic-qr", json={})).status_code == 200
        url = station.payment_url(1)
        assert url is not None
        async with httpx.AsyncClient() as phone:
            assert (await phone.get(url)).status_code == 200
            assert (await phone.post(url, data={"card": CARD})).status_code == 200
        assert await payment_in(api, "Authorized") is not None
        await until(lambda: station.core.ctx.evses[1].authorized is None, "the remote start dropped")
        released = await until(lambda: payment_in(api, "Canceled"), "the pre-authorisation released", 10)
    assert station.core.transaction(1) is None
    assert released["transactionId"] is None
    assert "no transaction started" in released["statusInfo"]
