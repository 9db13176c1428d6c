import csv
import json

import cv2
import pytest

from edge.cli import main


def run(args):
    return main(["synth", *args])


def test_plates_command_writes_crops_and_a_fast_plate_ocr_labels_csv(tmp_path):
    assert run(["plates", "--count", "6", "--out", str(tmp_path), "--seed", "4"]) == 0
    with open(tmp_path / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert set(rows[0]) == {"image_path", "plate_text", "plate_region"}
    for row in rows:
        image = cv2.imread(str(tmp_path / row["image_path"]))
        assert image is not None and image.shape[2] == 3
        assert row["plate_text"] and row["plate_region"]


def test_plates_command_is_deterministic_for_a_seed(tmp_path):
    for name in ("a", "b"):
        assert run(["plates", "--count", "4", "--out", str(tmp_path / name), "--states", "NV"]) == 0
    for name in ("labels.csv", "images/0000003.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_scenes_command_writes_yolo_labels_and_a_manifest(tmp_path):
    args = ["scenes", "--count", "3", "--out", str(tmp_path), "--width", "320", "--height", "240"]
    assert run(args) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["scenes"]) == 3
    for entry in manifest["scenes"]:
        stem = entry["image"].removeprefix("images/").removesuffix(".jpg")
        lines = (tmp_path / "labels" / f"{stem}.txt").read_text().splitlines()
        assert len(lines) == len(entry["plates"])
        for line, plate in zip(lines, entry["plates"], strict=True):
            cls, *values = line.split()
            x, y, bw, bh = plate["box"]
            expected = [(x + bw / 2) / 320, (y + bh / 2) / 240, bw / 320, bh / 240]
            assert cls == "0"
            assert [float(v) for v in values] == pytest.approx(expected, abs=1e-5)
        assert cv2.imread(str(tmp_path / entry["image"])).shape == (240, 320, 3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plates", "--count", "0", "--out", "x"], "--count: must be at least 1"),
        (["plates", "--count", "2", "--out", "x", "--states", "CA,ZZ"], "unknown state 'ZZ'"),
        (["plates", "--count", "2", "--out", "x", "--negatives", "2"], "within 0..1"),
        (["scenes", "--count", "1", "--out", "x", "--width", "0"], "--width: must be at least 1"),
        (["video", "--seconds", "zero"], "not a whole number"),
    ],
)
def test_bad_arguments_exit_2_with_the_reason(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_unwritable_output_and_tiny_scenes_exit_2_with_the_reason(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert run(["plates", "--count", "1", "--out", str(blocker / "sub")]) == 2
    assert "cannot write to output folder" in capsys.readouterr().err
    args = ["scenes", "--count", "1", "--out", str(tmp_path), "--width", "32", "--height", "32"]
    assert run(args) == 2
    assert "at least 64x64" in capsys.readouterr().err
    assert run(["video", "--out", str(tmp_path), "--seconds", "2"]) == 2
    assert "within 5..120" in capsys.readouterr().err
