"""Metering (J01-J02): periodic and clock-aligned meter values."""

from __future__ import annotations

from tests.station.core.helpers import M, charge, make_rig, set_var


def test_j02_periodic_meter_values_during_transaction() -> None:
    rig = make_rig()
    set_var(rig, "SampledDataCtrlr", "TxUpdatedInterval", "60")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig, energy=100.0)
    rig.clear()
    rig.advance(60)
    (periodic,) = rig.events()
    assert periodic.trigger_reason == "MeterValuePeriodic"
    sampled = {s.measurand: s.value for s in periodic.meter_value[0].sampled_value}
    assert sampled == {"Energy.Active.Import.Register": 100.0, "Power.Active.Import": 7000.0}
    assert periodic.meter_value[0].sampled_value[0].context == "Sample.Periodic"


def test_j01_clock_aligned_meter_values_when_idle() -> None:
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "Interval", "900")
    rig.advance(1)  # arms the aligned timer
    rig.clear()
    rig.advance(900)
    (values,) = rig.of(M.MeterValuesRequest)
    assert values.meter_value[0].sampled_value[0].context == "Sample.Clock"
    assert values.meter_value[0].timestamp.endswith(":15:00Z")
