"""`Sharing`: what the pipeline holds to share reads, built from the `[sharing]` config table.

The pipeline stores each read and its hits, then calls `Sharing.on_read(read_id, read, hits)`
once. Sharing sends a `read` document to every active agency that receives reads and a `hit`
document to those that receive hits, publishes heartbeats and the audit chain head
periodically.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime
from pathlib import Path
from typing import Any

from edge.audit.bundle import keep_allowlist_version
from edge.audit.events import SYSTEM_USER, Decision, Event
from edge.audit.log import AuditLog
from edge.audit.signing import device_key, head_document
from edge.clock import UTC
from edge.config.allowlist import Agency, AllowList, load_allowlist, narrow_allowlist
from edge.config.schema import DEFAULT_RETENTION_DAYS, SharingConfig
from edge.errors import ConfigError
from edge.runtime.store import ReadStore
from edge.runtime.types import HotlistHit, VehicleRead
from edge.share.gate import EgressGate, utc_today
from edge.share.messages import (
    Outgoing,
    audit_head_message,
    heartbeat_message,
    hit_message,
    read_message,
)
from edge.share.mqtt.link import QueryHandler, Transport
from edge.share.outbox import Outbox
from edge.share.state import write_sharing_state

log = logging.getLogger(__name__)


class Sharing:
    """The unit's sharing side: gate, outbox, transport, audit log, periodic tasks."""

    def __init__(
        self,
        settings: SharingConfig,
        store_dir: Path | None = None,
        *,
        retention_days: int = DEFAULT_RETENTION_DAYS,
        today: Callable[[], date] = utc_today,
    ) -> None:
        """`store_dir`: the pipeline's read store, opened here on a connection of its own (the
        reads stored but not handed over before a crash are read from it at start).
        `retention_days`: the unit's retention ([store] retention_days), told to agencies."""
        self.settings = settings
        self._today = today
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.audit = AuditLog(settings.audit_file)
        # Made here on first start, 0600, never sent: only its public half leaves the unit.
        self.device_key = device_key(settings.data_dir)
        self.outbox = Outbox(self.audit, settings.outbox_file)
        self.gate = EgressGate(
            self.audit, self.outbox, settings.unit_id, settings.operator_agency, today=today
        )
        self.transport = Transport(self.gate, self.outbox, settings.unit_id)
        self.store = ReadStore(store_dir) if store_dir is not None else None
        # Retention is the unit's own policy ([store] retention_days, run by the unit with or
        # without sharing); sharing states it in its settings row and its heartbeats.
        self.retention_days = retention_days
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        self._periodic: threading.Thread | None = None
        # The unit's real state for heartbeats (edge.service.health), when a run provides it.
        self._state: Callable[[], Mapping[str, Any]] | None = None
        self._in_force_key: tuple[object, ...] | None = None
        self._in_force_since = ""
        self._agency_since: dict[str, str] = {}
        self._agency_entry: dict[str, Agency] = {}
        self._file_state: tuple[str, str | None] = ("missing", None)

    def set_query_handler(self, handler: QueryHandler | None) -> None:
        """edge.query's responder: called with each query read on an agency's connection."""
        self.transport.set_query_handler(handler)

    def start(self) -> None:
        """Load the allow-list, connect to the active agencies, hand over reads stored but not
        shared before a crash, start the periodic tasks."""
        # Retention and the other sharing settings are part of the record: a quiet change to
        # them is the kind of drift the audit log must show.
        self.gate.system_event(
            Event.SETTINGS_LOAD,
            Decision.DONE,
            f"sharing settings in force: retention {self.retention_days} days",
            details={
                **{k: str(v) for k, v in asdict(self.settings).items()},
                "retention_days": str(self.retention_days),
            },
        )
        self.reload_allowlist()
        if self.store is not None:
            self._catch_up(self.store)
        self._periodic = threading.Thread(
            target=self._run_periodic, name="share-periodic", daemon=True
        )
        self._periodic.start()

    def _catch_up(self, store: ReadStore) -> None:
        """Hand over reads stored but never handed to sharing (the unit died in between): the
        outbox records the newest read handed over in the same transaction as its messages."""
        last = self.outbox.last_handled()
        if last is None:
            # Sharing switched on for the first time: what was read before is not sent.
            self.gate.send_all([], read_id=store.newest_read_id())
            return
        caught_up = 0
        for stored in store.reads_after(last):
            self.on_read(stored.id, stored.read, [h.hit for h in stored.hits])
            caught_up += 1
        if caught_up:
            log.warning(
                "%d stored reads had not been handed to sharing: handed over now", caught_up
            )

    def reload_allowlist(self, changed_by: str = SYSTEM_USER) -> bool:
        """Load the allow-list file again. A valid file is put in force. An invalid (or missing)
        one is refused, audited, and only narrows: what it removes, expires or narrows in the
        list in force stops at once, nothing it adds or widens applies (narrow_allowlist).
        Returns whether the file was applied."""
        path = self.settings.agencies_file
        try:
            allowlist = load_allowlist(path)
        except ConfigError as exc:
            narrowing = narrow_allowlist(self.allowlist, path)
            self.gate.refuse_allowlist(str(path), str(exc), narrowing, changed_by)
            # The state first: closing links may take seconds, what is in force changed now.
            self._write_state(refusal=str(exc), file_sha256=narrowing.allowlist.narrowed_by)
            self.transport.sync(self.allowlist.active(self._today()))
            return False
        self.apply_allowlist(allowlist, changed_by)
        return True

    def apply_allowlist(self, allowlist: AllowList, changed_by: str = SYSTEM_USER) -> None:
        if allowlist.raw is not None:
            # Kept before the config_load row cites it: `audit bundle` needs the text.
            keep_allowlist_version(self.settings.data_dir, allowlist.sha256, allowlist.raw)
        self.gate.apply_allowlist(allowlist, changed_by)
        self._write_state(refusal=None, file_sha256=allowlist.sha256)
        self.transport.sync(allowlist.active(self._today()))

    def _write_state(
        self, *, refusal: str | None, file_sha256: str | None, running: bool = True
    ) -> None:
        """Tell `alpr-edge sharing status` what is in force (edge.share.state)."""
        now = datetime.now(UTC).isoformat()
        allowlist = self.allowlist
        if (allowlist.sha256, allowlist.narrowed_by, allowlist.agencies) != self._in_force_key:
            self._in_force_key = (allowlist.sha256, allowlist.narrowed_by, allowlist.agencies)
            self._in_force_since = now
        # An agency keeps its "since" while its entry in force stays the same.
        self._agency_since = {
            a.id: self._agency_since[a.id]
            if self._agency_entry.get(a.id) == a and a.id in self._agency_since
            else now
            for a in allowlist
        }
        self._agency_entry = {a.id: a for a in allowlist}
        self._file_state = (file_sha256 or "missing", refusal)
        try:
            write_sharing_state(
                self.settings.data_dir,
                unit_id=self.settings.unit_id,
                allowlist=allowlist,
                since=self._in_force_since,
                agency_since=self._agency_since,
                file_sha256=self._file_state[0],
                refusal=refusal,
                running=running,
            )
        except OSError as exc:
            log.error("sharing state file not written: %s", exc)

    @property
    def allowlist(self) -> AllowList:
        return self.gate.allowlist

    def on_read(
        self, read_id: int, read: VehicleRead, hits: Sequence[HotlistHit] = ()
    ) -> list[str]:
        """Share one stored read (and its hits); returns the message ids queued.

        A failure to audit shares nothing and is logged; the read stays in the store.
        """
        active = self.allowlist.active(self._today())
        messages = [(a.id, read_message(read_id, read)) for a in active if "reads" in a.receives]
        if hits:
            hit = hit_message(read_id, read, hits)
            messages += [(a.id, hit) for a in active if "hits" in a.receives]
        try:
            return [mid for mid in self.gate.send_all(messages, read_id=read_id) if mid]
        except (sqlite3.Error, OSError) as exc:
            log.error("read %s not shared: the audit log cannot be written (%s)", read_id, exc)
            return []

    def broadcast(self, message: Outgoing) -> list[str]:
        """Send a message to every active agency (for kinds every agency receives)."""
        return self._send([(a.id, message) for a in self.allowlist.active(self._today())])

    def set_state_provider(self, provider: Callable[[], Mapping[str, Any]] | None) -> None:
        """What heartbeats say of the unit (camera, fps, disk); None: only that it is alive."""
        self._state = provider

    def publish_heartbeat(self) -> list[str]:
        """Each agency hears only of its own queue, not of what waits for other agencies."""
        uptime = time.monotonic() - self._started_at
        state = self._state() if self._state is not None else None
        agencies = [a for a in self.allowlist.active(self._today()) if "heartbeat" in a.receives]
        return self._send(
            [
                (
                    a.id,
                    heartbeat_message(uptime, self.outbox.depth(a.id), self.retention_days, state),
                )
                for a in agencies
            ]
        )

    def publish_audit_head(self) -> list[str]:
        head = self.audit.head()
        document = head_document(self.settings.unit_id, head.seq, head.row_hash)
        return self.broadcast(
            audit_head_message(
                head.seq,
                head.row_hash,
                head.at,
                key_id=self.device_key.key_id,
                signature=self.device_key.sign(document),
            )
        )

    def _send(self, messages: list[tuple[str, Outgoing]]) -> list[str]:
        return [mid for mid in self.gate.send_all(messages) if mid] if messages else []

    def _run_periodic(self) -> None:
        now = time.monotonic()
        due = {
            "heartbeat": now + self.settings.heartbeat_interval_s,
            "audit_head": now,
        }
        while not self._stop.wait(1.0):
            now = time.monotonic()
            try:
                # Agreements expire at midnight: close their links (queues are dropped, audited).
                self.transport.sync(self.allowlist.active(self._today()))
                if now >= due["heartbeat"]:
                    self.publish_heartbeat()
                    due["heartbeat"] = now + self.settings.heartbeat_interval_s
                if now >= due["audit_head"]:
                    self.publish_audit_head()
                    due["audit_head"] = now + self.settings.audit_head_interval_s
            except (sqlite3.Error, OSError) as exc:
                log.error("periodic sharing task failed: %s", exc)

    def drain(self, timeout_s: float) -> bool:
        """Wait until every connected agency has acknowledged what is queued for it."""
        deadline = time.monotonic() + timeout_s
        while True:
            pending = [a for a in self.transport.connected() if self.outbox.depth(a)]
            if not pending:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def close(self) -> None:
        """Stop; what is still queued (brokers down, time up) is sent after the next start."""
        self._stop.set()
        if self._in_force_key is not None:
            self._write_state(
                refusal=self._file_state[1], file_sha256=self._file_state[0], running=False
            )
        if self._periodic is not None:
            self._periodic.join(5)
            self.drain(self.settings.drain_on_exit_s)
        self.transport.close()
        self.audit.close()
        if self.store is not None:
            self.store.close()

    def __enter__(self) -> Sharing:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
