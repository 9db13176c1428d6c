"""Plate text as it is stored and compared: one normalisation for every module.

A plate is written with spaces and dashes between its groups and read in any case; the label,
the stored read and the hotlist entry hold none of that: upper case, letters and digits only.
Where the reader cannot tell the letter O from the digit 0 (most US plates print them alike
and label them 0), a comparison may pool the two: `pool_o_zero=True` writes every O as 0.

Query patterns keep their wildcards, so they only lose their separators
(`strip_separators`).
"""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s-]+")


def normalise_plate(text: str, *, pool_o_zero: bool = False) -> str:
    """Upper case without spaces, dashes or anything else that is not a letter or digit; with
    `pool_o_zero`, the letter O written as the digit 0."""
    plate = "".join(ch for ch in text.upper() if ch.isalnum())
    return plate.replace("O", "0") if pool_o_zero else plate


def strip_separators(text: str) -> str:
    """Upper case without whitespace or dashes; every other character is kept (a query's
    `?` and `*` wildcards, or characters a validator should refuse)."""
    return _SEPARATORS.sub("", text).upper()
