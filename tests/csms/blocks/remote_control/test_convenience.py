"""The convenience routes translated to the station's version (1.6, 2.0.1, 2.1), against peer stations from
the ``ocpp`` package: B11/B12 (1.6 §5.15 Reset), F05 (1.6 §5.18 UnlockConnector), F06 (1.6 §5.17
TriggerMessage and the security extension's ExtendedTriggerMessage), F01/F02 (1.6 §5.11 RemoteStart)."""

from __future__ import annotations

from typing import Any

import pytest

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from tests.csms.blocks.remote_control.test_remote_control import VERSIONS, post, station
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot

NO = None  # refused with 422 (no equivalent in that version)

# The reset type asked for -> what each version's station receives.
RESETS: dict[str, dict[str, str | None]] = {
    "Immediate": {"1.6": "Hard", "2.0.1": "Immediate", "2.1": "Immediate"},
    "OnIdle": {"1.6": NO, "2.0.1": "OnIdle", "2.1": "OnIdle"},
    "ImmediateAndResume": {"1.6": NO, "2.0.1": NO, "2.1": "ImmediateAndResume"},
    "Hard": {"1.6": "Hard", "2.0.1": "Immediate", "2.1": "Immediate"},
    "Soft": {"1.6": "Soft", "2.0.1": "Immediate", "2.1": "Immediate"},
}

# The trigger asked for -> (action, requestedMessage) per version.
TRIGGERS: dict[str, dict[str, tuple[str, str] | None]] = {
    "DiagnosticsStatusNotification": {
        "1.6": ("TriggerMessage", "DiagnosticsStatusNotification"),
        "2.0.1": ("TriggerMessage", "LogStatusNotification"),
        "2.1": ("TriggerMessage", "LogStatusNotification"),
    },
    "LogStatusNotification": {
        "1.6": ("ExtendedTriggerMessage", "LogStatusNotification"),
        "2.0.1": ("TriggerMessage", "LogStatusNotification"),
        "2.1": ("TriggerMessage", "LogStatusNotification"),
    },
    "SignChargingStationCertificate": {
        "1.6": ("ExtendedTriggerMessage", "SignChargePointCertificate"),
        "2.0.1": ("TriggerMessage", "SignChargingStationCertificate"),
        "2.1": ("TriggerMessage", "SignChargingStationCertificate"),
    },
    "TransactionEvent": {
        "1.6": NO,
        "2.0.1": ("TriggerMessage", "TransactionEvent"),
        "2.1": ("TriggerMessage", "TransactionEvent"),
    },
}


async def sent_as(csms: RunningCsms, path: str, body: dict[str, Any], sent: bool) -> None:
    """The route sends the request (200), or refuses it as having no equivalent (422, the value named)."""
    response = await post(csms, path, body)
    if sent:
        assert response.status_code == 200, (body, response.text)
        return
    assert response.status_code == 422, (body, response.text)
    extra = response.json()["extra"]
    assert extra["code"] == "NoEquivalent"
    assert str(next(iter(body.values()))) in extra["description"]


@pytest.mark.parametrize("version", VERSIONS)
async def test_B11_B12_reset_is_translated_per_version(csms: RunningCsms, version: str) -> None:
    await csms.add_station("CV1")
    async with station(csms, "CV1", version) as peer_station:
        await boot(peer_station, version)
        for asked, per_version in RESETS.items():
            expected = per_version[version]
            await sent_as(csms, "/stations/CV1/reset", {"type": asked}, expected is not None)
            if expected is not None:
                assert peer_station.received[-1] == ("Reset", {"type": expected})


@pytest.mark.parametrize("version", VERSIONS)
async def test_F06_trigger_is_translated_per_version(csms: RunningCsms, version: str) -> None:
    await csms.add_station("CV2")
    async with station(csms, "CV2", version) as peer_station:
        await boot(peer_station, version)
        for asked, per_version in TRIGGERS.items():
            expected = per_version[version]
            await sent_as(csms, "/stations/CV2/trigger", {"requestedMessage": asked}, expected is not None)
            if expected is not None:
                action, message = expected
                assert peer_station.received[-1] == (action, {"requested_message": message})
        custom = await post(
            csms, "/stations/CV2/trigger", {"requestedMessage": "CustomTrigger", "customTrigger": "x"}
        )
        assert custom.status_code == (200 if version == "2.1" else 422), custom.text


async def test_F05_F06_16_connector_is_the_evse(csms: RunningCsms) -> None:
    """1.6 connector N is EVSE N (its connector 1): an EVSE and connector pair translates to connectorId N;
    a second connector of an EVSE has no 1.6 equivalent."""
    await csms.add_station("CV3")
    async with station(csms, "CV3", "1.6") as peer_station:
        await boot(peer_station, "1.6")
        unlocked = await post(csms, "/stations/CV3/unlock", {"evseId": 2, "connectorId": 1})
        assert unlocked.status_code == 200, unlocked.text
        assert peer_station.received[-1] == ("UnlockConnector", {"connector_id": 2})
        refused = await post(csms, "/stations/CV3/unlock", {"evseId": 1, "connectorId": 2})
        assert refused.status_code == 422, refused.text
        triggered = await post(
            csms,
            "/stations/CV3/trigger",
            {"requestedMessage": "StatusNotification", "evseId": 2, "connectorId": 1},
        )
        assert triggered.status_code == 200, triggered.text
        assert peer_station.received[-1] == (
            "TriggerMessage",
            {"requested_message": "StatusNotification", "connector_id": 2},
        )
        started = await post(
            csms, "/stations/CV3/remote-start", {"idToken": "T", "evseId": 2, "connectorId": 1}
        )
        assert started.json()["request"] == {"idTag": "T", "connectorId": 2}
        no_id = await post(csms, "/stations/CV3/remote-start", {"idToken": "T", "remoteStartId": 5})
        assert no_id.status_code == 422, no_id.text  # 1.6 has no remoteStartId


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_F01_remote_start_sends_the_stored_token_type(csms: RunningCsms, version: str) -> None:
    """The field report: a stored ISO14443 token sent as Central was rated Unknown by the CSMS itself."""
    await csms.app.blocks.require(AuthorizationService).create_token(
        {"id_token": "04A2B3C4", "type": "ISO14443", "status": "Accepted"}
    )
    await csms.add_station("CV4")
    async with station(csms, "CV4", version) as peer_station:
        await boot(peer_station, version)
        stored = await post(csms, "/stations/CV4/remote-start", {"idToken": "04a2b3c4", "evseId": 1})
        assert stored.status_code == 200, stored.text
        sent: dict[str, Any] = peer_station.received[-1][1]
        assert sent["id_token"] == {"id_token": "04a2b3c4", "type": "ISO14443"}
        unknown = await post(csms, "/stations/CV4/remote-start", {"idToken": "NOBODY", "evseId": 1})
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["extra"]["code"] == "UnknownToken"
        central = await post(
            csms, "/stations/CV4/remote-start", {"idToken": "NOBODY", "tokenType": "Central", "evseId": 1}
        )
        assert central.status_code == 200, central.text  # Central only when the operator says so
        assert peer_station.received[-1][1]["id_token"] == {"id_token": "NOBODY", "type": "Central"}
