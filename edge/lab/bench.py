"""`alpr-edge bench`: decode-only rate, then the full pipeline on N copies of a clip at once,
and where the time goes.

The decode-only pass and the pipeline runs happen in one process, one after the other, so the
ratio between them is taken under the same load. N copies stand in for N cameras on one unit:
each copy is a camera of its own (decoding thread, motion gate, tracker), served by the one
pipeline thread of `edge.runtime.pipeline.cameras`.

Real time (`realtime`): every copy is paced at the clip's frame rate and treated as a live
camera (its queue keeps the newest frames, dropping the oldest when the pipeline falls behind).
A real-time run has fallen behind when any copy dropped a frame (frames the motion gate skips
are read and judged, not dropped) or when the run took more than `REALTIME_SLACK` longer than
the clip lasts (decoding, not the pipeline, could not keep the pace).
"""

from __future__ import annotations

import dataclasses
import os
import platform
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from edge.config import EdgeConfig
from edge.runtime.capture import FrameSource, open_source
from edge.runtime.hotlist import import_csv
from edge.runtime.pipeline.cameras import CameraRun, open_cameras, run_cameras
from edge.runtime.pipeline.components import open_store
from edge.runtime.pipeline.orchestrator import STAGES, RunStats

TARGET_FPS = 100.0
TARGET_RATIO = 0.5
TARGET_RSS_MB = 400.0
# A real-time run may take this share longer than the clip lasts (start-up, the last frames'
# tracks stored at the end) before it counts as behind.
REALTIME_SLACK = 0.10


@dataclass(frozen=True)
class BenchResult:
    frames: int  # frames of the clip (one copy), as decoded alone
    decode_fps: float
    stats: RunStats  # every stream's counts and stage times together
    peak_rss_mb: float
    streams: tuple[CameraRun, ...] = ()
    seconds: float = 0.0  # wall time of the pipeline run, all streams at once
    realtime: bool = False
    clip_seconds: float = 0.0  # how long the clip lasts at its frame rate
    # CPU time of the pipeline run, every thread together: on a shared machine, what the run
    # cost rather than how long it waited for a core.
    cpu_seconds: float = 0.0

    @property
    def pipeline_fps(self) -> float:
        """Aggregate: frames of every stream together per second of wall time."""
        return self.stats.frames / self.seconds if self.seconds else 0.0

    @property
    def ratio(self) -> float:
        return self.pipeline_fps / self.decode_fps if self.decode_fps else 0.0

    @property
    def cpu_ms_per_frame(self) -> float:
        """CPU time per frame decoded: a dropped frame was decoded too (H.264 needs it)."""
        decoded = self.stats.frames + self.dropped
        return 1000 * self.cpu_seconds / decoded if decoded else 0.0

    @property
    def dropped(self) -> int:
        return sum(stream.dropped for stream in self.streams)

    @property
    def overrun(self) -> float:
        """How much longer than the clip the run took, as a share of the clip's length."""
        return self.seconds / self.clip_seconds - 1 if self.clip_seconds else 0.0

    @property
    def behind(self) -> bool:
        """A real-time run that dropped a frame or ran past the clip's length (plus slack)."""
        if not self.realtime:
            return False
        failed = any(stream.error for stream in self.streams)
        return failed or self.dropped > 0 or self.overrun > REALTIME_SLACK


def streams_config(config: EdgeConfig, streams: int, *, realtime: bool) -> EdgeConfig:
    """The replay config's camera as `streams` cameras (stream-1, stream-2, ...) on one clip."""
    copies = [
        dataclasses.replace(config.camera, id=f"stream-{n}", realtime=realtime)
        for n in range(1, streams + 1)
    ]
    return dataclasses.replace(config, camera=copies[0], more_cameras=tuple(copies[1:]))


def bench(
    config: EdgeConfig, streams: int = 1, *, realtime: bool = False, hotlist: Path | None = None
) -> BenchResult:
    """Decode the replay config's clip alone, then run the whole pipeline on `streams` copies
    of it at once into a fresh store (in `config.store.data_dir`), with `hotlist` imported."""
    source = open_source(config.camera.source, config.camera)
    frames, decode_fps = decode_only_fps(source)
    fps = getattr(source, "fps", 0.0)
    config = streams_config(config, streams, realtime=realtime)
    inputs = open_cameras(config)
    store = open_store(config)
    try:
        if hotlist is not None:
            import_csv(store, hotlist)
        cpu_started = time.process_time()
        # Real-time copies stand in for live cameras: newest frame wins when behind.
        result = run_cameras(inputs, store, newest_wins=lambda _: realtime)
        cpu_seconds = time.process_time() - cpu_started
    finally:
        store.close()
    return BenchResult(
        frames,
        decode_fps,
        result.total,
        peak_rss_mb(),
        result.cameras,
        result.seconds,
        realtime,
        frames / fps if fps else 0.0,
        cpu_seconds,
    )


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


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: a shared machine's figures need them beside."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def print_bench(result: BenchResult, video: str, out: TextIO) -> None:
    stats = result.stats
    per_frame = {s: 1000 * stats.seconds[s] / max(stats.frames, 1) for s in STAGES}
    count = max(len(result.streams), 1)
    mode = "real time (each stream a live camera)" if result.realtime else "flat out"

    def verdict(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    out.write(f"bench: {video}, {result.frames} frames, {count} stream(s), {mode}\n")
    out.write(f"machine: {machine()}; load average {load_average()}\n")
    out.write(f"decode only:    {result.decode_fps:7.1f} fps   (one stream, flat out)\n")
    flat_out = not result.realtime and count == 1
    target = f"   (target >= {TARGET_FPS:.0f}: {verdict(result.pipeline_fps >= TARGET_FPS)})"
    out.write(
        f"full pipeline:  {result.pipeline_fps:7.1f} fps   aggregate over {count} stream(s), "
        f"{result.seconds:.2f} s wall{target if flat_out else ''}\n"
    )
    for stream in result.streams:
        failed = f", FAILED: {stream.error}" if stream.error else ""
        out.write(
            f"  {stream.camera.id:<10} {stream.fps:7.1f} fps  {stream.stats.frames} frames, "
            f"{stream.dropped} dropped, {stream.stats.reads} reads{failed}\n"
        )
    target = f"       (target >= {TARGET_RATIO}: {verdict(result.ratio >= TARGET_RATIO)})"
    out.write(f"pipeline/decode: {result.ratio:6.2f}{target if flat_out else ''}\n")
    out.write(f"frames dropped: {result.dropped:7d}     (newest frame wins when behind)\n")
    if result.realtime:
        state = "BEHIND" if result.behind else "kept up"
        out.write(
            f"real time:      {state}: clip {result.clip_seconds:.2f} s, "
            f"run {result.seconds:.2f} s ({100 * result.overrun:+.1f}%; behind: any frame dropped "
            f"or over +{100 * REALTIME_SLACK:.0f}%)\n"
        )
    if result.clip_seconds:
        # Decoding and the pipeline, all threads, per frame: what one stream at the clip's rate
        # keeps busy, whatever else the machine is running.
        cores = result.cpu_ms_per_frame * result.frames / result.clip_seconds / 1000
        out.write(
            f"CPU:            {result.cpu_ms_per_frame:7.2f} ms a frame decoded (all threads, "
            f"{result.cpu_seconds:.2f} s); one stream at the clip's rate keeps "
            f"{cores:.2f} of a core busy\n"
        )
    out.write("per-stage ms per frame, all streams (decode runs on its own thread per stream):\n")
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
