"""Several cameras on one unit: [[camera]] config, one process serving them in turn, a camera
that fails leaving the others running, newest-frame-wins on live sources, and the bench."""

import dataclasses
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from edge.cli import main
from edge.clock import UTC
from edge.config import describe, load_config
from edge.errors import ConfigError
from edge.lab.bench import BenchResult
from edge.lab.demo import compare, load_truth
from edge.runtime.capture import CaptureStats, DecodeThread
from edge.runtime.hotlist import import_csv
from edge.runtime.pipeline import Pipeline, RunStats
from edge.runtime.pipeline.cameras import CameraInputs, CameraRun, open_cameras, run_cameras
from edge.runtime.store import ReadStore
from edge.runtime.types import Frame

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "sample_video"
MODELS = [REPO / "models" / name for name in ("detector.onnx", "ocr.onnx", "ocr_plate_config.yaml")]
needs_models = pytest.mark.skipif(
    not all(path.exists() for path in MODELS), reason="shipped models not trained yet"
)


def write(tmp_path, text):
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def test_camera_entries_each_keep_their_source_and_motion_laid_over_the_top_level(tmp_path):
    config = load_config(
        write(
            tmp_path,
            "[motion]\nwidth = 200\n"
            '[[camera]]\nid = "north"\nsource = "north.mp4"\nrealtime = true\n'
            "[camera.motion]\nzones = [[[0, 0], [10, 0], [10, 10]]]\n"
            '[[camera]]\nid = "south"\nsource = "rtsp://cam/south"\n',
        )
    )
    north, south = config.cameras
    assert (north.id, north.source, north.realtime) == ("north", str(tmp_path / "north.mp4"), True)
    assert (south.id, south.source, south.realtime) == ("south", "rtsp://cam/south", False)
    assert config.motion_of(north).zones == (((0.0, 0.0), (10.0, 0.0), (10.0, 10.0)),)
    assert config.motion_of(north).width == 200  # not given: the top-level [motion]'s
    assert config.motion_of(south) == config.motion


def test_config_describe_tells_of_camera_entries_and_their_own_motion_table():
    text = describe()
    assert "[[camera]] entry per camera" in text
    assert "motion (a table of [motion] keys, optional)" in text


def test_one_camera_table_is_the_only_camera(tmp_path):
    config = load_config(write(tmp_path, '[camera]\nid = "solo"\n'))
    assert [camera.id for camera in config.cameras] == ["solo"]


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('[[camera]]\nid = "a"\n[[camera]]\nid = "a"\n', "camera[1].id", "duplicate camera id"),
        ('[camera]\nid = "a"\n[[camera]]\nid = "b"\n', "camera", "not both"),
        ('[[camera]]\nid = "b"\n[camera]\nid = "a"\n', "camera", "not both"),
        ('[[camera]]\nid = "a"\n[[camera]]\nid = " "\n', "camera[1].id", "must not be empty"),
        ('[[camera]]\nid = "a"\nfps = 3\n', "camera[0].fps", "unknown key"),
        (
            '[[camera]]\nid = "a"\n[camera.motion]\nwidth = 2\n',
            "camera[0].motion.width",
            "must be >= 16",
        ),
        ("camera = []\n", "camera", "at least one"),
    ],
)
def test_camera_entry_errors_name_the_file_and_key(tmp_path, text, key, reason):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.file == str(path) and caught.value.key == key
    assert reason in caught.value.reason


def test_run_with_source_and_several_cameras_must_name_one(tmp_path, capsys):
    path = write(tmp_path, '[[camera]]\nid = "a"\n[[camera]]\nid = "b"\n')
    assert main(["run", "--config", str(path), "--source", "x.mp4"]) == 2
    assert "--camera ID (a, b)" in capsys.readouterr().err
    assert main(["run", "--config", str(path), "--camera", "c"]) == 2
    assert "no camera with id 'c'" in capsys.readouterr().err


class FakeSource:
    """`count` still grey frames, then the end or an error."""

    def __init__(self, name, count, fail=False, delay_s=0.0):
        self.name = name
        self.count = count
        self.fail = fail
        self.delay_s = delay_s
        self.stats = CaptureStats()

    def frames(self):
        image = np.full((48, 64, 3), 90, np.uint8)
        for index in range(self.count):
            if self.delay_s:
                time.sleep(self.delay_s)
            self.stats.frames += 1
            yield Frame(image=image, index=index, timestamp=datetime.now(UTC), source=self.name)
        if self.fail:
            raise OSError(f"{self.name}: device unplugged")


class NoPlates:
    def detect(self, image, areas, scale=1.0):
        return []


def fake_inputs(tmp_path, sources):
    config = load_config(write(tmp_path, "[store]\ndata_dir = 'data'\n"))
    cameras = [dataclasses.replace(config.camera, id=name) for name in sources]
    config = dataclasses.replace(config, camera=cameras[0], more_cameras=tuple(cameras[1:]))
    # No plate is ever found, so the reader is never asked for anything.
    return CameraInputs(config, sources, {}, detector=NoPlates(), reader=None)


def test_a_camera_whose_source_fails_stops_alone_and_the_others_read_on(tmp_path):
    sources = {"good": FakeSource("good", 40), "bad": FakeSource("bad", 3, fail=True)}
    store = ReadStore(tmp_path / "data")
    result = run_cameras(fake_inputs(tmp_path, sources), store)
    store.close()
    runs = {run.camera.id: run for run in result.cameras}
    assert runs["good"].stats.frames == 40 and runs["good"].error is None
    assert runs["bad"].stats.frames == 3 and "device unplugged" in runs["bad"].error
    assert [run.camera.id for run in result.failed] == ["bad"]


def test_one_camera_runs_through_the_same_loop_and_its_source_failure_is_raised(tmp_path):
    from edge.runtime.pipeline.runner import Inputs, run_pipeline

    many = fake_inputs(tmp_path, {"only": FakeSource("only", 12)})
    one = Inputs(many.config, many.sources["only"], many.detector, many.reader)
    store = ReadStore(tmp_path / "data")
    result = run_pipeline(one, store)
    assert result.stats.frames == 12 and result.capture.frames == 12
    failing = FakeSource("only", 3, fail=True)
    with pytest.raises(OSError, match="device unplugged"):
        run_pipeline(Inputs(many.config, failing, many.detector, many.reader), store)
    store.close()


def test_cameras_are_served_in_turn_so_none_waits_for_another(tmp_path, monkeypatch):
    served = []
    original = Pipeline.process

    def record(self, frame):
        served.append(self.camera.id)
        original(self, frame)

    monkeypatch.setattr(Pipeline, "process", record)
    # The busy camera delivers a frame every 5 ms, the quiet one all at once: under any load the
    # quiet camera's frames are waiting long before the busy camera's sixty have all arrived.
    sources = {"busy": FakeSource("busy", 60, delay_s=0.005), "quiet": FakeSource("quiet", 10)}
    store = ReadStore(tmp_path / "data")
    run_cameras(fake_inputs(tmp_path, sources), store)
    store.close()
    assert Counter(served) == {"busy": 60, "quiet": 10}
    # The quiet camera's ten frames are all served within the first rounds, not after busy's 60.
    assert max(i for i, camera in enumerate(served) if camera == "quiet") < 40


def test_newest_frame_wins_a_full_live_queue_and_each_drop_is_counted():
    source = FakeSource("live", 60)
    frames = DecodeThread(source, queue_size=4, drop_oldest=True)
    frames.start()
    got = []
    while not frames.ended:
        frame = frames.poll()
        if frame is not None:
            got.append(frame.index)
            time.sleep(0.01)  # a consumer slower than the camera
    frames.close()
    assert frames.dropped > 0
    assert len(got) + frames.dropped == 60
    assert got[-1] == 59  # the newest frame always gets through
    assert got == sorted(got)


def test_a_replay_queue_waits_for_a_slow_consumer_and_drops_nothing():
    wake = threading.Event()
    frames = DecodeThread(FakeSource("replay", 30), queue_size=2, wake=wake)
    got = []
    for frame in frames:
        got.append(frame.index)
        time.sleep(0.005)
    assert got == list(range(30)) and frames.dropped == 0 and wake.is_set()


def bench_result(realtime, dropped=0, seconds=5.0):
    run = CameraRun(load_config(REPO / "config" / "edge.toml").camera, dropped=dropped)
    return BenchResult(140, 100.0, RunStats(frames=140), 100.0, (run,), seconds, realtime, 4.67)


def test_a_realtime_bench_is_behind_when_a_frame_drops_or_it_runs_10_percent_over():
    assert not bench_result(True, seconds=5.1).behind  # +9%
    assert bench_result(True, seconds=5.2).behind  # +11%
    assert bench_result(True, dropped=1, seconds=4.7).behind
    assert not bench_result(False, dropped=1, seconds=60).behind  # flat out never is


@needs_models
@pytest.mark.slow
def test_two_replayed_cameras_each_read_the_demo_clip_under_their_own_id(tmp_path):
    config = load_config(REPO / "config" / "edge.toml")
    cameras = [
        dataclasses.replace(config.camera, id=name, source=str(SAMPLE / "sample.mp4"))
        for name in ("north", "south")
    ]
    bad = dataclasses.replace(config.camera, id="broken", source=str(SAMPLE / "hotlist.csv"))
    config = dataclasses.replace(
        config,
        camera=cameras[0],
        more_cameras=(cameras[1], bad),
        store=dataclasses.replace(config.store, data_dir=tmp_path / "data"),
    )
    inputs = open_cameras(config)
    assert "broken" in inputs.unopened  # a bad file among good ones: left out, not fatal
    store = ReadStore(tmp_path / "data")
    import_csv(store, SAMPLE / "hotlist.csv")
    result = run_cameras(inputs, store)
    reads = store.reads(limit=100_000, with_hits=True)
    store.close()
    truth = load_truth(SAMPLE / "ground_truth.json")
    assert {read.read.camera_id for read in reads} == {"north", "south"}
    for name in ("north", "south"):
        report = compare(truth, [r for r in reads if r.read.camera_id == name])
        assert report.passed, name
    assert [run.camera.id for run in result.failed] == ["broken"]


@needs_models
@pytest.mark.slow
def test_bench_with_two_streams_reports_each_stream_and_the_aggregate(capsys):
    config = str(REPO / "config" / "edge.toml")
    assert main(["bench", "--config", config, "--sample-dir", str(SAMPLE), "--streams", "2"]) == 0
    out = capsys.readouterr().out
    assert "2 stream(s)" in out and "stream-1" in out and "stream-2" in out
    assert "frames dropped:       0" in out and "peak RSS" in out and "CPU:" in out
