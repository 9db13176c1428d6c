"""Where the development data sets live (never part of the product or the repository).

`ALPR_SHARED_DATA` overrides the default, `../shared/data` beside the project checkout.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "ALPR_SHARED_DATA"
_DEFAULT = Path(__file__).resolve().parents[3] / "shared" / "data"


def shared_data_dir() -> Path:
    """The configured data folder; it may not exist (callers decide whether to skip)."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured) if configured else _DEFAULT


def shared_data_path(*parts: str) -> Path | None:
    """A path under the data folder, or None when it is absent on this machine."""
    path = shared_data_dir().joinpath(*parts)
    return path if path.exists() else None
