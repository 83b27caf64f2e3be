"""Rollout campaigns against ``ocpp`` package stations, driven pass by pass with a manual clock: batches,
the next batch once the previous one finished (Installed and booted with the new version, or failed),
the automatic abort past the failure threshold, maintenance windows, pause / resume, offline stations that
wait until their timeout, a restart that carries on; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from chargeplane.csms.blocks.firmware.campaigns import CampaignService, Window, in_window
from chargeplane.csms.bus.events import StationEvent
from chargeplane.csms.clock import ManualClock
from tests.csms.blocks.firmware.conftest import Fleet, api, eventually, running, upload_image
from tests.csms.conftest import RunningCsms

START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)


async def _tick(csms: RunningCsms, clock: ManualClock) -> dict[str, Any]:
    await csms.app.blocks.require(CampaignService).tick(clock.now())
    page = await api(csms, "GET", "/firmware/campaigns")
    campaign: dict[str, Any] = await api(csms, "GET", f"/firmware/campaigns/{page['items'][0]['id']}")
    return campaign


def _states(campaign: dict[str, Any]) -> dict[str, str]:
    return {s["stationId"]: s["state"] for s in campaign["stations"]}


async def _flows_done(fleet: Fleet, station_ids: list[str]) -> None:
    """Wait until each station went through its update (and the reboot into the new firmware)."""

    async def done() -> bool:
        return all(fleet.stations[s].done.is_set() for s in station_ids)

    await eventually(done, within=30)


async def test_a_campaign_in_batches_aborts_when_failures_pass_the_threshold(
    database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    events: list[StationEvent] = []
    async with running(database_url, tmp_path, clock) as csms:
        image = await upload_image(csms, version="2.0")
        ids = [f"CP{n}" for n in range(10)]
        failing = {"CP3": "InstallationFailed", "CP4": "InstallVerificationFailed"}
        for station_id in ids:
            await csms.add_station(station_id)
        async with csms.app.events.subscribe() as queue, Fleet(csms.ocpp_url, "2.0.1", "2.0") as fleet:
            for station_id in ids:
                await fleet.connect(station_id, "1.0", failing.get(station_id))
            body = {
                "name": "2.0 rollout",
                "firmwareId": image["id"],
                "stationIds": ids,
                "batchSize": 3,
                "failureThreshold": 30,
                "minFinished": 3,
                "maintenanceWindows": [{"start": "02:00", "end": "04:00"}],
            }
            created = await api(csms, "POST", "/firmware/campaigns", 201, json=body)
            assert created["state"] == "running"
            assert created["counts"]["pending"] == 10
            # 01:00 is outside the maintenance window: no batch starts.
            campaign = await _tick(csms, clock)
            assert campaign["batchesStarted"] == 0
            assert set(_states(campaign).values()) == {"pending"}
            clock.set(datetime(2026, 12, 7, 2, 30, tzinfo=UTC))
            campaign = await _tick(csms, clock)
            assert campaign["batchesStarted"] == 1
            first = ["CP0", "CP1", "CP2"]
            assert [s for s, state in _states(campaign).items() if state == "updating"] == first
            await _flows_done(fleet, first)
            # Each one reported Installed and booted with 2.0: the next batch starts in the same pass.
            campaign = await _tick(csms, clock)
            states = _states(campaign)
            assert [states[s] for s in first] == ["installed"] * 3
            assert {s["firmwareStatus"] for s in campaign["stations"][:3]} == {"Installed"}
            second = ["CP3", "CP4", "CP5"]
            assert [states[s] for s in second] == ["updating"] * 3
            await _flows_done(fleet, second)
            campaign = await _tick(csms, clock)
            # 2 of 6 finished failed (33 %) passed 30 %: aborted; the rest is skipped.
            assert campaign["state"] == "aborted"
            assert "threshold" in campaign["reason"]
            states = _states(campaign)
            assert states["CP3"] == states["CP4"] == "failed"
            assert states["CP5"] == "installed"
            assert [states[f"CP{n}"] for n in range(6, 10)] == ["skipped"] * 4
            assert campaign["counts"] == {
                "pending": 0,
                "waiting": 0,
                "updating": 0,
                "installed": 4,
                "failed": 2,
                "skipped": 4,
            }
            detail = {s["stationId"]: s["detail"] for s in campaign["stations"]}
            assert "InstallationFailed" in detail["CP3"]
            assert "InstallVerificationFailed" in detail["CP4"]
            assert not fleet.stations["CP6"].requests  # never sent
            while not queue.empty():
                events.append(queue.get_nowait())
        station = await api(csms, "GET", "/stations/CP0/firmware")
        assert station["firmwareVersion"] == "2.0"
        assert station["updates"][0]["campaignId"] == campaign["id"]
        await api(csms, "PATCH", f"/firmware/campaigns/{campaign['id']}", 409, json={"state": "running"})
        # An image an active campaign uses cannot go; this one ended.
        await api(csms, "DELETE", f"/firmware/{image['id']}", 204)
    kinds = [e.kind for e in events]
    assert kinds.count("firmware.campaign.batch_started") == 2
    assert "firmware.campaign.aborted" in kinds
    assert (
        sum(1 for e in events if e.kind == "firmware.campaign.station" and e.data["state"] == "installed")
        == 4
    )


async def test_pause_resume_an_offline_station_and_a_restart(database_url: str, tmp_path: Path) -> None:
    clock = ManualClock(START)
    async with running(database_url, tmp_path, clock) as csms:
        image = await upload_image(csms, version="2.0")
        ids = ["PR0", "PR1", "PR2"]
        for station_id in ids:
            await csms.add_station(station_id)
        async with Fleet(csms.ocpp_url, "2.1", "2.0") as fleet:
            for station_id in ids[:2]:  # PR2 stays offline
                await fleet.connect(station_id, "1.0")
            body = {
                "name": "percent",
                "firmwareId": image["id"],
                "stationIds": ids,
                "batchPercent": 50,  # 2 of 3 (rounded up)
                "stationTimeout": 600,
                "failureThreshold": 100,
            }
            created = await api(csms, "POST", "/firmware/campaigns", 201, json=body)
            campaign_id = created["id"]
            paused = await api(csms, "PATCH", f"/firmware/campaigns/{campaign_id}", json={"state": "paused"})
            assert paused["state"] == "paused"
            await api(csms, "PATCH", f"/firmware/campaigns/{campaign_id}", 409, json={"state": "paused"})
            campaign = await _tick(csms, clock)
            assert campaign["batchesStarted"] == 0  # paused: no batch
            await api(csms, "PATCH", f"/firmware/campaigns/{campaign_id}", json={"state": "running"})
            campaign = await _tick(csms, clock)
            assert _states(campaign) == {"PR0": "updating", "PR1": "updating", "PR2": "pending"}
            await _flows_done(fleet, ["PR0", "PR1"])
            campaign = await _tick(csms, clock)
            assert _states(campaign) == {"PR0": "installed", "PR1": "installed", "PR2": "waiting"}
    # The CSMS restarts; the campaign carries on from the database. PR2 is still offline: it waits, and
    # fails once its timeout passed; the campaign is then complete.
    async with running(database_url, tmp_path, clock, token=csms.token) as csms:
        clock.advance(300)
        campaign = await _tick(csms, clock)
        assert _states(campaign)["PR2"] == "waiting"
        clock.advance(301)
        campaign = await _tick(csms, clock)
        assert _states(campaign)["PR2"] == "failed"
        assert campaign["stations"][2]["detail"] == "timeout: offline"
        campaign = await _tick(csms, clock)
        assert campaign["state"] == "completed"
        assert campaign["finishedAt"] is not None


async def test_an_offline_station_gets_its_update_when_it_comes_back(
    database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    async with running(database_url, tmp_path, clock) as csms:
        image = await upload_image(csms, version="2.0")
        await csms.add_station("OF0")
        async with Fleet(csms.ocpp_url, "2.0.1", "2.0") as fleet:
            body = {"name": "late", "firmwareId": image["id"], "stationIds": ["OF0"], "batchSize": 5}
            await api(csms, "POST", "/firmware/campaigns", 201, json=body)
            campaign = await _tick(csms, clock)
            assert _states(campaign) == {"OF0": "waiting"}
            await fleet.connect("OF0", "1.0")
            campaign = await _tick(csms, clock)
            assert _states(campaign) == {"OF0": "updating"}
            await _flows_done(fleet, ["OF0"])
            await asyncio.sleep(0)
            campaign = await _tick(csms, clock)
            assert _states(campaign) == {"OF0": "installed"}
            campaign = await _tick(csms, clock)
            assert campaign["state"] == "completed"


async def test_a_campaign_refuses_bad_requests(csms: RunningCsms) -> None:
    image = await upload_image(csms)
    await csms.add_station("BR0")
    base = {"name": "x", "firmwareId": image["id"], "stationIds": ["BR0"]}
    await api(csms, "POST", "/firmware/campaigns", 400, json=base)  # neither batchSize nor batchPercent
    both = base | {"batchSize": 1, "batchPercent": 10}
    await api(csms, "POST", "/firmware/campaigns", 400, json=both)
    await api(
        csms, "POST", "/firmware/campaigns", 400, json=base | {"batchSize": 1, "stationIds": ["BR0", "br0"]}
    )
    await api(csms, "POST", "/firmware/campaigns", 404, json=base | {"batchSize": 1, "stationIds": ["NOPE"]})
    await api(csms, "POST", "/firmware/campaigns", 404, json=base | {"batchSize": 1, "firmwareId": 999})
    empty = {"start": "01:00", "end": "01:00"}
    await api(
        csms, "POST", "/firmware/campaigns", 400, json=base | {"batchSize": 1, "maintenanceWindows": [empty]}
    )
    window = {"start": "25:00", "end": "01:00"}
    await api(
        csms, "POST", "/firmware/campaigns", 400, json=base | {"batchSize": 1, "maintenanceWindows": [window]}
    )
    # a group instead of a list: exactly one of them; an unknown group 404, an empty one 400
    await api(csms, "POST", "/firmware/campaigns", 400, json=base | {"batchSize": 1, "group": "G"})
    by_group = {"name": "g", "firmwareId": image["id"], "batchSize": 1}
    await api(csms, "POST", "/firmware/campaigns", 400, json=by_group)
    await api(csms, "POST", "/firmware/campaigns", 404, json=by_group | {"group": "NOPE"})
    await api(csms, "POST", "/groups", 201, json={"name": "G"})
    await api(csms, "POST", "/firmware/campaigns", 400, json=by_group | {"group": "G"})
    await api(csms, "PUT", "/groups/G/members/BR0", 200)
    grouped = await api(csms, "POST", "/firmware/campaigns", 201, json=by_group | {"group": "G"})
    assert [s["stationId"] for s in grouped["stations"]] == ["BR0"]
    await api(csms, "PATCH", f"/firmware/campaigns/{grouped['id']}", json={"state": "aborted"})
    created = await api(csms, "POST", "/firmware/campaigns", 201, json=base | {"batchSize": 1})
    await api(csms, "DELETE", f"/firmware/{image['id']}", 409)  # an active campaign rolls it out
    aborted = await api(csms, "PATCH", f"/firmware/campaigns/{created['id']}", json={"state": "aborted"})
    assert aborted["state"] == "aborted"
    assert aborted["counts"]["skipped"] == 1
    await api(csms, "PATCH", f"/firmware/campaigns/{created['id']}", 409, json={"state": "aborted"})
    await api(csms, "GET", "/firmware/campaigns/999", 404)


def test_maintenance_windows_are_daily_utc_ranges_and_may_run_past_midnight() -> None:
    night = Window(time(22, 0), time(2, 0))
    day = Window(time(9, 30), time(11, 0))

    def at(hour: int, minute: int = 0) -> datetime:
        return datetime(2026, 12, 7, hour, minute, tzinfo=UTC)

    assert night.contains(at(23))
    assert night.contains(at(1, 59))
    assert not night.contains(at(2))
    assert not night.contains(at(12))
    assert day.contains(at(9, 30))
    assert not day.contains(at(11))
    assert in_window([night, day], at(10))
    assert not in_window([night, day], at(15))
    assert in_window([], at(15))  # no window: any time


async def test_a_campaign_over_1_6_stations_with_SignedUpdateFirmware_completes(
    database_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    async with running(database_url, tmp_path, clock) as csms:
        image = await upload_image(csms, version="2.0")
        ids = ["V16A", "V16B", "V16C"]
        for station_id in ids:
            await csms.add_station(station_id)
        async with Fleet(csms.ocpp_url, "1.6", "2.0") as fleet:
            for station_id in ids:
                await fleet.connect(station_id, "1.0")
            body = {
                "name": "1.6",
                "firmwareId": image["id"],
                "stationIds": ids,
                "batchSize": 3,
                "v16Signed": True,
            }
            await api(csms, "POST", "/firmware/campaigns", 201, json=body)
            campaign = await _tick(csms, clock)
            assert set(_states(campaign).values()) == {"updating"}
            await _flows_done(fleet, ids)
            campaign = await _tick(csms, clock)
            assert set(_states(campaign).values()) == {"installed"}
            campaign = await _tick(csms, clock)
            assert campaign["state"] == "completed"
            assert fleet.stations["V16A"].requests == []  # the rebooted connection got nothing more
        updates = (await api(csms, "GET", "/stations/V16A/firmware"))["updates"]
        assert updates[0]["method"] == "SignedUpdateFirmware"
        assert updates[0]["state"] == "installed"
