"""V2X on the station (2.1 block Q): operation modes applied by the power control, allowed energy transfer,
frequency support and aFRR, load balancing, Idle, offline fallback."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import (
    EvChargingNeeds,
    MeterReading,
    SetPowerLimit,
    SetPowerSetpoint,
    V2xAbility,
)
from chargeplane.station.core.smart_charging import SmartCharging
from chargeplane.station.core.v2x import V2x
from tests.station.core.helpers import T0, Rig, make_rig
from tests.station.core.test_tx_resume import reboot, resume_on

M21 = v21.messages
D21 = v21.datatypes
V2X_NEEDS = EvChargingNeeds(
    10_000.0, v2x=V2xAbility(max_discharge_power_w=7_000.0, max_charge_power_w=11_000.0)
)


class Csms:
    """A 2.1 CSMS: ``allowed`` goes into the Authorize answer; ``needs`` answers NotifyEVChargingNeeds."""

    def __init__(self, allowed: list[str] | None = None, needs: str = "Accepted") -> None:
        self.allowed = allowed
        self.needs = needs

    def __call__(self, request: Any, now: datetime) -> Any:
        if isinstance(request, M21.BootNotificationRequest):
            return M21.BootNotificationResponse(current_time=to_wire(now), interval=300, status="Accepted")
        if isinstance(request, M21.AuthorizeRequest):
            return M21.AuthorizeResponse(
                id_token_info=D21.IdTokenInfoType(status="Accepted"),
                allowed_energy_transfer=self.allowed if self.allowed else msgspec.UNSET,
            )
        if isinstance(request, M21.TransactionEventRequest):
            return M21.TransactionEventResponse()
        if isinstance(request, M21.NotifyEVChargingNeedsRequest):
            return M21.NotifyEVChargingNeedsResponse(status=self.needs)
        if isinstance(request, M21.NotifyEVChargingScheduleRequest):
            return M21.NotifyEVChargingScheduleResponse(status="Accepted")
        for name in ("StatusNotification", "SecurityEventNotification", "MeterValues", "NotifyEvent"):
            if type(request).__name__ == f"{name}Request":
                return getattr(M21, f"{name}Response")()
        return None


def session(
    allowed: list[str] | None = ("AC_three_phase", "AC_BPT"),  # type: ignore[assignment]
    needs: EvChargingNeeds | None = None,
    answer: str = "Accepted",
) -> tuple[Rig, str]:
    rig = make_rig(version=Version.V21, answer=Csms(list(allowed) if allowed else None, answer))
    rig.do("ev_plugged", 1, 1)
    if needs is not None:
        rig.do("ev_charging_needs", 1, needs)
    rig.do("token_presented", "TAG1")
    tx = rig.core.transaction(1)
    assert tx is not None
    return rig, tx.id


def period(start: int = 0, **fields: Any) -> D21.ChargingSchedulePeriodType:
    return D21.ChargingSchedulePeriodType(start_period=start, **fields)


def profile(
    periods: list[D21.ChargingSchedulePeriodType],
    *,
    id: int = 1,
    purpose: str = "TxProfile",
    level: int = 1,
    tx: str | None = None,
    unit: str = "W",
    **extra: Any,
) -> D21.ChargingProfileType:
    return D21.ChargingProfileType(
        id=id,
        stack_level=level,
        charging_profile_purpose=purpose,
        charging_profile_kind="Relative",
        transaction_id=tx if tx is not None else msgspec.UNSET,
        charging_schedule=[
            D21.ChargingScheduleType(id=1, charging_rate_unit=unit, charging_schedule_period=periods)
        ],
        **extra,
    )


def set_profile(rig: Rig, charging_profile: D21.ChargingProfileType, evse_id: int = 1) -> Any:
    return rig.handle(M21.SetChargingProfileRequest(evse_id=evse_id, charging_profile=charging_profile))


def meter(rig: Rig, power: float = 0.0, frequency: float | None = None, export: float = 0.0) -> None:
    reading = MeterReading(energy_wh=1000.0, power_w=power, energy_export_wh=export, frequency_hz=frequency)
    rig.do("update_meter", 1, reading)


def setpoints(rig: Rig) -> list[SetPowerSetpoint]:
    return [a for a in rig.actions if isinstance(a, SetPowerSetpoint)]


def central(setpoint: float, **fields: Any) -> D21.ChargingSchedulePeriodType:
    return period(operation_mode="CentralSetpoint", setpoint=setpoint, **fields)


def put(rig: Rig, variable: str, value: str, instance: str | None = None) -> None:
    rig.core.model.put(VariableKey("V2XChargingCtrlr", variable, None, instance), value, persist=True)


# ---------------------------------------------------------------------- Q01 / Q03 central setpoint
def test_Q01_FR_01_Q03_allowed_bidirectional_transfer_lets_the_EV_discharge_at_the_setpoint() -> None:
    rig, tx = session()
    assert set_profile(rig, profile([central(-5000.0)], tx=tx)).status == "Accepted"
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -5000.0)


def test_Q01_without_a_bidirectional_transfer_allowed_the_station_refuses_to_discharge() -> None:
    rig, tx = session(allowed=["AC_three_phase"])
    set_profile(rig, profile([central(-5000.0)], tx=tx))
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 0.0)
    rig2, tx2 = session(allowed=None)  # Q01.FR.08: none given, nothing bidirectional yet
    set_profile(rig2, profile([central(-5000.0)], tx=tx2))
    meter(rig2)
    assert setpoints(rig2)[-1] == SetPowerSetpoint(1, 0.0)


def test_V2X_04_the_setpoint_is_capped_by_dischargeLimit_and_by_the_EV() -> None:
    rig, tx = session()
    set_profile(rig, profile([central(-2000.0, discharge_limit=-3000.0)], tx=tx))
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == -2000.0
    rig2, tx2 = session(needs=V2X_NEEDS)  # the EV gives at most 7 kW
    set_profile(rig2, profile([central(-9000.0)], tx=tx2))
    meter(rig2)
    assert setpoints(rig2)[-1].setpoint_w == -7000.0


def test_V2X_05_a_setpoint_outside_dischargeLimit_to_limit_is_rejected() -> None:
    rig, tx = session()
    answer = set_profile(rig, profile([central(-750.0, limit=1000.0, discharge_limit=-500.0)], tx=tx))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidSchedule")


def test_Q03_a_positive_setpoint_charges_and_the_mode_change_ends_with_the_period() -> None:
    rig, tx = session()
    periods = [central(4000.0), period(60, operation_mode="ChargingOnly", limit=11000.0)]
    set_profile(rig, profile(periods, tx=tx))
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == 4000.0
    rig.advance(61)
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w is None  # ChargingOnly: within the limit, no setpoint


def test_Q03_V2X_only_in_TxProfile_or_TxDefaultProfile() -> None:
    rig, _ = session()
    answer = set_profile(rig, profile([central(-1000.0)], purpose="ChargingStationMaxProfile"), evse_id=0)
    assert answer.status == "Rejected"


def test_Q01_FR_35_V2X_measurands_join_the_periodic_values_in_a_V2X_mode() -> None:
    rig, tx = session()
    set_profile(rig, profile([central(-5000.0)], tx=tx))
    meter(rig, power=-5000.0, export=250.0)
    rig.clear()
    rig.advance(61)
    [updated] = [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "MeterValuePeriodic"]
    sampled = {str(s.measurand): s.value for s in updated.meter_value[0].sampled_value}
    assert sampled["Energy.Active.Export.Register"] == 250.0
    assert sampled["Power.Active.Export"] == 5000.0


# ---------------------------------------------------------------------- Q02 allowed energy transfer
def test_Q02_FR_04_FR_06_FR_07_a_V2X_EV_starts_charging_only_then_renegotiates_when_allowed() -> None:
    rig, tx = session(allowed=["AC_three_phase"], needs=V2X_NEEDS)
    [first] = rig.of(M21.NotifyEVChargingNeedsRequest)
    assert first.charging_needs.requested_energy_transfer == "AC_three_phase"
    assert set(first.charging_needs.available_energy_transfer) == {"AC_three_phase", "AC_BPT"}
    assert first.charging_needs.v2x_charging_parameters.max_discharge_power == 7000.0
    rig.clear()
    answer = rig.handle(
        M21.NotifyAllowedEnergyTransferRequest(
            transaction_id=tx, allowed_energy_transfer=["AC_three_phase", "AC_BPT"]
        )
    )
    assert answer.status == "Accepted"
    [again] = rig.of(M21.NotifyEVChargingNeedsRequest)
    assert again.charging_needs.requested_energy_transfer == "AC_BPT"
    set_profile(rig, profile([central(-3000.0)], tx=tx))
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == -3000.0


def test_Q02_FR_05_NotifyAllowedEnergyTransfer_for_an_unknown_transaction_is_rejected() -> None:
    rig, _ = session()
    answer = rig.handle(
        M21.NotifyAllowedEnergyTransferRequest(transaction_id="nope", allowed_energy_transfer=["AC_BPT"])
    )
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "TxNotFound")


def test_Q01_FR_06_a_rejected_bidirectional_request_ends_the_transaction() -> None:
    rig = make_rig(version=Version.V21, answer=Csms(["AC_three_phase", "AC_BPT"], "Rejected"))
    rig.do("ev_plugged", 1, 1)
    rig.do("ev_charging_needs", 1, V2X_NEEDS)
    rig.do("token_presented", "TAG1")
    assert rig.core.transaction(1) is None
    [ended] = [e for e in rig.of(M21.TransactionEventRequest) if e.event_type == "Ended"]
    assert ended.transaction_info.stopped_reason == "ReqEnergyTransferRejected"
    assert ended.trigger_reason == "AbnormalCondition"


# ---------------------------------------------------------------------- Q08 local frequency, aFRR
FCR = [
    D21.V2XFreqWattPointType(frequency=f, power=p)
    for f, p in ((49.8, -10000.0), (50.0, 0.0), (50.2, 10000.0))
]


def local_frequency(**fields: Any) -> D21.ChargingSchedulePeriodType:
    return period(operation_mode="LocalFrequency", v2x_baseline=0.0, v2x_freq_watt_curve=FCR, **fields)


def test_Q08_FR_03_FR_04_FR_05_local_frequency_periods_are_checked() -> None:
    rig, tx = session()
    no_curve = period(operation_mode="LocalFrequency", v2x_baseline=0.0)
    assert set_profile(rig, profile([no_curve], tx=tx)).status_info.reason_code == "NoFreqWattCurve"
    with_setpoint = local_frequency(setpoint=100.0)
    assert set_profile(rig, profile([with_setpoint], tx=tx)).status_info.reason_code == "InvalidSchedule"
    in_amperes = profile([local_frequency()], tx=tx, unit="A")
    assert set_profile(rig, in_amperes).status_info.reason_code == "InvalidSchedule"


def test_Q08_FR_06_FR_07_the_setpoint_follows_the_frequency_past_the_threshold() -> None:
    rig, tx = session()
    assert set_profile(rig, profile([local_frequency()], tx=tx)).status == "Accepted"
    meter(rig, frequency=49.9)
    assert setpoints(rig)[-1].setpoint_w == -5000.0
    meter(rig, frequency=49.905)  # 5 mHz: below LocalFrequencyUpdateThreshold (10 mHz)
    assert setpoints(rig)[-1].setpoint_w == -5000.0
    meter(rig, frequency=50.1)
    assert setpoints(rig)[-1].setpoint_w == 5000.0


def test_Q08_FR_11_an_aFRR_signal_without_a_signal_curve_is_rejected() -> None:
    rig, tx = session()
    set_profile(rig, profile([local_frequency()], tx=tx))
    answer = rig.handle(M21.AFRRSignalRequest(timestamp=to_wire(T0), signal=1))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "NoSignalWattCurve")


def test_Q08_FR_10_the_aFRR_signal_adds_from_its_timestamp() -> None:
    rig, tx = session()
    curve = [D21.V2XSignalWattPointType(signal=s, power=p) for s, p in ((-1, -2000.0), (0, 0.0), (1, 2000.0))]
    set_profile(rig, profile([local_frequency(v2x_signal_watt_curve=curve)], tx=tx))
    meter(rig, frequency=50.0)
    at = rig.now + timedelta(seconds=10)
    assert rig.handle(M21.AFRRSignalRequest(timestamp=to_wire(at), signal=-1)).status == "Accepted"
    assert setpoints(rig)[-1].setpoint_w == 0.0
    rig.advance(11)
    assert setpoints(rig)[-1].setpoint_w == -2000.0


# ---------------------------------------------------------------------- Q09 local load balancing
def test_Q09_FR_02_load_balancing_needs_its_thresholds() -> None:
    rig, tx = session()
    answer = set_profile(rig, profile([period(operation_mode="LocalLoadBalancing")], tx=tx))
    assert answer.status_info.reason_code == "MissingDevModelInfo"


def test_Q09_FR_04_FR_05_the_EV_compensates_the_upstream_load() -> None:
    rig, tx = session()
    for name, value in (("UpperThreshold", "10000"), ("LowerThreshold", "-5000"), ("UpperOffset", "0")):
        put(rig, "LocalLoadBalancing", value, name)
    put(rig, "LocalLoadBalancing", "0", "LowerOffset")
    lb = period(operation_mode="LocalLoadBalancing", discharge_limit=-6000.0)
    assert set_profile(rig, profile([lb], tx=tx)).status == "Accepted"
    rig.do("upstream_load", 14_000.0)
    assert setpoints(rig)[-1].setpoint_w == -4000.0
    rig.do("upstream_load", 13_000.0)  # still 3 kW over, on top of the EV's 4 kW: capped at dischargeLimit
    assert setpoints(rig)[-1].setpoint_w == -6000.0


# ---------------------------------------------------------------------- Q10 idle
def test_Q10_FR_02_an_idle_period_with_a_limit_is_rejected() -> None:
    rig, tx = session()
    answer = set_profile(rig, profile([period(operation_mode="Idle", limit=1000.0)], tx=tx))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "InvalidSchedule")


def test_Q10_FR_03_idle_with_evseSleep_stops_the_EV_and_sleeps_the_EVSE() -> None:
    rig, tx = session()
    set_profile(rig, profile([period(operation_mode="Idle", evse_sleep=True)], tx=tx))
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, 0.0, sleep=True)
    assert rig.core.ctx.get(V2x).sleeping(1)


# ---------------------------------------------------------------------- Q11 / Q12 offline
def offline_rig(invalid_after: bool) -> Rig:
    rig, tx = session()
    default = profile([period(limit=11000.0)], id=1, purpose="TxDefaultProfile", level=1)
    assert set_profile(rig, default, evse_id=0).status == "Accepted"
    v2x_profile = profile(
        [central(-5000.0)],
        id=2,
        level=2,
        tx=tx,
        max_offline_duration=60,
        invalid_after_offline_duration=invalid_after,
    )
    assert set_profile(rig, v2x_profile).status == "Accepted"
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == -5000.0
    rig.do("connection_closed")
    rig.advance(30)
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == -5000.0  # Q12 #1: within maxOfflineDuration nothing changes
    rig.advance(31)
    assert setpoints(rig)[-1].setpoint_w is None  # Q11: back to the next stack level (ChargingOnly)
    rig.do("connection_opened")
    return rig


def test_Q11_Q12_2_the_V2X_profile_resumes_once_online() -> None:
    rig = offline_rig(invalid_after=False)
    assert setpoints(rig)[-1].setpoint_w == -5000.0


def test_Q12_3_invalidAfterOfflineDuration_keeps_the_fallback() -> None:
    rig = offline_rig(invalid_after=True)
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w is None
    assert all(i.profile.id != 2 for i in rig.core.ctx.get(SmartCharging).installed)


def test_Q10_FR_04_FR_05_transaction_events_say_evseSleep_while_the_EVSE_sleeps() -> None:
    rig, tx = session()
    set_profile(rig, profile([period(operation_mode="Idle", evse_sleep=True)], tx=tx))
    meter(rig)
    rig.clear()
    rig.advance(61)
    [asleep] = [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "MeterValuePeriodic"]
    assert asleep.evse_sleep is True
    assert set_profile(rig, profile([central(1000.0)], tx=tx)).status == "Accepted"  # a new profile wakes it
    meter(rig)
    rig.clear()
    rig.advance(61)
    [awake] = [e for e in rig.of(M21.TransactionEventRequest) if e.trigger_reason == "MeterValuePeriodic"]
    assert awake.evse_sleep is msgspec.UNSET


def test_Q05_FR_01_an_external_setpoint_drives_an_ExternalSetpoint_period_within_its_limits() -> None:
    rig, tx = session()
    external = period(operation_mode="ExternalSetpoint", discharge_limit=-2000.0, limit=5000.0)
    assert set_profile(rig, profile([external], tx=tx)).status == "Accepted"
    meter(rig)
    assert not setpoints(rig)  # no external setpoint yet: charging within the limit
    rig.do("external_setpoint", -3000.0)
    assert setpoints(rig)[-1].setpoint_w == -2000.0  # V2X.04: capped by dischargeLimit
    rig.do("external_setpoint", None)
    assert setpoints(rig)[-1].setpoint_w is None


def test_Q01_FR_30_FR_31_FR_32_the_device_model_lists_modes_and_transfers() -> None:
    rig, _ = session()
    model = rig.core.model
    modes = set(model.members("V2XChargingCtrlr", "SupportedOperationModes"))
    assert {"ChargingOnly", "CentralSetpoint", "CentralFrequency"} <= modes
    assert "AC_BPT" in model.members("V2XChargingCtrlr", "SupportedEnergyTransferModes")


def test_V2XChargingCtrlr_Enabled_false_refuses_V2X_periods() -> None:
    rig, tx = session()
    put(rig, "Enabled", "false")
    answer = set_profile(rig, profile([central(-1000.0)], tx=tx))
    assert (answer.status, answer.status_info.reason_code) == ("Rejected", "UnsupportedParam")


def test_K01_Q11_a_charging_limit_past_its_maxOfflineDuration_sits_out_until_online() -> None:
    rig, tx = session()
    set_profile(rig, profile([period(limit=11000.0)], id=1, purpose="TxDefaultProfile", level=1), evse_id=0)
    capped = profile([period(limit=3000.0)], id=2, level=2, tx=tx, max_offline_duration=60)
    assert set_profile(rig, capped).status == "Accepted"
    limits = [a for a in rig.actions if isinstance(a, SetPowerLimit)]
    assert limits[-1].limit_w == 3000.0
    rig.do("connection_closed")
    rig.advance(61)
    limits = [a for a in rig.actions if isinstance(a, SetPowerLimit)]
    assert limits[-1].limit_w == 11000.0
    rig.do("connection_opened")
    limits = [a for a in rig.actions if isinstance(a, SetPowerLimit)]
    assert limits[-1].limit_w == 3000.0


def test_Q01_FR_02_the_started_event_carries_the_EVCCID_of_an_ISO_15118_20_EV() -> None:
    ability = V2xAbility(max_discharge_power_w=5000.0, evccid="0A1B2C3D4E5F")
    rig, _ = session(needs=EvChargingNeeds(10_000.0, v2x=ability))
    started = next(e for e in rig.of(M21.TransactionEventRequest) if e.id_token is not msgspec.UNSET)
    assert started.event_type == "Started"
    [info] = started.id_token.additional_info
    assert (info.additional_id_token, info.type) == ("0A1B2C3D4E5F", "EVCCID")


def test_Q01_the_allowed_transfers_survive_a_reset_and_resume_with_the_transaction() -> None:
    rig, tx = session()
    resume_on(rig)
    assert rig.handle(M21.ResetRequest(type="ImmediateAndResume")).status == "Accepted"
    after = reboot(rig, after_s=10)
    resumed = after.core.transaction(1)
    assert resumed is not None
    assert resumed.id == tx
    assert after.core.ctx.get(V2x).may_discharge(1)


def test_setpoint_L2_L3_and_setpointReactive_reach_the_hardware() -> None:
    rig, tx = session()
    phased = central(-3000.0, setpoint_l2=-2000.0, setpoint_l3=-1000.0, setpoint_reactive=400.0)
    assert set_profile(rig, profile([phased], tx=tx)).status == "Accepted"
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -6000.0, False, (-3000.0, -2000.0, -1000.0), 400.0)
    # the EV can give 4.5 kW only: every phase in proportion
    needs = EvChargingNeeds(10_000.0, v2x=V2xAbility(max_discharge_power_w=4_500.0))
    rig.do("ev_charging_needs", 1, needs)
    meter(rig)
    assert setpoints(rig)[-1] == SetPowerSetpoint(1, -4500.0, False, (-2250.0, -1500.0, -750.0), 400.0)
