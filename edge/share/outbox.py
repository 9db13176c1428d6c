"""The durable outbox: messages the gate accepted and the broker has not yet acknowledged.

It is its own SQLite file attached to the audit log's connection, so a message is queued in the
same transaction that writes its audit row (both or neither). A row is deleted only after the
broker's PUBACK; after a crash, power cut or broker outage everything still here is sent again,
oldest first, under the same message id.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from edge.share.audit import AuditLog

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
    def remove(conn: sqlite3.Connection, seq: int) -> None:
        """Remove a message inside an open transaction (a drop, audited by the caller)."""
        conn.execute("DELETE FROM outbox.outbox WHERE seq = ?", (seq,))
