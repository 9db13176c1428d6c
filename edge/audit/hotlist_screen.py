"""The Values Act screen on hotlists: immigration-enforcement entries never reach the unit.

The FBI hotlist extracts that plate readers load include NCIC's Immigration Violator File; a
California agency may not use its readers to help immigration enforcement (Gov. Code
7284.6(a)(1)), so an entry whose source or reason is immigration enforcement must not match any
read. The import is screened with the same term list that refuses queries
(`edge.audit.terms`), over every text cell of each row except the plate, the state and the
expiry (a plate such as ICE123 is a plate, not a purpose). A file with any such entry is
refused whole, as an import is all rows or none: nothing is loaded, the refusal names each line
and its terms, and one audit row records it. An accepted import is audited too (a change of
hotlist subscriptions is the kind of drift an auditor looks for).

This lives in the audit layer because the hotlist module is a runtime stage and may not import
audit; `alpr-edge hotlist import` calls `import_screened`.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edge.audit.events import Decision, Event
from edge.audit.log import AuditEvent, AuditLog
from edge.audit.terms import prohibited_terms_in
from edge.errors import InputError
from edge.runtime.hotlist import decode_hotlist, read_hotlist_bytes

# Cells that are not free text about why or from where an entry is listed.
_NOT_SCREENED = {"plate", "state", "region", "expiry"}


@dataclass(frozen=True)
class RefusedEntry:
    line: int
    plate: str
    cells: dict[str, str]  # the screened cells, as written
    terms: list[str]
    category: str


class HotlistRefused(InputError):
    """The hotlist names a prohibited purpose; nothing was imported."""

    def __init__(self, path: Path, refused: list[RefusedEntry]) -> None:
        self.refused = refused
        lines = "; ".join(f"line {r.line} {r.plate}: {', '.join(r.terms)}" for r in refused[:10])
        more = f" (and {len(refused) - 10} more)" if len(refused) > 10 else ""
        super().__init__(
            f"{path}: refused, nothing imported: {len(refused)} entries name "
            f"{refused[0].category}: {lines}{more}. Remove them and import again."
        )


def screen_hotlist(text: str) -> list[RefusedEntry]:
    """The rows of a hotlist CSV's text that name a prohibited purpose. Text that cannot be
    read as CSV yields none here: the import reports why it cannot read it."""
    try:
        with io.StringIO(text, newline="") as handle:
            reader = csv.DictReader(handle)
            reader.fieldnames = [name.strip().lower() for name in reader.fieldnames or []]
            refused = []
            for line, row in enumerate(reader, start=2):
                cells = {
                    k: (v or "").strip()
                    for k, v in row.items()
                    if isinstance(k, str) and k not in _NOT_SCREENED and isinstance(v, str)
                }
                terms = prohibited_terms_in(*cells.values())
                if terms:
                    refused.append(
                        RefusedEntry(
                            line,
                            (row.get("plate") or "").strip(),
                            cells,
                            [t.term for t in terms],
                            terms[0].category,
                        )
                    )
    except csv.Error:
        return []
    return refused


def import_screened(
    path: Path,
    audit_file: Path,
    load: Callable[[Path, str], int],
    *,
    user: str,
    user_agency: str = "",
) -> int:
    """Read `path` once, screen its text, then `load(path, text)` (the runtime's import) if
    nothing is refused; audited either way. Raises HotlistRefused (after its audit row) when an
    entry is refused. The digest, the screen and the import all see the same bytes: a file
    rewritten between screening and loading cannot slip an entry past the screen."""
    data = read_hotlist_bytes(path)
    text = decode_hotlist(path, data)
    refused = screen_hotlist(text)
    digest = hashlib.sha256(data).hexdigest()
    audit = AuditLog(audit_file)
    try:
        if refused:
            audit.record(
                AuditEvent(
                    event=Event.HOTLIST_IMPORT,
                    decision=Decision.REFUSED,
                    reason=f"{len(refused)} entries name {refused[0].category}: nothing imported",
                    username=user,
                    user_agency=user_agency,
                    purpose="load a hotlist",
                    data_elements=",".join(r.plate for r in refused),
                    record_count=len(refused),
                    details={
                        "file": str(path),
                        "sha256": digest,
                        "refused": [
                            {"line": r.line, "plate": r.plate, "terms": r.terms, **r.cells}
                            for r in refused
                        ],
                    },
                )
            )
            raise HotlistRefused(path, refused)
        count = load(path, text)
        audit.record(
            AuditEvent(
                event=Event.HOTLIST_IMPORT,
                decision=Decision.DONE,
                reason=f"{count} hotlist entries imported; none names a prohibited purpose",
                username=user,
                user_agency=user_agency,
                purpose="load a hotlist",
                record_count=count,
                details={"file": str(path), "sha256": digest},
            )
        )
        return count
    finally:
        audit.close()
