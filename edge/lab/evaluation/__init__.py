"""Measuring the shipped models on the development data (`alpr-edge eval`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TypeVar

Row = TypeVar("Row")


def spread(rows: Sequence[Row], limit: int | None) -> list[Row]:
    """`limit` of `rows` spread evenly over them (label files run state by state, so the first
    few would all be one state's); all of them when `limit` is None."""
    if limit is None:
        return list(rows)
    return list(rows[:: max(len(rows) // max(limit, 1), 1)][:limit])


class Figures:
    """Mixin for evaluation dataclasses: `summary()` keeps the numbers, drops example lists."""

    def summary(self) -> dict[str, float | int]:
        return {
            key: value
            for key, value in asdict(self).items()  # type: ignore[arg-type]  (subclasses are dataclasses)
            if isinstance(value, int | float)
        }
