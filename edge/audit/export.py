"""Audit rows for auditors: a period, optionally one agency's rows, as CSV or JSON lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from edge.audit.log import CONTENT_COLUMNS, connect
from edge.clock import UTC

EXPORT_COLUMNS = (*CONTENT_COLUMNS, "row_hash")


def export_rows(
    path: str | Path,
    start: datetime | None = None,
    end: datetime | None = None,
    agency: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows with start <= at < end, optionally only those to or from `agency`, in chain order."""
    where, params = [], []
    if start is not None:
        where.append("at >= ?")
        params.append(start.astimezone(UTC).isoformat(timespec="microseconds"))
    if end is not None:
        where.append("at < ?")
        params.append(end.astimezone(UTC).isoformat(timespec="microseconds"))
    if agency is not None:
        where.append("(destination = ? OR user_agency = ?)")
        params.extend([agency, agency])
    sql = "SELECT * FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "")
    conn = connect(path, readonly=True)
    try:
        for row in conn.execute(sql + " ORDER BY seq", params):
            yield {c: row[c] for c in EXPORT_COLUMNS}
    finally:
        conn.close()


def write_export(rows: Iterator[dict[str, Any]], out: IO[str], fmt: str) -> int:
    """Write rows as CSV (with a header) or JSON lines; returns how many were written."""
    count = 0
    if fmt == "csv":
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
    else:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            count += 1
    return count
