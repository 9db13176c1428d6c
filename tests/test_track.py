from datetime import datetime, timedelta

from edge.clock import UTC
from edge.config import TrackConfig
from edge.runtime.track import PlateTracker, Sighting, vote_text
from edge.runtime.types import Box, Detection, PlateText

START = datetime(2026, 1, 1, tzinfo=UTC)


def text(value, conf=0.9, region="CA", chars=None):
    return PlateText(value, conf, tuple(chars or [conf] * len(value)), region, 0.9)


def sighting(x, y, value=None, conf=0.9):
    return Sighting(Detection(Box(x, y, 120, 40), 0.9), text(value, conf) if value else None)


def drive(tracker, frames):
    """frames: list of (frame_index, [sightings]); returns every finished pass in order."""
    passes = []
    for index, sightings in frames:
        passes += tracker.update(index, START + timedelta(seconds=index / 30), sightings)
    return passes + tracker.finish()


def test_per_character_confidence_voting_beats_single_misreads():
    reads = [
        text("7ABC123", chars=[0.9, 0.9, 0.4, 0.9, 0.9, 0.9, 0.9]),
        text("7A8C123", chars=[0.9, 0.9, 0.3, 0.9, 0.9, 0.9, 0.9]),
        text("7ABC128", chars=[0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.2]),
        text("7ABC12", conf=0.5),
    ]
    vote = vote_text(reads)
    assert vote.text == "7ABC123"
    assert vote.region == "CA"
    assert 0 < vote.confidence < 1


def test_voted_text_that_fits_no_state_format_takes_a_fitting_runner_up():
    # California serials are digit, three letters, three digits: an I cannot be fourth-last.
    reads = [text("7ABCI23", chars=[0.9] * 4 + [0.6] + [0.9] * 2)] * 2 + [
        text("7ABC123", chars=[0.9] * 4 + [0.5] + [0.9] * 2)
    ]
    assert vote_text(reads).text == "7ABC123"


def test_one_read_per_pass_following_a_moving_plate():
    tracker = PlateTracker(TrackConfig(max_gap_frames=6), "cam")
    frames = [(i, [sighting(100 + 15 * i, 300 + 2 * i, "7ABC123")]) for i in range(0, 40, 2)]
    passes = drive(tracker, frames)
    assert [p.read.plate for p in passes] == ["7ABC123"]
    assert passes[0].read.frame_count == 20


def test_two_plates_in_one_frame_are_two_tracks():
    tracker = PlateTracker(TrackConfig(), "cam")
    frames = [
        (i, [sighting(100 + 5 * i, 300, "7ABC123"), sighting(800, 400, "4XYZ789")])
        for i in range(10)
    ]
    assert sorted(p.read.plate for p in drive(tracker, frames)) == ["4XYZ789", "7ABC123"]


def test_tracks_end_after_the_gap_and_repeats_within_the_window_are_not_new_reads():
    tracker = PlateTracker(TrackConfig(max_gap_frames=5, repeat_window_s=30), "cam")
    first = [(i, [sighting(100, 300, "7ABC123")]) for i in range(5)]
    ended = tracker.update(20, START + timedelta(seconds=20 / 30), [])
    assert [p.read.plate for p in drive(tracker, first) + ended] == ["7ABC123"]
    # Seen again 10 s later: the same car stopped at the light, not a new pass.
    again = [(300 + i, [sighting(100, 300, "7ABC123")]) for i in range(5)]
    assert drive(tracker, again) == []
    assert tracker.repeats == 1
    # Two minutes later it is a new pass.
    later = [(4000 + i, [sighting(100, 300, "7ABC123")]) for i in range(5)]
    assert [p.read.plate for p in drive(tracker, later)] == ["7ABC123"]


def test_tracks_with_too_few_or_unconfident_reads_are_dropped():
    tracker = PlateTracker(TrackConfig(min_reads=2, min_confidence=0.5), "cam")
    once = [(0, [sighting(100, 300, "7ABC123")]), (1, [sighting(100, 300)])]
    assert drive(tracker, once) == []
    weak = [(i, [sighting(500, 300, "8ZZZ999", conf=0.2)]) for i in range(10, 15)]
    assert drive(tracker, weak) == []


def test_read_keeps_the_most_confident_crop_and_its_box():
    tracker = PlateTracker(TrackConfig(), "cam")
    frames = [
        (0, [sighting(100, 300, "7ABC123", conf=0.6)]),
        (1, [sighting(110, 300, "7ABC123", conf=0.95)]),
        (2, [sighting(120, 300, "7ABC123", conf=0.7)]),
    ]
    (plate_pass,) = drive(tracker, frames)
    assert plate_pass.read.box == Box(110, 300, 120, 40)
    assert plate_pass.read.seen_at == START + timedelta(seconds=1 / 30)


def test_a_fast_plate_first_seen_without_velocity_joins_its_track_by_distance():
    # 50 px a frame, detected every third frame: the first two boxes do not overlap at all.
    tracker = PlateTracker(TrackConfig(max_jump_widths=1.5), "cam")
    frames = [(i, [sighting(50 * i, 300, "7ABC123")]) for i in range(0, 24, 3)]
    assert [p.read.plate for p in drive(tracker, frames)] == ["7ABC123"]


def test_a_plate_far_away_starts_its_own_track():
    tracker = PlateTracker(TrackConfig(max_jump_widths=1.5), "cam")
    frames = [(i, [sighting(100, 300, "7ABC123")]) for i in range(3)]
    frames += [(i, [sighting(100, 300, "7ABC123"), sighting(900, 300, "4XYZ789")]) for i in (3, 4)]
    assert sorted(p.read.plate for p in drive(tracker, frames)) == ["4XYZ789", "7ABC123"]


def test_a_split_pass_read_one_character_differently_is_a_repeat_not_a_second_vehicle():
    tracker = PlateTracker(TrackConfig(max_gap_frames=3, repeat_window_s=30), "cam")
    first = [(i, [sighting(100, 300, "7ABC123")]) for i in range(4)]
    # The tracker lost the plate for a moment and read the rest of the pass as 7A8C123.
    second = [(i, [sighting(100, 300, "7A8C123")]) for i in range(20, 24)]
    assert [p.read.plate for p in drive(tracker, first + second)] == ["7ABC123"]
    other = [(i, [sighting(100, 300, "7XYZ123")]) for i in range(40, 44)]
    assert [p.read.plate for p in drive(tracker, other)] == ["7XYZ123"]


def test_a_pass_whose_reads_all_disagree_is_dropped_not_guessed():
    tracker = PlateTracker(TrackConfig(min_reads=2), "cam")
    frames = [
        (0, [sighting(100, 300, "8HAW722", conf=0.9)]),
        (1, [sighting(100, 300, "HAW72", conf=0.9)]),
        (2, [sighting(100, 300, "8HMN72", conf=0.9)]),
    ]
    assert drive(tracker, frames) == []


def test_a_letter_read_where_the_format_needs_a_digit_is_swapped_for_its_lookalike():
    reads = [text("LSI5EBC", region="UK")] * 3  # UK: two letters, two digits, three letters
    assert vote_text(reads).text == "LS15EBC"


def test_a_similar_plate_seen_20_s_later_is_another_vehicle_not_a_repeat():
    tracker = PlateTracker(TrackConfig(max_gap_frames=3, repeat_window_s=30), "cam")
    first = [(i, [sighting(100, 300, "7ABC123")]) for i in range(4)]
    later = [(600 + i, [sighting(100, 300, "7ABC124")]) for i in range(4)]  # 20 s later
    assert [p.read.plate for p in drive(tracker, first + later)] == ["7ABC123", "7ABC124"]
    assert tracker.repeats == 0


def test_a_similar_plate_elsewhere_in_the_frame_at_once_is_another_vehicle():
    tracker = PlateTracker(TrackConfig(max_gap_frames=3, repeat_window_s=30), "cam")
    first = [(i, [sighting(100, 300, "7ABC123")]) for i in range(4)]
    beside = [(i, [sighting(1200, 300, "7ABC124")]) for i in range(8, 12)]  # another lane
    assert [p.read.plate for p in drive(tracker, first + beside)] == ["7ABC123", "7ABC124"]


def test_a_hotlisted_neighbour_of_a_split_pass_is_never_suppressed_as_a_repeat():
    listed = PlateTracker(
        TrackConfig(max_gap_frames=3, repeat_window_s=30),
        "cam",
        listed=lambda read: read.plate == "7ABC128",
    )
    first = [(i, [sighting(100, 300, "7ABC123")]) for i in range(4)]
    # Where a split pass would be a repeat, the listed plate is still reported: its hit counts.
    second = [(i, [sighting(100, 300, "7ABC128")]) for i in range(20, 24)]
    assert [p.read.plate for p in drive(listed, first + second)] == ["7ABC123", "7ABC128"]
    # The listed plate read again in the window raised its hit already: a repeat.
    again = [(i, [sighting(100, 300, "7ABC128")]) for i in range(300, 304)]
    assert drive(listed, again) == [] and listed.repeats == 1


def test_a_pass_keeps_the_candidates_its_reads_voted_for_the_voted_text_first():
    from dataclasses import replace

    from edge.runtime.types import Candidate

    def listed(value, *others):
        return replace(text(value), candidates=(Candidate(value, 0.8), *others))

    tracker = PlateTracker(TrackConfig(), "cam")
    frames = [
        (
            0,
            [
                Sighting(
                    Detection(Box(100, 100, 120, 40), 0.9),
                    listed("7ABC123", Candidate("7A8C123", 0.15)),
                )
            ],
        ),
        (
            1,
            [
                Sighting(
                    Detection(Box(104, 100, 120, 40), 0.9),
                    listed("7ABC123", Candidate("7ABC128", 0.1)),
                )
            ],
        ),
    ]
    [plate_pass] = drive(tracker, frames)
    candidates = plate_pass.read.candidates
    assert [c.text for c in candidates] == ["7ABC123", "7A8C123"]
    assert candidates[0].confidence == 0.8
    assert candidates[1].confidence == 0.075


def test_a_single_read_is_kept_as_the_ocr_decoded_it():
    # 2DA044 fits no California serial, but the OCR's decoder already weighed the formats with
    # every character's probabilities; one read is not second-guessed by swapping characters.
    assert vote_text([text("2DA044")]).text == "2DA044"


def test_without_a_repeat_window_two_plates_one_character_apart_side_by_side_are_two_reads():
    # A folder of stills (repeat_window_s 0): two cars parked side by side, plates one
    # character apart, are not one pass split in two.
    tracker = PlateTracker(TrackConfig(max_gap_frames=0, min_reads=1, repeat_window_s=0), "cam")
    photo = [(0, [sighting(100, 300, "7ABC123"), sighting(260, 300, "7ABC124")])]
    assert sorted(p.read.plate for p in drive(tracker, photo)) == ["7ABC123", "7ABC124"]
    next_photo = [(1, [sighting(100, 300, "7ABC123")])]
    assert [p.read.plate for p in drive(tracker, next_photo)] == ["7ABC123"]
    assert tracker.repeats == 0
