"""The 2.1 rules of a SetChargingProfile that look at fields the version-neutral model does not keep
(dynUpdateInterval / dynUpdateTime, operationMode) or at the station's 2.1 capabilities
(SmartChargingCtrlr.SupportsDynamicProfiles, SupportedAdditionalPurposes). :func:`check_21` runs before
:func:`chargeplane.smart_charging.validation.check_set`; ``None``: nothing to object.

Pure: no clock, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from chargeplane.ocpp.messages import v21
from chargeplane.ocpp.messages.base import present
from chargeplane.smart_charging.model import Kind, Purpose
from chargeplane.smart_charging.validation import Verdict

ADDITIONAL_PURPOSES = frozenset({Purpose.PRIORITY_CHARGING.value, Purpose.LOCAL_GENERATION.value})
CHARGING_ONLY = "ChargingOnly"


@dataclass(frozen=True, slots=True)
class Capabilities21:
    dynamic_profiles: bool  # SupportsDynamicProfiles
    additional_purposes: frozenset[str]  # SupportedAdditionalPurposes


def check_21(profile: v21.datatypes.ChargingProfileType, caps: Capabilities21) -> Verdict | None:
    """K01.FR.120/121/122, K01.FR.71, K28.FR.01/04 on the wire profile of a 2.1 SetChargingProfile."""
    purpose = str(profile.charging_profile_purpose)
    kind = str(profile.charging_profile_kind)
    if purpose in ADDITIONAL_PURPOSES and purpose not in caps.additional_purposes:
        return Verdict(False, "UnsupportedPurpose", f"{purpose} is not supported (K01.FR.120)")
    dynamic = kind == Kind.DYNAMIC.value
    if dynamic and not caps.dynamic_profiles:
        return Verdict(False, "UnsupportedKind", "Dynamic profiles are not supported (K01.FR.121)")
    has_dyn_fields = (
        present(profile.dyn_update_interval) is not None or present(profile.dyn_update_time) is not None
    )
    if has_dyn_fields and not dynamic:
        return Verdict(False, "InvalidProfile", "dynUpdateInterval/-Time only on Dynamic (K01.FR.122)")
    interval = present(profile.dyn_update_interval)
    if interval is not None and interval < 0:
        return Verdict(False, "InvalidProfile", "dynUpdateInterval is not negative")
    if dynamic and (
        len(profile.charging_schedule) != 1 or len(profile.charging_schedule[0].charging_schedule_period) != 1
    ):
        return Verdict(False, "InvalidSchedule", "one chargingSchedule with one period (K28.FR.01/03)")
    if purpose == Purpose.PRIORITY_CHARGING.value:
        for schedule in profile.charging_schedule:
            for period in schedule.charging_schedule_period:
                mode = present(period.operation_mode)
                if mode is not None and str(mode) != CHARGING_ONLY:
                    return Verdict(False, "InvalidSchedule", "PriorityCharging only charges (K01.FR.71)")
    return None
