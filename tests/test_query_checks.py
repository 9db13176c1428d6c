"""The query decision without a broker: parsing, signatures, replay, and each policy rule."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from brokers import agency_toml
from conftest import REPO_ROOT
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from query_support import (
    NOW,
    VALID_REQUEST,
    Agencies,
    Seen,
    quiet_unit_settings,
    responder,
    store_with,
)

from edge.audit.terms import prohibited_terms_in
from edge.config import parse_section
from edge.errors import ConfigError, InputError
from edge.query.client import signed_message
from edge.query.ledger import QueryLedger
from edge.query.policy import load_policy
from edge.query.schema import RefusalReason
from edge.query.service import attach_queries
from edge.query.signing import canonical_bytes, generate_key_pair, load_private_key, sign
from edge.share.service import Sharing

READ = Seen("7ABC123", NOW - timedelta(days=1))


@pytest.fixture
def agencies() -> Agencies:
    return Agencies()


def decide(tmp_path, agencies, payload, broker="oakland-pd", reads=(READ,), **policy):
    return responder(tmp_path, agencies, list(reads), **policy).decide(broker, payload)


def test_valid_signed_query_is_answered_with_only_the_policy_fields(tmp_path, agencies):
    decision = decide(tmp_path, agencies, agencies.message())
    assert decision.decision == "answered", decision.detail
    assert decision.results == [
        {
            "plate": "7ABC123",
            "state": "CA",
            "seen_at": READ.seen_at.isoformat(),
            "camera_id": "cam-3",
        }
    ]
    reply = decision.reply()
    assert "reason" not in reply and reply["results"] == decision.results


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"on_behalf_of": "ice-ero"}, RefusalReason.ON_BEHALF_OF_NOT_ALLOWED),
        ({"on_behalf_of": "nypd"}, RefusalReason.ON_BEHALF_OF_NOT_ALLOWED),
        ({"purpose": "immigration enforcement"}, RefusalReason.PROHIBITED_PURPOSE),
        ({"reason": "ICE case"}, RefusalReason.PROHIBITED_PURPOSE),
        ({"reason": "assist Border-Patrol with a removal"}, RefusalReason.PROHIBITED_PURPOSE),
        ({"case_number": "287(g) task force"}, RefusalReason.PROHIBITED_PURPOSE),
        ({"reason": "car seen near the abortion clinic"}, RefusalReason.PROHIBITED_PURPOSE),
        ({"purpose": "general-investigation"}, RefusalReason.PURPOSE_NOT_IN_POLICY),
        ({"case_number": ""}, RefusalReason.CASE_NUMBER_MISSING),
        ({"case_number": "   "}, RefusalReason.CASE_NUMBER_MISSING),
        ({"reason": ""}, RefusalReason.REASON_MISSING),
        ({"start": NOW - timedelta(days=45)}, RefusalReason.OUTSIDE_RETENTION),
        ({"end": NOW + timedelta(days=1)}, RefusalReason.OUTSIDE_RETENTION),
        ({"plate": "7AB*"}, RefusalReason.WILDCARD_TOO_BROAD),
        ({"plate": "7A???23"}, RefusalReason.WILDCARD_TOO_BROAD),
        ({"agency": "chp"}, RefusalReason.AGENCY_MISMATCH),
    ],
)
def test_query_breaking_a_rule_is_refused_with_its_reason_and_no_data(
    tmp_path, agencies, change, reason
):
    decision = decide(tmp_path, agencies, agencies.message(replace(VALID_REQUEST, **change)))
    assert (decision.decision, decision.reason_code) == ("refused", reason), decision.detail
    assert decision.results == []
    assert "results" not in decision.reply()


def test_chp_on_behalf_of_an_allow_listed_agency_is_answered_over_its_own_broker(
    tmp_path, agencies
):
    request = replace(VALID_REQUEST, agency="chp", on_behalf_of="sfpd")
    decision = decide(tmp_path, agencies, agencies.message(request), broker="chp")
    assert decision.decision == "answered", decision.detail
    assert decision.on_behalf_of == "sfpd"


def test_agency_that_receives_only_hits_sees_only_hits_in_answers(tmp_path, agencies):
    seen = [READ, Seen("7ABC123", NOW - timedelta(hours=5), "cam-9", hit=True)]
    unit = responder(tmp_path, agencies, seen)
    everything = unit.decide("oakland-pd", agencies.message())
    chp = unit.decide("chp", agencies.message(replace(VALID_REQUEST, agency="chp")))
    assert [r["camera_id"] for r in everything.results] == ["cam-3", "cam-9"]
    assert [r["camera_id"] for r in chp.results] == ["cam-9"]


def test_bounded_wildcard_finds_the_plate(tmp_path, agencies):
    request = replace(VALID_REQUEST, plate="7AB?12?")
    decision = decide(tmp_path, agencies, agencies.message(request))
    assert [r["plate"] for r in decision.results] == ["7ABC123"]


def test_exact_short_plate_is_answered_not_refused_as_a_wildcard(tmp_path, agencies):
    # The acceptance failure: an agency asking for its own hit 8DG was refused
    # wildcard_too_broad ("3 known characters and 0 wildcards").
    short = Seen("8DG", NOW - timedelta(hours=2))
    request = replace(VALID_REQUEST, plate="8DG")
    decision = decide(tmp_path, agencies, agencies.message(request), reads=(READ, short))
    assert decision.decision == "answered", decision.detail
    assert [r["plate"] for r in decision.results] == ["8DG"]
    # A partial plate with as few known characters is still too broad.
    partial = replace(VALID_REQUEST, plate="8DG?")
    refused = decide(tmp_path, agencies, agencies.message(partial), reads=(READ, short))
    assert refused.reason_code == RefusalReason.WILDCARD_TOO_BROAD


def test_query_signed_with_another_agencys_key_is_refused(tmp_path, agencies):
    forged = signed_message(VALID_REQUEST, agencies.keys["chp"], issued_at=NOW)
    assert decide(tmp_path, agencies, forged).reason_code == RefusalReason.BAD_SIGNATURE


def test_query_changed_after_signing_is_refused(tmp_path, agencies):
    message = json.loads(agencies.message())
    message["query"]["plate"] = "8XYZ999"
    payload = json.dumps(message).encode()
    assert decide(tmp_path, agencies, payload).reason_code == RefusalReason.BAD_SIGNATURE


def test_unsigned_query_is_refused(tmp_path, agencies):
    message = json.loads(agencies.message())
    del message["signature"]
    payload = json.dumps(message).encode()
    assert decide(tmp_path, agencies, payload).reason_code == RefusalReason.UNSIGNED


def test_agency_without_a_query_key_cannot_query(tmp_path, agencies):
    key = Ed25519PrivateKey.generate()
    payload = signed_message(replace(VALID_REQUEST, agency="sfpd"), key, issued_at=NOW)
    decision = decide(tmp_path, agencies, payload, broker="sfpd")
    assert decision.reason_code == RefusalReason.AGENCY_NOT_ALLOWED


def test_replayed_query_is_refused_even_after_a_restart(tmp_path, agencies):
    payload = agencies.message()
    assert decide(tmp_path, agencies, payload).decision == "answered"
    # A new responder on the same ledger file: the unit restarted.
    assert decide(tmp_path, agencies, payload).reason_code == RefusalReason.REPLAYED


def test_old_or_future_query_is_refused_as_stale(tmp_path, agencies):
    old = signed_message(
        VALID_REQUEST, agencies.keys["oakland-pd"], issued_at=NOW - timedelta(minutes=6)
    )
    early = signed_message(
        VALID_REQUEST, agencies.keys["oakland-pd"], issued_at=NOW + timedelta(minutes=6)
    )
    assert decide(tmp_path, agencies, old).reason_code == RefusalReason.STALE
    assert decide(tmp_path, agencies, early).reason_code == RefusalReason.STALE


def test_rate_limit_refuses_queries_beyond_the_hourly_budget(tmp_path, agencies):
    unit = responder(tmp_path, agencies, [READ], max_queries_per_agency_per_hour=3)
    outcomes = [unit.decide("oakland-pd", agencies.message()).reason_code for _ in range(5)]
    assert outcomes == [None, None, None, RefusalReason.RATE_LIMITED, RefusalReason.RATE_LIMITED]
    # Another agency has its own budget.
    chp = agencies.message(replace(VALID_REQUEST, agency="chp"))
    assert unit.decide("chp", chp).decision == "answered"


def test_answer_is_truncated_at_the_policy_maximum(tmp_path, agencies):
    reads = [replace(READ, camera_id=f"cam-{i}") for i in range(4)]
    decision = decide(tmp_path, agencies, agencies.message(), reads=reads, max_results=3)
    assert len(decision.results) == 3 and decision.truncated


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("ICE case", ["ICE"]),
        ("I.C.E. warrant", ["ICE"]),
        ("ICE+ERO", ["ICE", "ERO"]),
        ("ＩＣＥ", ["ICE"]),
        ("help HSI and cbp", ["HSI", "CBP"]),
        ("Border   Patrol", ["border patrol"]),
        ("deportation of a suspect", ["deportation"]),
        ("protesters downtown", ["protester"]),
        ("police report, device theft, iced coffee, price", []),
        ("stolen vehicle, Removal? no", ["removal"]),
        ("287(g)", ["287(g)"]),
    ],
)
def test_prohibited_terms_match_whole_words_case_insensitively(text, terms):
    assert [t.term for t in prohibited_terms_in(text)] == terms


def test_canonical_form_ignores_key_order_and_whitespace():
    key = Ed25519PrivateKey.generate()
    a = {"b": 1, "a": "é", "c": None}
    b = json.loads(json.dumps(a, indent=4, sort_keys=False))
    assert canonical_bytes(a) == canonical_bytes(b)
    assert sign(a, key) == sign(b, key)


def test_generated_key_pair_signs_and_is_not_overwritten(tmp_path):
    pair = generate_key_pair(tmp_path / "keys" / "oakland.key")
    assert (pair.private_path.stat().st_mode & 0o777) == 0o600
    key = load_private_key(pair.private_path)
    assert pair.public_path.read_text().strip() == pair.public_text
    assert len(pair.public_text) == 44 and key is not None
    with pytest.raises(InputError, match="refusing to overwrite"):
        generate_key_pair(pair.private_path)


def test_ledger_forgets_ids_only_after_they_are_too_old_to_be_accepted(tmp_path):
    ledger = QueryLedger(tmp_path / "l.sqlite", timedelta(minutes=5))
    assert ledger.record("a", "req-00000001", NOW)
    assert not ledger.record("a", "req-00000001", NOW + timedelta(minutes=30))
    assert ledger.record("b", "req-00000001", NOW)
    assert ledger.record("a", "req-00000001", NOW + timedelta(hours=2))


def test_shipped_query_policy_loads():
    policy = load_policy(REPO_ROOT / "config" / "query-policy.toml")
    assert policy.purposes and policy.max_queries_per_agency_per_hour > 0


def test_policy_listing_a_prohibited_purpose_is_refused(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text('version = "x"\n[purposes]\nimmigration-assist = "help ICE"\n')
    with pytest.raises(ConfigError) as refused:
        load_policy(path)
    assert (refused.value.key, refused.value.reason) == (
        "purposes.immigration-assist",
        "names a prohibited purpose",
    )


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('version = "1"\nmax_results = 5\nsurprise = 1\n[purposes]\na = "b"\n', "surprise"),
        (
            'version = "1"\nanswer_fields = ["plate", "crop_path"]\n[purposes]\na = "b"\n',
            "answer_fields",
        ),
        ('version = "1"\nmax_results = -1\n[purposes]\na = "b"\n', "max_results"),
        ('version = "1"\n', "purposes"),
        ('[purposes]\na = "b"\n', "version"),
    ],
)
def test_invalid_policy_names_the_key(tmp_path, text, key):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as refused:
        load_policy(path)
    assert refused.value.key == key and str(path) in str(refused.value)


def test_sharing_settings_name_the_query_policy_relative_to_edge_toml(tmp_path):
    table = {"agencies_file": "a.toml", "data_dir": "d", "unit_id": "u1"}
    assert parse_section("sharing", table, tmp_path / "edge.toml").query_policy is None
    table["query_policy"] = "query-policy.toml"
    settings = parse_section("sharing", table, tmp_path / "edge.toml")
    assert settings.query_policy == tmp_path / "query-policy.toml"
    with pytest.raises(ConfigError) as refused:
        parse_section("sharing", dict(table, query_policy=""), tmp_path / "edge.toml")
    assert refused.value.key == "sharing.query_policy"


def test_unit_without_a_query_policy_never_subscribes_to_queries(tmp_path, broker_factory):
    oakland = broker_factory("oakland")
    (tmp_path / "agencies.toml").write_text(agency_toml(oakland, "oakland-pd"))
    sharing = Sharing(quiet_unit_settings(tmp_path / "agencies.toml", tmp_path / "share"))
    assert attach_queries(sharing, store_with(tmp_path / "store", [])) is None
    with sharing:
        deadline = time.monotonic() + 10
        while not oakland.clients_connected("unit-1") and time.monotonic() < deadline:
            time.sleep(0.05)
    assert oakland.clients_connected("unit-1") == 1
    assert "SUBSCRIBE from unit-1" not in oakland.log_text()
