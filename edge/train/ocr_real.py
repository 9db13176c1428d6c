"""Real plate crops from the MIT-licensed detection sets, labelled by two readers agreeing.

The sets (`detect/roboflow-plates`, `detect/dashcam-ro`) mark where plates are but not what they
say. A crop gets a label when our own model and PP-OCR (an independent reader) read the same
text, or when PP-OCR is very sure and our model is one character away, and the text is a serial
some issuer prints. The AGPL `real/*` sets are never read here: they are for evaluation only.
"""

from __future__ import annotations

import itertools
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.synth import formats
from edge.train.ocr_data import LabelledCrop
from edge.train.ocr_teacher import PaddleTeacher, TeacherRead

log = logging.getLogger(__name__)

ROBOFLOW = "detect/roboflow-plates"
DASHCAM = "detect/dashcam-ro"
# Smallest plate boxes worth reading, in source pixels (width, height).
_MIN_SIZE = {ROBOFLOW: (28, 14), DASHCAM: (48, 11)}
# Romanian serials (county code, two or three digits, three letters), the dash-cam set's plates.
_ROMANIAN = re.compile(r"[A-Z]{1,2}\d{2,3}[A-Z]{3}")
_TEACHER_SURE = 0.95


@dataclass(frozen=True)
class RealCrop:
    image: np.ndarray  # BGR
    source: str  # the data set folder it came from
    region: str | None  # the region code when the set tells it (dash-cam plates are EU)


def _crop(image: np.ndarray, box: tuple[float, float, float, float], margin: float) -> np.ndarray:
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    left, top = max(0, int(x0 - dx)), max(0, int(y0 - dy))
    right, bottom = min(w, round(x1 + dx)), min(h, round(y1 + dy))
    return image[top:bottom, left:right].copy()


def _big_enough(source: str, box: tuple[float, float, float, float]) -> bool:
    min_w, min_h = _MIN_SIZE[source]
    return box[2] - box[0] >= min_w and box[3] - box[1] >= min_h


def _roboflow_boxes(label_file: Path, width: int, height: int) -> Iterator[tuple[float, ...]]:
    for line in label_file.read_text().splitlines():
        values = [float(v) for v in line.split()[1:]]
        if len(values) == 4:
            cx, cy, bw, bh = values
            xs, ys = [cx - bw / 2, cx + bw / 2], [cy - bh / 2, cy + bh / 2]
        elif len(values) >= 6:
            xs, ys = values[0::2], values[1::2]
        else:
            continue
        yield min(xs) * width, min(ys) * height, max(xs) * width, max(ys) * height


def roboflow_crops(root: Path) -> Iterator[RealCrop]:
    """One crop per plate per source photo: the set repeats each photo across splits."""
    seen: set[str] = set()
    for label_file in sorted(root.glob("*/labels/*.txt")):
        stem = label_file.name.split("_jpg")[0]
        image_file = label_file.parent.parent / "images" / f"{label_file.stem}.jpg"
        if stem in seen or not image_file.is_file():
            continue
        seen.add(stem)
        image = cv2.imread(str(image_file))
        if image is None:
            continue
        for box in _roboflow_boxes(label_file, image.shape[1], image.shape[0]):
            if _big_enough(ROBOFLOW, box):
                yield RealCrop(_crop(image, box, 0.04), ROBOFLOW, None)


def dashcam_crops(root: Path) -> Iterator[RealCrop]:
    for annotation in sorted(root.glob("*/annots/*.xml")):
        image_file = annotation.parent.parent / "images" / f"{annotation.stem}.jpg"
        image = cv2.imread(str(image_file))
        if image is None:
            continue
        for box_node in ET.parse(annotation).getroot().iter("bndbox"):
            box = tuple(float(box_node.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax"))
            if _big_enough(DASHCAM, box):
                yield RealCrop(_crop(image, box, 0.06), DASHCAM, "EU")


def mit_crops(shared_root: Path, limit: int | None = None) -> list[RealCrop]:
    """Usable plate crops (all, or the first `limit`) in the MIT sets under `shared_root`."""
    sources = [
        reader(shared_root / folder)
        for folder, reader in ((ROBOFLOW, roboflow_crops), (DASHCAM, dashcam_crops))
        if (shared_root / folder).is_dir()
    ]
    crops = list(itertools.islice(itertools.chain(*sources), limit))
    log.info("%d real plate crops from the MIT sets under %s", len(crops), shared_root)
    return crops


def _normalise(text: str, crop: RealCrop) -> str:
    # The roboflow plates are mostly American, whose labels write the letter O as a zero.
    return text.replace("O", "0") if crop.source == ROBOFLOW else text


def _one_edit_apart(a: str, b: str) -> bool:
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    if abs(len(a) - len(b)) != 1:
        return False
    short, long = sorted((a, b), key=len)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def plausible_serial(text: str, crop: RealCrop) -> bool:
    if crop.source == DASHCAM:
        return bool(_ROMANIAN.fullmatch(text))
    return any(formats.fits_state_format(text, state) for state in formats.US_STATES)


def issued_serial(text: str, crop: RealCrop) -> bool:
    """Stricter than `plausible_serial`: the text fits a state's serial layout, not merely the
    anything-goes vanity pattern (a vanity layout is all 'A' positions)."""
    if crop.source == DASHCAM:
        return bool(_ROMANIAN.fullmatch(text))
    for state in formats.US_STATES:
        mask = formats.letter_digit_mask(text, state)
        if mask is not None and set(mask) != {"A"}:
            return True
    return False


def agreed_label(
    student: str, teacher: TeacherRead, crop: RealCrop, teacher_alone: float | None = None
) -> str | None:
    """The teacher's text when the two readers agree closely enough, else None.

    With `teacher_alone`, a teacher read at least that confident whose text fits a state's
    serial layout is taken whatever the student read (PP-OCR alone reads real US crops at about
    0.9 exact, so this adds many crops the student still gets wrong)."""
    ours, theirs = _normalise(student, crop), _normalise(teacher.text, crop)
    agree = ours == theirs or (
        teacher.confidence >= _TEACHER_SURE and _one_edit_apart(ours, theirs)
    )
    if agree and plausible_serial(theirs, crop):
        return theirs
    if (
        teacher_alone is not None
        and teacher.confidence >= teacher_alone
        and issued_serial(theirs, crop)
    ):
        return theirs
    return None


class PseudoLabeller:
    """Labels real crops; the teacher's reads are cached since only the student changes."""

    def __init__(
        self, crops: Sequence[RealCrop], teacher: PaddleTeacher, teacher_alone: float | None = None
    ) -> None:
        self.crops = list(crops)
        self.teacher_alone = teacher_alone
        self.teacher_reads = [teacher.read(crop.image) for crop in self.crops]

    def label(self, student: Callable[[list[np.ndarray]], list[str]]) -> list[LabelledCrop]:
        reads = student([crop.image for crop in self.crops])
        labelled = []
        for crop, ours, theirs in zip(self.crops, reads, self.teacher_reads, strict=True):
            text = agreed_label(ours, theirs, crop, self.teacher_alone)
            if text is not None:
                labelled.append(LabelledCrop(crop.image, text, crop.region))
        log.info("pseudo-labels: %d of %d real crops agreed", len(labelled), len(self.crops))
        return labelled
