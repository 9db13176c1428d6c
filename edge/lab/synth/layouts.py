"""Plate families: what a US, UK, EU or Brazilian plate prints around its serial.

A design (see `designs`) says which family it belongs to by name; the family's `Layout` gives
the face size, draws what that family prints besides the serial (a state header and slogan, a
country band, a "BRASIL" strip or a city) and says where the serial goes. The renderer
(`plates`) only calls the layout. Each layout draws from `rng` in the order the renderer always
has, so a seed draws the same plates whatever the code's shape.
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from dataclasses import dataclass

import cv2
import numpy as np

from edge.lab.synth import paint
from edge.lab.synth.designs import SLOGAN_FRAMES, Colour, Design
from edge.lab.synth.paint import Rect

WHITE_INK = np.full(3, 245, np.float32)
# Specialty plates (universities, teams, causes) carry stacked side letters, an emblem at the
# left and a symbol between the groups far more often than a state's standard design: of the
# real/us-crops misreads, about a third are such marks read as characters.
SPECIALTY_SIDE_LETTERS = 0.15
SPECIALTY_EMBLEM = 0.15
SPECIALTY_LOGO = 0.1
SPECIALTY_LOGO_KINDS = ("silhouette", "heart", "zia", "tree", "orange", "star")
# Country codes in the blue band of an EU plate whose design names none.
EU_BAND_CODES = ("D", "F", "E", "I", "PL", "SK", "CZ")
BRAZILIAN_CITIES = (
    "SP - SAO PAULO",
    "RJ - RIO DE JANEIRO",
    "MG - BELO HORIZONTE",
    "BA - SALVADOR",
    "MG - MONTES CLAROS",
    "DF - BRASILIA",
    "ES - CARIACICA",
    "PR - CURITIBA",
)


@dataclass(frozen=True)
class Layout(ABC):
    """One plate family. `name` is also the family's key for die shapes (`glyphs.die_shapes`)."""

    name: str
    size: tuple[int, int]  # face width and height in pixels
    margin: float = 0.04  # share of the width kept clear at either side of the serial
    bolts: tuple[float, ...] = ()  # where bolts show on the face, as shares of its width

    @abstractmethod
    def decorate(self, canvas: np.ndarray, design: Design, rng: random.Random) -> Rect:
        """Draw what the family prints besides the serial; return the box the serial fills."""

    def specialty_logo(self, rng: random.Random) -> tuple[str, Colour] | None:
        """A symbol that replaces the design's separator (specialty plates), or None."""
        return None

    def sticker(self, canvas: np.ndarray, box: Rect, rng: random.Random) -> None:
        """What a "sticker" separator prints in `box`: a registration sticker."""
        x, y, w, h = box
        paint.sticker(canvas, (x, y + h * 0.2, w, h * 0.6), rng)

    def draw_bolts(self, canvas: np.ndarray) -> None:
        """The mounting bolts, in the holes near the top edge."""
        h, w = canvas.shape[:2]
        for bx in self.bolts:
            centre = (int(w * bx), int(h * 0.11))
            cv2.circle(canvas, centre, int(h * 0.045), (150, 150, 150), -1)
            cv2.circle(canvas, centre, int(h * 0.02), (60, 60, 60), -1)

    def _span(self) -> tuple[float, float]:
        width = self.size[0]
        return width * self.margin, width * (1 - self.margin)


@dataclass(frozen=True)
class UsLayout(Layout):
    """12x6 in: state header, slogan footer, bolts, and the specialty marks around the serial."""

    def decorate(self, canvas: np.ndarray, design: Design, rng: random.Random) -> Rect:
        width, height = self.size
        left, right = self._span()
        area_y, area_h = height * rng.uniform(0.25, 0.29), height * rng.uniform(0.48, 0.56)
        paint.paste_text(
            canvas,
            design.header,
            design.header_font,
            paint.jitter(design.header_colour, rng),
            (width * 0.22, height * 0.04, width * 0.56, height * 0.2),
            rng,
        )
        if design.footer and rng.random() < 0.9:
            paint.paste_text(
                canvas,
                design.footer,
                "small",
                paint.jitter(design.footer_colour, rng),
                (width * 0.2, height * 0.82, width * 0.6, height * 0.1),
                rng,
            )
        # Distractors: an emblem at the left, stacked side letters (in the ink or a colour of
        # their own) on either side, registration stickers.
        if rng.random() < SPECIALTY_EMBLEM:
            size = area_h * rng.uniform(0.8, 1.0)
            paint.decal(canvas, (left, area_y + (area_h - size) / 2, size, size), rng)
            left += size * 1.15
        if rng.random() < max(design.side_letters, SPECIALTY_SIDE_LETTERS):
            side_w = width * rng.uniform(0.06, 0.1)
            side_x = left if rng.random() < 0.5 else right - side_w
            ink = design.ink if rng.random() < 0.5 else paint.vivid(rng)
            paint.side_letters(
                canvas, (side_x, area_y, side_w, area_h), paint.jitter(ink, rng), rng
            )
            left, right = (
                (left + side_w * 1.3, right) if side_x == left else (left, right - side_w * 1.3)
            )
        for corner in rng.sample(range(4), rng.choice((0, 1, 1, 2))):
            sx = width * 0.04 if corner % 2 == 0 else width * 0.83
            sy = height * 0.05 if corner < 2 else height * 0.8
            paint.sticker(canvas, (sx, sy, width * 0.13, height * 0.15), rng)
        return left, area_y, right - left, area_h

    def specialty_logo(self, rng: random.Random) -> tuple[str, Colour] | None:
        if rng.random() < SPECIALTY_LOGO:
            return rng.choice(SPECIALTY_LOGO_KINDS), paint.vivid(rng)
        return None


def _band(canvas: np.ndarray, code: str, stars: bool, rng: random.Random) -> float:
    """The blue identifier band at the left (with the EU's ring of stars); returns its width."""
    height, width = canvas.shape[:2]
    band_w = width * 0.085
    cv2.rectangle(canvas, (0, 0), (int(band_w), height), (150, 60, 10), -1)
    if stars:
        for i in range(12):
            angle = i * math.pi / 6
            centre = (
                int(band_w / 2 + math.cos(angle) * band_w * 0.3),
                int(height * 0.3 + math.sin(angle) * band_w * 0.3),
            )
            cv2.circle(canvas, centre, 1, (0, 210, 250), -1)
    paint.paste_text(
        canvas, code, "caps", WHITE_INK, (2, height * 0.6, band_w - 4, height * 0.3), rng
    )
    return band_w


@dataclass(frozen=True)
class UkLayout(Layout):
    """520x111 mm: sometimes the UK identifier band, often a dealer's slogan under the serial."""

    def decorate(self, canvas: np.ndarray, design: Design, rng: random.Random) -> Rect:
        width, height = self.size
        left, right = self._span()
        if rng.random() < 0.4:
            left = _band(canvas, design.band_code or "UK", False, rng) + width * 0.02
        if rng.random() < 0.6:
            paint.paste_text(
                canvas,
                rng.choice(SLOGAN_FRAMES),
                "small",
                np.full(3, 40, np.float32),
                (width * 0.3, height * 0.88, width * 0.4, height * 0.1),
                rng,
            )
        return left, height * 0.14, right - left, height * 0.72


@dataclass(frozen=True)
class EuLayout(Layout):
    """520x111 mm: always the blue band with its stars; German seals for "sticker" separators."""

    def decorate(self, canvas: np.ndarray, design: Design, rng: random.Random) -> Rect:
        width, height = self.size
        right = self._span()[1]
        code = design.band_code or rng.choice(EU_BAND_CODES)
        left = _band(canvas, code, True, rng) + width * 0.02
        return left, height * 0.14, right - left, height * 0.72

    def sticker(self, canvas: np.ndarray, box: Rect, rng: random.Random) -> None:
        paint.seals(canvas, box, rng)


@dataclass(frozen=True)
class MercosulLayout(Layout):
    """400x130 mm: the blue strip with "BRASIL" and the flag at its right."""

    def decorate(self, canvas: np.ndarray, design: Design, rng: random.Random) -> Rect:
        width, height = self.size
        left, right = self._span()
        cv2.rectangle(canvas, (0, 0), (width, int(height * 0.2)), (150, 60, 10), -1)
        paint.paste_text(
            canvas,
            "BRASIL",
            "caps",
            WHITE_INK,
            (width * 0.35, height * 0.03, width * 0.3, height * 0.14),
            rng,
        )
        cv2.rectangle(
            canvas,
            (int(width * 0.88), int(height * 0.04)),
            (int(width * 0.96), int(height * 0.16)),
            (50, 160, 40),
            -1,
        )
        return left, height * 0.3, right - left, height * 0.58


@dataclass(frozen=True)
class BrazilGreyLayout(Layout):
    """400x130 mm: the pre-Mercosul grey plate, its state and city printed above the serial."""

    def decorate(self, canvas: np.ndarray, design: Design, rng: random.Random) -> Rect:
        width, height = self.size
        left, right = self._span()
        paint.paste_text(
            canvas,
            rng.choice(BRAZILIAN_CITIES),
            "caps",
            np.full(3, 30, np.float32),
            (width * 0.2, height * 0.06, width * 0.6, height * 0.15),
            rng,
        )
        return left, height * 0.3, right - left, height * 0.58


# Face sizes in pixels keep each family's proportions: US 12x6 in, UK/EU 520x111 mm, Brazil
# 400x130 mm.
LAYOUTS: dict[str, Layout] = {
    layout.name: layout
    for layout in (
        UsLayout("us", (256, 128), margin=0.07, bolts=(0.18, 0.82)),
        UkLayout("uk", (420, 92)),
        EuLayout("eu", (420, 92)),
        MercosulLayout("mercosul", (312, 100)),
        BrazilGreyLayout("br-grey", (312, 100)),
    )
}
