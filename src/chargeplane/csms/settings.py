"""CSMS settings: documented defaults, overridden by ``CHARGEPLANE_*`` environment variables and the CLI."""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from chargeplane.transport.server import ServerSettings


class UnknownStationPolicy(enum.Enum):
    """What BootNotification answers a station that connected without a record (development mode only:
    with authentication on, an unknown station never gets past the handshake)."""

    REFUSE = "refuse"
    PENDING = "pending"
    ACCEPT = "accept"
    REJECT = "reject"


class UnknownTokenPolicy(enum.Enum):
    REJECT = "reject"  # unknown id tokens are Unknown (2.x) / Invalid (1.6): the default (issue #4)
    ACCEPT = "accept"  # free charging: any token is Accepted and recorded


@dataclass(frozen=True)
class CsmsSettings:
    database_url: str = "sqlite+aiosqlite:///chargeplane.db"
    ocpp: ServerSettings = field(default_factory=ServerSettings)
    api_host: str = "127.0.0.1"
    api_port: int = 8080
    node_id: str = "node-1"
    heartbeat_interval: int = 300  # seconds, sent in BootNotification Accepted (G02)
    boot_retry_interval: int = 60  # seconds, sent with Pending / Rejected (B02.FR.04, B03.FR.05)
    default_registration_status: str = "Accepted"  # for stations the operator creates without a status
    unknown_stations: UnknownStationPolicy = UnknownStationPolicy.REFUSE
    unknown_tokens: UnknownTokenPolicy = UnknownTokenPolicy.REJECT
    master_pass_group: str | None = (
        None  # C16: tokens of this group may stop any transaction, never start one
    )
    # Group-commit writers working in parallel, each with its own connection; 0: automatic (1 on SQLite,
    # which has one write lock anyway; 4 on PostgreSQL).
    database_writers: int = 0
    presence_flush_interval: float = 15.0  # seconds between writes of last-seen times
    reservation_check_interval: float = 30.0  # seconds between expiry sweeps of reservations

    def with_overrides(self, values: Mapping[str, Any]) -> CsmsSettings:
        """A copy with the given (non-None) values replaced; ``ocpp_*`` keys go to the OCPP server settings."""
        own = {f.name for f in fields(self)}
        ocpp_names = {f.name for f in fields(ServerSettings)}
        direct = {k: v for k, v in values.items() if k in own and v is not None and k != "ocpp"}
        server = {
            k[5:]: v
            for k, v in values.items()
            if k.startswith("ocpp_") and k[5:] in ocpp_names and v is not None
        }
        return replace(self, ocpp=replace(self.ocpp, **server), **direct)


_ENV_PREFIX = "CHARGEPLANE_"


def from_environment(
    environ: Mapping[str, str] | None = None, base: CsmsSettings | None = None
) -> CsmsSettings:
    """Settings from ``CHARGEPLANE_DATABASE_URL``, ``CHARGEPLANE_API_PORT``, ``CHARGEPLANE_OCPP_PORT``, ..."""
    environ = os.environ if environ is None else environ
    base = base or CsmsSettings()
    values: dict[str, Any] = {}
    types = {f.name: f.type for f in fields(CsmsSettings)} | {
        f"ocpp_{f.name}": f.type for f in fields(ServerSettings)
    }
    defaults = {f.name: getattr(base, f.name) for f in fields(CsmsSettings)} | {
        f"ocpp_{f.name}": getattr(base.ocpp, f.name) for f in fields(ServerSettings)
    }
    for key, text in environ.items():
        if not key.startswith(_ENV_PREFIX):
            continue
        name = key[len(_ENV_PREFIX) :].lower()
        if name not in types:
            continue
        values[name] = _convert(text, defaults[name])
    return base.with_overrides(values)


def _convert(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        return text.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(text)
    if isinstance(default, float):
        return float(text)
    if isinstance(default, enum.Enum):
        return type(default)(text)
    return text
