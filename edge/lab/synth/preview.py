"""Pictures of what the models learn from: a grid of plate crops and a scene with its boxes."""

from __future__ import annotations

import cv2
import numpy as np

from edge.lab.synth.plates import PlateRenderer
from edge.lab.synth.scenes import SceneRenderer

_TILE = (200, 100)  # width, height of one crop in the grid
_CAPTION = 22


def plate_grid(seed: int, count: int = 24, columns: int = 6) -> np.ndarray:
    """`count` random crops, each captioned with its label and state."""
    renderer = PlateRenderer(seed)
    tiles = []
    for _ in range(count):
        sample = renderer.render()
        tile = cv2.resize(sample.image, _TILE, interpolation=cv2.INTER_AREA)
        tile = cv2.copyMakeBorder(tile, 0, _CAPTION, 0, 0, cv2.BORDER_CONSTANT, value=(255,) * 3)
        caption = f"{sample.text}  {sample.state}"
        cv2.putText(tile, caption, (4, _TILE[1] + 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 180))
        tiles.append(cv2.copyMakeBorder(tile, 2, 2, 2, 2, cv2.BORDER_CONSTANT, value=(255,) * 3))
    blank = np.full_like(tiles[0], 255)
    tiles += [blank] * (-len(tiles) % columns)
    rows = [np.hstack(tiles[i : i + columns]) for i in range(0, len(tiles), columns)]
    return np.vstack(rows)


def scene_with_boxes(
    seed: int, width: int = 1280, height: int = 720, plates: int = 3
) -> np.ndarray:
    """The first daylight scene of the seed with at least `plates` labelled plates, boxed."""
    renderer = SceneRenderer(seed)
    while True:
        scene = renderer.render(width, height)
        if scene.lighting == "day" and len(scene.plates) >= plates:
            break
    image = scene.image.copy()
    for plate in scene.plates:
        b = plate.box
        cv2.rectangle(image, (b.x, b.y), (b.x + b.w - 1, b.y + b.h - 1), (0, 255, 0), 2)
        corners = np.array(plate.corners, np.int32)
        cv2.polylines(image, [corners], True, (0, 200, 255), 1, cv2.LINE_AA)
        label = f"{plate.text} {plate.state}"
        cv2.putText(
            image, label, (b.x, max(b.y - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3
        )
        cv2.putText(
            image, label, (b.x, max(b.y - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 255, 0), 1
        )
    return image
