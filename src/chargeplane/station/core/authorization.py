"""Authorization data kept on the station: the Authorization Cache (C10-C12) and the Local Authorization
List (D01-D02), version-neutral and persisted as JSON records through the storage interface.

Tokens are keyed by ``type:value`` (1.6 idTags get the type ``ISO14443`` only in name: the key is
``idTag:value``); statuses are the AuthorizationStatus strings of the version that wrote them.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from chargeplane.station.core.storage import Storage

ACCEPTED = "Accepted"


@dataclass(slots=True)
class AuthEntry:
    token: str
    token_type: str
    status: str
    expiry: str | None = None  # ISO 8601 (cacheExpiryDateTime / 1.6 expiryDate)
    group: str | None = None
    last_used: str | None = None

    def expired(self, now: datetime) -> bool:
        return self.expiry is not None and datetime.fromisoformat(self.expiry) <= now


def token_key(token: str, token_type: str) -> str:
    return f"{token_type}:{token}"


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


class AuthCache:
    """C10-C12: the latest IdTokenInfo of every token seen, whatever its status; LRU eviction with
    non-Accepted entries evicted first (C10.FR.?), lifetime counted from last use."""

    def __init__(self, storage: Storage, capacity: int = 100) -> None:
        self._storage = storage
        self.capacity = capacity
        raw = storage.get_state("auth_cache")
        self.entries: dict[str, AuthEntry] = {}
        if raw:
            self.entries = {token_key(e["token"], e["token_type"]): AuthEntry(**e) for e in json.loads(raw)}

    def lookup(self, token: str, token_type: str, now: datetime, lifetime_s: int) -> AuthEntry | None:
        """An entry, with the status Expired once past its expiry or its lifetime since last use (C10.FR.08)."""
        entry = self.entries.get(token_key(token, token_type))
        if entry is None:
            return None
        stale = (
            lifetime_s > 0
            and entry.last_used is not None
            and datetime.fromisoformat(entry.last_used) + timedelta(seconds=lifetime_s) <= now
        )
        if entry.status == ACCEPTED and (entry.expired(now) or stale):
            entry.status = "Expired"
            self._save()
        return entry

    def store(self, entry: AuthEntry, now: datetime) -> None:
        entry.last_used = now.isoformat()
        self.entries.pop(token_key(entry.token, entry.token_type), None)
        self.entries[token_key(entry.token, entry.token_type)] = entry
        while len(self.entries) > self.capacity:
            self._evict()
        self._save()

    def touch(self, entry: AuthEntry, now: datetime) -> None:
        self.store(entry, now)

    def clear(self) -> None:
        """C11: ClearCache."""
        self.entries.clear()
        self._save()

    def _evict(self) -> None:
        for key, entry in self.entries.items():  # insertion order = least recently used first
            if entry.status != ACCEPTED:
                del self.entries[key]
                return
        del self.entries[next(iter(self.entries))]

    def _save(self) -> None:
        self._storage.set_state("auth_cache", json.dumps([asdict(e) for e in self.entries.values()]))
