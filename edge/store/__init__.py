"""Store: reads, hotlist entries and hits in one SQLite file (WAL), crops beside it on disk.

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
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import sqlite_utils

from edge.errors import EdgeError, InputError
from edge.store.schema import MIGRATIONS, SCHEMA_VERSION
from edge.types import HotlistHit, VehicleRead

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_NAME = "reads.db"
_TRANSIENT_SQLITE = ("locked", "busy", "full", "disk i/o")
_TRANSIENT_ERRNO = {errno.ENOSPC, errno.EDQUOT, errno.EAGAIN}


class StoreUnavailable(EdgeError):
    """A write still failed after every retry; nothing of it was kept."""


class ReadStore:
    def __init__(
        self,
        data_dir: Path,
        *,
        save_crops: bool = True,
        retry_attempts: int = 5,
        retry_initial_s: float = 0.2,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.save_crops = save_crops
        self.retry_attempts = retry_attempts
        self.retry_initial_s = retry_initial_s
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.data_dir / DB_NAME, check_same_thread=False)
            self.db = sqlite_utils.Database(conn)
            self.db.execute("PRAGMA busy_timeout = 1000")
            self.db.execute("PRAGMA foreign_keys = ON")
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
    ) -> list[dict[str, Any]]:
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
        return list(self.db.query(sql, [*params, limit]))

    def hits_for(self, read_id: int) -> list[dict[str, Any]]:
        return list(self.db.query("SELECT * FROM hits WHERE read_id = ?", [read_id]))

    def _insert_read(self, read: VehicleRead) -> int:
        table = self.db["reads"].insert(
            {
                "seen_at": read.seen_at.isoformat(),
                "camera_id": read.camera_id,
                "plate": read.plate,
                "state": read.state,
                "confidence": round(read.confidence, 4),
                "box_x": read.box.x,
                "box_y": read.box.y,
                "box_w": read.box.w,
                "box_h": read.box.h,
                "frame_count": read.frame_count,
                "crop_path": read.crop_path,
                "char_confidences": json.dumps([round(c, 4) for c in read.char_confidences]),
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
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db.atomic():
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
            log.info("migrated %s to schema version %d", self.path, number)


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.OperationalError):
        return any(word in str(exc).lower() for word in _TRANSIENT_SQLITE)
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNO
