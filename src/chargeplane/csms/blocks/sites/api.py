"""HTTP routes of site energy management: sites (their tree of circuits down to the stations' EVSEs) created,
replaced, read and deleted; the grid operator's dynamic limit; the site's price curve and forecasts; the EV
needs of a transaction (a V2X EV's battery too); a grid service window (the site exports at least so many kW); the
current allocation and load per node; the plan in force, charge and discharge per EVSE. A tree the allocator
cannot hold is answered 400 with the reason."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import delete, get, put
from litestar.params import FromPath, JSONBody
from litestar.status_codes import (
    HTTP_204_NO_CONTENT,
    HTTP_400_BAD_REQUEST,
    HTTP_404_NOT_FOUND,
)

from chargeplane.csms.api.app import OPERATOR
from chargeplane.csms.api.errors import error_responses
from chargeplane.csms.api.routes import get_or_404
from chargeplane.csms.blocks.sites.planning import SitePlan, Tariff
from chargeplane.csms.blocks.sites.repository import EvNeeds
from chargeplane.csms.blocks.sites.service import AllocationView, CircuitNode, SitesService, SiteView
from chargeplane.csms.blocks.sites.v2x import GridServiceWindow, V2xNeeds, from_soc
from chargeplane.csms.errors import Invalid, NotFound


class NoPlan(NotFound):
    def __init__(self, site_id: str, reason: str | None) -> None:
        why = "no price curve covers now" if reason is None else f"the last plan failed: {reason}"
        super().__init__(f"site {site_id} has no plan now ({why})")


Amperes = Annotated[float, msgspec.Meta(ge=0, le=100_000)]


class SiteOut(msgspec.Struct, rename="camel"):
    site_id: str
    root: CircuitNode
    grid_limit: list[float] | None  # amperes per phase, the grid operator's; None: none
    tariff: Tariff | None  # the price curve the site is planned with; None: the allocator alone
    grid_service: GridServiceWindow | None = None  # the export asked of the site; None: none


class GridLimitIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Amperes per phase (one value: the same on each); null lifts the limit."""

    limit: Annotated[list[Amperes], msgspec.Meta(min_length=1, max_length=3)] | None


Percent = Annotated[float, msgspec.Meta(ge=0, le=100)]


class V2xIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A bidirectional EV's battery: planned both ways on a 2.1 station (charge-only elsewhere)."""

    max_discharge_power: Annotated[float, msgspec.Meta(gt=0, le=1e6)]  # watts, all phases
    battery_capacity: Annotated[float, msgspec.Meta(gt=0, le=10_000)]  # kWh
    soc: Percent  # state of charge now
    min_soc: Percent  # it keeps at least this at all times
    departure_soc: Percent | None = None  # it leaves with at least this; None: full
    degradation_cost: Annotated[float, msgspec.Meta(ge=0, le=1e3)] | None = (
        None  # per kWh discharged; None: the setting
    )


class EvNeedsIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    maximum: Amperes | None = None  # what the EV takes per phase; None: the EVSE's limit
    minimum: Amperes = 0.0  # minChargingRate: below it the EV is paused rather than charged
    priority: Annotated[int, msgspec.Meta(ge=-1000, le=1000)] = 0
    departure: datetime | None = None
    energy: Annotated[float, msgspec.Meta(ge=0, le=10_000)] | None = None  # kWh for the whole transaction
    v2x: V2xIn | None = None  # it may discharge; None: charge only


class ShareOut(msgspec.Struct, rename="camel"):
    node_id: str
    station_id: str
    evse_id: int
    transaction_id: str | None
    reachable: bool
    current: float | None  # amperes per phase; None: no transaction
    paused: bool
    measured: list[float]  # amperes per site phase: the latest Current.Import the station sent


class NodeLoadOut(msgspec.Struct, rename="camel"):
    node_id: str
    allocated: list[float]  # amperes per phase the EVs are given below this circuit
    capacity: list[float]  # amperes per phase it may carry for the EVs
    measured: list[float]  # amperes per phase its EVSEs measured lately (Current.Import)


class PlannedEvseOut(msgspec.Struct, rename="camel"):
    node_id: str
    currents: list[float]  # amperes per phase, one per slot from the plan's start
    energy: float  # kWh planned from when the plan was made (net: discharged energy counted off)
    unmet: float  # kWh it will miss by its departure
    discharge: list[float] = []  # V2X: amperes per phase given back per slot; empty: charge only
    stored: list[float] = []  # V2X: kWh in its battery at the end of each slot
    stored_at_start: float | None = None  # V2X: kWh in its battery when the plan was made (a SoC reading's)


class PlanOut(msgspec.Struct, rename="camel"):
    site_id: str
    made_at: datetime
    start: datetime  # of the first slot
    slot_seconds: int
    cost: float  # of the energy imported over the plan
    status: str  # the solver's
    evses: list[PlannedEvseOut]


class AllocationOut(msgspec.Struct, rename="camel"):
    site_id: str
    allocated_at: datetime | None
    grid_limit: list[float] | None
    evses: list[ShareOut]
    circuits: list[NodeLoadOut]


def _site_out(view: SiteView) -> SiteOut:
    return SiteOut(
        view.site_id,
        view.tree,
        None if view.grid_limit is None else list(view.grid_limit),
        view.tariff,
        view.grid_service,
    )


def _plan_out(site_id: str, plan: SitePlan) -> PlanOut:
    return PlanOut(
        site_id,
        plan.made_at,
        plan.start,
        plan.slot_seconds,
        round(plan.cost, 4),
        plan.status,
        [
            PlannedEvseOut(
                node,
                [round(c, 2) for c in currents],
                plan.energy[node],
                plan.unmet[node],
                [round(d, 2) for d in plan.discharge.get(node, ())],
                [round(e, 3) for e in plan.stored.get(node, ())],
                None if (first := plan.initial.get(node)) is None else round(first, 3),
            )
            for node, currents in plan.currents.items()
        ],
    )


def _allocation_out(view: AllocationView) -> AllocationOut:
    return AllocationOut(
        view.site_id,
        view.allocated_at,
        None if view.grid_limit is None else list(view.grid_limit),
        [
            ShareOut(
                s.node_id,
                s.station_id,
                s.evse_id,
                s.transaction_id,
                s.reachable,
                s.current,
                s.paused,
                list(view.measured.get(s.node_id, (0.0, 0.0, 0.0))),
            )
            for s in view.evses
        ],
        [
            NodeLoadOut(
                node,
                list(view.load.get(node, (0.0, 0.0, 0.0))),
                list(capacity),
                list(view.measured.get(node, (0.0, 0.0, 0.0))),
            )
            for node, capacity in view.capacity.items()
        ],
    )


def routes(service: SitesService) -> list[Any]:
    @get("/sites", summary="The sites")
    async def list_sites() -> list[SiteOut]:
        """Every site with its tree and dynamic grid limit, by id."""
        return [_site_out(v) for v in await service.sites()]

    @get_or_404("/sites/{site_id:str}", summary="A site")
    async def get_site(site_id: FromPath[str]) -> SiteOut:
        """The site's tree of circuits and EVSEs and its dynamic grid limit."""
        return _site_out(await service.site(site_id))

    @put(
        "/sites/{site_id:str}",
        summary="Create or replace a site's tree of circuits",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def put_site(site_id: FromPath[str], data: JSONBody[CircuitNode]) -> SiteOut:
        """The root is the grid connection; each circuit has a limit per phase, circuits and EVSEs below it.
        400 when the site id is not 1-64 letters, digits, ``_.-``, a node id is used twice, an EVSE is in two
        sites, or the EVSEs' fallbacks together exceed a circuit (losing the stations would overload it). The
        sites are allocated again at once."""
        await service.put_site(site_id, data)
        return _site_out(await service.site(site_id))

    @delete(
        "/sites/{site_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Delete a site",
        responses=error_responses(HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def delete_site(site_id: FromPath[str]) -> None:
        """The stations keep the profiles they have until they run out."""
        await service.delete_site(site_id)

    @put(
        "/sites/{site_id:str}/grid-limit",
        summary="Set the dynamic grid limit of a site (grid operator signal)",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def put_grid_limit(site_id: FromPath[str], data: JSONBody[GridLimitIn]) -> SiteOut:
        """On top of the connection's own limit; the site is allocated again at once."""
        return _site_out(await service.set_grid_limit(site_id, data.limit))

    @put(
        "/site-ev-needs/{transaction_id:str}",
        status_code=HTTP_204_NO_CONTENT,
        summary="Set an EV's needs for the site allocation (per transaction)",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def put_needs(transaction_id: FromPath[str], data: JSONBody[EvNeedsIn]) -> None:
        """Its maximum and minimum current per phase, its priority, departure and the energy it needs in the
        transaction (kWh; what it got so far is counted off); allocated or planned again at once. Set here,
        they win over what the EV told over ISO 15118 (NotifyEVChargingNeeds)."""
        v2x: V2xNeeds | None = None
        if data.v2x is not None:
            given = data.v2x
            if given.min_soc > (100 if given.departure_soc is None else given.departure_soc):
                raise Invalid("minSoc must not be above departureSoc")
            v2x = from_soc(
                given.max_discharge_power,
                given.battery_capacity,
                given.soc,
                given.min_soc,
                given.departure_soc,
                service.settings.v2x_degradation
                if given.degradation_cost is None
                else given.degradation_cost,
            )
        await service.set_needs(
            EvNeeds(
                transaction_id, data.maximum, data.minimum, data.priority, data.departure, data.energy, v2x
            )
        )

    @put(
        "/sites/{site_id:str}/grid-service",
        summary="Ask a site to export at least so many kW over a time window (a grid service setpoint)",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def put_grid_service(site_id: FromPath[str], data: JSONBody[GridServiceWindow]) -> SiteOut:
        """``exportKw`` from ``start`` to ``end``, a constraint of the site's plan (its V2X EVs discharge for
        it) in every slot the window overlaps; planned again at once. A plan that cannot hold it is not
        made (``GET .../plan`` tells why) and the allocator's shares are sent meanwhile."""
        return _site_out(await service.set_grid_service(site_id, data))

    @delete(
        "/sites/{site_id:str}/grid-service",
        status_code=HTTP_204_NO_CONTENT,
        summary="Withdraw a site's grid service",
        responses=error_responses(HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def delete_grid_service(site_id: FromPath[str]) -> None:
        """The site is planned again without it."""
        await service.set_grid_service(site_id, None)

    @put(
        "/sites/{site_id:str}/tariff",
        summary="Set a site's price curve and forecasts (the planner takes over from the allocator)",
        responses=error_responses(HTTP_400_BAD_REQUEST, HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def put_tariff(site_id: FromPath[str], data: JSONBody[Tariff]) -> SiteOut:
        """Prices per kWh from ``start``, one per slot (``slotSeconds``, an hour by default); optional
        ``baseLoad`` and ``solar`` forecasts in watts per slot. While the curve covers now, the running
        sessions are planned over its rest at the least cost, each TxProfile carrying its plan."""
        return _site_out(await service.set_tariff(site_id, data))

    @delete(
        "/sites/{site_id:str}/tariff",
        status_code=HTTP_204_NO_CONTENT,
        summary="Remove a site's price curve (back to the allocator)",
        responses=error_responses(HTTP_404_NOT_FOUND),
        opt=OPERATOR,
    )
    async def delete_tariff(site_id: FromPath[str]) -> None:
        """The site's price curve removed: its sessions are allocated live again, without a plan."""
        await service.set_tariff(site_id, None)

    @get_or_404("/sites/{site_id:str}/plan", summary="A site's plan in force")
    async def get_plan(site_id: FromPath[str]) -> PlanOut:
        """Per EVSE with a session: its current per phase in each slot, the energy planned and what it will
        miss; a V2X EV also its discharge per slot and its battery's energy. 404 when the site is unknown or has no plan now (no price curve covers now: the allocator's
        shares are in force, see the allocation)."""
        plan = await service.plan(site_id)
        if plan is None:
            raise NoPlan(site_id, service.plan_error(site_id))
        return _plan_out(site_id, plan)

    @get_or_404("/sites/{site_id:str}/allocation", summary="A site's current allocation and load per node")
    async def get_allocation(site_id: FromPath[str]) -> AllocationOut:
        """Per EVSE its running transaction, whether its station is reachable and its share (an unreachable
        station counted at its fallback); per circuit the allocated current and its capacity per phase."""
        return _allocation_out(await service.allocation(site_id))

    return [
        list_sites,
        get_site,
        put_site,
        delete_site,
        put_grid_limit,
        put_grid_service,
        delete_grid_service,
        put_tariff,
        delete_tariff,
        put_needs,
        get_allocation,
        get_plan,
    ]
