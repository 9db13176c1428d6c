"""Synthetic licence plates: a flat plate drawn from a design, then seen through a camera.

`PlateRenderer.draw_plate()` draws the plate face (serial, header, slogan, scenery and the
distractors a reader must ignore: stacked side letters, stickers, decals, logos between groups);
`PlateRenderer.render()` mounts it on a car body, maybe behind a dealer frame, and returns a
crop as a detector would cut it, after perspective, blur, exposure, infrared, noise and JPEG.
The label is the serial alone.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

import cv2
import numpy as np

from edge.plates.regions import REGION_CODES as STATES
from edge.plates.regions import region
from edge.synth import effects
from edge.synth.designs import DESIGNS, MONTHS, SIDE_LETTERS, SLOGAN_FRAMES, Colour, Design
from edge.synth.fonts import fonts, text_mask
from edge.synth.formats import random_groups
from edge.synth.glyphs import die_shapes, glyph_mask

# Plate face sizes in pixels, by layout: US 12x6 in, UK/EU 520x111 mm, Brazil 400x130 mm.
_FACE_SIZE = {"us": (256, 128), "uk": (420, 92), "eu": (420, 92), "mercosul": (312, 100)}
_FACE_SIZE["br-grey"] = _FACE_SIZE["mercosul"]

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
# Specialty plates (universities, teams, causes) carry stacked side letters, an emblem at the
# left and a symbol between the groups far more often than a state's standard design: of the
# real/us-crops misreads, about a third are such marks read as characters.
SPECIALTY_SIDE_LETTERS = 0.15
SPECIALTY_EMBLEM = 0.15
SPECIALTY_LOGO = 0.1
SPECIALTY_LOGO_KINDS = ("silhouette", "heart", "zia", "tree", "orange", "star")
STATE_FREQUENCY = {"CA": 8.0} | dict.fromkeys(
    ("NV", "AZ", "OR", "WA", "TX", "FL", "NY", "UT", "ID", "CO", "IL", "NM"), 2.0
)
_NEGATIVE_TEXT = (
    "STOP",
    "SPEED LIMIT 25",
    "ONE WAY",
    "PARKING",
    "SALE",
    "EXIT 42",
    "TAXI",
    "OPEN 24 HRS",
    "PIZZA",
    "NO PARKING",
    "COEXIST",
    "BABY ON BOARD",
)


@dataclass(frozen=True, eq=False)
class FlatPlate:
    """A plate face, not yet seen by a camera."""

    image: np.ndarray  # uint8 BGR, the plate fills the whole image
    text: str
    state: str
    design: str


@dataclass(frozen=True, eq=False)
class PlateSample:
    """A plate crop as a detector would cut it, with its label. Negatives have text ''."""

    image: np.ndarray  # uint8 BGR
    text: str
    state: str
    design: str = ""


def _jitter(colour: Colour, rng: random.Random, amount: int = 14) -> np.ndarray:
    shift = rng.uniform(-amount, amount)
    return np.array([min(max(c + shift, 0.0), 255.0) for c in colour], np.float32)


def _vivid(rng: random.Random) -> Colour:
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


def _scaled(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(mask, (max(width, 1), max(height, 1)), interpolation=cv2.INTER_LINEAR)


def paste_text(
    canvas: np.ndarray,
    text: str,
    role: str,
    colour: np.ndarray,
    box: tuple[float, float, float, float],
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
    scaled = _scaled(mask, int(width), int(height))
    paste(canvas, scaled, colour, int(x + (w - width) / 2), int(y + (h - height) / 2))


def _gradient(
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


def _paint_scenery(canvas: np.ndarray, name: str, colour: np.ndarray, rng: random.Random) -> None:
    h, w = canvas.shape[:2]
    if name == "mountains":
        xs = np.linspace(0, w, rng.randint(4, 8))
        ys = [rng.uniform(0.35, 0.75) * h for _ in xs]
        pts = np.array([[0, h], *zip(xs, ys, strict=True), [w, h]])
        _polygon(canvas, pts, colour, 0.55)
    elif name == "sun":
        cx, cy, r = rng.uniform(0.55, 0.9) * w, rng.uniform(0.3, 0.5) * h, rng.uniform(0.1, 0.2)
        mask = np.zeros((h, w), np.float32)
        cv2.circle(mask, (int(cx), int(cy)), int(r * h), 0.5, -1)
        canvas += (colour - canvas) * mask[..., None]
    elif name == "trees":
        for _ in range(rng.randint(3, 7)):
            cx, base = rng.uniform(0, w), rng.uniform(0.85, 1.0) * h
            size = rng.uniform(0.2, 0.4) * h
            pts = np.array([[cx - size / 3, base], [cx, base - size], [cx + size / 3, base]])
            _polygon(canvas, pts, colour, 0.45)
    elif name == "desert":
        top = rng.uniform(0.72, 0.85) * h
        _polygon(canvas, np.array([[0, h], [0, top], [w, top + 4], [w, h]]), colour, 0.8)
        cx = rng.uniform(0.05, 0.2) * w
        cactus = np.array([[cx, top], [cx, top - 0.3 * h], [cx + 6, top - 0.3 * h], [cx + 6, top]])
        _polygon(canvas, cactus, np.array([40, 90, 40], np.float32), 0.8)
    elif name == "skyline":
        x = 0.0
        while x < w:
            bw, bh = rng.uniform(6, 18), rng.uniform(0.06, 0.16) * h
            _polygon(
                canvas,
                np.array([[x, 0.26 * h], [x, 0.26 * h - bh], [x + bw, 0.26 * h - bh]]),
                colour,
                0.4,
            )
            x += bw
    elif name == "band":
        _polygon(canvas, np.array([[0, 0.25 * h], [w, 0.25 * h], [w, h], [0, h]]), colour, 1.0)
    elif name == "wave":
        xs = np.linspace(0, w, 24)
        ys = 0.78 * h + np.sin(xs / w * 6.28 * rng.uniform(1, 2)) * 4
        _polygon(canvas, np.array([[0, h], *zip(xs, ys, strict=True), [w, h]]), colour, 0.6)


def _draw_logo(
    canvas: np.ndarray,
    kind: str,
    colour: np.ndarray,
    box: tuple[float, float, float, float],
    rng: random.Random,
) -> None:
    """A symbol between character groups: state outline, heart, Zia, tree, orange, star, seals."""
    x, y, w, h = box
    cx, cy, r = x + w / 2, y + h / 2, min(w, h) / 2
    mask = np.zeros(canvas.shape[:2], np.float32)
    if kind == "silhouette":
        angles = np.linspace(0, 2 * math.pi, 9, endpoint=False)
        radii = [r * rng.uniform(0.55, 1.0) for _ in angles]
        pts = np.array(
            [
                [cx + rr * math.cos(a), cy + rr * 1.3 * math.sin(a)]
                for a, rr in zip(angles, radii, strict=True)
            ]
        )
        cv2.fillPoly(mask, [pts.astype(np.int32)], 1.0)
    elif kind == "heart":
        cv2.circle(mask, (int(cx - r * 0.45), int(cy - r * 0.2)), int(r * 0.5), 1.0, -1)
        cv2.circle(mask, (int(cx + r * 0.45), int(cy - r * 0.2)), int(r * 0.5), 1.0, -1)
        tri = np.array(
            [[cx - r * 0.93, cy - r * 0.05], [cx + r * 0.93, cy - r * 0.05], [cx, cy + r]]
        )
        cv2.fillPoly(mask, [tri.astype(np.int32)], 1.0)
    elif kind == "zia":
        cv2.circle(mask, (int(cx), int(cy)), int(r * 0.4), 1.0, -1)
        for dx, dy in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            for offset in (-0.3, -0.1, 0.1, 0.3):
                ox, oy = dy * offset * r, dx * offset * r
                start = (int(cx + dx * r * 0.5 + ox), int(cy + dy * r * 0.5 + oy))
                end = (int(cx + dx * r + ox), int(cy + dy * r + oy))
                cv2.line(mask, start, end, 1.0, max(1, int(r * 0.08)))
    elif kind == "tree":
        for level in range(3):
            top = cy - r + level * r * 0.5
            tri = np.array(
                [
                    [cx, top],
                    [cx - r * (0.4 + level * 0.15), top + r * 0.8],
                    [cx + r * (0.4 + level * 0.15), top + r * 0.8],
                ]
            )
            cv2.fillPoly(mask, [tri.astype(np.int32)], 1.0)
    elif kind == "shield":
        # A coat of arms: a red shield carrying a white double cross.
        top = cy - r
        shield = np.array(
            [[cx - r * 0.7, top], [cx + r * 0.7, top], [cx + r * 0.7, cy + r * 0.2], [cx, cy + r],
             [cx - r * 0.7, cy + r * 0.2]]
        )  # fmt: skip
        cv2.fillPoly(mask, [shield.astype(np.int32)], 1.0)
        _paste_around(canvas, mask, colour, cx, cy, r)
        mask[:] = 0
        stroke = max(1, int(r * 0.14))
        cv2.line(mask, (int(cx), int(top + r * 0.2)), (int(cx), int(cy + r * 0.5)), 1.0, stroke)
        for level in (0.25, 0.65):
            y = int(top + r * level)
            cv2.line(mask, (int(cx - r * 0.35), y), (int(cx + r * 0.35), y), 1.0, stroke)
        colour = np.full(3, 245, np.float32)
    elif kind == "orange":
        cv2.circle(mask, (int(cx), int(cy)), int(r * 0.75), 1.0, -1)
    elif kind == "star":
        pts = [
            (
                cx + r * (1.0 if i % 2 == 0 else 0.45) * math.sin(i * math.pi / 5),
                cy - r * (1.0 if i % 2 == 0 else 0.45) * math.cos(i * math.pi / 5),
            )
            for i in range(10)
        ]
        cv2.fillPoly(mask, [np.array(pts, np.int32)], 1.0)
    _paste_around(canvas, mask, colour, cx, cy, r)


def _paste_around(
    canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray, cx: float, cy: float, r: float
) -> None:
    """Blend only the square around (cx, cy) where a symbol of radius r was drawn."""
    x0, y0 = max(int(cx - r * 1.4), 0), max(int(cy - r * 1.4), 0)
    paste(canvas, mask[y0 : int(cy + r * 1.4) + 1, x0 : int(cx + r * 1.4) + 1], colour, x0, y0)


def _sticker(
    canvas: np.ndarray, box: tuple[float, float, float, float], rng: random.Random
) -> None:
    """A registration sticker: a coloured tag with a month or a year on it."""
    x, y, w, h = box
    colour = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    cv2.rectangle(canvas, (int(x), int(y)), (int(x + w), int(y + h)), colour.tolist(), -1)
    ink = np.zeros(3, np.float32) if colour.mean() > 120 else np.full(3, 245, np.float32)
    label = rng.choice((rng.choice(MONTHS), f"{rng.randint(0, 30):02d}", f"{rng.randint(1, 12)}"))
    paste_text(canvas, label, "caps", ink, (x + 2, y + 2, w - 4, h - 4), rng)


def _seals(canvas: np.ndarray, box: tuple[float, float, float, float], rng: random.Random) -> None:
    """German registration and inspection seals: two discs stacked between the groups."""
    x, y, w, h = box
    r = int(min(w * 0.45, h * 0.22))
    for cy in (y + h * 0.3, y + h * 0.72):
        colour = [rng.randint(40, 230) for _ in range(3)]
        cv2.circle(canvas, (int(x + w / 2), int(cy)), r, colour, -1)
        cv2.circle(canvas, (int(x + w / 2), int(cy)), max(r - 3, 1), (200, 200, 200), 1)


def _side_letters(
    canvas: np.ndarray,
    box: tuple[float, float, float, float],
    colour: np.ndarray,
    rng: random.Random,
) -> None:
    """Stacked side letters (Idaho DLR, Maryland RTR, Minnesota HC): not part of the serial."""
    x, y, w, h = box
    letters = rng.choice(SIDE_LETTERS)
    step = h / len(letters)
    for i, letter in enumerate(letters):
        paste_text(canvas, letter, "caps", colour, (x, y + i * step, w, step * 0.86), rng)


def _decal(canvas: np.ndarray, box: tuple[float, float, float, float], rng: random.Random) -> None:
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


def _serial(
    canvas: np.ndarray,
    groups: list[str],
    design: Design,
    area: tuple[float, float, float, float],
    rng: random.Random,
) -> None:
    """Lay out the serial in `area` (x, y, w, h): glyph heights fill h, groups split by the
    design's separator, squeezed to fit w; embossed with a shadow and a highlight."""
    x, y, w, h = area
    font = rng.choice(fonts(design.font_role))
    condense = rng.uniform(0.72, 1.0) if design.font_role == "serial" else rng.uniform(0.85, 1.0)
    shapes = die_shapes(design.layout, "".join(groups))
    glyphs = [[glyph_mask(c, font, shapes) for c in group] for group in groups]
    widths = [[g.shape[1] * h / g.shape[0] * condense for g in group] for group in glyphs]
    if rng.random() < 0.5:  # fixed-pitch dies
        pitch = max(max(ws) for ws in widths)
        cells = [[max(wi, pitch * 0.8) for wi in ws] for ws in widths]
    else:
        cells = widths
    spacing = h * rng.uniform(0.05, 0.14)
    separator, logo, logo_colour = rng.choice(design.separators), design.logo, design.logo_colour
    if design.layout == "us" and len(groups) > 1 and rng.random() < SPECIALTY_LOGO:
        separator, logo = "logo", rng.choice(SPECIALTY_LOGO_KINDS)
        logo_colour = _vivid(rng)
    sep_width = {"none": 0.0, "gap": 0.35, "dash": 0.45, "dot": 0.35, "logo": 0.7, "sticker": 0.6}
    sep = h * sep_width[separator]
    # Within a group glyphs are `spacing` apart; between groups: spacing, separator, spacing.
    total = sum(sum(c) + spacing * (len(c) - 1) for c in cells) + (sep + 2 * spacing) * (
        len(groups) - 1
    )
    squeeze = min(1.0, w / total)
    cursor = x + (w - total * squeeze) / 2

    layer = np.zeros(canvas.shape[:2], np.float32)
    for index, (group, ws, cs) in enumerate(zip(glyphs, widths, cells, strict=True)):
        if index:
            box = (cursor, y, sep * squeeze, h)
            # Seals and stickers sit in the first gap only (German seals follow the district).
            kind = "gap" if index > 1 and separator == "sticker" else separator
            _separator(canvas, layer, kind, design, box, rng, (logo, logo_colour))
            cursor += (sep + spacing) * squeeze
        for glyph, width, cell in zip(group, ws, cs, strict=True):
            scaled = _scaled(glyph, int(width * squeeze), int(h))
            left = int(cursor + (cell - width) * squeeze / 2)
            target = layer[int(y) : int(y) + scaled.shape[0], left : left + scaled.shape[1]]
            np.maximum(target, scaled[: target.shape[0], : target.shape[1]], out=target)
            cursor += (cell + spacing) * squeeze
    stroke = rng.choice((-1, 0, 0, 1))
    if stroke:
        op = cv2.dilate if stroke > 0 else cv2.erode
        layer = op(layer, np.ones((2, 2), np.uint8))
    ink = _jitter(design.ink, rng)
    # Only the band of rows the serial occupies needs blending.
    top, bottom = max(int(y) - 3, 0), min(int(y + h) + 4, canvas.shape[0])
    band, layer = canvas[top:bottom], layer[top:bottom]
    if rng.random() < 0.7:  # embossed characters throw a shadow and catch light
        shift = rng.choice((1, 2))
        shadow = np.roll(layer, (shift, shift), axis=(0, 1))
        band += (band * 0.45 - band) * (shadow * 0.6)[..., None]
        light = np.roll(layer, (-1, -1), axis=(0, 1))
        band += (255 - band) * (light * 0.25)[..., None]
    band += (ink - band) * layer[..., None]


def _separator(
    canvas: np.ndarray,
    layer: np.ndarray,
    kind: str,
    design: Design,
    box: tuple[float, float, float, float],
    rng: random.Random,
    logo: tuple[str, Colour],
) -> None:
    x, y, w, h = box
    if kind == "dash":
        cv2.rectangle(
            layer,
            (int(x + w * 0.2), int(y + h * 0.45)),
            (int(x + w * 0.8), int(y + h * 0.55)),
            1.0,
            -1,
        )
    elif kind == "dot":
        cv2.circle(layer, (int(x + w / 2), int(y + h / 2)), max(int(h * 0.06), 2), 1.0, -1)
    elif kind == "logo":
        kind, colour = logo
        _draw_logo(canvas, kind, _jitter(colour, rng), (x, y + h * 0.1, w, h * 0.8), rng)
    elif kind == "sticker":
        if design.layout == "eu":
            _seals(canvas, box, rng)
        else:
            _sticker(canvas, (x, y + h * 0.2, w, h * 0.6), rng)


class PlateRenderer:
    """Draws random labelled plates; the same seed gives the same sequence of plates."""

    def __init__(
        self,
        seed: int,
        states: tuple[str, ...] | None = None,
        negative_rate: float = 0.0,
    ) -> None:
        wanted = tuple(region(s).code for s in states) if states else STATES
        self.designs = [d for d in DESIGNS if d.state in wanted]
        if not self.designs:
            raise ValueError(f"no plate design for states {', '.join(wanted)}")
        if not 0.0 <= negative_rate <= 1.0:
            raise ValueError(f"negative_rate must be within 0..1, got {negative_rate}")
        self.negative_rate = negative_rate
        self.rng = random.Random(seed)
        # Weight states by how often a California camera sees them: California most, then the
        # states its visitors come from most, then the rest (each design within its state by
        # its own weight).
        per_state: dict[str, float] = {}
        for design in self.designs:
            per_state[design.state] = per_state.get(design.state, 0.0) + design.weight
        share = {s: STATE_FREQUENCY.get(s, 1.0) / total for s, total in per_state.items()}
        self.weights = [d.weight * share[d.state] for d in self.designs]

    def draw_plate(self, state: str | None = None, text: str | None = None) -> FlatPlate:
        """A plate face; `state` and `text` pin what is printed (text is split into the groups
        of the first format it fits, or printed as one group)."""
        rng = self.rng
        if state is None:
            design = rng.choices(self.designs, weights=self.weights)[0]
        else:
            code = region(state).code
            candidates = [d for d in self.designs if d.state == code] or [
                d for d in DESIGNS if d.state == code
            ]
            if not candidates:
                raise ValueError(f"no plate design for state {code}")
            design = rng.choices(candidates, weights=[d.weight for d in candidates])[0]
        if text is None:
            groups = random_groups(design.state, rng, design.kinds)
        else:
            groups = _split_groups(text)
        image = _draw_face(design, groups, rng)
        return FlatPlate(image, "".join(groups), design.state, design.name)

    def render(self) -> PlateSample:
        """A crop around one plate (or, at `negative_rate`, a crop of text that is no plate)."""
        if self.rng.random() < self.negative_rate:
            face = negative_face(self.rng)
            sample = PlateSample(face, "", "", "negative")
        else:
            flat = self.draw_plate()
            sample = PlateSample(flat.image, flat.text, flat.state, flat.design)
        image = _camera_crop(sample.image, self.rng)
        return PlateSample(image, sample.text, sample.state, sample.design)


def _split_groups(text: str) -> list[str]:
    """Groups for a given text: split at the letter/digit change nearest the middle."""
    cuts = [i for i in range(1, len(text)) if text[i - 1].isdigit() != text[i].isdigit()]
    if not cuts or len(text) < 5:
        return [text]
    cut = min(cuts, key=lambda i: abs(i - len(text) / 2))
    return [text[:cut], text[cut:]]


def _draw_face(design: Design, groups: list[str], rng: random.Random) -> np.ndarray:
    width, height = _FACE_SIZE[design.layout]
    top, bottom = (_jitter(c, rng, 10) for c in design.background)
    canvas = _gradient(width, height, top, bottom)
    for name, colour in design.scenery:
        _paint_scenery(canvas, name, _jitter(colour, rng), rng)
    margin = 0.07 if design.layout == "us" else 0.04
    left, right = width * margin, width * (1 - margin)
    if design.layout == "us":
        area_y, area_h = height * rng.uniform(0.25, 0.29), height * rng.uniform(0.48, 0.56)
        paste_text(
            canvas,
            design.header,
            design.header_font,
            _jitter(design.header_colour, rng),
            (width * 0.22, height * 0.04, width * 0.56, height * 0.2),
            rng,
        )
        if design.footer and rng.random() < 0.9:
            paste_text(
                canvas,
                design.footer,
                "small",
                _jitter(design.footer_colour, rng),
                (width * 0.2, height * 0.82, width * 0.6, height * 0.1),
                rng,
            )
        # Distractors: an emblem at the left, stacked side letters (in the ink or a colour of
        # their own) on either side, registration stickers.
        if rng.random() < SPECIALTY_EMBLEM:
            size = area_h * rng.uniform(0.8, 1.0)
            _decal(canvas, (left, area_y + (area_h - size) / 2, size, size), rng)
            left += size * 1.15
        if rng.random() < max(design.side_letters, SPECIALTY_SIDE_LETTERS):
            side_w = width * rng.uniform(0.06, 0.1)
            side_x = left if rng.random() < 0.5 else right - side_w
            ink = design.ink if rng.random() < 0.5 else _vivid(rng)
            _side_letters(canvas, (side_x, area_y, side_w, area_h), _jitter(ink, rng), rng)
            left, right = (
                (left + side_w * 1.3, right) if side_x == left else (left, right - side_w * 1.3)
            )
        for corner in rng.sample(range(4), rng.choice((0, 1, 1, 2))):
            sx = width * 0.04 if corner % 2 == 0 else width * 0.83
            sy = height * 0.05 if corner < 2 else height * 0.8
            _sticker(canvas, (sx, sy, width * 0.13, height * 0.15), rng)
    elif design.layout in ("uk", "eu"):
        area_y, area_h = height * 0.14, height * 0.72
        if design.layout == "eu" or rng.random() < 0.4:
            band_w = width * 0.085
            cv2.rectangle(canvas, (0, 0), (int(band_w), height), (150, 60, 10), -1)
            if design.layout == "eu":
                for i in range(12):
                    angle = i * math.pi / 6
                    centre = (
                        int(band_w / 2 + math.cos(angle) * band_w * 0.3),
                        int(height * 0.3 + math.sin(angle) * band_w * 0.3),
                    )
                    cv2.circle(canvas, centre, 1, (0, 210, 250), -1)
            code = design.band_code or (
                rng.choice(("D", "F", "E", "I", "PL", "SK", "CZ"))
                if design.layout == "eu"
                else "UK"
            )
            paste_text(
                canvas,
                code,
                "caps",
                np.full(3, 245, np.float32),
                (2, height * 0.6, band_w - 4, height * 0.3),
                rng,
            )
            left = band_w + width * 0.02
        if design.layout == "uk" and rng.random() < 0.6:
            paste_text(
                canvas,
                rng.choice(SLOGAN_FRAMES),
                "small",
                np.full(3, 40, np.float32),
                (width * 0.3, height * 0.88, width * 0.4, height * 0.1),
                rng,
            )
    else:
        area_y, area_h = height * 0.3, height * 0.58
        if design.layout == "mercosul":
            cv2.rectangle(canvas, (0, 0), (width, int(height * 0.2)), (150, 60, 10), -1)
            paste_text(
                canvas,
                "BRASIL",
                "caps",
                np.full(3, 245, np.float32),
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
        else:
            city = rng.choice(BRAZILIAN_CITIES)
            paste_text(
                canvas,
                city,
                "caps",
                np.full(3, 30, np.float32),
                (width * 0.2, height * 0.06, width * 0.6, height * 0.15),
                rng,
            )
    _serial(canvas, groups, design, (left, area_y, right - left, area_h), rng)
    _finish(canvas, design, rng)
    return canvas.astype(np.uint8)


def _finish(canvas: np.ndarray, design: Design, rng: random.Random) -> None:
    """Bolts, border, fading and dirt."""
    h, w = canvas.shape[:2]
    if design.layout == "us":
        for bx in (0.18, 0.82):
            centre = (int(w * bx), int(h * 0.11))
            cv2.circle(canvas, centre, int(h * 0.045), (150, 150, 150), -1)
            cv2.circle(canvas, centre, int(h * 0.02), (60, 60, 60), -1)
    cv2.rectangle(
        canvas, (0, 0), (w - 1, h - 1), _jitter(design.ink, rng).tolist(), rng.choice((1, 2, 3))
    )
    # Low-frequency dirt and fading: a coarse random field stretched over the plate.
    field = np.array([[rng.uniform(0.75, 1.05) for _ in range(6)] for _ in range(3)], np.float32)
    shade = cv2.resize(field, (w, h), interpolation=cv2.INTER_CUBIC)
    canvas *= shade[..., None]
    for _ in range(rng.randint(0, 6)):
        cv2.circle(
            canvas, (rng.randrange(w), rng.randrange(h)), rng.randint(1, 3), (70, 80, 90), -1
        )
    np.clip(canvas, 0, 255, out=canvas)


def negative_face(rng: random.Random) -> np.ndarray:
    """A sign or bumper sticker: text on a panel, which a reader should not read as a plate."""
    width, height = rng.choice(((256, 128), (300, 80), (200, 140)))
    colour = np.array([rng.randint(0, 255) for _ in range(3)], np.float32)
    canvas = _gradient(width, height, colour, _jitter(tuple(colour.astype(int)), rng, 30))
    ink = np.full(3, 20 if colour.mean() > 120 else 240, np.float32)
    paste_text(
        canvas,
        rng.choice(_NEGATIVE_TEXT),
        rng.choice(("caps", "script", "small")),
        ink,
        (width * 0.08, height * 0.25, width * 0.84, height * 0.5),
        rng,
    )
    return canvas.astype(np.uint8)


def _car_surround(face: np.ndarray, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """The face on a car body, perhaps inside a dealer frame; returns image and face corners."""
    h, w = face.shape[:2]
    pad_x, pad_y = int(w * 0.3), int(h * 0.6)
    body = np.array([rng.randint(10, 240) for _ in range(3)], np.float32)
    canvas = _gradient(w + 2 * pad_x, h + 2 * pad_y, body, body * rng.uniform(0.4, 1.0), np.uint8)
    if rng.random() < 0.5:  # bumper line or number-plate recess
        y = pad_y + h + int(h * rng.uniform(0.1, 0.4))
        cv2.rectangle(canvas, (0, y), (canvas.shape[1], canvas.shape[0]), (body * 0.5).tolist(), -1)
    canvas[pad_y : pad_y + h, pad_x : pad_x + w] = face
    if rng.random() < 0.2:  # dealer frame over the plate's edges, with the dealer's name
        frame = [rng.choice((20, 30, 180))] * 3
        lip, side = int(h * 0.05), int(w * 0.025)
        below = int(h * rng.uniform(0.12, 0.22))  # the band under the plate carries the name
        x0, y0, x1, y1 = pad_x - side, pad_y - lip, pad_x + w + side, pad_y + h + below
        for rect in (
            (x0, y0, x1, pad_y + lip),
            (x0, pad_y + h - lip, x1, y1),
            (x0, y0, pad_x + side, y1),
            (pad_x + w - side, y0, x1, y1),
        ):
            cv2.rectangle(canvas, rect[:2], rect[2:], frame, -1)
        ink = np.full(3, 235 if frame[0] < 100 else 20, np.float32)
        name_box = (x0 + w * 0.15, pad_y + h + below * 0.1, w * 0.7, below * 0.8)
        paste_text(canvas, rng.choice(SLOGAN_FRAMES), "caps", ink, name_box, rng)
    corners = np.array(
        [[pad_x, pad_y], [pad_x + w, pad_y], [pad_x + w, pad_y + h], [pad_x, pad_y + h]], np.float32
    )
    return canvas, corners


def perspective_quad(
    width: float, height: float, rng: random.Random, strength: float = 1.0
) -> np.ndarray:
    """Corners (clockwise from top-left) of a plate of this size seen off-axis and rotated."""
    yaw = rng.uniform(-0.25, 0.25) * strength  # one side nearer the camera: taller
    pitch = rng.uniform(-0.12, 0.12) * strength
    angle = math.radians(rng.uniform(-7, 7) * strength)
    quad = np.array(
        [
            [-width / 2 * (1 - pitch), -height / 2 * (1 - yaw)],
            [width / 2 * (1 - pitch), -height / 2 * (1 + yaw)],
            [width / 2 * (1 + pitch), height / 2 * (1 + yaw)],
            [-width / 2 * (1 + pitch), height / 2 * (1 - yaw)],
        ],
        np.float32,
    )
    quad[:, 0] *= 1 - abs(yaw) * 0.8  # turning away also foreshortens
    rotation = np.array(
        [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], np.float32
    )
    return quad @ rotation.T


def _camera_crop(face: np.ndarray, rng: random.Random) -> np.ndarray:
    surround, corners = _car_surround(face, rng)
    aspect = face.shape[0] / face.shape[1]
    out_w = math.exp(rng.uniform(math.log(48), math.log(260)))
    # Half the crops are tight and nearly frontal, as a good detector and a plate facing the
    # camera give; the rest are loose and oblique.
    tight = rng.random() < 0.5
    quad = perspective_quad(out_w, out_w * aspect, rng, strength=0.35 if tight else 1.0)
    loose_x, loose_y = (0.04, 0.06) if tight else (0.12, 0.25)
    margin_x = [out_w * rng.uniform(0.0, loose_x) for _ in range(2)]
    margin_y = [out_w * aspect * rng.uniform(0.0, loose_y) for _ in range(2)]
    x0, y0 = quad[:, 0].min() - margin_x[0], quad[:, 1].min() - margin_y[0]
    x1, y1 = quad[:, 0].max() + margin_x[1], quad[:, 1].max() + margin_y[1]
    size = (max(int(x1 - x0 + 0.5), 8), max(int(y1 - y0 + 0.5), 8))
    target = (quad - np.array([x0, y0], np.float32)).astype(np.float32)
    homography = cv2.getPerspectiveTransform(corners, target)
    image = cv2.warpPerspective(
        surround, homography, size, flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE
    )
    if rng.random() < 0.05:  # a tow ball or bumper edge covering a sliver of the plate
        x = rng.choice((0, int(size[0] * rng.uniform(0.9, 0.96))))
        cv2.rectangle(
            image, (x, 0), (x + int(size[0] * 0.06), size[1]), [rng.randint(0, 80)] * 3, -1
        )
    if rng.random() < 0.15:
        image = effects.glare(image, rng)
    reflective = None
    if rng.random() < 0.12:
        plate_mask = np.zeros(image.shape[:2], np.float32)
        cv2.fillPoly(plate_mask, [target.astype(np.int32)], 1.0)
        reflective = plate_mask
    return camera_effects(image, rng, infrared_mask=reflective, scale=out_w / 200)


def camera_effects(
    image: np.ndarray,
    rng: random.Random,
    infrared_mask: np.ndarray | None = None,
    scale: float = 1.0,
) -> np.ndarray:
    """Random blur, exposure, infrared, noise and JPEG; `scale` (plate width / 200 px for a
    crop) keeps blur lengths proportional to what is in view."""
    if infrared_mask is not None:
        image = effects.infrared(image, infrared_mask, bloom=rng.uniform(0, 3) * scale)
    if rng.random() < 0.3:
        image = effects.motion_blur(image, int(rng.uniform(2, 10) * scale), rng.uniform(-20, 20))
    if rng.random() < 0.3:
        image = effects.defocus(image, rng.uniform(0.3, 2.0) * scale)
    if rng.random() < 0.5:
        image = effects.exposure(image, rng.uniform(0.5, 1.5), rng.uniform(0.6, 1.6))
    if rng.random() < 0.6:
        image = effects.sensor_noise(image, rng, rng.uniform(2, 12))
    if rng.random() < 0.6:
        image = effects.jpeg(image, rng.randint(30, 95))
    return image
