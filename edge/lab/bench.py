"""`alpr-edge bench`: decode-only rate, full-pipeline rate and where the time goes."""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from edge.runtime.capture import FrameSource
from edge.runtime.pipeline.orchestrator import STAGES, RunStats

TARGET_FPS = 100.0
TARGET_RATIO = 0.5
TARGET_RSS_MB = 400.0


@dataclass(frozen=True)
class BenchResult:
    frames: int
    decode_fps: float
    pipeline_fps: float
    stats: RunStats
    peak_rss_mb: float

    @property
    def ratio(self) -> float:
        return self.pipeline_fps / self.decode_fps if self.decode_fps else 0.0


def decode_only_fps(source: FrameSource) -> tuple[int, float]:
    """Frames and frames per second of decoding alone, on this thread."""
    started = time.perf_counter()
    frames = sum(1 for _ in source.frames())
    elapsed = time.perf_counter() - started
    return frames, frames / elapsed if elapsed else 0.0


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} CPUs visible, Python {platform.python_version()}"


def print_bench(result: BenchResult, video: str, out: TextIO) -> None:
    stats = result.stats
    per_frame = {s: 1000 * stats.seconds[s] / max(result.frames, 1) for s in STAGES}

    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    out.write(f"bench: {video}, {result.frames} frames\nmachine: {machine()}\n")
    out.write(f"decode only:    {result.decode_fps:7.1f} fps\n")
    out.write(
        f"full pipeline:  {result.pipeline_fps:7.1f} fps   (target >= {TARGET_FPS:.0f}: "
        f"{verdict(result.pipeline_fps >= TARGET_FPS)})\n"
    )
    out.write(
        f"ratio:          {result.ratio:7.2f}       (target >= {TARGET_RATIO}: "
        f"{verdict(result.ratio >= TARGET_RATIO)})\n"
    )
    out.write("per-stage ms per frame (decode runs on its own thread):\n")
    for stage in STAGES:
        out.write(
            f"  {stage:<7} {per_frame[stage]:7.2f} ms   ({stats.seconds[stage]:.2f} s total)\n"
        )
    out.write(
        f"motion gate skipped {stats.motion_skipped} of {stats.frames} frames; "
        f"detector ran on {stats.detector_runs}; {stats.plates_read} plate crops read\n"
    )
    out.write(f"reads {stats.reads}, hotlist hits {stats.hits}, repeats {stats.repeats}\n")
    out.write(
        f"peak RSS:       {result.peak_rss_mb:7.1f} MB   (target <= {TARGET_RSS_MB:.0f}: "
        f"{verdict(result.peak_rss_mb <= TARGET_RSS_MB)})\n"
    )
