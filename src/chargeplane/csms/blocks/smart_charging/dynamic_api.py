"""HTTP routes of 2.1 dynamic schedules (K28) and priority charging (K21/K22): the values a station's Dynamic
profile gets (stored, and pushed with UpdateDynamicSchedule on request), UsePriorityCharging, and the
priority notices of a transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import put
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import STATION_CALL, error_responses
from chargeplane.csms.api.routes import get_or_404, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.smart_charging.dynamic import DynamicChargingService, PriorityView
from chargeplane.csms.blocks.smart_charging.dynamic_repository import DynamicValues
from chargeplane.ocpp.messages import v21

ProfileId = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
TransactionId = Annotated[str, msgspec.Meta(min_length=1, max_length=36)]


class DynamicIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """New values for the Dynamic profile (ChargingScheduleUpdateType: limit, setpoint, dischargeLimit, ...,
    per phase where the type has it); ``send``: push them now with UpdateDynamicSchedule, else the station
    gets them at its next PullDynamicScheduleUpdate."""

    schedule_update: v21.datatypes.ChargingScheduleUpdateType
    send: bool = True


class DynamicOut(msgspec.Struct, rename="camel"):
    profile_id: int
    schedule_update: v21.datatypes.ChargingScheduleUpdateType
    updated_at: datetime
    pulled_at: datetime | None
    pulls: int
    status: str | None = None  # the station's UpdateDynamicSchedule status when sent
    reason_code: str | None = None


class PriorityIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    activate: bool = True


class PriorityOut(msgspec.Struct, rename="camel"):
    status: str  # the station's: Accepted | Rejected | NoProfile
    reason_code: str | None


class PriorityNoticeOut(msgspec.Struct, rename="camel"):
    activated: bool
    received_at: datetime


class PriorityStateOut(msgspec.Struct, rename="camel"):
    transaction_id: str
    active: bool  # the station's last notice said activated
    notices: list[PriorityNoticeOut]  # NotifyPriorityCharging, oldest first


def dynamic_out(values: DynamicValues, status: str | None = None, reason: str | None = None) -> DynamicOut:
    update = msgspec.convert(values.schedule_update, v21.datatypes.ChargingScheduleUpdateType)
    return DynamicOut(
        values.profile_id, update, values.updated_at, values.pulled_at, values.pulls, status, reason
    )


def priority_state_out(transaction_id: str, view: PriorityView) -> PriorityStateOut:
    notices = [PriorityNoticeOut(n.activated, n.received_at) for n in view.notices]
    return PriorityStateOut(transaction_id, view.active, notices)


def routes(service: DynamicChargingService) -> list[object]:
    @get_or_404(
        "/stations/{station_id:str}/dynamic-schedules",
        summary="The values set for a station's Dynamic charging profiles (K28)",
    )
    async def list_dynamic(known_station: KnownStation) -> list[DynamicOut]:
        """What each Dynamic profile's PullDynamicScheduleUpdate is answered with, and when it was pulled."""
        return [dynamic_out(v) for v in await service.values(known_station.station_id)]

    @put(
        "/stations/{station_id:str}/dynamic-schedules/{profile_id:int}",
        summary="Set the values of a Dynamic charging profile, and push them (K28)",
        status_code=HTTP_200_OK,
        opt=OPERATOR,
        responses=error_responses(*STATION_CALL),
    )
    async def set_dynamic(
        known_station: KnownStation, profile_id: FromPath[ProfileId], data: JSONBody[DynamicIn]
    ) -> DynamicOut:
        """404 when the store holds no Dynamic profile with this id for the station (set it first with
        SetChargingProfile); with ``send`` the station's UpdateDynamicSchedule status is in the answer."""
        outcome = await service.set_values(
            known_station.station_id, profile_id, data.schedule_update, send=data.send
        )
        return dynamic_out(outcome.stored, outcome.status, outcome.reason)

    @station_call(
        "/stations/{station_id:str}/transactions/{transaction_id:str}/priority-charging",
        summary="Ask the station to charge a transaction with priority, or to stop (K21)",
    )
    async def use_priority(
        known_station: KnownStation, transaction_id: FromPath[TransactionId], data: JSONBody[PriorityIn]
    ) -> PriorityOut:
        """UsePriorityCharging (2.1 only: 422 otherwise); the station's status: NoProfile when it holds no
        PriorityCharging profile for the EVSE, Rejected (TxNotFound) for a transaction it does not run."""
        status, reason = await service.use_priority(known_station.station_id, transaction_id, data.activate)
        return PriorityOut(status, reason)

    @get_or_404(
        "/stations/{station_id:str}/transactions/{transaction_id:str}/priority-charging",
        summary="Whether a transaction charges with priority, from the station's notices (K21/K22)",
    )
    async def priority(
        known_station: KnownStation, transaction_id: FromPath[TransactionId]
    ) -> PriorityStateOut:
        """404 when the station never notified priority charging for the transaction."""
        view = await service.priority(known_station.station_id, transaction_id)
        if view is None:
            raise NotFoundException(f"no priority charging notice for transaction {transaction_id}")
        return priority_state_out(transaction_id, view)

    return [list_dynamic, set_dynamic, use_priority, priority]
