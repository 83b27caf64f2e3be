"""Payments on the CSMS side (2.1 C17, C19-C25) against peer stations of the ``ocpp`` package (v21): settlements
stored (and retried through the test provider when they fail), VAT numbers, the kiosk and the QR payment page
starting transactions with their cost limit, the CSMS's own capture and increase, prepaid balances."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import ocpp.v21
import pytest
from ocpp.routing import on

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.payments.provider import DECLINED_CARD, TestProvider
from chargeplane.csms.blocks.payments.service import PaymentService
from chargeplane.csms.blocks.payments.settings import PaymentsSettings
from chargeplane.csms.blocks.payments.vat import Company, TestVatValidator
from chargeplane.csms.blocks.tariffs.settings import TariffsSettings
from chargeplane.ocpp.totp import totp_v1
from tests.csms.blocks.tariffs.test_tariffs import at
from tests.csms.blocks.tariffs.test_tariffs import event as tariff_event
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import boot, peer

VISA = "4111111111111111"
FLAT_TARIFF = {"tariffId": "flat", "currency": "EUR", "energy": {"prices": [{"priceKwh": 0.30}]}}


@pytest.fixture
async def csms(database_url: str) -> AsyncIterator[RunningCsms]:
    settings = settings_for(
        database_url,
        PaymentsSettings(incremental_amount="5.00", incremental_threshold="1.00", retry_interval=60),
        TariffsSettings(cost_updated_interval=0),
    )
    async with running(settings) as running_csms:
        await running_csms.add_station("CS1")
        yield running_csms


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def service_of(csms: RunningCsms) -> PaymentService:
    return csms.app.blocks.require(PaymentService)


def provider_of(csms: RunningCsms) -> TestProvider:
    provider = service_of(csms).provider
    assert isinstance(provider, TestProvider)
    return provider


class Station(ocpp.v21.ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.web_payments: list[tuple[int, int]] = []
        self.starts: list[dict[str, Any]] = []
        self.start_status = "Accepted"
        self.variables: dict[str, str] = {}

    @on("NotifyWebPaymentStarted")
    def web_payment_started(self, evse_id: int, timeout: int, **_: Any) -> Any:
        self.web_payments.append((evse_id, timeout))
        return ocpp.v21.call_result.NotifyWebPaymentStarted()

    @on("SetVariables")
    def set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self.variables.update({d["variable"]["name"]: d["attribute_value"] for d in set_variable_data})
        results = [
            {"attribute_status": "Accepted", "component": d["component"], "variable": d["variable"]}
            for d in set_variable_data
        ]
        return ocpp.v21.call_result.SetVariables(set_variable_result=results)

    @on("RequestStartTransaction")
    def request_start(self, id_token: dict[str, Any], remote_start_id: int, **kw: Any) -> Any:
        self.starts.append({"id_token": id_token, "remote_start_id": remote_start_id} | kw)
        return ocpp.v21.call_result.RequestStartTransaction(status=self.start_status)


def event(kind: str, seq: int, seconds: float, wh: float, **fields: Any) -> Any:
    return tariff_event("2.1", kind, seq, seconds, wh, **fields)


async def test_C21_settled_stored_against_transaction_with_csms_receipt(csms: RunningCsms) -> None:
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        token = {"id_token": "PSP-1", "type": "DirectPayment"}
        started = await station.call(
            event(
                "Started",
                0,
                0,
                0,
                id_token=token,
                trigger="Authorized",
                info={"transaction_limit": {"max_cost": 30}},
            )
        )
        assert started.id_token_info["status"] == "Accepted"  # C18: the PSP approved the card
        await station.call(
            event("Ended", 1, 600, 2000, trigger="StopAuthorized", info={"stopped_reason": "Local"})
        )
        answer = await station.call(
            ocpp.v21.call.NotifySettlement(
                transaction_id="TX-1",
                psp_ref="PSP-1",
                status="Settled",
                settlement_amount=0.6,
                settlement_time=at(610),
                vat_number="DE123456789",
            )
        )
    # C21 (ReceiptByCSMS): the CSMS answers with its receipt URL
    assert answer.receipt_url is not None
    assert "/api/v1/pay/receipts/" in answer.receipt_url
    page = await _json(csms, "GET", "/payments?stationId=CS1")
    (payment,) = page["items"]
    assert (payment["pspRef"], payment["status"], payment["source"]) == ("PSP-1", "Settled", "terminal")
    assert (payment["authorized"], payment["captured"], payment["settledBy"]) == ("30.00", "0.60", "station")
    assert payment["transactionId"] == "TX-1"
    assert payment["vatNumber"] == "DE123456789"
    assert payment["costUrl"] is not None
    key = int(payment["costUrl"].split("/")[-2])
    assert [p["pspRef"] for p in await _json(csms, "GET", f"/transactions/{key}/payments")] == ["PSP-1"]
    receipt = await csms.api.get(answer.receipt_url.split(str(csms.api.base_url).rstrip("/"))[-1])
    assert receipt.status_code == 200
    assert "0.60" in receipt.text
    assert "TX-1" in receipt.text


async def test_C19_FR_02_canceled_before_start_and_C22_rejected_alerted_and_retried(
    csms: RunningCsms,
) -> None:
    async with (
        csms.app.events.subscribe() as events,
        peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station,
    ):
        await boot(station, "2.1")
        await station.call(
            ocpp.v21.call.NotifySettlement(
                psp_ref="PSP-C", status="Canceled", settlement_amount=0, settlement_time=at(0)
            )
        )
        await station.call(
            ocpp.v21.call.NotifySettlement(
                transaction_id="TX-9",
                psp_ref="PSP-R",
                status="Rejected",
                status_info="card expired",
                settlement_amount=4.2,
                settlement_time=at(5),
            )
        )
        kinds = []
        while not events.empty():
            kinds.append(events.get_nowait())
    canceled = (await _json(csms, "GET", "/payments?status=Canceled"))["items"]
    assert [p["pspRef"] for p in canceled] == ["PSP-C"]
    (rejected,) = (await _json(csms, "GET", "/payments?status=Rejected"))["items"]
    assert rejected["statusInfo"] == "card expired"
    assert rejected["receiptUrl"] is None
    assert rejected["nextAttemptAt"] is not None
    alert = next(e for e in kinds if e.kind == "payment.settlement_failed")
    assert alert.data["pspRef"] == "PSP-R"
    assert alert.data["status"] == "Rejected"
    # C22: the CSO captures again with the PSP reference once the retry is due
    service = service_of(csms)
    await service.tick(datetime.now(UTC))
    assert provider_of(csms).calls == []  # not due yet
    await service.tick(datetime.now(UTC) + timedelta(seconds=61))
    assert provider_of(csms).calls == [("capture", "PSP-R", Decimal("4.20"))]
    payment = await _json(csms, "GET", f"/payments/{rejected['id']}")
    assert (payment["status"], payment["settledBy"], payment["captured"]) == ("Settled", "csms", "4.20")


async def test_C18_FR_09_FR_10_vat_number_validation(csms: RunningCsms) -> None:
    validator = service_of(csms).validator
    assert isinstance(validator, TestVatValidator)
    validator.known["NL123456789B01"] = Company("Acme BV", "Kade 1", "Arnhem", "NL", postal_code="6811AA")
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        good = await station.call(
            ocpp.v21.call.VatNumberValidation(vat_number="NL 1234.56789-B01", evse_id=2)
        )
        unknown = await station.call(ocpp.v21.call.VatNumberValidation(vat_number="NL999999999B01"))
        malformed = await station.call(ocpp.v21.call.VatNumberValidation(vat_number="DE12", evse_id=1))
        foreign = await station.call(ocpp.v21.call.VatNumberValidation(vat_number="ZZ123456789"))
    assert (good.status, good.evse_id, good.vat_number) == ("Accepted", 2, "NL 1234.56789-B01")
    assert good.company["name"] == "Acme BV"
    assert good.company["postal_code"] == "6811AA"
    assert (unknown.status, unknown.company) == ("Rejected", None)
    assert (malformed.status, malformed.evse_id) == ("Rejected", 1)
    assert "not a DE VAT number" in malformed.status_info["additional_info"]
    assert foreign.status == "Rejected"


async def test_C24_kiosk_payment_started_limited_increased_and_captured(csms: RunningCsms) -> None:
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        body = {"stationId": "CS1", "evseId": 1, "pspRef": "KIOSK-7", "amount": "5.00", "cardLast4": "4242"}
        payment = await _json(csms, "POST", "/payments/kiosk", json=body)
        await _json(csms, "POST", "/payments/kiosk", 409, json=body)  # the same PSP reference twice
        # C24.FR.01: RequestStartTransaction with the PSP reference as a DirectPayment token
        (start,) = station.starts
        assert start["id_token"]["id_token"] == "KIOSK-7"
        assert start["id_token"]["type"] == "DirectPayment"
        assert start["id_token"]["additional_info"] == [
            {"additional_id_token": "4242", "type": "CardLast4Digits"}
        ]
        assert start["evse_id"] == 1
        token = {"id_token": "KIOSK-7", "type": "DirectPayment"}
        started = await station.call(
            event(
                "Started",
                0,
                0,
                0,
                id_token=token,
                trigger="RemoteStart",
                info={"remote_start_id": start["remote_start_id"]},
            )
        )
        assert started.transaction_limit == {"max_cost": 5.0}  # C24.FR.02: once
        quiet = await station.call(event("Updated", 1, 600, 5000))  # 1.50 EUR: far from 5.00
        assert quiet.transaction_limit is None
        # C23 (by the CSMS): 4.50 EUR > 5.00 - 1.00: the provider raises the amount by 5.00
        raised = await station.call(event("Updated", 2, 1200, 15000))
        assert raised.transaction_limit == {"max_cost": 10.0}
        other = {**body, "pspRef": "KIOSK-8"}
        unused = await _json(csms, "POST", "/payments/kiosk", json=other)  # the driver never plugs in
        canceled = await _json(csms, "POST", f"/payments/{unused['id']}/cancel", json={"reason": "left"})
        assert (canceled["status"], canceled["statusInfo"]) == ("Canceled", "canceled by the operator: left")
        await _json(csms, "POST", f"/payments/{unused['id']}/cancel", 409, json={})
        ended = await station.call(
            event("Ended", 3, 1800, 20000, trigger="StopAuthorized", info={"stopped_reason": "Local"})
        )
        assert ended.total_cost == pytest.approx(6.0)
    # C24.FR.10: captured by the CSMS at the end
    assert ("capture", "KIOSK-7", Decimal("6.00")) in provider_of(csms).calls
    after = await _json(csms, "GET", f"/payments/{payment['id']}")
    assert (after["status"], after["authorized"], after["captured"], after["settledBy"]) == (
        "Settled",
        "10.00",
        "6.00",
        "csms",
    )
    refunded = await _json(csms, "POST", f"/payments/{payment['id']}/refund", json={"amount": "1.00"})
    assert (refunded["status"], refunded["refunded"]) == ("Refunded", "1.00")
    await _json(csms, "POST", f"/payments/{payment['id']}/refund", 400, json={"amount": "5.50"})


async def test_C24_a_transaction_after_its_payment_was_released_is_reported_not_captured(
    csms: RunningCsms,
) -> None:
    """A kiosk payment released after start_timeout whose transaction's events arrive late (a station that was
    offline): the released amount cannot be captured, so the operator is told at the start and the cost is
    left as a failed settlement without retries."""
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    async with (
        csms.app.events.subscribe() as events,
        peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station,
    ):
        await boot(station, "2.1")
        body = {"stationId": "CS1", "evseId": 1, "pspRef": "KIOSK-LATE", "amount": "5.00"}
        payment = await _json(csms, "POST", "/payments/kiosk", json=body)
        service = service_of(csms)
        await service.tick(datetime.now(UTC) + timedelta(hours=1))  # past start_timeout: released
        released = await _json(csms, "GET", f"/payments/{payment['id']}")
        assert released["status"] == "Canceled"
        token = {"id_token": "KIOSK-LATE", "type": "DirectPayment"}
        started = await station.call(event("Started", 0, 0, 0, id_token=token, trigger="RemoteStart"))
        assert started.transaction_limit is None  # no maxCost from a released amount
        await station.call(event("Updated", 1, 600, 5000))
        await station.call(
            event("Ended", 2, 1800, 20000, trigger="StopAuthorized", info={"stopped_reason": "Local"})
        )
        kinds = []
        while not events.empty():
            kinds.append(events.get_nowait())
    assert ("cancel", "KIOSK-LATE") in [call[:2] for call in provider_of(csms).calls]
    assert not [call for call in provider_of(csms).calls if call[0] == "capture"]
    uncovered = next(e for e in kinds if e.kind == "payment.uncovered_transaction")
    assert uncovered.data["pspRef"] == "KIOSK-LATE"
    alert = next(e for e in kinds if e.kind == "payment.settlement_failed")
    assert (alert.data["amount"], alert.data["retry"]) == ("6.00", None)
    after = await _json(csms, "GET", f"/payments/{payment['id']}")
    assert (after["status"], after["nextAttemptAt"], after["transactionId"]) == ("Failed", None, "TX-1")
    assert "not captured" in after["statusInfo"]
    await service.tick(datetime.now(UTC) + timedelta(days=1))
    assert not [call for call in provider_of(csms).calls if call[0] == "capture"]  # nothing to retry


async def test_C25_qr_page_notifies_station_and_starts_with_payment_token(csms: RunningCsms) -> None:
    url = (await _json(csms, "GET", "/stations/CS1/evses/2/payment-page"))["url"]
    assert url.endswith("/api/v1/pay/CS1/2")
    path = "/api/v1/pay/CS1/2"
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        page = await csms.api.get(path)  # public: no bearer token
        assert page.status_code == 200
        assert "<form" in page.text
        assert station.web_payments == [(2, 300)]  # C25.FR.21
        declined = await csms.api.post(path, data={"card": DECLINED_CARD})
        assert declined.status_code == 400
        assert station.starts == []
        paid = await csms.api.post(path, data={"card": VISA})
        assert paid.status_code == 200, paid.text
        (start,) = station.starts  # C25.FR.23
        assert start["id_token"]["type"] == "DirectPayment"
        assert start["evse_id"] == 2
        psp_ref = start["id_token"]["id_token"]
        assert provider_of(csms).held[psp_ref] == 50
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
        assert started.transaction_limit == {"max_cost": 50.0}  # C25.FR.24
        # C20: ended without cost: the pre-authorisation is released, nothing captured (C25.FR.40)
        await station.call(
            event("Ended", 1, 60, 0, trigger="StopAuthorized", info={"stopped_reason": "Local"})
        )
        station.start_status = "Rejected"
        refused = await csms.api.post(path, data={"card": VISA})
        assert refused.status_code == 409  # the station refused: released
    assert ("cancel", psp_ref, None) in provider_of(csms).calls
    statuses = [p["status"] for p in (await _json(csms, "GET", "/payments"))["items"]]
    assert statuses == ["Canceled", "Canceled"]
    await csms.api.get("/api/v1/pay/NOPE/1")  # unknown station
    assert (await csms.api.get("/api/v1/pay/NOPE/1")).status_code == 404


async def test_C17_prepaid_balance_no_credit_and_max_cost(csms: RunningCsms) -> None:
    await csms.app.blocks.require(AuthorizationService).create_token(
        {"id_token": "PRE-1", "type": "ISO14443", "status": "Accepted", "local_list": False}
    )
    await _json(csms, "POST", "/tariffs", 201, json={"tariff": FLAT_TARIFF, "default": True})
    await _json(csms, "PUT", "/prepaid-accounts/PRE-1", json={"balance": "0"})
    token = {"id_token": "PRE-1", "type": "ISO14443"}
    async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
        await boot(station, "2.1")
        broke = await station.call(ocpp.v21.call.Authorize(id_token=token))
        assert broke.id_token_info["status"] == "NoCredit"  # C17.FR.02
        assert broke.id_token_info["cache_expiry_date_time"] is not None
        await _json(csms, "PUT", "/prepaid-accounts/PRE-1", json={"balance": "3.00"})
        ok = await station.call(ocpp.v21.call.Authorize(id_token=token))
        assert ok.id_token_info["status"] == "Accepted"
        assert ok.id_token_info["cache_expiry_date_time"]
        started = await station.call(event("Started", 0, 0, 0, id_token=token, trigger="Authorized"))
        assert started.transaction_limit == {"max_cost": 3.0}  # C17.FR.03
        await station.call(
            event("Ended", 1, 600, 5000, trigger="StopAuthorized", info={"stopped_reason": "Local"})
        )
    assert (await _json(csms, "GET", "/prepaid-accounts/PRE-1"))["balance"] == "1.50"
    await _json(csms, "GET", "/prepaid-accounts/NOBODY", 404)
    await _json(csms, "PUT", "/prepaid-accounts/NOBODY", 404, json={"balance": "1"})


async def test_C25_FR_07_FR_08_FR_50_dynamic_qr_code_checked_before_payment(database_url: str) -> None:
    settings = settings_for(database_url, PaymentsSettings(web_payment_secret="master-secret"))
    async with running(settings) as csms:
        await csms.add_station("CS1")
        async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
            await boot(station, "2.1")
            statuses = await _json(csms, "POST", "/stations/CS1/web-payments/dynamic-qr", json={})
            assert set(statuses.values()) == {"Accepted"}
            secret = service_of(csms).shared_secret("CS1")
            assert secret is not None
            assert station.variables["SharedSecret"] == secret
            assert station.variables["URLTemplate"].endswith(
                "/api/v1/pay/{chargingstationid}/{evse}/{totp}/{version}"
            )
            assert (station.variables["TOTPVersion"], station.variables["Enabled"]) == ("v1", "true")
            log = await _json(csms, "GET", "/commands?station=CS1&action=SetVariables")
            assert log["items"]
            assert secret not in str(log)  # the command log hides it
            forged = await csms.api.get("/api/v1/pay/CS1/1/AAAAAAAA/v1")
            assert forged.status_code == 403  # C25.FR.08: no page, no payment
            assert station.web_payments == []
            code = totp_v1(secret, datetime.now(UTC).timestamp(), 60, 8)
            path = f"/api/v1/pay/CS1/1/{code}/v1"
            page = await csms.api.get(path, params={"maxcost": "20", "maxenergy": "20000"})  # C25.FR.59
            assert page.status_code == 200, page.text
            assert "20.00 EUR are reserved" in page.text
            assert station.web_payments == [(1, 300)]
            paid = await csms.api.post(path, params={"maxcost": "20"}, data={"card": VISA})
            assert paid.status_code == 200, paid.text
            (start,) = station.starts
            assert provider_of(csms).held[start["id_token"]["id_token"]] == 20
            assert (
                await csms.api.post(path.removesuffix("/v1") + "/v2", data={"card": VISA})
            ).status_code == 403


async def test_C24_a_held_payment_token_is_accepted_even_without_ad_hoc_tokens(database_url: str) -> None:
    settings = settings_for(database_url, AuthorizationSettings(direct_payment=False))
    async with running(settings) as csms:
        await csms.add_station("CS1")
        async with peer(csms.ocpp_url, "CS1", "2.1", station_class=Station) as station:
            await boot(station, "2.1")
            body = {"stationId": "CS1", "pspRef": "KIOSK-9", "amount": "9.00"}
            await _json(csms, "POST", "/payments/kiosk", json=body)
            held = await station.call(
                ocpp.v21.call.Authorize(id_token={"id_token": "KIOSK-9", "type": "DirectPayment"})
            )
            stranger = await station.call(
                ocpp.v21.call.Authorize(id_token={"id_token": "PSP-X", "type": "DirectPayment"})
            )
    assert held.id_token_info["status"] == "Accepted"  # AuthorizeRemoteStart on a kiosk payment
    assert held.id_token_info["cache_expiry_date_time"] is not None
    assert stranger.id_token_info["status"] == "Unknown"
