"""The tamper-evident audit log: one append-only SQLite file, one hash-chained row per event.

Each row records the Civil Code 1798.90.52(a) fields (when, the plate or data elements, who and
for which organisation, why) plus where data went, the decision and its reason, the message id,
how many records, and the SHA-256 of the allow-list in force. `row_hash` is the SHA-256 of the
previous row's hash and this row's content (its position included), so a changed, deleted,
inserted or reordered row breaks the chain at that row; triggers refuse UPDATE and DELETE so
that ordinary writes cannot rewrite history. Deleting the newest rows leaves a valid but shorter
chain: the chain head published to every agency (see edge.share.service) exposes that.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.audit.events import Decision, Event
from edge.clock import UTC
from edge.errors import InputError

GENESIS_HASH = "0" * 64
BUSY_TIMEOUT_MS = 10_000

# Column order is part of the hash: never reorder, only append new columns at the end.
CONTENT_COLUMNS: tuple[str, ...] = (
    "seq",
    "at",
    "event",
    "decision",
    "reason",
    "username",
    "user_agency",
    "purpose",
    "data_elements",
    "destination",
    "message_id",
    "record_count",
    "allowlist_sha256",
    "details",
    "prev_hash",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    event TEXT NOT NULL,
    decision TEXT NOT NULL,
    reason TEXT NOT NULL,
    username TEXT NOT NULL,
    user_agency TEXT NOT NULL,
    purpose TEXT NOT NULL,
    data_elements TEXT NOT NULL,
    destination TEXT,
    message_id TEXT,
    record_count INTEGER NOT NULL,
    allowlist_sha256 TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only: DELETE refused'); END;
"""
_TRIGGERS = ("audit_no_update", "audit_no_delete")


@dataclass(frozen=True)
class AuditEvent:
    """What happened. `username`/`user_agency` are who accessed or received the data."""

    event: Event
    decision: Decision
    reason: str
    username: str
    user_agency: str
    purpose: str
    data_elements: str = ""  # the plate(s) or other data elements accessed or sent
    destination: str | None = None  # the agency id data went to
    message_id: str | None = None
    record_count: int = 0
    allowlist_sha256: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # A name that is not in the tables is a bug that would hide the row from auditors'
        # counts: refuse it here (ValueError) rather than write it.
        object.__setattr__(self, "event", Event(self.event))
        object.__setattr__(self, "decision", Decision(self.decision))


@dataclass(frozen=True)
class ChainHead:
    seq: int
    row_hash: str
    at: str | None


@dataclass(frozen=True)
class ChainBreak:
    """The first row where the chain does not hold, and why."""

    seq: int
    problem: str


@dataclass(frozen=True)
class VerifyResult:
    rows: int
    head: ChainHead
    breaks: tuple[ChainBreak, ...]

    @property
    def ok(self) -> bool:
        return not self.breaks


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def row_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the canonical JSON of the row's content."""
    canonical = json.dumps(
        [content[c] for c in CONTENT_COLUMNS], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(f"{content['prev_hash']}|{canonical}".encode()).hexdigest()


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode; transactions are opened explicitly with BEGIN.

    The rollback journal (not WAL) is kept on purpose: only then is one transaction atomic
    across attached files, which the outbox relies on (edge.share.outbox).
    """
    path = Path(path)
    if readonly:
        if not path.is_file():
            raise InputError(f"audit log not found: {path}")
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=DELETE")
        conn.execute("PRAGMA synchronous=FULL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.row_factory = sqlite3.Row
    return conn


class AuditLog:
    """Appends events to the audit file; one connection shared by the unit's threads.

    `transaction()` lets another table (the outbox, attached to this connection) change in the
    same atomic transaction as the audit row that records it.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = connect(self.path)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.RLock()

    def attach(self, schema: str, path: str | Path, ddl: str) -> None:
        """Attach another SQLite file under `schema` and create its tables with `ddl`."""
        with self._lock:
            self._conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(path),))
            self._conn.execute(f"PRAGMA {schema}.journal_mode=DELETE")
            self._conn.execute(f"PRAGMA {schema}.synchronous=FULL")
            self._conn.executescript(ddl)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE takes the write lock first, so chain appends never interleave."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._conn

    def append(self, conn: sqlite3.Connection, event: AuditEvent) -> ChainHead:
        """Append inside an open `transaction()`; returns the new head."""
        last = conn.execute("SELECT seq, row_hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        content: dict[str, Any] = {
            "seq": (last["seq"] + 1) if last else 1,
            "at": utc_now(),
            "event": event.event.value,
            "decision": event.decision.value,
            "reason": event.reason,
            "username": event.username,
            "user_agency": event.user_agency,
            "purpose": event.purpose,
            "data_elements": event.data_elements,
            "destination": event.destination,
            "message_id": event.message_id,
            "record_count": int(event.record_count),
            "allowlist_sha256": event.allowlist_sha256,
            "details": json.dumps(dict(event.details), sort_keys=True, default=str),
            "prev_hash": last["row_hash"] if last else GENESIS_HASH,
        }
        content = {k: _storable(v) if isinstance(v, str) else v for k, v in content.items()}
        digest = row_hash(content)
        columns = (*CONTENT_COLUMNS, "row_hash")
        conn.execute(
            f"INSERT INTO audit ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [*(content[c] for c in CONTENT_COLUMNS), digest],
        )
        return ChainHead(seq=content["seq"], row_hash=digest, at=content["at"])

    def record(self, event: AuditEvent) -> ChainHead:
        """Append one event in its own transaction; raises if it cannot be written."""
        with self.transaction() as conn:
            return self.append(conn, event)

    def head(self) -> ChainHead:
        with self.reading() as conn:
            return chain_head(conn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _storable(text: str) -> str:
    """Text from outside (a query's fields) may hold lone surrogates, which neither UTF-8 nor
    SQLite accept: keep them visible as \\udXXX escapes instead of failing the audit write."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def chain_head(conn: sqlite3.Connection) -> ChainHead:
    last = conn.execute("SELECT seq, row_hash, at FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    if last is None:
        return ChainHead(seq=0, row_hash=GENESIS_HASH, at=None)
    return ChainHead(seq=last["seq"], row_hash=last["row_hash"], at=last["at"])


def verify(path: str | Path, expected_head: ChainHead | None = None) -> VerifyResult:
    """Walk the chain in file order; report the first broken link (and missing triggers).

    `expected_head` is a head published earlier (seq and hash): a chain that no longer holds
    that row, or holds a different one, was cut or rewritten.
    """
    conn = connect(path, readonly=True)
    try:
        breaks: list[ChainBreak] = []
        present = {
            r["name"] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        for trigger in _TRIGGERS:
            if trigger not in present:
                breaks.append(
                    ChainBreak(0, f"trigger {trigger} is missing: the log was opened for rewriting")
                )
        previous_hash, previous_seq, rows = GENESIS_HASH, 0, 0
        first_break: ChainBreak | None = None
        seen: dict[int, str] = {}
        for row in conn.execute("SELECT * FROM audit ORDER BY rowid"):
            rows += 1
            seen[row["seq"]] = row["row_hash"]
            problem = _link_problem(row, previous_seq, previous_hash)
            if problem and first_break is None:
                first_break = ChainBreak(row["seq"], problem)
            previous_hash, previous_seq = row["row_hash"], row["seq"]
        if first_break is not None:
            breaks.append(first_break)
        head = chain_head(conn)
    finally:
        conn.close()
    if expected_head is not None and seen.get(expected_head.seq) != expected_head.row_hash:
        breaks.append(
            ChainBreak(
                expected_head.seq,
                "the published head is not in the log: rows were deleted or rewritten",
            )
        )
    return VerifyResult(rows=rows, head=head, breaks=tuple(breaks))


def _link_problem(row: sqlite3.Row, previous_seq: int, previous_hash: str) -> str | None:
    if row["seq"] != previous_seq + 1:
        return (
            f"expected row {previous_seq + 1} after row {previous_seq} but found row {row['seq']}:"
            " a row was deleted, inserted or moved"
        )
    if row["prev_hash"] != previous_hash:
        return f"does not link to row {previous_seq}: a row was deleted, inserted or moved"
    if row_hash(dict(row)) != row["row_hash"]:
        return "its content does not match its hash: the row was edited"
    return None


def latest_events(path: Path, events: tuple[Event, ...]) -> dict[str, sqlite3.Row]:
    """The newest row of any of `events` for each destination, read-only (for status)."""
    conn = connect(path, readonly=True)
    try:
        marks = ", ".join("?" * len(events))
        rows = conn.execute(
            f"SELECT destination, at, event, reason FROM audit WHERE event IN ({marks}) "
            "ORDER BY seq",
            [e.value for e in events],
        ).fetchall()
    finally:
        conn.close()
    return {row["destination"]: row for row in rows}


def read_head(path: Path) -> ChainHead:
    """The newest row's position and hash, read-only."""
    conn = connect(path, readonly=True)
    try:
        return chain_head(conn)
    finally:
        conn.close()
