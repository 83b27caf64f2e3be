"""Transactions and metering (E01-E15, J01-J03; 1.6 Start/Stop/MeterValues) against peer stations from the
``ocpp`` package, on SQLite and PostgreSQL; plus unit tests of the pure parts of the service."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import PropertyConstraintViolationError

from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.transactions.fold import EventFacts, merge_event, register_wh, track_seq
from chargeplane.csms.blocks.transactions.repository import Sample, TransactionRecord
from chargeplane.ocpp.timestamps import to_wire
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

V2X = ["2.0.1", "2.1"]
T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> str:
    return to_wire(T0 + timedelta(seconds=seconds))


def energy(wh: float, seconds: float, context: str = "Sample.Periodic") -> dict[str, Any]:
    return {
        "timestamp": at(seconds),
        "sampled_value": [
            {"value": wh, "measurand": "Energy.Active.Import.Register", "context": context},
        ],
    }


def tx_event(
    version: str,
    event_type: str,
    seq_no: int,
    seconds: float,
    *,
    transaction_id: str = "TX-1",
    trigger: str = "MeterValuePeriodic",
    info: dict[str, Any] | None = None,
    **fields: Any,
) -> Any:
    return MODULES[version].call.TransactionEvent(
        event_type=event_type,
        timestamp=at(seconds),
        trigger_reason=trigger,
        seq_no=seq_no,
        transaction_info={"transaction_id": transaction_id} | (info or {}),
        **fields,
    )


@pytest.fixture
async def one_at_a_time(database_url: str) -> AsyncIterator[RunningCsms]:
    """A CSMS whose tokens may have one transaction at once (the default is no limit)."""
    async with running(settings_for(database_url, AuthorizationSettings(concurrent_transactions=1))) as csms:
        yield csms


async def add_token(csms: RunningCsms, token: str, status: str = "Accepted", **values: Any) -> None:
    service = csms.app.blocks.require(AuthorizationService)
    await service.create_token(
        {"id_token": token, "type": "ISO14443", "status": status, "local_list": False} | values
    )


async def connected(csms: RunningCsms, station_id: str, version: str) -> Any:
    await csms.add_station(station_id)
    return peer(csms.ocpp_url, station_id, version)


async def only_transaction(csms: RunningCsms, station_id: str) -> dict[str, Any]:
    page = (await csms.api.get(f"/api/v1/transactions?station={station_id}", headers=csms.auth)).json()
    assert page["total"] == 1, page
    detail: dict[str, Any] = (
        await csms.api.get(f"/api/v1/transactions/{page['items'][0]['id']}", headers=csms.auth)
    ).json()
    return detail


# -- full sessions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", V2X)
async def test_E01_E02_E06_full_session_stores_state_energy_and_stop_reason(
    csms: RunningCsms, version: str
) -> None:
    await add_token(csms, "TAG-1", group_id_token="GROUP-1")
    token = {"id_token": "TAG-1", "type": "ISO14443"}
    async with await connected(csms, "CS1", version) as station:
        await boot(station, version)
        async with csms.app.events.subscribe() as queue:
            started = await station.call(
                tx_event(
                    version,
                    "Started",
                    0,
                    0,
                    trigger="Authorized",
                    info={"charging_state": "Charging"},
                    evse={"id": 1, "connector_id": 1},
                    id_token=token,
                    meter_value=[energy(1000, 0, "Transaction.Begin")],
                )
            )
            # E01.FR.10-12, E02.FR.04: the token is checked and idTokenInfo answered, with its group.
            assert started.id_token_info["status"] == "Accepted"
            assert started.id_token_info["group_id_token"]["id_token"] == "GROUP-1"
            updated = await station.call(
                tx_event(
                    version,
                    "Updated",
                    1,
                    60,
                    meter_value=[
                        {
                            "timestamp": at(60),
                            "sampled_value": [
                                {"value": 1.5, "unit_of_measure": {"unit": "kWh"}},
                                {
                                    "value": 7200,
                                    "measurand": "Power.Active.Import",
                                    "unit_of_measure": {"unit": "W"},
                                },
                                {"value": 16, "measurand": "Current.Import", "phase": "L1"},
                                {"value": 230, "measurand": "Voltage", "phase": "L1-N"},
                            ],
                        }
                    ],
                )
            )
            assert updated.id_token_info is None  # no idToken in the request: no idTokenInfo
            ended = await station.call(
                tx_event(
                    version,
                    "Ended",
                    2,
                    3600,
                    trigger="StopAuthorized",
                    info={"stopped_reason": "EVDisconnected", "charging_state": "EVConnected"},
                    id_token=token,
                    meter_value=[energy(11000, 3600, "Transaction.End")],
                )
            )
            assert ended.id_token_info["status"] == "Accepted"
            kinds = [queue.get_nowait().kind for _ in range(queue.qsize())]
        assert [k for k in kinds if k.startswith("transaction.")] == [
            "transaction.started",
            "transaction.updated",
            "transaction.ended",
        ]
        assert kinds.count("meter_values") == 3
    detail = await only_transaction(csms, "CS1")
    tx = detail["transaction"]
    assert (tx["transactionId"], tx["ocppVersion"], tx["status"]) == ("TX-1", version, "ended")
    assert (tx["evseId"], tx["connectorId"], tx["idToken"], tx["tokenType"]) == (1, 1, "TAG-1", "ISO14443")
    assert tx["groupIdToken"] == "GROUP-1"
    assert (tx["meterStartWh"], tx["meterStopWh"], tx["energyWh"]) == (1000, 11000, 10000)
    assert tx["durationSeconds"] == 3600
    assert (tx["stopReason"], tx["chargingState"]) == ("EVDisconnected", "EVConnected")
    assert tx["complete"] is True
    assert tx["missingSeqNos"] == []
    assert [e["eventType"] for e in detail["events"]] == ["Started", "Updated", "Ended"]
    assert [e["triggerReason"] for e in detail["events"]] == [
        "Authorized",
        "MeterValuePeriodic",
        "StopAuthorized",
    ]
    assert len(detail["meterValues"]) == 6
    kwh = [m for m in detail["meterValues"] if m["unit"] == "kWh"]
    assert kwh[0]["value"] == 1.5
    assert kwh[0]["measurand"] == "Energy.Active.Import.Register"


# -- seqNo, duplicates, order ---------------------------------------------------------------------------


async def test_E13_duplicate_event_is_acknowledged_once_and_E06_default_reason_local(
    csms: RunningCsms,
) -> None:
    async with await connected(csms, "CS3", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(tx_event("2.0.1", "Started", 0, 0, info={"charging_state": "Charging"}))
        update = tx_event("2.0.1", "Updated", 1, 60, meter_value=[energy(500, 60)])
        await station.call(update)
        await station.call(update)  # a retry (E13): same transaction and seqNo
        await station.call(tx_event("2.0.1", "Ended", 2, 120, trigger="EVDeparted"))
    detail = await only_transaction(csms, "CS3")
    assert [e["seqNo"] for e in detail["events"]] == [0, 1, 2]
    assert detail["transaction"]["eventCount"] == 3
    assert len(detail["meterValues"]) == 1
    tx = detail["transaction"]
    # E06: an Ended event without stoppedReason means Local; no token was ever presented.
    assert (tx["stopReason"], tx["energyWh"], tx["idToken"]) == ("Local", 0, None)


@pytest.mark.parametrize("version", V2X)
async def test_E01_FR_07_gap_is_recorded_then_filled(csms: RunningCsms, version: str) -> None:
    async with await connected(csms, "CS4", version) as station:
        await boot(station, version)
        await station.call(tx_event(version, "Started", 0, 0, info={"charging_state": "Charging"}))
        await station.call(tx_event(version, "Updated", 3, 180))
        await station.call(tx_event(version, "Ended", 4, 240))
        tx = (await only_transaction(csms, "CS4"))["transaction"]
        assert tx["missingSeqNos"] == [[1, 2]]
        assert tx["complete"] is False
        await station.call(tx_event(version, "Updated", 2, 120, offline=True))
        tx = (await only_transaction(csms, "CS4"))["transaction"]
        assert tx["missingSeqNos"] == [[1, 1]]
        await station.call(tx_event(version, "Updated", 1, 60, offline=True))
    tx = (await only_transaction(csms, "CS4"))["transaction"]
    assert tx["missingSeqNos"] == []
    assert tx["complete"] is True
    assert (tx["firstSeqNo"], tx["lastSeqNo"], tx["offline"]) == (0, 4, True)


async def test_E12_offline_events_out_of_order_never_move_state_backwards(csms: RunningCsms) -> None:
    version = "2.0.1"
    async with await connected(csms, "CS5", version) as station:
        await boot(station, version)
        # The queue is delivered in a scrambled order after a reconnect: Ended first, Started last.
        await station.call(
            tx_event(
                version,
                "Ended",
                3,
                300,
                offline=True,
                info={"stopped_reason": "EVDisconnected", "charging_state": "Idle"},
                meter_value=[energy(4000, 300, "Transaction.End")],
            )
        )
        await station.call(
            tx_event(
                version,
                "Updated",
                2,
                200,
                offline=True,
                info={"charging_state": "Charging"},
                meter_value=[energy(3000, 200)],
            )
        )
        await station.call(
            tx_event(version, "Updated", 1, 100, offline=True, meter_value=[energy(2000, 100)])
        )
        tx = (await only_transaction(csms, "CS5"))["transaction"]
        assert tx["startedEventReceived"] is False
        assert tx["missingSeqNos"] == []
        assert tx["startedAt"] == "2025-03-01T12:01:40Z"  # the earliest event so far
        await station.call(
            tx_event(
                version,
                "Started",
                0,
                0,
                offline=True,
                info={"charging_state": "EVConnected"},
                evse={"id": 2, "connector_id": 1},
                meter_value=[energy(1000, 0, "Transaction.Begin")],
            )
        )
    detail = await only_transaction(csms, "CS5")
    tx = detail["transaction"]
    assert (tx["status"], tx["chargingState"], tx["stopReason"]) == ("ended", "Idle", "EVDisconnected")
    assert (tx["meterStartWh"], tx["meterStopWh"], tx["energyWh"]) == (1000, 4000, 3000)
    assert tx["startedAt"] == "2025-03-01T12:00:00Z"
    assert tx["durationSeconds"] == 300
    assert tx["evseId"] == 2
    assert tx["complete"] is True
    assert [e["seqNo"] for e in detail["events"]] == [0, 1, 2, 3]  # ordered by timestamp


async def test_E01_updated_before_started_creates_the_transaction(csms: RunningCsms) -> None:
    async with await connected(csms, "CS6", "2.1") as station:
        await boot(station, "2.1")
        await station.call(
            tx_event(
                "2.1", "Updated", 5, 60, info={"charging_state": "Charging"}, meter_value=[energy(100, 60)]
            )
        )
        tx = (await only_transaction(csms, "CS6"))["transaction"]
        assert (tx["status"], tx["chargingState"], tx["startedEventReceived"]) == (
            "active",
            "Charging",
            False,
        )
        await station.call(tx_event("2.1", "Started", 4, 0, info={"charging_state": "EVConnected"}))
    tx = (await only_transaction(csms, "CS6"))["transaction"]
    # The Started event is older: it does not override the newer charging state.
    assert (tx["chargingState"], tx["startedEventReceived"], tx["firstSeqNo"]) == ("Charging", True, 4)


# -- tokens ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", V2X)
async def test_E02_FR_04_blocked_token_answered_and_concurrent_tx_only_in_started(
    one_at_a_time: RunningCsms, version: str
) -> None:
    csms = one_at_a_time
    await add_token(csms, "TAG-B", status="Blocked")
    await add_token(csms, "TAG-C")
    blocked = {"id_token": "TAG-B", "type": "ISO14443"}
    token = {"id_token": "TAG-C", "type": "ISO14443"}
    await csms.add_station("CS8")
    async with await connected(csms, "CS7", version) as station, peer(csms.ocpp_url, "CS8", version) as other:
        await boot(station, version)
        await boot(other, version)
        response = await station.call(
            tx_event(
                version,
                "Started",
                0,
                0,
                transaction_id="B",
                id_token=blocked,
                info={"charging_state": "EVConnected"},
            )
        )
        assert response.id_token_info["status"] == "Blocked"
        first = await station.call(
            tx_event(
                version,
                "Started",
                0,
                0,
                transaction_id="C1",
                id_token=token,
                info={"charging_state": "EVConnected"},
            )
        )
        assert first.id_token_info["status"] == "Accepted"
        second = await other.call(
            tx_event(
                version,
                "Started",
                0,
                5,
                transaction_id="C2",
                id_token=token,
                info={"charging_state": "EVConnected"},
            )
        )
        assert second.id_token_info["status"] == "ConcurrentTx"
        # Not in an Updated event: ConcurrentTx is only meaningful in the answer to Started.
        again = await other.call(
            tx_event(version, "Updated", 1, 10, transaction_id="C2", id_token=token, trigger="Authorized")
        )
        assert again.id_token_info["status"] == "Accepted"


async def test_C16_FR_03_master_pass_token_may_not_start(csms: RunningCsms) -> None:
    authorization = csms.app.blocks.require(AuthorizationService)
    authorization.settings = dataclasses.replace(authorization.settings, master_pass_group="MASTER")
    await add_token(csms, "TAG-M", group_id_token="MASTER")
    token = {"id_token": "TAG-M", "type": "ISO14443"}
    async with await connected(csms, "CS9", "2.0.1") as station:
        await boot(station, "2.0.1")
        response = await station.call(
            tx_event("2.0.1", "Started", 0, 0, id_token=token, info={"charging_state": "EVConnected"})
        )
        assert response.id_token_info["status"] == "Invalid"
        # Presented to stop (C16.FR.02) it is accepted.
        response = await station.call(
            tx_event(
                "2.0.1",
                "Ended",
                1,
                10,
                id_token=token,
                trigger="StopAuthorized",
                info={"stopped_reason": "MasterPass"},
            )
        )
        assert response.id_token_info["status"] == "Accepted"
        # Bad input gets a CALLERROR: a transaction takes place on an EVSE > 0; evseId is never negative.
        with pytest.raises(PropertyConstraintViolationError):
            await station.call(
                tx_event("2.0.1", "Started", 0, 0, transaction_id="X", evse={"id": 0}),
                suppress=False,
            )
        with pytest.raises(PropertyConstraintViolationError):
            await station.call(
                MODULES["2.0.1"].call.MeterValues(evse_id=-1, meter_value=[energy(1, 0)]), suppress=False
            )


# -- 1.6 ------------------------------------------------------------------------------------------------


async def test_16_start_meter_values_stop_with_transaction_data(csms: RunningCsms) -> None:
    await add_token(csms, "TAG16", group_id_token="PARENT")
    call = MODULES["1.6"].call
    async with await connected(csms, "CS16", "1.6") as station:
        await boot(station, "1.6")
        start = call.StartTransaction(connector_id=1, id_tag="TAG16", meter_start=2000, timestamp=at(0))
        started = await station.call(start)
        assert started.id_tag_info["status"] == "Accepted"
        assert started.id_tag_info["parent_id_tag"] == "PARENT"
        key = started.transaction_id
        assert (await station.call(start)).transaction_id == key  # a repeated start gets the same id
        await station.call(
            call.MeterValues(
                connector_id=1,
                transaction_id=key,
                meter_value=[
                    {
                        "timestamp": at(60),
                        "sampled_value": [
                            {"value": "2.5", "unit": "kWh"},
                            {"value": "11", "measurand": "Power.Active.Import", "unit": "kW"},
                        ],
                    }
                ],
            )
        )
        # Connector 0 and no transaction: stored on the station only.
        await station.call(
            call.MeterValues(
                connector_id=0, meter_value=[{"timestamp": at(61), "sampled_value": [{"value": "99"}]}]
            )
        )
        stopped = await station.call(
            call.StopTransaction(
                transaction_id=key,
                meter_stop=5000,
                timestamp=at(120),
                id_tag="TAG16",
                transaction_data=[
                    {"timestamp": at(120), "sampled_value": [{"value": "5000", "context": "Transaction.End"}]}
                ],
            )
        )
        assert stopped.id_tag_info["status"] == "Accepted"
        await station.call(call.StopTransaction(transaction_id=key, meter_stop=5000, timestamp=at(120)))
    detail = (await csms.api.get(f"/api/v1/transactions/{key}", headers=csms.auth)).json()
    tx = detail["transaction"]
    assert (tx["transactionId"], tx["ocppVersion"], tx["status"], tx["connectorId"]) == (
        str(key),
        "1.6",
        "ended",
        1,
    )
    assert (tx["meterStartWh"], tx["meterStopWh"], tx["energyWh"]) == (2000, 5000, 3000)
    assert (tx["stopReason"], tx["idToken"], tx["durationSeconds"]) == ("Local", "TAG16", 120)
    assert [e["eventType"] for e in detail["events"]] == ["Started", "Ended"]
    assert len(detail["meterValues"]) == 3
    station_values = (await csms.api.get("/api/v1/stations/CS16/meter-values", headers=csms.auth)).json()[
        "items"
    ]
    assert len(station_values) == 4
    loose = [v for v in station_values if v["transaction"] is None]
    assert loose[0]["connectorId"] == 0
    assert loose[0]["value"] == 99


async def test_16_concurrent_tx_and_unknown_transaction_in_stop(one_at_a_time: RunningCsms) -> None:
    csms = one_at_a_time
    await add_token(csms, "TAG-X")
    call = MODULES["1.6"].call
    async with await connected(csms, "CS17", "1.6") as station:
        await boot(station, "1.6")
        first = await station.call(
            call.StartTransaction(connector_id=1, id_tag="TAG-X", meter_start=0, timestamp=at(0))
        )
        assert first.id_tag_info["status"] == "Accepted"
        second = await station.call(
            call.StartTransaction(connector_id=2, id_tag="TAG-X", meter_start=0, timestamp=at(5))
        )
        assert second.id_tag_info["status"] == "ConcurrentTx"
        unknown = await station.call(
            call.StopTransaction(transaction_id=987654, meter_stop=300, timestamp=at(50), reason="Remote")
        )
        assert unknown.id_tag_info is None
    page = (await csms.api.get("/api/v1/transactions?station=CS17&status=ended", headers=csms.auth)).json()
    assert page["total"] == 1
    orphan = page["items"][0]
    assert (orphan["transactionId"], orphan["stopReason"], orphan["meterStopWh"]) == ("987654", "Remote", 300)
    assert orphan["startedEventReceived"] is False


# -- HTTP API -------------------------------------------------------------------------------------------


async def test_transactions_api_filters_paging_and_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    async with await connected(csms, "CS20", "2.0.1") as station:
        await boot(station, "2.0.1")
        for n in range(3):
            await station.call(
                tx_event(
                    "2.0.1",
                    "Started",
                    0,
                    n * 100,
                    transaction_id=f"T{n}",
                    info={"charging_state": "Charging"},
                    meter_value=[energy(10 * n, n * 100)],
                )
            )
        await station.call(tx_event("2.0.1", "Ended", 1, 150, transaction_id="T1"))
    page = (await api.get("/api/v1/transactions?station=CS20&limit=2", headers=auth)).json()
    assert page["total"] == 3
    assert [t["transactionId"] for t in page["items"]] == ["T2", "T1"]
    page = (await api.get("/api/v1/transactions?station=CS20&offset=2", headers=auth)).json()
    assert [t["transactionId"] for t in page["items"]] == ["T0"]
    active = (await api.get("/api/v1/transactions?status=active", headers=auth)).json()
    assert sorted(t["transactionId"] for t in active["items"]) == ["T0", "T2"]
    window = (
        await api.get("/api/v1/transactions", params={"from": at(50), "to": at(250)}, headers=auth)
    ).json()
    assert [t["transactionId"] for t in window["items"]] == ["T2", "T1"]
    assert (await api.get("/api/v1/transactions?idToken=nobody", headers=auth)).json()["total"] == 0
    values = (
        await api.get(
            "/api/v1/stations/CS20/meter-values",
            params={"from": at(100), "measurand": "Energy.Active.Import.Register"},
            headers=auth,
        )
    ).json()["items"]
    assert [v["value"] for v in values] == [10, 20]
    assert (await api.get("/api/v1/transactions/999999", headers=auth)).status_code == 404
    assert (await api.get("/api/v1/transactions?status=open", headers=auth)).status_code == 400
    assert (await api.get("/api/v1/transactions?limit=0", headers=auth)).status_code == 400
    bad_range = await api.get("/api/v1/transactions", params={"from": at(100), "to": at(0)}, headers=auth)
    assert bad_range.status_code == 400
    assert (await api.get("/api/v1/transactions")).status_code == 401


# -- unit tests of the pure parts -----------------------------------------------------------------------


def test_E01_FR_07_track_seq_ranges() -> None:
    state = track_seq(None, None, [], 5)
    assert state == (5, 5, [])
    state = track_seq(*state, 9)
    assert state == (5, 9, [[6, 8]])
    state = track_seq(*state, 7)
    assert state == (5, 9, [[6, 6], [8, 8]])
    state = track_seq(*state, 2)
    assert state == (2, 9, [[3, 4], [6, 6], [8, 8]])
    state = track_seq(*state, 6)
    state = track_seq(*state, 8)
    assert state == (2, 9, [[3, 4]])
    assert track_seq(*state, 9) == state  # an already-known seqNo changes nothing


def test_J02_register_wh_applies_unit_multiplier_and_ignores_phases() -> None:
    base = Sample(timestamp=T0, measurand="Energy.Active.Import.Register", value=1.5)
    assert register_wh(base) == 1.5
    assert register_wh(dataclasses.replace(base, unit="kWh")) == 1500
    assert register_wh(dataclasses.replace(base, multiplier=3)) == 1500
    assert register_wh(dataclasses.replace(base, phase="L1")) is None
    assert register_wh(dataclasses.replace(base, location="EV")) is None
    assert register_wh(dataclasses.replace(base, measurand="Power.Active.Import")) is None


def _record(**values: Any) -> TransactionRecord:
    defaults: dict[str, Any] = {f.name: None for f in dataclasses.fields(TransactionRecord)}
    defaults |= {
        "id": 1,
        "station_id": "S",
        "transaction_id": "T",
        "ocpp_version": "2.0.1",
        "status": "active",
        "started_seen": False,
        "started_at": T0,
        "seq_gaps": [],
        "offline": False,
        "event_count": 0,
        "created_at": T0,
        "updated_at": T0,
    }
    return TransactionRecord(**(defaults | values))


def test_merge_event_keeps_ended_state_and_latest_reading() -> None:
    ended = _record(
        status="ended",
        ended_at=T0 + timedelta(hours=1),
        charging_state="Idle",
        charging_state_at=T0 + timedelta(hours=1),
        meter_start_wh=0.0,
        meter_start_at=T0,
        last_register_wh=900.0,
        last_register_at=T0 + timedelta(hours=1),
        first_seq_no=0,
        last_seq_no=3,
        event_count=3,
    )
    late = EventFacts(
        transaction_id="T",
        event_type="Updated",
        timestamp=T0 + timedelta(minutes=30),
        seq_no=2,
        offline=True,
        charging_state="Charging",
        samples=[
            Sample(timestamp=T0 + timedelta(minutes=30), measurand="Energy.Active.Import.Register", value=400)
        ],
    )
    changes = merge_event(ended, late, None)
    assert "status" not in changes
    assert "charging_state" not in changes
    assert "last_register_wh" not in changes
    assert changes["energy_wh"] == 900.0
    assert changes["offline"] is True
