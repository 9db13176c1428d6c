"""The import rules that keep the layers of the tree honest.

plates <- config <- runtime stages <- audit <- share <- query <- console <- cli, on top of the
base modules (errors, logs, tomlfile). A module may import its own layer and the layers below
it, never one above. The lab (synth, train, evaluation, demo, bench) may import the runtime
and what lies below it; nothing imports the lab except the CLI's lab commands. Only the MQTT
sub-package imports paho, so every byte that leaves goes through the egress gate's outbox.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EDGE = ROOT / "edge"

# Lowest first. A module's layer is the longest prefix of its name listed here.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("edge", "edge.clock", "edge.errors", "edge.logs", "edge.tomlfile"),
    ("edge.plates",),
    ("edge.config",),
    ("edge.runtime",),
    ("edge.audit",),
    ("edge.share",),
    ("edge.query",),
    ("edge.console",),
    # Running as a service: notify protocol, health, install paths (only the CLI uses it).
    ("edge.service",),
    ("edge.cli", "edge.__main__"),
)
LAB = "edge.lab"
# The lab sits beside the unit: it may use everything up to the runtime stages.
LAB_MAY_IMPORT = 3
# The CLI's commands that run lab code (loaded in their handlers only).
LAB_COMMANDS = {"edge.cli.demo", "edge.cli.eval", "edge.cli.synth", "edge.cli.train"}
MQTT = "edge.share.mqtt"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer_of(name: str) -> int | None:
    """The layer index, or None for the lab."""
    if name == LAB or name.startswith(LAB + "."):
        return None
    best, found = -1, 0
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > best:
                best, found = len(prefix), index
    assert best >= 0, f"{name} is in no layer: add it to LAYERS"
    return found


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in the file, at any depth (handlers import lazily)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(EDGE.rglob("*.py"))


def test_every_module_is_in_a_layer_or_the_lab():
    for path in MODULES:
        layer_of(module_name(path))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_point_down_the_layers(path):
    importer = module_name(path)
    own = layer_of(importer)
    wrong = []
    for line, imported in imports_of(path):
        if imported != "edge" and not imported.startswith("edge."):
            continue
        target = layer_of(imported)
        if target is None:  # the lab
            allowed = own is None or importer in LAB_COMMANDS
        elif own is None:
            allowed = target <= LAB_MAY_IMPORT
        else:
            allowed = target <= own
        if not allowed:
            wrong.append(f"line {line}: {imported}")
    assert not wrong, f"{importer} imports upwards: {wrong}"


def test_only_the_mqtt_subpackage_imports_paho():
    importers = {
        module_name(path)
        for path in MODULES
        for _, imported in imports_of(path)
        if imported == "paho" or imported.startswith("paho.")
    }
    assert importers and all(name.startswith(MQTT + ".") for name in importers), importers


def test_the_plates_layer_imports_nothing_but_the_standard_library():
    for path in (EDGE / "plates").rglob("*.py"):
        for line, imported in imports_of(path):
            top = imported.split(".")[0]
            assert top in sys.stdlib_module_names or imported.startswith("edge.plates"), (
                f"{module_name(path)} line {line} imports {imported}"
            )


def test_help_loads_no_model_runtime_and_no_mqtt():
    script = (
        "import sys\n"
        "from edge.cli import build_parser\n"
        "build_parser().format_help()\n"
        "print('\\n'.join(sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    loaded = set(out.stdout.split())
    heavy = {"onnxruntime", "torch", "cv2", "numpy", "paho", "sqlite_utils"}
    assert not {m.split(".")[0] for m in loaded} & heavy


def test_the_console_imports_nothing_that_sends_data_off_the_device():
    sending = ("edge.share", "edge.query")
    for path in (EDGE / "console").rglob("*.py"):
        for line, imported in imports_of(path):
            assert not any(imported == s or imported.startswith(s + ".") for s in sending), (
                f"{module_name(path)} line {line} imports {imported}"
            )
