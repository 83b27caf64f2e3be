"""Webhooks (issue #19): station events POSTed to operator-registered URLs (see the service's docstring)."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block
from chargeplane.csms.blocks.webhooks import api
from chargeplane.csms.blocks.webhooks.repository import WebhookRepository
from chargeplane.csms.blocks.webhooks.service import WebhookService
from chargeplane.csms.blocks.webhooks.settings import WebhooksSettings


def install(context: BlockContext, settings: WebhooksSettings) -> None:
    service = WebhookService(WebhookRepository(context.engine), context.events, context.clock, settings)
    context.routes.extend(api.routes(service))
    context.jobs.append(service.collect)  # every node: the events become pending deliveries, once
    context.jobs.append(service.close_on_stop)
    context.every("webhooks.deliver", settings.deliver_interval, service.deliver)  # the leader only
    context.provide(service)


BLOCK = Block(
    "webhooks",
    WebhooksSettings,
    install,
    requires=(),
    summary="webhooks: station events signed (HMAC-SHA256) to operator URLs, retried, dead letters",
)
