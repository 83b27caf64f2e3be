"""Settings of the sites block (``CHARGEPLANE_SITES_*``): how often the allocation and the plan may run and
how the profiles they send look."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc

from chargeplane.csms.settings import SettingsError


@dataclass(frozen=True)
class SitesSettings:
    min_interval: Annotated[
        float, Doc("seconds at least between two allocations of the sites (events in between are batched)")
    ] = 2.0
    profile_duration: Annotated[
        int,
        Doc(
            "seconds a TxProfile of the allocation lasts; re-sent at half of it, so that an unreachable "
            "station falls back to its TxDefaultProfile (the EVSE's fallback) when it runs out"
        ),
    ] = 600
    stack_level: Annotated[int, Doc("stackLevel of the allocation's TxProfiles and fallback profiles")] = 1
    plan_interval: Annotated[
        float,
        Doc(
            "seconds at most between two plans of a site with a price curve (sooner when its sessions, "
            "their needs, the curve or the grid limit change)"
        ),
    ] = 300.0
    plan_time_limit: Annotated[
        float, Doc("seconds the solver may take for a plan with minimum currents (then its best plan so far)")
    ] = 5.0
    raise_delay: Annotated[
        float,
        Doc(
            "seconds a planned rise starts after its slot (at most half a slot), so that at a slot change the "
            "EVSEs going down do so first despite the stations' clock skew"
        ),
    ] = 10.0
    max_periods: Annotated[
        int, Doc("periods at most in a planned TxProfile (the stations' PeriodsPerSchedule): the first ones")
    ] = 24
    v2x_degradation: Annotated[
        float,
        Doc(
            "cost per kWh a V2X EV discharges (battery wear), when its needs do not give one: it discharges "
            "only where the energy it replaces is worth more than that plus charging it back"
        ),
    ] = 0.05

    def __post_init__(self) -> None:
        if self.min_interval < 0:
            raise SettingsError("min_interval must be >= 0")
        if self.profile_duration < 60:
            raise SettingsError("profile_duration must be >= 60")
        if self.stack_level < 0:
            raise SettingsError("stack_level must be >= 0")
        if self.plan_interval < 0 or self.plan_time_limit <= 0:
            raise SettingsError("plan_interval must be >= 0 and plan_time_limit > 0")
        if self.raise_delay < 0:
            raise SettingsError("raise_delay must be >= 0")
        if self.max_periods < 1:
            raise SettingsError("max_periods must be >= 1")
        if self.v2x_degradation < 0:
            raise SettingsError("v2x_degradation must be >= 0")
