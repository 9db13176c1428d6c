"""Reading a detected plate at several crop margins and keeping the text the crops agree on.

A detector's box runs a little narrow or loose of the plate from one photo to the next: cut too
tight, the crop loses a last character; cut too loose, a frame edge or bolt reads as one. One
margin that suits every box does not exist, so each box is cut at several widths, all crops are
read in one batch, and the readings vote, each weighted by its confidence. With the shipped
models this reads 0.861 of real/eu plates end to end against 0.833 with the single 6 % margin
(real/br 0.904 against 0.886; `alpr-edge eval`), at five OCR runs per plate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from edge.detect import plate_crop
from edge.types import Box, PlateText


class CropReader(Protocol):
    """What reads plate crops: `edge.recognise.PlateReader`."""

    def read(self, crops: Sequence[np.ndarray]) -> list[PlateText]: ...


def agreed_reading(readings: Sequence[PlateText]) -> PlateText:
    """The reading whose text has the largest summed confidence (its most confident copy)."""
    votes: dict[str, float] = defaultdict(float)
    for reading in readings:
        votes[reading.text] += reading.confidence
    winner = max(votes, key=votes.__getitem__)
    return max((r for r in readings if r.text == winner), key=lambda r: r.confidence)


def read_boxes(
    reader: CropReader,
    image_bgr: np.ndarray,
    boxes: Sequence[Box],
    margins: Sequence[float],
) -> list[PlateText]:
    """One agreed reading per box of `image_bgr`, from one batched OCR run over every margin
    (width added on each side, as a share of the box's width)."""
    if not margins:
        raise ValueError("at least one crop margin is needed")
    crops = [plate_crop(image_bgr, box, margin) for box in boxes for margin in margins]
    readings = reader.read(crops)
    per_box = len(margins)
    return [agreed_reading(readings[i * per_box : (i + 1) * per_box]) for i in range(len(boxes))]
