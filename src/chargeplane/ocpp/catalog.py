"""The actions of one OCPP version, looked up by name or by request type."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from chargeplane.ocpp.messages.base import ActionSpec, Direction, Payload
from chargeplane.ocpp.versions import Version


class Role:
    """Which end of the connection an endpoint is: the directions of the CALLs it may send and receive."""

    __slots__ = ("name", "receives", "sends")

    def __init__(self, name: str, sends: Direction) -> None:
        self.name = name
        self.sends = frozenset({sends, Direction.BOTH})
        receives = (
            Direction.CSMS_TO_STATION if sends is Direction.STATION_TO_CSMS else Direction.STATION_TO_CSMS
        )
        self.receives = frozenset({receives, Direction.BOTH})

    def __repr__(self) -> str:
        return f"Role({self.name})"


CSMS = Role("CSMS", Direction.CSMS_TO_STATION)
STATION = Role("ChargingStation", Direction.STATION_TO_CSMS)


class ActionCatalog:
    """Every action of a version, by name (``actions``) and by request Struct type (``by_request``)."""

    __slots__ = ("actions", "by_request")

    def __init__(self, actions: Mapping[str, ActionSpec]) -> None:
        self.actions: Mapping[str, ActionSpec] = actions
        self.by_request: Mapping[type[Payload], ActionSpec] = {
            spec.request: spec for spec in actions.values()
        }

    @staticmethod
    @functools.cache
    def for_version(version: Version) -> ActionCatalog:
        """The generated catalog of ``version``, built once per process."""
        from chargeplane.ocpp.messages import registry_for  # imports every generated module: only on demand

        return ActionCatalog(registry_for(version.value))
