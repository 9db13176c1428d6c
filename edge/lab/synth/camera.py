"""The camera half of a synthetic plate crop: a plate face mounted on a car body (maybe behind a
dealer frame), seen off-axis and cut out as a detector would, then blurred, exposed, lit by
infrared, noised and JPEG-compressed.

Every step draws from `rng` in a fixed order, so the same seed gives the same crop.
"""

from __future__ import annotations

import math
import random

import cv2
import numpy as np

from edge.lab.synth import effects, paint
from edge.lab.synth.designs import SLOGAN_FRAMES


def _car_surround(face: np.ndarray, rng: random.Random) -> tuple[np.ndarray, np.ndarray]:
    """The face on a car body, perhaps inside a dealer frame; returns image and face corners."""
    h, w = face.shape[:2]
    pad_x, pad_y = int(w * 0.3), int(h * 0.6)
    body = np.array([rng.randint(10, 240) for _ in range(3)], np.float32)
    canvas = paint.gradient(
        w + 2 * pad_x, h + 2 * pad_y, body, body * rng.uniform(0.4, 1.0), np.uint8
    )
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
        paint.paste_text(canvas, rng.choice(SLOGAN_FRAMES), "caps", ink, name_box, rng)
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


def camera_crop(face: np.ndarray, rng: random.Random) -> np.ndarray:
    """A crop around `face` as a detector would cut it from a frame of a car carrying it."""
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
