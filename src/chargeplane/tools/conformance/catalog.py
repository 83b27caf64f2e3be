"""Part 5's catalog of test cases: the profiles a case belongs to and what each side must run.

The suite uses it to know which cases a certification profile holds (implemented or not) and to check that
every declared case exists and names its profiles as Part 5 does. The data is in :mod:`catalog_data`
(generated from the OCA's CSV).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

from chargeplane.tools.conformance.catalog_data import ROWS


class Applicability(StrEnum):
    MANDATORY = "M"
    CONDITIONAL = "C"  # under the entry's condition (Part 5 features)


@dataclass(frozen=True)
class CatalogEntry:
    profile: str
    case: str  # without the side: TC_E_01
    cs: Applicability | None  # None: not a charging-station case
    csms: Applicability | None
    condition: str

    def ids(self) -> Iterator[str]:
        """The suite's ids of this entry: ``TC_E_01_CS`` and/or ``TC_E_01_CSMS``."""
        if self.cs is not None:
            yield f"{self.case}_CS"
        if self.csms is not None:
            yield f"{self.case}_CSMS"


def _applicability(cell: str) -> Applicability | None:
    return Applicability(cell) if cell else None


CATALOG: tuple[CatalogEntry, ...] = tuple(
    CatalogEntry(profile, case, _applicability(cs), _applicability(csms), condition)
    for profile, case, cs, csms, condition in ROWS
)


def profiles_of(case_id: str) -> tuple[str, ...]:
    """The profiles Part 5 lists ``case_id`` (``TC_B_12_CS``) under, in catalog order; () if it is unknown."""
    return tuple(dict.fromkeys(e.profile for e in CATALOG if case_id in e.ids()))


def case_ids(profile: str, suffix: str) -> tuple[str, ...]:
    """The ids of ``profile``'s cases for one side (``suffix`` ``CS`` or ``CSMS``), in catalog order."""
    return tuple(i for e in CATALOG if e.profile == profile for i in e.ids() if i.endswith(f"_{suffix}"))


def entry(profile: str, case_id: str) -> CatalogEntry:
    """The catalog row of ``case_id`` in ``profile`` (KeyError if Part 5 has none)."""
    for e in CATALOG:
        if e.profile == profile and case_id in e.ids():
            return e
    raise KeyError(f"{case_id} is not a {profile} case of Part 5")
