"""Every implemented csms case against Chargeplane's own CSMS: each passes, or is an expected failure whose
reason is written here (and in docs/CONFORMANCE.md)."""

from __future__ import annotations

import time

from chargeplane.tools.conformance.adapter import ChargeplaneAdapter
from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.declaration import Declaration
from chargeplane.tools.conformance.report import Outcome, console_line
from chargeplane.tools.conformance.runner import run_csms_cases
from chargeplane.tools.conformance.steps import LinkSettings
from tests.csms.conftest import RunningCsms
from tests.tools.conformance.conftest import PASSWORD, STATION_ID

# What Chargeplane's CSMS supports of the CSMS-side optional features (Part 5).
FEATURES = frozenset({"C-11", "C-16", "C-29.1", "C-29.2", "C-29.5", "C-44", "LA-2"})
EXPECTED_FAILURES: dict[str, str] = {}


async def test_every_csms_case_against_chargeplane(csms: RunningCsms, adapter: ChargeplaneAdapter) -> None:
    selected = REGISTRY.select(Side.CSMS)
    assert len(selected) >= 3
    declaration = Declaration(features=FEATURES, expected_failures=EXPECTED_FAILURES)
    started = time.monotonic()
    results = await run_csms_cases(
        selected, LinkSettings(csms.ocpp_url, STATION_ID, PASSWORD), adapter, declaration
    )
    elapsed = time.monotonic() - started
    report = "\n".join(console_line(r) for r in results)
    print(report)
    assert all(r.outcome in (Outcome.PASS, Outcome.XFAIL) for r in results), report
    assert elapsed < 60, f"the suite took {elapsed:.0f} s"
