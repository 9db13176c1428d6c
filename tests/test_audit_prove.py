"""The auditor's proof: `audit bundle` writes one signed file, `audit prove` checks it without the
unit; an honest unit passes every rule, and a tampered bundle (one row, one allow-list version,
one signature, one rewritten log against a signed head) or a breach of a rule is caught."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta

import pytest
from conftest import REPO_ROOT
from share_publisher import synthetic_read

from edge.audit.bundle import signed_part, write_bundle
from edge.audit.events import Decision, Event
from edge.audit.log import row_hash
from edge.audit.prove import REQUIRED_OPTION, load_bundle, parse_head, prove
from edge.audit.signing import device_key
from edge.cli import main
from edge.clock import UTC
from edge.config import load_config
from edge.query.policy import load_policy
from edge.query.responder import QueryDecision
from edge.share import messages
from edge.share.service import Sharing

ENTRY = """[[agency]]
id = "{id}"
name = "{id} police"
ori = "{ori}"
kind = "city_police"
state = "CA"
purpose = "MOU 14"
broker = "mqtt://127.0.0.1:{port}"
receives = {receives}
expires = 2099-01-01
"""


def allowlist(receives: str = '["reads", "hits"]') -> str:
    return "demo = true\n" + ENTRY.format(
        id="oakland-pd", ori="CA0010900", port=9, receives=receives
    )


def query(decision: str = "answered", **fields: object) -> QueryDecision:
    values: dict[str, object] = {
        "received_at": datetime.now(UTC),
        "broker_agency": "oakland-pd",
        "decision": decision,
        "reason_code": None if decision == "answered" else "wildcard_too_broad",
        "detail": "",
        "policy_version": load_policy(REPO_ROOT / "config" / "query-policy.toml").version,
        "request_id": "req-0001",
        "agency": "oakland-pd",
        "user": "Sgt. Smith",
        "case_number": "24-0012",
        "purpose": "stolen-vehicle",
        "reason": "carjacking on Broadway",
        "plate": "8DG",
    }
    values.update(fields)
    return QueryDecision(**values)  # type: ignore[arg-type]


@pytest.fixture
def unit(tmp_path):
    """A unit that shared reads, narrowed oakland-pd to hits by a valid edit, answered and
    refused queries, and published a signed head; its config file."""
    agencies = tmp_path / "agencies.toml"
    agencies.write_text(allowlist())
    shutil.copy(REPO_ROOT / "config" / "query-policy.toml", tmp_path / "query-policy.toml")
    config = tmp_path / "edge.toml"
    config.write_text(
        '[sharing]\nagencies_file = "agencies.toml"\ndata_dir = "share"\nunit_id = "unit-1"\n'
        'query_policy = "query-policy.toml"\n'
    )
    settings = load_config(config).sharing
    sharing = Sharing(settings)
    # What Sharing.start() records first (start itself would also open broker links).
    sharing.gate.system_event(
        Event.SETTINGS_LOAD, Decision.DONE, "settings", details={"retention_days": "30"}
    )
    sharing.reload_allowlist()
    for read_id in range(1, 6):
        sharing.on_read(read_id, *synthetic_read(read_id))
    agencies.write_text(allowlist('["hits"]'))
    sharing.reload_allowlist()
    sharing.on_read(10, *synthetic_read(10))
    sharing.gate.send("oakland-pd", query().outgoing("reply/1", b"c1"))
    sharing.gate.send("oakland-pd", query("refused", plate="8*").outgoing("reply/2", b"c2"))
    sharing.publish_audit_head()
    [head] = [
        json.loads(q.payload)["audit"]
        for q in sharing.outbox.queued("oakland-pd")
        if q.kind == "audit_head"
    ]
    sharing.close()
    return config, settings, f"{head['seq']}:{head['hash']}:{head['signature']}"


def make_bundle(tmp_path, config) -> tuple[int, dict]:
    out = tmp_path / "bundle.json"
    now = datetime.now(UTC)
    code = main(
        [
            "audit",
            "bundle",
            "--config",
            str(config),
            "--from",
            (now - timedelta(hours=1)).isoformat(),
            "--to",
            (now + timedelta(hours=1)).isoformat(),
            "--output",
            str(out),
        ]
    )
    return code, load_bundle(out.read_text())


def resign(bundle: dict, settings) -> dict:
    """What a unit falsifying its own record could do: sign again after the change."""
    bundle["signature"] = device_key(settings.data_dir).sign(signed_part(bundle))
    return bundle


def broken_rules(bundle: dict, heads=(), key=None) -> list[str]:
    return [v.rule for v in prove(bundle, heads, key) if not v.ok]


def test_honest_unit_passes_every_rule_from_the_cli(tmp_path, unit, capsys):
    config, settings, head = unit
    code, bundle = make_bundle(tmp_path, config)
    assert code == 0
    # Both allow-list versions in force during the period are in the bundle, with their text.
    assert len([t for t in bundle["allowlists"].values() if t]) == 2
    key = device_key(settings.data_dir).public_text
    capsys.readouterr()
    code = main(["audit", "prove", str(tmp_path / "bundle.json"), "--head", head, "--key", key])
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert shown.count("PASS") == 5 and "VERDICT: no breach found" in shown
    # The same bundle compressed proves the same.
    write_bundle(bundle, tmp_path / "bundle.json.gz")
    assert main(["audit", "prove", str(tmp_path / "bundle.json.gz"), "--key", key]) == 0


def test_one_edited_row_is_caught_even_when_the_bundle_is_signed_again(tmp_path, unit):
    config, settings, _ = unit
    _, bundle = make_bundle(tmp_path, config)
    share = next(r for r in bundle["rows"] if r["event"] == "share")
    share["destination"] = "chp"
    assert broken_rules(bundle)[0] == "the bundle is signed by the unit's device key"
    assert "the audit chain is intact and holds every signed head" in broken_rules(
        resign(bundle, settings)
    )


def test_rewritten_and_rehashed_log_is_caught_by_a_signed_head(tmp_path, unit):
    config, settings, head = unit
    _, bundle = make_bundle(tmp_path, config)
    # Rewrite a row and re-hash the chain after it: intact, but not what agencies were told.
    rows = bundle["rows"]
    rows[1]["data_elements"] = "REWRITTEN"
    for i, row in enumerate(rows):
        if i:
            row["prev_hash"] = rows[i - 1]["row_hash"]
        row["row_hash"] = row_hash(row)
    verdicts = prove(resign(bundle, settings), [parse_head(head)])
    chain = verdicts[1]
    assert not chain.ok and "the log was rewritten" in chain.breaches[0]


def test_one_changed_allow_list_version_is_caught(tmp_path, unit):
    config, settings, _ = unit
    _, bundle = make_bundle(tmp_path, config)
    digest = next(d for d, t in bundle["allowlists"].items() if '["hits"]' in t)
    bundle["allowlists"][digest] = bundle["allowlists"][digest].replace('["hits"]', '["reads"]')
    verdicts = prove(resign(bundle, settings))
    sharing = verdicts[2]
    assert not sharing.ok and "does not match its SHA-256" in sharing.breaches[0]


def test_one_changed_signature_is_caught(tmp_path, unit):
    config, settings, _ = unit
    _, bundle = make_bundle(tmp_path, config)
    bundle["signature"] = device_key(tmp_path / "other").sign(signed_part(bundle))
    assert broken_rules(bundle) == ["the bundle is signed by the unit's device key"]
    # ...and a pinned key refuses a bundle signed by another key, even a valid signature.
    other = device_key(tmp_path / "other")
    bundle["device_key"] = {"public_key": other.public_text, "key_id": other.key_id}
    bundle["signature"] = other.sign(signed_part(bundle))
    pinned = device_key(settings.data_dir).public_text
    assert "the bundle is signed by the unit's device key" in broken_rules(bundle, key=pinned)


def test_a_read_sent_to_an_agency_that_no_longer_receives_reads_is_a_breach(tmp_path, unit):
    config, settings, _ = unit
    _, bundle = make_bundle(tmp_path, config)
    # Pretend the last read went out under the hits-only version (re-hash, re-sign).
    hits_only = next(d for d, t in bundle["allowlists"].items() if '["hits"]' in t)
    rows = bundle["rows"]
    early = next(i for i, r in enumerate(rows) if r["allowlist_sha256"] != hits_only)
    read_row = next(
        r for r in rows[early:] if r["event"] == "share" and '"kind": "read"' in r["details"]
    )
    rows.append(
        dict(read_row, seq=rows[-1]["seq"] + 1, allowlist_sha256=hits_only, at=rows[-1]["at"])
    )
    rows[-1]["prev_hash"] = rows[-2]["row_hash"]
    rows[-1]["row_hash"] = row_hash(rows[-1])
    sharing = prove(resign(bundle, settings))[2]
    assert sharing.breaches == [
        f"row {rows[-1]['seq']} (read to oakland-pd): the agency does not receive reads"
    ]


def test_answered_query_outside_the_policy_and_refusal_without_reason_are_breaches(tmp_path, unit):
    config, settings, _ = unit
    _, bundle = make_bundle(tmp_path, config)
    rows = bundle["rows"]
    answered, refused = [r for r in rows if '"kind": "query_response"' in r["details"]]
    details = json.loads(answered["details"])
    details["reason_text"] = "help ICE with a removal"
    answered["details"] = json.dumps(details, sort_keys=True)
    details = json.loads(refused["details"])
    details["query_reason"] = None
    refused["details"] = json.dumps(details, sort_keys=True)
    for i, row in enumerate(rows):
        if i:
            row["prev_hash"] = rows[i - 1]["row_hash"]
        row["row_hash"] = row_hash(row)
    queries = prove(resign(bundle, settings))[3]
    assert len(queries.breaches) == 2
    assert "prohibited purpose" in queries.breaches[0]
    assert "refused without a reason code" in queries.breaches[1]


def test_prove_knows_the_same_message_kinds_as_the_gate():
    assert messages.REQUIRED_OPTION == REQUIRED_OPTION
