"""Reset of one EVSE (B11/B12 with evseId; 2.1 B13.FR.10-14): the EVSE restarts, the station and the other
EVSEs do not."""

from __future__ import annotations

from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.evse_reset import RESET_TIME
from chargeplane.station.core.model import Reboot, SetContactor
from tests.station.core.helpers import D, M, Rig, charge, make_rig
from tests.station.core.test_tx_limits import M21, events, put, rig21

SECONDS = RESET_TIME.total_seconds()


def statuses(rig: Rig, evse_id: int = 1) -> list[str]:
    return [str(s.connector_status) for s in rig.of(M.StatusNotificationRequest) if s.evse_id == evse_id]


def charging(rig: Rig, evse_id: int = 1, token: str = "T1") -> str:
    rig.do("ev_plugged", evse_id, 1)
    rig.do("token_presented", token, evse_id=evse_id)
    charge(rig, evse_id, energy=1000, power=11000)
    tx = rig.core.transaction(evse_id)
    assert tx is not None
    return tx.id


def test_B11_FR_10_every_evse_announces_allow_reset() -> None:
    rig = make_rig(connectors=(1, 1))
    for evse in (1, 2):
        assert rig.core.model.value("EVSE", "AllowReset", evse=evse) == "true"


def test_B11_FR_08_an_idle_evse_resets_unavailable_then_back_without_a_reboot() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.clear()
    assert rig.handle(M.ResetRequest(type="OnIdle", evse_id=1)).status == "Accepted"
    assert statuses(rig) == ["Unavailable"]
    assert not any(isinstance(a, Reboot) for a in rig.actions)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1", evse_id=1)
    assert rig.core.transaction(1) is None  # no session while it resets
    rig.do("ev_unplugged", 1)
    rig.advance(SECONDS)
    assert statuses(rig)[-1] == "Available"
    assert statuses(rig, 2) == []  # the other EVSE was never touched


def test_B12_FR_08_immediate_ends_the_evse_transaction_only() -> None:
    rig = make_rig(connectors=(1, 1))
    on_1 = charging(rig, 1)
    on_2 = charging(rig, 2, "T2")
    rig.clear()
    assert rig.handle(M.ResetRequest(type="Immediate", evse_id=1)).status == "Accepted"
    ended = [e for e in rig.events() if e.event_type == "Ended"]
    assert [e.transaction_info.transaction_id for e in ended] == [on_1]
    assert (ended[0].trigger_reason, ended[0].transaction_info.stopped_reason) == (
        "ResetCommand",
        "ImmediateReset",
    )
    assert statuses(rig)[-1] == "Unavailable"
    rig.advance(SECONDS)
    assert statuses(rig)[-1] == "Occupied"  # the EV is still plugged in
    tx_2 = rig.core.transaction(2)
    assert tx_2 is not None
    assert tx_2.id == on_2
    assert not any(isinstance(a, Reboot) for a in rig.actions)


def test_B12_FR_01_07_on_idle_waits_for_the_evse_transaction() -> None:
    rig = make_rig(connectors=(1, 1))
    charging(rig, 1)
    rig.clear()
    assert rig.handle(M.ResetRequest(type="OnIdle", evse_id=1)).status == "Scheduled"
    rig.advance(SECONDS * 3)
    assert statuses(rig) == []  # nothing happens while the transaction runs
    rig.do("token_presented", "T1", evse_id=1)  # the driver stops normally (E06)
    rig.do("ev_unplugged", 1)
    assert rig.events()[-1].event_type == "Ended"
    assert rig.events()[-1].trigger_reason != "ResetCommand"
    assert "Unavailable" in statuses(rig)
    rig.advance(SECONDS)
    assert statuses(rig)[-1] == "Available"
    assert not any(isinstance(a, Reboot) for a in rig.actions)


def test_B11_FR_09_rejected_where_allow_reset_is_false_or_the_evse_unknown() -> None:
    rig = make_rig(connectors=(1, 1))
    rig.core.model.put(VariableKey("EVSE", "AllowReset", evse=2), "false")
    assert rig.handle(M.ResetRequest(type="OnIdle", evse_id=2)).status == "Rejected"
    assert rig.handle(M.ResetRequest(type="OnIdle", evse_id=3)).status == "Rejected"
    assert rig.handle(M.ResetRequest(type="OnIdle", evse_id=1)).status == "Accepted"


def test_B12_FR_06_inoperative_persists_a_reset_of_the_evse() -> None:
    rig = make_rig()
    rig.handle(M.ChangeAvailabilityRequest(operational_status="Inoperative", evse=None))
    rig.clear()
    rig.handle(M.ResetRequest(type="Immediate", evse_id=1))
    rig.advance(SECONDS)
    assert set(statuses(rig)) <= {"Unavailable"}  # never Available on the way
    assert rig.core.model.value("EVSE", "AvailabilityState", evse=1) == "Unavailable"


def test_B13_FR_01_evse_reset_and_resume_rejected_without_resumption() -> None:
    rig, _ = rig21()
    assert rig.handle(M21.ResetRequest(type="ImmediateAndResume", evse_id=1)).status == "Rejected"


def test_B13_FR_10_11_12_30_the_evse_resets_and_its_transaction_resumes() -> None:
    rig, _ = rig21()
    put(rig, "TxCtrlr", "ResumptionTimeout", "1")  # shorter than the reset: resumed all the same
    tx_id = charging(rig)
    rig.clear()
    assert rig.handle(M21.ResetRequest(type="ImmediateAndResume", evse_id=1)).status == "Accepted"
    assert [(e.event_type, e.trigger_reason) for e in events(rig)] == [("Updated", "ResetCommand")]
    assert SetContactor(1, False) in rig.actions  # B13.FR.10
    assert not any(isinstance(a, Reboot) for a in rig.actions)  # B13.FR.11
    rig.advance(SECONDS + 2)
    resumed = [e for e in events(rig) if e.trigger_reason == "TxResumed"]
    assert [e.transaction_info.transaction_id for e in resumed] == [tx_id]
    assert resumed[0].transaction_info.charging_state == "Charging"  # B13.FR.13
    assert SetContactor(1, True) in rig.actions
    assert not [e for e in events(rig) if e.event_type == "Ended"]


def test_B13_FR_14_resumed_suspended_when_energy_transfer_resumption_is_off() -> None:
    rig, _ = rig21()
    put(rig, "TxCtrlr", "ResumptionTimeout", "60")
    put(rig, "TxCtrlr", "AllowEnergyTransferResumption", "false")
    charging(rig)
    rig.clear()
    rig.handle(M21.ResetRequest(type="ImmediateAndResume", evse_id=1))
    rig.advance(SECONDS)
    resumed = [e for e in events(rig) if e.trigger_reason == "TxResumed"]
    assert resumed[0].transaction_info.charging_state == "SuspendedEVSE"
    assert SetContactor(1, True) not in rig.actions


def reserve(rig: Rig, reservation_id: int) -> str:
    token = D.IdTokenType(id_token="RES", type="ISO14443")
    request = M.ReserveNowRequest(
        id=reservation_id, expiry_date_time="2026-01-01T13:00:00Z", id_token=token, evse_id=1
    )
    return str(rig.handle(request).status)


def test_B11_FR_05_a_reservation_survives_the_reset_and_none_is_taken_during_it() -> None:
    rig = make_rig()
    assert reserve(rig, 5) == "Accepted"
    rig.handle(M.ResetRequest(type="Immediate", evse_id=1))
    assert statuses(rig)[-1] == "Unavailable"
    assert reserve(rig, 6) == "Unavailable"  # a new one while the EVSE resets
    rig.advance(SECONDS)
    assert statuses(rig)[-1] == "Reserved"
