"""API tokens (issue "Field readiness" #5): scopes enforced on every route, tokens managed on the database
directly (``chargeplane token``), hashes only, the first token admin."""

from __future__ import annotations

import sqlalchemy as sa

from chargeplane.csms.api.tokens import Scope, TokenStore, api_tokens
from tests.csms.conftest import RunningCsms


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_the_first_token_is_admin_and_only_its_digest_is_stored(csms: RunningCsms) -> None:
    tokens = await csms.app.tokens.all()
    assert [(t.name, t.scope) for t in tokens] == [("initial", Scope.ADMIN)]
    async with csms.app.engine.connect() as connection:
        rows = (await connection.execute(sa.select(api_tokens))).all()
    assert all(csms.token not in str(tuple(row)) for row in rows)


async def test_a_read_token_reads_and_cannot_change_anything(csms: RunningCsms) -> None:
    read = bearer(await csms.app.tokens.create("dashboard", Scope.READ))
    assert (await csms.api.get("/api/v1/stations", headers=read)).status_code == 200
    for method, path in [
        ("POST", "/stations"),
        ("PATCH", "/stations/CS1"),
        ("DELETE", "/stations/CS1"),
        ("POST", "/stations/CS1/reset"),
        ("POST", "/id-tokens"),
        ("DELETE", "/reservations/1"),
    ]:
        response = await csms.api.request(method, f"/api/v1{path}", headers=read, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert "scope" in response.json()["detail"]


async def test_an_operator_token_commands_stations_but_does_not_manage_them(csms: RunningCsms) -> None:
    await csms.add_station("CS1")
    operator = bearer(await csms.app.tokens.create("ops", Scope.OPERATOR))
    reset = await csms.api.post("/api/v1/stations/CS1/reset", headers=operator, json={"type": "Immediate"})
    assert reset.status_code == 409  # through the guard; the station is offline
    create = await csms.api.post("/api/v1/stations", headers=operator, json={"stationId": "CS2"})
    assert create.status_code == 403
    assert (await csms.api.get("/api/v1/stations/CS1", headers=operator)).status_code == 200


async def test_tokens_made_or_revoked_beside_a_running_csms_count(csms: RunningCsms) -> None:
    csms.app.tokens.refresh_seconds = 0.0  # instead of waiting for the next reread
    other = TokenStore(csms.app.engine)  # what `chargeplane token` does, on the same database
    secret = await other.create("late", Scope.READ)
    assert (await csms.api.get("/api/v1/stations", headers=bearer(secret))).status_code == 200
    assert [t.name for t in await other.revoke("late")] == ["late"]
    assert (await csms.api.get("/api/v1/stations", headers=bearer(secret))).status_code == 401


async def test_an_unknown_token_is_401(csms: RunningCsms) -> None:
    response = await csms.api.get("/api/v1/stations", headers=bearer("cp_nope"))
    assert response.status_code == 401
