"""The tool's wss listener for the TLS cases (A00, A05, M05): TLS terminated in front of the tool's plain
endpoint, so that a case controls the handshake itself: which server certificate it presents (valid, signed by
an unknown root, signed by the new or the old CSMS root), which TLS versions it offers (A_06: below 1.2) and,
on security profile 3, which CA a station certificate must chain to.

Each accepted connection is piped to the plain endpoint on loopback (the OCPP server there checks the Basic
auth as usual); what each handshake gave (failed, version, cipher, the cipher suites both sides share) is
recorded for the cases to judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import warnings
from dataclasses import dataclass

from cryptography import x509

from chargeplane.tools.conformance.pki import Issued, TestPki

log = logging.getLogger(__name__)

MAX_SESSIONS = 4  # one station, plus its reconnects while an old session drains
HANDSHAKE_TIMEOUT = 10.0
CHUNK = 64 * 1024
# A00.FR.318/319 (ECDSA) and A00.FR.421/422 (RSA): what a station must offer, in OpenSSL names.
REQUIRED_SUITE_PAIRS = (
    ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384"),
    ("AES128-GCM-SHA256", "AES256-GCM-SHA384"),
)


@dataclass(frozen=True)
class Handshake:
    ok: bool
    version: str | None = None  # "TLSv1.2", ...
    cipher: str | None = None
    shared_ciphers: tuple[str, ...] = ()  # the client's offer, as far as the server supports it
    error: str = ""
    client_certificate: x509.Certificate | None = None  # profile 3: what the station presented (verified)


class TlsFront:
    def __init__(self, host: str, target_port: int, pki: TestPki, port: int = 0) -> None:
        self.host = host
        self.target_port = target_port
        self.pki = pki
        self._port = port
        self.handshakes: list[Handshake] = []
        self.active = 0  # sessions piped right now
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._certificate, self._legacy = pki.csms_server, False
        self._client_cas: tuple[Issued, ...] = ()  # profile 3: the CAs station certificates may chain to
        self.context = self._context(pki.csms_server, legacy=False)

    def _context(self, certificate: Issued, *, legacy: bool) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if legacy:  # A_06: offer TLS 1.0 / 1.1 only (the station must refuse); deprecated on purpose
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            with contextlib.suppress(ssl.SSLError):
                context.set_ciphers("ALL:@SECLEVEL=0")
        else:
            context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(*self.pki.files(certificate))
        if self._client_cas:  # profile 3: no handshake without a station certificate of these CAs
            context.verify_mode = ssl.CERT_REQUIRED
            context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN  # the station CA is under the CSMS root
            context.load_verify_locations(cadata="".join(ca.pem for ca in self._client_cas))
        return context

    def present(self, certificate: Issued, *, legacy: bool = False) -> None:
        """The server certificate (and TLS versions) of the next handshakes."""
        self._certificate, self._legacy = certificate, legacy
        self.context = self._context(certificate, legacy=legacy)

    def require_client_certificates(self, *cas: Issued) -> None:
        """Security profile 3 from the next handshake on: a station certificate issued by one of ``cas`` is
        required (none: profile 2, no certificate asked for)."""
        self._client_cas = cas
        self.context = self._context(self._certificate, legacy=self._legacy)

    @property
    def port(self) -> int:
        return self._port

    def url(self, path_prefix: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"wss://{host}:{self._port}{path_prefix}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self._port, limit=CHUNK)
        self._port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._sessions):
            task.cancel()
        for task in list(self._sessions):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is None or len(self._sessions) >= MAX_SESSIONS:
            writer.close()
            return
        self._sessions.add(task)
        try:
            await self._session(reader, writer)
        finally:
            self._sessions.discard(task)
            writer.close()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        tls = _Tls(self.context, reader, writer)
        try:
            await asyncio.wait_for(tls.handshake(), HANDSHAKE_TIMEOUT)
        except (ssl.SSLError, OSError, TimeoutError) as error:
            self.handshakes.append(Handshake(ok=False, error=str(error)))
            log.info("TLS handshake with the station failed: %s", error)
            return
        session = tls.session
        cipher = session.cipher()
        shared = tuple(c[0] for c in session.shared_ciphers() or ())
        der = session.getpeercert(binary_form=True)
        presented = x509.load_der_x509_certificate(der) if der else None
        self.handshakes.append(
            Handshake(True, session.version(), cipher[0] if cipher else None, shared, "", presented)
        )
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError as error:
            log.warning("TLS front: cannot reach the tool's endpoint: %s", error)
            return
        self.active += 1
        try:
            await asyncio.gather(_from_station(tls, target_writer), _to_station(target_reader, tls))
        finally:
            self.active -= 1
            target_writer.close()


class _Tls:
    """The server side of one TLS session over memory BIOs on the plain stream: a handshake the station or
    the tool refuses still sends its alert (asyncio's own TLS drops the connection without flushing it, so
    the station would see a reset instead of, say, the protocol version alert of TC_A_06)."""

    def __init__(
        self, context: ssl.SSLContext, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._incoming, self._outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.session = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._reader, self._writer = reader, writer

    async def _flush(self) -> None:
        data = self._outgoing.read()
        if data:
            self._writer.write(data)
            await self._writer.drain()

    async def _fill(self) -> bool:
        """More bytes from the station into the session; False at its end."""
        data = await self._reader.read(CHUNK)
        if not data:
            self._incoming.write_eof()
            return False
        self._incoming.write(data)
        return True

    async def handshake(self) -> None:
        while True:
            try:
                self.session.do_handshake()
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    raise ConnectionResetError("the station closed the connection in the handshake") from None
            except ssl.SSLError:
                with contextlib.suppress(OSError):
                    await self._flush()  # the alert that says why
                raise
            else:
                await self._flush()
                return

    async def read(self) -> bytes:
        """The station's next plaintext; b"" at its end."""
        while True:
            try:
                return self.session.read(CHUNK)
            except ssl.SSLWantReadError:
                await self._flush()  # what the session has to say meanwhile (TLS 1.3 tickets, ...)
                if not await self._fill():
                    return b""
            except ssl.SSLZeroReturnError:
                return b""

    async def write(self, data: bytes) -> None:
        self.session.write(data)
        await self._flush()

    def close(self) -> None:
        with contextlib.suppress(ssl.SSLError):
            self.session.unwrap()  # close_notify, sent if the connection is still there
        with contextlib.suppress(Exception):
            self._writer.write(self._outgoing.read())
            self._writer.close()


async def _from_station(tls: _Tls, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await tls.read():
            writer.write(data)
            await writer.drain()
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.write_eof() if writer.can_write_eof() else writer.close()


async def _to_station(reader: asyncio.StreamReader, tls: _Tls) -> None:
    try:
        while data := await reader.read(CHUNK):
            await tls.write(data)
    except (ConnectionError, ssl.SSLError, OSError):
        pass
    finally:
        tls.close()
