"""Which positions of a plate text hold letters and which digits, and whether a text fits.

Decoders and the tracker ask which positions hold letters or digits: `letter_digit_mask(text,
code)` for a read, `format_masks(code)` for every mask the region issues. A mask has one
character per position: 'L' letter, 'D' digit, 'A' either.

The vanity rule lives here, once: a vanity plate's pattern takes any letter or digit anywhere,
so its mask is all 'A' and says nothing about which glyph a position holds. A text that fits
only such a pattern fits no *issued* (structured) format, and decoding must not steer it.
"""

from __future__ import annotations

import itertools
import re
from functools import cache

from edge.plates.regions import region

# One compiled format: the regex (one group per class token) and the mask kind of each group.
_Compiled = tuple[re.Pattern[str], tuple[str, ...]]


@cache
def _compiled(code: str) -> tuple[_Compiled, ...]:
    reg = region(code)
    compiled = []
    for fmt in reg.formats:
        parts, kinds = [], []
        for cls, low, high in fmt.tokens():
            if cls == " ":
                continue
            chars = reg.charset(cls)
            parts.append(f"([{re.escape(chars)}]{{{low},{high}}})")
            has_letter = any(c.isalpha() for c in chars)
            has_digit = any(c.isdigit() for c in chars)
            kinds.append("A" if has_letter and has_digit else "L" if has_letter else "D")
        compiled.append((re.compile("".join(parts)), tuple(kinds)))
    return tuple(compiled)


def letter_digit_mask(text: str, code: str) -> str | None:
    """Per position of `text`: 'L' letter, 'D' digit, 'A' either; None if no format fits.

    The first fitting format wins, so a standard serial is described by its standard format
    rather than by the region's vanity pattern.
    """
    for regex, kinds in _compiled(region(code).code):
        match = regex.fullmatch(text)
        if match:
            mask = [""] * len(text)
            for index, kind in enumerate(kinds, start=1):
                start, end = match.span(index)
                mask[start:end] = kind * (end - start)
            return "".join(mask)
    return None


def fits_region_format(text: str, code: str) -> bool:
    """Whether `text` (a label, no separators) is a serial the region could issue, vanity
    plates included."""
    return letter_digit_mask(text, code) is not None


def format_masks(code: str) -> list[str]:
    """Every letter/digit mask the region's formats produce, e.g. 'DLALDDD' for California."""
    masks: list[str] = []
    for regex, kinds in _compiled(region(code).code):
        counts = [
            range(int(low), int(high) + 1)
            for low, high in re.findall(r"\{(\d+),(\d+)\}", regex.pattern)
        ]
        for lengths in itertools.product(*counts):
            mask = "".join(kind * n for kind, n in zip(kinds, lengths, strict=True))
            if mask and mask not in masks:
                masks.append(mask)
    return masks


def is_vanity_mask(mask: str) -> bool:
    """The vanity rule: a mask with no letter-only or digit-only position (all 'A') is the
    anything-goes vanity pattern, which tells nothing about the characters."""
    return set(mask) == {"A"}


def fits_issued_format(text: str, code: str) -> bool:
    """Whether `text` fits one of the region's structured serial formats, not merely the
    anything-goes vanity pattern."""
    mask = letter_digit_mask(text, code)
    return mask is not None and not is_vanity_mask(mask)


def structured_masks(code: str) -> tuple[str, ...]:
    """The region's letter/digit masks without the vanity ones (see `is_vanity_mask`)."""
    return tuple(m for m in format_masks(code) if not is_vanity_mask(m))
