"""Track and vote: follow each plate across frames and turn one vehicle pass into one read.

Detections join the track whose predicted box (last box moved by its velocity) they overlap
most. When a track has not been seen for `max_gap_frames`, its OCR reads are voted: the
most-supported length wins, then per position the character with the most summed confidence.
The result is checked against the state's serial formats (from `edge.plates`); if it
fits none but vanity, the runner-up character at one position, an observed read, or the text
with one or two OCR-confusable characters swapped (`edge.plates.confusions`), that fits a regular
format is taken (a vanity plate that nothing else fits stays as read). The reads' candidates
vote too (`vote_candidates`: mean confidence over the reads), the voted text first.
A repeat is the same vehicle, never merely a similar text: the same voted plate read again
within `repeat_window_s` on this camera (a car waiting at the light), or a plate one character
away from a pass that ended moments before at the same place (one pass the tracker split in
two and misread once: it starts within `SPLIT_PASS_S` of the other's last sighting, within
`SPLIT_PASS_WIDTHS` plate widths of it). A window of 0 makes no pass a repeat. No hotlist
hit is suppressed: a read on the hotlist (`listed`) that is one character from the earlier
read is kept (the same plate again raised its hit the first time).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from edge.config import TrackConfig
from edge.plates.confusions import confusable_with
from edge.plates.masks import fits_issued_format
from edge.plates.regions import REGIONS
from edge.runtime.types import Box, Detection, PlateText, VehicleRead, vote_candidates

FormatCheck = Callable[[str, str], bool]
# OCR confidence above which agreeing reads count towards settling a track.
SETTLED_CONFIDENCE = 0.8
# A pass one character from another is its other half only when it starts this soon after the
# other's last sighting, this close to where it was last seen (centres, in plate widths).
SPLIT_PASS_S = 2.0
SPLIT_PASS_WIDTHS = 3.0


def fits_known_format(text: str, state: str) -> bool:
    """Whether the text fits one of the state's serial formats other than vanity plates (which
    take almost anything); states we hold no formats for always fit."""
    return state not in REGIONS or fits_issued_format(text, state)


@dataclass
class Sighting:
    """One detection in one frame, with its OCR read when the plate was read."""

    detection: Detection
    text: PlateText | None = None
    crop: np.ndarray | None = None


@dataclass
class PlatePass:
    """A finished pass: the voted read and the crop of its most confident sighting."""

    read: VehicleRead
    crop: np.ndarray | None


@dataclass
class Track:
    id: int
    box: Box
    last_frame: int
    velocity: tuple[float, float] = (0.0, 0.0)
    frames_seen: int = 1
    texts: list[PlateText] = field(default_factory=list)
    best_text: PlateText | None = None
    best_crop: np.ndarray | None = None
    best_box: Box | None = None
    best_time: datetime | None = None
    first_time: datetime | None = None
    last_time: datetime | None = None
    first_box: Box | None = None

    def predicted(self, frame_index: int) -> Box:
        gap = frame_index - self.last_frame
        dx, dy = self.velocity
        return Box(
            round(self.box.x + dx * gap), round(self.box.y + dy * gap), self.box.w, self.box.h
        )

    def settled(self, enough: int) -> bool:
        """Whether `enough` confident reads agree exactly, so more reads would not change the
        vote (0: never)."""
        if enough <= 0 or self.best_text is None:
            return False
        best = self.best_text.text
        agreeing = (t for t in self.texts if t.text == best and t.confidence >= SETTLED_CONFIDENCE)
        return sum(1 for _ in agreeing) >= enough

    def add(self, sighting: Sighting, frame_index: int, timestamp: datetime) -> None:
        box = sighting.detection.box
        gap = max(1, frame_index - self.last_frame)
        self.velocity = ((box.x - self.box.x) / gap, (box.y - self.box.y) / gap)
        self.box = box
        self.last_frame = frame_index
        self.last_time = timestamp
        self.frames_seen += 1
        self.observe(sighting, timestamp)

    def observe(self, sighting: Sighting, timestamp: datetime) -> None:
        text = sighting.text
        if text is None or not text.text:
            return
        self.texts.append(text)
        if self.best_text is None or text.confidence > self.best_text.confidence:
            self.best_text = text
            self.best_crop = sighting.crop
            self.best_box = sighting.detection.box
            self.best_time = timestamp


@dataclass(frozen=True)
class Vote:
    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    # The region the reads named (None when none was sure); the formats were those of the
    # likeliest region, named or not.
    region: str | None
    # Reads that are the voted text or one character from it: a lone misread agrees with none.
    agreeing: int


@dataclass(frozen=True)
class _Passed:
    """Where and when a read plate was last seen, to tell a repeat from another vehicle."""

    last_time: datetime
    last_box: Box


class PlateTracker:
    def __init__(
        self,
        config: TrackConfig,
        camera_id: str,
        fits: FormatCheck = fits_known_format,
        listed: Callable[[VehicleRead], bool] | None = None,
    ) -> None:
        """`listed(read)`: whether a read is on a hotlist (such a read is never a repeat)."""
        self.config = config
        self.camera_id = camera_id
        self.fits = fits
        self.listed = listed
        self.tracks: list[Track] = []
        self.repeats = 0
        self._ids = itertools.count(1)
        self._last_read: dict[str, _Passed] = {}

    def update(
        self, frame_index: int, timestamp: datetime, sightings: Sequence[Sighting]
    ) -> list[PlatePass]:
        """Add one detection frame's sightings; returns the passes that ended."""
        unmatched = list(range(len(sightings)))
        pairs = []
        for track in self.tracks:
            if frame_index - track.last_frame > self.config.max_gap_frames:
                continue  # ended: a plate seen there now is a new pass
            predicted = track.predicted(frame_index)
            for index in unmatched:
                affinity = self._affinity(predicted, sightings[index].detection.box)
                if affinity > 0:
                    pairs.append((affinity, track, index))
        taken_tracks: set[int] = set()
        for _, track, index in sorted(pairs, key=lambda item: -item[0]):
            if track.id in taken_tracks or index not in unmatched:
                continue
            taken_tracks.add(track.id)
            unmatched.remove(index)
            track.add(sightings[index], frame_index, timestamp)
        for index in unmatched:
            box = sightings[index].detection.box
            track = Track(
                next(self._ids),
                box,
                frame_index,
                first_time=timestamp,
                last_time=timestamp,
                first_box=box,
            )
            track.observe(sightings[index], timestamp)
            self.tracks.append(track)
        return self.expire(frame_index)

    def _affinity(self, predicted: Box, box: Box) -> float:
        """How well a detection continues a track: above 1 when the boxes overlap enough, in
        (0, 1) when its centre is within `max_jump_widths` plate widths (a plate first seen
        has no velocity yet), 0 when it cannot be this plate."""
        overlap = predicted.iou(box)
        if overlap >= self.config.min_overlap:
            return 1.0 + overlap
        if not 0.5 <= box.w / max(predicted.w, 1) <= 2.0:
            return 0.0
        dx = (box.x + box.w / 2) - (predicted.x + predicted.w / 2)
        dy = (box.y + box.h / 2) - (predicted.y + predicted.h / 2)
        limit = self.config.max_jump_widths * max(predicted.w, box.w)
        return max(0.0, 1.0 - (dx * dx + dy * dy) ** 0.5 / limit) if limit else 0.0

    def expire(self, frame_index: int) -> list[PlatePass]:
        """End the tracks not detected for `max_gap_frames` (call on frames not detected)."""
        if not self.tracks:
            return []
        return self._finish(lambda t: frame_index - t.last_frame > self.config.max_gap_frames)

    def finish(self) -> list[PlatePass]:
        """End every open track (end of a replay, or shutdown)."""
        return self._finish(lambda t: True)

    def _finish(self, ended: Callable[[Track], bool]) -> list[PlatePass]:
        done = [t for t in self.tracks if ended(t)]
        self.tracks = [t for t in self.tracks if not ended(t)]
        passes = []
        for track in sorted(done, key=lambda t: t.last_frame):
            plate_pass = self._conclude(track)
            if plate_pass is not None:
                passes.append(plate_pass)
        return passes

    def _repeat_of(self, plate: str, track: Track) -> str | None:
        """The earlier read this pass repeats (module docstring), None when it is a new
        vehicle; remembers this pass."""
        if self.config.repeat_window_s == 0:
            # No window: every pass is a vehicle of its own (a folder of stills, where two
            # plates one character apart side by side in one photo are two cars, not a split).
            return None
        started = track.first_time or track.best_time
        ended = track.last_time or track.best_time
        assert started is not None and ended is not None  # a concluded track was seen
        window = timedelta(seconds=self.config.repeat_window_s)
        self._last_read = {
            p: seen for p, seen in self._last_read.items() if started - seen.last_time <= window
        }
        if plate in self._last_read:
            repeat: str | None = plate
        else:
            repeat = next(
                (
                    previous
                    for previous, seen in self._last_read.items()
                    if _one_apart(plate, previous) and self._continues(seen, track, started)
                ),
                None,
            )
        self._last_read[plate] = _Passed(ended, track.box)
        return repeat

    def _continues(self, seen: _Passed, track: Track, started: datetime) -> bool:
        """Whether a track starts where and just when an earlier pass was last seen."""
        if (started - seen.last_time).total_seconds() > SPLIT_PASS_S:
            return False
        first = track.first_box or track.box
        dx = (first.x + first.w / 2) - (seen.last_box.x + seen.last_box.w / 2)
        dy = (first.y + first.h / 2) - (seen.last_box.y + seen.last_box.h / 2)
        return (dx * dx + dy * dy) ** 0.5 <= SPLIT_PASS_WIDTHS * max(first.w, seen.last_box.w)

    def _conclude(self, track: Track) -> PlatePass | None:
        if len(track.texts) < self.config.min_reads or track.best_time is None:
            return None
        vote = vote_text(track.texts, self.fits)
        if vote.agreeing < self.config.min_reads or vote.confidence < self.config.min_confidence:
            return None
        read = VehicleRead(
            plate=vote.text,
            region=vote.region,
            confidence=vote.confidence,
            seen_at=track.best_time,
            camera_id=self.camera_id,
            box=track.best_box or track.box,
            frame_count=track.frames_seen,
            char_confidences=vote.char_confidences,
            candidates=vote_candidates(vote.text, [t.candidates for t in track.texts]),
        )
        repeated = self._repeat_of(vote.text, track)
        # The same plate again raised its hit already; a one-character neighbour that is on
        # the hotlist is reported whatever the earlier read was, so no hit is ever lost.
        if repeated == vote.text or (
            repeated is not None and not (self.listed and self.listed(read))
        ):
            self.repeats += 1
            return None
        return PlatePass(read, track.best_crop)


def _one_apart(a: str, b: str) -> bool:
    """At most one character changed, added or dropped (edit distance <= 1)."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    shorter, longer = sorted((a, b), key=len)
    return any(longer[:i] + longer[i + 1 :] == shorter for i in range(len(longer)))


def vote_text(texts: Sequence[PlateText], fits: FormatCheck = fits_known_format) -> Vote:
    """Per-character confidence voting over a track's OCR reads (see the module docstring)."""
    state = _vote_region(texts, steering=True)
    by_length: dict[int, list[PlateText]] = defaultdict(list)
    for text in texts:
        by_length[len(text.text)].append(text)
    length = max(by_length, key=lambda n: sum(t.confidence for t in by_length[n]))
    voters = by_length[length]
    scores: list[dict[str, float]] = [defaultdict(float) for _ in range(length)]
    for text in voters:
        for position, char in enumerate(text.text):
            scores[position][char] += _char_confidence(text, position)
    ranked = [sorted(s.items(), key=lambda kv: -kv[1]) for s in scores]
    total = len(voters)

    def support(candidate: str) -> tuple[float, ...]:
        return tuple(scores[i].get(c, 0.0) / total for i, c in enumerate(candidate))

    best = "".join(r[0][0] for r in ranked)
    # One read is the OCR decoder's own choice among the formats, made with every character's
    # probabilities; swapping its characters here could only second-guess it (a still under
    # `run --stills` would then store other than `alpr-edge read` prints).
    if state is not None and len(voters) > 1:
        best = _fitting(best, ranked, voters, state, fits)
    chars = support(best)
    agreeing = sum(1 for t in voters if _one_apart(t.text, best))
    return Vote(best, sum(chars) / length, chars, _vote_region(texts), agreeing)


def _fitting(
    best: str,
    ranked: list[list[tuple[str, float]]],
    voters: Sequence[PlateText],
    state: str,
    fits: FormatCheck,
) -> str:
    if fits(best, state):
        return best
    swaps = []
    for position, options in enumerate(ranked):
        for char, score in options[1:2]:
            swaps.append((score, best[:position] + char + best[position + 1 :]))
    candidates = [text for _, text in sorted(swaps, key=lambda s: -s[0])]
    candidates += [t.text for t in sorted(voters, key=lambda t: -t.confidence)]
    candidates += _confusion_variants(best)
    return next((c for c in candidates if fits(c, state)), best)


def _confusion_variants(text: str) -> list[str]:
    """The text with one, then two, characters swapped for an OCR-confusable one (1 for I,
    0 for O, ...), e.g. LSI5EBC -> LS15EBC where the format wants a digit."""
    options = [confusable_with(char) for char in text]
    singles = [text[:i] + c + text[i + 1 :] for i in range(len(text)) for c in options[i]]
    doubles = [
        text[:i] + a + text[i + 1 : j] + b + text[j + 1 :]
        for i, j in itertools.combinations(range(len(text)), 2)
        for a in options[i]
        for b in options[j]
    ]
    return singles + doubles


def _vote_region(texts: Sequence[PlateText], steering: bool = False) -> str | None:
    """The region the reads named most surely; with `steering`, counting the regions they
    found likeliest but were not sure enough to name."""
    weights: dict[str, float] = defaultdict(float)
    for text in texts:
        region = text.steering_region if steering else text.region
        if region:
            weights[region] += text.region_confidence or 1.0
    return max(weights, key=lambda s: weights[s]) if weights else None


def _char_confidence(text: PlateText, position: int) -> float:
    if len(text.char_confidences) == len(text.text):
        return text.char_confidences[position]
    return text.confidence
