"""Load `edge.toml` once into typed, validated dataclasses (see `schema` for every key)."""

from __future__ import annotations

import dataclasses
import os
import typing
from pathlib import Path
from typing import Any

from edge.config.schema import (
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
    "parse_section",
]


def load_config(path: str | Path) -> EdgeConfig:
    """Parse and validate a config file; any problem raises ConfigError(file, key, reason)."""
    path = Path(path)
    return config_from_table(load_toml(path), path)


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
        sections[name] = parse_section(name, raw.get(name, {}), path)
    for name in OPTIONAL_SECTIONS:
        if name in raw:
            sections[name] = parse_section(name, raw[name], path)
    camera = sections["camera"]
    sections["camera"] = dataclasses.replace(camera, source=resolve_source(camera.source, path))
    return EdgeConfig(path=path, **sections)


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
        lines.append(f"[{name}]{optional}")
        hints = typing.get_type_hints(cls)
        for item in dataclasses.fields(cls):
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
        raise ConfigError(path, f"{name}.{key}", f"unknown key (known: {', '.join(fields)})")
    values = {}
    for key, value in table.items():
        where = f"{name}.{key}"
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
