"""2.1 transaction limits in the CSMS (E16, F07): set through the API, answered once in a
TransactionEventResponse, the station's confirmed limit stored; TxResumed reopens what a boot closed (B13/E17)."""

from __future__ import annotations

from typing import Any

from ocpp.routing import on
from ocpp.v21 import ChargePoint as ChargePoint21
from ocpp.v21 import call_result as result21

from chargeplane.csms.blocks.transactions.fold import EventFacts, merge_event
from tests.csms.blocks.transactions.test_transactions import (
    T0,
    _record,
    connected,
    only_transaction,
    tx_event,
)
from tests.csms.conftest import RunningCsms
from tests.csms.peers import boot, peer


class LimitedStation(ChargePoint21):  # type: ignore[misc]
    """Reports TxCtrlr.SupportedLimits when asked (E16.FR.12); ``supported`` None: no such variable."""

    supported: str | None = "maxEnergy,maxTime,maxCost"

    @on("GetVariables")  # type: ignore[misc]
    def get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        self.asked = getattr(self, "asked", 0) + 1
        item = get_variable_data[0]
        if self.supported is None:
            answer = {"attribute_status": "UnknownVariable"}
        else:
            answer = {"attribute_status": "Accepted", "attribute_value": self.supported}
        return result21.GetVariables(
            get_variable_result=[{"component": item["component"], "variable": item["variable"]} | answer]
        )


async def limited(csms: RunningCsms, station_id: str) -> Any:
    await csms.add_station(station_id)
    return peer(csms.ocpp_url, station_id, "2.1", station_class=LimitedStation)


async def post(csms: RunningCsms, path: str, body: dict[str, Any]) -> Any:
    return await csms.api.post(f"/api/v1{path}", json=body, headers=csms.auth)


async def test_E16_FR_02_api_limit_answered_once_and_the_confirmation_stored(csms: RunningCsms) -> None:
    async with await limited(csms, "LIM1") as station:
        await boot(station, "2.1")
        await station.call(tx_event("2.1", "Started", 0, 0, info={"charging_state": "Charging"}))
        key = (await only_transaction(csms, "LIM1"))["transaction"]["id"]
        assert (await post(csms, f"/transactions/{key}/limit", {})).status_code == 400
        assert (await post(csms, f"/transactions/{key}/limit", {"maxSoC": 101})).status_code == 400
        assert (await post(csms, "/transactions/999999/limit", {"maxEnergy": 1})).status_code == 404
        answer = await post(csms, f"/transactions/{key}/limit", {"maxEnergy": 5000, "maxTime": 3600})
        assert answer.status_code == 202, answer.text
        first = await station.call(tx_event("2.1", "Updated", 1, 10))
        assert first.transaction_limit == {"max_energy": 5000, "max_time": 3600}
        confirm = {"transaction_limit": {"max_energy": 5000, "max_time": 3600}}
        second = await station.call(tx_event("2.1", "Updated", 2, 11, trigger="LimitSet", info=confirm))
        assert second.transaction_limit is None  # once (E16.FR.02)
        detail = (await only_transaction(csms, "LIM1"))["transaction"]
        assert detail["transactionLimit"] == {"maxEnergy": 5000, "maxTime": 3600}
        assert detail["limitRequest"] is None
        await station.call(tx_event("2.1", "Ended", 3, 20, info={"stopped_reason": "Local"}))
        ended = await post(csms, f"/transactions/{key}/limit", {"maxEnergy": 1})
        assert ended.status_code == 409


async def test_F07_FR_02_remote_start_limit_answered_to_the_event_with_its_remote_start_id(
    csms: RunningCsms,
) -> None:
    async with await limited(csms, "LIM2") as station:
        await boot(station, "2.1")
        kept = await post(csms, "/stations/LIM2/remote-starts/42/limit", {"maxCost": 12.5})
        assert kept.status_code == 202, kept.text
        assert kept.json() == {"transaction": None, "limit": {"maxCost": 12.5}}
        other = await station.call(tx_event("2.1", "Started", 0, 0, transaction_id="OTHER"))
        assert other.transaction_limit is None  # not this remote start's transaction
        info = {"remote_start_id": 42, "charging_state": "EVConnected"}
        started = await station.call(tx_event("2.1", "Started", 0, 1, transaction_id="RS42", info=info))
        assert started.transaction_limit == {"max_cost": 12.5}
        again = await post(csms, "/stations/LIM2/remote-starts/42/limit", {"maxCost": 20})
        assert again.json()["transaction"] is not None  # on the running transaction now
        later = await station.call(tx_event("2.1", "Updated", 1, 2, transaction_id="RS42"))
        assert later.transaction_limit == {"max_cost": 20}


async def test_E16_FR_12_only_limits_in_supported_limits_are_sent(csms: RunningCsms) -> None:
    async with await limited(csms, "LIM4") as station:
        await boot(station, "2.1")
        await station.call(tx_event("2.1", "Started", 0, 0, info={"charging_state": "Charging"}))
        key = (await only_transaction(csms, "LIM4"))["transaction"]["id"]
        refused = await post(csms, f"/transactions/{key}/limit", {"maxEnergy": 10, "maxSoC": 80})
        assert refused.status_code == 409
        assert "maxSoC" in refused.text
        assert "SupportedLimits" in refused.text
        assert station.asked == 1
        taken = await post(csms, f"/transactions/{key}/limit", {"maxEnergy": 10})
        assert taken.status_code == 202, taken.text
        assert station.asked == 1  # the inventory kept the answer
        remote = await post(csms, "/stations/LIM4/remote-starts/9/limit", {"maxSoC": 90})
        assert remote.status_code == 409
        first = await station.call(tx_event("2.1", "Updated", 1, 10))
        assert first.transaction_limit == {"max_energy": 10}
    async with await limited(csms, "LIM5") as station:
        station.supported = None
        await boot(station, "2.1")
        await station.call(tx_event("2.1", "Started", 0, 0))
        key = (await only_transaction(csms, "LIM5"))["transaction"]["id"]
        unknown = await post(csms, f"/transactions/{key}/limit", {"maxEnergy": 10})
        assert unknown.status_code == 409
        assert "unknown" in unknown.text


async def test_limits_are_21_only(csms: RunningCsms) -> None:
    async with await connected(csms, "LIM3", "2.0.1") as station:
        await boot(station, "2.0.1")
        await station.call(tx_event("2.0.1", "Started", 0, 0))
        key = (await only_transaction(csms, "LIM3"))["transaction"]["id"]
        assert (await post(csms, f"/transactions/{key}/limit", {"maxEnergy": 1})).status_code == 409


def test_E16_merge_keeps_earlier_limits_and_B13_TxResumed_reopens_a_closed_transaction() -> None:
    record = _record(transaction_limit={"maxEnergy": 100.0})
    facts = EventFacts("T", "Updated", T0, 1, trigger_reason="LimitSet", transaction_limit={"maxTime": 60})
    assert merge_event(record, facts, None)["transaction_limit"] == {"maxEnergy": 100.0, "maxTime": 60}
    closed = _record(status="ended", closed_reason="StationRebooted", ended_at=T0)
    before = EventFacts(
        "T", "Updated", T0.replace(second=0, minute=0, hour=11), 5, trigger_reason="TxResumed"
    )
    assert merge_event(closed, before, None)["status"] == "active"  # stamped before the boot that closed it
    plain = EventFacts("T", "Updated", before.timestamp, 5, trigger_reason="MeterValuePeriodic")
    assert "status" not in merge_event(closed, plain, None)
