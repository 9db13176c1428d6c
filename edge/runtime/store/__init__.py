"""Store: reads, hotlist entries and hits in one SQLite file (WAL), crops beside it on disk.

`ReadStore` holds every SQL statement on that file: the pipeline, the hotlist, sharing's
hand-over, retention, agency queries and the transparency report all go through it and get
dataclasses back, so the schema (edge.runtime.store.schema) is known in one place.

A read and its hits are committed in one transaction before anything else may act on them.
Writes that fail because the database is locked are logged and retried with backoff; a write
that still fails leaves no partial rows and no orphan crop. A crop that cannot be written (a
read-only or full crops folder) is dropped with a warning and the read kept. A full disk is not
waited for (waiting frees nothing): the store asks its `reclaimer` (retention's disk-full rule:
old crops first, then the oldest reads no hold or hit keeps) to free space and tries once more.
A read-only file system fails at once, so the pipeline keeps the read in its bounded backlog.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
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

import numpy as np
import sqlite_utils

from edge.errors import EdgeError, InputError
from edge.runtime.store.schema import MIGRATIONS, SCHEMA_VERSION
from edge.runtime.types import Box, Candidate, HotlistEntry, HotlistHit, VehicleRead

log = logging.getLogger(__name__)
T = TypeVar("T")

DB_NAME = "reads.db"
# Held (flock) by the one `alpr-edge run` using a data folder; it holds that process's pid.
LOCK_NAME = "unit.lock"
# Space kept back on the data folder's disk: on a full disk even deleting rows needs room (the
# WAL, the audit row before a purge), so this file goes first and is put back afterwards.
RESERVE_NAME = "space.reserve"
RESERVE_BYTES = 256 * 1024
# Times one write on a full disk asks the reclaimer for room before it gives up.
RECLAIM_ROUNDS = 5
# Pages after which the WAL is folded back automatically (SQLite's default is 1000, 4 MB).
WAL_CHECKPOINT_PAGES = 32
# A WAL larger than this is folded back into the database before anything is deleted.
WAL_FOLD_BYTES = 32 * 1024
# Disk room the next few writes need (WAL pages), and free database pages that make deleting
# more needless.
HEADROOM_BYTES = 64 * 1024
# The reserve comes back before new reads take the room (it is what lets a purge run later).
RESERVE_MARGIN_BYTES = 16 * 1024
MIN_FREE_PAGES = 4
# Below this much free space new crops are not saved: crops go first, reads are kept.
LOW_SPACE_BYTES = 4 * RESERVE_BYTES
# One wait for a lock held by another connection to the file (another process or thread);
# the pipeline's own writes also retry with backoff on top of it.
BUSY_TIMEOUT_MS = 5000
_TRANSIENT_SQLITE = ("locked", "busy", "disk i/o")
_TRANSIENT_ERRNO = {errno.EAGAIN}
_FULL_SQLITE = ("full",)
_FULL_ERRNO = {errno.ENOSPC, errno.EDQUOT}
_READONLY_SQLITE = ("readonly", "read-only", "query_only")
_READONLY_ERRNO = {errno.EROFS, errno.EACCES, errno.EPERM}


class StoreUnavailable(EdgeError):
    """A write still failed after every retry; nothing of it was kept."""


@contextlib.contextmanager
def data_folder_lock(data_dir: Path) -> Iterator[Path]:
    """One unit per data folder: two readers on one store would store every read twice. The
    lock is an flock on `unit.lock`, released by the kernel however the holder dies; a second
    unit is refused (InputError, exit 2) naming the holder's pid."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    handle = open(path, "a+")  # noqa: SIM115 - held open for the whole run
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise InputError(
                f"data folder {data_dir} is in use by another alpr-edge run (pid {holder}); "
                "one unit per data folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield path
    finally:
        handle.close()


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
        # Frees space when the disk is full; returns whether it freed any (set by retention).
        self.reclaimer: Callable[[], bool] | None = None
        self._crops_paused = False
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
                # A small WAL: folding it back never needs more room than the reserve holds.
                self.db.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
        except (OSError, sqlite3.DatabaseError) as exc:
            raise InputError(f"cannot open the database in {self.data_dir}: {exc}") from None
        self._migrate()
        if not readonly:
            self._keep_reserve()

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
            crop_path = self._write_crop_or_drop(read, crop) if crop is not None else None
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
        """Run a write, retrying with doubling waits while the DB is locked; on a full disk it is
        tried again each time the reclaimer freed space (`RECLAIM_ROUNDS` at most), on a
        read-only one not at all (StoreUnavailable)."""
        wait = self.retry_initial_s
        reclaims = 0
        attempt = 0
        while True:
            try:
                return action()
            except (sqlite3.OperationalError, OSError) as exc:
                if _matches(exc, _READONLY_SQLITE, _READONLY_ERRNO):
                    log.error("%s failed: the data folder cannot be written (%s)", what, exc)
                    raise StoreUnavailable(f"{what}: {exc}") from exc
                if _matches(exc, _FULL_SQLITE, _FULL_ERRNO):
                    if reclaims < RECLAIM_ROUNDS and self._reclaim(what, exc):
                        reclaims += 1
                        continue
                    log.error("%s failed: the disk is full and nothing more may go (%s)", what, exc)
                    raise StoreUnavailable(f"{what}: {exc} (disk full)") from exc
                if not _transient(exc):
                    raise
                attempt += 1
                if attempt >= self.retry_attempts:
                    log.error("%s failed after %d tries: %s", what, attempt, exc)
                    raise StoreUnavailable(f"{what}: {exc} (after {attempt} tries)") from exc
                log.warning("%s failed (%s); retry %d in %.2f s", what, exc, attempt, wait)
                time.sleep(wait)
                wait *= 2

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

    def delete_reads(self, reads: Sequence[StoredRead], chunk: int | None = None) -> int:
        """Delete reads (rows first, in one transaction per `chunk` reads, all in one when
        None), then their crops; returns how many crop files were removed. Reads with hits
        cannot be deleted (foreign key). Small chunks keep the WAL small on a full disk."""
        step = chunk or max(1, len(reads))
        removed = 0
        for first in range(0, len(reads), step):
            part = reads[first : first + step]
            with self.db.atomic():
                self.db.conn.executemany("DELETE FROM reads WHERE id = ?", [(r.id,) for r in part])
            removed += self._unlink_crops(part)
        return removed

    def _unlink_crops(self, reads: Sequence[StoredRead]) -> int:
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

    def remove_hotlist_entries(self, ids: Sequence[int], now: datetime) -> tuple[int, int, int]:
        """Take entries off the hotlist: deleted, or expired `now` where hits refer to them
        (the hits stay explained). Returns (deleted, expired, not found)."""

        def write() -> tuple[int, int, int]:
            deleted = expired = missing = 0
            with self.db.atomic():
                for entry_id in ids:
                    if not self.db.execute(
                        "SELECT 1 FROM hotlist WHERE id = ?", [entry_id]
                    ).fetchone():
                        missing += 1
                    elif self.db.execute(
                        "SELECT 1 FROM hits WHERE hotlist_id = ?", [entry_id]
                    ).fetchone():
                        self.db.execute(
                            "UPDATE hotlist SET expires_at = ? WHERE id = ?",
                            [now.isoformat(), entry_id],
                        )
                        expired += 1
                    else:
                        self.db.execute("DELETE FROM hotlist WHERE id = ?", [entry_id])
                        deleted += 1
            return deleted, expired, missing

        return self.retrying("removing hotlist entries", write)

    def hotlist_version(self) -> tuple[int, int]:
        """Changes whenever another connection commits to the file (e.g. `hotlist import`) or
        the entry count changes: the hotlist reloads its index when it does."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        count = self.db.execute("SELECT count(*) FROM hotlist").fetchone()[0]
        return int(version), int(count)

    def expire_hotlist_entry(self, entry_id: int, at: datetime) -> bool:
        """End a hotlist entry at `at` (the console's expire); False when there is no such
        entry. The row stays, so hits already made still name what they matched."""

        def write() -> bool:
            with self.db.atomic():
                cursor = self.db.execute(
                    "UPDATE hotlist SET expires_at = ? WHERE id = ?", [at.isoformat(), entry_id]
                )
            return cursor.rowcount == 1

        return self.retrying(f"expiring hotlist entry {entry_id}", write)

    def reads_with_hits(self, limit: int = 50) -> list[StoredRead]:
        """The newest reads that raised a hotlist hit, each with its hits (to review)."""
        rows = self.db.query(
            "SELECT * FROM reads WHERE id IN (SELECT read_id FROM hits)"
            " ORDER BY seen_at DESC, id DESC LIMIT ?",
            [limit],
        )
        return [replace(_stored_read(r), hits=tuple(self.hits_for(r["id"]))) for r in rows]

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

    def _reclaim(self, what: str, exc: BaseException) -> bool:
        """Make room on a full disk: the reserve goes, the WAL is folded back into the
        database, and only when that leaves too little room does the reclaimer delete (crops,
        then old reads); the reserve is put back last. Returns whether there is room now."""
        if self.reclaimer is None:
            return False
        (self.data_dir / RESERVE_NAME).unlink(missing_ok=True)  # room to work in
        try:
            self._fold_wal()
            if self._has_room():
                log.warning("disk full while %s: the WAL was folded back to free room", what)
                return True
            log.error("DISK FULL while %s (%s): freeing space by the retention rules", what, exc)
            freed = self.reclaimer()
            self._fold_wal()
            return freed
        except (sqlite3.Error, OSError) as failure:
            log.error("freeing space failed: %s", failure)
            return False
        finally:
            self._keep_reserve()

    def _has_room(self) -> bool:
        """Room for the next writes: disk for the WAL, and pages inside the database that
        deleted rows left free (or disk for it to grow)."""
        free = self.free_bytes()
        (free_pages,) = self.db.execute("PRAGMA freelist_count").fetchone()
        return free >= HEADROOM_BYTES and (
            free_pages >= MIN_FREE_PAGES or free >= RESERVE_BYTES + HEADROOM_BYTES
        )

    def _fold_wal(self) -> None:
        """Fold the WAL back into the database and truncate it: deleted rows free pages only
        then, and a WAL left to its automatic checkpoint (4 MB) fills a small card alone."""
        wal = self.path.with_name(DB_NAME + "-wal")
        if wal.is_file() and wal.stat().st_size > WAL_FOLD_BYTES:
            try:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.OperationalError as exc:  # the database could not grow: delete first
                log.warning("folding the WAL back failed: %s", exc)

    def _keep_reserve(self) -> None:
        """Put the reserve back where the disk has room for it (best effort)."""
        reserve = self.data_dir / RESERVE_NAME
        if reserve.is_file() and reserve.stat().st_size >= RESERVE_BYTES:
            return
        if self.free_bytes() < RESERVE_BYTES + RESERVE_MARGIN_BYTES:
            return  # not yet
        try:
            with reserve.open("wb") as out:
                out.write(bytes(RESERVE_BYTES))
        except OSError as exc:
            reserve.unlink(missing_ok=True)
            log.warning(
                "no room for the %d-byte disk reserve in %s: %s",
                RESERVE_BYTES,
                self.data_dir,
                exc,
            )

    def _write_crop_or_drop(self, read: VehicleRead, crop: np.ndarray) -> str | None:
        """The crop is the first thing to go: one that cannot be written (read-only or full
        crops folder, permissions) is dropped with a warning and the read is stored without it."""
        if self.save_crops and self.free_bytes() < LOW_SPACE_BYTES:
            if not self._crops_paused:
                log.error(
                    "DISK NEARLY FULL (%d bytes free in %s): new crops are not saved, reads are",
                    self.free_bytes(),
                    self.data_dir,
                )
            self._crops_paused = True
            return None
        if self._crops_paused:
            if self.free_bytes() < 2 * LOW_SPACE_BYTES:
                return None  # not yet: room freed for reads is not taken by crops again
            log.warning("disk space is back in %s: crops are saved again", self.data_dir)
            self._crops_paused = False
        try:
            return self._write_crop(read, crop)
        except OSError as exc:
            log.warning("crop of %s not saved, the read is kept without it: %s", read.plate, exc)
            return None

    def free_bytes(self) -> int:
        """Space left for this store on its disk (as an unprivileged process sees it)."""
        try:
            stats = os.statvfs(self.data_dir)
        except OSError:
            return 1 << 62  # unknown: do not hold crops back
        return stats.f_bavail * stats.f_frsize

    def unhit_reads_with_crops(self, limit: int) -> list[StoredRead]:
        """The oldest reads with a crop on disk and no hotlist hit: whose crops go first."""
        rows = self.db.query(
            "SELECT * FROM reads WHERE crop_path IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM hits WHERE hits.read_id = reads.id) ORDER BY id LIMIT ?",
            [limit],
        )
        return [_stored_read(row) for row in rows]

    def oldest_unhit_reads(self, limit: int) -> list[StoredRead]:
        """The oldest reads with no hotlist hit, whatever their age (a full disk)."""
        rows = self.db.query(
            "SELECT * FROM reads WHERE NOT EXISTS "
            "(SELECT 1 FROM hits WHERE hits.read_id = reads.id) ORDER BY id LIMIT ?",
            [limit],
        )
        return [_stored_read(row) for row in rows]

    def drop_crops(self, reads: Sequence[StoredRead]) -> int:
        """Delete the crop files of these reads (the reads stay); returns how many existed.
        The rows forget their crop paths when the disk has room for that again."""
        removed = self._unlink_crops(reads)
        try:
            with self.db.atomic():
                self.db.conn.executemany(
                    "UPDATE reads SET crop_path = NULL WHERE id = ?", [(r.id,) for r in reads]
                )
        except sqlite3.OperationalError as exc:
            log.warning("crop paths of %d reads not cleared yet: %s", len(reads), exc)
        return removed

    def _write_crop(self, read: VehicleRead, crop: np.ndarray) -> str | None:
        if not self.save_crops or crop.size == 0:
            return None
        # Imported here: the console and the CLI's read-only commands open the store without
        # ever writing a crop, and OpenCV is a third of their memory.
        import cv2

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


def _matches(exc: BaseException, words: tuple[str, ...], errnos: set[int]) -> bool:
    """Whether the error, or the one it arose from, is of this kind: SQLite rolls a failed
    transaction back itself on a full disk, so the ROLLBACK after it fails ("no transaction
    is active") in place of the SQLITE_FULL that caused it."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, sqlite3.OperationalError):
            if any(word in str(cause).lower() for word in words):
                return True
        elif isinstance(cause, OSError) and cause.errno in errnos:
            return True
        cause = cause.__context__
    return False


def _transient(exc: BaseException) -> bool:
    return _matches(exc, _TRANSIENT_SQLITE, _TRANSIENT_ERRNO)
