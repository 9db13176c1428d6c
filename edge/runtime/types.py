"""The records that flow between pipeline stages.

capture -> Frame -> motion -> detect -> Detection -> recognise -> PlateText
-> track -> VehicleRead -> store -> hotlist -> share
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

# Two boxes that overlap this much (IoU) hold the same plate: a detection and a track's
# predicted box, or a fine-pass detection and one from a coarser pass.
SAME_PLATE_IOU = 0.3


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: top-left corner, width and height."""

    x: int
    y: int
    w: int
    h: int

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]

    @property
    def area(self) -> int:
        return max(self.w, 0) * max(self.h, 0)

    def iou(self, other: Box) -> float:
        ix = max(0, min(self.x + self.w, other.x + other.w) - max(self.x, other.x))
        iy = max(0, min(self.y + self.h, other.y + other.h) - max(self.y, other.y))
        inter = ix * iy
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0


@dataclass(frozen=True, eq=False)
class Frame:
    """One decoded image. `timestamp` is UTC wall clock for live sources, position for replays."""

    image: np.ndarray  # BGR, uint8, HxWx3
    index: int
    timestamp: datetime
    source: str


@dataclass(frozen=True)
class Detection:
    """A plate found in a frame by the detector."""

    box: Box
    score: float
    # Four (x, y) plate corners, clockwise from top-left, when the detector predicts them.
    corners: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True)
class Candidate:
    """One alternative reading of a plate, as OpenALPR's top-N lists them: the text and the
    probability the OCR gives that whole text (every slot, pads included)."""

    text: str
    confidence: float


def vote_candidates(first: str, lists: Sequence[Sequence[Candidate]]) -> tuple[Candidate, ...]:
    """Several readings' candidates voted into one list (crop margins, a track's frames): each
    text's confidence is its mean over the lists (0 where a list lacks it), `first` (the voted
    text) first, as many as the longest list."""
    if not lists:
        return ()
    total: dict[str, float] = defaultdict(float)
    for candidates in lists:
        for candidate in candidates:
            total[candidate.text] += candidate.confidence / len(lists)
    ranked = sorted(total, key=lambda text: (text != first, -total[text]))
    if first not in total:
        ranked.insert(0, first)
    count = max(len(c) for c in lists)
    return tuple(Candidate(text, total.get(text, 0.0)) for text in ranked[:count])


@dataclass(frozen=True)
class PlateText:
    """What the OCR read on one plate crop."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    # The issuing region: a US state code, or UK, EU, BR; None when the model is not sure.
    region: str | None = None
    # The confidence of the likeliest region, named or not (None: the model names none).
    region_confidence: float | None = None
    # The N best readings, best first; the first is `text` itself. Empty when not asked for.
    candidates: tuple[Candidate, ...] = ()
    # The likeliest region when it was not sure enough to be named: it still steers the
    # serial formats (decoding, the tracker's format check), never a read's region.
    region_guess: str | None = None

    @property
    def steering_region(self) -> str | None:
        """The region whose serial formats steer the text: named or merely likeliest."""
        return self.region or self.region_guess


@dataclass(frozen=True)
class VehicleRead:
    """One read per vehicle pass, chosen by voting over the frames a plate was tracked in."""

    plate: str
    region: str | None  # issuing region: a US state code, or UK, EU, BR
    confidence: float
    seen_at: datetime  # UTC
    camera_id: str
    box: Box
    frame_count: int
    crop_path: str | None = None
    char_confidences: tuple[float, ...] = field(default=())
    # The voted alternative readings, best first (the first is `plate`); see `Candidate`.
    candidates: tuple[Candidate, ...] = field(default=())


@dataclass(frozen=True)
class HotlistHit:
    """A read that matched an active hotlist entry; stored linked to the read, shared first."""

    hotlist_id: int
    listed_plate: str
    listed_region: str | None
    reason: str
    source: str
    # Characters that differ, each within one OCR-confusion group (0 = exact match).
    distance: int
    # The reading that matched: the read's plate (rank 0) or one of its candidates.
    matched_text: str | None = None
    candidate_rank: int = 0


@dataclass(frozen=True)
class HotlistEntry:
    """A wanted plate as listed; it matches reads until it expires (None: never)."""

    id: int
    plate: str
    region: str | None
    reason: str
    source: str
    expires_at: datetime | None

    def active_at(self, moment: datetime) -> bool:
        return self.expires_at is None or moment < self.expires_at
