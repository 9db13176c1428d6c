"""How long `audit prove` takes and how big a bundle is, for N synthetic audit rows.

Not a test (pytest does not collect it): a figure for the closing note of issue 16.

    PYTHONPATH=. python tests/bench_audit_prove.py 10000 100000

Rows are what a sharing unit writes, through the real AuditLog and the real bundle code: one
settings_load and one config_load (its allow-list version kept), then shared reads and hits
to two agencies, an answered query every 100 rows and a retention purge every 1,000.
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from edge.audit.bundle import build_bundle, keep_allowlist_version, read_bundle_text, write_bundle
from edge.audit.events import Decision, Event
from edge.audit.log import AuditEvent, AuditLog
from edge.audit.prove import load_bundle, prove
from edge.audit.signing import device_key
from edge.clock import UTC

REPO = Path(__file__).resolve().parents[1]
ALLOWLIST = """demo = true
[[agency]]
id = "oakland-pd"
name = "Oakland PD"
ori = "CA0010900"
kind = "city_police"
state = "CA"
purpose = "MOU 14"
broker = "mqtt://127.0.0.1:9"
receives = ["reads", "hits"]
expires = 2099-01-01

[[agency]]
id = "chp"
name = "CHP"
ori = "CA0349400"
kind = "state_agency"
state = "CA"
purpose = "MOU 15"
broker = "mqtt://127.0.0.1:10"
receives = ["hits"]
expires = 2099-01-01
"""


def event(n: int, digest: str, policy_version: str) -> AuditEvent:
    if n % 1000 == 0:
        cutoff = (datetime.now(UTC) - timedelta(days=30)).isoformat()
        return AuditEvent(
            Event.PURGE, Decision.DONE, "retention", "alpr-edge", "CA0019999", "retention policy",
            record_count=3, allowlist_sha256=digest, details={"cutoff": cutoff},
        )  # fmt: skip
    if n % 100 == 0:
        details = {
            "kind": "query_response", "query_decision": "answered", "request_id": f"r{n}",
            "case_number": "24-0012", "reason_text": "carjacking", "policy_version":
            policy_version, "on_behalf_of": None, "query_reason": None,
        }  # fmt: skip
        return AuditEvent(
            Event.SHARE, Decision.ALLOWED, "answered", "Sgt. Smith", "CA0010900",
            "stolen-vehicle", data_elements="7AB?12?", destination="oakland-pd",
            message_id=f"{n:032x}", record_count=1, allowlist_sha256=digest, details=details,
        )  # fmt: skip
    hit = n % 5 == 0
    return AuditEvent(
        Event.SHARE, Decision.ALLOWED, "allow-listed", "agency:oakland-pd", "CA0010900",
        "MOU 14", data_elements=f"7ABC{n % 1000:03d}",
        destination="chp" if hit and n % 2 else "oakland-pd", message_id=f"{n:032x}",
        record_count=1, allowlist_sha256=digest, details={"kind": "hit" if hit else "read"},
    )  # fmt: skip


def run(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        raw = ALLOWLIST.encode()
        digest = hashlib.sha256(raw).hexdigest()
        keep_allowlist_version(data_dir, digest, raw)
        policy = REPO / "config" / "query-policy.toml"
        version = next(
            line.split('"')[1]
            for line in policy.read_text().splitlines()
            if line.startswith("version")
        )
        audit = AuditLog(data_dir / "audit.sqlite")
        start = datetime.now(UTC) - timedelta(minutes=1)
        with audit.transaction() as conn:
            audit.append(conn, AuditEvent(
                Event.SETTINGS_LOAD, Decision.DONE, "settings", "alpr-edge", "CA0019999", "op",
                details={"retention_days": "30"},
            ))  # fmt: skip
            audit.append(conn, AuditEvent(
                Event.CONFIG_LOAD, Decision.DONE, "in force", "alpr-edge", "CA0019999", "op",
                allowlist_sha256=digest,
            ))  # fmt: skip
        for first in range(1, rows - 1, 5000):
            with audit.transaction() as conn:
                for n in range(first, min(first + 5000, rows - 1)):
                    audit.append(conn, event(n, digest, version))
        audit.close()
        key = device_key(data_dir)
        began = time.perf_counter()
        bundle = build_bundle(
            data_dir / "audit.sqlite", data_dir, "unit-1", start,
            datetime.now(UTC) + timedelta(minutes=1), key, policy,
        )  # fmt: skip
        summary = write_bundle(bundle, data_dir / "bundle.json")
        bundled = time.perf_counter() - began
        compressed = write_bundle(bundle, data_dir / "bundle.json.gz").bytes_written
        began = time.perf_counter()
        verdicts = prove(load_bundle(read_bundle_text(data_dir / "bundle.json")))
        proved = time.perf_counter() - began
        assert all(v.ok for v in verdicts), [v.breaches[:3] for v in verdicts]
        return {
            "rows": summary.rows,
            "bundle_bytes": summary.bytes_written,
            "bundle_gz_bytes": compressed,
            "bundle_s": round(bundled, 2),
            "prove_s": round(proved, 2),
        }


if __name__ == "__main__":
    for count in [int(arg) for arg in sys.argv[1:]] or [10_000]:
        print(json.dumps(run(count)))
