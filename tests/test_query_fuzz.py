"""Fuzzing the query parser: whatever arrives, nothing crashes, and every malformed query is
refused, answered with a reason code and no data, and written to the audit log as one row."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from query_support import NOW, VALID_REQUEST, Agencies, Seen, responder

from edge.query.client import signed_message
from edge.query.responder import QueryResponder
from edge.query.schema import FIELDS, RefusalReason
from edge.query.signing import sign
from edge.share.outbox import Outbox

READ = Seen("7ABC123", NOW - timedelta(hours=2))
FUZZ = settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Text as JSON can carry it: any character, lone surrogates ("\ud800") included.
ANY_TEXT = st.text(st.characters(categories=["Cs", "L", "M", "N", "P", "S", "Z", "Cc", "Cf"]))
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(ANY_TEXT, inner),
    max_leaves=8,
)
# Fields whose absence or null is a valid query: removing them must not count as malformed.
OPTIONAL = {"on_behalf_of"}


class Unit:
    """One responder for a whole fuzz run, and a check that each message added one audit row."""

    def __init__(self, tmp_path: Path) -> None:
        self.agencies = Agencies()
        self.responder: QueryResponder = responder(
            tmp_path, self.agencies, [READ], max_queries_per_agency_per_hour=10**6
        )
        self.gate = self.responder.gate
        self.valid = json.loads(
            signed_message(VALID_REQUEST, self.agencies.keys["oakland-pd"], issued_at=NOW)
        )["query"]

    def handle(self, payload: bytes):
        before = self.gate.audit.head().seq
        decision = self.responder.handle("oakland-pd", payload, "oakland/replies/1", b"c")
        with self.gate.audit.reading() as conn:
            rows = conn.execute("SELECT * FROM audit WHERE seq > ?", (before,)).fetchall()
        assert len(rows) == 1, "each query is exactly one audit row"
        details = json.loads(rows[0]["details"])
        assert details["query_decision"] == decision.decision
        assert details["query_reason"] == decision.reason_code
        if decision.decision == "refused":
            assert "results" not in decision.reply()
            assert rows[0]["record_count"] == 0
        return decision

    def signed(self, query: dict[str, Any]) -> bytes:
        try:
            signature = sign(query, self.agencies.keys["oakland-pd"])
        except UnicodeEncodeError:
            signature = "bm90IHNpZ25lZA=="  # lone surrogates: no UTF-8 signer could sign it
        return json.dumps({"query": query, "signature": signature}).encode()


@pytest.fixture
def unit(tmp_path) -> Iterator[Unit]:
    # The audit log syncs every row to disk; thousands of rows go to memory-backed storage
    # when the machine has it, so the fuzz run measures the parser rather than the disk.
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else tmp_path) as folder:
        yield Unit(Path(folder))


@FUZZ
@given(payload=st.binary(max_size=400))
def test_random_bytes_are_refused_and_logged(unit, payload):
    assert unit.handle(payload).reason_code == RefusalReason.MALFORMED


@FUZZ
@given(message=JSON_VALUES)
def test_random_json_is_refused_and_logged(unit, message):
    assert unit.handle(json.dumps(message).encode()).decision == "refused"


@FUZZ
@given(
    field=st.sampled_from(FIELDS),
    action=st.sampled_from(["delete", "retype", "add"]),
    value=JSON_VALUES,
)
def test_signed_query_with_a_broken_field_is_refused_and_logged(unit, field, action, value):
    query = dict(unit.valid, request_id=f"fuzz-{unit.gate.audit.head().seq:08d}")
    if action == "delete" and field not in OPTIONAL | {"request_id"}:
        del query[field]
    elif action == "retype":
        # A value of the wrong JSON type for the field (every field is a string but version).
        wrong = value if not isinstance(value, str) else [value]
        if (field == "version" and wrong == 1) or (field in OPTIONAL and wrong is None):
            wrong = {"not": "valid"}
        query[field] = wrong
    else:
        query[f"x-{field}"] = value
    assert unit.handle(unit.signed(query)).decision == "refused"


@FUZZ
@given(field=st.sampled_from(FIELDS[1:]), text=st.text(max_size=1100) | ANY_TEXT)
def test_signed_query_with_any_text_in_a_field_never_crashes(unit, field, text):
    query = dict(unit.valid, request_id=f"fuzz-{unit.gate.audit.head().seq:08d}")
    query[field] = text
    decision = unit.handle(unit.signed(query))
    if decision.decision == "answered":
        assert all(set(r) <= {"plate", "state", "seen_at", "camera_id"} for r in decision.results)


def test_fuzz_replies_wait_in_the_outbox_for_the_asking_agency_only(unit):
    unit.handle(
        signed_message(replace(VALID_REQUEST), unit.agencies.keys["oakland-pd"], issued_at=NOW)
    )
    unit.handle(b"{}")
    outbox: Outbox = unit.gate.outbox
    assert [m.agency_id for m in outbox.queued("oakland-pd")] == ["oakland-pd", "oakland-pd"]
    assert outbox.queued("chp") == []
