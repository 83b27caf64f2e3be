"""Webhooks: every station event of the bus goes, once, to each operator-registered URL whose filter matches.

* **Once per webhook.** Each node turns the events of its bus into pending deliveries keyed by (webhook,
  sha256 of the event); with several nodes every node sees every event (the cluster's event stream), and the
  unique key keeps one delivery: the first node's insert wins, the others' are skipped.
* **Persisted.** Deliveries are rows: a restart (or a new leader) continues where the last pass stopped.
* **Delivered by the leader** only: the delivery pass is a cluster-wide periodic job (``context.every``).
* **Signed.** ``X-Chargeplane-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the webhook's
  secret>`` with ``X-Chargeplane-Timestamp`` (Unix seconds), so that a receiver can refuse a replay;
  ``X-Chargeplane-Delivery`` (the delivery id, the same on every retry) lets it drop a duplicate should an
  answer get lost after it took the event.
* **Retried** with exponential back-off (``backoff_base * 2**(attempt-1)``, at most ``backoff_max``) on any
  answer but 2xx, a timeout or a refused connection; after ``max_attempts`` failed attempts the delivery is a
  dead letter (listed by the API, and retried on the operator's request).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
import msgspec

from chargeplane.csms.blocks.webhooks.repository import (
    DEAD,
    Delivery,
    NewDelivery,
    Webhook,
    WebhookRepository,
)
from chargeplane.csms.blocks.webhooks.settings import WebhooksSettings
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Invalid, NotFound
from chargeplane.csms.queues import with_queued

log = logging.getLogger(__name__)
_RECHECK = 1.0  # seconds: how often the collector looks for webhooks registered elsewhere

SIGNATURE = "X-Chargeplane-Signature"
TIMESTAMP = "X-Chargeplane-Timestamp"
DELIVERY = "X-Chargeplane-Delivery"
EVENT = "X-Chargeplane-Event"


class _Body(msgspec.Struct):
    kind: str
    station_id: str
    at: str
    data: dict[str, object]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header's value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def matches(filters: list[str], kind: str) -> bool:
    """``*`` every event; ``transaction.*`` the kinds starting with ``transaction.``; else the kind itself."""
    for pattern in filters:
        if pattern == "*" or pattern == kind:
            return True
        if pattern.endswith(".*") and kind.startswith(pattern[:-1]):
            return True
    return False


def event_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


class WebhookService:
    def __init__(
        self,
        repository: WebhookRepository,
        events: EventBus,
        clock: Clock,
        settings: WebhooksSettings,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.repository = repository
        self.events = events
        self.clock = clock
        self.settings = settings
        self._client = client
        self._registered = asyncio.Event()  # a registration on this node: listen to the bus at once
        self._listening = asyncio.Event()  # the collector is subscribed to the bus
        self._collecting = False

    # -- the operator's registrations --------------------------------------------------------------------

    async def register(self, url: str, events: list[str], secret: str | None) -> Webhook:
        address = urlsplit(url)
        if address.scheme not in ("http", "https") or not address.hostname:
            raise Invalid(f"{url!r} is not an http(s) URL")
        if not events:
            raise Invalid("events: at least one event kind (or '*')")
        webhook = await self.repository.add(
            url, sorted(set(events)), secret or secrets.token_urlsafe(32), self.clock.now()
        )
        self._registered.set()
        if self._collecting:
            # The 201 promises that the next event is delivered: wait (bounded) until the collector listens.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_RECHECK):
                    await self._listening.wait()
        return webhook

    async def webhooks(self) -> list[Webhook]:
        # Read for each batch of events, not cached: a webhook registered or removed on another node counts at once.
        return await self.repository.all()

    async def remove(self, webhook_id: int) -> None:
        if not await self.repository.remove(webhook_id):
            raise NotFound(f"no webhook {webhook_id}")

    async def dead_letters(self, limit: int, offset: int) -> tuple[list[Delivery], int]:
        return await self.repository.deliveries(DEAD, limit, offset)

    async def retry(self, delivery_id: int) -> bool:
        """The dead letter pending again; False when ``delivery_id`` is no dead letter."""
        return await self.repository.retry(delivery_id, self.clock.now())

    # -- events in: pending deliveries --------------------------------------------------------------------

    async def collect(self) -> None:
        """Run until stop: each event of the bus becomes one pending delivery per matching webhook. The bus is
        listened to only while webhooks exist (a subscriber makes the transactions block build and publish
        every event's changes, a cost on the hot path): a registration on this node starts it at once, one on
        another node within :data:`_RECHECK` seconds."""
        self._collecting = True
        try:
            await self._collect()
        finally:
            self._collecting = False
            self._listening.clear()

    async def _collect(self) -> None:
        while True:
            if not await self.webhooks():
                try:
                    async with asyncio.timeout(_RECHECK):
                        await self._registered.wait()
                except TimeoutError:
                    pass
                self._registered.clear()
                continue
            async with self.events.subscribe() as queue:
                self._listening.set()
                while True:
                    try:
                        async with asyncio.timeout(_RECHECK):
                            event = await queue.get()
                    except TimeoutError:
                        if not await self.webhooks():
                            self._listening.clear()
                            break  # the last one was removed: stop listening
                        continue
                    batch = with_queued(event, queue)
                    try:
                        await self.enqueue(batch)
                    except Exception:
                        log.exception("webhooks: %d events not queued", len(batch))

    async def enqueue(self, events: list[StationEvent]) -> None:
        registered = await self.webhooks()
        if not registered:
            return
        deliveries: list[NewDelivery] = []
        for event in events:
            body = msgspec.json.encode(_Body(event.kind, event.station_id, event.at, event.data))
            key = event_key(body)
            deliveries.extend(
                NewDelivery(webhook.id, key, event.kind, body.decode())
                for webhook in registered
                if matches(webhook.events, event.kind)
            )
        await self.repository.enqueue(deliveries, self.clock.now())

    # -- deliveries out (the leader) ----------------------------------------------------------------------

    async def deliver(self, now: datetime) -> None:
        """One pass: attempt every due delivery, oldest first."""
        for delivery in await self.repository.due(now, self.settings.batch):
            await self._attempt(delivery)

    def backoff(self, failed_attempts: int) -> float:
        """Seconds before the next attempt after ``failed_attempts`` failures (1, 2, ...)."""
        return min(self.settings.backoff_base * 2.0 ** (failed_attempts - 1), self.settings.backoff_max)

    async def _attempt(self, delivery: Delivery) -> None:
        body = delivery.body.encode()
        timestamp = str(int(self.clock.now().timestamp()))
        headers = {
            "Content-Type": "application/json",
            SIGNATURE: sign(delivery.secret, timestamp, body),
            TIMESTAMP: timestamp,
            DELIVERY: str(delivery.id),
            EVENT: delivery.kind,
        }
        try:
            response = await self._http().post(delivery.url, content=body, headers=headers)
            error = None if response.is_success else f"HTTP {response.status_code}"
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"
        now = self.clock.now()
        if error is None:
            await self.repository.delivered(delivery.id, now)
            return
        failed = delivery.attempts + 1
        if failed >= self.settings.max_attempts:
            log.warning(
                "webhook %d: delivery %d is a dead letter (%s)", delivery.webhook_id, delivery.id, error
            )
            await self.repository.failed(delivery.id, error, None, now)
        else:
            retry_at = now + timedelta(seconds=self.backoff(failed))
            await self.repository.failed(delivery.id, error, retry_at, now)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.settings.timeout, follow_redirects=False)
        return self._client

    async def close_on_stop(self) -> None:
        """A job: waits for the stop, then closes the HTTP client."""
        try:
            await asyncio.Event().wait()
        finally:
            if self._client is not None:
                await self._client.aclose()
                self._client = None
