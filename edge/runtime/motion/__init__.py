"""Motion gate: skip frames in which nothing moved inside the configured zones.

Frames are shrunk to a small grey image and compared with the previous one; only pixels inside
the zone polygons count. Skipped frames are counted so the benchmark can show what it saved.
For moving frames the gate also says where the motion was (the moving area), so the detector can
look there only.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from edge.config import MotionConfig
from edge.runtime.types import Box

# Margin around the changed pixels, as a share of the frame width.
MOVING_AREA_MARGIN = 0.05


@dataclass
class MotionStats:
    checked: int = 0
    skipped: int = 0


class MotionGate:
    def __init__(self, config: MotionConfig) -> None:
        self.config = config
        self.stats = MotionStats()
        self._previous: np.ndarray | None = None
        self._mask: np.ndarray | None = None
        self._scale = 1.0
        self._step = 1
        self._frame_shape: tuple[int, int] | None = None

    def moving_area(self, image: np.ndarray) -> Box | None:
        """The part of the frame (full-frame pixels, with a margin) that changed since the last
        frame, or None when nothing in the zones moved. The first frame is wholly moving."""
        height, width = image.shape[:2]
        whole = Box(0, 0, width, height)
        if not self.config.enabled:
            return whole
        small = self._shrink(image)
        previous, self._previous = self._previous, small
        self.stats.checked += 1
        if previous is None:
            return whole
        changed = cv2.absdiff(small, previous) > self.config.pixel_threshold
        if self._mask is not None:
            changed &= self._mask
            area = int(np.count_nonzero(self._mask))
        else:
            area = changed.size
        if np.count_nonzero(changed) < max(1, self.config.min_changed_fraction * area):
            self.stats.skipped += 1
            return None
        x, y, w, h = cv2.boundingRect(changed.astype(np.uint8))
        # Frame-to-frame differences outline a moving vehicle; the margin keeps its plate whole.
        margin = MOVING_AREA_MARGIN * width * self._scale
        x1 = max(0, int((x - margin) / self._scale))
        y1 = max(0, int((y - margin) / self._scale))
        x2 = min(width, int((x + w + margin) / self._scale) + 1)
        y2 = min(height, int((y + h + margin) / self._scale) + 1)
        return Box(x1, y1, x2 - x1, y2 - y1)

    def _shrink(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        if self._frame_shape != (height, width):
            self._prepare(height, width)
        # Every Nth pixel of the green channel (close to luminance) is enough to compare
        # frames, and costs a fraction of a resize and colour conversion.
        small = np.ascontiguousarray(image[:: self._step, :: self._step, 1])
        return cv2.blur(small, (3, 3))

    def _prepare(self, height: int, width: int) -> None:
        self._frame_shape = (height, width)
        self._step = max(1, round(width / self.config.width))
        self._scale = 1 / self._step
        self._previous = None
        if not self.config.zones:
            self._mask = None
            return
        mask = np.zeros(
            (len(range(0, height, self._step)), len(range(0, width, self._step))), np.uint8
        )
        for zone in self.config.zones:
            points = np.array([[x * self._scale, y * self._scale] for x, y in zone], np.int32)
            cv2.fillPoly(mask, [points], 1)
        self._mask = mask.astype(bool)
