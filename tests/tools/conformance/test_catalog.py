"""Part 5's catalog against the declared cases: every case exists in Part 5, for its side, under the same
profiles; and the catalog holds what Part 5 counts."""

from __future__ import annotations

import pytest

from chargeplane.tools.conformance.case import CASE_ID, PROFILES, REGISTRY, Side
from chargeplane.tools.conformance.catalog import CATALOG, case_ids, entry, profiles_of
from chargeplane.tools.conformance.runner import load_cases

load_cases()


@pytest.mark.parametrize("side", list(Side))
def test_every_declared_case_is_a_part5_case_with_its_profiles(side: Side) -> None:
    wrong = {
        c.id: (c.profiles, profiles_of(c.id))
        for c in REGISTRY.select(side)
        if tuple(c.profiles) != profiles_of(c.id)
    }
    assert not wrong, f"declared profiles differ from Part 5's (declared, Part 5): {wrong}"


def test_the_catalog_covers_every_profile_and_both_sides() -> None:
    assert {e.profile for e in CATALOG} == set(PROFILES)
    assert len(case_ids("Core", "CS")) > 200
    assert len(case_ids("Core", "CSMS")) > 120
    # A case listed under two profiles, for one side (a CSMS asking for a configuration report).
    assert profiles_of("TC_B_12_CSMS") == ("Core", "Advanced Device Management")
    assert profiles_of("TC_B_12_CS") == ("Core",)


def test_a_case_for_one_side_only_has_no_id_for_the_other() -> None:
    assert "TC_A_02_CSMS" in case_ids("Core", "CSMS")
    assert "TC_A_02_CS" not in case_ids("Core", "CS")
    assert profiles_of("TC_A_02_CS") == ()
    with pytest.raises(KeyError):
        entry("Core", "TC_A_02_CS")


def test_a_condition_written_in_a_side_cell_is_kept() -> None:
    unlock = entry("Core", "TC_F_06_CS")
    assert unlock.cs is not None
    assert "HFS-1" in unlock.condition


def test_every_catalog_id_is_a_valid_case_id_after_the_csv_misprints_are_put_right() -> None:
    bad = [i for e in CATALOG for i in e.ids() if not CASE_ID.match(i)]
    assert not bad
    assert profiles_of("TC_L_01_CS") == ("Core",)  # firmware; the cost display case is TC_I_01
    assert profiles_of("TC_I_01_CS") == ("Advanced User Interface",)
