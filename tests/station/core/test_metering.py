"""Metering (J01-J02): periodic and clock-aligned meter values."""

from __future__ import annotations

from chargeplane.station.core.model import MeterReading
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


def test_j02_reactive_power_metered_import_when_inductive_export_when_capacitive() -> None:
    """The reactive power an EV exchanges (a V2X setpointReactive it follows) as Power.Reactive.Import /
    Export: each measurand carries its direction's magnitude (var), the other side 0."""
    rig = make_rig()
    set_var(rig, "SampledDataCtrlr", "TxUpdatedInterval", "60")
    measurands = "Energy.Active.Import.Register,Power.Reactive.Import,Power.Reactive.Export"
    set_var(rig, "SampledDataCtrlr", "TxUpdatedMeasurands", measurands)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    for reactive, expected in ((-400.0, (0.0, 400.0)), (250.0, (250.0, 0.0))):
        rig.do("update_meter", 1, MeterReading(energy_wh=100.0, power_w=7000.0, reactive_var=reactive))
        rig.clear()
        rig.advance(60)
        (periodic,) = rig.events()
        sampled = {
            s.measurand: (s.value, s.unit_of_measure.unit) for s in periodic.meter_value[0].sampled_value
        }
        assert sampled["Power.Reactive.Import"] == (expected[0], "var")
        assert sampled["Power.Reactive.Export"] == (expected[1], "var")


def test_j01_clock_aligned_meter_values_when_idle() -> None:
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "Interval", "900")
    rig.advance(1)  # arms the aligned timer
    rig.clear()
    rig.advance(900)
    (values,) = rig.of(M.MeterValuesRequest)
    assert values.meter_value[0].sampled_value[0].context == "Sample.Clock"
    assert values.meter_value[0].timestamp.endswith(":15:00Z")


def test_j01_a_new_aligned_interval_applies_at_once() -> None:
    """A shorter AlignedDataCtrlr.Interval does not wait for the deadline of the old one (TC_J_01_CS)."""
    rig = make_rig()
    rig.advance(1)  # the default interval (900 s) is scheduled
    set_var(rig, "AlignedDataCtrlr", "Interval", "10")
    rig.clear()
    rig.advance(20)
    values = rig.of(M.MeterValuesRequest)
    assert [v.meter_value[0].timestamp for v in values] == ["2026-01-01T12:00:10Z", "2026-01-01T12:00:20Z"]


def test_j01_send_during_idle_holds_aligned_values_during_a_transaction() -> None:
    """AlignedDataCtrlr.SendDuringIdle true: no clock-aligned values while a transaction is ongoing (TC_J_06)."""
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "Interval", "10")
    set_var(rig, "AlignedDataCtrlr", "SendDuringIdle", "true")
    rig.advance(1)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    rig.clear()
    rig.advance(30)
    assert rig.of(M.MeterValuesRequest) == []
    assert [e for e in rig.events() if e.trigger_reason == "MeterValueClock"] == []


def test_j02_tx_ended_interval_readings_go_in_the_ended_event() -> None:
    """SampledDataCtrlr.TxEndedInterval: periodic readings kept for the Ended event, then Transaction.End."""
    rig = make_rig()
    set_var(rig, "SampledDataCtrlr", "TxEndedInterval", "10")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    rig.advance(25)
    rig.clear()
    rig.do("ev_unplugged", 1)
    (ended,) = [e for e in rig.events() if e.event_type == "Ended"]
    contexts = [v.sampled_value[0].context for v in ended.meter_value]
    assert contexts == ["Sample.Periodic", "Sample.Periodic", "Transaction.End"]


def test_j01_aligned_tx_ended_readings_go_in_the_ended_event() -> None:
    """AlignedDataCtrlr.TxEndedInterval: clock-aligned readings kept for the Ended event (TC_J_03_CS)."""
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "TxEndedInterval", "10")
    set_var(rig, "SampledDataCtrlr", "TxEndedMeasurands", "")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    rig.advance(25)
    rig.clear()
    rig.do("ev_unplugged", 1)
    (ended,) = [e for e in rig.events() if e.event_type == "Ended"]
    assert [v.sampled_value[0].context for v in ended.meter_value] == ["Sample.Clock", "Sample.Clock"]
    assert [v.timestamp for v in ended.meter_value] == ["2026-01-01T12:00:10Z", "2026-01-01T12:00:20Z"]


def test_j01_aligned_values_disabled_leave_no_timer_due() -> None:
    """AlignedDataCtrlr.Enabled false: nothing clock-aligned is scheduled (no timer due again and again)."""
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "Enabled", "false")
    set_var(rig, "AlignedDataCtrlr", "TxEndedInterval", "10")
    deadline = rig.core.next_deadline()
    assert deadline is None or deadline > rig.now
    rig.clear()
    rig.advance(900)
    assert rig.of(M.MeterValuesRequest) == []
