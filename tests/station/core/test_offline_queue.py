"""The durable queue of transaction messages (E04, E11-E13; 1.6 transaction id rewrite)."""

from __future__ import annotations

from typing import Any

from chargeplane.station.core.device_model import VariableKey
from chargeplane.station.core.model import Failure, MeterReading
from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import M16, M, charge, make_rig, rig16, set_var


def test_e11_e04_fr_03_offline_transaction_queued_with_offline_flag_and_sent_in_order() -> None:
    rig = make_rig()
    set_var(rig, "AuthCtrlr", "OfflineTxForUnknownIdEnabled", "true")
    rig.do("connection_closed")
    rig.clear()
    rig.do("ev_plugged", 1, 1)
    rig.do("token_presented", "UNKNOWN1")  # C15.FR.01 offline unknown id allowed
    charge(rig)
    rig.do("ev_unplugged", 1)
    assert rig.events() == []
    assert len(rig.core.queue) == 3
    rig.do("connection_opened")
    events = rig.events()
    assert [e.event_type for e in events] == ["Started", "Updated", "Ended"]
    assert [e.seq_no for e in events] == [0, 1, 2]
    assert all(e.offline is True for e in events)
    assert rig.core.queue == []


def test_e13_fr_02_retry_then_discard_after_message_attempts() -> None:
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


def test_e04_queue_survives_restart_and_e06_open_transaction_ends_with_power_loss() -> None:
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


def test_ocpp16_offline_transaction_queue_rewrites_local_transaction_id() -> None:
    storage = MemoryStorage()
    rig = rig16(storage=storage)
    rig.core.model.put(
        VariableKey("AuthCtrlr", "OfflineTxForUnknownIdEnabled"),
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
