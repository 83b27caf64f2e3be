"""The card details a station's payment terminal puts in the DirectPayment id token's additionalInfo
(2.1 C18.FR.04/06, the types of PaymentCtrlr.PaymentDetails), kept with the payment without anything that
could be a card number."""

from __future__ import annotations

import re

# additionalInfo type -> the form a value must have to be kept (the 2.1 appendix's ad hoc payment types)
_KEPT: dict[str, re.Pattern[str]] = {
    "CardBin": re.compile(r"\d{6,8}"),  # the issuer's prefix, never more
    "CardLast4Digits": re.compile(r"\d{4}"),
    "PaymentBrand": re.compile(r"[^\d]{1,40}"),
    "ReadingMethod": re.compile(r"[^\d]{1,40}"),
    "PaymentRecognition": re.compile(r"[^\d]{1,40}"),
}


def masked_card_details(additional_info: dict[str, str] | None) -> dict[str, str]:
    """The known types whose value has the expected form; anything else (an unknown type, a longer run of
    digits that may be the full number) is dropped."""
    kept: dict[str, str] = {}
    for kind, value in (additional_info or {}).items():
        pattern = _KEPT.get(kind)
        if pattern is not None and pattern.fullmatch(value.strip()):
            kept[kind] = value.strip()
    return kept
