"""Settings of the reservation block (``CHARGEPLANE_RESERVATION_*``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from typing_extensions import Doc


@dataclass(frozen=True)
class ReservationSettings:
    check_interval: Annotated[float, Doc("seconds between reservation expiry sweeps")] = 30.0
