"""A one-line progress display for replays: frames, fps, reads, hits."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from edge.runtime.pipeline.orchestrator import RunStats


class Progress:
    """Redraws one status line on a terminal at most every `interval_s`; silent elsewhere
    (logs already carry each read)."""

    def __init__(
        self,
        total_frames: int | None = None,
        stream: TextIO | None = None,
        interval_s: float = 0.5,
    ) -> None:
        self.total = total_frames
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.interval_s = interval_s
        self.started = time.monotonic()
        self._last_drawn = 0.0

    def __call__(self, stats: RunStats) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last_drawn >= self.interval_s:
            self._last_drawn = now
            self.stream.write("\r" + self.line(stats, now - self.started))
            self.stream.flush()

    def line(self, stats: RunStats, elapsed_s: float) -> str:
        of_total = f"/{self.total}" if self.total else ""
        fps = stats.frames / elapsed_s if elapsed_s > 0 else 0.0
        return (
            f"frames {stats.frames}{of_total}  {fps:6.1f} fps  reads {stats.reads}  "
            f"hits {stats.hits}  skipped {stats.motion_skipped}"
        )

    def close(self) -> None:
        if self.enabled and self._last_drawn:
            self.stream.write("\n")
            self.stream.flush()
