"""Server and client over real sockets on loopback: negotiation, security profiles, takeover, liveness,
admission, shutdown, limits (2.0.1 Part 4 §3, §5, §8; Part 2 A00)."""

from __future__ import annotations

import asyncio
import base64
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed, InvalidMessage, InvalidStatus
from websockets.server import ServerProtocol

from chargeplane.ocpp.catalog import STATION
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.backoff import BackOff, BackOffSettings
from chargeplane.transport.client import ClientSettings, ConnectionState, Credentials, OcppClient
from chargeplane.transport.connection import CallFailed, ConnectionLost, OcppConnection
from chargeplane.transport.security import CertificateFiles, SecurityProfile, StationSecurity, hash_password
from tests.transport import certs
from tests.transport.conftest import (
    PASSWORD,
    Directory,
    FakeCsms,
    Harness,
    Pki,
    protected,
    running_client,
    running_server,
    station_router,
)

BOOT = v201.messages.BootNotificationRequest(
    charging_station=v201.datatypes.ChargingStationType(model="M1", vendor_name="Acme"),
    reason=v201.enums.BootReasonEnumType.POWER_UP,
)


async def status_of(url: str, **options: Any) -> int:
    """The HTTP status of a refused handshake (101 means it was accepted)."""
    try:
        async with connect(url, open_timeout=5, **options):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code


def basic(station_id: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# -- version negotiation (Part 4 §3.1.2, TC_B_58_CSMS) ---------------------------------------------------


@pytest.mark.parametrize("version", list(Version))
async def test_each_version_is_negotiated_and_served(version: Version) -> None:
    directory = Directory({"CS1": protected()})
    async with running_server(directory) as harness:
        settings = ClientSettings(harness.url, "CS1", versions=(version,), password=PASSWORD)
        async with running_client(settings) as client:
            connection = await asyncio.wait_for(client.wait_connected(), 5)
            assert connection.version is version
            request: Any = {
                Version.V16: v16.messages.HeartbeatRequest(),
                Version.V201: v201.messages.HeartbeatRequest(),
                Version.V21: v21.messages.HeartbeatRequest(),
            }[version]
            response = await client.call(request)
            assert response.current_time  # type: ignore[attr-defined]
            server_side = harness.server.connection_for("cs1")  # identities are case-insensitive
            assert server_side is not None
            assert server_side.version is version
            assert server_side.security_profile is SecurityProfile.BASIC_AUTH


async def test_newest_common_version_wins_whatever_the_client_order() -> None:
    async with (
        running_server(Directory({"CS1": protected()}), versions=(Version.V201, Version.V16)) as harness,
        connect(
            harness.url + "/CS1",
            subprotocols=["ocpp1.6", "ocpp2.1", "ocpp2.0.1"],
            additional_headers=basic("CS1"),
        ) as websocket,
    ):
        assert websocket.subprotocol == "ocpp2.0.1"


async def test_no_version_in_common_is_refused_with_400() -> None:
    async with running_server(Directory({"CS1": protected()}), versions=(Version.V16,)) as harness:
        assert (
            await status_of(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1"))
            == 400
        )
        assert await status_of(harness.url + "/CS1", additional_headers=basic("CS1")) == 400  # none offered


async def test_client_without_subprotocol_gets_the_configured_default() -> None:
    async with running_server(Directory({"CS1": protected()}), default_version=Version.V16) as harness:
        async with connect(harness.url + "/CS1", additional_headers=basic("CS1")) as websocket:
            assert websocket.subprotocol is None
            await websocket.send('[2,"1","Heartbeat",{}]')
            reply = await websocket.recv()
            assert reply.startswith('[3,"1",{"currentTime":')
            assert harness.server.connection_for("CS1").version is Version.V16  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/other/CS1", 404),
        ("/ocpp/", 404),
        ("/ocpp/a/b", 404),
        ("/ocpp/bad%3Aid", 400),
        ("/ocpp/" + "x" * 49, 400),
        ("/ocpp/%ff%fe", 400),  # issue #12: percent-encoded bytes that are not UTF-8 (was a 500)
    ],
)
async def test_bad_paths_and_identities_are_refused(path: str, status: int) -> None:
    async with running_server(allow_unauthenticated=True) as harness:
        base = harness.url.removesuffix("/ocpp")
        assert await status_of(base + path, subprotocols=["ocpp2.0.1"]) == status


async def test_percent_encoded_identity_is_decoded() -> None:
    async with running_server(Directory({"RDAM|123": protected()})) as harness:
        url = harness.url + "/RDAM%7C123"
        assert await status_of(url, subprotocols=["ocpp2.1"], additional_headers=basic("RDAM|123")) == 101


# -- security profiles (Part 2 A00) -----------------------------------------------------------------------


async def test_profile_1_basic_auth_failures_get_401_and_a_security_event() -> None:
    async with running_server(Directory({"CS1": protected()})) as harness:
        url = harness.url + "/CS1"
        sub = {"subprotocols": ["ocpp2.0.1"]}
        assert await status_of(url, **sub) == 401  # no credentials
        assert await status_of(url, additional_headers=basic("CS1", "wrong-password-000000"), **sub) == 401
        assert (
            await status_of(url, additional_headers=basic("CS2"), **sub) == 401
        )  # user name is not the identity
        assert await status_of(url, additional_headers={"Authorization": "Basic !!!"}, **sub) == 401
        assert await status_of(url, additional_headers=basic("CS1"), **sub) == 101
        assert await status_of(url, additional_headers=basic("CS1"), **sub) == 101  # cached verification
        assert await status_of(harness.url + "/UNKNOWN", additional_headers=basic("UNKNOWN"), **sub) == 401
        kinds = [(event.kind, event.reason) for event in harness.security_events]
        assert kinds == [
            ("AuthenticationFailed", "no Basic authorization"),
            ("AuthenticationFailed", "wrong password"),
            ("AuthenticationFailed", "Basic-auth user name differs from the station identity"),
            ("AuthenticationFailed", "no Basic authorization"),
            ("UnknownChargingStation", "unknown charging station identity"),
        ]
        assert all(event.remote_address.startswith("127.0.0.1:") for event in harness.security_events)


async def test_station_without_password_cannot_connect() -> None:
    async with running_server(Directory({"CS1": StationSecurity(SecurityProfile.BASIC_AUTH)})) as harness:
        assert (
            await status_of(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1"))
            == 401
        )


async def test_v16_raw_key_encoding_is_accepted_when_configured() -> None:
    from chargeplane.transport.security import V16KeyEncoding, hash_password

    key_hex = "00112233445566778899aabbccddeeff00112233"
    security = StationSecurity(SecurityProfile.BASIC_AUTH, hash_password(key_hex), V16KeyEncoding.RAW)
    async with running_server(Directory({"CP1": security})) as harness:
        token = base64.b64encode(b"CP1:" + bytes.fromhex(key_hex)).decode()
        headers = {"Authorization": f"Basic {token}"}
        assert (
            await status_of(harness.url + "/CP1", subprotocols=["ocpp1.6"], additional_headers=headers) == 101
        )


async def test_profile_2_needs_tls_and_basic_auth(pki: Pki) -> None:
    directory = Directory({"CS2": protected(SecurityProfile.TLS_BASIC_AUTH)})
    async with running_server(directory, tls=pki.tls) as harness:
        # A00.FR.001-006: a profile-2 station may not come in over plain ws.
        assert (
            await status_of(harness.url + "/CS2", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2"))
            == 401
        )
        settings = ClientSettings(harness.tls_url, "CS2", password=PASSWORD, ca_bundle=pki.ca.path)
        async with running_client(settings) as client:
            await asyncio.wait_for(client.wait_connected(), 5)
            await client.call(BOOT)
            connection = harness.server.connection_for("CS2")
            assert connection is not None
            assert connection.security_profile is SecurityProfile.TLS_BASIC_AUTH
            ssl_object = connection.websocket.transport.get_extra_info("ssl_object")
            assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")


async def test_profile_3_client_certificates(pki: Pki) -> None:
    directory = Directory({"CS3": StationSecurity(SecurityProfile.TLS_CLIENT_CERTIFICATE)})
    valid = certs.issue(pki.ca, pki.directory, "CS3")
    expired = certs.issue(pki.ca, pki.directory, "CS3", expired=True)
    wrong_ca = certs.issue(pki.other_ca, pki.directory, "CS3")
    wrong_cn = certs.issue(pki.ca, pki.directory, "CS4")
    wrong_o = certs.issue(pki.ca, pki.directory, "CS3", organization="Someone Else")

    async def attempt(files: CertificateFiles | None, password: str | None = None) -> int:
        from chargeplane.transport.security import client_tls_context

        headers = basic("CS3", password) if password else {}
        context = client_tls_context(pki.ca.path, files)
        try:
            return await status_of(
                harness.tls_url + "/CS3", ssl=context, subprotocols=["ocpp2.0.1"], additional_headers=headers
            )
        except (
            OSError,
            ConnectionClosed,
            InvalidMessage,
        ):  # TLS refused the certificate (1.3: after the handshake)
            return 0

    async with running_server(directory, tls=pki.tls) as harness:
        assert await attempt(valid) == 101
        assert await attempt(expired) == 0
        assert await attempt(wrong_ca) == 0
        assert await attempt(wrong_cn) == 401
        assert await attempt(wrong_o) == 401
        assert await attempt(None, PASSWORD) == 401  # downgrade to profile 2 refused
        assert (
            await status_of(harness.url + "/CS3", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS3"))
            == 401
        )
        reasons = [event.reason for event in harness.security_events]
        assert "certificate CN does not match the station identity" in reasons
        assert "certificate O does not match the operator" in reasons
        assert "no client certificate" in reasons
        assert "profile 3 requires TLS" in reasons


# -- duplicate connections --------------------------------------------------------------------------------


async def test_new_connection_replaces_old_and_fails_its_calls() -> None:
    app = FakeCsms()
    stuck = asyncio.Event()

    def slow_reset(request: v201.messages.ResetRequest, conn: OcppConnection) -> v201.messages.ResetResponse:
        raise AssertionError("never answered")

    async with running_server(Directory({"CS1": protected()}), app) as harness:
        old = await connect(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1"))
        await asyncio.sleep(0.05)
        first = harness.server.connection_for("CS1")
        assert first is not None
        pending = asyncio.create_task(
            first.call(v201.messages.ResetRequest(type=v201.enums.ResetEnumType.IMMEDIATE))
        )
        await old.recv()  # the CALL reached the old socket, which never answers
        stuck.set()
        settings = ClientSettings(harness.url, "CS1", password=PASSWORD)
        async with running_client(settings) as client:
            await asyncio.wait_for(client.wait_connected(), 5)
            with pytest.raises(ConnectionLost, match="replaced by a new connection"):
                await asyncio.wait_for(pending, 5)
            await client.call(BOOT)
            assert harness.server.connection_for("CS1") is not first
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(old.recv(), 5)
        assert app.connected_ids == ["CS1", "CS1"]


async def test_pipelined_calls_are_handled_one_at_a_time_in_order_and_other_stations_go_on() -> None:
    """Issue #12: a station pipelining CALLs (Part 4 §4.1.1 allows one outstanding) gets them handled in
    order, never side by side, while another station's CALLs are answered meanwhile."""
    app = FakeCsms()
    router = app.router_for(Version.V201)
    gate = asyncio.Event()
    running: list[str] = []
    overlap: list[int] = []

    async def data_transfer(
        request: v201.messages.DataTransferRequest, conn: OcppConnection
    ) -> v201.messages.DataTransferResponse:
        running.append(conn.station_id)
        overlap.append(running.count(conn.station_id))
        if conn.station_id == "CS1":
            await gate.wait()
        running.remove(conn.station_id)
        return v201.messages.DataTransferResponse(status=v201.enums.DataTransferStatusEnumType.ACCEPTED)

    router.register(v201.messages.DataTransferRequest, data_transfer)
    directory = Directory({"CS1": protected(), "CS2": protected()})
    count = 80  # more than MAX_QUEUED_CALLS: reading pauses, nothing is lost
    async with running_server(directory, app) as harness:
        async with connect(
            harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")
        ) as greedy:
            for n in range(count):
                await greedy.send(f'[2,"m{n}","DataTransfer",{{"vendorId":"v"}}]')
            settings = ClientSettings(harness.url, "CS2", password=PASSWORD)
            try:
                async with running_client(settings) as other:
                    await asyncio.wait_for(other.wait_connected(), 5)
                    request = v201.messages.DataTransferRequest(vendor_id="v")
                    answer = await asyncio.wait_for(other.call(request), 5)
                    assert isinstance(answer, v201.messages.DataTransferResponse)
                assert running == ["CS1"]  # CS1's first CALL holds the gate, the others wait behind it
            finally:
                gate.set()
            replies = [await asyncio.wait_for(greedy.recv(), 5) for _ in range(count)]
    assert [reply.split('"')[1] for reply in replies] == [f"m{n}" for n in range(count)]
    assert max(overlap) == 1


# -- liveness (Part 4 §5.2, §8.4) -------------------------------------------------------------------------


async def test_dead_connection_is_detected_by_ping_timeout() -> None:
    app = FakeCsms()
    async with running_server(
        Directory({"CS1": protected()}), app, ping_interval=0.1, ping_timeout=0.2, close_timeout=0.2
    ) as harness:
        websocket = await connect(
            harness.url + "/CS1",
            subprotocols=["ocpp2.0.1"],
            additional_headers=basic("CS1"),
            ping_interval=None,
        )
        websocket.transport.pause_reading()  # the peer goes silent: no pong will come back
        for _ in range(50):
            if app.disconnected_ids:
                break
            await asyncio.sleep(0.05)
        assert app.disconnected_ids == ["CS1"]
        assert harness.server.connection_for("CS1") is None
        websocket.transport.abort()


# -- admission control ------------------------------------------------------------------------------------


async def test_burst_beyond_the_rate_gets_503_with_retry_after() -> None:
    async with running_server(
        Directory({f"CS{i}": protected() for i in range(20)}),
        admission_rate=2.0,
        admission_burst=5,
        admission_opening_wait=0,  # 503 at once (by default a registered station waits its turn)
    ) as harness:

        async def one(i: int) -> tuple[int, str | None]:
            try:
                async with connect(
                    harness.url + f"/CS{i}", subprotocols=["ocpp2.0.1"], additional_headers=basic(f"CS{i}")
                ):
                    return 101, None
            except InvalidStatus as refused:
                return refused.response.status_code, refused.response.headers.get("Retry-After")

        outcomes = await asyncio.gather(*(one(i) for i in range(20)))
        statuses = sorted(status for status, _ in outcomes)
        assert statuses.count(101) == 5
        assert statuses.count(503) == 15
        assert all(retry and int(retry) >= 1 for status, retry in outcomes if status == 503)


async def test_a_lagging_event_loop_sheds_new_connections_with_503() -> None:
    async with running_server(Directory({"CS1": protected()}), admission_max_lag=0.2) as harness:
        # Block the event loop, as a CPU-bound burst would: the lag watch sees its timer fire 0.4 s late.
        block_the_loop(0.5)
        await asyncio.sleep(0.15)
        assert harness.server.admission.lag > 0.2
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")
            ):
                pass
        assert refused.value.response.status_code == 503
        assert int(refused.value.response.headers["Retry-After"]) >= 1
        assert b"server busy" in refused.value.response.body
        await asyncio.sleep(2.0)  # the lag decays once the loop runs on time again
        assert (
            await status_of(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1"))
            == 101
        )


async def a_handshake_held(
    monkeypatch: pytest.MonkeyPatch, harness: Any
) -> tuple[asyncio.Task[int], asyncio.Event]:
    """CS1's handshake, held in its password check until the event returned is set (its task: the status)."""
    checking, go_on = asyncio.Event(), asyncio.Event()
    verify = harness.server._verify

    async def slow_verify(password: bytes, stored: str) -> bool:
        checking.set()
        await go_on.wait()
        return bool(await verify(password, stored))

    monkeypatch.setattr(harness.server, "_verify", slow_verify)
    first = asyncio.create_task(
        status_of(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1"))
    )
    await asyncio.wait_for(checking.wait(), 5)
    return first, go_on


async def test_handshakes_in_progress_beyond_the_cap_get_503_and_free_their_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #19: at most admission_max_opening handshakes check passwords at once; a finished one (accepted
    or refused) frees its place at once, not when its connection ends."""
    directory = Directory({"CS1": protected(), "CS2": protected()})
    async with running_server(directory, admission_max_opening=1, admission_opening_wait=0) as harness:
        server = harness.server
        first, go_on = await a_handshake_held(monkeypatch, harness)
        assert server.admission.opening == 1
        with pytest.raises(InvalidStatus) as refused:
            async with connect(
                harness.url + "/CS2", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2")
            ):
                pass
        assert refused.value.response.status_code == 503
        assert refused.value.response.headers["Retry-After"] == "1"
        assert b"too many handshakes in progress" in refused.value.response.body
        go_on.set()
        assert await first == 101
        wrong = await status_of(
            harness.url + "/CS2", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2", "x" * 16)
        )
        assert wrong == 401
        assert server.admission.opening == 0
        assert server.admission.refusals == {"opening": 1}


async def test_a_connection_arriving_while_handshakes_are_at_their_cap_is_refused_before_parsing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue #19: while admission_max_opening handshakes are in progress, a new connection's request is read
    to the end of its head (here split over two writes) and answered with the same 503 as before, without
    websockets parsing it or our request processing running (a storm's waves of refused requests kept the
    event loop busy)."""
    directory = Directory({"CS1": protected(), "CS2": protected()})
    async with running_server(directory, admission_max_opening=1, admission_opening_wait=0) as harness:
        server = harness.server
        first, go_on = await a_handshake_held(monkeypatch, harness)
        processed = 0
        process = server._process_request

        async def counted(connection: ServerConnection, request: Any) -> Any:
            nonlocal processed
            processed += 1
            return await process(connection, request)

        monkeypatch.setattr(server, "_process_request", counted)
        port = int(harness.url.split(":")[2].split("/")[0])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            b"GET /ocpp/CS2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: ocpp2.0.1\r\n\r\n"
        )
        writer.write(head[:-3])
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(head[-3:])
        answer = await asyncio.wait_for(reader.read(), 5)  # up to the server's close
        writer.close()
        assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert b"\r\nRetry-After: 1\r\n" in answer
        assert answer.endswith(b"\r\n\r\ntoo many handshakes in progress\n")
        assert processed == 0
        assert server.admission.refusals == {"opening": 1}
        go_on.set()
        assert await first == 101


async def test_the_adaptive_rate_hears_the_writer_backlog_and_backs_off() -> None:
    async with running_server(
        Directory(), admission_rate=10.0, admission_max_rate=1000.0, admission_max_backlog=5
    ) as harness:
        admission = harness.server.admission
        admission.rate = 1000.0  # as if it had grown
        harness.server.writer_backlog = lambda: 6
        await asyncio.sleep(0.35)  # a few reports of the lag watch, ten a second
        assert admission.backlog == 6
        assert admission.rate < 1000.0 * 0.7**2


async def test_a_base_rate_above_the_adaptive_ceiling_is_a_fixed_rate() -> None:
    """A configuration from before the adaptive rate (e.g. admission_rate=100000 to keep it out of the way)
    keeps working: nothing to adapt."""
    async with running_server(Directory(), admission_rate=100_000.0, admission_max_rate=5000.0) as harness:
        assert harness.server.admission.adaptive is None
        assert harness.server.admission.rate == 100_000.0


def block_the_loop(seconds: float) -> None:
    """A synchronous stall of the calling (event loop) thread."""
    time.sleep(seconds)


async def test_a_session_that_cannot_be_opened_is_closed_with_1013_try_again_later() -> None:
    async def failing(connection: OcppConnection) -> None:
        raise TimeoutError("the database pool is exhausted")

    async with running_server(Directory({"CS1": protected()}), app=FakeCsms(on_connect=failing)) as harness:
        async with connect(
            harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")
        ) as websocket:
            with pytest.raises(ConnectionClosed) as closed:
                await websocket.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1013
        for _ in range(50):  # the server's handler ends just after the close
            if harness.app.disconnected_ids:
                break
            await asyncio.sleep(0.02)
        assert harness.app.disconnected_ids == ["CS1"]


async def test_connection_count_is_capped() -> None:
    async with running_server(
        Directory({f"CS{i}": protected() for i in range(3)}), max_connections=2
    ) as harness:
        open_sockets = [
            await connect(
                harness.url + f"/CS{i}", subprotocols=["ocpp2.0.1"], additional_headers=basic(f"CS{i}")
            )
            for i in range(2)
        ]
        assert (
            await status_of(harness.url + "/CS2", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2"))
            == 503
        )
        await open_sockets[0].close()
        await asyncio.sleep(0.1)  # the slot is released when the TCP connection is gone
        assert (
            await status_of(harness.url + "/CS2", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2"))
            == 101
        )
        await open_sockets[1].close()


# -- graceful shutdown ------------------------------------------------------------------------------------


async def test_shutdown_lets_in_flight_calls_finish_then_closes_with_1001() -> None:
    app = FakeCsms()
    async with running_server(Directory({"CS1": protected()}), app) as harness:
        answered = asyncio.Event()

        def station_side(version: Version) -> Router[OcppConnection]:
            router = Router[OcppConnection](version, STATION)

            async def reset(
                request: v201.messages.ResetRequest, conn: OcppConnection
            ) -> v201.messages.ResetResponse:
                await asyncio.sleep(0.3)
                answered.set()
                return v201.messages.ResetResponse(status=v201.enums.ResetStatusEnumType.ACCEPTED)

            router.register(v201.messages.ResetRequest, reset)
            return router

        settings = ClientSettings(harness.url, "CS1", password=PASSWORD, backoff=BackOffSettings(60, 0, 0))
        async with running_client(settings, station_side) as client:
            station = await asyncio.wait_for(client.wait_connected(), 5)
            csms_side = harness.server.connection_for("CS1")
            assert csms_side is not None
            call = asyncio.create_task(
                csms_side.call(v201.messages.ResetRequest(type=v201.enums.ResetEnumType.IMMEDIATE))
            )
            await asyncio.sleep(0.05)
            await harness.server.shutdown(deadline=5.0)
            response = await call
            assert response == v201.messages.ResetResponse(status=v201.enums.ResetStatusEnumType.ACCEPTED)
            assert answered.is_set()
            assert station.websocket.close_code == 1001


# -- limits -----------------------------------------------------------------------------------------------


async def test_oversize_message_closes_with_1009() -> None:
    async with (
        running_server(Directory({"CS1": protected()}), max_message_size=1024) as harness,
        connect(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")) as ws,
    ):
        await ws.send('[2,"1","DataTransfer",{"vendorId":"v","data":"' + "x" * 2000 + '"}]')
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


async def test_binary_frame_closes_with_1003_even_when_it_carries_a_call() -> None:
    """Issue #12: OCPP-J is text only; a binary frame is refused, not guessed at, and nothing is answered."""
    async with (
        running_server(Directory({"CS1": protected()})) as harness,
        connect(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")) as ws,
    ):
        await ws.send(b'[2,"1","Heartbeat",{}]')
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1003


async def test_station_answering_callerror_fails_the_call() -> None:
    async with (
        running_server(Directory({"CS1": protected()})) as harness,
        connect(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")) as ws,
    ):
        await asyncio.sleep(0.05)
        csms_side = harness.server.connection_for("CS1")
        assert csms_side is not None
        call = asyncio.create_task(
            csms_side.call(v201.messages.ResetRequest(type=v201.enums.ResetEnumType.IMMEDIATE))
        )
        frame = await ws.recv()
        message_id = frame.split('"')[1]
        await ws.send(f'[4,"{message_id}","NotSupported","no reset here",{{}}]')
        with pytest.raises(CallFailed, match="NotSupported no reset here"):
            await call


# -- client reconnects ------------------------------------------------------------------------------------


async def test_client_reconnects_after_loss_and_delivers_calls_made_while_offline() -> None:
    async with running_server(Directory({"CS1": protected()})) as harness:
        states: list[ConnectionState] = []
        client = OcppClient(
            ClientSettings(harness.url, "CS1", password=PASSWORD, backoff=BackOffSettings(0.2, 0.0, 2)),
            lambda version: Router[OcppConnection](version, STATION),
            on_state=states.append,
        )
        task = asyncio.create_task(client.run())
        await asyncio.wait_for(client.wait_connected(), 5)
        await client.disconnect()
        offline_calls = [asyncio.create_task(client.call(BOOT)) for _ in range(3)]  # made while offline
        results = await asyncio.wait_for(asyncio.gather(*offline_calls), 5)
        assert all(result.status == "Accepted" for result in results)  # type: ignore[attr-defined]
        await client.stop()
        await asyncio.wait_for(task, 5)
        assert states[:4] == [
            ConnectionState.CONNECTING,
            ConnectionState.CONNECTED,
            ConnectionState.DISCONNECTED,
            ConnectionState.CONNECTING,
        ]
        assert states[-1] is ConnectionState.STOPPED


async def test_client_retries_after_refusal_with_backoff() -> None:
    async with running_server(Directory({})) as harness:  # unknown station: 404 until registered
        waits: list[float] = []

        class Recording(BackOff):
            def next_wait(self) -> float:
                waits.append(super().next_wait())
                return 0.05

        settings = ClientSettings(harness.url, "CS9", password=PASSWORD, backoff=BackOffSettings(10, 0, 2))
        client = OcppClient(
            settings, lambda v: Router[OcppConnection](v, STATION), backoff=Recording(settings.backoff)
        )
        task = asyncio.create_task(client.run())
        for _ in range(200):
            if len(waits) >= 4:
                break
            await asyncio.sleep(0.02)
        harness.directory.stations["CS9"] = protected()
        await asyncio.wait_for(client.wait_connected(), 5)
        await client.stop()
        await asyncio.wait_for(task, 5)
        assert waits[:4] == [10, 20, 40, 40]  # doubled, capped after RetryBackOffRepeatTimes


async def test_development_mode_admits_unknown_and_password_less_stations_only() -> None:
    directory = Directory({"AUTO1": StationSecurity(SecurityProfile.BASIC_AUTH), "PROTECTED": protected()})
    async with running_server(directory, allow_unauthenticated=True) as harness:
        assert await status_of(harness.url + "/NEW1", subprotocols=["ocpp2.0.1"]) == 101
        assert await status_of(harness.url + "/AUTO1", subprotocols=["ocpp2.0.1"]) == 101
        assert await status_of(harness.url + "/PROTECTED", subprotocols=["ocpp2.0.1"]) == 401


def test_development_mode_refuses_non_loopback_addresses() -> None:
    from chargeplane.transport.server import OcppServer, ServerSettings

    with pytest.raises(ValueError, match="loopback"):
        OcppServer(ServerSettings(host="0.0.0.0", allow_unauthenticated=True), FakeCsms(), Directory())


@pytest.mark.parametrize(
    "cipher",
    [
        # A00.FR.318: the CSMS supports all four TLS 1.2 suites; an RSA and an ECDSA certificate serve them.
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    ],
)
async def test_A00_FR_318_required_tls12_cipher_suites(pki: Pki, cipher: str) -> None:
    import ssl

    from chargeplane.transport.security import TlsSettings, client_tls_context

    rsa_server = certs.issue(pki.ca, pki.directory, "localhost", server=True, rsa_key=True)
    tls = TlsSettings(certificates=(*pki.tls.certificates, rsa_server), client_ca=pki.ca.path)
    directory = Directory({"CS2": protected(SecurityProfile.TLS_BASIC_AUTH)})
    async with running_server(directory, tls=tls) as harness:
        context = client_tls_context(pki.ca.path)
        context.maximum_version = ssl.TLSVersion.TLSv1_2
        context.set_ciphers(cipher)
        async with connect(
            harness.tls_url + "/CS2", ssl=context, subprotocols=["ocpp2.0.1"], additional_headers=basic("CS2")
        ) as websocket:
            negotiated = websocket.transport.get_extra_info("ssl_object").cipher()
            assert negotiated[0] == cipher
            assert negotiated[1] == "TLSv1.2"


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1:DeprecationWarning")  # old versions on purpose
async def test_A00_FR_306_tls_below_1_2_is_refused(pki: Pki) -> None:
    import ssl

    from chargeplane.transport.security import client_tls_context

    async with running_server(
        Directory({"CS2": protected(SecurityProfile.TLS_BASIC_AUTH)}), tls=pki.tls
    ) as harness:
        context = client_tls_context(pki.ca.path)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
        with pytest.raises((OSError, ssl.SSLError)):
            await connect(harness.tls_url + "/CS2", ssl=context, subprotocols=["ocpp2.0.1"], open_timeout=5)


async def test_stop_while_connecting_ends_run_once_the_handshake_completes() -> None:
    """``stop()`` during the handshake finds no connection to close; ``run()`` must still end (it served the
    new connection forever before: ``chargeplane station`` with stdin at end hung, then a TimeoutError)."""
    async with running_server(Directory({"CS1": protected()})) as harness:
        states: list[ConnectionState] = []
        connecting = asyncio.Event()

        def on_state(state: ConnectionState) -> None:
            states.append(state)
            if state is ConnectionState.CONNECTING:
                connecting.set()

        client = OcppClient(
            ClientSettings(harness.url, "CS1", password=PASSWORD),
            lambda version: Router[OcppConnection](version, STATION),
            on_state=on_state,
        )
        task = asyncio.create_task(client.run())
        await connecting.wait()
        await client.stop()  # the handshake is under way: no connection yet
        await asyncio.wait_for(task, 5)
        assert states[-1] is ConnectionState.STOPPED
        assert ConnectionState.CONNECTED not in states


# -- A01 password rotation: the pending password, the client's immediate reconnection -------------------


ROTATED = "rotated-password-0123456789"


@asynccontextmanager
async def rotating_server() -> AsyncIterator[tuple[Harness, list[bool]]]:
    """A server whose station CS1 has PASSWORD and the pending ROTATED; each connection's pending mark."""
    security = StationSecurity(
        SecurityProfile.BASIC_AUTH, hash_password(PASSWORD), pending_password_hash=hash_password(ROTATED)
    )
    marks: list[bool] = []

    async def on_connect(connection: OcppConnection) -> None:
        marks.append(connection.pending_password)

    async with running_server(Directory({"CS1": security}), FakeCsms(on_connect=on_connect)) as harness:
        yield harness, marks


async def _marks(marks: list[bool], count: int) -> list[bool]:
    for _ in range(100):
        if len(marks) >= count:
            break
        await asyncio.sleep(0.02)
    return marks


async def test_A01_pending_password_admitted_beside_the_current_one_and_marked() -> None:
    async with rotating_server() as (harness, marks):
        url = harness.url + "/CS1"
        assert await status_of(url, subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")) == 101
        assert (
            await status_of(url, subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1", ROTATED)) == 101
        )
        wrong = basic("CS1", "neither-of-the-two-0123")
        assert await status_of(url, subprotocols=["ocpp2.0.1"], additional_headers=wrong) == 401
        assert await _marks(marks, 2) == [False, True]


async def test_A01_client_reconnects_at_once_with_the_password_it_is_given_now() -> None:
    password = [PASSWORD]
    async with rotating_server() as (harness, marks):
        settings = ClientSettings(harness.url, "CS1", backoff=BackOffSettings(30.0, 0.0, 5))  # a long wait
        client = OcppClient(
            settings, station_router, choose_credentials=lambda: Credentials(password=password[0])
        )
        task = asyncio.create_task(client.run())
        try:
            await asyncio.wait_for(client.wait_connected(), 5)
            password[0] = ROTATED
            started = time.monotonic()
            await client.reconnect()
            assert await _marks(marks, 2) == [False, True]
            assert time.monotonic() - started < 5  # no back-off wait
        finally:
            await client.stop()
            await asyncio.wait_for(task, 5)


async def test_with_an_opening_wait_requests_beyond_the_cap_and_the_rate_wait_their_turn() -> None:
    """Issue #19 (admission_opening_wait): a request beyond admission_max_opening waits for a handshake in
    progress to end, and a registered station beyond the rate waits its turn, instead of a 503."""
    directory = Directory({f"CS{i}": protected() for i in range(8)})
    async with running_server(
        directory, admission_rate=20.0, admission_burst=2, admission_max_opening=2, admission_opening_wait=5.0
    ) as harness:
        statuses = await asyncio.gather(
            *(
                status_of(
                    harness.url + f"/CS{i}", subprotocols=["ocpp2.0.1"], additional_headers=basic(f"CS{i}")
                )
                for i in range(8)
            )
        )
        assert statuses == [101] * 8
        admission = harness.server.admission
        assert admission.refusals.get("rate", 0) == 0
        assert admission.opening == 0  # every place handed on came back
        assert not harness.server._opening_queue


async def test_a_lost_connection_leaves_its_protocol_to_reference_counting() -> None:
    """A station whose TCP connection drops (no closing handshake) and refused handshakes leave none of
    websockets' protocol objects in a reference cycle (its parser generator and the EOFError's traceback):
    a storm's thousands of them made the collector pause the event loop."""
    async with running_server(Directory({"CS1": protected()})) as harness:
        gc.collect()
        wrong = basic("CS1", "wrong-password-1")
        for _ in range(3):
            status = await status_of(
                harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=wrong
            )
            assert status == 401
        client = await connect(
            harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")
        )
        for _ in range(500):
            if harness.server.connections:
                break
            await asyncio.sleep(0.01)
        client.transport.abort()  # a power cut at the station: no closing handshake
        for _ in range(500):
            if not harness.server.connections:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            cyclic = [type(o).__name__ for o in gc.garbage if type(o) is ServerProtocol]
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert cyclic == []


async def test_handshakes_leave_no_reference_cycle_through_the_server_connection() -> None:
    """A refused or accepted handshake's server connection is freed by reference counting, not left to the
    garbage collector: a storm's thousands of refused handshakes had it pause the event loop for seconds
    (websockets' select_subprotocol callback closes over the connection: not used)."""
    async with running_server(Directory({"CS1": protected()})) as harness:
        gc.collect()
        wrong = basic("CS1", "wrong-password-1")
        for _ in range(3):
            assert (
                await status_of(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=wrong)
                == 401
            )
        async with connect(harness.url + "/CS1", subprotocols=["ocpp2.0.1"], additional_headers=basic("CS1")):
            pass
        for _ in range(500):  # the accepted connection's handler ends
            if not harness.server.connections:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)  # the refused connections' transports closed
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            gc.collect()
            cyclic = [o for o in gc.garbage if type(o) is ServerConnection]  # (weak proxies fail isinstance)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        assert cyclic == []
