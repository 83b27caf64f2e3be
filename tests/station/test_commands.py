"""Where ``chargeplane station`` keeps its state by default: a data directory, never the working directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from chargeplane.station.commands import data_directory, default_station_database


def test_data_dir_setting_wins(tmp_path: Path) -> None:
    env = {"CHARGEPLANE_DATA_DIR": str(tmp_path / "own"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    assert data_directory(env) == tmp_path / "own"


def test_xdg_data_home_then_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert data_directory({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "chargeplane"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_directory({}) == tmp_path / "home" / ".local" / "share" / "chargeplane"


def test_station_database_under_the_data_dir_with_a_safe_name(tmp_path: Path) -> None:
    path = default_station_database("CS/01 x", {"CHARGEPLANE_DATA_DIR": str(tmp_path)})
    assert path == tmp_path / "stations" / "CS%2F01%20x.db"
    assert path.parent.is_dir()
    assert Path.cwd() not in path.parents
