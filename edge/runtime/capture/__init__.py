"""Capture: turn a source string into a stream of Frames, decoded on a background thread.

Source strings (the `[camera] source` key or `--source`):

- `clip.mp4` (any file FFmpeg reads): replayed flat out, or at its frame rate with `realtime`.
- `folder/`: the images in it, in name order.
- `rtsp://...`, `http(s)://...`: network streams.
- `/dev/video0` or `v4l2:0`: a V4L2 camera (USB webcams, Raspberry Pi via the V4L2 bridge).
- `gst:<pipeline>`: a GStreamer pipeline ending in `appsink`; needs an OpenCV built with
  GStreamer (the pip wheel is not; on a Pi or Jetson use the distribution's python3-opencv).
  Raspberry Pi camera through libcamera:
  `gst:libcamerasrc ! video/x-raw,width=1280,height=720,framerate=30/1 ! videoconvert !
  video/x-raw,format=BGR ! appsink drop=true max-buffers=2` (one line)
  Jetson CSI camera:
  `gst:nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM),width=1280,height=720,
  framerate=30/1 ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert !
  video/x-raw,format=BGR ! appsink drop=true max-buffers=2` (one line)

Live sources reconnect with backoff; a missing file, folder or camera raises InputError.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import cv2

from edge.config import NON_PATH_SOURCES, CameraConfig
from edge.errors import InputError
from edge.logs import redact
from edge.runtime.capture.sources import (
    IMAGE_SUFFIXES,
    CaptureStats,
    ImageFolderSource,
    LiveSource,
    SourceGap,
    VideoFileSource,
    read_image,
)
from edge.runtime.types import Frame

__all__ = [
    "IMAGE_SUFFIXES",
    "CaptureStats",
    "DecodeThread",
    "FrameSource",
    "ImageFolderSource",
    "LiveSource",
    "SourceGap",
    "VideoFileSource",
    "open_source",
    "read_image",
]

STREAM_SCHEMES = NON_PATH_SOURCES[:5]
# How long a stop waits for the decoding thread (blocked, perhaps, in a frozen stream's read).
CLOSE_WAIT_S = 1.0


class FrameSource(Protocol):
    name: str
    stats: CaptureStats

    def frames(self) -> Iterator[Frame | SourceGap]: ...


def open_source(spec: str, camera: CameraConfig) -> FrameSource:
    """Open what `spec` names; bad or unreachable sources raise InputError naming them."""
    if not spec:
        raise InputError("no source given: set [camera] source in the config or pass --source")
    reconnect = {
        "reconnect_initial_s": camera.reconnect_initial_s,
        "reconnect_max_s": camera.reconnect_max_s,
    }
    if spec.startswith(STREAM_SCHEMES):
        return LiveSource(
            spec,
            spec,
            cv2.CAP_FFMPEG,
            decode_threads=camera.decode_threads,
            open_timeout_s=camera.open_timeout_s,
            read_timeout_s=camera.read_timeout_s,
            wait_at_start=True,
            **reconnect,
        )
    if spec.startswith("gst:"):
        if "GStreamer:                   YES" not in cv2.getBuildInformation():
            raise InputError(
                f"source {spec!r} needs OpenCV built with GStreamer; this one is not "
                "(install the system python3-opencv on the Pi or Jetson)"
            )
        return LiveSource(spec, spec[4:], cv2.CAP_GSTREAMER, **reconnect)
    if spec.startswith("v4l2:"):
        device = spec[5:]
        target: str | int = int(device) if device.isdigit() else device
        return LiveSource(spec, target, cv2.CAP_V4L2, **reconnect)
    if spec.startswith("/dev/video"):
        return LiveSource(spec, spec, cv2.CAP_V4L2, **reconnect)
    path = Path(spec)
    if path.is_dir():
        return ImageFolderSource(path, loop=camera.loop, stills=camera.stills)
    if path.is_file():
        return VideoFileSource(
            path, realtime=camera.realtime, loop=camera.loop, decode_threads=camera.decode_threads
        )
    raise InputError(f"source {redact(spec)}: no such file, folder, camera or URL scheme")


class DecodeThread:
    """Iterates a source's frames decoded on a background thread, so decoding overlaps the
    pipeline's work (OpenCV releases the GIL while it decodes).

    With `drop_oldest` (live cameras) a full queue loses its oldest frame, counted in
    `dropped`, so the pipeline always gets the newest; otherwise (replays) decoding waits.
    `wake` is set whenever a frame (or the end) is queued, for a consumer serving several."""

    _END = object()

    def __init__(
        self,
        source: FrameSource,
        queue_size: int = 8,
        *,
        drop_oldest: bool = False,
        wake: threading.Event | None = None,
    ) -> None:
        self.source = source
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.drop_oldest = drop_oldest
        self._wake = wake
        self.dropped = 0
        self.ended = False
        # Time spent producing frames (decoding, and pacing for realtime replays).
        self.decode_seconds = 0.0
        self._thread = threading.Thread(target=self._run, name="decode", daemon=True)

    def __iter__(self) -> Iterator[Frame | SourceGap]:
        self.start()
        try:
            while (item := self._queue.get()) is not self._END:
                yield item  # type: ignore[misc]
        finally:
            self.close()
        if self._error is not None:
            raise self._error

    def start(self) -> None:
        if not self._thread.is_alive() and not self._thread.ident:
            self._thread.start()

    def poll(self) -> Frame | SourceGap | None:
        """The next decoded frame (or a gap: the live source dropped), or None when none is
        ready yet or the source has ended (`ended` then true); an error the source raised is
        raised here, once, at its end."""
        if self.ended:
            return None
        try:
            item = self._queue.get_nowait()
        except queue.Empty:
            return None
        if item is not self._END:
            return item  # type: ignore[return-value]
        self.ended = True
        if self._error is not None:
            raise self._error
        return None

    def close(self, wait_s: float = CLOSE_WAIT_S) -> None:
        """Stop the decoder; a read blocked in a frozen stream is not waited for past
        `wait_s` (the thread is a daemon and ends with the process), so a stop is prompt."""
        self._stop.set()
        stop = getattr(self.source, "stop", None)
        if stop is not None:
            stop()
        deadline = time.monotonic() + wait_s
        while self._thread.is_alive() and time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):  # unblock a producer blocked on a full queue
                self._queue.get(timeout=0.05)

    def _run(self) -> None:
        try:
            frames = self.source.frames()
            while not self._stop.is_set():
                started = time.perf_counter()
                frame = next(frames, None)
                self.decode_seconds += time.perf_counter() - started
                if frame is None:
                    break
                self._put(frame)
        except BaseException as exc:  # handed to the consumer's thread
            self._error = exc
        finally:
            self._put_end()

    def _put(self, frame: Frame) -> None:
        if not self.drop_oldest:
            self._queue.put(frame)
        else:
            while True:
                try:
                    self._queue.put_nowait(frame)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):  # the consumer may just have taken it
                        self._queue.get_nowait()
                        self.dropped += 1
        if self._wake is not None:
            self._wake.set()

    def _put_end(self) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(self._END, timeout=0.05)
                if self._wake is not None:
                    self._wake.set()
                return
            except queue.Full:
                continue
