"""Better crops for still photos: plates warped flat from their corners, edges padded."""

from __future__ import annotations

import cv2
import numpy as np

from edge.runtime.detect import plate_crop, rectified_crop
from edge.runtime.recognise.margins import read_boxes
from edge.runtime.types import Box, PlateText


def striped_plate() -> np.ndarray:
    """A 200x100 plate whose left half is black and right half white, on grey."""
    frame = np.full((300, 400, 3), 128, np.uint8)
    frame[100:200, 100:200] = 0
    frame[100:200, 200:300] = 255
    return frame


def test_a_tilted_plate_is_warped_flat_to_its_own_width_and_height():
    flat = np.zeros((100, 200, 3), np.uint8)
    flat[:, 100:] = 255
    source = np.float32([[0, 0], [199, 0], [199, 99], [0, 99]])
    corners = np.float32([[120, 80], [310, 110], [300, 200], [110, 180]])
    frame = cv2.warpPerspective(
        flat, cv2.getPerspectiveTransform(source, corners), (400, 300), borderValue=(128,) * 3
    )
    crop = rectified_crop(frame, [tuple(map(float, c)) for c in corners], margin_x=0.0)
    assert crop is not None
    height, width = crop.shape[:2]
    assert 180 <= width <= 200 and 90 <= height <= 100
    # Flat again: the left half dark and the right half light from top to bottom.
    assert crop[5:-5, 10 : width // 2 - 10].mean() < 40
    assert crop[5:-5, width // 2 + 10 : -10].mean() > 215


def test_folded_or_tiny_corners_give_no_rectified_crop():
    frame = striped_plate()
    twisted = [(100.0, 100.0), (300.0, 200.0), (300.0, 100.0), (100.0, 200.0)]
    assert rectified_crop(frame, twisted) is None
    tiny = [(100.0, 100.0), (104.0, 100.0), (104.0, 102.0), (100.0, 102.0)]
    assert rectified_crop(frame, tiny) is None


def test_a_plate_at_the_frame_edge_keeps_its_margin_when_padded():
    frame = striped_plate()
    box = Box(0, 100, 200, 100)  # touching the left edge
    clipped = plate_crop(frame, box, 0.1)
    padded = plate_crop(frame, box, 0.1, pad_edges=True)
    assert clipped.shape[:2] == (100, 220)
    assert padded.shape[:2] == (100, 240)
    assert (padded[:, :20] == frame[100:200, :1]).all()  # edge pixels repeated
    inside = Box(100, 100, 100, 50)
    assert (plate_crop(frame, inside, 0.1, pad_edges=True) == plate_crop(frame, inside, 0.1)).all()


class ShapeReader:
    """Reads each crop as its width, so a test can see which crop was cut."""

    def read(self, crops):
        return [PlateText(str(crop.shape[1]), 0.9, ()) for crop in crops]


def test_read_boxes_warps_plates_that_have_corners_and_cuts_the_others():
    frame = striped_plate()
    boxes = [Box(90, 90, 220, 120), Box(90, 90, 220, 120)]
    corners = [((100.0, 100.0), (300.0, 100.0), (300.0, 200.0), (100.0, 200.0)), None]
    reads = read_boxes(ShapeReader(), frame, boxes, [0.0], corners=corners)
    assert [r.text for r in reads] == ["200", "220"]


def test_a_second_look_at_2x_boxes_a_plate_again_or_keeps_the_first_box():
    from edge.lab.synth.scenes import SceneRenderer
    from edge.runtime.detect import PlateDetector
    from edge.runtime.types import Detection
    from tests.conftest import REPO_ROOT

    detector = PlateDetector(REPO_ROOT / "models" / "detector.onnx")
    renderer = SceneRenderer(11)
    looked = 0
    for _ in range(3):
        scene = renderer.render(1280, 720)
        for found in detector.detect(scene.image):
            again = detector.look_again(scene.image, found)
            assert again.score == found.score
            assert again.box.iou(found.box) >= 0.3
            looked += 1
    assert looked >= 2
    # Nothing plate-like around a blank box: the first box stands.
    blank = np.full((400, 600, 3), 127, np.uint8)
    nothing = Detection(Box(250, 180, 100, 30), 0.5)
    assert detector.look_again(blank, nothing) is nothing


class FakeDetector:
    """Finds the plates it is given (one small and one wide by default); every second look
    answers the small default plate's box moved 2 px left and 4 px wider."""

    def __init__(self, boxes=None):
        self.boxes = boxes or (Box(10, 10, 60, 20), Box(100, 100, 200, 60))
        self.looked = []

    def detect_any_size(self, image):
        from edge.runtime.types import Detection

        return [Detection(box, 0.9) for box in self.boxes]

    def look_again(self, image, found):
        from edge.runtime.types import Detection

        self.looked.append(found.box)
        return Detection(Box(8, 10, 64, 20), found.score)

    def each(self, work, items):
        return [work(item) for item in items]


class FakeReader(ShapeReader):
    def with_candidates(self, count):
        return self

    def naming(self, confidence):
        return self


def test_a_second_look_reboxes_only_the_small_plates_and_reads_them_from_the_new_box():
    from dataclasses import replace

    from edge.config import OcrConfig
    from edge.runtime.pipeline.stills import read_photo

    frame = np.full((300, 400, 3), 100, np.uint8)
    detector = FakeDetector()
    ocr = replace(OcrConfig(), still_crop_margins=(0.0,))
    found = read_photo(frame, detector, FakeReader(), ocr)
    assert detector.looked == [Box(10, 10, 60, 20)]
    assert [(p.box, p.text.text) for p in found] == [
        (Box(8, 10, 64, 20), "64"),
        (Box(100, 100, 200, 60), "200"),
    ]
    detector.looked.clear()
    plain = read_photo(frame, detector, FakeReader(), replace(ocr, still_second_look=False))
    assert detector.looked == [] and plain[0].box == Box(10, 10, 60, 20)


def test_a_second_look_also_reboxes_middling_plates_shaped_like_us_ones_not_european_ones():
    from dataclasses import replace

    from edge.config import OcrConfig
    from edge.runtime.pipeline.stills import find_photo_plates

    small_european = Box(0, 0, 90, 20)  # under 100 px: looked at whatever its shape
    us_shaped = Box(0, 40, 120, 50)  # 2.4:1, as a US plate boxed with its recess
    european = Box(0, 100, 120, 28)  # 4.3:1
    mercosul = Box(0, 140, 124, 40)  # 3.1:1
    too_wide = Box(0, 200, 160, 70)  # 2.3:1 but 150 px or wider: not looked at
    detector = FakeDetector((small_european, us_shaped, european, mercosul, too_wide))
    frame = np.full((300, 400, 3), 100, np.uint8)
    find_photo_plates(frame, detector, replace(OcrConfig(), still_crop_margins=(0.0,)))
    assert detector.looked == [small_european, us_shaped]


def test_a_plate_is_warped_from_its_corners_only_where_they_agree_with_its_box():
    from edge.runtime.pipeline.stills import agreeing_corners
    from edge.runtime.types import Detection

    box = Box(100, 50, 200, 60)
    tilted = ((104.0, 48.0), (302.0, 56.0), (298.0, 112.0), (98.0, 104.0))
    assert agreeing_corners(Detection(box, 0.9, tilted)) == tilted
    # Corners around half the plate (the corner head on a close-up): cut from the box instead.
    half = ((100.0, 50.0), (200.0, 50.0), (200.0, 110.0), (100.0, 110.0))
    assert agreeing_corners(Detection(box, 0.9, half)) is None
    assert agreeing_corners(Detection(box, 0.9)) is None
