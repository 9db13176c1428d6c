from collections import Counter

import numpy as np
import pytest

from edge.synth.designs import DESIGNS
from edge.synth.fonts import all_font_files
from edge.synth.formats import STATES, fits_state_format
from edge.synth.plates import PlateRenderer


def test_same_seed_draws_the_same_plates():
    first, second = PlateRenderer(5), PlateRenderer(5)
    for _ in range(25):
        a, b = first.render(), second.render()
        assert (a.text, a.state) == (b.text, b.state)
        assert np.array_equal(a.image, b.image)


def test_different_seeds_draw_different_plates():
    first, second = PlateRenderer(1), PlateRenderer(2)
    assert [first.render().text for _ in range(5)] != [second.render().text for _ in range(5)]


def test_crops_are_labelled_with_a_valid_serial_of_their_state():
    renderer = PlateRenderer(7)
    seen = Counter()
    for _ in range(400):
        sample = renderer.render()
        assert sample.image.dtype == np.uint8 and sample.image.ndim == 3
        assert sample.image.shape[1] >= 40 and sample.image.shape[0] >= 8
        assert fits_state_format(sample.text, sample.state), sample
        seen[sample.state] += 1
    # California dominates; most states and the UK, EU and Brazil turn up.
    assert seen.most_common(1)[0][0] == "CA"
    assert len(seen) >= 0.8 * len(STATES) and {"UK", "EU", "BR"} <= set(seen)


def test_the_label_is_the_serial_alone_whatever_else_the_plate_prints():
    renderer = PlateRenderer(11)
    for design in DESIGNS:
        flat = renderer.draw_plate(state=design.state)
        assert flat.text.isalnum() and flat.text.upper() == flat.text
        assert fits_state_format(flat.text, flat.state)


def test_a_given_text_is_printed_and_labelled_as_given():
    flat = PlateRenderer(3).draw_plate(state="CA", text="7XUP882")
    assert (flat.text, flat.state) == ("7XUP882", "CA")
    assert flat.image.shape == (128, 256, 3)


def test_states_restrict_what_is_drawn():
    renderer = PlateRenderer(4, states=("uk", "BR"))
    assert {renderer.render().state for _ in range(60)} == {"UK", "BR"}


def test_negatives_carry_no_label():
    renderer = PlateRenderer(9, negative_rate=1.0)
    sample = renderer.render()
    assert (sample.text, sample.state) == ("", "")
    assert sample.image.size > 0


def test_bad_arguments_are_rejected_with_the_reason():
    with pytest.raises(ValueError, match="unknown state 'ZZ'"):
        PlateRenderer(0, states=("ZZ",))
    with pytest.raises(ValueError, match="negative_rate"):
        PlateRenderer(0, negative_rate=1.5)


def test_every_font_the_renderer_names_is_installed():
    # A missing font changes what a seed draws (and so the sample clip): say which, and how
    # to install it, rather than fail later on a pixel comparison.
    missing = [path for path in all_font_files() if not path.is_file()]
    assert not missing, f"missing fonts {missing}: run `make system-deps` (Makefile APT_PACKAGES)"
