"""The monthly transparency report (`alpr-edge audit report`), as data, Markdown or JSON.

What SB 34 usage policies, San Francisco's Chapter 19B annual surveillance report and
vendors' transparency portals publish: which outside agencies have access and on what terms,
how many reads and hotlist hits the unit made, queries answered and refused per agency and
purpose, refusals by reason, the retention in force, prohibited uses, and the audit chain head
so that anyone holding a published head can check the log was not rewritten.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from edge.audit.export import export_rows
from edge.audit.log import verify
from edge.audit.terms import PROHIBITED_TERMS
from edge.clock import UTC
from edge.config.allowlist import AllowList, load_allowlist
from edge.errors import ConfigError, InputError
from edge.runtime.store import DB_NAME, ReadStore

AUDIT_LOG_RETENTION = "at least 2 years (CJIS 5.4.7 sets one year; LASD and Marin keep two)"


def month_bounds(text: str) -> tuple[datetime, datetime]:
    try:
        start = datetime.strptime(text, "%Y-%m").replace(tzinfo=UTC)
    except ValueError:
        raise InputError(f"--month {text!r}: expected YYYY-MM") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else (start.replace(month=start.month + 1))
    )
    return start, end


@dataclass(frozen=True)
class ReportSources:
    audit_log: Path
    allowlist_file: Path
    store_dir: Path | None
    retention_days: int


def _reads_and_hits(store_dir: Path | None, start: datetime, end: datetime) -> dict[str, Any]:
    if store_dir is None or not (store_dir / DB_NAME).is_file():
        return {"reads": None, "hits": None, "note": "no read store on this unit"}
    store = ReadStore(store_dir, readonly=True)
    try:
        reads, hits = store.count_reads(start, end)
    finally:
        store.close()
    return {
        "reads": reads,
        "hits": hits,
        "note": "reads still held; reads past retention were purged (see purges)",
    }


def _agencies(sources: ReportSources, end: datetime) -> tuple[list[dict[str, Any]], str | None]:
    try:
        allowlist: AllowList = load_allowlist(sources.allowlist_file)
    except ConfigError as exc:
        return [], f"allow-list refused, nothing is shared: {exc}"
    last_day = end.date()
    return [
        {
            "id": a.id,
            "name": a.name,
            "ori": a.ori,
            "kind": a.kind,
            "agreement": a.purpose,
            "receives": sorted(a.receives),
            "may_query": a.query_key is not None,
            "expires": a.expires.isoformat(),
            "active_at_month_end": a.is_active(last_day),
        }
        for a in allowlist
    ], None


def build_report(month: str, sources: ReportSources) -> dict[str, Any]:
    """Everything the report says, as plain data (the JSON form)."""
    start, end = month_bounds(month)
    rows = [
        dict(row, details=json.loads(row["details"] or "{}"))
        for row in export_rows(sources.audit_log, start, end)
    ]
    queries = [r for r in rows if "query_decision" in r["details"]]
    per_agency: dict[str, Counter[str]] = {}
    for row in queries:
        counts = per_agency.setdefault(row["details"]["broker_agency"], Counter())
        counts[row["details"]["query_decision"]] += 1
    by_purpose = Counter(
        (r["purpose"] or "(none)", r["details"]["query_decision"]) for r in queries
    )
    refusals = Counter(
        r["details"]["query_reason"] for r in queries if r["details"]["query_reason"]
    )
    shared = Counter(
        (r["destination"], r["details"].get("kind"))
        for r in rows
        if r["event"] == "share"
        and r["decision"] == "allowed"
        and "query_decision" not in r["details"]
    )
    agencies, allowlist_problem = _agencies(sources, end)
    result = verify(sources.audit_log)
    return {
        "month": month,
        "period": {"from": start.isoformat(), "to": end.isoformat()},
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "agencies_with_access": agencies,
        "allowlist_problem": allowlist_problem,
        "allowlist_changes": [
            {"at": r["at"], "by": r["username"], "change": r["reason"]}
            for r in rows
            if r["event"] == "allowlist_change"
        ],
        "allowlists_in_force": [
            {"at": r["at"], "sha256": r["allowlist_sha256"], "active": r["details"].get("active")}
            for r in rows
            if r["event"] == "config_load"
        ],
        "allowlist_refused": sum(r["event"] == "config_refused" for r in rows),
        "activity": _reads_and_hits(sources.store_dir, start, end),
        "shared_messages": [
            {"agency": agency, "kind": kind, "messages": count}
            for (agency, kind), count in sorted(shared.items())
        ],
        "queries": {
            "answered": sum(r["details"]["query_decision"] == "answered" for r in queries),
            "refused": sum(r["details"]["query_decision"] == "refused" for r in queries),
            "per_agency": {
                agency: {"answered": c["answered"], "refused": c["refused"]}
                for agency, c in sorted(per_agency.items())
            },
            "per_purpose": [
                {"purpose": purpose, "decision": decision, "queries": count}
                for (purpose, decision), count in sorted(by_purpose.items())
            ],
            "refusals_by_reason": dict(sorted(refusals.items())),
        },
        "retention": {
            "reads_without_hit_days": sources.retention_days,
            "purges": sum(r["event"] == "purge" for r in rows),
            "reads_purged": sum(r["record_count"] for r in rows if r["event"] == "purge"),
            "audit_log": AUDIT_LOG_RETENTION,
        },
        "prohibited_uses": sorted({t.category for t in PROHIBITED_TERMS}),
        "audit_chain": {
            "rows": result.rows,
            "intact": result.ok,
            "head_seq": result.head.seq,
            "head_sha256": result.head.row_hash,
        },
    }


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    if not rows:
        return ["(none)"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]


def _count(value: int | None) -> str:
    return "n/a" if value is None else str(value)


def to_markdown(report: dict[str, Any]) -> str:
    queries, retention, chain = report["queries"], report["retention"], report["audit_chain"]
    activity = report["activity"]
    lines = [
        f"# ALPR transparency report, {report['month']}",
        "",
        f"Period {report['period']['from']} to {report['period']['to']} (UTC); "
        f"generated {report['generated_at']}.",
        "",
        "## Agencies with access",
        "",
        *([f"**{report['allowlist_problem']}**", ""] if report["allowlist_problem"] else []),
        *_table(
            ("Agency", "ORI", "Kind", "Receives", "May query", "Agreement until", "Terms"),
            [
                (
                    f"{a['name']} ({a['id']})",
                    a["ori"],
                    a["kind"],
                    ", ".join(a["receives"]),
                    "yes" if a["may_query"] else "no",
                    a["expires"] + ("" if a["active_at_month_end"] else " (expired)"),
                    a["agreement"],
                )
                for a in report["agencies_with_access"]
            ],
        ),
        "",
        f"Allow-list changes this month: {len(report['allowlist_changes'])}; "
        f"invalid allow-lists refused: {report['allowlist_refused']}.",
        *(f"- {c['at']}: {c['change']} (by {c['by']})" for c in report["allowlist_changes"]),
        "",
        "Allow-lists put in force this month (unit starts and reloads):",
        *(
            f"- {load['at']}: sha256 {load['sha256']}, active: {', '.join(load['active'] or [])}"
            for load in report["allowlists_in_force"]
        ),
        "",
        "## Reads and hits",
        "",
        f"Reads: {_count(activity['reads'])}; reads that matched a hotlist: "
        f"{_count(activity['hits'])} ({activity['note']}).",
        "",
        *_table(
            ("Agency", "Kind", "Messages"),
            [(s["agency"], s["kind"], s["messages"]) for s in report["shared_messages"]],
        ),
        "",
        "## Queries",
        "",
        f"Answered: {queries['answered']}; refused: {queries['refused']}.",
        "",
        *_table(
            ("Agency", "Answered", "Refused"),
            [(agency, c["answered"], c["refused"]) for agency, c in queries["per_agency"].items()],
        ),
        "",
        *_table(
            ("Purpose", "Decision", "Queries"),
            [(p["purpose"], p["decision"], p["queries"]) for p in queries["per_purpose"]],
        ),
        "",
        "### Refusals by reason",
        "",
        *_table(("Reason", "Queries"), list(queries["refusals_by_reason"].items())),
        "",
        "## Retention in force",
        "",
        f"- Reads with no hotlist hit: {retention['reads_without_hit_days']} days "
        f"({retention['purges']} purges deleted {retention['reads_purged']} reads this month).",
        f"- Audit log: {retention['audit_log']}.",
        "",
        "## Prohibited uses",
        "",
        *(f"- {use}" for use in report["prohibited_uses"]),
        "",
        "## Audit chain",
        "",
        f"{chain['rows']} rows, chain {'intact' if chain['intact'] else 'BROKEN'}; "
        f"head {chain['head_seq']}:{chain['head_sha256']}",
        "",
    ]
    return "\n".join(lines)
