"""Load `edge.toml` once into typed, validated dataclasses (see `schema` for every key)."""

from __future__ import annotations

import dataclasses
import os
import re
import typing
from pathlib import Path
from typing import Any

from edge.config.schema import (
    LIST_SECTIONS,
    OPTIONAL_SECTIONS,
    SECTIONS,
    CameraConfig,
    DetectorConfig,
    EdgeConfig,
    HealthConfig,
    HotlistConfig,
    MotionConfig,
    OcrConfig,
    Point,
    Polygon,
    SharingConfig,
    StoreConfig,
    TrackConfig,
)
from edge.errors import ConfigError
from edge.tomlfile import load_toml

# Source prefixes that are not file paths (see edge.runtime.capture).
NON_PATH_SOURCES = (
    "rtsp://",
    "rtsps://",
    "rtmp://",
    "http://",
    "https://",
    "gst:",
    "v4l2:",
    "/dev/",
)
# Keys that an earlier release read in another place: the error says where they went.
MOVED_KEYS = {
    # Retention is the unit's own policy, not a term of sharing (issue 16).
    "sharing.retention_days": "[store] retention_days",
}

__all__ = [
    "CameraConfig",
    "DetectorConfig",
    "EdgeConfig",
    "HealthConfig",
    "HotlistConfig",
    "MotionConfig",
    "OcrConfig",
    "SharingConfig",
    "StoreConfig",
    "TrackConfig",
    "builtin_config",
    "config_from_table",
    "describe",
    "load_config",
    "parse_entries",
    "parse_section",
]


def load_config(path: str | Path) -> EdgeConfig:
    """Parse and validate a config file; any problem raises ConfigError(file, key, reason)."""
    path = Path(path)
    try:
        raw = load_toml(path)
    except ConfigError as exc:
        _raise_if_both_forms(path, exc)
        raise
    return config_from_table(raw, path)


def builtin_config(folder: Path) -> EdgeConfig:
    """Every key at its default, relative paths (the models) taken from `folder`: what a
    command that needs no camera (`alpr-edge read`) runs on when no config file is found."""
    return config_from_table({}, Path(folder) / "(built-in defaults)")


def config_from_table(raw: dict[str, Any], path: Path) -> EdgeConfig:
    """A parsed edge.toml as validated dataclasses; `path` names it in errors and is where
    relative paths are taken from."""
    unknown = set(raw) - set(SECTIONS) - set(OPTIONAL_SECTIONS)
    if unknown:
        raise ConfigError(path, sorted(unknown)[0], f"unknown section (known: {_known()})")
    sections: dict[str, Any] = {}
    for name in SECTIONS:
        if name not in LIST_SECTIONS:
            sections[name] = parse_section(name, raw.get(name, {}), path)
    for name in OPTIONAL_SECTIONS:
        if name in raw:
            sections[name] = parse_section(name, raw[name], path)
    cameras = [
        dataclasses.replace(camera, source=resolve_source(camera.source, path))
        for camera in parse_entries("camera", _inherit_motion(raw), path)
    ]
    _check_unique_ids(path, cameras)
    return EdgeConfig(path=path, camera=cameras[0], more_cameras=tuple(cameras[1:]), **sections)


def parse_entries(name: str, value: Any, path: str | Path) -> list[Any]:
    """A section that may be one table (`[camera]`) or an array of tables (`[[camera]]`), as
    a list of its typed dataclasses; keys of entry i are named `camera[i].key` in errors."""
    path = Path(path)
    if not isinstance(value, list):
        return [parse_section(name, value, path)]
    if not value:
        raise ConfigError(path, name, f"needs at least one [[{name}]] entry")
    cls = SECTIONS[name]
    entries = []
    for index, table in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(table, dict):
            raise ConfigError(path, where, f"must be a table ([[{name}]])")
        entries.append(_build_section(path, where, cls, table))
    return entries


def _inherit_motion(raw: dict[str, Any]) -> Any:
    """The camera table(s) with each own `motion` table laid over the top-level [motion]: a
    camera names only the keys it changes (its zones, usually)."""
    cameras, top = raw.get("camera", {}), raw.get("motion", {})
    if not isinstance(top, dict):
        return cameras

    def laid_over(table: Any) -> Any:
        if isinstance(table, dict) and isinstance(table.get("motion"), dict):
            return {**table, "motion": {**top, **table["motion"]}}
        return table

    return [laid_over(t) for t in cameras] if isinstance(cameras, list) else laid_over(cameras)


def _check_unique_ids(path: Path, cameras: list[CameraConfig]) -> None:
    # Reads, logs and shared documents tell cameras apart by id alone.
    first: dict[str, int] = {}
    for index, camera in enumerate(cameras):
        if camera.id in first:
            raise ConfigError(
                path,
                f"camera[{index}].id",
                f"duplicate camera id {camera.id!r} (camera[{first[camera.id]}] has it too)",
            )
        first[camera.id] = index


# A `[camera]` table and `[[camera]]` entries in one file: TOML itself refuses it, with a message
# that names neither the key nor the fix.
_TABLE_HEADER = re.compile(r"^\s*\[\s*camera\s*\]", re.MULTILINE)
_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*camera\s*\]\]", re.MULTILINE)


def _raise_if_both_forms(path: Path, error: ConfigError) -> None:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return
    if _TABLE_HEADER.search(text) and _ARRAY_HEADER.search(text):
        raise ConfigError(
            path,
            "camera",
            "both a [camera] table and [[camera]] entries: use [camera] for one camera or "
            "one [[camera]] entry per camera, not both",
        ) from error


def parse_section(name: str, table: Any, path: str | Path) -> Any:
    """One section of edge.toml (`table` as parsed from TOML) as its typed dataclass; relative
    paths are taken from the folder of `path`, the file the section was read from."""
    path = Path(path)
    cls = SECTIONS.get(name) or OPTIONAL_SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(path, name, f"must be a table ([{name}])")
    return _build_section(path, name, cls, table)


def resolve_source(source: str, config_path: Path) -> str:
    """A file or folder source named in the config is taken from the config file's folder;
    URLs, devices and GStreamer pipelines are left as they are."""
    if not source or source.startswith(NON_PATH_SOURCES) or Path(source).is_absolute():
        return source
    return os.path.normpath(config_path.parent / source)


def describe() -> str:
    """Every key with its type, default and description, for `alpr-edge config describe`."""
    lines = []
    for name, cls in {**SECTIONS, **OPTIONAL_SECTIONS}.items():
        optional = " (optional: leave it out and nothing is shared)" if name == "sharing" else ""
        if name in LIST_SECTIONS:
            optional = (
                f" (or one [[{name}]] entry per {name}, each with these keys and a unique id; "
                "not both)"
            )
        lines.append(f"[{name}]{optional}")
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
            if item.metadata.get("section"):
                default_text = f"a table of [{item.metadata['section']}] keys, optional"
                lines.append(f"  {item.name} ({default_text})")
                lines.append(f"      {item.metadata['help']}")
                continue
            if item.metadata.get("required"):
                default_text = "required"
            elif item.default_factory is not dataclasses.MISSING:
                default_text = f"default {item.default_factory()!r}"
            else:
                default_text = f"default {item.default!r}"
            lines.append(f"  {item.name} ({_type_name(hints[item.name])}, {default_text})")
            lines.append(f"      {item.metadata['help']}")
    return "\n".join(lines)


def _known() -> str:
    return ", ".join([*SECTIONS, *OPTIONAL_SECTIONS])


def _build_section(path: Path, name: str, cls: type, table: dict[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {item.name: item for item in dataclasses.fields(cls)}
    unknown = set(table) - set(fields)
    if unknown:
        key = sorted(unknown)[0]
        moved = MOVED_KEYS.get(f"{name}.{key}")
        if moved is not None:
            raise ConfigError(path, f"{name}.{key}", f"moved: set {moved} instead")
        raise ConfigError(path, f"{name}.{key}", f"unknown key (known: {', '.join(fields)})")
    values = {}
    for key, value in table.items():
        where = f"{name}.{key}"
        section = fields[key].metadata.get("section")
        if section is not None:  # a table of another section's keys, e.g. [camera.motion]
            if not isinstance(value, dict):
                raise ConfigError(path, where, f"must be a table ([{where}])")
            values[key] = _build_section(path, where, SECTIONS[section], value)
            continue
        try:
            converted = _convert(value, hints[key], path.parent)
        except (TypeError, ValueError) as exc:
            raise ConfigError(path, where, str(exc)) from None
        check = fields[key].metadata.get("check")
        problem = check(converted) if check else None
        if problem:
            raise ConfigError(path, where, problem)
        values[key] = converted
    for item in dataclasses.fields(cls):
        if item.name in values:
            continue
        if item.metadata.get("required"):
            raise ConfigError(path, f"{name}.{item.name}", f"required: {item.metadata['help']}")
        if hints[item.name] is Path:
            values[item.name] = _convert(item.default, Path, path.parent)
    return cls(**values)


def _convert(value: Any, hint: Any, base: Path) -> Any:
    if hint is bool:
        if not isinstance(value, bool):
            raise TypeError(f"must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"must be a whole number, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"must be a string, got {value!r}")
        return value
    if hint is Path or hint == (Path | None):
        if not isinstance(value, str) or not value.strip():
            raise TypeError(f"must be a non-empty path string, got {value!r}")
        candidate = Path(value).expanduser()
        return Path(os.path.normpath(candidate if candidate.is_absolute() else base / candidate))
    if hint == tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"must be a list of strings, got {value!r}")
        return tuple(value)
    if hint == tuple[float, ...]:
        numbers = _list(value)
        if not numbers or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers
        ):
            raise TypeError(f"must be a non-empty list of numbers, got {value!r}")
        return tuple(float(v) for v in numbers)
    if hint == tuple[Polygon, ...]:
        return tuple(_polygon(item, i) for i, item in enumerate(_list(value)))
    if hint == tuple[Point, ...]:
        return tuple(_point(item, "each entry") for item in _list(value))
    raise TypeError(f"unsupported config type {hint}")  # a schema bug, not user input


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError(f"must be a list, got {value!r}")
    return value


def _polygon(value: Any, index: int) -> Polygon:
    points = _list(value)
    if len(points) < 3:
        raise ValueError(f"zone {index} needs at least 3 [x, y] points, got {len(points)}")
    return tuple(_point(point, f"zone {index}: each point") for point in points)


def _point(value: Any, what: str) -> Point:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in value)
    ):
        raise ValueError(f"{what} must be a pair of numbers [x, y], got {value!r}")
    return (float(value[0]), float(value[1]))


def _type_name(hint: Any) -> str:
    if hint == (Path | None):
        return "Path, optional"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
