"""Which security events are critical.

The spec's list (2.0.1 Appendix 1, ``security_events.csv``) marks each event a station reports as critical
or not (a critical one is pushed to the CSMS at once, A04.FR.02). The CSMS transport's own events (failed
handshakes, lockouts, refused API tokens) are classified here the same way: critical when they point at an
attack in progress or a certificate the operator must look at.
"""

from __future__ import annotations

# 2.0.1 Part 2 Appendix 1 (security_events.csv): event type -> critical
SPEC_EVENTS: dict[str, bool] = {
    "FirmwareUpdated": True,
    "FailedToAuthenticateAtCsms": False,
    "CsmsFailedToAuthenticate": False,
    "SettingSystemTime": True,
    "StartupOfTheDevice": True,
    "ResetOrReboot": True,
    "SecurityLogWasCleared": True,
    "ReconfigurationOfSecurityParameters": False,
    "MemoryExhaustion": True,
    "InvalidMessages": False,
    "AttemptedReplayAttacks": False,
    "TamperDetectionActivated": True,
    "InvalidFirmwareSignature": True,
    "InvalidFirmwareSigningCertificate": True,
    "InvalidCsmsCertificate": True,
    "InvalidChargingStationCertificate": True,
    "InvalidTLSVersion": True,
    "InvalidTLSCipherSuite": True,
    "MaintenanceLoginAccepted": True,
    "MaintenanceLoginFailed": True,
}

# What the CSMS itself records (source=csms) beyond the spec's names it reuses.
CSMS_EVENTS: dict[str, bool] = {
    "AuthenticationFailed": False,  # a wrong or missing Basic-auth password, profile not met
    "UnknownChargingStation": False,  # a handshake for an identity the CSMS does not know
    "AuthenticationLockout": True,  # an identity or an address locked out after repeated failures
    "TlsHandshakeFailed": False,  # a TLS handshake refused for another reason (not TLS at all, ...)
    "ApiAuthenticationFailed": False,  # the operator API refused a missing or unknown bearer token
}

CRITICAL_TYPES = frozenset(name for name, critical in (SPEC_EVENTS | CSMS_EVENTS).items() if critical)


def is_critical(event_type: str) -> bool:
    """Critical per the spec's list (or ours for the CSMS's own events); unknown types are not."""
    return event_type in CRITICAL_TYPES
