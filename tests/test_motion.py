import numpy as np

from edge.config import MotionConfig
from edge.runtime.motion import MotionGate
from edge.runtime.types import Box


def scene(car_x=None):
    """A grey road with noise-free background and, optionally, a dark car at car_x."""
    image = np.full((720, 1280, 3), 120, np.uint8)
    if car_x is not None:
        image[400:560, car_x : car_x + 240] = 30
    return image


def test_static_frames_are_skipped_and_counted_moving_ones_pass():
    gate = MotionGate(MotionConfig())
    assert gate.moving_area(scene()) == Box(0, 0, 1280, 720)  # the first frame counts
    assert gate.moving_area(scene()) is None
    assert gate.moving_area(scene()) is None
    assert gate.moving_area(scene(car_x=300))
    area = gate.moving_area(scene(car_x=340))
    # The area holds the car (x 300-580, y 400-560) and not much more.
    assert area.x <= 300 and area.x + area.w >= 580
    assert area.y <= 400 and area.y + area.h >= 560
    assert area.area < 0.25 * 1280 * 720
    assert (gate.stats.checked, gate.stats.skipped) == (5, 2)


def test_motion_outside_the_zones_is_ignored():
    right_half = (((640, 0), (1280, 0), (1280, 720), (640, 720)),)
    gate = MotionGate(MotionConfig(zones=right_half))
    gate.moving_area(scene())
    assert not gate.moving_area(scene(car_x=100))  # in the left half only
    assert gate.moving_area(scene(car_x=800))


def test_disabled_gate_passes_everything():
    gate = MotionGate(MotionConfig(enabled=False))
    assert all(gate.moving_area(scene()) for _ in range(3))
    assert gate.stats.skipped == 0
