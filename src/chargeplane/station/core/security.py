"""Security events (A04): what this station reports to the CSMS with SecurityEventNotification (2.0.1, 2.1).

Once per boot, when the CSMS first accepts the registration, the station reports how it came up: ResetOrReboot
when the boot follows a reset, StartupOfTheDevice otherwise (A04.FR.01). A 1.6 station sends the security
extension's SecurityEventNotification for the same events.

SettingSystemTime: when the CSMS's time (boot answer, heartbeat with TimeSource Heartbeat) moves the station clock
by more than ClockCtrlr.TimeAdjustmentReportingThreshold seconds (0, the default: not reported).

Every event goes to the station's own security log first (A04.FR.04, kept by :class:`Diagnostics` for GetLog).
An event that cannot go out (offline, or the registration not yet accepted) is dropped unless it is critical
(the Critical column of the spec's security events appendix, :data:`CRITICAL`); critical ones wait in a queue
(bounded: the oldest goes first when full) and go out, in order, once the CSMS accepts the next registration
(A04.FR.02).

A01 (and the 1.6 AuthorizationKey, ChangeConfiguration): a new SecurityCtrlr.BasicAuthPassword is checked
against the version's rules (2.0.1: a passwordString of 16 to 40 characters; 2.1: 16 to 64 characters;
1.6: 16 to 20 bytes as 32 to 40 hex digits) and refused (Rejected) otherwise; once stored, the station logs
the change in its security log without the password (A01.FR.11-12: ReconfigurationOfSecurityParameters) and
drops the connection to connect again with the new password (A01 scenario steps 3-4): a :class:`Reconnect`
action once the SetVariables answer has gone. The runtime takes the password for every connection attempt
from :meth:`Security.basic_auth_password`.

A00: a connection attempt the station ends in the TLS handshake (the CSMS certificate does not verify, or the
CSMS offers no TLS 1.2 or above) is an InvalidCsmsCertificate / InvalidTLSVersion event (critical: queued until
the next accepted registration), reported once per kind until a connection succeeds.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from msgspec import UNSET, UnsetType

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.diagnostics import Diagnostics
from chargeplane.station.core.model import Reconnect

STARTUP, RESET = "StartupOfTheDevice", "ResetOrReboot"
RESET_REASONS = frozenset({"RemoteReset", "LocalReset", "ScheduledReset", "ApplicationReset"})
RECONFIGURED = "ReconfigurationOfSecurityParameters"
PASSWORD = ("SecurityCtrlr", "BasicAuthPassword")
_PASSWORD_STRING = re.compile(r"\A[a-zA-Z0-9*\-_=:+|@.]+\Z")  # 2.0.1 passwordString (Part 2 §2.1.4)
_HEX = re.compile(r"\A[0-9a-fA-F]+\Z")
_AT_ONCE = datetime.min.replace(tzinfo=UTC)  # a deadline already passed: the next timer pass
TECH_INFO_MAX = 255  # techInfo maxLength (2.0.1, 2.1 and the 1.6 security extension)
QUEUE_MAX = 100  # critical events kept while offline (A04.FR.02); the oldest dropped beyond
# The security events the appendix (security_events.csv) marks Critical: Yes; the others are not queued.
CRITICAL = frozenset(
    {
        "FirmwareUpdated",
        "SettingSystemTime",
        "StartupOfTheDevice",
        "ResetOrReboot",
        "SecurityLogWasCleared",
        "MemoryExhaustion",
        "TamperDetectionActivated",
        "InvalidFirmwareSignature",
        "InvalidFirmwareSigningCertificate",
        "InvalidCsmsCertificate",
        "InvalidChargingStationCertificate",
        "InvalidTLSVersion",
        "InvalidTLSCipherSuite",
        "MaintenanceLoginAccepted",
        "MaintenanceLoginFailed",
    }
)


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    """A critical security event that could not go out yet, with the time it happened (station clock)."""

    event_type: str
    timestamp: str
    tech_info: str | None


def password_problem(password: str, version: Version) -> str | None:
    """Why ``password`` is no Basic-auth password for ``version`` (A00.FR.205), as a reasonCode (at most 20
    characters), or None."""
    if version is Version.V16:  # an AuthorizationKey: 16 to 20 bytes as 32 to 40 hex digits
        if not _HEX.match(password) or not 32 <= len(password) <= 40 or len(password) % 2:
            return "InvalidKey"
        return None
    maximum = 40 if version is Version.V201 else 64
    if not 16 <= len(password) <= maximum:
        return "InvalidLength"
    if version is Version.V201 and not _PASSWORD_STRING.match(password):
        return "InvalidCharacters"  # passwordString: a-z A-Z 0-9 * - _ = : + | @ .
    return None


class Security(Controller):
    __slots__ = ("_boot_reported", "_password_changed", "_tls_reported", "queued")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._boot_reported = False  # the core lives as long as one boot
        self._password_changed = False  # A01: report and reconnect at the next timer pass
        self.queued: deque[QueuedEvent] = deque(maxlen=QUEUE_MAX)  # A04.FR.02
        self._tls_reported: set[str] = set()  # handshake refusals reported since the last connection

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        # A04 SettingSystemTime: adjustments of more seconds than this are reported (0: none are, our default)
        return [var("ClockCtrlr", "TimeAdjustmentReportingThreshold", "integer", "0", unit="s", min_limit=0)]

    def set_clock(self, offset: timedelta, now: datetime) -> None:
        """The CSMS's time sets the station clock (B01 / G02); a jump beyond the threshold is a security event."""
        ctx = self.ctx
        jump = abs((offset - ctx.clock_offset).total_seconds())
        ctx.clock_offset = offset
        threshold = ctx.model.number("ClockCtrlr", "TimeAdjustmentReportingThreshold")
        if threshold > 0 and jump > threshold:
            self.report("SettingSystemTime", now, f"clock adjusted by {jump:.0f} s")

    def start(self, now: datetime) -> None:
        self.ctx.model.validators[PASSWORD] = self._check_password

    def _check_password(self, value: str) -> str | None:
        """The device model's last check before it stores a BasicAuthPassword (A01)."""
        problem = password_problem(value, self.ctx.version)
        if problem is None:
            self._password_changed = True  # stored next: act once the answer is out
        return problem

    def basic_auth_password(self, factory: str | None) -> str | None:
        """The password of the next connection: the one the CSMS set (A01.FR.01), else the factory one."""
        model = self.ctx.model
        return model.value(*PASSWORD) if model.is_set(*PASSWORD) else factory

    def next_deadline(self) -> datetime | None:
        return _AT_ONCE if self._password_changed else None

    def handle_timer(self, now: datetime) -> None:
        if not self._password_changed:
            return
        self._password_changed = False
        self.report(RECONFIGURED, now, "BasicAuthPassword changed")  # A01.FR.11 (never the value, FR.12)
        self.ctx.act(Reconnect("BasicAuthPassword changed"))  # A01 steps 3-4

    def tls_refused(self, event_type: str, now: datetime, tech_info: str) -> None:
        """A connection attempt this station ended in the TLS handshake (A00.FR.310/413: the CSMS certificate
        did not verify; A00.FR.316/419: no TLS 1.2 or above): the security event, once per kind until a
        connection succeeds (the notes of A00.FR.316/419: repeated attempts must not flood the queue)."""
        if event_type not in self._tls_reported:
            self._tls_reported.add(event_type)
            self.report(event_type, now, tech_info)

    def connection_opened(self, now: datetime) -> None:
        """Back online in a boot already accepted (no new BootNotification): the queue goes out (A04.FR.02)."""
        self._tls_reported.clear()
        if self.ctx.accepted:
            self._flush(now)

    def _flush(self, now: datetime) -> None:
        pending = list(self.queued)
        self.queued.clear()
        for event in pending:
            self._send(event, now)

    def registration_accepted(self, now: datetime) -> None:
        """The registration was accepted: first the critical events kept while offline, in order (A04.FR.02);
        then the boot, the first time in this boot only (A04.FR.01)."""
        self._flush(now)
        if self._boot_reported:
            return
        self._boot_reported = True
        self.report(RESET if self.ctx.boot_reason in RESET_REASONS else STARTUP, now)

    def report(self, event_type: str, now: datetime, tech_info: str | None = None) -> bool:
        """Log one security event (A04.FR.04) and send it; False when not sent now (offline or not accepted:
        kept for later when critical, A04.FR.02)."""
        ctx = self.ctx
        ctx.get(Diagnostics).record_security_event(event_type, ctx.station_time(now), tech_info)  # N01 log
        info = None if tech_info is None else tech_info[:TECH_INFO_MAX]
        return self._send(QueuedEvent(event_type, ctx.ts(now), info), now)

    def _send(self, event: QueuedEvent, now: datetime) -> bool:
        if self.ctx.send(_request(self.ctx.version, event), now):
            return True
        if event.event_type in CRITICAL:  # A04.FR.02: only the critical ones wait for the connection
            self.queued.append(event)
        return False


def _request(
    version: Version, event: QueuedEvent
) -> v2x.SecurityEventNotificationRequest | v16.messages.SecurityEventNotificationRequest:
    if version is Version.V16:  # the 1.6 security extension
        return v16.messages.SecurityEventNotificationRequest(
            type=event.event_type, timestamp=event.timestamp, tech_info=_info(event)
        )

    def build(ns: v2x.Dialect) -> v2x.SecurityEventNotificationRequest:
        return ns.SecurityEventNotificationRequest(
            type=event.event_type, timestamp=event.timestamp, tech_info=_info(event)
        )

    return v2x.with_dialect(version, build)


def _info(event: QueuedEvent) -> str | UnsetType:
    return UNSET if event.tech_info is None else event.tech_info
