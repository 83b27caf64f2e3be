"""HTTP routes of smart charging: the profile store of a station, set / clear / report (K01, K09, K10; 1.6
SetChargingProfile, ClearChargingProfile), composite schedules side by side (K08), notified limits and EV
needs (K11-K17). A profile the station would reject is answered 422 with the reasonCode, never sent; calls
to the station answer with the status codes of every station call (:mod:`chargeplane.csms.api.errors`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, QueryParameter

from chargeplane.csms.api.pages import Limit, Offset, Page
from chargeplane.csms.api.routes import get_or_404, paged, station_call
from chargeplane.csms.blocks.provisioning.api import KnownStation
from chargeplane.csms.blocks.smart_charging.repository import LimitEvent, ReportRecord, StoredProfile
from chargeplane.csms.blocks.smart_charging.service import Criteria, EvCharging, SmartChargingService
from chargeplane.smart_charging.model import Composite, RateUnit

PURPOSE = (
    r"\A(ChargingStationMaxProfile|TxDefaultProfile|TxProfile|ChargingStationExternalConstraints"
    r"|PriorityCharging|LocalGeneration)\Z"
)
UNIT = r"\A(A|W)\Z"
SOURCE = r"\A(EMS|Other|SO|CSO)\Z"
MESSAGE = r"\A(NotifyChargingLimit|ClearedChargingLimit|NotifyEVChargingNeeds|NotifyEVChargingSchedule)\Z"
Evse = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]


class SetProfileIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """The profile in the wire form of the station's version (1.6 csChargingProfiles, 2.x chargingProfile),
    set on ``evseId`` (1.6: the connectorId; 0: the station)."""

    evse_id: Evse
    charging_profile: dict[str, Any]


class ProfileOut(msgspec.Struct, rename="camel"):
    id: int
    evse_id: int
    purpose: str
    stack_level: int
    transaction_id: str | None
    valid_from: datetime | None
    valid_to: datetime | None
    version: str
    state: str  # installed | drift | reported
    drift: str | None
    source: str  # chargingLimitSource: CSO when set by this CSMS
    charging_profile: dict[str, Any]
    updated_at: datetime


class SetProfileOut(msgspec.Struct, rename="camel"):
    status: str  # the station's: Accepted | Rejected
    reason_code: str | None
    profile: ProfileOut | None


class CriteriaIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Which profiles (each left out: any); ClearChargingProfile with none of them clears every profile."""

    id: Annotated[int, msgspec.Meta(ge=0)] | None = None
    evse_id: Evse | None = None
    charging_profile_purpose: Annotated[str, msgspec.Meta(pattern=PURPOSE)] | None = None
    stack_level: Annotated[int, msgspec.Meta(ge=0)] | None = None


class ReportIn(CriteriaIn, forbid_unknown_fields=True):
    charging_limit_source: Annotated[str, msgspec.Meta(pattern=SOURCE)] | None = None
    wait: Annotated[float, msgspec.Meta(ge=0, le=60)] = 10.0  # seconds to wait for the last part


class ClearOut(msgspec.Struct, rename="camel"):
    status: str  # Accepted | Unknown
    removed: list[int]  # the profile ids that left the store


class ReportedOut(msgspec.Struct, rename="camel"):
    evse_id: int
    charging_limit_source: str
    charging_profile: dict[str, Any]


class ReportOut(msgspec.Struct, rename="camel"):
    request_id: int
    status: str  # requested | receiving | complete | empty | failed
    reconcile: bool
    parts: int
    profiles: list[ReportedOut]
    requested_at: datetime
    completed_at: datetime | None


class PeriodOut(msgspec.Struct, rename="camel"):
    start_period: int
    limit: float
    number_phases: int


class ScheduleOut(msgspec.Struct, rename="camel"):
    schedule_start: datetime
    duration: int
    charging_rate_unit: str
    charging_schedule_period: list[PeriodOut]


class CompositeOut(msgspec.Struct, rename="camel"):
    status: str  # the station's GetCompositeSchedule status
    station: ScheduleOut | None  # what the station answered
    csms: ScheduleOut  # what the CSMS computes from its store
    drift: bool


class LimitEventOut(msgspec.Struct, rename="camel"):
    id: int
    message: str
    evse_id: int | None
    source: str | None
    transaction_id: str | None
    answer: str | None  # what this CSMS answered (NotifyEVChargingNeeds / NotifyEVChargingSchedule)
    data: dict[str, Any]
    received_at: datetime


def profile_out(p: StoredProfile) -> ProfileOut:
    return ProfileOut(
        p.profile_id,
        p.evse_id,
        p.purpose,
        p.stack_level,
        p.transaction_id,
        p.valid_from,
        p.valid_to,
        p.version,
        p.state,
        p.drift,
        p.source,
        p.profile,
        p.updated_at,
    )


def _report_out(r: ReportRecord) -> ReportOut:
    return ReportOut(
        r.request_id,
        r.status,
        r.reconcile,
        r.parts,
        [ReportedOut(p.evse_id, p.source, p.profile) for p in r.profiles],
        r.requested_at,
        r.completed_at,
    )


def _schedule_out(c: Composite) -> ScheduleOut:
    periods = [PeriodOut(i.start, round(i.limit, 1), i.number_phases) for i in c.intervals]
    return ScheduleOut(c.start, c.duration, c.unit.value, periods)


def _limit_out(e: LimitEvent) -> LimitEventOut:
    return LimitEventOut(
        e.id, e.message, e.evse_id, e.source, e.transaction_id, e.answer, e.data, e.received_at
    )


class EvChargingOut(msgspec.Struct, rename="camel"):
    transaction_id: str
    departure_time: str | None  # the EV's latest needs: when it leaves
    energy_amount: float | None  # and the energy it wants (Wh; ISO 15118-20: its evTargetEnergyRequest)
    needs: LimitEventOut | None
    schedule: LimitEventOut | None  # the EV's latest schedule, with the CSMS's verdict (K15.FR.11/12)
    needs_count: int
    schedule_count: int


ENERGY_FIELDS = (
    ("acChargingParameters", "energyAmount"),
    ("dcChargingParameters", "energyAmount"),
    ("v2xChargingParameters", "evTargetEnergyRequest"),
)


def _ev_charging_out(transaction_id: str, found: EvCharging) -> EvChargingOut:
    departure: str | None = None
    energy: float | None = None
    if found.needs is not None:
        needs = found.needs.data.get("chargingNeeds", {})
        value = needs.get("departureTime")
        departure = value if isinstance(value, str) else None
        # K15 (AC / DC energyAmount) or K18-K20 (ISO 15118-20: V2X evTargetEnergyRequest)
        for kind, field in ENERGY_FIELDS:
            amount = needs.get(kind, {}).get(field)
            if isinstance(amount, int | float):
                energy = float(amount)
    return EvChargingOut(
        transaction_id,
        departure,
        energy,
        None if found.needs is None else _limit_out(found.needs),
        None if found.schedule is None else _limit_out(found.schedule),
        found.needs_count,
        found.schedule_count,
    )


def _criteria(data: CriteriaIn) -> Criteria:
    return Criteria(data.id, data.evse_id, data.charging_profile_purpose, data.stack_level)


def routes(service: SmartChargingService) -> list[Any]:
    @get_or_404(
        "/stations/{station_id:str}/charging-profiles",
        summary="The charging profiles a station holds, as the CSMS knows them",
    )
    async def list_profiles(known_station: KnownStation) -> list[ProfileOut]:
        """Set by this CSMS and accepted (``installed``), found different or missing on the station at the last
        reconciliation (``drift``), or only reported by the station (``reported``)."""
        return [profile_out(p) for p in await service.profiles(known_station.station_id)]

    @station_call(
        "/stations/{station_id:str}/charging-profiles",
        summary="Set a charging profile (K01 SetChargingProfile; 1.6 with connectorId)",
    )
    async def set_profile(known_station: KnownStation, data: JSONBody[SetProfileIn]) -> SetProfileOut:
        """Checked first with the rules the station applies (K01.FR.*) against the store and the running
        transactions: a profile the station would reject is answered 422 with its reasonCode, not sent."""
        outcome = await service.set_profile(known_station.station_id, data.evse_id, data.charging_profile)
        return SetProfileOut(
            outcome.status, outcome.reason, None if outcome.profile is None else profile_out(outcome.profile)
        )

    @station_call(
        "/stations/{station_id:str}/charging-profiles/clear",
        summary="Clear charging profiles by id or criteria (K10 ClearChargingProfile)",
    )
    async def clear_profiles(known_station: KnownStation, data: JSONBody[CriteriaIn]) -> ClearOut:
        """When the station accepts, the stored profiles that match leave the store."""
        outcome = await service.clear_profiles(known_station.station_id, _criteria(data))
        return ClearOut(outcome.status, list(outcome.removed))

    @station_call(
        "/stations/{station_id:str}/charging-profiles/report",
        summary="Ask a 2.x station for its charging profiles (K09 GetChargingProfiles)",
    )
    async def request_report(known_station: KnownStation, data: JSONBody[ReportIn]) -> ReportOut:
        """Waits up to ``wait`` seconds for the last ReportChargingProfiles; the report is read later by its
        requestId. 1.6 has no GetChargingProfiles (422)."""
        criteria = dataclasses.replace(_criteria(data), source=data.charging_limit_source)
        record = await service.request_report(known_station.station_id, criteria, wait=data.wait)
        return _report_out(record)

    @get_or_404(
        "/stations/{station_id:str}/charging-profiles/reports/{request_id:int}",
        summary="A charging profile report, its parts assembled",
    )
    async def get_report(known_station: KnownStation, request_id: FromPath[int]) -> ReportOut:
        """The GetChargingProfiles of ``requestId`` with every ReportChargingProfiles part received so far."""
        record = await service.report(known_station.station_id, request_id)
        if record is None:
            raise NotFoundException(f"no report {request_id}")
        return _report_out(record)

    @station_call(
        "/stations/{station_id:str}/composite-schedule",
        summary="The station's composite schedule next to the CSMS's (K08 GetCompositeSchedule)",
        method="GET",
    )
    async def composite(
        known_station: KnownStation,
        evse_id: Annotated[int, QueryParameter(name="evseId", ge=0, le=2**31 - 1)] = 0,
        duration: Annotated[int, QueryParameter(ge=1, le=7 * 86400)] = 3600,
        unit: Annotated[str, QueryParameter(pattern=UNIT)] = "A",
    ) -> CompositeOut:
        """``drift``: the station's answer differs from what the CSMS computes from its store."""
        view = await service.composite(known_station.station_id, evse_id, duration, RateUnit(unit))
        return CompositeOut(
            view.status,
            None if view.station is None else _schedule_out(view.station),
            _schedule_out(view.csms),
            view.drift,
        )

    @get_or_404(
        "/stations/{station_id:str}/charging-limits",
        summary="External limits and EV charging needs / schedules a station notified (K11-K17), newest first",
    )
    async def limits(
        known_station: KnownStation,
        offset: Offset = 0,
        limit: Limit = 100,
        message: Annotated[str | None, QueryParameter(pattern=MESSAGE)] = None,
    ) -> Page[LimitEventOut]:
        """Each notification as the station sent it, with the EVSE's transaction and what the CSMS answered."""
        found = await service.limit_events(known_station.station_id, offset, limit, message)
        return paged(_limit_out, found, offset, limit)

    @get_or_404(
        "/stations/{station_id:str}/ev-charging/{transaction_id:str}",
        summary="An ISO 15118 EV's charging needs and chosen schedule in a transaction (K15-K17)",
    )
    async def ev_charging(known_station: KnownStation, transaction_id: FromPath[str]) -> EvChargingOut:
        """The latest NotifyEVChargingNeeds (with its departure time and energy) and NotifyEVChargingSchedule
        of the transaction, with the CSMS's answers; 404 when the EV stated no needs in it."""
        found = await service.ev_charging(known_station.station_id, transaction_id)
        if found.needs is None and found.schedule is None:
            raise NotFoundException(f"no EV charging needs in transaction {transaction_id}")
        return _ev_charging_out(transaction_id, found)

    return [
        list_profiles,
        set_profile,
        clear_profiles,
        request_report,
        get_report,
        composite,
        limits,
        ev_charging,
    ]
