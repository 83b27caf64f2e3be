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
    # Station cases of offline periods, message retries and meter values: the values the tool sets (short
    # ones keep each case to seconds; a station that needs longer ones gets them from the declaration).
    retry_backoff_wait_minimum: int = 3  # OCPPCommCtrlr.RetryBackOffWaitMinimum (B_57, E_40, E_29, ...)
    offline_threshold: int = 4  # OCPPCommCtrlr.OfflineThreshold (B_51 / B_52)
    message_attempts: int = 3  # OCPPCommCtrlr.MessageAttempts.TransactionEvent (E_41, E_42, E_50, E_51)
    message_attempt_interval: int = 1  # OCPPCommCtrlr.MessageAttemptInterval.TransactionEvent, seconds
    station_aligned_interval: int = 2  # AlignedDataCtrlr.Interval / TxEndedInterval (J_01 to J_06), seconds
    station_sampled_interval: int = 1  # SampledDataCtrlr.TxUpdatedInterval / TxEndedInterval (E_40, J_09...)
    valid_idtoken2: str = "CONF-VALID-0002"  # station cases: a second valid token (<valid idtoken fields2>)
    valid_idtoken2_type: str = "ISO14443"
    group_idtoken: str = "CONF-GROUP-0001"  # station cases: <Configured GroupIdToken> of both valid tokens
    transaction_duration: int = 3  # <Configured Transaction Duration>: how long a case lets a transaction run


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
