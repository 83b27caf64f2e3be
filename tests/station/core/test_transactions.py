"""The transaction state machine, metering and the offline queue (E01-E15, J01-J02, C15)."""

from __future__ import annotations

from typing import Any

from chargeplane.station.core.model import Failure, MeterReading, SetContactor
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import D, M, Rig, make_rig, set_var


def _summary(events: list[Any]) -> list[tuple[str, str, int, Any]]:
    return [
        (
            e.event_type,
            e.trigger_reason,
            e.seq_no,
            e.transaction_info.charging_state if isinstance(e.transaction_info.charging_state, str) else None,
        )
        for e in events
    ]


def _charge(rig: Rig, evse_id: int = 1, energy: float = 1000.0, power: float = 7000.0) -> None:
    rig.do("update_meter", evse_id, MeterReading(energy_wh=energy, power_w=power))


def test_E02_cable_first_with_power_path_closed() -> None:
    rig = make_rig()
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    assert rig.events() == []  # PowerPathClosed needs the authorization too
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Occupied"
    rig.do("token_presented", "AABBCCDD")
    assert len(rig.of(M.AuthorizeRequest)) == 1
    assert SetContactor(1, True) in rig.actions
    _charge(rig)
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


def test_E03_idtoken_first_then_cable() -> None:
    rig = make_rig()
    rig.clear()
    rig.do("token_presented", "T1")
    assert rig.events() == []
    rig.do("ev_plugged", 1, 1)
    (started,) = rig.events()
    assert started.trigger_reason == "CablePluggedIn"
    assert started.id_token.id_token == "T1"


def test_E03_FR_05_ev_connection_timeout_ends_authorization() -> None:
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


def test_E01_FR_01_start_on_ev_connected_and_E03_FR_01_token_sent_once_when_authorized() -> None:
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


def test_E07_stop_with_same_token_and_E06_FR_08_local_reason_omitted() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    _charge(rig)
    rig.clear()
    rig.do("token_presented", "T1")
    (ended,) = rig.events()
    assert (ended.event_type, ended.trigger_reason) == ("Ended", "StopAuthorized")
    assert not isinstance(ended.transaction_info.stopped_reason, str)  # Local is not sent
    assert ended.id_token.id_token == "T1"  # E07.FR.02
    assert ended.seq_no == 2
    assert SetContactor(1, False) in rig.actions
    assert ended.meter_value[0].sampled_value[0].context == "Transaction.End"


def test_E10_ev_side_disconnect_ends_transaction() -> None:
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


def test_E05_FR_03_csms_deauthorizes_token_in_transaction_event() -> None:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.TransactionEventRequest) and isinstance(request.id_token, D.IdTokenType):
            return M.TransactionEventResponse(id_token_info=D.IdTokenInfoType(status="Blocked"))
        return None

    rig = make_rig(answer=answer)
    set_var(rig, "AuthCtrlr", "LocalPreAuthorize", "true")
    rig.core.cache.store(
        __import__("chargeplane.station.core.authorization", fromlist=["AuthEntry"]).AuthEntry(
            "T1", "ISO14443", "Accepted"
        ),
        rig.now,
    )
    rig.do("ev_plugged", 1, 1)
    rig.clear()
    rig.do("token_presented", "T1")
    assert rig.of(M.AuthorizeRequest) == []  # C12 pre-authorized from the cache
    _started, ended = rig.events()
    assert (ended.trigger_reason, ended.transaction_info.stopped_reason) == ("Deauthorized", "DeAuthorized")
    assert rig.core.cache.entries["ISO14443:T1"].status == "Blocked"  # C10: the latest info is cached


def test_E11_offline_transaction_queued_with_offline_flag_and_sent_in_order() -> None:
    rig = make_rig()
    set_var(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    rig.do("connection_closed")
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "UNKNOWN1")  # C15.FR.01 offline unknown id allowed
    _charge(rig)
    rig.do("ev_unplugged", 1)
    assert rig.events() == []
    assert len(rig.core.queue) == 3
    rig.do("connection_opened")
    events = rig.events()
    assert [e.event_type for e in events] == ["Started", "Updated", "Ended"]
    assert [e.seq_no for e in events] == [0, 1, 2]
    assert all(e.offline is True for e in events)
    assert rig.core.queue == []


def test_E13_FR_02_retry_then_discard_after_message_attempts() -> None:
    failures = {"n": 0}

    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.TransactionEventRequest):
            failures["n"] += 1
            return Failure.ERROR
        return None

    rig = make_rig(answer=answer)
    set_var(rig, "OCPPCommCtrlr", "MessageAttempts", "3", instance="TransactionEvent")
    set_var(rig, "OCPPCommCtrlr", "MessageAttemptInterval", "10", instance="TransactionEvent")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert failures["n"] == 1
    rig.advance(9)
    assert failures["n"] == 1
    rig.advance(1)  # 10 s x 1 previous attempt
    assert failures["n"] == 2
    rig.advance(19)
    assert failures["n"] == 2
    rig.advance(1)  # 10 s x 2
    assert failures["n"] == 3
    assert rig.core.queue == []  # discarded after MessageAttempts


def test_E04_queue_survives_restart_and_open_transaction_ends_with_power_loss() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")  # not in cache, offline, unknown ids not allowed: no tx
    assert rig.core.transaction(1) is None
    set_var(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    rig.do("token_presented", "T1")
    tx = rig.core.transaction(1)
    assert tx is not None
    assert len(storage.queue) == 1
    # power loss: a new core on the same storage
    again = make_rig(storage=storage)
    events = again.events()
    assert [(e.event_type, e.transaction_info.transaction_id) for e in events] == [
        ("Started", tx.id),
        ("Ended", tx.id),
    ]
    assert events[1].transaction_info.stopped_reason == "PowerLoss"
    assert events[0].offline is True
    assert storage.queue == {}


def test_J02_periodic_meter_values_during_transaction() -> None:
    rig = make_rig()
    set_var(rig, "SampledDataCtrlr", "TxUpdatedInterval", "60")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    _charge(rig, energy=100.0)
    rig.clear()
    rig.advance(60)
    (periodic,) = rig.events()
    assert periodic.trigger_reason == "MeterValuePeriodic"
    sampled = {s.measurand: s.value for s in periodic.meter_value[0].sampled_value}
    assert sampled == {"Energy.Active.Import.Register": 100.0, "Power.Active.Import": 7000.0}
    assert periodic.meter_value[0].sampled_value[0].context == "Sample.Periodic"


def test_J01_clock_aligned_meter_values_when_idle() -> None:
    rig = make_rig()
    set_var(rig, "AlignedDataCtrlr", "Interval", "900")
    rig.advance(1)  # arms the aligned timer
    rig.clear()
    rig.advance(900)
    (values,) = rig.of(M.MeterValuesRequest)
    assert values.meter_value[0].sampled_value[0].context == "Sample.Clock"
    assert values.meter_value[0].timestamp.endswith(":15:00Z")


def test_C10_cache_used_offline_and_C10_FR_08_lifetime_expiry() -> None:
    rig = make_rig()
    set_var(rig, "AuthCacheCtrlr", "LifeTime", "3600")
    rig.do("token_presented", "T1")  # online Authorize -> cached
    rig.do("token_presented", "T1")  # ends that authorization again
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.core.transaction(1) is not None  # LocalAuthorizeOffline from the cache
    rig.do("token_presented", "T1")
    rig.do("ev_unplugged", 1)
    rig.advance(3601)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.core.transaction(1) is None


def test_D01_local_list_full_differential_version_mismatch_and_D02_version() -> None:
    rig = make_rig()
    entry = D.AuthorizationData(
        id_token=D.IdTokenType(id_token="L1", type="ISO14443"),
        id_token_info=D.IdTokenInfoType(status="Accepted"),
    )
    assert rig.handle(M.GetLocalListVersionRequest()).version_number == 0
    full = rig.handle(
        M.SendLocalListRequest(version_number=3, update_type="Full", local_authorization_list=[entry])
    )
    assert full.status == "Accepted"
    stale = rig.handle(M.SendLocalListRequest(version_number=3, update_type="Differential"))
    assert stale.status == "VersionMismatch"
    assert rig.handle(M.GetLocalListVersionRequest()).version_number == 3
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "L1")
    assert rig.core.transaction(1) is not None
    removal = M.SendLocalListRequest(
        version_number=4,
        update_type="Differential",
        local_authorization_list=[
            D.AuthorizationData(id_token=D.IdTokenType(id_token="L1", type="ISO14443"))
        ],
    )
    assert rig.handle(removal).status == "Accepted"
    assert rig.core.local_list.entries == {}


def test_C16_FR_02_master_pass_stops_every_transaction() -> None:
    def answer(request: Any, now: Any) -> Any:
        if isinstance(request, M.AuthorizeRequest) and request.id_token.id_token == "BOSS":
            group = D.IdTokenType(id_token="MASTER", type="Central")
            return M.AuthorizeResponse(
                id_token_info=D.IdTokenInfoType(status="Accepted", group_id_token=group)
            )
        return None

    rig = make_rig(connectors=(1, 1), answer=answer)
    set_var(rig, "AuthCtrlr", "MasterPassGroupId", "MASTER")
    for evse_id, token in ((1, "A"), (2, "B")):
        rig.do("ev_plugged", evse_id, 1)
        rig.do("token_presented", token, evse_id=evse_id)
    rig.clear()
    rig.do("token_presented", "BOSS")
    ended = rig.events()
    assert [e.transaction_info.stopped_reason for e in ended] == ["MasterPass", "MasterPass"]


def test_F01_remote_start_F03_remote_stop() -> None:
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


def test_F01_cable_first_remote_start_returns_existing_transaction_id() -> None:
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


def test_F05_unlock_connector() -> None:
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


def test_G03_FR_05_change_availability_scheduled_during_transaction_and_B01_FR_07_persisted() -> None:
    storage = MemoryStorage()
    rig = make_rig(storage=storage)
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    request = M.ChangeAvailabilityRequest(operational_status="Inoperative", evse=D.EVSEType(id=1))
    assert rig.handle(request).status == "Scheduled"
    rig.clear()
    rig.do("ev_unplugged", 1)
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Unavailable"
    again = make_rig(storage=storage)
    assert again.of(M.StatusNotificationRequest)[0].connector_status == "Unavailable"


def test_B12_reset_on_idle_scheduled_and_B11_immediate_stops_transactions() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    assert rig.handle(M.ResetRequest(type="OnIdle")).status == "Scheduled"
    assert rig.handle(M.ResetRequest(type="Immediate")).status == "Accepted"
    ended = rig.events()[-1]
    assert (ended.trigger_reason, ended.transaction_info.stopped_reason) == ("ResetCommand", "ImmediateReset")
    assert any(type(a).__name__ == "Reboot" for a in rig.actions)
    assert rig.storage.get_state("boot_reason") == "RemoteReset"


def test_H01_reservation_blocks_other_tokens_and_is_used_by_its_token() -> None:
    rig = make_rig()
    expiry = "2026-01-01T13:00:00Z"
    response = rig.handle(
        M.ReserveNowRequest(
            id=5, expiry_date_time=expiry, id_token=D.IdTokenType(id_token="RES", type="ISO14443"), evse_id=1
        )
    )
    assert response.status == "Accepted"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Reserved"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "OTHER", evse_id=1)
    assert rig.core.transaction(1) is None
    rig.do("token_presented", "RES", evse_id=1)
    started = rig.events()[0]
    assert started.reservation_id == 5  # E01.FR.13


def test_H01_reservation_expires() -> None:
    rig = make_rig()
    rig.handle(
        M.ReserveNowRequest(
            id=6,
            expiry_date_time="2026-01-01T12:10:00Z",
            id_token=D.IdTokenType(id_token="RES", type="ISO14443"),
        )
    )
    rig.advance(601)
    (update,) = rig.of(M.ReservationStatusUpdateRequest)
    assert update.reservation_update_status == "Expired"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Available"
    assert rig.handle(M.CancelReservationRequest(reservation_id=6)).status == "Rejected"


def test_F06_trigger_transaction_event_and_status() -> None:
    rig = make_rig()
    assert rig.handle(M.TriggerMessageRequest(requested_message="TransactionEvent")).status == "Rejected"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    assert rig.handle(M.TriggerMessageRequest(requested_message="TransactionEvent")).status == "Accepted"
    assert rig.events()[0].trigger_reason == "Trigger"
    assert rig.handle(M.TriggerMessageRequest(requested_message="StatusNotification")).status == "Accepted"
    assert (
        rig.handle(M.TriggerMessageRequest(requested_message="LogStatusNotification")).status
        == "NotImplemented"
    )


def test_C11_clear_cache_and_P01_data_transfer() -> None:
    rig = make_rig()
    rig.do("token_presented", "T1")
    assert rig.core.cache.entries
    assert rig.handle(M.ClearCacheRequest()).status == "Accepted"
    assert rig.core.cache.entries == {}
    assert rig.handle(M.DataTransferRequest(vendor_id="acme")).status == "UnknownVendorId"


def test_E06_FR_16_fault_ends_with_abnormal_condition() -> None:
    rig = make_rig()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "T1")
    rig.clear()
    rig.do("fault", 1, True)
    (ended,) = rig.events()
    assert ended.trigger_reason == "AbnormalCondition"
    assert rig.of(M.StatusNotificationRequest)[-1].connector_status == "Faulted"
