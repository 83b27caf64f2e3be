"""What Chargeplane declares to its own conformance suite: the Part 5 optional features each side supports and
the cases each side is known to fail, with the reason (docs/CONFORMANCE.md's tables are generated from these
and the case registry: ``scripts/conformance_doc.py``).

The expected-failure lists may only shrink: an expected failure that passes (XPASS) fails the run.
"""

from __future__ import annotations

from types import MappingProxyType

# What Chargeplane's CSMS supports of the CSMS-side optional features (Part 5).
CSMS_FEATURES = frozenset({"C-11", "C-16", "C-29.1", "C-29.2", "C-29.5", "C-44", "LA-2"})
CSMS_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType({})

# What Chargeplane's station supports of the charging-station optional features (Part 5).
STATION_FEATURES = frozenset(
    {"C-29.5", "C-48.1", "C-48.2", "HFS-1"}
    # block E: TxStartPoint / TxStopPoint are ReadWrite member lists (C-51, C-52) that take every value, but
    # without a parking bay sensor (C-09.6, C-10.5) or a signing meter (C-09.3); StopTxOnEVSideDisconnect
    # and UnlockOnEVSideDisconnect are ReadWrite (C-06.x, C-12.x); a Mode 3 EV simulator (AQ-9);
    # DisableRemoteAuthorization (C-58) and the authorization cache (C-49)
    | {"C-09.1", "C-09.2", "C-09.4", "C-09.5", "C-51", "C-10.1", "C-10.2", "C-10.3", "C-10.4", "C-52"}
    | {"C-06.1", "C-06.2", "C-12.1", "C-12.2", "AQ-9", "C-58", "C-49"}
)
STATION_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType({})
