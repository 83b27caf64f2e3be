"""Settings (issue "Field readiness" #6): every setting documented (docs/SETTINGS.md, serve --help), one name
in the environment and in the TOML settings file, precedence CLI > environment > file > defaults."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path

import pytest

from chargeplane.cli import _serve_settings, build_parser
from chargeplane.csms.blocks.authorization.settings import AuthorizationSettings
from chargeplane.csms.blocks.provisioning.settings import ProvisioningSettings
from chargeplane.csms.config import (
    CONTAINERS,
    from_file,
    load_settings,
    markdown,
    sections,
    settings_reference,
)
from chargeplane.csms.settings import SettingsError, UnknownTokenPolicy
from chargeplane.ocpp.versions import Version

DOC = Path(__file__).resolve().parents[2] / "docs" / "SETTINGS.md"


def every_field() -> list[tuple[str, str]]:
    return [
        (section.kind.__name__, item.name)
        for section in sections()
        for item in fields(section.kind)
        if item.init and (section.kind, item.name) not in CONTAINERS  # derived fields are no settings
    ]


def test_docs_settings_md_is_generated_and_up_to_date() -> None:
    assert DOC.read_text() == markdown(), "run python scripts/settings_doc.py"


def test_every_setting_has_a_meaning_and_appears_in_the_reference_and_in_serve_help() -> None:
    reference = settings_reference()
    assert {(s.section.kind.__name__, s.field) for s in reference} == set(every_field())
    serve = build_parser()._subparsers._group_actions[0].choices["serve"]  # type: ignore[union-attr]
    assert isinstance(serve, argparse.ArgumentParser)
    help_text = serve.format_help()
    text = DOC.read_text()
    for setting in reference:
        assert setting.doc, setting.env
        assert f"`{setting.env}`" in text, setting.env
        assert setting.env in help_text, setting.env
    for name in ("CHARGEPLANE_OCPP_HOST", "CHARGEPLANE_AUTHORIZATION_UNKNOWN_TOKENS"):
        assert name in help_text
    assert "CHARGEPLANE_PROVISIONING_HEARTBEAT_INTERVAL" in help_text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "chargeplane.toml"
    path.write_text(text)
    return path


def test_a_settings_file_uses_the_same_names_with_a_table_per_block(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        """
database_url = "sqlite+aiosqlite:///x.db"
api_port = 8081
ocpp_host = "127.0.0.1"
ocpp_versions = ["2.0.1", "1.6"]
ocpp_ping_interval = 20
tls_certificate = "cert.pem"
tls_key = "key.pem"

[provisioning]
heartbeat_interval = 60

[authorization]
unknown_tokens = "accept"
""",
    )
    settings = load_settings({}, config)
    assert (settings.database_url, settings.api_port) == ("sqlite+aiosqlite:///x.db", 8081)
    assert settings.ocpp.host == "127.0.0.1"
    assert settings.ocpp.versions == (Version.V201, Version.V16)
    assert settings.ocpp.ping_interval == 20.0
    assert settings.ocpp.tls is not None
    assert settings.ocpp.tls.certificates[0].private_key == Path("key.pem")
    assert settings.block(ProvisioningSettings).heartbeat_interval == 60
    assert settings.block(AuthorizationSettings).unknown_tokens is UnknownTokenPolicy.ACCEPT


def test_precedence_is_command_line_then_environment_then_file_then_defaults(tmp_path: Path) -> None:
    config = write(tmp_path, "api_port = 8081\nocpp_port = 9001\n[provisioning]\nheartbeat_interval = 60\n")
    environ = {"CHARGEPLANE_OCPP_PORT": "9002", "CHARGEPLANE_PROVISIONING_HEARTBEAT_INTERVAL": "70"}
    settings = load_settings(environ, config, {"api_port": 8082})
    assert settings.api_port == 8082
    assert settings.ocpp.port == 9002
    assert settings.block(ProvisioningSettings).heartbeat_interval == 70
    assert settings.api_host == "127.0.0.1"
    args = build_parser().parse_args(["serve", "--config", str(config), "--ocpp-port", "9003"])
    assert _serve_settings(args).ocpp.port == 9003


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("api_prot = 1\n", "'api_prot'"),
        ("[provisioning]\nheartbeat = 1\n", "'[provisioning] heartbeat'"),
        ("[nosuchblock]\nx = 1\n", "'nosuchblock'"),
        ("heartbeat_interval = 1\n", "'heartbeat_interval'"),  # a block's setting belongs in its table
        ("api_port = 'eighty'\n", "api_port"),
        ("ocpp_compression = 1\n", "ocpp_compression"),
    ],
)
def test_a_key_that_is_no_setting_or_a_wrong_value_is_an_error_naming_it(
    tmp_path: Path, text: str, named: str
) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        load_settings({}, write(tmp_path, text))


def test_serve_ends_with_one_line_on_a_bad_settings_file(tmp_path: Path) -> None:
    args = build_parser().parse_args(["serve", "--config", str(write(tmp_path, "nope = 1\n"))])
    with pytest.raises(SystemExit, match="unknown setting 'nope'"):
        _serve_settings(args)


def test_from_file_over_the_defaults_only() -> None:
    assert from_file({}).api_port == 8080
