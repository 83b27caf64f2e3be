"""CSMS-initiated commands (F01-F06, B11-B12 and any other action a CSMS sends), each one logged.

:class:`CommandService` is the one way blocks and the HTTP API should call stations: it wraps the
CommandRouter, checks what the CSMS itself must respect before sending (B03.FR.03, F01/F02 charging profile
rules, F06.FR.13), keeps the TriggerMessage gate of the station's session (F06 with B02.FR.02), writes the
command log and publishes a ``command`` StationEvent per command.

Outcomes (``command_log.outcome``):

===============  =================================================================================
ok               the station answered with a CALLRESULT (whatever its status says)
callerror        the station answered with a CALLERROR, or with a response that broke the schema
timeout          no answer within the call timeout
offline          no live connection
invalid          refused by the CSMS before sending: unknown action, wrong direction, payload
                 against the schema or the spec, station Rejected, queue full
connection_lost  the connection closed before the answer came
===============  =================================================================================
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec
from msgspec import UnsetType

from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control.repository import (
    CommandEntry,
    CommandLogRepository,
    CommandRecord,
)
from chargeplane.csms.blocks.remote_control.triggers import triggered_action
from chargeplane.csms.bus.commands import CommandRouter, StationOffline, initiator
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Busy, Conflict, UnknownStation, Unsendable
from chargeplane.csms.session import ACCEPTED, REJECTED, StationSession
from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.endpoint import CallQueueFull, LocalProtocolError
from chargeplane.ocpp.errors import OcppError, UnknownErrorCode
from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import Direction, Payload, present
from chargeplane.ocpp.redaction import redact
from chargeplane.ocpp.validation import decode_payload
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost, OcppConnection

log = logging.getLogger(__name__)

OK, CALLERROR, TIMEOUT, OFFLINE, INVALID, CONNECTION_LOST = (
    "ok",
    "callerror",
    "timeout",
    "offline",
    "invalid",
    "connection_lost",
)
OUTCOMES = (OK, CALLERROR, TIMEOUT, OFFLINE, INVALID, CONNECTION_LOST)

ConnectionFinder = Callable[[str], OcppConnection | None]
Recorder = Callable[..., Awaitable[None]]

_MAX_DESCRIPTION = 500


@dataclass(frozen=True, slots=True)
class SentCommand:
    station_id: str  # as the station table spells it
    action: str
    request: Payload
    response: Payload


class InvalidCommand(Unsendable):
    """The CSMS refuses to send the command: ``code`` is an OCPP error code where one fits (the payload broke
    the schema) or a short reason (``UnknownAction``, ``NotCsmsAction``, ...)."""


class StationRejected(Conflict):
    """The station's registration is Rejected: the CSMS initiates nothing (B03.FR.03)."""

    def __init__(self, station_id: str) -> None:
        super().__init__(f"station {station_id} is Rejected: the CSMS initiates nothing (B03.FR.03)")


class StationBusy(Busy):
    """Too many commands already wait for the station's outstanding CALL."""

    def __init__(self, station_id: str) -> None:
        super().__init__(f"too many commands wait for {station_id}")


def logged_json(payload: Payload) -> str:
    """The wire JSON the command log keeps: secrets (passwords, AuthorizationKey...) hidden."""
    return msgspec.json.encode(redact(msgspec.to_builtins(payload))).decode()


def _logged_raw(raw: str) -> str:
    """A refused payload as given, its secrets hidden when it is JSON at all."""
    try:
        return msgspec.json.encode(redact(msgspec.json.decode(raw))).decode()
    except (msgspec.DecodeError, RecursionError):
        return raw


def action_of(request: Payload, version: Version | None = None) -> str:
    """The action name of a request Struct (of ``version`` when given, else of any version)."""
    versions = (version,) if version is not None else tuple(Version)
    for candidate in versions:
        spec = ActionCatalog.for_version(candidate).by_request.get(type(request))
        if spec is not None:
            return spec.action
    raise InvalidCommand("UnknownAction", f"{type(request).__name__} is not an OCPP request")


def _start_correlation(remote_start_id: int | None, id_tag: str | None) -> str | None:
    if remote_start_id is not None:
        return f"remoteStartId:{remote_start_id}"
    return f"idTag:{id_tag.casefold()}" if id_tag else None  # 1.6: the idTag is all a transaction shows


def correlation_of(request: Payload) -> str | None:
    """What a command is found by when something follows from it (remote starts: their transaction)."""
    if isinstance(request, v2x.RequestStartTransactionRequest):
        return _start_correlation(request.remote_start_id, None)
    if isinstance(request, v16.messages.RemoteStartTransactionRequest):
        return _start_correlation(None, request.id_tag)
    return None


def _v2x_rules(request: Payload) -> None:
    if isinstance(request, v2x.TriggerMessageRequest):
        evse = request.evse
        if request.requested_message == "StatusNotification" and (
            isinstance(evse, UnsetType) or present(evse.connector_id) is None
        ):
            raise InvalidCommand(
                "OccurrenceConstraintViolation",
                "F06.FR.13: a StatusNotification trigger needs evse.id and evse.connectorId",
            )
    elif isinstance(request, v2x.RequestStartTransactionRequest):
        evse_id = present(request.evse_id)
        if evse_id is not None and evse_id < 1:
            raise InvalidCommand("PropertyConstraintViolation", "evseId must be > 0 at $.evseId")
        profile = request.charging_profile
        if not isinstance(profile, UnsetType):
            if profile.charging_profile_purpose != "TxProfile":
                raise InvalidCommand(
                    "PropertyConstraintViolation",
                    "F01.FR.09/F02.FR.17: the charging profile purpose must be TxProfile "
                    "at $.chargingProfile.chargingProfilePurpose",
                )
            if present(profile.transaction_id) is not None:
                raise InvalidCommand(
                    "OccurrenceConstraintViolation",
                    "F01.FR.11/F02.FR.19: the charging profile may not carry a transactionId "
                    "at $.chargingProfile.transactionId",
                )


def _v16_rules(request: Payload) -> None:
    if isinstance(request, v16.messages.RemoteStartTransactionRequest):
        connector_id = present(request.connector_id)
        if connector_id is not None and connector_id < 1:
            raise InvalidCommand("PropertyConstraintViolation", "connectorId must be > 0 at $.connectorId")
        profile = present(request.charging_profile)
        if profile is not None:
            if profile.charging_profile_purpose != "TxProfile":
                raise InvalidCommand(
                    "PropertyConstraintViolation",
                    "1.6 §5.11: the charging profile purpose must be TxProfile "
                    "at $.chargingProfile.chargingProfilePurpose",
                )
            if present(profile.transaction_id) is not None:
                raise InvalidCommand(
                    "OccurenceConstraintViolation",
                    "1.6 §5.11: the charging profile may not carry a transactionId "
                    "at $.chargingProfile.transactionId",
                )


def check_rules(version: Version, request: Payload) -> None:
    """What the spec requires of the CSMS beyond the schema, for the requests this block knows."""
    if version.is_2x:
        _v2x_rules(request)
    else:
        _v16_rules(request)


def _open_gate(session: StationSession | None, request: Payload) -> str | None:
    """Let the session accept the action a trigger asks for; the action if this call opened it."""
    action = triggered_action(request)
    if session is None or action is None or action in session.triggered:
        return None
    session.triggered.add(action)
    return action


def _close_gate(session: StationSession | None, action: str | None) -> None:
    if session is not None and action is not None:
        session.triggered.discard(action)


async def _gated(session: StationSession | None, request: Payload, sending: Awaitable[Payload]) -> Payload:
    """``sending`` with the session's trigger gate around it (F06 + B02.FR.02): opened before the CALL goes
    out, as the triggered message may follow the answer at once."""
    opened = _open_gate(session, request)
    try:
        response = await sending
    except BaseException:
        _close_gate(session, opened)
        raise
    # Not Accepted: nothing will come. Accepted by an accepted station: its gate is open anyway.
    if getattr(response, "status", None) != "Accepted" or (
        session is not None and session.registration_status == ACCEPTED
    ):
        _close_gate(session, opened)
    return response


class CommandService:
    def __init__(
        self,
        repository: CommandLogRepository,
        commands: CommandRouter,
        stations: ProvisioningService,
        events: EventBus,
        clock: Clock,
        connections: ConnectionFinder | None = None,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.stations = stations
        self.events = events
        self.clock = clock
        self._connections = connections

    async def command_log(
        self, *, station_id: str | None, action: str | None, offset: int, limit: int
    ) -> tuple[list[CommandRecord], int]:
        """The command log, newest first, and how many entries match."""
        records = await self.repository.list(station_id=station_id, action=action, offset=offset, limit=limit)
        return records, await self.repository.count(station_id=station_id, action=action)

    def version_of(self, station_id: str) -> Version | None:
        """The OCPP version of the station's live connection (``None`` when it is not connected here)."""
        return self.commands.version_of(station_id)

    async def station(self, station_id: str) -> tuple[str, Version | None]:
        """The station's id as registered and the version of its live connection; :class:`UnknownStation` for an
        id nobody registered."""
        record = await self.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        return record.station_id, self.version_of(record.station_id)

    async def station_2x(self, station_id: str, lacking: str) -> str:
        """The station's id as registered, for a block 1.6 does not have (``lacking``: what 1.6 has no such
        thing as, for the refusal): :class:`InvalidCommand` ``NotSupportedByVersion`` when it speaks 1.6."""
        station_id, version = await self.station(station_id)
        if version is Version.V16:
            raise InvalidCommand(
                "NotSupportedByVersion", f"{station_id} speaks OCPP 1.6, which has no {lacking}"
            )
        return station_id

    # -- sending ------------------------------------------------------------------------------------------

    async def send(self, station_id: str, request: Payload, *, logged: Payload | None = None) -> Payload:
        """Send a typed request to a connected station and return its response; log the outcome (``logged``:
        what the command log shows of the request instead, e.g. without a password, A01.FR.09).

        Raises :class:`StationOffline`, :class:`StationRejected`, :class:`InvalidCommand`, :class:`StationBusy`
        and the transport's CallFailed / CallTimeout / ConnectionLost.
        """
        started = time.monotonic()
        created = self.clock.now()
        version = self.commands.version_of(station_id)
        action = action_of(request, None)
        request_json = logged_json(logged if logged is not None else request)

        async def record(
            outcome: str,
            *,
            response: str | None = None,
            code: str | None = None,
            description: str | None = None,
            action_name: str = action,
        ) -> None:
            await self._log(
                CommandEntry(
                    station_id=station_id,
                    action=action_name,
                    version=version.value if version else None,
                    request=request_json,
                    response=response,
                    error_code=code,
                    error_description=description[:_MAX_DESCRIPTION] if description else description,
                    outcome=outcome,
                    created_at=created,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    correlation=correlation_of(request),
                    initiator=initiator.get(),
                )
            )

        if version is None:
            await record(OFFLINE, code="StationOffline", description="the station is not connected")
            raise StationOffline(station_id)
        try:
            action = action_of(request, version)
        except InvalidCommand as error:
            await record(
                INVALID,
                code="WrongVersion",
                description=f"{type(request).__name__} is not an OCPP {version.value} request",
            )
            raise InvalidCommand("WrongVersion", f"the station speaks OCPP {version.value}") from error
        session = self._session(station_id)
        if session is not None and session.registration_status == REJECTED:
            await record(
                INVALID,
                code="StationRejected",
                description="B03.FR.03: the station's registration is Rejected",
            )
            raise StationRejected(station_id)
        try:
            check_rules(version, request)
        except InvalidCommand as error:
            await record(INVALID, code=error.code, description=error.description)
            raise

        try:
            response = await _gated(session, request, self.commands.call(station_id, request))
        except BaseException as error:
            await self._record_failure(record, error)
            if isinstance(error, CallQueueFull):
                raise StationBusy(station_id) from error
            if isinstance(error, LocalProtocolError):
                raise InvalidCommand(type(error).__name__, str(error)) from error
            raise
        await record(OK, response=logged_json(response))
        return response

    async def call_held_here(self, connection: OcppConnection, request: Payload) -> Payload:
        """Send a command that another CSMS node asked for on this node's connection (several nodes: the
        session lives here). B03.FR.03 and the TriggerMessage gate apply here; the asking node logs it."""
        state = connection.state
        session = state if isinstance(state, StationSession) else None
        if session is not None and session.registration_status == REJECTED:
            raise StationRejected(connection.station_id)
        return await _gated(session, request, connection.call(request))

    async def send_action(self, station_id: str, action: str, payload_json: bytes) -> SentCommand:
        """Validate a wire-JSON payload as ``action`` in the station's negotiated version and send it.

        Returns what was sent and the station's response. Raises :class:`UnknownStation` and what
        :meth:`send` raises; :class:`InvalidCommand` for an action the version does not have or a CSMS does
        not send (``UnknownAction``, ``NotCsmsAction``) and for a payload against the schema (its OCPP code).
        """
        record = await self.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        station_id = record.station_id
        version = self.commands.version_of(station_id)
        raw = payload_json.decode("utf-8", errors="replace")
        created, started = self.clock.now(), time.monotonic()

        async def refuse(outcome: str, code: str, description: str) -> None:
            await self._log(
                CommandEntry(
                    station_id=station_id,
                    action=action[:64],
                    version=version.value if version else None,
                    request=_logged_raw(raw),
                    response=None,
                    error_code=code,
                    error_description=description[:_MAX_DESCRIPTION],
                    outcome=outcome,
                    created_at=created,
                    duration_ms=round((time.monotonic() - started) * 1000),
                    initiator=initiator.get(),
                )
            )

        if version is None:
            await refuse(OFFLINE, "StationOffline", "the station is not connected")
            raise StationOffline(station_id)
        spec = ActionCatalog.for_version(version).actions.get(action)
        if spec is None:
            description = f"{action} is not an OCPP {version.value} action"
            await refuse(INVALID, "UnknownAction", description)
            raise InvalidCommand("UnknownAction", description)
        if spec.direction is Direction.STATION_TO_CSMS or spec.is_send:
            description = f"{action} is sent by charging stations, not by a CSMS"
            await refuse(INVALID, "NotCsmsAction", description)
            raise InvalidCommand("NotCsmsAction", description)
        try:
            request = decode_payload(spec.request_decoder, payload_json, version)
        except OcppError as error:
            code = error.code_for(version)
            await refuse(INVALID, code, error.description)
            raise InvalidCommand(code, error.description) from None
        response = await self.send(station_id, request)
        return SentCommand(station_id, spec.action, request, response)

    async def remote_start_failed(
        self, station_id: str, *, remote_start_id: int | None, id_tag: str | None, since: datetime, note: str
    ) -> CommandRecord | None:
        """A transaction that a remote start began failed right away: note it against that command (found by
        its remoteStartId, in 1.6 by its idTag among the commands since ``since``) and publish a
        ``command.follow_up`` event, so that the operator sees what became of an Accepted remote start."""
        correlation = _start_correlation(remote_start_id, id_tag)
        if correlation is None:
            return None
        try:
            record = await self.repository.follow_up(station_id, correlation, since, note[:_MAX_DESCRIPTION])
        except Exception:  # the station's answer matters more than the note
            log.exception("%s: could not note what became of a remote start", station_id)
            return None
        if record is not None:
            log.warning("%s: remote start (command %s) failed: %s", station_id, record.id, note)
            data = {"commandId": record.id, "action": record.action, "followUp": record.follow_up}
            self.events.publish(StationEvent("command.follow_up", station_id, data))
        return record

    # -- the log ----------------------------------------------------------------------------------------

    @staticmethod
    async def _record_failure(record: Recorder, error: BaseException) -> None:
        if isinstance(error, CallFailed):
            ocpp = error.error
            code = ocpp.received_code if isinstance(ocpp, UnknownErrorCode) else ocpp.code
            await record(CALLERROR, code=code, description=ocpp.description)
        elif isinstance(error, CallTimeout):
            await record(TIMEOUT, code="Timeout", description="no answer within the call timeout")
        elif isinstance(error, ConnectionLost):
            await record(CONNECTION_LOST, code="ConnectionLost", description=str(error))
        elif isinstance(error, StationOffline):
            await record(OFFLINE, code="StationOffline", description="the station is not connected")
        elif isinstance(error, CallQueueFull):
            await record(INVALID, code="StationBusy", description=str(error))
        elif isinstance(error, LocalProtocolError):
            await record(INVALID, code=type(error).__name__, description=str(error))
        elif isinstance(error, Conflict):  # the node holding the socket refused it (B03.FR.03 there)
            await record(INVALID, code="StationRejected", description=str(error))

    async def _log(self, entry: CommandEntry) -> None:
        try:
            await self.repository.add(entry)
        except Exception:  # the station's answer matters more than its log line
            log.exception("could not log %s to %s", entry.action, entry.station_id)
        self.events.publish(
            StationEvent(
                "command",
                entry.station_id,
                {
                    "action": entry.action,
                    "outcome": entry.outcome,
                    "errorCode": entry.error_code,
                    "durationMs": entry.duration_ms,
                },
            )
        )

    def _session(self, station_id: str) -> StationSession | None:
        if self._connections is None:
            return None
        connection = self._connections(station_id)
        state = connection.state if connection is not None else None
        return state if isinstance(state, StationSession) else None
