"""Availability (G01-G04): connector statuses, operative / inoperative EVSEs and station.

Owns the status of every connector (derived, never stored: see the adapter's ``connector_status``), the
StatusNotifications that report a change (G01; all of them again after a boot or a long offline period,
B01.FR.05 / B04.FR.01), the persisted operative state (B01.FR.07), ChangeAvailability with the change
scheduled while a transaction runs (G03.FR.05, G04), and the AvailabilityState / Available variables of
ChargingStation, EVSE and Connector.
"""

from __future__ import annotations

from datetime import datetime

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present
from chargeplane.station.core import reservation, transactions
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import Evse

RO = "ReadOnly"
STATES = "Available,Occupied,Reserved,Unavailable,Faulted"


class Availability(Controller):
    __slots__ = ("_scheduled_station",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self._scheduled_station: bool | None = None  # G04: station change waiting for the transactions

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        phases = str(layout.supply_phases)

        def ro(
            component: str,
            name: str,
            kind: str,
            value: str,
            evse: int | None = None,
            connector: int | None = None,
        ) -> VariableDef:
            # AvailabilityState, Available (but a connector's) and Problem make the SummaryInventory
            summary = name in ("AvailabilityState", "Problem") or (name == "Available" and connector is None)
            states = STATES if name == "AvailabilityState" else None
            return var(
                component,
                name,
                kind,
                value,
                RO,
                evse=evse,
                connector=connector,
                summary=summary,
                values_list=states,
            )

        def availability(
            component: str, evse: int | None = None, connector: int | None = None
        ) -> list[VariableDef]:
            return [
                ro(component, "AvailabilityState", "OptionList", "Available", evse, connector),
                ro(component, "Available", "boolean", "true", evse, connector),
            ]

        station = "ChargingStation"
        defs = [
            *availability(station),
            ro(station, "SupplyPhases", "integer", phases),
            ro(station, "Model", "string", layout.model),
            ro(station, "VendorName", "string", layout.vendor),
            ro(station, "Problem", "boolean", "false"),
        ]
        power = layout.max_power_w
        for evse, connectors in enumerate(layout.connectors, start=1):
            defs += [
                *availability("EVSE", evse=evse),
                var(
                    "EVSE",
                    "Power",
                    "decimal",
                    "0",
                    RO,
                    evse=evse,
                    unit="W",
                    max_limit=power,
                    extra={"MaxSet": str(power)},
                ),
                ro("EVSE", "SupplyPhases", "integer", phases, evse=evse),
                ro("EVSE", "Problem", "boolean", "false", evse=evse),
            ]
            for c in range(1, connectors + 1):
                defs += [
                    *availability("Connector", evse=evse, connector=c),
                    ro("Connector", "ConnectorType", "string", layout.connector_type, evse=evse, connector=c),
                    ro("Connector", "SupplyPhases", "integer", phases, evse=evse, connector=c),
                ]
        return defs

    # ------------------------------------------------------------------ statuses (G01, B04)
    def connector_status(self, evse: Evse, connector_id: int) -> str:
        ctx = self.ctx
        reserved = ctx.get(reservation.Reservations).on(evse.id) is not None
        return ctx.adapter.connector_status(evse, connector_id, ctx.station_operative, reserved)

    def update_status(self, evse: Evse, now: datetime) -> None:
        """Report the connectors whose status changed (kept in AvailabilityState as well)."""
        ctx = self.ctx
        for connector_id in range(1, evse.connectors + 1):
            status = self.connector_status(evse, connector_id)
            ctx.model.put(
                VariableKey("Connector", "AvailabilityState", evse=evse.id, connector=connector_id), status
            )
            if evse.last_status.get(connector_id) == status:
                continue
            request = ctx.adapter.status_request(evse, connector_id, status, ctx.ts(now))
            if ctx.send(request, now):  # G01 / B04
                evse.last_status[connector_id] = status
        evse_status = self.connector_status(evse, evse.plugged or 1)
        ctx.model.put(VariableKey("EVSE", "AvailabilityState", evse=evse.id), evse_status)
        reservations = ctx.get(reservation.Reservations)
        booked = reservations.on(evse.id)
        if booked is not None and (evse.faulted or not evse.operative or not ctx.station_operative):
            # H01.FR.16 / H01.FR.17: a Faulted or Unavailable EVSE loses its reservation (after its status)
            reservations.remove(booked.id, now, "Removed")

    def report_all(self, now: datetime, *, again: bool) -> None:
        """After a reconnect: every connector when ``again`` (B01.FR.05, B04.FR.01), else only changes."""
        for evse in self.ctx.evses.values():
            if again:
                evse.last_status.clear()
            self.update_status(evse, now)

    def send_status(self, evse: Evse, connector_id: int, now: datetime, *, force: bool) -> None:
        """One StatusNotification whatever changed (TriggerMessage)."""
        ctx = self.ctx
        status = self.connector_status(evse, connector_id)
        ctx.send(ctx.adapter.status_request(evse, connector_id, status, ctx.ts(now)), now, force=force)

    # ------------------------------------------------------------------ operative state (G03, G04)
    def change(self, evse_id: int, connector: int | None, operative: bool, now: datetime) -> str:
        """Accepted, Scheduled (G03.FR.05: while a transaction runs) or Rejected; persisted (B01.FR.07)."""
        ctx = self.ctx
        if evse_id == 0:
            if not operative and any(e.tx is not None for e in ctx.evses.values()):
                self._scheduled_station = False
                return "Scheduled"
            self._set_station_operative(operative, now)
            return "Accepted"
        evse = ctx.evses.get(evse_id)
        if evse is None or (connector is not None and not 1 <= connector <= evse.connectors):
            return "Rejected"
        if not operative and evse.tx is not None:
            evse.scheduled_operative = False
            return "Scheduled"
        self._set_evse_operative(evse, operative, now)
        return "Accepted"

    def transaction_ended(self, evse: Evse, now: datetime) -> None:
        """G03.FR.05: apply a change that waited for the transaction."""
        if evse.scheduled_operative is not None:
            self._set_evse_operative(evse, evse.scheduled_operative, now)
            evse.scheduled_operative = None
        if self._scheduled_station is not None and all(e.tx is None for e in self.ctx.evses.values()):
            self._set_station_operative(self._scheduled_station, now)
            self._scheduled_station = None

    def _set_evse_operative(self, evse: Evse, operative: bool, now: datetime) -> None:
        ctx = self.ctx
        evse.operative = operative
        ctx.storage.set_state(f"evse_operative:{evse.id}", "true" if operative else "false")
        ctx.model.put(VariableKey("EVSE", "Available", evse=evse.id), "true" if operative else "false")
        ctx.get(transactions.Transactions).evaluate(evse, now, "ChargingStateChanged")

    def _set_station_operative(self, operative: bool, now: datetime) -> None:
        ctx = self.ctx
        ctx.station_operative = operative
        ctx.storage.set_state("station_operative", "true" if operative else "false")
        ctx.model.put(VariableKey("ChargingStation", "Available"), "true" if operative else "false")
        evaluate = ctx.get(transactions.Transactions).evaluate
        for evse in ctx.evses.values():
            evaluate(evse, now, "ChargingStateChanged")


# ---------------------------------------------------------------------- handlers
def change_availability(
    ctl: Availability, request: v2x.ChangeAvailabilityRequestT, now: datetime
) -> v2x.ChangeAvailabilityResponse:
    """G03 (one EVSE or connector) / G04 (the station)."""
    ns = v2x.dialect_of(request)
    evse_ref = present(request.evse)
    operative = str(request.operational_status) == "Operative"
    evse_id = evse_ref.id if evse_ref is not None else 0
    connector = present(evse_ref.connector_id) if evse_ref is not None else None
    status = ctl.change(evse_id, connector, operative, now)
    return ns.ChangeAvailabilityResponse(status=ns.ChangeAvailabilityStatusEnumType(status))


def change_availability16(
    ctl: Availability, request: v16.messages.ChangeAvailabilityRequest, now: datetime
) -> v16.messages.ChangeAvailabilityResponse:
    """1.6 §5.2 (connector 0: the whole Charge Point)."""
    operative = str(request.type) == "Operative"
    status = ctl.change(request.connector_id, None, operative, now)
    return v16.messages.ChangeAvailabilityResponse(status=v16.enums.AvailabilityStatus(status))


Availability.on_2x = (route("ChangeAvailability", change_availability),)
Availability.on_16 = (route("ChangeAvailability", change_availability16),)
