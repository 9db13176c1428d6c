"""The durable outbox: messages the gate accepted and the broker has not yet acknowledged.

It is its own SQLite file attached to the audit log's connection, so a message is queued in the
same transaction that writes its audit row (both or neither). A row is deleted only after the
broker's PUBACK; after a crash, power cut or broker outage everything still here is sent again,
oldest first, under the same message id. It also records the newest read handed over by
the pipeline, so that a read stored just before a crash is still shared after the restart.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge.audit.log import AuditLog, connect

SCHEMA = "outbox"
_DDL = """
CREATE TABLE IF NOT EXISTS outbox.outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL UNIQUE,
    agency_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    correlation_data BLOB,
    queued_at TEXT NOT NULL,
    audit_seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox.outbox_agency ON outbox(agency_id, seq);
CREATE TABLE IF NOT EXISTS outbox.handoff (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_read_id INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class QueuedMessage:
    seq: int
    message_id: str
    agency_id: str
    kind: str
    topic: str
    payload: bytes
    correlation_data: bytes | None
    queued_at: str
    audit_seq: int


class Outbox:
    def __init__(self, audit: AuditLog, path: str | Path) -> None:
        self.path = Path(path)
        self._audit = audit
        audit.attach(SCHEMA, self.path, _DDL)

    @staticmethod
    def enqueue(conn: sqlite3.Connection, message: QueuedMessage) -> None:
        """Queue inside the audit log's open transaction (see EgressGate.send)."""
        conn.execute(
            "INSERT INTO outbox.outbox (message_id, agency_id, kind, topic, payload,"
            " correlation_data, queued_at, audit_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.message_id,
                message.agency_id,
                message.kind,
                message.topic,
                message.payload,
                message.correlation_data,
                message.queued_at,
                message.audit_seq,
            ),
        )

    def next_for(self, agency_id: str) -> QueuedMessage | None:
        """The oldest message not yet acknowledged by `agency_id`'s broker."""
        with self._audit.reading() as conn:
            row = conn.execute(
                "SELECT * FROM outbox.outbox WHERE agency_id = ? ORDER BY seq LIMIT 1",
                (agency_id,),
            ).fetchone()
        return QueuedMessage(**dict(row)) if row else None

    def queued(self, agency_id: str) -> list[QueuedMessage]:
        with self._audit.reading() as conn:
            rows = conn.execute(
                "SELECT * FROM outbox.outbox WHERE agency_id = ? ORDER BY seq", (agency_id,)
            ).fetchall()
        return [QueuedMessage(**dict(row)) for row in rows]

    def agencies(self) -> set[str]:
        with self._audit.reading() as conn:
            rows = conn.execute("SELECT DISTINCT agency_id FROM outbox.outbox").fetchall()
        return {row[0] for row in rows}

    def depth(self, agency_id: str | None = None) -> int:
        """Messages waiting: for one agency, or for all."""
        sql, params = "SELECT COUNT(*) FROM outbox.outbox", ()
        if agency_id is not None:
            sql, params = sql + " WHERE agency_id = ?", (agency_id,)
        with self._audit.reading() as conn:
            return int(conn.execute(sql, params).fetchone()[0])

    def acknowledge(self, seq: int) -> None:
        """The broker sent PUBACK: the message is delivered and leaves the outbox."""
        with self._audit.transaction() as conn:
            conn.execute("DELETE FROM outbox.outbox WHERE seq = ?", (seq,))

    @staticmethod
    def mark_handled(conn: sqlite3.Connection, read_id: int) -> None:
        """Record, in the transaction that queues its messages, that a stored read was handed
        over; a read stored but not handed over before a crash is found on the next start."""
        conn.execute(
            "INSERT INTO outbox.handoff (id, last_read_id) VALUES (1, ?) ON CONFLICT (id) "
            "DO UPDATE SET last_read_id = max(last_read_id, excluded.last_read_id)",
            (read_id,),
        )

    def last_handled(self) -> int | None:
        """The newest read handed to sharing, or None before the first."""
        with self._audit.reading() as conn:
            row = conn.execute("SELECT last_read_id FROM outbox.handoff").fetchone()
        return None if row is None else int(row[0])

    @staticmethod
    def remove(conn: sqlite3.Connection, seq: int) -> None:
        """Remove a message inside an open transaction (a drop, audited by the caller)."""
        conn.execute("DELETE FROM outbox.outbox WHERE seq = ?", (seq,))


def queued_per_agency(path: Path) -> dict[str, int]:
    """Messages waiting per agency in an outbox file, read without opening it for writing
    (`alpr-edge sharing status` beside a running unit). An absent file holds none."""
    if not path.is_file():
        return {}
    conn = connect(path, readonly=True)
    try:
        rows = conn.execute("SELECT agency_id, COUNT(*) FROM outbox GROUP BY agency_id")
        return {agency: count for agency, count in rows}
    finally:
        conn.close()
