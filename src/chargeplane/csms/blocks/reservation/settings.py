"""Settings of the reservation block (``CHARGEPLANE_RESERVATION_*``)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReservationSettings:
    check_interval: float = 30.0  # seconds between expiry sweeps (CHARGEPLANE_RESERVATION_CHECK_INTERVAL)
