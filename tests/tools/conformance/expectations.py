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
STATION_FEATURES = frozenset({"C-29.5", "C-48.1", "C-48.2", "HFS-1"})
STATION_EXPECTED_FAILURES: MappingProxyType[str, str] = MappingProxyType(
    {
        # Block N: log upload and customer information (issue #14).
        "TC_N_25_CS": "the station has no log upload (GetLog); issue #14",
        "TC_N_26_CS": "the station has no log upload (GetLog); issue #14",
        "TC_N_35_CS": "the station has no log upload (GetLog); issue #14",
        "TC_N_36_CS": "the station has no log upload (GetLog); issue #14",
        "TC_N_27_CS": "the station has no customer information (CustomerInformation); issue #14",
        "TC_N_28_CS": "the station has no customer information (CustomerInformation); issue #14",
        "TC_N_30_CS": "the station has no customer information (CustomerInformation); issue #14",
        "TC_N_31_CS": "the station has no customer information (CustomerInformation); issue #14",
        "TC_N_32_CS": "the station has no customer information (CustomerInformation); issue #14",
        "TC_N_62_CS": "the station has no customer information (CustomerInformation); issue #14",
        # Block A: security profiles, password rotation (issue #13).
        "TC_A_04_CS": "the station has no TLS security profiles (2, 3) nor SetNetworkProfile; issue #13",
        "TC_A_05_CS": "the station has no TLS security profiles (2, 3) nor SetNetworkProfile; issue #13",
        "TC_A_06_CS": "the station has no TLS security profiles (2, 3) nor SetNetworkProfile; issue #13",
        "TC_A_09_CS": "the station does not connect with a BasicAuthPassword set through SetVariables (password rotation); issue #13",
        "TC_A_10_CS": "the station accepts a BasicAuthPassword shorter than 16 characters (password rotation); issue #13",
        "TC_A_19_CS": "the station has no CA certificates (InstallCertificate) nor TLS security profiles; issue #13",
        "TC_A_20_CS": "the station has no CA certificates (GetInstalledCertificateIds) nor SetNetworkProfile; issue #13",
        "TC_A_22_CS": "the station has security profile 1 only (no TLS profiles, no SetNetworkProfile); issue #13",
        # Block L: firmware update (issue #14).
        "TC_L_01_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_02_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_03_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_05_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_06_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_07_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_08_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_10_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_11_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_12_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_13_CS": "the station has no firmware update (AllowNewSessionsPendingFirmwareUpdate, UpdateFirmware); issue #14",
        "TC_L_14_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_15_CS": "the station has no firmware update (AllowNewSessionsPendingFirmwareUpdate, UpdateFirmware); issue #14",
        "TC_L_16_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        "TC_L_18_CS": "the station has no firmware update (UpdateFirmware); issue #14",
        # Block M: CA certificate management (issue #13).
        "TC_M_01_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_02_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_07_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_09_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_12_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_13_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_17_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_18_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_19_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_20_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_22_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_30_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
        "TC_M_31_CS": "the station has no CA certificate management (InstallCertificate, GetInstalledCertificateIds, DeleteCertificate); issue #13",
    }
)
