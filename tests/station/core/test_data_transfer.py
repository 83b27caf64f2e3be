"""Data transfer (P01; 1.6 §5.6)."""

from __future__ import annotations

from tests.station.core.helpers import M16, M, make_rig, rig16


def test_p01_fr_05_unknown_vendor_id() -> None:
    rig = make_rig()
    assert rig.handle(M.DataTransferRequest(vendor_id="acme")).status == "UnknownVendorId"


def test_ocpp16_data_transfer_unknown_vendor_id() -> None:
    rig = rig16()
    assert rig.handle(M16.DataTransferRequest(vendor_id="acme")).status == "UnknownVendorId"
