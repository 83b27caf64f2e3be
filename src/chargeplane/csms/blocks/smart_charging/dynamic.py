"""Dynamic charging profiles (2.1 K28) and priority charging (K21, K22), CSMS side.

Dynamic schedules
    A Dynamic profile is set like any other (SetChargingProfile through the profile store). Its values then
    come from the operator: ``PUT /stations/{id}/dynamic-schedules/{profileId}`` stores them (what the
    station gets when it pulls, K28.FR.07) and, with ``send`` and the station online, pushes them at once
    with UpdateDynamicSchedule (K28 scenario 1). PullDynamicScheduleUpdate for a profile the store does not
    hold, or holds but not Dynamic, is Rejected with InvalidProfile (K28.FR.12); without operator values
    the profile's own values are answered (the station keeps what it has). Values the station took (an
    Accepted update, an answered pull) are written into the stored profile, so that reconciliation (K09)
    does not see the station's updated profile as drift.

Priority charging
    ``POST /stations/{id}/transactions/{transactionId}/priority-charging`` sends UsePriorityCharging (K21)
    and answers with the station's status (Accepted / Rejected / NoProfile). NotifyPriorityCharging (K21.FR.05/08,
    K22.FR.03/05) is stored and answered (K21.FR.09, K22.FR.06); the transaction's notices and whether
    priority is on show in the transaction's API view (``sections.priorityCharging``) and under
    ``GET /stations/{id}/transactions/{transactionId}/priority-charging``.

V2X (Q04, Q07): the values of a Dynamic profile whose period has a V2X operation mode are checked against
it before they are stored or sent (:func:`chargeplane.smart_charging.v2x.check_update`): a CentralSetpoint /
CentralFrequency period gets setpoints only, never limit / dischargeLimit (Q03.FR.02), and the setpoint
stays within the period's dischargeLimit .. limit (V2X.05); a refusal is HTTP 400 with its reason.

Decision: the site allocation does not feed the pulled values (the sites block sets TxProfiles of its own;
a Dynamic profile is the operator's or an external system's).
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

import msgspec

from chargeplane.csms.blocks.remote_control.service import CommandService
from chargeplane.csms.blocks.smart_charging.dynamic_repository import (
    DynamicRepository,
    DynamicValues,
    PriorityNotice,
)
from chargeplane.csms.blocks.smart_charging.repository import SmartChargingRepository, StoredProfile
from chargeplane.csms.blocks.smart_charging.service import NotSupported
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Invalid, NotFound
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging import v2x as v2x_rules

DYNAMIC = "Dynamic"
INVALID_PROFILE = "InvalidProfile"
# the wire names of ChargingScheduleUpdateType's values (what a pull answers from the profile's own period)
UPDATE_NAMES = frozenset(
    f.encode_name for f in msgspec.structs.fields(v21.datatypes.ChargingScheduleUpdateType)
) - {"customData"}


class NoDynamicProfile(NotFound):
    """The store holds no Dynamic profile with this id for the station."""


class UpdateRefused(Invalid):
    """The values do not fit the profile's period (its V2X operation mode, Q03.FR.02 / Q04 / Q07)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


def check_values(stored: StoredProfile, update: v21.datatypes.ChargingScheduleUpdateType) -> None:
    """The operator's values against the stored profile's one period (:func:`v2x_rules.check_update`)."""
    schedule = stored.profile["chargingSchedule"][0]
    period = msgspec.convert(schedule["chargingSchedulePeriod"][0], v21.datatypes.ChargingSchedulePeriodType)
    refusal = v2x_rules.check_update(period, update, watts=schedule.get("chargingRateUnit") == "W")
    if refusal is not None:
        raise UpdateRefused(refusal.reason, refusal.detail)


@dataclass(frozen=True, slots=True)
class PullAnswer:
    status: str  # Accepted | Rejected
    reason: str | None
    schedule_update: dict[str, Any] | None  # wire JSON (camelCase)


@dataclass(frozen=True, slots=True)
class UpdateOutcome:
    stored: DynamicValues
    status: str | None  # the station's UpdateDynamicSchedule status; None: not sent
    reason: str | None


@dataclass(frozen=True, slots=True)
class PriorityView:
    active: bool  # the last notice said activated
    notices: list[PriorityNotice]


def _wire_update(update: v21.datatypes.ChargingScheduleUpdateType) -> dict[str, Any]:
    encoded = msgspec.to_builtins(update)
    assert isinstance(encoded, dict)
    return encoded


def _is_dynamic(stored: StoredProfile) -> bool:
    return stored.version == Version.V21.value and stored.profile.get("chargingProfileKind") == DYNAMIC


class DynamicChargingService:
    def __init__(
        self,
        repository: DynamicRepository,
        profiles: SmartChargingRepository,
        commands: CommandService,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.profiles = profiles
        self.commands = commands
        self.events = events
        self.clock = clock

    async def _dynamic(self, station_id: str, profile_id: int) -> StoredProfile | None:
        found = [p for p in await self.profiles.profiles(station_id) if p.profile_id == profile_id]
        return found[0] if found and _is_dynamic(found[0]) else None

    async def _took(self, station_id: str, stored: StoredProfile, update: dict[str, Any]) -> None:
        """The station applied ``update`` to the profile (K28.FR.06/08): the store follows."""
        profile = copy.deepcopy(stored.profile)
        period = profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]
        period.update(update)
        profile["dynUpdateTime"] = to_wire(self.clock.now())
        await self.profiles.install(station_id, dataclasses.replace(stored, profile=profile), ())

    # -- K28 ------------------------------------------------------------------------------------------------

    async def pull(self, station_id: str, profile_id: int) -> PullAnswer:
        """K28.FR.07 / K28.FR.12: a station's PullDynamicScheduleUpdate."""
        stored = await self._dynamic(station_id, profile_id)
        if stored is None:
            return PullAnswer("Rejected", INVALID_PROFILE, None)
        found = await self.repository.values(station_id, profile_id)
        if found:
            update = found[0].schedule_update
            await self.repository.pulled(station_id, profile_id, self.clock.now())
        else:  # nothing set by the operator: the profile's own values
            period = stored.profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]
            update = {k: v for k, v in period.items() if k in UPDATE_NAMES}
        await self._took(station_id, stored, update)
        self.events.publish(StationEvent("dynamic_schedule.pulled", station_id, {"profileId": profile_id}))
        return PullAnswer("Accepted", None, update)

    async def values(self, station_id: str, profile_id: int | None = None) -> list[DynamicValues]:
        return await self.repository.values(station_id, profile_id)

    async def set_values(
        self,
        station_id: str,
        profile_id: int,
        update: v21.datatypes.ChargingScheduleUpdateType,
        *,
        send: bool,
    ) -> UpdateOutcome:
        """The operator's values for a Dynamic profile: stored for the next pull (K28.FR.07) and, with
        ``send``, pushed with UpdateDynamicSchedule (K28 scenario 1)."""
        station_id, _ = await self.commands.station(station_id)
        stored = await self._dynamic(station_id, profile_id)
        if stored is None:
            raise NoDynamicProfile(
                f"station {station_id} holds no Dynamic profile {profile_id} as far as the CSMS knows"
            )
        check_values(stored, update)
        wire_update = _wire_update(update)
        await self.repository.set_values(station_id, profile_id, wire_update, self.clock.now())
        status: str | None = None
        reason: str | None = None
        if send:
            if self.commands.version_of(station_id) is None:
                raise StationOffline(station_id)
            request = v21.messages.UpdateDynamicScheduleRequest(
                charging_profile_id=profile_id, schedule_update=update
            )
            response = await self.commands.send(station_id, request)
            assert isinstance(response, v21.messages.UpdateDynamicScheduleResponse)
            status = str(response.status)
            info = response.status_info
            reason = None if isinstance(info, msgspec.UnsetType) else info.reason_code
            if status == "Accepted":
                await self._took(station_id, stored, wire_update)
        [values] = await self.repository.values(station_id, profile_id)
        return UpdateOutcome(values, status, reason)

    # -- K21 / K22 ------------------------------------------------------------------------------------------

    async def use_priority(
        self, station_id: str, transaction_id: str, activate: bool
    ) -> tuple[str, str | None]:
        """K21: UsePriorityCharging; the station's status and reasonCode."""
        station_id, version = await self.commands.station(station_id)
        if version is None:
            raise StationOffline(station_id)
        if version is not Version.V21:
            raise NotSupported("NotSupportedByVersion", "priority charging is OCPP 2.1 (K21)")
        request = v21.messages.UsePriorityChargingRequest(transaction_id=transaction_id, activate=activate)
        response = await self.commands.send(station_id, request)
        assert isinstance(response, v21.messages.UsePriorityChargingResponse)
        info = response.status_info
        return str(response.status), None if isinstance(info, msgspec.UnsetType) else info.reason_code

    async def priority_notified(self, station_id: str, transaction_id: str, activated: bool) -> None:
        """K21.FR.05/08, K22.FR.03/05: stored before it is answered (K21.FR.09, K22.FR.06)."""
        await self.repository.add_priority(station_id, transaction_id, activated, self.clock.now())
        self.events.publish(
            StationEvent(
                "priority_charging.notified",
                station_id,
                {"transactionId": transaction_id, "activated": activated},
            )
        )

    async def priority(self, station_id: str, transaction_id: str) -> PriorityView | None:
        notices = await self.repository.priority(station_id, transaction_id)
        return PriorityView(notices[-1].activated, notices) if notices else None
