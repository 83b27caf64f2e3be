"""Remote control (F01-F06) and reset (B11-B12; 1.6 §5.11-5.14, §5.17-5.18)."""

from __future__ import annotations

from msgspec import UNSET

from tests.station.core.helpers import M16, D, M, charge, make_rig, rig16, set_var


def test_f01_remote_start_f02_fr_01_remote_start_id_f03_fr_03_remote_stop() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    response = rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="R1", type="Central"), remote_start_id=42, evse_id=1
        )
    )
    assert response.status == "Accepted"
    (started,) = rig.events()
    assert started.trigger_reason == "RemoteStart"
    assert started.transaction_info.remote_start_id == 42  # F02.FR.01
    tx_id = started.transaction_info.transaction_id
    assert rig.handle(M.RequestStopTransactionRequest(transaction_id="nope")).status == "Rejected"
    assert rig.handle(M.RequestStopTransactionRequest(transaction_id=tx_id)).status == "Accepted"
    ended = rig.events()[-1]
    assert (ended.trigger_reason, ended.transaction_info.stopped_reason) == ("RemoteStop", "Remote")
    status = rig.handle(M.GetTransactionStatusRequest(transaction_id=tx_id))
    assert (status.ongoing_indicator, status.messages_in_queue) == (False, False)


def test_f01_fr_13_cable_first_remote_start_returns_existing_transaction_id() -> None:
    rig = make_rig()
    set_var(rig, "TxCtrlr", "TxStartPoint", "EVConnected")
    rig.do("ev_plugged", 1, 1)
    tx = rig.core.transaction(1)
    assert tx is not None
    response = rig.handle(
        M.RequestStartTransactionRequest(
            id_token=D.IdTokenType(id_token="R1", type="Central"), remote_start_id=7
        )
    )
    assert response.transaction_id == tx.id


def test_f05_unlock_connector() -> None:
    rig = make_rig()
    assert rig.handle(M.UnlockConnectorRequest(evse_id=9, connector_id=1)).status == "UnknownConnector"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert (
        rig.handle(M.UnlockConnectorRequest(evse_id=1, connector_id=1)).status
        == "OngoingAuthorizedTransaction"
    )
    rig.do("token_presented", "T1")
    assert rig.handle(M.UnlockConnectorRequest(evse_id=1, connector_id=1)).status == "Unlocked"


def test_f06_fr_17_trigger_boot_when_accepted_is_rejected() -> None:
    rig = make_rig()
    response = rig.handle(M.TriggerMessageRequest(requested_message="BootNotification"))
    assert response.status == "Rejected"
    response = rig.handle(M.TriggerMessageRequest(requested_message="Heartbeat"))
    assert response.status == "Accepted"
    assert isinstance(rig.sent[-1], M.HeartbeatRequest)


def test_f06_trigger_transaction_event_and_status() -> None:
    rig = make_rig()
    assert rig.handle(M.TriggerMessageRequest(requested_message="TransactionEvent")).status == "Rejected"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    assert rig.handle(M.TriggerMessageRequest(requested_message="TransactionEvent")).status == "Accepted"
    assert rig.events()[0].trigger_reason == "Trigger"
    assert rig.handle(M.TriggerMessageRequest(requested_message="StatusNotification")).status == "Accepted"


def test_f06_fr_07_triggered_transaction_event_carries_the_charging_state() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    assert rig.handle(M.TriggerMessageRequest(requested_message="TransactionEvent")).status == "Accepted"
    triggered = rig.events()[0]
    assert triggered.trigger_reason == "Trigger"
    assert triggered.transaction_info.charging_state is not UNSET  # unchanged, yet sent (F06.FR.07)


def test_b12_fr_01_reset_on_idle_scheduled_and_b12_fr_04_immediate_stops_transactions() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.handle(M.ResetRequest(type="OnIdle")).status == "Scheduled"
    assert rig.handle(M.ResetRequest(type="Immediate")).status == "Accepted"
    ended = rig.events()[-1]
    assert (ended.trigger_reason, ended.transaction_info.stopped_reason) == ("ResetCommand", "ImmediateReset")
    assert any(type(a).__name__ == "Reboot" for a in rig.actions)
    assert rig.storage.get_state("boot_reason") == "RemoteReset"


def test_b12_immediate_reset_ends_with_ev_connected_and_a_waited_reset_boots_as_scheduled() -> None:
    # TC_B_22_CS: the Ended event of an immediate reset, the EV still plugged in, says EVConnected
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    charge(rig)
    assert rig.events()[-1].transaction_info.charging_state == "Charging"
    assert rig.handle(M.ResetRequest(type="Immediate")).status == "Accepted"
    assert rig.events()[-1].transaction_info.charging_state == "EVConnected"
    # TC_B_21_CS: an OnIdle reset that waited for the transaction boots with reason ScheduledReset
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.handle(M.ResetRequest(type="OnIdle")).status == "Scheduled"
    rig.do("ev_unplugged", 1)
    assert rig.events()[-1].event_type == "Ended"
    assert rig.storage.get_state("boot_reason") == "ScheduledReset"


def test_ocpp16_remote_start_stop_and_unlock() -> None:
    rig = rig16()
    rig.do("ev_plugged", 1, 1)
    assert rig.handle(M16.RemoteStartTransactionRequest(id_tag="REM", connector_id=1)).status == "Accepted"
    (start,) = rig.of(M16.StartTransactionRequest)
    assert start.id_tag == "REM"
    assert rig.handle(M16.RemoteStopTransactionRequest(transaction_id=999)).status == "Rejected"
    assert rig.handle(M16.RemoteStopTransactionRequest(transaction_id=1000)).status == "Accepted"
    assert rig.of(M16.StopTransactionRequest)[0].reason == "Remote"
    assert rig.handle(M16.UnlockConnectorRequest(connector_id=1)).status == "Unlocked"
    assert rig.handle(M16.UnlockConnectorRequest(connector_id=5)).status == "NotSupported"


def test_ocpp16_soft_reset_stops_the_transaction_and_reboots() -> None:
    rig = rig16()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    assert rig.handle(M16.ResetRequest(type="Soft")).status == "Accepted"
    assert rig.of(M16.StopTransactionRequest)[-1].reason == "SoftReset"
    assert rig.storage.get_state("boot_reason") == "RemoteReset"


def test_ocpp16_trigger_status_and_firmware_status() -> None:
    rig = rig16()
    assert rig.handle(M16.TriggerMessageRequest(requested_message="StatusNotification")).status == "Accepted"
    # every 1.6 requestedMessage is implemented now (FirmwareStatusNotification: Idle)
    assert rig.handle(M16.TriggerMessageRequest(requested_message="FirmwareStatusNotification")).status == (
        "Accepted"
    )
    assert rig.of(M16.FirmwareStatusNotificationRequest)[-1].status == "Idle"
