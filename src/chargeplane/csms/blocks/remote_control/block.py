"""Install remote control: the CommandService (provided to later blocks), the command routes and the SSE
event stream."""

from __future__ import annotations

from chargeplane.csms.api.events import EventStream
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control import api
from chargeplane.csms.blocks.remote_control.repository import CommandLogRepository
from chargeplane.csms.blocks.remote_control.service import CommandService, ConnectionFinder
from chargeplane.csms.bus.commands import LocalCommandRouter


def install(context: BlockContext) -> None:
    provisioning = context.require(ProvisioningService)
    # The TriggerMessage gate lives in the session of the local connection; a multi-node router will have
    # to apply it on the node that holds the socket.
    connections: ConnectionFinder | None = (
        context.commands.connection_for if isinstance(context.commands, LocalCommandRouter) else None
    )
    service = CommandService(
        CommandLogRepository(context.engine, context.committer),
        context.commands,
        provisioning.repository,
        context.events,
        connections,
    )
    context.routes.extend(api.routes(service))
    stream = EventStream(context.events)
    context.routes.append(stream.route())
    context.jobs.append(stream.close_on_stop)
    context.provide(service)
