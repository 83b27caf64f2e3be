"""The payment-service-provider (PSP) seam of the payments block, and a deterministic provider for tests.

A provider pre-authorises an amount on a card, raises that amount (C23), captures (settles) the final amount
(C21, C24.FR.10, C25.FR.40), cancels a pre-authorisation (C19, C20) and refunds. The protocol between a CSMS
and its PSP is outside OCPP (C24/C25 remarks), so this interface is ours: a production provider is any object
with these coroutines, named in the ``provider`` setting as ``module:factory`` (the factory gets the block's
settings). Each call answers with a :class:`ProviderResult`; a provider that cannot be reached raises
:class:`ProviderUnavailable`, which the block records as a failed settlement and retries (C22).
"""

from __future__ import annotations

import enum
import hashlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol


class Outcome(enum.StrEnum):
    APPROVED = "Approved"
    DECLINED = "Declined"  # the PSP said no (C22: Rejected)


@dataclass(frozen=True, slots=True)
class Card:
    """What the driver entered on the payment page or the kiosk read (never stored: only bin / last 4)."""

    number: str
    holder: str = ""

    @property
    def bin(self) -> str:
        return self.number[:6]

    @property
    def last4(self) -> str:
        return self.number[-4:]


@dataclass(frozen=True, slots=True)
class ProviderResult:
    outcome: Outcome
    psp_ref: str
    reason: str | None = None  # why declined, as the PSP put it
    receipt_id: str | None = None
    receipt_url: str | None = None

    @property
    def approved(self) -> bool:
        return self.outcome is Outcome.APPROVED


class ProviderUnavailable(Exception):
    """The PSP could not be reached or failed for technical reasons (C22: Failed)."""


class PaymentProvider(Protocol):
    async def preauthorize(self, card: Card, amount: Decimal, currency: str) -> ProviderResult: ...

    async def increase(self, psp_ref: str, amount: Decimal) -> ProviderResult: ...

    async def capture(self, psp_ref: str, amount: Decimal) -> ProviderResult: ...

    async def cancel(self, psp_ref: str) -> ProviderResult: ...

    async def refund(self, psp_ref: str, amount: Decimal) -> ProviderResult: ...


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for index, digit in enumerate(int(d) for d in reversed(number)):
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


DECLINED_CARD = "4000000000000002"  # the test provider declines this card (like common PSP test cards)
UNREACHABLE_CARD = "4000000000000119"  # ... and fails technically on this one


@dataclass
class TestProvider:
    """A PSP in memory: deterministic references, a per-card ceiling, and switches a test sets to make the
    next calls of an operation decline or fail (``decline_next["capture"] = 1``)."""

    __test__ = False  # not a pytest class
    ceiling: Decimal = Decimal("1000")  # the most a test card may hold
    decline_next: dict[str, int] = field(default_factory=dict)
    fail_next: dict[str, int] = field(default_factory=dict)
    held: dict[str, Decimal] = field(default_factory=dict)  # psp_ref -> amount pre-authorised
    captured: dict[str, Decimal] = field(default_factory=dict)
    refunded: dict[str, Decimal] = field(default_factory=dict)
    calls: list[tuple[str, str, Decimal | None]] = field(default_factory=list)
    _serial: int = 0

    def _switch(self, operation: str, psp_ref: str) -> ProviderResult | None:
        if self.fail_next.get(operation, 0) > 0:
            self.fail_next[operation] -= 1
            raise ProviderUnavailable(f"test provider: {operation} failed")
        if self.decline_next.get(operation, 0) > 0:
            self.decline_next[operation] -= 1
            return ProviderResult(Outcome.DECLINED, psp_ref, f"{operation} declined")
        return None

    async def preauthorize(self, card: Card, amount: Decimal, currency: str) -> ProviderResult:
        self._serial += 1
        digest = hashlib.sha256(f"{card.number}:{self._serial}".encode()).hexdigest()[:12].upper()
        psp_ref = f"TEST-{digest}"
        self.calls.append(("preauthorize", psp_ref, amount))
        if card.number == UNREACHABLE_CARD:
            raise ProviderUnavailable("test provider: card network unreachable")
        if not luhn_valid(card.number) or card.number == DECLINED_CARD:
            return ProviderResult(Outcome.DECLINED, psp_ref, "card declined")
        if amount > self.ceiling:
            return ProviderResult(Outcome.DECLINED, psp_ref, "insufficient funds")
        switched = self._switch("preauthorize", psp_ref)
        if switched is not None:
            return switched
        self.held[psp_ref] = amount
        return ProviderResult(Outcome.APPROVED, psp_ref)

    async def increase(self, psp_ref: str, amount: Decimal) -> ProviderResult:
        self.calls.append(("increase", psp_ref, amount))
        switched = self._switch("increase", psp_ref)
        if switched is not None:
            return switched
        new = self.held.get(psp_ref, Decimal(0)) + amount
        if new > self.ceiling:
            return ProviderResult(Outcome.DECLINED, psp_ref, "insufficient funds")
        self.held[psp_ref] = new
        return ProviderResult(Outcome.APPROVED, psp_ref)

    async def capture(self, psp_ref: str, amount: Decimal) -> ProviderResult:
        self.calls.append(("capture", psp_ref, amount))
        switched = self._switch("capture", psp_ref)
        if switched is not None:
            return switched
        self.captured[psp_ref] = amount
        self.held.pop(psp_ref, None)
        receipt = f"R-{psp_ref.removeprefix('TEST-')}"[:50]
        return ProviderResult(Outcome.APPROVED, psp_ref, receipt_id=receipt)

    async def cancel(self, psp_ref: str) -> ProviderResult:
        self.calls.append(("cancel", psp_ref, None))
        switched = self._switch("cancel", psp_ref)
        if switched is not None:
            return switched
        self.held.pop(psp_ref, None)
        return ProviderResult(Outcome.APPROVED, psp_ref)

    async def refund(self, psp_ref: str, amount: Decimal) -> ProviderResult:
        self.calls.append(("refund", psp_ref, amount))
        switched = self._switch("refund", psp_ref)
        if switched is not None:
            return switched
        if amount > self.captured.get(psp_ref, Decimal(0)) - self.refunded.get(psp_ref, Decimal(0)):
            return ProviderResult(Outcome.DECLINED, psp_ref, "refund above the captured amount")
        self.refunded[psp_ref] = self.refunded.get(psp_ref, Decimal(0)) + amount
        return ProviderResult(Outcome.APPROVED, psp_ref)


def load_factory(path: str) -> Callable[..., object]:
    """``module:attribute`` -> the attribute (a factory called with the block's settings)."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"expected module:factory, got {path!r}")
    factory = getattr(importlib.import_module(module_name), attribute)
    if not callable(factory):
        raise ValueError(f"{path} is not callable")
    return factory  # type: ignore[no-any-return]
