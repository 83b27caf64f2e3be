"""Resuming transactions on the station (2.1 B13 Reset ImmediateAndResume, E17 after a power loss)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import StationLayout
from chargeplane.station.core.model import Reboot, SetContactor, SetLock
from chargeplane.station.core.station import StationCore
from tests.station.core.helpers import Rig, charge
from tests.station.core.test_tx_limits import M21, Csms, events, put, rig21


def resume_on(rig: Rig, timeout: str = "60", allow: str = "true") -> None:
    put(rig, "TxCtrlr", "ResumptionTimeout", timeout)
    put(rig, "TxCtrlr", "AllowEnergyTransferResumption", allow)


def charging(rig: Rig) -> str:
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig, energy=1000, power=11000)
    tx = rig.core.transaction(1)
    assert tx is not None
    assert tx.charging_state == "Charging"
    return tx.id


def reboot(rig: Rig, after_s: float, plugged: bool = True) -> Rig:
    """The same storage in a new core ``after_s`` later (the EV sensed again right after boot, as the
    runtime does), online."""
    now = rig.now + timedelta(seconds=after_s)
    core = StationCore(Version.V21, rig.storage, now, StationLayout(connectors=(1,)))
    fresh = Rig(core, rig.storage, now=now, answer=Csms())
    if plugged:
        core.ev_plugged(1, 1, now)
    fresh.do("connection_opened")
    fresh.advance(0)
    return fresh


def reset(rig: Rig) -> Any:
    return rig.handle(M21.ResetRequest(type="ImmediateAndResume"))


def test_B13_FR_01_rejected_without_resumption() -> None:
    rig, _ = rig21()
    assert reset(rig).status == "Rejected"


def test_B13_FR_02_accepted_without_transactions_reboots() -> None:
    rig, _ = rig21()
    resume_on(rig)
    assert reset(rig).status == "Accepted"
    assert any(isinstance(a, Reboot) for a in rig.actions)


def test_B13_FR_03_04_20_23_30_reset_and_resume_keeps_the_transaction() -> None:
    rig, _ = rig21()
    resume_on(rig)
    tx_id = charging(rig)
    rig.clear()
    assert reset(rig).status == "Accepted"
    cut = events(rig)
    assert [(e.event_type, e.trigger_reason) for e in cut] == [("Updated", "ResetCommand")]  # B13.FR.04
    assert SetContactor(1, False) in rig.actions
    assert SetLock(1, 1, False) in rig.actions
    assert any(isinstance(a, Reboot) for a in rig.actions)  # B13.FR.21
    # B13.FR.23: resumed even when the reboot took longer than the timeout
    after = reboot(rig, after_s=600)
    resumed = [e for e in events(after) if e.trigger_reason == "TxResumed"]
    assert len(resumed) == 1
    assert resumed[0].transaction_info.transaction_id == tx_id
    assert resumed[0].seq_no == cut[-1].seq_no + 1  # the same numbering goes on
    assert resumed[0].transaction_info.charging_state == "Charging"  # B13.FR.24
    assert SetContactor(1, True) in after.actions
    assert SetLock(1, 1, True) in after.actions
    assert not [e for e in events(after) if e.event_type == "Ended"]
    after.do("ev_unplugged", 1)
    assert events(after)[-1].event_type == "Ended"


def test_B13_FR_25_resumed_without_energy_when_not_allowed() -> None:
    rig, _ = rig21()
    resume_on(rig, allow="false")
    charging(rig)
    reset(rig)
    after = reboot(rig, after_s=5)
    resumed = [e for e in events(after) if e.trigger_reason == "TxResumed"]
    assert resumed[0].transaction_info.charging_state == "SuspendedEVSE"
    assert SetContactor(1, True) not in after.actions


def test_E17_FR_10_14_power_loss_within_the_timeout_resumes() -> None:
    rig, _ = rig21()
    resume_on(rig, timeout="60")
    tx_id = charging(rig)
    rig.advance(25)  # the station records it is up (E17.FR.02)
    after = reboot(rig, after_s=50)  # the power came back 25 s after the last record
    resumed = [e for e in events(after) if e.trigger_reason == "TxResumed"]
    assert [e.transaction_info.transaction_id for e in resumed] == [tx_id]
    assert resumed[0].transaction_info.charging_state == "Charging"  # E17.FR.11


def test_E17_FR_18_energy_resumes_after_a_random_delay_within_the_range() -> None:
    rig, _ = rig21()
    resume_on(rig, timeout="60")
    put(rig, "TxCtrlr", "EnergyTransferResumptionRandomRange", "30")
    charging(rig)
    rig.advance(25)
    after = reboot(rig, after_s=30)
    resumed = [e for e in events(after) if e.trigger_reason == "TxResumed"]
    assert resumed[0].transaction_info.charging_state == "SuspendedEVSE"  # no energy yet
    assert SetContactor(1, True) not in after.actions
    after.advance(30)  # at most the range later
    assert SetContactor(1, True) in after.actions
    charge(after, energy=1200, power=11000)
    assert after.core.transaction(1).charging_state == "Charging"  # type: ignore[union-attr]


def test_E17_FR_18_no_delay_by_default() -> None:
    rig, _ = rig21()
    resume_on(rig, timeout="60")
    charging(rig)
    rig.advance(25)
    after = reboot(rig, after_s=30)
    assert SetContactor(1, True) in after.actions


def test_E17_FR_20_21_power_loss_beyond_the_timeout_ends() -> None:
    rig, _ = rig21()
    resume_on(rig, timeout="60")
    charging(rig)
    after = reboot(rig, after_s=61)
    ended = [e for e in events(after) if e.event_type == "Ended"]
    assert len(ended) == 1
    assert ended[0].trigger_reason == "AbnormalCondition"
    assert ended[0].transaction_info.stopped_reason == "PowerLoss"
    assert not [e for e in events(after) if e.trigger_reason == "TxResumed"]


def test_E17_FR_17_ev_gone_with_the_stop_point_met_ends_normally() -> None:
    rig, _ = rig21()
    resume_on(rig)
    charging(rig)
    after = reboot(rig, after_s=5, plugged=False)
    ended = [e for e in events(after) if e.event_type == "Ended"]
    assert len(ended) == 1
    assert ended[0].transaction_info.stopped_reason == "EVDisconnected"


def test_E17_FR_16_ev_gone_without_the_stop_point_resumes_idle() -> None:
    rig, _ = rig21()
    resume_on(rig)
    put(rig, "TxCtrlr", "TxStopPoint", "Authorized")
    put(rig, "TxCtrlr", "StopTxOnEVSideDisconnect", "false")
    charging(rig)
    after = reboot(rig, after_s=5, plugged=False)
    resumed = [e for e in events(after) if e.trigger_reason == "TxResumed"]
    assert resumed[0].transaction_info.charging_state == "Idle"
    assert not [e for e in events(after) if e.event_type == "Ended"]


def test_no_resumption_configured_ends_as_before() -> None:
    rig, _ = rig21()
    charging(rig)
    after = reboot(rig, after_s=5)
    assert [e.transaction_info.stopped_reason for e in events(after) if e.event_type == "Ended"] == [
        "PowerLoss"
    ]
