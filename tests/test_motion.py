import numpy as np

from edge.config import MotionConfig
from edge.motion import MotionGate


def scene(car_x=None):
    """A grey road with noise-free background and, optionally, a dark car at car_x."""
    image = np.full((720, 1280, 3), 120, np.uint8)
    if car_x is not None:
        image[400:560, car_x : car_x + 240] = 30
    return image


def test_static_frames_are_skipped_and_counted_moving_ones_pass():
    gate = MotionGate(MotionConfig())
    assert gate.moved(scene())  # the first frame always counts
    assert not gate.moved(scene())
    assert not gate.moved(scene())
    assert gate.moved(scene(car_x=300))
    assert gate.moved(scene(car_x=340))
    assert (gate.stats.checked, gate.stats.skipped) == (5, 2)


def test_motion_outside_the_zones_is_ignored():
    right_half = (((640, 0), (1280, 0), (1280, 720), (640, 720)),)
    gate = MotionGate(MotionConfig(zones=right_half))
    gate.moved(scene())
    assert not gate.moved(scene(car_x=100))  # in the left half only
    assert gate.moved(scene(car_x=800))


def test_disabled_gate_passes_everything():
    gate = MotionGate(MotionConfig(enabled=False))
    assert all(gate.moved(scene()) for _ in range(3))
    assert gate.stats.skipped == 0
