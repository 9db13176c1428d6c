from pathlib import Path

import cv2
import numpy as np
import pytest

from edge.errors import ModelError
from edge.lab.evaluation.detection import load_plate_photos
from edge.runtime.detect import PlateDetector, plate_crop
from edge.runtime.detect.detector import PAD_MULTIPLE, STRIDE, decode, letterbox
from edge.runtime.detect.overlap import merge_large, merge_small, suppress_nested
from edge.runtime.types import Box, Detection

SHIPPED_MODEL = Path(__file__).resolve().parent.parent / "models" / "detector.onnx"


def test_missing_model_file_is_a_model_error_naming_the_file(tmp_path):
    missing = tmp_path / "absent.onnx"
    with pytest.raises(ModelError) as caught:
        PlateDetector(missing)
    assert str(missing) in str(caught.value)
    assert "not found" in str(caught.value)


def test_corrupt_model_file_is_a_model_error_not_an_onnxruntime_trace(tmp_path):
    corrupt = tmp_path / "detector.onnx"
    corrupt.write_bytes(SHIPPED_MODEL.read_bytes()[:5000])
    with pytest.raises(ModelError) as caught:
        PlateDetector(corrupt)
    assert str(corrupt) in str(caught.value)
    assert "cannot load as an ONNX model" in str(caught.value)
    assert caught.value.__cause__ is None


def test_model_with_another_contract_is_rejected_with_what_differs(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["plate"])],
        "not-a-detector",
        [helper.make_tensor_value_info("input", TensorProto.UINT8, [1, 64, 128, 3])],
        [helper.make_tensor_value_info("plate", TensorProto.UINT8, [1, 64, 128, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "ocr-like.onnx"
    onnx.save(model, str(path))
    with pytest.raises(ModelError) as caught:
        PlateDetector(path)
    assert str(path) in str(caught.value)
    assert "expected one uint8 input 'image'" in str(caught.value)


def test_letterbox_keeps_the_aspect_and_pads_to_the_network_multiple():
    frame = np.zeros((720, 1280, 3), np.uint8)
    boxed = letterbox(frame, 640)
    assert boxed.scale == pytest.approx(0.5)
    assert boxed.image.shape == (384, 640, 3)
    portrait = letterbox(np.zeros((500, 300, 3), np.uint8), 640)
    assert portrait.image.shape[0] == 640
    assert portrait.image.shape[1] % PAD_MULTIPLE == 0


def test_decode_turns_a_peak_into_a_box_and_corners_in_input_pixels():
    heatmap = np.zeros((1, 10, 20), np.float32)
    heatmap[0, 5, 8] = 0.9
    boxes = np.zeros((4, 10, 20), np.float32)
    boxes[:, 5, 8] = [10, 4, 30, 6]
    corners = np.zeros((8, 10, 20), np.float32)
    corners[:, 5, 8] = [-0.25, -0.4, 0.75, -0.4, 0.75, 0.6, -0.25, 0.6]
    scores, xyxy, points = decode(heatmap, boxes, corners, 0.5, 10)
    centre_x, centre_y = 8.5 * STRIDE, 5.5 * STRIDE
    assert scores.tolist() == pytest.approx([0.9])
    assert xyxy[0].tolist() == pytest.approx(
        [centre_x - 10, centre_y - 4, centre_x + 30, centre_y + 6]
    )
    assert points[0, 0].tolist() == pytest.approx([centre_x - 10, centre_y - 4])
    assert points[0, 2].tolist() == pytest.approx([centre_x + 30, centre_y + 6])


def test_detect_rejects_an_image_that_is_not_bgr():
    detector = PlateDetector(SHIPPED_MODEL)
    with pytest.raises(ValueError, match="HxWx3"):
        detector.detect(np.zeros((100, 100), np.uint8))


def test_plate_crop_adds_a_margin_and_stays_inside_the_frame():
    frame = np.zeros((100, 200, 3), np.uint8)
    assert plate_crop(frame, Box(50, 40, 100, 20)).shape == (20, 112, 3)
    assert plate_crop(frame, Box(50, 40, 100, 20), 0.1, 0.1).shape == (24, 120, 3)
    assert plate_crop(frame, Box(0, 90, 100, 10), 0.06, 0.1).shape[:2] == (11, 106)


def test_shipped_detector_finds_the_plate_in_full_frame_coordinates_at_any_size(shared_data):
    photo = load_plate_photos(shared_data("real", "eu"))[0]
    plate = photo.plates[0].box
    detector = PlateDetector(SHIPPED_MODEL)
    # The same photo, and the photo placed into a larger frame at an offset.
    canvas = np.full((photo.image.shape[0] + 300, photo.image.shape[1] + 500, 3), 90, np.uint8)
    canvas[200 : 200 + photo.image.shape[0], 120 : 120 + photo.image.shape[1]] = photo.image
    moved = Box(plate.x + 120, plate.y + 200, plate.w, plate.h)
    for image, expected in ((photo.image, plate), (canvas, moved)):
        detections = detector.detect(image)
        assert max(d.box.iou(expected) for d in detections) >= 0.5
        best = max(detections, key=lambda d: d.box.iou(expected))
        assert best.corners is not None and len(best.corners) == 4
        assert 0 < best.score <= 1


def test_shipped_detector_finds_nothing_in_a_blank_frame():
    frame = np.full((720, 1280, 3), 128, np.uint8)
    frame = cv2.GaussianBlur(frame, (5, 5), 0)
    assert PlateDetector(SHIPPED_MODEL).detect(frame) == []


def test_shipped_detector_finds_the_plates_of_synthetic_street_scenes():
    from edge.lab.synth.scenes import SceneRenderer

    detector = PlateDetector(SHIPPED_MODEL)
    renderer = SceneRenderer(11)
    found = total = 0
    for _ in range(4):
        scene = renderer.render(1280, 720)
        detections = detector.detect(scene.image)
        for plate in scene.plates:
            if plate.box.w < 60:  # the far, small plates are not what this test is about
                continue
            total += 1
            found += any(d.box.iou(plate.box) >= 0.3 for d in detections)
    assert total >= 3
    assert found >= total - 1


def test_a_plate_boxed_twice_at_two_sizes_is_kept_once():
    plate = Detection(Box(500, 400, 150, 50), 0.5)
    looser = Detection(Box(480, 390, 190, 70), 0.34)
    elsewhere = Detection(Box(900, 400, 150, 50), 0.4)
    assert suppress_nested([looser, plate, elsewhere]) == [plate, elsewhere]


def test_a_large_plate_found_in_pieces_replaces_the_pieces_even_when_they_score_higher():
    pieces = [Detection(Box(150, 110, 230, 165), 0.63), Detection(Box(20, 120, 260, 150), 0.61)]
    whole = Detection(Box(0, 100, 540, 180), 0.45)
    elsewhere = Detection(Box(900, 400, 150, 50), 0.5)
    assert merge_large([*pieces, elsewhere], [whole]) == [elsewhere, whole]


def test_a_large_box_around_one_better_plate_is_dropped_and_a_better_one_replaces_it():
    plate = Detection(Box(230, 460, 200, 80), 0.8)
    surroundings = Detection(Box(140, 430, 740, 220), 0.4)
    assert merge_large([plate], [surroundings]) == [plate]
    cut_short = Detection(Box(420, 400, 490, 170), 0.38)
    whole = Detection(Box(280, 360, 710, 280), 0.63)
    assert merge_large([cut_short], [whole]) == [whole]


def test_a_large_plate_the_full_pass_missed_is_added_unless_it_overlaps_one_partly():
    small = Detection(Box(900, 600, 100, 40), 0.7)
    large = Detection(Box(100, 100, 600, 200), 0.5)
    assert merge_large([small], [large]) == [small, large]
    straddling = Detection(Box(950, 560, 600, 200), 0.9)
    assert merge_large([small], [straddling]) == [small]


def test_a_tight_fine_pass_box_replaces_a_wider_weaker_box_around_the_same_plate():
    wide = Detection(Box(290, 124, 134, 46), 0.54)
    tight = Detection(Box(312, 128, 88, 37), 0.75)
    elsewhere = Detection(Box(900, 400, 60, 30), 0.6)
    assert merge_small([wide, elsewhere], [tight]) == [tight, elsewhere]


def test_a_weaker_fine_pass_box_leaves_the_plate_found_before_alone():
    found = Detection(Box(500, 400, 80, 30), 0.8)
    weaker = Detection(Box(505, 402, 76, 28), 0.6)
    assert merge_small([found], [weaker]) == [found]


def test_a_distant_plate_only_the_fine_pass_found_is_added_but_never_one_touching_another():
    found = Detection(Box(500, 400, 200, 60), 0.8)
    distant = Detection(Box(100, 80, 55, 26), 0.5)
    assert merge_small([found], [distant]) == [found, distant]
    # Inside the found box but not the same box: reading it would read one plate twice.
    inside = Detection(Box(520, 410, 40, 20), 0.9)
    assert merge_small([found], [inside]) == [found]


def test_the_fine_pass_searches_at_one_and_a_half_times_and_keeps_only_small_plates(monkeypatch):
    detector = PlateDetector(SHIPPED_MODEL)
    sides = []
    at_fine = [Detection(Box(100, 80, 60, 28), 0.5), Detection(Box(400, 300, 200, 60), 0.9)]

    def detect_at(image, max_side):
        sides.append(max_side)
        return at_fine if max_side > detector.max_side else []

    monkeypatch.setattr(detector, "detect_at", detect_at)
    photo = np.zeros((720, 1280, 3), np.uint8)
    assert detector.detect_any_size(photo) == []
    assert sides == [detector.max_side, detector.max_side // 2]
    # The 200-px plate is wider than 0.1 of the long side: the other passes box those better.
    assert detector.detect_any_size(photo, fine_pass=True) == at_fine[:1]
    # The costliest pass first: with two workers the other two share the second one.
    assert sides[2:] == [round(1.5 * detector.max_side), detector.max_side, detector.max_side // 2]


def test_a_detector_with_two_workers_runs_two_passes_at_once():
    import threading

    both = threading.Barrier(2, timeout=2)

    def meet(number: int) -> int:
        both.wait()  # returns only once the other call has arrived too
        return number

    assert PlateDetector(SHIPPED_MODEL, workers=2).each(meet, [1, 2]) == [1, 2]
    with pytest.raises(threading.BrokenBarrierError):
        PlateDetector(SHIPPED_MODEL, workers=1).each(meet, [1, 2])


def test_a_still_searched_by_two_workers_is_boxed_exactly_as_by_one():
    from edge.config import OcrConfig
    from edge.lab.synth.scenes import SceneRenderer
    from edge.runtime.pipeline.stills import find_photo_plates

    one = PlateDetector(SHIPPED_MODEL, fine_pass=True, workers=1)
    two = PlateDetector(SHIPPED_MODEL, fine_pass=True, workers=2)
    renderer = SceneRenderer(7)
    found = 0
    for _ in range(3):
        image = renderer.render(1280, 720).image
        boxed = find_photo_plates(image, one, OcrConfig())
        assert find_photo_plates(image, two, OcrConfig()) == boxed
        found += len(boxed)
    assert found >= 3


def test_the_fine_pass_searches_a_squarer_photo_at_no_more_pixels_than_a_720p_one():
    detector = PlateDetector(SHIPPED_MODEL)
    assert detector.fine_side(1280, 720) == 960
    assert detector.fine_side(1280, 1280) == 720
    assert detector.fine_side(960, 1280) == 831
    assert detector.fine_side(2000, 400) == 960


def test_the_fine_pass_finds_a_distant_plate_in_a_wide_photo():
    from edge.lab.synth.plates import PlateRenderer

    face = PlateRenderer(5).draw_plate("CA").image
    noise = np.random.default_rng(1).integers(60, 200, (720, 1280, 3), dtype=np.uint8)
    photo = cv2.GaussianBlur(noise, (31, 31), 0)
    width = 70  # 35 px at the 640 letterbox: smaller than most plates the detector learnt
    height = round(face.shape[0] * width / face.shape[1])
    plate = Box(700, 300, width, height)
    photo[plate.y : plate.y + height, plate.x : plate.x + width] = cv2.resize(
        face, (width, height), interpolation=cv2.INTER_AREA
    )
    detector = PlateDetector(SHIPPED_MODEL)
    with_fine = detector.detect_any_size(photo, fine_pass=True)
    assert any(d.box.iou(plate) >= 0.3 for d in with_fine)
    assert all(d.box.w < 0.1 * 1280 for d in with_fine)


@pytest.mark.parametrize("state", ["BR", "CA", "EU"])
def test_a_plate_filling_most_of_a_still_photo_is_found_once_and_whole(state):
    from edge.lab.synth.plates import PlateRenderer

    face = PlateRenderer(3).draw_plate(state).image
    noise = np.random.default_rng(0).integers(60, 200, (500, 800, 3), dtype=np.uint8)
    photo = cv2.GaussianBlur(noise, (31, 31), 0)
    width = 620  # 0.78 of the frame: wider than the detector's training crops held
    height = round(face.shape[0] * width / face.shape[1])
    plate = Box(90, 250 - height // 2, width, height)
    photo[plate.y : plate.y + height, plate.x : plate.x + width] = cv2.resize(face, (width, height))
    detections = PlateDetector(SHIPPED_MODEL).detect_any_size(photo)
    assert len(detections) == 1
    assert detections[0].box.iou(plate) >= 0.5
