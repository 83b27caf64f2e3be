"""Settings of the payments block (``CHARGEPLANE_PAYMENTS_*``): the payment service provider, the amounts
pre-authorised and raised, the QR payment page, settlement retries and the VAT register."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc


@dataclass(frozen=True)
class PaymentsSettings:
    provider: Annotated[
        str,
        Doc(
            "the payment service provider: 'test' (the deterministic in-memory provider) or module:factory, "
            "a factory called with these settings that returns the provider"
        ),
    ] = "test"
    vat_validator: Annotated[
        str,
        Doc(
            "the VAT register asked after the format check: 'test' (in memory) or module:factory, called "
            "with these settings"
        ),
    ] = "test"
    currency: Annotated[str, Doc("the currency of web and kiosk payments (ISO 4217)")] = "EUR"
    authorization_amount: Annotated[
        str, Doc("the amount pre-authorised for a web (QR) payment, in the currency (C25)")
    ] = "50.00"
    incremental_amount: Annotated[
        str,
        Doc(
            "how much a CSMS-held pre-authorisation is raised when the cost nears it (C23); 0: never raised, "
            "the transaction stops at its limit"
        ),
    ] = "25.00"
    incremental_threshold: Annotated[
        str, Doc("the raise is asked once the cost exceeds the authorised amount minus this (C23.FR.01)")
    ] = "5.00"
    web_payment_timeout: Annotated[
        int,
        Doc("seconds the EVSE is held for a driver on the payment page (NotifyWebPaymentStarted, C25.FR.21)"),
    ] = 300
    start_timeout: Annotated[
        int,
        Doc(
            "seconds a web or kiosk payment waits for its transaction; none by then (the driver never plugged "
            "in and the station's EVConnectionTimeOut passed, so it sent nothing) and the pre-authorisation is "
            "released; 0: held until an operator cancels it"
        ),
    ] = 300
    public_url: Annotated[
        str | None,
        Doc("the API's base URL as drivers reach it (payment pages, receipts); default: the API's address"),
    ] = None
    web_payment_secret: Annotated[
        str | None,
        Doc(
            "the secret from which each station's WebPaymentsCtrlr.SharedSecret is derived for dynamic QR codes "
            "(C25 TOTP); unset: only static QR codes"
        ),
    ] = None
    totp_validity: Annotated[int, Doc("seconds a dynamic QR code's one-time password is valid (6-3600)")] = 60
    totp_length: Annotated[int, Doc("characters of a dynamic QR code's one-time password (at least 6)")] = 8
    settlement_retries: Annotated[
        int, Doc("how often a failed settlement is captured again through the provider (C22)")
    ] = 3
    retry_interval: Annotated[
        float, Doc("seconds before the first retry of a failed settlement; doubles after each")
    ] = 300.0
    receipt_display_time: Annotated[
        int,
        Doc(
            "seconds the receipt's URL stays on the station's display after the CSMS settled a kiosk, QR or "
            "terminal payment (SetDisplayMessage, C24.FR.11 / C25.FR.41); 0: not displayed"
        ),
    ] = 300
