"""A TxProfile offering an ISO 15118 EV two or three chargingSchedules (K01.FR.34, K15.FR.07): accepted only
once the CSMS got the EV's needs, each schedule checked, the EV's pick named in NotifyEVChargingSchedule
(K15.FR.19) and enforced by the station from then on, the first schedule before."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from chargeplane.ocpp.messages import v21
from chargeplane.smart_charging import validation, wire
from chargeplane.smart_charging.model import Composite, Interval, RateUnit
from chargeplane.station.core.ev_schedule import EvLimits, EvPeriod, pick
from chargeplane.station.core.model import EvChargingNeeds
from chargeplane.station.core.smart_charging import SmartCharging
from tests.station.core.helpers import D, M, make_rig, set_var
from tests.station.core.test_iso15118_charging import answering, session_rig
from tests.station.core.test_smart_charging import limits, running_rig, set_profile
from tests.station.core.test_tx_limits import M21, rig21
from tests.station.core.test_tx_resume import reboot, reset, resume_on

Periods = list[tuple[int, float]]


def schedule(schedule_id: int, periods: Periods) -> D.ChargingScheduleType:
    return D.ChargingScheduleType(
        id=schedule_id,
        charging_rate_unit="A",
        charging_schedule_period=[D.ChargingSchedulePeriodType(start_period=s, limit=x) for s, x in periods],
    )


def offering(tx: str, *schedules: tuple[int, Periods], profile_id: int = 20) -> D.ChargingProfileType:
    return D.ChargingProfileType(
        id=profile_id,
        stack_level=0,
        charging_profile_purpose="TxProfile",
        charging_profile_kind="Relative",
        transaction_id=tx,
        charging_schedule=[schedule(i, p) for i, p in schedules],
    )


# 10 kWh wanted within 2 h, 32 A at most: 6 A (4140 W) falls short, 10 A takes 5218 s, 16 A 3261 s
SLOW, MEDIUM, FAST = (1, [(0, 6.0)]), (2, [(0, 10.0)]), (3, [(0, 16.0)])


def test_K01_FR_34_K15_FR_19_the_EV_picks_among_three_and_the_station_enforces_its_pick() -> None:
    rig, tx = session_rig()
    rig.clear()
    answer = set_profile(rig, 1, offering(tx, SLOW, FAST, MEDIUM))
    assert answer.status == "Accepted"
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.id == 3  # the need met soonest
    periods = [(p.start_period, p.limit) for p in notify.charging_schedule.charging_schedule_period]
    assert periods == [(0, 16.0), (3261, 0.0)]
    # the first schedule until the EV's pick arrived, then the pick: 6 A then 16 A on three phases
    assert [a.limit_w for a in limits(rig)] == [4140.0, 11040.0]
    composite = rig.handle(M.GetCompositeScheduleRequest(duration=600, evse_id=1, charging_rate_unit="A"))
    assert composite.schedule.charging_schedule_period[0].limit == 16.0
    # GetChargingProfiles still reports the profile as the CSMS sent it (K09)
    rig.handle(M.GetChargingProfilesRequest(request_id=1, charging_profile=D.ChargingProfileCriterionType()))
    [report] = rig.of(M.ReportChargingProfilesRequest)
    assert [s.id for s in report.charging_profile[0].charging_schedule] == [1, 3, 2]


def test_K15_FR_19_without_a_schedule_meeting_the_need_the_EV_takes_the_most_energy() -> None:
    needs = EvChargingNeeds(50_000.0, max_current_a=32.0, departure_s=3600)
    rig, tx = session_rig(needs=needs)
    rig.clear()
    later_but_more = (5, [(0, 6.0), (600, 20.0)])  # 1 h: 690 Wh + 11500 Wh, against 11040 Wh at 16 A
    assert set_profile(rig, 1, offering(tx, FAST, later_but_more)).status == "Accepted"
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.id == 5
    assert [a.limit_w for a in limits(rig)] == [11040.0, 4140.0]


def test_K16_a_renegotiation_offering_two_moves_the_pick() -> None:
    rig, tx = session_rig()
    set_profile(rig, 1, offering(tx, SLOW, FAST))
    rig.clear()
    assert set_profile(rig, 1, offering(tx, (7, [(0, 8.0)]), (8, [(0, 12.0)]))).status == "Accepted"
    [notify] = rig.of(M.NotifyEVChargingScheduleRequest)
    assert notify.charging_schedule.id == 8
    assert [a.limit_w for a in limits(rig)] == [5520.0, 8280.0]
    assert [e.trigger_reason for e in rig.events()] == ["ChargingRateChanged"]  # K16.FR.11: 16 A before


def test_K01_FR_34_more_than_one_schedule_rejected_without_ISO15118() -> None:
    rig, tx = running_rig()  # an IEC 61851 EV: no NotifyEVChargingNeeds for this transaction
    answer = set_profile(rig, 1, offering(tx, SLOW, FAST))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "TooManySchedules")
    assert set_profile(rig, 1, offering(tx, FAST)).status == "Accepted"


def test_K01_FR_34_rejected_when_the_needs_never_reached_the_CSMS() -> None:
    rig = make_rig(answer=answering("Accepted"))
    assert set_var(rig, "ISO15118Ctrlr", "Enabled", "false") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, EvChargingNeeds(10_000.0, max_current_a=32.0))
    rig.do("token_presented", "TAG1")
    tx = rig.core.transaction(1)
    assert tx is not None
    assert not rig.of(M.NotifyEVChargingNeedsRequest)
    answer = set_profile(rig, 1, offering(tx.id, SLOW, FAST))
    assert answer.status_info.reason_code == "TooManySchedules"


def test_K01_FR_34_the_needs_of_an_earlier_transaction_do_not_count() -> None:
    rig, tx = session_rig()
    rig.do("token_presented", "TAG1")  # ends the transaction
    rig.do("token_presented", "TAG1")  # a new one, the EV still plugged, its needs not stated again
    new = rig.core.transaction(1)
    assert new is not None
    assert new.id != tx
    answer = set_profile(rig, 1, offering(new.id, SLOW, FAST))
    assert answer.status_info.reason_code == "TooManySchedules"


@pytest.mark.parametrize(
    ("schedules", "reason"),
    [
        ([(1, [(0, 6.0)]), (1, [(0, 16.0)])], "InvalidSchedule"),  # the EV names its pick by id
        ([(1, [(0, 6.0)]), (2, [(60, 16.0)])], "InvalidSchedule"),  # K01.FR.31 in the second one
        ([(1, [(0, 6.0)]), (2, [(i * 60, 6.0) for i in range(25)])], "TooManyPeriods"),
    ],
)
def test_K01_FR_34_each_offered_schedule_is_checked(
    schedules: list[tuple[int, Periods]], reason: str
) -> None:
    rig, tx = session_rig()
    rig.clear()
    answer = set_profile(rig, 1, offering(tx, *schedules))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", reason)
    assert not rig.of(M.NotifyEVChargingScheduleRequest)
    assert not rig.core.ctx.get(SmartCharging).installed


def test_K15_FR_07_at_most_three_schedules() -> None:
    raw = offering("tx", SLOW, MEDIUM, FAST, (4, [(0, 8.0)]))
    caps = validation.Capabilities(frozenset({1}), frozenset(RateUnit), 10, 24)
    profile = replace(wire.from_2x(raw, 1), transaction_id="tx")
    verdict = validation.check_offer(profile, wire.schedules_2x(raw), iso15118=True, caps=caps)
    assert verdict.reason == "TooManySchedules"
    three = wire.schedules_2x(raw)[:3]
    assert validation.check_offer(profile, three, iso15118=True, caps=caps).accepted
    assert not validation.check_offer(profile, three, iso15118=False, caps=caps).accepted


# ---------------------------------------------------------------------- the EV's pick (pure)
START = datetime(2026, 1, 1, tzinfo=UTC)
EV = EvLimits(max_current_a=16.0, max_power_w=None, max_voltage_v=400.0, energy_wh=11_040.0, dc=False)


def flat(amps: float, duration: int = 7200) -> Composite:
    return Composite(START, duration, RateUnit.AMPERE, (Interval(0, amps, 3),))


def test_K15_FR_19_pick_the_need_met_soonest() -> None:
    # 16 A meets 11040 Wh in one hour, 8 A in two: the EV's own maximum caps the 32 A offer at 16 A
    assert pick([(1, flat(8.0)), (2, flat(32.0)), (3, flat(16.0))], EV, 24) == (
        2,
        [EvPeriod(0, 16.0), EvPeriod(3600, 0.0)],
    )


def test_K15_FR_19_pick_the_most_energy_before_departure_then_the_first_offered() -> None:
    short = flat(16.0, duration=1800)  # half the need before departure
    assert pick([(1, short), (2, flat(6.0, duration=1800))], EV, 24)[0] == 1
    assert pick([(4, flat(20.0)), (5, flat(16.0))], EV, 24)[0] == 4  # the same for the EV: the first


def test_pick_with_a_single_offer_is_the_EVs_profile_within_it() -> None:
    assert pick([(9, flat(8.0, duration=600))], EV, 24) == (9, [EvPeriod(0, 8.0)])


def test_K01_FR_27_the_EVs_pick_outlasts_a_reboot_that_resumes_the_transaction() -> None:
    rig, _ = rig21()
    resume_on(rig)
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, EvChargingNeeds(10_000.0, max_current_a=32.0, departure_s=7200))
    rig.do("token_presented", "T1")
    tx = rig.core.transaction(1)
    assert tx is not None
    assert rig.of(M21.NotifyEVChargingNeedsRequest)
    d21 = v21.datatypes
    offered = d21.ChargingProfileType(
        id=20,
        stack_level=0,
        charging_profile_purpose="TxProfile",
        charging_profile_kind="Relative",
        transaction_id=tx.id,
        charging_schedule=[
            d21.ChargingScheduleType(
                id=i,
                charging_rate_unit="A",
                charging_schedule_period=[d21.ChargingSchedulePeriodType(start_period=0, limit=x)],
            )
            for i, x in ((1, 6.0), (2, 16.0))
        ],
    )
    assert rig.handle(M21.SetChargingProfileRequest(evse_id=1, charging_profile=offered)).status == "Accepted"
    assert [a.limit_w for a in limits(rig)] == [4140.0, 11040.0]
    reset(rig)
    after = reboot(rig, after_s=5)
    assert after.core.transaction(1) is not None
    # the picked 16 A, not the first schedule's 6 A
    assert after.core.ctx.get(SmartCharging).limit_w(1, after.now) == 11040.0
