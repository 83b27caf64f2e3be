"""Webhooks: each event once per webhook, signed, retried with back-off, dead letters after N failures,
deliveries that survive a restart; against a loopback HTTP endpoint."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import msgspec
import pytest

from chargeplane.csms.app import Csms
from chargeplane.csms.blocks.webhooks.repository import PENDING
from chargeplane.csms.blocks.webhooks.service import WebhookService, matches, sign
from chargeplane.csms.blocks.webhooks.settings import WebhooksSettings
from chargeplane.csms.bus.events import StationEvent
from tests.csms.blocks.remote_control.test_remote_control import eventually
from tests.csms.conftest import RunningCsms, running, settings_for

SECRET = "s3cret-s3cret-s3cret"
FAST = WebhooksSettings(deliver_interval=0.05, backoff_base=0.05, backoff_max=0.2, max_attempts=3)


@dataclass
class Endpoint:
    """A loopback HTTP endpoint that answers 500 to the first ``fail`` requests, then 200."""

    fail: int = 0
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    accepted: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")[1:]
            headers = {
                k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append((headers, body))
            status = "500 Internal Server Error" if len(self.requests) <= self.fail else "200 OK"
            if status == "200 OK":
                self.accepted.append((headers, body))
            writer.write(f"HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
            await writer.drain()
        finally:
            writer.close()


@asynccontextmanager
async def endpoint(fail: int = 0) -> AsyncIterator[Endpoint]:
    target = Endpoint(fail)
    server = await asyncio.start_server(target._serve, "127.0.0.1", 0)
    target.port = server.sockets[0].getsockname()[1]
    try:
        yield target
    finally:
        server.close()
        await server.wait_closed()


def _signed_correctly(headers: dict[str, str], body: bytes) -> bool:
    timestamp = headers["x-chargeplane-timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(headers["x-chargeplane-signature"], f"sha256={expected}")


async def _register(csms: RunningCsms, url: str, events: list[str]) -> int:
    response = await csms.api.post(
        "/api/v1/webhooks", json={"url": url, "events": events, "secret": SECRET}, headers=csms.auth
    )
    assert response.status_code == 201, response.text
    assert response.json()["secret"] == SECRET
    return int(response.json()["id"])


def test_the_filters_the_signature_and_the_backoff() -> None:
    assert matches(["*"], "status")
    assert matches(["transaction.*"], "transaction.ended")
    assert not matches(["transaction.*"], "transactions")
    assert matches(["boot", "status"], "status")
    assert not matches(["boot"], "status")
    assert sign("k", "1", b"{}") == "sha256=" + hmac.new(b"k", b"1.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1", b"{}") != sign("k", "2", b"{}")  # the timestamp is signed too
    service = WebhookService(None, None, None, FAST)  # type: ignore[arg-type]
    assert [service.backoff(n) for n in (1, 2, 3, 4)] == [0.05, 0.1, 0.2, 0.2]  # doubled, capped


async def test_an_endpoint_that_fails_twice_gets_each_event_exactly_once_signed(database_url: str) -> None:
    async with endpoint(fail=2) as target, running(settings_for(database_url, FAST)) as csms:
        await _register(csms, target.url, ["status"])
        csms.app.events.publish(StationEvent("connected", "CS1"))  # not in the filter
        event = StationEvent("status", "CS1", {"connectorId": 1, "status": "Available"})
        csms.app.events.publish(event)
        csms.app.events.publish(event)  # the same event seen twice (as from two nodes): one delivery
        await eventually(lambda: len(target.accepted) == 1, within=5)
        await asyncio.sleep(0.3)  # several more passes: nothing more comes
        assert len(target.requests) == 3  # two failures, then the one that was taken
        assert len(target.accepted) == 1
        headers, body = target.accepted[0]
        assert _signed_correctly(headers, body)
        assert headers["x-chargeplane-event"] == "status"
        assert msgspec.json.decode(body) == {
            "kind": "status",
            "station_id": "CS1",
            "at": event.at,
            "data": {"connectorId": 1, "status": "Available"},
        }
        # Every attempt is the same delivery (a receiver may drop a repeat by its id).
        assert {h["x-chargeplane-delivery"] for h, _ in target.requests} == {
            headers["x-chargeplane-delivery"]
        }
        dead = await csms.api.get("/api/v1/webhooks/dead-letters", headers=csms.auth)
        assert dead.json()["total"] == 0


async def test_a_delivery_failing_n_times_is_a_dead_letter_and_can_be_retried(database_url: str) -> None:
    async with endpoint(fail=1000) as target, running(settings_for(database_url, FAST)) as csms:
        webhook_id = await _register(csms, target.url, ["*"])
        csms.app.events.publish(StationEvent("boot", "CS9", {"reason": "PowerUp"}))

        async def dead_letters() -> list[dict[str, object]]:
            response = await csms.api.get("/api/v1/webhooks/dead-letters", headers=csms.auth)
            assert response.status_code == 200
            items: list[dict[str, object]] = response.json()["items"]
            return items

        for _ in range(200):
            if await dead_letters():
                break
            await asyncio.sleep(0.05)
        [letter] = await dead_letters()
        assert (letter["webhookId"], letter["kind"], letter["attempts"]) == (webhook_id, "boot", 3)
        assert letter["lastError"] == "HTTP 500"
        assert len(target.requests) == 3  # max_attempts, then no more
        await asyncio.sleep(0.3)
        assert len(target.requests) == 3

        target.fail = 0
        response = await csms.api.post(
            "/api/v1/webhooks/dead-letters/retry", json={"ids": [letter["id"], 999999]}, headers=csms.auth
        )
        assert response.status_code == 200
        assert response.json() == {"retried": [letter["id"]], "notFound": [999999]}
        await eventually(lambda: len(target.accepted) == 1, within=5)
        assert await dead_letters() == []
        empty = await csms.api.post(
            "/api/v1/webhooks/dead-letters/retry", json={"ids": []}, headers=csms.auth
        )
        assert empty.status_code == 400


async def test_pending_deliveries_survive_a_restart(database_url: str) -> None:
    never = WebhooksSettings(deliver_interval=3600)
    async with endpoint() as target:
        async with running(settings_for(database_url, never)) as csms:
            await _register(csms, target.url, ["status"])
            csms.app.events.publish(StationEvent("status", "CS2", {"status": "Faulted"}))
            repository = csms.app.blocks.require(WebhookService).repository
            for _ in range(250):
                _, total = await repository.deliveries(PENDING, 10, 0)
                if total:
                    break
                await asyncio.sleep(0.02)
            assert total == 1
        assert target.requests == []
        again = Csms(settings_for(database_url, FAST))  # the same database, a new process
        await again.start()
        try:
            await eventually(lambda: len(target.accepted) == 1, within=5)
        finally:
            await again.stop(deadline=1.0)
        assert _signed_correctly(*target.accepted[0])


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.org/x", "events": ["*"]},
        {"url": "http://127.0.0.1/x", "events": []},
        {"url": "http://127.0.0.1/x", "events": ["BAD kind"]},
        {"url": "http://127.0.0.1/x", "events": ["*"], "secret": "short"},
    ],
)
async def test_a_bad_registration_is_refused_with_400(csms: RunningCsms, body: dict[str, object]) -> None:
    response = await csms.api.post("/api/v1/webhooks", json=body, headers=csms.auth)
    assert response.status_code == 400, response.text


async def test_webhooks_are_listed_without_secret_and_removed(csms: RunningCsms) -> None:
    webhook_id = await _register(csms, "http://127.0.0.1:9/hook", ["transaction.*"])
    listed = (await csms.api.get("/api/v1/webhooks", headers=csms.auth)).json()
    assert [(w["id"], w["events"], w.get("secret")) for w in listed] == [
        (webhook_id, ["transaction.*"], None)
    ]
    assert (await csms.api.delete(f"/api/v1/webhooks/{webhook_id}", headers=csms.auth)).status_code == 204
    assert (await csms.api.delete(f"/api/v1/webhooks/{webhook_id}", headers=csms.auth)).status_code == 404
    assert (await csms.api.get("/api/v1/webhooks", headers=csms.auth)).json() == []
