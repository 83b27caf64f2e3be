"""Settings of the smart charging block (``CHARGEPLANE_SMART_CHARGING_*``): what the CSMS assumes of a
station's smart charging limits when it checks a profile before sending it, and what it does after a boot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc

from chargeplane.csms.settings import SettingsError


@dataclass(frozen=True)
class SmartChargingSettings:
    max_stack_level: Annotated[
        int, Doc("the highest stackLevel a profile may have (the stations' ProfileStackLevel)")
    ] = 8
    max_periods: Annotated[
        int, Doc("the most chargingSchedulePeriods a schedule may have (the stations' PeriodsPerSchedule)")
    ] = 24
    evse_max_current: Annotated[
        float,
        Doc("amperes per phase an EVSE is assumed to draw where no profile limits it (the CSMS's composite)"),
    ] = 32.0
    reconcile_on_boot: Annotated[
        bool,
        Doc(
            "after a 2.x boot answered Accepted, ask the station for its profiles and compare with the store"
        ),
    ] = True
    resend_on_drift: Annotated[
        bool, Doc("re-send a stored profile the station no longer holds (found by the reconciliation)")
    ] = False

    def __post_init__(self) -> None:
        if self.max_stack_level < 0:
            raise SettingsError("max_stack_level must be >= 0")
        if self.evse_max_current <= 0:
            raise SettingsError("evse_max_current must be > 0")
        if self.max_periods < 1:
            raise SettingsError("max_periods must be >= 1")
