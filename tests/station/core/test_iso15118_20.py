"""ISO 15118-20 control modes on the station (2.1 K18 scheduled, K19 dynamic, K20 new needs); the -2 flow
(K15-K17) is tested in test_iso15118_charging.py and stays as it was."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET

from chargeplane.ocpp.versions import Version
from chargeplane.station.core.iso15118_charging import Iso15118Charging
from chargeplane.station.core.model import EvChargingNeeds, OfferPrices, SetPowerLimit
from tests.station.core.helpers import Rig, charge, make_rig
from tests.station.core.test_dynamic_priority import D21, M21, answer21, profile21, set21


def answering(status: str) -> Any:
    def answer(request: Any, now: datetime) -> Any:
        if isinstance(request, M21.NotifyEVChargingNeedsRequest):
            return M21.NotifyEVChargingNeedsResponse(status=status)
        if isinstance(request, M21.NotifyEVChargingScheduleRequest):
            return M21.NotifyEVChargingScheduleResponse(status="Accepted")
        return answer21(request, now)

    return answer


def session(mode: str, status: str = "Accepted") -> tuple[Rig, str]:
    rig = make_rig(version=Version.V21, answer=answering(status), connectors=(1,))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    tx = rig.core.transaction(1)
    assert tx is not None
    rig.do("ev_charging_needs", 1, EvChargingNeeds(20_000.0, departure_s=3600, control_mode=mode))
    return rig, tx.id


def tx_profile(tx: str, limits: list[float]) -> D21.ChargingProfileType:
    base = profile21(7, purpose="TxProfile", kind="Relative", tx=tx)
    schedules = [
        D21.ChargingScheduleType(
            id=n + 1,
            charging_rate_unit="W",
            charging_schedule_period=[D21.ChargingSchedulePeriodType(start_period=0, limit=limit)],
        )
        for n, limit in enumerate(limits)
    ]
    return D21.ChargingProfileType(
        id=base.id,
        stack_level=0,
        charging_profile_purpose="TxProfile",
        charging_profile_kind="Relative",
        transaction_id=tx,
        charging_schedule=schedules,
    )


def test_K18_FR_01_06_K19_FR_01_06_needs_carry_the_control_mode_and_v2x_parameters() -> None:
    for mode in ("ScheduledControl", "DynamicControl"):
        rig, _ = session(mode)
        [needs] = rig.of(M21.NotifyEVChargingNeedsRequest)
        assert needs.charging_needs.control_mode == mode
        parameters = needs.charging_needs.v2x_charging_parameters
        assert parameters.ev_target_energy_request == 20_000
        assert needs.charging_needs.ac_charging_parameters is UNSET  # K18.FR.06: instead of AC / DC


def test_K18_FR_10_scheduled_mode_names_the_schedule_the_EV_picked() -> None:
    rig, tx = session("ScheduledControl")
    assert set21(rig, 1, tx_profile(tx, [3000.0, 6000.0])).status == "Accepted"
    [schedule] = rig.of(M21.NotifyEVChargingScheduleRequest)
    assert schedule.selected_charging_schedule_id == schedule.charging_schedule.id
    assert schedule.selected_charging_schedule_id in (1, 2)


def test_K19_FR_10_dynamic_mode_sends_the_csms_schedule_not_the_EVs_profile() -> None:
    rig, tx = session("DynamicControl")
    assert set21(rig, 1, tx_profile(tx, [4000.0])).status == "Accepted"
    [schedule] = rig.of(M21.NotifyEVChargingScheduleRequest)
    assert schedule.selected_charging_schedule_id == 1
    assert [p.limit for p in schedule.charging_schedule.charging_schedule_period] == [4000.0]
    assert [a for a in rig.actions if isinstance(a, SetPowerLimit)][-1].limit_w == 4000.0


def test_K18_FR_04_K19_FR_04_no_charging_profile_charges_on_the_stations_own_limits() -> None:
    rig, _ = session("ScheduledControl", status="NoChargingProfile")
    assert rig.core.transaction(1) is not None
    assert rig.of(M21.NotifyEVChargingScheduleRequest) == []


def test_K19_FR_15_16_rejected_energy_transfer_ends_the_transaction() -> None:
    rig, tx = session("DynamicControl", status="Rejected")
    assert rig.core.transaction(1) is None
    ended = [e for e in rig.of(M21.TransactionEventRequest) if e.event_type == "Ended"]
    assert ended[-1].transaction_info.stopped_reason == "ReqEnergyTransferRejected"
    assert ended[-1].trigger_reason == "AbnormalCondition"
    assert ended[-1].transaction_info.transaction_id == tx


def test_K20_FR_01_03_new_needs_are_sent_again_and_a_new_profile_is_followed() -> None:
    rig, tx = session("DynamicControl")
    set21(rig, 1, tx_profile(tx, [4000.0]))
    rig.do("ev_charging_needs", 1, EvChargingNeeds(30_000.0, departure_s=1800, control_mode="DynamicControl"))
    needs = rig.of(M21.NotifyEVChargingNeedsRequest)
    assert len(needs) == 2
    assert needs[1].charging_needs.v2x_charging_parameters.ev_target_energy_request == 30_000
    set21(rig, 1, tx_profile(tx, [7000.0]))
    assert (
        rig.of(M21.NotifyEVChargingScheduleRequest)[-1].charging_schedule.charging_schedule_period[0].limit
        == 7000.0
    )


def test_K18_FR_17_K19_FR_13_tx_profile_before_the_needs_is_out_of_sequence() -> None:
    for mode in ("ScheduledControl", "DynamicControl"):
        rig = make_rig(version=Version.V21, answer=answering("Accepted"), connectors=(1,))
        rig.do("ev_plugged", 1, 1)
        rig.do("ev_hlc_started", 1, mode)  # an ISO 15118-20 EV: its needs are still to come
        rig.do("token_presented", "TAG1")
        tx = rig.core.transaction(1)
        assert tx is not None
        early = set21(rig, 1, tx_profile(tx.id, [4000.0]))
        assert (early.status, early.status_info.reason_code) == ("Rejected", "InvalidMessageSeq")
        assert len(early.status_info.reason_code) <= 20  # what the 2.1 schema allows
        rig.do("ev_charging_needs", 1, EvChargingNeeds(20_000.0, control_mode=mode))
        assert len(rig.of(M21.NotifyEVChargingNeedsRequest)) == 1
        assert set21(rig, 1, tx_profile(tx.id, [4000.0])).status == "Accepted"  # in sequence now
        assert len(rig.of(M21.NotifyEVChargingScheduleRequest)) == 1


def test_K18_FR_17_only_for_an_announced_ISO_15118_20_EV_and_a_TxProfile() -> None:
    rig = make_rig(version=Version.V21, answer=answering("Accepted"), connectors=(1,))
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")  # a basic EV: no needs will come
    tx = rig.core.transaction(1)
    assert tx is not None
    assert set21(rig, 1, tx_profile(tx.id, [4000.0])).status == "Accepted"
    rig = make_rig(version=Version.V21, answer=answering("Accepted"), connectors=(1,))
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_hlc_started", 1, "DynamicControl")
    rig.do("token_presented", "TAG1")
    assert set21(rig, 0, profile21(3, kind="Relative", limit=5000.0)).status == "Accepted"  # TxDefault
    rig.do("ev_unplugged", 1)
    assert rig.core.ctx.get(Iso15118Charging).announced == {}


def test_K19_FR_09_the_price_schedule_goes_to_the_EV_and_K18_FR_07_one_per_offered_schedule() -> None:
    prices = D21.AbsolutePriceScheduleType(
        time_anchor="2026-01-01T00:00:00Z",
        price_schedule_id=5,
        currency="EUR",
        language="en",
        price_algorithm="urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Power",
        price_rule_stacks=[
            D21.PriceRuleStackType(
                duration=3600,
                price_rule=[
                    D21.PriceRuleType(
                        energy_fee=D21.RationalNumberType(exponent=-2, value=25),
                        power_range_start=D21.RationalNumberType(exponent=0, value=0),
                    )
                ],
            )
        ],
    )

    def priced(tx: str, limits: list[float]) -> D21.ChargingProfileType:
        plain = tx_profile(tx, limits)
        schedules = [
            msgspec.structs.replace(s, absolute_price_schedule=prices) if s.id == 1 else s
            for s in plain.charging_schedule
        ]
        return msgspec.structs.replace(plain, charging_schedule=schedules)

    rig, tx = session("DynamicControl")
    assert set21(rig, 1, priced(tx, [4000.0])).status == "Accepted"
    [offer] = [a for a in rig.actions if isinstance(a, OfferPrices)]
    assert (offer.evse_id, offer.schedule_id, offer.prices) == (1, 1, prices)
    rig, tx = session("ScheduledControl")
    assert set21(rig, 1, priced(tx, [3000.0, 6000.0])).status == "Accepted"
    assert [(a.schedule_id, a.prices) for a in rig.actions if isinstance(a, OfferPrices)] == [(1, prices)]
    rig, tx = session("DynamicControl")
    set21(rig, 1, tx_profile(tx, [4000.0]))  # no prices from the CSMS: nothing to hand over
    assert [a for a in rig.actions if isinstance(a, OfferPrices)] == []


def test_K20_scenario_3_new_departure_at_the_station_is_stated_as_new_needs() -> None:
    rig, tx = session("DynamicControl")
    set21(rig, 1, tx_profile(tx, [4000.0]))
    charge(rig, 1, energy=rig.core.ctx.evses[1].meter.energy_wh + 5_000.0)  # 5 kWh delivered meanwhile
    needs = rig.core.departure_changed(1, 900, rig.now)
    rig.pump()
    assert needs is not None
    assert (needs.departure_s, needs.energy_wh) == (900, 15_000.0)  # what it still wants
    sent = rig.of(M21.NotifyEVChargingNeedsRequest)
    assert len(sent) == 2  # K20.FR.01
    assert sent[1].charging_needs.v2x_charging_parameters.ev_target_energy_request == 15_000
    assert sent[1].charging_needs.departure_time != sent[0].charging_needs.departure_time
    rig, _ = session("ScheduledControl")  # scheduled control: the EV itself renegotiates (K20.FR.02)
    assert rig.core.departure_changed(1, 900, rig.now) is None
    assert len(rig.of(M21.NotifyEVChargingNeedsRequest)) == 1
