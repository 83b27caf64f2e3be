"""Settings of the provisioning block (``CHARGEPLANE_PROVISIONING_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from chargeplane.csms.settings import UnknownStationPolicy


@dataclass(frozen=True)
class ProvisioningSettings:
    heartbeat_interval: int = 300  # seconds, sent in BootNotification Accepted (G02)
    boot_retry_interval: int = 60  # seconds, sent with Pending / Rejected (B02.FR.04, B03.FR.05)
    default_registration_status: str = "Accepted"  # for stations the operator creates without a status
    unknown_stations: UnknownStationPolicy = UnknownStationPolicy.REFUSE
    presence_flush_interval: float = 15.0  # seconds between writes of last-seen times

    # The names these settings had before blocks had their own prefix (CHARGEPLANE_HEARTBEAT_INTERVAL, ...).
    ENV_ALIASES: ClassVar[dict[str, str]] = {
        name.upper(): name
        for name in (
            "heartbeat_interval",
            "boot_retry_interval",
            "default_registration_status",
            "unknown_stations",
            "presence_flush_interval",
        )
    }
