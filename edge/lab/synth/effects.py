"""Camera effects shared by plate crops, scenes and the sample video.

Each takes and returns a uint8 BGR image and draws its randomness from the generator it is
given, so that a seed fixes the output.
"""

from __future__ import annotations

import random
from functools import cache

import cv2
import numpy as np


def motion_blur(image: np.ndarray, length: int, angle_deg: float) -> np.ndarray:
    """Blur along a line, as a moving vehicle smears under a long exposure."""
    if length < 2:
        return image
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), angle_deg, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (length, length))
    kernel /= max(float(kernel.sum()), 1e-6)
    return cv2.filter2D(image, -1, kernel)


def defocus(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0.3 else image


def exposure(image: np.ndarray, gain: float, gamma: float) -> np.ndarray:
    """Over- or under-expose: scale, then bend the tone curve."""
    lut = np.clip(((np.arange(256) / 255.0) ** gamma) * gain * 255.0, 0, 255).astype(np.uint8)
    return cv2.LUT(image, lut)


# Big enough for a 1280x720 frame with room to move the window around.
_TILE_SHAPE = (768, 1344)


@cache
def _noise_tile() -> np.ndarray:
    # One fixed tile of Gaussian noise, sampled at random offsets: far cheaper than drawing
    # fresh noise for every image, and just as deterministic.
    return np.random.default_rng(0).standard_normal((*_TILE_SHAPE, 3), dtype=np.float32)


def sensor_noise(image: np.ndarray, rng: random.Random, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return image
    h, w = image.shape[:2]
    tile = _noise_tile()
    if h > tile.shape[0] or w > tile.shape[1]:
        tile = np.tile(tile, (h // tile.shape[0] + 1, w // tile.shape[1] + 1, 1))
    y, x = rng.randint(0, tile.shape[0] - h), rng.randint(0, tile.shape[1] - w)
    noise = tile[y : y + h, x : x + w, : image.shape[2]] * sigma
    return np.clip(image + noise, 0, 255).astype(np.uint8)


def glare(image: np.ndarray, rng: random.Random) -> np.ndarray:
    """A soft bright band across the image, as sunlight reflects off a plate's sheeting."""
    h, w = image.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(h, dtype=np.float32)[:, None]
    offset = (xs - rng.uniform(0, w) - ys * rng.uniform(-1.0, 1.0)) / (rng.uniform(0.1, 0.35) * w)
    band = np.exp(-offset * offset) * rng.uniform(60, 160)
    return np.clip(image + band[..., None], 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else image


def infrared(image: np.ndarray, reflective: np.ndarray | None, bloom: float) -> np.ndarray:
    """Night infrared: grey, dark surroundings, a bright retro-reflective plate, bloom.

    `reflective` is a float mask (0..1) of plate pixels, or None when the plate covers the
    whole image.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    # Retro-reflective sheeting sends the illuminator back: the plate saturates and the ink
    # stays dark; everything else falls off.
    plate = np.clip((grey - 60) * 1.9 + 60, 0, 255)
    dark = grey * 0.35
    lit = plate if reflective is None else dark + (plate - dark) * reflective
    if bloom > 0:
        glow = cv2.GaussianBlur(lit, (0, 0), bloom)
        lit = np.maximum(lit, glow * 0.9)
    out = np.clip(lit, 0, 255).astype(np.uint8)
    return cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
