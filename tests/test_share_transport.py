"""Sharing over real Mosquitto brokers with mutual TLS on 127.0.0.x (see tests/brokers.py)."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from brokers import CertificateAuthority, agency_toml
from conftest import REPO_ROOT
from share_publisher import synthetic_read

from edge.audit.export import export_rows
from edge.audit.log import ChainHead, verify
from edge.config import SharingConfig
from edge.config.allowlist import Broker
from edge.share.messages import QUERY_RESPONSE, Outgoing, query_topic
from edge.share.mqtt.client import request
from edge.share.service import Sharing

PUBLISHER = Path(__file__).with_name("share_publisher.py")


def settings(tmp_path: Path, agencies: str, **overrides) -> SharingConfig:
    path = tmp_path / "agencies.toml"
    path.write_text(agencies)
    values = {
        "agencies_file": path,
        "data_dir": tmp_path / "share",
        "unit_id": "unit-1",
        "operator_agency": "CA0019999",
        "heartbeat_interval_s": 3600,
        "audit_head_interval_s": 3600,
    } | overrides
    return SharingConfig(**values)


def share_rows(
    data_dir: Path, agency: str, kinds=("read", "hit", "heartbeat", "audit_head")
) -> list[dict]:
    return [
        r
        for r in export_rows(data_dir / "audit.sqlite")
        if r["event"] == "share"
        and r["destination"] == agency
        and r["decision"] == "allowed"
        and json.loads(r["details"])["kind"] in kinds
    ]


def ids_of(subscriber, schema: str) -> list[str]:
    return [d["id"] for d in subscriber.of_schema(schema)]


def test_two_allowlisted_brokers_get_every_read_and_the_unlisted_one_no_connection(
    tmp_path, broker_factory, subscriber_factory
):
    oakland, alameda, federal = (broker_factory(n) for n in ("oakland", "alameda", "unlisted"))
    agencies = agency_toml(oakland, "oakland-pd") + agency_toml(
        alameda, "alameda-so", ori="CA0010000", receives=("hits",)
    )
    inbox = {
        "oakland-pd": subscriber_factory(oakland, "oakland-dispatch"),
        "alameda-so": subscriber_factory(alameda, "alameda-dispatch"),
    }
    config = settings(tmp_path, agencies, audit_head_interval_s=0.5, heartbeat_interval_s=0.5)
    with Sharing(config) as sharing:
        for read_id in range(20):
            sharing.on_read(read_id, *synthetic_read(read_id))
        assert inbox["oakland-pd"].wait_for(lambda s: len(s.of_schema("alpr-edge/read/1")) == 20)
        assert inbox["alameda-so"].wait_for(lambda s: len(s.of_schema("alpr-edge/hit/1")) == 4)
        assert all(
            s.wait_for(lambda s: s.of_schema("alpr-edge/audit_head/1")) for s in inbox.values()
        )
        assert inbox["oakland-pd"].wait_for(lambda s: s.of_schema("alpr-edge/heartbeat/1"))
        assert inbox["oakland-pd"].wait_for(lambda s: sharing.outbox.depth() == 0)

    oakland_reads = inbox["oakland-pd"].of_schema("alpr-edge/read/1")
    assert [d["read"]["read_id"] for d in oakland_reads] == list(range(20))
    hits = inbox["alameda-so"].of_schema("alpr-edge/hit/1")
    assert [d["read"]["read_id"] for d in hits] == [0, 5, 10, 15]
    assert hits[0]["hits"][0]["reason"] == "stolen vehicle"
    assert not inbox["alameda-so"].of_schema("alpr-edge/read/1"), "alameda-so receives hits only"
    assert not inbox["alameda-so"].of_schema("alpr-edge/heartbeat/1"), "not opted in"
    # Exactly one audit row per delivered message, and none for anything not delivered.
    for agency, subscriber in inbox.items():
        audited = Counter(r["message_id"] for r in share_rows(config.data_dir, agency))
        assert subscriber.wait_for(
            lambda s, audited=audited: (
                audited == Counter(m.document["id"] for m in s.messages if "id" in m.document)
            )
        )
    # An agency holding a published chain head can check the unit's log against it.
    head = inbox["alameda-so"].of_schema("alpr-edge/audit_head/1")[-1]["audit"]
    published = ChainHead(head["seq"], head["hash"], head["at"])
    assert verify(config.data_dir / "audit.sqlite", published).ok

    # The goodbye is published as sharing closes and reaches the subscriber a moment later.
    def statuses(s):
        return [m.document["status"] for m in s.messages if m.topic == "alpr/v1/unit-1/status"]

    assert inbox["oakland-pd"].wait_for(lambda s: len(statuses(s)) >= 2)
    assert statuses(inbox["oakland-pd"]) == ["online", "offline"]
    # Every message says it is JSON, the status ones too (`offline` is the last will).
    received = inbox["oakland-pd"].messages
    assert {getattr(m.properties, "ContentType", None) for m in received} == {"application/json"}
    assert federal.connection_count() == 0, federal.log_text()
    assert oakland.clients_connected("unit-1") == 1
    assert verify(config.data_dir / "audit.sqlite").ok


@pytest.mark.parametrize(
    ("impostor", "error"),
    [
        ("wrong CA", "CERTIFICATE_VERIFY_FAILED"),
        ("wrong address", "IP address mismatch"),
        ("revoked", "certificate revoked"),
    ],
)
def test_broker_that_cannot_prove_its_identity_gets_no_connection_and_is_audited(
    tmp_path, broker_factory, certificate_authority, impostor, error
):
    if impostor == "wrong CA":
        # The unit trusts the agency's CA; the broker shows a certificate from another CA.
        other_ca = CertificateAuthority(tmp_path / "impostor-pki", "impostor")
        broker = broker_factory("impostor", ca=other_ca)
        agencies = agency_toml(broker, "oakland-pd", ca_cert=certificate_authority.cert)
    elif impostor == "wrong address":
        # Signed by the right CA, but for another host: the hostname check refuses it.
        broker = broker_factory("impostor", certificate_ip="127.0.0.254")
        agencies = agency_toml(broker, "oakland-pd")
    else:
        # The agency revoked the broker's certificate (stolen key) and published its CRL.
        broker = broker_factory("impostor")
        crl = certificate_authority.revocation_list([broker.server.cert])
        agencies = agency_toml(broker, "oakland-pd", extra=f'crl = "{crl}"')
    config = settings(tmp_path, agencies)
    with Sharing(config) as sharing:
        sharing.on_read(1, *synthetic_read(1))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _rows(config, "connect_failed"):
            time.sleep(0.05)
        assert sharing.outbox.depth() == 1, "kept for a broker that proves who it is"
    [failure] = _rows(config, "connect_failed")
    assert error in failure["reason"]
    assert failure["destination"] == "oakland-pd"
    assert not _rows(config, "connect")
    assert broker.clients_connected("unit-1") == 0


def _rows(config, event):
    return [r for r in export_rows(config.data_dir / "audit.sqlite") if r["event"] == event]


def _publisher(config: SharingConfig, first: int, count: int, interval: float):
    return subprocess.Popen(
        [
            sys.executable,
            str(PUBLISHER),
            str(config.agencies_file),
            str(config.data_dir),
            str(first),
            str(count),
            str(interval),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
        env=os.environ | {"PYTHONPATH": f"{REPO_ROOT}{os.pathsep}{PUBLISHER.parent}"},
    )


def _read_until(process: subprocess.Popen, line: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = process.stdout.readline().strip()
        if got == line:
            return
        if not got and process.poll() is not None:
            break
    raise AssertionError(f"publisher never printed {line!r}")


def test_broker_restart_and_sigkilled_unit_lose_nothing_and_keep_order(tmp_path, agency_pair):
    oakland, inbox = agency_pair.brokers["oakland-pd"], agency_pair.inbox
    config = settings(tmp_path, agency_pair.allowlist)

    first = _publisher(config, 0, 60, 0.03)
    _read_until(first, "queued 10")
    oakland.stop()  # mid-stream: the oakland queue grows while alameda keeps receiving
    _read_until(first, "queued 40")
    first.send_signal(signal.SIGKILL)  # power cut: no clean shutdown, no flush
    first.wait()
    oakland.start()
    second = _publisher(config, 60, 10, 0.0)
    _read_until(second, "drained", timeout=60)
    second.wait(10)

    for agency, subscriber in inbox.items():
        rows = share_rows(config.data_dir, agency, kinds=("read", "hit"))
        audited = [r["message_id"] for r in rows]
        handed = {f"7ABC{n:03d}" for n in [*range(41), *range(60, 70)]}
        assert {r["data_elements"] for r in rows} >= handed, "every read handed over was queued"
        assert subscriber.wait_for(
            lambda s, want=set(audited): (
                set(ids_of(s, "alpr-edge/read/1")) | set(ids_of(s, "alpr-edge/hit/1")) >= want
            )
        )
        received = [m.document for m in subscriber.messages if m.topic.endswith(("reads", "hits"))]
        counts = Counter(d["id"] for d in received)
        assert set(counts) == set(audited), "nothing delivered that was not audited"
        # QoS 1: only the one message in flight at a cut may arrive twice (same id, so the
        # agency drops it); never more than one per disruption.
        assert sum(counts.values()) - len(counts) <= 2, counts.most_common(3)
        first_seen = list(dict.fromkeys((d["schema"], d["read"]["read_id"]) for d in received))
        for schema in ("alpr-edge/read/1", "alpr-edge/hit/1"):
            order = [read_id for s, read_id in first_seen if s == schema]
            assert order == sorted(order), f"{agency} {schema} out of order"
    assert verify(config.data_dir / "audit.sqlite").ok


def test_agency_query_arrives_with_its_agency_and_is_answered_through_the_gate(
    tmp_path, broker_factory, certificate_authority
):
    oakland = broker_factory("oakland")
    config = settings(tmp_path, agency_toml(oakland, "oakland-pd"))
    sharing = Sharing(config)
    seen = []

    def answer(query):
        seen.append(query.agency_id)
        sharing.gate.send(
            query.agency_id,
            Outgoing(
                kind=QUERY_RESPONSE,
                body={"echo": query.payload.decode()},
                reply_topic=query.response_topic,
                correlation_data=query.correlation_data,
                username="Sgt. J. Smith #1234",
                user_agency="CA0010900",
                purpose="stolen-vehicle",
                data_elements="7ABC123",
            ),
        )

    sharing.set_query_handler(answer)
    investigator = certificate_authority.issue("oakland-investigator")
    with sharing:
        subscribed = f"unit-1 1 {query_topic('unit-1')}"
        deadline = time.monotonic() + 10
        while subscribed not in oakland.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        reply = request(
            Broker(oakland.host, oakland.port, tls=True),
            query_topic("unit-1"),
            b"was 7ABC123 seen?",
            ca_cert=certificate_authority.cert,
            client_cert=investigator.cert,
            client_key=investigator.key,
        )
    document = json.loads(reply)
    assert document["echo"] == "was 7ABC123 seen?"
    assert document["schema"] == "alpr-edge/query_response/1"
    assert seen == ["oakland-pd"]
    [row] = share_rows(config.data_dir, "oakland-pd", kinds=("query_response",))
    assert row["username"] == "Sgt. J. Smith #1234" and row["message_id"] == document["id"]


def test_agency_removed_while_its_broker_is_down_gets_nothing_more_and_each_drop_is_audited(
    tmp_path, broker_factory, subscriber_factory
):
    oakland, alameda = broker_factory("oakland"), broker_factory("alameda")
    config = settings(
        tmp_path, agency_toml(oakland, "oakland-pd") + agency_toml(alameda, "alameda-so")
    )
    inbox = subscriber_factory(oakland, "oakland-dispatch")
    with Sharing(config) as sharing:
        assert inbox.wait_for(lambda s: s.of_schema("alpr-edge/audit_head/1"))
        oakland.stop()
        queued = [mid for n in (1, 2, 3) for mid in sharing.on_read(n, *synthetic_read(n))]
        stranded = set(queued) & {q.message_id for q in sharing.outbox.queued("oakland-pd")}
        assert len(stranded) == 3
        config.agencies_file.write_text(agency_toml(alameda, "alameda-so"))
        assert sharing.reload_allowlist()
        oakland.start()
        time.sleep(2)  # several reconnect attempts' worth: none may come
        assert len(sharing.on_read(4, *synthetic_read(4))) == 1, "alameda only"
    drops = _rows(config, "drop")
    assert {r["message_id"] for r in drops} == stranded
    assert all(r["destination"] == "oakland-pd" and "no longer" in r["reason"] for r in drops)
    assert oakland.clients_connected("unit-1") == 1, "only the connection before the removal"
    assert not inbox.of_schema("alpr-edge/read/1")


def test_broker_certificate_not_on_the_revocation_list_connects(
    tmp_path, broker_factory, certificate_authority, subscriber_factory
):
    oakland = broker_factory("oakland")
    other = certificate_authority.issue("retired-broker", server_ip="127.0.0.253")
    crl = certificate_authority.revocation_list([other.cert])
    config = settings(tmp_path, agency_toml(oakland, "oakland-pd", extra=f'crl = "{crl}"'))
    inbox = subscriber_factory(oakland, "oakland-dispatch")
    with Sharing(config) as sharing:
        sharing.on_read(1, *synthetic_read(1))
        assert inbox.wait_for(lambda s: s.of_schema("alpr-edge/read/1"))
    assert not _rows(config, "connect_failed")
