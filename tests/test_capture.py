import functools
import http.server
import logging
import threading
import time
from datetime import timedelta

import cv2
import numpy as np
import pytest

from edge.config import CameraConfig
from edge.errors import InputError
from edge.runtime.capture import DecodeThread, LiveSource, open_source


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def numbered_frame(i, size=(320, 240)):
    image = np.zeros((size[1], size[0], 3), np.uint8)
    cv2.putText(image, str(i), (40, 160), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
    return image


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30, (320, 240))
    for i in range(45):
        writer.write(numbered_frame(i))
    writer.release()
    return path


def test_video_replay_yields_every_frame_with_position_timestamps(clip):
    source = open_source(str(clip), CameraConfig())
    frames = list(DecodeThread(source))
    assert [f.index for f in frames] == list(range(45))
    assert frames[30].timestamp - frames[0].timestamp == timedelta(seconds=1)
    assert source.stats.frames == 45 and source.stats.corrupt == 0


def test_realtime_replay_keeps_the_file_frame_rate_and_loop_starts_again(clip):
    source = open_source(str(clip), CameraConfig(realtime=True, loop=True))
    started = time.monotonic()
    frames = []
    for frame in DecodeThread(source, queue_size=2):
        frames.append(frame)
        if len(frames) == 60:
            break
    assert time.monotonic() - started >= 1.8  # 60 frames at 30 fps
    assert frames[-1].index == 59


def test_image_folder_skips_and_counts_corrupt_images(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.png"), numbered_frame(i))
    (tmp_path / "1b.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    source = open_source(str(tmp_path), CameraConfig())
    frames = list(DecodeThread(source))
    assert [f.source.rsplit("/", 1)[1] for f in frames] == ["0.png", "1.png", "2.png"]
    assert source.stats.corrupt == 1


@pytest.mark.parametrize(
    ("spec", "named"),
    [
        ("no/such/clip.mp4", "no/such/clip.mp4"),
        ("/dev/video99", "/dev/video99"),
        ("gst:videotestsrc ! appsink", "GStreamer"),
        ("", "no source given"),
    ],
)
def test_unusable_sources_are_bad_input_naming_the_source(spec, named):
    with pytest.raises(InputError, match=named) as error:
        open_source(spec, CameraConfig())
    assert error.value.exit_code == 2


def test_a_file_that_is_not_a_video_is_bad_input(tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("hello")
    with pytest.raises(InputError, match=r"notes\.mp4"):
        open_source(str(bogus), CameraConfig())


@pytest.mark.timeout(60)
def test_live_stream_that_ends_is_reconnected_with_backoff_and_logged(tmp_path, caplog):
    # Motion-JPEG AVI streams without seeking, as a camera's HTTP stream does.
    clip = tmp_path / "stream.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(45):
        writer.write(numbered_frame(i))
    writer.release()
    handler = functools.partial(QuietHandler, directory=clip.parent)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/{clip.name}"
    caplog.set_level(logging.INFO)
    try:
        source = open_source(url, CameraConfig(reconnect_initial_s=0.05))
        assert isinstance(source, LiveSource)
        frames = []
        for frame in DecodeThread(source):
            frames.append(frame)
            if len(frames) == 60:  # more than the 45 one connection gives
                break
    finally:
        server.shutdown()
    assert source.stats.reconnects >= 1
    assert "lost" in caplog.text and "reconnected" in caplog.text


def test_corrupt_frames_in_a_video_are_skipped_and_counted(tmp_path):
    path = tmp_path / "damaged.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(30):
        writer.write(numbered_frame(i))
    writer.release()
    data = bytearray(path.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xd8"]
    for frame in (10, 11, 12):  # wipe the start of three JPEG frames
        data[starts[frame] : starts[frame] + 400] = bytes(400)
    path.write_bytes(bytes(data))
    source = open_source(str(path), CameraConfig())
    frames = list(DecodeThread(source))
    assert (len(frames), source.stats.corrupt) == (27, 3)
    assert [f.index for f in frames] == [*range(10), *range(13, 30)]


def test_a_fast_looping_replay_never_stamps_a_frame_after_the_clock(clip):
    from datetime import datetime

    from edge.clock import UTC

    source = open_source(str(clip), CameraConfig(loop=True))
    frames = []
    for frame in DecodeThread(source):
        frames.append(frame)
        assert frame.timestamp <= datetime.now(UTC)
        if len(frames) == 45 * 6:  # six loops, far faster than 30 fps
            break
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps)  # and never backwards
    assert frames[30].timestamp - frames[0].timestamp == timedelta(seconds=1)  # spacing kept


def test_image_folder_of_stills_ends_each_image_with_a_gap(tmp_path):
    from edge.runtime.capture import SourceGap

    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i}.jpg"), numbered_frame(i))
    items = list(open_source(str(tmp_path), CameraConfig(stills=True)).frames())
    assert [type(i).__name__ for i in items] == ["Frame", "SourceGap"] * 3
    assert not any(
        isinstance(i, SourceGap) for i in open_source(str(tmp_path), CameraConfig()).frames()
    )
