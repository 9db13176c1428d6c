"""The query message an agency sends, parsed strictly; anything malformed is refused.

Wire format (UTF-8 JSON, at most MAX_MESSAGE_BYTES), documented in docs/sharing.md:

    {"query": {"version": 1, "request_id": "...", "issued_at": "2026-11-25T15:00:00Z",
               "agency": "oakland-pd", "user": "Sgt. J. Smith #1234", "on_behalf_of": null,
               "case_number": "24-001234", "purpose": "stolen-vehicle",
               "reason": "vehicle taken in carjacking", "plate": "7ABC12?",
               "from": "2026-11-20T00:00:00Z", "to": "2026-11-25T00:00:00Z"},
     "signature": "<base64 Ed25519 over the canonical JSON of `query`>"}

A missing case number or reason is not "malformed": it gets its own reason code, because
auditors count those refusals separately.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from edge.clock import UTC
from edge.plates.text import strip_separators

QUERY_VERSION = 1
MAX_MESSAGE_BYTES = 8192
WILDCARD_ONE = "?"
WILDCARD_ANY = "*"

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
_AGENCY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PLATE_PATTERN = re.compile(r"[A-Z0-9?*]{1,10}")
_TEXT_LIMITS = {"user": 128, "case_number": 64, "purpose": 64, "reason": 1000}
FIELDS = (
    "version",
    "request_id",
    "issued_at",
    "agency",
    "user",
    "on_behalf_of",
    "case_number",
    "purpose",
    "reason",
    "plate",
    "from",
    "to",
)


class RefusalReason(str, Enum):
    """Why a query was refused; the codes appear in answers, audit rows and reports."""

    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    AGENCY_MISMATCH = "agency_mismatch"
    AGENCY_NOT_ALLOWED = "agency_not_allowed"
    ON_BEHALF_OF_NOT_ALLOWED = "on_behalf_of_not_allowed"
    STALE = "stale"
    REPLAYED = "replayed"
    RATE_LIMITED = "rate_limited"
    PROHIBITED_PURPOSE = "prohibited_purpose"
    PURPOSE_NOT_IN_POLICY = "purpose_not_in_policy"
    CASE_NUMBER_MISSING = "case_number_missing"
    REASON_MISSING = "reason_missing"
    OUTSIDE_RETENTION = "outside_retention"
    WILDCARD_TOO_BROAD = "wildcard_too_broad"

    # As `enum.StrEnum` (Python 3.11+) would: the code itself, in messages and JSON.
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class QueryRefused(Exception):
    def __init__(self, reason: RefusalReason, detail: str) -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclass(frozen=True)
class PlatePattern:
    """An exact plate or a partial one: `?` stands for one character, `*` for any run. Only a
    partial plate (one with a wildcard) is held to the policy's breadth rules."""

    text: str

    @property
    def known_characters(self) -> int:
        return sum(ch not in (WILDCARD_ONE, WILDCARD_ANY) for ch in self.text)

    @property
    def wildcards(self) -> int:
        return len(self.text) - self.known_characters

    def as_regex(self) -> re.Pattern[str]:
        parts = {WILDCARD_ONE: ".", WILDCARD_ANY: ".*"}
        return re.compile("".join(parts.get(ch, re.escape(ch)) for ch in self.text))

    def matches(self, plate: str) -> bool:
        return self.as_regex().fullmatch(plate.upper()) is not None


@dataclass(frozen=True)
class Query:
    request_id: str
    issued_at: datetime
    agency: str
    user: str
    on_behalf_of: str | None
    case_number: str
    purpose: str
    reason: str
    plate: PlatePattern
    start: datetime
    end: datetime


@dataclass(frozen=True)
class SignedQuery:
    query: Query
    # The query object exactly as received: the signature covers its canonical form.
    fields: dict[str, Any]
    signature: str | None


def _malformed(detail: str) -> QueryRefused:
    return QueryRefused(RefusalReason.MALFORMED, detail)


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise _malformed("a JSON object repeats a key")
    return dict(pairs)


def decode_message(payload: bytes) -> dict[str, Any]:
    """The outer JSON object of a query message."""
    if len(payload) > MAX_MESSAGE_BYTES:
        raise _malformed(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        message = json.loads(payload.decode("utf-8"), object_pairs_hook=_reject_duplicate_keys)
    except UnicodeDecodeError:
        raise _malformed("not UTF-8") from None
    except (ValueError, RecursionError):
        raise _malformed("not JSON") from None
    if not isinstance(message, dict):
        raise _malformed("message is not a JSON object")
    return message


def _text(fields: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = fields.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str):
        raise _malformed(f"{name} must be a string")
    if len(value) > _TEXT_LIMITS.get(name, 64):
        raise _malformed(f"{name} longer than {_TEXT_LIMITS.get(name, 64)} characters")
    if any(unicodedata.category(ch)[0] == "C" for ch in value):
        raise _malformed(f"{name} contains control or unassigned characters")
    return value.strip()


def _identifier(fields: dict[str, Any], name: str, pattern: re.Pattern[str]) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _malformed(f"{name} must match {pattern.pattern}")
    return value


def _timestamp(fields: dict[str, Any], name: str) -> datetime:
    value = fields.get(name)
    if not isinstance(value, str) or len(value) > 40:
        raise _malformed(f"{name} must be an ISO 8601 time string")
    try:
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is None:
            raise _malformed(f"{name} has no time zone (use Z for UTC)")
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _malformed(f"{name} is not an ISO 8601 time within years 1-9999") from None


def _plate(fields: dict[str, Any]) -> PlatePattern:
    value = fields.get("plate")
    if not isinstance(value, str) or len(value) > 20:
        raise _malformed("plate must be a string of at most 20 characters")
    text = strip_separators(value)
    if not _PLATE_PATTERN.fullmatch(text):
        raise _malformed("plate must be 1-10 letters, digits, ? (one character) or * (any run)")
    return PlatePattern(text)


def parse_query(message: dict[str, Any]) -> SignedQuery:
    """Validate a decoded query message; raises QueryRefused(MALFORMED, ...) naming the field."""
    unknown = set(message) - {"query", "signature"}
    if unknown:
        raise _malformed(f"unknown message fields: {', '.join(sorted(unknown))}")
    fields = message.get("query")
    if not isinstance(fields, dict):
        raise _malformed("query must be a JSON object")
    signature = message.get("signature")
    if signature is not None and not isinstance(signature, str):
        raise _malformed("signature must be a base64 string")
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise _malformed(f"unknown query fields: {', '.join(sorted(unknown))}")
    if type(fields.get("version")) is not int or fields["version"] != QUERY_VERSION:
        raise _malformed(f"version must be {QUERY_VERSION}")
    on_behalf_of = fields.get("on_behalf_of")
    query = Query(
        request_id=_identifier(fields, "request_id", _REQUEST_ID),
        issued_at=_timestamp(fields, "issued_at"),
        agency=_identifier(fields, "agency", _AGENCY_ID),
        user=_text(fields, "user"),
        on_behalf_of=(
            None if on_behalf_of is None else _identifier(fields, "on_behalf_of", _AGENCY_ID)
        ),
        case_number=_text(fields, "case_number", required=False),
        purpose=_text(fields, "purpose"),
        reason=_text(fields, "reason", required=False),
        plate=_plate(fields),
        start=_timestamp(fields, "from"),
        end=_timestamp(fields, "to"),
    )
    if not query.user:
        raise _malformed("user must name the individual asking")
    if not query.purpose:
        raise _malformed("purpose must be a purpose code")
    if query.start > query.end:
        raise _malformed("from is after to")
    return SignedQuery(query, fields, signature)
