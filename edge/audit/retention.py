"""Retention: reads that matched no hotlist are deleted, with their crops, after N days.

N is 30 by default and never above 60 (the CHP limit, Veh. Code 2413(b), and SB 274's
proposal; `edge.config.schema.MAX_RETENTION_DAYS`); only a read under a recorded legal hold
outlives it. Holds are recorded in the audit log itself (events `legal_hold` /
`legal_hold_release`), so a hold cannot be placed or lifted without a trace. Each purge is
audited before anything is deleted, so no read ever disappears without a record; a purge
interrupted half-way is simply repeated by the next one. The reads and their SQL belong to the
store (`edge.runtime.store.ReadStore`).

Retention is local policy, not a sharing feature: its settings are in `[store]`, every unit
runs the purge itself (`RetentionSchedule`, started by `alpr-edge run`) and audits it in
`config.audit_file`, with or without `[sharing]`. When the disk is full the same rules choose
what goes first (`Retention.reclaim_space`, the store's reclaimer): crops of the oldest reads
with no hit and no hold, then those reads themselves, oldest first; loudly, and audited.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.audit.events import SYSTEM_USER, Decision, Event
from edge.audit.log import AuditEvent, AuditLog
from edge.clock import UTC
from edge.config import EdgeConfig
from edge.config.schema import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS
from edge.runtime.store import ReadStore, StoredRead

log = logging.getLogger(__name__)

# Reads (or crops) freed per step when the disk is full: enough for many new reads.
RECLAIM_BATCH = 200
# Reads deleted per transaction then: each transaction's WAL must fit on the full disk.
RECLAIM_CHUNK = 10


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

    def reclaim_space(self) -> bool:
        """The disk is full: delete crops of the oldest reads with no hit and no hold; when
        there are none left, those reads themselves (oldest first, audited before). Returns
        whether anything was freed."""
        held = held_read_ids(self._audit)
        with_crops = [
            r for r in self.store.unhit_reads_with_crops(RECLAIM_BATCH) if r.id not in held
        ]
        if with_crops:
            removed = self.store.drop_crops(with_crops)
            log.error(
                "DISK FULL: deleted the crops of the %d oldest reads (%d files) to keep reading",
                len(with_crops),
                removed,
            )
            try:
                self._record_reclaim(
                    f"disk full: crops of {len(with_crops)} reads deleted", with_crops
                )
            except (sqlite3.Error, OSError) as exc:  # crops are not reads: go on without
                log.error("the audit log could not record the crops deleted: %s", exc)
            if removed:
                return True
        doomed = [r for r in self.store.oldest_unhit_reads(RECLAIM_BATCH) if r.id not in held]
        if not doomed:
            log.error("DISK FULL: no read without a hit or hold is left to delete")
            return False
        # Audited before anything is deleted, as every purge is.
        self._record_reclaim(f"disk full: {len(doomed)} oldest reads with no hit deleted", doomed)
        self.store.delete_reads(doomed, chunk=RECLAIM_CHUNK)
        log.error(
            "DISK FULL: deleted the %d oldest reads with no hit (ids %d-%d) to keep reading",
            len(doomed),
            doomed[0].id,
            doomed[-1].id,
        )
        return True

    def _record_reclaim(self, reason: str, reads: list[StoredRead]) -> None:
        self._audit.record(
            AuditEvent(
                event=Event.PURGE,
                decision=Decision.DONE,
                reason=reason,
                username=SYSTEM_USER,
                user_agency=self._operator_agency,
                purpose="retention policy: disk full",
                record_count=len(reads),
                details={"first_id": reads[0].id, "last_id": reads[-1].id, "disk_full": True},
            )
        )


class RetentionSchedule:
    """Runs `Retention.purge` at start and every `interval_s` on a thread of its own, and
    makes it the store's reclaimer when the disk fills; the unit's own policy, so it runs
    whether or not anything is shared."""

    def __init__(self, retention: Retention, interval_s: float) -> None:
        self.retention = retention
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> RetentionSchedule:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while True:
            try:
                self.retention.purge()
            except (sqlite3.Error, OSError) as exc:
                log.error(
                    "retention purge failed (tried again in %.0f s): %s", self.interval_s, exc
                )
            if self._stop.wait(self.interval_s):
                return


def operator_agency(config: EdgeConfig) -> str:
    return config.sharing.operator_agency if config.sharing else ""


def unit_retention(config: EdgeConfig, audit: AuditLog, store: ReadStore) -> Retention:
    """The unit's retention rule from `[store]`, on `store`."""
    return Retention(
        store, audit, config.store.retention_days, operator_agency=operator_agency(config)
    )


@contextlib.contextmanager
def local_retention(config: EdgeConfig, store: ReadStore) -> Iterator[RetentionSchedule]:
    """For a running unit: the periodic purge (on a store connection of its own) and the
    disk-full reclaimer of `store`, both audited in `config.audit_file`."""
    config.audit_file.parent.mkdir(parents=True, exist_ok=True)
    audit = AuditLog(config.audit_file)
    own_store = ReadStore(store.data_dir)
    store.reclaimer = unit_retention(config, audit, store).reclaim_space
    schedule = RetentionSchedule(
        unit_retention(config, audit, own_store), config.store.purge_interval_s
    )
    try:
        yield schedule.start()
    finally:
        schedule.stop()
        store.reclaimer = None
        own_store.close()
        audit.close()
