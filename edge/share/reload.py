"""A running unit notices a changed allow-list within seconds and tells every agency.

The allow-list file is watched (watchdog; a poll every few seconds backs it up, and SIGHUP
forces a check). A changed file is loaded by `Sharing.reload_allowlist`: a valid one is put in
force (audited, links to added agencies opened, removed ones closed and their queues dropped);
an invalid or missing one is refused (audited, logged with the reason) and can only narrow:
what it removes or narrows in the list in force stops at once, nothing it adds or widens
applies (edge.config.allowlist.narrow_allowlist). Either way every agency still allow-listed
receives a drift alert (`config_change`): a change it did not expect to sharing settings is
how Ventura County found "National Lookup" switched back on. A change made while the unit was
stopped is reported when it starts again (its last two `config_load` audit rows differ).
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
import threading
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from edge.audit.log import AuditLog
from edge.clock import UTC
from edge.config.allowlist import AllowList
from edge.share.messages import CONFIG_CHANGE, Outgoing
from edge.share.service import Sharing

log = logging.getLogger(__name__)

WATCHER_USER = "allow-list file watcher"
POLL_S = 2.0
MISSING = "missing"  # stands for the digest of a file that cannot be read
SETTLE_S = 0.2  # editors write a file in several steps: read it once they are done


@dataclass(frozen=True)
class Drift:
    """How the allow-list in force differs from the one before it (agency ids)."""

    previous_sha256: str | None
    sha256_in_force: str
    added: list[str]
    removed: list[str]
    changed: list[str]

    @classmethod
    def between(cls, previous: AllowList, current: AllowList) -> Drift:
        before = {a.id: a for a in previous}
        after = {a.id: a for a in current}
        return cls(
            previous_sha256=previous.sha256 or None,
            sha256_in_force=current.sha256,
            added=sorted(after.keys() - before.keys()),
            removed=sorted(before.keys() - after.keys()),
            changed=sorted(k for k in before.keys() & after.keys() if before[k] != after[k]),
        )

    def alert(self, applied: bool, when: str) -> Outgoing:
        """What every agency is told: which allow-list is in force and what changed."""
        body = {"what": "allow-list", "applied": applied, "when": when} | asdict(self)
        body["detected_at"] = datetime.now(UTC).isoformat()
        return Outgoing(
            kind=CONFIG_CHANGE,
            body={"config_change": body},
            purpose="configuration drift alert",
            details={"applied": applied, "when": when},
        )


def drift_since_last_run(audit: AuditLog) -> Drift | None:
    """The allow-list change made while the unit was stopped, from its last two loads."""
    with audit.reading() as conn:
        loads = conn.execute(
            "SELECT allowlist_sha256, details FROM audit WHERE event = 'config_load'"
            " ORDER BY seq DESC LIMIT 2"
        ).fetchall()
    if len(loads) < 2 or loads[0]["allowlist_sha256"] == loads[1]["allowlist_sha256"]:
        return None
    now, before = (set(json.loads(row["details"]).get("active", [])) for row in loads)
    return Drift(
        previous_sha256=loads[1]["allowlist_sha256"],
        sha256_in_force=loads[0]["allowlist_sha256"],
        added=sorted(now - before),
        removed=sorted(before - now),
        changed=[],
    )


class _FileEvents(FileSystemEventHandler):
    def __init__(self, path: Path, changed: threading.Event) -> None:
        self._path = path
        self._changed = changed

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = {event.src_path, getattr(event, "dest_path", "")}
        if any(Path(str(p)).resolve() == self._path for p in paths if p):
            self._changed.set()


class AllowListWatcher:
    """Reloads the allow-list of a started `Sharing` when its file changes."""

    def __init__(self, sharing: Sharing) -> None:
        self._sharing = sharing
        self._path = sharing.settings.agencies_file.resolve()
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._refused_sha256: str | None = None
        self._previous_sighup: Any = None
        self._observer = Observer()
        self._thread = threading.Thread(target=self._run, name="allowlist-watch", daemon=True)

    def start(self) -> None:
        """Call after `Sharing.start()`; first reports a change made while the unit was off."""
        drift = drift_since_last_run(self._sharing.audit)
        if drift is not None:
            log.warning("allow-list changed while the unit was stopped: %s", drift)
            self._sharing.broadcast(drift.alert(applied=True, when="while the unit was stopped"))
        self._observer.schedule(
            _FileEvents(self._path, self._changed), str(self._path.parent), recursive=False
        )
        self._observer.start()
        self._thread.start()
        if threading.current_thread() is threading.main_thread():
            self._previous_sighup = signal.signal(signal.SIGHUP, lambda *_: self._changed.set())

    def stop(self) -> None:
        if self._previous_sighup is not None:
            signal.signal(signal.SIGHUP, self._previous_sighup)
            self._previous_sighup = None
        self._stop.set()
        self._changed.set()
        self._observer.stop()
        self._observer.join(5)
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._changed.wait(POLL_S):
                self._stop.wait(SETTLE_S)
                self._changed.clear()
            if not self._stop.is_set():
                self.check_now()

    def _file_sha256(self) -> str:
        try:
            return hashlib.sha256(self._path.read_bytes()).hexdigest()
        except OSError:
            return MISSING

    def check_now(self) -> bool:
        """Reload if the file differs from the allow-list in force; True if a change applied."""
        digest = self._file_sha256()
        previous = self._sharing.allowlist
        # A list narrowed by a refused file still names the last good file's digest: that file
        # written back must be applied again, whole.
        in_force = previous.sha256 if previous.narrowed_by is None else None
        if digest in (in_force, self._refused_sha256):
            return False
        applied = self._sharing.reload_allowlist(changed_by=WATCHER_USER)
        if applied:
            self._refused_sha256 = None
            log.info("allow-list %s changed: now in force (sha256 %s)", self._path, digest)
        else:
            self._refused_sha256 = digest
            log.error(
                "allow-list %s changed but was refused; it only narrowed the list in force",
                self._path,
            )
        drift = Drift.between(previous, self._sharing.allowlist)
        self._sharing.broadcast(drift.alert(applied, when="while the unit was running"))
        return applied
