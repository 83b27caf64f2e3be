"""Settings of the provisioning block (``CHARGEPLANE_PROVISIONING_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

from typing_extensions import Doc

from chargeplane.csms.settings import UnknownStationPolicy


@dataclass(frozen=True)
class ProvisioningSettings:
    heartbeat_interval: Annotated[int, Doc("seconds, sent in BootNotification Accepted (G02)")] = 300
    boot_retry_interval: Annotated[
        int, Doc("seconds, sent with Pending / Rejected (B02.FR.04, B03.FR.05)")
    ] = 60
    default_registration_status: Annotated[
        str, Doc("registration status of stations the operator creates without one")
    ] = "Accepted"
    unknown_stations: Annotated[
        UnknownStationPolicy,
        Doc(
            "BootNotification answer for stations without a record (refuse, pending, accept, reject); only "
            "with ocpp_allow_unauthenticated, else they never get past the handshake"
        ),
    ] = UnknownStationPolicy.REFUSE
    presence_flush_interval: Annotated[float, Doc("seconds between writes of last-seen times")] = 15.0

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
