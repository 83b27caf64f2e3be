"""Every implemented ``_CS`` case against Chargeplane's own charging station, one case module (of one
functional block) per test, with a fresh tool and station each: each case passes, or is an expected failure whose reason is written in
``expectations.py``."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargeplane.station.core.device_model import VariableKey
from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.declaration import Configured, Declaration
from chargeplane.tools.conformance.pki import TestPki, sign
from chargeplane.tools.conformance.report import Outcome, console_line
from chargeplane.tools.conformance.runner import load_cases, run_station_cases
from chargeplane.tools.conformance.station_steps import CsmsEndpoint, ListenSettings
from tests.tools.conformance.expectations import (
    STATION_EXPECTED_FAILURES,
    STATION_FEATURES,
    STATION_PROFILES,
)
from tests.tools.conformance.our_station import OurStation

load_cases()

STATION_ID = "CONFORMANCE-CS-1"
PASSWORD = "a-long-password-456789"
# Short waits: our station retries a rejected boot and times out a cable plugin as configured.
# Our station's factory connection profile is slot 0, slot 1 is free (TC_A_19_CS writes the wss profile there).
CONFIGURED = Configured(
    boot_interval=2,
    retry_backoff_wait_minimum=2,  # the offline cases wait for reconnections of this interval (default 3 s)
    ev_connection_timeout=3,
    reservation_expiry=3,
    silence_wait=2.0,
    station_configuration_slot=0,
    station_configuration_slot2=1,
)
MODULES = sorted({c.module for c in REGISTRY.select(Side.STATION)})
MODULE_BOUND_S = 150  # a whole case module against our station on loopback


@pytest.fixture
async def configured(tmp_path: Path) -> AsyncIterator[Configured]:
    """CONFIGURED, with the firmware TC_F_19_CS sends: signed by the tool's PKI (made here, in the directory the
    tool and our station read it from) and at a loopback address that accepts the download and never answers,
    so that the station is still Downloading when triggered."""

    async def stall(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the station gives up (or the test ends)
        writer.close()

    server = await asyncio.start_server(stall, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    signer = TestPki(directory=tmp_path / "pki").firmware_signer
    try:
        yield dataclasses.replace(
            CONFIGURED,
            firmware_location=f"http://127.0.0.1:{port}/firmware/conformance-1.1.bin",
            firmware_signing_certificate=signer.pem,
            firmware_signature=sign(b"never served", signer),
        )
    finally:
        server.close()


@pytest.fixture
async def endpoint(tmp_path: Path) -> AsyncIterator[CsmsEndpoint]:
    # the tool's PKI kept in files: our station trusts its manufacturer root from there (block L)
    tool = CsmsEndpoint(ListenSettings("127.0.0.1", 0, STATION_ID, PASSWORD, pki_dir=tmp_path / "pki"))
    await tool.start()
    try:
        yield tool
    finally:
        await tool.stop()


@pytest.fixture
async def station(endpoint: CsmsEndpoint, tmp_path: Path) -> AsyncIterator[OurStation]:
    root = tmp_path / "csms_root.crt"  # the tool's CSMS root, as a station is set up with (TC_M_22_CS)
    root.write_text(endpoint.test_pki().csms_root.pem)
    ours = OurStation(
        endpoint.url,
        STATION_ID,
        PASSWORD,
        tmp_path / "station.db",
        manufacturer_roots=tmp_path / "pki",
        ca_bundle=root,
    )
    await ours.start()
    try:
        yield ours
    finally:
        await ours.stop()


@pytest.mark.parametrize("module", MODULES)
async def test_station_cases_against_our_station(
    module: str, endpoint: CsmsEndpoint, station: OurStation, configured: Configured
) -> None:
    patterns = [p for p in os.environ.get("CONFORMANCE_CASES", "").split(",") if p.strip()]
    selected = [c for c in REGISTRY.select(Side.STATION, patterns) if c.module == module]
    if not selected:
        pytest.skip(f"CONFORMANCE_CASES selects no case of {module}")
    declaration = Declaration(STATION_FEATURES, configured, dict(STATION_EXPECTED_FAILURES), STATION_PROFILES)
    started = time.monotonic()
    results = await run_station_cases(
        selected, endpoint, station, declaration, on_result=lambda r: print(console_line(r), flush=True)
    )
    elapsed = time.monotonic() - started
    report = "\n".join(console_line(r) for r in results)
    # N/A: a case for optional features our station does not declare (not in STATION_FEATURES), e.g. a parking
    # bay sensor, or for stations without one it has (NOT C-13)
    assert all(r.outcome in (Outcome.PASS, Outcome.XFAIL, Outcome.NA) for r in results), report
    assert elapsed < MODULE_BOUND_S, f"{module} took {elapsed:.0f} s"


# Smart Charging in watts: the cases whose composite schedules a table gives, with <Configured chargingRateUnit> W
# (the profiles and the composites in W; the limits are 1000 times the tables' amperes).
WATT_CASES = ("TC_K_21_CS", "TC_K_22_CS", "TC_K_23_CS", "TC_K_28_CS", "TC_K_40_CS", "TC_K_41_CS")


async def test_smart_charging_composites_in_watts(
    endpoint: CsmsEndpoint, station: OurStation, configured: Configured
) -> None:
    declaration = Declaration(
        STATION_FEATURES,
        dataclasses.replace(configured, charging_rate_unit="W"),
        dict(STATION_EXPECTED_FAILURES),
        STATION_PROFILES,
    )
    selected = REGISTRY.select(Side.STATION, WATT_CASES)
    results = await run_station_cases(selected, endpoint, station, declaration)
    report = "\n".join(console_line(r) for r in results)
    assert len(results) == len(WATT_CASES), report
    assert all(r.outcome is Outcome.PASS for r in results), report


async def test_one_rate_unit_cases_run_against_a_station_with_amperes_only(
    endpoint: CsmsEndpoint, station: OurStation, configured: Configured
) -> None:
    """TC_K_12 / TC_K_42 are N/A for our station, which supports A and W (SC-2.1, SC-2.2). Set up with A only
    (its SmartChargingCtrlr.RateUnit, as a manufacturer would ship it) and declared so, it refuses W as the
    cases want; declared with A only while it still takes W, it fails them."""
    features = STATION_FEATURES - {"SC-2.2"}
    declaration = Declaration(features, configured, {}, STATION_PROFILES)
    selected = REGISTRY.select(Side.STATION, ("TC_K_12_CS", "TC_K_42_CS"))
    assert len(selected) == 2

    wrongly_declared = await run_station_cases(selected, endpoint, station, declaration)
    assert [r.outcome for r in wrongly_declared] == [Outcome.FAIL, Outcome.FAIL]

    station.station.core.ctx.model.put(VariableKey("SmartChargingCtrlr", "RateUnit"), "A")
    results = await run_station_cases(selected, endpoint, station, declaration)
    report = "\n".join(console_line(r) for r in results)
    assert all(r.outcome is Outcome.PASS for r in results), report


async def test_smart_charging_on_a_station_with_two_evses(
    endpoint: CsmsEndpoint, configured: Configured, tmp_path: Path
) -> None:
    """Our station in the tests has one EVSE; with two: TC_K_22_CS asks every EVSE's composite and EVSE 0's,
    which sums them (the TxDefaultProfile's 6 A gives 12 A on EVSE 0), and TC_K_24_CS (HFS-8: more than one
    EVSE) clears the profiles of both."""
    ours = OurStation(endpoint.url, STATION_ID, PASSWORD, tmp_path / "two-evses.db")
    ours.settings = dataclasses.replace(ours.settings, connectors=(1, 1))
    declaration = Declaration(
        STATION_FEATURES | {"HFS-8"}, dataclasses.replace(configured, evse_count=2), {}, STATION_PROFILES
    )
    await ours.start()
    try:
        results = await run_station_cases(
            REGISTRY.select(Side.STATION, ("TC_K_22_CS", "TC_K_24_CS")), endpoint, ours, declaration
        )
    finally:
        await ours.stop()
    report = "\n".join(console_line(r) for r in results)
    assert [r.outcome for r in results] == [Outcome.PASS, Outcome.PASS], report


async def test_evse_reset_refused_by_a_station_without_it(
    endpoint: CsmsEndpoint, station: OurStation, configured: Configured
) -> None:
    """TC_B_28 / B_29 are N/A for our station, which resets one EVSE (C-13). Built with EVSE.AllowReset false
    (a manufacturer's ReadOnly setting, B11.FR.10) and declared without C-13, it refuses as they want
    (B11.FR.09, B12.FR.09)."""
    model = station.station.core.ctx.model
    model.put(VariableKey("EVSE", "AllowReset", evse=configured.evse_id), "false", persist=True)
    declaration = Declaration(STATION_FEATURES - {"C-13"}, configured, {}, STATION_PROFILES)
    results = await run_station_cases(
        REGISTRY.select(Side.STATION, ("TC_B_28_CS", "TC_B_29_CS")), endpoint, station, declaration
    )
    report = "\n".join(console_line(r) for r in results)
    assert [r.outcome for r in results] == [Outcome.PASS, Outcome.PASS], report


async def _two_evse_run(
    endpoint: CsmsEndpoint, configured: Configured, tmp_path: Path, features: frozenset[str], *cases: str
) -> list[Outcome]:
    ours = OurStation(
        endpoint.url, STATION_ID, PASSWORD, tmp_path / "two-evses.db", manufacturer_roots=tmp_path / "pki"
    )
    ours.settings = dataclasses.replace(
        ours.settings,
        connectors=(1, 1),
        firmware_download_while_charging="AQ-7" in features,
        firmware_install_while_charging="C-43" in features,
    )
    declaration = Declaration(features, dataclasses.replace(configured, evse_count=2), {}, STATION_PROFILES)
    await ours.start()
    try:
        results = await run_station_cases(REGISTRY.select(Side.STATION, cases), endpoint, ours, declaration)
    finally:
        await ours.stop()
    print("\n".join(console_line(r) for r in results))
    return [r.outcome for r in results]


async def test_firmware_update_pending_with_new_sessions_on_two_evses(
    endpoint: CsmsEndpoint, configured: Configured, tmp_path: Path
) -> None:
    """TC_L_12_CS (C-20, HFS-8: more than one EVSE): with AllowNewSessionsPendingFirmwareUpdate true a second
    session starts while the update waits; the download follows the last transaction."""
    outcomes = await _two_evse_run(endpoint, configured, tmp_path, STATION_FEATURES | {"HFS-8"}, "TC_L_12_CS")
    assert outcomes == [Outcome.PASS]


async def test_firmware_downloaded_while_charging_by_hardware_that_can(
    endpoint: CsmsEndpoint, configured: Configured, tmp_path: Path
) -> None:
    """TC_L_14_CS / TC_L_15_CS are N/A for our station as built (not AQ-7). Built with hardware that downloads
    while charging (``firmware_download_while_charging``) and declared AQ-7, it downloads and verifies during
    the transaction and installs once the transactions ended (L01.FR.06, L01.FR.34), with new sessions
    allowed or not (L01.FR.07)."""
    outcomes = await _two_evse_run(
        endpoint, configured, tmp_path, STATION_FEATURES | {"HFS-8", "AQ-7"}, "TC_L_14_CS", "TC_L_15_CS"
    )
    assert outcomes == [Outcome.PASS, Outcome.PASS]


async def test_resets_on_a_station_with_two_evses(
    endpoint: CsmsEndpoint, configured: Configured, tmp_path: Path
) -> None:
    """TC_B_41_CS (HFS-8): an OnIdle reset waits for the transactions of both EVSEs; TC_B_27_CS resets EVSE 1
    alone (C-13) on the same station."""
    outcomes = await _two_evse_run(
        endpoint, configured, tmp_path, STATION_FEATURES | {"HFS-8"}, "TC_B_41_CS", "TC_B_27_CS"
    )
    assert outcomes == [Outcome.PASS, Outcome.PASS]


async def test_firmware_installed_while_charging_by_hardware_that_can(
    endpoint: CsmsEndpoint, configured: Configured, tmp_path: Path
) -> None:
    """TC_L_16_CS (C-43) is N/A for our station as built. Built with hardware that installs while charging
    (``firmware_install_while_charging``: the controller reboots into the new image while the sessions go on)
    and declared C-43, it updates with the transaction ongoing, which survives the reboot."""
    outcomes = await _two_evse_run(endpoint, configured, tmp_path, STATION_FEATURES | {"C-43"}, "TC_L_16_CS")
    assert outcomes == [Outcome.PASS]
