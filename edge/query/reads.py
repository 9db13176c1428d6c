"""The reads a query may see: the store's reads, in the shape a query answer carries them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.query.schema import PlatePattern
from edge.runtime.store import ReadStore
from edge.share.messages import us_state


class StoreReads:
    """Finds reads by plate pattern and time. The store's GLOB has the same `?` and `*` as
    queries (plates hold only A-Z and 0-9, so no other GLOB syntax can appear)."""

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def find_reads(
        self, plate: PlatePattern, start: datetime, end: datetime, limit: int, hits_only: bool
    ) -> list[dict[str, Any]]:
        found = self._store.find_reads(plate.text, start, end, limit, hits_only)
        return [
            {
                "plate": stored.read.plate,
                "state": us_state(stored.read.region),
                "region": stored.read.region,
                "seen_at": stored.read.seen_at.isoformat(),
                "camera_id": stored.read.camera_id,
                "confidence": stored.read.confidence,
                "hotlist_hit": hit,
            }
            for stored, hit in found
        ]
