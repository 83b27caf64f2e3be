"""The storage the core persists through: device-model values, small state records, the offline queue.

The core never touches a file or database itself; the runtime passes an implementation (SQLite in
:mod:`chargeplane.station.runtime`), tests pass :class:`MemoryStorage`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class QueuedRecord:
    """One durable queue entry: the action name and the request as JSON (wire names)."""

    key: int
    action: str
    payload: bytes


class Storage(Protocol):
    def load_values(self) -> dict[str, str]: ...

    def save_value(self, key: str, value: str) -> None: ...

    def get_state(self, key: str) -> str | None: ...

    def set_state(self, key: str, value: str | None) -> None: ...

    def queue_load(self) -> list[QueuedRecord]: ...

    def queue_push(self, action: str, payload: bytes) -> int: ...

    def queue_replace(self, key: int, payload: bytes) -> None: ...

    def queue_remove(self, key: int) -> None: ...


class MemoryStorage:
    """A :class:`Storage` in memory (tests; a station without persistence). Share one to "restart"."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.state: dict[str, str] = {}
        self.queue: dict[int, QueuedRecord] = {}
        self._next = 1

    def load_values(self) -> dict[str, str]:
        return dict(self.values)

    def save_value(self, key: str, value: str) -> None:
        self.values[key] = value

    def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    def set_state(self, key: str, value: str | None) -> None:
        if value is None:
            self.state.pop(key, None)
        else:
            self.state[key] = value

    def queue_load(self) -> list[QueuedRecord]:
        return [self.queue[key] for key in sorted(self.queue)]

    def queue_push(self, action: str, payload: bytes) -> int:
        key = self._next
        self._next += 1
        self.queue[key] = QueuedRecord(key, action, payload)
        return key

    def queue_replace(self, key: int, payload: bytes) -> None:
        record = self.queue.get(key)
        if record is not None:
            self.queue[key] = QueuedRecord(key, record.action, payload)

    def queue_remove(self, key: int) -> None:
        self.queue.pop(key, None)
