"""`PlateReader`: plate crops in, `PlateText` out, through fast-plate-ocr's recogniser.

Any ONNX model that keeps fast-plate-ocr's contract can be served: the shipped
`models/ocr.onnx` with its plate-config YAML (the offline default), or one of fast-plate-ocr's
published hub models (`cct-s-v1-global-model` and others) on a machine that can download them.
The optional `region` output names the plate's state (US) or region (UK, EU, BR). A unit that
knows where it stands can say which regions it expects (`PlateReader.expecting`): the state is
then chosen among those alone, and the decoder reads the text against their serial formats.
Every reading carries its `candidates` best alternatives (`PlateReader.with_candidates`, from
`ocr.candidates`), the read text first.

A reading shorter than any plate (`ocr.min_characters`, `PlateReader.reading_at_least`) is
reported unread: most are a sign's letter or a bolt the detector took for a plate.

A region is named only when it is sure (`PlateReader.naming`, `ocr.min_region_confidence`);
below that the reading's region is null and its `region_confidence` says how sure the
likeliest one was, which still steers the serial formats (`region_guess`). A state classifier
(`edge.runtime.recognise.state`, `ocr.state_model`) may name the region instead of the OCR's
own head, from its own sure threshold when its file carries one.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import get_args

import numpy as np
import onnxruntime as ort
import yaml
from fast_plate_ocr import LicensePlateRecognizer
from fast_plate_ocr.inference import hub
from fast_plate_ocr.inference.config import PlateConfig

from edge.config import OcrConfig
from edge.errors import InputError, ModelError
from edge.plates.regions import US_STATES, expand_region_codes
from edge.runtime.recognise.decoding import DecodedText, candidate_readings, decode
from edge.runtime.recognise.preprocess import to_model_input
from edge.runtime.recognise.state import StateClassifier
from edge.runtime.types import Candidate, PlateText

log = logging.getLogger(__name__)

HUB_MODELS: tuple[str, ...] = get_args(hub.OcrModel)
# Alternative readings per plate unless told otherwise (`ocr.candidates`).
DEFAULT_CANDIDATES = 10
# With a state classifier, the OCR's own head keeps the region only where it puts UK, EU or BR
# first at least this sure: the classifier learnt those from rendered plates alone and calls
# some real Brazilian plates a US state, while the head's unsure non-US guesses on real US
# plates (a tenth of them) would otherwise keep the classifier out (model card, second rule).
NON_US_HEAD_SURE = 0.5


def _load_plate_config(path: Path) -> PlateConfig:
    if not path.is_file():
        raise ModelError(path, "plate config not found")
    try:
        config = PlateConfig.from_yaml(path)
    except (yaml.YAMLError, TypeError, UnicodeDecodeError) as exc:
        raise ModelError(path, f"not a valid fast-plate-ocr plate config: {exc}") from exc
    if config.pad_char not in config.alphabet:
        raise ModelError(path, f"pad_char {config.pad_char!r} is not in the alphabet")
    return config


def _session_options(threads: int) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return options


class PlateReader:
    """Reads batches of BGR plate crops; one onnxruntime session, `threads` intra-op threads."""

    def __init__(
        self,
        model_path: str | Path,
        plate_config_path: str | Path,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 1,
    ) -> None:
        self.model_path = Path(model_path)
        self.plate_config_path = Path(plate_config_path)
        if not self.model_path.is_file():
            raise ModelError(self.model_path, "OCR model file not found")
        self.config = _load_plate_config(self.plate_config_path)
        try:
            self._recognizer = LicensePlateRecognizer(
                onnx_model_path=self.model_path,
                plate_config_path=self.plate_config_path,
                providers=list(providers),
                sess_options=_session_options(threads),
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors for bad files
            raise ModelError(self.model_path, f"cannot load as an ONNX model: {exc}") from exc
        self._check_contract()
        self._expected: frozenset[str] | None = None
        self.candidate_count = DEFAULT_CANDIDATES
        self.min_characters = 1
        self.min_region_confidence = 0.0
        self.state_classifier: StateClassifier | None = None

    @classmethod
    def from_hub(
        cls,
        name: str,
        providers: Sequence[str] = ("CPUExecutionProvider",),
        threads: int = 1,
    ) -> PlateReader:
        """A published fast-plate-ocr model, downloaded once into fast-plate-ocr's cache."""
        if name not in HUB_MODELS:
            raise ModelError(name, f"unknown hub model; known: {', '.join(HUB_MODELS)}")
        try:
            model_path, config_path = hub.download_model(name)  # type: ignore[arg-type]
        except OSError as exc:
            raise ModelError(name, f"cannot download the hub model: {exc}") from exc
        return cls(model_path, config_path, providers, threads)

    def _check_contract(self) -> None:
        session = self._recognizer.model
        inputs = {i.name: i for i in session.get_inputs()}
        if "input" not in inputs:
            raise ModelError(self.model_path, f"no input named 'input' (has {list(inputs)})")
        expected = [self.config.img_height, self.config.img_width, self.config.num_channels]
        actual = inputs["input"].shape[1:]
        if inputs["input"].type != "tensor(uint8)" or list(actual) != expected:
            raise ModelError(
                self.model_path,
                f"input is {inputs['input'].type} {actual}, but {self.plate_config_path.name} "
                f"asks for uint8 NHWC {expected}",
            )
        outputs = {o.name: o.shape for o in session.get_outputs()}
        plate_shape = outputs[self._recognizer.plate_output_name]
        slots, vocabulary = self.config.max_plate_slots, self.config.vocabulary_size
        if list(plate_shape[1:]) not in ([slots, vocabulary], [slots * vocabulary]):
            raise ModelError(
                self.model_path,
                f"plate output {plate_shape} does not match {slots} slots x {vocabulary} "
                f"characters in {self.plate_config_path.name}",
            )
        regions = self.config.plate_regions or []
        if self._recognizer.has_region_head and outputs["region"][-1] != len(regions):
            raise ModelError(
                self.model_path,
                f"region output {outputs['region']} does not match the {len(regions)} "
                f"plate_regions in {self.plate_config_path.name}",
            )

    @property
    def regions(self) -> tuple[str, ...]:
        """The states/regions the model can name; empty when it has no region output."""
        return tuple(self.config.plate_regions or ()) if self._recognizer.has_region_head else ()

    def _expected_mask(self, expected: Sequence[str]) -> np.ndarray | None:
        """Which of the model's regions may be named; None when all may (or none can be)."""
        if not expected or not self.regions:
            return None
        try:
            codes = expand_region_codes(expected)
        except ValueError as exc:
            raise InputError(f"expected regions: {exc}") from None
        mask = np.array([region in codes for region in self.regions])
        if not mask.any():
            raise ModelError(self.model_path, f"names none of the expected regions {expected}")
        return mask

    def expecting(self, regions: Sequence[str]) -> PlateReader:
        """The same model (one session) reading as a unit that expects only `regions`."""
        self._expected_mask(regions)  # refuses codes it does not know, or none it can name
        variant = copy.copy(self)
        try:
            variant._expected = frozenset(expand_region_codes(regions)) if regions else None
        except ValueError as exc:
            raise InputError(f"expected regions: {exc}") from None
        return variant

    def configured(self, ocr: OcrConfig) -> PlateReader:
        """The same model reading as `ocr` asks: candidates, sure naming, state model (loaded
        here, once)."""
        classifier = None
        if ocr.state_model is not None:
            classifier = StateClassifier(ocr.state_model, ocr.providers, ocr.threads)
        reader = self.with_candidates(ocr.candidates).naming(ocr.min_region_confidence)
        return reader.with_state_classifier(classifier).reading_at_least(ocr.min_characters)

    def reading_at_least(self, characters: int) -> PlateReader:
        """The same model reporting a reading shorter than `characters` as unread (empty)."""
        variant = copy.copy(self)
        variant.min_characters = characters
        return variant

    def naming(self, min_confidence: float) -> PlateReader:
        """The same model naming a region only from `min_confidence` on (0: always)."""
        variant = copy.copy(self)
        variant.min_region_confidence = min_confidence
        return variant

    def with_state_classifier(self, classifier: StateClassifier | None) -> PlateReader:
        """The same model with `classifier` naming the region instead of its own head."""
        variant = copy.copy(self)
        variant.state_classifier = classifier
        return variant

    def _best_regions(
        self, names: Sequence[str], probabilities: np.ndarray | None, count: int
    ) -> list[tuple[str | None, float | None]]:
        """Per crop, the likeliest region and its probability, the expected regions alone
        keeping their weight; (None, None) without a region source."""
        if probabilities is None:
            return [(None, None)] * count
        if self._expected is not None:
            mask = np.array([name in self._expected for name in names])
            if mask.any():
                # In float64 with a floor far below any real weight: a region the model all
                # but rules out (1e-16) is still the only one expected, and then it is sure.
                kept = np.where(mask, probabilities.astype(np.float64) + 1e-300, 0.0)
                probabilities = kept / kept.sum(axis=1, keepdims=True)
        best = probabilities.argmax(axis=1)
        return [(names[b], float(row[b])) for b, row in zip(best, probabilities, strict=True)]

    def _regions(
        self, head: np.ndarray | None, batch: np.ndarray
    ) -> list[tuple[str | None, float | None, str | None, float]]:
        """Per crop: the region named (None when unsure), the confidence reported, and the
        region (with its confidence) whose serial formats steer the text. The OCR's head
        steers unless the state classifier is sure, and names only from
        `min_region_confidence`; the classifier names from its own sure threshold."""
        own = self._best_regions(self.regions, head, len(batch))
        classifier = self.state_classifier
        if classifier is None:
            regions = []
            for name, conf in own:
                sure = conf is not None and conf >= self.min_region_confidence
                regions.append((name if sure else None, conf, name, conf or 0.0))
            return regions
        threshold = classifier.sure_threshold
        threshold = self.min_region_confidence if threshold is None else threshold
        classified = self._best_regions(
            classifier.classes, classifier.probabilities(batch), len(batch)
        )
        regions = []
        for (name, conf), (head_name, head_conf) in zip(classified, own, strict=True):
            # Where the OCR's own head is sure of a non-US region (`NON_US_HEAD_SURE`), that
            # region keeps steering the text (and is named only as the head alone would).
            head_sure_non_us = (
                head_name is not None
                and head_name not in US_STATES
                and (head_conf or 0.0) >= NON_US_HEAD_SURE
            )
            if head_sure_non_us:
                sure = head_conf is not None and head_conf >= self.min_region_confidence
                regions.append(
                    (head_name if sure else None, head_conf, head_name, head_conf or 0.0)
                )
            elif conf is not None and conf >= threshold:
                regions.append((name, conf, name, conf))
            else:
                regions.append((None, conf, head_name, head_conf or 0.0))
        return regions

    def with_candidates(self, count: int) -> PlateReader:
        """The same model (one session) listing `count` readings per plate (0: none)."""
        variant = copy.copy(self)
        variant.candidate_count = count
        return variant

    def read(self, crops: Sequence[np.ndarray]) -> list[PlateText]:
        """One `PlateText` per BGR crop, in order, from one batched model run."""
        if not crops:
            return []
        batch = []
        for index, crop in enumerate(crops):
            if crop.ndim not in (2, 3) or crop.shape[0] < 2 or crop.shape[1] < 2:
                raise InputError(f"plate crop {index} has unusable shape {crop.shape}")
            batch.append(to_model_input(crop, self.config))
        return self.read_prepared(np.stack(batch))

    def read_prepared(self, batch: np.ndarray) -> list[PlateText]:
        """Like `read`, for a uint8 NHWC batch already sized and coloured for the model."""
        recognizer = self._recognizer
        names = [recognizer.plate_output_name]
        if recognizer.has_region_head:
            names.append(recognizer.region_output_name)
        outputs = recognizer.model.run(names, {"input": batch})
        chars = outputs[0].reshape(len(batch), self.config.max_plate_slots, -1)
        head = outputs[1] if recognizer.has_region_head else None
        results = []
        for probabilities, (named, region_confidence, steering, steering_confidence) in zip(
            chars, self._regions(head, batch), strict=True
        ):
            decoded = decode(
                probabilities,
                self.config.alphabet,
                self.config.pad_char,
                steering,
                steering_confidence,
            )
            if len(decoded.text) < self.min_characters:
                # Too short for any plate (`ocr.min_characters`): no text, so no candidates.
                decoded = DecodedText("", ())
            confidence = float(np.prod(decoded.char_confidences)) if decoded.text else 0.0
            candidates = self._candidates(
                probabilities, decoded.text, steering, steering_confidence
            )
            results.append(
                PlateText(
                    decoded.text,
                    confidence,
                    decoded.char_confidences,
                    named,
                    region_confidence,
                    candidates,
                    region_guess=None if named else steering,
                )
            )
        return results

    def _candidates(
        self,
        probabilities: np.ndarray,
        text: str,
        region: str | None,
        region_confidence: float | None,
    ) -> tuple[Candidate, ...]:
        """The read text first (the decoder's choice), then the likeliest others."""
        if self.candidate_count <= 0 or not text:
            return ()
        found = candidate_readings(
            probabilities,
            self.config.alphabet,
            self.config.pad_char,
            self.candidate_count + 1,
            region,
            region_confidence or 0.0,
        )
        first = next((c for c in found if c.text == text), Candidate(text, 0.0))
        others = [c for c in found if c.text != text]
        return (first, *others[: self.candidate_count - 1])
