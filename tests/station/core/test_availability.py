"""Availability (G01-G04; 1.6 §5.2)."""

from __future__ import annotations

from chargeplane.station.core.storage import MemoryStorage
from tests.station.core.helpers import M16, D, M, make_rig, rig16, statuses16


def test_g03_fr_05_change_availability_scheduled_during_transaction_and_b01_fr_07_persisted() -> None:
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


def test_ocpp16_change_availability_inoperative() -> None:
    rig = rig16()
    assert rig.handle(M16.ChangeAvailabilityRequest(connector_id=1, type="Inoperative")).status == "Accepted"
    assert statuses16(rig)[-1] == "Unavailable"
