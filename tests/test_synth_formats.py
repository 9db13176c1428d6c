import random

import pytest

from edge.synth.formats import (
    REGIONS,
    STATES,
    US_STATES,
    fits_state_format,
    format_masks,
    letter_digit_mask,
    random_groups,
    random_serial,
    region,
)


@pytest.mark.parametrize("state", STATES)
def test_every_format_generator_yields_only_valid_serials(state):
    rng = random.Random(state)
    for fmt in REGIONS[state].formats:
        for _ in range(300):
            serial = random_serial(state, rng, kind=fmt.kind)
            assert fits_state_format(serial, state), (state, fmt.pattern, serial)
            mask = letter_digit_mask(serial, state)
            assert mask is not None and len(mask) == len(serial)
            for char, kind in zip(serial, mask, strict=True):
                assert kind == "A" or (kind == "L") == char.isalpha(), (serial, mask)


def test_us_labels_write_the_letter_o_as_zero():
    rng = random.Random(1)
    serials = [random_serial(state, rng) for state in US_STATES for _ in range(400)]
    assert not any("O" in serial for serial in serials)
    assert not fits_state_format("7OAB123", "CA") and fits_state_format("70AB123", "CA")


def test_vanity_plates_may_use_letters_the_serials_skip():
    rng = random.Random(4)
    vanity = "".join(random_serial("CA", rng, kind="vanity") for _ in range(500))
    assert "I" in vanity and "O" not in vanity  # O is still written as 0


def test_california_never_uses_i_o_q_in_the_first_or_third_letter():
    rng = random.Random(2)
    middles = set()
    for _ in range(3000):
        serial = random_serial("CA", rng, kind="standard")
        assert serial[1] not in "IOQ0" and serial[3] not in "IOQ0", serial
        middles.add(serial[2])
    # The middle letter may be any letter (O written as 0).
    assert {"I", "Q", "0"} <= middles
    assert letter_digit_mask("7XUP882", "CA") == "DLALDDD"
    # Only a vanity plate (any characters) could read 7IUP882.
    assert letter_digit_mask("7IUP882", "CA") == "AAAAAAA"


@pytest.mark.parametrize(("state", "banned"), [("TX", "IOQU"), ("MD", "IOQU"), ("UK", "IQ")])
def test_states_that_skip_letters_never_issue_them(state, banned):
    rng = random.Random(state)
    kinds = [f.kind for f in region(state).formats if f.kind != "vanity"]
    for _ in range(1000):
        serial = random_serial(state, rng, kind=random.Random(_).choice(kinds))
        assert not set(serial) & set(banned), serial


@pytest.mark.parametrize(
    ("text", "state", "mask"),
    [
        ("LS15EBC", "UK", "LLDDLLL"),
        ("RK755AJ", "EU", "LLDDDLL"),
        ("ABC1D23", "BR", "LLLDLDD"),
        ("ABC1234", "BR", "LLLDDDD"),
        ("1234BCD", "EU", "DDDDLLL"),
        ("7A23456", "CA", "DLDDDDD"),
    ],
)
def test_masks_tell_decoders_which_positions_are_letters(text, state, mask):
    assert letter_digit_mask(text, state) == mask
    assert mask in format_masks(state)


def test_text_that_fits_no_format_is_rejected():
    assert letter_digit_mask("12345678", "CA") is None
    assert not fits_state_format("ABCDEFGH", "UK")
    assert not fits_state_format("", "NY")


def test_groups_join_to_the_label_and_split_where_the_plate_prints_a_gap():
    rng = random.Random(3)
    groups = random_groups("UK", rng)
    assert len(groups) == 2 and len(groups[0]) == 4 and len(groups[1]) == 3


def test_unknown_state_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown state 'ZZ'.*CA"):
        random_serial("ZZ", random.Random(0))
    with pytest.raises(ValueError, match="issues no"):
        random_serial("WA", random.Random(0), kind="vanity")
