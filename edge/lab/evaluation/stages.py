"""Loss by stage on whole photos (`real/us`, `real/eu`, `real/br`): where plates are lost.

Each photo is read by `edge.runtime.pipeline.stills.read_photo`, the very call `alpr-edge read`
makes, and timed. A labelled plate then counts at each stage:
- found: a detection matched to it (IoU >= 0.3, `detection.match`);
- OCR on the true box: the labelled box read as the found ones are (`read_photo_boxes`), so
  the OCR's own loss shows apart from the box's;
- OCR on our box: of the found plates, the share whose detection reads the label;
- top-1 / top-10 end to end: of all plates, those whose detection reads the label first / lists
  it among its candidates (`ocr.candidates`).
And per photo, the reads (text not empty) whose box matches no labelled plate: false
detections the OCR read something from, and plates the labels leave out (cars far behind).
Each is scored strictly (the whole string, spaces and dashes ignored, O and 0 distinct: what a
hotlist or an agency compares) and with O and 0 pooled (`_pooled`), as the older end-to-end
figure is and as these labels mix them.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

from edge.config import OcrConfig
from edge.lab.evaluation import Figures
from edge.lab.evaluation.detection import PlatePhoto, match
from edge.plates.text import normalise_plate
from edge.runtime.detect import PlateDetector
from edge.runtime.pipeline.stills import read_photo, read_photo_boxes
from edge.runtime.recognise import PlateReader
from edge.runtime.types import Detection, PlateText


@dataclass(frozen=True)
class StageEvaluation(Figures):
    images: int
    plates: int
    detection_recall: float
    ocr_exact_true_boxes: float
    ocr_exact_true_boxes_pooled: float
    ocr_exact_our_boxes: float
    ocr_exact_our_boxes_pooled: float
    top1_exact: float
    top1_exact_pooled: float
    top10_exact: float
    top10_exact_pooled: float
    ms_per_photo_median: float
    ms_per_photo_p90: float
    unmatched_reads_per_photo: float
    misreads: list[tuple[str, str, str]] = field(default_factory=list)  # file, label, read


def _texts(reading: PlateText | None) -> list[str]:
    if reading is None:
        return []
    return [reading.text] + [c.text for c in reading.candidates[1:]]


class _Tally:
    """Plates right at one stage, strictly and with O and 0 pooled."""

    def __init__(self) -> None:
        self.strict = self.pooled = 0

    def add(self, label: str, texts: list[str], first_only: bool) -> bool:
        texts = texts[:1] if first_only else texts
        strict = normalise_plate(label) in {normalise_plate(t) for t in texts}
        pooled_label = normalise_plate(label, pool_o_zero=True)
        pooled = pooled_label in {normalise_plate(t, pool_o_zero=True) for t in texts}
        self.strict += strict
        self.pooled += pooled
        return strict


def _p90(values: list[float]) -> float:
    return float(np.percentile(values, 90))


def evaluate_stages(
    detector: PlateDetector,
    reader: PlateReader,
    photos: list[PlatePhoto],
    ocr: OcrConfig,
) -> StageEvaluation:
    """Read every photo as `alpr-edge read` does and count each plate at every stage."""
    found = plates = 0
    truth, ours, top1, top10 = _Tally(), _Tally(), _Tally(), _Tally()
    timings, misreads = [], []
    unmatched = 0
    for photo in photos:
        started = time.perf_counter()
        read = read_photo(photo.image, detector, reader, ocr)
        timings.append((time.perf_counter() - started) * 1000)
        detections = [Detection(p.box, p.score) for p in read]
        true_boxes = read_photo_boxes(photo.image, [p.box for p in photo.plates], reader, ocr)
        matched = match(detections, photo.plates)
        unmatched += sum(p.read for i, p in enumerate(read) if i not in matched)
        for plate, index, on_truth in zip(photo.plates, matched, true_boxes, strict=True):
            plates += 1
            truth.add(plate.text, _texts(on_truth), first_only=True)
            reading = read[index].text if index is not None else None
            texts = _texts(reading)
            found += index is not None
            if index is not None:
                ours.add(plate.text, texts, first_only=True)
            if not top1.add(plate.text, texts, first_only=True):
                misreads.append((photo.file, plate.text, reading.text if reading else ""))
            top10.add(plate.text, texts, first_only=False)
    share = 1 / max(plates, 1)
    per_found = 1 / max(found, 1)
    return StageEvaluation(
        images=len(photos),
        plates=plates,
        detection_recall=found * share,
        ocr_exact_true_boxes=truth.strict * share,
        ocr_exact_true_boxes_pooled=truth.pooled * share,
        ocr_exact_our_boxes=ours.strict * per_found,
        ocr_exact_our_boxes_pooled=ours.pooled * per_found,
        top1_exact=top1.strict * share,
        top1_exact_pooled=top1.pooled * share,
        top10_exact=top10.strict * share,
        top10_exact_pooled=top10.pooled * share,
        ms_per_photo_median=statistics.median(timings),
        ms_per_photo_p90=_p90(timings),
        unmatched_reads_per_photo=unmatched / max(len(photos), 1),
        misreads=misreads,
    )
