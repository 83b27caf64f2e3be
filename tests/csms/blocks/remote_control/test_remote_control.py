"""Remote control (F01-F06, B11-B12) through the HTTP API against peer stations from the ``ocpp`` package,
on 1.6, 2.0.1 and 2.1, on SQLite and PostgreSQL; plus unit tests of the trigger map and the CSMS-side rules."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import ocpp.exceptions
import pytest
from ocpp.routing import after, on

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.remote_control.service import InvalidCommand, check_rules
from chargeplane.csms.blocks.remote_control.triggers import triggered_action
from chargeplane.csms.session import session_of
from chargeplane.ocpp.messages import v16, v21, v201
from chargeplane.ocpp.versions import Version
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]


class _Recorder:
    """What every peer station below keeps: the CSMS's requests and the results of triggered messages."""

    version: str
    received: list[tuple[str, dict[str, Any]]]
    triggered: list[Any]
    reject_triggers: set[str]
    slow_seconds: float

    def _setup(self, version: str) -> None:
        self.version = version
        self.received = []
        self.triggered = []
        self.reject_triggers = set()
        self.slow_seconds = 2.0

    async def _send_triggered(self, requested_message: str, **kwargs: Any) -> None:
        if requested_message in self.reject_triggers:
            return
        call = MODULES[self.version].call
        try:
            if requested_message == "Heartbeat":
                self.triggered.append(await self.call(call.Heartbeat(), suppress=False))  # type: ignore[attr-defined]
            elif requested_message == "BootNotification":
                self.triggered.append(await boot(self, self.version))
        except Exception as error:  # a CALLERROR (SecurityError) is what some tests expect
            self.triggered.append(error)


class Station16(_Recorder, MODULES["1.6"].ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup("1.6")

    @on("RemoteStartTransaction")
    def remote_start(self, **kwargs: Any) -> Any:
        self.received.append(("RemoteStartTransaction", kwargs))
        return MODULES["1.6"].call_result.RemoteStartTransaction(status="Accepted")

    @on("RemoteStopTransaction")
    def remote_stop(self, **kwargs: Any) -> Any:
        self.received.append(("RemoteStopTransaction", kwargs))
        return MODULES["1.6"].call_result.RemoteStopTransaction(status="Accepted")

    @on("UnlockConnector")
    def unlock(self, **kwargs: Any) -> Any:
        self.received.append(("UnlockConnector", kwargs))
        return MODULES["1.6"].call_result.UnlockConnector(status="Unlocked")

    @on("Reset")
    def reset(self, **kwargs: Any) -> Any:
        self.received.append(("Reset", kwargs))
        return MODULES["1.6"].call_result.Reset(status="Accepted")

    @on("TriggerMessage")
    def trigger(self, requested_message: str, **kwargs: Any) -> Any:
        self.received.append(("TriggerMessage", {"requested_message": requested_message, **kwargs}))
        status = "Rejected" if requested_message in self.reject_triggers else "Accepted"
        return MODULES["1.6"].call_result.TriggerMessage(status=status)

    @after("TriggerMessage")
    async def after_trigger(self, requested_message: str, **kwargs: Any) -> None:
        await self._send_triggered(requested_message)

    @on("ExtendedTriggerMessage")
    def extended_trigger(self, requested_message: str, **kwargs: Any) -> Any:
        self.received.append(("ExtendedTriggerMessage", {"requested_message": requested_message, **kwargs}))
        return MODULES["1.6"].call_result.ExtendedTriggerMessage(status="Accepted")

    @on("ClearCache")
    def clear_cache(self, **kwargs: Any) -> Any:
        raise ocpp.exceptions.GenericError(description="cache on fire")

    @on("GetConfiguration")
    async def get_configuration(self, **kwargs: Any) -> Any:
        await asyncio.sleep(self.slow_seconds)
        return MODULES["1.6"].call_result.GetConfiguration(configuration_key=[])


class _V2xHandlers(_Recorder):
    @on("RequestStartTransaction")
    def remote_start(self, **kwargs: Any) -> Any:
        self.received.append(("RequestStartTransaction", kwargs))
        return MODULES[self.version].call_result.RequestStartTransaction(
            status="Accepted", transaction_id="tx-1"
        )

    @on("RequestStopTransaction")
    def remote_stop(self, **kwargs: Any) -> Any:
        self.received.append(("RequestStopTransaction", kwargs))
        return MODULES[self.version].call_result.RequestStopTransaction(status="Accepted")

    @on("UnlockConnector")
    def unlock(self, **kwargs: Any) -> Any:
        self.received.append(("UnlockConnector", kwargs))
        return MODULES[self.version].call_result.UnlockConnector(status="Unlocked")

    @on("Reset")
    def reset(self, **kwargs: Any) -> Any:
        self.received.append(("Reset", kwargs))
        return MODULES[self.version].call_result.Reset(
            status="Scheduled" if kwargs["type"] == "OnIdle" else "Accepted"
        )

    @on("TriggerMessage")
    def trigger(self, requested_message: str, **kwargs: Any) -> Any:
        self.received.append(("TriggerMessage", {"requested_message": requested_message, **kwargs}))
        status = "Rejected" if requested_message in self.reject_triggers else "Accepted"
        return MODULES[self.version].call_result.TriggerMessage(status=status)

    @after("TriggerMessage")
    async def after_trigger(self, requested_message: str, **kwargs: Any) -> None:
        await self._send_triggered(requested_message)

    @on("ClearCache")
    def clear_cache(self, **kwargs: Any) -> Any:
        raise ocpp.exceptions.GenericError(description="cache on fire")

    @on("GetVariables")
    async def get_variables(self, **kwargs: Any) -> Any:
        await asyncio.sleep(self.slow_seconds)
        return MODULES[self.version].call_result.GetVariables(get_variable_result=[])


class Station201(_V2xHandlers, MODULES["2.0.1"].ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup("2.0.1")


class Station21(_V2xHandlers, MODULES["2.1"].ChargePoint):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._setup("2.1")


STATIONS: dict[str, Any] = {"1.6": Station16, "2.0.1": Station201, "2.1": Station21}


def station(csms: RunningCsms, station_id: str, version: str) -> Any:
    """A connected peer of ``version`` with the handlers above (an async context manager)."""
    return peer(csms.ocpp_url, station_id, version, station_class=STATIONS[version])


async def post(csms: RunningCsms, path: str, body: Any) -> Any:
    return await csms.api.post(f"/api/v1{path}", json=body, headers=csms.auth)


async def eventually(check: Any, within: float = 3.0) -> None:
    """Poll ``check()`` (a bool) with a short bounded loop."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


# -- F01-F03, F05, B11/B12 -----------------------------------------------------------------------------------
# One CSMS per test keeps the suite fast (each runs on SQLite and on a fresh PostgreSQL database).


@pytest.mark.parametrize("version", VERSIONS)
async def test_F01_F02_F03_F05_B11_B12_remote_control_returns_the_station_response(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("RC1")
    await csms.app.blocks.require(AuthorizationService).create_token(
        {"id_token": "TOKEN1", "type": "Central", "status": "Accepted"}
    )
    async with station(csms, "RC1", version) as peer_station:
        await boot(peer_station, version)

        # F01/F02 remote start (2.x: the stored token's type)
        started = await post(csms, "/stations/RC1/remote-start", {"idToken": "TOKEN1", "evseId": 1})
        assert started.status_code == 200, started.text
        body = started.json()
        assert body["response"]["status"] == "Accepted"
        if version == "1.6":
            assert body["action"] == "RemoteStartTransaction"
            assert body["request"] == {"idTag": "TOKEN1", "connectorId": 1}
            assert peer_station.received[-1] == (
                "RemoteStartTransaction",
                {"id_tag": "TOKEN1", "connector_id": 1},
            )
        else:
            assert body["action"] == "RequestStartTransaction"
            assert body["response"]["transactionId"] == "tx-1"  # F01.FR.13: the station's answer as it came
            remote_start_id = body["request"][
                "remoteStartId"
            ]  # generated by the CSMS, given back to the caller
            assert isinstance(remote_start_id, int)
            assert remote_start_id > 0
            action, sent = peer_station.received[-1]
            assert action == "RequestStartTransaction"
            assert sent["id_token"] == {"id_token": "TOKEN1", "type": "Central"}
            assert (sent["evse_id"], sent["remote_start_id"]) == (1, remote_start_id)
            given = await post(
                csms,
                "/stations/RC1/remote-start",
                {"idToken": "04A2B3C4", "tokenType": "ISO14443", "remoteStartId": 77},
            )
            assert given.json()["request"] == {
                "idToken": {"idToken": "04A2B3C4", "type": "ISO14443"},
                "remoteStartId": 77,
            }

        # F03 remote stop (1.6: an integer transaction id)
        stopped = await post(
            csms, "/stations/RC1/remote-stop", {"transactionId": "42" if version == "1.6" else "tx-1"}
        )
        assert stopped.status_code == 200, stopped.text
        assert stopped.json()["response"] == {"status": "Accepted"}
        if version == "1.6":
            assert peer_station.received[-1] == ("RemoteStopTransaction", {"transaction_id": 42})
        else:
            assert peer_station.received[-1] == ("RequestStopTransaction", {"transaction_id": "tx-1"})

        # F05 unlock
        unlocked = await post(
            csms, "/stations/RC1/unlock", {"connectorId": 2} | ({} if version == "1.6" else {"evseId": 1})
        )
        assert unlocked.status_code == 200, unlocked.text
        assert unlocked.json()["response"] == {"status": "Unlocked"}
        expected = {"connector_id": 2} if version == "1.6" else {"evse_id": 1, "connector_id": 2}
        assert peer_station.received[-1] == ("UnlockConnector", expected)

        # B11/B12 reset
        if version == "1.6":
            reset = await post(csms, "/stations/RC1/reset", {"type": "Hard"})
            assert reset.json()["response"] == {"status": "Accepted"}
            assert peer_station.received[-1] == ("Reset", {"type": "Hard"})
        else:
            immediate = await post(csms, "/stations/RC1/reset", {"type": "Immediate"})
            assert immediate.status_code == 200, immediate.text
            assert immediate.json()["response"] == {"status": "Accepted"}
            on_idle = await post(csms, "/stations/RC1/reset", {"type": "OnIdle", "evseId": 1})  # B11.FR.08
            assert on_idle.json()["response"] == {"status": "Scheduled"}  # B12.FR.01 answer passed through
            assert peer_station.received[-1] == ("Reset", {"type": "OnIdle", "evse_id": 1})

    log = (await csms.api.get("/api/v1/commands?station=RC1", headers=csms.auth)).json()
    assert {item["outcome"] for item in log["items"]} == {"ok"}
    assert log["total"] == (4 if version == "1.6" else 6)


async def test_remote_control_routes_per_version_and_refusals(csms: RunningCsms) -> None:
    await csms.add_station("RC3")
    await csms.add_station("RC4")
    async with station(csms, "RC3", "1.6") as v16_station, station(csms, "RC4", "2.0.1") as v2_station:
        await boot(v16_station, "1.6")
        await boot(v2_station, "2.0.1")
        refused = [
            await post(csms, "/stations/RC3/remote-stop", {"transactionId": "tx-1"}),  # 1.6 ids are integers
            await post(csms, "/stations/RC3/reset", {"type": "Soft", "evseId": 1}),  # 1.6 resets everything
            await post(csms, "/stations/RC4/unlock", {"connectorId": 1}),  # 2.x needs the EVSE
            await post(csms, "/stations/RC4/remote-start", {"idToken": "T", "connectorId": 1}),
            await post(csms, "/stations/RC4/reset", {"type": "ImmediateAndResume"}),  # a 2.1 value on 2.0.1
            await post(
                csms, "/stations/RC4/trigger", {"requestedMessage": "StatusNotification", "evseId": 1}
            ),
        ]
        assert [r.status_code for r in refused] == [422] * 6, [r.text for r in refused]
        assert refused[4].json()["extra"]["code"] == "NoEquivalent"
        assert "F06.FR.13" in refused[5].json()["extra"]["description"]
        assert v16_station.received == []
        assert v2_station.received == []
        assert (await post(csms, "/stations/NOPE/reset", {"type": "Soft"})).status_code == 404

        # F06.FR.13 on 2.x: evse and connector go into the request's evse.
        triggered = await post(
            csms,
            "/stations/RC4/trigger",
            {"requestedMessage": "StatusNotification", "evseId": 1, "connectorId": 1},
        )
        assert triggered.status_code == 200, triggered.text
        assert v2_station.received[-1] == (
            "TriggerMessage",
            {"requested_message": "StatusNotification", "evse": {"id": 1, "connector_id": 1}},
        )
        # 1.6: the security extension's triggers travel in ExtendedTriggerMessage.
        extended = await post(
            csms, "/stations/RC3/trigger", {"requestedMessage": "SignChargePointCertificate"}
        )
        assert extended.status_code == 200, extended.text
        assert extended.json()["action"] == "ExtendedTriggerMessage"
        assert v16_station.received[-1] == (
            "ExtendedTriggerMessage",
            {"requested_message": "SignChargePointCertificate"},
        )
    assert (await post(csms, "/stations/RC3/reset", {"type": "Soft"})).status_code == 409  # offline


# -- F06 trigger and the registration gate -----------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
async def test_F06_trigger_lets_a_pending_station_send_the_message_once_B02_FR_02(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("RC7", registrationStatus="Pending")
    async with station(csms, "RC7", version) as peer_station:
        assert (await boot(peer_station, version)).status == "Pending"
        response = await post(csms, "/stations/RC7/trigger", {"requestedMessage": "Heartbeat"})
        assert response.status_code == 200, response.text
        assert response.json()["response"] == {"status": "Accepted"}
        await eventually(lambda: len(peer_station.triggered) == 1)
        assert peer_station.triggered[0].current_time  # the triggered Heartbeat was answered
        # Once only: the next unsolicited Heartbeat gets SecurityError again (B02.FR.09).
        with pytest.raises(ocpp.exceptions.SecurityError):
            await peer_station.call(MODULES[version].call.Heartbeat(), suppress=False)
        connection = csms.app.server.connection_for("RC7")
        assert connection is not None
        assert session_of(connection).triggered == set()

        # A Rejected trigger closes the gate again at once (F06.FR.05).
        peer_station.reject_triggers.add("Heartbeat")
        response = await post(csms, "/stations/RC7/trigger", {"requestedMessage": "Heartbeat"})
        assert response.json()["response"] == {"status": "Rejected"}
        assert "Heartbeat" not in session_of(connection).triggered
        with pytest.raises(ocpp.exceptions.SecurityError):
            await peer_station.call(MODULES[version].call.Heartbeat(), suppress=False)


# -- unit tests: the trigger map and the CSMS-side rules ---------------------------------------------------


def test_F06_trigger_map_names_the_station_action_per_version() -> None:
    assert (
        triggered_action(v201.messages.TriggerMessageRequest(requested_message="MeterValues"))
        == "MeterValues"
    )
    assert (
        triggered_action(
            v21.messages.TriggerMessageRequest(requested_message="SignChargingStationCertificate")
        )
        == "SignCertificate"
    )
    assert triggered_action(v21.messages.TriggerMessageRequest(requested_message="CustomTrigger")) is None
    assert (
        triggered_action(
            v16.messages.TriggerMessageRequest(requested_message="DiagnosticsStatusNotification")
        )
        == "DiagnosticsStatusNotification"
    )
    extended = v16.messages.ExtendedTriggerMessageRequest(requested_message="FirmwareStatusNotification")
    assert triggered_action(extended) == "SignedFirmwareStatusNotification"
    assert triggered_action(v201.messages.HeartbeatRequest()) is None


def _decode(module: Any, name: str, body: dict[str, Any]) -> Any:
    return msgspec.json.decode(msgspec.json.encode(body), type=getattr(module.messages, name))


_TX_PROFILE = {
    "id": 1,
    "stackLevel": 0,
    "chargingProfilePurpose": "TxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": [
        {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}]}
    ],
}


def test_F01_FR_09_F01_FR_11_remote_start_profile_rules() -> None:
    ok = _decode(
        v201,
        "RequestStartTransactionRequest",
        {"idToken": {"idToken": "T", "type": "Central"}, "remoteStartId": 1, "chargingProfile": _TX_PROFILE},
    )
    check_rules(Version.V201, ok)
    wrong_purpose = _decode(
        v201,
        "RequestStartTransactionRequest",
        {
            "idToken": {"idToken": "T", "type": "Central"},
            "remoteStartId": 1,
            "chargingProfile": _TX_PROFILE | {"chargingProfilePurpose": "TxDefaultProfile"},
        },
    )
    with pytest.raises(InvalidCommand, match=r"F01\.FR\.09"):
        check_rules(Version.V201, wrong_purpose)
    with_tx = _decode(
        v201,
        "RequestStartTransactionRequest",
        {
            "idToken": {"idToken": "T", "type": "Central"},
            "remoteStartId": 1,
            "chargingProfile": _TX_PROFILE | {"transactionId": "tx"},
        },
    )
    with pytest.raises(InvalidCommand, match=r"F01\.FR\.11"):
        check_rules(Version.V201, with_tx)
    with pytest.raises(InvalidCommand, match="evseId"):
        check_rules(
            Version.V201,
            _decode(
                v201,
                "RequestStartTransactionRequest",
                {"idToken": {"idToken": "T", "type": "Central"}, "remoteStartId": 1, "evseId": 0},
            ),
        )
    with pytest.raises(InvalidCommand, match="connectorId"):
        check_rules(
            Version.V16, _decode(v16, "RemoteStartTransactionRequest", {"idTag": "T", "connectorId": 0})
        )


def test_F06_FR_13_status_notification_trigger_needs_a_connector() -> None:
    with pytest.raises(InvalidCommand, match=r"F06\.FR\.13"):
        check_rules(Version.V21, v21.messages.TriggerMessageRequest(requested_message="StatusNotification"))
    check_rules(
        Version.V21,
        _decode(
            v21,
            "TriggerMessageRequest",
            {"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}},
        ),
    )
    check_rules(Version.V16, v16.messages.TriggerMessageRequest(requested_message="StatusNotification"))
