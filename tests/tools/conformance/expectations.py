"""What Chargeplane declares to its own conformance suite: the Part 5 optional features each side supports and
the cases each side is known to fail, with the reason (docs/CONFORMANCE.md's tables are generated from these
and the case registry: ``scripts/conformance_doc.py``).

A case that needs a feature not declared here is N/A (never run): a feature is declared only when the product
really has it. The expected-failure lists may only shrink: an expected failure that passes (XPASS) fails the
run.
"""

from __future__ import annotations

from types import MappingProxyType

# What Chargeplane's CSMS supports of the CSMS-side optional features (Part 5).
CSMS_FEATURES = frozenset(
    {
        "C-11",
        "C-13",
        "C-14",
        "C-15",  # scheduled firmware updates: retrieveDateTime / installDateTime (the firmware block)
        "C-16",
        "C-17",
        "C-29.1",
        "C-29.2",
        "C-29.3",
        "C-29.4",  # TriggerMessage FirmwareStatusNotification: the firmware block stores it
        "C-29.5",
        "C-44",
        "C-45",
        "C-46",
        "C-50.2",
        "LA-2",
        "R-1",
        "R-2",
        "ISO-3",  # combined certificates: a SignCertificate without certificateType (pki block)
    }
)
CSMS_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType({})

# What Chargeplane's station supports of the charging-station optional features (Part 5).
STATION_FEATURES = frozenset(
    {"C-29.1", "C-29.2", "C-29.5", "C-29.6", "C-48.1", "C-48.2", "HFS-1", "R-2", "R-3"}
    # block E: TxStartPoint / TxStopPoint are ReadWrite member lists (C-51, C-52) that take every value, but
    # without a parking bay sensor (C-09.6, C-10.5) or a signing meter (C-09.3); StopTxOnEVSideDisconnect
    # and UnlockOnEVSideDisconnect are ReadWrite (C-06.x, C-12.x); a Mode 3 EV simulator (AQ-9);
    # DisableRemoteAuthorization (C-58) and the authorization cache (C-49)
    | {"C-09.1", "C-09.2", "C-09.4", "C-09.5", "C-51", "C-10.1", "C-10.2", "C-10.3", "C-10.4", "C-52"}
    | {"C-06.1", "C-06.2", "C-12.1", "C-12.2", "AQ-9", "C-58", "C-49"}
    # block C: the authorization cache (C-49) with its lifetime (C-53), MaxEnergyOnInvalidId (C-03), a master
    # pass without a UI (C-08), DisablePostAuthorize of the cache (C-59) and of the local list (LA-3)
    | {"C-03", "C-08", "C-53", "C-59", "LA-3"}
    | {"C-56"}  # SummaryInventory
    | {
        "ISO-5"
    }  # C07.FR.06: a contract chain without a root of the station's goes to the CSMS (Central...Allowed)
    | {"C-47"}  # network profiles: NetworkProfileConnectionAttempts per slot, then the next one (B10.FR.03)
    # AlignedDataCtrlr.SendDuringIdle (TC_J_06), offline authorization (TC_E_43), OfflineTxForUnknownIdEnabled
    # (TC_C_26)
    | {"C-28", "C-01", "C-02"}
    # block N: a new GetLog cancels the upload going on (C-57); TriggerMessage LogStatusNotification (C-29.3)
    | {"C-57", "C-29.3"}
    # block N, monitoring: hard-wired monitors (AQ-5) and OfflineQueuingSeverity (DM-3)
    | {"AQ-5", "DM-3"}
    # block L: a new UpdateFirmware cancels the update going on (C-60), TriggerMessage
    # FirmwareStatusNotification (C-29.4), AllowNewSessionsPendingFirmwareUpdate (C-20); by default no
    # download while charging (not AQ-7: a hardware option, see test_against_our_station), no installation
    # with ongoing transactions (not C-43)
    | {"C-60", "C-29.4", "C-20"}
    # block O: every message priority (UI-1.x); ASCII and UTF8 of the formats (UI-2.1, UI-2.4)
    | {"UI-1", "UI-1.1", "UI-1.2", "UI-1.3", "UI-2", "UI-2.1", "UI-2.4"}
    # block K: both charging rate units (SmartChargingCtrlr.RateUnit "A,W"), so TC_K_12 / K_42 are N/A
    | {"SC-2.1", "SC-2.2"}
    # Advanced Security: AdditionalRootCertificateCheck (AS-2, a site configuration: the cases turn it on), the
    # CSR resend back-off (AS-3); the last CSMS root may go on profile 1 (AQ-1: on 2 and 3 it stays, M04.FR.03)
    | {"AS-2", "AS-3", "AQ-1"}
    # ISO 15118: a combined certificate on TriggerMessage SignCombinedCertificate (A00.FR.428)
    | {"ISO-3"}
    # block B: reset of one EVSE (C-13, EVSE.AllowReset; B11/B12 with evseId)
    | {"C-13"}
    # block N: customer information by customer identifier (C-14: a driver's enrolment at the station)
    | {"C-14"}
)
# The certification profiles (Part 5) Chargeplane's station supports besides Core: cases for stations without
# one ("NOT Smart Charging", TC_K_38_CS) are N/A.
STATION_PROFILES = frozenset({"Smart Charging"})
STATION_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType({})
