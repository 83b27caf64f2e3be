"""The convenience commands (remote start / stop, unlock, reset, trigger) built for the station's version
(:mod:`.convenience`) and sent through the :class:`CommandService`: one path for the HTTP API's convenience
routes and the operator console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from chargeplane.csms.blocks.authorization.service import AmbiguousToken, AuthorizationService, UnknownToken
from chargeplane.csms.blocks.remote_control import convenience as build
from chargeplane.csms.blocks.remote_control.convenience import (
    Built,
    RemoteStartIn,
    RemoteStopIn,
    ResetIn,
    TriggerIn,
    UnlockIn,
)
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand, SentCommand
from chargeplane.ocpp.versions import Version


class Station(Protocol):
    """What a command needs of the station (the provisioning block's record)."""

    @property
    def station_id(self) -> str: ...

    @property
    def ocpp_version(self) -> str | None: ...  # the version it last spoke


class StationCommands:
    def __init__(self, service: CommandService, tokens: AuthorizationService) -> None:
        self.service = service
        self.tokens = tokens

    def version_of(self, station: Station) -> Version:
        version = self.service.commands.version_of(station.station_id)
        if version is None:  # offline: logged as what it would have been in the last version it spoke
            version = Version(station.ocpp_version) if station.ocpp_version else Version.V201
        return version

    async def send(self, station: Station, builder: Callable[[Version], Built]) -> SentCommand:
        action, payload = builder(self.version_of(station))
        return await self.service.send_action(station.station_id, action, msgspec.json.encode(payload))

    async def start_token_type(self, data: RemoteStartIn, version: Version) -> str:
        """The IdToken type of a remote start: the one given, else the stored token's. Never a guess: a
        token sent as Central that the CSMS stores as ISO14443 is then rated Unknown by the CSMS itself."""
        if data.token_type is not None or not version.is_2x:
            return data.token_type or ""
        try:
            return (await self.tokens.get_token(data.id_token, None)).type
        except UnknownToken:
            raise InvalidCommand(
                "UnknownToken",
                f"no stored id token {data.id_token}: give its tokenType (Central for a token of the CSMS)",
            ) from None
        except AmbiguousToken as error:
            raise InvalidCommand("AmbiguousToken", str(error)) from None

    async def remote_start(self, station: Station, data: RemoteStartIn) -> SentCommand:
        token_type = await self.start_token_type(data, self.version_of(station))
        return await self.send(station, lambda version: build.remote_start(data, version, token_type))

    async def remote_stop(self, station: Station, data: RemoteStopIn) -> SentCommand:
        return await self.send(station, lambda version: build.remote_stop(data, version))

    async def unlock(self, station: Station, data: UnlockIn) -> SentCommand:
        return await self.send(station, lambda version: build.unlock(data, version))

    async def reset(self, station: Station, data: ResetIn) -> SentCommand:
        return await self.send(station, lambda version: build.reset(data, version))

    async def trigger(self, station: Station, data: TriggerIn) -> SentCommand:
        return await self.send(station, lambda version: build.trigger(data, version))
