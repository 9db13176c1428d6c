"""Retention: reads that matched no hotlist are deleted, with their crops, after N days.

N is 30 by default and never above 60 (the CHP limit, Veh. Code 2413(b), and SB 274's
proposal); only a read under a recorded legal hold outlives it. Holds are recorded in the
audit log itself (events `legal_hold` / `legal_hold_release`), so a hold cannot be placed or
lifted without a trace. Each purge is audited before anything is deleted, so no read ever
disappears without a record; a purge interrupted half-way is simply repeated by the next one.

The reads belong to the pipeline's store (edge.store, table `reads`, hits in `hits`, crops
under the store's folder); this module opens its own connection to that file.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.share.audit import AuditLog
from edge.share.gate import DONE, EgressGate

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 30
MAX_RETENTION_DAYS = 60
HOLD = "legal_hold"
RELEASE = "legal_hold_release"


@dataclass(frozen=True)
class PurgeResult:
    cutoff: datetime
    purged: int
    held: int
    crops_removed: int


def held_read_ids(audit: AuditLog) -> set[int]:
    """Reads under a legal hold now: placed and not released, replayed in chain order."""
    held: set[int] = set()
    with audit.reading() as conn:
        rows = conn.execute(
            "SELECT event, details FROM audit WHERE event IN (?, ?) ORDER BY seq", (HOLD, RELEASE)
        ).fetchall()
    for row in rows:
        ids = {int(i) for i in json.loads(row["details"]).get("read_ids", [])}
        held = held | ids if row["event"] == HOLD else held - ids
    return held


def record_hold(
    gate: EgressGate, read_ids: list[int], case_number: str, user: str, reason: str, place: bool
) -> None:
    """Place (or release) a legal hold on reads; the audit row is the record of the hold."""
    gate.system_event(
        HOLD if place else RELEASE,
        DONE,
        reason,
        username=user,
        purpose=f"legal hold for case {case_number}",
        record_count=len(read_ids),
        details={"read_ids": sorted(read_ids), "case_number": case_number},
    )


class Retention:
    def __init__(self, reads_db: Path, gate: EgressGate, days: int = DEFAULT_RETENTION_DAYS):
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise ValueError(f"retention must be 1 to {MAX_RETENTION_DAYS} days, not {days}")
        self.reads_db = Path(reads_db)
        self.days = days
        self._gate = gate

    def purge(self, now: datetime | None = None) -> PurgeResult:
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=self.days)
        conn = sqlite3.connect(self.reads_db, timeout=10)
        try:
            expired = conn.execute(
                "SELECT id, crop_path FROM reads WHERE seen_at < ? AND NOT EXISTS "
                "(SELECT 1 FROM hits WHERE hits.read_id = reads.id) ORDER BY id",
                (cutoff.isoformat(),),
            ).fetchall()
            held = held_read_ids(self._gate.audit)
            doomed = [row for row in expired if row[0] not in held]
            if not doomed:
                return PurgeResult(cutoff, 0, len(expired), 0)
            self._gate.system_event(
                "purge",
                DONE,
                f"retention: {len(doomed)} reads with no hotlist hit older than {self.days} "
                f"days deleted with their crops ({len(expired) - len(doomed)} under legal hold)",
                purpose="retention policy",
                # No plates: the audit log outlives the reads, and must not keep what was purged.
                record_count=len(doomed),
                details={
                    "cutoff": cutoff.isoformat(),
                    "first_id": doomed[0][0],
                    "last_id": doomed[-1][0],
                },
            )
            with conn:
                conn.executemany("DELETE FROM reads WHERE id = ?", [(row[0],) for row in doomed])
        finally:
            conn.close()
        crops = 0
        for _, crop_path in doomed:
            if crop_path:
                crop = self.reads_db.parent / crop_path
                if crop.exists():
                    crop.unlink()
                    crops += 1
        log.info("retention purged %d reads and %d crops before %s", len(doomed), crops, cutoff)
        return PurgeResult(cutoff, len(doomed), len(expired) - len(doomed), crops)
