"""OCR figures on `real/us-crops`: exact plate text, characters, state, and latency.

Each crop is read as `alpr-edge read --plate-crops` reads it: in the views of
`ocr.plate_crop_views` where the first view's reading is not sure, the readings voting
(`edge.runtime.recognise.margins`). `exact_as_given` is the same model reading each crop
once, as given.
Latency is given per OCR run, and per plate with the views (median and mean, as doubtful
crops cost more runs than sure ones).

Plate text is compared after `edge.plates.text.normalise_plate`: upper case, spaces and dashes
removed, and the letter O written as the digit 0 on both sides (`pool_o_zero`), because the
labels of this set write O as 0 (as many US plates print them alike). Character accuracy is
1 - edit distance / label length, summed over the set. State accuracy counts every crop: a crop
whose state the model cannot name (or is not sure enough to: `ocr.min_region_confidence`) is
wrong; `state_named` is the share it names and `state_precision` the share of those right.
"""

from __future__ import annotations

import csv
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.config.schema import PLATE_CROP_SURE_CONFIDENCE, PLATE_CROP_VIEWS
from edge.errors import InputError
from edge.lab.evaluation import Figures, spread
from edge.plates.text import normalise_plate
from edge.runtime.recognise import PlateReader
from edge.runtime.recognise.margins import CropView, read_plate_crops
from edge.runtime.types import PlateText

LATENCY_RUNS = 200


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class Misread:
    file: str
    label: str
    read: str
    state: str
    read_state: str | None


@dataclass(frozen=True)
class OcrEvaluation(Figures):
    crops: int
    exact: float
    exact_as_given: float
    char_accuracy: float
    state_accuracy: float
    state_named: float
    state_precision: float
    latency_ms_median: float
    latency_ms_per_plate_median: float
    latency_ms_per_plate_mean: float
    misreads: list[Misread] = field(default_factory=list)


def load_us_crops(
    crops_dir: Path, limit: int | None = None
) -> list[tuple[str, str, str, np.ndarray]]:
    """(file, state code upper case, plate label, BGR image) for every labelled crop, or for
    `limit` of them spread over the set (only those images are read)."""
    labels = crops_dir / "labels.csv"
    if not labels.is_file():
        raise InputError(f"{labels}: not found")
    with labels.open(newline="") as handle:
        labelled = list(csv.DictReader(handle))
    rows = []
    for row in spread(labelled, limit):
        image = cv2.imread(str(crops_dir / row["file"]))
        if image is None:
            raise InputError(f"{crops_dir / row['file']}: cannot read the image")
        rows.append((row["file"], row["state"].upper(), row["plate"], image))
    return rows


def timings_ms(
    read_one: Callable[[np.ndarray], object], crops: list[np.ndarray], runs: int = LATENCY_RUNS
) -> list[float]:
    """Milliseconds of `read_one(crop)` (resize included), for `runs` single crops in turn."""
    read_one(crops[0])  # warm-up
    timings = []
    for i in range(runs):
        crop = crops[i % len(crops)]
        start = time.perf_counter()
        read_one(crop)
        timings.append((time.perf_counter() - start) * 1000)
    return timings


def _in_batches(
    read: Callable[[list[np.ndarray]], list[PlateText]], images: list[np.ndarray]
) -> list[PlateText]:
    return [
        text for start in range(0, len(images), 64) for text in read(images[start : start + 64])
    ]


def evaluate_us_crops(
    reader: PlateReader,
    crops_dir: Path,
    latency_runs: int = LATENCY_RUNS,
    views: Sequence[CropView] = PLATE_CROP_VIEWS,
    sure_confidence: float = PLATE_CROP_SURE_CONFIDENCE,
    limit: int | None = None,
) -> OcrEvaluation:
    """Read every crop of `real/us-crops` (in batches) and score it against the labels; with
    `limit`, that many crops spread evenly over the set (the labels run state by state)."""
    rows = load_us_crops(crops_dir, limit)
    images = [row[3] for row in rows]

    def read_plates(batch: list[np.ndarray]) -> list[PlateText]:
        return read_plate_crops(reader, batch, views, sure_confidence)

    reads, as_given = _in_batches(read_plates, images), _in_batches(reader.read, images)
    exact = exact_as_given = state_right = state_named = chars_right = chars_total = 0
    misreads = []
    for (file, state, label, _), read, once in zip(rows, reads, as_given, strict=True):
        truth = normalise_plate(label, pool_o_zero=True)
        text = normalise_plate(read.text, pool_o_zero=True)
        exact += truth == text
        exact_as_given += truth == normalise_plate(once.text, pool_o_zero=True)
        chars_right += max(0, len(truth) - edit_distance(truth, text))
        chars_total += len(truth)
        state_right += read.region == state
        state_named += read.region is not None
        if truth != text:
            misreads.append(Misread(file, label, read.text, state, read.region))
    count = len(rows)
    per_plate = timings_ms(lambda crop: read_plates([crop]), images, latency_runs)
    return OcrEvaluation(
        crops=count,
        exact=exact / count,
        exact_as_given=exact_as_given / count,
        char_accuracy=chars_right / max(chars_total, 1),
        state_accuracy=state_right / count,
        state_named=state_named / count,
        state_precision=state_right / max(state_named, 1),
        latency_ms_median=statistics.median(
            timings_ms(lambda crop: reader.read([crop]), images, latency_runs)
        ),
        latency_ms_per_plate_median=statistics.median(per_plate),
        latency_ms_per_plate_mean=statistics.fmean(per_plate),
        misreads=misreads,
    )
