"""Python 3.10 stays supported (JetPack 6 ships it) although no 3.10 interpreter runs here:
vermin reads every module of `edge` and names each construct newer than 3.10; there must be
none (`edge.clock.UTC` stands in for 3.11's `datetime.UTC`, `edge.tomlfile` for `tomllib`).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

VERMIN_ARGS = ["--target=3.10-", "--no-tips", "--violations"]


def vermin_findings(paths: list[str]) -> set[tuple[str, str]]:
    pytest.importorskip("vermin")
    runner = "import sys; from vermin import main; sys.argv[0] = 'vermin'; sys.exit(main())"
    done = subprocess.run(
        [sys.executable, "-c", runner, *VERMIN_ARGS, *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    findings, module = set(), None
    for line in done.stdout.splitlines():
        head = re.match(r"^\S.*?\s+(\S+\.py)$", line)
        if head:
            module = Path(head.group(1)).resolve()
            module = module.relative_to(ROOT).as_posix() if ROOT in module.parents else module.name
        elif line.startswith("  ") and " requires " in line and module:
            findings.add((module, line.strip().split(" requires ")[0]))
    assert done.returncode == 0 or findings, done.stdout + done.stderr
    return findings


def test_edge_uses_nothing_newer_than_python_310():
    assert vermin_findings(["edge"]) == set(), "constructs that need Python 3.11 or later"


def test_vermin_names_a_311_construct(tmp_path):
    # The check above can fail: a module using tomllib without the 3.10 fallback is found.
    module = tmp_path / "probe.py"
    module.write_text("import tomllib\n", encoding="utf-8")
    assert ("probe.py", "'tomllib' module") in vermin_findings([str(module)])
