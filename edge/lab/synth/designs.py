"""The plate designs the renderer draws: colours, headers, slogans and what sits between groups.

The designs themselves are data, in `designs.toml` beside this module (one table per design,
commented where a value encodes a fact about real plates); this module gives them their type
and the word lists the renderer prints on plates and frames. Colours are BGR. A design names the
serial kinds (see `formats.SerialFormat.kind`) that are printed on it; `None` means any kind
its state issues.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from importlib import resources
from typing import Any

from edge.tomlfile import tomllib

Colour = tuple[int, int, int]

WHITE: Colour = (245, 245, 242)
NAVY: Colour = (100, 40, 25)
RED: Colour = (40, 30, 190)
# The colours designs.toml may name instead of writing [b, g, r].
PALETTE: dict[str, Colour] = {
    "white": WHITE,
    "black": (25, 25, 25),
    "navy": NAVY,
    "red": RED,
    "dark-red": (40, 30, 140),
    "green": (60, 110, 30),
    "yellow": (40, 205, 245),
    "gold": (60, 170, 225),
    "grey": (165, 165, 160),
}


@dataclass(frozen=True)
class Design:
    """One plate design; the head of designs.toml explains each field."""

    name: str
    state: str
    layout: str = "us"
    kinds: tuple[str, ...] | None = None
    background: tuple[Colour, Colour] = (WHITE, WHITE)
    scenery: tuple[tuple[str, Colour], ...] = ()
    header: str = ""
    header_font: str = "caps"
    header_colour: Colour = NAVY
    footer: str = ""
    footer_colour: Colour = NAVY
    ink: Colour = NAVY
    font_role: str = "serial"
    separators: tuple[str, ...] = ("gap",)
    logo: str = "silhouette"
    logo_colour: Colour = RED
    side_letters: float = 0.0
    band_code: str = ""
    weight: float = 1.0


def _colour(value: Any) -> Colour:
    """A colour from its PALETTE name or its [b, g, r]."""
    if isinstance(value, str):
        if value not in PALETTE:
            raise ValueError(f"unknown colour {value!r} (one of {', '.join(PALETTE)})")
        return PALETTE[value]
    b, g, r = value
    return (int(b), int(g), int(r))


def _design(table: dict[str, Any]) -> Design:
    """A design from its TOML table: colours resolved, arrays made tuples (designs are frozen)."""
    values = dict(table)
    unknown = set(values) - {f.name for f in fields(Design)}
    try:
        if unknown:
            raise ValueError(f"unknown keys {sorted(unknown)}")
        for key in ("header_colour", "footer_colour", "ink", "logo_colour"):
            if key in values:
                values[key] = _colour(values[key])
        if "background" in values:
            top, bottom = values["background"]
            values["background"] = (_colour(top), _colour(bottom))
        if "scenery" in values:
            values["scenery"] = tuple((name, _colour(c)) for name, c in values["scenery"])
        for key in ("kinds", "separators"):
            if key in values:
                values[key] = tuple(values[key])
        return Design(**values)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"design {table.get('name')!r}: {exc}") from None


def load_designs(text: str) -> tuple[Design, ...]:
    """Designs from the text of a designs TOML file, in the file's order."""
    return tuple(_design(table) for table in tomllib.loads(text)["design"])


DESIGNS: tuple[Design, ...] = load_designs(
    resources.files(__package__).joinpath("designs.toml").read_text(encoding="utf-8")
)

# Text printed on plates and their frames that is not the serial, which a reader must ignore:
# stacked side letters, dealers' frames and UK slogans, registration sticker months.
SIDE_LETTERS = ("DLR", "RTR", "HC", "LR", "DV", "MC", "TR", "PH", "VET", "DST", "FIN", "CL")
SLOGAN_FRAMES = (
    "HONDA OF OAKLAND",
    "FREMONT TOYOTA",
    "SANTA ROSA FORD",
    "AUTONATION",
    "I'D RATHER BE SURFING",
    "GO BEARS",
    "CARMAX",
    "SUNSET NISSAN",
)
MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
