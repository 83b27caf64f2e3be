"""ISO 15118 smart charging on the station (2.0.1 / 2.1: K15 load leveling from the EV's charging needs, K16
renegotiation by the CSMS, K17 renegotiation by the EV). 1.6 has none of it.

An ISO 15118 EV states its charging needs (:class:`~.model.EvChargingNeeds`: energy, limits, departure) on
plug-in or later (``StationCore.ev_charging_needs``). Once its transaction exists (K15.FR.16: the CSMS then
knows the driver) the station sends NotifyEVChargingNeeds (K15.FR.01, K17.FR.01; AC or DC parameters,
K15.FR.06). Accepted or Processing: the CSMS's TxProfile follows, through SetChargingProfile (the
:class:`~.smart_charging.SmartCharging` block tells us when one for the transaction is installed). The
station then offers the EV its composite schedule for the EVSE (which includes that TxProfile), the EV picks
its profile within it (:mod:`.ev_schedule`), the station checks it stays within the offer (K15.FR.09) and
sends it in NotifyEVChargingSchedule (K15.FR.10), its id the offered schedule's (K15.FR.19). A TxProfile with
two or three chargingSchedules (allowed once the needs went out, K01.FR.34) is one offer per schedule: the EV
picks one (:func:`.ev_schedule.pick`) and the station enforces it from then on. A later TxProfile
is a renegotiation by the CSMS (K16: no new needs, K16.FR.09); new needs are one by the EV (K17). Rejected:
the EV charges within the station's own composite, nothing more is sent.

Offline (K15.FR.15, K17.FR.15) the EV gets the station's composite (a TxDefaultProfile if there is one) at
once; its profile is sent once the CSMS accepted the station again.

ISO 15118-20 (2.1 K18-K20; an EV whose needs carry a ``control_mode``): the needs go out with that controlMode
and V2XChargingParameters (K18.FR.01/06, K19.FR.01/06); NoChargingProfile is the CSMS's "no schedule"
(K18.FR.04, K19.FR.04: the station's own limits, K18.FR.15 / K19.FR.11). In scheduled control mode the flow
is K15's, the NotifyEVChargingSchedule naming the schedule the EV picked (K18.FR.10). In dynamic control mode
the EV follows the station's limit: its own profile is disregarded and the CSMS's schedule goes back in
NotifyEVChargingSchedule (K19.FR.10); Rejected means the CSMS refuses the requested energy transfer, and the
transaction ends (K19.FR.15/16). New needs during the session renegotiate (K20.FR.01-04), also when the
driver gives the station a new departure in dynamic control (K20 scenario 3, :meth:`Iso15118Charging.new_departure`).
An ISO 15118-20 EV announces itself (``StationCore.ev_hlc_started``: its service and control mode agreed)
before it states its needs; a TxProfile for its running transaction in between is out of sequence: Rejected
with InvalidMessageSeq (K18.FR.17, K19.FR.13; the spec's InvalidMessageSequence is longer than the schema's
20 characters), taken once the needs went out. The price schedule (absolutePriceSchedule / priceLevelSchedule) of the
CSMS's chargingSchedule goes to the EV with the offer (:class:`~.model.OfferPrices`; K19.FR.09 in dynamic
control, K18.FR.07 for each schedule in scheduled control); our simulated EV keeps it but does not price its
choice.

Decisions: ISO15118Ctrlr.Enabled false makes the station behave as a basic (IEC 61851) station: no needs
sent. Without a departure time the offer covers a day.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import msgspec

from chargeplane.ocpp.messages import v21, v201
from chargeplane.ocpp.messages.base import Payload, present
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.model import Composite, Purpose, RateUnit
from chargeplane.smart_charging.validation import Verdict
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.context import Context, Controller
from chargeplane.station.core.device_model import StationLayout, VariableDef, var
from chargeplane.station.core.ev_schedule import EvLimits, EvPeriod, pick, within
from chargeplane.station.core.model import EvChargingNeeds, Evse, OfferPrices, StartPowerDelivery
from chargeplane.station.core.smart_charging import CTRLR as SMART_CHARGING
from chargeplane.station.core.smart_charging import SmartCharging
from chargeplane.station.core.transactions import Transactions

log = logging.getLogger(__name__)

CTRLR = "ISO15118Ctrlr"
MAX_SCHEDULE_ENTRIES = 24
NO_DEPARTURE_S = 86_400  # the offer without a departure time
MIN_OFFER_S = 60
PROFILE_WAIT_S = 60  # K15.FR.08: the CSMS sends its TxProfile within a minute (ISO 15118's own timeout)
AC_MODES = {1: "AC_single_phase", 2: "AC_two_phase", 3: "AC_three_phase"}
DYNAMIC_CONTROL = "DynamicControl"  # ISO 15118-20 control modes (2.1 ControlModeEnumType)
SCHEDULED_CONTROL = "ScheduledControl"
NO_CHARGING_PROFILE = "NoChargingProfile"  # K18.FR.04 / K19.FR.04
# K18.FR.17 / K19.FR.13 name InvalidMessageSequence, which the 2.1 schema (reasonCode: 20 characters at most)
# cannot carry; K15.FR.17's InvalidMessageSeq (the appendix's reason code) fits
TOO_EARLY = "InvalidMessageSeq"


class Phase(enum.Enum):
    WAITING_TX = "waiting for the transaction"
    NEEDS_SENT = "needs sent, waiting for the CSMS's TxProfile"
    SCHEDULED = "charging on the CSMS's TxProfile"
    REJECTED = "the CSMS gave no schedule: the station's own limits"
    LOCAL = "offline: the station's own limits"


@dataclass(slots=True)
class Chosen:
    """The EV's profile: from ``start`` (station time), in ``unit``; ``schedule_id`` the offer's."""

    start: datetime
    unit: RateUnit
    duration: int
    periods: list[EvPeriod]
    schedule_id: int


@dataclass(slots=True)
class Session:
    needs: EvChargingNeeds
    departure: datetime | None  # station time
    energy_at_wh: float  # the EVSE's meter when the EV gave these needs
    phase: Phase = Phase.WAITING_TX
    chosen: Chosen | None = None
    notify_pending: bool = False  # chosen offline: sent once accepted again
    deadline: datetime | None = None  # waiting for the CSMS's TxProfile until then


class Iso15118Charging(Controller):
    __slots__ = ("announced", "needs_answered", "needs_extras", "needs_told", "sessions")

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.sessions: dict[int, Session] = {}
        self.needs_told: dict[int, str] = {}  # EVSE -> the transaction the CSMS got NotifyEVChargingNeeds for
        # EVSE -> the control mode of the ISO 15118-20 EV there that has not stated its needs yet
        self.announced: dict[int, str] = {}
        # 2.1 V2X (block Q): what adds to the chargingNeeds of an EVSE, who hears the CSMS's answer
        self.needs_extras: list[Callable[[int, EvChargingNeeds, dict[str, Any]], None]] = []
        self.needs_answered: list[Callable[[int, str, datetime], None]] = []

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        return [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "MaxScheduleEntries", "integer", str(MAX_SCHEDULE_ENTRIES), "ReadOnly"),
        ]

    def start(self, now: datetime) -> None:
        smart = self.ctx.get(SmartCharging)
        smart.tx_profile_listeners.append(self.profile_installed)
        smart.profile_checks.append(self._too_early)
        smart.iso15118_tx = lambda transaction_id: transaction_id in self.needs_told.values()

    @property
    def enabled(self) -> bool:
        return self.ctx.version is not Version.V16 and self.ctx.model.flag(CTRLR, "Enabled")

    # ------------------------------------------------------------------ the EV
    def ev_needs(self, evse: Evse, needs: EvChargingNeeds, now: datetime) -> None:
        """The EV states its charging needs: on plug-in (K15) or again during the session (K17)."""
        if not self.enabled:  # a basic (IEC 61851) station: the EV charges as soon as it may
            self.ctx.act(StartPowerDelivery(evse.id))
            return
        at = self.ctx.station_time(now)
        departure = None if needs.departure_s is None else at + timedelta(seconds=needs.departure_s)
        session = Session(needs, departure, evse.meter.energy_wh)
        self.announced.pop(evse.id, None)
        earlier = self.sessions.get(evse.id)
        if earlier is not None:  # K17: what the EV draws now, until the new negotiation ends
            session.chosen = earlier.chosen
        self.sessions[evse.id] = session
        if evse.tx is not None:
            self._negotiate(evse, session, now)

    def new_departure(self, evse_id: int, departure_s: int) -> EvChargingNeeds | None:
        """K20 scenario 3: the driver gives the station a new departure (``departure_s`` seconds from now)
        for an ISO 15118-20 EV in dynamic control mode: its needs with that departure and the energy it
        still wants, which the station hands the EV (ChargeLoopRes) and then states like the EV's own
        (K20.FR.01). None: no such session on the EVSE."""
        session = self.sessions.get(evse_id)
        evse = self.ctx.evses.get(evse_id)
        if session is None or evse is None or session.needs.control_mode != DYNAMIC_CONTROL:
            return None
        delivered = max(0.0, evse.meter.energy_wh - session.energy_at_wh)
        left = max(0.0, session.needs.energy_wh - delivered)
        return replace(session.needs, departure_s=departure_s, energy_wh=left)

    def unplugged(self, evse: Evse) -> None:
        self.sessions.pop(evse.id, None)
        self.announced.pop(evse.id, None)

    def transaction_started(self, evse: Evse, now: datetime) -> None:
        session = self.sessions.get(evse.id)
        if session is not None and session.phase is Phase.WAITING_TX:
            self._negotiate(evse, session, now)

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        self.sessions.pop(evse.id, None)
        self.needs_told.pop(evse.id, None)

    def hlc_started(self, evse: Evse, control_mode: str) -> None:
        """An ISO 15118-20 EV at ``evse`` agreed its service and ``control_mode`` (its ServiceSelectionReq);
        its needs (ScheduleExchangeReq) follow."""
        if self.enabled and evse.id not in self.sessions:
            self.announced[evse.id] = control_mode

    def _too_early(self, raw: Payload, evse_id: int) -> Verdict | None:
        """K18.FR.17 / K19.FR.13: a TxProfile for the running transaction of an ISO 15118-20 EV that has not
        stated its needs yet, so that no NotifyEVChargingNeeds went out: Rejected (the CSMS sends its
        profile again on the needs). Once the needs went out the profile is taken, even before their
        answer: the CSMS may send it on receiving them."""
        evse = self.ctx.evses.get(evse_id)
        if not isinstance(raw, v21.datatypes.ChargingProfileType) or evse is None or evse.tx is None:
            return None
        if str(raw.charging_profile_purpose) != Purpose.TX.value or present(raw.transaction_id) != evse.tx.id:
            return None
        if evse_id not in self.announced:
            return None
        return Verdict(False, TOO_EARLY, "the EV has not stated its charging needs yet")

    # ------------------------------------------------------------------ the CSMS
    def _negotiate(self, evse: Evse, session: Session, now: datetime) -> None:
        if not self.ctx.accepted:  # K15.FR.15 / K17.FR.15
            self._local(evse, session, now)
            return
        session.phase = Phase.NEEDS_SENT
        session.deadline = now + timedelta(seconds=PROFILE_WAIT_S)
        evse_id = evse.id

        def answered(response: Payload, at: datetime) -> None:
            self._answered(evse_id, session, response, at)

        def failed(at: datetime) -> None:
            if self.sessions.get(evse_id) is session:
                self._local(evse, session, at)

        if self.ctx.send(self._needs_request(evse_id, session), now, answered, on_failure=failed) and evse.tx:
            self.needs_told[evse_id] = evse.tx.id

    def _local(self, evse: Evse, session: Session, now: datetime) -> None:
        session.phase = Phase.LOCAL
        session.deadline = None
        unit = RateUnit.WATT if session.needs.dc else RateUnit.AMPERE
        self._offer(evse, session, unit, now)

    def _answered(self, evse_id: int, session: Session, response: Payload, now: datetime) -> None:
        if self.sessions.get(evse_id) is not session:
            return  # the EV left, or stated new needs meanwhile
        answers = v201.messages.NotifyEVChargingNeedsResponse | v21.messages.NotifyEVChargingNeedsResponse
        status = str(response.status) if isinstance(response, answers) else "Rejected"
        if status == "Rejected" and session.needs.control_mode == DYNAMIC_CONTROL:
            evse = self.ctx.evses[evse_id]  # K19.FR.15/16: the requested energy transfer is refused
            self.ctx.get(Transactions).force_stop(evse, "ReqEnergyTransferRejected", "AbnormalCondition", now)
            return
        if status in ("Rejected", NO_CHARGING_PROFILE):  # K15.FR.04 / K17.FR.04, K18.FR.04 / K19.FR.04
            session.phase = Phase.REJECTED
            session.deadline = None
            self.ctx.act(StartPowerDelivery(evse_id))
        for listener in self.needs_answered:
            listener(evse_id, status, now)
        # Accepted / Processing (K15.FR.03/05): the TxProfile comes through SetChargingProfile

    def profile_installed(self, evse_id: int, now: datetime) -> None:
        """A TxProfile for the transaction on ``evse_id`` was accepted: the answer to the EV's needs (K15),
        or a renegotiation by the CSMS (K16.FR.02/03)."""
        session = self.sessions.get(evse_id)
        evse = self.ctx.evses.get(evse_id)
        if session is None or evse is None or evse.tx is None or session.phase is Phase.WAITING_TX:
            return
        newest = self.ctx.get(SmartCharging).tx_installed(evse_id)
        if newest is None:
            return
        session.phase = Phase.SCHEDULED
        session.deadline = None
        self._offer(evse, session, newest.profile.schedule.unit, now)

    def _offer(self, evse: Evse, session: Session, unit: RateUnit, now: datetime) -> None:
        """Offer the EV the composite for its EVSE until departure, one per schedule of its TxProfile; the EV
        picks one and its profile within it (K15.FR.09: checked against that offer), which goes to the CSMS
        (K15.FR.10; offline: later); the station enforces the schedule picked (K15.FR.14)."""
        # from the next whole second: the composite's pieces start at whole seconds, and a transaction that
        # began within the current one would leave its TxProfile out of the first
        exact = self.ctx.station_time(now)
        start = exact.replace(microsecond=0) + (timedelta(seconds=1) if exact.microsecond else timedelta(0))
        now = now + (start - exact)
        if session.departure is not None:
            duration = max(MIN_OFFER_S, int((session.departure - start).total_seconds()))
        else:
            duration = NO_DEPARTURE_S
        smart = self.ctx.get(SmartCharging)
        offers = smart.offers(evse.id, duration, unit, now)
        needs = session.needs
        delivered = max(0.0, evse.meter.energy_wh - session.energy_at_wh)
        ev = EvLimits(
            needs.max_current_a,
            needs.max_power_w,
            needs.max_voltage_v,
            needs.energy_wh - delivered,
            needs.dc,
            needs.phases,
        )
        schedule_id, periods = pick(offers, ev, self._most_periods())
        if needs.control_mode == DYNAMIC_CONTROL:  # K19.FR.10: the CSMS's schedule, not the EV's profile
            schedule_id, periods = _as_given(offers[0])
        if needs.control_mode is not None:  # ISO 15118-20: ScheduleExchangeRes carries the prices
            self._offer_prices(
                evse.id,
                [o[0] for o in offers[:1]]
                if needs.control_mode == DYNAMIC_CONTROL
                else [o[0] for o in offers],
            )
        self.ctx.act(StartPowerDelivery(evse.id))  # the station's limit (SetPowerLimit) holds it in any case
        if not within(periods, dict(offers)[schedule_id]):
            log.warning("EVSE %d: the EV's profile exceeds the schedule offered; not passed on", evse.id)
            session.chosen = None
            return
        if len(offers) > 1:
            smart.select_schedule(evse.id, schedule_id, now)
        before = session.chosen
        session.chosen = Chosen(start, unit, duration, periods, schedule_id)
        session.notify_pending = True
        self._notify_schedule(evse.id, session, now)
        if before is not None and evse.tx is not None and _rate(before, start) != (unit, periods[0].limit):
            # K16.FR.11 / K17: the renegotiation changed what the EV draws now
            event = TxEvent(TxEventKind.UPDATED, "ChargingRateChanged")
            self.ctx.get(Transactions).emit(evse, event, now)

    def _offer_prices(self, evse_id: int, schedule_ids: list[int]) -> None:
        """K19.FR.09 (dynamic control: the one schedule's prices, no schedule) / K18.FR.07 (scheduled: each
        offered schedule's): the absolutePriceSchedule or priceLevelSchedule of the CSMS's TxProfile."""
        installed = self.ctx.get(SmartCharging).tx_installed(evse_id)
        raw = None if installed is None else installed.wire
        if not isinstance(raw, v21.datatypes.ChargingProfileType):
            return
        for schedule in raw.charging_schedule:
            prices = present(schedule.absolute_price_schedule) or present(schedule.price_level_schedule)
            if schedule.id in schedule_ids and prices is not None:
                self.ctx.act(OfferPrices(evse_id, schedule.id, prices))

    def _most_periods(self) -> int:
        model = self.ctx.model
        return max(
            1,
            min(
                model.number(CTRLR, "MaxScheduleEntries"), model.number(SMART_CHARGING, "PeriodsPerSchedule")
            ),
        )

    def _notify_schedule(self, evse_id: int, session: Session, now: datetime) -> None:
        chosen = session.chosen
        if chosen is None or not session.notify_pending or not self.ctx.accepted:
            return
        data: dict[str, Any] = {
            "timeBase": to_wire(chosen.start),
            "evseId": evse_id,
            "chargingSchedule": {
                "id": chosen.schedule_id,
                "duration": chosen.duration,
                "chargingRateUnit": chosen.unit.value,
                "chargingSchedulePeriod": [
                    {"startPeriod": p.start, "limit": p.limit} for p in chosen.periods
                ],
            },
        }
        if session.needs.control_mode is not None and self.ctx.version is Version.V21:
            data["selectedChargingScheduleId"] = chosen.schedule_id  # K18.FR.10, K19.FR.10
        kind = "NotifyEVChargingScheduleRequest"
        if self.ctx.send(self._message(kind, data), now):
            session.notify_pending = False

    def registration_accepted(self, now: datetime) -> None:
        """Back online: the profiles the EVs chose offline go to the CSMS (K15.FR.15 then K15.FR.10)."""
        for evse_id, session in self.sessions.items():
            self._notify_schedule(evse_id, session, now)

    def next_deadline(self) -> datetime | None:
        deadlines = [s.deadline for s in self.sessions.values() if s.deadline is not None]
        return min(deadlines, default=None)

    def handle_timer(self, now: datetime) -> None:
        """K15.FR.08: no TxProfile within a minute of the needs: the EV goes on the station's own limits."""
        for evse_id, session in list(self.sessions.items()):
            if session.deadline is not None and now >= session.deadline:
                session.deadline = None
                if session.phase is Phase.NEEDS_SENT:
                    self._local(self.ctx.evses[evse_id], session, now)

    def connection_opened(self, now: datetime) -> None:
        self.registration_accepted(now)  # a reconnection without a new boot: still accepted

    # ------------------------------------------------------------------ messages
    def _needs_request(self, evse_id: int, session: Session) -> Payload:
        needs = session.needs
        charging: dict[str, Any]
        if needs.dc:
            dc: dict[str, Any] = {
                "evMaxCurrent": round(needs.max_current_a),
                "evMaxVoltage": round(needs.max_voltage_v),
                "energyAmount": round(needs.energy_wh),
            }
            if needs.max_power_w is not None:
                dc["evMaxPower"] = round(needs.max_power_w)
            charging = {"dcChargingParameters": dc, "requestedEnergyTransfer": "DC"}
        else:
            ac = {
                "energyAmount": round(needs.energy_wh),
                "evMinCurrent": round(needs.min_current_a),
                "evMaxCurrent": round(needs.max_current_a),
                "evMaxVoltage": round(needs.max_voltage_v),
            }
            mode = AC_MODES.get(needs.phases, "AC_three_phase")
            charging = {"acChargingParameters": ac, "requestedEnergyTransfer": mode}
        if needs.control_mode is not None and self.ctx.version is Version.V21:
            _iso15118_20(charging, needs)
        if session.departure is not None:
            charging["departureTime"] = to_wire(session.departure.replace(microsecond=0))
        if self.ctx.version is Version.V21:
            for extra in self.needs_extras:
                extra(evse_id, needs, charging)
        data = {
            "evseId": evse_id,
            "maxScheduleTuples": self._most_periods(),
            "chargingNeeds": charging,
        }
        return self._message("NotifyEVChargingNeedsRequest", data)

    def _message(self, name: str, data: dict[str, Any]) -> Payload:
        module = v201.messages if self.ctx.version is Version.V201 else v21.messages
        kind: type[Payload] = getattr(module, name)
        return msgspec.convert(data, kind)

    # ------------------------------------------------------------------ inspection
    def session(self, evse_id: int) -> Session | None:
        return self.sessions.get(evse_id)


def _rate(chosen: Chosen, at: datetime) -> tuple[RateUnit, float]:
    """The unit and limit of the EV's profile in force at ``at``."""
    offset = (at - chosen.start).total_seconds()
    limit = chosen.periods[0].limit
    for period in chosen.periods:
        if period.start > offset:
            break
        limit = period.limit
    return chosen.unit, limit


def _iso15118_20(charging: dict[str, Any], needs: EvChargingNeeds) -> None:
    """K18.FR.06 / K19.FR.06: an ISO 15118-20 EV's needs as V2XChargingParameters, with its controlMode."""
    charging.pop("acChargingParameters", None)
    charging.pop("dcChargingParameters", None)
    parameters: dict[str, Any] = {
        "maxChargeCurrent": round(needs.max_current_a),
        "minChargeCurrent": round(needs.min_current_a),
        "maxVoltage": round(needs.max_voltage_v),
        "evTargetEnergyRequest": round(needs.energy_wh),  # K20.FR.01: the new amount on new needs
    }
    if needs.max_power_w is not None:
        parameters["maxChargePower"] = round(needs.max_power_w)
    charging["v2xChargingParameters"] = parameters
    charging["controlMode"] = needs.control_mode


def _as_given(offer: tuple[int, Composite]) -> tuple[int, list[EvPeriod]]:
    """K19.FR.10: the schedule offered (the CSMS's, within the station's caps) as the one the EV follows."""
    schedule_id, composite = offer
    return schedule_id, [EvPeriod(i.start, i.limit) for i in composite.intervals]
