"""Security events (A04): what this station reports to the CSMS with SecurityEventNotification (2.0.1, 2.1).

Once per boot, when the CSMS first accepts the registration, the station reports how it came up: ResetOrReboot
when the boot follows a reset, StartupOfTheDevice otherwise (A04.FR.01). A 1.6 station reports nothing (the
1.6 security extension is not implemented on the station side).
"""

from __future__ import annotations

from datetime import datetime

from chargeplane.ocpp.messages import v2x
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.diagnostics import Diagnostics

STARTUP, RESET = "StartupOfTheDevice", "ResetOrReboot"
RESET_REASONS = frozenset({"RemoteReset", "LocalReset", "ScheduledReset", "ApplicationReset"})


class Security(Controller):
    __slots__ = ("_boot_reported",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._boot_reported = False  # the core lives as long as one boot

    def registration_accepted(self, now: datetime) -> None:
        """The registration was accepted: report the boot, the first time in this boot only."""
        if self._boot_reported:
            return
        self._boot_reported = True
        self.report(RESET if self.ctx.boot_reason in RESET_REASONS else STARTUP, now)

    def report(self, event_type: str, now: datetime, tech_info: str | None = None) -> bool:
        """Send one security event (2.x only); False when not sent (1.6, offline or not accepted)."""
        ctx = self.ctx
        ctx.get(Diagnostics).record_security_event(event_type, ctx.station_time(now), tech_info)  # N01 log
        if ctx.version is Version.V16:
            return False
        timestamp = ctx.ts(now)

        def build(ns: v2x.Dialect) -> v2x.SecurityEventNotificationRequest:
            if tech_info is None:
                return ns.SecurityEventNotificationRequest(type=event_type, timestamp=timestamp)
            return ns.SecurityEventNotificationRequest(
                type=event_type, timestamp=timestamp, tech_info=tech_info
            )

        return ctx.send(v2x.with_dialect(ctx.version, build), now)
