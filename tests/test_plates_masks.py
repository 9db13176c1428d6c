import re
from pathlib import Path

import pytest

from edge.plates.masks import (
    fits_issued_format,
    fits_region_format,
    format_masks,
    is_vanity_mask,
    letter_digit_mask,
    structured_masks,
)

EDGE = Path(__file__).resolve().parents[1] / "edge"


@pytest.mark.parametrize(
    ("text", "code", "mask"),
    [
        ("LS15EBC", "UK", "LLDDLLL"),
        ("RK755AJ", "EU", "LLDDDLL"),
        ("ABC1D23", "BR", "LLLDLDD"),
        ("ABC1234", "BR", "LLLDDDD"),
        ("1234BCD", "EU", "DDDDLLL"),
        ("7A23456", "CA", "DLDDDDD"),
    ],
)
def test_masks_tell_decoders_which_positions_are_letters(text, code, mask):
    assert letter_digit_mask(text, code) == mask
    assert mask in format_masks(code)


def test_california_serial_letters_skip_i_o_q_except_in_the_middle():
    assert letter_digit_mask("7XUP882", "CA") == "DLALDDD"
    # Only a vanity plate (any characters) could read 7IUP882.
    assert letter_digit_mask("7IUP882", "CA") == "AAAAAAA"


def test_us_formats_take_zero_where_the_plate_prints_the_letter_o():
    assert not fits_region_format("7OAB123", "CA") and fits_region_format("70AB123", "CA")


def test_text_that_fits_no_format_is_rejected():
    assert letter_digit_mask("12345678", "CA") is None
    assert not fits_region_format("ABCDEFGH", "UK")
    assert not fits_region_format("", "NY")


def test_counted_tokens_give_one_mask_per_length():
    masks = format_masks("DE")
    assert masks == ["DDD", "DDDD", "DDDDD", "DDDDDD"]


def test_vanity_mask_is_one_with_no_letter_only_or_digit_only_position():
    assert is_vanity_mask("AAAAAAA")
    assert not is_vanity_mask("DLALDDD") and not is_vanity_mask("LLL")


def test_a_text_only_the_vanity_pattern_takes_fits_no_issued_format():
    assert fits_region_format("7IUP882", "CA") and not fits_issued_format("7IUP882", "CA")
    assert fits_issued_format("7XUP882", "CA")
    assert not fits_issued_format("12345678", "CA")


def test_structured_masks_leave_out_only_the_vanity_ones():
    everything = format_masks("CA")
    assert "AAAAAAA" in everything and "AAAAAAA" not in structured_masks("CA")
    assert list(structured_masks("CA")) == [m for m in everything if set(m) != {"A"}]


def test_the_vanity_rule_is_written_once_in_the_masks_module():
    # Every other module asks `is_vanity_mask` (or the helpers built on it); a second copy of
    # the all-'A' test would let the decoder and the tracker disagree on what a vanity plate is.
    rule = re.compile(r"""set\([^)]*\)\s*[!=]=\s*\{\s*["']A["']\s*\}""")
    copies = [
        path.relative_to(EDGE).as_posix()
        for path in EDGE.rglob("*.py")
        if rule.search(path.read_text(encoding="utf-8"))
    ]
    assert copies == ["plates/masks.py"]
