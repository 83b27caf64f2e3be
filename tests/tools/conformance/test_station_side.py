"""The station direction of the framework: the command line, the interactive station adapter and the tool's
default answers."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import socket
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from chargeplane.cli import build_parser
from chargeplane.ocpp.errors import InternalError
from chargeplane.ocpp.messages.v201 import datatypes as dt
from chargeplane.ocpp.messages.v201 import enums as en
from chargeplane.ocpp.messages.v201 import messages as msg
from chargeplane.station.runtime import RuntimeSettings, StationRuntime
from chargeplane.tools.conformance.cases.cs.b_network_profiles import hash_data
from chargeplane.tools.conformance.commands import run_command
from chargeplane.tools.conformance.declaration import Configured
from chargeplane.tools.conformance.station_adapter import InteractiveStationAdapter, PlugIn, PresentToken
from chargeplane.tools.conformance.station_steps import (
    Answers,
    CsmsEndpoint,
    ListenSettings,
    StationTool,
    alternate_endpoint,
    default_answer,
)
from chargeplane.transport.security import TlsSettings
from tests.tools.conformance.conftest import Operator
from tests.tools.conformance.our_station import OurStation
from tests.transport.certs import issue, make_ca

STATION_ID = "CONFORMANCE-CS-2"
PASSWORD = "another-long-password-12"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_command_line_tests_a_station_that_connects_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = _free_port()
    report = tmp_path / "report.json"
    args = build_parser().parse_args(
        [
            "conformance", "station", "--listen", f"127.0.0.1:{port}", "--station-id", STATION_ID,
            "--password", PASSWORD, "--cases", "TC_F_20_CS,TC_E_28_CS,TC_F_23_CS", "--json", str(report),
        ]
    )  # fmt: skip
    station = OurStation(f"ws://127.0.0.1:{port}/ocpp", STATION_ID, PASSWORD, tmp_path / "station.db")
    command = asyncio.create_task(run_command(args))
    await asyncio.sleep(0.3)  # the tool listens first, as a CSMS would
    await station.start()
    try:
        assert await asyncio.wait_for(command, 60) == 0
    finally:
        await station.stop()
    out = capsys.readouterr().out
    assert "PASS  TC_F_20_CS" in out
    assert "PASS  TC_E_28_CS" in out
    assert "N/A   TC_F_23_CS" in out  # C-29.5 not declared
    outcomes = {c["id"]: c["outcome"] for c in json.loads(report.read_text())["cases"]}
    assert outcomes == {"TC_E_28_CS": "PASS", "TC_F_20_CS": "PASS", "TC_F_23_CS": "N/A"}


@pytest.mark.parametrize(
    ("listen", "password"), [("nowhere", "a-long-password-123456"), ("192.0.2.1:9000", None)]
)
async def test_command_line_checks_where_it_listens(listen: str, password: str | None) -> None:
    argv = ["conformance", "station", "--listen", listen, "--station-id", "A"]
    args = build_parser().parse_args(argv + (["--password", password] if password else []))
    assert await run_command(args) == 2  # a bad address; no password off loopback


async def test_interactive_station_adapter_asks_the_person_at_the_station() -> None:
    operator = Operator()
    asked = operator.asked
    out = io.StringIO()
    adapter = InteractiveStationAdapter(ask=operator, out=out)
    await adapter.perform(PlugIn(1, 2))
    await adapter.perform(PresentToken("CARD", "ISO14443"))
    assert "connect the EV to EVSE 1 connector 2" in out.getvalue()
    assert "present id token CARD (ISO14443)" in out.getvalue()
    assert len(asked) == 2


def test_default_answers_accept_the_valid_token_only() -> None:
    answers = Answers(valid_tokens={"GOOD"})

    def status(token: str) -> str:
        request = msg.AuthorizeRequest(
            id_token=dt.IdTokenType(id_token=token, type=en.IdTokenEnumType.ISO14443)
        )
        answer = default_answer(request, answers)
        assert isinstance(answer, msg.AuthorizeResponse)
        return str(answer.id_token_info.status)

    assert status("GOOD") == "Accepted"
    assert status("OTHER") == "Invalid"
    boot = default_answer(
        msg.BootNotificationRequest(
            charging_station=dt.ChargingStationType(model="M", vendor_name="V"),
            reason=en.BootReasonEnumType.POWER_UP,
        ),
        Answers(registration=en.RegistrationStatusEnumType.REJECTED, interval=7),
    )
    assert isinstance(boot, msg.BootNotificationResponse)
    assert (boot.status, boot.interval) == (en.RegistrationStatusEnumType.REJECTED, 7)


async def test_the_tool_refuses_connections_and_listens_on_a_second_address(tmp_path: Path) -> None:
    # what the network profile cases (TC_B_45/B_46/B_49_CS) need of the tool
    endpoint = CsmsEndpoint(ListenSettings("127.0.0.1", 0, STATION_ID, PASSWORD))
    await endpoint.start()
    try:
        endpoint.refuse_connections(1)
        station = OurStation(endpoint.url, STATION_ID, PASSWORD, tmp_path / "station.db")
        await station.start()
        try:
            await endpoint.wait_connected("test", 20)
            assert (endpoint.refusals_left, endpoint.connections) == (0, 1)  # refused once, then let in
        finally:
            await station.stop()
        async with alternate_endpoint(endpoint) as other:
            assert other.url != endpoint.url
            assert other.settings.station_id == STATION_ID
            elsewhere = OurStation(other.url, STATION_ID, PASSWORD, tmp_path / "other.db")
            await elsewhere.start()
            try:
                await other.wait_connected("test", 20)
            finally:
                await elsewhere.stop()
    finally:
        await endpoint.stop()


async def test_the_second_address_speaks_tls_and_root_hash_data(tmp_path: Path) -> None:
    # TC_B_47/B_50_CS: a wss:// second address with a certificate of a new root; the root's hash data
    root = make_ca(tmp_path, "root2")
    files = issue(root, tmp_path, "localhost", server=True)
    endpoint = CsmsEndpoint(ListenSettings("127.0.0.1", 0, STATION_ID, PASSWORD))
    await endpoint.start()
    try:
        async with alternate_endpoint(endpoint, TlsSettings(certificates=(files,))) as other:
            assert other.url.startswith("wss://127.0.0.1:")
            settings = RuntimeSettings(
                url=other.url,
                station_id=STATION_ID,
                password=PASSWORD,
                security_profile=2,
                ca_bundle=root.path,
            )
            runtime = StationRuntime(settings)
            task = asyncio.create_task(runtime.run())
            try:
                await other.wait_connected("test", 20)
            finally:
                await runtime.stop()
                await asyncio.wait_for(task, 5)
    finally:
        await endpoint.stop()
    name, key, serial = hash_data(root.path.read_text(), "SHA256")
    spki = root.certificate.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    assert key == hashlib.sha256(spki[-65:]).hexdigest()  # the BIT STRING: P-256's uncompressed point
    assert name == hashlib.sha256(root.certificate.issuer.public_bytes()).hexdigest()
    assert int(serial, 16) == root.certificate.serial_number


async def test_the_tool_takes_the_station_offline_and_leaves_a_call_unanswered(tmp_path: Path) -> None:
    """The infrastructure of the offline and retry cases: reconnections refused then accepted (each attempt
    recorded), and a held CALL released once the station's next CALL shows it timed out."""
    endpoint = CsmsEndpoint(ListenSettings("127.0.0.1", 0, STATION_ID, PASSWORD))
    await endpoint.start()
    station = OurStation(endpoint.url, STATION_ID, PASSWORD, tmp_path / "station.db")
    station.settings.call_timeout = 1.0  # the held CALL times out at the station at once
    await station.start()
    tool = StationTool(endpoint, station, Configured())
    try:
        await endpoint.wait_connected("test", 10.0)
        await tool.expect_answered("test", msg.BootNotificationRequest, 10.0)
        async with tool.offline("test"):
            assert not endpoint.is_connected
            await asyncio.sleep(1.0)  # our station retries every fraction of a second
        assert any(not accepted for _, accepted in endpoint.attempts)
        await tool.come_online("test", 10.0)
        assert endpoint.attempts[-1][1] is True

        trigger = msg.TriggerMessageRequest(requested_message=en.MessageTriggerEnumType.HEARTBEAT)
        await tool.send("test", trigger)
        held = await tool.expect("test", msg.HeartbeatRequest)
        tool.withhold(held)
        await tool.send("test", trigger)  # answered by the station while its Heartbeat waits
        second = await tool.expect("test", msg.HeartbeatRequest, within=5.0)
        assert held.reply.done()
        assert isinstance(held.reply.exception(), InternalError)  # the late CALLERROR the station ignores
        # The station waited its call timeout (1 s from its send, which is a little before the tool got it).
        assert second.received_at - held.received_at >= 0.9
        tool.answer_default(second)
    finally:
        await station.stop()
        await endpoint.stop()
