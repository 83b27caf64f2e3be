"""CSMS settings: documented defaults, overridden by ``CHARGEPLANE_*`` environment variables and the CLI.

:class:`CsmsSettings` holds what is global to the process (database, OCPP server, HTTP API, node). Each block
declares its own settings dataclass (``blocks/<block>/settings.py``), read from ``CHARGEPLANE_<BLOCK>_<FIELD>``
(``CHARGEPLANE_RESERVATION_CHECK_INTERVAL``) by the one generic reader :func:`read_dataclass`, which converts
the text by the field's type. A block's settings may keep older unprefixed names as aliases
(``ENV_ALIASES``, e.g. ``CHARGEPLANE_HEARTBEAT_INTERVAL``) so that existing deployments keep working.
"""

from __future__ import annotations

import enum
import ipaddress
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Annotated, Any, TypeVar

from typing_extensions import Doc

from chargeplane.transport.security import CertificateFiles, TlsSettings
from chargeplane.transport.server import ServerSettings

D = TypeVar("D")

ENV_PREFIX = "CHARGEPLANE_"


def csms_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the CSMS keeps files (the blocks' subdirectories): ``$CHARGEPLANE_DATA_DIR/csms``, else
    ``$XDG_DATA_HOME/chargeplane/csms``, else ``~/.local/share/chargeplane/csms``."""
    env = os.environ if environ is None else environ
    if env.get("CHARGEPLANE_DATA_DIR"):
        base = Path(env["CHARGEPLANE_DATA_DIR"])
    else:
        data = Path(env["XDG_DATA_HOME"]) if env.get("XDG_DATA_HOME") else Path.home() / ".local" / "share"
        base = data / "chargeplane"
    return base / "csms"


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


class SettingsError(ValueError):
    """A setting whose text does not convert to its field's type (names the variable and the value)."""


@dataclass(frozen=True)
class TlsFiles:
    """The OCPP server's TLS (wss, security profiles 2 and 3) as files: ``CHARGEPLANE_TLS_CERTIFICATE``, ..."""

    tls_certificate: Annotated[Path | None, Doc("CSMS certificate chain (PEM); enables wss")] = None
    tls_key: Annotated[Path | None, Doc("its private key (PEM)")] = None
    client_ca: Annotated[Path | None, Doc("CA bundle for station certificates (profile 3)")] = None
    operator_name: Annotated[str | None, Doc("required O (organization) of station certificates")] = None
    tls_certificate2: Annotated[
        Path | None,
        Doc(
            "a second CSMS certificate chain (PEM) of the other key type: an RSA and an ECDSA certificate "
            "together serve all four cipher suites of A00.FR.318 / 321"
        ),
    ] = None
    tls_key2: Annotated[Path | None, Doc("the second certificate's private key (PEM)")] = None

    def server_tls(self) -> TlsSettings | None:
        if self.tls_certificate is None:
            if self.tls_key is not None or self.client_ca is not None or self.tls_certificate2 is not None:
                raise SettingsError("tls_key, tls_certificate2 and client_ca need tls_certificate")
            return None
        if self.tls_key is None:
            raise SettingsError("tls_certificate needs tls_key")
        if (self.tls_certificate2 is None) != (self.tls_key2 is None):
            raise SettingsError("tls_certificate2 and tls_key2 go together")
        certificates = [CertificateFiles(self.tls_certificate, self.tls_key)]
        if self.tls_certificate2 is not None and self.tls_key2 is not None:
            certificates.append(CertificateFiles(self.tls_certificate2, self.tls_key2))
        return TlsSettings(
            certificates=tuple(certificates),
            client_ca=self.client_ca,
            operator_name=self.operator_name,
        )


@dataclass(frozen=True)
class CsmsSettings:
    database_url: Annotated[
        str, Doc("SQLAlchemy URL: sqlite+aiosqlite:///FILE or postgresql+asyncpg://user@host/db")
    ] = "sqlite+aiosqlite:///chargeplane.db"
    ocpp: ServerSettings = field(default_factory=ServerSettings)
    api_host: Annotated[str, Doc("HTTP API listen address")] = "127.0.0.1"
    api_port: Annotated[int, Doc("HTTP API port")] = 8080
    api_access_log: Annotated[
        bool, Doc("log one line per HTTP API request (logger chargeplane.api.access)")
    ] = False
    node_id: Annotated[str, Doc("this node's name (unique per node with NATS: letters, digits, - and _)")] = (
        "node-1"
    )
    nats_url: Annotated[
        str | None,
        Doc(
            "NATS server (with JetStream) of a cluster of CSMS nodes, e.g. nats://127.0.0.1:4222; unset: one "
            "node, in-process bus"
        ),
    ] = None
    presence_ttl: Annotated[
        float, Doc("seconds a node's claim on a station's socket lasts without refresh (with NATS)")
    ] = 15.0
    leader_ttl: Annotated[
        float,
        Doc(
            "seconds the leader's lease lasts without renewal (with NATS): the periodic jobs run on the leader "
            "only, and another node takes over at most this long (plus a third) after the leader died"
        ),
    ] = 10.0
    database_writers: Annotated[
        int,
        Doc(
            "group-commit writers working in parallel, each with its own connection; 0: automatic (1 on "
            "SQLite, which has one write lock anyway; 4 on PostgreSQL)"
        ),
    ] = 0
    metrics_public: Annotated[
        bool,
        Doc(
            "serve /metrics without a bearer token (else a token of scope read is needed); allowed only "
            "with api_host on a loopback address"
        ),
    ] = False
    readiness_timeout: Annotated[
        float, Doc("seconds each /readyz check (database query, OCPP server) may take before it fails")
    ] = 2.0
    loop_lag_interval: Annotated[
        float, Doc("seconds between two event-loop lag measurements (chargeplane_event_loop_lag_seconds)")
    ] = 0.5
    otel_traces: Annotated[
        bool,
        Doc(
            "an OpenTelemetry span per OCPP CALL handled (station id, action, message id) to the global tracer "
            "provider; needs the extra otel (opentelemetry-api), exporter set up the OpenTelemetry way"
        ),
    ] = False
    # The blocks' own settings objects (one per type); a block without one here runs with its defaults.
    blocks: tuple[object, ...] = ()

    def __post_init__(self) -> None:
        # Nothing open on a non-loopback interface without authentication (docs/METRICS.md).
        if self.metrics_public and not is_loopback(self.api_host):
            raise SettingsError(
                f"metrics_public needs api_host on a loopback address, not {self.api_host!r}: "
                "off loopback /metrics needs a bearer token of scope read"
            )
        if self.readiness_timeout <= 0 or self.loop_lag_interval <= 0:
            raise SettingsError("readiness_timeout and loop_lag_interval must be > 0")

    def block(self, kind: type[D]) -> D:
        """The settings of type ``kind`` given in :attr:`blocks`, else that type's defaults."""
        for candidate in self.blocks:
            if isinstance(candidate, kind):
                return candidate
        return kind()

    def with_blocks(self, *settings: object) -> CsmsSettings:
        """A copy where ``settings`` replace the block settings of the same types."""
        given = {type(s) for s in settings}
        return replace(self, blocks=tuple(s for s in self.blocks if type(s) not in given) + settings)

    def with_overrides(self, values: Mapping[str, Any]) -> CsmsSettings:
        """A copy with the given (non-None) values replaced; ``ocpp_*`` keys go to the OCPP server settings."""
        own = {f.name for f in fields(self)} - {"ocpp", "blocks"}
        ocpp_names = {f.name for f in fields(ServerSettings)}
        unknown = sorted(
            k for k in values if k not in own and not (k.startswith("ocpp_") and k[5:] in ocpp_names)
        )
        if unknown:  # a block's setting given here would be silently ignored: say so instead
            raise ValueError(f"not global settings: {', '.join(unknown)} (block settings go in with_blocks)")
        direct = {k: v for k, v in values.items() if k in own and v is not None}
        server = {
            k[5:]: v
            for k, v in values.items()
            if k.startswith("ocpp_") and k[5:] in ocpp_names and v is not None
        }
        return replace(self, ocpp=replace(self.ocpp, **server), **direct)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_environment(
    environ: Mapping[str, str] | None = None, base: CsmsSettings | None = None
) -> CsmsSettings:
    """Settings from ``CHARGEPLANE_DATABASE_URL``, ``CHARGEPLANE_API_PORT``, ``CHARGEPLANE_OCPP_PORT``, ... and
    every block's ``CHARGEPLANE_<BLOCK>_*``."""
    # Imported here: the blocks' modules import this one (for the policies and CsmsSettings).
    from chargeplane.csms.blocks import discover

    environ = os.environ if environ is None else environ
    base = base or CsmsSettings()
    settings = read_dataclass(CsmsSettings, environ, ENV_PREFIX, base=base)
    settings = replace(
        settings, ocpp=read_dataclass(ServerSettings, environ, ENV_PREFIX + "OCPP_", base=base.ocpp)
    )
    return settings.with_blocks(
        *(
            read_dataclass(
                block.settings,
                environ,
                f"{ENV_PREFIX}{block.name.upper()}_",
                base=base.block(block.settings),
                aliases=getattr(block.settings, "ENV_ALIASES", {}),
            )
            for block in discover()
        )
    )


def read_dataclass(
    kind: type[D],
    environ: Mapping[str, str],
    prefix: str,
    *,
    base: D | None = None,
    aliases: Mapping[str, str] | None = None,
) -> D:
    """``base`` (else ``kind()``) with the fields found in ``environ`` as ``<prefix><FIELD>``.

    ``aliases`` maps further variable names (without :data:`ENV_PREFIX`) to field names; the prefixed name
    wins when both are set. Scalars only (str, int, float, bool, enums, and ``X | None`` of those, where an
    empty value or ``none`` is None); a field of another type cannot be set from the environment."""
    if not is_dataclass(kind):
        raise TypeError(f"{kind.__name__} is not a dataclass")
    current = base if base is not None else kind()
    hints = typing.get_type_hints(kind)
    names = {f.name for f in fields(kind) if f.init}
    found: dict[str, tuple[str, str]] = {}
    for alias, name in (aliases or {}).items():
        if ENV_PREFIX + alias in environ:
            found[name] = (ENV_PREFIX + alias, environ[ENV_PREFIX + alias])
    for name in names:
        variable = prefix + name.upper()
        if variable in environ:
            found[name] = (variable, environ[variable])
    values = {name: convert(text, hints[name], variable) for name, (variable, text) in found.items()}
    return replace(current, **values)  # type: ignore[type-var]  # checked by is_dataclass above


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def convert(text: str, kind: Any, variable: str) -> Any:
    """``text`` as a value of the type ``kind``; :class:`SettingsError` naming ``variable`` if it is not one."""
    arguments = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in arguments:
        if text.strip().lower() in ("", "none"):
            return None
        inner = [a for a in arguments if a is not type(None)]
        if len(inner) == 1:
            return convert(text, inner[0], variable)
    try:
        if kind is bool:
            word = text.strip().lower()
            if word not in _TRUE | _FALSE:
                raise ValueError("expected one of " + ", ".join(sorted(_TRUE | _FALSE)))
            return word in _TRUE
        if kind in (int, float, str):
            return kind(text.strip() if kind is not str else text)
        if kind is Path:
            return Path(text.strip()).expanduser()
        if typing.get_origin(kind) is tuple and arguments[1:] == (Ellipsis,):
            return tuple(convert(item, arguments[0], variable) for item in text.split(",") if item.strip())
        if isinstance(kind, type) and issubclass(kind, enum.Enum):
            return kind(text.strip().lower() if _lowercase_values(kind) else text.strip())
    except ValueError as error:
        raise SettingsError(f"{variable}={text!r} is not a valid {_type_name(kind)}: {error}") from None
    raise SettingsError(f"{variable} cannot be set from the environment (type {_type_name(kind)})")


def _lowercase_values(kind: type[enum.Enum]) -> bool:
    return all(isinstance(m.value, str) and m.value == m.value.lower() for m in kind)


def _type_name(kind: Any) -> str:
    return getattr(kind, "__name__", str(kind))


def convert_value(value: object, kind: Any, name: str) -> Any:
    """A typed value (of a TOML file) as a value of ``kind``; text goes through :func:`convert`."""
    if isinstance(value, str):
        return convert(value, kind, name)
    arguments = typing.get_args(kind)
    if typing.get_origin(kind) in (typing.Union, types.UnionType) and type(None) in arguments:
        inner = [a for a in arguments if a is not type(None)]
        kind = inner[0] if len(inner) == 1 else kind
    if kind is bool and isinstance(value, bool):
        return value
    if kind in (int, float) and isinstance(value, int) and not isinstance(value, bool):
        return kind(value)
    if kind is float and isinstance(value, float):
        return value
    if typing.get_origin(kind) is tuple and isinstance(value, list):
        return tuple(convert_value(item, typing.get_args(kind)[0], name) for item in value)
    raise SettingsError(f"{name} = {value!r} is not a valid {_type_name(kind)}")
