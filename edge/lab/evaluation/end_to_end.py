"""End-to-end figure: detect, crop, read; exact whole-plate reads on `real/eu` and `real/br`.

A labelled plate is read when the detection matched to it (IoU >= 0.3, see `detection.match`)
reads exactly its label after `edge.plates.text.normalise_plate` (upper case, spaces and
dashes dropped, O pooled with 0).
Plates are found and read as `alpr-edge read` does: found at every size
(`detection.find_plates`, whose detections the recall figure shares), cut at each of the crop
margins, the readings voting (`edge.runtime.recognise.margins`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from edge.config.schema import STILL_CROP_MARGINS
from edge.lab.evaluation import Figures
from edge.lab.evaluation.detection import PlatePhoto, match
from edge.plates.text import normalise_plate
from edge.runtime.recognise import PlateReader
from edge.runtime.recognise.margins import read_boxes
from edge.runtime.types import Detection


@dataclass(frozen=True)
class EndToEndEvaluation(Figures):
    plates: int
    read_rate: float
    misreads: list[tuple[str, str, str]] = field(default_factory=list)  # file, label, read


def evaluate_end_to_end(
    reader: PlateReader,
    photos: list[PlatePhoto],
    found_plates: list[list[Detection]],
    crop_margins: Sequence[float] = STILL_CROP_MARGINS,
) -> EndToEndEvaluation:
    """Exact reads of the plates `found_plates` (from `detection.find_plates`) holds."""
    correct = plates = 0
    misreads = []
    for photo, detections in zip(photos, found_plates, strict=True):
        reads = read_boxes(reader, photo.image, [d.box for d in detections], crop_margins)
        for plate, index in zip(photo.plates, match(detections, photo.plates), strict=True):
            plates += 1
            text = reads[index].text if index is not None else ""
            label = normalise_plate(plate.text, pool_o_zero=True)
            if normalise_plate(text, pool_o_zero=True) == label:
                correct += 1
            else:
                misreads.append((photo.file, plate.text, text))
    return EndToEndEvaluation(plates=plates, read_rate=correct / max(plates, 1), misreads=misreads)
