"""A live stream that drops, freezes or is down at start, served on loopback (tests/faults.py):
the drop is a gap that ends open tracks, a freeze is noticed within the configured read
timeout, a stream down at start is waited for, and a stop during a freeze is prompt."""

from __future__ import annotations

import threading
import time

import pytest
from faults import MjpegServer

from edge.config import CameraConfig
from edge.runtime.capture import DecodeThread, LiveSource, SourceGap, open_source

CAMERA = CameraConfig(reconnect_initial_s=0.1, reconnect_max_s=0.5, read_timeout_s=1.0)


def take(iterator, count, timeout_s=20):
    """The next `count` items (frames or gaps), within a time limit."""
    items, deadline = [], time.monotonic() + timeout_s
    for item in iterator:
        items.append(item)
        if len(items) == count or time.monotonic() > deadline:
            break
    return items


@pytest.mark.timeout(60)
def test_a_stream_that_drops_yields_a_gap_at_once_then_reconnects():
    with MjpegServer() as server:
        source = open_source(server.url, CAMERA)
        frames = iter(DecodeThread(source))
        assert all(not isinstance(i, SourceGap) for i in take(frames, 10))
        server.down()
        dropped = time.monotonic()
        while not isinstance(next(frames), SourceGap):
            pass
        assert time.monotonic() - dropped < 2.0  # not held until frames return
        server.up()
        assert not isinstance(next(frames), SourceGap)  # back
        frames.close()
    assert source.stats.reconnects >= 1


@pytest.mark.timeout(60)
def test_a_frozen_stream_is_a_gap_within_the_read_timeout():
    with MjpegServer() as server:
        source = open_source(server.url, CAMERA)
        frames = iter(DecodeThread(source))
        take(frames, 5)
        server.freeze()  # the socket stays open, nothing comes
        frozen = time.monotonic()
        while not isinstance(next(frames), SourceGap):
            pass
        waited = time.monotonic() - frozen
        server.thaw()
        frames.close()
    assert waited < CAMERA.read_timeout_s + 1.5  # OpenCV's own default is 30 s


@pytest.mark.timeout(60)
def test_a_stream_down_at_start_is_waited_for_with_backoff_not_refused():
    with MjpegServer() as server:
        server.down()
        source = open_source(server.url, CAMERA)  # no InputError: it may come up
        assert isinstance(source, LiveSource)
        threading.Timer(1.0, server.up).start()
        started = time.monotonic()
        frames = iter(DecodeThread(source))
        first = next(f for f in frames if not isinstance(f, SourceGap))
        frames.close()
    assert first.index == 0 and time.monotonic() - started >= 0.9
    assert source.stats.reconnects >= 1


@pytest.mark.timeout(60)
def test_stopping_during_a_freeze_returns_promptly():
    with MjpegServer() as server:
        camera = CameraConfig(read_timeout_s=30.0)  # the freeze outlasts the stop
        decode = DecodeThread(open_source(server.url, camera))
        frames = iter(decode)
        take(frames, 3)
        server.freeze()
        time.sleep(0.5)
        started = time.monotonic()
        frames.close()
        stopped = time.monotonic() - started
        server.thaw()
    assert stopped < 2.0


def test_the_timeouts_reach_opencvs_ffmpeg_backend():
    import cv2

    from edge.runtime.capture.sources import _timeouts

    params = _timeouts(2.5, 4.0)
    assert params == [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, 2500, cv2.CAP_PROP_READ_TIMEOUT_MSEC, 4000]


def test_credentials_in_a_stream_url_never_reach_the_log(caplog):
    with MjpegServer() as server:
        url = server.url.replace("http://", "http://admin:hunter2@")
        source = open_source(url, CAMERA)
        frames = iter(DecodeThread(source))
        take(frames, 3)
        server.down()
        while not isinstance(next(frames), SourceGap):
            pass
        frames.close()
    assert source.name.startswith("http://***@127.0.0.1")
    assert "lost http://***@" in caplog.text and "hunter2" not in caplog.text
