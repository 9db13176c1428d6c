"""The pipeline end to end with the shipped models on real frames: the sample clip and a real
approach video. Kept few: together they replay about 1,000 frames."""

import json
from pathlib import Path

import cv2
import pytest

from edge.cli import main
from edge.store import ReadStore

REPO = Path(__file__).resolve().parent.parent
MODELS = [REPO / "models" / name for name in ("detector.onnx", "ocr.onnx", "ocr_plate_config.yaml")]
SAMPLE = REPO / "sample_video"

pytestmark = pytest.mark.skipif(
    not all(path.exists() for path in MODELS), reason="shipped models not trained yet"
)


def config_for(tmp_path, source=""):
    """The shipped config with its own data folder, models taken from the repository."""
    text = (REPO / "config" / "edge.toml").read_text()
    text = text.replace('"../models/', f'"{REPO}/models/').replace('"../data"', '"data"')
    text = text.replace('source = "../sample_video/sample.mp4"', f'source = "{source}"')
    path = tmp_path / "edge.toml"
    path.write_text(text)
    return path


def truth_frame(index):
    capture = cv2.VideoCapture(str(SAMPLE / "sample.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, image = capture.read()
    assert ok
    return image


def widest_readable_plate():
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())
    return max(
        ((v, f) for v in truth["vehicles"] for f in v["frames"] if f["readable"]),
        key=lambda pair: pair[1]["plate_width_px"],
    )


@pytest.mark.slow
def test_demo_reads_the_sample_clip_as_its_ground_truth_says(capsys):
    assert (
        main(["demo", "--config", str(REPO / "config" / "edge.toml"), "--sample-dir", str(SAMPLE)])
        == 0
    )
    out = capsys.readouterr().out
    assert "demo: PASS" in out and "hotlist HIT" in out


@pytest.mark.slow
def test_real_approach_video_gives_one_read(shared_data, tmp_path):
    video = shared_data("video", "uk-approach.mp4")
    assert main(["run", "--config", str(config_for(tmp_path, video))]) == 0
    store = ReadStore(tmp_path / "data")
    assert [row["plate"] for row in store.reads()] == ["LS15EBC"]
    (row,) = store.reads()
    assert (tmp_path / "data" / row["crop_path"]).stat().st_size > 0


def test_read_json_finds_the_plate_in_a_frame(tmp_path, capsys):
    vehicle, frame = widest_readable_plate()
    image_path = tmp_path / "frame.png"
    cv2.imwrite(str(image_path), truth_frame(frame["frame"]))
    assert main(["read", "--config", str(config_for(tmp_path)), "--json", str(image_path)]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["image"] == str(image_path) and line["seconds"] > 0
    assert vehicle["plate"] in [p["text"] for p in line["plates"]]


def test_read_plate_crops_skips_the_detector(tmp_path, capsys):
    vehicle, frame = widest_readable_plate()
    x, y, w, h = frame["box"]
    crop_path = tmp_path / "crop.png"
    cv2.imwrite(str(crop_path), truth_frame(frame["frame"])[y : y + h, x : x + w])
    config = str(config_for(tmp_path))
    assert main(["read", "--config", config, "--json", "--plate-crops", str(crop_path)]) == 0
    (plate,) = json.loads(capsys.readouterr().out)["plates"]
    assert plate["text"] == vehicle["plate"] and plate["box"] == [0, 0, w, h]
