"""What the unit publishes, and where: the versioned topic layout and one document per kind.

docs/sharing.md describes each document's JSON schema; change both together and raise
TOPIC_VERSION (and the document's `schema` number) on any incompatible change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from edge.plates.regions import US_STATES
from edge.runtime.hotlist import CANDIDATE_HIT_CONFIDENCE
from edge.runtime.types import HotlistHit, VehicleRead

TOPIC_VERSION = "v1"
TOPIC_ROOT = f"alpr/{TOPIC_VERSION}"

READ = "read"
HIT = "hit"
HEARTBEAT = "heartbeat"
AUDIT_HEAD = "audit_head"
CONFIG_CHANGE = "config_change"
QUERY_RESPONSE = "query_response"

# The allow-list option an agency must have to receive each kind; None: every active agency
# receives it (audit chain heads, configuration drift alerts, answers to its own queries).
REQUIRED_OPTION: dict[str, str | None] = {
    READ: "reads",
    HIT: "hits",
    HEARTBEAT: "heartbeat",
    AUDIT_HEAD: None,
    CONFIG_CHANGE: None,
    QUERY_RESPONSE: None,
}

_TOPIC_SUFFIX = {
    READ: "reads",
    HIT: "hits",
    HEARTBEAT: "heartbeat",
    AUDIT_HEAD: "audit/head",
    CONFIG_CHANGE: "config",
}


def topic(unit_id: str, kind: str) -> str:
    """alpr/v1/<unit>/<reads|hits|heartbeat|audit/head|config>."""
    return f"{TOPIC_ROOT}/{unit_id}/{_TOPIC_SUFFIX[kind]}"


def status_topic(unit_id: str) -> str:
    """Retained `online`/`offline` status; `offline` is the connection's last will."""
    return f"{TOPIC_ROOT}/{unit_id}/status"


def query_topic(unit_id: str) -> str:
    """Where an agency publishes queries to this unit on its own broker (issue 7)."""
    return f"{TOPIC_ROOT}/{unit_id}/query"


@dataclass(frozen=True)
class Outgoing:
    """A document for one agency and what its audit row says about it.

    `body` is completed by the gate with `schema`, `id` (the message id), `unit` and
    `queued_at`. `username`/`user_agency`/`purpose` default to the agency and its agreement
    (automatic sharing); a query answer names the requesting user instead.
    """

    kind: str
    body: Mapping[str, Any]
    data_elements: str = ""
    record_count: int = 0
    username: str | None = None
    user_agency: str | None = None
    purpose: str | None = None
    reply_topic: str | None = None
    correlation_data: bytes | None = None
    details: Mapping[str, Any] | None = None


def us_state(region: str | None) -> str | None:
    return region if region in US_STATES else None


def read_fields(read_id: int, read: VehicleRead) -> dict[str, Any]:
    """Only what an agency needs about a read: no crop, no pixel box."""
    return {
        "read_id": read_id,
        "plate": read.plate,
        # `state` is a US state or null; `region` any issuing region (a state, UK, EU, BR).
        "state": us_state(read.region),
        "region": read.region,
        "confidence": round(read.confidence, 4),
        "seen_at": read.seen_at.isoformat(),
        "camera_id": read.camera_id,
        "candidates": shared_candidates(read),
    }


def shared_candidates(read: VehicleRead) -> list[dict[str, Any]]:
    """The read's other readings an agency may act on: those confident enough to raise a hotlist
    hit (`CANDIDATE_HIT_CONFIDENCE`). The long tail of unlikely readings is left out: those
    strings are other vehicles' plates more than this one's, not data about this read."""
    return [
        {"plate": c.text, "confidence": round(c.confidence, 4)}
        for c in read.candidates[1:]
        if c.text != read.plate and c.confidence >= CANDIDATE_HIT_CONFIDENCE
    ]


def read_message(read_id: int, read: VehicleRead) -> Outgoing:
    return Outgoing(
        kind=READ,
        body={"read": read_fields(read_id, read)},
        data_elements=read.plate,
        record_count=1,
    )


def hit_message(read_id: int, read: VehicleRead, hits: Sequence[HotlistHit]) -> Outgoing:
    """One message per read that matched, carrying every entry it matched."""
    return Outgoing(
        kind=HIT,
        body={
            "read": read_fields(read_id, read),
            "hits": [
                {
                    "listed_plate": hit.listed_plate,
                    "listed_state": us_state(hit.listed_region),
                    "listed_region": hit.listed_region,
                    "reason": hit.reason,
                    "source": hit.source,
                    "distance": hit.distance,
                }
                for hit in hits
            ],
        },
        data_elements=read.plate,
        record_count=1,
    )


def heartbeat_message(
    uptime_s: float, queued: int, retention_days: int, state: Mapping[str, Any] | None = None
) -> Outgoing:
    """`state`: the unit's real state (edge.service.health: status ok or degraded, camera up or
    down and since when, fps, disk); without it the heartbeat only says the unit is alive."""
    message = Outgoing(
        kind=HEARTBEAT,
        body={
            "status": "ok",
            "uptime_s": round(uptime_s, 1),
            "queued_messages": queued,
            "retention_days": retention_days,
        },
    )
    if state is not None:
        message.body.update(state)
    return message


def audit_head_message(
    seq: int, row_hash: str, at: str | None, *, key_id: str | None = None, signature: str = ""
) -> Outgoing:
    """The chain head; with the device key's signature over `head_document(unit, seq, hash)`
    (edge.audit.signing) and the key's id, so an agency holding the pinned key can prove it
    came from this unit."""
    audit: dict[str, object] = {"seq": seq, "hash": row_hash, "at": at}
    if key_id is not None:
        audit |= {"key_id": key_id, "signature": signature}
    return Outgoing(kind=AUDIT_HEAD, body={"audit": audit})
