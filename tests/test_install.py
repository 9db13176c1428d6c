"""deploy/install.sh into a temporary root: it refuses unsupported systems before writing
anything, installs the venv, user, config, models link and unit, is idempotent, and an
upgrade replaces the package without touching config or data. The installed package then reads
a plate with the installed config and the shipped models."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "deploy" / "install.sh"
SAMPLE = ROOT / "sample_video"
PIP_WHEEL = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]


def install(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["sh", str(INSTALL), *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(os.environ, **(env or {})),
        timeout=600,
    )


def test_a_32_bit_system_is_refused_before_anything_is_written(tmp_path):
    done = install("--root", tmp_path, "--no-systemd", env={"ALPR_EDGE_MACHINE": "armv7l"})
    assert done.returncode == 3
    assert "32-bit" in done.stderr and "64-bit Raspberry Pi OS" in done.stderr
    assert list(tmp_path.iterdir()) == []


def test_python_older_than_310_is_refused(tmp_path):
    old = tmp_path / "python3.9"
    old.write_text('#!/bin/sh\n[ "$1" = -V ] && echo "Python 3.9.2"\nexit 1\n')
    old.chmod(0o755)
    target = tmp_path / "root"
    done = install("--root", target, "--no-systemd", "--python", old)
    assert done.returncode == 3 and "Python 3.9.2 is too old" in done.stderr
    assert not target.exists()


@pytest.mark.skipif(Path("/run/systemd/system").is_dir(), reason="this machine runs systemd")
def test_a_machine_without_systemd_is_refused_unless_told(tmp_path):
    done = install("--root", tmp_path, "--python", sys.executable)
    assert done.returncode == 3 and "systemd is not running" in done.stderr


def build_wheel(tree: Path, out: Path, version: str | None = None) -> Path:
    """The package's wheel, from a copy of the release files (at another version if asked)."""
    tree.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    for name in ("edge", "models", "config", "deploy"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    if version:
        text = (
            (tree / "pyproject.toml")
            .read_text()
            .replace('version = "0.1.0"', f'version = "{version}"')
        )
        (tree / "pyproject.toml").write_text(text)
        init = tree / "edge" / "__init__.py"
        init.write_text(init.read_text().replace('"0.1.0"', f'"{version}"'))
    subprocess.run(
        [*PIP_WHEEL, "-w", str(out), str(tree)],
        check=True,
        capture_output=True,
    )
    return next(out.glob(f"alpr_edge-{version or '0.1.0'}-*.whl"))


def plate_frame(path: Path) -> Path:
    """A frame of the sample clip with a readable plate, as a still photo."""
    import cv2

    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    seen = [f for f in truth["vehicles"][0]["frames"] if f.get("readable")]
    best = max(seen, key=lambda f: f["box"][2])
    video = cv2.VideoCapture(str(SAMPLE / "sample.mp4"))
    video.set(cv2.CAP_PROP_POS_FRAMES, best["frame"])
    ok, image = video.read()
    assert ok
    cv2.imwrite(str(path), image)
    return path


@pytest.mark.slow
def test_install_twice_then_upgrade_keeps_config_and_data_and_reads_a_plate(tmp_path):
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    if os.geteuid() == 0:  # a service user can be made inside the root
        (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
        (root / "etc" / "group").write_text("root:x:0:\nvideo:x:44:\nrender:x:105:\n")
        (root / "etc" / "shadow").write_text("root:*:19000:0:99999:7:::\n")
        (root / "etc" / "gshadow").write_text("root:*::\nvideo:!::\nrender:!::\n")
    first = build_wheel(tmp_path / "src1", tmp_path / "wheels")
    options = ("--root", root, "--no-systemd", "--no-deps", "--python", sys.executable)
    done = install(*options, "--wheel", first)
    assert done.returncode == 0, done.stdout + done.stderr
    etc, var = root / "etc" / "alpr-edge", root / "var" / "lib" / "alpr-edge"
    config = etc / "edge.toml"
    assert (etc / "models" / "detector.onnx").is_file()  # the link to the shipped models
    assert (etc / "agencies.toml").is_file() and var.is_dir()
    assert (root / "etc" / "systemd" / "system" / "alpr-edge.service").is_file()
    assert 'source = ""' in config.read_text()
    if os.geteuid() == 0:
        assert "alpr-edge:" in (root / "etc" / "passwd").read_text()
        assert "video:x:44:alpr-edge" in (root / "etc" / "group").read_text()
        assert config.stat().st_gid == var.stat().st_uid != 0

    again = install(*options, "--wheel", first)
    assert again.returncode == 0, again.stderr
    assert "upgrading" in again.stdout and "keeping /etc/alpr-edge/edge.toml" in again.stdout
    accounts = (root / "etc" / "passwd").read_text().splitlines()
    assert len([line for line in accounts if line.startswith("alpr-edge:")]) == (
        1 if os.geteuid() == 0 else 0
    )

    # The operator's edits and the unit's data survive an upgrade to a new release.
    config.write_text(config.read_text().replace("camera-1", "north-gate"))
    (var / "data").mkdir(exist_ok=True)
    (var / "data" / "audit.sqlite").write_bytes(b"the audit log")
    newer = build_wheel(tmp_path / "src2", tmp_path / "wheels", version="0.1.1")
    upgraded = install(*options, "--wheel", newer)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "alpr-edge 0.1.1" in upgraded.stdout
    assert 'id = "north-gate"' in config.read_text()
    assert (var / "data" / "audit.sqlite").read_bytes() == b"the audit log"

    # First read: the installed package, its installed config and the shipped models. The
    # dependencies come from this interpreter (--no-deps above).
    site = next((root / "opt" / "alpr-edge" / "venv" / "lib").glob("python3*/site-packages"))
    image = plate_frame(tmp_path / "frame.png")
    env = dict(os.environ, PYTHONPATH=str(site))
    read = subprocess.run(
        [sys.executable, "-m", "edge", "read", "--json", "--config", str(config), str(image)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert read.returncode == 0, read.stderr
    assert (
        str(site)
        in subprocess.run(
            [sys.executable, "-c", "import edge; print(edge.__file__)"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        ).stdout
    )
    assert json.loads(read.stdout)["plates"], read.stdout
