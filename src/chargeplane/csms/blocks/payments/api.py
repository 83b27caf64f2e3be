"""HTTP routes of payments: the payments and their settlement (per transaction, with the receipt link), the
stand-alone kiosk (C24), cancel and refund, prepaid balances (C17), and the public QR payment page per EVSE
with its receipt page (C25)."""

from __future__ import annotations

import html
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Response, get, post, put
from litestar.enums import MediaType, RequestEncodingType
from litestar.params import Body, JSONBody, PathParameter, QueryParameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
)

from chargeplane.csms.api.app import OPERATOR, PUBLIC
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.payments.provider import Card
from chargeplane.csms.blocks.payments.repository import PaymentRecord
from chargeplane.csms.blocks.payments.service import (
    InvalidCode,
    PaymentDeclined,
    PaymentService,
    UnknownPayment,
)
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.errors import Unsendable

Amount = Annotated[str, msgspec.Meta(pattern=r"^\d{1,9}(\.\d{1,2})?$")]
EvseId = Annotated[int, PathParameter(ge=1, le=1000)]
IdToken = Annotated[str, PathParameter(min_length=1, max_length=255)]
ReceiptId = Annotated[str, PathParameter(min_length=1, max_length=50)]
Code = Annotated[str, PathParameter(min_length=1, max_length=64)]
# C25.FR.59: the driver's maximum cost, energy (Wh) and time (s) from the QR code's URL
MaxCost = Annotated[str | None, QueryParameter(pattern=r"\A\d{1,9}(\.\d{1,2})?\Z")]
MaxEnergy = Annotated[str | None, QueryParameter(pattern=r"\A\d{1,9}(\.\d{1,3})?\Z")]
MaxTime = Annotated[str | None, QueryParameter(pattern=r"\A\d{1,9}\Z")]
FormBody = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]


class DriverMaxima(msgspec.Struct, frozen=True):
    """The QR code URL's query parameters (C25.FR.56-59)."""

    maxcost: str | None = None
    maxenergy: str | None = None
    maxtime: str | None = None

    def limits(self) -> dict[str, float]:
        """maxEnergy / maxTime as transaction limits (E16 wire names); zero is no limit."""
        found = {"maxEnergy": self.maxenergy, "maxTime": self.maxtime}
        return {name: float(value) for name, value in found.items() if value is not None and float(value) > 0}

    def shown(self) -> str:
        parts = [f"at most {float(v) / 1000:g} kWh" for v in (self.maxenergy,) if v and float(v) > 0]
        parts += [f"at most {int(v) // 60} min {int(v) % 60} s" for v in (self.maxtime,) if v and int(v) > 0]
        return f"<p>Charging stops {html.escape(' and '.join(parts))}.</p>" if parts else ""


def _amount(service: PaymentService, maxcost: str | None) -> Decimal:
    """What is pre-authorised: the setting, or less when the driver asked for a lower maximum cost."""
    ceiling = Decimal(service.settings.authorization_amount)
    chosen = min(ceiling, Decimal(maxcost)) if maxcost is not None and Decimal(maxcost) > 0 else ceiling
    return chosen.quantize(Decimal("0.01"))


class PaymentOut(msgspec.Struct, rename="camel"):
    id: int
    psp_ref: str
    station_id: str
    evse_id: int | None
    source: str
    status: str
    currency: str | None
    authorized: str | None
    captured: str | None
    refunded: str | None
    transaction_id: str | None
    settled_by: str | None
    settlement_time: datetime | None
    status_info: str | None
    attempts: int
    next_attempt_at: datetime | None
    receipt_id: str | None
    receipt_url: str | None
    cost_url: str | None  # the tariffs block's receipt of the transaction's cost
    vat_number: str | None
    vat_company: dict[str, Any] | None
    card_bin: str | None
    card_last4: str | None
    card_details: dict[str, str] | None  # the terminal's PaymentDetails (C18.FR.04/06), masked
    driver_limits: dict[str, float] | None  # maxEnergy / maxTime of the QR code (C25.FR.59)
    created_at: datetime


class KioskPaymentIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    station_id: Annotated[str, msgspec.Meta(min_length=1, max_length=48)]
    psp_ref: Annotated[str, msgspec.Meta(min_length=1, max_length=36)]  # an IdTokenType value
    amount: Amount
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"
    evse_id: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    card_bin: Annotated[str, msgspec.Meta(pattern=r"^\d{6,8}$")] | None = None
    card_last4: Annotated[str, msgspec.Meta(pattern=r"^\d{4}$")] | None = None


class CancelIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=200)] | None = None


class DynamicQrIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    enabled: bool = True


class RefundIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    amount: Amount


class BalanceIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    balance: Annotated[str, msgspec.Meta(pattern=r"^-?\d{1,9}(\.\d{1,2})?$")]
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] = "EUR"


class BalanceOut(msgspec.Struct, rename="camel"):
    id_token: str
    balance: str
    currency: str


class PageUrlOut(msgspec.Struct, rename="camel"):
    url: str


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def payment_out(p: PaymentRecord) -> PaymentOut:
    return PaymentOut(
        id=p.id,
        psp_ref=p.psp_ref,
        station_id=p.station_id,
        evse_id=p.evse_id,
        source=p.source,
        status=p.status,
        currency=p.currency,
        authorized=_text(p.authorized_amount),
        captured=_text(p.settlement_amount) if p.status in ("Settled", "Refunded") else None,
        refunded=_text(p.refunded_amount),
        transaction_id=p.transaction_id,
        settled_by=p.settled_by,
        settlement_time=p.settlement_time,
        status_info=p.status_info,
        attempts=p.attempts,
        next_attempt_at=p.next_attempt_at,
        receipt_id=p.receipt_id,
        receipt_url=p.receipt_url,
        cost_url=f"/api/v1/transactions/{p.transaction_key}/cost" if p.transaction_key is not None else None,
        vat_number=p.vat_number,
        vat_company=p.vat_company,
        card_bin=p.card_bin,
        card_last4=p.card_last4,
        card_details=p.card_details,
        driver_limits=p.driver_limits,
        created_at=p.created_at,
    )


def _page(title: str, body: str, status: int = HTTP_200_OK) -> Response[str]:
    document = (
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width'><title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(document, status_code=status, media_type=MediaType.HTML)


def routes(service: PaymentService) -> list[Any]:
    @get("/payments", summary="Payments, newest first")
    async def list_payments(
        station_id: Annotated[str | None, QueryParameter(name="stationId")] = None,
        status: Annotated[
            str | None, QueryParameter(pattern=r"\A(Authorized|Settled|Canceled|Rejected|Failed|Refunded)\Z")
        ] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[PaymentOut]:
        """Every payment the CSMS holds or was told of: authorised, captured, its settlement."""
        return paged(payment_out, await service.find(station_id, status, offset, limit), offset, limit)

    @get_or_404("/payments/{payment_id:int}", summary="One payment")
    async def get_payment(payment_id: PathId) -> PaymentOut:
        """A payment with its authorised and captured amounts, status and settlement."""
        return payment_out(await service.get(payment_id))

    @get_or_404("/transactions/{key:int}/payments", summary="The payments of a transaction")
    async def transaction_payments(key: PathId) -> list[PaymentOut]:
        """Authorised, captured, status and settlement of each payment of the transaction, with the link to
        its cost receipt (costUrl)."""
        return [payment_out(p) for p in await service.of_transaction(key)]

    @station_call(
        "/payments/kiosk",
        summary="A stand-alone payment terminal's approved payment: start the transaction (C24)",
    )
    async def kiosk_payment(data: JSONBody[KioskPaymentIn]) -> PaymentOut:
        """RequestStartTransaction with the PSP reference as a DirectPayment id token (C24.FR.01); its
        transaction is answered maxCost = amount (C24.FR.02) and captured at its end (C24.FR.10)."""
        payment = await service.kiosk_payment(
            data.station_id,
            data.evse_id,
            data.psp_ref,
            Decimal(data.amount),
            data.currency,
            data.card_bin,
            data.card_last4,
        )
        return payment_out(payment)

    @post(
        "/payments/{payment_id:int}/cancel",
        status_code=HTTP_200_OK,
        summary="Release a pre-authorisation that has no transaction (C19)",
        responses=error_responses(HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
        opt=OPERATOR,
    )
    async def cancel_payment(payment_id: PathId, data: JSONBody[CancelIn]) -> PaymentOut:
        """The provider releases the amount; the payment becomes Canceled (the reason in its statusInfo)."""
        return payment_out(await service.cancel(payment_id, data.reason))

    @post(
        "/payments/{payment_id:int}/refund",
        status_code=HTTP_200_OK,
        summary="Refund (part of) a captured payment",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT),
        opt=OPERATOR,
    )
    async def refund_payment(payment_id: PathId, data: JSONBody[RefundIn]) -> PaymentOut:
        """At most what was captured, less earlier refunds; 400 when the provider declines."""
        return payment_out(await service.refund(payment_id, Decimal(data.amount)))

    @put(
        "/prepaid-accounts/{id_token:str}",
        summary="Set a prepaid token's balance (C17)",
        responses=error_responses(HTTP_404_NOT_FOUND),
    )
    async def set_balance(id_token: IdToken, data: JSONBody[BalanceIn]) -> BalanceOut:
        """404 for a token the CSMS does not know. The token is then never cached, NoCredit without a positive balance, and its transactions are
        limited to the balance (maxCost); their cost is taken off it."""
        await service.set_balance(id_token, Decimal(data.balance), data.currency)
        balance, currency = await service.balance(id_token)
        return BalanceOut(id_token, str(balance), currency)

    @get_or_404("/prepaid-accounts/{id_token:str}", summary="A prepaid token's balance")
    async def get_balance(id_token: IdToken) -> BalanceOut:
        """What is left on the account."""
        balance, currency = await service.balance(id_token)
        return BalanceOut(id_token, str(balance), currency)

    @get_or_404(
        "/stations/{station_id:str}/evses/{evse_id:int}/payment-page",
        summary="The URL of an EVSE's payment page (its QR code, C25)",
    )
    async def payment_page_url(known_station: KnownStation, evse_id: EvseId) -> PageUrlOut:
        """What the static QR code on the EVSE encodes."""
        return PageUrlOut(service.page_url(known_station.station_id, evse_id))

    @station_call(
        "/stations/{station_id:str}/web-payments/dynamic-qr",
        summary="Set up the station's dynamic QR code for our payment page (C25)",
    )
    async def configure_dynamic_qr(
        known_station: KnownStation, data: JSONBody[DynamicQrIn]
    ) -> dict[str, str]:
        """SetVariables WebPaymentsCtrlr: URL template, TOTP v1, validity, length, the station's shared secret
        (derived from web_payment_secret, hidden in the command log) and Enabled; each variable's status.
        422 NotConfigured without web_payment_secret."""
        return await service.configure_dynamic_qr(known_station.station_id, data.enabled)

    # -- the driver's pages (public) -------------------------------------------------------------------

    async def page(station: str, evse_id: int, maxima: DriverMaxima) -> Response[str]:
        try:
            await service.web_payment_started(station, evse_id)
        except Unsendable as error:
            return _page("Payment not possible", f"<p>{html.escape(error.description)}</p>", 422)
        amount = _amount(service, maxima.maxcost)
        form = (
            f"<p>Station {html.escape(station)}, EVSE {evse_id}: {amount} "
            f"{html.escape(service.settings.currency)} are reserved on your card and the cost is charged.</p>"
            f"{maxima.shown()}"
            "<form method='post'><label>Card number <input name='card' inputmode='numeric' "
            "autocomplete='cc-number' required></label><button>Pay and start</button></form>"
        )
        return _page("Pay for charging", form)

    async def paid(station: str, evse_id: int, data: dict[str, str], maxima: DriverMaxima) -> Response[str]:
        number = "".join(ch for ch in data.get("card", "") if ch.isdigit())
        amount = _amount(service, maxima.maxcost)
        try:
            payment = await service.pay(station, evse_id, Card(number), "web", amount, maxima.limits())
        except PaymentDeclined as error:
            return _page("Payment declined", f"<p>{html.escape(str(error))}</p>", HTTP_400_BAD_REQUEST)
        except Unsendable as error:
            return _page("Payment not possible", f"<p>{html.escape(error.description)}</p>", 422)
        if payment.status != "Authorized":
            return _page("Charging could not start", "<p>Nothing was charged to your card.</p>", 409)
        return _page(
            "Charging starts",
            f"<p>Payment reference {html.escape(payment.psp_ref)}. Plug in your vehicle.</p>",
        )

    def refused(error: InvalidCode) -> Response[str]:  # C25.FR.08: no payment, no start
        return _page("QR code not valid", f"<p>{html.escape(str(error))}. Scan the code again.</p>", 403)

    @get("/pay/{station_id:str}/{evse_id:int}", opt=PUBLIC, include_in_schema=False)
    async def payment_page(
        known_station: KnownStation,
        evse_id: EvseId,
        maxcost: MaxCost = None,
        maxenergy: MaxEnergy = None,
        maxtime: MaxTime = None,
    ) -> Response[str]:
        """C25 static QR code: the page; the station is told a payment started (C25.FR.21)."""
        return await page(known_station.station_id, evse_id, DriverMaxima(maxcost, maxenergy, maxtime))

    @post("/pay/{station_id:str}/{evse_id:int}", opt=PUBLIC, include_in_schema=False)
    async def pay(
        known_station: KnownStation,
        evse_id: EvseId,
        data: FormBody,
        maxcost: MaxCost = None,
        maxenergy: MaxEnergy = None,
        maxtime: MaxTime = None,
    ) -> Response[str]:
        """The card is pre-authorised by the provider, then the transaction starts (C25.FR.23)."""
        return await paid(known_station.station_id, evse_id, data, DriverMaxima(maxcost, maxenergy, maxtime))

    @get("/pay/{station_id:str}/{evse_id:int}/{totp:str}/{version:str}", opt=PUBLIC, include_in_schema=False)
    async def dynamic_payment_page(
        known_station: KnownStation,
        evse_id: EvseId,
        totp: Code,
        version: Code,
        maxcost: MaxCost = None,
        maxenergy: MaxEnergy = None,
        maxtime: MaxTime = None,
    ) -> Response[str]:
        """C25 dynamic QR code: the one-time password checked first (C25.FR.07/08), then the page (C25.FR.09)."""
        try:
            service.check_code(known_station.station_id, totp, version)
        except InvalidCode as error:
            return refused(error)
        return await page(known_station.station_id, evse_id, DriverMaxima(maxcost, maxenergy, maxtime))

    @post("/pay/{station_id:str}/{evse_id:int}/{totp:str}/{version:str}", opt=PUBLIC, include_in_schema=False)
    async def dynamic_pay(
        known_station: KnownStation,
        evse_id: EvseId,
        totp: Code,
        version: Code,
        data: FormBody,
        maxcost: MaxCost = None,
        maxenergy: MaxEnergy = None,
        maxtime: MaxTime = None,
    ) -> Response[str]:
        """The code again (still good while the page may be open), then as the static page."""
        try:
            service.check_code(known_station.station_id, totp, version, intervals=service.code_intervals())
        except InvalidCode as error:
            return refused(error)
        return await paid(known_station.station_id, evse_id, data, DriverMaxima(maxcost, maxenergy, maxtime))

    @get("/pay/receipts/{receipt_id:str}", opt=PUBLIC, include_in_schema=False)
    async def receipt_page(receipt_id: ReceiptId) -> Response[str]:
        """The driver's receipt (C21: the URL the CSMS answers in NotifySettlement)."""
        try:
            payment = await service.by_receipt(receipt_id)
        except UnknownPayment:
            return _page("No such receipt", "", HTTP_404_NOT_FOUND)
        rows = [
            ("Receipt", payment.receipt_id),
            ("Station", payment.station_id),
            ("Transaction", payment.transaction_id),
            ("Amount", f"{payment.settlement_amount} {payment.currency or ''}".strip()),
            ("Paid at", payment.settlement_time.isoformat() if payment.settlement_time else None),
            ("Card", f"**** {payment.card_last4}" if payment.card_last4 else None),
            ("VAT number", payment.vat_number),
        ]
        table = "".join(
            f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows if v
        )
        return _page("Receipt", f"<table>{table}</table>")

    return [
        list_payments,
        get_payment,
        transaction_payments,
        kiosk_payment,
        cancel_payment,
        refund_payment,
        set_balance,
        get_balance,
        payment_page_url,
        payment_page,
        pay,
        dynamic_payment_page,
        dynamic_pay,
        configure_dynamic_qr,
        receipt_page,
    ]
