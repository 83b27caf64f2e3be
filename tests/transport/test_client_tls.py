"""The station side of TLS (A00, M05): what a refused handshake means as a security event, and any CSMS root
the station holds as a trust anchor (a new root signed by the old one verifies alone, M05.FR.10)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from chargeplane.tools.conformance.pki import TestPki
from chargeplane.transport.security import client_tls_context, csms_refusal_event


@contextlib.asynccontextmanager
async def tls_server(context: ssl.SSLContext) -> AsyncIterator[int]:
    """A TLS server in a thread, on a blocking socket: a refused handshake sends its alert (an asyncio server
    drops the connection without it)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)  # polled: the thread sees the stop soon after the test is done
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection, contextlib.suppress(OSError):
                connection.settimeout(5.0)
                context.wrap_socket(connection, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 5.0)
        listener.close()


def server_context(pki: TestPki, *, legacy: bool = False, new_root: bool = False) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if legacy:  # TLS 1.0 / 1.1 only
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("ALL:@SECLEVEL=0")
    context.load_cert_chain(*pki.files(pki.csms_server_new if new_root else pki.csms_server))
    return context


async def handshake(port: int, context: ssl.SSLContext) -> BaseException | None:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context, server_hostname="127.0.0.1")
    except (OSError, ssl.SSLError) as error:
        return error
    writer.close()
    return None


@pytest.fixture
def pki() -> TestPki:
    return TestPki()


def bundle(tmp_path: Path, *pems: str) -> Path:
    path = tmp_path / "roots.pem"
    path.write_text("".join(pems))
    return path


async def test_A00_FR_310_an_unknown_csms_certificate_is_InvalidCsmsCertificate(
    pki: TestPki, tmp_path: Path
) -> None:
    async with tls_server(server_context(pki)) as port:
        error = await handshake(port, client_tls_context(bundle(tmp_path, pki.unknown_root.pem)))
    assert error is not None
    assert csms_refusal_event(error) == "InvalidCsmsCertificate"


async def test_A00_FR_316_a_csms_below_tls_1_2_is_InvalidTLSVersion(pki: TestPki, tmp_path: Path) -> None:
    async with tls_server(server_context(pki, legacy=True)) as port:
        error = await handshake(port, client_tls_context(bundle(tmp_path, pki.csms_root.pem)))
    assert error is not None
    assert csms_refusal_event(error) == "InvalidTLSVersion"


async def test_other_failures_are_no_tls_event() -> None:
    assert csms_refusal_event(ConnectionRefusedError()) is None
    assert csms_refusal_event(TimeoutError()) is None


async def test_M05_FR_10_a_new_root_signed_by_the_old_one_verifies_alone(
    pki: TestPki, tmp_path: Path
) -> None:
    async with tls_server(server_context(pki, new_root=True)) as port:
        assert await handshake(port, client_tls_context(bundle(tmp_path, pki.csms_root_new.pem))) is None
    async with tls_server(server_context(pki)) as port:  # the old root's server: not by the new root alone
        error = await handshake(port, client_tls_context(bundle(tmp_path, pki.csms_root_new.pem)))
        assert error is not None
        assert csms_refusal_event(error) == "InvalidCsmsCertificate"
        both = client_tls_context(bundle(tmp_path, pki.csms_root_new.pem, pki.csms_root.pem))
        assert await handshake(port, both) is None  # M05.FR.14: with the fallback it does
