"""`alpr-edge run` and the access commands against faults, as a deployer meets them: a second
unit on the data folder, SIGHUP/SIGQUIT/SIGTERM (during a frozen stream too), a source that is
not a video, a truncated one, `--log-format json`, blank purposes, retention without sharing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from faults import MjpegServer

from edge.clock import UTC
from edge.runtime.store import ReadStore, data_folder_lock
from edge.runtime.types import Box, VehicleRead

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text(
        '[camera]\nid = "test-cam"\nreconnect_initial_s = 0.1\nread_timeout_s = 30.0\n'
        f'[detector]\nmodel = "{ROOT / "models/detector.onnx"}"\n'
        f'[ocr]\nmodel = "{ROOT / "models/ocr.onnx"}"\n'
        f'plate_config = "{ROOT / "models/ocr_plate_config.yaml"}"\n'
        '[store]\ndata_dir = "data"\n'
    )
    return path


def alpr(*args, **kwargs):
    return subprocess.run(
        [sys.executable, "-m", "edge", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,
    )


def start(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "edge", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_frames(process, data_dir, timeout_s=60):
    """Until the run holds its data folder and reads frames (its lock file names it)."""
    deadline = time.monotonic() + timeout_s
    lock = data_dir / "unit.lock"
    while time.monotonic() < deadline:
        if lock.is_file() and lock.read_text().strip() == str(process.pid):
            time.sleep(1.5)  # a few frames in
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("the run never started")


def clip(path, frames=90, truncate=False):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 30, (320, 240))
    for i in range(frames):
        image = np.zeros((240, 320, 3), np.uint8)
        cv2.putText(image, str(i), (40, 160), cv2.FONT_HERSHEY_SIMPLEX, 4, (255, 255, 255), 8)
        writer.write(image)
    writer.release()
    if truncate:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


# 4. One unit per data folder ---------------------------------------------------------------


def test_a_second_run_on_the_same_data_folder_exits_2_naming_the_holder(config, tmp_path):
    with data_folder_lock(tmp_path / "data"):
        result = alpr("run", "--config", config, "--source", clip(tmp_path / "c.avi"))
    assert result.returncode == 2
    assert f"in use by another alpr-edge run (pid {os.getpid()})" in result.stderr
    assert not (tmp_path / "data" / "reads.db").exists()


def test_the_lock_is_released_however_the_holder_ends(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time; from edge.runtime.store import data_folder_lock\n"
            f"with data_folder_lock({str(tmp_path)!r}): print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(Exception, match=f"pid {holder.pid}"), data_folder_lock(tmp_path):
        pass
    holder.kill()  # SIGKILL: no clean-up ran, the kernel drops the lock
    holder.wait()
    with data_folder_lock(tmp_path):
        pass


# 12 and 7. Signals end the run like SIGTERM, promptly even in a frozen stream ---------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize("stop", [signal.SIGHUP, signal.SIGQUIT, signal.SIGTERM])
def test_sighup_sigquit_and_sigterm_during_a_freeze_end_the_run_cleanly_and_promptly(
    config, tmp_path, stop
):
    with MjpegServer() as server:
        run = start("run", "--config", config, "--source", server.url)
        try:
            wait_for_frames(run, tmp_path / "data")
            server.freeze()  # the socket stays open; read_timeout_s is 30 s here
            time.sleep(0.5)
            sent = time.monotonic()
            run.send_signal(stop)
            _, stderr = run.communicate(timeout=30)
            took = time.monotonic() - sent
        finally:
            server.thaw()
            if run.poll() is None:
                run.kill()
    assert run.returncode == 0, stderr
    assert "stopped:" in stderr  # the open tracks were ended and the summary written
    assert took < 5.0


# 8. Unusable and partial sources; 9. JSON logs ---------------------------------------------


def test_a_text_file_as_source_is_an_error_exit(config, tmp_path):
    notes = tmp_path / "notes.mp4"
    notes.write_text("not a video at all\n" * 50)
    result = alpr("run", "--config", config, "--source", notes)
    assert result.returncode == 2, result.stderr
    assert "notes.mp4" in result.stderr


def test_a_truncated_file_is_reported_as_partial_with_exit_3(config, tmp_path):
    result = alpr("run", "--config", config, "--source", clip(tmp_path / "t.avi", truncate=True))
    assert result.returncode == 3, result.stderr
    assert "of the 90 it declares" in result.stderr and "read only in part" in result.stderr


def test_json_logs_are_json_on_every_stderr_line_ffmpeg_and_fatal_errors_included(config, tmp_path):
    damaged = clip(tmp_path / "d.avi", truncate=True)
    result = alpr("--log-format", "json", "run", "--config", config, "--source", damaged)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(json.loads(line) for line in lines)  # raises on any raw FFmpeg line
    fatal = alpr("--log-format", "json", "run", "--config", config, "--source", tmp_path / "x")
    (last,) = [json.loads(line) for line in fatal.stderr.splitlines()][-1:]
    assert fatal.returncode == 2 and last["level"] == "error" and last["exit_code"] == 2


def test_credentials_in_the_source_are_masked_in_a_fatal_error(config, tmp_path):
    result = alpr("run", "--config", config, "--source", "ftp://admin:hunter2@camera/feed")
    assert result.returncode == 2 and "hunter2" not in result.stderr
    assert "ftp://***@camera/feed" in result.stderr


# 10. Audited access needs a purpose and a positive limit -----------------------------------


@pytest.mark.parametrize("purpose", ["", "   "])
def test_a_blank_purpose_is_refused_and_nothing_is_audited(config, tmp_path, purpose):
    result = alpr("reads", "list", "--config", config, "--purpose", purpose)
    assert result.returncode == 2 and "must not be blank" in result.stderr
    assert not (tmp_path / "data" / "audit.sqlite").exists()


@pytest.mark.parametrize("limit", ["0", "-1"])
def test_a_limit_below_one_is_refused(config, limit):
    result = alpr("reads", "list", "--config", config, "--purpose", "case 1", "--limit", limit)
    assert result.returncode == 2 and "positive" in result.stderr


# 3. Retention without [sharing] --------------------------------------------------------------


def test_retention_purge_works_without_sharing_and_keeps_held_reads(config, tmp_path):
    store = ReadStore(tmp_path / "data")
    old = datetime.now(UTC) - timedelta(days=40)
    for plate in ("1OLD111", "2OLD222"):
        store.add_read(VehicleRead(plate, "CA", 0.9, old, "test-cam", Box(0, 0, 10, 5), 3), None)
    store.close()
    held = alpr("retention", "hold", "--config", config, "2", "--case", "C-9", "--reason", "court")
    assert held.returncode == 0, held.stderr
    result = alpr("retention", "purge", "--config", config)
    assert result.returncode == 0, result.stderr
    assert "purged 1 reads" in result.stdout and "1 kept under legal hold" in result.stdout
    store = ReadStore(tmp_path / "data")
    assert [r.read.plate for r in store.reads()] == ["2OLD222"]


# 15. A folder of single stills under `run` ---------------------------------------------------


def test_a_folder_of_stills_under_run_stores_what_read_reads(config, tmp_path, shared_data):
    import shutil

    photos = sorted(shared_data("real", "us").glob("*.jpg"))[:8]
    folder = tmp_path / "stills"
    folder.mkdir()
    for photo in photos:
        shutil.copy(photo, folder)
    read = alpr("read", "--config", config, "--json", *sorted(folder.iterdir()))
    expected = {
        plate["text"]
        for line in read.stdout.splitlines()
        for plate in json.loads(line)["plates"]
        if plate["confidence"] >= 0.5
    }
    assert expected, "the photos chosen should hold readable plates"
    result = alpr("run", "--config", config, "--source", folder, "--stills")
    assert result.returncode == 0, result.stderr
    store = ReadStore(tmp_path / "data", readonly=True)
    # Each still is a pass of its own: every plate `read` is sure of is stored.
    assert expected <= {r.read.plate for r in store.reads()}


def test_a_corrupted_middle_is_counted_reported_and_exits_partial(config, tmp_path):
    damaged = clip(tmp_path / "m.avi", frames=30)
    data = bytearray(damaged.read_bytes())
    starts = [i for i in range(len(data) - 1) if data[i : i + 2] == b"\xff\xd8"]
    for frame in (10, 11, 12):  # wipe the start of three JPEG frames
        data[starts[frame] : starts[frame] + 400] = bytes(400)
    damaged.write_bytes(bytes(data))
    result = alpr("--log-format", "json", "run", "--config", config, "--source", damaged)
    assert result.returncode == 3, result.stderr
    summary = [json.loads(line) for line in result.stderr.splitlines()]
    stopped = next(entry for entry in summary if entry["message"].startswith("stopped:"))
    assert (stopped["frames"], stopped["corrupt"]) == (27, 3)


def test_a_file_source_that_opens_but_yields_no_frame_is_an_error_exit():
    from edge.cli.run import _exit_code
    from edge.runtime.capture import CaptureStats
    from edge.runtime.pipeline.orchestrator import RunStats
    from edge.runtime.pipeline.runner import RunResult

    nothing = RunResult(RunStats(), 0.0, CaptureStats(corrupt=1))
    assert _exit_code(nothing, "notes.mp4", live=False) == 2
    clean = RunResult(RunStats(frames=840), 0.0, CaptureStats(frames=840))
    assert _exit_code(clean, "clip.mp4", live=False) == 0
    # A live source stopped before its first frame (down all along) is not bad input.
    assert _exit_code(RunResult(RunStats(), 0.0, CaptureStats()), "rtsp://c", live=True) == 0
