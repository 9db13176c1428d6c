"""Helpers for the query tests: agencies with real Ed25519 keys and signed queries."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

import tomllib
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.audit.log import AuditLog
from edge.clock import UTC
from edge.config import SharingConfig
from edge.config.allowlist import AllowList, parse_allowlist
from edge.query.client import QueryRequest, signed_message
from edge.query.ledger import QueryLedger
from edge.query.policy import QueryPolicy
from edge.query.reads import StoreReads
from edge.query.responder import QueryResponder
from edge.query.signing import public_key_text
from edge.runtime.store import ReadStore
from edge.runtime.types import Box, HotlistHit, VehicleRead
from edge.share.gate import EgressGate
from edge.share.outbox import Outbox

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
POLICY = QueryPolicy(
    version="test-2026-11",
    purposes={"stolen-vehicle": "recover a reported stolen vehicle", "amber-alert": "child"},
    max_queries_per_agency_per_hour=5,
    max_request_age=timedelta(minutes=5),
    min_known_characters=5,
    max_wildcards=2,
    max_results=10,
    answer_fields=("plate", "state", "seen_at", "camera_id"),
)
RETENTION = timedelta(days=30)

VALID_REQUEST = QueryRequest(
    agency="oakland-pd",
    user="Sgt. J. Smith #1234",
    case_number="24-001234",
    purpose="stolen-vehicle",
    reason="vehicle taken in a carjacking on Broadway",
    plate="7ABC123",
    start=NOW - timedelta(days=3),
    end=NOW - timedelta(hours=1),
)


def agency_entry(
    agency_id: str, ori: str, port: int, key: Ed25519PrivateKey | None, receives: str = "hits"
) -> str:
    """One [[agency]] table of a demo allow-list (plain MQTT to loopback)."""
    lines = [
        "[[agency]]",
        f'id = "{agency_id}"',
        f'name = "{agency_id} agency"',
        f'ori = "{ori}"',
        'kind = "city_police"',
        'state = "CA"',
        'purpose = "stolen vehicles and AMBER alerts"',
        f'broker = "mqtt://127.0.0.1:{port}"',
        f"receives = {json.dumps(receives.split(','))}",
        "expires = 2099-12-31",
    ]
    if key is not None:
        lines.append(f'query_key = "{public_key_text(key.public_key())}"')
    return "\n".join(lines) + "\n"


class Agencies:
    """Three allow-listed agencies; oakland-pd and chp hold query keys; oakland-pd alone
    receives every read, the others only hotlist hits."""

    def __init__(self) -> None:
        self.keys = {
            "oakland-pd": Ed25519PrivateKey.generate(),
            "chp": Ed25519PrivateKey.generate(),
        }

    def toml(self) -> str:
        return "demo = true\n\n" + "\n".join(
            (
                agency_entry(
                    "oakland-pd", "CA0010900", 18831, self.keys["oakland-pd"], "reads,hits"
                ),
                agency_entry("chp", "CA0349400", 18832, self.keys["chp"]),
                agency_entry("sfpd", "CA0380100", 18833, None),
            )
        )

    def allowlist(self) -> AllowList:
        return parse_allowlist(tomllib.loads(self.toml()), Path("agencies.toml"), sha256="test")

    def message(self, request: QueryRequest = VALID_REQUEST, **kwargs: object) -> bytes:
        return signed_message(request, self.keys[request.agency], issued_at=NOW, **kwargs)


@dataclass(frozen=True)
class Seen:
    """A plate the unit read, for seeding a real read store."""

    plate: str
    seen_at: datetime
    camera_id: str = "cam-3"
    hit: bool = False


def store_with(folder: Path, seen: Iterable[Seen]) -> ReadStore:
    """A real read store holding these reads (hits linked to a real hotlist entry)."""
    store = ReadStore(folder, save_crops=False)
    listed = store.db["hotlist"].insert({"plate": "7ABC123", "loaded_at": NOW.isoformat()})
    for item in seen:
        read = VehicleRead(
            item.plate, "CA", 0.96, item.seen_at, item.camera_id, Box(1, 2, 90, 30), 5
        )
        hits = (
            [HotlistHit(listed.last_pk, item.plate, "CA", "stolen", "NCIC", 0)] if item.hit else []
        )
        store.add_read(read, None, hits)
    return store


def quiet_unit_settings(agencies_file: Path, data_dir: Path) -> SharingConfig:
    """A unit's sharing settings with heartbeats and audit heads out of the tests' way."""
    return SharingConfig(
        agencies_file=agencies_file,
        data_dir=data_dir,
        unit_id="unit-1",
        operator_agency="CA0019999",
        heartbeat_interval_s=3600,
        audit_head_interval_s=3600,
    )


def gate(tmp_path: Path, allowlist: AllowList) -> EgressGate:
    """A real gate over a real audit log and outbox, no broker: replies wait in the outbox."""
    audit = AuditLog(tmp_path / "audit.sqlite")
    unit_gate = EgressGate(audit, Outbox(audit, tmp_path / "outbox.sqlite"), "unit-1", "CA0019900")
    unit_gate.apply_allowlist(allowlist)
    return unit_gate


def responder(
    tmp_path: Path, agencies: Agencies, seen: Iterable[Seen], **policy: object
) -> QueryResponder:
    return QueryResponder(
        gate=gate(tmp_path, agencies.allowlist()),
        policy=replace(POLICY, **policy),
        ledger=QueryLedger(tmp_path / "ledger.sqlite", POLICY.max_request_age),
        reads=StoreReads(store_with(tmp_path / "store", seen)),
        retention=RETENTION,
        clock=lambda: NOW,
    )
