"""The declaration of the implementation under test: a small TOML file given with ``--features``.

::

    # Part 5 optional features the implementation supports (ids of the "Optional features" tables)
    features = ["C-44", "C-16"]

    # The <Configured ...> values of Part 6 (all optional; see Configured for the defaults)
    [configured]
    valid_idtoken = "04A1B2C3D4"
    valid_idtoken_type = "ISO14443"
    evse_id = 1

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

from chargeplane.tools.conformance.case import CASE_ID, FEATURE_ID


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
    # Station cases of blocks N and L (logs, customer information, firmware).
    log_type: str = "DiagnosticsLog"  # <Configured logType> of TC_N_36_CS
    log_retry_interval: int = 5  # <Configured retryInterval> of a failing log upload (TC_N_26_CS), seconds
    customer_identifier: str = "CONF-CUSTOMER-0001"  # <Configured customerIdentifiers> (TC_N_62_CS)
    firmware_offset: int = (
        10  # <Configured Install / Download Offset Period> (TC_L_02_CS, TC_L_03_CS), seconds
    )
    second_evse_id: int = (
        2  # <Configured second Connector>: connector 1 of this EVSE (TC_L_12_CS, TC_L_14_CS)
    )
    # Station cases of block A (security profiles): the station's network connection profile as it is.
    security_profile: int = 1  # <Configured securityProfile>: of the active connection profile
    configuration_slot: int = 1  # <Configured configurationSlot>: the slot in use
    configuration_slot2: int = 2  # the free slot the tool writes a new connection profile to
    message_timeout: int = 30  # <Configured messageTimeout> of a new connection profile, seconds
    ocpp_interface: str = "Wired0"  # <Configured ocppInterface> of a new connection profile


@dataclass(frozen=True)
class Declaration:
    features: frozenset[str] = frozenset()
    configured: Configured = field(default_factory=Configured)
    expected_failures: dict[str, str] = field(default_factory=dict)  # case id -> reason


class DeclarationError(ValueError):
    pass


def parse_declaration(text: str) -> Declaration:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DeclarationError(f"not TOML: {error}") from None
    unknown = set(data) - {"features", "configured", "expected-failures"}
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
    return Declaration(frozenset(features), _configured(data.get("configured", {})), dict(failures))


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
