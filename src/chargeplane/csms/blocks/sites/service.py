"""Site energy management wired to live stations (issue #15 item 4).

A site is a tree of circuits (grid connection -> feeders -> EVSEs of stations) with a limit per phase on each
node; the grid operator may lower the connection's limit at any time (a dynamic grid limit, 2.1 Q external
constraints). The allocation (:func:`chargeplane.smart_charging.site.allocate`) runs again after the events
that change it -- a transaction started or ended, meter values, a limit changed, a station gone offline or
back -- at most once per ``min_interval`` (events in between are batched), and every ``profile_duration / 2``
seconds in any case.

Each EVSE with a running transaction gets its share as a TxProfile (2.0.1 K01, through the smart charging
block's checked SetChargingProfile) that lasts ``profile_duration`` seconds; an unchanged share is not
re-sent before half of that. When a station's boot is accepted it gets a TxDefaultProfile per EVSE at the
EVSE's fallback current: an EVSE whose station loses the CSMS falls back to it by itself once its TxProfile
runs out (its validTo, the end of its schedule), which is what the allocator counts an unreachable station at.

A site with a price curve (:class:`~chargeplane.csms.blocks.sites.planning.Tariff`, set through the API) that
covers now is planned instead: the running sessions, with their departure times and energy needs (set
through the API, else what the EV told over ISO 15118 in NotifyEVChargingNeeds, else unknown), are planned
over the rest of the curve at the least cost (:mod:`~chargeplane.csms.blocks.sites.planning`, HiGHS), and
each EVSE's TxProfile carries its plan as several periods. The plan fits the same tree the allocator does,
slot by slot. It is made again when the sessions, their needs, the curve or the grid limit change, and at
least every ``plan_interval`` seconds (what the EVs really drew corrects the energy still needed); in
between, the passes re-send it only as the allocation's shares would be (unchanged: not before half a
``profile_duration``). Without a curve, or when the solver fails, the allocator's shares are sent.

V2X (issue #16 item 4): a session whose needs carry a battery that may discharge
(:class:`~chargeplane.csms.blocks.sites.v2x.V2xNeeds`, through the API or a 2.1 EV's NotifyEVChargingNeeds) on a
2.1 station is planned both ways, and its TxProfile's periods are CentralSetpoint setpoints (Q03; negative:
discharge); on a 1.6 / 2.0.1 station it is planned charge-only, with limits, and so is a transaction the v2x
block has allowed no bidirectional transfer (Q01: its Authorize answer, else NotifyAllowedEnergyTransfer, Q02).
The battery starts from the transaction's latest SoC meter value when its needs came in states of charge (the
API's) and one was read in the last ``SOC_WINDOW``; else as the needs, or the last plan, leave it. A grid service window (the site
exports at least so many kW) is a constraint of the plan while it lasts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import msgspec

from chargeplane.csms.blocks.sites.planning import Session, SitePlan, Tariff, make_plan, reported
from chargeplane.csms.blocks.sites.repository import EvNeeds, SiteRow, SitesRepository
from chargeplane.csms.blocks.sites.settings import SitesSettings
from chargeplane.csms.blocks.sites.v2x import (
    BIDIRECTIONAL_TRANSFERS,
    GridServiceWindow,
    V2xNeeds,
    from_charging_needs,
    setpoint_period,
)
from chargeplane.csms.blocks.smart_charging.service import EvRequest, SmartChargingService
from chargeplane.csms.blocks.transactions.queries import (
    TransactionFilter,
    TransactionQueries,
    TransactionRecord,
)
from chargeplane.csms.bus.events import EventBus, StationEvent
from chargeplane.csms.clock import Clock
from chargeplane.csms.errors import Invalid, NotFound
from chargeplane.ocpp.timestamps import to_wire
from chargeplane.ocpp.versions import Version
from chargeplane.smart_charging.site import (
    PHASES,
    Allocation,
    Circuit,
    Demand,
    Evse,
    Site,
    allocate,
    capacity_of,
    per_phase,
)

log = logging.getLogger(__name__)

# Profile ids of this block (per station, one per EVSE): stable so that a new share replaces the last
# one (K01.FR.05) instead of stacking on it.
TX_PROFILE_BASE = 1_900_000_000
FALLBACK_PROFILE_BASE = 1_910_000_000
CURRENT = "Current.Import"
SITE_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
MAX_AMPERES = 100_000.0
WIRE_PHASES = ("L1", "L2", "L3")
MEASURED_WINDOW = timedelta(minutes=5)
SOC_WINDOW = timedelta(minutes=15)  # an older SoC reading is not used (the plans carry the battery on)
SOC_SAMPLES = 1000  # the most SoC samples read to find the latest one in the window
TRIGGERS = frozenset(
    {
        "transaction.started",
        "transaction.ended",
        "transaction.closed",
        "meter_values",
        "connected",
        "disconnected",
        "charging_limit.notified",  # NotifyEVChargingNeeds among them: new needs to plan for
        "v2x.allowed",  # NotifyAllowedEnergyTransfer (Q02): a session may become bidirectional
    }
)


class UnknownSite(NotFound):
    def __init__(self, site_id: str) -> None:
        super().__init__(f"no site {site_id}")


class InvalidSite(Invalid):
    """The tree breaks a rule of the allocator (ids used twice, fallbacks above a circuit, ...)."""


# -- the tree as the API and the store hold it ----------------------------------------------------------------


class EvseNode(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """A leaf: EVSE ``evse_id`` of station ``station_id``."""

    id: str
    station_id: str
    evse_id: int
    limit: float  # amperes per phase
    phases: list[int] = msgspec.field(default_factory=lambda: [0, 1, 2])
    fallback: float = 0.0


class CircuitNode(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    id: str
    limit: list[float]  # amperes per phase (one value: the same on each phase)
    circuits: list[CircuitNode] = msgspec.field(default_factory=list)
    evses: list[EvseNode] = msgspec.field(default_factory=list)


def to_site(tree: CircuitNode) -> tuple[Site, dict[str, EvseNode]]:
    """The allocator's site of ``tree`` and its leaves by node id; InvalidSite when it breaks a rule."""
    leaves: dict[str, EvseNode] = {}
    seen: set[tuple[str, int]] = set()

    def build(node: CircuitNode) -> Circuit:
        if len(node.limit) not in (1, PHASES):
            raise ValueError(f"circuit {node.id}: a limit is one value or one per phase")
        limit = per_phase(node.limit[0] if len(node.limit) == 1 else node.limit)
        if not all(0 <= value <= MAX_AMPERES for value in limit):
            raise ValueError(f"circuit {node.id}: a limit is 0 to {MAX_AMPERES} A")
        children: list[Circuit | Evse] = [build(child) for child in node.circuits]
        for leaf in node.evses:
            key = (leaf.station_id.casefold(), leaf.evse_id)
            if key in seen:
                raise ValueError(f"EVSE {leaf.evse_id} of {leaf.station_id} is in the tree twice")
            if not 1 <= leaf.evse_id < 2**31:
                raise ValueError(f"node {leaf.id}: evseId is >= 1")
            if not 0 <= leaf.fallback <= leaf.limit <= MAX_AMPERES:
                raise ValueError(f"node {leaf.id}: need 0 <= fallback <= limit <= {MAX_AMPERES} A")
            seen.add(key)
            leaves[leaf.id] = leaf
            children.append(Evse(leaf.id, leaf.limit, tuple(leaf.phases), leaf.fallback))
        return Circuit(node.id, limit, tuple(children))

    try:
        return Site(build(tree)), leaves
    except ValueError as error:
        raise InvalidSite(str(error)) from None


@dataclass
class _Live:
    row: SiteRow
    tree: CircuitNode
    site: Site
    leaves: dict[str, EvseNode]
    allocation: Allocation | None = None
    transactions: dict[str, str] = field(default_factory=dict)  # leaf -> running transaction id
    reachable: dict[str, bool] = field(default_factory=dict)  # leaf -> station connected
    allocated_at: datetime | None = None
    tariff: Tariff | None = None
    plan: SitePlan | None = None
    plan_key: object = None  # what the plan was made for: a change plans again
    grid_service: GridServiceWindow | None = None
    # per V2X node: the transaction and the needs as set when the last plan was made (while they stay the
    # same, the battery is where the plans took it)
    planned_v2x: dict[str, tuple[str, V2xNeeds]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SiteView:
    site_id: str
    tree: CircuitNode
    grid_limit: tuple[float, float, float] | None
    tariff: Tariff | None = None
    grid_service: GridServiceWindow | None = None


@dataclass(frozen=True, slots=True)
class NodeShare:
    node_id: str
    station_id: str
    evse_id: int
    transaction_id: str | None
    reachable: bool
    current: float | None  # amperes per phase allocated (fallback when unreachable); None: no transaction
    paused: bool


@dataclass(frozen=True, slots=True)
class AllocationView:
    site_id: str
    allocated_at: datetime | None
    grid_limit: tuple[float, float, float] | None
    evses: list[NodeShare]
    load: dict[str, tuple[float, float, float]]  # per circuit: the allocated current per phase
    capacity: dict[str, tuple[float, float, float]]  # per circuit: what it may carry for the EVs
    measured: dict[str, tuple[float, float, float]]  # per node: the latest Current.Import per site phase


class SitesService:
    def __init__(
        self,
        repository: SitesRepository,
        smart: SmartChargingService,
        transactions: TransactionQueries,
        settings: SitesSettings,
        events: EventBus,
        clock: Clock,
        bidirectional: Callable[[str, str], Awaitable[bool]],
    ) -> None:
        """``bidirectional(station_id, transaction_id)``: whether the transaction may discharge (the v2x
        block's allowed energy transfer)."""
        self.repository = repository
        self.smart = smart
        self.transactions = transactions
        self.bidirectional = bidirectional
        self.settings = settings
        self.events = events
        self.clock = clock
        self._sites: dict[str, _Live] | None = None
        self._needs: dict[str, EvNeeds] = {}
        self._dirty = asyncio.Event()
        self._has_sites = asyncio.Event()
        # What was last sent per (station key, evse): (periods, transaction, when, as setpoints), not re-sent
        # unchanged.
        self._sent: dict[
            tuple[str, int], tuple[tuple[tuple[datetime | None, float], ...], str, datetime, bool]
        ] = {}
        self._lock = asyncio.Lock()
        self._fallbacks: asyncio.Queue[str] = asyncio.Queue()
        self.passes = 0  # allocation passes done (tests)
        self.plans = 0  # plans made (tests, bench)
        self._plan_errors: dict[str, str] = {}  # per site: why its last plan failed

    # -- the sites --------------------------------------------------------------------------------------------

    async def _live(self) -> dict[str, _Live]:
        if self._sites is None:
            loaded: dict[str, _Live] = {}
            for row in await self.repository.all():
                tree = msgspec.json.decode(row.tree, type=CircuitNode)
                site, leaves = to_site(tree)
                tariff = None if row.tariff is None else msgspec.json.decode(row.tariff, type=Tariff)
                service = (
                    None
                    if row.grid_service is None
                    else msgspec.json.decode(row.grid_service, type=GridServiceWindow)
                )
                loaded[row.site_id] = _Live(row, tree, site, leaves, tariff=tariff, grid_service=service)
            self._sites = loaded
            if loaded:
                self._has_sites.set()
            self._needs = await self.repository.needs()
        return self._sites

    async def sites(self) -> list[SiteView]:
        return [
            SiteView(s, live.tree, live.row.grid_limit, live.tariff, live.grid_service)
            for s, live in (await self._live()).items()
        ]

    async def site(self, site_id: str) -> SiteView:
        live = (await self._live()).get(site_id)
        if live is None:
            raise UnknownSite(site_id)
        return SiteView(site_id, live.tree, live.row.grid_limit, live.tariff, live.grid_service)

    async def put_site(self, site_id: str, tree: CircuitNode) -> bool:
        if not SITE_ID.fullmatch(site_id):
            raise InvalidSite("a site id is 1-64 letters, digits, '_', '.' or '-'")
        site, leaves = to_site(tree)
        current = await self._live()
        for other_id, other in current.items():
            if other_id == site_id:
                continue
            taken = {(e.station_id.casefold(), e.evse_id) for e in other.leaves.values()}
            for leaf in leaves.values():
                if (leaf.station_id.casefold(), leaf.evse_id) in taken:
                    raise InvalidSite(f"EVSE {leaf.evse_id} of {leaf.station_id} belongs to site {other_id}")
        old = current.get(site_id)
        encoded = msgspec.json.encode(tree)
        row = SiteRow(site_id, encoded, None) if old is None else replace(old.row, tree=encoded)
        created = await self.repository.put(row, self.clock.now())
        current[site_id] = _Live(
            row,
            tree,
            site,
            leaves,
            tariff=None if old is None else old.tariff,
            grid_service=None if old is None else old.grid_service,
        )
        self._has_sites.set()
        self._publish(site_id, "site.changed", {})
        for station in {leaf.station_id for leaf in leaves.values()}:
            self._fallbacks.put_nowait(station)
        self.trigger()
        return created

    async def delete_site(self, site_id: str) -> None:
        current = await self._live()
        if site_id not in current or not await self.repository.delete(site_id):
            raise UnknownSite(site_id)
        del current[site_id]
        if not current:
            self._has_sites.clear()

    async def set_grid_limit(self, site_id: str, limit: Sequence[float] | None) -> SiteView:
        """The grid operator's limit on the connection per phase (None: none, the root's own limit)."""
        live = (await self._live()).get(site_id)
        if live is None:
            raise UnknownSite(site_id)
        value = None
        if limit is not None:
            value = per_phase(limit[0] if len(limit) == 1 else limit)
            if any(v < 0 for v in value):
                raise Invalid("a grid limit is >= 0")
        live.row = replace(live.row, grid_limit=value)
        await self.repository.put(live.row, self.clock.now())
        self._publish(site_id, "site.grid_limit", {"limit": None if value is None else list(value)})
        self.trigger()
        return SiteView(site_id, live.tree, value, live.tariff, live.grid_service)

    async def set_tariff(self, site_id: str, tariff: Tariff | None) -> SiteView:
        """The site's price curve and forecasts (None: none, the allocator alone); planned again at once."""
        live = (await self._live()).get(site_id)
        if live is None:
            raise UnknownSite(site_id)
        encoded = None if tariff is None else msgspec.json.encode(tariff)
        live.row = replace(live.row, tariff=encoded)
        await self.repository.put(live.row, self.clock.now())
        live.tariff, live.plan, live.plan_key = tariff, None, None
        self._publish(site_id, "site.tariff", {"slots": 0 if tariff is None else len(tariff.prices)})
        self.trigger()
        return SiteView(site_id, live.tree, live.row.grid_limit, tariff, live.grid_service)

    async def set_grid_service(self, site_id: str, window: GridServiceWindow | None) -> SiteView:
        """A grid operator's request that the site export at least so many kW over a window (None: none);
        planned again at once. It binds only a site with a price curve (the planner); a plan that cannot hold
        it is reported and the allocator's shares are sent meanwhile."""
        live = (await self._live()).get(site_id)
        if live is None:
            raise UnknownSite(site_id)
        encoded = None if window is None else msgspec.json.encode(window)
        live.row = replace(live.row, grid_service=encoded)
        await self.repository.put(live.row, self.clock.now())
        live.grid_service = window
        data: dict[str, object] = {} if window is None else {"exportKw": window.export_kw}
        self._publish(site_id, "site.grid_service", data)
        self.trigger()
        return SiteView(site_id, live.tree, live.row.grid_limit, live.tariff, window)

    def plan_error(self, site_id: str) -> str | None:
        """Why the site's last plan failed (the allocator's shares are sent), None when it did not."""
        return self._plan_errors.get(site_id)

    async def plan(self, site_id: str) -> SitePlan | None:
        """The site's plan in force (None: no price curve covers now, the allocator's shares are sent)."""
        live = (await self._live()).get(site_id)
        if live is None:
            raise UnknownSite(site_id)
        return live.plan

    async def set_needs(self, needs: EvNeeds) -> None:
        if needs.maximum is not None and not 0 <= needs.minimum <= needs.maximum:
            raise Invalid("need 0 <= minimum <= maximum")
        if needs.minimum < 0:
            raise Invalid("minimum is >= 0")
        if needs.energy is not None and not 0 <= needs.energy <= 10_000:
            raise Invalid("energy is 0 to 10000 kWh")
        await self._live()
        await self.repository.put_needs(needs, self.clock.now())
        self._needs[needs.transaction_id] = needs
        self.trigger()

    async def ev_needs(self, request: EvRequest) -> bool:
        """K15 / K17 on an EVSE of a site (a handler of the smart charging block): the EV's needs become the
        transaction's site needs (its maximum current for AC, its minimum, its departure; a priority given
        through the API kept) and the next allocation sends the TxProfile, also when the share is unchanged
        (K15.FR.07): the station is answered Processing. False: the EVSE is in no site."""
        key = request.station_id.casefold()
        leaves = (leaf for live in (await self._live()).values() for leaf in live.leaves.values())
        if not any(leaf.station_id.casefold() == key and leaf.evse_id == request.evse_id for leaf in leaves):
            return False
        earlier = self._needs.get(request.transaction_id)
        maximum = None if request.dc else request.max_current
        minimum = 0.0 if maximum is None else min(request.min_current, maximum)
        priority = 0 if earlier is None else earlier.priority
        energy = reported({"chargingNeeds": request.needs}).energy  # kWh, for the planner
        # Q01.FR.03: a 2.1 EV in a bidirectional transfer tells its V2X energies, which replace the earlier
        # ones as its other needs do; a charge-only transfer drops them; a battery set through the API is
        # kept while the EV tells nothing of it.
        v2x = None if earlier is None else earlier.v2x
        if request.version is Version.V21:
            told = from_charging_needs(request.needs, self.settings.v2x_degradation)
            if (
                told is not None
                or request.needs.get("requestedEnergyTransfer") not in BIDIRECTIONAL_TRANSFERS
            ):
                v2x = told
        await self.set_needs(
            EvNeeds(
                request.transaction_id, maximum, max(0.0, minimum), priority, request.departure, energy, v2x
            )
        )
        self._sent.pop((key, request.evse_id), None)
        return True

    # -- the allocation ---------------------------------------------------------------------------------------

    def trigger(self) -> None:
        self._dirty.set()

    def _publish(self, site_id: str, kind: str, data: dict[str, object]) -> None:
        self.events.publish(StationEvent(kind, site_id, data))

    async def _running(self, station_id: str) -> dict[int, TransactionRecord]:
        """The running transactions per EVSE (1.6: per connector, a leaf's ``evseId`` is its connectorId)."""
        records, _ = await self.transactions.find(
            TransactionFilter(station_id=station_id, status="active"), 0, 100
        )
        running: dict[int, TransactionRecord] = {}
        for r in records:
            evse = r.connector_id if r.ocpp_version == Version.V16.value else r.evse_id
            if evse is not None and r.transaction_id is not None:
                running[evse] = r
        return running

    async def allocate_all(self) -> None:
        """One pass: every site allocated again, the changed shares sent."""
        async with self._lock:
            self.passes += 1
            for site_id, live in (await self._live()).items():
                try:
                    await self._allocate(site_id, live)
                except Exception:
                    log.exception("site %s: the allocation failed", site_id)

    async def _allocate(self, site_id: str, live: _Live) -> None:
        running: dict[str, dict[int, TransactionRecord]] = {}
        demands: list[Demand] = []
        transactions: dict[str, str] = {}
        records: dict[str, TransactionRecord] = {}
        reachable: dict[str, bool] = {}
        for node_id, leaf in live.leaves.items():
            key = leaf.station_id.casefold()
            if key not in running:
                running[key] = await self._running(leaf.station_id)
            online = self.smart.commands.version_of(leaf.station_id) is not None
            reachable[node_id] = online
            record = running[key].get(leaf.evse_id)
            if record is None or record.transaction_id is None:
                continue
            transaction = record.transaction_id
            transactions[node_id], records[node_id] = transaction, record
            needs = self._needs.get(transaction)
            maximum = leaf.limit if needs is None or needs.maximum is None else needs.maximum
            minimum = 0.0 if needs is None else min(needs.minimum, maximum)
            priority = 0 if needs is None else needs.priority
            demands.append(Demand(node_id, maximum, minimum, priority, reachable=online))
        allocation = allocate(live.site, demands, live.row.grid_limit)
        live.allocation, live.transactions, live.reachable = allocation, transactions, reachable
        live.allocated_at = now = self.clock.now()
        plan = await self._plan(live, records, demands, now)
        if plan is None:
            live.plan = None
        wanted: dict[str, tuple[tuple[datetime | None, float], ...]] = {}
        ends: dict[str, datetime] = {}
        setpoints = set() if plan is None else set(plan.discharge)  # V2X nodes: CentralSetpoint periods
        until = now.replace(microsecond=0) + timedelta(seconds=self.settings.profile_duration)
        for node_id in transactions:
            if plan is not None and node_id in plan.currents:
                periods, ends[node_id] = plan.periods(
                    node_id, now, until, self.settings.max_periods, self.settings.raise_delay
                )
                wanted[node_id] = tuple((at, limit) for at, limit in periods)
            else:  # wire limits carry one decimal: never above the share
                wanted[node_id] = ((None, math.floor(allocation.currents[node_id] * 10 + 1e-6) / 10),)
                ends[node_id] = until

        # Lowered limits first, raised ones after: between two profiles no circuit carries more than before.
        def now_limit(periods: Sequence[tuple[datetime | None, float]]) -> float:
            return next((limit for at, limit in reversed(periods) if at is None or at <= now), periods[0][1])

        def change(node_id: str) -> float:
            leaf = live.leaves[node_id]
            last = self._sent.get((leaf.station_id.casefold(), leaf.evse_id))
            return now_limit(wanted[node_id]) - (leaf.fallback if last is None else now_limit(last[0]))

        # Each group at once (a site of many EVSEs must not wait a round trip per EVSE); the raised ones
        # only once every lowered one is answered.
        pushed = [n for n in transactions if reachable[n]]
        changes = {node_id: change(node_id) for node_id in pushed}
        for lowered in (True, False):
            await asyncio.gather(
                *(
                    self._push(live.leaves[n], transactions[n], wanted[n], ends[n], n in setpoints)
                    for n in pushed
                    if (changes[n] <= 0) is lowered
                )
            )

    async def _plan(
        self, live: _Live, records: dict[str, TransactionRecord], demands: list[Demand], now: datetime
    ) -> SitePlan | None:
        """The site's plan when its price curve covers now: the last one while nothing it was made for
        changed and it is younger than ``plan_interval``, else a new one (solved in a thread)."""
        tariff = live.tariff
        if tariff is None or not tariff.start <= now < tariff.end:
            return None
        sessions: list[Session] = []
        unreachable: dict[str, float] = {}
        # What the plan depends on besides the energy delivered since: a change plans again at once.
        depends: list[object] = []
        given: dict[str, tuple[str, V2xNeeds]] = {}  # per V2X node: its transaction and needs as set
        for demand in demands:
            node_id = demand.evse_id
            leaf = live.leaves[node_id]
            if not demand.reachable:
                unreachable[node_id] = leaf.fallback
                continue
            record = records[node_id]
            transaction = str(record.transaction_id)
            # the needs set through the API, or what the EV told over ISO 15118 (``ev_needs``), else unknown
            needs = self._needs.get(transaction)
            maximum, minimum = demand.maximum, demand.minimum
            energy = None if needs is None else needs.energy
            departure = None if needs is None else needs.departure
            # V2X only where the station speaks 2.1 (setpoints, Q03): elsewhere it is planned charge-only
            v2x = None if needs is None else needs.v2x
            if v2x is not None and self.smart.commands.version_of(leaf.station_id) is not Version.V21:
                v2x = None
            if v2x is not None and not await self.bidirectional(leaf.station_id, transaction):
                v2x = None  # Q01 / Q02: no bidirectional transfer allowed (yet): charge-only
            depends.append((node_id, transaction, maximum, minimum, energy, departure, v2x))
            if energy is not None:  # still needed: less what the transaction delivered so far
                energy = max(0.0, energy - (record.energy_wh or 0.0) / 1000)
            if v2x is not None:
                given[node_id] = (transaction, v2x)
                soc = await self._latest_soc(record, now)
                measured = None if soc is None else v2x.at_soc(soc)
                v2x = measured or self._battery_now(live, node_id, transaction, v2x, now)
            sessions.append(Session(node_id, maximum, minimum, energy, departure, v2x))
        plan_key = (
            tuple(depends),
            tuple(sorted(unreachable.items())),
            live.row.grid_limit,
            live.row.tariff,
            live.row.grid_service,
        )
        last = live.plan
        interval = timedelta(seconds=self.settings.plan_interval)
        if last is not None and live.plan_key == plan_key and now - last.made_at < interval:
            return last
        try:
            plan = await asyncio.to_thread(
                make_plan,
                live.site,
                tariff,
                sessions,
                unreachable,
                live.row.grid_limit,
                now,
                self.settings.plan_time_limit,
                live.grid_service,
            )
        except (RuntimeError, ValueError) as error:
            log.warning("site %s: no plan, the allocator's shares are sent: %s", live.row.site_id, error)
            live.plan, live.plan_key = None, None
            self._plan_errors[live.row.site_id] = str(error)
            return None
        self._plan_errors.pop(live.row.site_id, None)
        live.plan, live.plan_key = plan, plan_key
        live.planned_v2x = given
        self.plans += 1
        return plan

    async def _latest_soc(self, record: TransactionRecord, now: datetime) -> float | None:
        """The transaction's latest SoC meter value (percent) of the last ``SOC_WINDOW``; None: none."""
        since = max(record.started_at, now - SOC_WINDOW)
        samples = await self.transactions.recent_meter_values([record.id], since, "SoC", SOC_SAMPLES)
        values = [s.value for s in samples if s.value is not None and s.phase is None]
        return values[-1] if values else None

    @staticmethod
    def _battery_now(live: _Live, node_id: str, transaction: str, v2x: V2xNeeds, now: datetime) -> V2xNeeds:
        """A V2X battery as the last plan left it by now, when that plan started from these same needs (or
        from a plan that did): the needs give the state of charge once, the plans carry it on (the station
        does not tell the CSMS the energy it exported; its SoC in meter values could correct this later)."""
        last = live.plan
        basis = live.planned_v2x.get(node_id)
        if last is None or basis is None or basis[0] != transaction:
            return v2x
        expected = last.stored_at(node_id, now)
        if expected is None or basis[1] != v2x:  # new needs: a new state of charge to start from
            return v2x
        return v2x.advanced(expected)

    async def _push(
        self,
        leaf: EvseNode,
        transaction: str,
        periods: tuple[tuple[datetime | None, float], ...],
        end: datetime,
        setpoints: bool = False,
    ) -> None:
        """The EVSE's limits as a TxProfile of its transaction (K01) until ``end``, unless the same was sent
        lately. ``periods``: (from, amperes); one period from None is a share from now. ``setpoints``: a V2X
        plan on a 2.1 station, each period a CentralSetpoint (negative: discharge)."""
        now = self.clock.now()
        key = (leaf.station_id.casefold(), leaf.evse_id)
        last = self._sent.get(key)
        fresh = timedelta(seconds=self.settings.profile_duration / 2)
        if (
            last is not None
            and (last[0], last[1], last[3]) == (periods, transaction, setpoints)
            and now - last[2] < fresh
        ):
            return
        start = now.replace(microsecond=0)
        first = periods[0][0]
        if first is not None:  # a plan: from its first slot's start (maybe past), so a slot starts on time
            start = min(start, first)
        schedule: dict[str, object] = {
            "startSchedule": to_wire(start),
            "duration": int((end - start).total_seconds()),
        }
        wire_periods = [
            (0 if at is None else max(0, int((at - start).total_seconds())), limit) for at, limit in periods
        ]
        profile = self._profile(
            leaf, TX_PROFILE_BASE, "TxProfile", "Absolute", wire_periods, transaction, schedule, setpoints
        )
        # valid only while its schedule lasts: a valid TxProfile keeps the TxDefaultProfile out even after its
        # schedule ends (2.0.1 Part 2 §3.5, 1.6 §3.13.2), and the fallback must apply then
        profile["validTo"] = to_wire(end)
        try:
            outcome = await self.smart.set_profile(leaf.station_id, leaf.evse_id, profile)
        except Exception as error:  # offline, refused, no answer: tried again at the next pass
            log.warning(
                "%s EVSE %d: the site's TxProfile was not set: %r", leaf.station_id, leaf.evse_id, error
            )
            self._sent.pop(key, None)
            return
        if outcome.status == "Accepted":
            self._sent[key] = (periods, transaction, now, setpoints)
        else:
            self._sent.pop(key, None)

    def _profile(
        self,
        leaf: EvseNode,
        base: int,
        purpose: str,
        kind: str,
        periods: Sequence[tuple[int, float]],
        transaction: str | None,
        schedule: dict[str, object],
        setpoints: bool = False,
    ) -> dict[str, object]:
        """Periods of (startPeriod, amperes per phase), in the wire form of the station's version (1.6
        csChargingProfiles: one schedule, chargingProfileId, an integer transactionId; 2.x: a list);
        ``setpoints``: 2.1 CentralSetpoint periods (the amperes a setpoint, negative: discharge)."""
        phases = len(leaf.phases)
        body = schedule | {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                setpoint_period(start, limit, phases)
                if setpoints
                else {"startPeriod": start, "limit": limit, "numberPhases": phases}
                for start, limit in periods
            ],
        }
        profile: dict[str, object] = {
            "stackLevel": self.settings.stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": kind,
        }
        if self.smart.commands.version_of(leaf.station_id) is Version.V16:
            profile |= {"chargingProfileId": base + leaf.evse_id, "chargingSchedule": body}
            if transaction is not None:
                profile["transactionId"] = int(transaction)
        else:
            profile |= {"id": base + leaf.evse_id, "chargingSchedule": [{"id": 1} | body]}
            if transaction is not None:
                profile["transactionId"] = transaction
        return profile

    async def send_fallbacks(self, station_id: str) -> None:
        """A TxDefaultProfile per EVSE of the station in a site at its fallback current: what the EVSE keeps
        to when the site's TxProfile runs out and the CSMS cannot reach the station."""
        for live in (await self._live()).values():
            for leaf in live.leaves.values():
                if leaf.station_id.casefold() != station_id.casefold():
                    continue
                profile = self._profile(
                    leaf,
                    FALLBACK_PROFILE_BASE,
                    "TxDefaultProfile",
                    "Relative",
                    [(0, leaf.fallback)],
                    None,
                    {},
                )
                try:
                    await self.smart.set_profile(leaf.station_id, leaf.evse_id, profile)
                except Exception as error:
                    log.warning(
                        "%s EVSE %d: the fallback profile was not set: %s", station_id, leaf.evse_id, error
                    )

    def station_accepted(self, station_id: str) -> None:
        """The accepted-boot listener: the fallbacks, then a new allocation (the station is back)."""
        if self.smart.commands.version_of(station_id) is not None:
            self._fallbacks.put_nowait(station_id)
        self.trigger()

    async def fallback_job(self) -> None:
        while True:
            station_id = await self._fallbacks.get()
            try:
                if self.smart.commands.version_of(station_id) is not None:
                    await self.send_fallbacks(station_id)
            except Exception:
                log.exception("%s: sending the site fallbacks failed", station_id)
            finally:
                self._fallbacks.task_done()

    async def event_job(self) -> None:
        """Marks the allocation dirty on the events that change it; listens to the bus only while there are
        sites (a subscriber makes the transactions block publish its events)."""
        await self._live()
        while True:
            await self._has_sites.wait()
            async with self.events.subscribe() as queue:
                while self._has_sites.is_set():
                    try:
                        async with asyncio.timeout(1.0):
                            event = await queue.get()
                    except TimeoutError:
                        continue
                    if event.kind in TRIGGERS:
                        self.trigger()

    async def allocation_job(self) -> None:
        """Allocates when dirty, at most once per ``min_interval``, and at least every half profile duration."""
        refresh = self.settings.profile_duration / 2
        while True:
            try:
                async with asyncio.timeout(refresh):
                    await self._dirty.wait()
            except TimeoutError:
                pass
            self._dirty.clear()
            await self.allocate_all()
            await asyncio.sleep(self.settings.min_interval)

    # -- the view ---------------------------------------------------------------------------------------------

    async def measured(self, live: _Live) -> dict[str, tuple[float, float, float]]:
        """Per node the current per site phase the stations measured lately (Current.Import, J02): the latest
        sample per EVSE and phase of the last ``MEASURED_WINDOW``; a circuit carries the sum of its EVSEs. A
        sample without phase counts on each phase the EVSE draws on; L1..L3 are the EVSE's wiring order."""
        since = self.clock.now() - MEASURED_WINDOW
        latest: dict[tuple[str, int], dict[str | None, float]] = {}
        for station in {leaf.station_id for leaf in live.leaves.values()}:
            samples = await self.transactions.station_meter_values(
                station, start=since, end=None, measurand=CURRENT, offset=0, limit=5000
            )
            for sample in samples:  # oldest first: a later sample replaces an earlier one
                if sample.evse_id is None or sample.value is None:
                    continue
                if sample.location not in (None, "Outlet"):
                    continue
                value = sample.value * 10.0 ** (sample.multiplier or 0)
                latest.setdefault((station.casefold(), sample.evse_id), {})[sample.phase] = value
        load: dict[str, list[float]] = {node: [0.0, 0.0, 0.0] for node in (*live.site.circuits, *live.leaves)}
        for node_id, leaf in live.leaves.items():
            phases = latest.get((leaf.station_id.casefold(), leaf.evse_id), {})
            per_site_phase = [0.0, 0.0, 0.0]
            for phase, value in phases.items():
                if phase is None:
                    if any(p in phases for p in WIRE_PHASES):
                        continue  # per-phase samples are more precise
                    for site_phase in leaf.phases:
                        per_site_phase[site_phase] += value
                elif phase in WIRE_PHASES and WIRE_PHASES.index(phase) < len(leaf.phases):
                    per_site_phase[leaf.phases[WIRE_PHASES.index(phase)]] += value
            for node in (node_id, *live.site.paths[node_id]):
                for site_phase in range(3):
                    load[node][site_phase] += per_site_phase[site_phase]
        return {node: (v[0], v[1], v[2]) for node, v in load.items()}

    async def allocation(self, site_id: str) -> AllocationView:
        live = (await self._live()).get(site_id)
        if live is None:
            raise UnknownSite(site_id)
        allocation = live.allocation
        shares = [
            NodeShare(
                node_id,
                leaf.station_id,
                leaf.evse_id,
                live.transactions.get(node_id),
                live.reachable.get(node_id, False),
                None if allocation is None else allocation.currents.get(node_id),
                allocation is not None and node_id in allocation.paused,
            )
            for node_id, leaf in live.leaves.items()
        ]
        capacity = capacity_of(live.site, live.row.grid_limit)
        return AllocationView(
            site_id,
            live.allocated_at,
            live.row.grid_limit,
            shares,
            {} if allocation is None else dict(allocation.load),
            {
                circuit: (capacity[circuit, 0], capacity[circuit, 1], capacity[circuit, 2])
                for circuit in live.site.circuits
            },
            await self.measured(live),
        )
