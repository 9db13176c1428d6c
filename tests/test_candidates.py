"""Alternative readings (top-N candidates): from the reader's slots, through the margin vote."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from edge.lab.synth.plates import PlateRenderer
from edge.runtime.recognise import PlateReader
from edge.runtime.recognise.decoding import candidate_readings, decode
from edge.runtime.recognise.margins import agreed_reading
from edge.runtime.types import Candidate, PlateText
from tests.conftest import REPO_ROOT

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_"


def _probabilities(*slots: dict[str, float]) -> np.ndarray:
    table = np.zeros((9, len(ALPHABET)))
    for row, wanted in enumerate([*slots] + [{"_": 1.0}] * (9 - len(slots))):
        rest = (1.0 - sum(wanted.values())) / (len(ALPHABET) - len(wanted))
        table[row] = rest
        for char, p in wanted.items():
            table[row, ALPHABET.index(char)] = p
    return table


def test_candidates_list_the_runner_up_characters_likeliest_first():
    probabilities = _probabilities({"A": 0.9}, {"B": 0.6, "8": 0.39}, {"1": 0.7, "I": 0.29})
    found = candidate_readings(probabilities, ALPHABET, "_", 4)
    assert [c.text for c in found] == ["AB1", "A81", "ABI", "A8I"]
    assert found[0].confidence == pytest.approx(0.9 * 0.6 * 0.7, rel=1e-3)
    assert all(a.confidence >= b.confidence for a, b in itertools.pairwise(found))


def test_a_format_that_steers_the_text_ranks_fitting_candidates_first():
    # California 1ABC234 read IABC234: the digit reading is decoded and listed first.
    probabilities = _probabilities(
        {"I": 0.6, "1": 0.35}, {"A": 0.9}, {"B": 0.9}, {"C": 0.9}, {"2": 0.9}, {"3": 0.9},
        {"4": 0.9},
    )  # fmt: skip
    found = candidate_readings(probabilities, ALPHABET, "_", 3, "CA", 0.9)
    assert found[0].text == decode(probabilities, ALPHABET, "_", "CA", 0.9).text == "1ABC234"
    assert "IABC234" in [c.text for c in found]
    # Unsure of the state, the model's own order stands.
    assert candidate_readings(probabilities, ALPHABET, "_", 1, "CA", 0.2)[0].text == "IABC234"


def test_no_candidates_are_listed_when_none_are_asked_for():
    assert candidate_readings(_probabilities({"A": 0.9}), ALPHABET, "_", 0) == []


def test_the_margin_vote_keeps_the_agreed_text_first_and_averages_the_others():
    readings = [
        PlateText("AB12", 0.5, (), candidates=(Candidate("AB12", 0.5), Candidate("A812", 0.4))),
        PlateText("A812", 0.6, (), candidates=(Candidate("A812", 0.6), Candidate("AB12", 0.3))),
        PlateText("AB12", 0.5, (), candidates=(Candidate("AB12", 0.5), Candidate("AB1", 0.1))),
    ]
    agreed = agreed_reading(readings)
    assert agreed.text == "AB12"
    # As many as the longest list: AB1, listed by one reading only, falls off.
    assert [c.text for c in agreed.candidates] == ["AB12", "A812"]
    assert agreed.candidates[0].confidence == pytest.approx(1.3 / 3)
    assert agreed.candidates[1].confidence == pytest.approx(1.0 / 3)


def test_each_read_lists_its_own_text_first_among_as_many_candidates_as_asked():
    reader = PlateReader(
        REPO_ROOT / "models" / "ocr.onnx", REPO_ROOT / "models/ocr_plate_config.yaml"
    )
    renderer = PlateRenderer(seed=11)
    crops = [renderer.render().image for _ in range(8)]
    for read in reader.with_candidates(5).read(crops):
        assert read.candidates[0].text == read.text
        assert 1 <= len(read.candidates) <= 5
        assert len({c.text for c in read.candidates}) == len(read.candidates)
    assert all(r.candidates == () for r in reader.with_candidates(0).read(crops))
    plain = [r.text for r in reader.with_candidates(0).read(crops)]
    assert plain == [r.text for r in reader.read(crops)]
