import random

import pytest

from edge.lab.synth.formats import random_groups, random_serial
from edge.plates.masks import fits_region_format, letter_digit_mask
from edge.plates.regions import REGION_CODES, REGIONS, US_STATES, region


@pytest.mark.parametrize("code", REGION_CODES)
def test_every_format_generator_yields_only_valid_serials(code):
    rng = random.Random(code)
    for fmt in REGIONS[code].formats:
        for _ in range(300):
            serial = random_serial(code, rng, kind=fmt.kind)
            assert fits_region_format(serial, code), (code, fmt.pattern, serial)
            mask = letter_digit_mask(serial, code)
            assert mask is not None and len(mask) == len(serial)
            for char, kind in zip(serial, mask, strict=True):
                assert kind == "A" or (kind == "L") == char.isalpha(), (serial, mask)


def test_us_labels_write_the_letter_o_as_zero():
    rng = random.Random(1)
    serials = [random_serial(state, rng) for state in US_STATES for _ in range(400)]
    assert not any("O" in serial for serial in serials)


def test_vanity_plates_may_use_letters_the_serials_skip():
    rng = random.Random(4)
    vanity = "".join(random_serial("CA", rng, kind="vanity") for _ in range(500))
    assert "I" in vanity and "O" not in vanity  # O is still written as 0


def test_california_never_draws_i_o_q_in_the_first_or_third_letter():
    rng = random.Random(2)
    middles = set()
    for _ in range(3000):
        serial = random_serial("CA", rng, kind="standard")
        assert serial[1] not in "IOQ0" and serial[3] not in "IOQ0", serial
        middles.add(serial[2])
    # The middle letter may be any letter (O written as 0).
    assert {"I", "Q", "0"} <= middles


@pytest.mark.parametrize(("code", "banned"), [("TX", "IOQU"), ("MD", "IOQU"), ("UK", "IQ")])
def test_regions_that_skip_letters_never_issue_them(code, banned):
    rng = random.Random(code)
    kinds = [f.kind for f in region(code).formats if f.kind != "vanity"]
    for _ in range(1000):
        serial = random_serial(code, rng, kind=random.Random(_).choice(kinds))
        assert not set(serial) & set(banned), serial


def test_groups_join_to_the_label_and_split_where_the_plate_prints_a_gap():
    rng = random.Random(3)
    groups = random_groups("UK", rng)
    assert len(groups) == 2 and len(groups[0]) == 4 and len(groups[1]) == 3


def test_unknown_region_or_kind_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown state 'ZZ'.*CA"):
        random_serial("ZZ", random.Random(0))
    with pytest.raises(ValueError, match="issues no"):
        random_serial("WA", random.Random(0), kind="vanity")
