"""Characters OCR mistakes for one another, and how far apart two texts are through them.

OCR confuses some characters more than any others. The hotlist lets a read differ from a
listed plate in a few positions provided each differing pair is in one group of this table,
and the tracker tries these swaps to fit a read into its region's serial format:

| group | characters |
|---|---|
| round | 0 O D Q |
| stroke | 1 I L |
| eight | 8 B |
| five | 5 S |
| two | 2 Z |

Any other difference, or a different length, is no confusion.
"""

from __future__ import annotations

CONFUSION_GROUPS: tuple[str, ...] = ("0ODQ", "1IL", "8B", "5S", "2Z")
# Each character of a group stands for its group by the group's first character.
_CANONICAL = {char: group[0] for group in CONFUSION_GROUPS for char in group}


def confusion_key(text: str) -> str:
    """The text with every character replaced by its group's first one: texts that differ
    only within confusion groups share a key."""
    return "".join(_CANONICAL.get(ch, ch) for ch in text)


def confusable_with(char: str) -> list[str]:
    """The other characters of `char`'s confusion group (none when it is in no group)."""
    return [c for group in CONFUSION_GROUPS if char in group for c in group if c != char]


def confusion_distance(read: str, listed: str) -> int | None:
    """Positions that differ, each within one confusion group; None if any other difference."""
    if len(read) != len(listed):
        return None
    distance = 0
    for a, b in zip(read, listed, strict=True):
        if a == b:
            continue
        if _CANONICAL.get(a, a) != _CANONICAL.get(b, b):
            return None
        distance += 1
    return distance
