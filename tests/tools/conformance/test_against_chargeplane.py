"""Every implemented csms case against Chargeplane's own CSMS, one case module (of one functional block) per test: each case passes,
or is an expected failure whose reason is written in ``expectations.py``."""

from __future__ import annotations

import dataclasses
import os
import time

import pytest

from chargeplane.csms.blocks.pki.service import PkiService, pem_of
from chargeplane.tools.conformance.adapter import ChargeplaneAdapter
from chargeplane.tools.conformance.case import REGISTRY, Side
from chargeplane.tools.conformance.declaration import Configured, Declaration
from chargeplane.tools.conformance.report import Outcome, console_line
from chargeplane.tools.conformance.runner import run_csms_cases
from chargeplane.tools.conformance.steps import LinkSettings
from tests.csms.conftest import RunningCsms
from tests.tools.conformance.conftest import PASSWORD, STATION_ID, CsmsTls
from tests.tools.conformance.expectations import CSMS_EXPECTED_FAILURES, CSMS_FEATURES

MODULES = sorted({c.module for c in REGISTRY.select(Side.CSMS)})
MODULE_BOUND_S = 90  # a whole case module against our CSMS on loopback
CONFIGURED = Configured(reservation_expiry=3, transaction_duration=1)  # short waits: TC_H_07, TC_E_29/31/33


@pytest.mark.parametrize("module", MODULES)
async def test_csms_cases_against_chargeplane(
    module: str, csms: RunningCsms, adapter: ChargeplaneAdapter, csms_tls: CsmsTls
) -> None:
    patterns = [p for p in os.environ.get("CONFORMANCE_CASES", "").split(",") if p.strip()]
    selected = [c for c in REGISTRY.select(Side.CSMS, patterns) if c.module == module]
    if not selected:
        pytest.skip(f"CONFORMANCE_CASES selects no case of {module}")
    configured = dataclasses.replace(
        _with_v2g_chain(csms),
        client_certificate_file=str(csms_tls.client_certificate.certificate),
        client_private_key_file=str(csms_tls.client_certificate.private_key),
    )
    declaration = Declaration(
        features=CSMS_FEATURES, configured=configured, expected_failures=dict(CSMS_EXPECTED_FAILURES)
    )
    started = time.monotonic()
    results = await run_csms_cases(
        selected,
        LinkSettings(csms.ocpp_url, STATION_ID, PASSWORD, ca_file=csms_tls.ca_file, tls_url=csms_tls.tls_url),
        adapter,
        declaration,
    )
    elapsed = time.monotonic() - started
    report = "\n".join(console_line(r) for r in results)
    print(report)
    # N/A: a case needs a Part 5 option our CSMS does not declare (e.g. C-14, customer information by
    # customerIdentifier, until issue #14); CSMS_FEATURES says what it supports.
    assert all(r.outcome in (Outcome.PASS, Outcome.XFAIL, Outcome.NA) for r in results), report
    assert elapsed < MODULE_BOUND_S, f"{module} took {elapsed:.0f} s"


def _with_v2g_chain(csms: RunningCsms) -> Configured:
    """The V2G chain of the CSMS's own CA and its OCSP responder (TC_M_24)."""
    pki = csms.app.blocks.require(PkiService)
    ca = pki.require_authority("v2g")
    url = pki.urls("v2g").ocsp
    assert url is not None
    return dataclasses.replace(
        CONFIGURED,
        v2g_root_certificate=pem_of(ca.root),
        v2g_sub_ca_certificate=pem_of(ca.sub),
        ocsp_responder_url=url,
    )


def test_every_block_has_cases() -> None:
    assert len(REGISTRY.select(Side.CSMS)) >= 60
