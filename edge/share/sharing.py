"""`Sharing`: what the pipeline holds to share reads, built from the `[sharing]` config table.

The pipeline stores each read and its hits, then calls `Sharing.on_read(read_id, read, hits)`
once. Sharing sends a `read` document to every active agency that receives reads and a `hit`
document to those that receive hits, publishes heartbeats and the audit chain head
periodically, and runs the retention purge.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.errors import ConfigError
from edge.share.allowlist import AllowList, load_allowlist
from edge.share.audit import AuditEvent, AuditLog
from edge.share.gate import DONE, SYSTEM_USER, EgressGate, utc_today
from edge.share.handoff import newest_read_id, reads_after
from edge.share.messages import (
    Outgoing,
    audit_head_message,
    heartbeat_message,
    hit_message,
    read_message,
)
from edge.share.outbox import Outbox
from edge.share.retention import DEFAULT_RETENTION_DAYS, MAX_RETENTION_DAYS, Retention
from edge.share.transport import QueryHandler, Transport
from edge.types import HotlistHit, VehicleRead

if TYPE_CHECKING:
    from edge.config.schema import EdgeConfig

log = logging.getLogger(__name__)

AUDIT_FILE = "audit.sqlite"
OUTBOX_FILE = "outbox.sqlite"
_UNIT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class SharingSettings:
    """The `[sharing]` table of edge.toml; relative paths are taken from that file's folder."""

    agencies_file: Path
    data_dir: Path
    unit_id: str
    operator_agency: str = ""
    heartbeat_interval_s: float = 300.0
    audit_head_interval_s: float = 900.0
    retention_days: int = DEFAULT_RETENTION_DAYS
    purge_interval_s: float = 3600.0
    drain_on_exit_s: float = 5.0
    query_policy: Path | None = None


SETTING_HELP: dict[str, str] = {
    "agencies_file": "the allow-list (config/agencies.toml); nothing is shared without it",
    "query_policy": "the published query policy (config/query-policy.toml); without it the "
    "unit answers no agency queries (docs/queries.md)",
    "data_dir": "folder of the audit log (audit.sqlite) and the outbox (outbox.sqlite)",
    "unit_id": "this unit's name in topics and messages (letters, digits, '-', '_')",
    "operator_agency": "ORI of the agency operating this unit (recorded in the audit log)",
    "heartbeat_interval_s": "seconds between heartbeats to agencies that receive them",
    "audit_head_interval_s": "seconds between audit chain heads published to every agency",
    "retention_days": f"days reads with no hotlist hit are kept (1-{MAX_RETENTION_DAYS})",
    "purge_interval_s": "seconds between retention purges",
    "drain_on_exit_s": "at exit, seconds to wait for connected agencies to receive the queue",
}


def parse_sharing_settings(table: Mapping[str, Any], file: str | Path) -> SharingSettings:
    """Validate the `[sharing]` table; errors name the file and `sharing.<key>`."""
    file = Path(file)
    base = file.parent
    for key in table:
        if key not in SETTING_HELP:
            raise ConfigError(
                file, f"sharing.{key}", f"unknown key (known: {', '.join(SETTING_HELP)})"
            )
    values: dict[str, Any] = {}
    for key in ("agencies_file", "data_dir", "unit_id"):
        value = table.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(file, f"sharing.{key}", f"required: {SETTING_HELP[key]}")
    if not _UNIT_ID.match(table["unit_id"]):
        raise ConfigError(file, "sharing.unit_id", SETTING_HELP["unit_id"])
    values["unit_id"] = table["unit_id"]
    policy = table.get("query_policy")
    if "query_policy" in table and (not isinstance(policy, str) or not policy.strip()):
        raise ConfigError(file, "sharing.query_policy", SETTING_HELP["query_policy"])
    for key in ("agencies_file", "data_dir", "query_policy"):
        if key in table:
            path = Path(table[key]).expanduser()
            values[key] = path if path.is_absolute() else base / path
    if "operator_agency" in table:
        if not isinstance(table["operator_agency"], str):
            raise ConfigError(file, "sharing.operator_agency", "must be a string (an ORI)")
        values["operator_agency"] = table["operator_agency"]
    for key in ("heartbeat_interval_s", "audit_head_interval_s", "purge_interval_s"):
        if key in table:
            values[key] = _seconds(table[key], file, key, allow_zero=False)
    if "drain_on_exit_s" in table:
        values["drain_on_exit_s"] = _seconds(table["drain_on_exit_s"], file, "drain_on_exit_s")
    if "retention_days" in table:
        days = table["retention_days"]
        if (
            isinstance(days, bool)
            or not isinstance(days, int)
            or not 1 <= days <= MAX_RETENTION_DAYS
        ):
            raise ConfigError(
                file,
                "sharing.retention_days",
                f"must be a whole number of days from 1 to {MAX_RETENTION_DAYS}; reads needed "
                "longer must be put under a legal hold (`alpr-edge retention hold`)",
            )
        values["retention_days"] = days
    return SharingSettings(**values)


def _seconds(value: Any, file: Path, key: str, allow_zero: bool = True) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        low = "zero or more" if allow_zero else "a positive number of"
        raise ConfigError(file, f"sharing.{key}", f"must be {low} seconds")
    return float(value)


def audit_log_path(config: EdgeConfig) -> Path:
    """The unit's audit log: in `[sharing] data_dir`, or beside the reads when nothing is
    shared (local searches are audited either way)."""
    if config.sharing:
        return parse_sharing_settings(config.sharing, config.path).data_dir / AUDIT_FILE
    return config.store.data_dir / AUDIT_FILE


def record_local_search(
    config: EdgeConfig,
    *,
    user: str,
    purpose: str,
    criteria: Mapping[str, Any],
    plates: Sequence[str],
) -> None:
    """Audit one search of the stored reads on the unit itself (`alpr-edge reads ...`):
    Civil Code 1798.90.52 asks for a record of every access, with its purpose."""
    settings = parse_sharing_settings(config.sharing, config.path) if config.sharing else None
    audit = AuditLog(audit_log_path(config))
    try:
        audit.record(
            AuditEvent(
                event="search",
                decision="done",
                reason=f"local search returned {len(plates)} reads",
                username=user,
                user_agency=settings.operator_agency if settings else "",
                purpose=purpose,
                data_elements=",".join(sorted(set(plates))),
                record_count=len(plates),
                details={"criteria": dict(criteria)},
            )
        )
    finally:
        audit.close()


class Sharing:
    """The unit's sharing side: gate, outbox, transport, audit log, periodic tasks."""

    def __init__(
        self,
        settings: SharingSettings,
        reads_db: Path | None = None,
        *,
        today: Callable[[], date] = utc_today,
    ) -> None:
        self.settings = settings
        self._today = today
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.audit = AuditLog(settings.data_dir / AUDIT_FILE)
        self.outbox = Outbox(self.audit, settings.data_dir / OUTBOX_FILE)
        self.gate = EgressGate(
            self.audit, self.outbox, settings.unit_id, settings.operator_agency, today=today
        )
        self.transport = Transport(self.gate, self.outbox, settings.unit_id)
        self.reads_db = reads_db
        self.retention = (
            Retention(reads_db, self.gate, settings.retention_days) if reads_db else None
        )
        self._stop = threading.Event()
        self._started_at = time.monotonic()
        self._periodic: threading.Thread | None = None

    def set_query_handler(self, handler: QueryHandler | None) -> None:
        """edge.query's responder: called with each query read on an agency's connection."""
        self.transport.set_query_handler(handler)

    def start(self) -> None:
        """Load the allow-list, connect to the active agencies, hand over reads stored but not
        shared before a crash, start the periodic tasks."""
        # Retention and the other sharing settings are part of the record: a quiet change to
        # them is the kind of drift the audit log must show.
        self.gate.system_event(
            "settings_load",
            DONE,
            f"sharing settings in force: retention {self.settings.retention_days} days",
            details={k: str(v) for k, v in asdict(self.settings).items()},
        )
        self.reload_allowlist()
        if self.reads_db is not None:
            self._catch_up(self.reads_db)
        self._periodic = threading.Thread(
            target=self._run_periodic, name="share-periodic", daemon=True
        )
        self._periodic.start()

    def _catch_up(self, reads_db: Path) -> None:
        last = self.outbox.last_handled()
        if last is None:
            # Sharing switched on for the first time: what was read before is not sent.
            self.gate.send_all([], read_id=newest_read_id(reads_db))
            return
        caught_up = 0
        for read_id, read, hits in reads_after(reads_db, last):
            self.on_read(read_id, read, hits)
            caught_up += 1
        if caught_up:
            log.warning(
                "%d stored reads had not been handed to sharing: handed over now", caught_up
            )

    def reload_allowlist(self, changed_by: str = SYSTEM_USER) -> bool:
        """Load the allow-list file again; an invalid file is refused (audited) and the one in
        force stays. Returns whether the file was applied."""
        try:
            allowlist = load_allowlist(self.settings.agencies_file)
        except ConfigError as exc:
            self.gate.refuse_allowlist(str(self.settings.agencies_file), str(exc))
            return False
        self.apply_allowlist(allowlist, changed_by)
        return True

    def apply_allowlist(self, allowlist: AllowList, changed_by: str = SYSTEM_USER) -> None:
        self.gate.apply_allowlist(allowlist, changed_by)
        self.transport.sync(allowlist.active(self._today()))

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

    def publish_heartbeat(self) -> list[str]:
        """Each agency hears only of its own queue, not of what waits for other agencies."""
        uptime = time.monotonic() - self._started_at
        agencies = [a for a in self.allowlist.active(self._today()) if "heartbeat" in a.receives]
        return self._send(
            [
                (
                    a.id,
                    heartbeat_message(
                        uptime, self.outbox.depth(a.id), self.settings.retention_days
                    ),
                )
                for a in agencies
            ]
        )

    def publish_audit_head(self) -> list[str]:
        head = self.audit.head()
        return self.broadcast(audit_head_message(head.seq, head.row_hash, head.at))

    def _send(self, messages: list[tuple[str, Outgoing]]) -> list[str]:
        return [mid for mid in self.gate.send_all(messages) if mid] if messages else []

    def _run_periodic(self) -> None:
        now = time.monotonic()
        due = {
            "heartbeat": now + self.settings.heartbeat_interval_s,
            "audit_head": now,
            "purge": now,
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
                if self.retention is not None and now >= due["purge"]:
                    self.retention.purge()
                    due["purge"] = now + self.settings.purge_interval_s
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
        if self._periodic is not None:
            self._periodic.join(5)
            self.drain(self.settings.drain_on_exit_s)
        self.transport.close()
        self.audit.close()

    def __enter__(self) -> Sharing:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
