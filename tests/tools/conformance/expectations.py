"""What Chargeplane declares to its own conformance suite: the Part 5 optional features each side supports and
the cases each side is known to fail, with the reason (docs/CONFORMANCE.md's tables are generated from these
and the case registry: ``scripts/conformance_doc.py``).

The expected-failure lists may only shrink: an expected failure that passes (XPASS) fails the run.
"""

from __future__ import annotations

from types import MappingProxyType

# What Chargeplane's CSMS supports of the CSMS-side optional features (Part 5). C-15: its API sends an
# UpdateFirmware with a future retrieve / install time (the status notifications that follow are issue #14).
CSMS_FEATURES = frozenset(
    {"C-11", "C-15", "C-16", "C-29.1", "C-29.2", "C-29.5", "C-44", "LA-2", "R-1", "R-2"}
)
# Firmware management (block L): the CSMS sends UpdateFirmware (generic command route) but answers
# FirmwareStatusNotification with NotSupported (firmware management is issue #14).
_NO_FIRMWARE_STATUS = "FirmwareStatusNotification not supported yet (firmware management, issue #14)"
CSMS_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType(
    {
        "TC_L_01_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_02_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_03_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_06_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_07_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_08_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_09_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_10_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_11_CSMS": _NO_FIRMWARE_STATUS,
        "TC_L_13_CSMS": _NO_FIRMWARE_STATUS,
    }
)

# What Chargeplane's station supports of the charging-station optional features (Part 5).
STATION_FEATURES = frozenset({"C-29.5", "C-48.1", "C-48.2", "HFS-1", "R-2", "R-3"})
STATION_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType({})
