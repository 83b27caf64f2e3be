"""Authorization (C01-C06, C09, C16; 1.6 Authorize) against peer stations, the decision rules, and the
id-token / decision-log API. Integration tests run on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.authorization.repository import TokenRecord, token_digest
from chargeplane.csms.blocks.authorization.service import (
    AuthorizationService,
    TokenDecision,
    decide,
    id_tag_info,
    id_token_info,
    is_master_pass,
)
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.settings import UnknownTokenPolicy
from chargeplane.ocpp.messages import v21, v201
from tests.csms.conftest import RunningCsms, settings_for
from tests.csms.peers import MODULES, boot, peer

VERSIONS = ["1.6", "2.0.1", "2.1"]
NOW = datetime(2026, 1, 1, tzinfo=UTC)


# -- helpers ---------------------------------------------------------------------------------------------


@asynccontextmanager
async def running(database_url: str, *blocks: object, **overrides: Any) -> AsyncIterator[RunningCsms]:
    """A CSMS with non-default settings (the ``csms`` fixture has the defaults)."""
    app = Csms(settings_for(database_url, *blocks, **overrides))
    token = await app.start()
    assert token is not None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.api_port}") as client:
            yield RunningCsms(app, client, token)
    finally:
        await app.stop(deadline=1.0)


async def add_token(csms: RunningCsms, id_token: str, **fields: Any) -> dict[str, Any]:
    response = await csms.api.post(
        "/api/v1/id-tokens", json={"idToken": id_token} | fields, headers=csms.auth
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def authorize(
    station: Any, version: str, id_token: str, token_type: str = "ISO14443"
) -> dict[str, Any]:
    """Authorize from a peer; the id(Tag|Token)Info as a dict with the wire (camelCase) names."""
    module = MODULES[version]
    if version == "1.6":
        response = await station.call(module.call.Authorize(id_tag=id_token))
        return dict(response.id_tag_info)
    response = await station.call(module.call.Authorize(id_token={"id_token": id_token, "type": token_type}))
    return dict(response.id_token_info)


def record(**fields: Any) -> TokenRecord:
    values: dict[str, Any] = {
        "id_token": "T",
        "type": "ISO14443",
        "status": "Accepted",
        "expires_at": None,
        "group_id_token": None,
        "group_id_token_type": None,
        "language1": None,
        "language2": None,
        "personal_message_format": None,
        "personal_message_language": None,
        "personal_message_content": None,
        "charging_priority": None,
        "local_list": True,
        "description": None,
        "created_at": NOW,
        "updated_at": NOW,
    } | fields
    return TokenRecord(**values)


# -- unit tests of the decision rules --------------------------------------------------------------------


def test_expired_accepted_token_is_expired_other_statuses_kept() -> None:
    past, future = NOW - timedelta(seconds=1), NOW + timedelta(days=1)
    assert decide(record(expires_at=past), NOW, None).status == "Expired"
    assert decide(record(expires_at=future), NOW, None).status == "Accepted"
    assert decide(record(status="Blocked", expires_at=past), NOW, None).status == "Blocked"


def test_C16_master_pass_flag_and_group_type_default() -> None:
    decision = decide(record(group_id_token="MASTER"), NOW, "master")
    assert decision.status == "Accepted"
    assert is_master_pass(decision)
    assert decision.group_id_token_type == "Central"
    assert not is_master_pass(decide(record(group_id_token="OTHER"), NOW, "MASTER"))
    assert not is_master_pass(decide(record(), NOW, None))


def test_v16_status_maps_2x_only_values_to_invalid() -> None:
    for status in ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx"):
        assert TokenDecision(status).v16_status() == status
    for status in ("Unknown", "NoCredit", "NotAllowedTypeEVSE", "NotAtThisLocation", "NotAtThisTime"):
        assert TokenDecision(status).v16_status() == "Invalid"


def test_C01_FR_10_id_token_info_for_both_2x_versions_and_1_6() -> None:
    decision = TokenDecision(
        "Accepted",
        group_id_token="G1",
        group_id_token_type="Central",
        cache_expiry=NOW,
        language1="nl",
        language2="en",
        personal_message="x" * 600,
        charging_priority=3,
    )
    info201 = id_token_info(decision, v201.Messages)
    assert isinstance(info201, v201.datatypes.IdTokenInfoType)
    assert info201.group_id_token.type is v201.enums.IdTokenEnumType.CENTRAL
    assert len(info201.personal_message.content) == 512  # 2.0.1 limit; 2.1 allows 1024
    assert info201.personal_message.language == "nl"
    assert info201.cache_expiry_date_time == "2026-01-01T00:00:00Z"
    info21 = id_token_info(decision, v21.Messages)
    assert isinstance(info21, v21.datatypes.IdTokenInfoType)
    assert len(info21.personal_message.content) == 600
    assert (info21.language1, info21.language2, info21.charging_priority) == ("nl", "en", 3)
    tag = id_tag_info(decision)
    assert (tag.status, tag.parent_id_tag, tag.expiry_date) == ("Accepted", "G1", "2026-01-01T00:00:00Z")
    assert id_tag_info(TokenDecision("Accepted", group_id_token="G" * 21)).parent_id_tag is msgspec.UNSET
    odd_group = TokenDecision("Accepted", group_id_token="G2", group_id_token_type="VIN")
    assert id_token_info(odd_group, v201.Messages).group_id_token.type is v201.enums.IdTokenEnumType.CENTRAL
    assert id_token_info(odd_group, v21.Messages).group_id_token.type == "VIN"
    long_group = TokenDecision("Accepted", group_id_token="G" * 40)
    assert id_token_info(long_group, v201.Messages).group_id_token is msgspec.UNSET  # does not fit 2.0.1
    # C01.FR.10: no language2 without language1
    assert id_token_info(TokenDecision("Accepted", language2="en"), v21.Messages).language2 is msgspec.UNSET


def test_C04_FR_04_key_codes_are_stored_as_a_keyed_digest() -> None:
    key, other_key = b"k" * 32, b"o" * 32
    assert token_digest("1234", "KeyCode", key).startswith("hmac:")
    assert token_digest("1234", "KeyCode", key) == token_digest("1234", "KeyCode", key)  # lookups work
    assert token_digest("1234", "KeyCode", key) != token_digest("1234", "KeyCode", other_key)  # salted
    assert token_digest("1235", "KeyCode", key) != token_digest("1234", "KeyCode", key)
    assert token_digest("AB12", "ISO14443", key) == "AB12"


# -- Authorize from peer stations ------------------------------------------------------------------------


async def test_C01_authorize_accepted_unknown_blocked_expired_on_each_version(csms: RunningCsms) -> None:
    await add_token(
        csms,
        "CARD1",
        groupIdToken="FAMILY",
        language1="nl",
        personalMessage={"content": "Hallo"},
        chargingPriority=2,
    )
    await add_token(csms, "CARD2", status="Blocked")
    await add_token(csms, "CARD3", expiresAt="2020-01-01T00:00:00Z")
    for version in VERSIONS:
        station_id = "CS-" + version.replace(".", "")
        await csms.add_station(station_id)
        async with peer(csms.ocpp_url, station_id, version) as station:
            await boot(station, version)
            accepted = await authorize(station, version, "card1")  # id tokens are case-insensitive
            unknown = await authorize(station, version, "NOPE")
            blocked = await authorize(station, version, "CARD2")
            expired = await authorize(station, version, "CARD3")
        assert accepted["status"] == "Accepted", version
        assert blocked["status"] == "Blocked"
        assert expired["status"] == "Expired"
        if version == "1.6":
            assert accepted["parent_id_tag"] == "FAMILY"  # C09 (1.6 parentIdTag)
            assert unknown["status"] == "Invalid"
            assert expired["expiry_date"].startswith("2020-01-01")
        else:
            # C01.FR.06: the group comes with the answer
            assert accepted["group_id_token"] == {"id_token": "FAMILY", "type": "Central"}
            assert accepted["language1"] == "nl"
            assert accepted["personal_message"] == {"format": "UTF8", "language": "nl", "content": "Hallo"}
            assert accepted["charging_priority"] == 2
            assert unknown["status"] == "Unknown"
        log = (
            await csms.api.get(f"/api/v1/authorization-log?stationId={station_id}", headers=csms.auth)
        ).json()
        assert log["total"] == 4
        assert [item["status"] for item in log["items"]][::-1] == [
            "Accepted",
            "Unknown",  # the log keeps the 2.x status (1.6 answered Invalid)
            "Blocked",
            "Expired",
        ]
        assert {item["context"] for item in log["items"]} == {"Authorize"}
    everything = (await csms.api.get("/api/v1/authorization-log?limit=5&offset=10", headers=csms.auth)).json()
    assert (everything["total"], len(everything["items"])) == (12, 2)


async def test_C04_key_code_C02_no_authorization_C06_local_and_gate(csms: RunningCsms) -> None:
    from ocpp.exceptions import OCPPError

    await add_token(csms, "4321", type="KeyCode")
    for version in ("2.0.1", "2.1"):
        station_id = "CS-" + version.replace(".", "")
        await csms.add_station(station_id)
        async with peer(csms.ocpp_url, station_id, version) as station:
            with pytest.raises(OCPPError) as refused:  # B02.FR.09: not booted yet
                await station.call(
                    MODULES[version].call.Authorize(id_token={"id_token": "X", "type": "ISO14443"}),
                    suppress=False,
                )
            assert refused.value.code == "SecurityError"
            await boot(station, version)
            assert (await authorize(station, version, "4321", "KeyCode"))["status"] == "Accepted"  # C04.FR.02
            assert (await authorize(station, version, "9999", "KeyCode"))["status"] == "Invalid"  # C04.FR.01
            # the same value with another type is another token
            assert (await authorize(station, version, "4321", "ISO14443"))["status"] == "Unknown"
            assert (await authorize(station, version, "", "NoAuthorization"))[
                "status"
            ] == "Accepted"  # C02.FR.02
            assert (await authorize(station, version, "ANY", "Local"))["status"] == "Unknown"  # C06.FR.04
    log = (await csms.api.get("/api/v1/authorization-log?idToken=4321", headers=csms.auth)).json()
    assert log["total"] == 4
    assert "4321" not in {
        item["idToken"] for item in log["items"] if item["tokenType"] == "KeyCode"
    }  # C04.FR.04


async def test_C16_master_pass_and_unknown_token_policy_accept(database_url: str) -> None:
    async with running(
        database_url,
        AuthorizationSettings(master_pass_group="MASTERS", unknown_tokens=UnknownTokenPolicy.ACCEPT),
    ) as csms:
        await add_token(csms, "BOSS", groupIdToken="MASTERS")
        service = csms.app.blocks.require(AuthorizationService)
        for version in VERSIONS:
            station_id = "CS-" + version.replace(".", "")
            await csms.add_station(station_id)
            async with peer(csms.ocpp_url, station_id, version) as station:
                await boot(station, version)
                boss = await authorize(station, version, "BOSS")
                fresh = await authorize(station, version, "NEW" + station_id)
            assert boss["status"] == "Accepted"  # C16: Accepted for Authorize, with the group
            group = boss["parent_id_tag"] if version == "1.6" else boss["group_id_token"]["id_token"]
            assert group == "MASTERS"
            assert fresh["status"] == "Accepted"  # unknown-token policy ACCEPT
            stored = await csms.api.get(f"/api/v1/id-tokens/NEW{station_id}", headers=csms.auth)
            assert stored.status_code == 200
            assert stored.json()["type"] == "ISO14443"  # 1.6 idTags are recorded as ISO14443 too
            assert stored.json()["localList"] is False
        guess = await service.authorize("CS-201", "0000", "KeyCode", context="Authorize")
        assert guess.status == "Invalid"  # C04.FR.01: the ACCEPT policy never learns a PIN
        assert (await csms.api.get("/api/v1/id-tokens/0000", headers=csms.auth)).status_code == 404
        decision = await service.authorize("CS-16", "BOSS", "ISO14443", context="TransactionEvent")
        assert service.is_master_pass(decision)  # C16.FR.03: the transactions block refuses to start
        assert is_master_pass(decision)
        assert not is_master_pass(
            await service.authorize("CS-16", "NEWCS-16", None, context="StartTransaction")
        )


# -- the id-token API ------------------------------------------------------------------------------------


async def test_id_token_api_crud_import_and_errors(csms: RunningCsms) -> None:
    api, auth = csms.api, csms.auth
    assert (await api.get("/api/v1/id-tokens")).status_code == 401
    assert (await api.get("/api/v1/authorization-log")).status_code == 401
    assert (await api.get("/api/v1/id-tokens/NOPE", headers=auth)).status_code == 404
    created = await add_token(csms, "AA11", groupIdToken="G", description="fleet card")
    assert (created["type"], created["status"], created["localList"]) == ("ISO14443", "Accepted", True)
    duplicate = await api.post("/api/v1/id-tokens", json={"idToken": "aa11"}, headers=auth)
    assert duplicate.status_code == 409
    for bad in (
        {"idToken": ""},
        {"idToken": "X" * 256},
        {"idToken": "B1", "status": "Unknown"},
        {"idToken": "B1", "type": "not a type!"},
        {"idToken": "B1", "language2": "en"},  # C01.FR.10
        {"idToken": "B1", "language1": "en", "language2": "en"},  # C01.FR.11
        {"idToken": "B1", "chargingPriority": 10},
        {"idToken": "B1", "expiresAt": "2030-01-01T00:00:00"},  # no zone
        {"idToken": "B1", "bogus": 1},
    ):
        response = await api.post("/api/v1/id-tokens", json=bad, headers=auth)
        assert response.status_code == 400, (bad, response.text)
    await add_token(csms, "AA11", type="KeyCode")
    assert (await api.get("/api/v1/id-tokens/AA11", headers=auth)).status_code == 400  # ambiguous
    one = await api.get("/api/v1/id-tokens/AA11?type=ISO14443", headers=auth)
    assert one.json()["groupIdToken"] == "G"
    patched = await api.patch(
        "/api/v1/id-tokens/AA11?type=ISO14443",
        json={
            "status": "Blocked",
            "groupIdToken": None,
            "personalMessage": {"content": "Hi", "language": "en"},
        },
        headers=auth,
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["status"], body["groupIdToken"], body["description"]) == ("Blocked", None, "fleet card")
    assert body["personalMessage"] == {"content": "Hi", "format": "UTF8", "language": "en"}
    bad_patch = await api.patch("/api/v1/id-tokens/AA11?type=KeyCode", json={"language2": "en"}, headers=auth)
    assert bad_patch.status_code == 400
    assert (await api.patch("/api/v1/id-tokens/NOPE", json={}, headers=auth)).status_code == 404
    page = (await api.get("/api/v1/id-tokens?status=Blocked", headers=auth)).json()
    assert [item["type"] for item in page["items"]] == ["ISO14443"]
    assert (await api.get("/api/v1/id-tokens?limit=0", headers=auth)).status_code == 400
    assert (await api.delete("/api/v1/id-tokens/AA11?type=KeyCode", headers=auth)).status_code == 204
    assert (await api.delete("/api/v1/id-tokens/AA11?type=KeyCode", headers=auth)).status_code == 404
    assert (await api.get("/api/v1/id-tokens/AA11", headers=auth)).status_code == 200  # not ambiguous now
    assert (await api.delete("/api/v1/id-tokens/AA11", headers=auth)).status_code == 204

    # bulk import: upsert by (token, type), errors by index
    await add_token(csms, "T1", status="Blocked")
    body = [
        {"idToken": "T1", "status": "Accepted", "groupIdToken": "G1"},
        {"idToken": "T2", "groupIdToken": "G1"},
        {"idToken": "T3", "type": "eMAID", "groupIdToken": "G2"},
        {"idToken": "T4", "status": "Nonsense"},
        "not an object",
    ]
    response = await csms.api.post("/api/v1/id-tokens/import", json=body, headers=csms.auth)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["created"], result["updated"]) == (2, 1)
    assert [error["index"] for error in result["errors"]] == [3, 4]
    page = (await csms.api.get("/api/v1/id-tokens?group=G1", headers=csms.auth)).json()
    assert page["total"] == 2
    assert {item["status"] for item in page["items"]} == {"Accepted"}
    paged = (await csms.api.get("/api/v1/id-tokens?offset=1&limit=1", headers=csms.auth)).json()
    assert (paged["total"], len(paged["items"]), paged["items"][0]["idToken"]) == (3, 1, "T2")
    not_a_list = await csms.api.post("/api/v1/id-tokens/import", json={"idToken": "T9"}, headers=csms.auth)
    assert not_a_list.status_code == 400
