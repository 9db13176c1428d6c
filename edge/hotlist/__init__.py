"""Hotlists: import CSV files of wanted plates, then check each read against active entries.

OCR confuses some characters more than any others, so a read may differ from a listed plate in
up to `max_confusions` positions provided each differing pair is in one confusion group
(`edge.plates.confusions`). Any other difference, or a different length, is no match. Expired
entries never match. Plates are stored and compared as `edge.plates.text.normalise_plate`
writes them.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from edge.errors import InputError
from edge.plates.confusions import confusion_distance, confusion_key
from edge.plates.text import normalise_plate
from edge.store import ReadStore
from edge.types import HotlistHit, VehicleRead

log = logging.getLogger(__name__)

CSV_COLUMNS = ("plate", "state", "reason", "source", "expiry")


@dataclass(frozen=True)
class HotlistEntry:
    id: int
    plate: str
    state: str | None
    reason: str
    source: str
    expires_at: datetime | None

    def active_at(self, moment: datetime) -> bool:
        return self.expires_at is None or moment < self.expires_at


def import_csv(store: ReadStore, path: Path, *, now: datetime | None = None) -> int:
    """Load a hotlist CSV (header: plate,state,reason,source,expiry) into the store, all rows or
    none. A plate already listed with the same state and source is updated, not duplicated."""
    loaded_at = (now or datetime.now(UTC)).isoformat()
    rows = _parse_csv(path)
    table = store.db["hotlist"]

    def write() -> int:
        with store.db.atomic():
            for plate, state, reason, source, expires_at in rows:
                record = {
                    "plate": plate,
                    "state": state,
                    "reason": reason,
                    "source": source,
                    "expires_at": expires_at,
                    "loaded_at": loaded_at,
                    "file": str(path),
                }
                existing = store.db.execute(
                    "SELECT id FROM hotlist WHERE plate = ? AND state IS ? AND source = ?",
                    [plate, state, source],
                ).fetchone()
                if existing:
                    table.update(existing[0], record)
                else:
                    table.insert(record)
        return len(rows)

    return store.retrying(f"importing hotlist {path}", write)


class Hotlist:
    """The active entries, indexed for fast matching; reloaded when the table changes."""

    def __init__(self, store: ReadStore, max_confusions: int = 1) -> None:
        self.store = store
        self.max_confusions = max_confusions
        self._by_key: dict[str, list[HotlistEntry]] = {}
        self._loaded_version: tuple[int, int] | None = None

    def match(self, read: VehicleRead) -> list[HotlistHit]:
        self._reload_if_changed()
        plate = normalise_plate(read.plate)
        hits = []
        for entry in self._by_key.get(confusion_key(plate), ()):
            if not entry.active_at(read.seen_at):
                continue
            if entry.state and read.state and entry.state != read.state:
                continue
            distance = confusion_distance(plate, entry.plate)
            if distance is not None and distance <= self.max_confusions:
                hits.append(
                    HotlistHit(
                        hotlist_id=entry.id,
                        listed_plate=entry.plate,
                        listed_state=entry.state,
                        reason=entry.reason,
                        source=entry.source,
                        distance=distance,
                    )
                )
        return sorted(hits, key=lambda hit: hit.distance)

    def _reload_if_changed(self) -> None:
        # data_version changes whenever another connection commits (e.g. `hotlist import`).
        version = self.store.db.execute("PRAGMA data_version").fetchone()[0]
        count = self.store.db.execute("SELECT count(*) FROM hotlist").fetchone()[0]
        if (version, count) == self._loaded_version:
            return
        self._loaded_version = (version, count)
        by_key: dict[str, list[HotlistEntry]] = {}
        for row in self.store.db.query("SELECT * FROM hotlist"):
            entry = HotlistEntry(
                id=row["id"],
                plate=row["plate"],
                state=row["state"],
                reason=row["reason"] or "",
                source=row["source"] or "",
                expires_at=datetime.fromisoformat(row["expires_at"]) if row["expires_at"] else None,
            )
            by_key.setdefault(confusion_key(entry.plate), []).append(entry)
        self._by_key = by_key
        log.info("hotlist loaded: %d entries", sum(len(v) for v in by_key.values()))


def _parse_csv(path: Path) -> list[tuple[str, str | None, str, str, str | None]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip().lower() for name in reader.fieldnames or []]
            if "plate" not in header:
                raise InputError(f"{path}: no 'plate' column (expected {','.join(CSV_COLUMNS)})")
            reader.fieldnames = header
            rows = []
            for line, row in enumerate(reader, start=2):
                rows.append(_parse_row(path, line, row))
    except OSError as exc:
        raise InputError(f"cannot read hotlist {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: not a readable CSV file ({exc})") from None
    return rows


def _parse_row(
    path: Path, line: int, row: dict[str, str | None]
) -> tuple[str, str | None, str, str, str | None]:
    def cell(name: str) -> str:
        return (row.get(name) or "").strip()

    plate = normalise_plate(cell("plate"))
    if not plate:
        raise InputError(f"{path}:{line}: plate is empty")
    state = cell("state").upper() or None
    if state is not None and not (len(state) == 2 and state.isalpha()):
        raise InputError(f"{path}:{line}: state {state!r} is not a two-letter code")
    return plate, state, cell("reason"), cell("source"), _parse_expiry(path, line, cell("expiry"))


def _parse_expiry(path: Path, line: int, text: str) -> str | None:
    """An ISO date (valid through that day, UTC) or date-time; empty never expires."""
    if not text:
        return None
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text) + timedelta(days=1), time(), UTC)
        else:
            moment = datetime.fromisoformat(text)
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    except ValueError:
        raise InputError(
            f"{path}:{line}: expiry {text!r} is not an ISO date (YYYY-MM-DD) or date-time"
        ) from None
    return moment.astimezone(UTC).isoformat()
