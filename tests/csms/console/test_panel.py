"""The generated command panel over HTTP (no browser): forms from the schemas, server-side validation next to
the fields, the station's real answer, roles and CSRF, the command log's "by whom"."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from ocpp.routing import on

from chargeplane.csms.console.command_panel import (
    csms_actions,
    parse_form,
    refusal_field,
    request_form,
)
from chargeplane.csms.console.users import Role
from chargeplane.ocpp.versions import Version
from tests import migrated_databases
from tests.csms.blocks.remote_control.test_remote_control import STATIONS
from tests.csms.conftest import RunningCsms, running, settings_for
from tests.csms.console.helpers import add_users, sign_in
from tests.csms.peers import MODULES, boot, peer

V201 = MODULES["2.0.1"]


class PanelStation(V201.ChargePoint):  # type: ignore[misc,name-defined]
    """A 2.0.1 peer that answers GetVariables and ChangeAvailability, and records what it got."""

    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []

    @on("GetVariables")
    def get_variables(self, get_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        self.received.append(("GetVariables", {"get_variable_data": get_variable_data}))
        results = [
            {
                "attribute_status": "Accepted",
                "attribute_value": "42",
                "component": item["component"],
                "variable": item["variable"],
            }
            for item in get_variable_data
        ]
        return V201.call_result.GetVariables(get_variable_result=results)

    @on("ChangeAvailability")
    def change_availability(self, operational_status: str, **kwargs: Any) -> Any:
        self.received.append(("ChangeAvailability", {"operational_status": operational_status, **kwargs}))
        return V201.call_result.ChangeAvailability(status="Scheduled")


# -- the form from the schema ----------------------------------------------------------------------------------


def test_actions_are_the_csms_initiated_ones_of_each_version() -> None:
    v16, v201 = csms_actions(Version.V16), csms_actions(Version.V201)
    assert "ChangeConfiguration" in v16
    assert "GetVariables" not in v16
    assert "GetVariables" in v201
    assert "ChangeConfiguration" not in v201
    for station_side in ("BootNotification", "Authorize", "Heartbeat", "StatusNotification"):
        assert station_side not in v16
        assert station_side not in v201
    assert "DataTransfer" in v16
    assert "DataTransfer" in v201
    assert "NotifyPeriodicEventStream" not in csms_actions(Version.V21)  # a SEND, never a CSMS CALL
    assert len(v16) == 26
    assert len(v201) == 40


def test_form_of_get_variables_follows_its_schema() -> None:
    form = request_form(Version.V201, "GetVariables")
    assert form is not None
    assert form.kind == "object"
    (data,) = form.children  # customData is left out
    assert (data.name, data.kind, data.required, data.min_items) == ("getVariableData", "array", True, 1)
    item = data.item
    assert item is not None
    assert item.kind == "object"
    fields = {child.name: child for child in item.children}
    assert fields["attributeType"].kind == "enum"
    assert not fields["attributeType"].required
    assert fields["attributeType"].options == ("Actual", "Target", "MinSet", "MaxSet")
    component = {child.name: child for child in fields["component"].children}
    assert component["name"].required
    assert component["name"].max_length == 50
    assert component["evse"].kind == "object"
    assert not component["evse"].required
    assert {c.name: c.kind for c in component["evse"].children} == {"id": "integer", "connectorId": "integer"}
    assert request_form(Version.V201, "BootNotification") is None  # the station sends it, not the CSMS


def test_form_kinds_dates_booleans_numbers() -> None:
    profile = request_form(Version.V201, "SetChargingProfile")
    assert profile is not None
    charging = {c.name: c for c in profile.children}["chargingProfile"]
    fields = {c.name: c for c in charging.children}
    assert fields["validFrom"].kind == "datetime"
    schedule = fields["chargingSchedule"]
    assert (schedule.kind, schedule.min_items, schedule.max_items) == ("array", 1, 3)
    period = {c.name: c for c in schedule.item.children}["chargingSchedulePeriod"]  # type: ignore[union-attr]
    assert period.item is not None
    assert period.item.depth == 2
    assert {c.name: c.kind for c in period.item.children}["limit"] == "number"
    reset = request_form(Version.V16, "GetDiagnostics")
    assert reset is not None
    assert {c.name: c.kind for c in reset.children}["retries"] == "integer"
    data = request_form(Version.V201, "DataTransfer")
    assert data is not None
    assert {c.name: c.kind for c in data.children}["data"] == "json"
    clear = request_form(Version.V16, "ClearChargingProfile")
    assert clear is not None
    assert {c.name: c.kind for c in clear.children}["stackLevel"] == "integer"


def test_parse_form_builds_wire_json() -> None:
    form = request_form(Version.V201, "GetVariables")
    assert form is not None
    parsed = parse_form(
        form,
        {
            "csrf_token": "x",
            "f.getVariableData.0.component.name": "OCPPCommCtrlr",
            "f.getVariableData.0.component.evse.id": "",  # an optional object left empty: left out
            "f.getVariableData.0.variable.name": "HeartbeatInterval",
            "f.getVariableData.0.attributeType": "",
            "f.getVariableData.3.component.name": "EVSE",  # item 1 and 2 were removed in the page
            "f.getVariableData.3.component.evse.id": "2",
            "f.getVariableData.3.variable.name": "Available",
            "f.getVariableData.3.attributeType": "Actual",
            "f.getVariableData.4.component.name": "",  # an item left empty: left out
        },
    )
    assert parsed.errors == {}
    assert parsed.payload == {
        "getVariableData": [
            {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {
                "attributeType": "Actual",
                "component": {"name": "EVSE", "evse": {"id": 2}},
                "variable": {"name": "Available"},
            },
        ]
    }


def test_parse_form_reports_every_mistake_at_its_field() -> None:
    form = request_form(Version.V201, "GetVariables")
    assert form is not None
    parsed = parse_form(
        form,
        {
            "f.getVariableData.0.component.name": "EVSE",
            "f.getVariableData.0.component.evse.id": "one",
            "f.getVariableData.1.variable.name": "Available",
        },
    )
    assert parsed.errors == {
        "getVariableData.0.component.evse.id": "Not a whole number.",
        "getVariableData.0.variable.name": "Required.",
        "getVariableData.1.component.name": "Required.",
    }
    profile = request_form(Version.V201, "SetChargingProfile")
    assert profile is not None
    parsed = parse_form(
        profile,
        {
            "f.evseId": "1",
            "f.chargingProfile.validFrom": "2026-12-07T10:00",
            "f.chargingProfile.chargingSchedule.0.chargingSchedulePeriod.0.limit": "nan",
        },
    )
    assert (
        parsed.errors["chargingProfile.chargingSchedule.0.chargingSchedulePeriod.0.limit"] == "Not a number."
    )
    assert parsed.errors["chargingProfile.id"] == "Required."
    assert parsed.payload["chargingProfile"]["validFrom"] == "2026-12-07T10:00:00Z"  # datetime-local: UTC


def test_refusal_names_its_field() -> None:
    assert refusal_field("Expected `str` of length <= 50 at $.getVariableData[0].component.name") == (
        "getVariableData.0.component.name",
        "Expected `str` of length <= 50",
    )
    assert refusal_field("the station is offline") == ("", "the station is offline")


# -- over HTTP, against a station ---------------------------------------------------------------------------


@pytest.fixture
async def client(csms: RunningCsms) -> AsyncIterator[httpx.AsyncClient]:
    await add_users(csms.app)
    async with httpx.AsyncClient(base_url=str(csms.api.base_url)) as browser:
        yield browser


def _field_error(html: str, path: str) -> str:
    found = re.search(rf'id="cf-{re.escape(path.replace(".", "-"))}-error">([^<]*)<', html)
    assert found is not None, html
    return found.group(1)


async def test_operator_sends_get_variables_and_sees_the_answer(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.OPERATOR)
    PanelStation.received = []
    async with peer(csms.ocpp_url, "CS1", "2.0.1", station_class=PanelStation) as station:
        await boot(station, "2.0.1")
        page = await client.get("/stations/CS1/panel?action=GetVariables")
        assert page.status_code == 200
        assert 'name="f.getVariableData.0.component.name"' in page.text
        assert "<option>ChangeAvailability</option>" in page.text
        answer = await client.post(
            "/stations/CS1/panel/GetVariables",
            data={
                "csrf_token": csrf,
                "f.getVariableData.0.component.name": "OCPPCommCtrlr",
                "f.getVariableData.0.variable.name": "HeartbeatInterval",
            },
            headers={"X-Fragment": "1"},
        )
        assert answer.status_code == 200, answer.text
        assert "GetVariables: the station answered" in answer.text
        assert "&#34;attributeValue&#34;: &#34;42&#34;" in answer.text  # the station's actual answer
        assert PanelStation.received == [
            (
                "GetVariables",
                {
                    "get_variable_data": [
                        {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
                    ]
                },
            )
        ]
        log = await csms.api.get("/api/v1/commands", params={"station": "CS1"}, headers=csms.auth)
        (entry,) = log.json()["items"]
        assert (entry["action"], entry["outcome"], entry["initiator"]) == (
            "GetVariables",
            "ok",
            "console:operator",
        )
        fragment = await client.get("/fragments/stations/CS1/command-log")
        assert "console:operator" in fragment.text
        assert "GetVariables" in fragment.text


async def test_malformed_fields_are_refused_next_to_them(
    csms: RunningCsms, client: httpx.AsyncClient
) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.OPERATOR)
    async with peer(csms.ocpp_url, "CS1", "2.0.1", station_class=PanelStation) as station:
        await boot(station, "2.0.1")
        PanelStation.received = []
        answer = await client.post(
            "/stations/CS1/panel/ChangeAvailability",
            data={"csrf_token": csrf, "f.operationalStatus": "Inoperative", "f.evse.id": "two"},
            headers={"X-Fragment": "1"},
        )
        assert answer.status_code == 400
        assert _field_error(answer.text, "evse.id") == "Not a whole number."
        assert 'value="two"' in answer.text  # the form keeps what was typed
        # Past the form, the protocol core's schema validation: its path puts the message at the field.
        answer = await client.post(
            "/stations/CS1/panel/GetVariables",
            data={
                "csrf_token": csrf,
                "f.getVariableData.0.component.name": "C" * 51,
                "f.getVariableData.0.variable.name": "V",
            },
        )
        assert answer.status_code == 400
        assert "<!doctype html>" in answer.text  # without X-Fragment: the whole page
        assert "Not sent:" in answer.text  # above the form too
        error = _field_error(answer.text, "getVariableData.0.component.name")
        assert "length &lt;= 50" in error
        assert "PropertyConstraintViolation" in error
        answer = await client.post(
            "/stations/CS1/panel/ChangeAvailability",
            data={"csrf_token": csrf, "f.operationalStatus": "Sideways"},
            headers={"X-Fragment": "1"},
        )
        assert answer.status_code == 400
        assert "PropertyConstraintViolation" in _field_error(answer.text, "operationalStatus")
        assert PanelStation.received == []  # nothing malformed reached the station
        answer = await client.post(
            "/stations/CS1/panel/ChangeAvailability",
            data={"csrf_token": csrf, "f.operationalStatus": "Inoperative", "f.evse.id": "1"},
            headers={"X-Fragment": "1"},
        )
        assert answer.status_code == 200, answer.text
        assert "&#34;status&#34;: &#34;Scheduled&#34;" in answer.text
        assert PanelStation.received == [
            ("ChangeAvailability", {"operational_status": "Inoperative", "evse": {"id": 1}})
        ]


async def test_call_error_and_offline_are_shown(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.OPERATOR)
    offline = await client.post(
        "/stations/CS1/panel/ClearCache", data={"csrf_token": csrf}, headers={"X-Fragment": "1"}
    )
    assert offline.status_code == 409
    assert "offline" in offline.text
    quick = await client.post("/stations/CS1/commands/reset", data={"csrf_token": csrf, "type": "OnIdle"})
    assert quick.status_code == 409  # the quick actions too: every console POST names its user
    log = await csms.api.get("/api/v1/commands", params={"station": "CS1"}, headers=csms.auth)
    assert [entry["initiator"] for entry in log.json()["items"]] == ["console:operator"] * 2
    async with peer(csms.ocpp_url, "CS1", "2.0.1", station_class=STATIONS["2.0.1"]) as station:
        await boot(station, "2.0.1")
        answer = await client.post(
            "/stations/CS1/panel/ClearCache", data={"csrf_token": csrf}, headers={"X-Fragment": "1"}
        )
        assert answer.status_code == 502
        assert "GenericError: cache on fire" in answer.text


async def test_a_station_that_does_not_answer_in_time_is_shown(tmp_path: Path) -> None:
    settings = settings_for(migrated_databases.sqlite_url(tmp_path), ocpp_call_timeout=0.3)
    async with running(settings) as csms, httpx.AsyncClient(base_url=str(csms.api.base_url)) as client:
        await add_users(csms.app)
        await csms.add_station("CS1")
        csrf = await sign_in(client, Role.OPERATOR)
        async with peer(csms.ocpp_url, "CS1", "2.0.1", station_class=STATIONS["2.0.1"]) as station:
            await boot(station, "2.0.1")  # its GetVariables answers after 2 s
            answer = await client.post(
                "/stations/CS1/panel/GetVariables",
                data={
                    "csrf_token": csrf,
                    "f.getVariableData.0.component.name": "OCPPCommCtrlr",
                    "f.getVariableData.0.variable.name": "HeartbeatInterval",
                },
                headers={"X-Fragment": "1"},
            )
            assert answer.status_code == 504
            assert 'id="panel-refusal">GetVariables (504)' in answer.text


async def test_viewers_and_forged_posts_cannot_send(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS1")
    csrf = await sign_in(client, Role.VIEWER)
    page = await client.get("/stations/CS1/panel?action=ClearCache")
    assert page.status_code == 200
    assert "Your role cannot send commands." in page.text
    answer = await client.post("/stations/CS1/panel/ClearCache", data={"csrf_token": csrf})
    assert answer.status_code == 403
    async with httpx.AsyncClient(base_url=str(client.base_url)) as operator:
        operator_csrf = await sign_in(operator, Role.OPERATOR)
        assert (await operator.post("/stations/CS1/panel/ClearCache", data={})).status_code == 403
        forged = {"csrf_token": operator_csrf + "x"}
        assert (await operator.post("/stations/CS1/panel/ClearCache", data=forged)).status_code == 403
        unknown = {"csrf_token": operator_csrf}
        assert (await operator.post("/stations/CS1/panel/Authorize", data=unknown)).status_code == 404
        assert (await operator.post("/stations/NOPE/panel/ClearCache", data=unknown)).status_code == 404
    log = await csms.api.get("/api/v1/commands", headers=csms.auth)
    assert log.json()["total"] == 0  # nothing was sent


async def test_a_16_station_gets_the_16_actions(csms: RunningCsms, client: httpx.AsyncClient) -> None:
    await csms.add_station("CS16")
    await sign_in(client, Role.OPERATOR)
    async with peer(csms.ocpp_url, "CS16", "1.6", station_class=STATIONS["1.6"]) as station:
        await boot(station, "1.6")
        page = await client.get("/stations/CS16/panel?action=ChangeConfiguration")
        assert page.status_code == 200
        assert "OCPP 1.6" in page.text
        assert 'name="f.key"' in page.text
        assert "<option>GetVariables</option>" not in page.text
        assert (await client.get("/fragments/stations/CS16/panel/GetVariables")).status_code == 404


async def test_api_commands_name_their_token(csms: RunningCsms) -> None:
    await csms.add_station("CS1")
    async with peer(csms.ocpp_url, "CS1", "2.0.1", station_class=STATIONS["2.0.1"]) as station:
        await boot(station, "2.0.1")
        sent = await csms.api.post(
            "/api/v1/stations/CS1/commands/Reset", json={"type": "OnIdle"}, headers=csms.auth
        )
        assert sent.status_code == 200, sent.text
    log = await csms.api.get("/api/v1/commands", headers=csms.auth)
    (entry,) = log.json()["items"]
    assert entry["initiator"].startswith("api:")
