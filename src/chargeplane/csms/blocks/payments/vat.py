"""VAT numbers (2.1 C18.FR.08-10, VatNumberValidation): the format per country, and the lookup seam.

A VAT number is first checked against its country's format (the two-letter prefix, then the national
pattern; spaces, dots and dashes are ignored); only a well-formed one is looked up in a validation service
(the EU's VIES, a national register, ...) through :class:`VatValidator`. The lookup answers with the
company's name and address (the ``company`` of the answer) or None when the register does not know the number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

# The national patterns after the country prefix (EU member states, Northern Ireland, the UK, Switzerland,
# Norway). Greece uses EL, not its ISO code GR.
PATTERNS: dict[str, str] = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "BG": r"\d{9,10}",
    "CY": r"\d{8}[A-Z]",
    "CZ": r"\d{8,10}",
    "DE": r"\d{9}",
    "DK": r"\d{8}",
    "EE": r"\d{9}",
    "EL": r"\d{9}",
    "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}",
    "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}",
    "HR": r"\d{11}",
    "HU": r"\d{8}",
    "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "IT": r"\d{11}",
    "LT": r"\d{9}|\d{12}",
    "LU": r"\d{8}",
    "LV": r"\d{11}",
    "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}",
    "PL": r"\d{10}",
    "PT": r"\d{9}",
    "RO": r"\d{2,10}",
    "SE": r"\d{12}",
    "SI": r"\d{8}",
    "SK": r"\d{10}",
    "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "GB": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
    "CH": r"E\d{9}(?:MWST|TVA|IVA)?",
    "NO": r"\d{9}(?:MVA)?",
}
_COMPILED = {country: re.compile(f"(?:{pattern})") for country, pattern in PATTERNS.items()}
_SEPARATORS = re.compile(r"[\s.\-]")


def normalized(vat_number: str) -> str:
    return _SEPARATORS.sub("", vat_number).upper()


def format_problem(vat_number: str) -> str | None:
    """Why the number is not a VAT number of a known country, or None when its format is right."""
    number = normalized(vat_number)
    country, national = number[:2], number[2:]
    pattern = _COMPILED.get(country)
    if pattern is None:
        return f"unknown VAT country prefix {country!r}"
    if pattern.fullmatch(national) is None:
        return f"not a {country} VAT number"
    return None


@dataclass(frozen=True, slots=True)
class Company:
    """A 2.1 AddressType: name, address1, city, country (required), address2, postal code."""

    name: str
    address1: str
    city: str
    country: str
    address2: str | None = None
    postal_code: str | None = None


class VatValidator(Protocol):
    async def lookup(self, vat_number: str) -> Company | None:
        """The registered company of a well-formed (normalized) number, None when it is not registered.
        Raises an exception when the register cannot be asked."""
        ...


@dataclass
class TestVatValidator:
    """A register in memory: ``known`` numbers (normalized) and their companies."""

    __test__ = False
    known: dict[str, Company] = field(default_factory=dict)

    async def lookup(self, vat_number: str) -> Company | None:
        return self.known.get(vat_number)
