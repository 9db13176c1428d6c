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

__all__ = ["load_toml", "load_toml_with_bytes", "tomllib"]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing, unreadable or malformed file raises ConfigError."""
    return load_toml_with_bytes(path)[0]


def load_toml_with_bytes(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """Parse a TOML file and return it with the bytes parsed, read once: a digest of those
    bytes names exactly the version parsed, even if the file is rewritten meanwhile."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, None, "file not found") from None
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, None, "not UTF-8 text") from None
    try:
        return tomllib.loads(text), raw
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, None, f"invalid TOML: {exc}") from None
