"""Payments (2.1 C17, C19-C25 from the CSMS's end).

* A payment is one PSP reference (pspRef, the value of a DirectPayment id token). The CSMS holds it when it
  pre-authorised the amount itself (``web``: the QR payment page, C25; ``kiosk``: a stand-alone terminal,
  C24), or learns of it from a station's integrated terminal (``terminal``, C18-C23: its NotifySettlement).
* A CSMS-held payment starts its transaction with RequestStartTransaction on the payment's id token
  (C24.FR.01, C25.FR.23); the first event with that token is answered with transactionLimit.maxCost = the
  authorised amount (C24.FR.02, C25.FR.24). When the running cost nears the authorised amount the CSMS asks
  the provider for more and raises maxCost (C23 done centrally); declined, the station stops at the limit.
  At the end the CSMS captures the cost (C24.FR.10, C25.FR.40), or releases the amount when there is none.
* A terminal payment is settled by the station (NotifySettlement: Settled, Canceled (C19, C20), Rejected or
  Failed (C22)); the CSMS stores it against the transaction and answers with a receipt URL. When the station
  reports PaymentCtrlr.SettlementByCSMS true the CSMS captures instead (C21, third scenario).
* A Rejected or Failed settlement is published as an alert (``payment.settlement_failed``, on the event bus:
  SSE, webhooks) and captured again through the provider, ``settlement_retries`` times with a doubling
  interval (C22 remark: the CSO may capture with the PSP reference).
* C25.FR.59: the driver's maxenergy / maxtime of the QR code's URL are kept with the payment and answered
  with maxCost as the transaction's limits, once (C25.FR.24).
* A terminal payment keeps the card details of the id token's additionalInfo (C18.FR.04/06), masked.
* The receipt URL of a payment the CSMS settled goes to the station's display (C24.FR.11, C25.FR.41).
* C17: a token with a prepaid account is never cached (cacheExpiryDateTime now), NoCredit without a positive
  balance, and its transaction gets maxCost = the balance once; the final cost is taken off the balance.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from msgspec import UNSET

from chargeplane.csms.blocks.authorization.service import (
    AmbiguousToken,
    AuthorizationService,
    TokenDecision,
)
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.payments import vat
from chargeplane.csms.blocks.payments.provider import (
    Card,
    PaymentProvider,
    ProviderResult,
    ProviderUnavailable,
)
from chargeplane.csms.blocks.payments.receipt_display import ReceiptDisplay
from chargeplane.csms.blocks.payments.repository import PaymentRecord, PaymentRepository
from chargeplane.csms.blocks.payments.settings import PaymentsSettings
from chargeplane.csms.blocks.payments.terminal_card import masked_card_details
from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.tariffs.service import NoCost, TariffService
from chargeplane.csms.blocks.transactions.fold import EventFacts
from chargeplane.csms.blocks.transactions.service import EventOutcome, ResponseExtras
from chargeplane.csms.bus.commands import CommandRouter
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, Invalid, NotFound, Unsendable
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.totp import VERSION_1, matches_v1
from chargeplane.ocpp.versions import Version

log = logging.getLogger(__name__)

DIRECT_PAYMENT = "DirectPayment"
AUTHORIZED, SETTLED, CANCELED = "Authorized", "Settled", "Canceled"
REJECTED, FAILED, REFUNDED = "Rejected", "Failed", "Refunded"
CSMS_HELD = frozenset({"web", "kiosk"})
_SETTLEMENT_BY_CSMS = "PaymentCtrlr/SettlementByCSMS:Actual"
_CENT = Decimal("0.01")


class UnknownPayment(NotFound):
    def __init__(self, key: object) -> None:
        super().__init__(f"no payment {key}")


class InvalidCode(Invalid):
    """C25.FR.08: the one-time password of a dynamic QR code does not check out."""


class PaymentDeclined(Invalid):
    """The provider declined the card or the amount (the page / API says so; nothing is started)."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """A station's NotifySettlement, version-neutral."""

    psp_ref: str
    status: str
    amount: Decimal
    time: datetime
    transaction_id: str | None = None
    status_info: str | None = None
    receipt_id: str | None = None
    receipt_url: str | None = None
    vat_number: str | None = None
    vat_company: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class VatAnswer:
    accepted: bool
    vat_number: str
    company: vat.Company | None = None
    reason: str | None = None


def _money(value: Decimal) -> Decimal:
    return value.quantize(_CENT)


class PaymentService:
    def __init__(
        self,
        repository: PaymentRepository,
        settings: PaymentsSettings,
        provider: PaymentProvider,
        validator: vat.VatValidator,
        commands: CommandService,
        router: CommandRouter,
        tariffs: TariffService,
        device_model: DeviceModelService,
        authorization: AuthorizationService,
        events: EventBus,
        clock: Clock,
        base_url: Callable[[], str],
        receipts: ReceiptDisplay,
    ) -> None:
        self.repository = repository
        self.settings = settings
        self.provider = provider
        self.validator = validator
        self.commands = commands
        self.router = router
        self.tariffs = tariffs
        self.device_model = device_model
        self.authorization = authorization
        self.events = events
        self.clock = clock
        self.base_url = base_url  # the API's port is known only once it listens
        self.receipts = receipts

    # -- reading ----------------------------------------------------------------------------------------

    async def get(self, payment_id: int) -> PaymentRecord:
        found = await self.repository.get(payment_id)
        if found is None:
            raise UnknownPayment(payment_id)
        return found

    async def of_transaction(self, transaction_key: int) -> list[PaymentRecord]:
        return await self.repository.by_transaction_key(transaction_key)

    async def by_receipt(self, receipt_id: str) -> PaymentRecord:
        found = await self.repository.by_receipt(receipt_id)
        if found is None:
            raise UnknownPayment(receipt_id)
        return found

    async def find(
        self, station_id: str | None, status: str | None, offset: int, limit: int
    ) -> tuple[list[PaymentRecord], int]:
        return await self.repository.find(station_id, status, offset, limit)

    def page_url(self, station_id: str, evse_id: int) -> str:
        """The static QR code's URL of one EVSE (C25, scenario 2)."""
        return f"{self.base_url().rstrip('/')}/api/v1/pay/{station_id}/{evse_id}"

    def receipt_url(self, payment: PaymentRecord) -> str:
        return f"{self.base_url().rstrip('/')}/api/v1/pay/receipts/{payment.receipt_id}"

    # -- C25 dynamic QR codes ----------------------------------------------------------------------------

    def shared_secret(self, station_id: str) -> str | None:
        """The station's WebPaymentsCtrlr.SharedSecret, derived from ``web_payment_secret`` (never stored)."""
        master = self.settings.web_payment_secret
        if not master:
            return None
        digest = hmac.new(master.encode(), station_id.casefold().encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    async def configure_dynamic_qr(self, station_id: str, enabled: bool) -> dict[str, str]:
        """Sets the station's WebPaymentsCtrlr for QR codes pointing at our payment page (C25.FR.50-52);
        the command log shows the request without the secret. Returns each variable's status."""
        self._version_21(station_id)
        secret = self.shared_secret(station_id)
        if secret is None:
            raise Unsendable("NotConfigured", "the payments block has no web_payment_secret")
        template = (
            f"{self.base_url().rstrip('/')}/api/v1/pay/{{chargingstationid}}/{{evse}}/{{totp}}/{{version}}"
        )
        values = {
            "URLTemplate": template,
            "TOTPVersion": VERSION_1,
            "ValidityTime": str(self.settings.totp_validity),
            "Length": str(self.settings.totp_length),
            "SharedSecret": secret,
            "Enabled": "true" if enabled else "false",
        }

        def request(shown: dict[str, str]) -> v21.messages.SetVariablesRequest:
            return v21.messages.SetVariablesRequest(
                set_variable_data=[
                    v21.datatypes.SetVariableDataType(
                        attribute_value=value,
                        component=v21.datatypes.ComponentType(name="WebPaymentsCtrlr"),
                        variable=v21.datatypes.VariableType(name=name),
                    )
                    for name, value in shown.items()
                ]
            )

        response = await self.commands.send(
            station_id, request(values), logged=request(values | {"SharedSecret": "(hidden)"})
        )
        assert isinstance(response, v21.messages.SetVariablesResponse)
        return {str(r.variable.name): str(r.attribute_status) for r in response.set_variable_result}

    def check_code(self, station_id: str, code: str, version: str, *, intervals: int = 1) -> None:
        """C25.FR.07/08: the QR code's one-time password, now or ``intervals`` validity periods ago."""
        secret = self.shared_secret(station_id)
        if secret is None or version != VERSION_1:
            raise InvalidCode("dynamic QR codes are not in use")
        now = self.clock.now().timestamp()
        validity, length = self.settings.totp_validity, self.settings.totp_length
        if not matches_v1(code, secret, now, validity, length, intervals):
            raise InvalidCode("this QR code has expired or is not genuine")

    def code_intervals(self) -> int:
        """How far back a code stays good while the driver pays (the page is open at most the timeout)."""
        return 1 + -(-self.settings.web_payment_timeout // self.settings.totp_validity)

    # -- C24 / C25: payments the CSMS pre-authorises -----------------------------------------------------

    def _version_21(self, station_id: str) -> None:
        version = self.router.version_of(station_id)
        if version is None:
            raise Unsendable("StationOffline", f"{station_id} is not connected")
        if version is not Version.V21:
            raise Unsendable("NotSupported", "web and kiosk payments need an OCPP 2.1 station")

    async def web_payment_started(self, station_id: str, evse_id: int) -> None:
        """C25.FR.21: tell the station a driver is on the payment page (it holds the EVSE for the timeout).
        Best effort: the page works without it."""
        self._version_21(station_id)
        request = v21.messages.NotifyWebPaymentStartedRequest(
            evse_id=evse_id, timeout=self.settings.web_payment_timeout
        )
        try:
            await self.commands.send(station_id, request)
        except Exception as error:  # the driver may still pay; the station then simply starts
            log.info("%s: NotifyWebPaymentStarted not delivered: %s", station_id, error)

    async def pay(
        self,
        station_id: str,
        evse_id: int | None,
        card: Card,
        source: str,
        amount: Decimal | None = None,
        limits: dict[str, float] | None = None,
    ) -> PaymentRecord:
        """Pre-authorise on the card through the provider and start the transaction (C24.FR.01, C25.FR.23);
        ``limits``: the driver's maxEnergy / maxTime (C25.FR.59), answered with maxCost."""
        self._version_21(station_id)
        amount = _money(amount if amount is not None else Decimal(self.settings.authorization_amount))
        try:
            result = await self.provider.preauthorize(card, amount, self.settings.currency)
        except ProviderUnavailable as error:
            raise PaymentDeclined(f"payment provider unavailable: {error}") from None
        if not result.approved:
            raise PaymentDeclined(result.reason or "declined")
        now = self.clock.now()
        payment = await self.repository.insert(
            station_id,
            {
                "psp_ref": result.psp_ref,
                "evse_id": evse_id,
                "source": source,
                "status": AUTHORIZED,
                "currency": self.settings.currency,
                "authorized_amount": amount,
                "card_bin": card.bin,
                "card_last4": card.last4,
                "driver_limits": limits or None,
            },
            now,
        )
        return await self._start(payment)

    async def kiosk_payment(
        self,
        station_id: str,
        evse_id: int | None,
        psp_ref: str,
        amount: Decimal,
        currency: str,
        card_bin: str | None,
        card_last4: str | None,
    ) -> PaymentRecord:
        """C24: a stand-alone terminal's PSP approved a card (its own PSP reference): start the transaction."""
        self._version_21(station_id)
        if await self.repository.by_psp_ref(psp_ref) is not None:
            raise Conflict(f"payment {psp_ref} exists already")
        payment = await self.repository.insert(
            station_id,
            {
                "psp_ref": psp_ref,
                "evse_id": evse_id,
                "source": "kiosk",
                "status": AUTHORIZED,
                "currency": currency,
                "authorized_amount": _money(amount),
                "card_bin": card_bin,
                "card_last4": card_last4,
            },
            self.clock.now(),
        )
        return await self._start(payment)

    async def _start(self, payment: PaymentRecord) -> PaymentRecord:
        additional = [
            v21.datatypes.AdditionalInfoType(additional_id_token=value, type=kind)
            for kind, value in (("CardBin", payment.card_bin), ("CardLast4Digits", payment.card_last4))
            if value
        ]
        request = v21.messages.RequestStartTransactionRequest(
            id_token=v21.datatypes.IdTokenType(
                id_token=payment.psp_ref, type=DIRECT_PAYMENT, additional_info=additional or UNSET
            ),
            remote_start_id=secrets.randbelow(2**31 - 1) + 1,
            evse_id=payment.evse_id if payment.evse_id is not None else UNSET,
        )
        try:
            response = await self.commands.send(payment.station_id, request)
        except Exception:
            await self._release(payment, "the station could not be asked to start")
            raise
        assert isinstance(response, v21.messages.RequestStartTransactionResponse)
        if response.status != "Accepted":
            return await self._release(payment, "the station refused to start")
        return payment

    async def _release(self, payment: PaymentRecord, why: str) -> PaymentRecord:
        """C19 from the CSMS's end: no transaction, the pre-authorisation is released."""
        try:
            await self.provider.cancel(payment.psp_ref)
        except ProviderUnavailable as error:
            log.warning("payment %s: release failed: %s", payment.psp_ref, error)
        return await self.repository.update(
            payment.id, {"status": CANCELED, "status_info": why[:500]}, self.clock.now()
        )

    async def cancel(self, payment_id: int, reason: str | None) -> PaymentRecord:
        """The operator cancels a pre-authorisation that has no transaction (C19)."""
        payment = await self.get(payment_id)
        if payment.status != AUTHORIZED or payment.transaction_id is not None:
            raise Conflict(
                f"payment {payment_id} is {payment.status}, with transaction {payment.transaction_id}"
            )
        return await self._release(payment, f"canceled by the operator: {reason or 'no reason given'}")

    async def refund(self, payment_id: int, amount: Decimal) -> PaymentRecord:
        payment = await self.get(payment_id)
        if payment.status not in (SETTLED, REFUNDED) or payment.settlement_amount is None:
            raise Conflict(f"payment {payment_id} is {payment.status}: nothing to refund")
        already = payment.refunded_amount or Decimal(0)
        if amount <= 0 or already + amount > payment.settlement_amount:
            raise Invalid(f"a refund is above 0 and at most {payment.settlement_amount - already}")
        try:
            result = await self.provider.refund(payment.psp_ref, _money(amount))
        except ProviderUnavailable as error:
            raise PaymentDeclined(f"payment provider unavailable: {error}") from None
        if not result.approved:
            raise PaymentDeclined(result.reason or "refund declined")
        return await self.repository.update(
            payment.id, {"status": REFUNDED, "refunded_amount": already + _money(amount)}, self.clock.now()
        )

    # -- C17: prepaid balances ---------------------------------------------------------------------------

    async def set_balance(self, id_token: str, balance: Decimal, currency: str) -> None:
        """The balance of a token the authorization block knows (UnknownToken otherwise)."""
        with suppress(AmbiguousToken):  # the value exists under several types: the account is the value's
            await self.authorization.get_token(id_token, None)
        await self.repository.set_balance(id_token, _money(balance), currency, self.clock.now())

    async def balance(self, id_token: str) -> tuple[Decimal, str]:
        found = await self.repository.balance(id_token)
        if found is None:
            raise NotFound(f"no prepaid account for {id_token}")
        return found

    async def on_decision(
        self, station_id: str, id_token: str, token_type: str | None, decision: TokenDecision
    ) -> TokenDecision:
        """C17.FR.01/02: a prepaid token is never cached; without a positive balance it is NoCredit. A
        DirectPayment token of a payment the CSMS holds (kiosk, web) is Accepted while the payment is."""
        if token_type == DIRECT_PAYMENT:
            held = await self.repository.by_psp_ref(id_token)
            if held is not None and held.source in CSMS_HELD and held.status == AUTHORIZED:
                return replace(decision, status="Accepted", cache_expiry=self.clock.now())
            return decision
        if decision.status != "Accepted":
            return decision
        found = await self.repository.balance(id_token)
        if found is None:
            return decision
        now = self.clock.now()
        if found[0] <= 0:
            return replace(decision, status="NoCredit", cache_expiry=now)
        return replace(decision, cache_expiry=now)

    # -- transaction events ------------------------------------------------------------------------------

    async def on_event(
        self, station_id: str, version: str, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras | None:
        if version != Version.V21.value or outcome.duplicate:
            return None
        payment = await self._payment_of(station_id, facts)
        if payment is None and facts.token_type == DIRECT_PAYMENT and facts.id_token is not None:
            payment = await self._terminal_payment(station_id, facts)
        if payment is not None:
            return await self._payment_event(payment, facts, outcome)
        if facts.id_token is not None or facts.event_type == "Ended":
            return await self._prepaid_event(station_id, facts, outcome)
        return None

    async def _payment_of(self, station_id: str, facts: EventFacts) -> PaymentRecord | None:
        if facts.token_type == DIRECT_PAYMENT and facts.id_token is not None:
            found = await self.repository.by_psp_ref(facts.id_token)
            if found is not None and found.station_id.casefold() == station_id.casefold():
                return found
        bound = await self.repository.by_transaction(station_id, facts.transaction_id)
        return bound[-1] if bound else None

    async def _terminal_payment(self, station_id: str, facts: EventFacts) -> PaymentRecord:
        """C18.FR.06: a station's terminal payment, first seen in its transaction (maxCost: what it holds)."""
        assert facts.id_token is not None
        held = (facts.transaction_limit or {}).get("maxCost")
        card = masked_card_details(facts.token_info)
        return await self.repository.insert(
            station_id,
            {
                "psp_ref": facts.id_token,
                "evse_id": facts.evse_id,
                "source": "terminal",
                "status": AUTHORIZED,
                "authorized_amount": _money(Decimal(str(held))) if held is not None else None,
                "transaction_id": facts.transaction_id,
                "card_bin": card.get("CardBin"),
                "card_last4": card.get("CardLast4Digits"),
                "card_details": card or None,
            },
            self.clock.now(),
        )

    async def _payment_event(
        self, payment: PaymentRecord, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras | None:
        now = self.clock.now()
        if payment.transaction_key is None:
            payment = await self.repository.update(
                payment.id,
                {"transaction_id": facts.transaction_id, "transaction_key": outcome.transaction_key},
                now,
            )
            if payment.status == CANCELED and payment.source in CSMS_HELD:
                self._publish_uncovered(payment, facts)
        if payment.status == CANCELED and payment.source in CSMS_HELD:
            if facts.event_type == "Ended":
                await self._uncollected(payment, await self._final_cost(outcome, facts))
            return None
        if payment.source not in CSMS_HELD:
            if facts.event_type == "Ended" and await self._settlement_by_csms(payment.station_id):
                await self._settle(payment, await self._final_cost(outcome, facts))  # C21, third scenario
            return None
        if facts.event_type == "Ended":
            await self._settle(payment, await self._final_cost(outcome, facts))  # C24.FR.10 / C25.FR.40
            return None
        if payment.status != AUTHORIZED or payment.authorized_amount is None:
            return None
        if not payment.limit_sent:  # C24.FR.02 / C25.FR.24: maxCost = what the card holds, once
            await self.repository.update(payment.id, {"limit_sent": True}, now)
            limits = {**(payment.driver_limits or {}), "maxCost": float(payment.authorized_amount)}
            return ResponseExtras(transaction_limit=limits)  # with the driver's maxima (C25.FR.59)
        return await self._maybe_raise(payment, outcome)

    def _publish_uncovered(self, payment: PaymentRecord, facts: EventFacts) -> None:
        """A transaction started with a payment the CSMS had already released (its events came after
        ``start_timeout``, e.g. from a station that was offline, or the operator cancelled it): nothing
        covers the charge any more, so the operator is told at once (the CSMS does not stop a driver's
        charge on its own)."""
        self.events.publish(
            StationEvent(
                "payment.uncovered_transaction",
                payment.station_id,
                {"pspRef": payment.psp_ref, "transactionId": facts.transaction_id},
            )
        )

    async def _uncollected(self, payment: PaymentRecord, amount: Decimal) -> None:
        """The end of a transaction whose pre-authorisation was released before it: a released amount cannot be
        captured, so the cost is recorded as a failed settlement without retries, for the operator to collect
        (C22's alert, not its retry)."""
        amount = _money(amount)
        if amount <= 0:
            return
        why = f"pre-authorisation released before the transaction ({payment.status_info or 'canceled'}): not captured"
        record = await self.repository.update(
            payment.id,
            {
                "status": FAILED,
                "settlement_amount": amount,
                "settled_by": "csms",
                "status_info": why[:500],
                "next_attempt_at": None,
            },
            self.clock.now(),
        )
        self.events.publish(
            StationEvent(
                "payment.settlement_failed",
                record.station_id,
                {
                    "pspRef": record.psp_ref,
                    "transactionId": record.transaction_id,
                    "status": FAILED,
                    "amount": str(amount),
                    "reason": why,
                    "retry": None,
                },
            )
        )

    async def _maybe_raise(self, payment: PaymentRecord, outcome: EventOutcome) -> ResponseExtras | None:
        """C23 done by the CSMS: the cost nears the authorised amount, so the provider is asked for more."""
        step = Decimal(self.settings.incremental_amount)
        authorized = payment.authorized_amount
        cost = await self._running_cost(outcome.transaction_key)
        if step <= 0 or authorized is None or cost is None:
            return None
        if cost <= authorized - Decimal(self.settings.incremental_threshold):
            return None
        try:
            result = await self.provider.increase(payment.psp_ref, step)
        except ProviderUnavailable as error:
            log.warning("payment %s: increase failed: %s", payment.psp_ref, error)
            return None
        if not result.approved:  # the station stops at the limit it has (C23 remark)
            await self.repository.update(
                payment.id, {"status_info": f"increase declined: {result.reason}"[:500]}, self.clock.now()
            )
            return None
        raised = authorized + step
        await self.repository.update(payment.id, {"authorized_amount": raised}, self.clock.now())
        self.events.publish(
            StationEvent(
                "payment.increased",
                payment.station_id,
                {"pspRef": payment.psp_ref, "authorized": str(raised), "cost": str(cost)},
            )
        )
        return ResponseExtras(transaction_limit={"maxCost": float(raised)})

    async def _running_cost(self, transaction_key: int) -> Decimal | None:
        try:
            return (await self.tariffs.receipt(transaction_key)).record.total_incl_tax
        except NoCost:
            return None

    async def _final_cost(self, outcome: EventOutcome, facts: EventFacts) -> Decimal:
        """The CSMS's cost of the transaction; else the station's own (I12 costDetails); else nothing."""
        ours = await self._running_cost(outcome.transaction_key)
        if ours is not None:
            return ours
        total = ((facts.cost_details or {}).get("totalCost") or {}).get("total") or {}
        value = total.get("inclTax", total.get("exclTax"))
        return Decimal(str(value)) if value is not None else Decimal(0)

    async def _settlement_by_csms(self, station_id: str) -> bool:
        values = await self.device_model.values(station_id, [_SETTLEMENT_BY_CSMS])
        value = values.get(_SETTLEMENT_BY_CSMS)
        return value is not None and (value[0] or "").strip().lower() == "true"

    async def _prepaid_event(
        self, station_id: str, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras | None:
        """C17.FR.03 maxCost = the balance once (the first event with the token); the cost charged at the end."""
        if facts.token_type == DIRECT_PAYMENT:
            return None
        if facts.event_type == "Ended":  # the Ended event need not carry the token: the cost record has it
            try:
                record = (await self.tariffs.receipt(outcome.transaction_key)).record
            except NoCost:
                return None
            if (
                record.id_token is not None
                and record.total_incl_tax
                and await self.repository.balance(record.id_token)
            ):
                await self.repository.charge(record.id_token, record.total_incl_tax, self.clock.now())
            return None
        if facts.id_token is None:
            return None
        found = await self.repository.balance(facts.id_token)
        if found is None:
            return None
        if outcome.decision is not None and outcome.decision.status == "Accepted" and found[0] > 0:
            return ResponseExtras(transaction_limit={"maxCost": float(found[0])})
        return None

    # -- settlement by the CSMS (C21, C24.FR.10, C25.FR.40) and its retries (C22) ------------------------

    async def _settle(self, payment: PaymentRecord, amount: Decimal) -> PaymentRecord:
        amount = _money(amount)
        now = self.clock.now()
        if payment.status not in (AUTHORIZED, FAILED, REJECTED):
            return payment
        if amount <= 0:  # C20: nothing to pay, the pre-authorisation is released
            return await self._release(payment, "no cost: released")
        try:
            result: ProviderResult | None = await self.provider.capture(payment.psp_ref, amount)
            why = None if result is None or result.approved else (result.reason or "declined")
        except ProviderUnavailable as error:
            result, why = None, str(error)
        attempts = payment.attempts + 1
        if result is not None and result.approved:
            receipt_id = result.receipt_id or f"R{payment.id}-{secrets.token_hex(6)}"
            settled = await self.repository.update(
                payment.id,
                {
                    "status": SETTLED,
                    "settlement_amount": amount,
                    "settlement_time": now,
                    "settled_by": "csms",
                    "receipt_id": receipt_id[:50],
                    "receipt_url": result.receipt_url,
                    "attempts": attempts,
                    "next_attempt_at": None,
                    "status_info": None,
                },
                now,
            )
            self.events.publish(
                StationEvent(
                    "payment.settled", payment.station_id, {"pspRef": payment.psp_ref, "amount": str(amount)}
                )
            )
            # C24.FR.11 / C25.FR.41: the provider's receipt, else our receipt page
            self.receipts.show(settled.station_id, settled.receipt_url or self.receipt_url(settled))
            return settled
        status = FAILED if result is None else REJECTED
        return await self._failed(payment, status, amount, why or status, attempts, "csms")

    async def _failed(
        self, payment: PaymentRecord, status: str, amount: Decimal, why: str, attempts: int, by: str
    ) -> PaymentRecord:
        """C22: recorded, the operator alerted, a capture retried while retries remain."""
        now = self.clock.now()
        retry = attempts <= self.settings.settlement_retries
        delay = timedelta(seconds=self.settings.retry_interval * 2 ** max(0, attempts - 1))
        record = await self.repository.update(
            payment.id,
            {
                "status": status,
                "settlement_amount": amount,
                "settled_by": by,
                "status_info": why[:500],
                "attempts": attempts,
                "next_attempt_at": now + delay if retry else None,
            },
            now,
        )
        self.events.publish(
            StationEvent(
                "payment.settlement_failed",
                payment.station_id,
                {
                    "pspRef": payment.psp_ref,
                    "transactionId": payment.transaction_id,
                    "status": status,
                    "amount": str(amount),
                    "reason": why,
                    "retry": record.next_attempt_at.isoformat() if record.next_attempt_at else None,
                },
            )
        )
        return record

    async def tick(self, now: datetime) -> None:
        """Capture again the failed settlements that are due (C22); release what never got a transaction."""
        await self._release_unstarted(now)
        for payment in await self.repository.due_retries(now):
            if payment.settlement_amount is None:
                continue
            try:
                await self._settle(payment, payment.settlement_amount)
            except Exception:
                log.exception("payment %s: retry failed", payment.psp_ref)

    async def _release_unstarted(self, now: datetime) -> None:
        """A web or kiosk payment whose remote start came to nothing: with a TxStartPoint after Authorized the
        station ends the authorization at EVConnectionTimeOut without any message (C20.FR.02 covers only a
        started transaction), so the CSMS releases the amount itself after ``start_timeout`` (as C19)."""
        timeout = self.settings.start_timeout
        if timeout <= 0:
            return
        before = now - timedelta(seconds=timeout)
        for payment in await self.repository.unstarted(tuple(sorted(CSMS_HELD)), before):
            try:
                await self._release(payment, f"no transaction started within {timeout} s: released")
            except Exception:
                log.exception("payment %s: release failed", payment.psp_ref)

    # -- NotifySettlement (C19-C22) ----------------------------------------------------------------------

    async def notify_settlement(self, station_id: str, settlement: Settlement) -> PaymentRecord:
        """Store a station's settlement against its transaction; a receipt id of the CSMS's when the terminal
        gave none (ReceiptByCSMS, C21 first scenario)."""
        now = self.clock.now()
        payment = await self.repository.by_psp_ref(settlement.psp_ref)
        if payment is None:  # AuthorizeDirectPayment false: the CSMS learns of the payment now
            payment = await self.repository.insert(
                station_id,
                {"psp_ref": settlement.psp_ref, "source": "terminal", "status": AUTHORIZED},
                now,
            )
        elif payment.station_id.casefold() != station_id.casefold():
            raise Invalid(f"pspRef {settlement.psp_ref} belongs to another station")
        changes: dict[str, Any] = {
            "status": settlement.status,
            "settlement_amount": _money(settlement.amount),
            "settlement_time": settlement.time,
            "settled_by": "station",
            "status_info": settlement.status_info,
            "vat_number": settlement.vat_number,
            "vat_company": settlement.vat_company,
        }
        if settlement.transaction_id is not None:
            changes["transaction_id"] = settlement.transaction_id
        if settlement.status == SETTLED:
            changes["receipt_id"] = settlement.receipt_id or f"R{payment.id}-{secrets.token_hex(6)}"
            changes["receipt_url"] = settlement.receipt_url
            changes["next_attempt_at"] = None
        payment = await self.repository.update(payment.id, changes, now)
        if settlement.status in (REJECTED, FAILED):
            why = settlement.status_info or f"settlement {settlement.status.lower()} at the station"
            payment = await self._failed(
                payment, settlement.status, payment.settlement_amount or Decimal(0), why, 0, "station"
            )
        else:
            self.events.publish(
                StationEvent(
                    f"payment.{settlement.status.lower()}",
                    station_id,
                    {
                        "pspRef": settlement.psp_ref,
                        "transactionId": settlement.transaction_id,
                        "amount": str(settlement.amount),
                    },
                )
            )
        return payment

    # -- VatNumberValidation (C18.FR.08-10) --------------------------------------------------------------

    async def validate_vat(self, vat_number: str) -> VatAnswer:
        problem = vat.format_problem(vat_number)
        if problem is not None:
            return VatAnswer(False, vat_number, reason=problem)
        try:
            company = await self.validator.lookup(vat.normalized(vat_number))
        except Exception as error:  # the register cannot be asked: the number is not confirmed
            log.warning("VAT register lookup of %s failed: %s", vat_number, error)
            return VatAnswer(False, vat_number, reason="VAT register unavailable")
        if company is None:
            return VatAnswer(False, vat_number, reason="not registered")
        return VatAnswer(True, vat_number, company)
