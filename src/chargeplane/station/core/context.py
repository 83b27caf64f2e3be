"""What the controllers of one station share, and the shape of a controller.

A :class:`Context` holds the station-wide state every block reads (storage, device model, EVSEs,
connection and registration status, the clock offset) and the two outputs (CALLs to send, hardware actions).
It knows no controller by name: a controller finds another one with :meth:`Context.get`, by class.

A :class:`Controller` is one functional block. It declares its device-model variables
(:meth:`Controller.variables`), its handlers of CSMS CALLs per version family (``on_2x`` / ``on_16``, each a
tuple of :func:`route` entries), its deadline (:meth:`Controller.next_deadline`) and what it does when that
deadline has passed (:meth:`Controller.handle_timer`), and how it reacts to the connection coming and going
and to an accepted boot (:meth:`Controller.registration_accepted`).
The wire format the blocks share (boot, statuses, meter values, transaction messages) is the station's
:class:`~.adapter.Adapter`'s. A block's own messages stay in its module: 2.x handlers take the action's
request TypeVar of :mod:`chargeplane.ocpp.messages.v2x` and answer with ``v2x.dialect_of(request)``; a CALL
of its own is built with ``v2x.with_dialect(ctx.version, build)`` (2.x) or the ``v16`` types.

Adding a block: a module with a :class:`Controller` subclass (variables, ``on_2x`` / ``on_16``, deadline,
timer, hooks), its tests, and its class in :data:`chargeplane.station.core.station.CONTROLLERS`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.station.core.device_model import DeviceModel, StationLayout, VariableDef
from chargeplane.station.core.model import Evse, HardwareAction, OutgoingCall, Registration, Token
from chargeplane.station.core.storage import Storage

if TYPE_CHECKING:
    from chargeplane.station.core.adapter import Adapter

OnResult = Callable[[Payload, datetime], None]
OnFailure = Callable[[datetime], None]
C = TypeVar("C", bound="Controller")
R = TypeVar("R", bound=Payload)

# A handler as the dispatch table keeps it: (controller, request, now) -> response. The handler functions
# themselves are typed precisely (2.x ones with the request TypeVars of chargeplane.ocpp.messages.v2x, so
# mypy checks them for 2.0.1 and for 2.1); :func:`route` forgets the types once, at registration.
ErasedHandler = Callable[[object, Payload, datetime], Payload]


class Context:
    """Shared state of one station (one per core: slots, no ``__dict__``)."""

    __slots__ = (
        "actions",
        "adapter",
        "boot_reason",
        "callbacks",
        "calls",
        "clock_offset",
        "controllers",
        "evses",
        "last_sent",
        "layout",
        "model",
        "next_ref",
        "online",
        "registration",
        "station_operative",
        "storage",
        "version",
    )

    def __init__(
        self,
        version: Version,
        layout: StationLayout,
        storage: Storage,
        model: DeviceModel,
        adapter: Adapter,
        boot_reason: str,
    ) -> None:
        self.version = version
        self.layout = layout
        self.storage = storage
        self.model = model
        self.adapter = adapter
        self.boot_reason = boot_reason
        self.online = False
        self.registration = Registration.UNKNOWN
        self.clock_offset = timedelta(0)
        self.station_operative = storage.get_state("station_operative") != "false"  # B01.FR.07 persisted
        self.calls: list[OutgoingCall] = []
        self.actions: list[HardwareAction] = []
        self.callbacks: dict[int, tuple[OnResult | None, OnFailure | None]] = {}
        self.next_ref = 1
        self.last_sent: datetime | None = None
        self.controllers: tuple[Controller, ...] = ()
        self.evses: dict[int, Evse] = {}
        for evse_id, connectors in enumerate(layout.connectors, start=1):
            evse = Evse(evse_id, connectors)
            evse.operative = storage.get_state(f"evse_operative:{evse_id}") != "false"
            self.evses[evse_id] = evse

    def get(self, kind: type[C]) -> C:
        """The controller of class ``kind`` (every station has one of each registered controller)."""
        return cast(C, self.controllers[kind.index])

    # ------------------------------------------------------------------ clock
    def station_time(self, now: datetime) -> datetime:
        """Our clock corrected by the CSMS time (B01 / G02 with TimeSource Heartbeat)."""
        return now + self.clock_offset

    def ts(self, now: datetime) -> str:
        return to_wire(self.station_time(now))

    # ------------------------------------------------------------------ outputs
    @property
    def accepted(self) -> bool:
        """Online and accepted: the state in which the station may send anything (B02.FR.02)."""
        return self.online and self.registration is Registration.ACCEPTED

    def act(self, action: HardwareAction) -> None:
        self.actions.append(action)

    def emit(self, request: Payload, now: datetime) -> int:
        """Put a CALL out (no checks) and return its ref."""
        ref = self.next_ref
        self.next_ref += 1
        self.calls.append(OutgoingCall(ref, request))
        self.last_sent = now
        return ref

    def send(
        self,
        request: Payload,
        now: datetime,
        on_result: OnResult | None = None,
        *,
        on_failure: OnFailure | None = None,
        force: bool = False,
    ) -> bool:
        """Send a non-transaction CALL if the connection and the registration status allow it (B02.FR.02);
        ``force`` lets it through before Accepted (BootNotification, or what the CSMS asked for while
        Pending). False: not sent (offline), nothing will be called back."""
        if not self.online:
            return False
        if not force and self.registration is not Registration.ACCEPTED:
            return False
        self.callbacks[self.emit(request, now)] = (on_result, on_failure)
        return True


class Controller:
    """Base of the controllers: one per functional block and station, built by the core with the context."""

    __slots__ = ("ctx",)

    index: ClassVar[int] = -1  # position in the core's controller tuple (set at registration)
    on_2x: ClassVar[tuple[tuple[str, ErasedHandler], ...]] = ()
    on_16: ClassVar[tuple[tuple[str, ErasedHandler], ...]] = ()

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        """The device-model variables this block owns (with their defaults for ``layout``)."""
        return []

    def start(self, now: datetime) -> None:
        """Once, after every controller of the core exists (recover persisted state here)."""

    def connection_opened(self, now: datetime) -> None:
        """The connection is up (the registration status may still be anything)."""

    def connection_closed(self, now: datetime) -> None:
        """The connection is down; CALLs in flight will never be answered."""

    def registration_accepted(self, now: datetime) -> None:
        """The CSMS accepted a boot (after the statuses of B01.FR.05 and the queued transaction messages)."""

    def authorization_ended(self, evse: Evse, token: Token, now: datetime) -> None:
        """The authorization of ``evse`` for ``token`` ended without a transaction (driver, timeout)."""

    def transaction_started(self, evse: Evse, now: datetime) -> None:
        """A transaction started on ``evse`` (its Started event is out)."""

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        """A transaction ended on ``evse`` (changes that waited for it may go ahead)."""

    def next_deadline(self) -> datetime | None:
        return None

    def handle_timer(self, now: datetime) -> None:
        """Called once the earliest deadline of the core has passed (so maybe not this one's: check)."""


def route(action: str, handler: Callable[[C, R, datetime], Payload]) -> tuple[str, ErasedHandler]:
    """One entry of ``on_2x`` / ``on_16``: the action name and its typed handler."""
    return action, cast(ErasedHandler, handler)
