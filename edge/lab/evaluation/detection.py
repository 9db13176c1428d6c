"""Detector figures: recall at IoU >= 0.3 on `real/eu` and `real/br`, and latency per frame.

The photo sets label each image with a `<image>.txt` beside it, one plate per line:
`image file<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE`. Detections are matched to labelled plates one
to one, best score first, each taking the unmatched plate it overlaps most (IoU >= 0.3).
Photos are searched as `alpr-edge read` searches them, plates of every size included
(`PlateDetector.detect_any_size`); the latency figure times the video path (`detect`).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.errors import InputError
from edge.lab.evaluation import Figures
from edge.runtime.detect import PlateDetector
from edge.runtime.types import Box, Detection

IOU_THRESHOLD = 0.3
LATENCY_RUNS = 200
LATENCY_FRAME = (720, 1280)


@dataclass(frozen=True)
class LabelledPlate:
    box: Box
    text: str


@dataclass(frozen=True)
class PlatePhoto:
    file: str
    image: np.ndarray
    plates: tuple[LabelledPlate, ...]


def load_plate_photos(folder: Path) -> list[PlatePhoto]:
    """Every image in `folder` that has a label file, with its labelled plates."""
    photos = []
    for label_path in sorted(folder.glob("*.txt")):
        plates = []
        image_name = None
        for number, line in enumerate(label_path.read_text().splitlines(), start=1):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 6:
                raise InputError(f"{label_path}:{number}: expected 6 tab-separated fields")
            image_name = fields[0]
            x, y, w, h = (int(v) for v in fields[1:5])
            plates.append(LabelledPlate(Box(x, y, w, h), fields[5].strip()))
        if image_name is None:
            continue
        image = cv2.imread(str(folder / image_name))
        if image is None:
            raise InputError(f"{folder / image_name}: cannot read the image")
        photos.append(PlatePhoto(image_name, image, tuple(plates)))
    if not photos:
        raise InputError(f"{folder}: no labelled images")
    return photos


def match(detections: list[Detection], plates: tuple[LabelledPlate, ...]) -> list[int | None]:
    """For each labelled plate, the index of the detection matched to it (or None)."""
    matched: list[int | None] = [None] * len(plates)
    order = sorted(range(len(detections)), key=lambda i: -detections[i].score)
    for index in order:
        overlaps = [
            plate.box.iou(detections[index].box) if matched[p] is None else 0.0
            for p, plate in enumerate(plates)
        ]
        if overlaps and max(overlaps) >= IOU_THRESHOLD:
            matched[int(np.argmax(overlaps))] = index
    return matched


@dataclass(frozen=True)
class DetectionEvaluation(Figures):
    images: int
    plates: int
    recall: float
    false_positives_per_image: float
    missed: list[str] = field(default_factory=list)


def find_plates(detector: PlateDetector, photos: list[PlatePhoto]) -> list[list[Detection]]:
    """Each photo's detections, searched as `alpr-edge read` searches a still photo."""
    # Two passes, without the fine one: these older rows stay comparable across rounds (the
    # `stages/*` rows read as `alpr-edge read` does, fine pass and all).
    return [detector.detect_any_size(photo.image, fine_pass=False) for photo in photos]


def evaluate_detection(
    photos: list[PlatePhoto], found_plates: list[list[Detection]]
) -> DetectionEvaluation:
    """Recall and false detections of `found_plates` (from `find_plates`) against the labels."""
    found = plates = false_positives = 0
    missed = []
    for photo, detections in zip(photos, found_plates, strict=True):
        matched = match(detections, photo.plates)
        hits = sum(m is not None for m in matched)
        found += hits
        plates += len(photo.plates)
        false_positives += len(detections) - hits
        if hits < len(photo.plates):
            missed.append(photo.file)
    return DetectionEvaluation(
        images=len(photos),
        plates=plates,
        recall=found / max(plates, 1),
        false_positives_per_image=false_positives / len(photos),
        missed=missed,
    )


def detector_latency_ms(
    detector: PlateDetector, photo: np.ndarray, runs: int = LATENCY_RUNS
) -> float:
    """Median ms for `detect` on `photo` stretched to 1280x720 (letterbox and NMS included)."""
    height, width = LATENCY_FRAME
    frame = cv2.resize(photo, (width, height))
    detector.detect(frame)  # warm-up
    timings = []
    for _ in range(runs):
        start = time.perf_counter()
        detector.detect(frame)
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)
