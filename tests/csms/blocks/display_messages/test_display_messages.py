"""Display messages on the CSMS side (O01-O06) against peer stations of the ``ocpp`` package: set, query
and clear from the API, the reports assembled per requestId into the messages each station holds; 1.6 has
no display messages; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from ocpp.routing import after, on

from tests.csms.conftest import RunningCsms
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["2.0.1", "2.1"]


def station_class(version: str) -> Any:
    module = MODULES[version]

    class Station(module.ChargePoint):  # type: ignore[misc,name-defined]
        """Holds messages like a station does: NormalCycle and InFront only, no HTML; reports 3 a part."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.messages: dict[int, dict[str, Any]] = {}
            self.requests: list[dict[str, Any]] = []

        def _matching(self, id: list[int] | None, priority: str | None, state: str | None) -> list[Any]:
            return [
                m
                for key, m in sorted(self.messages.items())
                if (id is None or key in id)
                and (priority is None or m["priority"] == priority)
                and (state is None or m.get("state") == state)
            ]

        @on("SetDisplayMessage")
        def set_display_message(self, message: dict[str, Any], **_: Any) -> Any:
            self.requests.append(message)
            if message["priority"] == "AlwaysFront":
                return module.call_result.SetDisplayMessage(status="NotSupportedPriority")
            if message["message"]["format"] == "HTML":
                return module.call_result.SetDisplayMessage(status="NotSupportedMessageFormat")
            if message.get("transaction_id") not in (None, "tx-1"):
                return module.call_result.SetDisplayMessage(status="UnknownTransaction")
            self.messages[message["id"]] = message
            return module.call_result.SetDisplayMessage(status="Accepted")

        @on("GetDisplayMessages")
        def get_display_messages(
            self, request_id: int, id: Any = None, priority: Any = None, state: Any = None, **_: Any
        ) -> Any:
            found = self._matching(id, priority, state)
            return module.call_result.GetDisplayMessages(status="Accepted" if found else "Unknown")

        @after("GetDisplayMessages")
        async def report(
            self, request_id: int, id: Any = None, priority: Any = None, state: Any = None, **_: Any
        ) -> None:
            found = self._matching(id, priority, state)
            parts = [found[i : i + 3] for i in range(0, len(found), 3)]
            for index, part in enumerate(parts):
                await self.call(
                    module.call.NotifyDisplayMessages(
                        request_id=request_id, message_info=part, tbc=index < len(parts) - 1
                    )
                )

        @on("ClearDisplayMessage")
        def clear_display_message(self, id: int, **_: Any) -> Any:
            found = self.messages.pop(id, None) is not None
            return module.call_result.ClearDisplayMessage(status="Accepted" if found else "Unknown")

    return Station


async def _json(csms: RunningCsms, method: str, url: str, status: int = 200, **kwargs: Any) -> Any:
    response = await csms.api.request(method, f"/api/v1{url}", headers=csms.auth, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


def _message(text: str, **fields: Any) -> dict[str, Any]:
    return {"priority": "NormalCycle", "message": {"format": "UTF8", "content": text}} | fields


async def _complete(csms: RunningCsms, station_id: str, row_id: int) -> dict[str, Any]:
    async with asyncio.timeout(15):
        while True:
            record: dict[str, Any] = await _json(
                csms, "GET", f"/stations/{station_id}/display-messages/requests/{row_id}"
            )
            if record["complete"]:
                return record
            await asyncio.sleep(0.05)


async def _held(csms: RunningCsms, station_id: str) -> list[tuple[int, str, str]]:
    page = await _json(csms, "GET", f"/stations/{station_id}/display-messages")
    return [(m["messageId"], m["status"], m["message"]["message"]["content"]) for m in page["items"]]


@pytest.mark.parametrize("version", VERSIONS)
async def test_TC_O_01_02_04_CSMS_set_query_clear(csms: RunningCsms, version: str) -> None:
    await csms.add_station("DM1")
    async with peer(csms.ocpp_url, "DM1", version, station_class=station_class(version)) as station:
        await boot(station, version)
        first = await _json(csms, "POST", "/stations/DM1/display-messages", json=_message("one"))
        assert (first["status"], first["messageId"], first["action"]) == ("Accepted", 1, "SetDisplayMessage")
        second = await _json(
            csms,
            "POST",
            "/stations/DM1/display-messages",
            json=_message("two", id=7, state="Idle", endDateTime="2030-01-01T00:00:00Z"),
        )
        assert second["status"] == "Accepted"
        assert station.requests[1]["end_date_time"] == "2030-01-01T00:00:00Z"
        for text in ("three", "four"):
            await _json(csms, "POST", "/stations/DM1/display-messages", json=_message(text))
        assert await _held(csms, "DM1") == [
            (1, "Accepted", "one"),
            (7, "Accepted", "two"),
            (8, "Accepted", "three"),
            (9, "Accepted", "four"),
        ]
        station.messages.pop(8)  # the station dropped one (its end time, its transaction ended)
        query = await _json(csms, "POST", "/stations/DM1/display-messages/query", json={})
        assert query["status"] == "Accepted"
        report = await _complete(csms, "DM1", query["id"])
        assert report["parts"] == 1
        assert [m["id"] for m in report["messages"]] == [1, 7, 9]
        assert await _held(csms, "DM1") == [
            (1, "Reported", "one"),
            (7, "Reported", "two"),
            (9, "Reported", "four"),
        ]
        by_state = await _json(csms, "POST", "/stations/DM1/display-messages/query", json={"state": "Idle"})
        assert [m["id"] for m in (await _complete(csms, "DM1", by_state["id"]))["messages"]] == [7]
        cleared = await _json(csms, "DELETE", "/stations/DM1/display-messages/7")
        assert cleared["status"] == "Accepted"
        again = await _json(csms, "DELETE", "/stations/DM1/display-messages/7")
        assert again["status"] == "Unknown"  # TC_O_05_CSMS
        assert [m[0] for m in await _held(csms, "DM1")] == [1, 9]
        unknown = await _json(csms, "POST", "/stations/DM1/display-messages/query", json={"ids": [42]})
        assert (unknown["status"], unknown["complete"]) == ("Unknown", True)
        requests = await _json(csms, "GET", "/stations/DM1/display-messages/requests")
        assert requests["total"] == 9  # 4 sets, 3 queries, 2 clears


@pytest.mark.parametrize("version", VERSIONS)
async def test_O03_FR_03_a_report_in_parts_is_assembled_per_request_id(
    csms: RunningCsms, version: str
) -> None:
    await csms.add_station("DM2")
    async with peer(csms.ocpp_url, "DM2", version, station_class=station_class(version)) as station:
        await boot(station, version)
        for index in range(7):
            await _json(csms, "POST", "/stations/DM2/display-messages", json=_message(f"m{index}"))
        query = await _json(
            csms, "POST", "/stations/DM2/display-messages/query", json={"priority": "NormalCycle"}
        )
        report = await _complete(csms, "DM2", query["id"])
    assert report["parts"] == 3
    assert [m["message"]["content"] for m in report["messages"]] == [f"m{i}" for i in range(7)]


@pytest.mark.parametrize("version", VERSIONS)
async def test_station_refusals_are_recorded_and_not_held(csms: RunningCsms, version: str) -> None:
    await csms.add_station("DM3")
    async with peer(csms.ocpp_url, "DM3", version, station_class=station_class(version)) as station:
        await boot(station, version)
        refused = [
            (_message("front", priority="AlwaysFront"), "NotSupportedPriority"),  # TC_O_17_CSMS
            (
                _message("x") | {"message": {"format": "HTML", "content": "<b>x</b>"}},
                "NotSupportedMessageFormat",
            ),
            (_message("tx", transactionId="tx-9"), "UnknownTransaction"),  # TC_O_10_CSMS
        ]
        for body, status in refused:
            answer = await _json(csms, "POST", "/stations/DM3/display-messages", json=body)
            assert answer["status"] == status
        bound = await _json(
            csms, "POST", "/stations/DM3/display-messages", json=_message("tx", transactionId="tx-1")
        )
        assert bound["status"] == "Accepted"  # TC_O_06_CSMS
        assert [m[0] for m in await _held(csms, "DM3")] == [bound["messageId"]]
        bad = await csms.api.post(
            "/api/v1/stations/DM3/display-messages", json={"priority": "Sometimes"}, headers=csms.auth
        )
        assert bad.status_code == 400


async def test_16_has_no_display_messages(csms: RunningCsms) -> None:
    await csms.add_station("DM4")
    async with peer(csms.ocpp_url, "DM4", "1.6") as station:
        await boot(station, "1.6")
        answer = await _json(csms, "POST", "/stations/DM4/display-messages", 422, json=_message("hi"))
    assert "1.6" in answer["detail"]


async def test_an_unrequested_report_is_kept_as_unsolicited(csms: RunningCsms) -> None:
    await csms.add_station("DM5")
    module = MODULES["2.0.1"]
    async with peer(csms.ocpp_url, "DM5", "2.0.1") as station:
        await boot(station, "2.0.1")
        info = {"id": 3, "priority": "InFront", "message": {"format": "ASCII", "content": "hi"}}
        await station.call(module.call.NotifyDisplayMessages(request_id=77, message_info=[info]))
    requests = await _json(csms, "GET", "/stations/DM5/display-messages/requests")
    [record] = requests["items"]
    assert (record["action"], record["requestId"], record["complete"]) == ("Unsolicited", 77, True)
    assert await _held(csms, "DM5") == [(3, "Reported", "hi")]


async def test_21_message_extra_goes_to_a_21_station_and_2_0_1_refuses_it(csms: RunningCsms) -> None:
    extra = [{"format": "UTF8", "language": "nl", "content": "hallo"}, {"format": "ASCII", "content": "hi"}]
    body = _message("hello", messageExtra=extra)
    await csms.add_station("DM6")
    async with peer(csms.ocpp_url, "DM6", "2.1", station_class=station_class("2.1")) as station:
        await boot(station, "2.1")
        answer = await _json(csms, "POST", "/stations/DM6/display-messages", json=body)
        assert answer["status"] == "Accepted"
        assert [e["content"] for e in station.requests[0]["message_extra"]] == ["hallo", "hi"]
    await csms.add_station("DM7")
    async with peer(csms.ocpp_url, "DM7", "2.0.1", station_class=station_class("2.0.1")) as station:
        await boot(station, "2.0.1")
        refused = await _json(csms, "POST", "/stations/DM7/display-messages", 422, json=body)
        assert station.requests == []
    assert "messageExtra" in refused["detail"]
    requests = await _json(csms, "GET", "/stations/DM7/display-messages/requests")
    assert requests["items"][0]["status"] is not None  # the refusal is recorded


async def test_an_offline_station_is_refused_and_the_attempt_recorded(csms: RunningCsms) -> None:
    await csms.add_station("DM8")
    response = await csms.api.post(
        "/api/v1/stations/DM8/display-messages", json=_message("hi"), headers=csms.auth
    )
    assert response.status_code in (409, 503), response.text
    requests = await _json(csms, "GET", "/stations/DM8/display-messages/requests")
    assert [r["status"] for r in requests["items"]] == ["StationOffline"]
    missing = await csms.api.get("/api/v1/stations/NOPE/display-messages", headers=csms.auth)
    assert missing.status_code == 404
