"""Store: reads, hotlist entries and hits in one SQLite file (WAL), crops beside it on disk.

`ReadStore` holds every SQL statement on that file: the pipeline, the hotlist, sharing's
hand-over, retention, agency queries and the transparency report all go through it and get
dataclasses back, so the schema (edge.runtime.store.schema) is known in one place.

A read and its hits are committed in one transaction before anything else may act on them.
Writes that fail because the disk is full or the database is locked are logged and retried
with backoff; a write that still fails leaves no partial rows and no orphan crop.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import sqlite_utils

from edge.errors import EdgeError, InputError
from edge.runtime.store.schema import MIGRATIONS, SCHEMA_VERSION
from edge.runtime.types import Box, Candidate, HotlistEntry, HotlistHit, VehicleRead

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_NAME = "reads.db"
# One wait for a lock held by another connection to the file (another process or thread);
# the pipeline's own writes also retry with backoff on top of it.
BUSY_TIMEOUT_MS = 5000
_TRANSIENT_SQLITE = ("locked", "busy", "full", "disk i/o")
_TRANSIENT_ERRNO = {errno.ENOSPC, errno.EDQUOT, errno.EAGAIN}


class StoreUnavailable(EdgeError):
    """A write still failed after every retry; nothing of it was kept."""


@dataclass(frozen=True)
class StoredHit:
    """A hotlist hit as stored, linked to its read and the entry it matched."""

    id: int
    read_id: int
    hit: HotlistHit

    def as_row(self) -> dict[str, Any]:
        """The stored columns, as `alpr-edge reads --json` prints them."""
        return {
            "id": self.id,
            "read_id": self.read_id,
            "hotlist_id": self.hit.hotlist_id,
            "listed_plate": self.hit.listed_plate,
            "distance": self.hit.distance,
            "reason": self.hit.reason,
            "source": self.hit.source,
            "matched_text": self.hit.matched_text,
            "candidate_rank": self.hit.candidate_rank,
        }


@dataclass(frozen=True)
class StoredRead:
    """A vehicle read as stored, with its id (and its hits, when asked for)."""

    id: int
    read: VehicleRead
    hits: tuple[StoredHit, ...] = ()

    def as_row(self) -> dict[str, Any]:
        """The stored columns (and hits), as `alpr-edge reads --json` prints them."""
        read = self.read
        return {
            "id": self.id,
            "seen_at": read.seen_at.isoformat(),
            "camera_id": read.camera_id,
            "plate": read.plate,
            "region": read.region,
            "confidence": read.confidence,
            "box_x": read.box.x,
            "box_y": read.box.y,
            "box_w": read.box.w,
            "box_h": read.box.h,
            "frame_count": read.frame_count,
            "crop_path": read.crop_path,
            "char_confidences": json.dumps(list(read.char_confidences)),
            "candidates": _candidates_json(read.candidates),
            "hits": [hit.as_row() for hit in self.hits],
        }


class ReadStore:
    def __init__(
        self,
        data_dir: Path,
        *,
        save_crops: bool = True,
        retry_attempts: int = 5,
        retry_initial_s: float = 0.2,
        readonly: bool = False,
    ) -> None:
        """Open (and create or migrate) the store in `data_dir`. `readonly` opens an existing
        store for reading only: nothing is created, migrated or written."""
        self.data_dir = Path(data_dir)
        self.save_crops = save_crops
        self.retry_attempts = retry_attempts
        self.retry_initial_s = retry_initial_s
        self.readonly = readonly
        try:
            if readonly:
                if not self.path.is_file():
                    raise InputError(f"no reads database in {self.data_dir}")
                conn = sqlite3.connect(
                    f"file:{self.path}?mode=ro", uri=True, check_same_thread=False
                )
            else:
                self.data_dir.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self.db.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self.db.enable_wal()
        except (OSError, sqlite3.DatabaseError) as exc:
            raise InputError(f"cannot open the database in {self.data_dir}: {exc}") from None
        self._migrate()

    @property
    def path(self) -> Path:
        return self.data_dir / DB_NAME

    def close(self) -> None:
        self.db.close()

    def add_read(
        self, read: VehicleRead, crop: np.ndarray | None, hits: Sequence[HotlistHit] = ()
    ) -> tuple[int, VehicleRead]:
        """Commit a read, its best crop and its hotlist hits; returns the read's id and the read
        as stored (with its crop path). Raises StoreUnavailable when retries run out."""

        def write() -> tuple[int, VehicleRead]:
            crop_path = self._write_crop(read, crop) if crop is not None else None
            stored = replace(read, crop_path=crop_path)
            try:
                with self.db.atomic():
                    read_id = self._insert_read(stored)
                    for hit in hits:
                        self.db["hits"].insert(
                            {
                                "read_id": read_id,
                                "hotlist_id": hit.hotlist_id,
                                "listed_plate": hit.listed_plate,
                                "distance": hit.distance,
                                "reason": hit.reason,
                                "source": hit.source,
                                "matched_text": hit.matched_text,
                                "candidate_rank": hit.candidate_rank,
                            }
                        )
            except BaseException:
                if crop_path:
                    (self.data_dir / crop_path).unlink(missing_ok=True)
                raise
            return read_id, stored

        return self.retrying(f"storing read {read.plate}", write)

    def retrying(self, what: str, action: Callable[[], T]) -> T:
        """Run a write, retrying with doubling waits while the disk is full or the DB locked."""
        wait = self.retry_initial_s
        for attempt in range(1, self.retry_attempts + 1):
            try:
                return action()
            except (sqlite3.OperationalError, OSError) as exc:
                if not _transient(exc):
                    raise
                if attempt == self.retry_attempts:
                    log.error("%s failed after %d tries: %s", what, attempt, exc)
                    raise StoreUnavailable(f"{what}: {exc} (after {attempt} tries)") from exc
                log.warning("%s failed (%s); retry %d in %.2f s", what, exc, attempt, wait)
                time.sleep(wait)
                wait *= 2
        raise AssertionError("unreachable")  # the loop returns or raises

    def reads(
        self,
        *,
        plate: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        with_hits: bool = False,
    ) -> list[StoredRead]:
        """Newest reads first; `plate` may use * as a wildcard."""
        where, params = [], []
        if plate:
            where.append("plate LIKE ? ESCAPE '\\'")
            escaped = plate.upper().replace("%", r"\%").replace("_", r"\_")
            params.append(escaped.replace("*", "%"))
        if since:
            where.append("seen_at >= ?")
            params.append(since.isoformat())
        if until:
            where.append("seen_at < ?")
            params.append(until.isoformat())
        sql = "SELECT * FROM reads"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY seen_at DESC, id DESC LIMIT ?"
        reads = [_stored_read(row) for row in self.db.query(sql, [*params, limit])]
        if with_hits:
            reads = [replace(r, hits=tuple(self.hits_for(r.id))) for r in reads]
        return reads

    def hits_for(self, read_id: int) -> list[StoredHit]:
        rows = self.db.query(
            "SELECT hits.*, hotlist.region AS listed_region FROM hits "
            "LEFT JOIN hotlist ON hotlist.id = hits.hotlist_id WHERE read_id = ? "
            "ORDER BY hits.id",
            [read_id],
        )
        return [_stored_hit(row) for row in rows]

    def newest_read_id(self) -> int:
        """The id of the newest stored read, 0 when there is none."""
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM reads").fetchone()[0])

    def reads_after(self, read_id: int) -> Iterator[StoredRead]:
        """Stored reads with an id above `read_id`, oldest first, each with its hits."""
        rows = list(self.db.query("SELECT * FROM reads WHERE id > ? ORDER BY id", [read_id]))
        for row in rows:
            yield replace(_stored_read(row), hits=tuple(self.hits_for(row["id"])))

    def find_reads(
        self, pattern: str, start: datetime, end: datetime, limit: int, hits_only: bool
    ) -> list[tuple[StoredRead, bool]]:
        """Reads whose plate matches a GLOB pattern (`?` one character, `*` any), seen from
        `start` to `end` inclusive, oldest first, each with whether it raised a hotlist hit."""
        rows = self.db.query(
            "SELECT * FROM (SELECT *,"
            " EXISTS (SELECT 1 FROM hits WHERE hits.read_id = reads.id) AS hotlist_hit"
            " FROM reads WHERE plate GLOB ? AND seen_at >= ? AND seen_at <= ?)"
            " WHERE hotlist_hit OR NOT ? ORDER BY seen_at, id LIMIT ?",
            [pattern, start.isoformat(), end.isoformat(), hits_only, limit],
        )
        return [(_stored_read(row), bool(row["hotlist_hit"])) for row in rows]

    def count_reads(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Reads seen in [start, end), and how many of them raised a hotlist hit."""
        bounds = [start.isoformat(), end.isoformat()]
        (reads,) = self.db.execute(
            "SELECT count(*) FROM reads WHERE seen_at >= ? AND seen_at < ?", bounds
        ).fetchone()
        (hits,) = self.db.execute(
            "SELECT count(DISTINCT reads.id) FROM reads JOIN hits ON hits.read_id = reads.id"
            " WHERE seen_at >= ? AND seen_at < ?",
            bounds,
        ).fetchone()
        return int(reads), int(hits)

    def unhit_reads_before(self, cutoff: datetime) -> list[StoredRead]:
        """Reads seen before `cutoff` that raised no hotlist hit, oldest first: what retention
        may delete."""
        rows = self.db.query(
            "SELECT * FROM reads WHERE seen_at < ? AND NOT EXISTS "
            "(SELECT 1 FROM hits WHERE hits.read_id = reads.id) ORDER BY id",
            [cutoff.isoformat()],
        )
        return [_stored_read(row) for row in rows]

    def delete_reads(self, reads: Sequence[StoredRead]) -> int:
        """Delete reads (rows first, in one transaction), then their crops; returns how many
        crop files were removed. Reads with hits cannot be deleted (foreign key)."""
        with self.db.atomic():
            self.db.conn.executemany("DELETE FROM reads WHERE id = ?", [(r.id,) for r in reads])
        removed = 0
        for stored in reads:
            if stored.read.crop_path:
                crop = self.data_dir / stored.read.crop_path
                if crop.exists():
                    crop.unlink()
                    removed += 1
        return removed

    def upsert_hotlist(self, entries: Sequence[HotlistEntry], loaded_at: str, file: str) -> None:
        """Load hotlist entries, all or none: an entry already listed with the same plate,
        state and source is updated, not duplicated. Entry ids are ignored."""

        def write() -> None:
            table = self.db["hotlist"]
            with self.db.atomic():
                for entry in entries:
                    record = {
                        "plate": entry.plate,
                        "region": entry.region,
                        "reason": entry.reason,
                        "source": entry.source,
                        "expires_at": entry.expires_at.isoformat() if entry.expires_at else None,
                        "loaded_at": loaded_at,
                        "file": file,
                    }
                    existing = self.db.execute(
                        "SELECT id FROM hotlist WHERE plate = ? AND region IS ? AND source = ?",
                        [entry.plate, entry.region, entry.source],
                    ).fetchone()
                    if existing:
                        table.update(existing[0], record)
                    else:
                        table.insert(record)

        self.retrying(f"importing hotlist {file}", write)

    def hotlist_entries(self) -> list[HotlistEntry]:
        return [
            HotlistEntry(
                id=row["id"],
                plate=row["plate"],
                region=row["region"],
                reason=row["reason"] or "",
                source=row["source"] or "",
                expires_at=datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
            )
            for row in self.db.query("SELECT * FROM hotlist ORDER BY id")
        ]

    def hotlist_version(self) -> tuple[int, int]:
        """Changes whenever another connection commits to the file (e.g. `hotlist import`) or
        the entry count changes: the hotlist reloads its index when it does."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        count = self.db.execute("SELECT count(*) FROM hotlist").fetchone()[0]
        return int(version), int(count)

    def _insert_read(self, read: VehicleRead) -> int:
        table = self.db["reads"].insert(
            {
                "seen_at": read.seen_at.isoformat(),
                "camera_id": read.camera_id,
                "plate": read.plate,
                "region": read.region,
                "confidence": round(read.confidence, 4),
                "box_x": read.box.x,
                "box_y": read.box.y,
                "box_w": read.box.w,
                "box_h": read.box.h,
                "frame_count": read.frame_count,
                "crop_path": read.crop_path,
                "char_confidences": json.dumps([round(c, 4) for c in read.char_confidences]),
                "candidates": _candidates_json(read.candidates),
            }
        )
        return int(table.last_pk)

    def _write_crop(self, read: VehicleRead, crop: np.ndarray) -> str | None:
        if not self.save_crops or crop.size == 0:
            return None
        ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            return None
        day = read.seen_at.strftime("%Y/%m/%d")
        plate = "".join(ch for ch in read.plate if ch.isalnum())[:16]
        name = f"{read.seen_at:%H%M%S}-{plate}-{uuid.uuid4().hex[:8]}.jpg"
        relative = Path("crops") / day / name
        target = self.data_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        try:
            partial.write_bytes(encoded.tobytes())
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        return relative.as_posix()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise InputError(
                f"{self.path} has schema version {version}, newer than this software "
                f"({SCHEMA_VERSION}); upgrade alpr-edge"
            )
        if self.readonly:
            if version < SCHEMA_VERSION:
                raise InputError(f"{self.path} has an older schema ({version}): open it writable")
            return
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.atomic():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
            log.info("migrated %s to schema version %d", self.path, number)


def _stored_read(row: dict[str, Any]) -> StoredRead:
    return StoredRead(
        id=row["id"],
        read=VehicleRead(
            plate=row["plate"],
            region=row["region"],
            confidence=row["confidence"],
            seen_at=datetime.fromisoformat(row["seen_at"]),
            camera_id=row["camera_id"],
            box=Box(row["box_x"], row["box_y"], row["box_w"], row["box_h"]),
            frame_count=row["frame_count"],
            crop_path=row["crop_path"],
            char_confidences=tuple(json.loads(row["char_confidences"] or "[]")),
            candidates=tuple(
                Candidate(text, confidence)
                for text, confidence in json.loads(row.get("candidates") or "[]")
            ),
        ),
    )


def _candidates_json(candidates: Sequence[Candidate]) -> str | None:
    """[[text, confidence], ...] best first; NULL for a read that lists none."""
    if not candidates:
        return None
    return json.dumps([[c.text, float(f"{c.confidence:.4g}")] for c in candidates])


def _stored_hit(row: dict[str, Any]) -> StoredHit:
    return StoredHit(
        id=row["id"],
        read_id=row["read_id"],
        hit=HotlistHit(
            hotlist_id=row["hotlist_id"],
            listed_plate=row["listed_plate"],
            listed_region=row["listed_region"],
            reason=row["reason"] or "",
            source=row["source"] or "",
            distance=row["distance"],
            matched_text=row.get("matched_text"),
            candidate_rank=row.get("candidate_rank") or 0,
        ),
    )


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc).lower() for word in _TRANSIENT_SQLITE)
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNO
