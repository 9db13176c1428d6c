"""Which signed queries the unit has already seen: replay protection and the hourly rate limit.

Kept in SQLite so a restart forgets nothing: a query id seen before the restart is still a
replay, and the hour's count still stands. Rows older than the longer of the two windows are
pruned, since the freshness check refuses anything that old anyway.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

RATE_WINDOW = timedelta(hours=1)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_queries (
    agency TEXT NOT NULL,
    request_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    PRIMARY KEY (agency, request_id)
);
CREATE INDEX IF NOT EXISTS seen_queries_by_time ON seen_queries (agency, received_at);
"""


class QueryLedger:
    def __init__(self, path: Path, freshness: timedelta) -> None:
        self.path = path
        self.keep_for = max(freshness, RATE_WINDOW)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def record(self, agency: str, request_id: str, now: datetime) -> bool:
        """Record a query id; False when this agency already used it (a replay)."""
        with self._db:
            self._db.execute(
                "DELETE FROM seen_queries WHERE received_at < ?",
                ((now - self.keep_for).timestamp(),),
            )
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen_queries VALUES (?, ?, ?)",
                (agency, request_id, now.timestamp()),
            )
        return cursor.rowcount == 1

    def count_last_hour(self, agency: str, now: datetime) -> int:
        (count,) = self._db.execute(
            "SELECT count(*) FROM seen_queries WHERE agency = ? AND received_at > ?",
            (agency, (now - RATE_WINDOW).timestamp()),
        ).fetchone()
        return int(count)
