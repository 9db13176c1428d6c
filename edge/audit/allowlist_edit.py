"""Operator edits of config/agencies.toml: audited first, layout kept, bad entries refused.

tomlkit keeps every comment and blank line. In TOML a comment block written just above an
`[[agency]]` header belongs, for the parser, to the end of the entry before it; removing an entry
therefore also removes the comment block directly above it and keeps the one that introduces
the next entry. Every candidate file is validated by edge.config.allowlist (the one copy of the
rules) before it replaces the old one, and each change is audited first: no audit row, no change.
"""

from __future__ import annotations

import difflib
import getpass
import hashlib
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.items import AoT, Comment, Table, Whitespace
from tomlkit.toml_document import TOMLDocument

from edge.audit.events import Decision, Event
from edge.audit.log import AuditEvent, AuditLog
from edge.config.allowlist import AllowList, parse_allowlist
from edge.errors import InputError

_NEW_FILE_HEADER = (
    "# Agencies this unit may share with: California public agencies only\n"
    "# (Civ. Code 1798.90.55(b)). Edit with `alpr-edge agencies add|remove`; see\n"
    "# `alpr-edge agencies check` for the rules.\n"
)


@dataclass(frozen=True)
class AllowListChange:
    action: str  # add, change or remove
    agency_id: str
    old_text: str
    new_text: str
    allowlist: AllowList

    @property
    def diff(self) -> str:
        return "".join(
            difflib.unified_diff(
                self.old_text.splitlines(keepends=True),
                self.new_text.splitlines(keepends=True),
                "agencies.toml (before)",
                "agencies.toml (after)",
            )
        )


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _NEW_FILE_HEADER
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None


def _validate_text(path: Path, text: str) -> AllowList:
    """Validate a candidate file as if it were at `path` (relative certificate paths)."""
    try:
        document = tomlkit.parse(text)
    except tomlkit.exceptions.ParseError as exc:
        raise InputError(f"{path}: invalid TOML: {exc}") from None
    return parse_allowlist(document.unwrap(), path, hashlib.sha256(text.encode()).hexdigest())


def _entries(document: TOMLDocument) -> AoT | None:
    entries = document.get("agency")
    return entries if isinstance(entries, AoT) else None


def _index_of(document: TOMLDocument, agency_id: str) -> int:
    entries = _entries(document)
    for index, table in enumerate(entries.body if entries else ()):
        if table.get("id") == agency_id:
            return index
    raise InputError(f"no agency with id {agency_id!r} in the allow-list")


def add_entry(path: Path, fields: Mapping[str, Any]) -> AllowListChange:
    """The file with one more [[agency]] entry; refused when the rules refuse the result."""
    old_text = _read_text(path)
    document = tomlkit.parse(old_text)
    agency_id = str(fields.get("id", ""))
    if any(t.get("id") == agency_id for t in (_entries(document) or ())):
        raise InputError(f"agency {agency_id!r} is already in the allow-list")
    table = tomlkit.table()
    for key, value in fields.items():
        table.add(key, value)
    entries = _entries(document)
    if entries is None:
        document.add(tomlkit.nl())
        document.append("agency", tomlkit.aot())
        entries = _entries(document)
    else:
        last = entries.body[-1].value.body
        if not (last and isinstance(last[-1][1], Whitespace)):
            entries.body[-1].value.append(None, tomlkit.nl())
    entries.append(table)
    return _change("add", agency_id, path, old_text, tomlkit.dumps(document))


def _trailing_trivia_start(body: list[tuple[Any, Any]], end: int) -> int:
    """Where the run of comments and blank lines that ends at body[end - 1] starts."""
    start = end
    while (
        start > 0
        and body[start - 1][0] is None
        and isinstance(body[start - 1][1], (Comment, Whitespace))
    ):
        start -= 1
    return start


def _attached_comments_start(body: list[tuple[Any, Any]], end: int) -> int:
    """Where the comment block directly above body[end] (no blank line between) starts."""
    start = end
    while start > 0 and body[start - 1][0] is None and isinstance(body[start - 1][1], Comment):
        start -= 1
    return start


def _leading_blank_lines(body: list[tuple[Any, Any]]) -> int:
    count = 0
    while count < len(body) and isinstance(body[count][1], Whitespace):
        count += 1
    return count


def remove_entry(path: Path, agency_id: str) -> AllowListChange:
    """The file without the entry, its comment block, and nothing else."""
    old_text = _read_text(path)
    document = tomlkit.parse(old_text)
    index = _index_of(document, agency_id)
    entries = _entries(document)
    assert entries is not None
    tables: list[Table] = entries.body
    removed = tables[index].value.body
    # What ends the removed entry's body introduces the next entry (or ends the file): keep it.
    kept = removed[_trailing_trivia_start(removed, len(removed)) :]
    if index > 0:
        above: Container = tables[index - 1].value
        owner, end = above.body, len(above.body)
    else:
        owner = document.body
        end = next(i for i, (key, _) in enumerate(owner) if key is not None and key == "agency")
    start = _attached_comments_start(owner, end)
    if start > 0 and isinstance(owner[start - 1][1], Whitespace):
        # One blank line already separates what is above from what follows: keep just that one.
        kept = kept[_leading_blank_lines(kept) :]
    owner[start:end] = kept
    del tables[index]
    if not tables:
        document.remove("agency")
    # Re-parse so tomlkit's key index matches the edited bodies.
    new_text = tomlkit.dumps(document)
    return _change("remove", agency_id, path, old_text, tomlkit.dumps(tomlkit.parse(new_text)))


def change_entry(path: Path, agency_id: str, fields: Mapping[str, Any]) -> AllowListChange:
    """The file with one entry's fields replaced in place: the entry keeps its place among the
    others and the comments written beside its keys; keys the new fields lack are dropped, new
    ones go after the last key (before the comments that introduce the next entry)."""
    old_text = _read_text(path)
    document = tomlkit.parse(old_text)
    index = _index_of(document, agency_id)
    new_id = str(fields.get("id", agency_id))
    if new_id != agency_id and any(t.get("id") == new_id for t in (_entries(document) or ())):
        raise InputError(f"agency {new_id!r} is already in the allow-list")
    entries = _entries(document)
    assert entries is not None
    table: Table = entries.body[index]
    for key in [k for k in table if k not in fields]:
        del table[key]
    for key, value in fields.items():
        if key in table:
            table[key] = value
        else:
            body = table.value.body
            # A private tomlkit call, but the only way to put a key before the trailing
            # comment block; the text is re-parsed below, so no index goes stale.
            table.value._insert_at(_trailing_trivia_start(body, len(body)), key, value)
    new_text = tomlkit.dumps(tomlkit.parse(tomlkit.dumps(document)))
    return _change("change", agency_id, path, old_text, new_text)


def _change(action: str, agency_id: str, path: Path, old: str, new: str) -> AllowListChange:
    return AllowListChange(action, agency_id, old, new, _validate_text(path, new))


def apply_change(path: Path, change: AllowListChange, audit: AuditLog, who: str) -> None:
    """Audit the change, then replace the file atomically (a crash leaves old or new)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        if path.exists():
            os.chmod(temp_name, path.stat().st_mode & 0o777)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(change.new_text)
            out.flush()
            os.fsync(out.fileno())
        audit.record(
            AuditEvent(
                event=Event.ALLOWLIST_CHANGE,
                decision=Decision.DONE,
                reason=f"{change.action} agency {change.agency_id}",
                username=who,
                user_agency="operator",
                purpose="allow-list maintenance",
                destination=change.agency_id,
                allowlist_sha256=change.allowlist.sha256,
                details={"file": str(path), "diff": change.diff},
            )
        )
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def operator_name() -> str:
    """Who is making the change: the login name, as the audit row's user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"
