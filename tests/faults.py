"""Fault injection for the fault tests: a small real tmpfs that fills up or turns read-only,
and a loopback MJPEG stream that can be stopped, frozen and restarted."""

from __future__ import annotations

import contextlib
import http.server
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest


@contextlib.contextmanager
def tmpfs(path: Path, size: str = "1m") -> Iterator[Path]:
    """A real tmpfs of `size` mounted at `path` (tests run as root); skipped where mounting
    is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): needs root")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def remount(path: Path, mode: str) -> None:
    """Turn a tmpfs read-only ("ro") or writable again ("rw"), as an SD card does after I/O
    errors."""
    subprocess.run(["mount", "-o", f"remount,{mode}", str(path)], check=True)


def numbered_jpeg(i: int, size: tuple[int, int] = (320, 240)) -> bytes:
    image = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.putText(image, str(i), (40, 160), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
    return cv2.imencode(".jpg", image)[1].tobytes()


class MjpegServer:
    """A multipart MJPEG stream on 127.0.0.1, as IP cameras serve it, at `fps`. `down()` drops
    every connection and refuses new ones until `up()`; `freeze()` keeps the connection open
    and sends nothing until `thaw()`."""

    def __init__(self, fps: float = 20.0, frame=numbered_jpeg) -> None:
        self.fps = fps
        self.frame = frame
        self.sent = 0
        self._up = threading.Event()
        self._up.set()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._generation = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if not server._up.is_set():
                    self.send_error(503)
                    return
                generation = server._generation
                boundary = uuid.uuid4().hex
                self.send_response(200)
                self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={boundary}")
                self.end_headers()
                try:
                    while not server._closed.is_set() and generation == server._generation:
                        if not server._flowing.wait(0.05):
                            continue
                        data = server.frame(server.sent)
                        self.wfile.write(
                            f"--{boundary}\r\nContent-Type: image/jpeg\r\n"
                            f"Content-Length: {len(data)}\r\n\r\n".encode()
                            + data
                            + b"\r\n"
                        )
                        self.wfile.flush()
                        server.sent += 1
                        time.sleep(1 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/stream.mjpg"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> MjpegServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._flowing.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def down(self) -> None:
        self._up.clear()
        self._generation += 1  # open connections end

    def up(self) -> None:
        self._up.set()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()
