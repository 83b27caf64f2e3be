"""Data transfer (P01; 1.6 §5.6): vendor-specific messages from the CSMS.

Owns DataTransfer from the CSMS. This station knows no vendor extensions, so every vendor id is unknown;
a vendor block would answer its own vendor id here.
"""

from __future__ import annotations

from datetime import datetime

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.station.core.context import Controller, route


class DataTransfer(Controller):
    __slots__ = ()


def data_transfer(
    ctl: DataTransfer, request: v2x.DataTransferRequestT, now: datetime
) -> v2x.DataTransferResponse:
    """P01.FR.05: no implementation for the vendorId: UnknownVendorId."""
    ns = v2x.dialect_of(request)
    return ns.DataTransferResponse(status=ns.DataTransferStatusEnumType.UNKNOWN_VENDOR_ID)


def data_transfer16(
    ctl: DataTransfer, request: v16.messages.DataTransferRequest, now: datetime
) -> v16.messages.DataTransferResponse:
    return v16.messages.DataTransferResponse(status=v16.enums.DataTransferStatus.UNKNOWN_VENDOR_ID)


DataTransfer.on_2x = (route("DataTransfer", data_transfer),)
DataTransfer.on_16 = (route("DataTransfer", data_transfer16),)
