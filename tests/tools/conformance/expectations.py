"""What Chargeplane declares to its own conformance suite: the Part 5 optional features each side supports and
the cases each side is known to fail, with the reason (docs/CONFORMANCE.md's tables are generated from these
and the case registry: ``scripts/conformance_doc.py``).

The expected-failure lists may only shrink: an expected failure that passes (XPASS) fails the run.
"""

from __future__ import annotations

from types import MappingProxyType

# What Chargeplane's CSMS supports of the CSMS-side optional features (Part 5).
# C-17 / C-50.2 / C-29.3 / C-29.4: the CSMS sends GetBaseReport and those triggers (so the cases run, not
# N/A); taking the NotifyReport and the notifications that answer them is issue #14's.
CSMS_FEATURES = frozenset(
    {
        "C-11",
        "C-13",
        "C-16",
        "C-17",
        "C-29.1",
        "C-29.2",
        "C-29.3",
        "C-29.4",
        "C-29.5",
        "C-44",
        "C-45",
        "C-46",
        "C-50.2",
        "LA-2",
    }
)
CSMS_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType(
    {
        # csmsrest: what the CSMS lacks, and the issue that builds it
        "TC_A_09_CSMS": "no password rotation: the CSMS sends BasicAuthPassword but keeps the old one: issue #13",
        "TC_A_19_CSMS": "no security profile upgrade: the CSMS keeps accepting profile 1 afterwards: issue #13",
        "TC_B_12_CSMS": "NotifyReport is not handled (device model reports, B07): issue #14",
        "TC_B_13_CSMS": "NotifyReport is not handled (device model reports, B07): issue #14",
        "TC_F_15_CSMS": "LogStatusNotification is not handled (log upload, N01): issue #14",
        "TC_F_18_CSMS": "FirmwareStatusNotification is not handled (firmware update, L01): issue #14",
    }
)

# What Chargeplane's station supports of the charging-station optional features (Part 5).
STATION_FEATURES = frozenset({"C-29.5", "C-48.1", "C-48.2", "HFS-1"})
STATION_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType({})
