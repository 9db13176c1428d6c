"""The auditor's bundle: one signed file holding everything `audit prove` needs for a period.

An auditor takes away one JSON file and checks it without the unit and its stores: the audit
rows of the period (with the hash that links the first of them to the row before), the text
of every allow-list version any of those rows records as in force (each row stores its
SHA-256; the text is checked against it), the published query policy, the unit's device
public key, and the device key's signature over all of it.

Why a content-addressed folder for allow-list versions: a running unit writes the exact bytes
of each allow-list it puts in force to `<data_dir>/allowlists/<sha256>.toml` before the
`config_load` row records that digest. Audit rows stay small (a load is rare, but its text
would otherwise sit in the chain forever), and a version file cannot be swapped unnoticed:
its name and every row that cites it say what its SHA-256 must be.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.audit.export import export_rows
from edge.audit.log import GENESIS_HASH, connect
from edge.audit.signing import DeviceKey
from edge.clock import UTC

BUNDLE_SCHEMA = "alpr-edge/audit-bundle/1"
ALLOWLIST_VERSIONS = "allowlists"


def keep_allowlist_version(data_dir: Path, sha256: str, raw: bytes) -> Path:
    """Keep the exact text of an allow-list version (content-addressed, written once)."""
    folder = data_dir / ALLOWLIST_VERSIONS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sha256}.toml"
    if not path.exists():
        partial = folder / f".{sha256}.{os.getpid()}.{threading.get_ident()}"
        partial.write_bytes(raw)
        os.replace(partial, path)
    return path


def signed_part(bundle: dict[str, Any]) -> dict[str, Any]:
    """What the bundle's signature covers (as canonical JSON): all but the signature itself."""
    return {k: v for k, v in bundle.items() if k != "signature"}


@dataclass(frozen=True)
class BundleSummary:
    rows: int
    allowlist_versions: int
    missing_versions: tuple[str, ...]
    bytes_written: int


def build_bundle(
    audit_file: Path,
    data_dir: Path,
    unit_id: str,
    start: datetime,
    end: datetime,
    key: DeviceKey,
    policy_file: Path | None = None,
) -> dict[str, Any]:
    """The signed bundle of rows with start <= at < end (see the module docstring)."""
    rows = list(export_rows(audit_file, start, end))
    anchor = rows[0]["prev_hash"] if rows else GENESIS_HASH
    cited = {r["allowlist_sha256"] for r in rows if r["allowlist_sha256"]}
    for row in rows:
        if row["event"] == "config_refused":
            details = json.loads(row["details"])
            cited |= {d for d in (details.get("in_force_sha256"),) if d}
    in_force_at_start = _in_force_before(audit_file, start)
    if in_force_at_start:
        cited.add(in_force_at_start)
    versions: dict[str, str | None] = {}
    for digest in sorted(cited):
        path = data_dir / ALLOWLIST_VERSIONS / f"{digest}.toml"
        versions[digest] = path.read_text(encoding="utf-8") if path.is_file() else None
    policy = None
    if policy_file is not None and policy_file.is_file():
        raw = policy_file.read_bytes()
        policy = {"sha256": hashlib.sha256(raw).hexdigest(), "text": raw.decode("utf-8")}
    bundle: dict[str, Any] = {
        "schema": BUNDLE_SCHEMA,
        "unit": unit_id,
        "from": start.astimezone(UTC).isoformat(),
        "to": end.astimezone(UTC).isoformat(),
        "created_at": datetime.now(UTC).isoformat(),
        "device_key": {"public_key": key.public_text, "key_id": key.key_id},
        "anchor": anchor,
        "in_force_at_start": in_force_at_start,
        "rows": rows,
        "allowlists": versions,
        "policy": policy,
    }
    bundle["signature"] = key.sign(signed_part(bundle))
    return bundle


def write_bundle(bundle: dict[str, Any], output: Path) -> BundleSummary:
    """Write the bundle as one JSON file (replaced atomically); gzip-compressed when the name
    ends in `.gz` (rows compress about tenfold)."""
    partial = output.with_name(f".{output.name}.partial")
    data = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
    partial.write_bytes(gzip.compress(data, mtime=0) if output.suffix == ".gz" else data)
    os.replace(partial, output)
    versions = bundle["allowlists"]
    return BundleSummary(
        rows=len(bundle["rows"]),
        allowlist_versions=sum(1 for text in versions.values() if text is not None),
        missing_versions=tuple(d for d, text in versions.items() if text is None),
        bytes_written=output.stat().st_size,
    )


def read_bundle_text(path: Path) -> str:
    """A bundle's JSON text, gzip-compressed or not (recognised by its first bytes)."""
    raw = path.read_bytes()
    return (gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw).decode("utf-8")


def _in_force_before(audit_file: Path, start: datetime) -> str | None:
    """The allow-list version the last row before the period recorded as in force."""
    conn = connect(audit_file, readonly=True)
    try:
        row = conn.execute(
            "SELECT allowlist_sha256 FROM audit WHERE at < ? AND allowlist_sha256 IS NOT NULL"
            " ORDER BY seq DESC LIMIT 1",
            (start.astimezone(UTC).isoformat(timespec="microseconds"),),
        ).fetchone()
    finally:
        conn.close()
    return row[0] if row else None
