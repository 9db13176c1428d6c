"""Frame sources: replayed video files, image folders, and live cameras and streams.

A live source that drops (or freezes past its read timeout) yields a `SourceGap` before it
reconnects: the pipeline ends the tracks it had open at once, so a read seen just before the
drop is committed then, not when frames return. A network stream that is down when the unit
starts is waited for with the same backoff as one that dropped. Source names are logged with
their credentials masked. Replay timestamps never run ahead of the wall clock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from edge.clock import UTC
from edge.errors import InputError
from edge.logs import redact
from edge.runtime.types import Frame

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
# A replay that fails this many frames in a row has ended (or is hopelessly broken).
MAX_CONSECUTIVE_BAD_FRAMES = 30


@dataclass
class CaptureStats:
    frames: int = 0
    corrupt: int = 0
    reconnects: int = 0
    # Frames a replayed file says it has but that could not be read (a truncated file).
    missing: int = 0

    @property
    def partial(self) -> bool:
        """Whether part of the source could not be read (corrupt frames, a truncated file)."""
        return bool(self.corrupt or self.missing)


@dataclass(frozen=True)
class SourceGap:
    """A live source dropped or froze: its open tracks end now (nothing more of them can be
    seen), and reconnecting starts."""

    source: str


class VideoFileSource:
    """Replays a video file, as fast as it decodes or (`realtime`) at its own frame rate."""

    def __init__(
        self, path: Path, *, realtime: bool = False, loop: bool = False, decode_threads: int = 1
    ) -> None:
        self.name = str(path)
        self.path = path
        self.realtime = realtime
        self.loop = loop
        self.decode_threads = decode_threads
        self.stats = CaptureStats()
        capture = self._open()
        self.fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        self.frame_count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.size = (
            int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )
        capture.release()

    def frames(self) -> Iterator[Frame]:
        # Replay timestamps are positions in the file; a frame's index is its position too
        # (over every loop), so skipped frames leave a gap. They never run ahead of the clock:
        # a realtime replay is anchored at its start, a fast one so that the file ends now (and
        # each loop after the last stamp), and no stamp is later than the time it is made.
        duration = timedelta(seconds=self.frame_count / self.fps) if not self.realtime else None
        last = datetime.now(UTC) - (duration or timedelta(0))
        offset = 0
        while True:
            start = last - timedelta(seconds=offset / self.fps)
            if duration is not None:
                start = max(
                    start, datetime.now(UTC) - duration - timedelta(seconds=offset / self.fps)
                )
            capture = self._open()
            started = time.monotonic()
            position = 0
            length = 0  # frames up to the last good one
            bad_in_a_row = 0
            try:
                while bad_in_a_row < MAX_CONSECUTIVE_BAD_FRAMES:
                    ok, image = capture.read()
                    position += 1
                    if not ok or image is None:
                        if self.frame_count and position > self.frame_count:
                            break
                        bad_in_a_row += 1
                        self.stats.corrupt += 1
                        continue
                    bad_in_a_row = 0
                    length = position
                    index = offset + position - 1
                    if self.realtime:
                        _sleep_until(started + (position - 1) / self.fps)
                    timestamp = min(start + timedelta(seconds=index / self.fps), datetime.now(UTC))
                    last = timestamp
                    self.stats.frames += 1
                    yield Frame(image=image, index=index, timestamp=timestamp, source=self.name)
            finally:
                capture.release()
            if bad_in_a_row >= MAX_CONSECUTIVE_BAD_FRAMES:
                # The tail of a file counted as corrupt was really its end (or it is truncated:
                # counted as missing below).
                self.stats.corrupt -= bad_in_a_row
            if self.frame_count and length < self.frame_count and offset == 0:
                self.stats.missing = self.frame_count - length
                log.warning(
                    "%s ended at frame %d of the %d it declares: truncated or damaged",
                    self.name,
                    length,
                    self.frame_count,
                    extra={"read_frames": length, "declared_frames": self.frame_count},
                )
            if not self.loop or length == 0:
                return
            offset += length

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG, _threads(self.decode_threads))
        if not capture.isOpened():
            capture.release()
            raise InputError(f"cannot read video file {self.path}: not a video OpenCV can decode")
        return capture


class ImageFolderSource:
    """Reads the images of a folder in name order; unreadable files are skipped and counted.
    With `stills`, each image is a scene of its own: a gap follows it (its tracks end)."""

    def __init__(self, folder: Path, *, loop: bool = False, stills: bool = False) -> None:
        self.name = str(folder)
        self.loop = loop
        self.stills = stills
        self.stats = CaptureStats()
        self.files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise InputError(f"image folder {folder}: no images ({', '.join(IMAGE_SUFFIXES)})")

    def frames(self) -> Iterator[Frame | SourceGap]:
        index = 0
        while True:
            for file in self.files:
                image = read_image(file)
                if image is None:
                    self.stats.corrupt += 1
                    log.warning("skipping unreadable image %s", file)
                    continue
                self.stats.frames += 1
                yield Frame(image=image, index=index, timestamp=datetime.now(UTC), source=str(file))
                index += 1
                if self.stills:
                    yield SourceGap(str(file))
            if not self.loop:
                return


class LiveSource:
    """A camera or stream; when it drops, reconnects with doubling waits and logs each try."""

    def __init__(
        self,
        name: str,
        target: str | int,
        backend: int,
        *,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        decode_threads: int = 1,
        open_timeout_s: float | None = None,
        read_timeout_s: float | None = None,
        wait_at_start: bool = False,
    ) -> None:
        self.name = redact(name)
        self.params = _threads(decode_threads) if backend == cv2.CAP_FFMPEG else []
        if backend == cv2.CAP_FFMPEG:
            self.params += _timeouts(open_timeout_s, read_timeout_s)
        self.target = target
        self.backend = backend
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self._wait = reconnect_initial_s
        self.stats = CaptureStats()
        self._stop = threading.Event()
        self._capture: cv2.VideoCapture | None = self._open()
        if self._capture is None:
            # A network stream down at start is waited for like one that dropped; a local
            # camera that is missing is bad input.
            if not wait_at_start:
                raise InputError(f"cannot open camera or stream {self.name}")
            log.warning("cannot open %s yet; retrying with backoff", self.name)

    def stop(self) -> None:
        self._stop.set()

    def frames(self) -> Iterator[Frame | SourceGap]:
        index = 0
        while not self._stop.is_set():
            capture = self._capture or self._reconnect()
            if capture is None:
                return
            ok, image = capture.read()
            if ok and image is not None:
                self._wait = self.reconnect_initial_s
                self.stats.frames += 1
                yield Frame(image=image, index=index, timestamp=datetime.now(UTC), source=self.name)
                index += 1
                continue
            if self._stop.is_set():
                return
            log.warning("lost %s; reconnecting", self.name)
            capture.release()
            self._capture = None
            yield SourceGap(self.name)

    def _open(self) -> cv2.VideoCapture | None:
        capture = cv2.VideoCapture(self.target, self.backend, self.params)
        if capture.isOpened():
            return capture
        capture.release()
        return None

    def _reconnect(self) -> cv2.VideoCapture | None:
        # The wait only resets after a frame arrives, so a source that connects and drops at
        # once still backs off instead of spinning.
        attempt = 0
        while not self._stop.wait(self._wait):
            attempt += 1
            self.stats.reconnects += 1
            self._wait = min(self._wait * 2, self.reconnect_max_s)
            capture = self._open()
            if capture is not None:
                log.info("reconnected to %s after %d attempt(s)", self.name, attempt)
                self._capture = capture
                return capture
            log.warning(
                "reconnect %d to %s failed; next try in %.1f s",
                attempt,
                self.name,
                self._wait,
                extra={"source": self.name, "attempt": attempt},
            )
        return None


def read_image(path: Path) -> np.ndarray | None:
    """Decode an image file to BGR; None when it is missing or not a readable image."""
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _timeouts(open_s: float | None, read_s: float | None) -> list[int]:
    """VideoCapture parameters for FFmpeg's open and read timeouts (a frozen stream is a drop
    after `read_s`, not after FFmpeg's 30 s default)."""
    params = []
    if open_s:
        params += [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, round(open_s * 1000)]
    if read_s:
        params += [cv2.CAP_PROP_READ_TIMEOUT_MSEC, round(read_s * 1000)]
    return params


def _threads(count: int) -> list[int]:
    """VideoCapture parameters for FFmpeg's decoding threads (0 lets FFmpeg choose)."""
    return [cv2.CAP_PROP_N_THREADS, count]


def _sleep_until(deadline: float) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        time.sleep(delay)
