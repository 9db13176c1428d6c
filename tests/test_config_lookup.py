"""Without --config a command finds its config in the usual places, says which one it used,
and a command that needs no camera runs on the built-in defaults and the shipped models."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from edge.cli.common import load
from edge.errors import ConfigError
from edge.service import paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def nowhere(tmp_path, monkeypatch):
    """A working folder with no config, no $ALPR_EDGE_CONFIG and no system config."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(paths.CONFIG_ENV, raising=False)
    monkeypatch.setattr(paths, "SYSTEM_CONFIG", tmp_path / "etc" / "edge.toml")
    return tmp_path


def write_config(path: Path, camera_id: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f'[camera]\nid = "{camera_id}"\n', encoding="utf-8")
    return path


def test_the_environment_variable_comes_before_the_working_folder(nowhere, monkeypatch, caplog):
    write_config(nowhere / "config" / "edge.toml", "local")
    named = write_config(nowhere / "elsewhere.toml", "from-env")
    monkeypatch.setenv(paths.CONFIG_ENV, str(named))
    with caplog.at_level(logging.INFO):
        assert load(None).camera.id == "from-env"
    assert f"config: {named} (from $ALPR_EDGE_CONFIG)" in caplog.text


def test_the_working_folder_comes_before_the_system_config(nowhere, caplog):
    write_config(paths.SYSTEM_CONFIG, "system")
    write_config(nowhere / "config" / "edge.toml", "local")
    with caplog.at_level(logging.INFO):
        assert load(None).camera.id == "local"
    assert "(from the working folder)" in caplog.text


def test_the_system_config_is_the_last_place_looked(nowhere):
    write_config(paths.SYSTEM_CONFIG, "system")
    assert load(None).camera.id == "system"


def test_an_environment_variable_naming_a_missing_file_is_an_error(nowhere, monkeypatch):
    write_config(nowhere / "config" / "edge.toml", "local")
    monkeypatch.setenv(paths.CONFIG_ENV, str(nowhere / "missing.toml"))
    with pytest.raises(ConfigError, match="ALPR_EDGE_CONFIG"):
        load(None)


def test_an_explicit_config_is_used_as_given(nowhere):
    write_config(nowhere / "config" / "edge.toml", "local")
    assert load(write_config(nowhere / "given.toml", "given")).camera.id == "given"


def test_without_any_config_a_camera_command_says_where_it_looked(nowhere):
    with pytest.raises(ConfigError, match="no config file found"):
        load(None)


def test_without_any_config_a_read_runs_on_defaults_and_the_shipped_models(nowhere):
    config = load(None, defaults_ok=True)
    assert config.detector.model == ROOT / "models" / "detector.onnx"
    assert config.ocr.plate_config.is_file()
    assert config.camera.source == ""


def test_the_installed_share_folder_is_found_when_not_in_a_checkout(tmp_path, monkeypatch):
    share = tmp_path / "prefix" / paths.SHARE
    (share / "models").mkdir(parents=True)
    (share / "models" / "detector.onnx").write_bytes(b"onnx")
    monkeypatch.setattr(paths, "_CHECKOUT", tmp_path / "site-packages")
    monkeypatch.setattr(paths.sysconfig, "get_paths", lambda: {"data": str(tmp_path / "prefix")})
    assert paths.shipped_folder() == share
