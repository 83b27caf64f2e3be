"""Display messages (O01-O06), CSMS side: set, get and clear from the API; the messages each station holds,
assembled from the NotifyDisplayMessages parts per requestId."""

from __future__ import annotations

from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.display_messages import api, handlers
from chargeplane.csms.blocks.display_messages.repository import DisplayMessageRepository
from chargeplane.csms.blocks.display_messages.service import DisplayMessageService
from chargeplane.csms.blocks.remote_control.service import CommandService


def install(context: BlockContext, settings: NoSettings) -> None:
    service = DisplayMessageService(
        DisplayMessageRepository(context.engine, context.committer),
        context.require(CommandService),
        context.events,
        context.clock,
    )
    handlers.register(context.routers, service)
    context.routes.extend(api.routes(service))
    context.provide(service)


BLOCK = Block(
    "display_messages",
    NoSettings,
    install,
    requires=("provisioning", "remote_control"),
    summary="O01-O06 (CSMS side)",
)
