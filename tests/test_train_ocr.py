"""OCR training: label encoding, pseudo-label agreement, and a smoke run through every stage."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

pytest.importorskip("torch", reason="training needs the train extra (make setup-train)")

from edge.cli import main
from edge.errors import ConfigError
from edge.lab.train.ocr_data import encode_text, rare_letter_text
from edge.lab.train.ocr_model import ALPHABET, OcrModelShape
from edge.lab.train.ocr_real import (
    DASHCAM,
    ROBOFLOW,
    PseudoLabeller,
    RealCrop,
    agreed_label,
    dashcam_crops,
    load_checked_labels,
)
from edge.lab.train.ocr_teacher import TeacherRead
from edge.plates.masks import fits_region_format
from edge.runtime.recognise import PlateReader
from tests.conftest import REPO_ROOT

CROP = np.zeros((20, 40, 3), np.uint8)


def test_labels_fill_the_slots_after_the_text_with_the_pad_character():
    shape = OcrModelShape()
    encoded = encode_text("7ABC", shape)
    assert "".join(ALPHABET[i] for i in encoded) == "7ABC_____"
    with pytest.raises(ValueError, match="longer than 9"):
        encode_text("ABCDEFGHIJ", shape)


@pytest.mark.parametrize(
    ("student", "teacher", "confidence", "source", "label"),
    [
        ("7ABC123", "7ABC123", 0.5, ROBOFLOW, "7ABC123"),  # both agree
        ("7ABC123", "7ABC128", 0.5, ROBOFLOW, None),  # disagree, teacher unsure
        ("7ABC123", "7ABC128", 0.99, ROBOFLOW, "7ABC128"),  # teacher sure, one edit apart
        ("7AB", "7ABC128", 0.99, ROBOFLOW, None),  # too far apart
        ("ABC0123", "ABCO123", 0.5, ROBOFLOW, "ABC0123"),  # US plates write O as 0
        ("B123ABC", "B123ABC", 0.5, DASHCAM, "B123ABC"),  # a Romanian serial
        ("RO", "RO", 0.9, DASHCAM, None),  # not a Romanian serial
        ("F82EVA", "F82EVA", 0.9, DASHCAM, None),  # Ilfov's IF lost its I at the plate's edge
        ("ABCDEFGHI", "ABCDEFGHI", 0.9, ROBOFLOW, None),  # no US format that long
    ],
)
def test_a_real_crop_is_labelled_only_when_the_readers_agree(
    student, teacher, confidence, source, label
):
    crop = RealCrop(CROP, source, None)
    assert agreed_label(student, TeacherRead(teacher, confidence), crop) == label


@pytest.mark.parametrize(
    ("student", "teacher", "confidence", "label"),
    [
        ("7A8C123", "7ABC123", 0.93, "7ABC123"),  # sure enough, fits California's serial
        ("7A8C123", "7ABC123", 0.85, None),  # not sure enough
        ("XY", "LUVSURF", 0.99, None),  # fits only the anything-goes vanity pattern
    ],
)
def test_a_confident_teacher_alone_labels_a_crop_that_fits_a_serial_layout(
    student, teacher, confidence, label
):
    crop = RealCrop(CROP, ROBOFLOW, None)
    read = TeacherRead(teacher, confidence)
    assert agreed_label(student, read, crop, teacher_alone=0.9) == label


class _AgreeingTeacher:
    """Reads every crop as the student does, and is sure of it."""

    def read(self, crop_bgr: np.ndarray) -> TeacherRead:
        return TeacherRead("7ABC123", 0.99)


def test_checked_labels_win_and_unreadable_crops_are_never_labelled():
    crops = [RealCrop(CROP, ROBOFLOW, None, f"{ROBOFLOW}/photo#{n}") for n in range(3)]
    checked = {f"{ROBOFLOW}/photo#1": "4EVRSQD", f"{ROBOFLOW}/photo#2": ""}
    labeller = PseudoLabeller(crops, _AgreeingTeacher(), checked=checked)
    labelled = labeller.label(lambda images: ["7ABC123"] * len(images))
    assert sorted(crop.text for crop in labelled) == ["4EVRSQD", "7ABC123"]


def test_checked_labels_need_no_teacher():
    crops = [RealCrop(CROP, ROBOFLOW, None, f"{ROBOFLOW}/photo#{n}") for n in range(3)]
    checked = {f"{ROBOFLOW}/photo#1": "4EVRSQD", f"{ROBOFLOW}/elsewhere#0": "ABC123"}

    def student(images: list[np.ndarray]) -> list[str]:
        raise AssertionError("without a teacher there is nothing to agree with")

    labelled = PseudoLabeller(crops, None, checked=checked).label(student)
    assert [crop.text for crop in labelled] == ["4EVRSQD"]


def test_the_shipped_checked_labels_load():
    labels = load_checked_labels(REPO_ROOT / "models" / "real-crop-labels.csv")
    assert sum(bool(plate) for plate in labels.values()) > 1000
    assert all(key.startswith((ROBOFLOW, DASHCAM)) for key in labels)


@pytest.mark.parametrize(
    ("rows", "reason"),
    [
        ("x#0,abc12\n", "line 2: needs a crop key and a plate of 0-9"),
        ("x#0,ABCDEFGHIJ\n", "line 2: needs a crop key"),
        (",ABC\n", "line 2: needs a crop key"),
        ("x#0,ABC\nx#0,ABD\n", "line 3: x#0 is labelled twice, differently"),
    ],
)
def test_a_bad_checked_label_names_the_file_and_line(tmp_path, rows, reason):
    path = tmp_path / "labels.csv"
    path.write_text("crop,plate\n" + rows)
    with pytest.raises(ConfigError, match=reason) as error:
        load_checked_labels(path)
    assert str(path) in str(error.value)


def test_a_missing_checked_labels_file_is_named(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the checked labels"):
        load_checked_labels(tmp_path / "missing.csv")


def _dashcam_folder(root):
    import cv2

    (root / "train" / "annots").mkdir(parents=True)
    (root / "train" / "images").mkdir()
    photo = np.random.default_rng(0).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    cv2.imwrite(str(root / "train" / "images" / "car.jpg"), photo)
    (root / "train" / "annots" / "car.xml").write_text(
        "<annotation><object><bndbox><xmin>100</xmin><ymin>100</ymin><xmax>200</xmax>"
        "<ymax>125</ymax></bndbox></object></annotation>"
    )


def test_slack_crops_cut_the_same_plate_wider_or_tighter_and_keep_its_label(tmp_path):
    _dashcam_folder(tmp_path)
    crops = list(dashcam_crops(tmp_path, slack=3))
    tight, *slack = crops
    assert len(slack) == 3
    assert {c.key for c in crops} == {tight.key}
    # Every slack crop is a different cut of the plate, from 6 % narrower to 44 % wider.
    widths = [c.image.shape[1] for c in slack]
    assert len({(c.image.shape, c.image.tobytes()) for c in crops}) == 4
    assert all(94 <= w <= 145 for w in widths)
    # Seeded by the crop's key: every run trains on the same cuts.
    again = list(dashcam_crops(tmp_path, slack=3))
    assert all(np.array_equal(a.image, b.image) for a, b in zip(crops, again, strict=True))
    labelled = PseudoLabeller(crops, None, checked={tight.key: "B123ABC"}).label(lambda c: [])
    assert [c.text for c in labelled] == ["B123ABC"] * 4
    assert len(list(dashcam_crops(tmp_path))) == 1


def test_a_negative_slack_crop_count_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "ocr", "--smoke", "--init", "models/ocr.onnx", "--slack-crops", "-1"])
    assert exit_info.value.code == 2
    assert "--slack-crops: must be 0 or more, got -1" in capsys.readouterr().err


def test_a_real_share_outside_zero_to_one_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "ocr", "--smoke", "--init", "models/ocr.onnx", "--real-share", "1.5"])
    assert exit_info.value.code == 2
    assert "--real-share: must be in [0, 1), got 1.5" in capsys.readouterr().err


def test_rare_letter_vanity_texts_are_legal_and_print_i_and_q_often():
    rng = random.Random(0)
    texts = [t for t in (rare_letter_text("CA", rng) for _ in range(400)) if t]
    assert len(texts) > 300
    assert all(fits_region_format(t, "CA") for t in texts)
    chars = "".join(texts)
    assert chars.count("I") / len(chars) > 0.02
    assert chars.count("Q") / len(chars) > 0.01
    assert rare_letter_text("UK", rng) is None  # no vanity plates there


@pytest.mark.slow
def test_smoke_training_exports_a_model_the_reader_serves(tmp_path):
    assert main(["train", "ocr", "--smoke", "--out", str(tmp_path)]) == 0
    metrics = json.loads((tmp_path / "ocr_metrics.json").read_text())
    assert metrics["onnx_max_difference_vs_torch"] < 1e-4
    assert metrics["steps"] == 4
    assert metrics["onnx_bytes"] < 10 * 1024 * 1024
    reader = PlateReader(tmp_path / "ocr.onnx", tmp_path / "ocr_plate_config.yaml")
    assert len(reader.read([np.full((60, 120, 3), 200, np.uint8)])) == 1
    assert "CA" in reader.regions

    # A fine-tune round starts from those exported weights (BatchNorms folded) and checks them.
    tuned = tmp_path / "tuned"
    args = ["train", "ocr", "--smoke", "--init", str(tmp_path / "ocr.onnx"), "--out", str(tuned)]
    assert main([*args, "--learning-rate", "1e-4", "--real-share", "0.5"]) == 0
    metrics = json.loads((tuned / "ocr_metrics.json").read_text())
    assert metrics["fine_tuned_from"] == str(tmp_path / "ocr.onnx")
    assert metrics["onnx_max_difference_vs_torch"] < 1e-4


def test_the_state_set_share_draws_its_crops_from_a_pool_of_their_own():
    from edge.lab.train.ocr import _real_pools
    from edge.lab.train.ocr_data import LabelledCrop
    from edge.lab.train.ocr_real import DASHCAM
    from edge.lab.train.state_set_text import STATE_SET

    image = np.zeros((32, 64, 3), np.uint8)
    mit = [LabelledCrop(image, "B123ABC", "EU", DASHCAM) for _ in range(3)]
    state = [LabelledCrop(image, "7ABC123", None, STATE_SET) for _ in range(30)]
    shape = OcrModelShape()
    one, none = _real_pools(mit + state, shape, None)
    assert (one.size, none) == (33, None)
    others, own = _real_pools(mit + state, shape, 0.5)
    assert (others.size, own.size) == (3, 30)
    # With one source only there is nothing to balance: one pool.
    only, nothing = _real_pools(state, shape, 0.5)
    assert (only.size, nothing) == (30, None)


@pytest.mark.parametrize("init", [[], ["--init", "models/ocr.onnx"]])
def test_the_data_options_reach_a_fresh_run_and_a_fine_tune_alike(tmp_path, monkeypatch, init):
    import edge.lab.train.ocr as ocr_training

    configs = []
    monkeypatch.setattr(ocr_training, "train_ocr", lambda config: configs.append(config) or {})
    options = ["--slack-crops", "2", "--outside-us-share", "0.4", "--no-state-set-regions"]
    assert main(["train", "ocr", "--out", str(tmp_path), *init, *options]) == 0
    [config] = configs
    assert (config.slack_crops, config.outside_us_share) == (2, 0.4)
    assert config.state_set_regions is False


def test_a_grown_network_reads_exactly_as_the_file_it_was_loaded_from():
    import torch

    from edge.lab.train.ocr import load_onnx_weights, onnx_depth, verify_export
    from edge.lab.train.ocr_model import PlateOcrNet
    from edge.plates.regions import REGION_CODES

    shipped = REPO_ROOT / "models" / "ocr.onnx"
    assert onnx_depth(shipped) == (1, 1)
    net = PlateOcrNet(OcrModelShape(regions=REGION_CODES), 24, blocks_per_stage=2, encoder_layers=2)
    load_onnx_weights(net, shipped)
    images = np.random.default_rng(0).integers(0, 256, (4, 64, 128, 3), dtype=np.uint8)
    assert verify_export(net.eval(), shipped, images) < 1e-4
    # The new parts are really there, and training can move them.
    assert sum(p.numel() for p in net.parameters()) > 600_000
    assert all(float(layer.linear2.weight.abs().sum()) == 0 for layer in net.more_encoders)
    net.train()
    log_probs, regions = net(torch.rand(2, 3, 64, 128))
    (log_probs.sum() + regions.sum()).backward()
    assert float(net.more_encoders[0].linear2.weight.grad.abs().sum()) > 0


def test_a_file_deeper_than_the_network_is_refused_naming_both_depths(tmp_path):
    from edge.errors import ModelError
    from edge.lab.train.ocr import export_onnx, load_onnx_weights, onnx_depth
    from edge.lab.train.ocr_model import PlateOcrNet
    from edge.plates.regions import REGION_CODES

    shape = OcrModelShape(regions=REGION_CODES)
    # Untrained, the new blocks' weights are equal and the exporter merges them: the depth is
    # read from the file's metadata, not counted.
    deeper = PlateOcrNet(shape, 24, blocks_per_stage=2, encoder_layers=3)
    export_onnx(deeper.eval(), shape, tmp_path)
    assert onnx_depth(tmp_path / "ocr.onnx") == (2, 3)
    with pytest.raises(ModelError, match="has 2 blocks per stage and 3 encoder layers"):
        load_onnx_weights(PlateOcrNet(shape, 24, blocks_per_stage=2), tmp_path / "ocr.onnx")


@pytest.mark.slow
def test_a_fine_tune_grows_the_model_and_the_next_round_keeps_its_depth(tmp_path):
    from edge.lab.train.ocr import onnx_depth

    grown, again = tmp_path / "grown", tmp_path / "again"
    args = ["train", "ocr", "--smoke", "--init", "models/ocr.onnx", "--out", str(grown)]
    assert main([*args, "--blocks-per-stage", "2"]) == 0
    assert onnx_depth(grown / "ocr.onnx") == (2, 1)
    metrics = json.loads((grown / "ocr_metrics.json").read_text())
    assert (metrics["blocks_per_stage"], metrics["encoder_layers"]) == (2, 1)
    args = ["train", "ocr", "--smoke", "--init", str(grown / "ocr.onnx"), "--out", str(again)]
    assert main(args) == 0
    assert onnx_depth(again / "ocr.onnx") == (2, 1)


def test_a_network_depth_below_one_is_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "ocr", "--smoke", "--init", "models/ocr.onnx", "--encoder-layers", "0"])
    assert exit_info.value.code == 2
    assert "--encoder-layers: must be 1 or more, got 0" in capsys.readouterr().err
