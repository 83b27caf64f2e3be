"""Settings of the sites block (``CHARGEPLANE_SITES_*``): how often the allocation may run and how the
profiles it sends look."""

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

    def __post_init__(self) -> None:
        if self.min_interval < 0:
            raise SettingsError("min_interval must be >= 0")
        if self.profile_duration < 60:
            raise SettingsError("profile_duration must be >= 60")
        if self.stack_level < 0:
            raise SettingsError("stack_level must be >= 0")
