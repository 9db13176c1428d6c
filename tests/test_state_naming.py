"""Regions named only when sure, and a state classifier naming them instead of the OCR's head."""

from __future__ import annotations

import numpy as np
import pytest

from edge.config import OcrConfig
from edge.errors import ModelError
from edge.lab.synth.plates import PlateRenderer
from edge.runtime.recognise import PlateReader
from edge.runtime.recognise.state import StateClassifier
from tests.conftest import REPO_ROOT

MODELS = REPO_ROOT / "models"
STATE_MODEL = MODELS / "state.onnx"


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(MODELS / "ocr.onnx", MODELS / "ocr_plate_config.yaml")


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    renderer = PlateRenderer(seed=5)
    return [renderer.render().image for _ in range(12)]


def constant_state_model(path, classes, probabilities, sure=None, height=64, width=128):
    """A tiny ONNX state model that gives every crop the same probabilities."""
    import onnx
    from onnx import TensorProto, helper

    table = np.asarray([probabilities], np.float32)
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Slice", ["shape", "zero", "one"], ["batch"]),
        helper.make_node("Concat", ["batch", "width"], ["out_shape"], axis=0),
        helper.make_node("Expand", ["table", "out_shape"], ["state"]),
    ]
    initialisers = [
        helper.make_tensor("zero", TensorProto.INT64, [1], [0]),
        helper.make_tensor("one", TensorProto.INT64, [1], [1]),
        helper.make_tensor("width", TensorProto.INT64, [1], [len(classes)]),
        helper.make_tensor("table", TensorProto.FLOAT, table.shape, table.ravel().tolist()),
    ]
    graph = helper.make_graph(
        nodes,
        "constant_state",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, ["n", height, width, 3])],
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["n", len(classes)])],
        initialisers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    meta = {"classes": ",".join(classes)}
    if sure is not None:
        meta["sure_threshold"] = str(sure)
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, path)
    return path


def test_an_unsure_region_is_null_with_its_confidence_and_the_text_unchanged(reader, crops):
    always = reader.naming(0.0).read(crops)
    sure_only = reader.naming(0.9).read(crops)
    assert [r.text for r in always] == [r.text for r in sure_only]
    for named, careful in zip(always, sure_only, strict=True):
        assert careful.region_confidence == named.region_confidence
        if named.region_confidence >= 0.9:
            assert careful.region == named.region and careful.region_guess is None
        else:
            assert careful.region is None and careful.region_guess == named.region
    assert all(
        r.region is None for r in reader.naming(1.0).read(crops[:3]) if r.region_confidence < 1
    )


def test_a_unit_told_its_one_region_names_it_at_the_shipped_threshold(reader, crops):
    told = reader.expecting(["BR"]).configured(OcrConfig())
    assert {r.region for r in told.read(crops[:4])} == {"BR"}


def test_a_state_classifier_names_the_region_from_its_own_sure_threshold(reader, crops, tmp_path):
    sure = constant_state_model(tmp_path / "sure.onnx", ["CA", "NV", "BR"], [0.8, 0.15, 0.05], 0.7)
    unsure = constant_state_model(
        tmp_path / "unsure.onnx", ["CA", "NV", "BR"], [0.6, 0.3, 0.1], 0.7
    )
    named = reader.with_state_classifier(StateClassifier(sure)).read(crops[:3])
    assert [(r.region, round(r.region_confidence, 3)) for r in named] == [("CA", 0.8)] * 3
    held = reader.with_state_classifier(StateClassifier(unsure)).read(crops[:3])
    assert [(r.region, round(r.region_confidence, 3)) for r in held] == [(None, 0.6)] * 3
    # Unsure, the classifier leaves the serial formats to the OCR's own head, text and all.
    own = reader.naming(1.0).read(crops[:3])
    assert [(r.text, r.region_guess) for r in held] == [(r.text, r.region_guess) for r in own]
    # Told it stands in Brazil, the classifier's other classes lose their weight.
    told = reader.expecting(["BR"]).with_state_classifier(StateClassifier(unsure)).read(crops[:1])
    assert (told[0].region, told[0].region_confidence) == ("BR", pytest.approx(1.0))


def test_the_config_loads_the_state_classifier_once(reader, tmp_path):
    path = constant_state_model(tmp_path / "s.onnx", ["TX", "CA"], [0.9, 0.1])
    configured = reader.configured(OcrConfig(state_model=path, min_region_confidence=0.5))
    assert configured.state_classifier is not None
    assert configured.state_classifier.classes == ("TX", "CA")
    assert configured.state_classifier.sure_threshold is None  # falls back to the config's 0.5
    assert reader.configured(OcrConfig()).state_classifier is None


def test_a_state_model_without_class_names_is_refused(tmp_path):
    path = constant_state_model(tmp_path / "s.onnx", ["TX", "CA"], [0.9, 0.1])
    import onnx

    model = onnx.load(path)
    del model.metadata_props[:]
    onnx.save(model, path)
    with pytest.raises(ModelError, match="classes"):
        StateClassifier(path)
    with pytest.raises(ModelError, match="not found"):
        StateClassifier(tmp_path / "absent.onnx")


@pytest.mark.skipif(
    not STATE_MODEL.is_file(),
    reason="models/state.onnx is not in this checkout (trained on branch state-model)",
)
def test_the_shipped_state_model_keeps_its_contract_and_names_states_surely(reader, crops):
    classifier = StateClassifier(STATE_MODEL)
    assert (classifier.height, classifier.width) == (64, 128)
    assert "CA" in classifier.classes
    reads = reader.with_state_classifier(classifier).read(crops)
    threshold = classifier.sure_threshold or 0.0
    for read in reads:
        assert read.region is None or read.region in classifier.classes
        assert read.region is None or read.region_confidence >= threshold


def test_a_head_sure_of_a_non_us_region_keeps_it_and_an_unsure_one_yields_to_the_classifier(
    reader, tmp_path
):
    from edge.runtime.recognise.reader import NON_US_HEAD_SURE

    classifier = StateClassifier(
        constant_state_model(tmp_path / "ca.onnx", ["CA", "BR"], [0.9, 0.1], 0.5)
    )
    gated = reader.with_state_classifier(classifier).naming(0.3)
    regions = list(reader.regions)

    def head(first: str, confidence: float) -> np.ndarray:
        row = np.full(len(regions), (1.0 - confidence) / (len(regions) - 1))
        row[regions.index(first)] = confidence
        return row[None]

    batch = np.zeros((1, 64, 128, 3), np.uint8)
    sure_br = gated._regions(head("BR", NON_US_HEAD_SURE + 0.1), batch)
    assert sure_br[0][0] == "BR" and sure_br[0][2] == "BR"
    unsure_br = gated._regions(head("BR", NON_US_HEAD_SURE - 0.1), batch)
    assert unsure_br[0][0] == "CA" and unsure_br[0][2] == "CA"
    us_head = gated._regions(head("NV", 0.9), batch)
    assert us_head[0][0] == "CA"
