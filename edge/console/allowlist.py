"""The allow-list editor's side of an edit: form fields to an audited allow-list change.

Every rule is the one `alpr-edge agencies check` applies (edge.config.allowlist, reached through
edge.audit.allowlist_edit, which also writes the audit row); this module only turns a web form
into the entry's fields and each refusal back into a message beside the field it names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

from edge.audit.allowlist_edit import AllowListChange, add_entry, change_entry, remove_entry
from edge.config.allowlist import AllowListError
from edge.errors import ConfigError, InputError
from edge.tomlfile import load_toml

# The entry's fields in the order the form shows them, with what the form says about each.
FIELDS: tuple[tuple[str, str], ...] = (
    ("id", "short id: lowercase letters, digits, - and _"),
    ("name", "the agency's name"),
    ("ori", "9-character ORI, starting with CA"),
    ("kind", "California public-agency kind, e.g. city_police"),
    ("state", "must be CA"),
    ("purpose", "the sharing agreement (logged with every message)"),
    ("broker", "mqtts://host:port"),
    ("ca_cert", "CA certificate of the broker (path)"),
    ("client_cert", "this unit's client certificate (path)"),
    ("client_key", "the key of the client certificate (path)"),
    ("receives", "comma-separated: reads, hits, heartbeat"),
    ("expires", "agreement end, YYYY-MM-DD"),
    ("query_key", "optional: the agency's query public key (base64)"),
    ("crl", "optional: the broker CA's revocation list (path)"),
)
_PROBLEM_KEY = re.compile(r"^agency\[(\d+)\](?: '[^']*')?\.(\w+)$")


@dataclasses.dataclass
class Refusal:
    """Why an edit was refused: messages per field of the edited entry, and the others."""

    fields: dict[str, list[str]]
    general: list[str]


def entry_fields(form: Mapping[str, str]) -> dict[str, Any]:
    """The [[agency]] table a form describes; empty optional fields are left out."""
    fields: dict[str, Any] = {}
    for name, _ in FIELDS:
        value = str(form.get(name, "")).strip()
        if not value:
            continue
        if name == "receives":
            fields[name] = [part.strip() for part in value.split(",") if part.strip()]
        elif name == "expires":
            try:
                fields[name] = date.fromisoformat(value)
            except ValueError:
                fields[name] = value  # the rules say what is wrong with it
        else:
            fields[name] = value
    return fields


def form_of(entry: Mapping[str, Any]) -> dict[str, str]:
    """An entry of the file as form values."""
    values = {}
    for name, _ in FIELDS:
        value = entry.get(name)
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        values[name] = "" if value is None else str(value)
    return values


def entries(path: Path) -> list[dict[str, Any]]:
    """The file's [[agency]] tables as written (valid or not), for the editor's forms."""
    try:
        data = load_toml(path)
    except ConfigError:
        return []
    found = data.get("agency", [])
    return [e for e in found if isinstance(e, dict)] if isinstance(found, list) else []


def text_sha256(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def plan(path: Path, action: str, agency_id: str, form: Mapping[str, str]) -> AllowListChange:
    """The change an edit would make, validated; raises AllowListError or InputError.

    A change rewrites the entry in place, validated as one file: the unit never sees the file
    without the agency in between, and the entry keeps its place and its comments.
    """
    if action == "remove":
        return remove_entry(path, agency_id)
    fields = entry_fields(form)
    if action == "add":
        return add_entry(path, fields)
    if action != "change":
        raise InputError(f"unknown allow-list action {action!r}")
    return change_entry(path, agency_id, fields)


def refusal(exc: InputError | ConfigError, edited_index: int) -> Refusal:
    """Each broken rule beside the field of the edited entry it names; the rest above."""
    problems = list(exc.problems) if isinstance(exc, AllowListError) else [exc]
    by_field: dict[str, list[str]] = {}
    general = []
    for problem in problems:
        key = getattr(problem, "key", None) or ""
        match = _PROBLEM_KEY.match(key)
        if match and int(match.group(1)) == edited_index:
            by_field.setdefault(match.group(2), []).append(problem.reason)
        elif isinstance(problem, ConfigError):
            general.append(f"{key or '-'}: {problem.reason}")
        else:
            general.append(str(problem))
    return Refusal(by_field, general)


def edited_index(path: Path, action: str) -> int:
    """Where the edited entry stands in the candidate file: added entries go last."""
    count = len(entries(path))
    return count if action == "add" else count - 1
