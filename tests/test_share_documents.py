"""The documents the unit sends keep the JSON Schemas published in docs/sharing.md."""

import json
import re

import pytest
from conftest import REPO_ROOT
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from share_publisher import synthetic_read

from edge.config import SharingConfig
from edge.share.messages import (
    audit_head_message,
    heartbeat_message,
    hit_message,
    read_message,
)
from edge.share.service import Sharing

DOC = REPO_ROOT / "docs" / "sharing.md"


def published_schemas() -> dict[str, dict]:
    blocks = re.findall(r"<!-- schema: (\S+) -->\s*```json\n(.*?)```", DOC.read_text(), re.S)
    return {name: json.loads(body) for name, body in blocks}


@pytest.fixture(scope="module")
def validators():
    schemas = published_schemas()
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in schemas.values()
    )
    return {
        name: Draft202012Validator(schema, registry=registry, format_checker=FormatChecker())
        for name, schema in schemas.items()
    }


def test_every_document_kind_the_unit_sends_is_published_with_a_valid_schema(validators):
    assert set(validators) == {
        "alpr-edge/read/1",
        "alpr-edge/hit/1",
        "alpr-edge/heartbeat/1",
        "alpr-edge/audit_head/1",
    }
    for validator in validators.values():
        Draft202012Validator.check_schema(validator.schema)


def test_documents_sent_for_reads_hits_heartbeats_and_audit_heads_keep_their_schemas(
    tmp_path, validators
):
    agencies = tmp_path / "agencies.toml"
    agencies.write_text(
        "demo = true\n[[agency]]\n"
        'id = "oakland-pd"\nname = "Oakland PD"\nori = "CA0010900"\nkind = "city_police"\n'
        'state = "CA"\npurpose = "MOU 14"\nbroker = "mqtt://127.0.0.1:9"\n'
        'receives = ["reads", "hits", "heartbeat"]\nexpires = 2099-01-01\n'
    )
    settings = SharingConfig(agencies_file=agencies, data_dir=tmp_path / "share", unit_id="unit-1")
    sharing = Sharing(settings)
    sharing.reload_allowlist()
    read, hits = synthetic_read(10)
    head = sharing.audit.head()
    for message in (
        read_message(10, read),
        hit_message(10, read, hits),
        heartbeat_message(12.5, 3, 30),
        audit_head_message(head.seq, head.row_hash, head.at),
    ):
        assert sharing.gate.send("oakland-pd", message)
    documents = [json.loads(q.payload) for q in sharing.outbox.queued("oakland-pd")]
    sharing.close()
    assert len(documents) == 4
    for document in documents:
        validators[document["schema"]].validate(document)
    broken = dict(documents[0], read=dict(documents[0]["read"], crop_path="crops/x.jpg"))
    assert not validators["alpr-edge/read/1"].is_valid(broken), "no crop paths leave the unit"


def test_every_audit_event_is_documented():
    from edge.audit.events import Event

    table = DOC.read_text().split("The events (every name in", 1)[1].split("\n\n", 2)[1]
    documented = set(re.findall(r"`([a-z_]+)`", table))
    assert {event.value for event in Event} <= documented


def test_a_read_document_shares_only_the_candidates_confident_enough_to_raise_a_hit(validators):
    from dataclasses import replace

    from edge.runtime.types import Candidate

    read, _ = synthetic_read(3)
    read = replace(
        read,
        candidates=(
            Candidate(read.plate, 0.7),
            Candidate("7A8C003", 0.2),
            Candidate("7ABC0O3", 0.001),
        ),
    )
    fields = read_message(3, read).body["read"]
    assert fields["candidates"] == [{"plate": "7A8C003", "confidence": 0.2}]
    document = {
        "schema": "alpr-edge/read/1",
        "id": "0" * 32,
        "unit": "unit-1",
        "queued_at": "2026-01-01T00:00:00+00:00",
        "read": fields,
    }
    validators["alpr-edge/read/1"].validate(document)
