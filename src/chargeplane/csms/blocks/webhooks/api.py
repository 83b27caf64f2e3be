"""HTTP routes of webhooks: register, list and remove webhooks (scope admin: they hold secrets), and the
dead letters with their retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, post
from litestar.params import JSONBody
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
)

from chargeplane.csms.api.app import ADMIN
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.pages import Count, Limit, Offset, Page, PathId
from chargeplane.csms.api.routes import paged
from chargeplane.csms.blocks.webhooks.repository import Delivery, Webhook
from chargeplane.csms.blocks.webhooks.service import WebhookService

EVENT_FILTER = r"\A(\*|[a-z_]+(\.[a-z_]+)*(\.\*)?)\Z"


class WebhookIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=8, max_length=2000)]
    # Event kinds (connected, status, transaction.started...), "transaction.*" or "*" for every one.
    events: Annotated[
        list[Annotated[str, msgspec.Meta(pattern=EVENT_FILTER, max_length=64)]],
        msgspec.Meta(min_length=1, max_length=100),
    ]
    secret: Annotated[str, msgspec.Meta(min_length=16, max_length=128)] | None = None  # default: generated


class WebhookOut(msgspec.Struct, rename="camel"):
    id: int
    url: str
    events: list[str]
    created_at: datetime
    secret: str | None = None  # only in the answer to the registration


class RetryIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    ids: Annotated[list[Count], msgspec.Meta(min_length=1, max_length=500)]  # dead letters' ids


class RetryOut(msgspec.Struct, rename="camel"):
    retried: list[int]
    not_found: list[int]


class DeadLetterOut(msgspec.Struct, rename="camel"):
    id: int  # the X-Chargeplane-Delivery header's value
    webhook_id: int
    url: str
    kind: str
    body: str
    attempts: int
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None


def _webhook_out(webhook: Webhook, *, with_secret: bool = False) -> WebhookOut:
    secret = webhook.secret if with_secret else None
    return WebhookOut(webhook.id, webhook.url, webhook.events, webhook.created_at, secret)


def _dead_out(d: Delivery) -> DeadLetterOut:
    return DeadLetterOut(
        d.id, d.webhook_id, d.url, d.kind, d.body, d.attempts, d.last_error, d.created_at, d.finished_at
    )


def routes(service: WebhookService) -> list[Any]:
    @post(
        "/webhooks",
        status_code=HTTP_201_CREATED,
        summary="Register a webhook",
        responses=error_responses(HTTP_400_BAD_REQUEST),
        opt=ADMIN,
    )
    async def register_webhook(data: JSONBody[WebhookIn]) -> WebhookOut:
        """Every later station event whose kind matches ``events`` is POSTed to ``url`` once, signed with the
        secret (HMAC-SHA256, header X-Chargeplane-Signature; the answer holds the secret, shown only here)."""
        webhook = await service.register(data.url, data.events, data.secret)
        return _webhook_out(webhook, with_secret=True)

    @get("/webhooks", summary="The registered webhooks", opt=ADMIN)
    async def list_webhooks() -> list[WebhookOut]:
        """Without their secrets."""
        return [_webhook_out(w) for w in await service.webhooks()]

    @delete(
        "/webhooks/{webhook_id:int}",
        summary="Remove a webhook",
        responses=error_responses(HTTP_404_NOT_FOUND),
        opt=ADMIN,
    )
    async def remove_webhook(webhook_id: PathId) -> None:
        """Its pending deliveries and dead letters go with it."""
        await service.remove(webhook_id)

    @get("/webhooks/dead-letters", summary="Deliveries given up after the last attempt", opt=ADMIN)
    async def dead_letters(offset: Offset = 0, limit: Limit = 100) -> Page[DeadLetterOut]:
        """Each with the event, the number of attempts and the last error."""
        return paged(_dead_out, await service.dead_letters(limit, offset), offset, limit)

    @post(
        "/webhooks/dead-letters/retry",
        status_code=HTTP_200_OK,
        summary="Try dead letters again",
        responses=error_responses(HTTP_400_BAD_REQUEST),
        opt=ADMIN,
    )
    async def retry_dead_letters(data: JSONBody[RetryIn]) -> RetryOut:
        """Each given dead letter is pending again, with all its attempts; ``notFound``: the ids that are no
        dead letter (unknown, or delivered or pending meanwhile)."""
        retried: list[int] = []
        missing: list[int] = []
        for delivery_id in dict.fromkeys(data.ids):
            (retried if await service.retry(delivery_id) else missing).append(delivery_id)
        return RetryOut(retried, missing)

    return [register_webhook, list_webhooks, remove_webhook, dead_letters, retry_dead_letters]
