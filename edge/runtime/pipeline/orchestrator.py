"""The orchestrator: frames in; reads stored, checked against hotlists and handed to sharing.

capture -> motion gate -> detect (new plates where the frame moved, known ones near their tracks)
-> OCR (one batch per frame)
-> track and vote -> store (committed) -> hotlist hits (committed with the read) -> sharing

A live source that drops is a gap (`SourceGap`): the open tracks end and are committed at once.
Reads the store cannot take (read-only or full disk) wait in a bounded backlog, retried every
`BACKLOG_RETRY_S` without stalling the frames, and are counted whenever one is dropped.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from edge.config import CameraConfig, EdgeConfig
from edge.runtime.capture import SourceGap
from edge.runtime.detect import plate_crop
from edge.runtime.hotlist import Hotlist
from edge.runtime.motion import MotionGate
from edge.runtime.pipeline.search_areas import merge_overlapping, window_around
from edge.runtime.recognise.margins import CropReader, read_boxes
from edge.runtime.store import ReadStore, StoreUnavailable
from edge.runtime.track import PlatePass, PlateTracker, Sighting
from edge.runtime.types import SAME_PLATE_IOU, Box, Detection, Frame, HotlistHit, VehicleRead

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    import numpy as np

log = logging.getLogger(__name__)

# How often the store is tried while reads wait for it (the limit is [store] backlog_limit).
BACKLOG_RETRY_S = 10.0
STAGES = ("decode", "motion", "detect", "ocr", "track", "store")


class Detector(Protocol):
    """Finds plates in search areas of a frame (see `search_areas.AreaDetector`)."""

    def detect(
        self, image_bgr: np.ndarray, areas: list[Box], scale: float = 1.0
    ) -> list[Detection]: ...


class ReadSink(Protocol):
    """What acts on a committed read: `edge.share.service.Sharing`."""

    def on_read(
        self, read_id: int, read: VehicleRead, hits: Sequence[HotlistHit] = ()
    ) -> object: ...


@dataclass
class RunStats:
    frames: int = 0
    motion_skipped: int = 0
    detector_runs: int = 0
    plates_read: int = 0
    reads: int = 0
    hits: int = 0
    repeats: int = 0
    unstored: int = 0
    # Times the source dropped (each ended the open tracks).
    gaps: int = 0
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    @contextmanager
    def timing(self, stage: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - started


class Pipeline:
    def __init__(
        self,
        config: EdgeConfig,
        detector: Detector,
        reader: CropReader,
        store: ReadStore,
        sink: ReadSink | None = None,
        camera: CameraConfig | None = None,
        hotlist: Hotlist | None = None,
    ) -> None:
        # One Pipeline per camera (`camera`, default the config's first): its own motion gate
        # and tracker; the detector, reader, store, sink and hotlist may be shared.
        self.camera = camera or config.camera
        self.config = config
        self.detector = detector
        self.reader = reader
        self.store = store
        self.sink = sink
        self.hotlist = hotlist or Hotlist(store, config.hotlist.max_confusions)
        self.motion = MotionGate(config.motion_of(self.camera))
        # A hotlisted plate is never suppressed as a repeat.
        self.tracker = PlateTracker(
            config.track, self.camera.id, listed=lambda read: bool(self.hotlist.match(read))
        )
        self.stats = RunStats()
        self._moving_frames = 0
        # Passes not yet committed because the store was unavailable; retried on each new pass.
        self._backlog: deque[PlatePass] = deque()
        self._retry_at = 0.0
        self._zones_checked = False

    def run(
        self,
        frames: Iterable[Frame | SourceGap],
        on_frame: Callable[[RunStats], None] | None = None,
    ) -> RunStats:
        """Process frames until the source ends (or Ctrl-C), then end every open track."""
        try:
            for frame in frames:
                if isinstance(frame, SourceGap):
                    self.source_dropped()
                    continue
                self.process(frame)
                if on_frame is not None:
                    on_frame(self.stats)
        finally:
            self.finish()
        return self.stats

    def source_dropped(self) -> None:
        """The source dropped: nothing more of the open tracks can be seen, so they end and
        are committed now (a read must not wait in memory for the stream to come back)."""
        self.stats.gaps += 1
        self._commit(self.tracker.finish(), force=True)

    def process(self, frame: Frame) -> None:
        stats = self.stats
        stats.frames += 1
        if not self._zones_checked:
            self._zones_checked = True
            if self.motion.config.enabled:
                self._check_zones(frame)
        with stats.timing("motion"):
            moving = self.motion.moving_area(frame.image)
        if moving is None:
            stats.motion_skipped += 1
            self._commit(self.tracker.expire(frame.index))
            return
        self._moving_frames += 1
        areas, scale = self._search_areas(frame, moving)
        if not areas:
            self._commit(self.tracker.expire(frame.index))
            return
        with stats.timing("detect"):
            detections = self.detector.detect(frame.image, areas, scale)
        stats.detector_runs += 1
        sightings = [Sighting(d) for d in detections]
        legible = [s for s in sightings if self._worth_reading(s.detection.box, frame.index)]
        if legible:
            with stats.timing("ocr"):
                boxes = [s.detection.box for s in legible]
                texts = read_boxes(self.reader, frame.image, boxes, self.config.ocr.crop_margins)
            for sighting, text in zip(legible, texts, strict=True):
                sighting.crop = plate_crop(frame.image, sighting.detection.box).copy()
                sighting.text = text
            stats.plates_read += len(legible)
        with stats.timing("track"):
            passes = self.tracker.update(frame.index, frame.timestamp, sightings)
        self._commit(passes)

    def _check_zones(self, frame: Frame) -> None:
        """Motion zones that miss the frame would skip every frame: say so at once, loudly."""
        height, width = frame.image.shape[:2]
        for number, zone in enumerate(self.motion.config.zones, start=1):
            outside = [(x, y) for x, y in zone if not (0 <= x <= width and 0 <= y <= height)]
            if outside:
                log.error(
                    "[motion] zone %d has points outside the %dx%d frame: %s; motion there is "
                    "never seen (check the zones against this camera)",
                    number,
                    width,
                    height,
                    outside,
                    extra={"zone": number, "frame_size": [width, height]},
                )

    def _worth_reading(self, box: Box, frame_index: int) -> bool:
        """Wide enough to read, and not a plate its track has read enough already."""
        if box.w < self.config.ocr.min_width:
            return False
        enough = self.config.track.enough_reads
        settled = (t.predicted(frame_index) for t in self.tracker.tracks if t.settled(enough))
        return not any(box.iou(known) >= SAME_PLATE_IOU for known in settled)

    def _search_areas(self, frame: Frame, moved: Box) -> tuple[list[Box], float]:
        """Where to run the detector on this moving frame: the whole moving area every
        `discover_every_n_frames` (new plates), windows around the legible tracked plates not
        yet read enough every `every_n_frames` (following them costs a fraction), or nowhere."""
        step = self._moving_frames - 1
        settings = self.config.detector
        if step % settings.discover_every_n_frames == 0:
            return [moved], settings.discover_scale
        if step % settings.every_n_frames:
            return [], 1.0
        # Plates too small to read, or read enough already, are left for the next discovery:
        # following them buys nothing.
        enough = self.config.track.enough_reads
        unsettled = [t for t in self.tracker.tracks if not t.settled(enough)]
        predicted = [t.predicted(frame.index) for t in unsettled]
        legible = [box for box in predicted if box.w >= self.config.ocr.min_width]
        height, width = frame.image.shape[:2]
        return merge_overlapping([window_around(box, width, height) for box in legible]), 1.0

    def finish(self) -> None:
        self._commit(self.tracker.finish(), force=True)
        self.stats.repeats = self.tracker.repeats
        self.stats.unstored += len(self._backlog)
        if self._backlog:
            lost = ", ".join(p.read.plate for p in self._backlog)
            log.error(
                "camera %s: %d read(s) could not be stored: %s",
                self.camera.id,
                len(self._backlog),
                lost,
                extra={"camera": self.camera.id},
            )

    def _commit(self, passes: Sequence[PlatePass], *, force: bool = False) -> None:
        self._backlog.extend(passes)
        while len(self._backlog) > self.config.store.backlog_limit:
            dropped = self._backlog.popleft()
            self.stats.unstored += 1
            log.error(
                "camera %s: store unavailable too long: dropped the read of %s (%d dropped so "
                "far, %d waiting)",
                self.camera.id,
                dropped.read.plate,
                self.stats.unstored,
                len(self._backlog),
                extra={
                    "camera": self.camera.id,
                    "unstored": self.stats.unstored,
                    "backlog": len(self._backlog),
                },
            )
        if not self._backlog or (time.monotonic() < self._retry_at and not force):
            return
        with self.stats.timing("store"):
            while self._backlog:
                plate_pass = self._backlog[0]
                hits = self.hotlist.match(plate_pass.read)
                try:
                    read_id, stored = self.store.add_read(plate_pass.read, plate_pass.crop, hits)
                except StoreUnavailable:
                    # Keep reading frames; try the store again later rather than on every frame.
                    self._retry_at = time.monotonic() + BACKLOG_RETRY_S
                    log.error(
                        "camera %s: %d read(s) waiting for the store (in memory, at most %d)",
                        self.camera.id,
                        len(self._backlog),
                        self.config.store.backlog_limit,
                        extra={"camera": self.camera.id, "backlog": len(self._backlog)},
                    )
                    return
                self._backlog.popleft()
                self.stats.reads += 1
                self.stats.hits += len(hits)
                self._announce(read_id, stored, hits)

    def _announce(self, read_id: int, read: VehicleRead, hits: list[HotlistHit]) -> None:
        extra = {
            "read_id": read_id,
            "plate": read.plate,
            "region": read.region,
            "camera": read.camera_id,
        }
        log.info(
            "camera %s: read %s (%s) confidence %.2f",
            read.camera_id,
            read.plate,
            read.region or "?",
            read.confidence,
            extra=extra,
        )
        for hit in hits:
            log.warning(
                "camera %s: HOTLIST HIT %s ~ %s: %s (%s)",
                read.camera_id,
                read.plate,
                hit.listed_plate,
                hit.reason,
                hit.source,
                extra={**extra, "listed_plate": hit.listed_plate, "reason": hit.reason},
            )
        if self.sink is None:
            return
        try:
            self.sink.on_read(read_id, read, hits)
        except Exception:  # the read is stored; sharing failing must not stop the reader
            log.exception(
                "camera %s: sharing read %d failed; it stays in the store",
                read.camera_id,
                read_id,
                extra={"camera": read.camera_id},
            )
