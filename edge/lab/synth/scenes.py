"""Street scenes with plates on drawn vehicles, and their exact boxes and corners.

A scene is a drawn street (sky, buildings with signs, road with lane markings) with vehicles
seen from behind or in front, each carrying a plate from `PlateRenderer.draw_plate()`. The
plate face is warped straight into the frame, so its corners and box are exact: the box is
the tight pixel box around the warped plate, clipped to the frame.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import cv2
import numpy as np

from edge.lab.synth import effects
from edge.lab.synth.camera import camera_effects, perspective_quad
from edge.lab.synth.plates import FlatPlate, PlateRenderer, negative_face
from edge.runtime.types import Box

# Physical plate widths (m) by layout: a plate's share of the vehicle's width follows.
_PLATE_WIDTH_M = {"us": 0.305, "uk": 0.52, "eu": 0.52, "mercosul": 0.40, "br-grey": 0.40}
_CAR_COLOURS = (
    (235, 235, 235),
    (30, 30, 30),
    (170, 170, 175),
    (110, 110, 115),
    (40, 40, 170),
    (130, 70, 30),
    (60, 90, 40),
    (200, 200, 190),
    (40, 120, 200),
    (90, 60, 60),
)
LIGHTING = ("day", "dusk", "night", "infrared")


@dataclass(frozen=True)
class PlacedPlate:
    """A plate in a frame: its label, and where it was drawn (corners clockwise from top-left)."""

    text: str
    state: str
    box: Box
    corners: tuple[tuple[float, float], ...]


@dataclass(frozen=True, eq=False)
class Scene:
    image: np.ndarray  # uint8 BGR
    plates: list[PlacedPlate] = field(default_factory=list)
    lighting: str = "day"


@dataclass(frozen=True, eq=False)
class Sprite:
    """A vehicle drawn face-on: colour, coverage (0..1) and where its plate goes."""

    image: np.ndarray
    alpha: np.ndarray
    plate_corners: np.ndarray  # 4x2 float32, in sprite pixels
    lights: tuple[tuple[float, float, float], ...]  # (x, y, radius) of lamps, sprite pixels
    lamp_colour: tuple[int, int, int]


def plate_width_share(plate: FlatPlate, rng: random.Random) -> float:
    """A plate's width as a share of its vehicle's width (1.7-2.0 m wide vehicles)."""
    layout = "us" if plate.image.shape[1] / plate.image.shape[0] < 2.5 else "eu"
    if plate.state == "BR":
        layout = "mercosul"
    return _PLATE_WIDTH_M[layout] / rng.uniform(1.7, 2.0)


def draw_vehicle(plate: FlatPlate, width: int, rng: random.Random, view: str) -> Sprite:
    """A car, SUV or van seen from behind (`rear`) or in front (`front`), `width` px wide."""
    tall = rng.uniform(0.72, 1.0)
    w, h = width, max(int(width * tall), 4)
    image = np.zeros((h, w, 3), np.uint8)
    alpha = np.zeros((h, w), np.uint8)
    body = rng.choice(_CAR_COLOURS)
    body = tuple(int(min(max(c + rng.uniform(-15, 15), 0), 255)) for c in body)
    roof = rng.uniform(0.12, 0.22)
    shoulder = rng.uniform(0.38, 0.5)

    def pts(*xy: tuple[float, float]) -> np.ndarray:
        return np.array([[x * w, y * h] for x, y in xy], np.int32)

    outline = pts(
        (roof, 0.0), (1 - roof, 0.0), (0.97, shoulder), (1.0, 0.6), (1.0, 0.9), (0.0, 0.9),
        (0.0, 0.6), (0.03, shoulder),
    )  # fmt: skip
    for mask_or_image, colour in ((alpha, 255), (image, body)):
        cv2.fillPoly(mask_or_image, [outline], colour, cv2.LINE_AA)
    wheels = [pts((0.05, 0.82), (0.22, 0.82), (0.22, 1.0), (0.05, 1.0))]
    wheels.append(pts((0.78, 0.82), (0.95, 0.82), (0.95, 1.0), (0.78, 1.0)))
    for wheel in wheels:
        cv2.fillPoly(alpha, [wheel], 255, cv2.LINE_AA)
        cv2.fillPoly(image, [wheel], (20, 20, 20), cv2.LINE_AA)
    # Glass, with a sky reflection towards the top.
    glass = pts(
        (roof + 0.03, 0.04), (1 - roof - 0.03, 0.04), (0.9, shoulder - 0.04), (0.1, shoulder - 0.04)
    )
    tint = rng.randint(25, 70)
    cv2.fillPoly(image, [glass], (tint + 25, tint + 15, tint), cv2.LINE_AA)
    shade = (np.array(body) * 0.6).astype(int).tolist()
    cv2.rectangle(image, (0, int(0.78 * h)), (w - 1, int(0.9 * h)), shade, -1)  # bumper
    lamp_y = shoulder + 0.08
    lamp_colour = (30, 30, 200) if view == "rear" else (225, 235, 240)
    lights = []
    for x0 in (0.03, 0.81):
        cv2.rectangle(
            image, (int(x0 * w), int(lamp_y * h)), (int((x0 + 0.16) * w), int((lamp_y + 0.08) * h)),
            lamp_colour, -1,
        )  # fmt: skip
        lights.append(((x0 + 0.08) * w, (lamp_y + 0.04) * h, 0.06 * w))
    if view == "front":
        cv2.rectangle(
            image, (int(0.3 * w), int(lamp_y * h)), (int(0.7 * w), int((lamp_y + 0.12) * h)),
            (35, 35, 35), -1,
        )  # fmt: skip
    # The plate: on the trunk lid or the bumper, centred.
    plate_w = w * plate_width_share(plate, rng)
    plate_h = plate_w * plate.image.shape[0] / plate.image.shape[1]
    cy = h * (rng.uniform(0.62, 0.7) if view == "rear" else rng.uniform(0.76, 0.8))
    cx = w * (0.5 + rng.uniform(-0.02, 0.02))
    corners = np.array(
        [
            [cx - plate_w / 2, cy - plate_h / 2],
            [cx + plate_w / 2, cy - plate_h / 2],
            [cx + plate_w / 2, cy + plate_h / 2],
            [cx - plate_w / 2, cy + plate_h / 2],
        ],
        np.float32,
    )
    glow = (60, 60, 255) if view == "rear" else (230, 240, 255)
    return Sprite(image, alpha.astype(np.float32) / 255.0, corners, tuple(lights), glow)


@dataclass(frozen=True, eq=False)
class Patch:
    """Where a warped image landed: its coverage (0..1) of frame[y : y + h, x : x + w]."""

    alpha: np.ndarray
    x: int
    y: int

    def add_to(self, mask: np.ndarray) -> None:
        """Merge this coverage into a full-frame mask (maximum)."""
        h, w = self.alpha.shape
        roi = mask[self.y : self.y + h, self.x : self.x + w]
        np.maximum(roi, self.alpha, out=roi)


def warp_into(
    frame: np.ndarray,
    source: np.ndarray,
    source_alpha: np.ndarray | None,
    homography: np.ndarray,
    owner: np.ndarray | None = None,
    owner_id: int = 0,
) -> Patch | None:
    """Blend `source`, warped by `homography`, into `frame` in place; returns where it landed
    (None when wholly outside). `owner` records `owner_id` where coverage > 0.5."""
    h, w = source.shape[:2]
    corners = cv2.perspectiveTransform(
        np.array([[[0, 0], [w, 0], [w, h], [0, h]]], np.float32), homography
    )[0]
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(int(x1), frame.shape[1]), min(int(y1), frame.shape[0])
    if x1 <= x0 or y1 <= y0:
        return None
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64) @ homography
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(source, shift, size, flags=cv2.INTER_LINEAR)
    ones = np.ones((h, w), np.float32) if source_alpha is None else source_alpha
    alpha = cv2.warpPerspective(ones, shift, size, flags=cv2.INTER_LINEAR)
    roi = frame[y0:y1, x0:x1]
    roi[...] = roi + (warped.astype(np.float32) - roi) * alpha[..., None]
    if owner is not None:
        owner[y0:y1, x0:x1][alpha > 0.5] = owner_id
    return Patch(alpha, x0, y0)


def visible_box(
    patch: Patch | None, owner: np.ndarray, owner_id: int, quad: np.ndarray
) -> Box | None:
    """The tight box around a plate's pixels that nothing nearer covers. None when under 60 %
    of the plate is in frame or uncovered: nobody could read it, so it gets no label."""
    if patch is None:
        return None
    h, w = patch.alpha.shape
    drawn = patch.alpha > 0.5
    visible = drawn & (owner[patch.y : patch.y + h, patch.x : patch.x + w] == owner_id)
    area = abs(cv2.contourArea(quad.astype(np.float32)))
    if drawn.sum() < 0.6 * area or visible.sum() < 0.6 * max(int(drawn.sum()), 1):
        return None
    rows = np.flatnonzero(visible.any(axis=1))
    cols = np.flatnonzero(visible.any(axis=0))
    return Box(
        patch.x + int(cols[0]),
        patch.y + int(rows[0]),
        int(cols[-1] - cols[0] + 1),
        int(rows[-1] - rows[0] + 1),
    )


def draw_street(width: int, height: int, rng: random.Random) -> tuple[np.ndarray, float]:
    """A street seen from a pole: sky, buildings, road. Returns (float image, horizon y)."""
    horizon = height * rng.uniform(0.15, 0.4)
    image = np.empty((height, width, 3), np.float32)
    sky_top = np.array(
        [rng.uniform(150, 240), rng.uniform(120, 200), rng.uniform(80, 160)], np.float32
    )
    t = np.linspace(0, 1, max(int(horizon), 1), dtype=np.float32)[:, None, None]
    image[: int(horizon)] = sky_top * (1 - t) + np.float32(225) * t
    road = rng.uniform(70, 130)
    image[int(horizon) :] = road
    x = rng.uniform(-40, 0)
    while x < width:  # buildings along the horizon, some with signs
        bw, bh = rng.uniform(60, 220), rng.uniform(0.4, 1.0) * horizon + 20
        colour = [rng.uniform(60, 220) for _ in range(3)]
        top = int(horizon - bh)
        cv2.rectangle(image, (int(x), top), (int(x + bw), int(horizon) + 10), colour, -1)
        for wy in range(top + 8, int(horizon) - 8, 18):
            for wx in range(int(x) + 8, int(x + bw) - 12, 20):
                cv2.rectangle(image, (wx, wy), (wx + 9, wy + 10), [c * 0.5 for c in colour], -1)
        x += bw + rng.uniform(0, 30)
    vanishing = (width * rng.uniform(0.3, 0.7), horizon)
    for lane in np.linspace(-1.5, 2.5, 5):
        bottom_x = width * (0.5 + lane * rng.uniform(0.3, 0.45))
        cv2.line(
            image,
            (int(vanishing[0]), int(vanishing[1])),
            (int(bottom_x), height),
            (200, 200, 200) if lane % 1 else (60, 200, 230),
            max(2, width // 400),
            cv2.LINE_AA,
        )
    grain = cv2.resize(
        np.array([[rng.uniform(0.85, 1.1) for _ in range(16)] for _ in range(9)], np.float32),
        (width, height),
        interpolation=cv2.INTER_CUBIC,
    )
    image *= grain[..., None]
    return image, horizon


class SceneRenderer:
    """Random street scenes with labelled plates; the same seed gives the same scenes."""

    def __init__(self, seed: int, states: tuple[str, ...] | None = None) -> None:
        self.rng = random.Random(seed)
        self.plates = PlateRenderer(seed + 7919, states=states)

    def render(self, width: int, height: int) -> Scene:
        if width < 64 or height < 64:
            raise ValueError(f"scene size must be at least 64x64, got {width}x{height}")
        rng = self.rng
        lighting = rng.choices(LIGHTING, weights=(0.55, 0.12, 0.15, 0.18))[0]
        image, horizon = draw_street(width, height, rng)
        self._signs(image, horizon, rng)
        owner = np.full((height, width), -1, np.int32)
        placed: list[tuple[FlatPlate, np.ndarray, np.ndarray]] = []
        plate_mask = np.zeros((height, width), np.float32)
        lamps: list[tuple[float, float, float, tuple[int, int, int]]] = []
        # Far vehicles first, so nearer ones cover them as they would. A third of the scenes
        # are close-ups like an ALPR camera's, with one vehicle filling much of the frame.
        slots = [rng.uniform(0.08, 1.0) for _ in range(rng.randint(1, 5))]
        if rng.random() < 0.35:
            slots = [*slots[:1], rng.uniform(1.0, 1.5)]
        for index, depth in enumerate(sorted(slots)):
            plate = self.plates.draw_plate()
            bottom = horizon + (height * 1.05 - horizon) * depth
            vehicle_w = max(int((bottom - horizon) * rng.uniform(1.2, 2.2)), 12)
            sprite = draw_vehicle(plate, vehicle_w, rng, rng.choice(("rear", "front")))
            sh, sw = sprite.image.shape[:2]
            left = rng.uniform(-0.2 * sw, width - 0.8 * sw)
            centre = np.array([left + sw / 2, bottom - sh / 2], np.float32)
            target = perspective_quad(sw, sh, rng, strength=0.5) + centre
            source = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
            homography = cv2.getPerspectiveTransform(source, target.astype(np.float32))
            _shadow(image, target)
            warp_into(image, sprite.image, sprite.alpha, homography, owner, -1)
            quad = cv2.perspectiveTransform(sprite.plate_corners[None], homography)[0]
            face = plate.image
            fh, fw = face.shape[:2]
            face_corners = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
            to_frame = cv2.getPerspectiveTransform(face_corners, quad.astype(np.float32))
            patch = warp_into(image, face, None, to_frame, owner, index)
            if patch:
                patch.add_to(plate_mask)
            placed.append((plate, quad, patch))
            points = np.array([[[x, y] for x, y, _ in sprite.lights]], np.float32)
            moved = cv2.perspectiveTransform(points, homography)[0]
            lamps += [
                (x, y, r, sprite.lamp_colour)
                for (x, y), (_, _, r) in zip(moved, sprite.lights, strict=True)
            ]
        out = self._light(image, lighting, plate_mask, lamps, rng)
        plates = []
        for index, (plate, quad, patch) in enumerate(placed):
            box = visible_box(patch, owner, index, quad)
            if box:
                corners = tuple((float(x), float(y)) for x, y in quad)
                plates.append(PlacedPlate(plate.text, plate.state, box, corners))
        return Scene(out, plates, lighting)

    def _signs(self, image: np.ndarray, horizon: float, rng: random.Random) -> None:
        """Shop and street signs: text that is not a plate."""
        for _ in range(rng.randint(0, 3)):
            face = negative_face(rng)
            scale = rng.uniform(0.15, 0.5) * horizon / face.shape[0]
            w, h = face.shape[1] * scale, face.shape[0] * scale
            x, y = rng.uniform(0, image.shape[1] - w), rng.uniform(0, max(horizon - h, 1))
            source = np.array(
                [[0, 0], [face.shape[1], 0], [face.shape[1], face.shape[0]], [0, face.shape[0]]],
                np.float32,
            )
            target = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
            warp_into(image, face, None, cv2.getPerspectiveTransform(source, target))

    def _light(
        self,
        image: np.ndarray,
        lighting: str,
        plate_mask: np.ndarray,
        lamps: list[tuple[float, float, float, tuple[int, int, int]]],
        rng: random.Random,
    ) -> np.ndarray:
        frame = np.clip(image, 0, 255).astype(np.uint8)
        if lighting == "infrared":
            frame = effects.infrared(frame, plate_mask, bloom=rng.uniform(0.5, 2.5))
        elif lighting in ("dusk", "night"):
            gain = 0.55 if lighting == "dusk" else 0.22
            dim = frame.astype(np.float32) * gain
            # Plate lamps keep plates readable at night.
            lit = frame.astype(np.float32) * (0.8 if lighting == "dusk" else 0.6)
            dim += (lit - dim) * plate_mask[..., None]
            for x, y, r, colour in lamps:
                cv2.circle(dim, (int(x), int(y)), max(int(r), 2), colour, -1, cv2.LINE_AA)
            glow = cv2.GaussianBlur(dim, (0, 0), 6)
            frame = np.clip(np.maximum(dim, glow), 0, 255).astype(np.uint8)
        return camera_effects(frame, rng, scale=frame.shape[1] / 1280)


def _shadow(image: np.ndarray, outline: np.ndarray) -> None:
    """Darken the road under a vehicle whose sprite lands on `outline` (4x2 corners)."""
    left, right = float(outline[:, 0].min()), float(outline[:, 0].max())
    bottom = float(outline[:, 1].max())
    axes = (max(int((right - left) * 0.55), 1), max(int((right - left) * 0.06), 1))
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.ellipse(mask, (int((left + right) / 2), int(bottom)), axes, 0, 0, 360, 1, -1)
    image[mask > 0] *= 0.45


def yolo_line(box: Box, width: int, height: int) -> str:
    """`0 cx cy w h`, normalised, class 0 = plate."""
    cx, cy = (box.x + box.w / 2) / width, (box.y + box.h / 2) / height
    return f"0 {cx:.6f} {cy:.6f} {box.w / width:.6f} {box.h / height:.6f}"
