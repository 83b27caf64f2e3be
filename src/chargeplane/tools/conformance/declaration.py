"""The declaration of the implementation under test: a small TOML file given with ``--features``.

::

    # Part 5 optional features the implementation supports (ids of the "Optional features" tables)
    features = ["C-44", "C-16"]

    # The <Configured ...> values of Part 6 (all optional; see Configured for the defaults)
    [configured]
    valid_idtoken = "04A1B2C3D4"
    valid_idtoken_type = "ISO14443"
    evse_id = 1

    # Certification profiles supported besides Core (a case for implementations without one is then N/A)
    profiles = ["Reservation"]

    # Cases known to fail, with the reason; a case listed here that passes fails the run too
    [expected-failures]
    TC_B_02_CSMS = "pending registration is not implemented yet"

A case that needs a feature not declared is reported N/A, never passed.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chargeplane.tools.conformance.case import CASE_ID, FEATURE_ID, PROFILES


@dataclass(frozen=True)
class Configured:
    """The values Part 6 writes as <Configured ...>: what the tool sends and what it expects the CSMS to know.

    The id tokens must be set up at the CSMS as their names say (valid: accepted; blocked, expired: stored
    with that status; invalid: unknown to the CSMS). The Chargeplane adapter does it itself."""

    model: str = "Conformance"
    vendor_name: str = "Chargeplane"
    evse_id: int = 1
    connector_id: int = 1
    valid_idtoken: str = "CONF-VALID-0001"
    valid_idtoken_type: str = "ISO14443"
    invalid_idtoken: str = "CONF-UNKNOWN-0001"
    invalid_idtoken_type: str = "ISO14443"
    blocked_idtoken: str = "CONF-BLOCKED-0001"
    blocked_idtoken_type: str = "ISO14443"
    expired_idtoken: str = "CONF-EXPIRED-0001"
    expired_idtoken_type: str = "ISO14443"
    data_transfer_vendor_id: str = "org.chargeplane.conformance.unknown"
    data_transfer_message_id: str = "ConformanceProbe"
    aligned_interval: int = 60  # clock-aligned meter values interval, seconds (J01)
    sampled_interval: int = 60  # sampled meter values interval, seconds (J02)
    max_boot_wait: float = 10.0  # cap on waiting a Pending BootNotification interval (B02), seconds
    boot_interval: int = 5  # station cases: interval of a Pending / Rejected BootNotificationResponse (B03)
    ev_connection_timeout: int = 10  # station cases: TxCtrlr.EVConnectionTimeOut the tool sets (TC_F_04_CS)
    # Blocks D, F, L, N (local list, triggers, firmware, logs): values Part 6 leaves to the declaration
    local_list_version: int = 2  # <Configured versionNumber> of a local list (TC_D_*_CS; > 1 for TC_D_06)
    valid_idtoken2: str = "CONF-VALID-0002"  # a second valid token (TC_D_02 differential updates)
    valid_idtoken2_type: str = "ISO14443"
    log_location: str = "ftp://127.0.0.1/logs/"  # <Configured log_location>, where a station uploads a log
    # Firmware (block L): what the CSMS is set up to send in its UpdateFirmwareRequest (and what the tool sends
    # a station), how far ahead a scheduled download / install is asked for (s)
    firmware_location: str = "http://127.0.0.1/firmware/conformance-1.1.bin"
    firmware_signing_certificate: str = (
        "-----BEGIN CERTIFICATE-----\nQ29uZm9ybWFuY2UgZmlybXdhcmUgc2lnbmluZw==\n-----END CERTIFICATE-----\n"
    )
    firmware_signature: str = "Q29uZm9ybWFuY2Ugc2lnbmF0dXJl"
    firmware_delay: int = 5
    # Reservation (block H, station side): the connector type of the configured connector, how long an expiring
    # reservation lasts (s)
    connector_type: str = "cType2"
    reservation_expiry: int = 60
    # CSMS cases of group ids (C09), master pass (C16) and the offline transaction status (E14); the second
    # valid token above is in the same group as the first
    group_idtoken: str = "CONF-GROUP-0001"  # the group id token of both valid tokens
    masterpass_idtoken: str = "CONF-MASTER-0001"  # accepted, of the master pass group
    masterpass_idtoken_type: str = "ISO14443"
    master_pass_group_id: str = "CONF-MASTERPASS"  # the CSMS's master pass group (MasterPassGroupId)
    second_evse_id: int = 2  # the other EVSE of the cases "for EVSE 1 and EVSE 2" (TC_C_47 / C_49)
    # <Configured Transaction Duration>: offline time (E14), a charge (TC_L_13), AuthCacheCtrlr.LifeTime (TC_C_46)
    transaction_duration: int = 5
    # The network connection profile the CSMS is asked to send (TC_B_42 / B_44), and the one the tool sends a
    # station (TC_B_43..B_49: the two slots it may use; this tool listens with plain ws:// and Basic auth)
    configuration_slot: int = 1
    configuration_slot2: int = 2
    message_timeout: int = 30
    ocpp_csms_url: str = "wss://127.0.0.1:9443/ocpp"
    ocpp_interface: str = "Wired0"
    security_profile: int = 1
    # OCPPCommCtrlr.RetryBackOffWaitMinimum the tool sets (TC_B_49, B_57, E_40, E_29, ...)
    retry_backoff_wait_minimum: int = 3
    # station cases with a new CSMS root (TC_B_47 / B_50), PEM file paths: the old and the new root, and the
    # server certificate (with its key) the tool's second address presents, signed by the new root
    csms_root_certificate_file: str = ""
    csms_root_certificate2_file: str = ""
    alternate_certificate: str = ""
    alternate_private_key: str = ""
    # csms cases of security profile 3 (TC_A_07 / A_08), PEM file paths: <Configured client certificate> (the
    # chain, leaf first, issued for the station identity by a CA the CSMS trusts) and its private key
    client_certificate_file: str = ""
    client_private_key_file: str = ""
    # station cases, charging profiles the tool sends (TC_K_38_CS): <Configured numberPhases / chargingRateUnit>
    number_phases: int = 3
    charging_rate_unit: str = "A"  # A or W
    # TC_K_12 / K_42 (a station that supports one unit only): the unit it does not support; "": the other one
    unsupported_charging_rate_unit: str = ""
    evse_count: int = 1  # <Configured number of evse>: the station's EVSEs are 1..evse_count (TC_K_22_CS)
    # <Configured certificate> of the CA certificate cases (block M), PEM; empty: the tool makes one per run
    csms_root_certificate: str = ""
    manufacturer_root_certificate: str = ""
    group_idtoken_type: str = "Central"
    # <Configured Organization> of the CSRs the tool sends (A02): the CSMS's CA signs only this O (A00.FR.509)
    organization_name: str = "Chargeplane Conformance"
    # <Configured (V2G) certificate chain> of TC_M_24 (PEM: the sub-CA and the root that issued it) and the OCSP
    # responder that answers for the sub-CA (GetCertificateStatus's responderURL)
    v2g_root_certificate: str = ""
    v2g_sub_ca_certificate: str = ""
    ocsp_responder_url: str = ""
    # C07 (TC_C_50..52_CSMS): the eMAID the CSMS knows as valid; the tool's contract certificates carry it as CN
    emaid: str = "DECPLC0NF0000001"
    silence_wait: float = 5.0  # how long the tool waits to see that the station sends nothing, seconds
    # Station cases of offline periods, message retries and meter values: the values the tool sets (short
    # ones keep each case to seconds; a station that needs longer ones gets them from the declaration).
    offline_threshold: int = 4  # OCPPCommCtrlr.OfflineThreshold (B_51 / B_52)
    message_attempts: int = 3  # OCPPCommCtrlr.MessageAttempts.TransactionEvent (E_41, E_42, E_50, E_51)
    message_attempt_interval: int = 1  # OCPPCommCtrlr.MessageAttemptInterval.TransactionEvent, seconds
    station_aligned_interval: int = 2  # AlignedDataCtrlr.Interval / TxEndedInterval (J_01 to J_06), seconds
    station_sampled_interval: int = 1  # SampledDataCtrlr.TxUpdatedInterval / TxEndedInterval (E_40, J_09...)
    # Station cases of blocks N and L (logs, customer information, firmware); firmware_delay above is their
    # Install / Download Offset Period, second_evse_id their second connector (TC_L_12_CS, TC_L_14_CS)
    log_type: str = "DiagnosticsLog"  # <Configured logType> of TC_N_36_CS
    log_retry_interval: int = 5  # <Configured retryInterval> of a failing log upload (TC_N_26_CS), seconds
    customer_identifier: str = "CONF-CUSTOMER-0001"  # <Configured customerIdentifiers> (TC_N_62_CS)
    # Station cases of monitoring (TC_N_01..N_56_CS): <Configured severity>; the threshold monitor's numeric
    # variable, which a charge raises above threshold_value and its end drops below threshold_value2; an
    # UpperThreshold outside the variable's range; the preconfigured monitor (AQ-6: a Delta on the configured
    # EVSE's AvailabilityState) and its severity
    monitor_severity: int = 5
    threshold_component: str = "EVSE"
    threshold_variable: str = "Power"
    threshold_value: float = 100.0
    threshold_value2: float = 10.0
    threshold_unreached: float = 22079.0  # an UpperThreshold a charge stays below (TC_N_51_CS: maxLimit - 1)
    threshold_out_of_range: float = 1.0e9
    preconfigured_monitor_id: int = 201
    preconfigured_severity: int = 8
    # Block O: the "60 seconds" of a display message's start / end time (TC_O_13/14/27/28), seconds
    display_message_window: int = 3
    # Station cases of block A: the station's active network connection profile (message_timeout and
    # ocpp_interface above go into the new one the tool writes to the free slot)
    station_security_profile: int = 1  # <Configured securityProfile> of the station under test
    cert_signing_wait_minimum: int = (
        3  # <Configured CertSigningWaitMinimum> the tool sets (TC_A_23_CS), seconds
    )
    station_configuration_slot: int = 1  # <Configured configurationSlot>: the slot in use
    station_configuration_slot2: int = 2  # the free slot the tool writes a new connection profile to


@dataclass(frozen=True)
class Declaration:
    features: frozenset[str] = frozenset()
    configured: Configured = field(default_factory=Configured)
    expected_failures: dict[str, str] = field(default_factory=dict)  # case id -> reason
    # Certification profiles supported besides Core (for conditions such as "NOT Smart Charging").
    profiles: frozenset[str] = frozenset()


class DeclarationError(ValueError):
    pass


def parse_declaration(text: str) -> Declaration:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DeclarationError(f"not TOML: {error}") from None
    unknown = set(data) - {"features", "configured", "expected-failures", "profiles"}
    if unknown:
        raise DeclarationError(f"unknown keys: {', '.join(sorted(unknown))}")
    features = data.get("features", [])
    if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
        raise DeclarationError("features must be a list of strings such as C-44")
    bad = [f for f in features if not FEATURE_ID.match(f)]
    if bad:
        raise DeclarationError(f"not Part 5 feature ids: {', '.join(bad)}")
    failures = data.get("expected-failures", {})
    if not isinstance(failures, dict) or not all(isinstance(v, str) and v for v in failures.values()):
        raise DeclarationError("expected-failures maps case ids to reasons (non-empty strings)")
    bad = [k for k in failures if not CASE_ID.match(k)]
    if bad:
        raise DeclarationError(f"not test case ids: {', '.join(bad)}")
    profiles = data.get("profiles", [])
    if not isinstance(profiles, list) or not all(isinstance(p, str) and p in PROFILES for p in profiles):
        raise DeclarationError(f"profiles must be a list of certification profiles: {', '.join(PROFILES)}")
    return Declaration(
        frozenset(features),
        _configured(data.get("configured", {})),
        dict(failures),
        frozenset(profiles),
    )


def _configured(values: Any) -> Configured:
    if not isinstance(values, dict):
        raise DeclarationError("[configured] must be a table")
    known = {f.name: f for f in dataclasses.fields(Configured)}
    for key, value in values.items():
        if key not in known:
            raise DeclarationError(f"[configured]: unknown value {key!r}")
        default = known[key].default
        if type(value) is not type(default) and not (isinstance(default, float) and type(value) is int):
            raise DeclarationError(f"[configured] {key}: expected {type(default).__name__}")
    return Configured(**values)


def load_declaration(path: Path | None) -> Declaration:
    if path is None:
        return Declaration()
    return parse_declaration(path.read_text(encoding="utf-8"))
