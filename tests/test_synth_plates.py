from collections import Counter

import cv2
import numpy as np
import pytest

from edge.lab.synth import paint
from edge.lab.synth.designs import DESIGNS, PALETTE, load_designs
from edge.lab.synth.fonts import all_font_files, fonts, text_mask
from edge.lab.synth.glyphs import (
    box_eight,
    box_o,
    box_q,
    die_shapes,
    glyph_mask,
    narrow_q,
    narrow_w,
    plain_one,
    serifed_i,
    shallow_m,
    short_middle_w,
)
from edge.lab.synth.layouts import LAYOUTS
from edge.lab.synth.plates import SEPARATOR_WIDTH, PlateRenderer
from edge.plates.masks import fits_region_format
from edge.plates.regions import REGION_CODES


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
        assert fits_region_format(sample.text, sample.state), sample
        seen[sample.state] += 1
    # California dominates; most states and the UK, EU and Brazil turn up.
    assert seen.most_common(1)[0][0] == "CA"
    assert len(seen) >= 0.8 * len(REGION_CODES) and {"UK", "EU", "BR"} <= set(seen)


def test_the_label_is_the_serial_alone_whatever_else_the_plate_prints():
    renderer = PlateRenderer(11)
    for design in DESIGNS:
        flat = renderer.draw_plate(state=design.state)
        assert flat.text.isalnum() and flat.text.upper() == flat.text
        assert fits_region_format(flat.text, flat.state)


def test_a_given_text_is_printed_and_labelled_as_given():
    flat = PlateRenderer(3).draw_plate(state="CA", text="7XUP882")
    assert (flat.text, flat.state) == ("7XUP882", "CA")
    assert flat.image.shape == (128, 256, 3)


@pytest.mark.parametrize(
    ("state", "size"),
    [("CA", (256, 128)), ("UK", (420, 92)), ("EU", (420, 92)), ("BR", (312, 100))],
)
def test_each_plate_family_draws_faces_in_its_proportions(state, size):
    renderer = PlateRenderer(12)
    for _ in range(4):
        flat = renderer.draw_plate(state=state)
        assert flat.image.shape == (size[1], size[0], 3)


def test_every_design_names_only_families_and_marks_the_renderer_draws():
    # A typo in designs.toml would otherwise surface only when a seed first draws that design.
    assert {design.layout for design in DESIGNS} == set(LAYOUTS)
    for design in DESIGNS:
        assert {name for name, _ in design.scenery} <= set(paint.SCENERY), design.name
        assert set(design.separators) <= set(SEPARATOR_WIDTH), design.name
        assert design.logo in paint.LOGOS, design.name


def test_designs_read_colours_by_palette_name_or_as_bgr():
    (design,) = load_designs(
        '[[design]]\nname = "x"\nstate = "CA"\nink = "navy"\nkinds = ["standard"]\n'
        'background = ["white", [1, 2, 3]]\nscenery = [["sun", [4, 5, 6]]]\n'
    )
    assert design.ink == PALETTE["navy"] and design.kinds == ("standard",)
    assert design.background == (PALETTE["white"], (1, 2, 3))
    assert design.scenery == (("sun", (4, 5, 6)),)


@pytest.mark.parametrize(
    ("table", "reason"),
    [
        ('headr = "X"', r"design 'x': unknown keys \['headr'\]"),
        ('ink = "mauve"', r"design 'x': unknown colour 'mauve'"),
    ],
)
def test_a_design_with_a_mistake_is_rejected_naming_the_design(table, reason):
    with pytest.raises(ValueError, match=reason):
        load_designs(f'[[design]]\nname = "x"\nstate = "CA"\n{table}\n')


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


def test_us_dies_print_a_serifed_i_that_no_sans_serif_font_draws():
    font = fonts("serial")[0]
    plain, serifed = text_mask("I", font), serifed_i(font)
    assert serifed.shape[0] == plain.shape[0] and serifed.shape[1] > 2 * plain.shape[1]
    # Serifs: ink across the whole width at the top and the bottom, a lone stem in between.
    assert serifed[0].min() == 1.0 and serifed[-1].min() == 1.0
    middle = serifed[serifed.shape[0] // 2]
    assert middle[0] == 0.0 and middle[-1] == 0.0 and middle.max() > 0.9


def test_brazilian_grey_plates_print_a_flagless_one_and_a_wide_box_o():
    font = fonts("serial")[0]
    assert np.array_equal(plain_one(font), text_mask("I", font))
    o = box_o(font)
    assert o.shape[1] > text_mask("0", font).shape[1]
    # A hollow box with straight sides: ink down both edges from a quarter to three quarters of
    # the height, none in the middle.
    for row in o[o.shape[0] // 4 : 3 * o.shape[0] // 4]:
        assert row[0] > 0.9 and row[-1] > 0.9 and row[o.shape[1] // 2] == 0.0


def test_die_shapes_belong_to_their_layout_and_follow_the_serial():
    assert die_shapes("uk", "AB12CDE") == {}
    us = [die_shapes("us", f"{n}ABC123") for n in range(200)]
    assert {char for shapes in us for char in shapes} == {"I", "1", "4", "M", "W", "8", "Q"}
    assert 0.85 < sum("I" in s for s in us) / len(us) < 1
    assert die_shapes("us", "7XUP882") == die_shapes("us", "7XUP882")


def test_european_dies_print_an_m_whose_vertex_stops_near_half_height():
    m = shallow_m(fonts("serial")[0])
    column = m[:, m.shape[1] // 2]
    ink_rows = np.flatnonzero(column > 0.5)
    assert 0.4 * len(column) < ink_rows.max() < 0.75 * len(column)


def test_short_middle_w_keeps_its_middle_apex_well_below_the_top():
    w = short_middle_w(fonts("serial")[0])
    column = w[:, w.shape[1] // 2]
    ink_rows = np.flatnonzero(column > 0.5)
    assert 0.3 * len(column) < ink_rows.min() < 0.5 * len(column)
    assert w[-2].max() > 0.5  # the two V points reach the baseline


def _counters(mask: np.ndarray) -> int:
    """Enclosed holes of a glyph: background regions that do not touch the border."""
    background = np.pad((mask < 0.5).astype(np.uint8), 1, constant_values=1)
    return cv2.connectedComponents(background, connectivity=4)[0] - 2  # minus ink, outside


def test_us_dies_print_an_eight_of_two_boxes_and_a_q_with_a_tail():
    for font in fonts("serial"):
        assert _counters(box_eight(font)) == 2
        q, zero = narrow_q(font), text_mask("0", font)
        assert q.shape == zero.shape and q[-1, -1] > 0.5 and zero[-1, -1] < 0.5
        assert box_q(font)[-1, -1] > 0.5 and _counters(box_q(font)) >= 1


def test_us_dies_print_a_narrow_w_with_its_middle_apex_at_the_top():
    font = fonts("serial")[0]
    w = narrow_w(font)
    assert w.shape[1] < text_mask("W", font).shape[1]
    assert w[: w.shape[0] // 8, w.shape[1] // 2].max() > 0.5


def test_a_plate_prints_its_die_shape_where_the_font_would_print_its_own():
    font = fonts("serial")[0]
    assert glyph_mask("I", font, {"I": serifed_i}) is serifed_i(font)
    assert np.array_equal(glyph_mask("I", font, {}), text_mask("I", font))


def test_a_renderer_can_draw_a_set_share_of_its_plates_from_outside_the_us():
    from edge.plates.regions import US, region

    def outside(renderer):
        plates = [renderer.draw_plate() for _ in range(600)]
        return sum(region(p.state).country != US for p in plates) / len(plates)

    assert outside(PlateRenderer(3)) < 0.1
    assert 0.33 < outside(PlateRenderer(3, outside_us_share=0.4)) < 0.47
    with pytest.raises(ValueError, match="outside_us_share"):
        PlateRenderer(3, outside_us_share=1.0)
