"""Recording accesses to the unit's data: local searches of the reads, and reads of the audit
log itself.

Civil Code 1798.90.52 asks for a record of every access to ALPR data, with the date and time,
the data queried, the user and the purpose; CJIS 5.4.1.1 makes reading the audit log an audited
event too. The row is written before anything is shown: a failed audit write shows nothing.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping, Sequence
from pathlib import Path

from edge.audit.events import Decision, Event
from edge.audit.log import AuditEvent, AuditLog


def record_search(
    audit_file: Path,
    *,
    user: str,
    user_agency: str,
    purpose: str,
    criteria: Mapping[str, object],
    plates: Sequence[str],
) -> None:
    """Audit one search of the stored reads on the unit itself (`alpr-edge reads ...`)."""
    _record(
        audit_file,
        AuditEvent(
            event=Event.SEARCH,
            decision=Decision.DONE,
            reason=f"local search returned {len(plates)} reads",
            username=user,
            user_agency=user_agency,
            purpose=purpose,
            data_elements=",".join(sorted(set(plates))),
            record_count=len(plates),
            details={"criteria": dict(criteria)},
        ),
    )


# The purpose recorded when someone reads the audit log itself (CLI or console).
AUDIT_PURPOSE = "audit of the ALPR unit"


def record_audit_access(audit_file: Path, event: Event, reason: str, **details: object) -> None:
    """Audit a command that read the audit log (verify, export, report)."""
    _record(
        audit_file,
        AuditEvent(
            event=event,
            decision=Decision.DONE,
            reason=reason,
            username=getpass.getuser(),
            user_agency="",
            purpose=AUDIT_PURPOSE,
            details=details,
        ),
    )


def _record(audit_file: Path, event: AuditEvent) -> None:
    audit = AuditLog(audit_file)
    try:
        audit.record(event)
    finally:
        audit.close()
