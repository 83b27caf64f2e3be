"""HTTP routes of remote control: the generic commands endpoint, the command log and the remote-control
convenience routes (F01-F03, F05, F06, B11-B12).

200: the station answered (its response payload is in ``response``, whatever its status says); the other
status codes are those of every route (:mod:`chargeplane.csms.api.errors`): 404 no such station, 409 offline
or Rejected, 422 the CSMS will not send it, 502 CALLERROR or connection lost, 503 busy, 504 no answer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from chargeplane.csms.api.app import OPERATOR, RawJsonOperation
from chargeplane.csms.api.errors import STATION_CALL, error_responses
from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import paged, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.remote_control.convenience import (
    RemoteStartIn,
    RemoteStopIn,
    ResetIn,
    TriggerIn,
    UnlockIn,
)
from chargeplane.csms.blocks.remote_control.operations import StationCommands
from chargeplane.csms.blocks.remote_control.repository import CommandRecord
from chargeplane.csms.blocks.remote_control.service import CommandService, SentCommand
from chargeplane.ocpp.messages.base import Payload

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
    follow_up: str | None  # what became of it (a remote start whose transaction failed right away)
    initiator: str | None = None  # who asked: api:<token name>, console:<username>; none: the CSMS itself


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
        follow_up=record.follow_up,
        initiator=record.initiator,
    )


# -- routes -----------------------------------------------------------------------------------------------


def routes(service: CommandService, commands: StationCommands) -> list[Any]:
    def out(sent: SentCommand) -> CommandOut:
        return CommandOut(action=sent.action, request=_wire(sent.request), response=_wire(sent.response))

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
        return out(await service.send_action(known_station.station_id, action, await request.body()))

    @get("/commands", summary="The command log, newest first")
    async def list_commands(
        station: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> Page[CommandLogOut]:
        """Every CSMS-initiated CALL with its request, answer or error and duration."""
        found = await service.command_log(station_id=station, action=action, offset=offset, limit=limit)
        return paged(command_log_out, found, offset, limit)

    @station_call(
        "/stations/{station_id:str}/remote-start",
        summary="Remote start (F01/F02; 1.6 RemoteStartTransaction)",
    )
    async def remote_start(known_station: KnownStation, data: JSONBody[RemoteStartIn]) -> CommandOut:
        """RequestStartTransaction (2.x) or RemoteStartTransaction (1.6), built for the station's version; with no
        tokenType, the stored token's type."""
        return out(await commands.remote_start(known_station, data))

    @station_call(
        "/stations/{station_id:str}/remote-stop", summary="Remote stop (F03; 1.6 RemoteStopTransaction)"
    )
    async def remote_stop(known_station: KnownStation, data: JSONBody[RemoteStopIn]) -> CommandOut:
        """RequestStopTransaction (2.x) or RemoteStopTransaction (1.6)."""
        return out(await commands.remote_stop(known_station, data))

    @station_call("/stations/{station_id:str}/unlock", summary="Unlock a connector (F05)")
    async def unlock(known_station: KnownStation, data: JSONBody[UnlockIn]) -> CommandOut:
        """UnlockConnector; 2.x needs ``evseId``; on 1.6 the connector is the EVSE."""
        return out(await commands.unlock(known_station, data))

    @station_call("/stations/{station_id:str}/reset", summary="Reset (B11/B12)")
    async def reset(known_station: KnownStation, data: JSONBody[ResetIn]) -> CommandOut:
        """Reset translated to the station's version: Immediate / OnIdle (2.x, ImmediateAndResume on 2.1),
        Hard / Soft (1.6); a value with no equivalent is refused with 422."""
        return out(await commands.reset(known_station, data))

    @station_call("/stations/{station_id:str}/trigger", summary="Trigger a message (F06)")
    async def trigger(known_station: KnownStation, data: JSONBody[TriggerIn]) -> CommandOut:
        """TriggerMessage (1.6 ExtendedTriggerMessage for the security extension's messages), translated per
        version."""
        return out(await commands.trigger(known_station, data))

    return [send_command, list_commands, remote_start, remote_stop, unlock, reset, trigger]
