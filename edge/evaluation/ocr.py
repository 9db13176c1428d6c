"""OCR figures on `real/us-crops`: exact plate text, characters, state, and latency.

Plate text is compared after `normalise_plate`: upper case, spaces and dashes removed, and the
letter O written as the digit 0 on both sides, because the labels of this set write O as 0 (as
many US plates print them alike). Character accuracy is 1 - edit distance / label length, summed
over the set. State accuracy counts every crop: a crop whose state the model cannot name is wrong.
"""

from __future__ import annotations

import csv
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from edge.errors import InputError
from edge.evaluation import Figures
from edge.recognise import PlateReader

LATENCY_RUNS = 200


def normalise_plate(text: str) -> str:
    return text.upper().replace(" ", "").replace("-", "").replace("O", "0")


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
    char_accuracy: float
    state_accuracy: float
    latency_ms_median: float
    misreads: list[Misread] = field(default_factory=list)


def load_us_crops(crops_dir: Path) -> list[tuple[str, str, str, np.ndarray]]:
    """(file, state code upper case, plate label, BGR image) for every labelled crop."""
    labels = crops_dir / "labels.csv"
    if not labels.is_file():
        raise InputError(f"{labels}: not found")
    rows = []
    with labels.open(newline="") as handle:
        for row in csv.DictReader(handle):
            image = cv2.imread(str(crops_dir / row["file"]))
            if image is None:
                raise InputError(f"{crops_dir / row['file']}: cannot read the image")
            rows.append((row["file"], row["state"].upper(), row["plate"], image))
    return rows


def ocr_latency_ms(reader: PlateReader, crops: list[np.ndarray], runs: int = LATENCY_RUNS) -> float:
    """Median milliseconds to read one crop (resize included), over `runs` single-crop reads."""
    reader.read(crops[:1])  # warm-up
    timings = []
    for i in range(runs):
        crop = crops[i % len(crops)]
        start = time.perf_counter()
        reader.read([crop])
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


def evaluate_us_crops(
    reader: PlateReader, crops_dir: Path, latency_runs: int = LATENCY_RUNS
) -> OcrEvaluation:
    """Read every crop of `real/us-crops` (in batches) and score it against the labels."""
    rows = load_us_crops(crops_dir)
    reads = []
    for start in range(0, len(rows), 64):
        reads.extend(reader.read([row[3] for row in rows[start : start + 64]]))
    exact = state_right = chars_right = chars_total = 0
    misreads = []
    for (file, state, label, _), read in zip(rows, reads, strict=True):
        truth, text = normalise_plate(label), normalise_plate(read.text)
        exact += truth == text
        chars_right += max(0, len(truth) - edit_distance(truth, text))
        chars_total += len(truth)
        state_right += read.state == state
        if truth != text:
            misreads.append(Misread(file, label, read.text, state, read.state))
    count = len(rows)
    return OcrEvaluation(
        crops=count,
        exact=exact / count,
        char_accuracy=chars_right / max(chars_total, 1),
        state_accuracy=state_right / count,
        latency_ms_median=ocr_latency_ms(reader, [row[3] for row in rows], latency_runs),
        misreads=misreads,
    )
