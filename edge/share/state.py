"""What the running unit shares, told by the unit itself: a state file in the sharing data_dir.

`alpr-edge sharing status` used to re-read the allow-list file and report what a unit starting
now would do, which is not what a running unit does after it refused an edit (it keeps the
narrowed list in force). So the unit writes the list it has in force, and whether it refused
the file on disk, to `sharing-state.json` each time that changes and when it stops; the file is
replaced atomically (written beside it, then renamed), so a reader sees the old state or the
new one, never half of one. Why a file and not the audit log's latest config rows: a reader
needs no SQLite access to the audit log (no audit row for reading it), and the file also says
whether the unit is running (its pid, and `running = false` written at a clean stop).

`read_sharing_state(data_dir)` is the one reader (for `sharing status` and the unit's health).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from edge.clock import UTC
from edge.config.allowlist import AllowList

STATE_FILE = "sharing-state.json"
SCHEMA = "alpr-edge/sharing-state/1"


@dataclass(frozen=True)
class AgencyInForce:
    """One agency the running unit shares with, as the unit has it in force."""

    id: str
    receives: tuple[str, ...]
    expires: str
    broker: str
    since: str  # when the unit put this agency, with these receives, in force (ISO 8601 UTC)

    def is_active(self, today: date) -> bool:
        return today < date.fromisoformat(self.expires)


@dataclass(frozen=True)
class SharingState:
    """The running unit's own account of its sharing (see the module docstring)."""

    unit_id: str
    pid: int
    running: bool  # False once the unit stopped cleanly; see `alive` for a killed one
    written_at: str
    source: str
    sha256: str  # the allow-list file version in force (its contents' SHA-256), "" when none
    narrowed_by: str | None  # SHA-256 of the refused file that narrowed it, if one did
    since: str  # when this list was put in force
    agencies: tuple[AgencyInForce, ...]
    file_sha256: str  # the file on disk when the unit last read it ("missing" when absent)
    file_refused: bool
    refusal: str | None

    @property
    def alive(self) -> bool:
        """The unit says it runs and its process exists (a SIGKILLed unit writes nothing)."""
        if not self.running:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def write_sharing_state(
    data_dir: Path,
    *,
    unit_id: str,
    allowlist: AllowList,
    since: str,
    agency_since: dict[str, str],
    file_sha256: str,
    refusal: str | None,
    running: bool = True,
) -> Path:
    """Replace the state file atomically; returns its path."""
    state = {
        "schema": SCHEMA,
        "unit_id": unit_id,
        "pid": os.getpid(),
        "running": running,
        "written_at": datetime.now(UTC).isoformat(),
        "source": allowlist.source,
        "sha256": allowlist.sha256,
        "narrowed_by": allowlist.narrowed_by,
        "since": since,
        "agencies": [
            {
                "id": a.id,
                "receives": sorted(a.receives),
                "expires": a.expires.isoformat(),
                "broker": a.broker.url,
                "since": agency_since.get(a.id, since),
            }
            for a in allowlist
        ],
        "file_sha256": file_sha256,
        "file_refused": refusal is not None,
        "refusal": refusal,
    }
    path = data_dir / STATE_FILE
    # One partial file per writer thread: the watcher and a stopping unit may write at once.
    partial = path.with_name(f".{STATE_FILE}.{os.getpid()}.{threading.get_ident()}")
    with partial.open("w", encoding="utf-8") as out:
        json.dump(state, out, indent=2)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
    return path


def read_sharing_state(data_dir: Path) -> SharingState | None:
    """The state the unit last wrote in `data_dir`, or None when it never wrote one (or the
    file is not one of ours)."""
    try:
        data: dict[str, Any] = json.loads((data_dir / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    return SharingState(
        unit_id=data["unit_id"],
        pid=int(data["pid"]),
        running=bool(data["running"]),
        written_at=data["written_at"],
        source=data["source"],
        sha256=data["sha256"],
        narrowed_by=data.get("narrowed_by"),
        since=data["since"],
        agencies=tuple(
            AgencyInForce(
                id=a["id"],
                receives=tuple(a["receives"]),
                expires=a["expires"],
                broker=a["broker"],
                since=a["since"],
            )
            for a in data["agencies"]
        ),
        file_sha256=data["file_sha256"],
        file_refused=bool(data["file_refused"]),
        refusal=data.get("refusal"),
    )
