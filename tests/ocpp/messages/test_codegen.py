"""scripts/codegen.py: naming, deduplication of definitions, refusal of unknown keywords."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.ocpp.messages.conftest import REPO


def _load_codegen() -> ModuleType:
    spec = importlib.util.spec_from_file_location("codegen", REPO / "scripts" / "codegen.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["codegen"] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module


codegen = _load_codegen()


@pytest.mark.parametrize(
    ("wire", "attr"),
    [
        ("evseId", "evse_id"),
        ("customData", "custom_data"),
        ("EVSE", "evse"),
        ("v2xChargingParameters", "v2x_charging_parameters"),
        ("iso15118SchemaVersion", "iso15118_schema_version"),
        ("type", "type"),
        ("from", "from_"),
        ("list", "list_"),
    ],
)
def test_snake_case(wire: str, attr: str) -> None:
    assert codegen.snake_case(wire) == attr


@pytest.mark.parametrize(
    ("value", "member"),
    [
        ("Energy.Active.Import.Register", "ENERGY_ACTIVE_IMPORT_REGISTER"),
        ("L1-N", "L1_N"),
        ("SuspendedEVSE", "SUSPENDED_EVSE"),
        ("V2GCertificate", "V2G_CERTIFICATE"),
        ("eMAID", "E_MAID"),
        ("kWh", "K_WH"),
        ("AC_single_phase", "AC_SINGLE_PHASE"),
        ("s309-1P-16A", "S309_1P_16A"),
        ("ISO14443", "ISO14443"),
    ],
)
def test_upper_snake(value: str, member: str) -> None:
    assert codegen.upper_snake(value) == member


def _write(folder: Path, name: str, schema: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(schema), encoding="utf-8")


def _message(definitions: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "http://json-schema.org/draft-06/schema#",
        "definitions": definitions,
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
    }


def _builder(tmp_path: Path) -> Any:
    spec = codegen.VersionSpec("2.0.1", "v201", "test", {"Foo": codegen.BOTH}, {}, schema_root=tmp_path)
    return codegen.Builder(spec)


def test_identical_definitions_share_one_class_and_different_ones_are_renamed(tmp_path: Path) -> None:
    bar_int = {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "integer"}}}
    bar_str = {"type": "object", "additionalProperties": False, "properties": {"a": {"type": "string"}}}
    mode = {"type": "string", "additionalProperties": False, "enum": ["On", "Off"]}
    refs = {"bar": {"$ref": "#/definitions/BarType"}, "mode": {"$ref": "#/definitions/ModeEnumType"}}
    _write(tmp_path / "v201", "FooRequest.json", _message({"BarType": bar_int, "ModeEnumType": mode}, refs))
    _write(tmp_path / "v201", "FooResponse.json", _message({"BarType": bar_str, "ModeEnumType": mode}, refs))

    builder = _builder(tmp_path)
    builder.build()

    assert list(builder.enums) == ["ModeEnumType"]  # identical: deduplicated
    assert list(builder.datatypes) == ["BarType", "BarType2"]  # same name, different content
    response_bar = builder.messages["FooResponse"].fields[0].type
    assert response_bar == codegen.Named("struct", "BarType2")
    assert any("generated as BarType2" in note for note in builder.notes)


def test_unknown_keywords_are_refused(tmp_path: Path) -> None:
    _write(tmp_path / "v201", "FooRequest.json", _message({}, {"a": {"type": "string", "pattern": "^x$"}}))
    _write(tmp_path / "v201", "FooResponse.json", _message({}, {}))
    with pytest.raises(codegen.SchemaError, match="unsupported keywords"):
        _builder(tmp_path).build()


def test_direction_table_must_match_the_schemas(tmp_path: Path) -> None:
    _write(tmp_path / "v201", "FooRequest.json", _message({}, {}))
    _write(tmp_path / "v201", "FooResponse.json", _message({}, {}))
    _write(tmp_path / "v201", "BazRequest.json", _message({}, {}))
    _write(tmp_path / "v201", "BazResponse.json", _message({}, {}))
    with pytest.raises(codegen.SchemaError, match=r"no direction for \['Baz'\]"):
        _builder(tmp_path).build()


def test_generated_code_is_up_to_date() -> None:
    """`codegen.py --check` passes on the tree as committed (make test runs it too)."""
    result = subprocess.run(
        [sys.executable, "scripts/codegen.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
