"""Measuring the shipped models on the development data (`alpr-edge eval`)."""

from __future__ import annotations

from dataclasses import asdict


class Figures:
    """Mixin for evaluation dataclasses: `summary()` keeps the numbers, drops example lists."""

    def summary(self) -> dict[str, float | int]:
        return {
            key: value
            for key, value in asdict(self).items()  # type: ignore[arg-type]  (subclasses are dataclasses)
            if isinstance(value, int | float)
        }
