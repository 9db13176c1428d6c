"""The reads a query may see, straight from the unit's read store (edge.store's `reads` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from edge.query.schema import PlatePattern
from edge.store import ReadStore


class StoreReads:
    """Finds reads by plate pattern and time; SQLite GLOB has the same `?` and `*` as queries
    (plates hold only A-Z and 0-9, so no other GLOB syntax can appear)."""

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def find_reads(
        self, plate: PlatePattern, start: datetime, end: datetime, limit: int, hits_only: bool
    ) -> list[dict[str, Any]]:
        rows = self._store.db.query(
            "SELECT * FROM (SELECT plate, state, seen_at, camera_id, confidence, id,"
            " EXISTS (SELECT 1 FROM hits WHERE hits.read_id = reads.id) AS hotlist_hit"
            " FROM reads WHERE plate GLOB ? AND seen_at >= ? AND seen_at <= ?)"
            " WHERE hotlist_hit OR NOT ? ORDER BY seen_at, id LIMIT ?",
            [plate.text, start.isoformat(), end.isoformat(), hits_only, limit],
        )
        return [
            {key: value for key, value in row.items() if key != "id"}
            | {"hotlist_hit": bool(row["hotlist_hit"])}
            for row in rows
        ]
