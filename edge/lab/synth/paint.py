"""Drawing primitives for plate faces: text set in a box, polygons, the scenery behind the
serial, symbols between groups and the marks a reader must ignore (stickers, seals, stacked side
letters, decals).

Canvases are float32 BGR; every painter that takes `rng` draws from it in a fixed order, so the
same seed paints the same plate.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

import cv2
import numpy as np

from edge.lab.synth.designs import MONTHS, SIDE_LETTERS, Colour
from edge.lab.synth.fonts import fonts, text_mask

Rect = tuple[float, float, float, float]  # x, y, width, height


def jitter(colour: Colour, rng: random.Random, amount: int = 14) -> np.ndarray:
    shift = rng.uniform(-amount, amount)
    return np.array([min(max(c + shift, 0.0), 255.0) for c in colour], np.float32)


def vivid(rng: random.Random) -> Colour:
    """A strong colour (red, blue, green ...) for marks printed apart from the serial."""
    low, mid, high = rng.randint(0, 60), rng.randint(0, 255), rng.randint(160, 255)
    return rng.choice(((low, mid, high), (high, low, mid), (mid, high, low), (high, mid, low)))


def paste(canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray, x: int, y: int) -> None:
    """Blend `colour` into a float canvas through `mask` (0..1) at (x, y), clipped to it."""
    h, w = mask.shape
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, canvas.shape[1]), min(y + h, canvas.shape[0])
    if x1 <= x0 or y1 <= y0:
        return
    alpha = mask[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region_ = canvas[y0:y1, x0:x1]
    region_[...] = region_ + (colour - region_) * alpha


def resized(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(mask, (max(width, 1), max(height, 1)), interpolation=cv2.INTER_LINEAR)


def paste_text(
    canvas: np.ndarray,
    text: str,
    role: str,
    colour: np.ndarray,
    box: Rect,
    rng: random.Random,
) -> None:
    """Draw `text` centred in box (x, y, w, h), as tall as the box unless too wide for it."""
    x, y, w, h = box
    mask = text_mask(text, rng.choice(fonts(role)))
    width = mask.shape[1] * h / mask.shape[0]
    height = h
    if width > w:
        # Squeeze a little, then shrink: a long slogan is set smaller, not thinner.
        height = h * min(1.0, w / (width * 0.8))
        width = w
    scaled = resized(mask, int(width), int(height))
    paste(canvas, scaled, colour, int(x + (w - width) / 2), int(y + (h - height) / 2))


def gradient(
    width: int, height: int, top: np.ndarray, bottom: np.ndarray, dtype: type = np.float32
) -> np.ndarray:
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    column = (top * (1 - t) + bottom * t).astype(dtype)
    return cv2.resize(column, (width, height), interpolation=cv2.INTER_NEAREST)


def _polygon(canvas: np.ndarray, points: np.ndarray, colour: np.ndarray, alpha: float) -> None:
    """Fill a polygon with partial opacity, touching only its bounding rectangle."""
    h, w = canvas.shape[:2]
    x0, y0 = np.clip(points.min(axis=0).astype(int), 0, (w, h))
    x1, y1 = np.clip(np.ceil(points.max(axis=0)).astype(int) + 1, 0, (w, h))
    if x1 <= x0 or y1 <= y0:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.float32)
    cv2.fillPoly(mask, [(points - (x0, y0)).astype(np.int32)], alpha)
    roi = canvas[y0:y1, x0:x1]
    roi += (colour - roi) * mask[..., None]


# Scenery painters: each paints its motif over the whole canvas in `colour`.
def _mountains(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    xs = np.linspace(0, w, rng.randint(4, 8))
    ys = [rng.uniform(0.35, 0.75) * h for _ in xs]
    _polygon(canvas, np.array([[0, h], *zip(xs, ys, strict=True), [w, h]]), colour, 0.55)


def _sun(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    cx, cy, r = rng.uniform(0.55, 0.9) * w, rng.uniform(0.3, 0.5) * h, rng.uniform(0.1, 0.2)
    mask = np.zeros((h, w), np.float32)
    cv2.circle(mask, (int(cx), int(cy)), int(r * h), 0.5, -1)
    canvas += (colour - canvas) * mask[..., None]


def _trees(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    for _ in range(rng.randint(3, 7)):
        cx, base = rng.uniform(0, w), rng.uniform(0.85, 1.0) * h
        size = rng.uniform(0.2, 0.4) * h
        pts = np.array([[cx - size / 3, base], [cx, base - size], [cx + size / 3, base]])
        _polygon(canvas, pts, colour, 0.45)


def _desert(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    top = rng.uniform(0.72, 0.85) * h
    _polygon(canvas, np.array([[0, h], [0, top], [w, top + 4], [w, h]]), colour, 0.8)
    cx = rng.uniform(0.05, 0.2) * w
    cactus = np.array([[cx, top], [cx, top - 0.3 * h], [cx + 6, top - 0.3 * h], [cx + 6, top]])
    _polygon(canvas, cactus, np.array([40, 90, 40], np.float32), 0.8)


def _skyline(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    x = 0.0
    while x < w:
        bw, bh = rng.uniform(6, 18), rng.uniform(0.06, 0.16) * h
        roof = 0.26 * h - bh
        _polygon(canvas, np.array([[x, 0.26 * h], [x, roof], [x + bw, roof]]), colour, 0.4)
        x += bw


def _band(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    _polygon(canvas, np.array([[0, 0.25 * h], [w, 0.25 * h], [w, h], [0, h]]), colour, 1.0)


def _wave(canvas: np.ndarray, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    xs = np.linspace(0, w, 24)
    ys = 0.78 * h + np.sin(xs / w * 6.28 * rng.uniform(1, 2)) * 4
    _polygon(canvas, np.array([[0, h], *zip(xs, ys, strict=True), [w, h]]), colour, 0.6)


SCENERY: dict[str, Callable[[np.ndarray, np.ndarray, random.Random], None]] = {
    "mountains": _mountains,
    "sun": _sun,
    "trees": _trees,
    "desert": _desert,
    "skyline": _skyline,
    "band": _band,
    "wave": _wave,
}


def paint_scenery(canvas: np.ndarray, name: str, colour: np.ndarray, rng: random.Random) -> None:
    """Paint the scenery motif `name` (a key of SCENERY) behind the text."""
    SCENERY[name](canvas, colour, rng)


# Logo shapes: each fills its symbol of radius r around (cx, cy) into a mask.
def _silhouette(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    """A state outline: a random blob, taller than wide."""
    angles = np.linspace(0, 2 * math.pi, 9, endpoint=False)
    radii = [r * rng.uniform(0.55, 1.0) for _ in angles]
    pts = np.array(
        [
            [cx + rr * math.cos(a), cy + rr * 1.3 * math.sin(a)]
            for a, rr in zip(angles, radii, strict=True)
        ]
    )
    cv2.fillPoly(mask, [pts.astype(np.int32)], 1.0)


def _heart(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    cv2.circle(mask, (int(cx - r * 0.45), int(cy - r * 0.2)), int(r * 0.5), 1.0, -1)
    cv2.circle(mask, (int(cx + r * 0.45), int(cy - r * 0.2)), int(r * 0.5), 1.0, -1)
    tri = np.array([[cx - r * 0.93, cy - r * 0.05], [cx + r * 0.93, cy - r * 0.05], [cx, cy + r]])
    cv2.fillPoly(mask, [tri.astype(np.int32)], 1.0)


def _zia(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    """New Mexico's sun symbol: a disc with four rays of four lines each."""
    cv2.circle(mask, (int(cx), int(cy)), int(r * 0.4), 1.0, -1)
    for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        for offset in (-0.3, -0.1, 0.1, 0.3):
            ox, oy = dy * offset * r, dx * offset * r
            start = (int(cx + dx * r * 0.5 + ox), int(cy + dy * r * 0.5 + oy))
            end = (int(cx + dx * r + ox), int(cy + dy * r + oy))
            cv2.line(mask, start, end, 1.0, max(1, int(r * 0.08)))


def _tree(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    for level in range(3):
        top = cy - r + level * r * 0.5
        spread = r * (0.4 + level * 0.15)
        tri = np.array([[cx, top], [cx - spread, top + r * 0.8], [cx + spread, top + r * 0.8]])
        cv2.fillPoly(mask, [tri.astype(np.int32)], 1.0)


def _shield(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    top = cy - r
    shield = np.array(
        [[cx - r * 0.7, top], [cx + r * 0.7, top], [cx + r * 0.7, cy + r * 0.2], [cx, cy + r],
         [cx - r * 0.7, cy + r * 0.2]]
    )  # fmt: skip
    cv2.fillPoly(mask, [shield.astype(np.int32)], 1.0)


def _double_cross(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    top = cy - r
    stroke = max(1, int(r * 0.14))
    cv2.line(mask, (int(cx), int(top + r * 0.2)), (int(cx), int(cy + r * 0.5)), 1.0, stroke)
    for level in (0.25, 0.65):
        y = int(top + r * level)
        cv2.line(mask, (int(cx - r * 0.35), y), (int(cx + r * 0.35), y), 1.0, stroke)


def _orange(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    cv2.circle(mask, (int(cx), int(cy)), int(r * 0.75), 1.0, -1)


def _star(mask: np.ndarray, cx: float, cy: float, r: float, rng: random.Random) -> None:
    pts = [
        (
            cx + r * (1.0 if i % 2 == 0 else 0.45) * math.sin(i * math.pi / 5),
            cy - r * (1.0 if i % 2 == 0 else 0.45) * math.cos(i * math.pi / 5),
        )
        for i in range(10)
    ]
    cv2.fillPoly(mask, [np.array(pts, np.int32)], 1.0)


_Shape = Callable[[np.ndarray, float, float, float, random.Random], None]
# A logo is one or more shapes, each in the logo's colour unless it has its own.
LOGOS: dict[str, tuple[tuple[_Shape, np.ndarray | None], ...]] = {
    "silhouette": ((_silhouette, None),),
    "heart": ((_heart, None),),
    "zia": ((_zia, None),),
    "tree": ((_tree, None),),
    # Slovakia's coat of arms: a red shield carrying a white double cross.
    "shield": ((_shield, None), (_double_cross, np.full(3, 245, np.float32))),
    "orange": ((_orange, None),),
    "star": ((_star, None),),
}


def draw_logo(
    canvas: np.ndarray,
    kind: str,
    colour: np.ndarray,
    box: Rect,
    rng: random.Random,
) -> None:
    """A symbol between character groups (a key of LOGOS), centred in `box`."""
    x, y, w, h = box
    cx, cy, r = x + w / 2, y + h / 2, min(w, h) / 2
    for shape, own_colour in LOGOS[kind]:
        mask = np.zeros(canvas.shape[:2], np.float32)
        shape(mask, cx, cy, r, rng)
        _paste_around(canvas, mask, colour if own_colour is None else own_colour, cx, cy, r)


def _paste_around(
    canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray, cx: float, cy: float, r: float
) -> None:
    """Blend only the square around (cx, cy) where a symbol of radius r was drawn."""
    x0, y0 = max(int(cx - r * 1.4), 0), max(int(cy - r * 1.4), 0)
    paste(canvas, mask[y0 : int(cy + r * 1.4) + 1, x0 : int(cx + r * 1.4) + 1], colour, x0, y0)


def sticker(canvas: np.ndarray, box: Rect, rng: random.Random) -> None:
    """A registration sticker: a coloured tag with a month or a year on it."""
    x, y, w, h = box
    colour = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    cv2.rectangle(canvas, (int(x), int(y)), (int(x + w), int(y + h)), colour.tolist(), -1)
    ink = np.zeros(3, np.float32) if colour.mean() > 120 else np.full(3, 245, np.float32)
    label = rng.choice((rng.choice(MONTHS), f"{rng.randint(0, 30):02d}", f"{rng.randint(1, 12)}"))
    paste_text(canvas, label, "caps", ink, (x + 2, y + 2, w - 4, h - 4), rng)


def seals(canvas: np.ndarray, box: Rect, rng: random.Random) -> None:
    """German registration and inspection seals: two discs stacked between the groups."""
    x, y, w, h = box
    r = int(min(w * 0.45, h * 0.22))
    for cy in (y + h * 0.3, y + h * 0.72):
        colour = [rng.randint(40, 230) for _ in range(3)]
        cv2.circle(canvas, (int(x + w / 2), int(cy)), r, colour, -1)
        cv2.circle(canvas, (int(x + w / 2), int(cy)), max(r - 3, 1), (200, 200, 200), 1)


def side_letters(
    canvas: np.ndarray,
    box: Rect,
    colour: np.ndarray,
    rng: random.Random,
) -> None:
    """Stacked side letters (Idaho DLR, Maryland RTR, Minnesota HC): not part of the serial."""
    x, y, w, h = box
    letters = rng.choice(SIDE_LETTERS)
    step = h / len(letters)
    for i, letter in enumerate(letters):
        paste_text(canvas, letter, "caps", colour, (x, y + i * step, w, step * 0.86), rng)


def decal(canvas: np.ndarray, box: Rect, rng: random.Random) -> None:
    """A special-plate emblem: a university seal, a wheelchair symbol or a flag."""
    x, y, w, h = box
    kind = rng.choice(("seal", "wheelchair", "flag"))
    colour = np.array([rng.randint(20, 220) for _ in range(3)], np.float32)
    if kind == "seal":
        r = int(min(w, h) / 2)
        cv2.circle(canvas, (int(x + w / 2), int(y + h / 2)), r, colour.tolist(), -1)
        cv2.circle(canvas, (int(x + w / 2), int(y + h / 2)), int(r * 0.7), (240, 240, 240), 2)
        paste_text(
            canvas,
            rng.choice("AUCSN"),
            "caps",
            np.full(3, 240, np.float32),
            (x + w * 0.3, y + h * 0.3, w * 0.4, h * 0.4),
            rng,
        )
    elif kind == "wheelchair":
        cv2.rectangle(canvas, (int(x), int(y)), (int(x + w), int(y + h)), (160, 80, 20), -1)
        paste_text(
            canvas,
            "\u267f",
            "symbol",
            np.full(3, 245, np.float32),
            (x + 2, y + 2, w - 4, h - 4),
            rng,
        )
    else:
        for i in range(5):
            stripe = colour if i % 2 == 0 else np.full(3, 240, np.float32)
            top = y + i * h / 5
            cv2.rectangle(
                canvas, (int(x), int(top)), (int(x + w), int(top + h / 5)), stripe.tolist(), -1
            )
        cv2.rectangle(
            canvas, (int(x), int(y)), (int(x + w * 0.45), int(y + h * 0.5)), (130, 50, 20), -1
        )
