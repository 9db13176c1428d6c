"""Argument types and arguments that several command groups share, defined once."""

from __future__ import annotations

import argparse
import getpass
import logging
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from edge.clock import UTC
from edge.errors import ConfigError, InputError

if TYPE_CHECKING:
    from edge.config import EdgeConfig, SharingConfig

# None: looked up ($ALPR_EDGE_CONFIG, ./config/edge.toml, /etc/alpr-edge/edge.toml).
DEFAULT_CONFIG: Path | None = None

log = logging.getLogger(__name__)

_AGE = re.compile(r"^(\d+)([smhd])$")
_AGE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def moment(text: str) -> datetime:
    """An ISO date or date-time (UTC unless it says otherwise), or an age such as 2h or 7d."""
    age = _AGE.match(text)
    if age:
        return datetime.now(UTC) - timedelta(**{_AGE_UNITS[age.group(2)]: int(age.group(1))})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO date/time or an age like 30m, 2h, 7d"
        ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def purpose(text: str) -> str:
    """A reason for an audited access: blank is no reason at all."""
    if not text.strip():
        raise argparse.ArgumentTypeError("a purpose is required and must not be blank")
    return text.strip()


def positive_int(text: str) -> int:
    """A count that must be at least 1 (a limit of 0 or -1 is no limit)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {value}")
    return value


def add_config(parser: argparse.ArgumentParser, help: str = "edge.toml") -> None:
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        help=f"{help} (default: $ALPR_EDGE_CONFIG, else ./config/edge.toml, else "
        "/etc/alpr-edge/edge.toml)",
    )


def add_access_reason(parser: argparse.ArgumentParser) -> None:
    """Who is looking at stored reads and why: Civil Code 1798.90.52 asks for both on every
    access, so both go to the audit log."""
    parser.add_argument(
        "--purpose",
        required=True,
        type=purpose,
        help="why you are searching (written to the audit log; not blank)",
    )
    parser.add_argument(
        "--user", default=getpass.getuser(), help="who is searching (default: login name)"
    )


def load(path: Path | None, *, defaults_ok: bool = False) -> EdgeConfig:
    """The config named by --config, else the first one found in the usual places. A command
    that needs no camera (`defaults_ok`) runs on the built-in defaults and the shipped models
    when there is none; any other says where it looked."""
    from edge.config import builtin_config, load_config
    from edge.service.paths import find_config, searched, shipped_folder

    if path is None:
        path = find_config()
    if path is not None:
        return load_config(path)
    shipped = shipped_folder()
    if defaults_ok and shipped is not None:
        log.info("config: none found (%s): built-in defaults, models in %s", searched(), shipped)
        return builtin_config(shipped)
    raise ConfigError("edge.toml", None, f"no config file found (looked in {searched()})")


def sharing_of(config: EdgeConfig, hint: str = "") -> SharingConfig:
    """The [sharing] table of a config that must have one."""
    if config.sharing is None:
        raise InputError(f"{config.path}: no [sharing] table{hint}")
    return config.sharing
