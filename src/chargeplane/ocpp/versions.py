"""OCPP versions and WebSocket subprotocol negotiation (OCPP-J 1.6 §3.1.2, 2.0.1 Part 4 §3.1.2, 2.1 Part 4 §3.3)."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Version(enum.Enum):
    """An OCPP version this platform speaks. Members are ordered oldest first."""

    V16 = "1.6"
    V201 = "2.0.1"
    V21 = "2.1"

    @property
    def subprotocol(self) -> str:
        """The registered ``Sec-WebSocket-Protocol`` name, e.g. ``ocpp2.0.1``."""
        return f"ocpp{self.value}"

    @property
    def is_2x(self) -> bool:
        return self is not Version.V16

    @classmethod
    def from_subprotocol(cls, name: str) -> Version | None:
        return _BY_SUBPROTOCOL.get(name)

    @classmethod
    def parse(cls, text: str) -> Version:
        """A version from ``1.6``, ``2.0.1``, ``2.1`` or their subprotocol names; ValueError otherwise."""
        version = _BY_SUBPROTOCOL.get(text) or _BY_SUBPROTOCOL.get(f"ocpp{text}")
        if version is None:
            raise ValueError(f"unknown OCPP version {text!r}; expected one of 1.6, 2.0.1, 2.1")
        return version


_BY_SUBPROTOCOL = {version.subprotocol: version for version in Version}
_NEWEST_FIRST = tuple(reversed(Version))


def negotiate(offered: Iterable[str], supported: Iterable[Version]) -> Version | None:
    """The newest version that the client offered and the server supports, or ``None``.

    The server picks by its own preference (newest first), not by the client's order: a CSMS that speaks
    2.1 serves a 2.1-capable station with 2.1 even if the station listed 2.0.1 first. Unknown names
    (``ocpp1.5``, junk) are ignored.
    """
    offered_names = set(offered)
    supported_set = set(supported)
    for version in _NEWEST_FIRST:
        if version in supported_set and version.subprotocol in offered_names:
            return version
    return None
