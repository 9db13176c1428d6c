"""Run the detector on the part of a frame that moved, at the scale it sees whole frames.

The detector letterboxes its input to `max_side`; a region cut from the frame gets a
proportionally smaller side, so plates keep the size the model was trained on and a region a
third of the frame costs about a third of the work.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from edge.detect import PlateDetector
from edge.types import Box, Detection


class RegionDetector:
    def __init__(self, detector: PlateDetector) -> None:
        self.detector = detector
        self.full_side = detector.max_side

    def detect(self, image: np.ndarray, region: Box) -> list[Detection]:
        height, width = image.shape[:2]
        if region.w >= width and region.h >= height:
            return self.detector.detect(image)
        scale = self.full_side / max(height, width)
        crop = image[region.y : region.y + region.h, region.x : region.x + region.w]
        self.detector.max_side = max(32, round(max(region.w, region.h) * scale))
        try:
            found = self.detector.detect(crop)
        finally:
            self.detector.max_side = self.full_side
        return [_shifted(d, region.x, region.y) for d in found]


def _shifted(detection: Detection, dx: int, dy: int) -> Detection:
    box = detection.box
    corners = detection.corners and tuple((x + dx, y + dy) for x, y in detection.corners)
    return replace(detection, box=Box(box.x + dx, box.y + dy, box.w, box.h), corners=corners)
