"""Where an installed unit finds its config and the models it ships with.

A development checkout keeps them in `config/` and `models/` beside `edge/`; a wheel installs
the same two folders under `<prefix>/share/alpr-edge/` (pyproject's data-files), so the paths
in the shipped `edge.toml` (`../models/...`) hold in both. Without `--config` a command looks
in the usual places in order and logs which one it used.
"""

from __future__ import annotations

import logging
import os
import sysconfig
from pathlib import Path

from edge.errors import ConfigError

log = logging.getLogger(__name__)

CONFIG_ENV = "ALPR_EDGE_CONFIG"
LOCAL_CONFIG = Path("config/edge.toml")
SYSTEM_CONFIG = Path("/etc/alpr-edge/edge.toml")
# The models and example configs shipped with the package (see pyproject's data-files).
SHARE = Path("share/alpr-edge")
_CHECKOUT = Path(__file__).resolve().parents[2]


def shipped_folder() -> Path | None:
    """The folder holding the shipped `models/` and `config/`: the checkout this code runs
    from, else the installation's data folder; None when neither has the models."""
    for folder in (_CHECKOUT, Path(sysconfig.get_paths()["data"]) / SHARE):
        if (folder / "models" / "detector.onnx").is_file():
            return folder
    return None


def config_candidates() -> list[tuple[Path, str]]:
    """(path, why) in the order they are tried."""
    found = []
    if os.environ.get(CONFIG_ENV):
        found.append((Path(os.environ[CONFIG_ENV]), f"${CONFIG_ENV}"))
    found += [(LOCAL_CONFIG, "the working folder"), (SYSTEM_CONFIG, "the system config")]
    return found


def find_config() -> Path | None:
    """The first config file of `config_candidates()`, or None. A `$ALPR_EDGE_CONFIG` naming a
    missing file is an error, not a reason to quietly use another file."""
    for path, why in config_candidates():
        if why.startswith("$"):
            if not path.is_file():
                raise ConfigError(path, None, f"named by ${CONFIG_ENV}: file not found")
        elif not path.is_file():
            continue
        log.info("config: %s (from %s)", path, why, extra={"config": str(path), "from": why})
        return path
    return None


def searched() -> str:
    return ", ".join(str(path) for path, _ in config_candidates())
