"""Running the pipeline over a source until it ends or the unit is told to stop.

The one place a run is put together (`alpr-edge run`, and the lab's demo and bench replays):
frames are decoded on their own thread, a service manager's SIGTERM ends the run like Ctrl-C,
and either way every open track is still stored before it returns.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edge.config import EdgeConfig
from edge.runtime.capture import DecodeThread, FrameSource, open_source
from edge.runtime.pipeline.components import open_models
from edge.runtime.pipeline.orchestrator import Pipeline, ReadSink, RunStats
from edge.runtime.pipeline.search_areas import AreaDetector
from edge.runtime.recognise import PlateReader
from edge.runtime.store import ReadStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    stats: RunStats
    corrupt_frames: int
    decode_seconds: float


@dataclass(frozen=True)
class Inputs:
    """What a run reads from, opened before anything is written: a source that cannot be
    opened, or a bad model file, ends the command with nothing created."""

    config: EdgeConfig
    source: FrameSource
    detector: AreaDetector
    reader: PlateReader

    @property
    def total_frames(self) -> int | None:
        return getattr(self.source, "frame_count", None)


def open_inputs(config: EdgeConfig) -> Inputs:
    source = open_source(config.camera.source, config.camera)
    detector, reader = open_models(config)
    return Inputs(config, source, detector, reader)


def run_pipeline(
    inputs: Inputs,
    store: ReadStore,
    sink: ReadSink | None = None,
    on_frame: Callable[[RunStats], None] | None = None,
) -> RunResult:
    """Read the source through the whole pipeline into `store` (and `sink`) until it ends,
    Ctrl-C or SIGTERM; `on_frame(stats)` is called after every frame (a progress display)."""
    config, source = inputs.config, inputs.source
    camera = config.camera
    pipeline = Pipeline(config, inputs.detector, inputs.reader, store, sink)
    frames = DecodeThread(source, camera.decode_queue)
    log.info("reading %s as camera %s", source.name, camera.id)
    with _stopped_by_sigterm(), contextlib.suppress(KeyboardInterrupt):
        pipeline.run(frames, on_frame)
    stats = pipeline.stats
    stats.seconds["decode"] = frames.decode_seconds
    log.info(
        "stopped: %d frames (%d skipped by motion, %d corrupt), %d reads, %d hotlist hits",
        stats.frames,
        stats.motion_skipped,
        source.stats.corrupt,
        stats.reads,
        stats.hits,
        extra={"frames": stats.frames, "reads": stats.reads, "hits": stats.hits},
    )
    return RunResult(stats, source.stats.corrupt, frames.decode_seconds)


@contextlib.contextmanager
def _stopped_by_sigterm() -> Iterator[None]:
    """A service manager's SIGTERM ends the run like Ctrl-C: open tracks are still stored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
