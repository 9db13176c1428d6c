#!/usr/bin/env python3
"""Prove every runtime dependency installs on a 64-bit Pi or a Jetson without a compiler.

For CPython 3.10 (JetPack 6) and 3.11 (Raspberry Pi OS Bookworm), `pip download` the package's
runtime dependencies as binary wheels only, for manylinux aarch64, into a temporary folder. A
dependency with no such wheel fails here rather than on the pole. Needs the package index.
Usage: python3 deploy/check_wheels.py [--python 3.10 --python 3.11]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64", "manylinux_2_34_aarch64")


def runtime_dependencies() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from edge.tomlfile import load_toml

    return list(load_toml(ROOT / "pyproject.toml")["project"]["dependencies"])


def for_target(requirements: list[str], python: str) -> list[str]:
    """The requirements that apply on an aarch64 Linux CPython `python`, markers evaluated for
    it: pip evaluates them for the interpreter running it, so it would skip e.g.
    `tomli; python_version < "3.11"` when run on 3.11 for a 3.10 target."""
    try:
        from packaging.requirements import Requirement
    except ImportError:  # pip's own copy
        from pip._vendor.packaging.requirements import Requirement

    target = {
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_machine": "aarch64",
        "platform_system": "Linux",
        "sys_platform": "linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    kept = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(target):
            requirement.marker = None
            kept.append(str(requirement))
    return kept


def check(python: str, requirements: list[str]) -> tuple[bool, str]:
    abi = "cp" + python.replace(".", "")
    requirements = for_target(requirements, python)
    with tempfile.TemporaryDirectory(prefix=f"wheels-{abi}-") as folder:
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:"]
        for platform in PLATFORMS:
            command += ["--platform", platform]
        command += ["--python-version", python, "--implementation", "cp", "--abi", abi]
        command += ["--abi", "abi3", "--abi", "none", "-d", folder, *requirements]
        done = subprocess.run(command, capture_output=True, text=True)
        wheels = sorted(p.name for p in Path(folder).glob("*.whl"))
    if done.returncode != 0:
        return False, done.stderr.strip().splitlines()[-1] if done.stderr else "pip failed"
    return True, f"{len(wheels)} wheels: " + ", ".join(wheels)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", action="append", help="CPython versions (default 3.10, 3.11)")
    args = parser.parse_args()
    requirements = runtime_dependencies()
    failed = False
    for python in args.python or ["3.10", "3.11"]:
        ok, detail = check(python, requirements)
        print(f"cp{python.replace('.', '')} aarch64: {'ok' if ok else 'MISSING'}: {detail}")
        failed |= not ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
