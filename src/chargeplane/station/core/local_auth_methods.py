"""Local ways to authorize other than a card at the reader (C02 start button, C03 / C18 payment terminal,
C04 PIN keypad), and the token types whose IdTokenInfo never enters the Authorization Cache.

* C02: with ``AuthCtrlr.Enabled`` false nothing is authorized; the start button grants the EVSE to the token
  of type NoAuthorization with an empty value (C02.FR.01) and no Authorize is sent. A token read while
  authorization is off goes into the transaction unchecked (AuthCtrlr.Enabled, appendix description). A
  second press while the EVSE runs for NoAuthorization ends that authorization (the button is start/stop).
* C04: a PIN typed on the keypad is a KeyCode token and goes through the normal path (list, cache,
  Authorize, C04.FR.02). PINs never reach the display or a log in clear (C04.FR.04); wrong PINs lock the
  keypad for a time that doubles with every further failure (C04.FR.06, recommended).
* C03 (2.0.1): the terminal talks to its own payment system, which asks the CSMS to start a transaction
  with a Central token (RequestStartTransaction): nothing goes from the station on a card read. The station
  never asks Authorize about a Central token (C03.FR.01, see ``remote``).
* C18 (2.1): an approved card yields a DirectPayment token whose value is the PSP reference; Authorize is
  sent only when ``PaymentCtrlr.AuthorizeDirectPayment`` is true (C18.FR.04), otherwise the EVSE is
  authorized locally (C18.FR.03).
* C02.FR.03 / C03.FR.02 / C05.FR.02: NoAuthorization and Central IdTokenInfo is never cached.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from chargeplane.ocpp.versions import Version
from chargeplane.station.core import transactions
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.model import Evse, ShowMessage, Token

AUTH = "AuthCtrlr"
PAYMENT = "PaymentCtrlr"
NO_AUTHORIZATION = "NoAuthorization"
KEY_CODE = "KeyCode"
CENTRAL = "Central"
DIRECT_PAYMENT = "DirectPayment"
# Part 2 C02.FR.03, C03.FR.02 (and C05.FR.02 for Central): their IdTokenInfo stays out of the cache.
UNCACHED_TYPES = frozenset({NO_AUTHORIZATION, CENTRAL})
PIN_FREE_ATTEMPTS = 3  # wrong PINs before the keypad locks (C04.FR.06)
PIN_LOCK_S = 30  # the first lock; doubles with every further wrong PIN
PIN_LOCK_MAX_S = 3600
PIN_DIGITS = (4, 12)


def cacheable(token_type: str) -> bool:
    return token_type not in UNCACHED_TYPES


def shown(token: Token) -> str:
    """A token as the display and the logs may show it: a PIN never in clear (C04.FR.04)."""
    return "PIN" if token.type == KEY_CODE else f"Token {token.value}"


def loggable(token: Token) -> str:
    """A token's value as a log line or status output may show it (C04.FR.04: a PIN is hidden)."""
    return "(PIN)" if token.type == KEY_CODE else token.value


class LocalAuthMethods(Controller):
    __slots__ = ("_pin_failures", "_pin_locked_until")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._pin_failures = 0
        self._pin_locked_until: datetime | None = None

    # ------------------------------------------------------------------ C02 start button
    def start_button(self, evse_id: int, now: datetime) -> None:
        ctx = self.ctx
        evse = ctx.evses.get(evse_id)
        if evse is None:
            ctx.act(ShowMessage("No EVSE available"))
            return
        if ctx.version is Version.V16:  # 1.6 has no NoAuthorization token type
            ctx.act(ShowMessage("Start button not available"))
            return
        txs = ctx.get(transactions.Transactions)
        holder = txs.holder(evse)
        if holder is not None and holder.type == NO_AUTHORIZATION:
            txs.end_authorization(evse, "Local", "StopAuthorized", now)
            return
        if ctx.model.flag(AUTH, "Enabled"):
            ctx.act(ShowMessage("Present a card or enter a PIN"))
            return
        txs.authorize(evse, Token("", NO_AUTHORIZATION), now, "Authorized")  # C02.FR.01: no Authorize

    def authorization_off(self, token: Token, evse: Evse, now: datetime) -> bool:
        """AuthCtrlr.Enabled false: a token read is put in the transaction without any check. True when
        handled so (the caller then does nothing more)."""
        if self.ctx.model.flag(AUTH, "Enabled") or self.ctx.version is Version.V16:
            return False
        txs = self.ctx.get(transactions.Transactions)
        holder = txs.holder(evse)
        if holder is not None and holder.same_holder(token):
            txs.end_authorization(evse, "Local", "StopAuthorized", now)
        else:
            txs.authorize(evse, token, now, "Authorized")
        return True

    # ------------------------------------------------------------------ C04 PIN keypad
    def pin_entered(self, pin: str, evse_id: int | None, now: datetime) -> None:
        from chargeplane.station.core.authorization import Authorization  # it imports this module

        ctx = self.ctx
        if ctx.version is Version.V16:  # a 1.6 idTag has no type: a PIN would be an idTag in clear
            ctx.act(ShowMessage("PIN entry not available"))
            return
        if not (pin.isdigit() and PIN_DIGITS[0] <= len(pin) <= PIN_DIGITS[1]):
            ctx.act(ShowMessage(f"A PIN has {PIN_DIGITS[0]} to {PIN_DIGITS[1]} digits"))
            return
        if self._pin_locked_until is not None and now < self._pin_locked_until:
            ctx.act(ShowMessage("PIN entry locked, try again later"))  # C04.FR.06
            return
        ctx.get(Authorization).token_presented(pin, KEY_CODE, evse_id, now)

    def token_verdict(self, token: Token, status: str, now: datetime) -> None:
        """Count wrong PINs (C04.FR.06): after PIN_FREE_ATTEMPTS, lock for PIN_LOCK_S, doubling each time."""
        if token.type == DIRECT_PAYMENT:
            from chargeplane.station.core.payments import Payments  # it imports transactions

            self.ctx.get(Payments).refused(token, status)  # C18.FR.07
            return
        if token.type != KEY_CODE:
            return
        if status == "Accepted":
            self._pin_failures = 0
            self._pin_locked_until = None
            return
        self._pin_failures += 1
        extra = self._pin_failures - PIN_FREE_ATTEMPTS
        if extra >= 0:
            lock = min(PIN_LOCK_S * 2**extra, PIN_LOCK_MAX_S)
            self._pin_locked_until = now + timedelta(seconds=lock)

    @property
    def pin_locked_until(self) -> datetime | None:
        return self._pin_locked_until

    # ------------------------------------------------------------------ C03 / C18 payment terminal
    def card_paid(self, evse_id: int | None, now: datetime) -> str | None:
        """A card approved by the terminal's payment service provider. Returns the PSP reference used as
        the DirectPayment token (2.1), or None when the station itself has nothing to send (2.0.1: the
        payment system asks the CSMS, which starts the transaction with a Central token, C03)."""
        from chargeplane.station.core.authorization import Authorization  # it imports this module

        ctx = self.ctx
        if ctx.version is not Version.V21:
            ctx.act(ShowMessage("Payment approved: the CSMS starts charging"))
            return None
        if not ctx.model.flag(PAYMENT, "Enabled"):
            ctx.act(ShowMessage("Payment terminal disabled"))
            return None
        psp_ref = "PSP" + secrets.token_hex(8).upper()
        from chargeplane.station.core.payments import card_details  # it imports transactions

        token = Token(psp_ref, DIRECT_PAYMENT, details=card_details(ctx.model))
        evse = self._free_evse(evse_id)
        if evse is None:
            ctx.act(ShowMessage("No EVSE available: payment cancelled"))
            return None
        from chargeplane.station.core.payments import Payments  # it imports transactions

        ctx.get(Payments).card_authorized(psp_ref, evse)  # C18.FR.01: AuthorizationAmount held
        if not ctx.model.flag(PAYMENT, "AuthorizeDirectPayment"):
            ctx.get(transactions.Transactions).authorize(evse, token, now, "Authorized")  # C18.FR.03
        elif ctx.accepted:
            ctx.get(Authorization).send_authorize(evse, token, now)  # C18.FR.04
        else:  # the CSMS must approve and cannot: the terminal releases the amount (C18.FR.07)
            ctx.get(Payments).refused(token, "Unknown")
            return None
        return psp_ref

    def _free_evse(self, evse_id: int | None) -> Evse | None:
        """The EVSE asked for, else the first with an EV waiting, else the first without a holder."""
        evses = self.ctx.evses
        if evse_id is not None:
            return evses.get(evse_id)
        holder = self.ctx.get(transactions.Transactions).holder
        idle = [evse for evse in evses.values() if holder(evse) is None and not evse.faulted]
        waiting = [evse for evse in idle if evse.plugged is not None]
        candidates = waiting or idle
        return candidates[0] if candidates else None
