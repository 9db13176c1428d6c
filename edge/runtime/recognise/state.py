"""`StateClassifier`: names a plate crop's issuing state with a model of its own.

The OCR's region head learnt states from rendered designs alone and names the state of few
real plates; a classifier trained on real state-labelled crops (`models/state.onnx`, trained
by its own command) does far better. Its contract: input `input`, uint8 RGB NHWC 64x128 (the
crop resized without keeping its aspect ratio, `INTER_AREA`); output `state`, probabilities
(N, classes); ONNX metadata `classes` (the codes in output order, comma-separated) and
optionally `sure_threshold` (the probability from which it names a state; below it, null).
`ocr.state_model` points at it; without one the OCR's head names the region.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from edge.errors import ModelError
from edge.runtime.sessions import open_session

CLASSES_KEY = "classes"
SURE_THRESHOLD_KEY = "sure_threshold"


class StateClassifier:
    """One onnxruntime session over uint8 RGB NHWC crops; `classes` name its outputs."""

    def __init__(
        self,
        model_path: str | Path,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self._session = open_session(self.model_path, providers, threads, "state model")
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.classes = tuple(c.strip().upper() for c in metadata.get(CLASSES_KEY, "").split(","))
        self.sure_threshold = _threshold(self.model_path, metadata.get(SURE_THRESHOLD_KEY))
        self._check_contract()

    def _check_contract(self) -> None:
        inputs = {i.name: i for i in self._session.get_inputs()}
        outputs = {o.name: o for o in self._session.get_outputs()}
        if "input" not in inputs or inputs["input"].type != "tensor(uint8)":
            raise ModelError(self.model_path, "needs a uint8 input named 'input'")
        shape = inputs["input"].shape
        if len(shape) != 4 or not all(isinstance(v, int) for v in shape[1:]) or shape[3] != 3:
            raise ModelError(self.model_path, f"input {shape} is not NHWC RGB of a fixed size")
        self.height, self.width = int(shape[1]), int(shape[2])
        if "state" not in outputs:
            raise ModelError(self.model_path, f"no output named 'state' (has {list(outputs)})")
        width = outputs["state"].shape[-1]
        if not self.classes or not all(self.classes) or width != len(self.classes):
            raise ModelError(
                self.model_path,
                f"metadata '{CLASSES_KEY}' names {len(self.classes)} classes, output has {width}",
            )

    def prepare(self, images_rgb: np.ndarray) -> np.ndarray:
        """A uint8 NHWC batch (RGB or grey) brought to the model's size and colour."""
        if images_rgb.shape[1:3] == (self.height, self.width) and images_rgb.shape[-1] == 3:
            return images_rgb
        resized = []
        for image in images_rgb:
            if image.ndim == 2 or image.shape[-1] == 1:
                image = cv2.cvtColor(image.reshape(image.shape[:2]), cv2.COLOR_GRAY2RGB)
            resized.append(
                cv2.resize(image, (self.width, self.height), interpolation=cv2.INTER_AREA)
            )
        return np.stack(resized)

    def probabilities(self, images_rgb: np.ndarray) -> np.ndarray:
        """(N, classes) probabilities for a uint8 NHWC batch (see `prepare`)."""
        if len(images_rgb) == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        [out] = self._session.run(["state"], {"input": self.prepare(images_rgb)})
        return np.asarray(out, dtype=np.float64)


def _threshold(path: Path, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ModelError(
            path, f"metadata '{SURE_THRESHOLD_KEY}' {text!r} is not a number"
        ) from None
    if not 0.0 <= value <= 1.0:
        raise ModelError(path, f"metadata '{SURE_THRESHOLD_KEY}' {value} is not in [0, 1]")
    return value
