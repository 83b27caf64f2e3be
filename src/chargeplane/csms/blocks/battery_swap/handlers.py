"""OCPP side of battery swapping: BatterySwap (2.1 only; S03). Its response is empty: the CSMS records the
event and its decision on the token, it cannot undo a swap."""

from __future__ import annotations

from chargeplane.csms.blocks.battery_swap.service import BatterySwapService
from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.router import Router
from chargeplane.ocpp.versions import Version
from chargeplane.transport.connection import OcppConnection


def register(routers: dict[Version, Router[OcppConnection]], service: BatterySwapService) -> None:
    async def battery_swap(
        request: v21.messages.BatterySwapRequest, conn: OcppConnection
    ) -> v21.messages.BatterySwapResponse:
        await service.swapped(conn.station_id, request)
        return v21.messages.BatterySwapResponse()

    routers[Version.V21].register(v21.messages.BatterySwapRequest, battery_swap)
