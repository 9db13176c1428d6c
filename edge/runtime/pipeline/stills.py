"""Reading still images: whole photos (detector, then OCR) or plate crops (OCR only).

A photo is all there is, so it is searched at two resolutions (`detect_any_size`) and each
plate is read at several crop margins that vote (`ocr.still_crop_margins`); a plate crop given
whole is read as given and, when unsure, in the views of `ocr.plate_crop_views`. `alpr-edge
read` and the lab's evaluation both read through here, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edge.config import OcrConfig
from edge.runtime.types import Box, PlateText

if TYPE_CHECKING:
    from edge.runtime.detect import PlateDetector
    from edge.runtime.recognise import PlateReader


@dataclass(frozen=True)
class PlateInImage:
    text: PlateText
    box: Box
    # The detector's score (1 for a plate crop given whole).
    score: float = 1.0


def read_photo(
    image: np.ndarray, detector: PlateDetector, reader: PlateReader, ocr: OcrConfig
) -> list[PlateInImage]:
    """Every plate found in a photo, read."""
    detections = detector.detect_any_size(image)
    texts = read_photo_boxes(image, [d.box for d in detections], reader, ocr)
    return [PlateInImage(t, d.box, d.score) for t, d in zip(texts, detections, strict=True)]


def read_photo_boxes(
    image: np.ndarray, boxes: list[Box], reader: PlateReader, ocr: OcrConfig
) -> list[PlateText]:
    """The plates at `boxes` of a photo, read as `read_photo` reads the ones it finds (the
    evaluation reads the labelled boxes through here to split OCR loss from box loss)."""
    from edge.runtime.recognise.margins import read_boxes

    reader = reader.with_candidates(ocr.candidates).naming(ocr.min_region_confidence)
    return read_boxes(reader, image, boxes, ocr.still_crop_margins)


def read_plate_crop(image: np.ndarray, reader: PlateReader, ocr: OcrConfig) -> PlateInImage:
    """An image that is one plate crop, read whole."""
    from edge.runtime.recognise.margins import read_plate_crops

    views, sure = ocr.plate_crop_views, ocr.plate_crop_sure_confidence
    reader = reader.with_candidates(ocr.candidates).naming(ocr.min_region_confidence)
    [text] = read_plate_crops(reader, [image], views, sure)
    return PlateInImage(text, Box(0, 0, image.shape[1], image.shape[0]))
