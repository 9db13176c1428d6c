"""Synthetic licence plates: a flat plate drawn from a design, then seen through a camera.

`PlateRenderer.draw_plate()` picks a design (`designs`), lets its plate family (`layouts`) print
what surrounds the serial, and lays out the serial with what a reader must ignore between its
groups (dashes, dots, logos, stickers); `PlateRenderer.render()` hands the face to `camera`,
which mounts it on a car body, maybe behind a dealer frame, and returns a crop as a detector
would cut it, after perspective, blur, exposure, infrared, noise and JPEG. The label is the
serial alone.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np

from edge.lab.synth import paint
from edge.lab.synth.camera import camera_crop
from edge.lab.synth.designs import DESIGNS, Colour, Design
from edge.lab.synth.fonts import fonts
from edge.lab.synth.formats import random_groups
from edge.lab.synth.glyphs import die_shapes, glyph_mask
from edge.lab.synth.layouts import LAYOUTS, Layout
from edge.lab.synth.paint import Rect
from edge.plates.regions import REGION_CODES, US, region

_camera_crop = camera_crop

STATE_FREQUENCY = {"CA": 8.0} | dict.fromkeys(
    ("NV", "AZ", "OR", "WA", "TX", "FL", "NY", "UT", "ID", "CO", "IL", "NM"), 2.0
)
# What may sit between character groups, and its width as a share of the serial's height.
SEPARATOR_WIDTH = {"none": 0.0, "gap": 0.35, "dash": 0.45, "dot": 0.35, "logo": 0.7, "sticker": 0.6}
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


def _serial(
    canvas: np.ndarray,
    groups: list[str],
    design: Design,
    layout: Layout,
    area: Rect,
    rng: random.Random,
) -> None:
    """Lay out the serial in `area` (x, y, w, h): glyph heights fill h, groups split by the
    design's separator, squeezed to fit w; embossed with a shadow and a highlight."""
    x, y, w, h = area
    font = rng.choice(fonts(design.font_role))
    condense = rng.uniform(0.72, 1.0) if design.font_role == "serial" else rng.uniform(0.85, 1.0)
    shapes = die_shapes(layout.name, "".join(groups))
    glyphs = [[glyph_mask(c, font, shapes) for c in group] for group in groups]
    widths = [[g.shape[1] * h / g.shape[0] * condense for g in group] for group in glyphs]
    if rng.random() < 0.5:  # fixed-pitch dies
        pitch = max(max(ws) for ws in widths)
        cells = [[max(wi, pitch * 0.8) for wi in ws] for ws in widths]
    else:
        cells = widths
    spacing = h * rng.uniform(0.05, 0.14)
    separator, logo, logo_colour = rng.choice(design.separators), design.logo, design.logo_colour
    specialty = layout.specialty_logo(rng) if len(groups) > 1 else None
    if specialty is not None:
        separator, (logo, logo_colour) = "logo", specialty
    sep = h * SEPARATOR_WIDTH[separator]
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
            _separator(canvas, layer, kind, layout, box, rng, (logo, logo_colour))
            cursor += (sep + spacing) * squeeze
        for glyph, width, cell in zip(group, ws, cs, strict=True):
            scaled = paint.resized(glyph, int(width * squeeze), int(h))
            left = int(cursor + (cell - width) * squeeze / 2)
            target = layer[int(y) : int(y) + scaled.shape[0], left : left + scaled.shape[1]]
            np.maximum(target, scaled[: target.shape[0], : target.shape[1]], out=target)
            cursor += (cell + spacing) * squeeze
    stroke = rng.choice((-1, 0, 0, 1))
    if stroke:
        op = cv2.dilate if stroke > 0 else cv2.erode
        layer = op(layer, np.ones((2, 2), np.uint8))
    ink = paint.jitter(design.ink, rng)
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
    layout: Layout,
    box: Rect,
    rng: random.Random,
    logo: tuple[str, Colour],
) -> None:
    """Draw a separator in `box`: dashes and dots into the ink layer (embossed with the serial),
    logos and stickers onto the face."""
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
        paint.draw_logo(canvas, kind, paint.jitter(colour, rng), (x, y + h * 0.1, w, h * 0.8), rng)
    elif kind == "sticker":
        layout.sticker(canvas, box, rng)


def _outside_us_weighted(designs: list[Design], weights: list[float], share: float) -> list[float]:
    """`weights` rescaled so the designs of regions outside the US draw `share` of the plates
    (a fine-tune on thousands of real US crops needs more European and Brazilian renders to
    keep reading those plates)."""
    if not 0.0 <= share < 1.0:
        raise ValueError(f"outside_us_share must be within [0, 1), got {share}")
    outside = [region(d.state).country != US for d in designs]
    total_out = sum(w for w, o in zip(weights, outside, strict=True) if o)
    total_us = sum(weights) - total_out
    if total_out == 0 or total_us == 0:
        return weights
    return [
        w * (share / total_out if o else (1 - share) / total_us)
        for w, o in zip(weights, outside, strict=True)
    ]


class PlateRenderer:
    """Draws random labelled plates; the same seed gives the same sequence of plates."""

    def __init__(
        self,
        seed: int,
        states: tuple[str, ...] | None = None,
        negative_rate: float = 0.0,
        outside_us_share: float | None = None,
    ) -> None:
        wanted = tuple(region(s).code for s in states) if states else REGION_CODES
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
        if outside_us_share is not None:
            self.weights = _outside_us_weighted(self.designs, self.weights, outside_us_share)

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
        image = camera_crop(sample.image, self.rng)
        return PlateSample(image, sample.text, sample.state, sample.design)


def _split_groups(text: str) -> list[str]:
    """Groups for a given text: split at the letter/digit change nearest the middle."""
    cuts = [i for i in range(1, len(text)) if text[i - 1].isdigit() != text[i].isdigit()]
    if not cuts or len(text) < 5:
        return [text]
    cut = min(cuts, key=lambda i: abs(i - len(text) / 2))
    return [text[:cut], text[cut:]]


def _draw_face(design: Design, groups: list[str], rng: random.Random) -> np.ndarray:
    layout = LAYOUTS[design.layout]
    width, height = layout.size
    top, bottom = (paint.jitter(c, rng, 10) for c in design.background)
    canvas = paint.gradient(width, height, top, bottom)
    for name, colour in design.scenery:
        paint.paint_scenery(canvas, name, paint.jitter(colour, rng), rng)
    area = layout.decorate(canvas, design, rng)
    _serial(canvas, groups, design, layout, area, rng)
    _finish(canvas, design, layout, rng)
    return canvas.astype(np.uint8)


def _finish(canvas: np.ndarray, design: Design, layout: Layout, rng: random.Random) -> None:
    """Bolts, border, fading and dirt."""
    h, w = canvas.shape[:2]
    layout.draw_bolts(canvas)
    cv2.rectangle(
        canvas,
        (0, 0),
        (w - 1, h - 1),
        paint.jitter(design.ink, rng).tolist(),
        rng.choice((1, 2, 3)),
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
    canvas = paint.gradient(width, height, colour, paint.jitter(tuple(colour.astype(int)), rng, 30))
    ink = np.full(3, 20 if colour.mean() > 120 else 240, np.float32)
    paint.paste_text(
        canvas,
        rng.choice(_NEGATIVE_TEXT),
        rng.choice(("caps", "script", "small")),
        ink,
        (width * 0.08, height * 0.25, width * 0.84, height * 0.5),
        rng,
    )
    return canvas.astype(np.uint8)
