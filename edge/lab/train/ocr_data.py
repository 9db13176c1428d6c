"""Training samples for the plate reader: a pool of model-ready crops and batch augmentation.

Rendering a plate costs about as much as a training step, and both share one core, so samples
live in a fixed-size pool that the trainer refreshes a little every step (fresh plates all the
time without waiting on the renderer) and that real pseudo-labelled crops can join.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from fast_plate_ocr.inference.config import PlateConfig

from edge.lab.synth.camera import camera_crop  # the renderer's own crop step
from edge.lab.synth.formats import random_groups
from edge.lab.synth.plates import PlateRenderer, PlateSample
from edge.lab.train.ocr_model import OcrModelShape
from edge.plates.masks import fits_region_format
from edge.plates.regions import US_STATES, region
from edge.runtime.recognise.preprocess import to_model_input

# Region target for real crops whose state is unknown: the loss skips them.
UNKNOWN_REGION = -100


def encode_text(text: str, shape: OcrModelShape) -> np.ndarray:
    """Slot targets for a label: character indices, then the pad character."""
    if len(text) > shape.max_plate_slots:
        raise ValueError(f"{text!r} is longer than {shape.max_plate_slots} slots")
    padded = text + shape.pad_char * (shape.max_plate_slots - len(text))
    return np.array([shape.alphabet.index(c) for c in padded], dtype=np.int64)


def plate_config(shape: OcrModelShape) -> PlateConfig:
    """The inference config for a shape; training preprocesses crops through it too."""
    return PlateConfig(
        max_plate_slots=shape.max_plate_slots,
        alphabet=shape.alphabet,
        pad_char=shape.pad_char,
        img_height=shape.img_height,
        img_width=shape.img_width,
        keep_aspect_ratio=False,
        interpolation="area",
        image_color_mode="rgb",
        plate_regions=list(shape.regions) or None,
    )


@dataclass(frozen=True)
class LabelledCrop:
    """A BGR plate crop with its text and region code (None when unknown)."""

    image: np.ndarray
    text: str
    region: str | None
    source: str = ""  # the real data set it came from ("" for rendered plates)


class SamplePool:
    """A ring of model-ready samples; new ones overwrite the oldest."""

    def __init__(self, capacity: int, shape: OcrModelShape) -> None:
        self.shape = shape
        self.config = plate_config(shape)
        self.images = np.zeros((capacity, shape.img_height, shape.img_width, 3), np.uint8)
        self.chars = np.zeros((capacity, shape.max_plate_slots), np.int64)
        self.regions = np.full(capacity, UNKNOWN_REGION, np.int64)
        self.size = 0
        self._next = 0

    @property
    def capacity(self) -> int:
        return len(self.images)

    def add(self, crop: LabelledCrop) -> None:
        slot = self._next
        self.images[slot] = to_model_input(crop.image, self.config)
        self.chars[slot] = encode_text(crop.text, self.shape)
        self.regions[slot] = (
            self.shape.regions.index(crop.region)
            if crop.region in self.shape.regions
            else UNKNOWN_REGION
        )
        self._next = (slot + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def extend(self, crops: Iterable[LabelledCrop]) -> None:
        for crop in crops:
            self.add(crop)

    def batch(
        self, count: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(uint8 NHWC images, slot targets, region targets) drawn at random."""
        index = rng.integers(0, self.size, count)
        return (
            torch.from_numpy(self.images[index]),
            torch.from_numpy(self.chars[index]),
            torch.from_numpy(self.regions[index]),
        )


def concat_batches(
    parts: Sequence[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    images, chars, regions = zip(*parts, strict=True)
    return torch.cat(images), torch.cat(chars), torch.cat(regions)


def _random_affine(count: int, generator: torch.Generator) -> torch.Tensor:
    """Small rotations, shears, zooms and shifts: the slack of a detector's crop."""

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(count, generator=generator) * (high - low) + low

    angle = uniform(-6, 6) * math.pi / 180
    shear = uniform(-0.15, 0.15)
    scale_x = uniform(0.85, 1.12)
    scale_y = scale_x * uniform(0.9, 1.1)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.zeros(count, 2, 3)
    theta[:, 0, 0] = cos * scale_x
    theta[:, 0, 1] = (-sin + shear) * scale_x
    theta[:, 1, 0] = sin * scale_y
    theta[:, 1, 1] = cos * scale_y
    theta[:, 0, 2] = uniform(-0.06, 0.06)
    theta[:, 1, 2] = uniform(-0.08, 0.08)
    return theta


def augment(images: torch.Tensor, generator: torch.Generator, share: float) -> torch.Tensor:
    """uint8 NHWC -> float NCHW in [0, 1]; `share` of the images get geometry, resolution, colour
    and noise on top of the renderer's camera effects (none early on: CTC learns faster first on
    the plain crops)."""
    x = images.permute(0, 3, 1, 2).float() / 255.0
    chosen = torch.rand(len(x), generator=generator) < share
    if chosen.any():
        x[chosen] = _distort(x[chosen], generator)
    return x


def _distort(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    n, _, h, w = x.shape
    grid = F.affine_grid(_random_affine(n, generator), list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, padding_mode="border", align_corners=False)

    # A fifth of the batch loses resolution: far or small plates upscaled by the resize.
    low = torch.rand(n, generator=generator) < 0.2
    if low.any():
        factor = float(torch.empty(1).uniform_(0.3, 0.7, generator=generator))
        small = F.interpolate(x[low], scale_factor=factor, mode="bilinear", antialias=True)
        x[low] = F.interpolate(small, size=(h, w), mode="bilinear")

    # Per-image contrast, brightness, gamma and colour cast.
    contrast = torch.empty(n, 1, 1, 1).uniform_(0.5, 1.3, generator=generator)
    brightness = torch.empty(n, 1, 1, 1).uniform_(-0.25, 0.25, generator=generator)
    cast = torch.empty(n, 3, 1, 1).uniform_(0.85, 1.15, generator=generator)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * contrast + mean + brightness) * cast
    gamma = torch.empty(n, 1, 1, 1).uniform_(0.7, 1.4, generator=generator)
    x = x.clamp(0, 1) ** gamma

    # Some images go grey (infrared cameras) and some get inverted colours (dark plates).
    grey = torch.rand(n, generator=generator) < 0.15
    x[grey] = x[grey].mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    invert = torch.rand(n, generator=generator) < 0.05
    x[invert] = 1.0 - x[invert]

    noise = torch.rand(n, 1, 1, 1, generator=generator) * 0.05
    x = x + torch.randn(x.shape, generator=generator) * noise
    return x.clamp(0, 1)


# Extra weight of letters the state serial rules rarely print (no I/O/Q in most letter
# positions) but real plates show often enough to be misread: I ~1.0 % and Q ~0.55 % of the
# characters of real US plates against 0.32 % and 0.16 % in the synthetic serials, with W
# misread as M/H. Letters not named weigh 1. Used for vanity texts only (any letter is legal
# there), so the synth package's serial rules stay the real ones.
RARE_LETTER_WEIGHTS = {"I": 6.0, "Q": 4.5, "W": 2.5} | dict.fromkeys("JUVXZ", 1.5)


def _vanity_states() -> frozenset[str]:
    return frozenset(s for s in US_STATES if any(f.kind == "vanity" for f in region(s).formats))


def rare_letter_text(state: str, rng: random.Random) -> str | None:
    """A vanity text shaped like the state's serial (its letter/digit layout) whose letters are
    drawn with `RARE_LETTER_WEIGHTS`; None when the state prints no vanity plates or the text
    would not be a legal vanity plate there."""
    if state not in _vanity_states():
        return None
    letters = [c for c in region(state).charset("X") if c.isalpha()]
    weights = [RARE_LETTER_WEIGHTS.get(c, 1.0) for c in letters]
    reg = region(state)
    kinds = {f.kind for f in reg.formats if f.kind != "vanity"}
    serial = "".join(random_groups(state, rng, kinds))
    text = "".join(rng.choices(letters, weights)[0] if c.isalpha() else c for c in serial)
    return text if fits_region_format(text, state) else None


class LetterBalancedRenderer:
    """A `PlateRenderer` whose plates are, at `rate`, vanity texts rich in rare letters."""

    def __init__(self, renderer: PlateRenderer, rate: float) -> None:
        self.renderer = renderer
        self.rate = rate

    def render(self) -> PlateSample:
        base = self.renderer
        if self.rate > 0 and base.rng.random() < self.rate:
            design = base.rng.choices(base.designs, weights=base.weights)[0]
            text = rare_letter_text(design.state, base.rng)
            if text is not None:
                flat = base.draw_plate(design.state, text)
                image = camera_crop(flat.image, base.rng)
                return PlateSample(image, flat.text, flat.state, flat.design)
        return base.render()
