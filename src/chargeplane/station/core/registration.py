"""Registration (B01-B04) and the heartbeat / clock (G02): the first thing a station does on every boot.

Owns the BootNotification cycle, the registration status and the retry of a boot that was not accepted,
the heartbeat and the clock offset taken from the CSMS, and what a reconnect reports (B04). Declares the
OCPPCommCtrlr variables of the connection, ClockCtrlr, and SecurityCtrlr (until a security block exists).

Theory of operation: the registration status changes only through :data:`TRANSITIONS`, a table of
(status, event) -> status; an event the table does not list is a bug of the station and raises
:class:`RegistrationError`. Events are the station's own (a boot of its own accord, only while not accepted;
a boot the CSMS asked for with TriggerMessage, in any status) and the CSMS's three answers.
"""

from __future__ import annotations

import enum
from datetime import datetime, timedelta

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.station.core import availability, offline_queue, security
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import Registration

DEFAULT_RETRY_S = 30  # B02.FR.08 / B03.FR.06: interval 0 -> our own non-flooding retry interval
RO = "ReadOnly"


class RegistrationEvent(enum.StrEnum):
    BOOT_SENT = "BootSent"  # of its own accord: at start-up or to retry (B01.FR.01, B02.FR.08, B03.FR.06)
    BOOT_TRIGGERED = "BootTriggered"  # the CSMS asked (2.x only while not accepted, F06.FR.17; 1.6 always)
    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


class RegistrationError(RuntimeError):
    """A registration event the current status does not allow: a bug in the station, not the CSMS's."""


_U, _P, _A, _R = Registration.UNKNOWN, Registration.PENDING, Registration.ACCEPTED, Registration.REJECTED
_E = RegistrationEvent
TRANSITIONS: dict[tuple[Registration, RegistrationEvent], Registration] = {
    **{(state, _E.BOOT_SENT): state for state in (_U, _P, _R)},
    **{(state, _E.BOOT_TRIGGERED): state for state in (_U, _P, _R, _A)},
    **{(state, _E.ACCEPTED): _A for state in (_U, _P, _R, _A)},
    **{(state, _E.PENDING): _P for state in (_U, _P, _R, _A)},
    **{(state, _E.REJECTED): _R for state in (_U, _P, _R, _A)},
}


def transition(state: Registration, event: RegistrationEvent) -> Registration:
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise RegistrationError(f"registration {state.value}: {event.value} not allowed") from None


class Registrar(Controller):
    __slots__ = ("_boot_at", "_boot_inflight", "_offline_since")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._boot_at: datetime | None = None
        self._boot_inflight = False
        self._offline_since: datetime | None = None

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        comm = "OCPPCommCtrlr"
        return [
            var(comm, "Enabled", "boolean", "true", RO),
            var(comm, "HeartbeatInterval", "integer", "300", unit="s", min_limit=1),
            var(
                comm,
                "MessageTimeout",
                "integer",
                "30",
                "ReadOnly",
                unit="s",
                min_limit=1,
                variable_instance="Default",
            ),
            var(comm, "FileTransferProtocols", "MemberList", "HTTPS", RO, values_list="HTTP,HTTPS"),
            # Part 2 §2.1.6: the slots available are reported as the valuesList (one: the configured URL)
            # B09.FR.06: at least two slots; slot 0 is the factory profile (network.py); a new order applies
            # from the next boot (B10.FR.04)
            var(
                comm,
                "NetworkConfigurationPriority",
                "SequenceList",
                "0",
                values_list="0,1,2",
                reboot_required=True,
            ),
            var(comm, "NetworkProfileConnectionAttempts", "integer", "3", min_limit=0),
            var(comm, "OfflineThreshold", "integer", "300", unit="s", min_limit=0),
            var(comm, "ResetRetries", "integer", "2", min_limit=0),
            var(comm, "WebSocketPingInterval", "integer", "60", unit="s", min_limit=0),
            var(comm, "RetryBackOffRepeatTimes", "integer", "5", min_limit=0),
            var(comm, "RetryBackOffRandomRange", "integer", "10", unit="s", min_limit=0),
            var(comm, "RetryBackOffWaitMinimum", "integer", "3", unit="s", min_limit=0),
            # ClockCtrlr (G02; DateTime is computed when read)
            var("ClockCtrlr", "Enabled", "boolean", "true", RO),
            var("ClockCtrlr", "DateTime", "dateTime", "", RO),
            var(
                "ClockCtrlr", "TimeSource", "SequenceList", "Heartbeat", values_list="Heartbeat,RealTimeClock"
            ),
            # SecurityCtrlr: the connection's credentials
            var("SecurityCtrlr", "Enabled", "boolean", "true", RO),
            var("SecurityCtrlr", "OrganizationName", "string", "Chargeplane"),
            var("SecurityCtrlr", "CertificateEntries", "integer", "0", RO, max_limit=24),  # certificates.py
            var(
                "SecurityCtrlr",
                "SecurityProfile",
                "integer",
                str(layout.security_profile),
                RO,
                min_limit=0,
                max_limit=3,
            ),
            # A01: used from the next connection, which the station opens at once (security.py)
            var("SecurityCtrlr", "BasicAuthPassword", "string", "", "WriteOnly"),
            var("SecurityCtrlr", "Identity", "string", "", RO),
        ]

    def start(self, now: datetime) -> None:
        self._offline_since = now

    # ------------------------------------------------------------------ connection
    def connection_opened(self, now: datetime) -> None:
        ctx = self.ctx
        if ctx.registration is Registration.ACCEPTED:
            # B04.FR.01-02: after a long offline period report every connector, else only changes
            threshold = ctx.model.number("OCPPCommCtrlr", "OfflineThreshold")
            long_offline = (
                self._offline_since is None or (now - self._offline_since).total_seconds() > threshold
            )
            self._offline_since = None
            ctx.get(availability.Availability).report_all(now, again=long_offline)
        elif self._boot_at is None or self._boot_at <= now:
            self.send_boot(now)

    def connection_closed(self, now: datetime) -> None:
        self._offline_since = now
        self._boot_inflight = False  # its answer will never come; the next connection boots again

    # ------------------------------------------------------------------ boot
    def send_boot(self, now: datetime, *, again: bool = False) -> None:
        """B01.FR.01: the first message on every boot; nothing else before Accepted or Pending (B01.FR.08).
        ``again``: the CSMS asked for one (TriggerMessage), whatever is in flight."""
        ctx = self.ctx
        if again:
            self._boot_inflight = False
        if self._boot_inflight:
            return
        # a boot the CSMS asked for says so (BootReasonEnumType Triggered; TC_B_02_CS step 15)
        request = ctx.adapter.boot_request(ctx.layout, "Triggered" if again else ctx.boot_reason)
        if ctx.send(request, now, self._on_boot_response, on_failure=self._on_boot_failure, force=True):
            ctx.registration = transition(ctx.registration, _E.BOOT_TRIGGERED if again else _E.BOOT_SENT)
            self._boot_inflight = True
            self._boot_at = None

    def _on_boot_failure(self, now: datetime) -> None:
        self._boot_inflight = False
        self._boot_at = now + timedelta(seconds=DEFAULT_RETRY_S)

    def _on_boot_response(self, response: Payload, now: datetime) -> None:
        ctx = self.ctx
        answer = ctx.adapter.boot_answer(response)
        self._boot_inflight = False
        ctx.get(security.Security).set_clock(from_wire(answer.current_time) - now, now)
        event = {"Accepted": _E.ACCEPTED, "Pending": _E.PENDING}.get(answer.status, _E.REJECTED)
        ctx.registration = transition(ctx.registration, event)
        if event is _E.ACCEPTED:
            if answer.interval > 0:  # B01.FR.04: the interval is the heartbeat interval
                ctx.model.put(VariableKey("OCPPCommCtrlr", "HeartbeatInterval"), str(answer.interval))
            self._offline_since = None
            ctx.get(availability.Availability).report_all(now, again=True)  # B01.FR.05
            ctx.get(offline_queue.OfflineQueue).pump(now)
            for controller in ctx.controllers:  # then every block that acts on an accepted boot (A04, ...)
                controller.registration_accepted(now)
            return
        wait = answer.interval if answer.interval > 0 else DEFAULT_RETRY_S  # B02.FR.07-08, B03.FR.05-06
        self._boot_at = now + timedelta(seconds=wait)

    # ------------------------------------------------------------------ heartbeat (G02)
    def heartbeat(self, now: datetime, *, force: bool = False) -> None:
        self.ctx.send(self.ctx.adapter.heartbeat_request(), now, self._on_heartbeat, force=force)

    def _on_heartbeat(self, response: Payload, now: datetime) -> None:
        ctx = self.ctx
        if "Heartbeat" in ctx.model.members("ClockCtrlr", "TimeSource"):
            ctx.get(security.Security).set_clock(from_wire(ctx.adapter.current_time(response)) - now, now)

    def _heartbeat_due(self) -> datetime | None:
        ctx = self.ctx
        if ctx.last_sent is None:
            return None
        interval = max(1, ctx.model.number("OCPPCommCtrlr", "HeartbeatInterval"))
        return ctx.last_sent + timedelta(seconds=interval)

    # ------------------------------------------------------------------ timer
    def next_deadline(self) -> datetime | None:
        ctx = self.ctx
        if not ctx.online:
            return None
        if ctx.registration is not Registration.ACCEPTED:
            return self._boot_at
        return self._heartbeat_due()

    def handle_timer(self, now: datetime) -> None:
        ctx = self.ctx
        if not ctx.online:
            return
        if ctx.registration is not Registration.ACCEPTED:
            if self._boot_at is not None and self._boot_at <= now:
                self.send_boot(now)
            return
        due = self._heartbeat_due()
        if due is not None and due <= now:
            self.heartbeat(now)  # G02.FR.02
