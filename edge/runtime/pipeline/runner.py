"""Running the pipeline over a source until it ends or the unit is told to stop.

The one place a run is put together (`alpr-edge run`, and the lab's demo and bench replays):
frames are decoded on their own thread, a service manager's SIGTERM (or a SIGHUP from a closed
terminal, a SIGQUIT) ends the run like Ctrl-C, and either way every open track is still stored
before it returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edge.config import EdgeConfig
from edge.runtime.capture import CaptureStats, FrameSource, open_source
from edge.runtime.pipeline.cameras import CameraInputs, run_cameras
from edge.runtime.pipeline.components import open_models
from edge.runtime.pipeline.orchestrator import Detector, ReadSink, RunStats
from edge.runtime.recognise import PlateReader
from edge.runtime.store import ReadStore


@dataclass(frozen=True)
class RunResult:
    stats: RunStats
    decode_seconds: float
    # What the source counted (frames, corrupt, missing, reconnects), kept once here.
    capture: CaptureStats

    @property
    def corrupt_frames(self) -> int:
        return self.capture.corrupt

    @property
    def nothing_read(self) -> bool:
        """The source gave no usable frame at all (a text file given as a video)."""
        return self.stats.frames == 0

    @property
    def partial(self) -> bool:
        """Part of the source could not be read: corrupt frames, or a truncated file."""
        return self.capture.partial


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
    Ctrl-C or SIGTERM; `on_frame(stats)` is called after every frame (a progress display).
    One camera runs through the loop that serves several (`cameras.run_cameras`), so the two
    never differ; what its source raised is raised here, as the one camera's end."""
    config, source = inputs.config, inputs.source
    cameras = CameraInputs(config, {config.camera.id: source}, {}, inputs.detector, inputs.reader)
    [run] = run_cameras(cameras, store, sink, on_frame).cameras
    if run.failure is not None:
        raise run.failure
    return RunResult(run.stats, run.decode_seconds, run.capture or source.stats)
