"""The simulated integrated payment terminal after the card is approved (2.1 C19-C23, C25 station side), and
the PaymentCtrlr device-model variables.

* A card the terminal approved (C18, ``LocalAuthMethods.card_paid``) holds PaymentCtrlr.AuthorizationAmount
  (C18.FR.01): a :class:`TerminalSession` per PSP reference. Its transaction carries that amount as
  transactionLimit.maxCost (C18.FR.06), so the station stops there (E16).
* C19: the authorization ends without a transaction (the driver cancels, EVConnectionTimeOut): the terminal
  releases the amount and, with AuthorizeDirectPayment, tells the CSMS with NotifySettlement Canceled
  (C19.FR.01/02). C18.FR.07: a CSMS that refuses the card makes the terminal release it too.
* C20-C22: at the end the terminal settles the final cost (the local cost of the Ended event's costDetails,
  else the CSMS's totalCost in its answer): none at all is a cancellation (C20.FR.04/05); else Settled,
  Rejected or Failed as the terminal answers (a test sets ``settle_outcomes``), each a NotifySettlement with
  transactionId, pspRef, amount and time (C21, C22.FR.01/02); receipt id and URL only when the terminal
  provides the receipt (ReceiptByCSMS false) and the settlement succeeded; the CSMS's receiptUrl is shown.
  With SettlementByCSMS the terminal does nothing: the CSMS captures (C21, third scenario).
* C23: once the cost exceeds the authorised amount minus IncrementalAuthorizationThreshold, the terminal is
  asked for IncrementalAuthorizationAmount more; approved, maxCost rises by as much in a LimitSet event
  (C23.FR.01/02); declined, the station stops at the limit it has.
* C18.FR.08: a VAT number the driver enters is checked with VatNumberValidation; an accepted one (and its
  company) goes into the settlement.
* C25.FR.50-53: the QR code's URL fills {chargingstationid} (WebPaymentsCtrlr.ChargingStationId, else
  SecurityCtrlr.Identity), {evse}, {roamingevseid} (the EVSE's WebPaymentsCtrlr.RoamingEvseId), {totp} and
  {version}. C25.FR.03-06/56-58: the driver's maximum time / energy / cost go on as query parameters when
  WebPaymentsCtrlr.URLParameters lists them; the transaction the CSMS then starts on that EVSE with a
  DirectPayment token carries them as its transactionLimit and stops there (E16).
* C25.FR.22/27: NotifyWebPaymentStarted is answered empty; the display says a payment is in progress and the
  EVSE accepts no local authorization for ``timeout`` seconds or until the CSMS's RequestStartTransaction.

NotifySettlements made while offline wait (persisted) and go once the CSMS accepted the next boot.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from msgspec import UNSET, convert, to_builtins

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.totp import VERSION_1, totp_v1
from chargeplane.ocpp.versions import Version
from chargeplane.station.core import transactions, tx_limits
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import DeviceModel, StationLayout, VariableDef, var
from chargeplane.station.core.model import Evse, ShowMessage, Token

PAYMENT = "PaymentCtrlr"
WEB = "WebPaymentsCtrlr"
DIRECT_PAYMENT = "DirectPayment"
# what the simulated terminal can tell of a card (2.1 appendix, additionalInfo types of ad hoc payments)
SIMULATED_CARD = {
    "CardBin": "411111",
    "CardLast4Digits": "1111",
    "PaymentBrand": "Visa",
    "ReadingMethod": "Contactless",
    "PaymentRecognition": "Credit",
}
DETAILS = ",".join(SIMULATED_CARD)
SETTLED, CANCELED, REJECTED, FAILED = "Settled", "Canceled", "Rejected", "Failed"
_STATE = "payments"
# C25.FR.56-58: query parameter of the QR code's URL -> the transaction limit it becomes (E16)
URL_LIMITS = {"maxtime": "maxTime", "maxenergy": "maxEnergy", "maxcost": "maxCost"}
URL_PARAMETERS = ",".join(URL_LIMITS)


@dataclass(slots=True)
class TerminalSession:
    psp_ref: str
    evse_id: int
    authorized: float  # held on the card now
    transaction_id: str | None = None
    vat_number: str | None = None
    vat_company: dict[str, Any] | None = None
    last_cost: float | None = None  # the CSMS's running cost (no local cost)
    ending: bool = False  # Ended sent, waiting for the CSMS's totalCost
    increase_declined: bool = False
    raised_at_cost: float | None = None  # one raise per cost reading
    energy_wh: float = 0.0  # delivered, known at the Ended event


@dataclass(slots=True)
class Terminal:
    """What the simulated terminal's PSP answers next (first in, first out; empty: approve / Settled)."""

    settle_outcomes: list[str] = field(default_factory=list)
    increase_outcomes: list[bool] = field(default_factory=list)
    released: list[str] = field(default_factory=list)  # PSP references whose amount was released
    settled: list[tuple[str, float, str]] = field(default_factory=list)


def _money(value: float) -> float:
    return round(value + 0.0, 2)


class Payments(Controller):
    __slots__ = ("armed_limits", "outbox", "qr_limits", "sessions", "terminal", "web_holds")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sessions: dict[str, TerminalSession] = {}
        self.outbox: list[dict[str, Any]] = []  # NotifySettlement requests (wire JSON) not sent yet
        self.terminal = Terminal()
        self.web_holds: dict[int, datetime] = {}
        # C25.FR.04-06: the driver's limits of the QR code shown per EVSE, until the code is stale
        self.qr_limits: dict[int, tuple[dict[str, float], datetime]] = {}
        self.armed_limits: dict[int, dict[str, float]] = {}  # the CSMS started that payment: next tx

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        # 2.1 Part 2 appendix, PaymentCtrlr (the simulated terminal)
        return [
            var(PAYMENT, "Enabled", "boolean", "true"),
            var(PAYMENT, "Problem", "boolean", "false", "ReadOnly"),
            var(PAYMENT, "Connected", "boolean", "true", "ReadOnly"),
            var(PAYMENT, "AuthorizeDirectPayment", "boolean", "true"),
            var(PAYMENT, "AuthorizationAmount", "decimal", "50", min_limit=0),
            var(PAYMENT, "IncrementalAuthorizationAmount", "decimal", "25", min_limit=0),
            var(PAYMENT, "IncrementalAuthorizationThreshold", "decimal", "5", min_limit=0),
            var(PAYMENT, "PaymentDetails", "MemberList", "CardBin,CardLast4Digits", values_list=DETAILS),
            var(PAYMENT, "SettlementByCSMS", "boolean", "false"),
            var(PAYMENT, "ReceiptByCSMS", "boolean", "true"),
            var(PAYMENT, "ReceiptServerUrl", "string", "https://receipts.terminal.example/"),
            var(PAYMENT, "TerminalID", "string", "SIM-TERMINAL-1", "ReadOnly"),
            var(PAYMENT, "PaymentServiceProvider", "string", "Simulated PSP", "ReadOnly"),
            var(PAYMENT, "VendorName", "string", "Chargeplane", "ReadOnly"),
            var(PAYMENT, "Model", "string", "Simulated terminal", "ReadOnly"),
            # C25 dynamic QR code (the CSMS sets the template and the secret)
            var(WEB, "Enabled", "boolean", "false"),
            var(WEB, "URLTemplate", "string", ""),
            var(WEB, "TOTPVersion", "OptionList", VERSION_1, values_list=VERSION_1),
            var(WEB, "ValidityTime", "integer", "60", min_limit=6, max_limit=3600),
            var(WEB, "SharedSecret", "string", "", "WriteOnly"),
            var(WEB, "Length", "integer", "8", min_limit=6, max_limit=32),
            var(WEB, "URLParameters", "MemberList", URL_PARAMETERS, "ReadOnly", values_list=URL_PARAMETERS),
            var(WEB, "ChargingStationId", "string", ""),  # empty: SecurityCtrlr.Identity (appendix)
            # C25: per EVSE, for a URL pointing to an external party (the CSMS sets it)
            *(var(WEB, "RoamingEvseId", "string", "", evse=n) for n in range(1, len(layout.connectors) + 1)),
        ]

    def _amount(self, variable: str) -> float:
        try:
            return max(0.0, float(self.ctx.model.value(PAYMENT, variable) or 0))
        except ValueError:
            return 0.0

    # ------------------------------------------------------------------ persistence
    def start(self, now: datetime) -> None:
        raw = self.ctx.storage.get_state(_STATE)
        if raw:
            data = json.loads(raw)
            self.sessions = {s["psp_ref"]: TerminalSession(**s) for s in data.get("sessions", [])}
            self.outbox = list(data.get("outbox", []))

    def _save(self) -> None:
        data = {"sessions": [asdict(s) for s in self.sessions.values()], "outbox": self.outbox}
        self.ctx.storage.set_state(_STATE, json.dumps(data))

    # ------------------------------------------------------------------ C18: a card approved
    def card_authorized(self, psp_ref: str, evse: Evse) -> None:
        """C18.FR.01: the terminal holds AuthorizationAmount for this card."""
        self.sessions[psp_ref] = TerminalSession(psp_ref, evse.id, self._amount("AuthorizationAmount"))
        self._save()

    def refused(self, token: Token, status: str) -> None:
        """C18.FR.07: the CSMS did not accept the card: the terminal releases the amount."""
        if token.type != DIRECT_PAYMENT or status == "Accepted" or token.value not in self.sessions:
            return
        del self.sessions[token.value]
        self.terminal.released.append(token.value)
        self.ctx.act(ShowMessage("Payment not accepted: amount released"))
        self._save()

    def cancel(self, evse_id: int | None, now: datetime) -> None:
        """The driver cancels on the terminal (C19 before the start; C20 after it)."""
        txs = self.ctx.get(transactions.Transactions)
        for session in list(self.sessions.values()):
            evse = self.ctx.evses.get(session.evse_id)
            if evse is None or (evse_id is not None and evse.id != evse_id):
                continue
            if evse.tx is not None and evse.tx.id == session.transaction_id:
                txs.end_authorization(evse, "Local", "StopAuthorized", now)  # C20.FR.01
            elif evse.authorized is not None and evse.authorized.value == session.psp_ref:
                txs.end_authorization(evse, "Local", "StopAuthorized", now)  # C19.FR.01 (hook below)

    def authorization_ended(self, evse: Evse, token: Token, now: datetime) -> None:
        """C19.FR.01/02: authorization over without a transaction: released, and the CSMS told."""
        session = self.sessions.get(token.value)
        if token.type != DIRECT_PAYMENT or session is None or session.transaction_id is not None:
            return
        del self.sessions[token.value]
        self.terminal.released.append(session.psp_ref)
        self.ctx.act(ShowMessage("Payment canceled: amount released"))
        if self.ctx.model.flag(PAYMENT, "AuthorizeDirectPayment"):
            self._notify(session, CANCELED, 0.0, now, with_transaction=False)
        self._save()

    # ------------------------------------------------------------------ the transaction (adapter seams)
    def _session_of(self, evse: Evse) -> TerminalSession | None:
        tx = evse.tx
        if tx is None:
            return None
        for session in self.sessions.values():
            if session.transaction_id == tx.id:
                return session
        if tx.token is not None and tx.token.type == DIRECT_PAYMENT:
            found = self.sessions.get(tx.token.value)
            if found is not None and found.transaction_id is None:
                return found
        return None

    def before_event(self, evse: Evse, request: v21.messages.TransactionEventRequest) -> None:
        """C18.FR.06: the event that first carries the card's token carries maxCost = the amount held.
        C25.FR.04-06: the limits the driver chose for the QR code, in the paid transaction's first event."""
        self._apply_qr_limits(evse)
        session = self._session_of(evse)
        tx = evse.tx
        if session is None or tx is None or session.transaction_id is not None:
            return
        session.transaction_id = tx.id
        if "maxCost" in self.ctx.get(tx_limits.TxLimits).supported():
            tx.limits["maxCost"] = min(tx.limits.get("maxCost", session.authorized), session.authorized)
            tx.limits_unsent = True
        self._save()

    def _apply_qr_limits(self, evse: Evse) -> None:
        tx = evse.tx
        if tx is None or tx.token is None or tx.token.type != DIRECT_PAYMENT:
            return
        chosen = self.armed_limits.pop(evse.id, None)
        if not chosen:
            return
        supported = self.ctx.get(tx_limits.TxLimits).supported()
        for name, value in chosen.items():
            if name in supported:
                tx.limits[name] = min(value, tx.limits.get(name, value))
                tx.limits_unsent = True

    def after_event(self, evse: Evse, request: Payload, now: datetime) -> None:
        """At the Ended event: settle now with the local cost (I12 costDetails), else wait for the answer."""
        if not isinstance(request, v21.messages.TransactionEventRequest) or request.event_type != "Ended":
            return
        session = self._session_of(evse)
        if session is None:
            return
        session.ending = True
        if evse.tx is not None:
            session.energy_wh = evse.meter.energy_wh - evse.tx.meter_start_wh
            if evse.tx.cost_reported is not None:
                session.last_cost = evse.tx.cost_reported
        details = present(request.cost_details)
        if details is not None and details.failure_to_calculate is not True:
            total = details.total_cost.total
            local = (
                present(total.incl_tax) if present(total.incl_tax) is not None else present(total.excl_tax)
            )
            if local is not None:
                self._settle(session, float(local), now)
                return
        self._save()

    def answered(
        self,
        request: v21.messages.TransactionEventRequest,
        response: v21.messages.TransactionEventResponse,
        now: datetime,
    ) -> None:
        """The CSMS's cost: running (kept) or, for the Ended event, final (settled, I03)."""
        tx_id = request.transaction_info.transaction_id
        session = next((s for s in self.sessions.values() if s.transaction_id == tx_id), None)
        if session is None:
            return
        total = present(response.total_cost)
        if request.event_type != "Ended":
            if total is not None:
                session.last_cost = total
            return
        if session.ending:
            self._settle(session, total if total is not None else session.last_cost or 0.0, now)

    # ------------------------------------------------------------------ C20-C22: settlement
    def _settle(self, session: TerminalSession, amount: float, now: datetime) -> None:
        self.sessions.pop(session.psp_ref, None)
        amount = _money(max(0.0, amount))
        if amount == 0 and session.energy_wh <= 0:
            self.terminal.released.append(session.psp_ref)  # C20.FR.04
            self.ctx.act(ShowMessage("Nothing to pay: amount released"))
            self._notify(session, CANCELED, 0.0, now)  # C20.FR.05
        elif self.ctx.model.flag(PAYMENT, "SettlementByCSMS"):
            self.ctx.act(ShowMessage(f"Total {amount:.2f}: settled by the operator"))  # C21, third scenario
        else:
            outcome = self.terminal.settle_outcomes.pop(0) if self.terminal.settle_outcomes else SETTLED
            self.terminal.settled.append((session.psp_ref, amount, outcome))
            self.ctx.act(ShowMessage(f"Payment {outcome.lower()}: {amount:.2f}"))
            self._notify(session, outcome, amount, now)
        self._save()

    def _notify(
        self,
        session: TerminalSession,
        status: str,
        amount: float,
        now: datetime,
        with_transaction: bool = True,
    ) -> None:
        receipt_id: str | None = None
        receipt_url: str | None = None
        if status == SETTLED and not self.ctx.model.flag(PAYMENT, "ReceiptByCSMS"):
            receipt_id = f"T-{session.psp_ref[-12:]}"  # the terminal's receipt (C21, second scenario)
            base = self.ctx.model.value(PAYMENT, "ReceiptServerUrl")
            receipt_url = f"{base.rstrip('/')}/{receipt_id}" if base else None
            if receipt_url:
                self.ctx.act(ShowMessage(f"Receipt: {receipt_url}"))
        request = v21.messages.NotifySettlementRequest(
            transaction_id=session.transaction_id if with_transaction and session.transaction_id else UNSET,
            psp_ref=session.psp_ref,
            status=v21.enums.PaymentStatusEnumType(status),
            settlement_amount=amount,
            settlement_time=self.ctx.ts(now),
            receipt_id=receipt_id or UNSET,
            receipt_url=receipt_url or UNSET,
            vat_number=session.vat_number or UNSET,
            vat_company=v21.datatypes.AddressType(**session.vat_company) if session.vat_company else UNSET,
        )
        self.outbox.append(to_builtins(request))
        self._flush(now)

    def _flush(self, now: datetime) -> None:
        while self.outbox and self.ctx.accepted:
            wire = self.outbox.pop(0)
            request = _decode(wire)
            self.ctx.send(request, now, self._settlement_answered)
        self._save()

    def _settlement_answered(self, response: Payload, now: datetime) -> None:
        url = present(getattr(response, "receipt_url", UNSET))
        if url:
            self.ctx.act(ShowMessage(f"Receipt: {url}"))  # C21 first scenario, b

    def registration_accepted(self, now: datetime) -> None:
        self._flush(now)

    def connection_opened(self, now: datetime) -> None:
        self._flush(now)  # back online after an earlier accepted boot

    # ------------------------------------------------------------------ C23: incremental authorization
    def check_increase(self, evse: Evse, cost: float | None, now: datetime) -> None:
        """C23.FR.01/02: the cost nears the held amount: ask the terminal for more, raise maxCost."""
        session = self._session_of(evse)
        step = self._amount("IncrementalAuthorizationAmount")
        if session is None or cost is None or step <= 0 or session.increase_declined or evse.tx is None:
            return
        if cost <= session.authorized - self._amount("IncrementalAuthorizationThreshold"):
            return
        if session.raised_at_cost == cost:
            return
        session.raised_at_cost = cost
        approved = self.terminal.increase_outcomes.pop(0) if self.terminal.increase_outcomes else True
        if not approved:  # the energy stops at the current maxCost (C23 remarks)
            session.increase_declined = True
            self._save()
            return
        session.authorized = _money(session.authorized + step)
        self._save()
        self.ctx.get(tx_limits.TxLimits).raise_limit(evse, "maxCost", session.authorized, now)

    # ------------------------------------------------------------------ C18.FR.08: VAT number
    def vat_number_entered(self, vat_number: str, evse_id: int | None, now: datetime) -> None:
        ctx = self.ctx
        if ctx.version is not Version.V21:
            ctx.act(ShowMessage("VAT number not available"))
            return
        if not 0 < len(vat_number) <= 20:
            ctx.act(ShowMessage("A VAT number has 1 to 20 characters"))
            return

        def answered(response: Payload, at: datetime) -> None:
            assert isinstance(response, v21.messages.VatNumberValidationResponse)
            if response.status != "Accepted":
                ctx.act(ShowMessage(f"VAT number {vat_number} rejected"))
                return
            company = present(response.company)
            for session in self.sessions.values():
                if evse_id is None or session.evse_id == evse_id:
                    session.vat_number = vat_number
                    session.vat_company = to_builtins(company) if company is not None else None
            self._save()
            ctx.act(ShowMessage(f"VAT number accepted{': ' + company.name if company else ''}"))

        request = v21.messages.VatNumberValidationRequest(
            vat_number=vat_number, evse_id=evse_id if evse_id is not None else UNSET
        )
        if not ctx.send(request, now, answered):
            ctx.act(ShowMessage("VAT number cannot be checked now"))

    # ------------------------------------------------------------------ C25: the dynamic QR code
    def payment_url(
        self,
        evse_id: int,
        now: datetime,
        identity: str | None = None,
        limits: dict[str, float] | None = None,
    ) -> str | None:
        """C25.FR.01/50-53: the URL of the QR code shown for ``evse_id`` now, None when web payments are
        off or not configured (or the template names a roaming EVSE id the EVSE has not). ``identity`` when
        SecurityCtrlr.Identity is not set. ``limits``: the driver's maximum (by URL parameter name: maxtime
        in s, maxenergy in Wh, maxcost), appended when supported (C25.FR.03-06/56-58) and then enforced."""
        model = self.ctx.model
        template = model.value(WEB, "URLTemplate")
        secret = model.value(WEB, "SharedSecret")
        if not model.flag(WEB, "Enabled") or not template or not secret or evse_id not in self.ctx.evses:
            return None
        if model.value(WEB, "TOTPVersion") != VERSION_1:
            return None
        station = (
            model.value(WEB, "ChargingStationId")
            or model.value("SecurityCtrlr", "Identity")
            or identity
            or ""
        )
        roaming = model.value(WEB, "RoamingEvseId", evse=evse_id)
        if "{roamingevseid}" in template and not roaming:
            return None  # C25.FR.53: nothing to put there, a URL the external party cannot decode
        validity = max(6, model.number(WEB, "ValidityTime"))
        code = totp_v1(
            secret, self.ctx.station_time(now).timestamp(), validity, max(6, model.number(WEB, "Length"))
        )
        fills = {
            "chargingstationid": station,  # C25.FR.51
            "evse": str(evse_id),  # C25.FR.52
            "roamingevseid": roaming,  # C25.FR.53
            "totp": code,
            "version": VERSION_1,
        }
        url = template
        for name, value in fills.items():
            url = url.replace("{" + name + "}", quote(value, safe=""))
        chosen = self._url_limits(limits or {})
        if chosen:
            query = urlencode({name: _number(value) for name, value in chosen.items()})
            url += ("&" if "?" in url else "?") + query
        limit_names = {URL_LIMITS[name]: value for name, value in chosen.items()}
        if limit_names:
            self.qr_limits[evse_id] = (limit_names, now + timedelta(seconds=validity))
        else:
            self.qr_limits.pop(evse_id, None)
        return url

    def _url_limits(self, limits: dict[str, float]) -> dict[str, float]:
        """The driver's limits WebPaymentsCtrlr.URLParameters supports (C25.FR.03), positive ones only."""
        supported = set(self.ctx.model.members(WEB, "URLParameters"))
        unknown = set(limits) - set(URL_LIMITS)
        if unknown:
            raise ValueError(f"no URL parameter {', '.join(sorted(unknown))} (maxtime, maxenergy, maxcost)")
        return {name: value for name, value in limits.items() if name in supported and value > 0}

    # ------------------------------------------------------------------ C25: web payment started
    def held_for_web(self, evse: Evse, now: datetime) -> bool:
        """C25.FR.22: no local authorization while a driver pays on the web for this EVSE."""
        until = self.web_holds.get(evse.id) or self.web_holds.get(0)
        return until is not None and now < until

    def remote_start(self, evse: Evse, token: Token, now: datetime) -> None:
        """The CSMS's RequestStartTransaction ends the hold (C25.FR.22); a paid one (DirectPayment) takes
        the limits of the EVSE's QR code still valid (C25.FR.04-06)."""
        self.web_holds.pop(evse.id, None)
        self.web_holds.pop(0, None)
        chosen = self.qr_limits.pop(evse.id, None)
        if chosen is not None and token.type == DIRECT_PAYMENT and now < chosen[1]:
            self.armed_limits[evse.id] = chosen[0]

    def next_deadline(self) -> datetime | None:
        return min(self.web_holds.values(), default=None)

    def handle_timer(self, now: datetime) -> None:
        for evse_id, until in list(self.web_holds.items()):
            if until <= now:
                del self.web_holds[evse_id]
                self.ctx.act(ShowMessage("Web payment timed out: EVSE free"))


def card_details(model: DeviceModel) -> tuple[tuple[str, str], ...]:
    """C18.FR.04/06: the card's details that PaymentCtrlr.PaymentDetails asks for, as additionalInfo."""
    return tuple(
        (kind, SIMULATED_CARD[kind])
        for kind in model.members(PAYMENT, "PaymentDetails")
        if kind in SIMULATED_CARD
    )


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"


def _decode(wire: dict[str, Any]) -> v21.messages.NotifySettlementRequest:
    return convert(wire, v21.messages.NotifySettlementRequest)


def notify_web_payment_started(
    ctl: Payments, request: v21.messages.NotifyWebPaymentStartedRequest, now: datetime
) -> v21.messages.NotifyWebPaymentStartedResponse:
    """C25.FR.27 answered without parameters; C25.FR.22 the EVSE held for ``timeout`` seconds."""
    if request.evse_id == 0 or request.evse_id in ctl.ctx.evses:
        until = now + timedelta(seconds=max(0, request.timeout))
        ctl.web_holds[request.evse_id] = until
        for evse_id, (limits, valid) in list(ctl.qr_limits.items()):  # the driver pays: the limits wait
            if request.evse_id in (0, evse_id):
                ctl.qr_limits[evse_id] = (limits, max(valid, until))
        ctl.ctx.act(ShowMessage("Payment in progress"))
    return v21.messages.NotifyWebPaymentStartedResponse()


Payments.on_2x = (route("NotifyWebPaymentStarted", notify_web_payment_started),)
