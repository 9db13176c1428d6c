"""State figures: which US state (or UK, EU, BR) issued a tight plate crop, and how sure.

The state classifier (`models/state.onnx`, trained by `alpr-edge train state`) is scored on two
sets: `real/us-crops` (AGPL-3.0, evaluation only, 356 modern plates) and the test split of
`state/us-plates-by-state` (280 crops, many vintage and collector plates). Each set is scored
twice:

- `accuracy`: the most probable class, every crop counting (as the OCR's state figure counts).
- the sure rule the unit would apply: a state is named only when its probability reaches the
  model's `sure_threshold` (chosen on the state set's valid split, stored in the ONNX metadata),
  otherwise null, never a guess. `named_accuracy` is the accuracy of the named crops,
  `coverage` the share named, `sure_accuracy` counts a null as wrong.

Torch-free on purpose: the evaluation runs with onnxruntime alone, and the trainer imports the
preprocessing from here so that training and measuring resize crops the same way.
"""

from __future__ import annotations

import csv
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from edge.errors import InputError, ModelError
from edge.lab.evaluation import Figures, spread
from edge.lab.evaluation.ocr import timings_ms
from edge.lab.shared_data import shared_data_path

INPUT_HEIGHT, INPUT_WIDTH = 64, 128
# ONNX metadata keys: the class codes in output order (comma-separated, upper case) and the
# probability from which the unit names a state.
CLASSES_KEY = "classes"
SURE_THRESHOLD_KEY = "sure_threshold"
NON_US = ("UK", "EU", "BR")
# Grey-layout correlation from which two crops of one state are taken for copies of one photo
# (`copies_in`): pairs of `real/us-crops` and the state set viewed side by side were the same
# photo from 0.83 up; below it some still were (re-cropped), which the plate text catches.
COPY_SIMILARITY = 0.83
# The set's own split names.
STATE_SET_SPLITS = ("train", "valid", "test")


def to_state_input(crop_bgr: np.ndarray) -> np.ndarray:
    """A BGR (or grey) crop as the model reads it: RGB, 64x128, resized with INTER_AREA without
    keeping the aspect ratio (as the OCR resizes; US plates are about 2:1)."""
    if crop_bgr.ndim == 2:
        crop_bgr = cv2.cvtColor(crop_bgr, cv2.COLOR_GRAY2BGR)
    rgb = cv2.cvtColor(crop_bgr, cv2.COLOR_BGR2RGB)
    return cv2.resize(rgb, (INPUT_WIDTH, INPUT_HEIGHT), interpolation=cv2.INTER_AREA)


class StateClassifier:
    """An exported state model served by onnxruntime on one thread."""

    def __init__(self, model_path: Path, threads: int = 1) -> None:
        if not model_path.is_file():
            raise ModelError(model_path, "not found")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        metadata = self.session.get_modelmeta().custom_metadata_map
        if CLASSES_KEY not in metadata:
            raise ModelError(model_path, f"no {CLASSES_KEY!r} metadata")
        self.classes: tuple[str, ...] = tuple(metadata[CLASSES_KEY].split(","))
        self.sure_threshold = float(metadata.get(SURE_THRESHOLD_KEY, "0.5"))

    def probabilities(self, crops_bgr: Sequence[np.ndarray]) -> np.ndarray:
        """(N, classes) probabilities, read in batches of 64."""
        rows = []
        for start in range(0, len(crops_bgr), 64):
            batch = np.stack([to_state_input(c) for c in crops_bgr[start : start + 64]])
            rows.append(self.session.run(["state"], {"input": batch})[0])
        return np.concatenate(rows) if rows else np.zeros((0, len(self.classes)), np.float32)

    def name(
        self, crops_bgr: Sequence[np.ndarray], threshold: float | None = None
    ) -> list[tuple[str | None, float]]:
        """(state code or None when not sure enough, top probability) per crop."""
        sure = self.sure_threshold if threshold is None else threshold
        named: list[tuple[str | None, float]] = []
        for row in self.probabilities(crops_bgr):
            best = int(row.argmax())
            confidence = float(row[best])
            named.append((self.classes[best] if confidence >= sure else None, confidence))
        return named


@dataclass(frozen=True)
class StateCrop:
    file: str
    state: str  # upper case code
    image: np.ndarray  # BGR
    plate: str = ""  # the plate text, where the set labels it (real/us-crops)


def load_us_crops_states(crops_dir: Path) -> list[StateCrop]:
    """`real/us-crops` (labels.csv: file,state,plate) with upper-case state codes."""
    return _load(crops_dir, lambda row: True)


def load_state_split(set_dir: Path, split: str, limit: int | None = None) -> list[StateCrop]:
    """One split of `state/us-plates-by-state` (labels.csv: file,state,split); with `limit`,
    that many crops spread evenly over the split (a smoke run's few)."""
    if split not in STATE_SET_SPLITS:
        raise InputError(f"unknown split {split!r}; known: {', '.join(STATE_SET_SPLITS)}")
    return _load(set_dir, lambda row: row["split"].strip() == split, limit)


def _load(
    folder: Path, wanted: Callable[[dict[str, str]], bool], limit: int | None = None
) -> list[StateCrop]:
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise InputError(f"{labels}: not found")
    with labels.open(newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if wanted(row)]
    crops = []
    for row in spread(rows, limit):
        image = cv2.imread(str(folder / row["file"]))
        if image is None:
            raise InputError(f"{folder / row['file']}: cannot read the image")
        state = row["state"].strip().upper()
        crops.append(StateCrop(row["file"], state, image, row.get("plate", "").strip()))
    return crops


def _layout(image: np.ndarray) -> np.ndarray:
    """A crop's grey layout at 24x48, zero mean and unit norm: copies of one photo correlate."""
    grey = cv2.cvtColor(
        cv2.resize(image, (48, 24), interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2GRAY
    )
    vector = grey.astype(np.float32).flatten()
    vector -= vector.mean()
    return vector / (float(np.linalg.norm(vector)) + 1e-6)


def copies_in(
    crops: Sequence[StateCrop],
    reference: Sequence[StateCrop],
    reference_texts: Sequence[str] | None = None,
) -> set[str]:
    """Files of `crops` that `reference` holds a copy of: a crop of the same state whose grey
    layout correlates at `COPY_SIMILARITY` or more, or (given the OCR's reading of each
    reference crop) whose reading is the crop's plate label, or one edit from a label of five
    characters or more. Both sets were gathered from the web, and the same photos turn up in
    both, re-cropped and re-compressed: a figure on such crops measures memory, not reading."""
    from edge.lab.evaluation.ocr import normalise_plate

    if not reference:
        return set()
    layouts = np.stack([_layout(c.image) for c in reference])
    states = np.array([c.state for c in reference])
    copies = set()
    for crop in crops:
        same = np.flatnonzero(states == crop.state)
        if not len(same):
            continue
        if float((layouts[same] @ _layout(crop.image)).max()) >= COPY_SIMILARITY:
            copies.add(crop.file)
            continue
        label = normalise_plate(crop.plate)
        if reference_texts is None or len(label) < 4:
            continue
        if any(near_plate_text(label, reference_texts[j]) for j in same):
            copies.add(crop.file)
    return copies


def near_plate_text(label: str, text: str) -> bool:
    """Whether `text` reads as the plate `label`: equal, or one edit from a label of five
    characters or more (a reader that lost or gained one character of the same plate)."""
    from edge.lab.evaluation.ocr import edit_distance

    return edit_distance(label, text) <= (1 if len(label) >= 5 else 0)


@dataclass(frozen=True)
class StateEvaluation(Figures):
    crops: int
    accuracy: float
    sure_threshold: float
    named_accuracy: float
    coverage: float
    sure_accuracy: float
    # Crops whose most probable class is UK, EU or BR (for US plates a miss; for European and
    # Brazilian ones the model saying they are no US plate).
    called_non_us: float
    # Crops named (sure) as a US state: on European and Brazilian plates, the harmful mistake.
    named_us: float
    # None when not timed (subsets of a timed set): `summary()` then leaves it out.
    latency_ms_median: float | None
    # "TRUTH->PREDICTED count", most common first (most probable class).
    confusions: list[str] = field(default_factory=list)


def score_states(
    truths: Sequence[str],
    probabilities: np.ndarray,
    classes: Sequence[str],
    threshold: float,
    latency_ms: float | None = None,
    top_confusions: int = 10,
) -> StateEvaluation:
    """Figures of one set from the model's probabilities (rows in the order of `truths`)."""
    if len(truths) != len(probabilities) or not truths:
        raise InputError(f"{len(truths)} labels for {len(probabilities)} predictions")
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    predicted = [classes[i] for i in best]
    right = np.array([p == t for p, t in zip(predicted, truths, strict=True)])
    named = confidence >= threshold
    wrong_pairs = Counter(
        f"{t}->{p}" for p, t, ok in zip(predicted, truths, right, strict=True) if not ok
    )
    count = len(truths)
    return StateEvaluation(
        crops=count,
        accuracy=float(right.mean()),
        sure_threshold=threshold,
        named_accuracy=float(right[named].mean()) if named.any() else 0.0,
        coverage=float(named.mean()),
        sure_accuracy=float((right & named).mean()),
        called_non_us=float(np.mean([p in NON_US for p in predicted])),
        named_us=float(
            np.mean([n and p not in NON_US for p, n in zip(predicted, named, strict=True)])
        ),
        latency_ms_median=latency_ms,
        confusions=[f"{pair} {n}" for pair, n in wrong_pairs.most_common(top_confusions)],
    )


def choose_sure_threshold(
    truths: Sequence[str],
    probabilities: np.ndarray,
    classes: Sequence[str],
    precision: float = 0.95,
    grid: Sequence[float] = tuple(round(0.30 + 0.05 * i, 2) for i in range(14)),
) -> float:
    """The lowest threshold of `grid` (0.30 ... 0.95) at which the named crops are right at
    least `precision` of the time; the highest grid value when none reaches it. A wrong state
    costs more than none (a hotlist hit in the wrong state), so precision decides, and the
    lowest such threshold keeps the most crops named."""
    best = probabilities.argmax(axis=1)
    confidence = probabilities.max(axis=1)
    right = np.array([classes[i] == t for i, t in zip(best, truths, strict=True)])
    for threshold in grid:
        named = confidence >= threshold
        if named.any() and right[named].mean() >= precision:
            return float(threshold)
    return float(grid[-1])


def evaluate_states(
    classifier: StateClassifier,
    crops: Sequence[StateCrop],
    latency_runs: int = 200,
    threshold: float | None = None,
) -> StateEvaluation:
    """Classify every crop and score it; latency is one crop at a time, resize included."""
    images = [c.image for c in crops]
    probabilities = classifier.probabilities(images)
    latency = (
        statistics.median(
            timings_ms(lambda crop: classifier.probabilities([crop]), images, latency_runs)
        )
        if latency_runs > 0
        else None
    )
    return score_states(
        [c.state for c in crops],
        probabilities,
        classifier.classes,
        classifier.sure_threshold if threshold is None else threshold,
        latency,
    )


# Photo sets whose labelled plates are cut out to check that non-US plates are called so; the
# truth is the set's main class (real/eu also holds a few UK plates, which `called_non_us`
# counts as right where `accuracy` does not).
NON_US_PHOTO_SETS = {"eu-plates": ("eu", "EU"), "br-plates": ("br", "BR")}


def load_photo_plates(folder: Path, state: str) -> list[StateCrop]:
    """The labelled plates of a photo set (`real/eu`, `real/br`), cut out at their boxes."""
    from edge.lab.evaluation.detection import load_plate_photos

    crops = []
    for photo in load_plate_photos(folder):
        height, width = photo.image.shape[:2]
        for number, plate in enumerate(photo.plates):
            box = plate.box
            x0, y0 = max(box.x, 0), max(box.y, 0)
            x1, y1 = min(box.x + box.w, width), min(box.y + box.h, height)
            if x1 - x0 >= 4 and y1 - y0 >= 4:
                image = photo.image[y0:y1, x0:x1]
                crops.append(StateCrop(f"{photo.file}#{number}", state, image, plate.text))
    return crops


def state_figures(
    classifier: StateClassifier,
    state_set: Path | None,
    us_crops: Path | None,
    read_texts: Callable[[list[np.ndarray]], list[str]] | None = None,
    latency_runs: int = 200,
    check_copies: bool = True,
) -> dict[str, StateEvaluation]:
    """Figures on the sets present: `us-crops` (all of `real/us-crops`), `us-crops unseen`
    (those of its crops with no copy in the state set's train or valid split, see `copies_in`;
    `read_texts` reads plate texts, normalised, for that check; `check_copies` False skips it),
    `by-state-test` and `by-state-test unseen` (no copy in the train split, by layout alone:
    the set labels no plate text), and the plates of `real/eu` and `real/br`
    (`NON_US_PHOTO_SETS`)."""
    figures: dict[str, StateEvaluation] = {}
    trained = {
        split: load_state_split(state_set, split)
        for split in (("train", "valid") if state_set is not None and check_copies else ())
    }
    if us_crops is not None:
        crops = load_us_crops_states(us_crops)
        figures["us-crops"] = evaluate_states(classifier, crops, latency_runs)
        if trained:
            seen = trained["train"] + trained["valid"]
            texts = None
            if read_texts is not None:
                images = [c.image for c in seen]
                texts = [
                    t for i in range(0, len(images), 64) for t in read_texts(images[i : i + 64])
                ]
            copies = copies_in(crops, seen, texts)
            unseen = [c for c in crops if c.file not in copies]
            figures["us-crops unseen"] = evaluate_states(classifier, unseen, 0)
    if state_set is not None:
        test = load_state_split(state_set, "test")
        figures["by-state-test"] = evaluate_states(classifier, test, latency_runs)
        if trained:
            copies = copies_in(test, trained["train"])
            unseen = [c for c in test if c.file not in copies]
            figures["by-state-test unseen"] = evaluate_states(classifier, unseen, 0)
    for name, (folder_name, state) in NON_US_PHOTO_SETS.items():
        folder = shared_data_path("real", folder_name)
        if folder is not None:
            plates = load_photo_plates(folder, state)
            if plates:
                figures[name] = evaluate_states(classifier, plates, 0)
    return figures
