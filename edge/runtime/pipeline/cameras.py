"""The cameras of one unit, in one process: shared models, one decoding thread per camera,
one pipeline thread serving them all in turn. A unit with one camera runs through the same
loop (`runner.run_pipeline`).

Why one pipeline thread: the detector and OCR sessions, the store and sharing are shared, and
on a 2-4 core box the models already use the cores; a thread per camera would only fight over
them. Decoding, which releases the GIL, runs on its own thread per camera.

Fair scheduling: every turn of the loop takes at most one frame from each camera's queue, so
no camera starves however busy another is. When the pipeline cannot keep up, a live camera's
queue keeps its newest frames and drops the oldest (counted per camera, reported when the run
stops); a replayed file waits instead (nothing dropped), so a replay reads every frame.

A camera whose source cannot be opened, or fails while running, is logged and left out; the
others carry on. The run fails (raises) only when no camera can be opened at all; a lone
camera's failure is raised by `run_pipeline`, as the run's end.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields

from edge.config import CameraConfig, EdgeConfig
from edge.errors import InputError
from edge.runtime.capture import (
    CaptureStats,
    DecodeThread,
    FrameSource,
    LiveSource,
    SourceGap,
    open_source,
)
from edge.runtime.hotlist import Hotlist
from edge.runtime.pipeline.components import open_models
from edge.runtime.pipeline.orchestrator import Detector, Pipeline, ReadSink, RunStats
from edge.runtime.recognise import PlateReader
from edge.runtime.store import ReadStore

log = logging.getLogger(__name__)

# How long the pipeline thread sleeps when no camera has a frame ready (it wakes at once when
# one is queued; this only bounds the wait).
IDLE_WAIT_S = 0.1
# Signals that end a run as Ctrl-C does: open tracks are committed first.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


@dataclass
class CameraRun:
    """One camera's share of a run."""

    camera: CameraConfig
    stats: RunStats = field(default_factory=RunStats)
    dropped: int = 0  # frames a live queue lost to newer ones (never the motion gate's skips)
    capture: CaptureStats | None = None  # its source's counts, once it has stopped
    decode_seconds: float = 0.0
    seconds: float = 0.0  # wall time from the run's start to this camera's last frame
    error: str | None = None  # why the camera stopped early, when it did
    failure: BaseException | None = field(default=None, repr=False)  # what its source raised

    @property
    def fps(self) -> float:
        return self.stats.frames / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class CamerasResult:
    cameras: tuple[CameraRun, ...]
    seconds: float  # wall time of the whole run

    @property
    def failed(self) -> tuple[CameraRun, ...]:
        return tuple(run for run in self.cameras if run.error is not None)

    @property
    def total(self) -> RunStats:
        return total_stats(run.stats for run in self.cameras)


@dataclass(frozen=True)
class CameraInputs:
    """Every camera's source and the shared models, opened before anything is written. A
    camera whose source cannot be opened is in `unopened` with the reason, not in `sources`."""

    config: EdgeConfig
    sources: dict[str, FrameSource]
    unopened: dict[str, str]
    detector: Detector
    reader: PlateReader


def only_camera(config: EdgeConfig, camera_id: str) -> EdgeConfig:
    """The config with `camera_id` its one camera (to replay a file in its place, say)."""
    for camera in config.cameras:
        if camera.id == camera_id:
            return dataclasses.replace(config, camera=camera, more_cameras=())
    known = ", ".join(camera.id for camera in config.cameras)
    raise InputError(f"{config.path}: no camera with id {camera_id!r} (cameras: {known})")


def open_cameras(config: EdgeConfig) -> CameraInputs:
    """Open each camera's source (failures logged and left out) and the models once."""
    sources: dict[str, FrameSource] = {}
    unopened: dict[str, str] = {}
    for camera in config.cameras:
        try:
            sources[camera.id] = open_source(camera.source, camera)
        except InputError as exc:
            unopened[camera.id] = str(exc)
            log.error(
                "camera %s: cannot open its source: %s; the other cameras run without it",
                camera.id,
                exc,
                extra={"camera": camera.id},
            )
    if not sources:
        raise InputError("no camera could be opened: " + "; ".join(unopened.values()))
    detector, reader = open_models(config)
    return CameraInputs(config, sources, unopened, detector, reader)


def is_live(source: FrameSource) -> bool:
    """Live cameras and streams keep the newest frame when the pipeline falls behind."""
    return isinstance(source, LiveSource)


def total_stats(runs: Iterable[RunStats]) -> RunStats:
    """The counts and stage times of several cameras added up."""
    total = RunStats()
    for stats in runs:
        for item in fields(RunStats):
            if item.name == "seconds":
                for stage, seconds in stats.seconds.items():
                    total.seconds[stage] += seconds
            else:
                setattr(total, item.name, getattr(total, item.name) + getattr(stats, item.name))
    return total


@dataclass
class _Feed:
    run: CameraRun
    frames: DecodeThread
    pipeline: Pipeline


def run_cameras(
    inputs: CameraInputs,
    store: ReadStore,
    sink: ReadSink | None = None,
    on_frame: Callable[[RunStats], None] | None = None,
    *,
    newest_wins: Callable[[FrameSource], bool] = is_live,
) -> CamerasResult:
    """Read every camera through its own pipeline into the shared `store` (and `sink`) until
    every source has ended, Ctrl-C or SIGTERM; `on_frame(total)` is called after every frame
    with the counts of all cameras together. `newest_wins(source)` picks the cameras whose
    queue drops its oldest frame when full (default: live sources)."""
    config = inputs.config
    wake = threading.Event()
    runs = [CameraRun(camera) for camera in config.cameras]
    for run in runs:
        if run.camera.id in inputs.unopened:
            run.error = inputs.unopened[run.camera.id]
    # One hotlist in memory for every camera (all run on the pipeline thread).
    hotlist = Hotlist(store, config.hotlist.max_confusions)
    feeds = []
    for run in runs:
        source = inputs.sources.get(run.camera.id)
        if source is None:
            continue
        frames = DecodeThread(
            source, run.camera.decode_queue, drop_oldest=newest_wins(source), wake=wake
        )
        pipeline = Pipeline(
            config, inputs.detector, inputs.reader, store, sink, run.camera, hotlist
        )
        run.stats = pipeline.stats
        feeds.append(_Feed(run, frames, pipeline))
        log.info(
            "camera %s: reading %s%s",
            run.camera.id,
            source.name,
            " (newest frame wins when behind)" if frames.drop_oldest else "",
            extra={"camera": run.camera.id},
        )
    started = time.perf_counter()
    try:
        with stopped_by_signals(), contextlib.suppress(KeyboardInterrupt):
            for feed in feeds:
                feed.frames.start()
            _serve(feeds, wake, started, runs, on_frame)
    finally:
        for feed in feeds:
            feed.frames.close()
            feed.pipeline.finish()
            _account(feed, started)
    result = CamerasResult(tuple(runs), time.perf_counter() - started)
    for run in runs:
        _log_stopped(run)
    return result


def _serve(
    feeds: list[_Feed],
    wake: threading.Event,
    started: float,
    runs: list[CameraRun],
    on_frame: Callable[[RunStats], None] | None,
) -> None:
    """Round robin: one frame from each camera that has one, until every camera has ended."""
    active = list(feeds)
    while active:
        wake.clear()  # before polling: a frame queued after this sets it again
        served = False
        for feed in list(active):
            try:
                frame = feed.frames.poll()
            except Exception as exc:  # this camera's source failed; the others go on
                feed.run.error = f"{type(exc).__name__}: {exc}"
                feed.run.failure = exc
                log.error(
                    "camera %s: source failed, camera stopped: %s",
                    feed.run.camera.id,
                    feed.run.error,
                    extra={"camera": feed.run.camera.id},
                )
                active.remove(feed)
                _account(feed, started)
                continue
            if frame is None:
                if feed.frames.ended:
                    active.remove(feed)
                    _account(feed, started)
                continue
            served = True
            if isinstance(frame, SourceGap):  # the live source dropped: its tracks end now
                feed.pipeline.source_dropped()
                continue
            feed.pipeline.process(frame)
            if on_frame is not None:
                on_frame(total_stats(run.stats for run in runs))
        if not served and active:
            wake.wait(IDLE_WAIT_S)


def _account(feed: _Feed, started: float) -> None:
    run, frames = feed.run, feed.frames
    if not run.seconds:
        run.seconds = time.perf_counter() - started
    run.dropped = frames.dropped
    run.capture = frames.source.stats
    run.decode_seconds = frames.decode_seconds
    run.stats.seconds["decode"] = frames.decode_seconds


def _log_stopped(run: CameraRun) -> None:
    stats, captured = run.stats, run.capture or CaptureStats()
    log.info(
        "stopped: camera %s, %d frames (%d skipped by motion, %d dropped behind, %d corrupt, "
        "%d missing), %d reads, %d hotlist hits, %d repeats, %d source gaps (drops), "
        "%d reconnect tries, %d unstored%s",
        run.camera.id,
        stats.frames,
        stats.motion_skipped,
        run.dropped,
        captured.corrupt,
        captured.missing,
        stats.reads,
        stats.hits,
        stats.repeats,
        stats.gaps,
        captured.reconnects,
        stats.unstored,
        f"; failed: {run.error}" if run.error else "",
        extra={
            "camera": run.camera.id,
            "frames": stats.frames,
            "dropped": run.dropped,
            "corrupt": captured.corrupt,
            "missing": captured.missing,
            "reads": stats.reads,
            "hits": stats.hits,
            "repeats": stats.repeats,
            "drops": stats.gaps,
            "reconnects": captured.reconnects,
            "unstored": stats.unstored,
        },
    )


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
