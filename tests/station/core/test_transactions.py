"""The transaction state machine (E01-E10, E05 verdicts, C15): events, start and stop points; its transition table."""

from __future__ import annotations

from typing import Any

import pytest

from chargeplane.station.core import tx_rules
from chargeplane.station.core.adapter import TxEvent, TxEventKind
from chargeplane.station.core.authorization import AuthEntry
from chargeplane.station.core.model import Evse, MeterReading, SetContactor, Token, Transaction
from chargeplane.station.core.storage import MemoryStorage
from chargeplane.station.core.transactions import Transactions
from chargeplane.station.core.tx_rules import TransactionStateError, TxPhase
from tests.station.core.helpers import M16, D, M, charge, make_rig, rig16, set_var, statuses16


def test_e02_cable_first_with_power_path_closed_and_e03_fr_01_token() -> None:
    rig = make_rig()
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    assert rig.events() == []  # PowerPathClosed needs the authorization too
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Occupied"
    rig.do("token_presented", "AABBCCDD")
    assert len(rig.of(M.AuthorizeRequest)) == 1
    assert SetContactor(1, True) in rig.actions
    charge(rig)
    started, charging = rig.events()
    assert (started.event_type, started.trigger_reason, started.seq_no) == ("Started", "Authorized", 0)
    assert started.evse.id == 1
    assert started.evse.connector_id == 1
    assert started.id_token.id_token == "AABBCCDD"  # E03.FR.01
    assert started.transaction_info.charging_state == "EVConnected"
    assert started.meter_value[0].sampled_value[0].context == "Transaction.Begin"
    assert (charging.trigger_reason, charging.transaction_info.charging_state) == (
        "ChargingStateChanged",
        "Charging",
    )
    assert not isinstance(charging.evse, D.EVSEType)
    assert not isinstance(charging.id_token, D.IdTokenType)


def test_e03_idtoken_first_then_cable() -> None:
    rig = make_rig()
    rig.clear()
    rig.do("token_presented", "T1")
    assert rig.events() == []
    rig.do("ev_plugged", 1, 1)
    (started,) = rig.events()
    assert started.trigger_reason == "CablePluggedIn"
    assert started.id_token.id_token == "T1"


def test_e03_fr_05_ev_connection_timeout_ends_authorization() -> None:
    rig = make_rig()
    set_var(rig, "TxCtrlr", "TxStartPoint", "Authorized")
    set_var(rig, "TxCtrlr", "EVConnectionTimeOut", "30")
    rig.clear()
    rig.do("token_presented", "T1")
    rig.advance(31)
    started, ended = rig.events()
    assert started.trigger_reason == "Authorized"
    assert (ended.event_type, ended.trigger_reason, ended.transaction_info.stopped_reason) == (
        "Ended",
        "EVConnectTimeout",
        "Timeout",
    )


def test_e01_fr_02_start_on_ev_connected_and_e03_fr_01_token_sent_once_when_authorized() -> None:
    rig = make_rig()
    set_var(rig, "TxCtrlr", "TxStartPoint", "EVConnected")
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    started, authorized = rig.events()[:2]
    assert started.trigger_reason == "CablePluggedIn"
    assert not isinstance(started.id_token, D.IdTokenType)
    assert authorized.trigger_reason == "Authorized"
    assert authorized.id_token.id_token == "T1"
    assert authorized.seq_no == 1


def test_e07_fr_02_stop_with_same_token_and_e06_fr_09_local_reason_omitted() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    rig.clear()
    rig.do("token_presented", "T1")
    (ended,) = rig.events()
    assert (ended.event_type, ended.trigger_reason) == ("Ended", "StopAuthorized")
    assert not isinstance(ended.transaction_info.stopped_reason, str)  # Local is not sent
    assert ended.id_token.id_token == "T1"  # E07.FR.02
    assert ended.seq_no == 2
    assert SetContactor(1, False) in rig.actions
    assert ended.meter_value[0].sampled_value[0].context == "Transaction.End"


def test_e09_fr_01_ev_side_disconnect_ends_transaction() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    rig.do("ev_unplugged", 1)
    (ended,) = rig.events()
    assert (ended.trigger_reason, ended.transaction_info.stopped_reason) == (
        "EVCommunicationLost",
        "EVDisconnected",
    )
    assert ended.transaction_info.charging_state == "Idle"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Available"


# Found by TC_E_08_CS / TC_E_22_CS (conformance): with TxStopPoint EnergyTransfer, a stop authorization
# left the transaction open, and an EV suspending ended it with chargingState SuspendedEVSE.
def test_e06_fr_07_energy_transfer_stop_point_ends_on_stop_authorization_and_on_ev_suspending() -> None:
    rig = make_rig()
    assert set_var(rig, "TxCtrlr", "TxStopPoint", "EnergyTransfer") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    rig.clear()
    rig.do("token_presented", "T1")  # the driver stops: the power path opens, the energy transfer stops
    (ended,) = rig.events()
    assert (ended.event_type, ended.trigger_reason) == ("Ended", "StopAuthorized")
    assert ended.transaction_info.charging_state == "EVConnected"

    rig.do("ev_unplugged", 1)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig, energy=2000.0)
    rig.clear()
    rig.do("update_meter", 1, MeterReading(energy_wh=2000.0, power_w=0.0))  # the EV suspends
    (ended,) = rig.events()
    assert (ended.event_type, ended.trigger_reason) == ("Ended", "ChargingStateChanged")
    assert ended.transaction_info.stopped_reason == "StoppedByEV"
    assert ended.transaction_info.charging_state == "EVConnected"  # not SuspendedEVSE: the session is over


# Found by TC_E_26_CS (conformance): the EV reconnected to a suspended transaction was reported with
# triggerReason ChargingStateChanged.
def test_e10_cable_plugged_into_a_running_transaction_says_cable_plugged_in() -> None:
    rig = make_rig()
    assert set_var(rig, "TxCtrlr", "TxStopPoint", "Authorized") == "Accepted"
    assert set_var(rig, "TxCtrlr", "StopTxOnEVSideDisconnect", "false") == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    rig.clear()
    rig.do("ev_unplugged", 1)  # E10: suspended, not ended
    (suspended,) = rig.events()
    assert (suspended.event_type, suspended.trigger_reason) == ("Updated", "EVCommunicationLost")
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    (plugged,) = rig.events()
    assert (plugged.event_type, plugged.trigger_reason) == ("Updated", "CablePluggedIn")
    assert plugged.transaction_info.charging_state == "EVConnected"


def test_e05_fr_10_csms_deauthorizes_token_in_transaction_event() -> None:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.TransactionEventRequest) and isinstance(request.id_token, D.IdTokenType):
            return M.TransactionEventResponse(id_token_info=D.IdTokenInfoType(status="Blocked"))
        return None

    rig = make_rig(answer=answer)
    set_var(rig, "AuthCtrlr", "LocalPreAuthorize", "true")
    rig.core.cache.store(
        AuthEntry("T1", "ISO14443", "Accepted"),
        rig.now,
    )
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    rig.do("token_presented", "T1")
    assert rig.of(M.AuthorizeRequest) == []  # C12 pre-authorized from the cache
    _started, ended = rig.events()
    assert (ended.trigger_reason, ended.transaction_info.stopped_reason) == ("Deauthorized", "DeAuthorized")
    assert rig.core.cache.entries["ISO14443:T1"].status == "Blocked"  # C10: the latest info is cached


def test_e06_fr_16_fault_ends_with_abnormal_condition() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    rig.do("fault", 1, True)
    (ended,) = rig.events()
    assert ended.trigger_reason == "AbnormalCondition"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Faulted"


def test_ocpp16_session_start_stop_with_central_system_transaction_id() -> None:
    rig = rig16()
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    rig.do("update_meter", 1, MeterReading(energy_wh=10.0, power_w=7000.0))
    rig.do("update_meter", 1, MeterReading(energy_wh=500.0, power_w=7000.0))
    rig.do("token_presented", "TAG1")
    rig.do("ev_unplugged", 1)
    (start,) = rig.of(M16.StartTransactionRequest)
    (stop,) = rig.of(M16.StopTransactionRequest)
    assert (start.connector_id, start.id_tag, start.meter_start) == (1, "TAG1", 0)
    assert stop.transaction_id == 1000  # the id the Central System gave
    assert stop.meter_stop == 500
    assert not isinstance(stop.reason, str)  # Local: left out
    assert statuses16(rig) == ["Preparing", "Charging", "Finishing", "Available"]


def test_e01_transition_table_opens_updates_and_closes() -> None:
    phase = tx_rules.transition(TxPhase.IDLE, TxEventKind.STARTED)
    assert phase is TxPhase.ONGOING
    assert tx_rules.transition(phase, TxEventKind.UPDATED) is TxPhase.ONGOING
    assert tx_rules.transition(phase, TxEventKind.ENDED) is TxPhase.IDLE


@pytest.mark.parametrize(
    ("phase", "kind"),
    [
        (TxPhase.IDLE, TxEventKind.UPDATED),
        (TxPhase.IDLE, TxEventKind.ENDED),
        (TxPhase.ONGOING, TxEventKind.STARTED),
    ],
)
def test_e01_transition_table_refuses_illegal_messages(phase: TxPhase, kind: TxEventKind) -> None:
    with pytest.raises(TransactionStateError, match=f"{phase.value}: {kind.value}"):
        tx_rules.transition(phase, kind)


def test_e01_emitting_without_a_transaction_is_a_local_error() -> None:
    rig = make_rig()
    with pytest.raises(TransactionStateError):
        rig.core.ctx.get(Transactions).emit(
            rig.core.evses[1], TxEvent(TxEventKind.UPDATED, "Trigger"), rig.now
        )


def test_e01_fr_02_to_05_start_points_and_e09_stop_points_as_pure_rules() -> None:
    evse = Evse(1, 1)
    assert not tx_rules.start_due(evse, ["EVConnected"])
    evse.plugged = 1
    assert tx_rules.start_due(evse, ["EVConnected"])  # E01.FR.02
    assert not tx_rules.start_due(evse, ["PowerPathClosed"])
    evse.authorized = Token("T1")
    assert tx_rules.start_due(evse, ["PowerPathClosed"])  # E01.FR.05
    evse.tx = Transaction("tx", 1, 1, ev_seen=True)
    assert tx_rules.stop_reason(evse, ["EVConnected", "Authorized"], False) is None
    evse.plugged = None
    assert tx_rules.stop_reason(evse, ["Authorized"], True) == ("EVDisconnected", "EVCommunicationLost")
    assert tx_rules.stop_reason(evse, ["Authorized"], False) is None  # E10: suspended, not ended


def test_e01_fr_08_transaction_id_never_reused() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    ids = []
    for _ in range(2):
        rig.do("ev_plugged", 1, 1)
        rig.do("token_presented", "T1")
        ids.append(rig.events()[-1].transaction_info.transaction_id)
        rig.do("ev_unplugged", 1)
    again = make_rig(storage=storage)  # and after a restart
    again.do("ev_plugged", 1, 1)
    again.do("token_presented", "T1")
    ids.append(again.events()[-1].transaction_info.transaction_id)
    assert len(set(ids)) == 3
