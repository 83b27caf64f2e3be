"""ISO 15118 smart charging on the station (K15 load leveling from the EV's needs, K16 renegotiation by the
CSMS, K17 renegotiation by the EV) and the simulated EV's choice of profile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import from_wire, to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.model import Composite, Interval, RateUnit
from chargeplane.station.core.ev_schedule import EvLimits, EvPeriod, choose, within
from chargeplane.station.core.iso15118_charging import Iso15118Charging, Phase
from chargeplane.station.core.model import EvChargingNeeds, StartPowerDelivery
from tests.station.core.helpers import T0, M, Rig, make_rig, set_var
from tests.station.core.test_smart_charging import profile, set_profile

NEEDS = EvChargingNeeds(10_000.0, max_current_a=32.0, departure_s=7200)


def answering(status: str) -> Any:
    def answer(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, M.NotifyEVChargingNeedsRequest):
            return M.NotifyEVChargingNeedsResponse(status=status)
        if isinstance(request, M.NotifyEVChargingScheduleRequest):
            return M.NotifyEVChargingScheduleResponse(status="Accepted")
        return None

    return answer


def session_rig(status: str = "Accepted", needs: EvChargingNeeds = NEEDS, **kwargs: Any) -> tuple[Rig, str]:
    """An ISO 15118 EV plugged in with its needs, then authorized: the transaction runs."""
    kwargs.setdefault("answer", answering(status))
    rig = make_rig(**kwargs)
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, needs)
    rig.do("token_presented", "TAG1")
    tx = rig.core.transaction(1)
    assert tx is not None
    return rig, tx.id


def test_K15_FR_01_FR_06_needs_sent_once_the_transaction_exists() -> None:
    rig = make_rig(answer=answering("Accepted"))
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, NEEDS)
    assert not rig.of(M.NotifyEVChargingNeedsRequest)  # K15.FR.16: the transaction (with the token) first
    rig.do("token_presented", "TAG1")
    [needs] = rig.of(M.NotifyEVChargingNeedsRequest)
    assert needs.evse_id == 1
    assert needs.max_schedule_tuples == 24
    ac = needs.charging_needs.ac_charging_parameters
    assert (ac.energy_amount, ac.ev_max_current, ac.ev_min_current) == (10_000, 32, 6)
    assert needs.charging_needs.requested_energy_transfer == "AC_three_phase"
    assert from_wire(needs.charging_needs.departure_time) == T0 + timedelta(seconds=7200)
    started = rig.sent.index(rig.events()[0])
    assert started < rig.sent.index(needs)


def test_K15_FR_06_dc_needs_carry_dc_parameters() -> None:
    dc = EvChargingNeeds(20_000.0, max_current_a=125.0, max_voltage_v=500.0, max_power_w=50_000.0, dc=True)
    rig, _ = session_rig(needs=dc)
    [needs] = rig.of(M.NotifyEVChargingNeedsRequest)
    parameters = needs.charging_needs.dc_charging_parameters
    assert (parameters.ev_max_power, parameters.energy_amount) == (50_000, 20_000)
    assert needs.charging_needs.requested_energy_transfer == "DC"


def test_K15_FR_09_FR_10_FR_19_the_EV_profile_within_the_TxProfile_goes_to_the_CSMS() -> None:
    rig, tx = session_rig()
    rig.clear()
    answer = set_profile(rig, 1, profile(7, "TxProfile", [(0, 16.0)], tx=tx, kind="Relative"))
    assert answer.status == "Accepted"
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    schedule = notify.charging_schedule
    assert notify.evse_id == 1
    assert from_wire(notify.time_base) == T0
    assert schedule.id == 7
    assert schedule.charging_rate_unit == "A"
    # 10 kWh at 16 A on three phases (11040 W): 3261 s, then nothing
    assert [(p.start_period, p.limit) for p in schedule.charging_schedule_period] == [(0, 16.0), (3261, 0.0)]
    assert schedule.duration == 7200
    assert rig.core.ctx.get(Iso15118Charging).sessions[1].phase is Phase.SCHEDULED


def test_K16_a_new_TxProfile_renegotiates_without_new_needs() -> None:
    rig, tx = session_rig()
    set_profile(rig, 1, profile(7, "TxProfile", [(0, 16.0)], tx=tx, kind="Relative"))
    rig.clear()
    set_profile(rig, 1, profile(7, "TxProfile", [(0, 8.0), (600, 20.0)], tx=tx, kind="Relative"))
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    periods = [(p.start_period, p.limit) for p in notify.charging_schedule.charging_schedule_period]
    assert periods[:2] == [(0, 8.0), (600, 20.0)]
    assert not rig.of(M.NotifyEVChargingNeedsRequest)  # K16.FR.09
    # K16.FR.11: the EV draws less from now on: the transaction says so
    assert [e.trigger_reason for e in rig.events()] == ["ChargingRateChanged"]
    rig.clear()
    set_profile(rig, 1, profile(7, "TxProfile", [(0, 8.0), (600, 20.0)], tx=tx, kind="Relative"))
    assert len(rig.of(M.NotifyEVChargingScheduleRequest)) == 1
    assert not rig.events()  # the same rate: no event


def test_K17_FR_01_new_needs_of_the_EV_are_sent_again() -> None:
    rig, tx = session_rig()
    set_profile(rig, 1, profile(7, "TxProfile", [(0, 16.0)], tx=tx, kind="Relative"))
    rig.clear()
    rig.do("ev_charging_needs", 1, EvChargingNeeds(5_000.0, max_current_a=16.0))
    [needs] = rig.of(M.NotifyEVChargingNeedsRequest)
    assert needs.charging_needs.ac_charging_parameters.energy_amount == 5_000
    assert rig.core.ctx.get(Iso15118Charging).sessions[1].phase is Phase.NEEDS_SENT
    set_profile(rig, 1, profile(7, "TxProfile", [(0, 12.0)], tx=tx, kind="Relative"))
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.charging_schedule_period[0].limit == 12.0
    assert [e.trigger_reason for e in rig.events()] == ["ChargingRateChanged"]  # 16 A before


def test_K15_FR_04_rejected_needs_leave_the_EV_on_the_station_limits() -> None:
    rig, _ = session_rig("Rejected")
    assert rig.core.ctx.get(Iso15118Charging).sessions[1].phase is Phase.REJECTED
    assert not rig.of(M.NotifyEVChargingScheduleRequest)
    assert StartPowerDelivery(1) in rig.actions  # the EV may charge, on the station's own limits


def test_K15_FR_08_no_TxProfile_within_a_minute_the_EV_goes_on_the_station_limits() -> None:
    rig, _ = session_rig()
    assert StartPowerDelivery(1) not in rig.actions  # the EV waits for its schedule
    rig.advance(59)
    assert rig.core.ctx.get(Iso15118Charging).sessions[1].phase is Phase.NEEDS_SENT
    rig.advance(2)
    assert rig.core.ctx.get(Iso15118Charging).sessions[1].phase is Phase.LOCAL
    assert StartPowerDelivery(1) in rig.actions
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.charging_schedule_period[0].limit == 32.0  # the EV's own maximum


def test_K15_FR_15_offline_the_EV_takes_the_TxDefaultProfile_and_its_profile_follows_online() -> None:
    rig = make_rig(answer=answering("Accepted"))
    assert set_profile(rig, 1, profile(3, "TxDefaultProfile", [(0, 10.0)], level=0)).status == "Accepted"
    assert set_var(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true") == "Accepted"
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, NEEDS)
    rig.do("token_presented", "TAG1")
    assert rig.core.transaction(1) is not None
    assert rig.core.ctx.get(Iso15118Charging).sessions[1].phase is Phase.LOCAL
    rig.clear()
    rig.do("connection_opened")
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.charging_schedule_period[0].limit == 10.0
    assert not rig.of(M.NotifyEVChargingNeedsRequest)


def test_disabled_ISO15118Ctrlr_sends_nothing() -> None:
    rig = make_rig(answer=answering("Accepted"))
    assert set_var(rig, "ISO15118Ctrlr", "Enabled", "false") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, NEEDS)
    rig.do("token_presented", "TAG1")
    assert not rig.of(M.NotifyEVChargingNeedsRequest)
    assert StartPowerDelivery(1) in rig.actions  # charged as a basic EV


def test_ocpp16_has_no_ISO15118_smart_charging() -> None:
    rig = make_rig(version=Version.V16)
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, NEEDS)
    assert not rig.core.ctx.get(Iso15118Charging).sessions


def test_unplug_ends_the_session() -> None:
    rig = make_rig(answer=answering("Accepted"))
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, NEEDS)
    rig.do("ev_unplugged", 1)
    assert not rig.core.ctx.get(Iso15118Charging).sessions


# ---------------------------------------------------------------------- the EV's choice (pure)
START = datetime(2026, 1, 1, tzinfo=UTC)
EV = EvLimits(max_current_a=16.0, max_power_w=None, max_voltage_v=400.0, energy_wh=11_040.0, dc=False)


def offer(*intervals: tuple[int, float], duration: int = 7200, unit: RateUnit = RateUnit.AMPERE) -> Composite:
    return Composite(START, duration, unit, tuple(Interval(s, limit, 3) for s, limit in intervals))


def test_the_EV_takes_its_maximum_until_its_need_is_met() -> None:
    # 32 A offered, 16 A the EV's maximum: 11040 W for one hour
    assert choose(offer((0, 32.0)), EV, 24) == [EvPeriod(0, 16.0), EvPeriod(3600, 0.0)]


def test_the_EV_follows_a_lower_offer_and_its_rises() -> None:
    periods = choose(offer((0, 8.0), (1800, 32.0)), EV, 24)
    # 8 A for 1800 s = 2760 Wh; the remaining 8280 Wh at 16 A = 2700 s
    assert periods == [EvPeriod(0, 8.0), EvPeriod(1800, 16.0), EvPeriod(4500, 0.0)]
    assert within(periods, offer((0, 8.0), (1800, 32.0)))


def test_the_EV_in_watts_and_with_too_few_periods_stays_within() -> None:
    watts = offer((0, 4000.0), (600, 2000.0), (1200, 6000.0), unit=RateUnit.WATT)
    periods = choose(watts, EV, 2)
    assert len(periods) == 2
    assert within(periods, watts)


def test_K15_FR_09_a_profile_above_the_offer_anywhere_is_outside() -> None:
    drops = offer((0, 16.0), (600, 6.0))
    assert not within([EvPeriod(0, 16.0)], drops)  # the drop at 600 s falls inside the EV's one period
    assert within([EvPeriod(0, 16.0), EvPeriod(600, 6.0)], drops)


def test_K15_on_ocpp21_the_same_negotiation_with_its_messages() -> None:
    m21, d21 = v21.messages, v21.datatypes

    def answer(request: Payload, now: datetime) -> Payload | None:
        if isinstance(request, m21.BootNotificationRequest):
            return m21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
        if isinstance(request, m21.NotifyEVChargingNeedsRequest):
            return m21.NotifyEVChargingNeedsResponse(status="Accepted")
        if isinstance(request, m21.NotifyEVChargingScheduleRequest):
            return m21.NotifyEVChargingScheduleResponse(status="Accepted")
        if isinstance(request, m21.AuthorizeRequest):
            return m21.AuthorizeResponse(id_token_info=d21.IdTokenInfoType(status="Accepted"))
        for name in ("StatusNotification", "TransactionEvent", "SecurityEventNotification", "MeterValues"):
            if type(request).__name__ == f"{name}Request":
                response: Payload = getattr(m21, f"{name}Response")()
                return response
        return None

    rig, tx = session_rig(answer=answer, version=Version.V21)
    [needs] = rig.of(m21.NotifyEVChargingNeedsRequest)
    assert needs.charging_needs.ac_charging_parameters.energy_amount == 10_000
    schedule = d21.ChargingScheduleType(
        id=2,
        charging_rate_unit="A",
        charging_schedule_period=[d21.ChargingSchedulePeriodType(start_period=0, limit=12.0)],
    )
    profile21 = d21.ChargingProfileType(
        id=9,
        stack_level=0,
        charging_profile_purpose="TxProfile",
        charging_profile_kind="Relative",
        charging_schedule=[schedule],
        transaction_id=tx,
    )
    assert (
        rig.handle(m21.SetChargingProfileRequest(evse_id=1, charging_profile=profile21)).status == "Accepted"
    )
    [notify] = rig.of(m21.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.id == 2
    assert notify.charging_schedule.charging_schedule_period[0].limit == 12.0
