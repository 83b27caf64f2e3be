"""The console's site energy pages: the sites, and one site's circuit tree with each node's limits, what it
carries now (the stations' measured current and power), the dynamic grid limit (operators set it) and the
current allocated to each EVSE. The site's part re-reads itself live like the overview (meter values,
transactions and the sites block's own events).

Read through the sites block (:class:`SitesService`: tree, allocation, measured current) and the transactions
block's meter values (power); the grid limit is set by the block's ``set_grid_limit``, checked with the HTTP
API's ``GridLimitIn``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.params import FromPath

from chargeplane.csms.blocks.sites.api import GridLimitIn
from chargeplane.csms.blocks.sites.service import AllocationView, CircuitNode, NodeShare, SitesService
from chargeplane.csms.blocks.transactions.queries import MeterValueRecord, TransactionQueries
from chargeplane.csms.console.forms import needs, refusal, text
from chargeplane.csms.console.users import Role, Session
from chargeplane.csms.console.views import POWER, latest_power
from chargeplane.csms.errors import Invalid

if TYPE_CHECKING:
    from chargeplane.csms.console.web import Console

AnyRequest = Request[Any, Any, Any]
RECENT = timedelta(minutes=5)  # a power sample older than this is not "now"
SAMPLES = 5000
_SEPARATORS = re.compile(r"[\s,;/]+")
Phases = tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One line of the tree as the page shows it (depth-first, ``depth`` 0 is the grid connection)."""

    node_id: str
    depth: int
    kind: str  # circuit | evse
    limit: list[float]  # amperes per phase as configured
    capacity: Phases | None  # circuits: what it may carry for the EVs (grid limit included)
    allocated: Phases | None  # circuits: the allocated current per phase
    measured: Phases | None  # the stations' latest Current.Import per site phase
    power_w: float | None  # the latest Power.Active.Import, added up below a circuit
    share: NodeShare | None  # EVSEs: the allocation


def _evse_of(sample: MeterValueRecord) -> int | None:
    return sample.evse_id


def tree_rows(
    root: CircuitNode, allocation: AllocationView, power: dict[tuple[str, int], float]
) -> list[NodeRow]:
    shares = {share.node_id: share for share in allocation.evses}
    rows: list[NodeRow] = []

    def walk(node: CircuitNode, depth: int) -> float | None:
        at = len(rows)
        rows.append(NodeRow(node.id, depth, "circuit", node.limit, None, None, None, None, None))
        total: float | None = None
        for child in node.circuits:
            below = walk(child, depth + 1)
            if below is not None:
                total = (total or 0.0) + below
        for leaf in node.evses:
            watts = power.get((leaf.station_id.casefold(), leaf.evse_id))
            if watts is not None:
                total = (total or 0.0) + watts
            rows.append(
                NodeRow(
                    leaf.id,
                    depth + 1,
                    "evse",
                    [leaf.limit],
                    None,
                    None,
                    allocation.measured.get(leaf.id),
                    watts,
                    shares.get(leaf.id),
                )
            )
        rows[at] = NodeRow(
            node.id,
            depth,
            "circuit",
            node.limit,
            allocation.capacity.get(node.id),
            allocation.load.get(node.id),
            allocation.measured.get(node.id),
            total,
            None,
        )
        return total

    walk(root, 0)
    return rows


def grid_limit_input(value: object) -> list[float] | None:
    """The form's limit: one value (each phase) or three; empty lifts it. Raises Invalid with the reason."""
    found = text(value, 100)
    if found is None:
        return None
    parts = [part for part in _SEPARATORS.split(found) if part]
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise Invalid(f"a grid limit is amperes, one value or three: {found}") from None
    try:
        return msgspec.convert({"limit": numbers}, GridLimitIn).limit
    except msgspec.ValidationError as error:
        raise Invalid(f"grid limit: {error}") from None


class EnergyPages:
    def __init__(self, console: Console, sites: SitesService, transactions: TransactionQueries) -> None:
        self.console = console
        self.sites = sites
        self.transactions = transactions

    async def power(self, root: CircuitNode) -> dict[tuple[str, int], float]:
        stations: set[str] = set()

        def collect(node: CircuitNode) -> None:
            stations.update(leaf.station_id for leaf in node.evses)
            for child in node.circuits:
                collect(child)

        collect(root)
        since = self.console.views.clock.now() - RECENT
        found: dict[tuple[str, int], float] = {}
        for station in stations:
            samples = await self.transactions.station_meter_values(
                station, start=since, end=None, measurand=POWER, offset=0, limit=SAMPLES
            )
            for evse, watts in latest_power(samples, since, _evse_of).items():
                found[station.casefold(), evse] = watts
        return found

    async def site_view(self, site_id: str) -> dict[str, Any]:
        site = await self.sites.site(site_id)
        allocation = await self.sites.allocation(site_id)
        return {
            "site": site,
            "allocation": allocation,
            "rows": tree_rows(site.tree, allocation, await self.power(site.tree)),
        }

    async def site_page(
        self,
        session: Session,
        site_id: str,
        status: int = 200,
        message: str | None = None,
        done: str | None = None,
    ) -> Response[str]:
        shown = await self.site_view(site_id)
        return self.console.render("site.html", status, session=session, message=message, done=done, **shown)

    def routes(self) -> list[Any]:
        pages = self
        console = self.console

        @get("/sites", include_in_schema=False)
        async def sites(request: AnyRequest) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                found = sorted(await pages.sites.sites(), key=lambda view: view.site_id)
                evses = {view.site_id: _evses(view.tree) for view in found}
                return console.render("sites.html", session=session, sites=found, evses=evses)

            return await console.page(request, build)

        @get("/sites/{site_id:str}", include_in_schema=False)
        async def site(request: AnyRequest, site_id: FromPath[str]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return await pages.site_page(session, site_id)

            return await console.page(request, build)

        @get("/fragments/sites/{site_id:str}", include_in_schema=False)
        async def site_fragment(request: AnyRequest, site_id: FromPath[str]) -> Response[Any]:
            async def build(session: Session) -> Response[Any]:
                return console.render("_site.html", **await pages.site_view(site_id))

            return await console.page(request, build)

        @post("/sites/{site_id:str}/grid-limit", include_in_schema=False)
        async def grid_limit(request: AnyRequest, site_id: FromPath[str]) -> Response[Any]:
            session, form = await console.checked_post(request)
            needs(session, Role.OPERATOR, "setting the grid limit")

            async def build(session: Session) -> Response[Any]:
                try:
                    limit = None if form.get("clear") == "1" else grid_limit_input(form.get("limit"))
                    if limit is None and form.get("clear") != "1":
                        raise Invalid("give a limit in amperes, or lift the limit")
                    await pages.sites.set_grid_limit(site_id, limit)
                except Invalid as error:
                    status, reason = refusal(error)
                    return await pages.site_page(session, site_id, status, reason)
                done = "Grid limit lifted." if limit is None else f"Grid limit set to {_amperes(limit)} A."
                return await pages.site_page(session, site_id, done=done)

            return await console.page(request, build)

        return [sites, site, site_fragment, grid_limit]


def _evses(node: CircuitNode) -> int:
    return len(node.evses) + sum(_evses(child) for child in node.circuits)


def _amperes(limit: list[float]) -> str:
    return " / ".join(f"{value:g}" for value in limit)
