"""The version seam: what controllers ask of the wire format, without knowing the version.

Controllers keep version-neutral state (:mod:`.model`) and call the station's :class:`Adapter` to build the
messages they send and to read the answers they get. There are two implementations, each shared by every
station of its version (they hold no per-station state): :class:`~.adapter2x.Adapter2x` (written once for
2.0.1 and 2.1, generic in the :data:`~chargeplane.ocpp.messages.v2x.Dialect`) and :class:`~.adapter16.Adapter16`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from chargeplane.ocpp.messages.base import Payload
from chargeplane.station.core.device_model import DeviceModel, StationLayout, VariableDef
from chargeplane.station.core.model import ContractHash, Evse, Token

if TYPE_CHECKING:
    from chargeplane.station.core.context import Context


@dataclass(frozen=True, slots=True)
class IdInfo:
    """An IdTokenInfo (2.x) or IdTagInfo (1.6), version-neutral."""

    status: str
    group: str | None = None
    expiry: str | None = None  # wire timestamp
    evse_ids: tuple[int, ...] = ()
    language: str | None = None  # 2.x language1: the driver's preferred language (O01.FR.08)
    personal_message: str | None = None  # 2.x personalMessage content (I01: the driver's tariff text)
    tariff: dict[str, Any] | None = None  # 2.1 AuthorizeResponse tariff in wire form (I08)


@dataclass(frozen=True, slots=True)
class BootAnswer:
    status: str
    current_time: str
    interval: int


class TxEventKind(enum.StrEnum):
    """The three transaction messages (2.x eventType; 1.6 Start, MeterValues, Stop)."""

    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


@dataclass(frozen=True, slots=True)
class TxEvent:
    """One transaction message to build, in 2.x terms (the 1.6 adapter maps it)."""

    kind: TxEventKind
    trigger: str  # 2.x triggerReason
    stopped_reason: str | None = None
    context: str | None = None  # ReadingContext of the meter values
    with_token: bool = False  # send the idToken again (E07.FR.02)
    measurands: tuple[str, ...] | None = None  # None: the defaults of the event kind


Sample = tuple[str, float, str]  # (measurand, value, unit)
T = TypeVar("T")


def narrow(value: object, kind: type[T]) -> T:
    """``value`` as ``kind``: an answer or a payload the station built, back in its version's type.

    Raises TypeError for a payload of another version: a bug of the station, never the CSMS's doing."""
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__qualname__}, got {type(value).__qualname__}")
    return value


class Adapter(Protocol):
    """Builds and reads the messages of one OCPP version for the controllers."""

    offline_flag: bool  # TransactionEvent carries ``offline`` (2.x)

    def extra_variables(self, layout: StationLayout) -> list[VariableDef]: ...

    def configure(self, model: DeviceModel) -> None: ...

    def token_type(self, given: str) -> str: ...

    def boot_request(self, layout: StationLayout, reason: str) -> Payload: ...

    def boot_answer(self, response: Payload) -> BootAnswer: ...

    def heartbeat_request(self) -> Payload: ...

    def current_time(self, response: Payload) -> str: ...

    def authorize_request(
        self, token: Token, contract: tuple[ContractHash, ...] = (), certificate: str | None = None
    ) -> Payload: ...

    def authorize_answer(self, response: Payload) -> IdInfo: ...

    def connector_status(
        self, evse: Evse, connector_id: int, station_operative: bool, reserved: bool
    ) -> str: ...

    def status_request(self, evse: Evse, connector_id: int, status: str, timestamp: str) -> Payload: ...

    def meter_value(self, samples: list[Sample], context: str, timestamp: str) -> Payload | None: ...

    def idle_meter_values(self, evse_id: int, value: Payload) -> Payload: ...

    def transaction_event(self, ctx: Context, evse: Evse, event: TxEvent, now: datetime) -> None: ...

    def transaction_answered(
        self, ctx: Context, request: Payload, response: Payload, now: datetime, key: int
    ) -> None: ...
