"""End-to-end figure: detect, crop, read; exact whole-plate reads on `real/eu` and `real/br`.

A labelled plate is read when the detection matched to it (IoU >= 0.3, see `detection.match`)
reads exactly its label after `normalise_plate` (upper case, spaces and dashes dropped, O as 0).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from edge.detect import PlateDetector, plate_crop
from edge.evaluation import Figures
from edge.evaluation.detection import PlatePhoto, match
from edge.evaluation.ocr import normalise_plate
from edge.recognise import PlateReader


@dataclass(frozen=True)
class EndToEndEvaluation(Figures):
    plates: int
    read_rate: float
    misreads: list[tuple[str, str, str]] = field(default_factory=list)  # file, label, read


def evaluate_end_to_end(
    detector: PlateDetector, reader: PlateReader, photos: list[PlatePhoto]
) -> EndToEndEvaluation:
    correct = plates = 0
    misreads = []
    for photo in photos:
        detections = detector.detect(photo.image)
        reads = reader.read([plate_crop(photo.image, d.box) for d in detections])
        for plate, index in zip(photo.plates, match(detections, photo.plates), strict=True):
            plates += 1
            text = reads[index].text if index is not None else ""
            if normalise_plate(text) == normalise_plate(plate.text):
                correct += 1
            else:
                misreads.append((photo.file, plate.text, text))
    return EndToEndEvaluation(plates=plates, read_rate=correct / max(plates, 1), misreads=misreads)
