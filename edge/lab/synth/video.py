"""The sample clip: vehicles passing a fixed street camera, with per-frame ground truth.

The camera looks down a two-way street. Approaching vehicles show their front plate and grow
from the far end to the bottom of the frame; receding ones show their rear plate and shrink.
Sizes follow a pinhole camera (focal length FOCAL_PX): a 0.305 m US plate is 100 px wide at
6.1 m and 220 px at 2.8 m. The street itself never changes, so a motion gate can skip the
frames between vehicles. One stretch is night infrared.
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from edge.errors import InputError
from edge.lab.synth import effects
from edge.lab.synth.camera import perspective_quad
from edge.lab.synth.plates import FlatPlate, PlateRenderer
from edge.lab.synth.scenes import Patch, Sprite, draw_street, draw_vehicle, visible_box, warp_into
from edge.runtime.types import Box

WIDTH, HEIGHT, FPS = 1280, 720, 30
FOCAL_PX = 2000.0
HORIZON_Y = 150.0
# Screen y of a vehicle's wheels at distance z: HORIZON_Y + GROUND_K / z.
GROUND_K = 2200.0
# Vehicles turn into the street from a cross street FAR_M away and leave the frame by
# GONE_M; between them the street is empty, so a motion gate has frames to skip.
FAR_M, GONE_M = 16.0, 1.5
TURN_M = 5.0  # distance driven while turning in from (or out to) the cross street
CROSS_STREET_M = 7.0
VEHICLE_WIDTH_M = 1.8
# Plates this wide and wholly in frame are what a reader is expected to read.
READABLE_PX = 80
VIDEO_NAME = "sample.mp4"
TRUTH_NAME = "ground_truth.json"
HOTLIST_NAME = "hotlist.csv"
# Mostly California, as a California camera sees; one plate of each of a few neighbours.
STATE_MIX = ("CA",) * 10 + ("NV", "AZ", "OR", "TX")
T = TypeVar("T")


@dataclass
class Vehicle:
    plate: FlatPlate
    sprite_levels: list[Sprite]  # full size, then halves: pick the level nearest the need
    face_levels: list[np.ndarray]
    shape: np.ndarray  # unit-width outline (4x2) with this vehicle's slight skew
    lateral_m: float
    speed_mps: float
    start_s: float
    approaching: bool
    hotlisted: bool = False
    track: list[dict] = field(default_factory=list)

    def position(self, t: float) -> tuple[float, float] | None:
        """(distance, lateral offset) in metres at time t, or None while out of view."""
        travelled = (t - self.start_s) * self.speed_mps
        if travelled < 0:
            return None
        z = FAR_M - travelled if self.approaching else GONE_M + travelled
        if not GONE_M <= z <= FAR_M:
            return None
        turning = max(0.0, 1.0 - (FAR_M - z) / TURN_M) ** 2
        side = -1.0 if self.approaching else 1.0
        return z, self.lateral_m + side * CROSS_STREET_M * turning


def _levels(image: np.ndarray, smallest: int) -> list[np.ndarray]:
    levels = [image]
    while levels[-1].shape[1] // 2 >= smallest:
        levels.append(cv2.pyrDown(levels[-1]))
    return levels


def _sprite_levels(sprite: Sprite) -> list[Sprite]:
    levels = []
    for image, alpha in zip(_levels(sprite.image, 24), _levels(sprite.alpha, 24), strict=True):
        scale = image.shape[1] / sprite.image.shape[1]
        lights = tuple((x * scale, y * scale, r * scale) for x, y, r in sprite.lights)
        corners = sprite.plate_corners * scale
        levels.append(Sprite(image, alpha, corners, lights, sprite.lamp_colour))
    return levels


def _pick(levels: list[T], width: float, width_of: Callable[[T], int]) -> T:
    """The smallest level still at least `width` px wide (or the largest)."""
    fitting = [level for level in levels if width_of(level) >= width]
    return fitting[-1] if fitting else levels[0]


def _plan(seed: int, seconds: int) -> list[Vehicle]:
    rng = random.Random(seed)
    plates = PlateRenderer(seed, states=("CA", "NV", "AZ", "OR", "TX"))
    states = list(STATE_MIX)
    rng.shuffle(states)
    count = max(12, round(seconds / 2.1))
    states = (states * (count // len(states) + 1))[:count]
    vehicles = []
    spacing = (seconds - 2.5) / count
    for index, state in enumerate(states):
        plate = plates.draw_plate(state=state)
        approaching = rng.random() < 0.7
        view = "front" if approaching else "rear"
        sprite = draw_vehicle(plate, 1400, rng, view)
        vehicles.append(
            Vehicle(
                plate=plate,
                sprite_levels=_sprite_levels(sprite),
                face_levels=_levels(plate.image, 16),
                shape=perspective_quad(1.0, sprite.image.shape[0] / 1400, rng, 0.3),
                lateral_m=rng.uniform(-0.45, -0.1) if approaching else rng.uniform(0.3, 0.6),
                speed_mps=rng.uniform(8.0, 12.5),  # 18-28 mph: a city street
                start_s=0.3 + index * spacing + rng.uniform(-0.2, 0.2) * spacing,
                approaching=approaching,
            )
        )
    # The hotlist hit: a California plate that approaches (its plate is read at its biggest).
    hit = next(v for v in vehicles[3:] if v.plate.state == "CA" and v.approaching)
    hit.hotlisted = True
    return vehicles


def _draw_vehicle(
    frame: np.ndarray, owner: np.ndarray, vehicle: Vehicle, index: int, z: float, x_m: float
) -> tuple[np.ndarray, Patch | None, list[tuple[float, float, float]]]:
    """Draw one vehicle at distance z; returns the plate quad, where it landed, lamp spots."""
    width_px = FOCAL_PX * VEHICLE_WIDTH_M / z
    bottom = HORIZON_Y + GROUND_K / z
    centre_x = WIDTH / 2 + FOCAL_PX * x_m / z
    sprite = _pick(vehicle.sprite_levels, width_px, lambda s: s.image.shape[1])
    sh, sw = sprite.image.shape[:2]
    quad = vehicle.shape * width_px
    quad += np.array([centre_x, bottom - quad[:, 1].max()], np.float32)
    source = np.array([[0, 0], [sw, 0], [sw, sh], [0, sh]], np.float32)
    homography = cv2.getPerspectiveTransform(source, quad.astype(np.float32))
    warp_into(frame, sprite.image, sprite.alpha, homography, owner, -1)
    plate_quad = cv2.perspectiveTransform(sprite.plate_corners[None], homography)[0]
    plate_px = float(plate_quad[:, 0].max() - plate_quad[:, 0].min())
    face = _pick(vehicle.face_levels, plate_px, lambda f: f.shape[1])
    fh, fw = face.shape[:2]
    face_corners = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float32)
    to_frame = cv2.getPerspectiveTransform(face_corners, plate_quad.astype(np.float32))
    patch = warp_into(frame, face, None, to_frame, owner, index)
    points = np.array([[[x, y] for x, y, _ in sprite.lights]], np.float32)
    moved = cv2.perspectiveTransform(points, homography)[0]
    lamps = [
        (x, y, r * width_px / sw) for (x, y), (_, _, r) in zip(moved, sprite.lights, strict=True)
    ]
    return plate_quad, patch, lamps


class SampleClip:
    """The clip for a seed: `frames()` yields each frame and fills each vehicle's track."""

    def __init__(self, seed: int, seconds: int) -> None:
        if not 5 <= seconds <= 120:
            raise InputError(f"clip length must be within 5..120 s, got {seconds}")
        self.seed, self.seconds = seed, seconds
        self.total = seconds * FPS
        self.night = (int(self.total * 0.62), int(self.total * 0.84))
        rng = random.Random(seed ^ 0x5EED)
        street, _ = draw_street(WIDTH, HEIGHT, rng)
        self.background = effects.sensor_noise(np.clip(street, 0, 255).astype(np.uint8), rng, 2.0)
        self.vehicles = _plan(seed, seconds)

    def frames(self) -> Iterator[np.ndarray]:
        for index in range(self.total):
            yield self._frame(index)

    def _frame(self, index: int) -> np.ndarray:
        t = index / FPS
        frame = self.background.copy()
        owner = np.full((HEIGHT, WIDTH), -1, np.int32)
        present = [(v.position(t), i, v) for i, v in enumerate(self.vehicles)]
        drawn = []
        plate_mask = np.zeros((HEIGHT, WIDTH), np.float32)
        lamps: list[tuple[float, float, float]] = []
        for (z, x_m), i, vehicle in sorted((p for p in present if p[0]), reverse=True):
            quad, patch, spots = _draw_vehicle(frame, owner, vehicle, i, z, x_m)
            drawn.append((i, vehicle, quad, patch))
            if patch:
                patch.add_to(plate_mask)
            if vehicle.approaching:
                lamps += spots
        if self.night[0] <= index < self.night[1]:
            frame = effects.infrared(frame, plate_mask, bloom=1.5)
            for x, y, r in lamps:
                cv2.circle(
                    frame, (int(x), int(y)), max(int(r), 2), (255, 255, 255), -1, cv2.LINE_AA
                )
        for i, vehicle, quad, patch in drawn:
            box = visible_box(patch, owner, i, quad)
            if box:
                vehicle.track.append(_track_record(index, quad, box))
        return frame

    def truth(self) -> dict:
        return {
            "video": VIDEO_NAME,
            "seed": self.seed,
            "width": WIDTH,
            "height": HEIGHT,
            "fps": FPS,
            "frames": self.total,
            "infrared_frames": list(self.night),
            "readable_plate_width_px": READABLE_PX,
            "vehicles": [
                {
                    "id": number,
                    "plate": v.plate.text,
                    "state": v.plate.state,
                    "direction": "approaching" if v.approaching else "receding",
                    "speed_mps": round(v.speed_mps, 2),
                    "hotlisted": v.hotlisted,
                    "frames": v.track,
                }
                for number, v in enumerate(self.vehicles, start=1)
            ],
        }


def _track_record(index: int, quad: np.ndarray, box: Box) -> dict:
    """One frame of a plate's ground truth."""
    width_px = float(quad[:, 0].max() - quad[:, 0].min())
    inside = bool((quad >= 0).all() and (quad[:, 0] < WIDTH).all() and (quad[:, 1] < HEIGHT).all())
    return {
        "frame": index,
        "box": box.as_list(),
        "corners": [[round(float(x), 2), round(float(y), 2)] for x, y in quad],
        "plate_width_px": round(width_px, 1),
        "readable": inside and width_px >= READABLE_PX,
    }


def write_sample_video(out: Path, seed: int, seconds: int) -> str:
    """Write the clip, its ground truth and the demo hotlist into `out`; returns a summary."""
    clip = SampleClip(seed, seconds)
    path = out / VIDEO_NAME
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise InputError(f"cannot open {path} for writing (mp4v)")
    try:
        for image in clip.frames():
            writer.write(image)
    finally:
        writer.release()
    (out / TRUTH_NAME).write_text(json.dumps(clip.truth(), indent=1) + "\n")
    with open(out / HOTLIST_NAME, "w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["plate", "state", "reason", "source", "expiry"])
        for v in clip.vehicles:
            if v.hotlisted:
                rows.writerow(
                    [
                        v.plate.text,
                        v.plate.state,
                        "stolen vehicle (demo)",
                        "sample-video",
                        "2099-12-31",
                    ]
                )
    size_mb = path.stat().st_size / 1e6
    return f"{path}: {seconds} s, {len(clip.vehicles)} vehicles, {size_mb:.1f} MB"
