import json
import subprocess
import sys
import time

import numpy as np
import pytest

from edge.cli import main
from edge.lab.train.detector_data import (
    AugmentConfig,
    Labelled,
    augment,
    load_yolo_image,
    make_targets,
)
from edge.runtime.detect import PlateDetector
from edge.runtime.detect.detector import STRIDE


def _white_plate_on_black() -> Labelled:
    image = np.zeros((400, 600, 3), np.uint8)
    image[200:240, 250:370] = 255
    return Labelled(
        image=image,
        boxes=np.array([[250, 200, 370, 240]], np.float32),
        corners=np.array([[[250, 200], [370, 200], [370, 240], [250, 240]]], np.float32),
        has_corners=np.array([True]),
    )


def test_augmented_boxes_and_corners_stay_on_the_plate():
    config = AugmentConfig(crop=160)
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(30):
        crop = augment(_white_plate_on_black(), rng, config)
        x1, y1, x2, y2 = crop.boxes[0]
        if x1 < 0 or y1 < 0 or x2 > 160 or y2 > 160:
            continue  # cut by the crop edge
        inside = crop.image[int(y1) + 3 : int(y2) - 3, int(x1) + 3 : int(x2) - 3]
        assert inside.mean() > 60  # still the bright plate despite colour damage
        top_left, top_right = crop.corners[0, 0], crop.corners[0, 1]
        assert top_left[0] < top_right[0]  # flips keep corners clockwise from top-left
        checked += 1
    assert checked >= 10


def test_targets_peak_at_the_plate_centre_with_its_distances():
    sample = Labelled(
        image=np.zeros((128, 128, 3), np.uint8),
        boxes=np.array([[40, 60, 100, 76]], np.float32),
        corners=np.array([[[40, 60], [100, 60], [100, 76], [40, 76]]], np.float32),
        has_corners=np.array([False]),
    )
    targets = make_targets(sample, 128, 0.6)
    peak_y, peak_x = np.unravel_index(targets.heat.argmax(), targets.heat.shape)
    assert (peak_y, peak_x) == (68 // STRIDE, 70 // STRIDE)
    assert targets.heat.max() == 1.0
    cell_x, cell_y = (peak_x + 0.5) * STRIDE, (peak_y + 0.5) * STRIDE
    assert targets.distances[:, peak_y, peak_x].tolist() == pytest.approx(
        [cell_x - 40, cell_y - 60, 100 - cell_x, 76 - cell_y]
    )
    assert targets.corner_weight.sum() == 0  # box-only labels teach no corners


def test_a_plate_mostly_outside_the_crop_is_neither_positive_nor_negative():
    sample = Labelled(
        image=np.zeros((128, 128, 3), np.uint8),
        boxes=np.array([[-60, 20, 20, 40]], np.float32),
        corners=np.zeros((1, 4, 2), np.float32),
        has_corners=np.array([False]),
    )
    targets = make_targets(sample, 128, 0.6)
    assert targets.heat.max() == 0
    assert targets.heat_weight[20 // STRIDE : 40 // STRIDE, : 20 // STRIDE].max() == 0
    assert targets.heat_weight[100 // STRIDE, 100 // STRIDE] == 1


def test_yolo_polygon_lines_become_boxes_with_four_clockwise_corners(tmp_path):
    import cv2

    image_path = tmp_path / "car.jpg"
    cv2.imwrite(str(image_path), np.zeros((100, 200, 3), np.uint8))
    label_path = tmp_path / "car.txt"
    label_path.write_text("0 0.5 0.5 0.2 0.1\n0 0.1 0.2 0.4 0.25 0.45 0.4 0.15 0.35 0.13 0.28\n")
    sample = load_yolo_image(image_path, label_path)
    assert sample is not None
    assert sample.boxes[0].tolist() == pytest.approx([80, 45, 120, 55])
    assert sample.has_corners.tolist() == [False, True]
    assert sample.boxes[1].tolist() == pytest.approx([20, 20, 90, 40])
    np.testing.assert_allclose(
        sample.corners[1], [[20, 20], [80, 25], [90, 40], [30, 35]], atol=1e-3
    )


@pytest.mark.slow
def test_smoke_training_of_every_model_exports_a_detector_that_matches_torch(tmp_path, capfd):
    pytest.importorskip("torch")
    # `train all` runs the detector and OCR trainers side by side, in processes of their own.
    assert main(["train", "all", "--smoke", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "detector_metrics.json").read_text())
    assert metrics["train_steps"] == 3
    assert metrics["onnx_max_abs_diff"] < 1e-3
    assert metrics["onnx_bytes"] < 10_000_000
    detector = PlateDetector(tmp_path / "detector.onnx")
    assert isinstance(detector.detect(np.zeros((300, 500, 3), np.uint8)), list)
    assert '"train_steps": 3' in capfd.readouterr().out
    assert (tmp_path / "ocr.onnx").is_file() and (tmp_path / "ocr_metrics.json").is_file()


def test_train_all_stops_the_other_trainer_when_one_fails(monkeypatch):
    started = subprocess.Popen
    trainers = {}

    def trainer(command, *args, **kwargs):
        # Real processes in place of the trainers: the OCR one fails at once, the other would
        # run for a minute.
        model = "ocr" if "ocr" in command else "detector"
        body = "import sys; sys.exit(3)" if model == "ocr" else "import time; time.sleep(60)"
        trainers[model] = started([sys.executable, "-c", body])
        return trainers[model]

    monkeypatch.setattr(subprocess, "Popen", trainer)
    began = time.monotonic()
    assert main(["train", "all", "--smoke"]) == 3
    assert time.monotonic() - began < 30
    assert trainers["detector"].returncode is not None  # stopped, not left running


def test_the_shipped_detector_loads_into_the_network_and_gives_the_same_maps():
    pytest.importorskip("torch")
    from edge.lab.train.detector import load_onnx_weights, verify_onnx
    from edge.lab.train.detector_model import PlateNet
    from tests.conftest import REPO_ROOT

    net = PlateNet(16, 32)
    load_onnx_weights(net, REPO_ROOT / "models" / "detector.onnx")
    # verify_onnx raises when any output differs from the file by more than 1e-3.
    assert (
        verify_onnx(net.eval(), REPO_ROOT / "models" / "detector.onnx", np.random.default_rng(0))
        < 1e-4
    )


def test_a_detector_of_another_width_is_refused_as_a_fine_tune_start():
    pytest.importorskip("torch")
    from edge.errors import ModelError
    from edge.lab.train.detector import load_onnx_weights
    from edge.lab.train.detector_model import PlateNet
    from tests.conftest import REPO_ROOT

    with pytest.raises(ModelError, match="does not fit"):
        load_onnx_weights(PlateNet(8, 32), REPO_ROOT / "models" / "detector.onnx")


@pytest.mark.slow
def test_a_detector_fine_tune_smoke_run_starts_from_the_given_weights(tmp_path):
    pytest.importorskip("torch")
    from tests.conftest import REPO_ROOT

    init = REPO_ROOT / "models" / "detector.onnx"
    command = ["train", "detector", "--smoke", "--init", str(init), "--out", str(tmp_path)]
    assert main(command) == 0
    metrics = json.loads((tmp_path / "detector_metrics.json").read_text())
    assert metrics["config"]["init"] == str(init)
    assert metrics["onnx_max_abs_diff"] < 1e-3
