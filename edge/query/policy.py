"""The published query policy (config/query-policy.toml) and the checks every query must pass.

The checks run in a fixed order and the first failure decides the reason code: who is asking
(their broker, their key, their allow-list entry), whether the message is fresh and new, the
agency's hourly budget, whom they ask for, why they ask, and what they ask for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from edge.audit.terms import prohibited_terms_in
from edge.config.allowlist import AllowList
from edge.errors import ConfigError
from edge.query.ledger import QueryLedger
from edge.query.schema import QueryRefused, RefusalReason, SignedQuery
from edge.query.signing import signature_is_valid
from edge.tomlfile import load_toml

# What an answer may ever carry about a read; the policy picks a subset.
READ_FIELDS = (
    "plate",
    "state",
    "region",
    "seen_at",
    "camera_id",
    "confidence",
    "hotlist_hit",
)


@dataclass(frozen=True)
class QueryPolicy:
    """The unit's published query policy (Civ. Code 1798.90.52(b): authorized purposes only)."""

    version: str
    purposes: Mapping[str, str]
    max_queries_per_agency_per_hour: int
    max_request_age: timedelta
    min_known_characters: int
    max_wildcards: int
    max_results: int
    answer_fields: tuple[str, ...]


def _whole_number(data: dict[str, Any], file: Path, key: str, default: int) -> int:
    value = data.get(key, default)
    if type(value) is not int or value < 0:
        raise ConfigError(file, key, "must be a non-negative integer")
    return value


def load_policy(path: str | Path) -> QueryPolicy:
    path = Path(path)
    data = load_toml(path)
    known = {
        "version",
        "purposes",
        "max_queries_per_agency_per_hour",
        "max_request_age_seconds",
        "min_known_characters",
        "max_wildcards",
        "max_results",
        "answer_fields",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(path, unknown[0], f"unknown setting (known: {', '.join(sorted(known))})")
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise ConfigError(path, "version", "must name the published policy version")
    purposes = data.get("purposes")
    if not isinstance(purposes, dict) or not purposes:
        raise ConfigError(path, "purposes", "must list at least one purpose code = description")
    for code, description in purposes.items():
        if not isinstance(description, str) or not description.strip():
            raise ConfigError(path, f"purposes.{code}", "needs a description")
        if prohibited_terms_in(code, description):
            raise ConfigError(path, f"purposes.{code}", "names a prohibited purpose")
    answer_fields = data.get("answer_fields", ["plate", "state", "seen_at", "camera_id"])
    if not isinstance(answer_fields, list) or not all(
        isinstance(name, str) and name in READ_FIELDS for name in answer_fields
    ):
        raise ConfigError(path, "answer_fields", f"must be a list drawn from {list(READ_FIELDS)}")
    return QueryPolicy(
        version=version,
        purposes=dict(purposes),
        max_queries_per_agency_per_hour=_whole_number(
            data, path, "max_queries_per_agency_per_hour", 20
        ),
        max_request_age=timedelta(
            seconds=_whole_number(data, path, "max_request_age_seconds", 300)
        ),
        min_known_characters=_whole_number(data, path, "min_known_characters", 5),
        max_wildcards=_whole_number(data, path, "max_wildcards", 2),
        max_results=_whole_number(data, path, "max_results", 100),
        answer_fields=tuple(answer_fields),
    )


def is_active_agency(allowlist: AllowList, agency_id: str, now: datetime) -> bool:
    """Allow-listed (which proves a California public agency) and its agreement not expired."""
    agency = allowlist.get(agency_id)
    return agency is not None and agency.is_active(now.date())


@dataclass(frozen=True)
class QueryContext:
    """Everything a decision depends on besides the query itself."""

    broker_agency: str  # the agency whose broker the query came over
    allowlist: AllowList
    policy: QueryPolicy
    ledger: QueryLedger
    retention: timedelta
    now: datetime


def _check_identity(signed: SignedQuery, ctx: QueryContext) -> None:
    query = signed.query
    if query.agency != ctx.broker_agency:
        raise QueryRefused(
            RefusalReason.AGENCY_MISMATCH,
            f"query claims agency {query.agency!r} but came over {ctx.broker_agency!r}'s broker",
        )
    if not is_active_agency(ctx.allowlist, query.agency, ctx.now):
        raise QueryRefused(
            RefusalReason.AGENCY_NOT_ALLOWED,
            f"{query.agency!r} is not an active allow-listed agency",
        )
    agency = ctx.allowlist.get(query.agency)
    if agency is None or agency.query_key is None:
        raise QueryRefused(RefusalReason.AGENCY_NOT_ALLOWED, f"{query.agency!r} has no query key")
    if signed.signature is None:
        raise QueryRefused(RefusalReason.UNSIGNED, "the query carries no signature")
    key = Ed25519PublicKey.from_public_bytes(agency.query_key)
    if not signature_is_valid(signed.fields, signed.signature, key):
        raise QueryRefused(
            RefusalReason.BAD_SIGNATURE, f"not signed with {query.agency!r}'s query key"
        )


def _check_fresh_and_within_budget(signed: SignedQuery, ctx: QueryContext) -> None:
    query = signed.query
    age = ctx.now - query.issued_at
    if abs(age) > ctx.policy.max_request_age:
        raise QueryRefused(
            RefusalReason.STALE,
            f"issued {age.total_seconds():.0f} s from now; the policy accepts "
            f"{ctx.policy.max_request_age.total_seconds():.0f} s either way",
        )
    # Counted before recording, so a burst of replays cannot use up the agency's budget.
    used = ctx.ledger.count_last_hour(query.agency, ctx.now)
    if not ctx.ledger.record(query.agency, query.request_id, ctx.now):
        raise QueryRefused(
            RefusalReason.REPLAYED, f"request id {query.request_id!r} was already used"
        )
    if used >= ctx.policy.max_queries_per_agency_per_hour:
        raise QueryRefused(
            RefusalReason.RATE_LIMITED,
            f"{query.agency!r} already sent {used} queries in the last hour "
            f"(limit {ctx.policy.max_queries_per_agency_per_hour})",
        )


def _check_beneficiary_and_purpose(signed: SignedQuery, ctx: QueryContext) -> None:
    query = signed.query
    if query.on_behalf_of is not None and not is_active_agency(
        ctx.allowlist, query.on_behalf_of, ctx.now
    ):
        raise QueryRefused(
            RefusalReason.ON_BEHALF_OF_NOT_ALLOWED,
            f"on_behalf_of {query.on_behalf_of!r} is not an active allow-listed California "
            "public agency",
        )
    terms = prohibited_terms_in(query.purpose, query.reason, query.case_number)
    if terms:
        named = ", ".join(f"{t.term!r} ({t.category})" for t in terms)
        raise QueryRefused(RefusalReason.PROHIBITED_PURPOSE, f"mentions {named}")
    if query.purpose not in ctx.policy.purposes:
        raise QueryRefused(
            RefusalReason.PURPOSE_NOT_IN_POLICY,
            f"purpose {query.purpose!r} is not in policy {ctx.policy.version}",
        )
    if not query.case_number:
        raise QueryRefused(
            RefusalReason.CASE_NUMBER_MISSING, "a case or incident number is required"
        )
    if not query.reason:
        raise QueryRefused(RefusalReason.REASON_MISSING, "a reason narrative is required")


def _check_scope(signed: SignedQuery, ctx: QueryContext) -> None:
    query = signed.query
    oldest = ctx.now - ctx.retention
    if query.start < oldest or query.end > ctx.now + ctx.policy.max_request_age:
        raise QueryRefused(
            RefusalReason.OUTSIDE_RETENTION,
            f"time range must lie between {oldest.isoformat()} and now "
            f"({ctx.retention.days}-day retention)",
        )
    plate, policy = query.plate, ctx.policy
    # An exact plate (no wildcard) names one vehicle whatever its length: "8DG" is a plate,
    # not a search. The breadth rules apply only to partial plates.
    if plate.wildcards and (
        plate.known_characters < policy.min_known_characters
        or plate.wildcards > policy.max_wildcards
    ):
        raise QueryRefused(
            RefusalReason.WILDCARD_TOO_BROAD,
            f"{plate.text!r} has {plate.known_characters} known characters and "
            f"{plate.wildcards} wildcards; the policy needs at least "
            f"{policy.min_known_characters} and allows at most {policy.max_wildcards}",
        )


def check_query(signed: SignedQuery, ctx: QueryContext) -> None:
    """Raise QueryRefused with the first rule the query breaks; return when it may be answered."""
    _check_identity(signed, ctx)
    _check_fresh_and_within_budget(signed, ctx)
    _check_beneficiary_and_purpose(signed, ctx)
    _check_scope(signed, ctx)
