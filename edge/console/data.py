"""What the console's pages show, read from the unit's files: the read store, the audit log,
the outbox and the allow-list. Nothing here writes; nothing here sends anything anywhere.

The outbox is read with a plain read-only SQLite connection rather than through edge.share:
the console must not import the code that sends data off the device.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from edge.audit.events import Event
from edge.audit.log import CONTENT_COLUMNS, connect, latest_events, read_head, verify
from edge.config import EdgeConfig
from edge.runtime.store import DB_NAME, ReadStore, StoredRead


@dataclass(frozen=True)
class Paths:
    """The files the console reads, from edge.toml."""

    store_dir: Path
    audit_file: Path
    outbox_file: Path | None
    allowlist_file: Path | None
    policy_file: Path | None
    retention_days: int
    operator_agency: str

    @classmethod
    def of(cls, config: EdgeConfig) -> Paths:
        sharing = config.sharing
        return cls(
            store_dir=config.store.data_dir,
            audit_file=config.audit_file,
            outbox_file=sharing.outbox_file if sharing else None,
            allowlist_file=sharing.agencies_file if sharing else None,
            policy_file=sharing.query_policy if sharing else None,
            retention_days=config.store.retention_days,
            operator_agency=sharing.operator_agency if sharing else "",
        )

    def has_store(self) -> bool:
        return (self.store_dir / DB_NAME).is_file()

    def store(self) -> ReadStore:
        return ReadStore(self.store_dir, readonly=True)


def outbox_depths(path: Path | None) -> dict[str, int]:
    """Messages waiting per agency in the outbox file; an absent file holds none."""
    if path is None or not path.is_file():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT agency_id, COUNT(*) FROM outbox GROUP BY agency_id")
        return {agency: count for agency, count in rows}
    except sqlite3.OperationalError:  # created but no table yet
        return {}
    finally:
        conn.close()


def health(paths: Paths, now: datetime | None = None) -> dict[str, Any]:
    """The figures the stores can tell; frame rate and broker state live in the running
    reader and are not in any file."""
    now = now or datetime.now(timezone.utc)
    figures: dict[str, Any] = {"now": now.isoformat(timespec="seconds")}
    if paths.has_store():
        store = paths.store()
        try:
            last = store.reads(limit=1)
            midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
            reads_today, hits_today = store.count_reads(midnight, now + timedelta(seconds=1))
        finally:
            store.close()
        figures["last_read"] = last[0].read.seen_at.isoformat(timespec="seconds") if last else None
        figures["reads_today"], figures["hits_today"] = reads_today, hits_today
    else:
        figures["last_read"], figures["reads_today"], figures["hits_today"] = None, 0, 0
    folder = paths.store_dir if paths.store_dir.exists() else paths.store_dir.parent
    usage = shutil.disk_usage(folder)
    figures["disk_free_gb"] = round(usage.free / 1e9, 1)
    figures["disk_free_pct"] = round(100 * usage.free / usage.total, 1)
    figures["outbox"] = outbox_depths(paths.outbox_file)
    figures["brokers"] = {}
    if paths.audit_file.is_file():
        # The reader's last connection event per agency: what the files say of broker state.
        connections = (Event.CONNECT, Event.CONNECT_FAILED, Event.DISCONNECT)
        figures["brokers"] = {
            agency: {"event": row["event"], "at": row["at"][:19], "reason": row["reason"]}
            for agency, row in latest_events(paths.audit_file, connections).items()
            if agency
        }
        result = verify(paths.audit_file)
        figures["audit"] = {
            "rows": result.rows,
            "intact": result.ok,
            "head": f"{result.head.seq}:{result.head.row_hash}",
            "first_break": result.breaks[0].problem if result.breaks else None,
        }
    else:
        figures["audit"] = None
    return figures


def crop_data_uri(store_dir: Path, stored: StoredRead) -> str | None:
    """The crop inline (data: URI), so that seeing it needs the audited page itself rather
    than a second, unaudited image request. Paths outside the store folder are ignored."""
    if not stored.read.crop_path:
        return None
    root = store_dir.resolve()
    crop = (root / stored.read.crop_path).resolve()
    if root not in crop.parents or not crop.is_file():
        return None
    return "data:image/jpeg;base64," + base64.b64encode(crop.read_bytes()).decode("ascii")


@dataclass(frozen=True)
class AuditFilter:
    start: datetime | None = None
    end: datetime | None = None
    event: str = ""
    user: str = ""
    agency: str = ""
    limit: int = 200


def audit_rows(path: Path, wanted: AuditFilter) -> list[dict[str, Any]]:
    """Rows matching the filter, newest first, details parsed."""
    if not path.is_file():
        return []
    where, params = [], []
    if wanted.start:
        where.append("at >= ?")
        params.append(wanted.start.astimezone(timezone.utc).isoformat(timespec="microseconds"))
    if wanted.end:
        where.append("at < ?")
        params.append(wanted.end.astimezone(timezone.utc).isoformat(timespec="microseconds"))
    if wanted.event:
        where.append("event = ?")
        params.append(wanted.event)
    if wanted.user:
        where.append("username = ?")
        params.append(wanted.user)
    if wanted.agency:
        where.append(
            "(destination = ? OR user_agency = ? OR json_extract(details, '$.broker_agency') = ?)"
        )
        params += [wanted.agency] * 3
    sql = "SELECT * FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "")
    conn = connect(path, readonly=True)
    try:
        rows = conn.execute(sql + " ORDER BY seq DESC LIMIT ?", [*params, wanted.limit])
        return [
            {**{c: row[c] for c in CONTENT_COLUMNS}, "details": json.loads(row["details"] or "{}")}
            for row in rows
        ]
    finally:
        conn.close()


def sharing_log(path: Path, agency: str, limit: int = 200) -> dict[str, list[dict[str, Any]]]:
    """One agency's rows: messages sent or refused or dropped, and its queries with their
    decision, reason code and case number."""
    rows = audit_rows(path, AuditFilter(agency=agency, limit=limit * 4))
    sent = [
        r
        for r in rows
        if r["event"] in ("share", "drop", "connect_failed")
        and "query_decision" not in r["details"]
    ]
    queries = [r for r in rows if "query_decision" in r["details"]]
    return {"messages": sent[:limit], "queries": queries[:limit]}


def chain_head_text(path: Path) -> str:
    head = read_head(path) if path.is_file() else None
    return f"{head.seq}:{head.row_hash}" if head else "0:" + "0" * 64


def count_events(path: Path, start: datetime, end: datetime) -> dict[str, int]:
    """Rows per event in [start, end)."""
    if not path.is_file():
        return {}
    conn = connect(path, readonly=True)
    try:
        rows = conn.execute(
            "SELECT event, COUNT(*) FROM audit WHERE at >= ? AND at < ? GROUP BY event",
            [
                start.astimezone(timezone.utc).isoformat(timespec="microseconds"),
                end.astimezone(timezone.utc).isoformat(timespec="microseconds"),
            ],
        )
        return {event: count for event, count in rows}
    finally:
        conn.close()
