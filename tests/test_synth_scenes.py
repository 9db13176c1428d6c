import numpy as np
import pytest

from edge.lab.synth import scenes
from edge.lab.synth.plates import FlatPlate
from edge.lab.synth.preview import plate_grid, scene_with_boxes
from edge.lab.synth.scenes import SceneRenderer, yolo_line
from edge.plates.masks import fits_region_format
from edge.runtime.types import Box

MAGENTA = (255, 0, 255)


def magenta_plates(renderer: SceneRenderer) -> None:
    """Swap the plate faces for solid magenta so that the drawn plates can be found by colour."""
    face = np.zeros((128, 256, 3), np.uint8)
    face[:] = MAGENTA

    def draw_plate(state=None, text=None):
        return FlatPlate(face, "7XUP882", "CA", "test")

    renderer.plates.draw_plate = draw_plate


def test_same_seed_renders_the_same_scene():
    a, b = SceneRenderer(3).render(320, 240), SceneRenderer(3).render(320, 240)
    assert np.array_equal(a.image, b.image)
    assert a.plates == b.plates


def test_scene_plates_carry_valid_labels_inside_the_frame():
    renderer = SceneRenderer(5)
    count = 0
    for _ in range(6):
        scene = renderer.render(640, 360)
        assert scene.image.shape == (360, 640, 3)
        for plate in scene.plates:
            count += 1
            assert fits_region_format(plate.text, plate.state)
            assert plate.box.x >= 0 and plate.box.y >= 0 and plate.box.w > 0 and plate.box.h > 0
            assert plate.box.x + plate.box.w <= 640 and plate.box.y + plate.box.h <= 360
            assert len(plate.corners) == 4
    assert count >= 3


def test_boxes_are_tight_around_the_drawn_plate_pixels(monkeypatch):
    monkeypatch.setattr(scenes, "camera_effects", lambda image, rng, **_: image)
    monkeypatch.setattr(
        SceneRenderer, "_light", lambda self, image, *_: np.clip(image, 0, 255).astype(np.uint8)
    )
    renderer = SceneRenderer(8)
    magenta_plates(renderer)
    checked = 0
    for _ in range(8):
        scene = renderer.render(640, 480)
        distance = np.abs(scene.image.astype(int) - MAGENTA).sum(axis=2)
        painted = distance < 120  # at least half plate colour
        for plate in scene.plates:
            b = plate.box
            x0, y0 = max(b.x - 4, 0), max(b.y - 4, 0)
            near = painted[y0 : b.y + b.h + 4, x0 : b.x + b.w + 4]
            rows, cols = np.flatnonzero(near.any(axis=1)), np.flatnonzero(near.any(axis=0))
            found = Box(
                int(cols[0] + x0),
                int(rows[0] + y0),
                int(cols[-1] - cols[0] + 1),
                int(rows[-1] - rows[0] + 1),
            )
            assert abs(found.x - b.x) <= 1 and abs(found.y - b.y) <= 1, (found, b)
            assert abs(found.w - b.w) <= 2 and abs(found.h - b.h) <= 2, (found, b)
            # The corners enclose the box.
            xs, ys = [x for x, _ in plate.corners], [y for _, y in plate.corners]
            assert min(xs) <= b.x + 1 and max(xs) >= b.x + b.w - 1
            assert min(ys) <= b.y + 1 and max(ys) >= b.y + b.h - 1
            checked += 1
    assert checked >= 5


def test_yolo_lines_are_normalised_centre_and_size():
    assert yolo_line(Box(100, 50, 40, 20), 400, 200) == "0 0.300000 0.300000 0.100000 0.100000"


def test_too_small_a_scene_is_rejected():
    with pytest.raises(ValueError, match="at least 64x64"):
        SceneRenderer(0).render(0, 100)


def test_preview_pictures_show_captioned_crops_and_a_boxed_scene():
    grid = plate_grid(0, count=7, columns=3)
    assert grid.shape == (3 * 126, 3 * 204, 3)
    assert scene_with_boxes(0, 320, 240, plates=1).shape == (240, 320, 3)
