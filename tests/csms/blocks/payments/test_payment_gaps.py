"""Payments on the CSMS side against ``ocpp`` v21 peer stations: the driver's maxima of the QR code's URL as
transaction limits (C25.FR.59), the receipt URL on the station's display (C24.FR.11 / C25.FR.41), the
terminal's card details kept masked (C18.FR.04/06)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any, cast

import ocpp.v21
import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.payments.receipt_display import ReceiptDisplay, ReceiptNotice
from tests.csms.blocks.payments.test_payments import (
    FLAT_TARIFF,
    VISA,
    Station,
    _json,
    csms,
    event,
    provider_of,
)
from tests.csms.blocks.remote_control.test_remote_control import eventually
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot, peer

__all__ = ["csms"]  # the fixture, SQLite and PostgreSQL


class DisplayStation(Station):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.displayed: list[dict[str, Any]] = []

    @on("SetDisplayMessage")
    def set_display_message(self, message: dict[str, Any], **_: Any) -> Any:
        self.displayed.append(message)
        return ocpp.v21.call_result.SetDisplayMessage(status="Accepted")


async def test_C25_FR_59_maxenergy_and_maxtime_of_the_qr_url_become_the_transaction_limits(
    csms: RunningCsms,
) -> None:
    path = "/api/v1/pay/CS1/1?maxenergy=20000&maxtime=1800&maxcost=20"
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        page = await csms.api.get(path)
        assert page.status_code == 200
        assert "20 kWh" in page.text
        assert "30 min" in page.text
        assert (await csms.api.get("/api/v1/pay/CS1/1?maxtime=ten")).status_code == 400
        paid = await csms.api.post(path, data={"card": VISA})
        assert paid.status_code == 200, paid.text
        (start,) = station.starts
        psp_ref = start["id_token"]["id_token"]
        assert provider_of(csms).held[psp_ref] == 20  # maxcost: less than the setting's 50
        started = await station.call(
            event(
                "Started",
                0,
                0,
                0,
                id_token={"id_token": psp_ref, "type": "DirectPayment"},
                trigger="RemoteStart",
            )
        )
        # C25.FR.24 with C25.FR.59: every maximum of the URL, once
        assert started.transaction_limit == {"max_cost": 20.0, "max_energy": 20000.0, "max_time": 1800}
        again = await station.call(event("Updated", 1, 60, 100))
        assert again.transaction_limit is None
    (payment,) = (await _json(csms, "GET", "/payments"))["items"]
    assert payment["driverLimits"] == {"maxEnergy": 20000.0, "maxTime": 1800.0}


async def test_C24_FR_11_C25_FR_41_receipt_url_sent_to_the_display_after_the_csms_settled(
    csms: RunningCsms,
) -> None:
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=DisplayStation) as station:
        await boot(station, "2.1")
        body = {"stationId": "CS1", "evseId": 1, "pspRef": "KIOSK-9", "amount": "20.00"}
        payment = await _json(csms, "POST", "/payments/kiosk", json=body)
        token = {"id_token": "KIOSK-9", "type": "DirectPayment"}
        await station.call(event("Started", 0, 0, 0, id_token=token, trigger="RemoteStart"))
        assert station.displayed == []  # nothing settled yet
        await station.call(
            event("Ended", 1, 600, 10000, trigger="StopAuthorized", info={"stopped_reason": "Local"})
        )
        await eventually(
            lambda: bool(station.displayed), within=15
        )  # sent after the answer, in the background

        async def answer_recorded() -> list[str]:
            requests = await _json(csms, "GET", "/stations/CS1/display-messages/requests")
            return [r["status"] for r in requests["items"]]

        for _ in range(300):  # the station's answer is stored once it arrives
            if await answer_recorded() == ["Accepted"]:
                break
            await asyncio.sleep(0.05)
        assert await answer_recorded() == ["Accepted"]  # recorded by display_messages
    settled = await _json(csms, "GET", f"/payments/{payment['id']}")
    assert settled["status"] == "Settled"
    (message,) = station.displayed
    assert message["message"]["content"].endswith(f"/api/v1/pay/receipts/{settled['receiptId']}")
    assert message["message"]["format"] == "UTF8"  # SupportedFormats not reported: plain text
    assert "transaction_id" not in message  # the transaction is over (O02 would drop the message at once)
    assert message["end_date_time"] > message["start_date_time"]


async def test_C18_FR_04_FR_06_terminal_card_details_stored_without_the_card_number(
    csms: RunningCsms,
) -> None:
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        card = [
            {"additional_id_token": "411111", "type": "CardBin"},
            {"additional_id_token": "1111", "type": "CardLast4Digits"},
            {"additional_id_token": "Visa", "type": "PaymentBrand"},
            {"additional_id_token": "Contactless", "type": "ReadingMethod"},
            {"additional_id_token": "4111111111111111", "type": "CardNumber"},  # never kept
            {"additional_id_token": "4111111111111111", "type": "PaymentRecognition"},  # not its form
        ]
        token = {"id_token": "PSP-CARD", "type": "DirectPayment", "additional_info": card}
        started = await station.call(
            event(
                "Started",
                0,
                0,
                0,
                id_token=token,
                trigger="Authorized",
                info={"transaction_limit": {"max_cost": 25}},
            )
        )
        assert started.id_token_info["status"] == "Accepted"
    (payment,) = (await _json(csms, "GET", "/payments?stationId=CS1"))["items"]
    assert (payment["source"], payment["cardBin"], payment["cardLast4"]) == ("terminal", "411111", "1111")
    assert payment["cardDetails"] == {
        "CardBin": "411111",
        "CardLast4Digits": "1111",
        "PaymentBrand": "Visa",
        "ReadingMethod": "Contactless",
    }
    assert "4111111111111111" not in str(await _json(csms, "GET", f"/payments/{payment['id']}"))


class _Inventory:
    def __init__(self, values: dict[str, str]) -> None:
        self.known = values

    async def values(self, station_id: str, keys: list[str]) -> dict[str, tuple[str | None, datetime]]:
        now = datetime.now(UTC)
        return {key: (self.known[key], now) for key in keys if key in self.known}


class _Display:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def set_message(self, station_id: str, info: dict[str, Any]) -> Any:
        self.sent.append(info)
        return SimpleNamespace(status="Accepted")


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ({"DisplayMessageCtrlr/Available:Actual": "false"}, None),  # no display: nothing sent
        ({"DisplayMessageCtrlr/Enabled:Actual": "false"}, None),
        ({"DisplayMessageCtrlr/SupportedFormats:Actual": "ASCII,URI"}, "URI"),
        ({"DisplayMessageCtrlr/SupportedFormats:Actual": "ASCII"}, "ASCII"),
        ({"DisplayMessageCtrlr/SupportedFormats:Actual": "HTML"}, None),
    ],
)
async def test_C25_FR_41_receipt_only_to_a_display_that_can_show_it(
    reported: dict[str, str], expected: str | None
) -> None:
    display = _Display()
    clock: Any = SimpleNamespace(now=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    receipts = ReceiptDisplay(cast(Any, display), cast(Any, _Inventory(reported)), clock, 300)
    status = await receipts.send(ReceiptNotice("CS1", "https://csms.example/r/1"))
    assert [m["message"]["format"] for m in display.sent] == ([expected] if expected else [])
    assert status == ("Accepted" if expected else None)
