"""Track and vote: follow each plate across frames and turn one vehicle pass into one read.

Detections join the track whose predicted box (last box moved by its velocity) they overlap
most. When a track has not been seen for `max_gap_frames`, its OCR reads are voted: the
most-supported length wins, then per position the character with the most summed confidence.
The result is checked against the state's serial formats (from `edge.plates`); if it
fits none but vanity, the runner-up character at one position, an observed read, or the text
with one or two OCR-confusable characters swapped (`edge.plates.confusions`), that fits a regular
format is taken (a vanity plate that nothing else fits stays as read). The reads' candidates
vote too (`vote_candidates`: mean confidence over the reads), the voted text first.
A plate read again within `repeat_window_s` is a repeat, not a new read; so is a plate one
character away from one read in that window (the same pass, split in two and misread once).
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


class PlateTracker:
    def __init__(
        self, config: TrackConfig, camera_id: str, fits: FormatCheck = fits_known_format
    ) -> None:
        self.config = config
        self.camera_id = camera_id
        self.fits = fits
        self.tracks: list[Track] = []
        self.repeats = 0
        self._ids = itertools.count(1)
        self._last_read: dict[str, datetime] = {}

    def update(
        self, frame_index: int, timestamp: datetime, sightings: Sequence[Sighting]
    ) -> list[PlatePass]:
        """Add one detection frame's sightings; returns the passes that ended."""
        unmatched = list(range(len(sightings)))
        pairs = []
        for track in self.tracks:
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
            track = Track(next(self._ids), sightings[index].detection.box, frame_index)
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

    def _is_repeat(self, plate: str, seen_at: datetime) -> bool:
        """Whether this plate, or one a character away (a pass the tracker split in two and
        read once slightly wrong), was read within the repeat window; remembers this sighting."""
        window = timedelta(seconds=self.config.repeat_window_s)
        self._last_read = {p: t for p, t in self._last_read.items() if seen_at - t <= window}
        repeat = any(_one_apart(plate, previous) for previous in self._last_read)
        self._last_read[plate] = seen_at
        return repeat

    def _conclude(self, track: Track) -> PlatePass | None:
        if len(track.texts) < self.config.min_reads or track.best_time is None:
            return None
        vote = vote_text(track.texts, self.fits)
        if vote.agreeing < self.config.min_reads or vote.confidence < self.config.min_confidence:
            return None
        if self._is_repeat(vote.text, track.best_time):
            self.repeats += 1
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
    if state is not None:
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
