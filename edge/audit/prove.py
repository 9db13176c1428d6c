"""`alpr-edge audit prove`: check an audit bundle without the unit, its stores or its network.

Each rule gives one verdict (PASS or BREACH, with what it checked and every breach found):

1. the bundle is signed by the unit's device key (the one pinned, when given);
2. the chain is intact (each row hashes to its `row_hash` and links to the one before) and
   holds every signed chain head an agency supplies that falls in the period;
3. every message sent (an allowed `share` row) went to an agency that the allow-list version
   in force at that moment lists as a California public agency, under an agreement not yet
   expired, for a kind it receives (narrowing by a refused edit included);
4. every query answered fits the published policy, and every refusal names its reason;
5. retention purges ran with cutoffs that keep to the retention setting in force.

It reads only the bundle (edge.audit.bundle) and uses the same rules the unit applies:
edge.config.allowlist for what a California public agency is, edge.audit.terms for prohibited
purposes. Kept free of edge.share and edge.query (they sit above the audit layer): the few
constants it needs from them are restated here, and tests check they agree.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from edge.audit.bundle import BUNDLE_SCHEMA, signed_part
from edge.audit.log import row_hash
from edge.audit.signing import head_signature_is_valid, public_key_from_text, signature_is_valid
from edge.audit.terms import prohibited_terms_in
from edge.config.allowlist import CALIFORNIA, PUBLIC_AGENCY_KINDS, federal_domain_of
from edge.errors import InputError
from edge.tomlfile import tomllib

# What each message kind needs in the agency's `receives` (edge.share.messages.REQUIRED_OPTION).
REQUIRED_OPTION: dict[str, str | None] = {
    "read": "reads",
    "hit": "hits",
    "heartbeat": "heartbeat",
    "audit_head": None,
    "config_change": None,
    "query_response": None,
}
QUERY_RESPONSE = "query_response"
ANSWERED = "answered"
WILDCARDS = "?*"
MAX_SHOWN = 20  # breaches printed per rule; all are counted


@dataclass
class Verdict:
    rule: str
    checked: int = 0
    breaches: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaches

    def breach(self, text: str) -> None:
        self.breaches.append(text)


@dataclass(frozen=True)
class Head:
    seq: int
    row_hash: str
    signature: str


def parse_head(text: str) -> Head:
    """SEQ:HASH:SIGNATURE as kept by an agency from a signed `audit_head` message."""
    seq, _, rest = text.partition(":")
    digest, _, signature = rest.partition(":")
    if not seq.isdigit() or len(digest) != 64 or not signature:
        raise InputError(f"--head must be SEQ:SHA256:SIGNATURE, got {text!r}")
    return Head(int(seq), digest.lower(), signature)


def load_bundle(text: str) -> dict[str, Any]:
    try:
        bundle = json.loads(text)
    except ValueError as exc:
        raise InputError(f"not an audit bundle (invalid JSON: {exc})") from None
    if not isinstance(bundle, dict) or bundle.get("schema") != BUNDLE_SCHEMA:
        raise InputError(f"not an audit bundle (schema is not {BUNDLE_SCHEMA})")
    return bundle


def prove(
    bundle: dict[str, Any], heads: Iterable[Head] = (), pinned_key: str | None = None
) -> list[Verdict]:
    """One verdict per rule (see the module docstring)."""
    rows: list[dict[str, Any]] = bundle["rows"]
    versions = _Versions(bundle.get("allowlists", {}))
    return [
        _signature(bundle, pinned_key),
        _chain(bundle, rows, list(heads), pinned_key),
        _sharing(bundle, rows, versions),
        _queries(bundle, rows, versions),
        _retention(rows),
    ]


def _signature(bundle: dict[str, Any], pinned_key: str | None) -> Verdict:
    verdict = Verdict("the bundle is signed by the unit's device key")
    verdict.checked = 1
    key_text = bundle["device_key"]["public_key"]
    if pinned_key is not None and pinned_key.strip() != key_text:
        verdict.breach("the bundle's device key is not the pinned key: it is not this unit's")
    try:
        key = public_key_from_text(key_text)
    except InputError as exc:
        verdict.breach(f"device key unreadable: {exc}")
        return verdict
    if not signature_is_valid(signed_part(bundle), bundle.get("signature", ""), key):
        verdict.breach("the signature does not match the content: the bundle was changed")
    if pinned_key is None:
        verdict.notes.append(
            "no --key given: checked against the key the bundle names; pin the unit's key"
        )
    return verdict


def _chain(
    bundle: dict[str, Any], rows: list[dict[str, Any]], heads: list[Head], pinned: str | None
) -> Verdict:
    verdict = Verdict("the audit chain is intact and holds every signed head")
    previous_hash = bundle["anchor"]
    previous_seq = rows[0]["seq"] - 1 if rows else 0
    by_seq: dict[int, str] = {}
    for row in rows:
        verdict.checked += 1
        seq = row["seq"]
        if seq != previous_seq + 1:
            verdict.breach(f"row {seq} follows row {previous_seq}: rows missing or moved")
        elif row["prev_hash"] != previous_hash:
            verdict.breach(f"row {seq} does not link to row {previous_seq}")
        elif row_hash(row) != row["row_hash"]:
            verdict.breach(f"row {seq}: its content does not match its hash (edited)")
        by_seq[seq] = row["row_hash"]
        previous_hash, previous_seq = row["row_hash"], seq
    key = pinned.strip() if pinned else bundle["device_key"]["public_key"]
    for head in heads:
        verdict.checked += 1
        if not head_signature_is_valid(
            bundle["unit"], head.seq, head.row_hash, head.signature, key
        ):
            verdict.breach(f"head {head.seq}: not signed by the unit's device key")
        elif head.seq not in by_seq:
            verdict.notes.append(f"head {head.seq} is outside the bundle's rows: not compared")
        elif by_seq[head.seq] != head.row_hash:
            verdict.breach(
                f"head {head.seq}: the unit published {head.row_hash[:16]}..., the bundle holds "
                f"{by_seq[head.seq][:16]}...: the log was rewritten"
            )
    return verdict


class _Versions:
    """The allow-list versions in the bundle, each checked against its digest and parsed."""

    def __init__(self, texts: dict[str, str | None]) -> None:
        self._texts = texts
        self._parsed: dict[str, dict[str, dict[str, Any]] | str] = {}

    def agencies(self, digest: str) -> dict[str, dict[str, Any]] | str:
        """id -> entry, or why the version cannot be used."""
        if digest not in self._parsed:
            self._parsed[digest] = self._parse(digest)
        return self._parsed[digest]

    def _parse(self, digest: str) -> dict[str, dict[str, Any]] | str:
        text = self._texts.get(digest)
        if text is None:
            return f"allow-list version {digest[:16]}... is not in the bundle"
        if hashlib.sha256(text.encode("utf-8")).hexdigest() != digest:
            return f"allow-list version {digest[:16]}...: its text does not match its SHA-256"
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            return f"allow-list version {digest[:16]}... is not TOML: {exc}"
        entries = data.get("agency", [])
        return {e["id"]: e for e in entries if isinstance(e, dict) and isinstance(e.get("id"), str)}


def _california_agency_problem(entry: dict[str, Any], on: date) -> str | None:
    if entry.get("kind") not in PUBLIC_AGENCY_KINDS:
        return f"kind {entry.get('kind')!r} is not a California public-agency kind"
    if str(entry.get("state", "")).upper() != CALIFORNIA:
        return f"state {entry.get('state')!r} is not California"
    if not str(entry.get("ori", "")).startswith(CALIFORNIA):
        return f"ORI {entry.get('ori')!r} is not a California ORI"
    host = str(entry.get("broker", "")).split("://", 1)[-1].split(":", 1)[0].split("/", 1)[0]
    if federal_domain_of(host):
        return f"broker {host} is under a federal domain"
    expires = entry.get("expires")
    if not isinstance(expires, date) or on >= expires:
        return f"the agreement ended on {expires}"
    return None


def _sharing(bundle: dict[str, Any], rows: list[dict[str, Any]], versions: _Versions) -> Verdict:
    verdict = Verdict(
        "every message went to a California public agency listed then, for a kind it receives"
    )
    in_force: str | None = bundle.get("in_force_at_start")
    narrowed: dict[str, set[str]] | None = None  # id -> receives, after a refused edit
    for row in rows:
        details = json.loads(row["details"] or "{}")
        if row["event"] == "config_load":
            in_force, narrowed = row["allowlist_sha256"], None
            continue
        if row["event"] == "config_refused" and "active" in details:
            in_force = details.get("in_force_sha256") or in_force
            receives = details.get("receives", {})
            narrowed = {a: set(receives.get(a, [])) for a in details["active"]}
            continue
        if row["event"] != "share" or row["decision"] != "allowed":
            continue
        verdict.checked += 1
        where = f"row {row['seq']} ({details.get('kind')} to {row['destination']})"
        digest = row["allowlist_sha256"]
        if in_force is not None and digest != in_force:
            verdict.breach(f"{where}: recorded allow-list {digest} but {in_force} was in force")
            continue
        agencies = versions.agencies(digest or "")
        if isinstance(agencies, str):
            verdict.breach(f"{where}: cannot be checked: {agencies}")
            continue
        entry = agencies.get(row["destination"])
        if entry is None:
            verdict.breach(f"{where}: the allow-list in force does not list that agency")
            continue
        problem = _california_agency_problem(entry, datetime.fromisoformat(row["at"]).date())
        if problem:
            verdict.breach(f"{where}: {problem}")
            continue
        option = REQUIRED_OPTION.get(details.get("kind", ""), "unknown kind")
        receives = set(entry.get("receives", []))
        if narrowed is not None:
            if row["destination"] not in narrowed:
                verdict.breach(f"{where}: a refused edit had removed that agency")
                continue
            receives &= narrowed[row["destination"]]
        if option is not None and option not in receives:
            verdict.breach(f"{where}: the agency does not receive {option}")
    return verdict


def _plate_problem(plate: str, policy: dict[str, Any]) -> str | None:
    wildcards = sum(ch in WILDCARDS for ch in plate)
    if not wildcards:
        return None  # an exact plate of any length is not a search
    known = len(plate) - wildcards
    if known < policy.get("min_known_characters", 5) or wildcards > policy.get("max_wildcards", 2):
        return f"plate {plate!r} is broader than the policy allows"
    return None


def _queries(bundle: dict[str, Any], rows: list[dict[str, Any]], versions: _Versions) -> Verdict:
    verdict = Verdict("every query answered fits the policy; every refusal names its reason")
    policy_doc = bundle.get("policy")
    policy: dict[str, Any] = tomllib.loads(policy_doc["text"]) if policy_doc else {}
    for row in rows:
        details = json.loads(row["details"] or "{}")
        is_query = row["event"] == "query" or (
            row["event"] == "share" and details.get("kind") == QUERY_RESPONSE
        )
        if not is_query:
            continue
        verdict.checked += 1
        where = f"row {row['seq']} (query {details.get('request_id')})"
        if details.get("query_decision") != ANSWERED:
            if not details.get("query_reason") or not row["reason"]:
                verdict.breach(f"{where}: refused without a reason code")
            continue
        if not policy:
            verdict.breach(f"{where}: answered, but the bundle holds no published policy")
            continue
        if details.get("policy_version") != policy.get("version"):
            verdict.breach(
                f"{where}: answered under policy {details.get('policy_version')!r}, the bundle "
                f"holds {policy.get('version')!r}: cannot be checked"
            )
            continue
        texts = (row["purpose"], details.get("reason_text") or "", details.get("case_number") or "")
        problems = []
        if row["purpose"] not in policy.get("purposes", {}):
            problems.append(f"purpose {row['purpose']!r} is not in the policy")
        terms = prohibited_terms_in(*texts)
        if terms:
            problems.append(f"names a prohibited purpose ({', '.join(t.term for t in terms)})")
        if not str(details.get("case_number") or "").strip():
            problems.append("no case number")
        if not str(details.get("reason_text") or "").strip():
            problems.append("no reason")
        plate = _plate_problem(row["data_elements"], policy)
        if plate:
            problems.append(plate)
        if row["record_count"] > policy.get("max_results", 100):
            problems.append(f"{row['record_count']} results, over max_results")
        beneficiary = details.get("on_behalf_of")
        if beneficiary:
            agencies = versions.agencies(row["allowlist_sha256"] or "")
            entry = agencies.get(beneficiary) if isinstance(agencies, dict) else None
            at = datetime.fromisoformat(row["at"]).date()
            if entry is None or _california_agency_problem(entry, at):
                problems.append(f"on behalf of {beneficiary!r}, not a listed California agency")
        for problem in problems:
            verdict.breach(f"{where}: answered, but {problem}")
    return verdict


def _retention(rows: list[dict[str, Any]]) -> Verdict:
    verdict = Verdict("retention purges ran, keeping to the retention setting in force")
    retention_days: int | None = None
    first_read: datetime | None = None
    purged_after_first: bool = False
    for row in rows:
        at = datetime.fromisoformat(row["at"])
        details = json.loads(row["details"] or "{}")
        if row["event"] == "settings_load" and "retention_days" in details:
            retention_days = int(details["retention_days"])
            verdict.checked += 1
            if not 1 <= retention_days <= 60:
                verdict.breach(f"row {row['seq']}: retention set to {retention_days} days")
        elif row["event"] == "share" and details.get("kind") == "read" and first_read is None:
            first_read = at
        elif row["event"] == "purge" and row["decision"] == "done":
            verdict.checked += 1
            cutoff = datetime.fromisoformat(details["cutoff"])
            if retention_days is not None and at - cutoff > timedelta(days=retention_days, hours=1):
                verdict.breach(
                    f"row {row['seq']}: purged only reads older than {cutoff.isoformat()}, "
                    f"more than {retention_days} days before the purge"
                )
            if first_read is not None and retention_days is not None:
                purged_after_first |= at >= first_read + timedelta(days=retention_days)
    if rows and first_read is not None and retention_days is not None:
        due = first_read + timedelta(days=retention_days, hours=1)
        if datetime.fromisoformat(rows[-1]["at"]) > due + timedelta(days=1) and not (
            purged_after_first
        ):
            verdict.breach(
                f"reads were shared from {first_read.isoformat()}, but no purge ran in the "
                f"{retention_days} days after they were due"
            )
    verdict.notes.append(
        "a purge that finds nothing to delete writes no row: quiet periods prove nothing either way"
    )
    return verdict
