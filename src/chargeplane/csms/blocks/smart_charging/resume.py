"""E17.FR.15 (and B13 resuming after a reset): the TxProfiles of a transaction reported TxResumed go to the
station again, unless the station keeps TxProfiles over a reboot (SmartChargingCtrlr.
ChargingProfilePersistence[TxProfile] reported true)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from chargeplane.csms.blocks.device_model import wire
from chargeplane.csms.blocks.device_model.service import DeviceModelService
from chargeplane.csms.blocks.smart_charging.repository import REPORTED, StoredProfile

TX_RESUMED = "TxResumed"
TX_PROFILE = "TxProfile"
_PERSISTENCE = wire.ref_of(
    wire.Component("SmartChargingCtrlr"), wire.Variable("ChargingProfilePersistence", "TxProfile"), "Actual"
).key()
# station id -> whether it keeps TxProfiles over a reboot
Persistence = Callable[[str], Awaitable[bool]]


def to_resend(profiles: Iterable[StoredProfile], transaction_id: str) -> list[StoredProfile]:
    """The TxProfiles the CSMS gave the transaction (not the ones it only learnt from a report)."""
    return [
        p
        for p in profiles
        if p.purpose == TX_PROFILE and p.transaction_id == transaction_id and p.state != REPORTED
    ]


def persistence_from(device_model: DeviceModelService) -> Persistence:
    async def persistent(station_id: str) -> bool:
        value, _ = (await device_model.values(station_id, [_PERSISTENCE])).get(_PERSISTENCE, (None, None))
        return (value or "").strip().lower() == "true"  # absent counts as false (E17.FR.15)

    return persistent
