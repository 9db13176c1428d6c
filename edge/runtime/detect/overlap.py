"""Detections of one plate found more than once: boxed twice at two sizes, or in pieces."""

from __future__ import annotations

from edge.runtime.types import SAME_PLATE_IOU, Box, Detection

# A detection mostly inside a better one is the same plate boxed twice (at another size, which
# the detector's own IoU-based suppression lets through); two tracks on one plate read it twice.
NESTED_SHARE = 0.6


def inside_share(a: Box, b: Box) -> float:
    """The share of the smaller box's area that the two boxes have in common."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    smaller = min(a.area, b.area)
    return ix * iy / smaller if smaller else 0.0


def suppress_nested(detections: list[Detection]) -> list[Detection]:
    """Best first, dropping any detection that lies mostly inside one already kept."""
    kept: list[Detection] = []
    for detection in sorted(detections, key=lambda d: -d.score):
        box = detection.box
        if not any(inside_share(box, other.box) >= NESTED_SHARE for other in kept):
            kept.append(detection)
    return kept


def merge_large(full: list[Detection], large: list[Detection]) -> list[Detection]:
    """Full-resolution detections with large plates found at a coarser scale merged in.

    A large plate replaces the full-resolution detections nested in it when it outscores them
    or when it holds two or more of them (one plate that came back in pieces); otherwise it is
    dropped, as a box around a plate and its surroundings would be.
    """
    kept = list(full)
    for plate in sorted(large, key=lambda d: -d.score):
        nested = [d for d in kept if inside_share(d.box, plate.box) >= NESTED_SHARE]
        if not nested and any(inside_share(plate.box, d.box) > 0 for d in kept):
            continue
        if nested and len(nested) < 2 and max(d.score for d in nested) >= plate.score:
            continue
        kept = [d for d in kept if d not in nested] + [plate]
    return sorted(kept, key=lambda d: -d.score)


def merge_small(found: list[Detection], small: list[Detection]) -> list[Detection]:
    """Detections with small plates found at a finer scale merged in.

    A small plate replaces the detections it overlaps (IoU >= `SAME_PLATE_IOU`) when it
    outscores all of them: the coarser passes sometimes box a distant plate with its
    surroundings, twice its width. It is added where it touches no detection, and otherwise
    dropped, so one plate is never read twice.
    """
    kept = list(found)
    for plate in sorted(small, key=lambda d: -d.score):
        same = [d for d in kept if d.box.iou(plate.box) >= SAME_PLATE_IOU]
        if same:
            if plate.score > max(d.score for d in same):
                kept = [d for d in kept if d not in same] + [plate]
            continue
        if not any(inside_share(plate.box, d.box) > 0 for d in kept):
            kept.append(plate)
    return sorted(kept, key=lambda d: -d.score)
