"""Test case declarations and the registry they land in.

A case is a decorated async function whose body follows the steps of its Part 6 table::

    @case("TC_C_02_CSMS", "Local start transaction - Authorization Invalid/Unknown",
          use_cases=("C01", "C04", "C06"), requirements=("C01.FR.07", "C04.FR.01", "C06.FR.04"))
    async def tc_c_02(tool: CsmsTool) -> None:
        response = await tool.send(1, authorize_request(tool.configured.invalid_idtoken))
        expect_field(2, response, "idTokenInfo.status", "Invalid", "Unknown")

The side (which end the system under test is) comes from the id's suffix: ``_CSMS`` cases test a CSMS (the
tool plays the charging station), ``_CS`` cases test a charging station (the tool plays the CSMS).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chargeplane.tools.conformance.catalog import profiles_of
from chargeplane.tools.conformance.feature_condition import holds, parse

# The context a body receives depends on the side (a CsmsTool for _CSMS cases), hence Any here.
CaseBody = Callable[[Any], Awaitable[None]]

CASE_ID = re.compile(r"\ATC_[A-P]_\d{2,3}_(CSMS|CS)\Z")
# Part 5 optional feature ids: C-44, C-29.1, AS-2, SC-4, R-1, ISO-3, LA-2, UI-1, ...
FEATURE_ID = re.compile(r"\A[A-Z]{1,3}-\d{1,2}(\.\d{1,2})?\Z")
PROFILES = (
    "Core",
    "Advanced Security",
    "Local Authorization List Management",
    "Smart Charging",
    "Reservation",
    "Advanced Device Management",
    "Advanced User Interface",
    "ISO 15118 Support",
)
DEFAULT_TIMEOUT = 20.0  # seconds per case; a case that needs longer says so


class Side(enum.StrEnum):
    CSMS = "CSMS"  # the system under test is a CSMS; the tool plays the charging station
    STATION = "CS"  # the system under test is a charging station; the tool plays the CSMS


@dataclass(frozen=True)
class TestCase:
    __test__ = False  # not a pytest class, whatever its name

    id: str
    name: str
    use_cases: tuple[str, ...]
    requirements: tuple[str, ...]
    profiles: tuple[str, ...]
    features: tuple[str, ...]  # Part 5 optional features the SUT must declare (all of them), else N/A
    body: CaseBody
    timeout: float = DEFAULT_TIMEOUT
    starts_booted: bool = True  # the runner executes Reusable State Booted first (general precondition)
    # A boolean formula over feature ids (feature_condition.py) for the CSV conditions ``features`` cannot
    # state, e.g. "C-09.4 and (C-51 or not C-09.1)"; "" when there is none.
    condition: str = ""

    @property
    def side(self) -> Side:
        return Side.CSMS if self.id.endswith("_CSMS") else Side.STATION

    @property
    def block(self) -> str:
        """The functional block letter (B, C, E, ...)."""
        return self.id.split("_")[1]

    @property
    def module(self) -> str:
        """The case module it is declared in, e.g. ``cs/g_availability`` (one module: one block, one side)."""
        return "/".join(self.body.__module__.split(".")[-2:])

    def missing_features(self, declared: Iterable[str]) -> tuple[str, ...]:
        available = set(declared)
        missing = tuple(f for f in self.features if f not in available)
        if self.condition and not holds(self.condition, available):
            missing += (self.condition,)  # reported as a whole: which term fails depends on the others
        return missing


class DuplicateCase(ValueError):
    pass


class Registry:
    def __init__(self) -> None:
        self._cases: dict[str, TestCase] = {}

    def add(self, test_case: TestCase) -> None:
        if test_case.id in self._cases:
            raise DuplicateCase(f"{test_case.id} is declared twice")
        self._cases[test_case.id] = test_case

    def get(self, case_id: str) -> TestCase:
        return self._cases[case_id]

    def __len__(self) -> int:
        return len(self._cases)

    def select(self, side: Side, patterns: Iterable[str] = ()) -> list[TestCase]:
        """The cases of ``side`` whose id matches any of the shell-style ``patterns`` (all when none), in
        document order: block letter, then number."""
        wanted = [p.strip() for p in patterns if p.strip()]
        chosen = [
            c
            for c in self._cases.values()
            if c.side is side and (not wanted or any(fnmatch.fnmatchcase(c.id, p) for p in wanted))
        ]
        return sorted(chosen, key=lambda c: (c.block, int(c.id.split("_")[2])))


REGISTRY = Registry()


def case(
    case_id: str,
    name: str,
    *,
    use_cases: tuple[str, ...],
    requirements: tuple[str, ...] = (),
    profiles: tuple[str, ...] | None = None,
    features: tuple[str, ...] = (),
    timeout: float = DEFAULT_TIMEOUT,
    starts_booted: bool = True,
    registry: Registry | None = None,
    condition: str = "",
) -> Callable[[CaseBody], CaseBody]:
    """Declare the decorated async function as test case ``case_id`` (and register it). Its profiles are
    Part 5's for that case unless given (``tests/tools/conformance`` checks the two agree)."""
    if not CASE_ID.match(case_id):
        raise ValueError(f"bad test case id {case_id!r} (expected e.g. TC_B_01_CSMS)")
    chosen_profiles = profiles if profiles is not None else profiles_of(case_id) or ("Core",)
    for feature in features:
        if not FEATURE_ID.match(feature):
            raise ValueError(f"{case_id}: bad feature id {feature!r} (expected e.g. C-44)")
    for profile in chosen_profiles:
        if profile not in PROFILES:
            raise ValueError(f"{case_id}: unknown certification profile {profile!r}")
    if condition:
        parse(condition)  # a malformed formula is a declaration error (ConditionError is a ValueError)

    def declare(body: CaseBody) -> CaseBody:
        test_case = TestCase(
            case_id, name, use_cases, requirements, chosen_profiles, features, body, timeout, starts_booted
        )
        if condition:
            test_case = dataclasses.replace(test_case, condition=condition)
        (registry if registry is not None else REGISTRY).add(test_case)
        return body

    return declare
