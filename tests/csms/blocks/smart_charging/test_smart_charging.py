"""Smart charging on the CSMS side (K01, K08-K11, K15; 1.6 Smart Charging) against peer stations of the
``ocpp`` package: profiles checked before sending, the store kept from the answers, reports assembled per
requestId, reconciliation after a reconnect, composite schedules side by side, limits and EV needs recorded;
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.routing import after, on

from chargeplane.csms.blocks.smart_charging.service import SmartChargingService
from chargeplane.csms.blocks.smart_charging.settings import SmartChargingSettings
from chargeplane.ocpp.timestamps import from_wire, to_wire
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.peers import MODULES, boot, peer

START = "2026-12-07T00:00:00Z"


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


async def _received(station: Any, count: int) -> None:
    """Until the peer station got ``count`` SetChargingProfile requests."""
    async with asyncio.timeout(10):
        while True:
            if len(station.received) >= count:
                return
            await asyncio.sleep(0.05)


async def _tx_profile_stored(csms: RunningCsms, station_id: str, limit: float) -> None:
    """Until the store holds the station's TxProfile with ``limit`` (stored once the station's answer is in,
    after the peer saw the request)."""

    def first_limit(profile: dict[str, Any]) -> float:
        return float(profile["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"])

    async with asyncio.timeout(10):
        while True:
            stored = await _json(csms, "GET", f"/stations/{station_id}/charging-profiles")
            if any(p["purpose"] == "TxProfile" and first_limit(p) == limit for p in stored):
                return
            await asyncio.sleep(0.05)


def profile_2x(
    profile_id: int, limit: float, *, purpose: str = "TxDefaultProfile", level: int = 0
) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stackLevel": level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "startSchedule": START,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
            }
        ],
    }


def station_class(version: str) -> Any:
    module = MODULES[version]

    class SmartStation(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Holds what it is given (by id), reports it in one part per profile, clears by id."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.held: dict[int, tuple[int, dict[str, Any]]] = {}  # id -> (evse, wire profile, camelCase)
            self.received: list[dict[str, Any]] = []
            self.criteria: list[dict[str, Any]] = []

        @on("SetChargingProfile")
        def set_profile(self, **kwargs: Any) -> Any:
            self.received.append(kwargs)
            return module.call_result.SetChargingProfile(status="Accepted")

        @on("ClearChargingProfile")
        def clear_profile(self, charging_profile_id: int | None = None, **_: Any) -> Any:
            known = charging_profile_id in self.held
            self.held.pop(charging_profile_id, None)  # type: ignore[arg-type]
            return module.call_result.ClearChargingProfile(status="Accepted" if known else "Unknown")

        @on("GetChargingProfiles")
        def get_profiles(self, request_id: int, charging_profile: dict[str, Any], **_: Any) -> Any:
            self.criteria.append(charging_profile)
            return module.call_result.GetChargingProfiles(status="Accepted" if self.held else "NoProfiles")

        @after("GetChargingProfiles")
        async def report(self, request_id: int, **_: Any) -> None:
            items = list(self.held.values())
            for n, (evse, profile) in enumerate(items):
                await self.call(
                    module.call.ReportChargingProfiles(
                        request_id=request_id,
                        charging_limit_source="CSO",
                        charging_profile=[profile],
                        evse_id=evse,
                        tbc=n < len(items) - 1,
                    )
                )

        @on("GetCompositeSchedule")
        def composite(self, duration: int, evse_id: int, charging_rate_unit: str = "A", **_: Any) -> Any:
            return module.call_result.GetCompositeSchedule(
                status="Accepted",
                schedule={
                    "evse_id": evse_id,
                    "duration": duration,
                    "schedule_start": "2026-12-07T10:00:00Z",
                    "charging_rate_unit": charging_rate_unit,
                    "charging_schedule_period": [{"start_period": 0, "limit": 16.0, "number_phases": 3}],
                },
            )

    return SmartStation


@pytest.mark.parametrize("version", ["2.0.1", "2.1"])
async def test_K01_K09_K10_a_profile_is_checked_stored_reported_and_cleared(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("SC1")
    async with peer(csms.ocpp_url, "SC1", version, station_class=station_class(version)) as station:
        await boot(station, version)
        # K01.FR.22 / K01.FR.16: what the station would refuse is refused with its reason, never sent.
        bad = await _json(
            csms,
            "POST",
            "/stations/SC1/charging-profiles",
            422,
            json={"evseId": 1, "chargingProfile": profile_2x(5, 10.0, purpose="ChargingStationMaxProfile")},
        )
        assert bad["extra"]["code"] == "InvalidEVSE"
        no_tx = await _json(
            csms,
            "POST",
            "/stations/SC1/charging-profiles",
            422,
            json={
                "evseId": 1,
                "chargingProfile": {**profile_2x(6, 10.0, purpose="TxProfile"), "transactionId": "T1"},
            },
        )
        assert no_tx["extra"]["code"] == "NoTransaction"
        assert station.received == []
        answer = await _json(
            csms,
            "POST",
            "/stations/SC1/charging-profiles",
            json={"evseId": 1, "chargingProfile": profile_2x(7, 12.0)},
        )
        assert answer["status"] == "Accepted"
        assert answer["profile"]["state"] == "installed"
        assert station.received[0]["evse_id"] == 1
        # K01.FR.06: the same stack level, purpose and EVSE with overlapping validity is a duplicate.
        duplicate = await _json(
            csms,
            "POST",
            "/stations/SC1/charging-profiles",
            422,
            json={"evseId": 1, "chargingProfile": profile_2x(8, 6.0)},
        )
        assert duplicate["extra"]["code"] == "DuplicateProfile"
        # K09: the report assembled from two parts.
        station.held = {7: (1, profile_2x(7, 12.0)), 9: (0, profile_2x(9, 20.0, level=1))}
        report = await _json(csms, "POST", "/stations/SC1/charging-profiles/report", json={"wait": 10})
        assert (report["status"], report["parts"]) == ("complete", 2)
        assert sorted(p["chargingProfile"]["id"] for p in report["profiles"]) == [7, 9]
        # K09.FR.03: "all profiles" is asked as every chargingLimitSource.
        assert station.criteria == [{"charging_limit_source": ["EMS", "Other", "SO", "CSO"]}]
        again = await _json(csms, "GET", f"/stations/SC1/charging-profiles/reports/{report['requestId']}")
        assert again["parts"] == 2
        # K08: the station's composite next to the CSMS's (12 A from profile 7): they differ.
        view = await _json(
            csms, "GET", "/stations/SC1/composite-schedule", params={"evseId": 1, "duration": 600}
        )
        assert view["station"]["chargingSchedulePeriod"][0]["limit"] == 16.0
        assert view["csms"]["chargingSchedulePeriod"][0]["limit"] == 12.0
        assert view["drift"] is True
        # K10: cleared by id: the store follows the answer.
        unknown = await _json(csms, "POST", "/stations/SC1/charging-profiles/clear", json={"id": 99})
        assert unknown == {"status": "Unknown", "removed": []}
        cleared = await _json(csms, "POST", "/stations/SC1/charging-profiles/clear", json={"id": 7})
        assert cleared == {"status": "Accepted", "removed": [7]}
        assert await _json(csms, "GET", "/stations/SC1/charging-profiles") == []


async def test_K09_reconciliation_after_a_reconnect_marks_drift_and_stores_foreign_profiles(
    database_url: str,
) -> None:
    settings = settings_for(database_url, SmartChargingSettings(reconcile_on_boot=True))
    async with running(settings) as csms:
        await csms.add_station("SC2")
        kind = station_class("2.0.1")
        async with peer(csms.ocpp_url, "SC2", "2.0.1", station_class=kind) as station:
            await boot(station, "2.0.1")
            for pid, limit in ((11, 10.0), (12, 11.0)):
                body = {"evseId": 0, "chargingProfile": profile_2x(pid, limit, level=pid - 10)}
                await _json(csms, "POST", "/stations/SC2/charging-profiles", json=body)
        async with peer(csms.ocpp_url, "SC2", "2.0.1", station_class=kind) as station:
            # After the reconnect the station holds 11 as set, 12 changed, and 13 that nobody here set.
            station.held = {
                11: (0, profile_2x(11, 10.0, level=1)),
                12: (0, profile_2x(12, 99.0, level=2)),
                13: (1, profile_2x(13, 8.0)),
            }
            await boot(station, "2.0.1")
            service = csms.app.blocks.require(SmartChargingService)
            await service.settle()
            async with asyncio.timeout(10):
                while True:
                    stored = {p["id"]: p for p in await _json(csms, "GET", "/stations/SC2/charging-profiles")}
                    if 13 in stored:
                        break
                    await asyncio.sleep(0.05)
    assert stored[11]["state"] == "installed"
    assert (stored[12]["state"], stored[12]["drift"]) == ("drift", "the station holds it differently")
    assert (stored[13]["state"], stored[13]["evseId"]) == ("reported", 1)


async def test_1_6_set_uses_the_connector_and_has_no_report(csms: RunningCsms) -> None:
    await csms.add_station("SC3")
    module = MODULES["1.6"]

    class Station16(module.ChargePoint):  # type: ignore[misc,name-defined]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.received: list[dict[str, Any]] = []

        @on("SetChargingProfile")
        def set_profile(self, **kwargs: Any) -> Any:
            self.received.append(kwargs)
            return module.call_result.SetChargingProfile(status="Accepted")

    profile = {
        "chargingProfileId": 3,
        "stackLevel": 1,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": START,
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}],
        },
    }
    async with peer(csms.ocpp_url, "SC3", "1.6", station_class=Station16) as station:
        await boot(station, "1.6")
        bad = await _json(
            csms,
            "POST",
            "/stations/SC3/charging-profiles",
            422,
            json={"evseId": 1, "chargingProfile": profile},
        )
        assert bad["extra"]["code"] == "InvalidEVSE"  # ChargePointMaxProfile only on connector 0
        ok = await _json(
            csms, "POST", "/stations/SC3/charging-profiles", json={"evseId": 0, "chargingProfile": profile}
        )
        assert ok["profile"]["purpose"] == "ChargingStationMaxProfile"
        assert station.received[0]["connector_id"] == 0
        # 1.6 replaces a profile of the same stackLevel / purpose / connector (§3.13.1).
        replacement = {**profile, "chargingProfileId": 4}
        await _json(
            csms,
            "POST",
            "/stations/SC3/charging-profiles",
            json={"evseId": 0, "chargingProfile": replacement},
        )
        assert [p["id"] for p in await _json(csms, "GET", "/stations/SC3/charging-profiles")] == [4]
        refused = await _json(csms, "POST", "/stations/SC3/charging-profiles/report", 422, json={})
        assert refused["extra"]["code"] == "NotSupportedByVersion"


async def test_K11_K15_limits_and_ev_needs_are_recorded_and_answered(csms: RunningCsms) -> None:
    await csms.add_station("SC4")
    module = MODULES["2.0.1"]
    async with peer(csms.ocpp_url, "SC4", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(
            module.call.NotifyChargingLimit(charging_limit={"charging_limit_source": "EMS"}, evse_id=1)
        )
        await station.call(module.call.ClearedChargingLimit(charging_limit_source="EMS", evse_id=1))
        # K15.FR.04: no transaction the CSMS knows on EVSE 1: it cannot provide a schedule.
        needs = await station.call(
            module.call.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "ac_charging_parameters": {
                        "energy_amount": 20000,
                        "ev_min_current": 6,
                        "ev_max_current": 32,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        assert needs.status == "Rejected"
        # K15.FR.11/12: within the CSMS's composite (the 32 A fallback, no profile) or not.
        schedule = {
            "id": 1,
            "charging_rate_unit": "A",
            "charging_schedule_period": [
                {"start_period": 0, "limit": 16.0},
                {"start_period": 60, "limit": 40.0},
            ],
        }
        over = await station.call(
            module.call.NotifyEVChargingSchedule(time_base=START, charging_schedule=schedule, evse_id=1)
        )
        assert over.status == "Rejected"
        schedule["charging_schedule_period"] = [{"start_period": 0, "limit": 16.0}]
        within = await station.call(
            module.call.NotifyEVChargingSchedule(time_base=START, charging_schedule=schedule, evse_id=1)
        )
        assert within.status == "Accepted"
    page = await _json(csms, "GET", "/stations/SC4/charging-limits")
    assert [(e["message"], e["answer"]) for e in page["items"]] == [
        ("NotifyEVChargingSchedule", "Accepted"),
        ("NotifyEVChargingSchedule", "Rejected"),
        ("NotifyEVChargingNeeds", "Rejected"),
        ("ClearedChargingLimit", None),
        ("NotifyChargingLimit", None),
    ]
    assert page["items"][-1]["source"] == "EMS"
    only = await _json(
        csms, "GET", "/stations/SC4/charging-limits", params={"message": "NotifyChargingLimit"}
    )
    assert only["total"] == 1


async def test_K15_needs_with_a_transaction_get_a_TxProfile_from_the_csms_composite(
    csms: RunningCsms,
) -> None:
    await csms.add_station("SC5")
    module = MODULES["2.0.1"]
    kind = station_class("2.0.1")
    async with peer(csms.ocpp_url, "SC5", "2.0.1", station_class=kind) as station:
        await boot(station, "2.0.1")
        await _json(
            csms,
            "POST",
            "/stations/SC5/charging-profiles",
            json={"evseId": 0, "chargingProfile": profile_2x(21, 16.0)},
        )
        await station.call(
            module.call.TransactionEvent(
                event_type="Started",
                timestamp="2026-12-07T10:00:00Z",
                trigger_reason="CablePluggedIn",
                seq_no=0,
                transaction_info={"transaction_id": "TX-SC5"},
                evse={"id": 1, "connector_id": 1},
            )
        )
        departure = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
        needs = await station.call(
            module.call.NotifyEVChargingNeeds(
                evse_id=1,
                max_schedule_tuples=4,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "departure_time": to_wire(departure),
                    "ac_charging_parameters": {
                        "energy_amount": 20000,
                        "ev_min_current": 6,
                        "ev_max_current": 32,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        assert needs.status == "Accepted"  # K15.FR.03
        await _received(station, 2)  # K15.FR.07/08: the TxProfile follows
        sent = station.received[1]
        tx_profile = sent["charging_profile"]
        assert sent["evse_id"] == 1
        assert (tx_profile["charging_profile_purpose"], tx_profile["transaction_id"]) == (
            "TxProfile",
            "TX-SC5",
        )
        periods = tx_profile["charging_schedule"][0]["charging_schedule_period"]
        assert periods[0]["limit"] == 16.0  # the TxDefaultProfile's limit: the CSMS's composite
        assert 7000 <= tx_profile["charging_schedule"][0]["duration"] <= 7200  # up to the departure
        await _tx_profile_stored(csms, "SC5", 16.0)
        # the operator raises the default: renewed needs get it, not the earlier TxProfile's 16 A
        await _json(
            csms,
            "POST",
            "/stations/SC5/charging-profiles",
            json={"evseId": 0, "chargingProfile": profile_2x(21, 20.0)},
        )
        # K17: renewed needs of the transaction replace that TxProfile (same id), not a duplicate.
        renewed = await station.call(
            module.call.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "ac_charging_parameters": {
                        "energy_amount": 10000,
                        "ev_min_current": 6,
                        "ev_max_current": 16,
                        "ev_max_voltage": 400,
                    },
                },
            )
        )
        assert renewed.status == "Accepted"
        await _received(station, 4)
        # Sent at all: a second TxProfile of the transaction at that stack level would have been refused
        # before sending (K01.FR.39).
        renewed_profile = station.received[3]["charging_profile"]
        assert renewed_profile["id"] == tx_profile["id"]
        assert renewed_profile["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 20.0
        await _tx_profile_stored(csms, "SC5", 20.0)
        # K15.FR.11/12: 20 A fits the TxProfile; 25 A from the second minute does not.
        schedule: dict[str, Any] = {
            "id": 1,
            "charging_rate_unit": "A",
            "duration": 600,
            "charging_schedule_period": [{"start_period": 0, "limit": 20.0}],
        }
        now = renewed_profile["charging_schedule"][0]["start_schedule"]
        ok = await station.call(
            module.call.NotifyEVChargingSchedule(time_base=now, charging_schedule=schedule, evse_id=1)
        )
        assert ok.status == "Accepted"
        schedule["charging_schedule_period"] = [
            {"start_period": 0, "limit": 10.0},
            {"start_period": 60, "limit": 25.0},
        ]
        over = await station.call(
            module.call.NotifyEVChargingSchedule(time_base=now, charging_schedule=schedule, evse_id=1)
        )
        assert over.status == "Rejected"
        await _received(station, 5)  # K15.FR.13: a new TxProfile (K16) follows the rejected schedule
        assert station.received[4]["charging_profile"]["transaction_id"] == "TX-SC5"
    limits = await _json(
        csms, "GET", "/stations/SC5/charging-limits", params={"message": "NotifyEVChargingNeeds"}
    )
    assert (limits["items"][0]["answer"], limits["items"][0]["transactionId"]) == ("Accepted", "TX-SC5")
    ev = await _json(csms, "GET", "/stations/SC5/ev-charging/TX-SC5")
    assert (ev["needsCount"], ev["scheduleCount"], ev["energyAmount"]) == (2, 2, 10000.0)
    assert ev["departureTime"] is None  # the renewed needs gave none
    assert ev["schedule"]["answer"] == "Rejected"
    first = await _json(
        csms, "GET", "/stations/SC5/charging-limits", params={"message": "NotifyEVChargingNeeds"}
    )
    assert from_wire(first["items"][1]["data"]["chargingNeeds"]["departureTime"]) == departure
    await _json(csms, "GET", "/stations/SC5/ev-charging/TX-NONE", status=404)


async def test_K09_a_profile_missing_after_a_reconnect_is_resent(database_url: str) -> None:
    settings = settings_for(database_url, SmartChargingSettings(resend_on_drift=True))
    async with running(settings) as csms:
        await csms.add_station("SC6")
        kind = station_class("2.0.1")
        async with peer(csms.ocpp_url, "SC6", "2.0.1", station_class=kind) as station:
            await boot(station, "2.0.1")
            body = {"evseId": 0, "chargingProfile": profile_2x(31, 10.0, purpose="ChargingStationMaxProfile")}
            await _json(csms, "POST", "/stations/SC6/charging-profiles", json=body)
        async with peer(csms.ocpp_url, "SC6", "2.0.1", station_class=kind) as station:
            station.held = {32: (0, profile_2x(32, 8.0, level=3))}  # 31 was lost (a reset)
            await boot(station, "2.0.1")
            await _received(station, 1)
            assert station.received[0]["charging_profile"]["id"] == 31
            async with asyncio.timeout(10):
                while True:
                    stored = {p["id"]: p for p in await _json(csms, "GET", "/stations/SC6/charging-profiles")}
                    if stored.get(31, {}).get("state") == "installed":
                        break
                    await asyncio.sleep(0.05)
    assert stored[32]["state"] == "reported"


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_K05_remote_start_carries_a_TxProfile(csms: RunningCsms, version: str) -> None:
    await csms.add_station("SC7")
    await _json(
        csms, "POST", "/id-tokens", 201, json={"idToken": "TOK7", "type": "ISO14443", "status": "Accepted"}
    )
    module = MODULES[version]
    action = "RemoteStartTransaction" if version == "1.6" else "RequestStartTransaction"
    started: list[dict[str, Any]] = []

    class Starter(module.ChargePoint):  # type: ignore[misc,name-defined]
        @on(action)
        def remote_start(self, **kwargs: Any) -> Any:
            started.append(kwargs)
            return getattr(module.call_result, action)(status="Accepted")

    if version == "1.6":
        tx = {
            "chargingProfileId": 41,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
            },
        }
    else:
        tx = profile_2x(41, 10.0, purpose="TxProfile") | {"chargingProfileKind": "Relative"}
        del tx["chargingSchedule"][0]["startSchedule"]
    async with peer(csms.ocpp_url, "SC7", version, station_class=Starter) as station:
        await boot(station, version)
        body = {"idToken": "TOK7", "evseId": 1, "chargingProfile": tx}
        await _json(csms, "POST", "/stations/SC7/remote-start", json=body)
        # The command's rules: a TxProfile only, without transactionId (K05.FR.02 / F01).
        refused = await _json(
            csms,
            "POST",
            "/stations/SC7/remote-start",
            422,
            json=body | {"chargingProfile": tx | {"chargingProfilePurpose": "TxDefaultProfile"}},
        )
        assert "chargingProfilePurpose" in refused["detail"]
    assert len(started) == 1
    assert started[0]["charging_profile"]["charging_profile_purpose"] == "TxProfile"


async def test_1_6_composite_side_by_side_and_clear_by_purpose_with_events(csms: RunningCsms) -> None:
    await csms.add_station("SC8")
    module = MODULES["1.6"]
    cleared: list[dict[str, Any]] = []

    class Station16(module.ChargePoint):  # type: ignore[misc,name-defined]
        @on("SetChargingProfile")
        def set_profile(self, **_: Any) -> Any:
            return module.call_result.SetChargingProfile(status="Accepted")

        @on("GetCompositeSchedule")
        def composite(self, connector_id: int, duration: int, **_: Any) -> Any:
            return module.call_result.GetCompositeSchedule(
                status="Accepted",
                connector_id=connector_id,
                schedule_start="2026-12-07T10:00:00Z",
                charging_schedule={
                    "duration": duration,
                    "charging_rate_unit": "A",
                    "charging_schedule_period": [{"start_period": 0, "limit": 10.0}],
                },
            )

        @on("ClearChargingProfile")
        def clear(self, **kwargs: Any) -> Any:
            cleared.append(kwargs)
            return module.call_result.ClearChargingProfile(status="Accepted")

    profile = {
        "chargingProfileId": 5,
        "stackLevel": 0,
        "chargingProfilePurpose": "ChargePointMaxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": START,
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
        },
    }
    async with csms.app.events.subscribe() as events:
        async with peer(csms.ocpp_url, "SC8", "1.6", station_class=Station16) as station:
            await boot(station, "1.6")
            body = {"evseId": 0, "chargingProfile": profile}
            await _json(csms, "POST", "/stations/SC8/charging-profiles", json=body)
            view = await _json(
                csms, "GET", "/stations/SC8/composite-schedule", params={"evseId": 1, "duration": 300}
            )
            # The station and the store agree: 10 A from the ChargePointMaxProfile.
            assert view["station"]["chargingSchedulePeriod"][0]["limit"] == 10.0
            assert view["csms"]["chargingSchedulePeriod"] == [
                {"startPeriod": 0, "limit": 10.0, "numberPhases": 3}
            ]
            assert view["drift"] is False
            clear = {"chargingProfilePurpose": "ChargingStationMaxProfile"}
            answer = await _json(csms, "POST", "/stations/SC8/charging-profiles/clear", json=clear)
            assert answer == {"status": "Accepted", "removed": [5]}
        kinds = []
        async with asyncio.timeout(5):
            while "charging_profile.cleared" not in kinds:
                event = await events.get()
                if event.station_id == "SC8":
                    kinds.append(event.kind)
    assert cleared == [{"charging_profile_purpose": "ChargePointMaxProfile"}]
    assert "charging_profile.installed" in kinds
