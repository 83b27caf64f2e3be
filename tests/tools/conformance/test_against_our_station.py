"""Every implemented ``_CS`` case against Chargeplane's own charging station: each passes, or is an expected
failure whose reason is written here (and in docs/CONFORMANCE.md). The list may only shrink: an expected
failure that passes fails this test too."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.declaration import Configured, Declaration
from chargeplane.tools.conformance.report import Outcome, console_line
from chargeplane.tools.conformance.runner import load_cases, run_station_cases
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, ListenSettings
from tests.tools.conformance.our_station import OurStation

load_cases()

STATION_ID = "CONFORMANCE-CS-1"
PASSWORD = "a-long-password-456789"
# What our station supports of the charging-station optional features (Part 5).
FEATURES = frozenset({"C-29.5", "C-48.1", "C-48.2", "HFS-1"})
EXPECTED_FAILURES: dict[str, str] = {}
# Short waits: our station retries a rejected boot and times out a cable plugin as configured.
CONFIGURED = Configured(boot_interval=2, ev_connection_timeout=3)


@pytest.fixture
async def endpoint() -> AsyncIterator[CsmsEndpoint]:
    tool = CsmsEndpoint(ListenSettings("127.0.0.1", 0, STATION_ID, PASSWORD))
    await tool.start()
    try:
        yield tool
    finally:
        await tool.stop()


@pytest.fixture
async def station(endpoint: CsmsEndpoint, tmp_path: Path) -> AsyncIterator[OurStation]:
    ours = OurStation(endpoint.url, STATION_ID, PASSWORD, tmp_path / "station.db")
    await ours.start()
    try:
        yield ours
    finally:
        await ours.stop()


async def test_every_station_case_against_our_station(endpoint: CsmsEndpoint, station: OurStation) -> None:
    selected = REGISTRY.select(Side.STATION, os.environ.get("CONFORMANCE_CASES", "").split(","))
    assert selected
    declaration = Declaration(FEATURES, CONFIGURED, EXPECTED_FAILURES)
    started = time.monotonic()
    results = await run_station_cases(
        selected, endpoint, station, declaration, on_result=lambda r: print(console_line(r), flush=True)
    )
    elapsed = time.monotonic() - started
    report = "\n".join(console_line(r) for r in results)
    assert all(r.outcome in (Outcome.PASS, Outcome.XFAIL) for r in results), report
    assert elapsed < 120, f"the suite took {elapsed:.0f} s"
