"""State classifier: the exported contract after a smoke run, the scoring, the sure threshold
and the `alpr-edge eval` rows, on tiny generated sets."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="building test models needs the train extra")
import onnxruntime as ort  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from edge.cli import main  # noqa: E402
from edge.errors import InputError  # noqa: E402
from edge.lab.evaluation.state import (  # noqa: E402
    StateClassifier,
    StateCrop,
    choose_sure_threshold,
    copies_in,
    evaluate_states,
    load_state_split,
    load_us_crops_states,
    score_states,
)

RED, BLUE, PURPLE = (0, 0, 255), (255, 0, 0), (128, 0, 128)  # BGR, as cv2 writes them


def _colour_model(path, threshold: float = 0.6) -> None:
    """A state model that names a crop by its mean colour: red CA, blue NY, never UK."""
    weights = np.array([[0.02, 0, 0], [0, 0, 0], [0, 0.02, 0]], np.float32)  # RGB -> classes
    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["input"], ["pixels"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMean", ["pixels"], ["mean"], axes=[1, 2], keepdims=0),
            helper.make_node("MatMul", ["mean", "weights"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["state"], axis=1),
        ],
        "colour",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, ["batch", 64, 128, 3])],
        [helper.make_tensor_value_info("state", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor("weights", TensorProto.FLOAT, [3, 3], weights.flatten())],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in (("classes", "CA,NY,UK"), ("sure_threshold", str(threshold))):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


# (colour, label): two right reds, a right blue, a blue labelled CA (a sure wrong state) and a
# purple labelled NY (CA and NY alike at 0.46: wrong, and below the threshold).
CROPS = [(RED, "ca"), (RED, "ca"), (BLUE, "ny"), (BLUE, "ca"), (PURPLE, "ny")]


def _write_crops(folder, with_split: bool) -> None:
    folder.mkdir(parents=True)
    lines = ["file,state,split" if with_split else "file,state,plate"]
    for i, (colour, state) in enumerate(CROPS):
        name = f"{i}.png"
        cv2.imwrite(str(folder / name), np.full((50, 110, 3), colour, np.uint8))
        lines.append(f"{name},{state},test" if with_split else f"{name},{state},ABC{i}")
    # The state set's labels.csv ends its lines with CRLF.
    (folder / "labels.csv").write_text("\r\n".join(lines) + "\r\n")


def test_a_state_is_named_only_when_sure_and_wrong_pairs_are_counted(tmp_path):
    _colour_model(tmp_path / "state.onnx")
    _write_crops(tmp_path / "crops", with_split=False)
    classifier = StateClassifier(tmp_path / "state.onnx")
    assert classifier.classes == ("CA", "NY", "UK")
    assert classifier.sure_threshold == 0.6
    assert [code for code, _ in classifier.name([np.full((20, 40, 3), PURPLE, np.uint8)])] == [None]
    figures = evaluate_states(classifier, load_us_crops_states(tmp_path / "crops"), 3)
    assert figures.crops == 5
    assert figures.accuracy == pytest.approx(0.6)
    assert figures.coverage == pytest.approx(0.8)
    assert figures.named_accuracy == pytest.approx(0.75)
    assert figures.sure_accuracy == pytest.approx(0.6)
    assert figures.called_non_us == 0.0
    assert sorted(figures.confusions) == ["CA->NY 1", "NY->CA 1"]
    assert figures.latency_ms_median > 0


def test_a_split_of_the_state_set_holds_only_its_rows(tmp_path):
    folder = tmp_path / "by-state"
    _write_crops(folder, with_split=True)
    with (folder / "labels.csv").open("a") as handle:
        handle.write("0.png,tx,train\r\n")
    assert [c.state for c in load_state_split(folder, "test")] == ["CA", "CA", "NY", "CA", "NY"]
    assert [c.state for c in load_state_split(folder, "train")] == ["TX"]
    assert len(load_state_split(folder, "test", limit=2)) == 2
    with pytest.raises(InputError, match="unknown split"):
        load_state_split(folder, "holdout")


def test_copies_of_a_crop_are_found_by_layout_or_by_plate_text():
    rng = np.random.default_rng(1)
    photo = rng.integers(0, 256, (60, 120, 3), dtype=np.uint8)
    other = rng.integers(0, 256, (60, 120, 3), dtype=np.uint8)
    recompressed = cv2.imdecode(cv2.imencode(".jpg", cv2.resize(photo, (224, 128)))[1], 1)
    crops = [
        StateCrop("copy.png", "CA", photo, "7ABC123"),
        StateCrop("other-state.png", "NY", photo, "7ABC123"),
        StateCrop("same-text.png", "CA", other, "8XYZ999"),
        StateCrop("new.png", "CA", other, "1AAA111"),
    ]
    reference = [StateCrop("a.jpg", "CA", recompressed), StateCrop("b.jpg", "CA", photo[::-1])]
    assert copies_in(crops, reference, ["7ABC123", "8XYZ990"]) == {"copy.png", "same-text.png"}
    assert copies_in(crops, reference) == {"copy.png"}


def test_the_sure_threshold_is_the_lowest_that_keeps_named_states_right():
    classes = ("CA", "NY")
    # Confidence 0.9 and 0.8 right, 0.6 wrong, 0.4 right: from 0.65 on every named one is right.
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.6], [0.6, 0.4]])
    truths = ["CA", "CA", "CA", "CA"]
    assert choose_sure_threshold(truths, probabilities, classes) == 0.65
    assert choose_sure_threshold(["NY"] * 4, probabilities, classes) == 0.95
    figures = score_states(truths, probabilities, classes, 0.65)
    assert (figures.coverage, figures.named_accuracy, figures.accuracy) == (0.5, 1.0, 0.75)


def test_eval_reports_state_rows_when_the_model_exists(tmp_path, monkeypatch, capsys):
    data = tmp_path / "data"
    _write_crops(data / "real" / "us-crops", with_split=False)
    _write_crops(data / "state" / "us-plates-by-state", with_split=True)
    _colour_model(tmp_path / "state.onnx")
    monkeypatch.setenv("ALPR_SHARED_DATA", str(data))
    missing = str(tmp_path / "absent.onnx")
    args = ["eval", "--detector", missing, "--ocr-model", missing, "--latency-runs", "2"]
    assert main([*args, "--state-model", str(tmp_path / "state.onnx"), "--json"]) == 0
    output = capsys.readouterr().out
    figures = json.loads(output[output.index("{") :])
    assert figures["state/us-crops"]["accuracy"] == pytest.approx(0.6)
    assert figures["state/by-state-test"]["coverage"] == pytest.approx(0.8)
    # The state set's train split holds none of these crops: every one is unseen.
    assert figures["state/us-crops unseen"]["crops"] == 5
    assert figures["state/by-state-test unseen"]["crops"] == 5
    assert main([*args, "--state-model", missing]) == 0
    assert "state/" not in capsys.readouterr().out


torch = pytest.importorskip("torch", reason="training needs the train extra (make setup-train)")


def test_smoke_training_exports_a_model_that_keeps_the_contract(tmp_path):
    from edge.lab.train.state import CLASSES

    assert main(["train", "state", "--smoke", "--out", str(tmp_path)]) == 0
    session = ort.InferenceSession(str(tmp_path / "state.onnx"), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert (given.name, given.type, given.shape[1:]) == ("input", "tensor(uint8)", [64, 128, 3])
    assert [o.name for o in session.get_outputs()] == ["state"]
    metadata = session.get_modelmeta().custom_metadata_map
    assert tuple(metadata["classes"].split(",")) == CLASSES
    assert {"UK", "EU", "BR", "CA", "DC", "PR"} <= set(CLASSES)
    assert 0.3 <= float(metadata["sure_threshold"]) <= 0.95
    images = np.random.default_rng(0).integers(0, 256, (3, 64, 128, 3), dtype=np.uint8)
    (probabilities,) = session.run(["state"], {"input": images})
    assert probabilities.shape == (3, len(CLASSES))
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    metrics = json.loads((tmp_path / "state_metrics.json").read_text())
    assert metrics["onnx_max_difference_vs_torch"] < 1e-4
    assert metrics["onnx_bytes"] < 2_000_000


def test_a_full_run_refuses_to_train_without_the_state_set(tmp_path, monkeypatch):
    from edge.lab.train.state import StateTrainConfig, train_state

    monkeypatch.setenv("ALPR_SHARED_DATA", str(tmp_path))
    with pytest.raises(InputError, match="us-plates-by-state not found"):
        train_state(StateTrainConfig(out_dir=tmp_path / "out", minutes=0.1))
