"""Where the CSMS's settings come from, and their reference (``docs/SETTINGS.md``, ``serve --help``).

Every setting is a field of a settings dataclass with a ``Doc`` in its annotation: :class:`CsmsSettings`
(global), :class:`TlsFiles`, :class:`ServerSettings` (the OCPP server, ``ocpp_*``) and each block's own (found
by :func:`chargeplane.csms.blocks.discover`). One setting has one name everywhere:

* environment: ``CHARGEPLANE_`` + the name in capitals (``CHARGEPLANE_OCPP_HOST``,
  ``CHARGEPLANE_PROVISIONING_HEARTBEAT_INTERVAL``);
* settings file (``--config FILE.toml``): the name in lower case, a block's settings in the block's table
  (``ocpp_host = "127.0.0.1"``; ``[provisioning]`` ``heartbeat_interval = 60``). A key that is no setting
  is an error naming it.

Precedence: command-line options > environment > file > defaults.
"""

from __future__ import annotations

import tomllib
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from typing_extensions import Doc

from chargeplane.csms.settings import (
    ENV_PREFIX,
    CsmsSettings,
    SettingsError,
    TlsFiles,
    convert_value,
    from_environment,
    read_dataclass,
)
from chargeplane.transport.server import ServerSettings

# Fields that are containers of other settings, not settings themselves.
CONTAINERS = {(CsmsSettings, "ocpp"), (CsmsSettings, "blocks"), (ServerSettings, "tls")}

# Process-wide variables read outside the settings dataclasses (listed in the reference too).
PROCESS_VARIABLES = {
    "CHARGEPLANE_LOG_FORMAT": "text or json log lines (also --log-format)",
    "CHARGEPLANE_GC": "default: keep CPython's garbage-collector settings (serve paces them otherwise: csms/collector.py)",
    "CHARGEPLANE_EVENT_LOOP": "asyncio: the default event loop instead of uvloop",
    "CHARGEPLANE_DATA_DIR": "where `chargeplane station` keeps its state and the CSMS the logs stations upload (default "
    "~/.local/share/chargeplane)",
}


@dataclass(frozen=True)
class Section:
    title: str
    kind: type[Any]
    table: str | None  # the TOML table; None: top level
    prefix: str  # of the setting's name: "" (global), "ocpp_", or the block's table


@dataclass(frozen=True)
class Setting:
    section: Section
    field: str
    kind: Any
    default: object
    doc: str

    @property
    def name(self) -> str:
        """The name without ``CHARGEPLANE_``, lower case (``ocpp_host``, ``provisioning_heartbeat_interval``)."""
        return f"{self.section.prefix}{self.field}"

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def toml(self) -> str:
        table = self.section.table
        return f"[{table}] {self.field}" if table else self.name


def sections() -> list[Section]:
    # Imported here: the blocks' modules import chargeplane.csms.settings.
    from chargeplane.csms.blocks import discover

    found = [
        Section("Global", CsmsSettings, None, ""),
        Section("TLS (wss, security profiles 2 and 3)", TlsFiles, None, ""),
        Section("OCPP server", ServerSettings, None, "ocpp_"),
    ]
    for block in discover():
        if fields(block.settings):
            found.append(Section(f"Block {block.name}", block.settings, block.name, f"{block.name}_"))
    return found


def settings_reference() -> list[Setting]:
    """Every setting, in section order."""
    return [setting for section in sections() for setting in _settings_of(section)]


def _settings_of(section: Section) -> Iterator[Setting]:
    hints = typing.get_type_hints(section.kind, include_extras=True)
    defaults = section.kind()
    for item in fields(section.kind):
        if not item.init or (section.kind, item.name) in CONTAINERS:
            continue
        hint = hints[item.name]
        docs = [a.documentation for a in getattr(hint, "__metadata__", ()) if isinstance(a, Doc)]
        kind = typing.get_args(hint)[0] if docs else hint
        yield Setting(section, item.name, kind, getattr(defaults, item.name), docs[0] if docs else "")


# -- loading ----------------------------------------------------------------------------------------------


def read_file(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise SettingsError(f"cannot read {path}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{path}: {error}") from None


def from_file(data: Mapping[str, Any], origin: str = "settings file") -> CsmsSettings:
    """Settings from a parsed settings file over the defaults; :class:`SettingsError` names any unknown key."""
    by_key = {
        (s.section.table, s.name if s.section.table is None else s.field): s for s in settings_reference()
    }
    tables = {s.section.table for s in by_key.values() if s.section.table}
    values: dict[type[Any], dict[str, Any]] = {}
    for key, value in data.items():
        if isinstance(value, dict) and key in tables:
            entries: list[tuple[tuple[str | None, str], Any, str]] = [
                ((key, k), v, f"[{key}] {k}") for k, v in value.items()
            ]
        else:
            entries = [((None, key), value, key)]
        for lookup, item, label in entries:
            setting = by_key.get(lookup)
            if setting is None:
                raise SettingsError(f"{origin}: unknown setting {label!r}")
            converted = convert_value(item, setting.kind, f"{origin}: {label}")
            values.setdefault(setting.section.kind, {})[setting.field] = converted
    return _assemble(CsmsSettings(), values)


def _assemble(base: CsmsSettings, values: Mapping[type[Any], Mapping[str, Any]]) -> CsmsSettings:
    settings = replace(base, **values.get(CsmsSettings, {}))
    tls = TlsFiles(**values.get(TlsFiles, {})).server_tls()
    ocpp = replace(settings.ocpp, **values.get(ServerSettings, {}))
    settings = replace(settings, ocpp=replace(ocpp, tls=tls) if tls is not None else ocpp)
    blocks = [
        replace(settings.block(kind), **given)
        for kind, given in values.items()
        if kind not in (CsmsSettings, TlsFiles, ServerSettings)
    ]
    return settings.with_blocks(*blocks)


def load_settings(
    environ: Mapping[str, str], config: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> CsmsSettings:
    """Defaults < the settings file < ``CHARGEPLANE_*`` < ``overrides`` (the command line, global names)."""
    base = from_file(read_file(config), str(config)) if config is not None else CsmsSettings()
    settings = from_environment(environ, base)
    tls_base = _tls_files_of(base)
    tls = read_dataclass(TlsFiles, environ, ENV_PREFIX, base=tls_base)
    tls_overrides = {k: v for k, v in (overrides or {}).items() if k in TlsFiles.__dataclass_fields__}
    tls = replace(tls, **{k: v for k, v in tls_overrides.items() if v is not None})
    if tls != tls_base:
        settings = replace(settings, ocpp=replace(settings.ocpp, tls=tls.server_tls()))
    rest = {k: v for k, v in (overrides or {}).items() if k not in tls_overrides}
    return settings.with_overrides(rest)


def _tls_files_of(settings: CsmsSettings) -> TlsFiles:
    tls = settings.ocpp.tls
    if tls is None or not tls.certificates:
        return TlsFiles()
    first = tls.certificates[0]
    second = tls.certificates[1] if len(tls.certificates) > 1 else None
    return TlsFiles(
        first.certificate,
        first.private_key,
        tls.client_ca,
        tls.operator_name,
        None if second is None else second.certificate,
        None if second is None else second.private_key,
    )


# -- the reference ----------------------------------------------------------------------------------------


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(_shown(v) for v in value)
    return str(getattr(value, "value", value))


def help_epilog() -> str:
    """The settings for ``chargeplane serve --help``."""
    lines = ["settings (environment variable, default: meaning); in a --config file: lower case, no prefix,"]
    lines.append("a block's settings in its table (see docs/SETTINGS.md):")
    for setting in settings_reference():
        lines.append(f"  {setting.env}={_shown(setting.default)}")
        lines.append(f"      {setting.doc}")
    return "\n".join(lines)


def markdown() -> str:
    """``docs/SETTINGS.md`` (``scripts/settings_doc.py`` writes it; a test checks it is up to date)."""
    out = [
        "# Settings reference",
        "",
        "GENERATED by `scripts/settings_doc.py` from the settings dataclasses (never edit; a test checks it).",
        "",
        "Every setting of `chargeplane serve` has one name: `CHARGEPLANE_<NAME>` in the environment, and in a",
        "settings file (`chargeplane serve --config chargeplane.toml`, TOML) the name in lower case without",
        "the prefix, a block's settings in the block's table. Precedence: command-line options > environment",
        "> settings file > defaults. A key in the file that is no setting is an error naming it. Values of",
        "`X | None` take `none` (or an empty value in the environment); lists are comma-separated in the",
        "environment and TOML arrays in the file.",
        "",
        "```toml",
        "# chargeplane.toml",
        'database_url = "postgresql+asyncpg://chargeplane@db/chargeplane"',
        'ocpp_host = "127.0.0.1"   # OCPP on loopback only',
        "api_port = 8080",
        "",
        "[provisioning]",
        "heartbeat_interval = 60",
        "",
        "[authorization]",
        'unknown_tokens = "reject"',
        "```",
        "",
    ]
    for section in sections():
        out += [f"## {section.title}", "", "| environment | file | default | meaning |", "|---|---|---|---|"]
        for setting in _settings_of(section):
            default = _shown(setting.default).replace("|", "\\|")
            out.append(f"| `{setting.env}` | `{setting.toml}` | `{default}` | {setting.doc} |")
        out.append("")
    aliases = [
        (ENV_PREFIX + alias, f"{ENV_PREFIX}{section.prefix.upper()}{name.upper()}")
        for section in sections()
        for alias, name in sorted(getattr(section.kind, "ENV_ALIASES", {}).items())
    ]
    out += [
        "## Older names",
        "",
        "Still read from the environment (the new name wins when both are set):",
        "",
    ]
    out += [f"- `{old}`: `{new}`" for old, new in aliases]
    out += ["", "## Process", "", "Read from the environment only:", ""]
    out += [f"- `{name}`: {meaning}" for name, meaning in PROCESS_VARIABLES.items()]
    return "\n".join(out) + "\n"
