import subprocess
import sys

from edge import __version__
from edge.errors import ConfigError
from edge.tomlfile import load_toml


def test_version_is_printed_by_the_console_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "edge", "--version"], capture_output=True, text=True, check=True
    )
    assert __version__ in out.stdout


def test_unknown_command_exits_with_bad_input_code():
    out = subprocess.run(
        [sys.executable, "-m", "edge", "no-such-command"], capture_output=True, text=True
    )
    assert out.returncode == 2
    assert "no-such-command" in out.stderr


def test_malformed_toml_error_names_the_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("key = [unclosed\n")
    try:
        load_toml(bad)
    except ConfigError as exc:
        assert str(bad) in str(exc)
        assert "invalid TOML" in str(exc)
    else:
        raise AssertionError("malformed TOML was accepted")


def test_missing_config_file_is_reported_as_not_found(tmp_path):
    missing = tmp_path / "absent.toml"
    try:
        load_toml(missing)
    except ConfigError as exc:
        assert exc.exit_code == 2
        assert "file not found" in str(exc)
    else:
        raise AssertionError("missing file was accepted")
