"""PlateReader: the shipped OCR model read through fast-plate-ocr, and its failure modes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from edge.errors import InputError, ModelError
from edge.lab.evaluation.ocr import edit_distance, evaluate_us_crops
from edge.lab.synth.plates import PlateRenderer
from edge.plates.text import normalise_plate
from edge.runtime.recognise import PlateReader
from edge.runtime.recognise.decoding import decode, greedy
from edge.runtime.recognise.margins import agreed_reading, crop_view, read_boxes, read_plate_crops
from edge.runtime.types import Box, PlateText
from tests.conftest import REPO_ROOT

MODEL = REPO_ROOT / "models" / "ocr.onnx"
CONFIG = REPO_ROOT / "models" / "ocr_plate_config.yaml"
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"


@pytest.fixture(scope="module")
def reader() -> PlateReader:
    return PlateReader(MODEL, CONFIG)


@pytest.fixture(scope="module")
def plates() -> list:
    renderer = PlateRenderer(seed=7)
    return [renderer.render() for _ in range(40)]


def test_reader_reads_synthetic_plates_and_names_their_state(reader, plates):
    reads = reader.read([p.image for p in plates])
    assert len(reads) == len(plates)
    exact = sum(
        normalise_plate(r.text, pool_o_zero=True) == normalise_plate(p.text, pool_o_zero=True)
        for r, p in zip(reads, plates, strict=True)
    )
    states = sum(r.region == p.state for r, p in zip(reads, plates, strict=True))
    assert exact >= 0.7 * len(plates)
    assert states >= 0.7 * len(plates)
    for read in reads:
        assert len(read.char_confidences) == len(read.text)
        assert all(0.0 <= c <= 1.0 for c in read.char_confidences)
        assert 0.0 <= read.confidence <= 1.0
        assert read.region in reader.regions
        assert 0.0 < read.region_confidence <= 1.0


def test_a_batch_reads_like_single_crops_in_order(reader, plates):
    batch = reader.read([p.image for p in plates[:5]])
    singles = [reader.read([p.image])[0] for p in plates[:5]]
    assert [r.text for r in batch] == [r.text for r in singles]
    assert [r.region for r in batch] == [r.region for r in singles]


def test_grayscale_crops_are_read_too(reader, plates):
    grey = plates[0].image.mean(axis=2).astype(np.uint8)
    assert len(reader.read([grey])) == 1


def test_a_unit_told_its_region_names_only_states_there(reader, plates):
    us_plates = [p.image for p in plates if p.state not in ("UK", "EU", "BR")]
    told_brazil = reader.expecting(["BR"]).read(us_plates)
    assert {read.region for read in told_brazil} == {"BR"}
    told_us = reader.expecting(["US", "UK"]).read([p.image for p in plates])
    assert all(read.region not in ("EU", "BR") for read in told_us)
    assert any(read.region != "BR" for read in reader.read(us_plates))  # the original is untold
    with pytest.raises(InputError, match="unknown region 'MARS'"):
        reader.expecting(["MARS"])


def test_no_crops_gives_no_reads(reader):
    assert reader.read([]) == []


def test_an_empty_crop_is_refused_with_its_index(reader, plates):
    with pytest.raises(InputError, match="crop 1"):
        reader.read([plates[0].image, np.zeros((0, 10, 3), np.uint8)])


def test_a_missing_model_file_is_named(tmp_path):
    missing = tmp_path / "nowhere.onnx"
    with pytest.raises(ModelError, match=r"nowhere\.onnx.*not found"):
        PlateReader(missing, CONFIG)


def test_a_missing_plate_config_is_named(tmp_path):
    with pytest.raises(ModelError, match=r"absent\.yaml.*not found"):
        PlateReader(MODEL, tmp_path / "absent.yaml")


def test_a_corrupt_model_file_is_named(tmp_path):
    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(MODEL.read_bytes()[:5000])
    with pytest.raises(ModelError, match=r"corrupt\.onnx.*cannot load"):
        PlateReader(corrupt, CONFIG)


def test_a_plate_config_that_is_not_yaml_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("max_plate_slots: [unclosed\n")
    with pytest.raises(ModelError, match=r"bad\.yaml.*not a valid"):
        PlateReader(MODEL, bad)


def _config_with(tmp_path: Path, **changes) -> Path:
    document = yaml.safe_load(CONFIG.read_text())
    document.update(changes)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"max_plate_slots": 7}, "plate output"),
        ({"img_height": 70}, "input is"),
        ({"image_color_mode": "grayscale"}, "input is"),
        ({"plate_regions": ["CA", "NV"]}, "region output"),
        ({"pad_char": "#"}, "pad_char"),
    ],
)
def test_a_plate_config_that_does_not_match_the_model_is_refused(tmp_path, changes, reason):
    with pytest.raises(ModelError, match=reason):
        PlateReader(MODEL, _config_with(tmp_path, **changes))


def test_a_model_and_config_copied_elsewhere_still_load(tmp_path):
    shutil.copy(MODEL, tmp_path / "m.onnx")
    shutil.copy(CONFIG, tmp_path / "m.yaml")
    assert PlateReader(tmp_path / "m.onnx", tmp_path / "m.yaml").regions


def test_an_unknown_hub_model_is_refused_without_the_network():
    with pytest.raises(ModelError, match="unknown hub model"):
        PlateReader.from_hub("no-such-model")


def _probabilities(*slots: dict[str, float]) -> np.ndarray:
    """One row per slot; characters not named share what is left, pad fills unnamed slots."""
    table = np.zeros((9, len(ALPHABET)))
    for row, wanted in enumerate([*slots] + [{"_": 1.0}] * (9 - len(slots))):
        rest = (1.0 - sum(wanted.values())) / (len(ALPHABET) - len(wanted))
        table[row] = rest
        for char, p in wanted.items():
            table[row, ALPHABET.index(char)] = p
    return table


def test_a_states_format_settles_a_look_alike():
    # California 1ABC234: the model leans to I in the first slot, which only holds a digit.
    probabilities = _probabilities(
        {"I": 0.6, "1": 0.35}, {"A": 0.9}, {"B": 0.9}, {"C": 0.9}, {"2": 0.9}, {"3": 0.9},
        {"4": 0.9},
    )  # fmt: skip
    assert greedy(probabilities, ALPHABET, "_").text == "IABC234"
    assert decode(probabilities, ALPHABET, "_", "CA", 0.9).text == "1ABC234"
    # An unsure state does not steer the text.
    assert decode(probabilities, ALPHABET, "_", "CA", 0.2).text == "IABC234"


def test_a_vanity_plate_keeps_its_greedy_reading():
    probabilities = _probabilities({"G": 0.9}, {"0": 0.9}, {"B": 0.9}, {"E": 0.9}, {"A": 0.9})
    decoded = decode(probabilities, ALPHABET, "_", "CA", 0.95)
    assert decoded.text == "G0BEA"
    assert len(decoded.char_confidences) == 5


def test_edit_distance_counts_inserted_deleted_and_changed_characters():
    assert edit_distance("ABC123", "ABC123") == 0
    assert edit_distance("ABC123", "AB123") == 1
    assert edit_distance("", "AB") == 2


def test_us_crops_evaluation_reports_every_figure(reader, shared_data):
    evaluation = evaluate_us_crops(reader, shared_data("real", "us-crops"), latency_runs=20)
    assert evaluation.crops == 356
    assert 0.5 < evaluation.exact <= evaluation.char_accuracy <= 1.0
    assert 0.5 < evaluation.exact_as_given <= 1.0
    assert 0.0 < evaluation.state_accuracy <= 1.0
    assert 0.0 < evaluation.latency_ms_median < 50
    assert 0.0 < evaluation.latency_ms_per_plate_median < 100
    assert 0.0 < evaluation.latency_ms_per_plate_mean < 100
    assert len(evaluation.misreads) == round(356 * (1 - evaluation.exact))


def test_a_brazilian_read_is_forced_into_a_brazilian_format_however_sure_the_model_is():
    # Grey plate OUM7311: the flagless 1s read as I with near certainty; Brazil prints no plate
    # outside its two formats, so the digits win. A US state would keep such a sure read.
    probabilities = _probabilities(
        {"O": 0.9}, {"U": 0.9}, {"M": 0.9}, {"7": 0.9}, {"3": 0.9}, {"I": 0.99, "1": 0.005},
        {"I": 0.99, "1": 0.005},
    )  # fmt: skip
    assert decode(probabilities, ALPHABET, "_", "BR", 0.9).text == "OUM7311"
    assert decode(probabilities, ALPHABET, "_", "TN", 0.9).text == "OUM73II"


def test_a_round_glyph_read_as_zero_is_the_letter_o_where_the_format_asks_for_a_letter():
    # Grey plate OKV8004: the model learnt O and 0 as one glyph (US labels write 0), so it puts
    # the first character's weight on 0; Brazil's formats need a letter there, and that weight
    # is the letter O's, not D's.
    probabilities = _probabilities(
        {"0": 0.85, "D": 0.1, "O": 0.02}, {"K": 0.9}, {"V": 0.9}, {"8": 0.9}, {"0": 0.9},
        {"O": 0.6, "0": 0.3}, {"4": 0.9},
    )  # fmt: skip
    decoded = decode(probabilities, ALPHABET, "_", "BR", 0.9)
    assert decoded.text == "OKV8004"
    assert decoded.char_confidences[0] == pytest.approx(0.87)


def test_a_us_letter_slot_does_not_take_a_zero_for_the_letter_o():
    # Maine 8348KQ: US serials print no O, so a round glyph in a letter slot is the Q behind it.
    probabilities = _probabilities(
        {"8": 0.9}, {"3": 0.9}, {"4": 0.9}, {"8": 0.9}, {"K": 0.9}, {"0": 0.7, "Q": 0.2, "O": 0.05},
    )  # fmt: skip
    assert decode(probabilities, ALPHABET, "_", "ME", 0.9).text == "8348KQ"


def test_crops_that_agree_outvote_one_more_confident_crop():
    readings = [
        PlateText("AB1234", 0.5, ()),
        PlateText("AB123", 0.8, ()),  # the tight cut lost the last character
        PlateText("AB1234", 0.45, ()),
    ]
    assert agreed_reading(readings) is readings[0]


def test_each_box_gets_one_agreed_reading_in_box_order(reader):
    renderer = PlateRenderer(seed=3)
    flat = [renderer.draw_plate("CA", "7ABC123"), renderer.draw_plate("TX", "KLM4821")]
    frame = np.full((400, 900, 3), 90, np.uint8)
    boxes = []
    for plate, x in zip(flat, (60, 480), strict=True):
        h, w = plate.image.shape[:2]
        frame[100 : 100 + h, x : x + w] = plate.image
        inset = round(w * 0.03)  # as tight as the detector's boxes run
        boxes.append(Box(x + inset, 100, w - 2 * inset, h))
    reads = read_boxes(reader, frame, boxes, (0.0, 0.06, 0.1))
    assert [r.text for r in reads] == ["7ABC123", "KLM4821"]
    assert read_boxes(reader, frame, [], (0.06,)) == []


def test_a_crop_view_pads_with_edge_pixels_and_trims_symmetrically():
    crop = np.arange(20 * 40 * 3, dtype=np.uint32).reshape(20, 40, 3).astype(np.uint8)
    padded = crop_view(crop, (0.1, 0.1))
    assert padded.shape == (24, 48, 3)
    assert (padded[2:22, 4:44] == crop).all()
    assert (padded[0, 4:44] == crop[0]).all()  # repeated edge row, not black
    trimmed = crop_view(crop, (0.0, -0.1))
    assert trimmed.shape == (16, 40, 3)
    assert (trimmed == crop[2:18]).all()
    assert crop_view(crop, (0.0, 0.0)) is crop
    assert crop_view(np.zeros((3, 3, 3), np.uint8), (-0.25, -0.25)).shape == (3, 3, 3)


def test_whole_plate_crops_get_one_agreed_reading_each_in_order(reader):
    renderer = PlateRenderer(seed=3)
    crops = [renderer.draw_plate("CA", "7ABC123").image, renderer.draw_plate("TX", "KLM4821").image]
    views = ((0.0, 0.0), (0.08, 0.1), (0.0, -0.1))
    reads = read_plate_crops(reader, crops, views)
    assert [r.text for r in reads] == ["7ABC123", "KLM4821"]
    assert read_plate_crops(reader, [], views) == []
    with pytest.raises(ValueError, match="view"):
        read_plate_crops(reader, crops, ())


class CountingReader:
    """The real reader, counting the crops it is given."""

    def __init__(self, reader: PlateReader) -> None:
        self.reader, self.crops_read = reader, 0

    def read(self, crops):
        self.crops_read += len(crops)
        return self.reader.read(crops)


def test_a_crop_read_surely_as_given_is_not_read_in_the_other_views(reader):
    crop = PlateRenderer(seed=3).draw_plate("CA", "7ABC123").image
    views = ((0.0, 0.0), (0.08, 0.1), (0.0, -0.1))
    (as_given,) = reader.read([crop])
    counting = CountingReader(reader)
    (sure,) = read_plate_crops(counting, [crop], views, sure_confidence=as_given.confidence)
    assert (sure.text, counting.crops_read) == ("7ABC123", 1)
    counting.crops_read = 0
    read_plate_crops(counting, [crop], views, sure_confidence=1.0)
    assert counting.crops_read == 3


def test_a_reading_shorter_than_any_plate_is_reported_unread(reader, plates):
    from edge.config import OcrConfig

    # The left third of a plate reads as a stray character or two, as a sign's letter does.
    crops = [p.image[:, : p.image.shape[1] * f // 10] for p in plates[:12] for f in (3, 4)]
    everything = reader.configured(OcrConfig(min_characters=1)).read(crops)
    floored = reader.configured(OcrConfig(min_characters=3)).read(crops)
    short = [i for i, r in enumerate(everything) if 0 < len(r.text) < 3]
    assert short, "no crop read short: the test needs one"
    for i, (kept, read) in enumerate(zip(everything, floored, strict=True)):
        if i in short:
            assert (read.text, read.confidence, read.candidates) == ("", 0.0, ())
            assert read.char_confidences == ()
        else:
            assert read.text == kept.text


def test_the_default_floor_keeps_the_shortest_serial_any_region_issues():
    from edge.config import OcrConfig
    from edge.plates.masks import format_masks
    from edge.plates.regions import REGIONS

    shortest = min(len(mask) for code in REGIONS for mask in format_masks(code))
    assert OcrConfig().min_characters == shortest == 2
