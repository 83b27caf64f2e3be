"""The OCPP 1.6 station core: boot, statuses, Start/Stop/MeterValues with Central System ids, offline queue,
configuration keys and the Central System's requests (1.6 §4, §5)."""

from __future__ import annotations

from typing import Any

from chargeplane.ocpp.versions import Version
from chargeplane.station.core.model import MeterReading
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import D16, M16, Rig, make_rig


def rig16(**kwargs: Any) -> Rig:
    return make_rig(version=Version.V16, **kwargs)


def _statuses(rig: Rig) -> list[str]:
    return [s.status for s in rig.of(M16.StatusNotificationRequest)]


def test_boot_then_status_per_connector_16() -> None:
    rig = rig16(connectors=(1, 1))
    assert isinstance(rig.sent[0], M16.BootNotificationRequest)
    assert rig.sent[0].charge_point_vendor == "Chargeplane"
    assert [(s.connector_id, s.status, s.error_code) for s in rig.of(M16.StatusNotificationRequest)] == [
        (1, "Available", "NoError"),
        (2, "Available", "NoError"),
    ]


def test_session_start_stop_with_central_system_transaction_id_16() -> None:
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
    assert _statuses(rig) == ["Preparing", "Charging", "Finishing", "Available"]


def test_offline_transaction_queue_rewrites_local_transaction_id_16() -> None:
    storage = MemoryStorage()
    rig = rig16(storage=storage)
    rig.core.model.put(
        __import__("chargeplane.station.core.device_model", fromlist=["VariableKey"]).VariableKey(
            "AuthCtrlr", "OfflineTxForUnknownIdEnabled"
        ),
        "true",
    )
    rig.do("connection_closed")
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "OFF1")
    rig.do("update_meter", 1, MeterReading(energy_wh=42.0, power_w=7000.0))
    rig.do("ev_unplugged", 1)
    queued = [type(q.request).__name__ for q in rig.core.queue]
    assert queued == ["StartTransactionRequest", "StopTransactionRequest"]
    assert rig.core.queue[1].request.transaction_id < 0  # a local id until the Central System answers
    rig.clear()
    rig.do("connection_opened")
    stop = rig.of(M16.StopTransactionRequest)[0]
    assert stop.transaction_id == 1000
    assert stop.reason == "EVDisconnected"
    assert storage.queue == {}


def test_get_and_change_configuration_16() -> None:
    rig = rig16()
    response = rig.handle(M16.GetConfigurationRequest(key=["HeartbeatInterval", "Nope"]))
    assert [(k.key, k.value) for k in response.configuration_key] == [("HeartbeatInterval", "300")]
    assert response.unknown_key == ["Nope"]
    assert (
        rig.handle(M16.ChangeConfigurationRequest(key="MeterValueSampleInterval", value="5")).status
        == "Accepted"
    )
    assert (
        rig.handle(M16.ChangeConfigurationRequest(key="NumberOfConnectors", value="5")).status == "Rejected"
    )
    assert rig.handle(M16.ChangeConfigurationRequest(key="Nope", value="5")).status == "NotSupported"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    rig.clear()
    rig.advance(5)
    (values,) = rig.of(M16.MeterValuesRequest)
    assert values.transaction_id == 1000
    assert values.meter_value[0].sampled_value[0].context == "Sample.Periodic"


def test_remote_start_stop_and_unlock_16() -> None:
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


def test_local_list_reservation_and_reset_16() -> None:
    rig = rig16()
    entry = D16.AuthorizationData(id_tag="L1", id_tag_info=D16.IdTagInfo(status="Accepted"))
    full = M16.SendLocalListRequest(list_version=2, update_type="Full", local_authorization_list=[entry])
    assert rig.handle(full).status == "Accepted"
    assert (
        rig.handle(M16.SendLocalListRequest(list_version=2, update_type="Differential")).status
        == "VersionMismatch"
    )
    assert rig.handle(M16.GetLocalListVersionRequest()).list_version == 2
    reserve = M16.ReserveNowRequest(
        connector_id=1, expiry_date="2026-01-01T13:00:00Z", id_tag="RES", reservation_id=3
    )
    assert rig.handle(reserve).status == "Accepted"
    assert _statuses(rig)[-1] == "Reserved"
    assert rig.handle(M16.CancelReservationRequest(reservation_id=3)).status == "Accepted"
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "TAG1")
    assert rig.handle(M16.ResetRequest(type="Soft")).status == "Accepted"
    assert rig.of(M16.StopTransactionRequest)[-1].reason == "SoftReset"
    assert rig.storage.get_state("boot_reason") == "RemoteReset"


def test_change_availability_and_trigger_16() -> None:
    rig = rig16()
    assert rig.handle(M16.ChangeAvailabilityRequest(connector_id=1, type="Inoperative")).status == "Accepted"
    assert _statuses(rig)[-1] == "Unavailable"
    assert rig.handle(M16.TriggerMessageRequest(requested_message="StatusNotification")).status == "Accepted"
    assert rig.handle(
        M16.TriggerMessageRequest(requested_message="DiagnosticsStatusNotification")
    ).status == ("NotImplemented")
