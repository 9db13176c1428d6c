"""Agency queries over real Mosquitto brokers with mutual TLS: each scenario of issue 7.

One unit serves three allow-listed agencies, each on its own broker, and a fourth broker that
is not allow-listed. Agencies publish signed MQTT 5 requests (response topic + correlation
data) on their own broker; the unit answers there only, through the egress gate.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from brokers import CertificateAuthority, MosquittoBroker, agency_toml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from query_support import VALID_REQUEST, Seen, quiet_unit_settings, store_with

from edge.audit.export import export_rows
from edge.cli import main
from edge.clock import UTC
from edge.query.client import signed_message
from edge.query.service import attach_queries
from edge.query.signing import public_key_text
from edge.share.messages import query_topic
from edge.share.service import Sharing

POLICY = """version = "test-policy-1"
max_queries_per_agency_per_hour = 6
max_request_age_seconds = 300
min_known_characters = 5
max_wildcards = 2
max_results = 50
answer_fields = ["plate", "state", "seen_at", "camera_id"]
[purposes]
stolen-vehicle = "locate a vehicle reported stolen"
"""
AGENCIES = {"oakland-pd": "CA0010900", "chp": "CA0349400", "sfpd": "CA0380100"}
RECEIVES = {"oakland-pd": ("reads", "hits"), "chp": ("hits",), "sfpd": ("hits",)}


class AgencyClient:
    """An agency's dispatcher: publishes queries on its own broker and collects the answers."""

    def __init__(self, broker: MosquittoBroker, identity: str) -> None:
        self.reply_topic = f"agency/{identity}/replies"
        self.replies: dict[bytes, dict[str, Any]] = {}
        self._arrived = threading.Condition()
        files = broker.ca.issue(identity)
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=identity,
            protocol=mqtt.MQTTv5,
        )
        self.client.tls_set(str(broker.ca.cert), str(files.cert), str(files.key))
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(self.reply_topic, qos=1)
        assert subscribed.wait(10)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._arrived:
            self.replies[message.properties.CorrelationData] = json.loads(message.payload)
            self._arrived.notify_all()

    def send(self, payload: bytes, *, with_reply_topic: bool = True) -> bytes:
        correlation = uuid.uuid4().bytes
        properties = Properties(PacketTypes.PUBLISH)
        if with_reply_topic:
            properties.ResponseTopic = self.reply_topic
            properties.CorrelationData = correlation
        self.client.publish(query_topic("unit-1"), payload, qos=1, properties=properties)
        return correlation

    def answer(self, correlation: bytes, timeout: float = 10) -> dict[str, Any]:
        with self._arrived:
            assert self._arrived.wait_for(lambda: correlation in self.replies, timeout)
            return self.replies[correlation]

    def ask(self, payload: bytes) -> dict[str, Any]:
        return self.answer(self.send(payload))

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@dataclass
class Unit:
    sharing: Sharing
    keys: dict[str, Ed25519PrivateKey]
    clients: dict[str, AgencyClient]
    brokers: dict[str, MosquittoBroker]
    unlisted: MosquittoBroker
    data_dir: Path

    def message(self, **changes: Any) -> bytes:
        """A query signed by its agency's key; by default for the last three days."""
        now = datetime.now(UTC)
        request = replace(VALID_REQUEST, start=now - timedelta(days=3), end=now, **changes)
        return signed_message(request, self.keys[request.agency])

    def audit_rows(self) -> list[dict[str, Any]]:
        return [
            dict(r, details=json.loads(r["details"]))
            for r in export_rows(self.data_dir / "audit.sqlite")
        ]

    def rows_of(self, request_id: str) -> list[dict[str, Any]]:
        return [r for r in self.audit_rows() if r["details"].get("request_id") == request_id]

    def query_row(self, request_id: str) -> dict[str, Any]:
        rows = self.rows_of(request_id)
        assert len(rows) == 1, rows
        return rows[0]


@pytest.fixture(scope="module")
def unit(tmp_path_factory) -> Iterator[Unit]:
    root = tmp_path_factory.mktemp("query-unit")
    ca = CertificateAuthority(root / "pki", "agencies")
    brokers = {name: MosquittoBroker(root / "brokers", name, ca) for name in AGENCIES}
    unlisted = MosquittoBroker(root / "brokers", "unlisted", ca)
    for broker in (*brokers.values(), unlisted):
        broker.start()
    keys = {name: Ed25519PrivateKey.generate() for name in AGENCIES}
    agencies = root / "agencies.toml"
    agencies.write_text(
        "".join(
            agency_toml(
                brokers[name],
                name,
                ori=ori,
                receives=RECEIVES[name],
                extra=f'query_key = "{public_key_text(keys[name].public_key())}"',
            )
            for name, ori in AGENCIES.items()
        )
    )
    (root / "query-policy.toml").write_text(POLICY)
    now = datetime.now(UTC)
    store = store_with(
        root / "store",
        [
            Seen("7ABC123", now - timedelta(hours=30), "cam-north", hit=True),
            Seen("7ABC123", now - timedelta(hours=5), "cam-north"),
            Seen("5XYZ987", now - timedelta(hours=2), "cam-north"),
        ],
    )
    settings = replace(
        quiet_unit_settings(agencies, root / "share"), query_policy=root / "query-policy.toml"
    )
    sharing = Sharing(settings)
    attach_queries(sharing, store)
    sharing.start()
    clients = {name: AgencyClient(brokers[name], f"{name}-dispatch") for name in AGENCIES}
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not all(
            b.clients_connected("unit-1") for b in brokers.values()
        ):
            time.sleep(0.05)
        yield Unit(sharing, keys, clients, brokers, unlisted, settings.data_dir)
    finally:
        for client in clients.values():
            client.close()
        sharing.close()
        store.close()
        for broker in (*brokers.values(), unlisted):
            broker.stop()


def request_id_of(payload: bytes) -> str:
    return json.loads(payload)["query"]["request_id"]


def test_valid_signed_query_is_answered_on_the_agencys_own_broker(unit):
    payload = unit.message()
    answer = unit.clients["oakland-pd"].ask(payload)
    assert answer["decision"] == "answered", answer
    assert [r["plate"] for r in answer["results"]] == ["7ABC123", "7ABC123"]
    assert set(answer["results"][0]) == {"plate", "state", "seen_at", "camera_id"}
    assert answer["request_id"] == request_id_of(payload)
    row = unit.query_row(request_id_of(payload))
    # Civ. Code 1798.90.52(a): when, which plate, who and for which agency, why.
    assert row["at"] and row["data_elements"] == "7ABC123"
    assert (row["username"], row["user_agency"], row["purpose"]) == (
        "Sgt. J. Smith #1234",
        "oakland-pd",
        "stolen-vehicle",
    )
    assert (row["destination"], row["record_count"]) == ("oakland-pd", 2)
    assert row["details"]["case_number"] == "24-001234"
    assert row["details"]["query_decision"] == "answered"
    assert "Received SUBSCRIBE from unit-1" in unit.brokers["oakland-pd"].log_text()


def test_replayed_query_is_refused(unit):
    payload = unit.message()
    assert unit.clients["oakland-pd"].ask(payload)["decision"] == "answered"
    again = unit.clients["oakland-pd"].ask(payload)
    assert (again["decision"], again["reason"]) == ("refused", "replayed")
    assert "results" not in again


def test_query_over_oakland_broker_claiming_to_be_chp_is_refused(unit):
    payload = unit.message(agency="chp")  # properly signed by CHP's key, sent over Oakland's
    answer = unit.clients["oakland-pd"].ask(payload)
    assert (answer["decision"], answer["reason"]) == ("refused", "agency_mismatch")
    row = unit.query_row(request_id_of(payload))
    assert row["destination"] == "oakland-pd" and row["record_count"] == 0


@pytest.mark.parametrize("beneficiary", ["nypd", "ice-ero", "fbi"])
def test_chp_on_behalf_of_an_out_of_state_or_federal_agency_is_refused(unit, beneficiary):
    payload = unit.message(agency="chp", on_behalf_of=beneficiary)
    answer = unit.clients["chp"].ask(payload)
    assert (answer["decision"], answer["reason"]) == ("refused", "on_behalf_of_not_allowed")
    assert unit.query_row(request_id_of(payload))["details"]["on_behalf_of"] == beneficiary


@pytest.mark.parametrize("change", [{"purpose": "immigration enforcement"}, {"reason": "ICE case"}])
def test_immigration_purpose_or_ice_reason_is_refused(unit, change):
    payload = unit.message(agency="chp", **change)
    answer = unit.clients["chp"].ask(payload)
    assert (answer["decision"], answer["reason"]) == ("refused", "prohibited_purpose")
    assert "immigration enforcement" in answer["detail"]


def test_missing_case_number_is_refused(unit):
    payload = unit.message(case_number="")
    answer = unit.clients["oakland-pd"].ask(payload)
    assert (answer["decision"], answer["reason"]) == ("refused", "case_number_missing")


def test_queries_beyond_the_hourly_limit_are_refused(unit):
    sfpd = unit.clients["sfpd"]
    sent = [sfpd.send(unit.message(agency="sfpd")) for _ in range(8)]
    decisions = [sfpd.answer(c).get("reason", "answered") for c in sent]
    assert decisions == ["answered"] * 6 + ["rate_limited"] * 2


def test_query_without_a_response_topic_is_still_logged(unit):
    payload = unit.message()
    unit.clients["oakland-pd"].send(payload, with_reply_topic=False)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not unit.rows_of(request_id_of(payload)):
        time.sleep(0.05)
    row = unit.query_row(request_id_of(payload))
    assert (row["event"], row["decision"], row["record_count"]) == ("query", "allowed", 2)


def test_query_on_a_broker_that_is_not_allow_listed_is_never_read(unit):
    stranger = AgencyClient(unit.unlisted, "stranger-dispatch")
    try:
        payload = unit.message()
        stranger.send(payload)
        time.sleep(1.0)
        assert not stranger.replies
    finally:
        stranger.close()
    assert unit.unlisted.clients_connected("unit-1") == 0, unit.unlisted.log_text()
    assert not unit.rows_of(request_id_of(payload))


def cli_query(unit: Unit, tmp_path: Path, key_file: Path, *extra: str) -> int:
    broker = unit.brokers["oakland-pd"]
    tls = broker.ca.issue("oakland-cli")
    return main(
        [
            "query",
            f"--broker={broker.url}",
            f"--ca-cert={broker.ca.cert}",
            f"--client-cert={tls.cert}",
            f"--client-key={tls.key}",
            "--unit=unit-1",
            f"--key={key_file}",
            "--agency=oakland-pd",
            "--user=Officer A. Jones #77",
            "--plate=7abc-12?",
            "--case=26-000123",
            "--purpose=stolen-vehicle",
            "--reason=car reported stolen from Lake Merritt",
            *extra,
        ]
    )


def test_alpr_edge_query_signs_sends_and_prints_the_answer(unit, tmp_path, capsys):
    key_file = tmp_path / "oakland.key"
    key_file.write_bytes(
        unit.keys["oakland-pd"].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    assert cli_query(unit, tmp_path, key_file) == 0
    out = capsys.readouterr().out
    assert "answered" in out and out.count("plate=7ABC123") == 2 and "2 reads" in out


def test_alpr_edge_query_with_a_key_the_unit_does_not_know_is_refused(unit, tmp_path, capsys):
    assert main(["keys", "generate", "--out", str(tmp_path / "new.key")]) == 0
    assert 'query_key = "' in capsys.readouterr().out
    assert cli_query(unit, tmp_path, tmp_path / "new.key", "--json") == 1
    assert json.loads(capsys.readouterr().out)["reason"] == "bad_signature"
