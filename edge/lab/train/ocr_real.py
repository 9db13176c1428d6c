"""Real plate crops from the MIT-licensed detection sets, labelled by eye or by two readers.

The sets (`detect/roboflow-plates`, `detect/dashcam-ro`) mark where plates are but not what they
say. A crop takes its label from `models/real-crop-labels.csv` when a person has read it there
(every crop of the two sets, as shipped); otherwise, for new crops, it gets one when our own
model and PP-OCR (an independent reader) read the same text, or when PP-OCR is very sure and our
model is one character away, and the text is a serial some issuer prints. The AGPL `real/*`
sets are never read here: they are for evaluation only.
"""

from __future__ import annotations

import csv
import itertools
import logging
import random
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.errors import ConfigError
from edge.lab.train.ocr_data import LabelledCrop
from edge.lab.train.ocr_teacher import PaddleTeacher, TeacherRead
from edge.plates.masks import fits_issued_format, fits_region_format
from edge.plates.regions import US_STATES

log = logging.getLogger(__name__)

ROBOFLOW = "detect/roboflow-plates"
DASHCAM = "detect/dashcam-ro"
# Smallest plate boxes worth reading, in source pixels (width, height).
_MIN_SIZE = {ROBOFLOW: (28, 14), DASHCAM: (48, 11)}
# Romanian serials, the dash-cam set's plates: a county code and two digits (Bucharest, B, two
# or three) and three letters. Naming the counties keeps out a read that lost a letter at the
# plate's edge (Ilfov's IF read as F).
_COUNTIES = (
    "AB AG AR BC BH BN BR BT BV BZ CJ CL CS CT CV DB DJ GJ GL GR HD HR IF IL IS MH MM MS NT OT "
    "PH SB SJ SM SV TL TM TR VL VN VS"
)
_ROMANIAN = re.compile(rf"(B\d{{2,3}}|({'|'.join(_COUNTIES.split())})\d{{2}})[A-Z]{{3}}")
_TEACHER_SURE = 0.95
_CHECKED_TEXT = re.compile(r"[A-Z0-9]{0,9}")


@dataclass(frozen=True)
class RealCrop:
    image: np.ndarray  # BGR
    source: str  # the data set folder it came from
    region: str | None  # the region code when the set tells it (dash-cam plates are EU)
    # Names the crop across runs: set folder, photo file stem, and the box's place in the photo.
    key: str = ""


def _cut(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    sides: tuple[float, float, float, float],
) -> np.ndarray:
    """`box` cut from `image`, each side (left, top, right, bottom) moved out by that share of
    the box's width or height (in, where negative), held inside the image."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    bw, bh = x1 - x0, y1 - y0
    left, top = max(0, int(x0 - bw * sides[0])), max(0, int(y0 - bh * sides[1]))
    right, bottom = min(w, round(x1 + bw * sides[2])), min(h, round(y1 + bh * sides[3]))
    return image[top:bottom, left:right].copy()


def _crop(image: np.ndarray, box: tuple[float, float, float, float], margin: float) -> np.ndarray:
    return _cut(image, box, (margin,) * 4)


# A detector's box around a real plate is seldom the labelled one: ours runs a median 8 % and a
# quarter of US plates over 23 % wider than the truth (models/README.md, round 18). A slack
# crop cuts each side anywhere from this far inside to this far outside the labelled box, as
# shares of its width (left, right) and height (top, bottom), so the OCR learns real plates
# with the surroundings a detector leaves around them, not only the tight cut it was given.
SLACK_X = (-0.03, 0.22)
SLACK_Y = (-0.05, 0.2)


def _with_slack(
    image: np.ndarray, box: tuple[float, float, float, float], crop: RealCrop, slack: int
) -> Iterator[RealCrop]:
    """The crop, then `slack` crops of the same plate cut with a detector's slack (seeded by
    the crop's key, so every run cuts the same ones); all carry the crop's key and label."""
    yield crop
    for number in range(slack):
        rng = random.Random(f"{crop.key}/slack{number}")
        left, right = rng.uniform(*SLACK_X), rng.uniform(*SLACK_X)
        top, bottom = rng.uniform(*SLACK_Y), rng.uniform(*SLACK_Y)
        cut = _cut(image, box, (left, top, right, bottom))
        yield RealCrop(cut, crop.source, crop.region, crop.key)


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


def roboflow_crops(root: Path, slack: int = 0) -> Iterator[RealCrop]:
    """One crop per plate per source photo (the set repeats each photo across splits), and
    `slack` more cut as a detector would (`_with_slack`)."""
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
        for number, box in enumerate(_roboflow_boxes(label_file, image.shape[1], image.shape[0])):
            if _big_enough(ROBOFLOW, box):
                key = f"{ROBOFLOW}/{stem}#{number}"
                crop = RealCrop(_crop(image, box, 0.04), ROBOFLOW, None, key)
                yield from _with_slack(image, box, crop, slack)


def dashcam_crops(root: Path, slack: int = 0) -> Iterator[RealCrop]:
    for annotation in sorted(root.glob("*/annots/*.xml")):
        image_file = annotation.parent.parent / "images" / f"{annotation.stem}.jpg"
        image = cv2.imread(str(image_file))
        if image is None:
            continue
        boxes = ET.parse(annotation).getroot().iter("bndbox")
        for number, box_node in enumerate(boxes):
            box = tuple(float(box_node.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax"))
            if _big_enough(DASHCAM, box):
                key = f"{DASHCAM}/{annotation.stem}#{number}"
                crop = RealCrop(_crop(image, box, 0.06), DASHCAM, "EU", key)
                yield from _with_slack(image, box, crop, slack)


def mit_crops(shared_root: Path, limit: int | None = None, slack: int = 0) -> list[RealCrop]:
    """Usable plate crops (all, or the first `limit`) in the MIT sets under `shared_root`, each
    followed by `slack` crops of the same plate cut with a detector's slack."""
    sources = [
        reader(shared_root / folder, slack)
        for folder, reader in ((ROBOFLOW, roboflow_crops), (DASHCAM, dashcam_crops))
        if (shared_root / folder).is_dir()
    ]
    crops = list(itertools.islice(itertools.chain(*sources), limit))
    log.info("%d real plate crops from the MIT sets under %s", len(crops), shared_root)
    return crops


def load_checked_labels(path: Path) -> dict[str, str]:
    """The plates a person read off real crops: `crop,plate` rows (crop as `RealCrop.key`).

    An empty plate marks a crop no one can read whole (cut off by the photo's edge, two rows,
    covered): it is never labelled, whatever the readers agree on."""
    try:
        with path.open(newline="") as file:
            rows = list(csv.DictReader(file))
    except OSError as error:
        raise ConfigError(path, None, f"cannot read the checked labels: {error.strerror}") from None
    labels: dict[str, str] = {}
    for line, row in enumerate(rows, start=2):
        crop, plate = row.get("crop") or "", row.get("plate") or ""
        if not crop or not _CHECKED_TEXT.fullmatch(plate):
            reason = "needs a crop key and a plate of 0-9 capital letters or digits"
            raise ConfigError(path, f"line {line}", f"{reason}, got {crop!r}, {plate!r}")
        if labels.setdefault(crop, plate) != plate:
            raise ConfigError(path, f"line {line}", f"{crop} is labelled twice, differently")
    return labels


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
    return any(fits_region_format(text, state) for state in US_STATES)


def issued_serial(text: str, crop: RealCrop) -> bool:
    """Stricter than `plausible_serial`: the text fits a state's serial layout, not merely the
    anything-goes vanity pattern (a vanity layout is all 'A' positions)."""
    if crop.source == DASHCAM:
        return bool(_ROMANIAN.fullmatch(text))
    return any(fits_issued_format(text, state) for state in US_STATES)


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
    """Labels real crops: a checked label where there is one, else the readers' agreement.

    Crops checked as unreadable are left out. Without a teacher only the checked crops are
    labelled. The teacher's reads are cached since only the student changes."""

    def __init__(
        self,
        crops: Sequence[RealCrop],
        teacher: PaddleTeacher | None,
        teacher_alone: float | None = None,
        checked: Mapping[str, str] | None = None,
    ) -> None:
        checked = checked or {}
        self.checked = [(crop, checked[crop.key]) for crop in crops if checked.get(crop.key)]
        self.teacher_alone = teacher_alone
        self.unchecked = [c for c in crops if c.key not in checked] if teacher else []
        self.teacher_reads = [teacher.read(c.image) for c in self.unchecked] if teacher else []

    def label(self, student: Callable[[list[np.ndarray]], list[str]]) -> list[LabelledCrop]:
        labelled = [
            LabelledCrop(crop.image, text, crop.region, crop.source) for crop, text in self.checked
        ]
        reads = student([crop.image for crop in self.unchecked]) if self.unchecked else []
        agreed = 0
        for crop, ours, theirs in zip(self.unchecked, reads, self.teacher_reads, strict=True):
            text = agreed_label(ours, theirs, crop, self.teacher_alone)
            if text is not None:
                labelled.append(LabelledCrop(crop.image, text, crop.region, crop.source))
                agreed += 1
        log.info(
            "real crops: %d given labels (by eye, or agreed teachers), %d of %d others agreed",
            len(self.checked),
            agreed,
            len(self.unchecked),
        )
        return labelled
