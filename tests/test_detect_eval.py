from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.cli import main
from edge.errors import InputError
from edge.lab.evaluation.detection import LabelledPlate, load_plate_photos, match
from edge.runtime.types import Box, Detection

MODELS = Path(__file__).resolve().parent.parent / "models"


def _plate(x: int, y: int) -> LabelledPlate:
    return LabelledPlate(Box(x, y, 100, 30), "ABC123")


def test_each_labelled_plate_is_matched_to_at_most_one_detection():
    plates = (_plate(0, 0), _plate(300, 0))
    detections = [
        Detection(Box(5, 2, 100, 30), 0.6),
        Detection(Box(0, 0, 100, 30), 0.9),  # better score: takes the first plate
        Detection(Box(600, 0, 100, 30), 0.8),  # overlaps nothing
    ]
    assert match(detections, plates) == [1, None]


def test_a_detection_overlapping_too_little_does_not_count():
    assert match([Detection(Box(70, 0, 100, 30), 0.9)], (_plate(0, 0),)) == [None]


def test_label_files_are_read_with_their_images(tmp_path):
    cv2.imwrite(str(tmp_path / "car.jpg"), np.zeros((50, 80, 3), np.uint8))
    (tmp_path / "car.txt").write_text("car.jpg\t10\t20\t30\t8\tAB-123\n")
    (photo,) = load_plate_photos(tmp_path)
    assert photo.plates == (LabelledPlate(Box(10, 20, 30, 8), "AB-123"),)
    (tmp_path / "car.txt").write_text("car.jpg\t10\t20\n")
    with pytest.raises(InputError, match=r"car\.txt:1"):
        load_plate_photos(tmp_path)


def test_eval_skips_with_a_message_when_the_development_data_is_absent(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("ALPR_SHARED_DATA", str(tmp_path / "absent"))
    assert main(["eval"]) == 0
    assert "eval skipped" in capsys.readouterr().out


def _sample_of_the_development_data(source: Path, target: Path) -> None:
    """A few photos and crops of each set `alpr-edge eval` reads, linked from `source` into
    the same layout under `target`: every figure is computed as on the whole data, in seconds
    rather than the minutes the whole data takes (`make eval` measures that)."""
    import csv

    from edge.lab.evaluation import spread

    def link(relative: str) -> None:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).symlink_to(source / relative)

    for name in ("us", "eu", "br"):
        for label in sorted((source / "real" / name).glob("*.txt"))[:3]:
            link(f"real/{name}/{label.name}")
            link(f"real/{name}/{label.read_text().split(chr(9), 1)[0]}")
    for folder in ("real/us-crops", "state/us-plates-by-state"):
        with (source / folder / "labels.csv").open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        if "split" in rows[0]:  # a few of each split, from states spread over the file
            rows = [
                row
                for split in ("train", "valid", "test")
                for row in spread([r for r in rows if r["split"] == split], 8)
            ]
        else:
            rows = spread(rows, 6)
        (target / folder).mkdir(parents=True, exist_ok=True)
        with (target / folder / "labels.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        for row in rows:
            link(f"{folder}/{row['file']}")


@pytest.mark.slow
def test_eval_prints_every_figure_of_the_model_issue(shared_data, tmp_path, monkeypatch, capsys):
    for name in ("us", "eu", "br", "us-crops"):
        shared_data("real", name)
    shared_data("state", "us-plates-by-state")
    if not (MODELS / "ocr.onnx").is_file():
        pytest.skip("the OCR model is not in models/ yet")
    _sample_of_the_development_data(shared_data(), tmp_path / "data")
    monkeypatch.setenv("ALPR_SHARED_DATA", str(tmp_path / "data"))
    assert main(["eval", "--latency-runs", "3"]) == 0
    out = capsys.readouterr().out
    for figure in (
        "detection/eu recall",
        "detection/br recall",
        "end_to_end/eu read_rate",
        "end_to_end/br read_rate",
        "ocr/us-crops exact",
        "ocr/us-crops exact_as_given",
        "ocr/us-crops state_accuracy",
        "ocr/us-crops latency_ms_median",
        "ocr/us-crops latency_ms_per_plate_median",
        "detector_latency ms_per_1280x720_frame_median",
        "stages/us detection_recall",
        "stages/us ocr_exact_true_boxes",
        "stages/us ocr_exact_our_boxes_pooled",
        "stages/eu top1_exact_pooled",
        "stages/br top10_exact",
        "stages/br ms_per_photo_p90",
        "stages/us unmatched_reads_per_photo",
        "state/us-crops accuracy",
        "state/by-state-test accuracy",
    ):
        assert figure in out


def test_loss_by_stage_counts_each_plate_at_every_stage(shared_data):
    from edge.config import OcrConfig
    from edge.lab.evaluation.stages import evaluate_stages
    from edge.runtime.detect import PlateDetector
    from edge.runtime.recognise import PlateReader

    photos = load_plate_photos(shared_data("real", "br"))[:12]
    detector = PlateDetector(MODELS / "detector.onnx")
    reader = PlateReader(MODELS / "ocr.onnx", MODELS / "ocr_plate_config.yaml")
    stages = evaluate_stages(detector, reader, photos, OcrConfig())
    assert stages.plates == sum(len(p.plates) for p in photos)
    assert stages.top1_exact <= stages.detection_recall
    assert stages.top1_exact == pytest.approx(stages.detection_recall * stages.ocr_exact_our_boxes)
    for strict, pooled in (
        (stages.top1_exact, stages.top1_exact_pooled),
        (stages.ocr_exact_true_boxes, stages.ocr_exact_true_boxes_pooled),
    ):
        assert strict <= pooled
    assert stages.top1_exact <= stages.top10_exact <= stages.top10_exact_pooled
    assert 0 < stages.ms_per_photo_median <= stages.ms_per_photo_p90
    assert len(stages.misreads) == round(stages.plates * (1 - stages.top1_exact))
    # Reads matching no labelled plate: a whole number of them, at most the reads not matched.
    from edge.runtime.pipeline.stills import read_photo

    unmatched = stages.unmatched_reads_per_photo * stages.images
    assert unmatched == pytest.approx(round(unmatched))
    reads = sum(
        p.read for photo in photos for p in read_photo(photo.image, detector, reader, OcrConfig())
    )
    assert reads - round(stages.detection_recall * stages.plates) <= round(unmatched) <= reads


def test_read_reports_the_plates_the_evaluation_scores_for_the_same_photos(
    shared_data, tmp_path, capsys
):
    """`alpr-edge eval` scores what `alpr-edge read` prints: the same detector threshold,
    passes and OCR settings (the detector once dropped still detections below 0.5 in
    `read` and kept them down to 0.3 in `eval`)."""
    import json

    from edge.cli import build_parser
    from edge.cli.eval import _ocr_settings
    from edge.config import DetectorConfig
    from edge.runtime.pipeline.components import detector_from
    from edge.runtime.pipeline.stills import read_photo
    from edge.runtime.recognise import PlateReader

    photos = [str(p) for p in sorted(shared_data("real", "us").glob("*.jpg"))[:20]]
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[detector]\nmodel = "{MODELS / "detector.onnx"}"\n'
        f'[ocr]\nmodel = "{MODELS / "ocr.onnx"}"\n'
        f'plate_config = "{MODELS / "ocr_plate_config.yaml"}"\n'
    )

    def read_texts(*options: str) -> dict[str, list[str]]:
        assert main(["read", "--json", "--config", str(config), *options, *photos]) == 0
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
        return {Path(p["image"]).name: sorted(x["text"] for x in p["plates"]) for p in printed}

    by_read, with_unread = read_texts(), read_texts("--unread")

    settings = DetectorConfig(model=MODELS / "detector.onnx")
    detector = detector_from(settings, ["CPUExecutionProvider"], stills=True)
    ocr = _ocr_settings(build_parser().parse_args(["eval"]))
    reader = PlateReader(MODELS / "ocr.onnx", MODELS / "ocr_plate_config.yaml").configured(ocr)
    scored = unread = 0
    for path in photos:
        found = read_photo(cv2.imread(str(path)), detector, reader, ocr)
        texts = sorted(p.text.text for p in found)
        # `read` lists what it read; with --unread, every box, as the evaluation scores them.
        assert by_read[Path(path).name] == [t for t in texts if t], path
        assert with_unread[Path(path).name] == texts, path
        scored += len(found)
        unread += texts.count("")
    assert scored > unread > 0
