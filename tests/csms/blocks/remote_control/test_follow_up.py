"""What became of a remote start (F01/F02; 1.6 §5.11): the API answers when the station accepts the command,
so a transaction that then fails right away (its token refused, DeAuthorized, 0 Wh) is noted against the
command in the command log and published as a ``command.follow_up`` event. Peer stations from ``ocpp``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chargeplane.csms.bus.events import StationEvent
from tests.csms.blocks.remote_control.test_remote_control import VERSIONS, post, station
from tests.csms.blocks.transactions.test_transactions import add_token, at, tx_event
from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot


async def run_failing_session(peer_station: Any, version: str, remote_start_id: int | None) -> None:
    """The station starts the transaction with the token the CSMS sent, is refused, and ends it at once."""
    if version == "1.6":
        call = MODULES[version].call
        started = await peer_station.call(
            call.StartTransaction(connector_id=1, id_tag="GHOST", meter_start=100, timestamp=at(0))
        )
        assert started.id_tag_info["status"] == "Invalid"
        await peer_station.call(
            call.StopTransaction(
                transaction_id=started.transaction_id, meter_stop=100, timestamp=at(1), reason="DeAuthorized"
            )
        )
        return
    info = {"remote_start_id": remote_start_id}
    token = {"id_token": "GHOST", "type": "Central"}
    started = await peer_station.call(
        tx_event(
            version, "Started", 0, 0, transaction_id="tx-1", trigger="RemoteStart", info=info, id_token=token
        )
    )
    assert started.id_token_info["status"] == "Unknown"
    ended = tx_event(
        version,
        "Ended",
        1,
        1,
        transaction_id="tx-1",
        trigger="Deauthorized",
        info={"stopped_reason": "DeAuthorized"},
    )
    await peer_station.call(ended)


async def follow_up_event(queue: asyncio.Queue[StationEvent]) -> StationEvent:
    while (event := await queue.get()).kind != "command.follow_up":
        pass
    return event


@pytest.mark.parametrize("version", VERSIONS)
async def test_F01_F02_remote_start_that_fails_at_once_is_noted_on_its_command(
    csms: RunningCsms, version: str
) -> None:
    await add_token(csms, "OTHER")  # a token that never takes part
    await csms.add_station("FU1")
    async with csms.app.events.subscribe() as queue, station(csms, "FU1", version) as peer_station:
        await boot(peer_station, version)
        body: dict[str, Any] = {"idToken": "GHOST", "evseId": 1}
        if version != "1.6":
            body["tokenType"] = "Central"  # the operator's explicit choice: the CSMS does not know GHOST
        sent = await post(csms, "/stations/FU1/remote-start", body)
        assert sent.status_code == 200, sent.text
        assert sent.json()["response"]["status"] == "Accepted"  # what the API could say at that moment
        await run_failing_session(peer_station, version, sent.json()["request"].get("remoteStartId"))
        event = await asyncio.wait_for(follow_up_event(queue), 5)
    log = (await csms.api.get("/api/v1/commands?station=FU1", headers=csms.auth)).json()
    [command] = [item for item in log["items"] if "Start" in item["action"]]
    assert event.data["commandId"] == command["id"]
    note = command["followUp"]
    assert note is not None
    assert ("Invalid" if version == "1.6" else "Unknown") in note
    assert "ended right away: DeAuthorized" in note
    assert "0 Wh" in note


async def test_F01_successful_remote_start_has_no_follow_up(csms: RunningCsms) -> None:
    await add_token(csms, "GOOD")
    await csms.add_station("FU2")
    async with station(csms, "FU2", "2.0.1") as peer_station:
        await boot(peer_station, "2.0.1")
        sent = await post(csms, "/stations/FU2/remote-start", {"idToken": "GOOD", "evseId": 1})
        info = {"remote_start_id": sent.json()["request"]["remoteStartId"]}
        token = {"id_token": "GOOD", "type": "ISO14443"}
        started = await peer_station.call(
            tx_event(
                "2.0.1",
                "Started",
                0,
                0,
                transaction_id="tx-1",
                trigger="RemoteStart",
                info=info,
                id_token=token,
            )
        )
        assert started.id_token_info["status"] == "Accepted"
    log = (await csms.api.get("/api/v1/commands?station=FU2", headers=csms.auth)).json()
    assert [item["followUp"] for item in log["items"]] == [None]
