"""Running the pipeline over a source until it ends or the unit is told to stop.

The one place a run is put together (`alpr-edge run`, and the lab's demo and bench replays):
frames are decoded on their own thread, a service manager's SIGTERM (or a SIGHUP from a closed
terminal, a SIGQUIT) ends the run like Ctrl-C, and either way every open track is still stored
before it returns.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from edge.config import EdgeConfig
from edge.runtime.capture import CaptureStats, DecodeThread, FrameSource, open_source
from edge.runtime.pipeline.components import open_models
from edge.runtime.pipeline.orchestrator import Detector, Pipeline, ReadSink, RunStats
from edge.runtime.recognise import PlateReader
from edge.runtime.store import ReadStore

log = logging.getLogger(__name__)


# Signals that end a run as Ctrl-C does: open tracks are committed first.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@dataclass(frozen=True)
class RunResult:
    stats: RunStats
    corrupt_frames: int
    decode_seconds: float
    capture: CaptureStats | None = None

    @property
    def nothing_read(self) -> bool:
        """The source gave no usable frame at all (a text file given as a video)."""
        return self.stats.frames == 0

    @property
    def partial(self) -> bool:
        """Part of the source could not be read: corrupt frames, or a truncated file."""
        return self.capture is not None and self.capture.partial


@dataclass(frozen=True)
class Inputs:
    """What a run reads from, opened before anything is written: a source that cannot be
    opened, or a bad model file, ends the command with nothing created."""

    config: EdgeConfig
    source: FrameSource
    detector: Detector
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
    with stopped_by_signals(), contextlib.suppress(KeyboardInterrupt):
        pipeline.run(frames, on_frame)
    stats = pipeline.stats
    stats.seconds["decode"] = frames.decode_seconds
    captured = source.stats
    log.info(
        "stopped: %d frames (%d skipped by motion, %d corrupt, %d missing), %d reads, "
        "%d hotlist hits, %d repeats, %d source gaps (drops), %d reconnect tries, %d unstored",
        stats.frames,
        stats.motion_skipped,
        captured.corrupt,
        captured.missing,
        stats.reads,
        stats.hits,
        stats.repeats,
        stats.gaps,
        captured.reconnects,
        stats.unstored,
        extra={
            "frames": stats.frames,
            "reads": stats.reads,
            "hits": stats.hits,
            "repeats": stats.repeats,
            "corrupt": captured.corrupt,
            "missing": captured.missing,
            "drops": stats.gaps,
            "reconnects": captured.reconnects,
            "unstored": stats.unstored,
        },
    )
    return RunResult(stats, captured.corrupt, frames.decode_seconds, captured)


@contextlib.contextmanager
def stopped_by_signals() -> Iterator[None]:
    """SIGTERM, SIGHUP and SIGQUIT end the run like Ctrl-C: open tracks are still stored."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
