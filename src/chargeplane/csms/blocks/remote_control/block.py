"""Remote control (F01-F06, B11-B12): the CommandService (provided to later blocks), the command routes and
the SSE event stream."""

from __future__ import annotations

from chargeplane.csms.api.events import EventStream
from chargeplane.csms.blocks.authorization.service import AuthorizationService
from chargeplane.csms.blocks.context import BlockContext
from chargeplane.csms.blocks.declaration import Block, NoSettings
from chargeplane.csms.blocks.provisioning.service import ProvisioningService
from chargeplane.csms.blocks.remote_control import api, network_profiles
from chargeplane.csms.blocks.remote_control.operations import StationCommands
from chargeplane.csms.blocks.remote_control.repository import CommandLogRepository
from chargeplane.csms.blocks.remote_control.service import CommandService, ConnectionFinder
from chargeplane.csms.bus.commands import LocalCommandRouter
from chargeplane.csms.cluster.commands import ClusterCommandRouter


def install(context: BlockContext, settings: NoSettings) -> None:
    # The TriggerMessage gate lives in the session of the local connection; with several nodes the node that
    # holds the socket applies it to the commands of the others (holder_gate).
    connections: ConnectionFinder | None = (
        context.commands.connection_for if isinstance(context.commands, LocalCommandRouter) else None
    )
    service = CommandService(
        CommandLogRepository(context.engine, context.committer),
        context.commands,
        context.require(ProvisioningService),
        context.events,
        context.clock,
        connections,
    )
    if isinstance(context.commands, ClusterCommandRouter):  # commands from other nodes: the session is here
        context.commands.holder_gate = service.call_held_here
    commands = StationCommands(service, context.require(AuthorizationService))
    context.routes.extend(api.routes(service, commands))
    context.routes.extend(network_profiles.routes(service))
    stream = EventStream(context.events)
    context.routes.append(stream.route())
    context.jobs.append(stream.close_on_stop)
    context.provide(service)
    context.provide(commands)


BLOCK = Block(
    "remote_control",
    NoSettings,
    install,
    requires=("provisioning", "authorization"),
    summary="F01-F06, B11-B12",
)
