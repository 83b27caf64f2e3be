"""The OCPP-J WebSocket server of the CSMS.

Each upgrade request goes through, in order and before any WebSocket upgrade:

1. the path: ``<prefix>/<stationId>``, the identity percent-decoded and checked as an identifierString
   (2.0.1 Part 4 §3.1.1): 404 for another path, 400 for a malformed identity;
2. the subprotocol: the newest of ``ocpp2.1``, ``ocpp2.0.1``, ``ocpp1.6`` offered by both sides; 400 when
   there is none in common (or none offered and no default is configured);
3. admission control: 503 with ``Retry-After`` beyond the connection rate or count;
4. authentication by the station's security profile (:mod:`chargeplane.transport.security`): 404 for an
   unknown station (J16 §3.2, Part 4 §3.1.1), 401 for anything else, logged as a security event with the
   remote address.

An authenticated connection for an identity that is already connected replaces the old one: the old socket
is closed and its pending CALLs fail with :class:`~chargeplane.transport.connection.ConnectionLost` (the
spec is silent; keeping the old one would lock out a station whose old TCP connection is half-open).
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import logging
import re
import ssl
import urllib.parse
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Protocol

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
from chargeplane.transport.admission import AdmissionControl
from chargeplane.transport.connection import EventListener, OcppConnection
from chargeplane.transport.security import (
    SecurityProfile,
    StationSecurity,
    TlsSettings,
    VerifiedPasswordCache,
    check_client_certificate,
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
    admission_rate: Annotated[float, Doc("new connections per second")] = 200.0
    admission_burst: Annotated[int, Doc("new connections in a burst above the rate")] = 400
    admission_max_lag: Annotated[
        float | None,
        Doc("refuse new connections while the event loop runs this many seconds late; none: off"),
    ] = 0.5
    max_connections: Annotated[int, Doc("open OCPP connections at most")] = 20_000
    allow_unauthenticated: Annotated[
        bool, Doc("development only, loopback only: unknown stations connect without credentials")
    ] = False
    open_timeout: Annotated[float, Doc("seconds a WebSocket opening handshake may take")] = 10.0
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
    profile: SecurityProfile | None = None
    released: bool = False
    pending_password: bool = False  # authenticated with StationSecurity.pending_password_hash


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
        self.admission = AdmissionControl(
            settings.admission_rate,
            settings.admission_burst,
            settings.max_connections,
            settings.admission_max_lag,
        )
        self._lag_watch: asyncio.Task[None] | None = None
        self._passwords = VerifiedPasswordCache()
        self._handshakes: dict[ServerConnection, _Handshake] = {}
        self._connections: dict[str, OcppConnection] = {}
        self._servers: list[Server] = []
        self._client_crl: bytes | None = None
        self._tls_context: ssl.SSLContext | None = None  # the current one; a new handshake switches to it
        self._listener_context: ssl.SSLContext | None = None  # the one the TLS listener was made with
        self._presented: weakref.WeakKeyDictionary[ssl.SSLObject, x509.Certificate] = (
            weakref.WeakKeyDictionary()
        )
        self._background: set[asyncio.Task[None]] = set()
        self._prefix = "/" + settings.path_prefix.strip("/") if settings.path_prefix.strip("/") else ""

    # -- lifecycle --------------------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.settings
        if settings.admission_max_lag is not None and self._lag_watch is None:
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
            task = asyncio.get_running_loop().create_task(
                self._security_event(
                    SecurityEvent("InvalidChargingStationCertificate", station_id, "?", reason)
                )
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _watch_lag(self, interval: float = 0.1) -> None:
        """Feed admission control with the event loop's lag: how late a short sleep wakes up."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(interval)
            self.admission.observe_lag(max(0.0, loop.time() - started - interval))

    async def _listen(self, port: int, context: ssl.SSLContext | None) -> Server:
        settings = self.settings
        return await serve(
            self._handle,
            settings.host,
            port,
            ssl=context,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression="deflate" if settings.compression else None,
            ping_interval=settings.ping_interval,
            ping_timeout=settings.ping_timeout,
            max_size=settings.max_message_size,
            open_timeout=settings.open_timeout,
            close_timeout=settings.close_timeout,
            server_header=None,
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
        station_id = self._station_id(request.path)
        if station_id is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Unknown path\n")
        if not _IDENTITY.match(station_id):
            return connection.respond(http.HTTPStatus.BAD_REQUEST, "Invalid charging station identity\n")
        version = self._negotiate(request.headers)
        if version is None:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, "No OCPP version in common\n")
        refusal = self.admission.try_admit(asyncio.get_running_loop().time())
        if refusal is not None:
            response = connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, refusal.reason + "\n")
            response.headers["Retry-After"] = str(refusal.retry_after)
            return response
        handshake = _Handshake(station_id, version)
        self._handshakes[connection] = handshake
        connection.connection_lost_waiter.add_done_callback(lambda _: self._release(connection))
        failure = await self._authenticate(connection, request, handshake)
        if failure is not None:
            status, kind, reason = failure
            await self._security_event(SecurityEvent(kind, station_id, remote, reason))
            body = "Unauthorized\n" if status == http.HTTPStatus.UNAUTHORIZED else "Unknown station\n"
            response = connection.respond(status, body)
            if status == http.HTTPStatus.UNAUTHORIZED:
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
            return response
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        handshake = self._handshakes.get(connection)
        if handshake is None or handshake.version.subprotocol not in offered:
            return None  # no header offered: the configured default applies without echoing one
        return Subprotocol(handshake.version.subprotocol)

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
        self, connection: ServerConnection, request: Request, handshake: _Handshake
    ) -> tuple[http.HTTPStatus, str, str] | None:
        """``(status, security event kind, reason)`` when the station may not connect, else ``None``."""
        security = await self.directory.security_for(handshake.station_id)
        if self.settings.allow_unauthenticated and (
            security is None
            or (security.profile is SecurityProfile.BASIC_AUTH and security.password_hash is None)
        ):
            return None  # development mode: unknown (or auto-registered, password-less) stations come in
        if security is None:
            return http.HTTPStatus.NOT_FOUND, "UnknownChargingStation", "unknown charging station identity"
        ssl_object: ssl.SSLObject | None = connection.transport.get_extra_info("ssl_object")
        on_tls = ssl_object is not None
        if security.profile >= SecurityProfile.TLS_BASIC_AUTH and not on_tls:
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
            problem = check_client_certificate(subject, handshake.station_id, operator)
            assert problem is not None
            return http.HTTPStatus.UNAUTHORIZED, "InvalidChargingStationCertificate", problem
        problem = await self._check_password(request, handshake, security)
        if problem is not None:
            return http.HTTPStatus.UNAUTHORIZED, "AuthenticationFailed", problem
        # A05: TLS with Basic auth is profile 2 even for a station recorded at 1 (an upgrade to it)
        handshake.profile = SecurityProfile.TLS_BASIC_AUTH if on_tls else SecurityProfile.BASIC_AUTH
        return None

    async def _check_password(
        self, request: Request, handshake: _Handshake, security: StationSecurity
    ) -> str | None:
        station_id = handshake.station_id
        credentials = parse_basic_auth(request.headers.get("Authorization"))
        if credentials is None:
            return "no Basic authorization"
        if credentials.username.casefold() != station_id.casefold():
            return "Basic-auth user name differs from the station identity"
        if security.password_hash is None:
            return "no password configured for this station"
        password = wire_password_to_configured(credentials.password, security.v16_key_encoding)
        if await self._password_matches(station_id, security.password_hash, password):
            return None
        pending = security.pending_password_hash  # A01: the new password, not yet confirmed by a connection
        if pending is not None and await self._password_matches(station_id, pending, password):
            handshake.pending_password = True
            return None
        return "wrong password"

    async def _password_matches(self, station_id: str, stored: str, password: bytes) -> bool:
        if self._passwords.contains(station_id, stored, password):
            return True
        if not await asyncio.to_thread(verify_password, password, stored):
            return False
        self._passwords.add(station_id, stored, password)
        return True

    def _release(self, connection: ServerConnection) -> None:
        handshake = self._handshakes.pop(connection, None)
        if handshake is not None and not handshake.released:
            handshake.released = True
            self.admission.release()

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
