"""Find licence plates in a full frame with the project's ONNX detector.

The model contract (kept by `edge.lab.train.detector` when it exports):
- input `image`: uint8 BGR, NHWC, height and width any multiple of `PAD_MULTIPLE`;
- output `heatmap` (N, 1, H/4, W/4): plate-centre probability, zero except at local maxima;
- output `boxes` (N, 4, H/4, W/4): distances left, top, right, bottom from each cell centre (px);
- output `corners` (N, 8, H/4, W/4): corner offsets from the cell centre in box widths/heights,
  clockwise from top-left as (x, y) pairs;
- metadata `max_side`: the longest side frames are letterboxed to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import cv2
import numpy as np

from edge.errors import ModelError
from edge.runtime.detect.overlap import merge_large, merge_small
from edge.runtime.types import Box, Detection

if TYPE_CHECKING:
    import onnxruntime

INPUT_NAME = "image"
OUTPUT_NAMES = ("heatmap", "boxes", "corners")
MAX_SIDE_KEY = "max_side"
STRIDE = 4
PAD_MULTIPLE = 32
PAD_VALUE = 114
# The detector learnt plates up to 0.85 of its 320-px training crops with frames letterboxed to
# 640 (`edge.lab.train.detector_data.AugmentConfig`): up to about 0.42 of the letterboxed side. A
# wider plate (a close-up photo) comes back in pieces or boxed short; at half the resolution it
# is within the learnt range.
LARGE_PLATE_SHARE = 0.42
# Distant plates in a 1280x720 photo (50-75 px) are 25-37 px at the 640 letterbox, smaller than
# most the detector learnt; a still's fine pass searches at 1.5x and keeps only the plates
# narrower than FINE_PLATE_SHARE of the long side (wider ones the other passes box better).
FINE_PASS_SCALE = 1.5
FINE_PLATE_SHARE = 0.1
# The fine pass never searches more pixels than a 16:9 photo's at 1.5x (960x540): a squarer
# photo is searched at a smaller side, so the pass costs at most what it costs on 720p.
FINE_PASS_PIXELS = 960 * 540


@dataclass(frozen=True)
class Letterbox:
    """A frame scaled (aspect kept) and padded bottom/right to the network's input."""

    image: np.ndarray
    scale: float


def letterbox(image_bgr: np.ndarray, max_side: int) -> Letterbox:
    """Scale so the longest side is `max_side`, then pad to multiples of PAD_MULTIPLE."""
    height, width = image_bgr.shape[:2]
    scale = max_side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=interpolation)
    pad_w = -new_w % PAD_MULTIPLE
    pad_h = -new_h % PAD_MULTIPLE
    padded = cv2.copyMakeBorder(
        resized, 0, pad_h, 0, pad_w, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3
    )
    return Letterbox(padded, scale)


def decode(
    heatmap: np.ndarray,
    boxes: np.ndarray,
    corners: np.ndarray,
    score_threshold: float,
    max_plates: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peaks above the threshold -> (scores (K,), boxes x1y1x2y2 (K, 4), corners (K, 4, 2)).

    Coordinates are in network-input pixels; arrays are for one image (no batch axis).
    """
    ys, xs = np.nonzero(heatmap[0] >= score_threshold)
    scores = heatmap[0, ys, xs]
    order = np.argsort(-scores)[:max_plates]
    ys, xs, scores = ys[order], xs[order], scores[order]
    centre_x = (xs + 0.5) * STRIDE
    centre_y = (ys + 0.5) * STRIDE
    left, top, right, bottom = boxes[:, ys, xs]
    xyxy = np.stack([centre_x - left, centre_y - top, centre_x + right, centre_y + bottom], 1)
    width = (left + right)[:, None]
    height = (top + bottom)[:, None]
    offsets = corners[:, ys, xs].T.reshape(-1, 4, 2)
    points = np.stack(
        [centre_x[:, None] + offsets[..., 0] * width, centre_y[:, None] + offsets[..., 1] * height],
        axis=-1,
    )
    return scores, xyxy, points


def _check_contract(session: onnxruntime.InferenceSession, path: Path) -> int:
    """Raise ModelError unless the session has the detector's inputs, outputs and metadata."""
    inputs = session.get_inputs()
    if len(inputs) != 1 or inputs[0].name != INPUT_NAME or inputs[0].type != "tensor(uint8)":
        found = ", ".join(f"{i.name} {i.type}" for i in inputs)
        raise ModelError(
            path, f"not a plate detector: expected one uint8 input {INPUT_NAME!r}, found {found}"
        )
    shape = inputs[0].shape
    if len(shape) != 4 or shape[3] != 3:
        raise ModelError(path, f"input {INPUT_NAME!r} must be NHWC with 3 channels, got {shape}")
    outputs = tuple(o.name for o in session.get_outputs())
    if outputs != OUTPUT_NAMES:
        raise ModelError(
            path,
            f"not a plate detector: expected outputs {list(OUTPUT_NAMES)}, found {list(outputs)}",
        )
    metadata = session.get_modelmeta().custom_metadata_map
    try:
        return int(metadata[MAX_SIDE_KEY])
    except (KeyError, ValueError):
        raise ModelError(path, f"metadata {MAX_SIDE_KEY!r} missing or not an integer") from None


Item = TypeVar("Item")
Result = TypeVar("Result")

# A second look's detection must overlap the first one this much to replace it.
SECOND_LOOK_IOU = 0.3


class PlateDetector:
    """Boxes, scores and corners of the plates in a BGR frame of any size."""

    def __init__(
        self,
        model_path: str | Path,
        providers: tuple[str, ...] = ("CPUExecutionProvider",),
        threads: int = 1,
        score_threshold: float = 0.3,
        nms_iou: float = 0.5,
        max_plates: int = 32,
        fine_pass: bool = False,
        workers: int = 1,
    ) -> None:
        from edge.runtime.sessions import open_session

        self.model_path = Path(model_path)
        self._session = open_session(self.model_path, providers, threads)
        self.max_side = _check_contract(self._session, self.model_path)
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.max_plates = max_plates
        # Whether `detect_any_size` also searches at `FINE_PASS_SCALE` (`still_fine_pass`).
        self.fine_pass = fine_pass
        # How many of a still's passes and second looks run at once (`still_workers`).
        self.workers = workers
        # Made here, not on first use, so cameras sharing the detector never race to make two
        # (its threads start only when work first arrives).
        self._pool = (
            ThreadPoolExecutor(workers, thread_name_prefix="detector") if workers > 1 else None
        )

    def each(self, work: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """`work(item)` for every item, in order, `workers` at a time: onnxruntime runs a
        session from several threads at once and lets go of the GIL while it computes, so each
        call gets a core of its own. On two cores this saves about what two intra-op threads
        on each call save (a still's search 127-147 -> 86-101 ms, measured both ways), but only
        where a still is searched: video keeps `detector.threads` for its one pass a frame.
        The results are the same for any number of workers."""
        if self._pool is None or len(items) <= 1:
            return [work(item) for item in items]
        return list(self._pool.map(work, items))

    def infer(self, network_input: np.ndarray) -> list[np.ndarray]:
        """The raw output maps for a letterboxed uint8 NHWC batch (see the module contract)."""
        return self._session.run(list(OUTPUT_NAMES), {INPUT_NAME: network_input})

    def detect(self, image_bgr: np.ndarray) -> list[Detection]:
        """Plates in `image_bgr` (uint8 HxWx3), best first, in the frame's pixel coordinates."""
        return self.detect_at(image_bgr, self.max_side)

    def detect_any_size(
        self, image_bgr: np.ndarray, fine_pass: bool | None = None
    ) -> list[Detection]:
        """Like `detect`, for still photos, where a plate may fill much of the frame: a second
        pass at half the resolution finds the plates wider than the full pass learnt
        (`LARGE_PLATE_SHARE` of the long side), which `overlap.merge_large` merges in. With
        `fine_pass` (default: the detector's own), a third pass at `FINE_PASS_SCALE` finds
        distant plates, which `overlap.merge_small` merges in."""
        long_side = max(image_bgr.shape[:2])
        sides = [self.max_side, self.max_side // 2]
        if self.fine_pass if fine_pass is None else fine_pass:
            # The costliest pass first, so that with two workers the others share the second.
            sides.insert(0, self.fine_side(image_bgr.shape[1], image_bgr.shape[0]))
        *fine, full, coarse = self.each(lambda side: self.detect_at(image_bgr, side), sides)
        found = merge_large(full, [d for d in coarse if d.box.w >= LARGE_PLATE_SHARE * long_side])
        if not fine:
            return found
        return merge_small(found, [d for d in fine[0] if d.box.w < FINE_PLATE_SHARE * long_side])

    def fine_side(self, width: int, height: int) -> int:
        """The letterbox side of a still's fine pass: `FINE_PASS_SCALE` times the model's, or
        less for a photo squarer than 16:9 (`FINE_PASS_PIXELS`)."""
        aspect = max(width, height) / max(min(width, height), 1)
        capped = int((FINE_PASS_PIXELS * aspect) ** 0.5)
        return min(round(self.max_side * FINE_PASS_SCALE), capped)

    def look_again(self, image_bgr: np.ndarray, found: Detection) -> Detection:
        """`found` boxed again from a second look at twice the resolution: the detector runs on
        the area around it (its width on each side, twice its height above and below, so the
        plate stays inside the sizes it learnt) enlarged 2x, and the detection there that
        overlaps `found` most (IoU >= 0.3) replaces it; otherwise `found` stands."""
        box = found.box
        height, width = image_bgr.shape[:2]
        x1, y1 = max(box.x - box.w, 0), max(box.y - 2 * box.h, 0)
        x2, y2 = min(box.x + 2 * box.w, width), min(box.y + 3 * box.h, height)
        area = image_bgr[y1:y2, x1:x2]
        if area.shape[0] < 8 or area.shape[1] < 8:
            return found
        best, best_iou = found, SECOND_LOOK_IOU
        for candidate in self.detect_at(area, 2 * max(area.shape[:2])):
            moved = Box(
                candidate.box.x + x1, candidate.box.y + y1, candidate.box.w, candidate.box.h
            )
            overlap = moved.iou(box)
            if overlap >= best_iou:
                corners = None
                if candidate.corners is not None:
                    corners = tuple((x + x1, y + y1) for x, y in candidate.corners)
                best, best_iou = Detection(moved, found.score, corners), overlap
        return best

    def detect_at(self, image_bgr: np.ndarray, max_side: int) -> list[Detection]:
        """Like `detect`, with the image letterboxed to `max_side` instead of the model's own
        (a part of a frame keeps the scale the whole frame is seen at)."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.dtype != np.uint8:
            raise ValueError(
                f"expected a uint8 HxWx3 BGR image, got {image_bgr.shape} {image_bgr.dtype}"
            )
        boxed = letterbox(image_bgr, max_side)
        heatmap, boxes, corners = self.infer(boxed.image[None])
        scores, xyxy, points = decode(
            heatmap[0], boxes[0], corners[0], self.score_threshold, self.max_plates
        )
        xyxy /= boxed.scale
        points /= boxed.scale
        keep = cv2.dnn.NMSBoxes(
            [[float(x1), float(y1), float(x2 - x1), float(y2 - y1)] for x1, y1, x2, y2 in xyxy],
            scores.tolist(),
            self.score_threshold,
            self.nms_iou,
        )
        height, width = image_bgr.shape[:2]
        detections = []
        for index in np.asarray(keep, dtype=int).reshape(-1):
            x1, y1, x2, y2 = np.clip(xyxy[index], 0, [width, height, width, height])
            box = Box(round(x1), round(y1), round(x2 - x1), round(y2 - y1))
            if box.w < 1 or box.h < 1:
                continue
            detections.append(
                Detection(
                    box=box,
                    score=float(scores[index]),
                    corners=tuple((float(x), float(y)) for x, y in points[index]),
                )
            )
        return detections


def plate_crop(
    image_bgr: np.ndarray,
    box: Box,
    margin_x: float = 0.06,
    margin_y: float = 0.0,
    pad_edges: bool = False,
) -> np.ndarray:
    """The plate cut from the frame, widened by `margin_x` of its width on each side.

    The detector's boxes run a little tall and a little narrow of the plate, so the OCR reads
    best with some width added and no height (measured with `alpr-edge eval` on real/eu, br).
    A plate at the frame's edge loses that margin on its side; with `pad_edges` the frame's edge
    pixels are repeated instead, so every crop keeps the shape the OCR was trained on.
    """
    pad_x, pad_y = round(box.w * margin_x), round(box.h * margin_y)
    height, width = image_bgr.shape[:2]
    x1, y1 = box.x - pad_x, box.y - pad_y
    x2, y2 = box.x + box.w + pad_x, box.y + box.h + pad_y
    inside = image_bgr[max(y1, 0) : min(y2, height), max(x1, 0) : min(x2, width)]
    if not pad_edges or inside.size == 0:
        return inside
    top, left = max(-y1, 0), max(-x1, 0)
    bottom, right = max(y2 - height, 0), max(x2 - width, 0)
    if top or left or bottom or right:
        return cv2.copyMakeBorder(inside, top, bottom, left, right, cv2.BORDER_REPLICATE)
    return inside


def rectified_crop(
    image_bgr: np.ndarray,
    corners: Sequence[tuple[float, float]],
    margin_x: float = 0.06,
) -> np.ndarray | None:
    """The plate warped flat from its four corners (clockwise from top-left) to its own
    width and height, widened by `margin_x` of its width on each side along its own axis;
    None when the corners do not make a usable plate (too small, or folded)."""
    tl, tr, br, bl = (np.asarray(c, np.float64) for c in corners)
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    if width < 8 or height < 4 or not _convex([tl, tr, br, bl]):
        return None
    top_axis, bottom_axis = (
        (tr - tl) / max(np.linalg.norm(tr - tl), 1e-6),
        (br - bl) / max(np.linalg.norm(br - bl), 1e-6),
    )
    grow = margin_x * width
    source = np.float32(
        [
            tl - top_axis * grow,
            tr + top_axis * grow,
            br + bottom_axis * grow,
            bl - bottom_axis * grow,
        ]
    )
    out_w, out_h = max(round(width + 2 * grow), 2), max(round(height), 2)
    target = np.float32([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]])
    matrix = cv2.getPerspectiveTransform(source, target)
    return cv2.warpPerspective(
        image_bgr, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _convex(points: list[np.ndarray]) -> bool:
    """Whether the quadrilateral turns the same way at every corner (not folded or twisted)."""
    turns = []
    for i in range(4):
        a, b, c = points[i], points[(i + 1) % 4], points[(i + 2) % 4]
        (ux, uy), (vx, vy) = b - a, c - b
        turns.append(ux * vy - uy * vx)
    return all(t > 0 for t in turns) or all(t < 0 for t in turns)
