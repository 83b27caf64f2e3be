"""Local Authorization List (D01-D02): the CSMS-owned list of tokens the station may accept by itself.

Owns the list (persisted, never changed locally), SendLocalList (Full replaces, Differential updates and
removes, a differential that is not newer is a VersionMismatch), GetLocalListVersion (2.x: 0 without a list;
1.6: -1 when disabled), the LocalAuthListCtrlr variables, and the lookup the authorization controller does
before its cache (C13/C14).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from chargeplane.ocpp.messages import v2x, v16
from chargeplane.ocpp.messages.base import present
from chargeplane.ocpp.timestamps import from_wire
from chargeplane.station.core.context import Context, Controller, route
from chargeplane.station.core.device_model import StationLayout, VariableDef, VariableKey, var
from chargeplane.station.core.model import ACCEPTED, AuthEntry, token_key
from chargeplane.station.core.storage import Storage

CTRLR = "LocalAuthListCtrlr"
ID_TAG = "idTag"
Update = tuple[str, str, AuthEntry | None]  # token, type, entry (None: remove)


class LocalList:
    """D01: the CSMS-owned list (never changed locally, kept in non-volatile memory)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        raw = storage.get_state("local_list")
        data: dict[str, Any] = json.loads(raw) if raw else {"version": 0, "entries": []}
        self.version: int = data["version"]
        self.entries: dict[str, AuthEntry] = {
            token_key(e["token"], e["token_type"]): AuthEntry(**e) for e in data["entries"]
        }

    def lookup(self, token: str, token_type: str) -> AuthEntry | None:
        return self.entries.get(token_key(token, token_type))

    def apply(self, version: int, full: bool, updates: list[tuple[str, str, AuthEntry | None]]) -> str:
        """D01.FR.*: Full replaces, Differential adds/updates (or removes entries without info).
        Returns Accepted, VersionMismatch or Failed."""
        if not full and version <= self.version:  # D01.FR.19 a differential must be newer
            return "VersionMismatch"
        if version <= 0:
            return "Failed"
        entries = {} if full else dict(self.entries)
        for token, token_type, entry in updates:
            key = token_key(token, token_type)
            if entry is None:
                entries.pop(key, None)
            else:
                entries[key] = entry
        self.entries = entries
        self.version = version
        self._save()
        return ACCEPTED

    def _save(self) -> None:
        payload = {"version": self.version, "entries": [asdict(e) for e in self.entries.values()]}
        self._storage.set_state("local_list", json.dumps(payload))


class LocalListController(Controller):
    __slots__ = ("list",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.list = LocalList(ctx.storage)

    @staticmethod
    def variables(layout: StationLayout) -> list[VariableDef]:
        ro = "ReadOnly"
        return [
            var(CTRLR, "Enabled", "boolean", "true"),
            var(CTRLR, "Available", "boolean", "true", ro),
            var(CTRLR, "Entries", "integer", "0", ro),
            var(CTRLR, "ItemsPerMessage", "integer", "100", ro),
            var(CTRLR, "BytesPerMessage", "integer", "65000", ro),
            var(CTRLR, "Storage", "integer", "10000", ro, unit="B"),
            var(CTRLR, "DisablePostAuthorize", "boolean", "false"),
        ]

    @property
    def enabled(self) -> bool:
        return self.ctx.model.flag(CTRLR, "Enabled")

    def lookup(self, token: str, token_type: str) -> AuthEntry | None:
        """C13/C14: the entry of an enabled list."""
        return self.list.lookup(token, token_type) if self.enabled else None

    def apply(self, version: int, full: bool, updates: list[Update]) -> str:
        status = self.list.apply(version, full, updates)
        self.ctx.model.put(VariableKey(CTRLR, "Entries"), str(len(self.list.entries)))
        return status


def _entry(token: str, token_type: str, status: str, expiry: str | None, group: str | None) -> AuthEntry:
    return AuthEntry(token, token_type, status, from_wire(expiry).isoformat() if expiry else None, group)


# ---------------------------------------------------------------------- handlers
def send_local_list(
    ctl: LocalListController,
    request: v2x.SendLocalListRequestT,
    now: datetime,
) -> v2x.SendLocalListResponse:
    """D01: Full / Differential; VersionMismatch for a differential that is not newer (D01.FR.19)."""
    ns = v2x.dialect_of(request)
    if not ctl.enabled:
        return ns.SendLocalListResponse(status=ns.SendLocalListStatusEnumType.FAILED)
    updates: list[Update] = []
    for item in present(request.local_authorization_list) or []:
        token = item.id_token
        info = present(item.id_token_info)
        entry = None
        if info is not None:
            group = present(info.group_id_token)
            entry = _entry(
                token.id_token,
                str(token.type),
                str(info.status),
                present(info.cache_expiry_date_time),
                group.id_token if group is not None else None,
            )
        updates.append((token.id_token, str(token.type), entry))
    status = ctl.apply(request.version_number, str(request.update_type) == "Full", updates)
    return ns.SendLocalListResponse(status=ns.SendLocalListStatusEnumType(status))


def get_local_list_version(
    ctl: LocalListController,
    request: v2x.GetLocalListVersionRequestT,
    now: datetime,
) -> v2x.GetLocalListVersionResponse:
    """D02: 0 when there is no list, or when the list is disabled (D02.FR.03)."""
    ns = v2x.dialect_of(request)
    return ns.GetLocalListVersionResponse(version_number=ctl.list.version if ctl.enabled else 0)


def send_local_list16(
    ctl: LocalListController, request: v16.messages.SendLocalListRequest, now: datetime
) -> v16.messages.SendLocalListResponse:
    """1.6 §5.15."""
    if not ctl.enabled:
        return v16.messages.SendLocalListResponse(status=v16.enums.UpdateStatus.NOT_SUPPORTED)
    updates: list[Update] = []
    for item in present(request.local_authorization_list) or []:
        info = present(item.id_tag_info)
        entry = None
        if info is not None:
            entry = _entry(
                item.id_tag, ID_TAG, str(info.status), present(info.expiry_date), present(info.parent_id_tag)
            )
        updates.append((item.id_tag, ID_TAG, entry))
    # 1.6 has no Entries variable: the list itself, as before
    status = ctl.list.apply(request.list_version, str(request.update_type) == "Full", updates)
    return v16.messages.SendLocalListResponse(status=v16.enums.UpdateStatus(status))


def get_local_list_version16(
    ctl: LocalListController, request: v16.messages.GetLocalListVersionRequest, now: datetime
) -> v16.messages.GetLocalListVersionResponse:
    """1.6 §5.10: -1 when the list is disabled, 0 when empty."""
    return v16.messages.GetLocalListVersionResponse(list_version=ctl.list.version if ctl.enabled else -1)


LocalListController.on_2x = (
    route("SendLocalList", send_local_list),
    route("GetLocalListVersion", get_local_list_version),
)
LocalListController.on_16 = (
    route("SendLocalList", send_local_list16),
    route("GetLocalListVersion", get_local_list_version16),
)
