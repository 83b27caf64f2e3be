"""V2X on the CSMS side (2.1 block Q): which energy transfers a token or station may use (Q01), changing
them during a session (NotifyAllowedEnergyTransfer, Q02), aFRR signals (Q08), a central-setpoint TxProfile for
a V2X transaction (Q03), and each V2X transaction's view: what the EV asked for and can do (its
NotifyEVChargingNeeds) and the energy it gave back (Energy.Active.Export.Register in its meter values).

Decisions: a token's own list wins over its station's; neither: allowedEnergyTransfer is left out (Q01.FR.08).
A discharging setpoint is refused (409) unless the transaction was allowed a bidirectional transfer, so the
CSMS never asks for what it did not grant. A central setpoint clears the transaction's TxProfiles above it that
have no V2X period (the CSMS's own answer to an ISO 15118 EV's needs sits at the highest stack level and would
hide the setpoint for good).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chargeplane.csms.blocks.authorization.service import AuthorizeExtras, TokenDecision
from chargeplane.csms.blocks.remote_control.service import CommandService, InvalidCommand
from chargeplane.csms.blocks.smart_charging.service import (
    Criteria,
    EvRequest,
    ProfileRefused,
    SetOutcome,
    SmartChargingService,
    StoredProfile,
)
from chargeplane.csms.blocks.transactions.fold import EventFacts
from chargeplane.csms.blocks.transactions.queries import TransactionQueries, TransactionRecord
from chargeplane.csms.blocks.transactions.service import EventOutcome, ResponseExtras
from chargeplane.csms.blocks.v2x.repository import AllowedRecord, SessionRecord, V2xRepository
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Conflict, NotFound
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging import v2x as rules
from chargeplane.smart_charging.model import Purpose

log = logging.getLogger(__name__)

TOKEN = "token"
STATION = "station"
EXPORT = "Energy.Active.Export.Register"
POWER = "Power.Active.Import"
EXTERNAL_MODES = frozenset({"ExternalSetpoint", "ExternalLimits"})
EXTERNAL_LOOKBACK = 50  # the station's latest limit events looked at for an external system's control


class NotAllowed(Conflict):
    """Discharging asked for a transaction that was allowed no bidirectional transfer."""


class NotV2x(InvalidCommand):
    """V2X is OCPP 2.1: refused for a station on another version (422)."""


@dataclass(frozen=True, slots=True)
class Answer:
    status: str
    reason: str | None


@dataclass(frozen=True, slots=True)
class SetpointPeriod:
    start: int
    setpoint_w: float


@dataclass(frozen=True, slots=True)
class ExternalControl:
    """Q06.FR.10-12: what an external system (EMS) last told the station for the EVSE, as notified."""

    source: str | None
    evse_id: int
    operation_mode: str
    period: dict[str, Any]  # the notified schedule's first period (setpoint, setpointReactive, limits)
    received_at: datetime


@dataclass(frozen=True, slots=True)
class TransactionView:
    transaction: TransactionRecord
    session: SessionRecord | None
    external: ExternalControl | None = None

    @property
    def energy_exported_wh(self) -> float:
        s = self.session
        if s is None or s.export_last_wh is None or s.export_start_wh is None:
            return 0.0
        return max(0.0, s.export_last_wh - s.export_start_wh)


class V2xService:
    def __init__(
        self,
        repository: V2xRepository,
        commands: CommandService,
        smart_charging: SmartChargingService,
        transactions: TransactionQueries,
        events: EventBus,
        clock: Clock,
    ) -> None:
        self.repository = repository
        self.commands = commands
        self.smart_charging = smart_charging
        self.transactions = transactions
        self.events = events
        self.clock = clock

    # -- V2X authorization (Q01) ---------------------------------------------------------------------------
    async def set_allowed(self, scope: str, subject: str, transfers: list[str]) -> AllowedRecord:
        """A station's list needs a registered station (:class:`UnknownStation` otherwise)."""
        if scope == STATION:
            registered, _ = await self.commands.station(subject)
            subject = registered.casefold()
        now = self.clock.now()
        await self.repository.put_allowed(scope, subject, tuple(transfers), now)
        return AllowedRecord(scope, subject, tuple(transfers), now)

    async def delete_allowed(self, scope: str, subject: str) -> None:
        if not await self.repository.delete_allowed(
            scope, subject.casefold() if scope == STATION else subject
        ):
            raise NotFound(f"no allowed energy transfer for {scope} {subject}")

    async def allowed_list(self, scope: str | None) -> list[AllowedRecord]:
        return await self.repository.allowed(scope)

    async def allowed_for(self, station_id: str, id_token: str | None) -> tuple[str, ...] | None:
        """The token's list, else the station's; None: nothing known (Q01.FR.08: left out)."""
        if id_token is not None:
            mine = await self.repository.allowed_one(TOKEN, id_token)
            if mine is not None:
                return mine
        return await self.repository.allowed_one(STATION, station_id.casefold())

    async def bidirectional(self, station_id: str, transaction_id: str) -> bool:
        """Whether the transaction was allowed a bidirectional transfer (its Authorize answer's list, else a
        NotifyAllowedEnergyTransfer the station accepted): what may discharge its EV (Q01 / Q02)."""
        session = await self.repository.session(station_id, transaction_id)
        allowed = () if session is None or session.allowed is None else session.allowed
        return bool(rules.BIDIRECTIONAL_TRANSFERS & set(allowed))

    async def on_authorize(
        self, station_id: str, id_token: str, decision: TokenDecision
    ) -> AuthorizeExtras | None:
        """Q01.FR.01: the allowed transfers go into the Authorize answer of a 2.1 station."""
        if self.commands.version_of(station_id) is not Version.V21:
            return None
        allowed = await self.allowed_for(station_id, id_token)
        return None if not allowed else AuthorizeExtras(allowed_energy_transfer=allowed)

    # -- what the stations tell ------------------------------------------------------------------------------
    async def on_ev_needs(self, request: EvRequest) -> bool:
        """Keep a 2.1 EV's V2X needs with its transaction; False (Rejected, Q01.FR.04) when it asks for a
        bidirectional transfer the transaction was not allowed, else True (Accepted / Processing, Q01.FR.07)."""
        needs = request.needs
        if request.version is not Version.V21:
            return True
        requested = str(needs.get("requestedEnergyTransfer") or "") or None
        available = needs.get("availableEnergyTransfer")
        parameters = needs.get("v2xChargingParameters")
        await self.repository.update_session(
            request.station_id,
            request.transaction_id,
            self.clock.now(),
            evse_id=request.evse_id,
            requested=requested,
            available=tuple(str(a) for a in available) if isinstance(available, list) else (),
            parameters=parameters if isinstance(parameters, dict) else None,
        )
        session = await self.repository.session(request.station_id, request.transaction_id)
        allowed = () if session is None or session.allowed is None else session.allowed
        verdict = requested not in rules.BIDIRECTIONAL_TRANSFERS or requested in allowed
        data: dict[str, object] = {
            "transactionId": request.transaction_id,
            "requested": requested,
            "accepted": verdict,
        }
        self._publish("v2x.needs", request.station_id, data)
        return verdict

    @staticmethod
    def keeps_schedule(request: EvRequest, stored: Sequence[StoredProfile]) -> bool:
        """While the transaction holds a TxProfile with V2X periods (an operator's central setpoint, Q03/Q04),
        it stays the transaction's schedule: an offer of plain limits for the EV's new needs (K17/K20) would sit
        above it and hide its setpoints. The smart charging block then offers none (an ISO 15118-20 EV is
        answered NoChargingProfile)."""
        return any(
            p.purpose == Purpose.TX.value
            and p.transaction_id == request.transaction_id
            and rules.has_v2x_period(p.profile)
            for p in stored
        )

    async def on_transaction_event(
        self, station_id: str, version: str, facts: EventFacts, outcome: EventOutcome
    ) -> ResponseExtras | None:
        """The session's allowed transfers at its start; the export register and power from its readings."""
        if version != Version.V21.value or outcome.duplicate:
            return None
        values: dict[str, Any] = {}
        if facts.event_type == "Started":
            allowed = await self.allowed_for(station_id, facts.id_token)
            if allowed is not None:
                values["allowed"] = allowed
            values["evse_id"] = facts.evse_id
        exports = [s for s in facts.samples if s.measurand == EXPORT and s.value is not None]
        if exports:
            values["export_wh"] = max(exports, key=lambda s: s.timestamp).value
        powers = [
            s for s in facts.samples if s.measurand == POWER and s.value is not None and s.phase is None
        ]
        if powers:
            values["power_w"] = max(powers, key=lambda s: s.timestamp).value
        # Q10.FR.04: evseSleep is said while the EVSE sleeps; an event with other V2X facts and without it
        # says it is awake (not every event is written for that alone)
        if facts.evse_sleep or values:
            values["evse_sleep"] = bool(facts.evse_sleep)
        if values:
            await self.repository.update_session(station_id, facts.transaction_id, self.clock.now(), **values)
        return None

    # -- commands ------------------------------------------------------------------------------------------
    async def _station_21(self, station_id: str) -> str:
        station_id, version = await self.commands.station(station_id)
        if version is not None and version is not Version.V21:
            raise NotV2x("NotSupportedByVersion", f"{station_id} speaks OCPP {version.value}; V2X is 2.1")
        return station_id

    async def notify_allowed(self, station_id: str, transaction_id: str, transfers: list[str]) -> Answer:
        """Q02.FR.05: a new allowedEnergyTransfer for a transaction; kept once the station accepted it."""
        station_id = await self._station_21(station_id)
        request = v21.messages.NotifyAllowedEnergyTransferRequest(
            transaction_id=transaction_id,
            allowed_energy_transfer=[v21.enums.EnergyTransferModeEnumType(t) for t in transfers],
        )
        response = await self.commands.send(station_id, request)
        answer = _answer(response)
        if answer.status == "Accepted":
            now = self.clock.now()
            await self.repository.update_session(station_id, transaction_id, now, allowed=tuple(transfers))
        self._publish("v2x.allowed", station_id, {"transactionId": transaction_id, "status": answer.status})
        return answer

    async def afrr_signal(self, station_id: str, timestamp: datetime, signal: int) -> Answer:
        """Q08.FR.10: an aFRR signal from the TSO, applied by the station from ``timestamp``."""
        station_id = await self._station_21(station_id)
        request = v21.messages.AFRRSignalRequest(timestamp=to_wire(timestamp), signal=signal)
        return _answer(await self.commands.send(station_id, request))

    async def view(self, key: int) -> TransactionView:
        detail = await self.transactions.detail(key, 0)
        record = detail.transaction
        session = None
        if record.transaction_id is not None:
            session = await self.repository.session(record.station_id, record.transaction_id)
        external = None
        if record.status == "active" and record.evse_id is not None:
            external = await self.external_control(record.station_id, record.evse_id)
        return TransactionView(record, session, external)

    async def external_control(self, station_id: str, evse_id: int) -> ExternalControl | None:
        """Q06: the station's latest NotifyChargingLimit for ``evse_id`` or the whole station (EVSE 0) whose
        schedule is an external system's V2X control (ExternalSetpoint / ExternalLimits), unless a
        ClearedChargingLimit came after it."""
        events, _ = await self.smart_charging.limit_events(station_id, 0, EXTERNAL_LOOKBACK)
        for event in events:  # newest first
            if event.evse_id not in (0, evse_id, None):
                continue
            if event.message == "ClearedChargingLimit":
                return None
            if event.message != "NotifyChargingLimit":
                continue
            schedules = event.data.get("chargingSchedule") or []
            periods = schedules[0].get("chargingSchedulePeriod") or [] if schedules else []
            mode = periods[0].get("operationMode") if periods else None
            if mode in EXTERNAL_MODES:
                period = {k: v for k, v in periods[0].items() if k != "startPeriod"}
                return ExternalControl(event.source, event.evse_id or 0, mode, period, event.received_at)
        return None

    async def central_setpoint(
        self, key: int, profile_id: int, stack_level: int, periods: list[SetpointPeriod], duration: int | None
    ) -> SetOutcome:
        """Q03.FR.01/02: a TxProfile of CentralSetpoint periods (no limit, no dischargeLimit) for the
        transaction, checked with the station's own rules (V2X.05), then sent through smart charging."""
        view = await self.view(key)
        record = view.transaction
        if record.status != "active" or record.transaction_id is None or record.evse_id is None:
            raise Conflict(f"transaction {key} is not running")
        if record.ocpp_version != Version.V21.value:
            raise NotV2x(
                "NotSupportedByVersion", f"transaction {key} is OCPP {record.ocpp_version}; V2X is 2.1"
            )
        discharging = any(p.setpoint_w < 0 for p in periods)
        if discharging and not await self.bidirectional(record.station_id, record.transaction_id):
            raise NotAllowed(f"transaction {key} was allowed no bidirectional energy transfer")
        for period in periods:
            refusal = rules.check_period(
                rules.V2xPeriod(
                    period.start, rules.OperationMode.CENTRAL_SETPOINT, setpoint=period.setpoint_w
                ),
                watts=True,
                supported=rules.REQUIRED_MODES,
                load_balancing=None,
            )
            if refusal is not None:
                raise ProfileRefused(refusal.reason, refusal.detail)
        schedule: dict[str, Any] = {
            "id": 1,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [
                {"startPeriod": p.start, "operationMode": "CentralSetpoint", "setpoint": p.setpoint_w}
                for p in periods
            ],
        }
        if duration is not None:
            schedule["duration"] = duration
        profile = {
            "id": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "transactionId": record.transaction_id,
            "chargingSchedule": [schedule],
        }
        # the CSMS's own answer to the EV's needs may still be on its way: it would land above the setpoint
        await self.smart_charging.offer_settled(record.station_id, record.evse_id)
        await self._clear_shadowing(record.station_id, record.transaction_id, profile_id, stack_level)
        return await self.smart_charging.set_profile(record.station_id, record.evse_id, profile)

    async def _clear_shadowing(
        self, station_id: str, transaction_id: str, profile_id: int, stack_level: int
    ) -> None:
        """The transaction's TxProfiles above ``stack_level`` without a V2X period (the CSMS's own K15 offer
        for an ISO 15118 EV's needs, at the highest stack level) would keep the station from ever following
        the setpoint (K01: the highest stack level in force wins): cleared first."""
        for stored in await self.smart_charging.profiles(station_id):
            if (
                stored.purpose == Purpose.TX.value
                and stored.transaction_id == transaction_id
                and stored.stack_level > stack_level
                and stored.profile_id != profile_id
                and not rules.has_v2x_period(stored.profile)
            ):
                await self.smart_charging.clear_profiles(station_id, Criteria(profile_id=stored.profile_id))

    def _publish(self, kind: str, station_id: str, data: dict[str, object]) -> None:
        self.events.publish(StationEvent(kind, station_id, data))


def _answer(response: object) -> Answer:
    if isinstance(
        response, v21.messages.NotifyAllowedEnergyTransferResponse | v21.messages.AFRRSignalResponse
    ):
        info = present(response.status_info)
        return Answer(str(response.status), None if info is None else info.reason_code)
    return Answer("Unknown", None)
