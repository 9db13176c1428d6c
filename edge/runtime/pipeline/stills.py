"""Reading still images: whole photos (detector, then OCR) or plate crops (OCR only).

A photo is all there is, so it is searched at three resolutions (`detect_any_size`) and each
plate is read at several crop margins that vote (`ocr.still_crop_margins`); a plate crop given
whole is read as given and, when unsure, in the views of `ocr.plate_crop_views`. `alpr-edge
read` and the lab's evaluation both read through here, so the two never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from edge.config import OcrConfig
from edge.runtime.types import Box, Detection, PlateText

if TYPE_CHECKING:
    from edge.runtime.detect import PlateDetector
    from edge.runtime.recognise import PlateReader


@dataclass(frozen=True)
class PlateInImage:
    text: PlateText
    box: Box
    # The detector's score (1 for a plate crop given whole).
    score: float = 1.0

    @property
    def read(self) -> bool:
        """Whether the OCR read it: a box it read nothing from (empty text, no candidates) is
        mostly a false detection (28 of the 183 boxes in real/us, none with a candidate)."""
        return bool(self.text.text)


def read_photo(
    image: np.ndarray,
    detector: PlateDetector,
    reader: PlateReader,
    ocr: OcrConfig,
) -> list[PlateInImage]:
    """Every plate found in a photo, read."""
    detections = find_photo_plates(image, detector, ocr)
    corners = [agreeing_corners(d) for d in detections] if ocr.still_rectify else None
    texts = read_photo_boxes(image, [d.box for d in detections], reader, ocr, corners)
    return [PlateInImage(t, d.box, d.score) for t, d in zip(texts, detections, strict=True)]


def find_photo_plates(
    image: np.ndarray, detector: PlateDetector, ocr: OcrConfig
) -> list[Detection]:
    """Every plate in a photo, boxed as it is read: searched at every size
    (`PlateDetector.detect_any_size`), and with `ocr.still_second_look` each small or
    US-shaped plate (`needs_second_look`) boxed again at 2x (`PlateDetector.look_again`)."""
    detections = detector.detect_any_size(image)
    if not ocr.still_second_look:
        return detections
    return detector.each(lambda found: _second_look(image, detector, found), detections)


class StillSearch:
    """The pipeline's detector for a folder of single stills (`[camera] stills`): each image
    is searched as `alpr-edge read` searches a photo, so `run --stills` stores what `read`
    reads (a still has no motion, so its search area is always the whole image)."""

    def __init__(self, detector: PlateDetector, ocr: OcrConfig) -> None:
        self.detector = detector
        self.ocr = ocr

    def detect(
        self, image_bgr: np.ndarray, areas: list[Box], scale: float = 1.0
    ) -> list[Detection]:
        return find_photo_plates(image_bgr, self.detector, self.ocr)


# Corners whose own box overlaps the detector's box less than this (IoU) are not the plate's: the
# corner head is weakest on close-ups, and warping from wrong corners reads the wrong patch.
CORNERS_AGREE_IOU = 0.7


def agreeing_corners(detection: Detection) -> tuple[tuple[float, float], ...] | None:
    """The detection's corners where the box around them agrees with its box, else None (the
    plate is then cut from its box)."""
    if detection.corners is None:
        return None
    xs = [x for x, _ in detection.corners]
    ys = [y for _, y in detection.corners]
    x1, y1 = min(xs), min(ys)
    around = Box(round(x1), round(y1), round(max(xs) - x1), round(max(ys) - y1))
    return detection.corners if around.iou(detection.box) >= CORNERS_AGREE_IOU else None


# A plate narrower than this (pixels) gets a second look. Looking again at wider plates read
# unsure as well (below 0.6) read more of real/us but fewer of real/br (models/README.md).
SECOND_LOOK_WIDTH = 100
# A plate narrower than this gets one too where its box is shaped like a US plate's (2:1, most of
# its loose boxes under 3:1) rather than a Mercosul (3.1:1) or European one (4.7:1): the detector
# boxes many US plates with the recess around them, and the 2x look finds the plate inside; on
# European plates it cut the left edge off (models/README.md, "A second look at wider plates").
US_SHAPED_LOOK_WIDTH = 150
US_SHAPED_MAX_ASPECT = 3.0


def needs_second_look(box: Box) -> bool:
    """Whether a plate's box is small, or of middling width and shaped like a US plate's."""
    if box.w < SECOND_LOOK_WIDTH:
        return True
    return box.w < US_SHAPED_LOOK_WIDTH and box.w < US_SHAPED_MAX_ASPECT * box.h


def _second_look(image: np.ndarray, detector: PlateDetector, found: Detection) -> Detection:
    """A plate that needs it (`needs_second_look`) boxed again at 2x; any other, or one whose
    box did not move, as found."""
    if not needs_second_look(found.box):
        return found
    looked = detector.look_again(image, found)
    return looked if looked.box != found.box else found


def read_photo_boxes(
    image: np.ndarray,
    boxes: list[Box],
    reader: PlateReader,
    ocr: OcrConfig,
    corners: list[tuple[tuple[float, float], ...] | None] | None = None,
) -> list[PlateText]:
    """The plates at `boxes` of a photo, read as `read_photo` reads the ones it finds (the
    evaluation reads the labelled boxes through here to split OCR loss from box loss)."""
    from edge.runtime.recognise.margins import read_boxes

    reader = reader.with_candidates(ocr.candidates).naming(ocr.min_region_confidence)
    return read_boxes(
        reader,
        image,
        boxes,
        ocr.still_crop_margins,
        corners=corners,
        pad_edges=ocr.still_pad_edges,
    )


def read_plate_crop(image: np.ndarray, reader: PlateReader, ocr: OcrConfig) -> PlateInImage:
    """An image that is one plate crop, read whole."""
    from edge.runtime.recognise.margins import read_plate_crops

    views, sure = ocr.plate_crop_views, ocr.plate_crop_sure_confidence
    reader = reader.with_candidates(ocr.candidates).naming(ocr.min_region_confidence)
    [text] = read_plate_crops(reader, [image], views, sure)
    return PlateInImage(text, Box(0, 0, image.shape[1], image.shape[0]))
