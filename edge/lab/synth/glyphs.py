"""Glyph shapes that real plate dies stamp and the installed fonts draw differently.

US dies give the letter I serifs (a reader trained on sans-serif fonts reads the real serifed I
as T), print the digit 1 as a bar with little or no flag (so a bar is a 1, never an I) and many
stamp an open-top 4 (read as L). US dies cut a narrow W with near-upright strokes (read as M,
H or K), an 8 of two stacked rounded boxes (read as B) and a Q that is their narrow 0 with a
tail (read as 0). European and many US dies stop the M's middle vertex near half height (read as
H otherwise); European ones the W's middle apex short of the top (read as M or V). Brazil's grey
plates print the digit 1 as a plain bar too (read as I), the letter O as a wide rectangle with
rounded corners and straight sides (read as D) and the Q as that box with a short tail. Each
shape is built from the font's own stroke width and height, so it matches the weight of the rest
of the serial.
"""

from __future__ import annotations

import itertools
import random
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from edge.lab.synth.fonts import text_mask


def _stroke(font: Path) -> int:
    """The font's vertical stroke width at the reference size: the width of its bar-shaped I."""
    return max(text_mask("I", font).shape[1], 2)


@cache
def serifed_i(font: Path) -> np.ndarray:
    bar = text_mask("I", font)
    height, stroke = bar.shape
    width = round(stroke * 2.6)
    serif = max(round(stroke * 0.7), 2)
    mask = np.zeros((height, width), np.float32)
    left = (width - stroke) // 2
    mask[:, left : left + stroke] = bar
    mask[:serif] = 1.0
    mask[-serif:] = 1.0
    return mask


@cache
def shallow_m(font: Path) -> np.ndarray:
    """An M whose middle vertex stops near half height (the fonts' vertex on the baseline also
    passes for an upside-down W)."""
    height, width = text_mask("M", font).shape
    stroke = _stroke(font)
    mask = np.zeros((height, width), np.float32)
    mask[:, :stroke] = 1.0
    mask[:, width - stroke :] = 1.0
    vertex = (width // 2, round(height * 0.58))
    thickness = max(round(stroke * 0.85), 1)
    for x in (stroke // 2, width - 1 - stroke // 2):
        cv2.line(mask, (x, stroke // 2), vertex, 1.0, thickness, lineType=cv2.LINE_AA)
    return mask


def _w(font: Path, width_share: float, apex_height: float, v_points: float) -> np.ndarray:
    """A W of four strokes: `width_share` of the font's W wide, the middle apex `apex_height`
    of the height down from the top, the two V points `v_points` of the width in from the sides."""
    height, font_width = text_mask("W", font).shape
    width = round(font_width * width_share)
    stroke = _stroke(font)
    half = stroke // 2
    top, bottom = half, height - 1 - half
    points = [
        (half, top),
        (round(width * v_points), bottom),
        (width // 2, max(round(height * apex_height), top)),
        (round(width * (1 - v_points)), bottom),
        (width - 1 - half, top),
    ]
    return _polyline(height, width, points, stroke)


@cache
def short_middle_w(font: Path) -> np.ndarray:
    """A W of two slanted V strokes whose shared middle apex stops near 60 % of the height."""
    return _w(font, 1.0, 0.4, 0.27)


@cache
def narrow_w(font: Path) -> np.ndarray:
    """A condensed W: near-upright outer strokes, the middle apex at full height."""
    return _w(font, 0.85, 0.0, 0.24)


def _polyline(height: int, width: int, points: list[tuple[int, int]], stroke: int) -> np.ndarray:
    mask = np.zeros((height, width), np.float32)
    thickness = max(round(stroke * 0.9), 1)
    for start, end in itertools.pairwise(points):
        cv2.line(mask, start, end, 1.0, thickness, lineType=cv2.LINE_AA)
    return mask


@cache
def plain_one(font: Path) -> np.ndarray:
    return text_mask("I", font)


@cache
def open_four(font: Path) -> np.ndarray:
    """A 4 whose slanted arm is a short upright that does not reach the stem."""
    height, width = text_mask("4", font).shape
    stroke = _stroke(font)
    bar_top = round(height * 0.62)
    stem = round(width * 0.62)
    mask = np.zeros((height, width), np.float32)
    mask[:, stem : stem + stroke] = 1.0
    mask[: bar_top + stroke, :stroke] = 1.0
    mask[bar_top : bar_top + stroke, :] = 1.0
    return mask


def _rounded_box(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int, radius: int) -> None:
    cv2.rectangle(mask, (x0 + radius, y0), (x1 - radius, y1), 1.0, -1)
    cv2.rectangle(mask, (x0, y0 + radius), (x1, y1 - radius), 1.0, -1)
    for cx in (x0 + radius, x1 - radius):
        for cy in (y0 + radius, y1 - radius):
            cv2.circle(mask, (cx, cy), radius, 1.0, -1, lineType=cv2.LINE_AA)


def _ring(height: int, width: int, stroke: int, radius: int) -> np.ndarray:
    """A rounded-box outline `stroke` thick filling (height, width)."""
    radius = min(radius, (min(height, width) - 1) // 2)
    outer = np.zeros((height, width), np.float32)
    _rounded_box(outer, 0, 0, width - 1, height - 1, radius)
    inner = np.zeros_like(outer)
    inset = stroke
    inner_radius = max(radius - inset, 0)
    _rounded_box(inner, inset, inset, width - 1 - inset, height - 1 - inset, inner_radius)
    return np.clip(outer - inner, 0.0, 1.0)


@cache
def box_o(font: Path) -> np.ndarray:
    """Brazil's grey-plate O: wider than the font's 0, straight sides, rounded corners."""
    height, digit_width = text_mask("0", font).shape
    width = round(digit_width * 1.15)
    return _ring(height, width, _stroke(font), round(width * 0.3))


@cache
def box_eight(font: Path) -> np.ndarray:
    """An 8 of two stacked rounded boxes with straight sides, the upper one narrower."""
    height, width = text_mask("8", font).shape
    stroke = max(round(_stroke(font) * 0.85), 1)  # the counters stay open at plate sizes
    upper_height, upper_width = round(height * 0.5), round(width * 0.88)
    lower_top = upper_height - stroke
    mask = np.zeros((height, width), np.float32)
    left = (width - upper_width) // 2
    upper = _ring(upper_height, upper_width, stroke, round(upper_width * 0.3))
    lower = _ring(height - lower_top, width, stroke, round(width * 0.3))
    upper_area = mask[:upper_height, left : left + upper_width]
    np.maximum(upper_area, upper, out=upper_area)
    np.maximum(mask[lower_top:], lower, out=mask[lower_top:])
    return mask


def _with_tail(bowl: np.ndarray, stroke: int) -> np.ndarray:
    """`bowl` with a short tail across its lower right, making a Q of an O-like shape."""
    height, width = bowl.shape
    mask = bowl.copy()
    start, end = (round(width * 0.55), round(height * 0.72)), (width - 1, height - 1)
    cv2.line(mask, start, end, 1.0, max(round(stroke * 0.8), 1), lineType=cv2.LINE_AA)
    return mask


@cache
def narrow_q(font: Path) -> np.ndarray:
    """A US die's Q: the narrow 0 of the same dies with a tail."""
    return _with_tail(text_mask("0", font), _stroke(font))


@cache
def box_q(font: Path) -> np.ndarray:
    """Brazil's grey-plate Q: the box O with a tail."""
    return _with_tail(box_o(font), _stroke(font))


# Per plate layout: character -> (die shape, share of plates that print it).
_DIE_SHAPES: dict[str, dict[str, tuple[Callable[[Path], np.ndarray], float]]] = {
    "us": {
        "I": (serifed_i, 0.95),
        "1": (plain_one, 0.35),
        "4": (open_four, 0.3),
        "M": (shallow_m, 0.4),
        "W": (narrow_w, 0.6),
        "8": (box_eight, 0.35),
        "Q": (narrow_q, 0.6),
    },
    "eu": {"M": (shallow_m, 0.7), "W": (short_middle_w, 0.5)},
    "mercosul": {"M": (shallow_m, 0.7), "W": (short_middle_w, 0.5)},
    "br-grey": {
        "1": (plain_one, 0.85),
        "O": (box_o, 0.9),
        "M": (shallow_m, 0.5),
        "W": (short_middle_w, 0.5),
        "Q": (box_q, 0.9),
    },
}


def die_shapes(layout: str, serial: str) -> dict[str, Callable[[Path], np.ndarray]]:
    """The die shapes one plate of `layout` prints (each drawn with its share).

    The draw is seeded by the serial instead of taken from the renderer's random stream, so every
    seed still draws the plates (and the sample clip the scenes) it drew before these shapes."""
    rng = random.Random(zlib.crc32(f"{layout}:{serial}".encode()))
    return {
        char: shape
        for char, (shape, share) in _DIE_SHAPES.get(layout, {}).items()
        if rng.random() < share
    }


def glyph_mask(
    char: str, font: Path, shapes: dict[str, Callable[[Path], np.ndarray]]
) -> np.ndarray:
    """The ink mask of `char`: its die shape when the plate prints one, else the font's."""
    shape = shapes.get(char)
    return shape(font) if shape is not None else text_mask(char, font)
