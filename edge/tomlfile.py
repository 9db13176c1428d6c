"""Reading TOML configuration files with errors that name the file.

`tomllib` is in the standard library from Python 3.11; JetPack 6 ships 3.10, where the same
parser comes from the `tomli` package (a dependency on 3.10 only). Other modules that parse
TOML import `tomllib` from here, so the choice is made once.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from edge.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on JetPack 6 (Python 3.10)
    import tomli as tomllib

__all__ = ["load_toml", "tomllib"]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file raises ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None
