"""An external system's (EMS) V2X limits and schedules on a 2.1 station (Q05.FR.02/06, Q06): single limits
with a dischargeLimit as a Dynamic external constraints profile or into the CSMS's ExternalLimits period,
schedules of limits or setpoints as Absolute ones, notified to the CSMS, refused when disallowed."""

from __future__ import annotations

import msgspec
import pytest

from chargeplane.smart_charging.model import Kind, Purpose
from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.external_v2x import ExternalPeriod
from chargeplane.station.core.smart_charging import Installed, SmartCharging
from tests.station.core.helpers import Rig
from tests.station.core.test_v2x import (
    D21,
    M21,
    central,
    meter,
    period,
    profile,
    session,
    set_profile,
    setpoints,
)


def external_profiles(rig: Rig) -> list[Installed]:
    smart = rig.core.ctx.get(SmartCharging)
    return [i for i in smart.installed if i.profile.purpose is Purpose.EXTERNAL_CONSTRAINTS]


def test_Q06_FR_02_FR_05_FR_11_single_limits_hold_discharging_and_are_notified() -> None:
    rig, tx = session()
    assert set_profile(rig, profile([central(-5000.0)], tx=tx)).status == "Accepted"
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == -5000.0
    rig.do("external_limits", 1, 3000.0, -2000.0)
    assert setpoints(rig)[-1].setpoint_w == -2000.0  # Q06.FR.05: no deeper than the EMS's dischargeLimit
    [installed] = external_profiles(rig)
    assert installed.profile.kind is Kind.DYNAMIC
    assert isinstance(installed.wire, D21.ChargingProfileType)
    assert installed.wire.dyn_update_time  # Q06.FR.07
    [notice] = rig.of(M21.NotifyChargingLimitRequest)
    assert notice.charging_limit.charging_limit_source == "EMS"
    [sent] = notice.charging_schedule[0].charging_schedule_period
    assert (sent.operation_mode, sent.limit, sent.discharge_limit) == ("ExternalLimits", 3000.0, -2000.0)
    # Q06.FR.12: within LimitChangeSignificance (1 %): not notified again; beyond: notified
    rig.do("external_limits", 1, 3010.0, -2000.0)
    assert len(rig.of(M21.NotifyChargingLimitRequest)) == 1
    rig.do("external_limits", 1, 3010.0, -1000.0)
    assert len(rig.of(M21.NotifyChargingLimitRequest)) == 2
    assert setpoints(rig)[-1].setpoint_w == -1000.0
    # both None: lifted (K13), the CSMS's setpoint again
    rig.do("external_limits", 1, None, None)
    assert external_profiles(rig) == []
    assert rig.of(M21.ClearedChargingLimitRequest)
    assert setpoints(rig)[-1].setpoint_w == -5000.0


def test_Q06_FR_30_limits_on_EVSE_0_are_shared_by_the_running_sessions() -> None:
    rig, tx = session()
    assert set_profile(rig, profile([central(-5000.0)], tx=tx)).status == "Accepted"
    meter(rig)
    rig.do("external_limits", 0, None, -3000.0)  # one transaction: all of it
    assert setpoints(rig)[-1].setpoint_w == -3000.0


def test_Q06_FR_08_disallowed_external_limits_are_refused() -> None:
    rig, _ = session()
    key = VariableKey("SmartChargingCtrlr", "ExternalConstraintsProfileDisallowed")
    rig.core.model.put(key, "true", persist=True)
    assert not rig.core.external_limits(1, 3000.0, -2000.0, rig.now)
    assert not rig.core.external_schedule(1, "ExternalSetpoint", [ExternalPeriod(0, setpoint=1.0)], rig.now)
    assert external_profiles(rig) == []


def test_Q05_FR_02_FR_06_the_CSMS_ExternalLimits_period_takes_both_limits() -> None:
    rig, _ = session()
    limits = period(operation_mode="ExternalLimits", limit=11_000.0)
    dynamic = msgspec.structs.replace(
        profile([limits], purpose="TxDefaultProfile", id=7), charging_profile_kind="Dynamic"
    )
    assert set_profile(rig, dynamic).status == "Accepted"
    rig.do("external_limits", 1, 4000.0, -1500.0)
    assert external_profiles(rig) == []  # into the CSMS's profile, not one of the station's own
    smart = rig.core.ctx.get(SmartCharging)
    [installed] = [i for i in smart.installed if i.profile.id == 7]
    raw = installed.wire
    assert isinstance(raw, D21.ChargingProfileType)
    [updated] = raw.charging_schedule[0].charging_schedule_period
    assert (updated.limit, updated.discharge_limit) == (4000.0, -1500.0)
    assert raw.dyn_update_time  # Q05.FR.06


def test_Q06_FR_01_FR_03_FR_10_schedules_follow_their_periods() -> None:
    rig, tx = session()
    assert set_profile(rig, profile([central(-5000.0)], tx=tx)).status == "Accepted"
    meter(rig)
    schedule = [ExternalPeriod(0, discharge_limit=-4000.0), ExternalPeriod(60, discharge_limit=-1000.0)]
    rig.do("external_schedule", 1, "ExternalLimits", schedule)
    [installed] = external_profiles(rig)
    assert installed.profile.kind is Kind.ABSOLUTE
    notice = rig.of(M21.NotifyChargingLimitRequest)[-1]
    assert [p.discharge_limit for p in notice.charging_schedule[0].charging_schedule_period] == [
        -4000.0,
        -1000.0,
    ]
    assert setpoints(rig)[-1].setpoint_w == -4000.0
    rig.advance(61)
    meter(rig)
    assert setpoints(rig)[-1].setpoint_w == -1000.0
    # a setpoint schedule replaces it: the EMS's setpoints win (SetpointPriority ExternalSystem, Q06.FR.21)
    rig.do("external_schedule", 1, "ExternalSetpoint", [ExternalPeriod(0, setpoint=2500.0)])
    assert setpoints(rig)[-1].setpoint_w == 2500.0
    with pytest.raises(ValueError, match="ascending"):
        rig.core.external_schedule(1, "ExternalLimits", [ExternalPeriod(0), ExternalPeriod(0)], rig.now)
    with pytest.raises(ValueError, match="ExternalLimits or ExternalSetpoint"):
        rig.core.external_schedule(1, "CentralSetpoint", [ExternalPeriod(0)], rig.now)
