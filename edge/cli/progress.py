"""A one-line progress display for replays: frames, fps, reads, hits.

On a terminal the line is redrawn in place; a log line written meanwhile (to the same
terminal) first clears it, so the two never overwrite each other, and the line is drawn again
below it at the next frame.
"""

from __future__ import annotations

import logging
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
        self._drawn = False
        self._handlers: list[logging.Handler] = []
        if self.enabled:
            for handler in logging.getLogger().handlers:
                handler.addFilter(self._clear_before_log)
                self._handlers.append(handler)

    def _clear_before_log(self, record: logging.LogRecord) -> bool:
        """A filter on the log handlers: wipe the progress line before a record is written."""
        if self._drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._drawn = False
            self._last_drawn = 0.0  # redraw at the next frame, below the log line
        return True

    def __call__(self, stats: RunStats) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last_drawn >= self.interval_s:
            self._last_drawn = now
            self.stream.write("\r\x1b[K" + self.line(stats, now - self.started))
            self.stream.flush()
            self._drawn = True

    def line(self, stats: RunStats, elapsed_s: float) -> str:
        of_total = f"/{self.total}" if self.total else ""
        fps = stats.frames / elapsed_s if elapsed_s > 0 else 0.0
        return (
            f"frames {stats.frames}{of_total}  {fps:6.1f} fps  reads {stats.reads}  "
            f"hits {stats.hits}  skipped {stats.motion_skipped}"
        )

    def close(self) -> None:
        for handler in self._handlers:
            handler.removeFilter(self._clear_before_log)
        self._handlers = []
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
