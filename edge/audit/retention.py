"""Retention: reads that matched no hotlist are deleted, with their crops, after N days.

N is 30 by default and never above 60 (the CHP limit, Veh. Code 2413(b), and SB 274's
proposal; `edge.config.schema.MAX_RETENTION_DAYS`); only a read under a recorded legal hold
outlives it. Holds are recorded in the audit log itself (events `legal_hold` /
`legal_hold_release`), so a hold cannot be placed or lifted without a trace. Each purge is
audited before anything is deleted, so no read ever disappears without a record; a purge
interrupted half-way is simply repeated by the next one. The reads and their SQL belong to the
store (`edge.runtime.store.ReadStore`).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from edge.audit.events import SYSTEM_USER, Decision, Event
from edge.audit.log import AuditEvent, AuditLog
from edge.config.schema import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS
from edge.runtime.store import ReadStore

log = logging.getLogger(__name__)


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
            "SELECT event, details FROM audit WHERE event IN (?, ?) ORDER BY seq",
            (Event.LEGAL_HOLD.value, Event.LEGAL_HOLD_RELEASE.value),
        ).fetchall()
    for row in rows:
        ids = {int(i) for i in json.loads(row["details"]).get("read_ids", [])}
        held = held | ids if row["event"] == Event.LEGAL_HOLD.value else held - ids
    return held


def record_hold(
    audit: AuditLog,
    read_ids: list[int],
    case_number: str,
    user: str,
    reason: str,
    place: bool,
    *,
    user_agency: str = "",
) -> None:
    """Place (or release) a legal hold on reads; the audit row is the record of the hold."""
    audit.record(
        AuditEvent(
            event=Event.LEGAL_HOLD if place else Event.LEGAL_HOLD_RELEASE,
            decision=Decision.DONE,
            reason=reason,
            username=user,
            user_agency=user_agency,
            purpose=f"legal hold for case {case_number}",
            record_count=len(read_ids),
            details={"read_ids": sorted(read_ids), "case_number": case_number},
        )
    )


class Retention:
    """Deletes what the retention rule says must go; `purge` is safe to call at any time."""

    def __init__(
        self,
        store: ReadStore,
        audit: AuditLog,
        days: int = DEFAULT_RETENTION_DAYS,
        *,
        operator_agency: str = "",
    ) -> None:
        if not 1 <= days <= MAX_RETENTION_DAYS:
            raise ValueError(f"retention must be 1 to {MAX_RETENTION_DAYS} days, not {days}")
        self.store = store
        self.days = days
        self._audit = audit
        self._operator_agency = operator_agency

    def purge(self, now: datetime | None = None) -> PurgeResult:
        now = now or datetime.now(UTC)
        cutoff = now - timedelta(days=self.days)
        expired = self.store.unhit_reads_before(cutoff)
        held = held_read_ids(self._audit)
        doomed = [stored for stored in expired if stored.id not in held]
        if not doomed:
            return PurgeResult(cutoff, 0, len(expired), 0)
        self._audit.record(
            AuditEvent(
                event=Event.PURGE,
                decision=Decision.DONE,
                reason=f"retention: {len(doomed)} reads with no hotlist hit older than "
                f"{self.days} days deleted with their crops ({len(expired) - len(doomed)} "
                "under legal hold)",
                username=SYSTEM_USER,
                user_agency=self._operator_agency,
                purpose="retention policy",
                # No plates: the audit log outlives the reads, and must not keep what was purged.
                record_count=len(doomed),
                details={
                    "cutoff": cutoff.isoformat(),
                    "first_id": doomed[0].id,
                    "last_id": doomed[-1].id,
                },
            )
        )
        crops = self.store.delete_reads(doomed)
        log.info("retention purged %d reads and %d crops before %s", len(doomed), crops, cutoff)
        return PurgeResult(cutoff, len(doomed), len(expired) - len(doomed), crops)
