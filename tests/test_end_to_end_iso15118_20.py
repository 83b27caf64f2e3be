"""Round trip between OUR 2.1 station runtime and OUR CSMS (in-process, loopback, SQLite), through the HTTP API:
an ISO 15118-20 EV in scheduled control mode (K18) and in dynamic control mode (K19) states its needs, the CSMS
answers with a TxProfile built from its composite, and the EV's schedule comes back; new needs in the middle of
the session, from the EV or given at the station, bring a new profile (K20)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import msgspec

from chargeplane.station.core.model import EvChargingNeeds
from chargeplane.station.hardware import SimulatedEv
from chargeplane.station.runtime import StationRuntime
from tests.test_end_to_end_limits import CARD, run
from tests.test_end_to_end_tariff import until

STATION = "E2E17"


async def iso15118_20_transaction(
    api: httpx.AsyncClient, station: StationRuntime, needs: EvChargingNeeds, needs_after_s: float = 0.0
) -> str:
    """An ISO 15118-20 EV plugged in (stating ``needs`` ``needs_after_s`` after) and authorized; its
    transaction id once the CSMS has it."""
    station.plug(1, 1, SimulatedEv(needs=needs, needs_after_s=needs_after_s))
    station.present_token(CARD)

    async def known() -> str | None:
        items: list[dict[str, Any]] = (await api.get(f"/transactions?station={STATION}")).json()["items"]
        return str(items[0]["transactionId"]) if items else None

    found: str = await until(known, "the transaction in the CSMS")
    return found


async def ev_charging(api: httpx.AsyncClient, transaction_id: str) -> dict[str, Any] | None:
    answer = await api.get(f"/stations/{STATION}/ev-charging/{transaction_id}")
    return answer.json() if answer.status_code == 200 else None


async def schedules(
    api: httpx.AsyncClient, count: int, transaction_id: str, longest: int | None = None
) -> dict[str, Any] | None:
    """The EV charging view once ``count`` NotifyEVChargingSchedule of the transaction arrived (the latest
    lasting at most ``longest`` seconds, when given)."""
    view = await ev_charging(api, transaction_id)
    if view is None or view["scheduleCount"] < count:
        return None
    duration = view["schedule"]["data"]["chargingSchedule"].get("duration")
    return view if longest is None or (duration is not None and duration <= longest) else None


async def tx_profiles(api: httpx.AsyncClient, transaction_id: str) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = (await api.get(f"/stations/{STATION}/charging-profiles")).json()
    return [p for p in stored if p["transactionId"] == transaction_id]


async def stored_within(api: httpx.AsyncClient, transaction_id: str, longest: int) -> dict[str, Any] | None:
    """The transaction's one stored TxProfile once its schedule lasts at most ``longest`` seconds (the store
    follows the station's SetChargingProfile answer, which may come after the EV's schedule)."""
    found = await tx_profiles(api, transaction_id)
    if len(found) == 1 and found[0]["chargingProfile"]["chargingSchedule"][0]["duration"] <= longest:
        return found[0]
    return None


PRICES: dict[str, Any] = {
    "timeAnchor": "2026-01-01T00:00:00Z",
    "priceScheduleID": 5,
    "currency": "EUR",
    "language": "en",
    "priceAlgorithm": "urn:iso:std:iso:15118:-20:PriceAlgorithm:1-Power",
    "priceRuleStacks": [
        {
            "duration": 3600,
            "priceRule": [
                {"energyFee": {"exponent": -2, "value": 25}, "powerRangeStart": {"exponent": 0, "value": 0}}
            ],
        }
    ],
}


def profile_for(transaction_id: str, watts: float) -> dict[str, Any]:
    return {
        "evseId": 1,
        "chargingProfile": {
            "id": 181,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "transactionId": transaction_id,
            "chargingSchedule": [
                {
                    "id": 1,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": watts}],
                }
            ],
        },
    }


async def test_K18_scheduled_control_needs_profile_and_the_EVs_chosen_schedule(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        needs = EvChargingNeeds(20_000.0, departure_s=3600, control_mode="ScheduledControl")
        transaction_id = await iso15118_20_transaction(api, station, needs, needs_after_s=2.0)
        # K18.FR.17: a TxProfile right after the transaction started, before the EV's needs: out of sequence
        early = profile_for(transaction_id, 4000.0)
        answer = (await api.post(f"/stations/{STATION}/charging-profiles", json=early)).json()
        assert (answer["status"], answer["reasonCode"]) == ("Rejected", "InvalidMessageSeq")
        view = await until(lambda: schedules(api, 1, transaction_id), "the EV's schedule (K18.FR.10)")
        sent_needs = view["needs"]
        assert sent_needs["answer"] == "Accepted"  # K18.FR.03
        charging_needs = sent_needs["data"]["chargingNeeds"]
        assert charging_needs["controlMode"] == "ScheduledControl"  # K18.FR.01
        assert "v2xChargingParameters" in charging_needs  # K18.FR.06: instead of AC / DC parameters
        assert "acChargingParameters" not in charging_needs
        [profile] = await until(
            lambda: tx_profiles(api, transaction_id), "the TxProfile stored"
        )  # K18.FR.07: a TxProfile for the transaction
        assert profile["purpose"] == "TxProfile"
        assert len(profile["chargingProfile"]["chargingSchedule"]) <= 3
        offered = {s["id"] for s in profile["chargingProfile"]["chargingSchedule"]}
        schedule = view["schedule"]
        assert schedule["answer"] == "Accepted"  # K18.FR.11: within the CSMS's schedule
        data = schedule["data"]
        # K18.FR.10: the EV's profile, naming the schedule it selected from those offered
        assert data["selectedChargingScheduleId"] in offered
        assert data["chargingSchedule"]["id"] == data["selectedChargingScheduleId"]
        await until(lambda: station.hardware.evses[1].power_w > 0, "the EV charging on its schedule")

    await run(tmp_path, scenario)


async def test_K19_dynamic_control_the_csms_schedule_comes_back_and_the_EV_follows_the_limit(
    tmp_path: Path,
) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        # an EV that could take far more than the CSMS's profile gives: its own profile is disregarded
        needs = EvChargingNeeds(30_000.0, max_current_a=32.0, departure_s=1800, control_mode="DynamicControl")
        transaction_id = await iso15118_20_transaction(api, station, needs)
        view = await until(lambda: schedules(api, 1, transaction_id), "the schedule sent back (K19.FR.10)")
        assert view["needs"]["answer"] == "Accepted"  # K19.FR.03
        assert view["needs"]["data"]["chargingNeeds"]["controlMode"] == "DynamicControl"  # K19.FR.01
        [profile] = await until(lambda: tx_profiles(api, transaction_id), "the TxProfile stored")
        [csms_schedule] = profile["chargingProfile"]["chargingSchedule"]  # K19.FR.07: one chargingSchedule
        data = view["schedule"]["data"]
        # K19.FR.10: the CSMS's schedule, with its id, not the EV's fastest profile
        assert data["selectedChargingScheduleId"] == csms_schedule["id"]
        assert data["chargingSchedule"]["id"] == csms_schedule["id"]
        first_limit = csms_schedule["chargingSchedulePeriod"][0]["limit"]
        assert data["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == first_limit
        assert view["schedule"]["answer"] == "Accepted"
        # K16 with K19.FR.09: the operator's new TxProfile carries a price schedule, which the EV gets
        priced = profile_for(transaction_id, 4000.0)
        priced["chargingProfile"] |= {"id": profile["id"], "stackLevel": profile["stackLevel"]}
        priced["chargingProfile"]["chargingSchedule"][0]["absolutePriceSchedule"] = PRICES
        answer = (await api.post(f"/stations/{STATION}/charging-profiles", json=priced)).json()
        assert answer["status"] == "Accepted", answer
        await until(lambda: station.hardware.evses[1].limit_w == 4000.0, "the EV held to the new limit")
        ev = station.hardware.evses[1].ev
        assert ev is not None
        [(schedule_id, prices)] = ev.prices.items()
        assert schedule_id == 1
        assert msgspec.to_builtins(prices) == PRICES

    await run(tmp_path, scenario)


async def test_K20_new_energy_needs_mid_session_bring_a_new_profile(tmp_path: Path) -> None:
    async def scenario(api: httpx.AsyncClient, station: StationRuntime) -> None:
        first = EvChargingNeeds(30_000.0, departure_s=4 * 3600, control_mode="DynamicControl")
        transaction_id = await iso15118_20_transaction(api, station, first)
        await until(lambda: schedules(api, 1, transaction_id), "the first schedule")
        [before] = await until(lambda: tx_profiles(api, transaction_id), "the TxProfile stored")
        # K20 scenario 2: the EV gives a new target energy and an earlier departure in the charge loop
        station.ev_charging_needs(
            1, EvChargingNeeds(8_000.0, departure_s=1200, control_mode="DynamicControl")
        )
        view = await until(
            lambda: schedules(api, 2, transaction_id, 1200), "the schedule after the new needs (K20.FR.04)"
        )
        assert view["needsCount"] == 2  # K20.FR.01: NotifyEVChargingNeeds again
        needs = view["needs"]["data"]["chargingNeeds"]
        assert needs["v2xChargingParameters"]["evTargetEnergyRequest"] == 8_000
        assert view["energyAmount"] == 8_000.0  # the view reads the ISO 15118-20 parameters too
        assert view["departureTime"] == needs["departureTime"]
        # K20.FR.03: the CSMS computed a new profile (up to the new departure) and sent it
        after = await until(lambda: stored_within(api, transaction_id, 1200), "the new TxProfile stored")
        assert after["id"] == before["id"]  # replaced (K01.FR.05), not stacked
        duration_before = before["chargingProfile"]["chargingSchedule"][0]["duration"]
        assert after["chargingProfile"]["chargingSchedule"][0]["duration"] < duration_before
        # K20 scenario 3: the driver gives the station an earlier departure; the station states it
        assert station.change_departure(1, 600) is True
        view = await until(
            lambda: schedules(api, 3, transaction_id, 600), "the schedule after the new departure"
        )
        assert view["needsCount"] == 3
        assert view["departureTime"] < needs["departureTime"]
        await until(lambda: stored_within(api, transaction_id, 600), "the TxProfile up to the new departure")

    await run(tmp_path, scenario)
