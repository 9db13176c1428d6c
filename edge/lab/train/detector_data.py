"""Training data for the plate detector: labelled images in, augmented crops and targets out.

Sources (all licensed for training the shipped model):
- `detect/roboflow-plates` (MIT): YOLO txt, boxes or polygons, images stretched to 300x300;
- `detect/dashcam-ro` (MIT): Pascal VOC, 1280x720 dashcam frames;
- `detect/openimages-plates` (annotations CC BY 4.0 Google, images CC BY 2.0): YOLO txt, class 0
  plate and class 1 vehicle, images stretched to 416x416;
- the project's synthetic scenes (`edge.lab.synth.scenes.SceneRenderer`), rendered fresh.

Each training crop imitates what the runtime feeds the network: a frame letterboxed to
`max_side`, at a random scale around it, with small rotations, aspect changes, flips, colour,
blur, noise and JPEG damage.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.runtime.detect.detector import PAD_VALUE, STRIDE


@dataclass
class Labelled:
    """An image, its plate boxes x1y1x2y2 (N, 4), corners (N, 4, 2) and which corners are real."""

    image: np.ndarray
    boxes: np.ndarray
    corners: np.ndarray
    has_corners: np.ndarray


@dataclass
class Targets:
    """Per-cell training targets on the stride-4 grid of one crop."""

    heat: np.ndarray  # (G, G) Gaussian peaks, exactly 1 at plate centres
    heat_weight: np.ndarray  # (G, G) 0 where a plate is cut too much to say either way
    reg_weight: np.ndarray  # (G, G) how much each cell's box/corner regression counts
    distances: np.ndarray  # (4, G, G) left, top, right, bottom in pixels
    corners: np.ndarray  # (8, G, G) corner offsets in box widths/heights
    corner_weight: np.ndarray  # (G, G) reg_weight where the plate's corners are known


def _box_corners(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = box
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)


def _polygon_corners(points: np.ndarray) -> np.ndarray:
    """Four corners of a plate polygon, clockwise from top-left, by extreme diagonals."""
    total = points.sum(1)
    diff = points[:, 0] - points[:, 1]
    return np.stack(
        [
            points[total.argmin()],
            points[diff.argmax()],
            points[total.argmax()],
            points[diff.argmin()],
        ]
    ).astype(np.float32)


def _labelled(image: np.ndarray, boxes: list, corners: list, has_corners: list) -> Labelled:
    return Labelled(
        image=image,
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        corners=np.array(corners, dtype=np.float32).reshape(-1, 4, 2),
        has_corners=np.array(has_corners, dtype=bool),
    )


def load_yolo_image(
    image_path: Path, label_path: Path, plate_classes: frozenset[str] = frozenset({"0"})
) -> Labelled | None:
    """A YOLO-labelled image; lines are `cls cx cy w h` or polygons `cls x1 y1 x2 y2 ...`, and
    only lines of `plate_classes` are plates (Open Images also boxes the vehicle, class 1)."""
    image = cv2.imread(str(image_path))
    if image is None or not label_path.is_file():
        return None
    height, width = image.shape[:2]
    scale = np.array([width, height], dtype=np.float32)
    boxes, corners, has_corners = [], [], []
    for line in label_path.read_text().splitlines():
        fields = line.split()
        if not fields or fields[0] not in plate_classes:
            continue
        values = np.array(fields[1:], dtype=np.float32)
        if len(values) == 4:
            cx, cy, w, h = values * np.tile(scale, 2)
            box = np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
            quad, known = _box_corners(box), False
        elif len(values) >= 8 and len(values) % 2 == 0:
            points = values.reshape(-1, 2) * scale
            box = np.concatenate([points.min(0), points.max(0)])
            quad, known = _polygon_corners(points), True
        else:
            continue
        boxes.append(box)
        corners.append(quad)
        has_corners.append(known)
    return _labelled(image, boxes, corners, has_corners)


def load_voc_image(image_path: Path, annotation_path: Path) -> Labelled | None:
    """A dashcam frame with its Pascal VOC `license-plate` boxes."""
    image = cv2.imread(str(image_path))
    if image is None or not annotation_path.is_file():
        return None
    boxes = []
    for node in ElementTree.parse(annotation_path).getroot().iter("bndbox"):
        boxes.append([float(node.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax")])
    corners = [_box_corners(np.array(b)) for b in boxes]
    return _labelled(image, boxes, corners, [False] * len(boxes))


def _load_set(
    root: Path,
    labels_dir: str,
    suffix: str,
    loader: Callable[[Path, Path], Labelled | None],
    limit: int | None,
) -> list[Labelled]:
    """Every `*/images/*.jpg` under `root` with its label file from the sibling `labels_dir`."""
    samples = []
    for image_path in sorted(root.glob("*/images/*.jpg"))[:limit]:
        label_path = image_path.parent.parent / labels_dir / f"{image_path.stem}{suffix}"
        sample = loader(image_path, label_path)
        if sample is not None:
            samples.append(sample)
    return samples


def load_roboflow(root: Path, limit: int | None = None) -> list[Labelled]:
    """All splits of the roboflow set (the evaluation sets are elsewhere, so all of it trains)."""
    return _load_set(root, "labels", ".txt", load_yolo_image, limit)


def load_openimages(root: Path, limit: int | None = None) -> list[Labelled]:
    """Open Images cars (CC BY: credited in models/README.md); class 0 plates, 1 vehicles."""
    return _load_set(root, "labels", ".txt", load_yolo_image, limit)


def load_dashcam(root: Path, limit: int | None = None) -> list[Labelled]:
    return _load_set(root, "annots", ".xml", load_voc_image, limit)


def synthetic_scenes(seed: int, width: int, height: int) -> Iterator[Labelled]:
    """Endless fresh synthetic street scenes with exact plate corners."""
    from edge.lab.synth.scenes import SceneRenderer

    renderer = SceneRenderer(seed)
    while True:
        scene = renderer.render(width, height)
        boxes = [[p.box.x, p.box.y, p.box.x + p.box.w, p.box.y + p.box.h] for p in scene.plates]
        corners = [np.array(p.corners, dtype=np.float32) for p in scene.plates]
        yield _labelled(scene.image, boxes, corners, [True] * len(boxes))


@dataclass(frozen=True)
class AugmentConfig:
    crop: int = 320
    max_side: int = 640
    scale_range: tuple[float, float] = (0.5, 1.5)
    max_rotation_deg: float = 6.0
    max_aspect_log: float = 0.2
    focus_probability: float = 0.85
    # A plate cut to less than this fraction of its area is neither positive nor negative.
    min_visible: float = 0.6


def _transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def augment(sample: Labelled, rng: np.random.Generator, config: AugmentConfig) -> Labelled:
    """One square crop of `sample` as the network would see it, with photometric damage."""
    height, width = sample.image.shape[:2]
    crop = config.crop
    scale = config.max_side / max(height, width) * np.exp(rng.uniform(*np.log(config.scale_range)))
    aspect = np.exp(rng.uniform(-config.max_aspect_log, config.max_aspect_log))
    focus = None
    if len(sample.boxes) and rng.random() < config.focus_probability:
        focus = sample.boxes[rng.integers(len(sample.boxes))]
        plate_w = (focus[2] - focus[0]) * scale * aspect
        if plate_w > 0.85 * crop:
            scale *= 0.85 * crop / plate_w
    # Rotating a box-only label would inflate its box (the bounds of a rotated box), so only
    # images whose plates all have real corners are rotated.
    rotate = sample.has_corners.all() and rng.random() < 0.5
    angle = np.deg2rad(rng.uniform(-1, 1) * config.max_rotation_deg) if rotate else 0.0
    cos, sin = np.cos(angle), np.sin(angle)
    linear = np.array([[cos, -sin], [sin, cos]]) @ np.diag([scale * aspect, scale / aspect])
    if focus is not None:
        centre = linear @ ((focus[:2] + focus[2:]) / 2)
        jitter = rng.uniform(-0.35, 0.35, 2) * crop
        origin = centre - crop / 2 + jitter
    else:
        extent = linear @ np.array([width, height])
        origin = rng.uniform(np.minimum(0, extent - crop), np.maximum(0, extent - crop))
    matrix = np.hstack([linear, -origin[:, None]]).astype(np.float32)
    image = cv2.warpAffine(
        sample.image,
        matrix,
        (crop, crop),
        flags=cv2.INTER_LINEAR if scale > 0.7 else cv2.INTER_AREA,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(PAD_VALUE,) * 3,
    )
    corners = _transform(sample.corners.reshape(-1, 2), matrix).reshape(-1, 4, 2)
    boxes = np.concatenate([corners.min(1), corners.max(1)], 1) if len(corners) else sample.boxes
    if rng.random() < 0.5:
        image = image[:, ::-1]
        corners = corners[:, [1, 0, 3, 2]].copy()
        corners[..., 0] = crop - corners[..., 0]
        boxes = np.stack([crop - boxes[:, 2], boxes[:, 1], crop - boxes[:, 0], boxes[:, 3]], 1)
    return Labelled(
        _photometric(np.ascontiguousarray(image), rng), boxes, corners, sample.has_corners
    )


def _photometric(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).astype(np.float32)
    hsv[..., 0] = (hsv[..., 0] + rng.uniform(-8, 8)) % 180
    hsv[..., 1] *= rng.uniform(0.5, 1.4)
    hsv[..., 2] = hsv[..., 2] * rng.uniform(0.5, 1.4) + rng.uniform(-25, 25)
    image = cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2BGR)
    if rng.random() < 0.1:
        image = cv2.cvtColor(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.25:
        sigma = rng.uniform(0.5, 1.8)
        image = cv2.GaussianBlur(image, (0, 0), sigma)
    elif rng.random() < 0.1:
        length = int(rng.integers(3, 9))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2] = 1 / length
        image = cv2.filter2D(image, -1, kernel)
    if rng.random() < 0.25:
        noise = rng.normal(0, rng.uniform(3, 12), image.shape)
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.25:
        quality = int(rng.integers(25, 80))
        _, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        image = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return image


def make_targets(sample: Labelled, crop: int, min_visible: float) -> Targets:
    """Heatmap, weights and regression targets for one augmented crop."""
    grid = crop // STRIDE
    heat = np.zeros((grid, grid), np.float32)
    heat_weight = np.ones((grid, grid), np.float32)
    reg_weight = np.zeros((grid, grid), np.float32)
    distances = np.zeros((4, grid, grid), np.float32)
    corners = np.zeros((8, grid, grid), np.float32)
    corner_weight = np.zeros((grid, grid), np.float32)
    cell_centres = (np.arange(grid, dtype=np.float32) + 0.5) * STRIDE
    for box, quad, known in zip(sample.boxes, sample.corners, sample.has_corners, strict=True):
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        if w < 2 or h < 2:
            continue
        cx1, cy1, cx2, cy2 = np.clip(box, 0, crop)
        visible = max(cx2 - cx1, 0) * max(cy2 - cy1, 0) / (w * h)
        if visible < min_visible:
            if visible > 0:
                gx1, gy1 = int(cx1 // STRIDE), int(cy1 // STRIDE)
                gx2, gy2 = int(np.ceil(cx2 / STRIDE)), int(np.ceil(cy2 / STRIDE))
                heat_weight[gy1:gy2, gx1:gx2] = 0
            continue
        # Centre of the visible part, so a cut plate's peak stays inside the crop.
        centre_x, centre_y = (cx1 + cx2) / 2, (cy1 + cy2) / 2
        sigma_x = max(w / STRIDE / 6, 0.7)
        sigma_y = max(h / STRIDE / 6, 0.7)
        gauss_x = np.exp(-((cell_centres - centre_x) ** 2) / (2 * (sigma_x * STRIDE) ** 2))
        gauss_y = np.exp(-((cell_centres - centre_y) ** 2) / (2 * (sigma_y * STRIDE) ** 2))
        gaussian = gauss_y[:, None] * gauss_x[None, :]
        peak_x = min(int(centre_x // STRIDE), grid - 1)
        peak_y = min(int(centre_y // STRIDE), grid - 1)
        gaussian[peak_y, peak_x] = 1.0
        np.maximum(heat, gaussian, out=heat)
        # Regression: cells near the centre, each owned by the plate whose Gaussian is highest.
        inside_x = (cell_centres > x1) & (cell_centres < x2)
        inside_y = (cell_centres > y1) & (cell_centres < y2)
        inside = inside_y[:, None] & inside_x[None, :]
        owned = (gaussian >= 0.3) & (gaussian > reg_weight) & inside
        owned[peak_y, peak_x] = True
        ys, xs = np.nonzero(owned)
        reg_weight[ys, xs] = gaussian[ys, xs]
        px, py = cell_centres[xs], cell_centres[ys]
        distances[:, ys, xs] = np.stack([px - x1, py - y1, x2 - px, y2 - py])
        offsets = np.empty((8, len(xs)), np.float32)
        offsets[0::2] = (quad[:, 0:1] - px) / w
        offsets[1::2] = (quad[:, 1:2] - py) / h
        corners[:, ys, xs] = offsets
        corner_weight[ys, xs] = gaussian[ys, xs] if known else 0.0
    distances = np.maximum(distances, 1.0)
    return Targets(heat, heat_weight, reg_weight, distances, corners, corner_weight)


Source = Callable[[np.random.Generator], Labelled]


def pool_source(samples: list[Labelled]) -> Source:
    return lambda rng: samples[rng.integers(len(samples))]


class StreamSource:
    """Draw from an endless stream, using each item `reuse` times (rendering is not free)."""

    def __init__(self, stream: Iterator[Labelled], reuse: int) -> None:
        self._stream = stream
        self._reuse = reuse
        self._current: Labelled | None = None
        self._uses = 0

    def __call__(self, rng: np.random.Generator) -> Labelled:
        if self._current is None or self._uses >= self._reuse:
            self._current = next(self._stream)
            self._uses = 0
        self._uses += 1
        return self._current
