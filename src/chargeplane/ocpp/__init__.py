"""The OCPP-J protocol core, sans-I/O: frames, errors, the RPC endpoint, the typed router and the
generated message types. Nothing here imports asyncio, sockets, a database or a web framework."""

from chargeplane.ocpp.catalog import CSMS, STATION, ActionCatalog, Role
from chargeplane.ocpp.endpoint import RpcEndpoint
from chargeplane.ocpp.router import Router, register_2x
from chargeplane.ocpp.versions import Version, negotiate

__all__ = [
    "CSMS",
    "STATION",
    "ActionCatalog",
    "Role",
    "Router",
    "RpcEndpoint",
    "Version",
    "negotiate",
    "register_2x",
]
