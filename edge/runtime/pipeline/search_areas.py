"""Run the detector on search areas of a frame, at the scale it sees whole frames.

A search area is a part of the frame the detector looks at: the moving area the motion gate
reports, or a window around a tracked plate. The detector letterboxes its input to `max_side`;
an area cut from the frame gets a proportionally smaller side, so plates keep the size the model
was trained on and an area a third of the frame costs about a third of the work. The pipeline
looks for new plates where the frame moved, and follows known ones in small windows around where
their tracks predict them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edge.runtime.detect import PlateDetector
from edge.runtime.detect.overlap import suppress_nested
from edge.runtime.types import Box, Detection

# A tracked plate is looked for this many plate widths (at least MIN_WINDOW_PAD px) around
# where its track predicts it.
WINDOW_PAD_WIDTHS = 0.5
MIN_WINDOW_PAD = 48


def window_around(box: Box, width: int, height: int) -> Box:
    """The search window for a tracked plate, clipped to the frame."""
    pad = max(round(box.w * WINDOW_PAD_WIDTHS), MIN_WINDOW_PAD)
    x1, y1 = max(0, box.x - pad), max(0, box.y - pad)
    x2, y2 = min(width, box.x + box.w + pad), min(height, box.y + box.h + pad)
    return Box(x1, y1, max(0, x2 - x1), max(0, y2 - y1))


def merge_overlapping(boxes: list[Box]) -> list[Box]:
    """Replace boxes that overlap by their union until none overlap (no plate found twice)."""
    merged = [b for b in boxes if b.area > 0]
    changed = True
    while changed:
        changed = False
        for i, a in enumerate(merged):
            for j in range(i + 1, len(merged)):
                b = merged[j]
                if a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h:
                    x1, y1 = min(a.x, b.x), min(a.y, b.y)
                    x2, y2 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
                    merged[i] = Box(x1, y1, x2 - x1, y2 - y1)
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


class AreaDetector:
    """A plate detector run on search areas instead of whole frames."""

    def __init__(self, detector: PlateDetector) -> None:
        self.detector = detector

    def detect(self, image: np.ndarray, areas: list[Box], scale: float = 1.0) -> list[Detection]:
        """Plates in the given search areas of the frame (which must not overlap), at `scale`
        times the resolution the model sees whole frames at."""
        found = [d for area in areas for d in self._detect_area(image, area, scale)]
        return suppress_nested(found)

    def _detect_area(self, image: np.ndarray, area: Box, scale: float) -> list[Detection]:
        height, width = image.shape[:2]
        factor = scale * self.detector.max_side / max(height, width)
        crop = image[area.y : area.y + area.h, area.x : area.x + area.w]
        found = self.detector.detect_at(crop, max(32, round(max(area.w, area.h) * factor)))
        return [_shifted(d, area.x, area.y) for d in found]


def _shifted(detection: Detection, dx: int, dy: int) -> Detection:
    box = detection.box
    corners = detection.corners and tuple((x + dx, y + dy) for x, y in detection.corners)
    return replace(detection, box=Box(box.x + dx, box.y + dy, box.w, box.h), corners=corners)
