"""Answers agency queries: decide, log one audit row, reply on the asking agency's broker only.

The transport hands every message that arrives on an agency's query topic to
`QueryResponder.handle`, naming the agency whose (allow-listed) broker it came over. A broker
that is not allow-listed is never connected, so its queries are never read.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from edge.audit.events import Decision, Event
from edge.audit.log import AuditEvent
from edge.clock import UTC
from edge.config.allowlist import AllowList
from edge.query.ledger import QueryLedger
from edge.query.policy import QueryContext, QueryPolicy, check_query
from edge.query.schema import (
    PlatePattern,
    QueryRefused,
    SignedQuery,
    decode_message,
    parse_query,
)
from edge.share.gate import EgressGate
from edge.share.messages import QUERY_RESPONSE, Outgoing

log = logging.getLogger(__name__)

ANSWERED = "answered"


class ReadSource(Protocol):
    def find_reads(
        self, plate: PlatePattern, start: datetime, end: datetime, limit: int, hits_only: bool
    ) -> list[dict[str, Any]]:
        """Reads whose plate matches, seen in [start, end], oldest first, at most `limit`;
        with `hits_only`, only reads that matched a hotlist."""
        ...


@dataclass(frozen=True)
class QueryDecision:
    """One query and what the unit did with it: the content of its audit row and its reply."""

    received_at: datetime
    broker_agency: str
    decision: str
    reason_code: str | None
    detail: str
    policy_version: str
    # What the query said, as far as it could be read (a malformed one may lack anything).
    request_id: str | None = None
    agency: str | None = None
    user: str | None = None
    on_behalf_of: str | None = None
    case_number: str | None = None
    purpose: str | None = None
    reason: str | None = None
    plate: str | None = None
    start: str | None = None
    end: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False

    def _audit_fields(self) -> dict[str, Any]:
        """The Civ. Code 1798.90.52(a) fields (who, for whom, why, which plate) and the
        decision, for the query's one audit row."""
        return {
            "username": self.user or "(unknown)",
            "user_agency": self.agency or self.broker_agency,
            "purpose": self.purpose or "",
            "data_elements": self.plate or "",
            "record_count": len(self.results),
            "details": {
                "query_decision": self.decision,
                "received_at": self.received_at.isoformat(),
                "query_reason": self.reason_code,
                "request_id": self.request_id,
                "on_behalf_of": self.on_behalf_of,
                "case_number": self.case_number,
                "reason_text": self.reason,
                "from": self.start,
                "to": self.end,
                "detail": self.detail,
                "policy_version": self.policy_version,
                "broker_agency": self.broker_agency,
                "truncated": self.truncated,
            },
        }

    def outgoing(self, reply_topic: str, correlation_data: bytes | None) -> Outgoing:
        """The reply, for the gate; the gate's audit row for it is this query's row."""
        return Outgoing(
            kind=QUERY_RESPONSE,
            body=self.reply(),
            reply_topic=reply_topic,
            correlation_data=correlation_data,
            **self._audit_fields(),
        )

    def audit_event(self, allowlist_sha256: str | None) -> AuditEvent:
        """The row of a query that cannot be answered (it named no response topic)."""
        return AuditEvent(
            event=Event.QUERY,
            decision=Decision.ALLOWED if self.decision == ANSWERED else Decision.REFUSED,
            reason=self.reason_code or ANSWERED,
            destination=self.broker_agency,
            message_id=None,
            allowlist_sha256=allowlist_sha256,
            **self._audit_fields(),
        )

    def reply(self) -> dict[str, Any]:
        """The answer the agency receives: results only when answered, never anything else."""
        reply: dict[str, Any] = {
            "version": 1,
            "request_id": self.request_id,
            "decision": self.decision,
            "policy_version": self.policy_version,
        }
        if self.decision == ANSWERED:
            reply |= {"results": self.results, "truncated": self.truncated}
        else:
            reply |= {"reason": self.reason_code, "detail": self.detail}
        return reply


# QueryDecision field -> query field, for the audit row of a query that could not be parsed.
_AUDITED_FIELDS = {
    "request_id": "request_id",
    "agency": "agency",
    "user": "user",
    "on_behalf_of": "on_behalf_of",
    "case_number": "case_number",
    "purpose": "purpose",
    "reason": "reason",
    "plate": "plate",
    "start": "from",
    "end": "to",
}


def _best_effort(fields: Any, name: str) -> str | None:
    """A field of an unparseable query, for the audit row: strings only, bounded."""
    if isinstance(fields, dict) and isinstance(fields.get(name), str):
        return _storable(fields[name][:200])
    return None


def _storable(text: str) -> str:
    """JSON may carry lone surrogates ("\ud800") that UTF-8 cannot store: escape them."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class QueryResponder:
    def __init__(
        self,
        *,
        gate: EgressGate,
        policy: QueryPolicy,
        ledger: QueryLedger,
        reads: ReadSource,
        retention: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.gate = gate
        self.policy = policy
        self._ledger = ledger
        self._reads = reads
        self._retention = retention
        self._clock = clock
        self._lock = threading.Lock()

    def handle(
        self,
        broker_agency: str,
        payload: bytes,
        reply_topic: str | None,
        correlation_data: bytes | None,
    ) -> QueryDecision:
        """Decide, then reply through the gate to the broker it came over; one audit row."""
        decision = self.decide(broker_agency, payload)
        log.info(
            "query %s from %s: %s %s",
            decision.request_id,
            broker_agency,
            decision.decision,
            decision.reason_code or decision.detail,
        )
        if reply_topic:
            self.gate.send(broker_agency, decision.outgoing(reply_topic, correlation_data))
        else:
            self.gate.audit.record(decision.audit_event(self.gate.allowlist.sha256 or None))
        return decision

    def decide(self, broker_agency: str, payload: bytes) -> QueryDecision:
        """Check a raw query message that arrived over `broker_agency`'s broker and answer it."""
        now = self._clock()
        base = {
            "received_at": now,
            "broker_agency": broker_agency,
            "policy_version": self.policy.version,
        }
        message: Any = None
        try:
            message = decode_message(payload)
            signed = parse_query(message)
            # Paho calls this on each agency's connection thread: the ledger's count-then-record
            # and the read store's connection must not interleave between agencies.
            with self._lock:
                context = self._context(broker_agency, now)
                check_query(signed, context)
                return self._answer(signed, base, context.allowlist)
        except QueryRefused as refusal:
            fields = message.get("query") if isinstance(message, dict) else None
            return QueryDecision(
                **base,
                decision=Decision.REFUSED,
                reason_code=str(refusal.reason),
                detail=_storable(refusal.detail),
                **{name: _best_effort(fields, wire) for name, wire in _AUDITED_FIELDS.items()},
            )

    def _context(self, broker_agency: str, now: datetime) -> QueryContext:
        return QueryContext(
            broker_agency=broker_agency,
            # Read per query, so a reloaded allow-list applies from the next query on.
            allowlist=self.gate.allowlist,
            policy=self.policy,
            ledger=self._ledger,
            retention=self._retention,
            now=now,
        )

    def _answer(
        self, signed: SignedQuery, base: dict[str, Any], allowlist: AllowList
    ) -> QueryDecision:
        query = signed.query
        # An agency whose agreement covers hotlist hits only sees only hits in its answers too.
        agency = allowlist.get(query.agency)
        hits_only = agency is None or "reads" not in agency.receives
        found = self._reads.find_reads(
            query.plate, query.start, query.end, self.policy.max_results + 1, hits_only
        )
        allowed = self.policy.answer_fields
        results = [{k: v for k, v in read.items() if k in allowed} for read in found]
        return QueryDecision(
            **base,
            decision=ANSWERED,
            reason_code=None,
            detail=f"{min(len(results), self.policy.max_results)} reads",
            request_id=query.request_id,
            agency=query.agency,
            user=query.user,
            on_behalf_of=query.on_behalf_of,
            case_number=query.case_number,
            purpose=query.purpose,
            reason=query.reason,
            plate=query.plate.text,
            start=query.start.isoformat(),
            end=query.end.isoformat(),
            results=results[: self.policy.max_results],
            truncated=len(results) > self.policy.max_results,
        )
