"""A small hand-written action catalog, so that endpoint and router tests do not depend on generated code."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import UNSET, UnsetType

from chargeplane.ocpp.catalog import ActionCatalog
from chargeplane.ocpp.messages.base import ActionSpec, CustomData, DateTime, Direction, Payload


class PingRequest(Payload, forbid_unknown_fields=True):
    custom_data: CustomData | UnsetType = msgspec.field(name="customData", default=UNSET)


class PingResponse(Payload, forbid_unknown_fields=True):
    current_time: DateTime = msgspec.field(name="currentTime")


class HelloRequest(Payload, forbid_unknown_fields=True):
    model: Annotated[str, msgspec.Meta(max_length=20)] = msgspec.field(name="model")
    count: Annotated[int, msgspec.Meta(ge=0, le=10)] | UnsetType = msgspec.field(name="count", default=UNSET)
    tags: Annotated[list[str], msgspec.Meta(min_length=1, max_length=2)] | UnsetType = msgspec.field(
        name="tags", default=UNSET
    )


class HelloResponse(Payload, forbid_unknown_fields=True):
    status: Annotated[str, msgspec.Meta(max_length=8)] = msgspec.field(name="status")


class ResetRequest(Payload, forbid_unknown_fields=True):
    kind: str = msgspec.field(name="type")


class ResetResponse(Payload, forbid_unknown_fields=True):
    status: str = msgspec.field(name="status")


class TransferRequest(Payload, forbid_unknown_fields=True):
    vendor_id: str = msgspec.field(name="vendorId")


class TransferResponse(Payload, forbid_unknown_fields=True):
    status: str = msgspec.field(name="status")


class StreamRequest(Payload, forbid_unknown_fields=True):
    id: int = msgspec.field(name="id")


class UnhandledRequest(Payload, forbid_unknown_fields=True):
    pass


class UnhandledResponse(Payload, forbid_unknown_fields=True):
    pass


CATALOG = ActionCatalog(
    {
        spec.action: spec
        for spec in (
            ActionSpec.build("Ping", PingRequest, PingResponse, Direction.STATION_TO_CSMS),
            ActionSpec.build("Hello", HelloRequest, HelloResponse, Direction.STATION_TO_CSMS),
            ActionSpec.build("Reset", ResetRequest, ResetResponse, Direction.CSMS_TO_STATION),
            ActionSpec.build("Transfer", TransferRequest, TransferResponse, Direction.BOTH),
            ActionSpec.build("Stream", StreamRequest, None, Direction.STATION_TO_CSMS),
            ActionSpec.build("Unhandled", UnhandledRequest, UnhandledResponse, Direction.STATION_TO_CSMS),
        )
    }
)
