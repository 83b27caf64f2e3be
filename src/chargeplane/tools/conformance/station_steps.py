"""The tool as a CSMS: the endpoint a charging station under test connects to, and the context a ``_CS``
case runs in.

The tool listens with Chargeplane's own OCPP-J server (:class:`~chargeplane.transport.server.OcppServer`),
admits the one configured identity (Basic auth when a password is given, security profile 1) and speaks
OCPP 2.0.1 only, so every message of the station is decoded against the OCA schemas.

The station's CALLs are queued as they come; a step takes the next one of the type it wants with
:meth:`StationTool.expect` and answers it. Part 6 lets a station send its messages in another order than a
table lists (a StatusNotification and its NotifyEvent, a queued TransactionEvent), so a CALL of another type
met on the way is answered with the tool's default answer (:func:`default_answer`) and kept in
:attr:`StationTool.seen` for the post-scenario checks, as the OCTT does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from msgspec import UNSET

from chargeplane.ocpp.catalog import CSMS, ActionCatalog
from chargeplane.ocpp.errors import InternalError
from chargeplane.ocpp.events import CallReceived, Event
from chargeplane.ocpp.messages.base import Payload
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.timestamps import utc_now
from chargeplane.ocpp.versions import Version
from chargeplane.tools.conformance.checks import StepFailed
from chargeplane.tools.conformance.declaration import Configured
from chargeplane.tools.conformance.file_server import FileServer
from chargeplane.tools.conformance.pki import TestPki
from chargeplane.tools.conformance.station_adapter import StationAction, StationAdapter
from chargeplane.tools.conformance.steps import CALL_TIMEOUT, DEFAULT_WITHIN, Incoming, queue_and_wait
from chargeplane.tools.conformance.tls_front import TlsFront
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost, OcppConnection
from chargeplane.transport.security import SecurityProfile, StationSecurity, TlsSettings, hash_password
from chargeplane.transport.server import OcppServer, SecurityEvent, ServerSettings

log = logging.getLogger(__name__)

R = TypeVar("R", bound=Payload)
HEARTBEAT_INTERVAL = 300  # the <Configured heartbeatInterval> the tool answers boots with


@dataclass(frozen=True)
class ListenSettings:
    host: str
    port: int  # 0: any free port (tests)
    station_id: str
    password: str | None = None  # None: no Basic auth (loopback only)
    path_prefix: str = "/ocpp"
    tls: TlsSettings | None = None  # addition: wss:// on ``port`` instead of ws:// (TC_B_47 / B_50)
    # The wss listener of the TLS cases (blocks A, M): its port (0: any free one), started with the endpoint;
    # None: started on a free port when a case first needs it.
    tls_port: int | None = None
    tls_names: tuple[str, ...] = ()  # host names / addresses of the wss server certificate (default: host)
    pki_dir: Path | None = None  # where the tool's test PKI is kept between runs (None: made per run)


class _OneStation:
    """The server's directory: only the configured identity may connect."""

    def __init__(self, station_id: str, password: str | None) -> None:
        self._station_id = station_id.casefold()
        self._hash = None if password is None else hash_password(password)
        self.refusing = False  # the tool is "offline": it refuses the identity (offline periods)
        self.refusals = 0  # connection attempts still to refuse (network profile fallback cases)
        self.attempts: list[tuple[float, bool]] = []  # every attempt: (event loop time, accepted)

    async def security_for(self, station_id: str) -> StationSecurity | None:
        if station_id.casefold() != self._station_id:
            return None
        refused = self.refusing or self.refusals > 0
        self.refusals = max(0, self.refusals - 1)
        self.attempts.append((asyncio.get_running_loop().time(), not refused))
        if refused:
            return None  # answered as an unknown station: the connection attempt fails
        return StationSecurity(SecurityProfile.BASIC_AUTH, self._hash)

    def set_password(self, password: str | None) -> None:  # TC_A_09_CS: the password the tool gave
        self._hash = None if password is None else hash_password(password)


class CsmsEndpoint:
    """The listening side: one station at a time, its CALLs queued for the cases."""

    def __init__(self, settings: ListenSettings) -> None:
        self.settings = settings
        self._incoming: asyncio.Queue[Incoming[Payload]] = asyncio.Queue()
        self._open: set[Incoming[Payload]] = set()
        self._connection: OcppConnection | None = None
        self._connected = asyncio.Event()
        self.connections = 0  # how many times the station connected (a reboot reconnects)
        self._held: list[Incoming[Payload]] = []  # CALLs the tool leaves unanswered (see hold())
        self._closed = asyncio.Event()  # set while no station is connected (drop_connection waits for it)
        self._router = Router[OcppConnection](Version.V201, CSMS)
        catalog = ActionCatalog.for_version(Version.V201)
        self._router.delegate(
            (s.request for s in catalog.actions.values() if s.direction in CSMS.receives and not s.is_send),
            self._queue_call,
        )
        server_settings = ServerSettings(
            host=settings.host,
            port=settings.port if settings.tls is None else None,
            tls_port=None if settings.tls is None else settings.port,
            tls=settings.tls,
            path_prefix=settings.path_prefix,
            versions=(Version.V201,),
            allow_unauthenticated=settings.password is None,
            admission_max_lag=None,
            ping_interval=None,
            # A test CSMS: it refuses the station on purpose (offline cases) and must keep answering as the
            # spec describes (404 for an identity it does not take), with no lockout in the way.
            uniform_auth_failures=False,
            lockout_station_failures=0,
            lockout_source_failures=0,
            source_failure_rate=0.0,
            unknown_admission_rate=0.0,
        )
        self.directory = _OneStation(settings.station_id, settings.password)
        self.refused: list[SecurityEvent] = []  # connection attempts the server refused (a wrong password)
        self.server = OcppServer(
            server_settings,
            self,
            self.directory,
            on_event=self._on_event,
            on_security_event=self.refused.append,
        )
        # Made on first use by the cases that need them (logs, firmware, certificates), kept for the run.
        self.files: FileServer | None = None
        self.pki: TestPki | None = None
        self.tls: TlsFront | None = None
        self.security_profile: int | None = None  # as TC_A_19_CS left it (None: as declared)

    # the server's Application
    def router_for(self, version: Version) -> Router[OcppConnection]:
        return self._router

    async def connected(self, connection: OcppConnection) -> None:
        self._connection = connection
        self._closed.clear()
        self.connections += 1
        self._connected.set()

    async def disconnected(self, connection: OcppConnection) -> None:
        if self._connection is connection:
            self._connection = None
            self._connected.clear()
            self._closed.set()

    async def _queue_call(self, request: Payload, connection: OcppConnection) -> Payload:
        return await queue_and_wait(request, self._incoming, self._open)

    # ------------------------------------------------------------------ offline periods, unanswered CALLs
    def _on_event(self, connection: OcppConnection, event: Event) -> None:
        """A station sends its next CALL only once the one before is answered or timed out (Part 4 §4.1.1):
        a new CALL means a held one timed out at the station."""
        if isinstance(event, CallReceived) and self._held:
            self.release_held()

    def hold(self, incoming: Incoming[Payload]) -> None:
        """Leave ``incoming`` unanswered, as a CSMS that does not reply (E13). The server handles a station's
        CALLs one after another, so the held one is released with a late CALLERROR (which the station,
        having timed out, ignores) as soon as the station's next CALL arrives."""
        self._held.append(incoming)

    def release_held(self) -> None:
        held, self._held = self._held, []
        for incoming in held:
            incoming.refuse(InternalError("the conformance tool did not answer this CALL in time"))

    @property
    def refusing(self) -> bool:
        return self.directory.refusing

    @refusing.setter
    def refusing(self, value: bool) -> None:
        self.directory.refusing = value

    @property
    def attempts(self) -> list[tuple[float, bool]]:
        """Every connection attempt of the station: (event loop time, accepted)."""
        return self.directory.attempts

    async def drop_connection(self, step: int | str, *, refuse: bool) -> None:
        """Close the station's WebSocket (1001, going away); with ``refuse`` its reconnections fail until
        ``refusing`` is set back to False."""
        self.refusing = refuse
        self.release_held()
        connection = self._connection
        if connection is None:
            return
        await connection.close(1001, "the conformance tool closes the connection")
        try:
            await asyncio.wait_for(self._closed.wait(), 5.0)
        except TimeoutError:
            raise StepFailed(step, "the connection to the station did not close") from None

    def take_queued(self) -> list[Incoming[Payload]]:
        """The CALLs queued and not taken by a step yet (e.g. those of a connection just closed)."""
        taken = []
        while not self._incoming.empty():
            taken.append(self._incoming.get_nowait())
        return taken

    @property
    def port(self) -> int:
        return self.server.ports[0]

    @property
    def url(self) -> str:
        """What the station under test is configured with (without its identity)."""
        scheme = "ws" if self.settings.tls is None else "wss"
        return f"{scheme}://{self.settings.host}:{self.port}{self.settings.path_prefix}"

    @property
    def is_connected(self) -> bool:
        return self._connection is not None and self._connection.is_open

    async def start(self) -> None:
        await self.server.start()
        if self.settings.tls_port is not None:
            await self.start_tls()

    def set_password(self, password: str | None) -> None:
        """The Basic-auth password the next connections must present (TC_A_09_CS changes it)."""
        self.directory.set_password(password)

    async def start_tls(self) -> TlsFront:
        """The wss listener (blocks A, M), in front of this endpoint; started once."""
        if self.tls is None:
            front = TlsFront(self.settings.host, self.port, self.test_pki(), self.settings.tls_port or 0)
            await front.start()
            self.tls = front
        return self.tls

    def test_pki(self) -> TestPki:
        """The tool's test PKI (blocks A, L, M), made on first use."""
        if self.pki is None:
            settings = self.settings
            names = settings.tls_names or (settings.host, "localhost")
            self.pki = TestPki(names, settings.pki_dir)
        return self.pki

    @property
    def tls_url(self) -> str | None:
        """What a station on security profile 2 or 3 is configured with (without its identity)."""
        return None if self.tls is None else self.tls.url(self.settings.path_prefix)

    async def stop(self) -> None:
        for incoming in list(self._open):
            incoming.refuse(InternalError("the tool is stopping"))
        await self.server.shutdown(deadline=1.0)
        if self.files is not None:
            await self.files.stop()
        if self.tls is not None:
            await self.tls.stop()

    async def wait_connected(self, step: int | str, within: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), within)
        except TimeoutError:
            raise StepFailed(
                step, f"station {self.settings.station_id} did not connect within {within:g} s"
            ) from None

    async def next_call(self, within: float) -> Incoming[Payload] | None:
        try:
            return await asyncio.wait_for(self._incoming.get(), within)
        except TimeoutError:
            return None

    async def call(self, step: int | str, request: Payload) -> Payload:
        name = type(request).__name__
        connection = self._connection
        if connection is None:
            raise StepFailed(step, f"cannot send {name}: the station is not connected")
        try:
            return await asyncio.wait_for(connection.call(request), CALL_TIMEOUT)
        except CallFailed as failed:
            error = failed.error
            raise StepFailed(
                step, f"the station answered {name} with CALLERROR {error.code} {error.description}".rstrip()
            ) from None
        except (CallTimeout, TimeoutError):
            raise StepFailed(step, f"no answer to {name} within {CALL_TIMEOUT:g} s") from None
        except ConnectionLost as lost:
            raise StepFailed(step, f"connection lost while sending {name}: {lost}") from None

    # -- additions for the network profile cases (TC_B_45..B_50) ------------------------------------------
    def refuse_connections(self, count: int) -> None:
        """Refuse the station's next ``count`` connection attempts (as an unreachable CSMS would)."""
        self.directory.refusals = count

    @property
    def refusals_left(self) -> int:
        return self.directory.refusals

    async def call_error(self, step: int | str, request: Payload) -> str:
        """Send ``request`` expecting a CALLERROR; returns its code."""
        connection = self._connection
        if connection is None:
            raise StepFailed(step, "the station is not connected")
        try:
            response = await asyncio.wait_for(connection.call(request), CALL_TIMEOUT)
        except CallFailed as failed:
            return failed.error.code
        except (CallTimeout, TimeoutError, ConnectionLost) as error:
            raise StepFailed(step, f"{type(request).__name__}: expected a CALLERROR, got {error!r}") from None
        raise StepFailed(step, f"expected a CALLERROR, the station answered with {type(response).__name__}")


@dataclass
class Answers:
    """How the tool answers what a step does not look at itself; a case may change it."""

    registration: en.RegistrationStatusEnumType = en.RegistrationStatusEnumType.ACCEPTED
    interval: int = HEARTBEAT_INTERVAL
    valid_tokens: set[str] = field(default_factory=set)  # Accepted; any other token is Invalid
    # block C: a status other than Accepted / Invalid for a token, and the groupIdToken the tool gives a token
    statuses: dict[str, en.AuthorizationStatusEnumType] = field(default_factory=dict)
    groups: dict[str, dt.IdTokenType] = field(default_factory=dict)
    # block I: the totalCost and updatedPersonalMessage of every TransactionEvent answer, when set
    total_cost: float | None = None
    updated_message: str | None = None


def token_info(token: dt.IdTokenType | None, answers: Answers) -> dt.IdTokenInfoType:
    accepted = token is not None and token.id_token in answers.valid_tokens
    status = en.AuthorizationStatusEnumType.ACCEPTED if accepted else en.AuthorizationStatusEnumType.INVALID
    if token is not None:
        status = answers.statuses.get(token.id_token, status)
        group = answers.groups.get(token.id_token)
        if group is not None:
            return dt.IdTokenInfoType(status=status, group_id_token=group)
    return dt.IdTokenInfoType(status=status)


def default_answer(request: Payload, answers: Answers) -> Payload | None:
    """The tool's answer to a station CALL no step is waiting for (None: the tool refuses it)."""
    match request:
        case msg.BootNotificationRequest():
            return msg.BootNotificationResponse(
                current_time=utc_now(), interval=answers.interval, status=answers.registration
            )
        case msg.HeartbeatRequest():
            return msg.HeartbeatResponse(current_time=utc_now())
        case msg.StatusNotificationRequest():
            return msg.StatusNotificationResponse()
        case msg.NotifyEventRequest():
            return msg.NotifyEventResponse()
        case msg.NotifyReportRequest():
            return msg.NotifyReportResponse()
        case msg.NotifyMonitoringReportRequest():
            return msg.NotifyMonitoringReportResponse()
        case msg.ReportChargingProfilesRequest():
            return msg.ReportChargingProfilesResponse()
        case msg.MeterValuesRequest():
            return msg.MeterValuesResponse()
        case msg.SecurityEventNotificationRequest():
            return msg.SecurityEventNotificationResponse()
        case msg.FirmwareStatusNotificationRequest():
            return msg.FirmwareStatusNotificationResponse()
        case msg.LogStatusNotificationRequest():
            return msg.LogStatusNotificationResponse()
        case msg.ReservationStatusUpdateRequest():  # reservation cases (block H)
            return msg.ReservationStatusUpdateResponse()
        case msg.AuthorizeRequest():
            return msg.AuthorizeResponse(id_token_info=token_info(request.id_token, answers))
        case msg.TransactionEventRequest():
            token = request.id_token if isinstance(request.id_token, dt.IdTokenType) else None
            cost = UNSET if answers.total_cost is None else answers.total_cost
            text = answers.updated_message
            message = (
                UNSET
                if text is None
                else dt.MessageContentType(format=en.MessageFormatEnumType.UTF8, content=text)
            )
            info = UNSET if token is None else token_info(token, answers)
            return msg.TransactionEventResponse(
                id_token_info=info, total_cost=cost, updated_personal_message=message
            )
        case msg.DataTransferRequest():
            return msg.DataTransferResponse(status=en.DataTransferStatusEnumType.UNKNOWN_VENDOR_ID)
        # Blocks N (customer information) and A (security): answers that say nothing.
        case msg.NotifyCustomerInformationRequest():
            return msg.NotifyCustomerInformationResponse()
        case msg.NotifyDisplayMessagesRequest():
            return msg.NotifyDisplayMessagesResponse()
        case msg.NotifyEVChargingScheduleRequest():  # block K, ISO 15118: every case answers Accepted
            return msg.NotifyEVChargingScheduleResponse(status=en.GenericStatusEnumType.ACCEPTED)
    return None


class StationTool:
    """What a ``_CS`` case works with: the endpoint, the configured values, the manual-action adapter, and
    every station CALL seen so far in the case."""

    def __init__(self, endpoint: CsmsEndpoint, adapter: StationAdapter, configured: Configured) -> None:
        self.endpoint = endpoint
        self.adapter = adapter
        self.configured = configured
        self.answers = Answers(valid_tokens={configured.valid_idtoken})
        self.seen: list[Payload] = []  # every station CALL of the case, in order
        self.progress: set[str] = set()  # the reusable states reached (EVConnected, Authorized, ...)
        self.remote_start_id: int | None = None
        self.remote_started_at = 0  # len(seen) when the tool's RequestStartTransaction was accepted
        self.offline_at = 0  # len(seen) when the tool last took the station offline

    async def send(self, step: int | str, request: Payload) -> Payload:
        return await self.endpoint.call(step, request)

    # Blocks A, L, M, N: the tool's file server and test PKI, started on first use and kept for the run.
    async def file_server(self) -> FileServer:
        if self.endpoint.files is None:
            files = FileServer(self.endpoint.settings.host)
            await files.start()
            self.endpoint.files = files
        return self.endpoint.files

    def pki(self) -> TestPki:
        return self.endpoint.test_pki()

    async def send_as(self, step: int | str, request: Payload, response_type: type[R]) -> R:
        response = await self.send(step, request)
        if not isinstance(response, response_type):
            raise StepFailed(step, f"unexpected {type(response).__name__}")
        return response

    async def send_expecting_error(self, step: int | str, request: Payload) -> str:
        return await self.endpoint.call_error(step, request)

    async def manual(self, action: StationAction) -> None:
        """Ask for a manual action at the station (a person, or the test's driver of our own station)."""
        await self.adapter.perform(action)

    def answer_default(self, incoming: Incoming[R]) -> None:
        answer = default_answer(incoming.request, self.answers)
        if answer is None:
            incoming.refuse(
                InternalError(f"the conformance tool does not answer {type(incoming.request).__name__}")
            )
        else:
            incoming.answer(answer)

    async def expect(
        self,
        step: int | str,
        request_type: type[R],
        within: float = DEFAULT_WITHIN,
        where: Callable[[R], bool] | None = None,
    ) -> Incoming[R]:
        """The next station CALL of ``request_type`` (for which ``where`` holds), within ``within`` seconds;
        the others met meanwhile get the default answer."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            left = deadline - asyncio.get_running_loop().time()
            incoming = await self.endpoint.next_call(max(left, 0.0)) if left > 0 else None
            if incoming is None:
                which = f"a {request_type.__name__}" + (" as the step describes" if where else "")
                raise StepFailed(step, f"expected {which} from the station within {within:g} s, none came")
            self._keep(incoming)
            if isinstance(incoming.request, request_type):
                typed = cast("Incoming[R]", incoming)
                if where is None or where(typed.request):
                    return typed
            self.answer_default(incoming)

    async def expect_answered(
        self,
        step: int | str,
        request_type: type[R],
        within: float = DEFAULT_WITHIN,
        where: Callable[[R], bool] | None = None,
    ) -> R:
        """As :meth:`expect`, answering with the default answer: for steps whose answer says nothing."""
        incoming = await self.expect(step, request_type, within, where)
        self.answer_default(incoming)
        return incoming.request

    async def expect_none(self, step: int | str, request_type: type[Payload], within: float) -> None:
        """Fail if the station sends a ``request_type`` within ``within`` seconds (others are answered)."""
        try:
            incoming = await self.expect(step, request_type, within)
        except StepFailed:
            return
        self.answer_default(incoming)
        raise StepFailed(step, f"the station sent a {request_type.__name__}, expected none")

    async def drain(self, within: float = 0.3, limit: float = 15.0) -> None:
        """Answer whatever the station sends until ``within`` seconds of quiet, or ``limit`` seconds in all
        (a station may send heartbeats or meter values more often than ``within``)."""
        loop = asyncio.get_running_loop()
        until = loop.time() + max(limit, within)
        while (left := until - loop.time()) > 0 and (
            incoming := await self.endpoint.next_call(min(within, left))
        ) is not None:
            self._keep(incoming)
            self.answer_default(incoming)

    # ------------------------------------------------------------------ offline periods, unanswered CALLs
    def _keep(self, incoming: Incoming[Payload]) -> None:
        self.seen.append(incoming.request)

    async def go_offline(self, step: int | str) -> None:
        """Close the connection and refuse the station's reconnections (until :meth:`come_online`). CALLs of
        the closed connection not taken yet are kept in ``seen`` (their answers can no longer reach the
        station: it sends them again)."""
        await self.endpoint.drop_connection(step, refuse=True)
        for incoming in self.endpoint.take_queued():
            self._keep(incoming)
            incoming.refuse(InternalError("the connection is closed"))
        self.offline_at = len(self.seen)

    async def come_online(self, step: int | str, within: float = 30.0) -> None:
        """Accept the station's reconnection again and wait for it."""
        self.endpoint.refusing = False
        await self.endpoint.wait_connected(step, within)

    @contextlib.asynccontextmanager
    async def offline(self, step: int | str) -> AsyncIterator[None]:
        """The station is offline inside the block (its reconnections refused); leaving the block, however
        it is left, accepts them again (:meth:`come_online` then waits for the connection)."""
        await self.go_offline(step)
        try:
            yield
        finally:
            self.endpoint.refusing = False

    def withhold(self, incoming: Incoming[R]) -> None:
        """Do not answer ``incoming`` (a CSMS that does not reply within the station's MessageTimeout)."""
        self.endpoint.hold(cast("Incoming[Payload]", incoming))


# -- addition for the network profile cases (TC_B_45..B_50): a second CSMS address -------------------------
@contextlib.asynccontextmanager
async def alternate_endpoint(
    endpoint: CsmsEndpoint, tls: TlsSettings | None = None
) -> AsyncIterator[CsmsEndpoint]:
    """A second listening endpoint on the same host (any free port), for the same identity and password:
    the "ocppCsmsUrl that is not currently active" of a new network connection profile. It speaks TLS
    with ``tls`` when given, else as ``endpoint`` does."""
    settings = endpoint.settings
    other = CsmsEndpoint(
        ListenSettings(
            settings.host,
            0,
            settings.station_id,
            settings.password,
            "/ocpp-alt",
            tls if tls is not None else settings.tls,
        )
    )
    await other.start()
    try:
        yield other
    finally:
        await other.stop()
