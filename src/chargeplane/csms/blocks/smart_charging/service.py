"""Smart charging on the CSMS side (2.0.1 / 2.1 block K; 1.6 Smart Charging profile).

The store
    The CSMS keeps the charging profiles each station holds as far as it knows (``charging_profiles``): a
    profile is stored when the station accepted its SetChargingProfile, and leaves the store when a
    ClearChargingProfile the station accepted matches it. Before a profile is sent it is checked with the
    rules the station applies (:mod:`chargeplane.smart_charging.validation`, K01.FR.*) against the store and
    the transactions the CSMS knows running: a profile the station would reject is refused (HTTP 422 with
    the reason) and never sent.

Reports and reconciliation (K09; 2.x only: 1.6 has no GetChargingProfiles, its store is what was set)
    GetChargingProfiles is answered by ReportChargingProfiles parts, assembled per requestId. After a 2.x
    boot answered Accepted (a reconnect), the CSMS asks for every profile and compares the complete report
    with the store: a stored profile the station no longer holds, or holds differently, is marked ``drift``
    (and re-sent when ``resend_on_drift``); a profile only the station has is stored as ``reported``. A
    Dynamic profile's values change at the station (K28, K29): they are no drift (:func:`held_alike`).

Composite schedules (K08)
    GetCompositeSchedule from the station next to the composite the CSMS computes from its store with the
    same engine (:mod:`chargeplane.smart_charging.composite`), so that drift shows.

External limits and EV needs (K11-K17)
    NotifyChargingLimit / ClearedChargingLimit are recorded. NotifyEVChargingNeeds is Accepted when the
    EVSE has a transaction the CSMS knows (K15.FR.03): the CSMS then sends, in the background, a TxProfile
    for it built from its composite for the EVSE (K15.FR.07, K15.FR.08); Processing when a handler (the
    sites block, for an EVSE of a site) takes the needs over and sends it (K15.FR.05); else Rejected
    (K15.FR.04). NotifyEVChargingSchedule is Accepted when the EV's schedule stays within the CSMS's
    composite (K15.FR.11), else Rejected (K15.FR.12) and a new TxProfile follows (K15.FR.13, K16). Both are
    stored with the EVSE's transaction: ``/stations/{id}/ev-charging/{transactionId}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec

from chargeplane.csms.blocks.availability.service import AvailabilityService
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.blocks.smart_charging import resume
from chargeplane.csms.blocks.smart_charging.repository import (
    COMPLETE,
    DRIFT,
    EMPTY,
    FAILED,
    INSTALLED,
    REPORTED,
    LimitEvent,
    ReportedProfile,
    ReportRecord,
    SmartChargingRepository,
    station_key,
)
from chargeplane.csms.blocks.smart_charging.repository import StoredProfile as StoredProfile  # for keepers
from chargeplane.csms.blocks.smart_charging.settings import SmartChargingSettings
from chargeplane.csms.blocks.transactions.fold import EventFacts
from chargeplane.csms.blocks.transactions.queries import TransactionFilter, TransactionQueries
from chargeplane.csms.blocks.transactions.service import EventOutcome, ResponseExtras
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import UnknownStation, Unsendable
from chargeplane.csms.queues import with_queued
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.messages.base import dec_hook
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging import rules21, wire
from chargeplane.smart_charging.composite import Fallback, composite_schedule, within
from chargeplane.smart_charging.model import Composite, Interval, Kind, Profile, Purpose, RateUnit
from chargeplane.smart_charging.validation import Capabilities, check_set, replaced

log = logging.getLogger(__name__)

CSO = "CSO"  # chargingLimitSource of the profiles this CSMS sets
ALL_SOURCES = ("EMS", "Other", "SO", CSO)
_TOLERANCE = 0.1  # wire limits carry one decimal
_RECONCILE_BATCH = 500  # queued stations looked up together
OFFER_WAIT_S = 10.0  # how long an EV schedule waits for the TxProfile it answers to be stored


class ProfileRefused(Unsendable):
    """The profile breaks a rule the station applies (K01.FR.*): not sent. ``code`` is the reasonCode."""


class NotSupported(InvalidCommand):
    """What the station's OCPP version does not have (1.6: GetChargingProfiles, K11-K17)."""


@dataclass(frozen=True, slots=True)
class Running:
    transaction_id: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class SetOutcome:
    status: str  # the station's: Accepted | Rejected
    reason: str | None  # statusInfo.reasonCode
    profile: StoredProfile | None  # as stored when Accepted


@dataclass(frozen=True, slots=True)
class ClearOutcome:
    status: str  # Accepted | Unknown
    removed: tuple[int, ...]  # the profile ids that left the store


@dataclass(frozen=True, slots=True)
class Criteria:
    """Which profiles: by id, or by EVSE / purpose / stack level (each None: any)."""

    profile_id: int | None = None
    evse_id: int | None = None
    purpose: str | None = None  # 2.x names (ChargingStationMaxProfile, ...)
    stack_level: int | None = None
    source: str | None = None  # chargingLimitSource (GetChargingProfiles only)


@dataclass(frozen=True, slots=True)
class CompositeView:
    status: str  # the station's GetCompositeSchedule status
    station: Composite | None  # the station's answer
    csms: Composite  # computed from the store
    drift: bool  # the two differ (only when the station answered with one)


class _Status(msgspec.Struct, rename="camel"):
    status: str
    status_info: dict[str, Any] | None = None

    @property
    def reason(self) -> str | None:
        return None if self.status_info is None else str(self.status_info.get("reasonCode"))


class _Period(msgspec.Struct, rename="camel"):
    start_period: int
    limit: float | None = None
    number_phases: int | None = None


class _Schedule(msgspec.Struct, rename="camel"):
    charging_rate_unit: str
    charging_schedule_period: list[_Period]
    duration: int | None = None
    start_schedule: str | None = None
    schedule_start: str | None = None


class _Composite16(msgspec.Struct, rename="camel"):
    status: str
    schedule_start: str | None = None
    charging_schedule: _Schedule | None = None


class _Composite2x(msgspec.Struct, rename="camel"):
    status: str
    schedule: _Schedule | None = None


def _typed(version: Version, profile: dict[str, Any]) -> v16.datatypes.ChargingProfile | wire.Profile2x:
    kind: type[v16.datatypes.ChargingProfile] | type[wire.Profile2x]
    if version is Version.V16:
        kind = v16.datatypes.ChargingProfile
    elif version is Version.V201:
        kind = v201.datatypes.ChargingProfileType
    else:
        kind = v21.datatypes.ChargingProfileType
    try:
        return msgspec.convert(profile, kind, dec_hook=dec_hook)
    except msgspec.ValidationError as error:
        raise InvalidCommand("FormationViolation", f"chargingProfile: {error}") from None


def to_model(version: Version, evse_id: int, profile: dict[str, Any]) -> Profile:
    """The wire profile of ``version`` set on ``evse_id`` as the engine sees it; refused when it cannot be."""
    typed = _typed(version, profile)
    try:
        if isinstance(typed, v16.datatypes.ChargingProfile):
            return wire.from_16(typed, evse_id)
        if isinstance(typed, v21.datatypes.ChargingProfileType):  # 2.1: K01.FR.122, K28.FR.01, K01.FR.71
            refusal = rules21.check_21(typed, rules21.Capabilities21(True, rules21.ADDITIONAL_PURPOSES))
            if refusal is not None:
                raise ProfileRefused(refusal.reason or "InvalidProfile", refusal.detail or "")
        if wire.schedule_count(typed) > 1:  # K01.FR.34: only with ISO 15118 schedule selection
            raise ProfileRefused("TooManySchedules", "more than one chargingSchedule (K01.FR.34)")
        return wire.from_2x(typed, evse_id)
    except wire.Unconvertible as error:
        raise ProfileRefused(error.reason, error.detail) from None


def _stored_model(stored: StoredProfile) -> Profile | None:
    try:
        return to_model(Version(stored.version), stored.evse_id, stored.profile)
    except (Unsendable, ValueError):
        return None  # a profile the engine cannot hold (2.1 V2X) takes no part in the rules


def held_alike(on_station: Profile | None, stored: Profile | None) -> bool:
    """K09 reconciliation: the station holds the stored profile as it was set. A Dynamic profile's values
    (the one period's limit, and the schedule's start that counts from its last update) change at the
    station by design -- K28 pushes and pulls, K29 an external system's values in an ExternalLimits period --
    and are no drift."""
    if on_station is None or stored is None:
        return False
    if on_station.kind is Kind.DYNAMIC and stored.kind is Kind.DYNAMIC:
        return _values_aside(on_station) == _values_aside(stored)
    return on_station == stored


def _values_aside(profile: Profile) -> Profile:
    schedule = profile.schedule
    periods = tuple(replace(p, limit=0.0) for p in schedule.periods)
    return replace(profile, schedule=replace(schedule, periods=periods, start=None))


def _differs(a: Composite, b: Composite) -> bool:
    points = sorted({i.start for i in (*a.intervals, *b.intervals)})
    return any(abs(a.limit_at(t).limit - b.limit_at(t).limit) > _TOLERANCE for t in points)


@dataclass(frozen=True, slots=True)
class EvRequest:
    """The charging needs an EV stated through its station (NotifyEVChargingNeeds, K15 / K17)."""

    station_id: str
    version: Version
    evse_id: int
    transaction_id: str
    max_tuples: int | None
    needs: dict[str, Any]  # chargingNeeds as sent (camelCase)

    @property
    def dc(self) -> bool:
        if "v2xChargingParameters" in self.needs:  # ISO 15118-20 (2.1 K18/K19): the transfer mode says
            return str(self.needs.get("requestedEnergyTransfer", "")).startswith("DC")
        return "dcChargingParameters" in self.needs

    @property
    def control_mode(self) -> str | None:
        """2.1 K18/K19: ScheduledControl or DynamicControl for an ISO 15118-20 EV; None for ISO 15118-2."""
        value = self.needs.get("controlMode")
        return value if isinstance(value, str) else None

    @property
    def departure(self) -> datetime | None:
        value = self.needs.get("departureTime")
        return from_wire(value) if isinstance(value, str) else None

    def _parameters(self) -> dict[str, Any]:
        v2x = self.needs.get("v2xChargingParameters")
        if isinstance(v2x, dict):  # K18.FR.06 / K19.FR.06: the -20 names, read as the -2 ones
            return {"evMaxCurrent": v2x.get("maxChargeCurrent"), "evMinCurrent": v2x.get("minChargeCurrent")}
        found = self.needs.get("dcChargingParameters" if self.dc else "acChargingParameters")
        return found if isinstance(found, dict) else {}

    @property
    def max_current(self) -> float | None:
        value = self._parameters().get("evMaxCurrent")
        return float(value) if isinstance(value, int | float) else None

    @property
    def min_current(self) -> float:
        value = self._parameters().get("evMinCurrent")
        return float(value) if isinstance(value, int | float) else 0.0


EvNeedsHandler = Callable[[EvRequest], Awaitable[bool]]
# True: the transaction keeps the schedule it holds, the CSMS offers no TxProfile for the EV's needs (the v2x
# block: an operator's V2X TxProfile is in force, Q03/Q04 with K17/K20); given the station's stored profiles.
ScheduleKeeper = Callable[[EvRequest, Sequence[StoredProfile]], bool]


@dataclass(frozen=True, slots=True)
class EvCharging:
    """K15-K17 per transaction: the EV's latest needs and schedule, and how many of each came."""

    needs: LimitEvent | None
    schedule: LimitEvent | None
    needs_count: int
    schedule_count: int


async def _never(station_id: str, transaction_id: str) -> bool:
    return False


class SmartChargingService:
    def __init__(
        self,
        repository: SmartChargingRepository,
        commands: CommandService,
        transactions: TransactionQueries,
        availability: AvailabilityService,
        settings: SmartChargingSettings,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.transactions = transactions
        self.availability = availability
        self.settings = settings
        self.events = events
        self.clock = clock
        self._reports: dict[tuple[str, int], asyncio.Event] = {}
        self._reconcile: asyncio.Queue[str] = asyncio.Queue()
        self._background: set[asyncio.Task[None]] = set()
        self._ev_needs: dict[tuple[str, int], EvRequest] = {}  # the needs last stated, per (station, EVSE)
        self._ev_needs_handlers: list[EvNeedsHandler] = []
        self._ev_needs_checks: list[EvNeedsHandler] = []  # False: the needs are refused (2.1 Q01.FR.04)
        self._schedule_keepers: list[ScheduleKeeper] = []
        self._offers: dict[tuple[str, int], asyncio.Task[None]] = {}  # the TxProfile being sent per EVSE
        # E17.FR.15: whether a station keeps its TxProfiles over a reboot (the block sets it)
        self.tx_profiles_persist: resume.Persistence | None = None
        # whether (station, transaction) charges with priority (2.1 K21/K22; set by the dynamic part)
        self.priority_tx: Callable[[str, str], Awaitable[bool]] = _never

    # -- helpers --------------------------------------------------------------------------------------------

    async def _online(self, station_id: str) -> tuple[str, Version]:
        record = await self.commands.stations.get_station(station_id)
        if record is None:
            raise UnknownStation(station_id)
        version = self.commands.version_of(record.station_id)
        if version is None:
            raise StationOffline(record.station_id)
        return record.station_id, version

    async def _running(self, station_id: str, version: Version) -> dict[int, Running]:
        """The transactions the CSMS knows running, per EVSE (1.6: per connector)."""
        records, _ = await self.transactions.find(
            TransactionFilter(station_id=station_id, status="active"), 0, 100
        )
        running: dict[int, Running] = {}
        for record in records:
            evse = record.connector_id if version is Version.V16 else record.evse_id
            if evse is not None and record.transaction_id is not None:
                running[evse] = Running(record.transaction_id, record.started_at)
        return running

    async def _capabilities(self, station_id: str, version: Version, evse_id: int) -> Capabilities:
        """What the CSMS assumes of the station: the EVSEs (1.6: connectors) it reported, or, when it reported
        none yet, the one the profile names; the limits from the settings."""
        connectors = await self.availability.connectors(station_id)
        known = {c.connector_id if version is Version.V16 else c.evse_id for c in connectors}
        known.discard(0)
        return Capabilities(
            evse_ids=frozenset(known or {evse_id}),
            rate_units=frozenset(RateUnit),
            max_stack_level=self.settings.max_stack_level,
            max_periods=self.settings.max_periods,
            phase_switching=True,  # the CSMS cannot know: the station decides (K01.FR.48)
        )

    def _fallback(self) -> Fallback:
        return Fallback(self.settings.evse_max_current, RateUnit.AMPERE)

    def _publish(self, kind: str, station_id: str, data: dict[str, object]) -> None:
        self.events.publish(StationEvent(kind, station_id, data))

    def _spawn(self, work: Any) -> asyncio.Task[None]:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    @staticmethod
    async def _new_id(used: set[int]) -> int:
        while True:
            candidate = random.randrange(1, 2**31)  # an id, not a secret
            if candidate not in used:
                return candidate

    # -- the store ------------------------------------------------------------------------------------------

    async def profiles(self, station_id: str) -> list[StoredProfile]:
        return await self.repository.profiles(station_id)

    # -- K01 SetChargingProfile -----------------------------------------------------------------------------

    async def set_profile(self, station_id: str, evse_id: int, profile: dict[str, Any]) -> SetOutcome:
        """Check the profile (K01.FR.*) against the store and the running transactions, then send it; stored
        once the station accepted it, in place of those it replaces (K01.FR.05; 1.6 §3.13.1)."""
        station_id, version = await self._online(station_id)
        legacy = version is Version.V16
        model = to_model(version, evse_id, profile)
        stored = await self.repository.profiles(station_id)
        installed = [m for m in map(_stored_model, stored) if m is not None]
        running = await self._running(station_id, version)
        verdict = check_set(
            model,
            installed=installed,
            running={evse: str(r.transaction_id) for evse, r in running.items()},
            caps=await self._capabilities(station_id, version, evse_id),
            legacy=legacy,
        )
        if not verdict.accepted:
            assert verdict.reason is not None
            raise ProfileRefused(verdict.reason, verdict.detail or verdict.reason)
        payload = (
            {"connectorId": evse_id, "csChargingProfiles": profile}
            if legacy
            else {"evseId": evse_id, "chargingProfile": profile}
        )
        sent = await self.commands.send_action(station_id, "SetChargingProfile", msgspec.json.encode(payload))
        answer = msgspec.convert(msgspec.to_builtins(sent.response), _Status)
        data: dict[str, object] = {"profileId": model.id, "evseId": evse_id, "status": answer.status}
        if answer.status != "Accepted":
            self._publish("charging_profile.rejected", station_id, data | {"reason": answer.reason})
            return SetOutcome(answer.status, answer.reason, None)
        record = StoredProfile(
            model.id,
            evse_id,
            model.purpose.value,
            model.stack_level,
            model.transaction_id,
            model.valid_from,
            model.valid_to,
            version.value,
            profile,
            INSTALLED,
            None,
            CSO,
            self.clock.now(),
        )
        gone = [p.id for p in replaced(model, installed, legacy=legacy)]
        await self.repository.install(station_id, record, gone)
        self._publish("charging_profile.installed", station_id, data | {"replaced": gone})
        return SetOutcome(answer.status, answer.reason, record)

    # -- K10 ClearChargingProfile ---------------------------------------------------------------------------

    async def clear_profiles(self, station_id: str, criteria: Criteria) -> ClearOutcome:
        """ClearChargingProfile by id or criteria; when Accepted, the stored profiles that match leave the store
        (never the external constraints: the CSMS does not clear those, K10.FR.08)."""
        station_id, version = await self._online(station_id)
        payload: dict[str, object] = {}
        purpose = None if criteria.purpose is None else Purpose(criteria.purpose)
        if version is Version.V16:
            if purpose is Purpose.EXTERNAL_CONSTRAINTS:
                raise NotSupported("NotSupportedByVersion", "1.6 has no ChargingStationExternalConstraints")
            for name, value in (
                ("id", criteria.profile_id),
                ("connectorId", criteria.evse_id),
                ("chargingProfilePurpose", None if purpose is None else wire.PURPOSE_TO_16[purpose]),
                ("stackLevel", criteria.stack_level),
            ):
                if value is not None:
                    payload[name] = value
        else:
            if criteria.profile_id is not None:
                payload["chargingProfileId"] = criteria.profile_id
            selection = {
                name: value
                for name, value in (
                    ("evseId", criteria.evse_id),
                    ("chargingProfilePurpose", criteria.purpose),
                    ("stackLevel", criteria.stack_level),
                )
                if value is not None
            }
            if selection:
                payload["chargingProfileCriteria"] = selection
        sent = await self.commands.send_action(
            station_id, "ClearChargingProfile", msgspec.json.encode(payload)
        )
        answer = msgspec.convert(msgspec.to_builtins(sent.response), _Status)
        removed: list[int] = []
        if answer.status == "Accepted":
            for stored in await self.repository.profiles(station_id):
                if self._matches(stored, criteria):
                    removed.append(stored.profile_id)
            if removed:
                await self.repository.remove(station_id, removed)
        self._publish(
            "charging_profile.cleared", station_id, {"status": answer.status, "profileIds": removed}
        )
        return ClearOutcome(answer.status, tuple(removed))

    @staticmethod
    def _matches(stored: StoredProfile, criteria: Criteria) -> bool:
        if stored.purpose == Purpose.EXTERNAL_CONSTRAINTS.value:
            return False
        if criteria.profile_id is not None and stored.profile_id != criteria.profile_id:
            return False
        return all(
            wanted is None or wanted == value
            for wanted, value in (
                (criteria.evse_id, stored.evse_id),
                (criteria.purpose, stored.purpose),
                (criteria.stack_level, stored.stack_level),
            )
        )

    # -- K09 GetChargingProfiles / ReportChargingProfiles ---------------------------------------------------

    async def request_report(
        self, station_id: str, criteria: Criteria, *, reconcile: bool = False, wait: float = 0.0
    ) -> ReportRecord:
        """Send GetChargingProfiles with a new requestId; with ``wait``, wait that long for the last part."""
        station_id, version = await self._online(station_id)
        if version is Version.V16:
            raise NotSupported(
                "NotSupportedByVersion", f"{station_id} speaks OCPP 1.6: no GetChargingProfiles"
            )
        request_id = await self._new_id(await self.repository.used_request_ids(station_id))
        selection: dict[str, object] = {}
        if criteria.purpose is not None:
            selection["chargingProfilePurpose"] = criteria.purpose
        if criteria.stack_level is not None:
            selection["stackLevel"] = criteria.stack_level
        if criteria.profile_id is not None:
            selection["chargingProfileId"] = [criteria.profile_id]
        if criteria.source is not None:
            selection["chargingLimitSource"] = [criteria.source]
        if not selection:  # K09.FR.03 wants a criterion: every source is every profile
            selection["chargingLimitSource"] = list(ALL_SOURCES)
        payload: dict[str, object] = {"requestId": request_id, "chargingProfile": selection}
        if criteria.evse_id is not None:
            payload["evseId"] = criteria.evse_id
        key = (station_id.casefold(), request_id)
        done = self._reports[key] = asyncio.Event()
        await self.repository.add_report(station_id, request_id, reconcile, self.clock.now())
        try:
            try:
                sent = await self.commands.send_action(
                    station_id, "GetChargingProfiles", msgspec.json.encode(payload)
                )
            except Exception:
                await self.repository.report_answered(station_id, request_id, FAILED, self.clock.now())
                raise
            status = msgspec.convert(msgspec.to_builtins(sent.response), _Status).status
            if status != "Accepted":  # NoProfiles: no report follows
                await self.repository.report_answered(station_id, request_id, EMPTY, self.clock.now())
                if reconcile:
                    await self._reconcile_with(station_id, [])
            elif wait > 0:
                try:
                    async with asyncio.timeout(wait):
                        await done.wait()
                except TimeoutError:
                    pass
        finally:
            self._reports.pop(key, None)
        record = await self.repository.report(station_id, request_id)
        assert record is not None
        return record

    async def report_part(
        self,
        station_id: str,
        version: Version,
        request_id: int,
        source: str,
        evse_id: int,
        profiles: Sequence[dict[str, Any]],
        tbc: bool,
    ) -> None:
        """One ReportChargingProfiles, stored before it is answered; the last part completes the report
        and, for a reconciliation, is compared with the store."""
        parts = [ReportedProfile(evse_id, source, p) for p in profiles]
        record = await self.repository.report_part(station_id, request_id, parts, tbc, self.clock.now())
        if record.status != COMPLETE:
            return
        self._publish(
            "charging_profile.reported",
            station_id,
            {"requestId": request_id, "profiles": len(record.profiles)},
        )
        if record.reconcile:
            await self._reconcile_with(station_id, record.profiles, version)
        done = self._reports.get((station_id.casefold(), request_id))
        if done is not None:
            done.set()

    async def report(self, station_id: str, request_id: int) -> ReportRecord | None:
        return await self.repository.report(station_id, request_id)

    # -- reconciliation after a reconnect -------------------------------------------------------------------

    def schedule_reconcile(self, station_id: str) -> None:
        """The accepted-boot listener: reconcile in the background (2.x stations only)."""
        if self.settings.reconcile_on_boot and self.commands.version_of(station_id) not in (
            None,
            Version.V16,
        ):
            self._reconcile.put_nowait(station_id)

    async def reconcile_job(self) -> None:
        """Nothing stored, nothing to compare: a station the CSMS never gave a profile is not asked. The
        stations queued meanwhile (a storm's accepted boots) are looked up together (issue #19)."""
        queue = self._reconcile
        while True:
            batch = with_queued(await queue.get(), queue, _RECONCILE_BATCH)
            try:
                holding = await self.repository.stations_with_profiles(batch)
            except Exception:
                log.exception("reading which of %d stations hold charging profiles failed", len(batch))
                holding = set()
            for station_id in batch:
                try:
                    if station_key(station_id) in holding:
                        await self.request_report(station_id, Criteria(), reconcile=True)
                except Exception:
                    log.exception("%s: reconciling the charging profiles failed", station_id)
                finally:
                    queue.task_done()

    async def settle(self) -> None:
        """Wait until the queued reconciliations were sent (tests)."""
        await self._reconcile.join()

    async def _reconcile_with(
        self, station_id: str, reported: Sequence[ReportedProfile], version: Version | None = None
    ) -> None:
        version = version or self.commands.version_of(station_id) or Version.V201
        on_station: dict[int, tuple[ReportedProfile, Profile | None]] = {}
        for item in reported:
            try:
                model: Profile | None = to_model(version, item.evse_id, item.profile)
            except (Unsendable, ValueError):
                model = None
            on_station[int(item.profile["id"])] = (item, model)
        stored = await self.repository.profiles(station_id)
        states: dict[int, tuple[str, str | None]] = {}
        missing: list[StoredProfile] = []
        gone_reported: list[int] = []
        for profile in stored:
            found = on_station.get(profile.profile_id)
            if profile.state == REPORTED:
                if found is None:
                    gone_reported.append(profile.profile_id)
                continue
            if found is None:
                states[profile.profile_id] = (DRIFT, "not on the station")
                missing.append(profile)
            elif not held_alike(found[1], _stored_model(profile)):
                states[profile.profile_id] = (DRIFT, "the station holds it differently")
            else:
                states[profile.profile_id] = (INSTALLED, None)
        known = {p.profile_id for p in stored if p.state != REPORTED}
        now = self.clock.now()
        extra = [
            StoredProfile(
                profile_id,
                item.evse_id,
                str(item.profile.get("chargingProfilePurpose")),
                int(item.profile.get("stackLevel", 0)),
                item.profile.get("transactionId"),
                None if model is None else model.valid_from,
                None if model is None else model.valid_to,
                version.value,
                item.profile,
                REPORTED,
                None,
                item.source,
                now,
            )
            for profile_id, (item, model) in on_station.items()
            if profile_id not in known
        ]
        await self.repository.reconciled(station_id, states, extra)
        if gone_reported:
            await self.repository.remove(station_id, gone_reported)
        drift = sorted(pid for pid, (state, _) in states.items() if state == DRIFT)
        self._publish(
            "charging_profile.reconciled",
            station_id,
            {"drift": drift, "reported": [p.profile_id for p in extra]},
        )
        if self.settings.resend_on_drift:
            for profile in missing:
                self._spawn(self._resend(station_id, profile))

    async def transaction_event(
        self, station_id: str, version: str, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras | None:
        """E17.FR.15: a transaction resumed after a reboot gets its TxProfiles again (in the background,
        after the answer), unless the station keeps them (ChargingProfilePersistence[TxProfile])."""
        if facts.trigger_reason != resume.TX_RESUMED:
            return None
        if self.tx_profiles_persist is not None and await self.tx_profiles_persist(station_id):
            return None
        for profile in resume.to_resend(await self.repository.profiles(station_id), facts.transaction_id):
            self._spawn(self._resend(station_id, profile))
        return None

    async def _resend(self, station_id: str, profile: StoredProfile) -> None:
        try:
            await self.set_profile(station_id, profile.evse_id, profile.profile)
        except Exception:
            log.exception("%s: re-sending charging profile %d failed", station_id, profile.profile_id)

    # -- K08 composite schedules ----------------------------------------------------------------------------

    async def own_composite(
        self,
        station_id: str,
        version: Version,
        evse_id: int,
        start: datetime,
        duration: int,
        unit: RateUnit,
        without: int | None = None,
    ) -> Composite:
        """The composite the CSMS expects on ``evse_id``, from its store (installed profiles only; ``without``:
        leaving out the profile of that id, one about to be replaced)."""
        stored = await self.repository.profiles(station_id)
        models = [
            m
            for p in stored
            if p.state != REPORTED and p.profile_id != without
            if (m := _stored_model(p)) is not None
        ]
        running = (await self._running(station_id, version)).get(evse_id)
        priority = running is not None and await self.priority_tx(station_id, running.transaction_id)
        return composite_schedule(
            models,
            start=start,
            duration=duration,
            evse_id=evse_id,
            unit=unit,
            fallback=self._fallback(),
            transaction_id=None if running is None else running.transaction_id,
            transaction_start=None if running is None else running.started_at,
            priority=priority,  # 2.1 K21/K22: the station said it charges the transaction with priority
        )

    async def composite(self, station_id: str, evse_id: int, duration: int, unit: RateUnit) -> CompositeView:
        station_id, version = await self._online(station_id)
        payload: dict[str, object] = {"duration": duration, "chargingRateUnit": unit.value}
        payload["connectorId" if version is Version.V16 else "evseId"] = evse_id
        sent = await self.commands.send_action(
            station_id, "GetCompositeSchedule", msgspec.json.encode(payload)
        )
        answer = msgspec.to_builtins(sent.response)
        status: str
        schedule: _Schedule | None
        start_text: str | None
        if version is Version.V16:
            a16 = msgspec.convert(answer, _Composite16)
            status, schedule = a16.status, a16.charging_schedule
            start_text = a16.schedule_start or (schedule.start_schedule if schedule else None)
        else:
            a2x = msgspec.convert(answer, _Composite2x)
            status, schedule = a2x.status, a2x.schedule
            start_text = None if schedule is None else schedule.schedule_start
        start = self.clock.now() if start_text is None else from_wire(start_text)
        theirs: Composite | None = None
        if schedule is not None:
            theirs = Composite(
                start,
                schedule.duration or duration,
                RateUnit(schedule.charging_rate_unit),
                tuple(
                    Interval(p.start_period, p.limit or 0.0, p.number_phases or 3)
                    for p in schedule.charging_schedule_period
                ),
            )
        ours = await self.own_composite(
            station_id, version, evse_id, start, duration, theirs.unit if theirs else unit
        )
        return CompositeView(status, theirs, ours, theirs is not None and _differs(theirs, ours))

    # -- K11-K14 external limits ----------------------------------------------------------------------------

    async def limit_event(
        self,
        station_id: str,
        version: Version,
        message: str,
        evse_id: int | None,
        source: str | None,
        data: bytes,
        answer: str | None = None,
    ) -> None:
        """A NotifyChargingLimit, ClearedChargingLimit, NotifyEVChargingNeeds or NotifyEVChargingSchedule:
        stored (with the EVSE's running transaction) before it is answered."""
        transaction = None
        if evse_id:
            running = (await self._running(station_id, version)).get(evse_id)
            transaction = None if running is None else running.transaction_id
        await self.repository.add_limit_event(
            station_id, message, evse_id, source, transaction, answer, data, self.clock.now()
        )
        kind = "charging_limit.cleared" if message == "ClearedChargingLimit" else "charging_limit.notified"
        self._publish(
            kind,
            station_id,
            {"message": message, "evseId": evse_id, "source": source, "transactionId": transaction},
        )

    async def limit_events(
        self,
        station_id: str,
        offset: int,
        limit: int,
        message: str | None = None,
        transaction_id: str | None = None,
    ) -> tuple[list[LimitEvent], int]:
        return await self.repository.limit_events(station_id, offset, limit, message, transaction_id)

    async def ev_charging(self, station_id: str, transaction_id: str) -> EvCharging:
        """What an EV of a transaction stated (its needs) and chose (its schedule), the latest of each."""

        async def latest(message: str) -> tuple[LimitEvent | None, int]:
            events, total = await self.repository.limit_events(station_id, 0, 1, message, transaction_id)
            return (events[0] if events else None), total

        needs, needs_count = await latest("NotifyEVChargingNeeds")
        schedule, schedule_count = await latest("NotifyEVChargingSchedule")
        return EvCharging(needs, schedule, needs_count, schedule_count)

    # -- K15-K17 EV charging needs and schedules ------------------------------------------------------------

    def add_ev_needs_check(self, check: EvNeedsHandler) -> None:
        """``check`` may refuse an EV's needs (the v2x block: a transfer not allowed, Q01.FR.04): Rejected."""
        self._ev_needs_checks.append(check)

    def add_ev_needs_handler(self, handler: EvNeedsHandler) -> None:
        """``handler`` may take over the EV needs of a transaction (the sites block, for an EVSE of a site): it
        returns True when it will send the TxProfile itself."""
        self._ev_needs_handlers.append(handler)

    def add_schedule_keeper(self, keeper: ScheduleKeeper) -> None:
        """``keeper`` may keep a transaction's schedule as it is: no TxProfile from the CSMS for its EV's needs
        (nor a renegotiation, K15.FR.13); an ISO 15118-20 EV is answered NoChargingProfile, not Accepted."""
        self._schedule_keepers.append(keeper)

    def _keeps_schedule(self, request: EvRequest, stored: Sequence[StoredProfile]) -> bool:
        return any(keeper(request, stored) for keeper in self._schedule_keepers)

    async def ev_charging_needs(
        self,
        station_id: str,
        version: Version,
        evse_id: int,
        max_tuples: int | None,
        needs: dict[str, Any],
        data: bytes,
    ) -> str:
        """K15.FR.02-05 / K17.FR.02-05: Rejected without a transaction the CSMS knows on the EVSE (no schedule
        to give, K15.FR.04); Processing when another block (a site's allocation) takes the needs over and
        sends the TxProfile when it decides (K15.FR.05); else Accepted, the TxProfile following at once in
        the background (K15.FR.07/08). Stored with the answer (and the departure time) before it is answered;
        the needs are kept for a renegotiation (K15.FR.13)."""
        running = (await self._running(station_id, version)).get(evse_id)
        # K18.FR.04 / K19.FR.04: an ISO 15118-20 EV gets NoChargingProfile (Rejected would refuse its energy
        # transfer and end the transaction, K19.FR.15/16)
        status = "NoChargingProfile" if isinstance(needs.get("controlMode"), str) else "Rejected"
        if running is not None:
            request = EvRequest(station_id, version, evse_id, running.transaction_id, max_tuples, needs)
            if all([await check(request) for check in self._ev_needs_checks]):
                self._ev_needs[(station_id.casefold(), evse_id)] = request
                if await self._delegated(request):  # a site's planner answers with its own profile
                    status = "Processing"
                elif status != "NoChargingProfile" or not self._keeps_schedule(
                    request, await self.repository.profiles(station_id)
                ):
                    status = "Accepted"
                # else a block keeps the transaction's schedule (the v2x block: an operator's V2X profile):
                # NoChargingProfile, none from us
        await self.limit_event(
            station_id, version, "NotifyEVChargingNeeds", evse_id, None, data, answer=status
        )
        if status == "Accepted" and running is not None:
            self._offers[(station_id.casefold(), evse_id)] = self._spawn(self._offer_schedule(request))
        return status

    async def _delegated(self, request: EvRequest) -> bool:
        for handler in self._ev_needs_handlers:
            try:
                if await handler(request):
                    return True
            except Exception:
                log.exception("%s: an EV needs handler failed", request.station_id)
        return False

    async def _offer_schedule(self, request: EvRequest) -> None:
        """K15.FR.07: a TxProfile for the transaction, its one schedule (K15.FR.18) the CSMS's composite for
        the EVSE without its own earlier TxProfile (W for DC, A for AC) up to the departure time (else a
        day), within maxScheduleTuples and PeriodsPerSchedule periods: the most the EV may take by then."""
        station_id, version, evse_id = request.station_id, request.version, request.evse_id
        try:
            now = self.clock.now().replace(microsecond=0)
            departure = request.departure
            end = departure if departure is not None and departure > now else now + timedelta(days=1)
            duration = max(60, int((end - now).total_seconds()))
            unit = RateUnit.WATT if request.dc else RateUnit.AMPERE
            stored = await self.repository.profiles(station_id)
            if self._keeps_schedule(request, stored):
                return  # K15.FR.13 with the schedule kept by a block: see ev_charging_needs
            # K17 (renegotiation): new needs of the same transaction replace the CSMS's earlier TxProfile
            # (same id, K01.FR.05) rather than meeting it at the same stack level (K01.FR.39).
            earlier = next(
                (
                    p.profile_id
                    for p in stored
                    if p.purpose == Purpose.TX.value
                    and p.transaction_id == request.transaction_id
                    and p.stack_level == self.settings.max_stack_level
                ),
                None,
            )
            composite = await self.own_composite(
                station_id, version, evse_id, now, duration, unit, without=earlier
            )
            most = min(self.settings.max_periods, request.max_tuples or self.settings.max_periods)
            periods = [
                {"startPeriod": start, "limit": limit, "numberPhases": phases}
                for start, limit, phases in wire.composite_periods(composite)[:most]
            ]
            profile_id = earlier or await self._new_id({p.profile_id for p in stored})
            profile = {
                "id": profile_id,
                "stackLevel": self.settings.max_stack_level,
                "chargingProfilePurpose": "TxProfile",
                "chargingProfileKind": "Absolute",
                "transactionId": request.transaction_id,
                "chargingSchedule": [
                    {
                        "id": 1,
                        "startSchedule": to_wire(now),
                        "duration": duration,
                        "chargingRateUnit": unit.value,
                        "chargingSchedulePeriod": periods,
                    }
                ],
            }
            await self.set_profile(station_id, evse_id, profile)
        except Exception:
            log.exception("%s: sending a TxProfile for the EV's charging needs failed", station_id)

    async def _renegotiate(self, station_id: str, evse_id: int) -> None:
        """K15.FR.13 / K16.FR.08 / K17.FR.13: the EV's schedule went beyond ours: a new TxProfile from the
        needs it last stated (K16), by whoever gave the first one."""
        request = self._ev_needs.get((station_id.casefold(), evse_id))
        if request is None:
            return
        running = (await self._running(station_id, request.version)).get(evse_id)
        if running is None or running.transaction_id != request.transaction_id:
            return
        if not await self._delegated(request):
            await self._offer_schedule(request)

    async def offer_settled(self, station_id: str, evse_id: int) -> None:
        """Wait (at most OFFER_WAIT_S) for a TxProfile this CSMS is sending in answer to the EV's needs on the
        EVSE, so that a profile meant to go above it is not overtaken by it (a V2X setpoint, Q03/Q04)."""
        offer = self._offers.get((station_id.casefold(), evse_id))
        if offer is not None and not offer.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(offer), OFFER_WAIT_S)

    async def ev_charging_schedule(
        self,
        station_id: str,
        version: Version,
        evse_id: int,
        time_base: str,
        schedule: dict[str, Any],
        data: bytes,
    ) -> str:
        """K15.FR.11/12: Accepted when every period of the EV's schedule stays within the CSMS's composite for
        the EVSE at that time, else Rejected; stored with the answer."""
        await self.offer_settled(station_id, evse_id)  # the EV answers our TxProfile: check against it stored
        ev = msgspec.convert(schedule, _Schedule)
        unit = RateUnit(ev.charging_rate_unit)
        start = from_wire(time_base)
        starts = [p.start_period for p in ev.charging_schedule_period]
        duration = ev.duration or (max(starts) + 3600)
        ours = await self.own_composite(station_id, version, evse_id, start, max(duration, 1), unit)
        periods = [(p.start_period, p.limit) for p in ev.charging_schedule_period]
        fits = within(periods, ours, _TOLERANCE)
        status = "Accepted" if fits else "Rejected"
        await self.limit_event(
            station_id, version, "NotifyEVChargingSchedule", evse_id, None, data, answer=status
        )
        if not fits:
            self._spawn(self._renegotiate(station_id, evse_id))
        return status
