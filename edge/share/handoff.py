"""Reads the pipeline stored but never handed to sharing (the unit died in between).

The pipeline commits a read, then calls `Sharing.on_read`; a crash or power cut between the two
would leave a stored read unshared. The outbox records the newest read handed over in the same
transaction as its messages, and on start Sharing hands over every stored read newer than
that. This module reads them from the pipeline's store (edge.store schema: `reads`, `hits`,
`hotlist`) on its own read-only connection.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from edge.types import Box, HotlistHit, VehicleRead


def _connect(reads_db: Path) -> sqlite3.Connection | None:
    if not reads_db.is_file():
        return None
    conn = sqlite3.connect(f"file:{reads_db}?mode=ro", uri=True, timeout=10)
    conn.row_factory = sqlite3.Row
    return conn


def newest_read_id(reads_db: Path) -> int:
    """The id of the newest stored read, 0 when there is none."""
    conn = _connect(reads_db)
    if conn is None:
        return 0
    try:
        return int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM reads").fetchone()[0])
    finally:
        conn.close()


def reads_after(
    reads_db: Path, read_id: int
) -> Iterator[tuple[int, VehicleRead, list[HotlistHit]]]:
    """Stored reads with an id above `read_id`, oldest first, each with its hotlist hits."""
    conn = _connect(reads_db)
    if conn is None:
        return
    try:
        rows = conn.execute("SELECT * FROM reads WHERE id > ? ORDER BY id", (read_id,)).fetchall()
        for row in rows:
            hits = conn.execute(
                "SELECT hits.*, hotlist.state AS listed_state FROM hits "
                "LEFT JOIN hotlist ON hotlist.id = hits.hotlist_id WHERE read_id = ? "
                "ORDER BY hits.id",
                (row["id"],),
            ).fetchall()
            yield row["id"], _read(row), [_hit(hit) for hit in hits]
    finally:
        conn.close()


def _read(row: sqlite3.Row) -> VehicleRead:
    return VehicleRead(
        plate=row["plate"],
        state=row["state"],
        confidence=row["confidence"],
        seen_at=datetime.fromisoformat(row["seen_at"]),
        camera_id=row["camera_id"],
        box=Box(row["box_x"], row["box_y"], row["box_w"], row["box_h"]),
        frame_count=row["frame_count"],
        crop_path=row["crop_path"],
        char_confidences=tuple(json.loads(row["char_confidences"] or "[]")),
    )


def _hit(row: sqlite3.Row) -> HotlistHit:
    return HotlistHit(
        hotlist_id=row["hotlist_id"],
        listed_plate=row["listed_plate"],
        listed_state=row["listed_state"],
        reason=row["reason"] or "",
        source=row["source"] or "",
        distance=row["distance"],
    )
