"""HTTP routes of remote control: the generic commands endpoint, the command log and the remote-control
convenience routes (F01-F03, F05, F06, B11-B12).

200: the station answered (its response payload is in ``response``, whatever its status says); the other
status codes are those of every route (:mod:`chargeplane.csms.api.errors`): 404 no such station, 409 offline
or Rejected, 422 the CSMS will not send it, 502 CALLERROR or connection lost, 503 busy, 504 no answer.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from chargeplane.csms.api.app import OPERATOR, RawJsonOperation
from chargeplane.csms.api.errors import STATION_CALL, error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.remote_control.repository import CommandRecord
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.versions import Version

# -- bodies -----------------------------------------------------------------------------------------------


class CommandOut(msgspec.Struct, rename="camel"):
    action: str
    request: dict[str, Any]  # the payload as sent (wire JSON)
    response: dict[str, Any]  # the station's response payload (wire JSON)


class CommandLogOut(msgspec.Struct, rename="camel"):
    id: int
    station_id: str
    action: str
    version: str | None
    request: Any
    response: Any
    error_code: str | None
    error_description: str | None
    outcome: str
    created_at: datetime
    duration_ms: int


class RemoteStartIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id_token: str
    token_type: str | None = None  # 2.x IdToken type; Central when absent (1.6 has no type)
    evse_id: int | None = None
    connector_id: int | None = None  # 1.6; in 2.x the station picks the connector of the EVSE
    remote_start_id: int | None = None  # 2.x; generated when absent (and returned in ``request``)


class RemoteStopIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    transaction_id: str | int


class UnlockIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    connector_id: int
    evse_id: int | None = None  # required by 2.x


class ResetIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    type: str  # Immediate | OnIdle (2.x; 2.1 also ImmediateAndResume) or Hard | Soft (1.6)
    evse_id: int | None = None  # 2.x only


class TriggerIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    requested_message: str
    evse_id: int | None = None
    connector_id: int | None = None
    custom_trigger: str | None = None  # 2.1 CustomTrigger


# The values of 1.6 core TriggerMessage; the others go in the security extension's ExtendedTriggerMessage.
_V16_CORE_TRIGGERS = frozenset(
    {
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    }
)

Built = tuple[str, dict[str, Any]]  # action, wire payload


def _remote_start(data: RemoteStartIn, version: Version) -> Built:
    if not version.is_2x:  # 1.6 RemoteStartTransaction: no token type, no remoteStartId
        payload: dict[str, Any] = {"idTag": data.id_token}
        connector = data.connector_id if data.connector_id is not None else data.evse_id
        if connector is not None:
            payload["connectorId"] = connector
        return "RemoteStartTransaction", payload
    if data.connector_id is not None and data.evse_id is None:
        raise InvalidCommand("NotSupported", "OCPP 2.x starts on an EVSE: give evseId, not connectorId")
    payload = {
        "idToken": {"idToken": data.id_token, "type": data.token_type or "Central"},
        "remoteStartId": data.remote_start_id
        if data.remote_start_id is not None
        else secrets.randbelow(2**31 - 1) + 1,
    }
    if data.evse_id is not None:
        payload["evseId"] = data.evse_id
    return "RequestStartTransaction", payload


def _remote_stop(data: RemoteStopIn, version: Version) -> Built:
    if version.is_2x:
        return "RequestStopTransaction", {"transactionId": str(data.transaction_id)}
    transaction_id = data.transaction_id
    if isinstance(transaction_id, str):
        if not transaction_id.isdigit():
            raise InvalidCommand(
                "TypeConstraintViolation", "1.6 transaction ids are integers at $.transactionId"
            )
        transaction_id = int(transaction_id)
    return "RemoteStopTransaction", {"transactionId": transaction_id}


def _unlock(data: UnlockIn, version: Version) -> Built:
    if not version.is_2x:
        return "UnlockConnector", {"connectorId": data.connector_id}
    if data.evse_id is None:
        raise InvalidCommand("OccurrenceConstraintViolation", "OCPP 2.x needs evseId at $.evseId")
    return "UnlockConnector", {"evseId": data.evse_id, "connectorId": data.connector_id}


def _reset(data: ResetIn, version: Version) -> Built:
    payload: dict[str, Any] = {"type": data.type}
    if data.evse_id is not None:
        if not version.is_2x:
            raise InvalidCommand("NotSupported", "OCPP 1.6 resets the whole charge point: no evseId")
        payload["evseId"] = data.evse_id
    return "Reset", payload


def _trigger(data: TriggerIn, version: Version) -> Built:
    payload: dict[str, Any] = {"requestedMessage": data.requested_message}
    if not version.is_2x:
        connector = data.connector_id if data.connector_id is not None else data.evse_id
        if connector is not None:
            payload["connectorId"] = connector
        core = data.requested_message in _V16_CORE_TRIGGERS
        return ("TriggerMessage" if core else "ExtendedTriggerMessage"), payload
    if data.evse_id is not None:
        evse: dict[str, Any] = {"id": data.evse_id}
        if data.connector_id is not None:
            evse["connectorId"] = data.connector_id
        payload["evse"] = evse
    elif data.connector_id is not None:
        raise InvalidCommand("OccurrenceConstraintViolation", "a connectorId needs its evseId at $.evse.id")
    if data.custom_trigger is not None:
        payload["customTrigger"] = data.custom_trigger
    return "TriggerMessage", payload


def _wire(payload: Payload) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(payload))
    return decoded


def _json_or_text(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text  # a refused body that was not JSON: kept as it came


def command_log_out(record: CommandRecord) -> CommandLogOut:
    return CommandLogOut(
        id=record.id,
        station_id=record.station_id,
        action=record.action,
        version=record.version,
        request=_json_or_text(record.request),
        response=_json_or_text(record.response),
        error_code=record.error_code,
        error_description=record.error_description,
        outcome=record.outcome,
        created_at=record.created_at,
        duration_ms=record.duration_ms,
    )


# -- routes -----------------------------------------------------------------------------------------------


def routes(service: CommandService) -> list[Any]:
    async def execute(station_id: str, action: str, body: bytes) -> CommandOut:
        sent = await service.send_action(station_id, action, body)
        return CommandOut(action=sent.action, request=_wire(sent.request), response=_wire(sent.response))

    async def convenience(known_station: KnownStation, build: Callable[[Version], Built]) -> CommandOut:
        version = service.commands.version_of(known_station.station_id)
        if version is None:  # offline: logged as what it would have been in the last version it spoke
            version = Version(known_station.ocpp_version) if known_station.ocpp_version else Version.V201
        action, payload = build(version)
        return await execute(known_station.station_id, action, msgspec.json.encode(payload))

    @post(
        "/stations/{station_id:str}/commands/{action:str}",
        status_code=HTTP_200_OK,
        summary="Send any CSMS-initiated OCPP action",
        description="The body is the OCPP request payload (wire JSON) in the station's negotiated version; "
        "the answer carries the station's response payload.",
        responses=error_responses(*STATION_CALL),
        opt=OPERATOR,
        operation_class=RawJsonOperation,
    )
    async def send_command(
        known_station: KnownStation, action: FromPath[str], request: Request[Any, Any, Any]
    ) -> CommandOut:
        return await execute(known_station.station_id, action, await request.body())

    @get("/commands", summary="The command log, newest first")
    async def list_commands(
        station: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[CommandLogOut]:
        """Every CSMS-initiated CALL with its request, answer or error and duration."""
        records, total = await service.command_log(
            station_id=station, action=action, offset=offset, limit=limit
        )
        return Page([command_log_out(r) for r in records], total, offset, limit)

    @post(
        "/stations/{station_id:str}/remote-start",
        status_code=HTTP_200_OK,
        summary="Remote start (F01/F02; 1.6 RemoteStartTransaction)",
        responses=error_responses(*STATION_CALL),
        opt=OPERATOR,
    )
    async def remote_start(known_station: KnownStation, data: JSONBody[RemoteStartIn]) -> CommandOut:
        """RequestStartTransaction (2.x) or RemoteStartTransaction (1.6), built for the station's version."""
        return await convenience(known_station, lambda version: _remote_start(data, version))

    @post(
        "/stations/{station_id:str}/remote-stop",
        status_code=HTTP_200_OK,
        summary="Remote stop (F03; 1.6 RemoteStopTransaction)",
        responses=error_responses(*STATION_CALL),
        opt=OPERATOR,
    )
    async def remote_stop(known_station: KnownStation, data: JSONBody[RemoteStopIn]) -> CommandOut:
        """RequestStopTransaction (2.x) or RemoteStopTransaction (1.6)."""
        return await convenience(known_station, lambda version: _remote_stop(data, version))

    @post(
        "/stations/{station_id:str}/unlock",
        status_code=HTTP_200_OK,
        summary="Unlock a connector (F05)",
        responses=error_responses(*STATION_CALL),
        opt=OPERATOR,
    )
    async def unlock(known_station: KnownStation, data: JSONBody[UnlockIn]) -> CommandOut:
        """UnlockConnector; 2.x needs ``evseId``."""
        return await convenience(known_station, lambda version: _unlock(data, version))

    @post(
        "/stations/{station_id:str}/reset",
        status_code=HTTP_200_OK,
        summary="Reset (B11/B12)",
        responses=error_responses(*STATION_CALL),
        opt=OPERATOR,
    )
    async def reset(known_station: KnownStation, data: JSONBody[ResetIn]) -> CommandOut:
        """Reset: Immediate or OnIdle (2.x), Hard or Soft (1.6)."""
        return await convenience(known_station, lambda version: _reset(data, version))

    @post(
        "/stations/{station_id:str}/trigger",
        status_code=HTTP_200_OK,
        summary="Trigger a message (F06)",
        responses=error_responses(*STATION_CALL),
        opt=OPERATOR,
    )
    async def trigger(known_station: KnownStation, data: JSONBody[TriggerIn]) -> CommandOut:
        """TriggerMessage (1.6 ExtendedTriggerMessage for the security extension's messages)."""
        return await convenience(known_station, lambda version: _trigger(data, version))

    return [send_command, list_commands, remote_start, remote_stop, unlock, reset, trigger]
