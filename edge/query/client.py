"""The agency side: build and sign a query message (used by `alpr-edge query`)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.clock import UTC
from edge.query.schema import QUERY_VERSION
from edge.query.signing import sign


@dataclass(frozen=True)
class QueryRequest:
    agency: str
    user: str
    case_number: str
    purpose: str
    reason: str
    plate: str
    start: datetime
    end: datetime
    on_behalf_of: str | None = None


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def signed_message(
    request: QueryRequest,
    key: Ed25519PrivateKey,
    *,
    request_id: str | None = None,
    issued_at: datetime | None = None,
) -> bytes:
    """The wire bytes of a signed query; a fresh random id and the current time by default."""
    query = {
        "version": QUERY_VERSION,
        "request_id": request_id or uuid.uuid4().hex,
        "issued_at": _utc(issued_at or datetime.now(UTC)),
        "agency": request.agency,
        "user": request.user,
        "on_behalf_of": request.on_behalf_of,
        "case_number": request.case_number,
        "purpose": request.purpose,
        "reason": request.reason,
        "plate": request.plate,
        "from": _utc(request.start),
        "to": _utc(request.end),
    }
    return json.dumps({"query": query, "signature": sign(query, key)}).encode()
