"""The OCPP-J WebSocket server of the CSMS.

Each upgrade request goes through, in order and before any WebSocket upgrade:

0. on arrival, before its request is read: while ``admission_max_opening`` handshakes are in progress
   (counting the connections let in on arrival in the same turn of the event loop) or the loop lags past
   ``admission_max_lag``, a ws:// connection is answered with the fixed 503 of step 3 and a wss:// one is
   dropped before any TLS work (without ``admission_opening_wait`` only: with it, they wait at step 3);
1. the path: ``<prefix>/<stationId>``, the identity percent-decoded and checked as an identifierString
   (2.0.1 Part 4 §3.1.1): 404 for another path, 400 for a malformed identity;
2. the subprotocol: the newest of ``ocpp2.1``, ``ocpp2.0.1``, ``ocpp1.6`` offered by both sides; 400 when
   there is none in common (or none offered and no default is configured);
3. admission control: 503 with ``Retry-After``, before the identity is looked up, while
   ``admission_max_opening`` handshakes are in progress (after waiting up to ``admission_opening_wait``
   for one of them to end, in arrival order); then beyond the (adaptive) connection rate or
   count (after the identity is looked up, see below);
4. authentication by the station's security profile (:mod:`chargeplane.transport.security`): 401, logged
   as a security event with the remote address. An unknown station gets the same 401 after the same work
   (a dummy password check), so that neither status nor time tells which identities exist; with
   ``uniform_auth_failures`` off it gets 404 (J16 §3.2, Part 4 §3.1.1 say SHOULD).

Defences against hostile clients (:mod:`chargeplane.transport.guard`): before any work, an address that
only fails is refused with 429 once its failure budget is spent or it is locked out; an identity locked
out after repeated failures is refused without any password hash computed; admission control (3.) takes
place after the identity is looked up, with a separate small budget for unknown identities, so that
strangers cannot spend the budget of the registered stations. On the TLS port the handshake is done by
the connection itself, so that a refused one (bad client certificate...) becomes a security event.

An authenticated connection for an identity that is already connected replaces the old one: the old socket
is closed and its pending CALLs fail with :class:`~chargeplane.transport.connection.ConnectionLost` (the
spec is silent; keeping the old one would lock out a station whose old TCP connection is half-open).
"""

from __future__ import annotations

import asyncio
import collections
import functools
import http
import ipaddress
import logging
import re
import secrets
import ssl
import time
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Protocol, cast

from cryptography import x509
from cryptography.x509.oid import NameOID
from typing_extensions import Doc
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from chargeplane.ocpp.catalog import CSMS
from chargeplane.ocpp.endpoint import DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_MESSAGE_SIZE, RpcEndpoint
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version, negotiate
from chargeplane.transport.admission import AdaptiveRate, AdmissionControl, Refusal
from chargeplane.transport.connection import AnswerListener, EventListener, OcppConnection
from chargeplane.transport.guard import STATION, AttackGuard, GuardSettings, Lockout
from chargeplane.transport.security import (
    TLS_VERSION_REASONS,
    BasicCredentials,
    SecurityProfile,
    StationSecurity,
    TlsSettings,
    VerifiedPasswordCache,
    check_client_certificate,
    hash_password,
    is_costly_to_verify,
    parse_basic_auth,
    presented_certificate,
    server_tls_context,
    subject_of,
    verify_password,
    wire_password_to_configured,
)

log = logging.getLogger(__name__)
security_log = logging.getLogger("chargeplane.security")

# identifierString (2.0.1 Part 2 §2.1.4) without ':' (it is the Basic-auth user name), at most 48 characters.
_IDENTITY = re.compile(r"\A[a-zA-Z0-9*\-_=+|@.]{1,48}\Z")


@dataclass(frozen=True)
class ServerSettings:
    """The OCPP server's settings (``CHARGEPLANE_OCPP_<FIELD>``); each field's ``Doc`` is its reference text."""

    host: Annotated[str, Doc("OCPP listen address; 127.0.0.1 keeps OCPP on loopback")] = "0.0.0.0"
    port: Annotated[int | None, Doc("plain ws port (security profile 1); none: no plain listener")] = 9000
    tls_port: Annotated[int | None, Doc("wss port (profiles 2 and 3), used when a certificate is set")] = 9443
    tls: TlsSettings | None = None  # set through the TLS settings of the CSMS (certificate, key, client CA)
    path_prefix: Annotated[str, Doc("URL path before /<stationId>")] = "/ocpp"
    versions: Annotated[tuple[Version, ...], Doc("OCPP versions offered, comma-separated")] = (
        Version.V21,
        Version.V201,
        Version.V16,
    )
    default_version: Annotated[
        Version | None, Doc("version for clients that offer no subprotocol; none: refuse them")
    ] = None
    ping_interval: Annotated[float | None, Doc("seconds between WebSocket pings (WebSocketPingInterval)")] = (
        60.0
    )
    ping_timeout: Annotated[float | None, Doc("seconds to wait for a pong before closing as dead")] = 30.0
    call_timeout: Annotated[float, Doc("seconds to wait for a station's answer to a CALL")] = (
        DEFAULT_CALL_TIMEOUT
    )
    max_message_size: Annotated[int, Doc("largest accepted WebSocket message, bytes")] = (
        DEFAULT_MAX_MESSAGE_SIZE
    )
    max_queued_calls: Annotated[int, Doc("CALLs that may wait for one station")] = 100
    compression: Annotated[bool, Doc("offer permessage-deflate (RFC 7692); costs memory per connection")] = (
        False
    )
    admission_rate: Annotated[
        float, Doc("new connections per second to start from, and the floor of the adaptive rate")
    ] = 200.0
    admission_burst: Annotated[int, Doc("new connections in a burst above the rate")] = 400
    admission_max_rate: Annotated[
        float,
        Doc(
            "new connections per second at most: the rate grows towards it while the server keeps up "
            "(event-loop lag and database backlog under their targets); 0 (or at most admission_rate): a "
            "fixed admission_rate"
        ),
    ] = 5000.0
    admission_target_lag: Annotated[
        float, Doc("event-loop lag (seconds) above which the adaptive admission rate backs off")
    ] = 0.1
    admission_max_backlog: Annotated[
        int, Doc("database writes queued above which the adaptive admission rate backs off")
    ] = 2000
    admission_max_opening: Annotated[
        int,
        Doc(
            "opening handshakes in progress at most (from the request, before the station is looked up, to "
            "the end of its password check); more get 503 at once, on arrival before their request is parsed "
            "(wss://: dropped before TLS); 0: no cap"
        ),
    ] = 256
    admission_opening_wait: Annotated[
        float,
        Doc(
            "seconds a request beyond admission_max_opening waits (in arrival order, at no cost) for a "
            "handshake in progress to end, and a registered station beyond the admission rate waits its "
            "turn at the rate, before either gets 503; 0: 503 at once, on arrival beyond the cap (a storm's "
            "refused stations then come back together after Retry-After: twice as long to bring a 5,000 "
            "station storm back, bench/RESULTS.md)"
        ),
    ] = 5.0
    admission_max_lag: Annotated[
        float | None,
        Doc("refuse new connections while the event loop runs this many seconds late; none: off"),
    ] = 0.5
    max_connections: Annotated[int, Doc("open OCPP connections at most")] = 20_000
    allow_unauthenticated: Annotated[
        bool, Doc("development only, loopback only: unknown stations connect without credentials")
    ] = False
    open_timeout: Annotated[float, Doc("seconds a WebSocket opening handshake may take")] = 10.0
    listen_backlog: Annotated[
        int,
        Doc(
            "TCP connections the kernel queues until the server accepts them (capped by net.core.somaxconn); "
            "in a reconnection storm a short queue drops connections before they reach admission control"
        ),
    ] = 4096
    reuse_port: Annotated[
        bool,
        Doc(
            "bind the OCPP ports and the HTTP API port with SO_REUSEPORT: processes of one user on this host "
            "share them, the kernel spreads new connections (set for each worker by serve --workers)"
        ),
    ] = False
    lockout_station_failures: Annotated[
        int, Doc("failed logins of one station identity before it is locked out; 0: no lockout")
    ] = 5
    lockout_source_failures: Annotated[
        int, Doc("failed logins (or TLS handshakes) from one address before it is locked out; 0: none")
    ] = 50
    lockout_base: Annotated[float, Doc("seconds of a first lockout, doubled by each further failure")] = 2.0
    lockout_max: Annotated[float, Doc("the longest lockout, seconds")] = 900.0
    lockout_forget: Annotated[float, Doc("seconds without a failure after which failures are forgotten")] = (
        900.0
    )
    source_failure_rate: Annotated[
        float, Doc("failed handshakes per second one address may spend before it gets 429; 0: no limit")
    ] = 5.0
    source_failure_burst: Annotated[int, Doc("failed handshakes one address may spend in a burst")] = 50
    unknown_admission_rate: Annotated[
        float,
        Doc("handshakes per second for unknown identities, apart from the stations' budget; 0: shared"),
    ] = 20.0
    unknown_admission_burst: Annotated[int, Doc("handshakes in a burst for unknown identities")] = 20
    uniform_auth_failures: Annotated[
        bool, Doc("answer unknown identities 401 like a wrong password, in the same time; false: 404")
    ] = True
    close_timeout: Annotated[
        float, Doc("seconds a closing handshake may take before the TCP connection is dropped")
    ] = 5.0


_ALERT, _HANDSHAKE = 21, 22  # TLS record content types
_CERTIFICATE = 11  # the handshake message carrying the client's certificate chain
_CERTIFICATE_REVOKED = 44  # the alert the server sends when the CRL lists the client certificate


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    kind: str  # e.g. AuthenticationFailed, InvalidChargingStationCertificate
    station_id: str
    remote_address: str
    reason: str


class StationDirectory(Protocol):
    """Where the server learns what each station must present; the CSMS backs it with its database."""

    async def security_for(self, station_id: str) -> StationSecurity | None:
        """The station's security configuration, or ``None`` if the station is unknown."""


class Application(Protocol):
    """What the server needs from the CSMS."""

    def router_for(self, version: Version) -> Router[OcppConnection]: ...

    async def connected(self, connection: OcppConnection) -> None: ...

    async def disconnected(self, connection: OcppConnection) -> None: ...


@dataclass(slots=True)
class _Handshake:
    station_id: str
    version: Version
    admission: AdmissionControl
    profile: SecurityProfile | None = None
    released: bool = False
    pending_password: bool = False  # authenticated with StationSecurity.pending_password_hash


# A CSMS-side security event that is not in the spec's list: a station identity or an address locked out.
LOCKOUT_EVENT = "AuthenticationLockout"
_UNAUTHORIZED_BODY = "Unauthorized\n"


class OcppServer:
    """Serves OCPP-J on a plain and/or a TLS listener. Use ``async with`` or :meth:`start` / :meth:`shutdown`."""

    def __init__(
        self,
        settings: ServerSettings,
        application: Application,
        directory: StationDirectory,
        *,
        on_security_event: Callable[[SecurityEvent], Awaitable[None] | None] | None = None,
        on_event: EventListener | None = None,
        on_answered: AnswerListener | None = None,
    ) -> None:
        if settings.allow_unauthenticated and not _is_loopback(settings.host):
            raise ValueError("allow_unauthenticated is only for servers bound to a loopback address")
        if settings.port is None and settings.tls is None:
            raise ValueError("the server needs a plain port or TLS settings")
        self.settings = settings
        self.application = application
        self.directory = directory
        self._on_security_event = on_security_event
        self._on_event = on_event
        self._on_answered = on_answered
        self.admission = AdmissionControl(
            settings.admission_rate,
            settings.admission_burst,
            settings.max_connections,
            settings.admission_max_lag,
            adaptive=AdaptiveRate(
                settings.admission_max_rate, settings.admission_target_lag, settings.admission_max_backlog
            )
            if settings.admission_max_rate > settings.admission_rate
            else None,  # nothing to adapt: a fixed rate
            max_opening=settings.admission_max_opening or None,
        )
        # The database writer's backlog (units queued), a signal of the adaptive rate; set by the CSMS.
        self.writer_backlog: Callable[[], int] = lambda: 0
        # Unknown identities get their own small budget, so strangers cannot spend the stations' one.
        self.unknown_admission = (
            AdmissionControl(
                settings.unknown_admission_rate, settings.unknown_admission_burst, settings.max_connections
            )
            if settings.unknown_admission_rate > 0
            else self.admission
        )
        self.guard = AttackGuard(
            GuardSettings(
                station_failures=settings.lockout_station_failures,
                source_failures=settings.lockout_source_failures,
                lockout_base=settings.lockout_base,
                lockout_max=settings.lockout_max,
                forget_after=settings.lockout_forget,
                source_rate=settings.source_failure_rate,
                source_burst=settings.source_failure_burst,
            )
        )
        self._lag_watch: asyncio.Task[None] | None = None
        self._passwords = VerifiedPasswordCache()
        started = time.perf_counter()
        self._dummy_hash = hash_password(secrets.token_urlsafe(24))  # checked for unknown identities
        self._check_seconds = time.perf_counter() - started  # how long a password check takes, smoothed
        self._tls_tasks: set[asyncio.Task[None]] = set()
        self._handshakes: dict[ServerConnection, _Handshake] = {}
        self._connections: dict[str, OcppConnection] = {}
        # requests waiting for a place among the handshakes in progress (admission_opening_wait)
        self._opening_queue: collections.deque[asyncio.Future[None]] = collections.deque()
        # Connections let in on arrival in this turn of the event loop: a burst of them arrives at once, before
        # any of their requests reaches admission, and counts against admission_max_opening. Only this turn's:
        # connections that never send a request must not hold places (open_timeout ends them).
        self._arrived_now = 0
        self._servers: list[Server] = []
        self._client_crl: bytes | None = None
        self._tls_context: ssl.SSLContext | None = None  # the current one; a new handshake switches to it
        self._listener_context: ssl.SSLContext | None = None  # the one the TLS listener was made with
        self._presented: weakref.WeakKeyDictionary[ssl.SSLObject, x509.Certificate] = (
            weakref.WeakKeyDictionary()
        )
        self._handshaking: dict[asyncio.Transport, str] = {}  # TLS handshakes going on: the peer's address
        self._background: set[asyncio.Task[None]] = set()
        self._prefix = "/" + settings.path_prefix.strip("/") if settings.path_prefix.strip("/") else ""

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        watch = settings.admission_max_lag is not None or self.admission.adaptive is not None
        if watch and self._lag_watch is None:
            self._lag_watch = asyncio.create_task(self._watch_lag(), name="admission-lag")
        if settings.port is not None:
            self._servers.append(await self._listen(settings.port, None))
        if settings.tls is not None and settings.tls_port is not None:
            listener = self._listener_context = self._new_tls_context()
            setattr(listener, "_msg_callback", self._tls_message)  # noqa: B010 (see _new_tls_context)
            self._tls_context = self._new_tls_context()  # every handshake switches to the current one
            self._servers.append(await self._listen(settings.tls_port, listener))

    # -- the TLS door: revocation --------------------------------------------------------------------------

    def set_client_crl(self, crl_pem: bytes | None) -> None:
        """Check client certificates against this CRL (PEM) from the next handshake on (None: no CRL check).

        The listener keeps its first context; each handshake switches to the newest one in its SNI callback,
        which OpenSSL calls for every ClientHello (with or without a server name)."""
        if crl_pem == self._client_crl:
            return
        self._client_crl = crl_pem
        if self.settings.tls is not None and self._listener_context is not None:
            self._tls_context = self._new_tls_context()
            # a connection copies its verification flags from the listener's context when it is made (only the
            # CRL store comes from the context it switches to): the listener's context carries the CRL check
            if crl_pem is not None:
                self._listener_context.verify_flags |= ssl.VERIFY_CRL_CHECK_LEAF
            else:
                self._listener_context.verify_flags &= ~ssl.VERIFY_CRL_CHECK_LEAF

    def _new_tls_context(self) -> ssl.SSLContext:
        assert self.settings.tls is not None
        context = server_tls_context(self.settings.tls, self._client_crl)
        context.sni_callback = self._switch_context
        # A refused client certificate never reaches the HTTP handshake: the TLS messages tell which one it was
        # (CPython's message hook, no public API). OpenSSL calls the hook when the listener's context has one;
        # CPython then asks the connection's current context, so a context without the CRL costs nothing.
        if self._client_crl is not None:
            setattr(context, "_msg_callback", self._tls_message)  # noqa: B010
        return context

    def _switch_context(
        self, connection: ssl.SSLObject, server_name: str | None, context: ssl.SSLContext
    ) -> None:
        if self._tls_context is not None and context is not self._tls_context:
            connection.context = self._tls_context

    def _tls_message(
        self,
        connection: ssl.SSLObject,
        direction: str,
        version: object,
        content_type: int,
        kind: int,
        data: bytes,
    ) -> None:
        if content_type == _HANDSHAKE and kind == _CERTIFICATE and direction == "read":
            presented = presented_certificate(data, version == ssl.TLSVersion.TLSv1_3)
            if presented is not None:
                self._presented[connection] = presented
        elif content_type == _ALERT and kind == _CERTIFICATE_REVOKED and direction == "write":
            certificate = self._presented.pop(connection, None)
            names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if certificate else []
            station_id = str(names[0].value) if names else "?"
            serial = format(certificate.serial_number, "x") if certificate else "?"
            reason = f"client certificate {serial} is revoked (CRL): refused in the TLS handshake"
            remote = self._handshaking_peer(connection)
            task = asyncio.get_running_loop().create_task(
                self._security_event(
                    SecurityEvent("InvalidChargingStationCertificate", station_id, remote, reason)
                )
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _handshaking_peer(self, connection: ssl.SSLObject) -> str:
        """The address of the TLS handshake going on in ``connection`` ("?" when not found): asyncio's TLS
        protocol, the raw transport's protocol during the handshake, holds it (no public accessor)."""
        for raw, remote in self._handshaking.items():
            if getattr(raw.get_protocol(), "_sslobj", None) is connection:
                return remote
        return "?"

    def now(self) -> float:
        """The clock of admission control and of the guard (the event loop's, monotonic)."""
        return asyncio.get_running_loop().time()

    async def _watch_lag(self, interval: float = 0.1) -> None:
        """Feed admission control with the event loop's lag (how late a short sleep wakes up) and the
        database writer's backlog."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            now = loop.time()
            self.admission.observe(now, max(0.0, now - started - interval), self.writer_backlog())

    async def _listen(self, port: int, context: ssl.SSLContext | None) -> Server:
        """A listener; TLS is set up by :class:`_TlsServerConnection` (not by asyncio's server) so that a
        refused TLS handshake is seen, with the peer's address, and recorded."""
        settings = self.settings
        return await serve(
            self._handle,
            settings.host,
            port,
            create_connection=(
                _tls_connection_class(self, context) if context is not None else _plain_connection_class(self)
            ),
            process_request=self._process_request,
            compression="deflate" if settings.compression else None,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            max_size=settings.max_message_size,
            open_timeout=settings.open_timeout,
            close_timeout=settings.close_timeout,
            server_header=None,
            reuse_port=settings.reuse_port,
            backlog=settings.listen_backlog,
        )

    @property
    def ports(self) -> list[int]:
        """The bound ports (plain first), useful when the settings asked for port 0."""
        return [server.sockets[0].getsockname()[1] for server in self._servers if server.sockets]

    async def shutdown(self, deadline: float = 10.0) -> None:
        """Stop accepting, let in-flight CALLs finish for up to ``deadline`` seconds, then close every
        connection with 1001 (going away) and wait for the handlers to end."""
        for server in self._servers:
            server.close(close_connections=False)
        idle = asyncio.gather(*(conn.idle.wait() for conn in self._connections.values()))
        try:
            await asyncio.wait_for(idle, timeout=deadline)
        except TimeoutError:
            log.warning("shutdown: CALLs still in flight after %.1f s; closing anyway", deadline)
        await asyncio.gather(
            *(conn.close(1001, "server shutting down") for conn in list(self._connections.values())),
            return_exceptions=True,
        )
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        for task in list(self._tls_tasks):
            task.cancel()
        if self._lag_watch is not None:
            self._lag_watch.cancel()
            self._lag_watch = None

    async def __aenter__(self) -> OcppServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.shutdown()

    def connection_for(self, station_id: str) -> OcppConnection | None:
        """The live connection of a station (identities are case-insensitive)."""
        return self._connections.get(station_id.casefold())

    @property
    def connections(self) -> list[OcppConnection]:
        return list(self._connections.values())

    # -- handshake --------------------------------------------------------------------------------------

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        remote = _remote(connection)
        source = _host(connection)
        station_id = self._station_id(request.path)
        if station_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Unknown path\n")
        if not _IDENTITY.match(station_id):
            return connection.respond(http.HTTPStatus.BAD_REQUEST, "Invalid charging station identity\n")
        version = self._negotiate(request.headers)
        if version is None:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, "No OCPP version in common\n")
        # Before any work (no database read, no hash): an address that only fails is slowed down.
        wait = self.guard.refuse_source(source, self.now())
        if wait is not None:
            return _retry_later(
                connection, http.HTTPStatus.TOO_MANY_REQUESTS, "Too many failed attempts\n", wait
            )
        busy = self.admission.begin()  # the same for every identity: it tells nothing about which exist
        if busy is not None and not await self._opening_handed_on():
            return _retry_later(
                connection, http.HTTPStatus.SERVICE_UNAVAILABLE, busy.reason + "\n", busy.retry_after
            )
        try:
            return await self._admit(connection, request, station_id, version, source, remote)
        finally:
            self._opening_over()

    def refusal_on_arrival(self) -> Refusal | None:
        """Why a connection just accepted is refused before anything of its request is read: handshakes in
        progress, with those let in on arrival in this turn of the loop, at their cap, or the event loop
        lagging past ``admission_max_lag`` (what admission control would answer once the request is parsed,
        whoever sends it). Never while requests beyond the cap wait for a place (``admission_opening_wait``)."""
        if self.settings.admission_opening_wait > 0:
            return None
        refusal = self.admission.saturated(arriving=self._arrived_now)
        if refusal is None:
            self._arrived_now += 1
            if self._arrived_now == 1:
                asyncio.get_running_loop().call_soon(self._next_turn)
        return refusal

    def _next_turn(self) -> None:
        self._arrived_now = 0

    async def _opening_handed_on(self) -> bool:
        """Wait (at most ``admission_opening_wait``) for a handshake in progress to hand its place on to this
        request; whether it did. A storm's requests beyond the cap queue in arrival order instead of all
        coming back with their 503 after the same second (a herd that left the server idle in between)."""
        wait = self.settings.admission_opening_wait
        if wait <= 0 or len(self._opening_queue) >= self.settings.max_connections:
            return False
        place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._opening_queue.append(place)
        try:
            await asyncio.wait((place,), timeout=wait)
        except BaseException:  # cancelled (the client went away, shutdown): a place handed on moves on
            if place.done():
                self._opening_over()
            place.cancel()
            raise
        if place.done():
            return True
        place.cancel()  # skipped by the next hand-over
        return False

    def _opening_over(self) -> None:
        """A handshake let go on by admission is over: its place goes to the longest-waiting request, if any
        (the count of handshakes in progress stays), else it is freed."""
        queue = self._opening_queue
        while queue:
            place = queue.popleft()
            if not place.done():
                place.set_result(None)
                return
        self.admission.opened()

    async def _admit(
        self,
        connection: ServerConnection,
        request: Request,
        station_id: str,
        version: Version,
        source: str,
        remote: str,
    ) -> Response | None:
        """Steps 3 and 4 of the handshake: look the station up, admit it, authenticate it."""
        security = await self.directory.security_for(station_id)
        credentials = parse_basic_auth(request.headers.get("Authorization"))
        if self._locked_out(station_id, credentials, security):
            # No hash, no admission token: the same 401 as a wrong password, after as long as a check takes.
            self.guard.refused_while_locked(source, self.now())
            await asyncio.sleep(self._check_seconds)
            return _unauthorized(connection)
        known = security is not None or self.settings.allow_unauthenticated
        admission = self.admission if known else self.unknown_admission
        # Known stations wait their turn at the rate for as long as one waits for a handshake in progress
        # (a 503 would bring them back all together after a second); strangers are refused at once.
        admitted = admission.admit_within(self.now(), self.settings.admission_opening_wait if known else 0.0)
        refusal = admitted if isinstance(admitted, Refusal) else None
        if refusal is not None:
            if not known:
                self.guard.refused_unknown(source, self.now())
                if self.settings.uniform_auth_failures:  # a 503 would tell the identity is unknown
                    await asyncio.sleep(self._check_seconds)
                    return _unauthorized(connection)
            return _retry_later(
                connection, http.HTTPStatus.SERVICE_UNAVAILABLE, refusal.reason + "\n", refusal.retry_after
            )
        handshake = _Handshake(station_id, version, admission)
        self._handshakes[connection] = handshake
        if "Sec-WebSocket-Protocol" in request.headers:
            # The negotiated version, the one subprotocol websockets may pick among those offered; none
            # offered: the configured default, nothing echoed. (Not a select_subprotocol callback: websockets
            # wraps one in a closure over the connection, a reference cycle per connection that only the
            # garbage collector frees: seconds of pauses after a storm's thousands of refused handshakes.)
            connection.protocol.available_subprotocols = [Subprotocol(version.subprotocol)]
        connection.connection_lost_waiter.add_done_callback(lambda _: self._release(connection))
        if isinstance(admitted, float) and admitted > 0:
            await asyncio.sleep(admitted)
        failure = await self._authenticate(connection, credentials, handshake, security)
        if failure is None:
            self.guard.succeeded(station_id, source)
            return None
        status, kind, reason = failure
        await self._security_event(SecurityEvent(kind, station_id, remote, reason))
        for lockout in self.guard.failed(station_id, source, self.now()):
            await self._lockout_event(lockout, station_id, remote)
        if status == http.HTTPStatus.NOT_FOUND:
            return connection.respond(status, "Unknown station\n")
        return _unauthorized(connection)

    def _locked_out(
        self, station_id: str, credentials: BasicCredentials | None, security: StationSecurity | None
    ) -> bool:
        """Whether this attempt is refused because the identity is locked out. A password verified recently
        (in the cache: an HMAC away, no hash) still opens, so that a station already known to be genuine
        keeps reconnecting while an attacker hammers its identity; so does a client certificate (no hash
        to spend: the TLS layer checked it)."""
        if self.guard.station_locked(station_id, self.now()) is None:
            return False
        if security is None:
            return not self.settings.allow_unauthenticated
        if security.profile is SecurityProfile.TLS_CLIENT_CERTIFICATE:
            return False
        if credentials is None or security.password_hash is None:
            return True
        if credentials.username.casefold() != station_id.casefold():
            return True
        password = wire_password_to_configured(credentials.password, security.v16_key_encoding)
        return not self._passwords.contains(station_id, security.password_hash, password)

    async def _tls_refused(self, error: ssl.SSLError, host: str, remote: str) -> None:
        """A TLS handshake failed (wrong CA, expired or self-signed client certificate, old TLS...). A revoked
        certificate's event is recorded by the TLS message hook (:meth:`_tls_message`), which knows the station
        and the serial: counted here, not recorded twice."""
        if not (
            isinstance(error, ssl.SSLCertVerificationError) and error.verify_code == _X509_V_ERR_CERT_REVOKED
        ):
            await self._security_event(SecurityEvent(tls_event_kind(error), "", remote, _tls_reason(error)))
        for lockout in self.guard.failed(None, host, self.now()):
            await self._lockout_event(lockout, "", remote)

    async def _lockout_event(self, lockout: Lockout, station_id: str, remote: str) -> None:
        what = f"station {station_id}" if lockout.kind == STATION else f"address {lockout.key}"
        reason = f"{what} locked out for {lockout.duration:g} s after {lockout.failures} failed attempts"
        await self._security_event(
            SecurityEvent(LOCKOUT_EVENT, station_id if lockout.kind == STATION else "", remote, reason)
        )

    def _station_id(self, path: str) -> str | None:
        route = path.split("?", 1)[0]
        if not route.startswith(self._prefix + "/"):
            return None
        segment = route[len(self._prefix) + 1 :]
        if not segment or "/" in segment:
            return None
        if "%" not in segment:
            return segment
        try:
            return urllib.parse.unquote(segment, errors="strict")
        except UnicodeDecodeError:  # percent-encoded bytes that are not UTF-8: no identity at all
            return ""

    def _negotiate(self, headers: Headers) -> Version | None:
        offered = [
            name.strip() for value in headers.get_all("Sec-WebSocket-Protocol") for name in value.split(",")
        ]
        if not offered:
            return self.settings.default_version
        return negotiate(offered, self.settings.versions)

    async def _authenticate(
        self,
        connection: ServerConnection,
        credentials: BasicCredentials | None,
        handshake: _Handshake,
        security: StationSecurity | None,
    ) -> tuple[http.HTTPStatus, str, str] | None:
        """``(status, security event kind, reason)`` when the station may not connect, else ``None``.

        Unknown identities and wrong passwords look alike (``uniform_auth_failures``): the same 401, after
        the same work (a password hash is checked against a dummy one when a known station's would be)."""
        if self.settings.allow_unauthenticated and (
            security is None
            or (security.profile is SecurityProfile.BASIC_AUTH and security.password_hash is None)
        ):
            return None  # development mode: unknown (or auto-registered, password-less) stations come in
        station_id = handshake.station_id
        if security is None:
            if not self.settings.uniform_auth_failures:
                return (
                    http.HTTPStatus.NOT_FOUND,
                    "UnknownChargingStation",
                    "unknown charging station identity",
                )
            await self._as_long_as_a_check(credentials, station_id)
            return http.HTTPStatus.UNAUTHORIZED, "UnknownChargingStation", "unknown charging station identity"
        ssl_object: ssl.SSLObject | None = connection.transport.get_extra_info("ssl_object")
        on_tls = ssl_object is not None
        if security.profile >= SecurityProfile.TLS_BASIC_AUTH and not on_tls:
            await self._as_long_as_a_check(credentials, station_id)
            return (
                http.HTTPStatus.UNAUTHORIZED,
                "AuthenticationFailed",
                f"profile {security.profile} requires TLS",  # A05.FR.07: no connection below the recorded one
            )
        operator = self.settings.tls.operator_name if self.settings.tls else None
        subject = subject_of(ssl_object.getpeercert()) if ssl_object is not None else None
        # a client certificate the TLS layer verified against the CA: profile 3 (A05: also an upgrade to it)
        if subject is not None and check_client_certificate(subject, handshake.station_id, operator) is None:
            handshake.profile = SecurityProfile.TLS_CLIENT_CERTIFICATE
            return None
        if security.profile is SecurityProfile.TLS_CLIENT_CERTIFICATE:
            problem = check_client_certificate(subject, station_id, operator)
            assert problem is not None
            if subject is None:  # a password instead of a certificate: as long as its check would take
                await self._as_long_as_a_check(credentials, station_id)
            return http.HTTPStatus.UNAUTHORIZED, "InvalidChargingStationCertificate", problem
        problem = await self._check_password(credentials, handshake, security)
        if problem is not None:
            return http.HTTPStatus.UNAUTHORIZED, "AuthenticationFailed", problem
        # A05: TLS with Basic auth is profile 2 even for a station recorded at 1 (an upgrade to it)
        handshake.profile = SecurityProfile.TLS_BASIC_AUTH if on_tls else SecurityProfile.BASIC_AUTH
        return None

    async def _check_password(
        self, credentials: BasicCredentials | None, handshake: _Handshake, security: StationSecurity
    ) -> str | None:
        """Why the Basic credentials do not fit, or ``None``."""
        station_id = handshake.station_id
        if credentials is None:
            return "no Basic authorization"
        if credentials.username.casefold() != station_id.casefold():
            return "Basic-auth user name differs from the station identity"
        if security.password_hash is None:
            await self._as_long_as_a_check(credentials, station_id)
            return "no password configured for this station"
        password = wire_password_to_configured(credentials.password, security.v16_key_encoding)
        if await self._password_matches(station_id, security.password_hash, password):
            return None
        pending = security.pending_password_hash  # A01: the new password, not yet confirmed by a connection
        if pending is None and security.pending_lookup is not None:
            pending = await security.pending_lookup()
        if pending is not None and await self._password_matches(station_id, pending, password):
            handshake.pending_password = True
            return None
        return "wrong password"

    async def _password_matches(self, station_id: str, stored: str, password: bytes) -> bool:
        if self._passwords.contains(station_id, stored, password):
            return True
        if not await self._verify(password, stored):
            return False
        self._passwords.add(station_id, stored, password)
        return True

    async def _as_long_as_a_check(self, credentials: BasicCredentials | None, station_id: str) -> None:
        """Where a known station's password would be checked (credentials for this identity), check it
        against a dummy hash: a refusal for another reason (unknown identity, TLS required, ...) must not be
        told apart by its time."""
        if credentials is not None and credentials.username.casefold() == station_id.casefold():
            await self._verify(credentials.password, self._dummy_hash)

    async def _verify(self, password: bytes, stored: str) -> bool:
        """A password check in a worker thread; its duration feeds :attr:`_check_seconds` (how long a
        refusal without a check waits, so that its time does not tell it apart). A generated password's hash
        is checked at once, and a mismatch waits as long as a check: a wrong password for a station whose
        password was generated must not be told apart from one for an unknown identity."""
        if not is_costly_to_verify(stored):
            if verify_password(password, stored):
                return True
            await asyncio.sleep(self._check_seconds)
            return False
        started = time.perf_counter()
        verified = await asyncio.to_thread(verify_password, password, stored)
        self._check_seconds = 0.8 * self._check_seconds + 0.2 * (time.perf_counter() - started)
        return verified

    def _release(self, connection: ServerConnection) -> None:
        handshake = self._handshakes.pop(connection, None)
        if handshake is not None and not handshake.released:
            handshake.released = True
            handshake.admission.release()

    async def _security_event(self, event: SecurityEvent) -> None:
        security_log.warning(
            "%s: station %r from %s: %s", event.kind, event.station_id, event.remote_address, event.reason
        )
        if self._on_security_event is not None:
            outcome = self._on_security_event(event)
            if outcome is not None:
                await outcome

    # -- connections ------------------------------------------------------------------------------------

    async def _handle(self, websocket: ServerConnection) -> None:
        handshake = self._handshakes[websocket]
        settings = self.settings
        router = self.application.router_for(handshake.version)
        endpoint = RpcEndpoint(
            handshake.version,
            CSMS,
            handled_actions=router.handled_actions,
            call_timeout=settings.call_timeout,
            max_message_size=settings.max_message_size,
            max_queued_calls=settings.max_queued_calls,
        )
        connection = OcppConnection(
            websocket,
            endpoint,
            handshake.station_id,
            router=router,
            security_profile=handshake.profile,
            on_event=self._on_event,
            on_answered=self._on_answered,
        )
        connection.pending_password = handshake.pending_password
        key = handshake.station_id.casefold()
        previous = self._connections.get(key)
        self._connections[key] = connection
        if previous is not None:
            log.info(
                "%s: new connection from %s replaces the old one",
                handshake.station_id,
                connection.remote_address,
            )
            previous.abort_calls("replaced by a new connection of the same station")
            await previous.close(1000, "replaced by a new connection")
        try:
            try:
                await self.application.connected(connection)
            except Exception:
                # The station will reconnect; an overloaded database must not end in a 1011 and a traceback.
                log.warning(
                    "%s: could not open the session; closing with 1013 (try again later)",
                    handshake.station_id,
                    exc_info=True,
                )
                await connection.close(1013, "try again later")
                return
            await connection.run()
        finally:
            if self._connections.get(key) is connection:
                del self._connections[key]
            await self.application.disconnected(connection)


def _remote(connection: ServerConnection) -> str:
    address = connection.remote_address
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) and len(address) >= 2 else str(address)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _unauthorized(connection: ServerConnection) -> Response:
    """The one answer of every failed login, whatever the reason (unknown identity included)."""
    response = connection.respond(http.HTTPStatus.UNAUTHORIZED, _UNAUTHORIZED_BODY)
    response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
    return response


def _retry_later(connection: ServerConnection, status: http.HTTPStatus, body: str, seconds: int) -> Response:
    response = connection.respond(status, body)
    response.headers["Retry-After"] = str(seconds)
    return response


def _host(connection: ServerConnection) -> str:
    """The peer's address without its port: what per-source limits count."""
    address = connection.remote_address
    return str(address[0]) if isinstance(address, tuple) and address else str(address)


def tls_event_kind(error: ssl.SSLError) -> str:
    """The security event of a refused TLS handshake (names from the spec's security events list where one
    fits: a bad client certificate, an old TLS version, no common cipher suite)."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return "InvalidChargingStationCertificate"
    if error.reason in TLS_VERSION_REASONS:
        return "InvalidTLSVersion"
    if error.reason == "NO_SHARED_CIPHER":
        return "InvalidTLSCipherSuite"
    return "TlsHandshakeFailed"


_X509_V_ERR_CERT_REVOKED = 23  # OpenSSL's verify code of a certificate the CRL revokes


def _tls_reason(error: ssl.SSLError) -> str:
    if isinstance(error, ssl.SSLCertVerificationError) and error.verify_message:
        return f"TLS handshake refused: client certificate: {error.verify_message}"
    return f"TLS handshake refused: {error.reason or error}"


class _Connection(ServerConnection):
    """A WebSocket connection whose protocol objects are freed by reference counting once it is lost.

    websockets' sans-I/O protocol parses with a generator that holds the protocol (a reference cycle), and an
    abrupt end leaves an EOFError whose traceback holds the parser's frame: every lost connection (15 objects)
    waited for the garbage collector, and a reconnection storm's thousands of them made its generation 1 and
    2 collections pause the event loop for half a second and more. Once the TCP connection is lost nothing is
    parsed any more (the protocol's reader is at EOF and refuses data), so the generator is closed and the
    traceback dropped; the exception itself stays (the cause websockets gives ConnectionClosed)."""

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.release_protocol()

    def release_protocol(self) -> None:
        protocol = self.protocol
        protocol.parser.close()
        if protocol.parser_exc is not None:
            protocol.parser_exc.__traceback__ = None


_HEAD_END = b"\r\n\r\n"
_MAX_REFUSED_HEAD = 16 * 1024  # bytes of a refused request read (and dropped) at most before giving up on it


@functools.cache  # a few distinct refusals (the cap; the overload's Retry-After of 1-30 s)
def _busy_answer(refusal: Refusal) -> bytes:
    body = (refusal.reason + "\n").encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Retry-After: {refusal.retry_after}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


def _plain_connection_class(server: OcppServer) -> type[ServerConnection]:
    """A ws:// connection, refused on arrival while admission control would refuse its request anyway.

    In a reconnection storm the refused requests came back in waves (each after its Retry-After), a thousand
    at a time; websockets parsing each request and building each 503 kept the event loop busy for a second
    at a time, and every live session waited. Refused on arrival, a request is only read up to the end of
    its head (and dropped) before a fixed 503 goes out: a few microseconds instead of a few hundred, and
    the same answer (status, ``Retry-After``, reason) as the refusal it replaces."""

    class PlainServerConnection(_Connection):
        _refused: bytes | None = None  # the answer of a connection refused on arrival, until it is sent
        _tail = b""  # the last bytes of the refused request read so far (its head's end may straddle reads)
        _read = 0
        _timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            refusal = server.refusal_on_arrival()
            if refusal is None:
                super().connection_made(transport)
                return
            self.transport = cast(asyncio.Transport, transport)
            self._refused = _busy_answer(refusal)
            self._timer = self.loop.call_later(server.settings.open_timeout, self.transport.abort)

        def data_received(self, data: bytes) -> None:
            if self._refused is None:
                super().data_received(data)
                return
            self._read += len(data)
            seen = self._tail + data
            self._tail = seen[-3:]
            if _HEAD_END in seen:
                self.transport.write(self._refused)
                self.transport.close()
            elif self._read > _MAX_REFUSED_HEAD:
                self.transport.abort()

        def eof_received(self) -> None:
            if self._refused is None:
                super().eof_received()
            # refused: returning None closes the transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self._refused is None:
                super().connection_lost(exc)
                return
            if self._timer is not None:
                self._timer.cancel()
            self.release_protocol()

    return PlainServerConnection


def _tls_connection_class(server: OcppServer, context: ssl.SSLContext) -> type[ServerConnection]:
    """A WebSocket connection that first does its TLS handshake itself (``loop.start_tls``).

    asyncio's own TLS server drops a failed handshake without a trace (only a debug log); here the failure
    is recorded as a CSMS security event with the peer's address and counted by the guard. An address
    locked out (or out of its failure budget) is dropped at once, before any TLS work.
    """

    class TlsServerConnection(_Connection):
        _ready = False
        _early: list[bytes] | None = None
        _early_eof = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            raw = cast(asyncio.Transport, transport)
            peer = raw.get_extra_info("peername")
            host = str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)
            # Dropped before any TLS work: a source locked out, or a request admission would refuse anyway
            # (a TLS handshake costs more than the 503 it would lead to; the station retries as after any
            # failed connection).
            if server.guard.refuse_source(host, server.now()) is not None or server.refusal_on_arrival():
                raw.abort()
                return
            raw.pause_reading()
            self._early = []
            task = self.loop.create_task(self._start_tls(raw, host, _peer_text(peer)))
            server._tls_tasks.add(task)
            task.add_done_callback(server._tls_tasks.discard)

        async def _start_tls(self, raw: asyncio.Transport, host: str, remote: str) -> None:
            server._handshaking[raw] = remote  # the revocation hook names the peer from here
            try:
                tls = await self.loop.start_tls(
                    raw,
                    self,
                    context,
                    server_side=True,
                    ssl_handshake_timeout=server.settings.open_timeout,
                    ssl_shutdown_timeout=server.settings.close_timeout,
                )
            except ssl.SSLError as error:
                raw.abort()
                await server._tls_refused(error, host, remote)
                return
            except (OSError, TimeoutError) as error:  # the peer went away or never spoke TLS
                log.debug("TLS handshake from %s ended: %r", remote, error)
                raw.abort()
                return
            finally:
                server._handshaking.pop(raw, None)
            if tls is None:
                raw.abort()
                return
            self._ready = True
            super().connection_made(tls)
            early, self._early = self._early or [], None
            for data in early:
                super().data_received(data)
            if self._early_eof:
                super().eof_received()

        def data_received(self, data: bytes) -> None:
            if self._early is not None:  # decrypted data delivered before connection_made ran
                self._early.append(data)
            elif self._ready:
                super().data_received(data)

        def eof_received(self) -> None:
            if self._early is not None:
                self._early_eof = True
            elif self._ready:
                super().eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._ready:
                super().connection_lost(exc)
            else:
                self.release_protocol()

    return TlsServerConnection


def _peer_text(peer: object) -> str:
    return f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else str(peer)
