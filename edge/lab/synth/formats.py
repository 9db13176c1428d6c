"""Random serials for synthetic plates, drawn from the issuing regions' formats.

What a serial may be (the regions, their formats and letter rules) is `edge.plates.regions`;
this module only draws from it: a weighted random format, random characters of each class,
and for vanity plates words made of the syllables owners like.
"""

from __future__ import annotations

import random
from collections.abc import Collection

from edge.plates.regions import Region, region

_SYLLABLES = (
    "LUV",
    "GO",
    "BIG",
    "SUN",
    "SURF",
    "CAT",
    "DOG",
    "MAX",
    "RUN",
    "ZEN",
    "JOY",
    "FUN",
    "TOY",
    "CAL",
    "LA",
    "SF",
    "BAY",
    "HI",
    "YO",
    "KID",
    "VAN",
    "ROCK",
    "STAR",
    "FLY",
    "EV",
    "TESLA",
    "ZOOM",
    "WOW",
    "MOM",
    "DAD",
    "4U",
    "2",
    "8",
    "GR8",
    "NO1",
    "XO",
    "ACE",
    "MR",
    "MS",
    "DR",
)


def _vanity(rng: random.Random, reg: Region, low: int, high: int) -> str:
    allowed = set(reg.charset("X"))
    for _ in range(20):
        words = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((1, 2, 2, 3))))
        text = "".join(c for c in words if c in allowed)
        if low <= len(text) <= high:
            return text
    return "".join(rng.choice(reg.charset("X")) for _ in range(rng.randint(low, high)))


def random_groups(code: str, rng: random.Random, kinds: Collection[str] | None = None) -> list[str]:
    """A random serial split into the groups the plate prints (the label joins them), from
    the region's formats of the given kinds (all when None), by their weights."""
    reg = region(code)
    formats = [f for f in reg.formats if kinds is None or f.kind in kinds]
    if not formats:
        raise ValueError(f"{reg.code} issues no {', '.join(kinds or ())} plates")
    fmt = rng.choices(formats, weights=[f.weight for f in formats])[0]
    groups: list[str] = [""]
    for cls, low, high in fmt.tokens():
        if cls == " ":
            groups.append("")
        elif fmt.kind == "vanity":
            groups[-1] += _vanity(rng, reg, low, high)
        else:
            chars = reg.charset(cls)
            groups[-1] += "".join(rng.choice(chars) for _ in range(rng.randint(low, high)))
    return [g for g in groups if g]


def random_serial(code: str, rng: random.Random, kind: str | None = None) -> str:
    """A serial the region could issue, as a label (no separators; US O written as 0)."""
    return "".join(random_groups(code, rng, None if kind is None else (kind,)))
