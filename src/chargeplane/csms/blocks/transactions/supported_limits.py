"""E16.FR.12: the CSMS sends only the transaction limits a station reports in TxCtrlr.SupportedLimits.

The value comes from the device-model inventory (a report, a GetVariables); when the inventory has none, the
station is asked once with GetVariables (then stored like any answer). A station that cannot tell (offline,
no such variable) supports nothing as far as the CSMS knows.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.bus.commands import StationOffline
from chargeplane.csms.errors import Busy, Conflict, Invalid, NotFound, Unsendable
from chargeplane.transport.connection import CallFailed, CallTimeout, ConnectionLost

log = logging.getLogger(__name__)

COMPONENT, VARIABLE = "TxCtrlr", "SupportedLimits"
_KEY = wire.ref_of(wire.Component(COMPONENT), wire.Variable(VARIABLE), "Actual").key()
# station id -> the limits it supports (TransactionLimitType names), None: unknown
SupportedLimits = Callable[[str], Awaitable[frozenset[str] | None]]


class LimitNotSupported(Conflict):
    """E16.FR.12: a limit the station did not report as supported."""


def members(value: str) -> frozenset[str]:
    return frozenset(item.strip() for item in value.split(",") if item.strip())


def check(limit: dict[str, float], supported: frozenset[str] | None) -> None:
    """Raise :class:`LimitNotSupported` naming the limits of ``limit`` outside ``supported``."""
    if supported is None:
        raise LimitNotSupported(
            f"the station's {COMPONENT}.{VARIABLE} is unknown: no limit is sent (E16.FR.12)"
        )
    refused = sorted(set(limit) - supported)
    if refused:
        listed = ",".join(sorted(supported)) or "none"
        raise LimitNotSupported(
            f"not in the station's {COMPONENT}.{VARIABLE} ({listed}): {', '.join(refused)} (E16.FR.12)"
        )


def from_device_model(device_model: DeviceModelService) -> SupportedLimits:
    async def supported(station_id: str) -> frozenset[str] | None:
        known, _ = (await device_model.values(station_id, [_KEY])).get(_KEY, (None, None))
        if known is not None:
            return members(known)
        item = wire.GetVariableData(wire.Component(COMPONENT), wire.Variable(VARIABLE))
        try:
            results = await device_model.get_variables(station_id, [item])
        except (
            StationOffline,
            CallFailed,
            CallTimeout,
            ConnectionLost,
            Busy,
            Conflict,
            Invalid,
            NotFound,
            Unsendable,
        ) as error:
            log.info("%s: %s.%s not read: %s", station_id, COMPONENT, VARIABLE, error)
            return None
        value = next((r.attribute_value for r in results if r.attribute_status == "Accepted"), None)
        return None if value is None else members(value)

    return supported
