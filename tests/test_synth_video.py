import csv
import itertools
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.lab.synth import plates as plates_module
from edge.lab.synth.plates import FlatPlate
from edge.lab.synth.video import HOTLIST_NAME, TRUTH_NAME, VIDEO_NAME, SampleClip
from edge.plates.masks import fits_region_format

SAMPLE = Path(__file__).resolve().parent.parent / "sample_video"


@pytest.fixture(scope="module")
def truth():
    return json.loads((SAMPLE / TRUTH_NAME).read_text())


def test_committed_clip_is_what_the_demo_needs(truth):
    video = cv2.VideoCapture(str(SAMPLE / VIDEO_NAME))
    assert video.isOpened()
    assert video.get(cv2.CAP_PROP_FRAME_WIDTH) == 1280
    assert video.get(cv2.CAP_PROP_FRAME_HEIGHT) == 720
    assert video.get(cv2.CAP_PROP_FPS) == pytest.approx(30)
    assert 20 * 30 <= video.get(cv2.CAP_PROP_FRAME_COUNT) <= 30 * 30
    video.release()
    assert (SAMPLE / VIDEO_NAME).stat().st_size < 10_000_000

    vehicles = truth["vehicles"]
    assert len(vehicles) >= 12
    states = [v["state"] for v in vehicles]
    assert states.count("CA") > len(states) / 2 and len(set(states)) >= 3
    night_start, night_end = truth["infrared_frames"]
    for vehicle in vehicles:
        assert fits_region_format(vehicle["plate"], vehicle["state"])
        readable = [f["plate_width_px"] for f in vehicle["frames"] if f["readable"]]
        assert len(readable) >= 8, vehicle["plate"]
        assert 95 <= max(readable) <= 240
    assert any(night_start <= f["frame"] < night_end for v in vehicles for f in v["frames"])


def test_hotlist_names_a_plate_that_passes_readably(truth):
    with open(SAMPLE / HOTLIST_NAME, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["plate", "state", "reason", "source", "expiry"]
    listed = {(row["plate"], row["state"]) for row in rows}
    hits = [v for v in truth["vehicles"] if (v["plate"], v["state"]) in listed]
    assert hits and all(v["hotlisted"] for v in hits)
    assert any(f["readable"] for f in hits[0]["frames"])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    error = np.mean((a.astype(np.float32) - b.astype(np.float32)) ** 2)
    return float(10 * np.log10(255**2 / max(error, 1e-6)))


def test_seed_regenerates_the_committed_clip_frame_for_frame(truth):
    clip = SampleClip(truth["seed"], truth["frames"] // truth["fps"])
    video = cv2.VideoCapture(str(SAMPLE / VIDEO_NAME))
    first = 45
    boxes: dict[int, list] = {}
    for vehicle in truth["vehicles"]:
        for record in vehicle["frames"]:
            boxes.setdefault(record["frame"], []).append(record["box"])
    plate_psnr = []
    for index, rendered in enumerate(itertools.islice(clip.frames(), first)):
        ok, decoded = video.read()
        assert ok
        assert psnr(rendered, decoded) > 32  # the same picture through a lossy codec
        for x, y, w, h in boxes.get(index, []):
            window = np.s_[y : y + h, x : x + w]
            plate_psnr.append(psnr(rendered[window], decoded[window]))
    video.release()
    # Plates are small: a changed plate face barely moves the whole-frame figure, so compare
    # the plates themselves (about 30 dB when they match, about 22 dB when the faces differ).
    assert plate_psnr and np.mean(plate_psnr) > 26
    regenerated = {(v.plate.text, f["frame"]): f for v in clip.vehicles for f in v.track}
    committed = {
        (v["plate"], f["frame"]): f
        for v in truth["vehicles"]
        for f in v["frames"]
        if f["frame"] < first
    }
    assert committed and regenerated == committed


def test_video_boxes_are_tight_around_the_drawn_plate_pixels(monkeypatch):
    face = np.zeros((128, 256, 3), np.uint8)
    face[:] = (255, 0, 255)
    monkeypatch.setattr(
        plates_module.PlateRenderer,
        "draw_plate",
        lambda self, state=None, text=None: FlatPlate(face, "7XUP882", state or "CA", "test"),
    )
    clip = SampleClip(seed=4, seconds=6)
    checked = 0
    for index, image in enumerate(itertools.islice(clip.frames(), 40)):
        painted = np.abs(image.astype(int) - (255, 0, 255)).sum(axis=2) < 120
        for vehicle in clip.vehicles:
            for record in vehicle.track:
                if record["frame"] != index:
                    continue
                x, y, w, h = record["box"]
                ys, xs = np.nonzero(painted[max(y - 4, 0) : y + h + 4, max(x - 4, 0) : x + w + 4])
                assert (
                    abs(xs.min() + max(x - 4, 0) - x) <= 1
                    and abs(ys.min() + max(y - 4, 0) - y) <= 1
                )
                assert (
                    abs(xs.max() - xs.min() + 1 - w) <= 2 and abs(ys.max() - ys.min() + 1 - h) <= 2
                )
                checked += 1
    assert checked >= 10
