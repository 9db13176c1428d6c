"""`edge.plates` is the bottom layer: importing it, or the tracker built on it, stays light."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PLATES_MODULES = ("regions", "masks", "confusions", "text")


def _loaded_after(statement: str) -> set[str]:
    """Modules a fresh interpreter holds after `statement`, beyond those it starts with."""
    script = (
        "import sys\n"
        "before = set(sys.modules)\n"
        f"{statement}\n"
        "print('\\n'.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(ROOT)},
    )
    return set(out.stdout.split())


def test_plates_imports_only_the_standard_library():
    statement = "\n".join(f"import edge.plates.{name}" for name in PLATES_MODULES)
    loaded = _loaded_after(statement)
    assert {f"edge.plates.{name}" for name in PLATES_MODULES} <= loaded
    outside = {m for m in loaded if m.split(".")[0] not in sys.stdlib_module_names}
    assert outside == {"edge", "edge.plates"} | {f"edge.plates.{n}" for n in PLATES_MODULES}


def test_the_tracker_loads_neither_the_store_nor_opencv():
    loaded = _loaded_after("import edge.runtime.track")
    assert "edge.runtime.track" in loaded
    assert (
        not {"sqlite_utils", "cv2", "edge.runtime.store", "edge.runtime.hotlist", "edge.lab.synth"}
        & loaded
    )
