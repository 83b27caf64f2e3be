"""Battery swaps (2.1 S01-S04) on the CSMS: the station's BatterySwap events kept with the decision on their
token and the inventory they change, and RequestBatterySwap for an authorized token (S02)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import msgspec

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.availability.calls import InvalidRequest, checked, status_reason
from chargeplane.csms.blocks.battery_swap.repository import (
    BatterySwapRepository,
    SlotRecord,
    SwapEvent,
    SwapEventRecord,
    SwapRequestRecord,
)
from chargeplane.csms.bus.commands import CommandRouter, StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

ACCEPTED = "Accepted"


class NotASwapStation(Conflict):
    """RequestBatterySwap exists in OCPP 2.1 only."""


class TokenNotAuthorized(Conflict):
    """S02.FR.03: no RequestBatterySwap for a token the CSMS does not accept."""


@dataclass(frozen=True, slots=True)
class SwapAnswer:
    status: str
    reason_code: str | None = None
    additional_info: str | None = None


class BatterySwapService:
    def __init__(
        self,
        repository: BatterySwapRepository,
        authorization: AuthorizationService,
        events: EventBus,
        commands: CommandRouter,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.authorization = authorization
        self.events = events
        self.commands = commands
        self.clock = clock

    # -- from the station ---------------------------------------------------------------------------------

    async def swapped(self, station_id: str, request: v21.messages.BatterySwapRequest) -> None:
        """S03: keep the event with the CSMS's decision on its token (logged as a BatterySwap decision) and
        the slots it fills or empties. The answer is empty whatever the decision: the batteries have moved."""
        token, token_type = request.id_token.id_token, str(request.id_token.type)
        decision = await self.authorization.authorize(station_id, token, token_type, context="BatterySwap")
        batteries: list[dict[str, Any]] = msgspec.to_builtins(request.battery_data)
        event_type = str(request.event_type)
        await self.repository.record(
            SwapEvent(
                station_id=station_id,
                request_id=request.request_id,
                event_type=event_type,
                id_token=await self.authorization.stored_token(token, token_type),
                token_type=token_type,
                token_status=decision.status,
                battery_data=batteries,
                at=self.clock.now(),
            )
        )
        if decision.status != ACCEPTED:
            log.warning("%s: battery swap %s for a %s token", station_id, request.request_id, decision.status)
        self.events.publish(
            StationEvent(
                "battery_swap",
                station_id,
                {
                    "requestId": request.request_id,
                    "eventType": event_type,
                    "tokenStatus": decision.status,
                    "batteries": [b["serialNumber"] for b in batteries],
                },
            )
        )

    # -- operator actions -------------------------------------------------------------------------------

    async def request_swap(
        self, station_id: str, id_token: str, token_type: str
    ) -> tuple[SwapRequestRecord, SwapAnswer]:
        """S02: for an accepted token only (S02.FR.03); the stored request's id is the requestId the station
        uses in its BatteryIn / BatteryOut (S02.FR.02)."""
        version = self.commands.version_of(station_id)
        if version is None:
            raise StationOffline(station_id)
        if version is not Version.V21:
            raise NotASwapStation(f"battery swapping needs OCPP 2.1; {station_id} speaks {version}")
        decision = await self.authorization.authorize(
            station_id, id_token, token_type, context="RequestBatterySwap"
        )
        if decision.status != ACCEPTED:
            raise TokenNotAuthorized(f"id token is {decision.status}: not authorized to swap (S02.FR.03)")
        try:
            id_token_type = msgspec.convert(
                {"idToken": id_token, "type": token_type}, v21.datatypes.IdTokenType
            )
        except msgspec.ValidationError as error:
            raise InvalidRequest(str(error)) from None
        checked(v21.messages.RequestBatterySwapRequest(request_id=0, id_token=id_token_type))
        request_id = await self.repository.create_request(
            station_id,
            await self.authorization.stored_token(id_token, token_type),
            token_type,
            self.clock.now(),
        )
        request = v21.messages.RequestBatterySwapRequest(request_id=request_id, id_token=id_token_type)
        try:
            response = await self.commands.call(station_id, request)
        except CallFailed as error:
            await self.repository.set_request_status(request_id, "Failed", error.error.code)
            raise
        except (CallTimeout, ConnectionLost) as error:
            await self.repository.set_request_status(
                request_id, "Failed", f"no answer: {type(error).__name__}"
            )
            raise
        assert isinstance(response, v21.messages.RequestBatterySwapResponse)  # the endpoint checked its type
        reason, info = status_reason(response.status_info)
        record = await self.repository.set_request_status(request_id, str(response.status), reason)
        return record, SwapAnswer(str(response.status), reason, info)

    # -- reads ------------------------------------------------------------------------------------------

    async def find(
        self, *, station_id: str | None, request_id: int | None, offset: int, limit: int
    ) -> tuple[list[SwapEventRecord], int]:
        return await self.repository.events(
            station_id=station_id, request_id=request_id, offset=offset, limit=limit
        )

    async def inventory(self, station_id: str) -> list[SlotRecord]:
        """The battery last reported in each slot of the station (``present`` False: taken out)."""
        return await self.repository.slots(station_id)
