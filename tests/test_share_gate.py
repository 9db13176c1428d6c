import json
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from edge.audit.export import export_rows
from edge.audit.log import AuditLog, verify
from edge.clock import UTC
from edge.config import SharingConfig
from edge.config.allowlist import Agency, AllowList, Broker
from edge.runtime.types import Box, VehicleRead
from edge.share.gate import EgressGate
from edge.share.messages import HEARTBEAT, QUERY_RESPONSE, Outgoing, read_message
from edge.share.outbox import Outbox
from edge.share.service import Sharing

TODAY = date(2026, 11, 25)
READ = VehicleRead(
    plate="7ABC123",
    region="CA",
    confidence=0.97,
    seen_at=datetime(2026, 11, 25, 14, 0, tzinfo=UTC),
    camera_id="cam-1",
    box=Box(1, 2, 3, 4),
    frame_count=5,
)


def agency(agency_id: str, expires: date = date(2027, 1, 1), receives=("reads",)) -> Agency:
    return Agency(
        id=agency_id,
        name=agency_id,
        ori="CA0010900",
        kind="city_police",
        state="CA",
        purpose="MOU 14",
        broker=Broker(f"{agency_id}.example.ca.gov", 8883, True),
        ca_cert=None,
        client_cert=None,
        client_key=None,
        receives=frozenset(receives),
        expires=expires,
    )


def allowlist(*agencies: Agency, sha: str = "a" * 64) -> AllowList:
    return AllowList(source="agencies.toml", sha256=sha, demo=False, agencies=agencies)


@pytest.fixture
def gate(tmp_path):
    audit = AuditLog(tmp_path / "audit.sqlite")
    gate = EgressGate(
        audit, Outbox(audit, tmp_path / "outbox.sqlite"), "unit-1", "CA0019999", today=lambda: TODAY
    )
    yield gate
    audit.close()


def rows(gate, event=None):
    return [r for r in export_rows(gate.audit.path) if event is None or r["event"] == event]


def test_allowed_message_is_audited_and_queued_with_the_same_id(gate):
    gate.apply_allowlist(allowlist(agency("oakland-pd")))
    woken = []
    gate.on_queued(woken.append)
    message_id = gate.send("oakland-pd", read_message(41, READ))
    [row] = rows(gate, "share")
    assert row["message_id"] == message_id and row["decision"] == "allowed"
    assert row["destination"] == "oakland-pd" and row["data_elements"] == "7ABC123"
    assert row["purpose"] == "MOU 14" and row["user_agency"] == "CA0010900"
    assert row["record_count"] == 1 and row["allowlist_sha256"] == "a" * 64
    [queued] = gate.outbox.queued("oakland-pd")
    document = json.loads(queued.payload)
    assert document["id"] == message_id and document["schema"] == "alpr-edge/read/1"
    assert document["read"]["read_id"] == 41 and "crop_path" not in document["read"]
    assert queued.topic == "alpr/v1/unit-1/reads" and queued.audit_seq == gate.audit.head().seq
    assert woken == ["oakland-pd"]


@pytest.mark.parametrize(
    ("agencies", "target", "message", "reason"),
    [
        ((), "oakland-pd", read_message(1, READ), "no valid allow-list"),
        ((agency("sfpd"),), "ice", read_message(1, READ), "not on the allow-list"),
        ((agency("sfpd", expires=TODAY),), "sfpd", read_message(1, READ), "expired on"),
        ((agency("sfpd"),), "sfpd", Outgoing(kind=HEARTBEAT, body={}), "does not receive"),
        (
            (agency("sfpd"),),
            "sfpd",
            Outgoing(kind=QUERY_RESPONSE, body={}, reply_topic="replies/#"),
            "invalid reply topic",
        ),
    ],
)
def test_refused_message_is_audited_and_never_queued(gate, agencies, target, message, reason):
    gate.apply_allowlist(allowlist(*agencies))
    assert gate.send(target, message) is None
    [row] = rows(gate, "share")
    assert row["decision"] == "refused" and reason in row["reason"]
    assert row["destination"] == target
    assert gate.outbox.depth() == 0


def test_audit_write_failure_sends_nothing(gate):
    gate.apply_allowlist(allowlist(agency("oakland-pd")))
    # A full disk, seen from SQLite: every insert into the audit table fails.
    with gate.audit.transaction() as conn:
        conn.execute(
            "CREATE TRIGGER disk_full BEFORE INSERT ON audit "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
    with pytest.raises(sqlite3.IntegrityError, match="disk is full"):
        gate.send("oakland-pd", read_message(1, READ))
    assert gate.outbox.depth() == 0


def test_removed_or_expired_agency_loses_its_queue_and_each_drop_is_audited(gate):
    gate.apply_allowlist(allowlist(agency("oakland-pd"), agency("sfpd"), sha="1" * 64))
    ids = [gate.send(a, read_message(n, READ)) for n in range(3) for a in ("oakland-pd", "sfpd")]
    gate.apply_allowlist(allowlist(agency("sfpd", expires=TODAY), sha="2" * 64))
    drops = rows(gate, "drop")
    assert sorted(r["message_id"] for r in drops) == sorted(ids)
    assert {r["destination"] for r in drops} == {"oakland-pd", "sfpd"}
    assert all(r["allowlist_sha256"] == "2" * 64 for r in drops)
    assert gate.outbox.depth() == 0
    loads = rows(gate, "config_load")
    assert json.loads(loads[-1]["details"])["expired"] == {"sfpd": TODAY.isoformat()}
    assert verify(gate.audit.path).ok


def test_missing_or_invalid_allowlist_shares_nothing_and_a_broken_entry_stops(tmp_path):
    path = tmp_path / "agencies.toml"
    settings = SharingConfig(agencies_file=path, data_dir=tmp_path / "share", unit_id="unit-1")
    with Sharing(settings) as sharing:
        assert sharing.on_read(1, READ) == []
        path.write_text(
            "demo = true\n[[agency]]\n"
            'id = "oakland-pd"\nname = "Oakland PD"\nori = "CA0010900"\nkind = "city_police"\n'
            'state = "CA"\npurpose = "MOU 14"\nbroker = "mqtt://127.0.0.1:9"\n'
            'receives = ["reads"]\nexpires = 2099-01-01\n'
        )
        assert sharing.reload_allowlist()
        assert len(sharing.on_read(2, READ)) == 1
        path.write_text(path.read_text().replace('"CA"', '"NV"'))
        assert not sharing.reload_allowlist()
        # The edit made the entry invalid: it may only narrow, so oakland-pd stops at once.
        assert sharing.allowlist.get("oakland-pd") is None
        assert sharing.on_read(3, READ) == []
    refused = [
        r for r in export_rows(settings.data_dir / "audit.sqlite") if r["decision"] == "refused"
    ]
    assert [r["event"] for r in refused] == ["config_refused", "config_refused"]
    assert "file not found" in refused[0]["reason"] and "not California" in refused[1]["reason"]


KEEP_SENDING = """
import sys
sys.path.insert(0, {tests!r})
from test_share_gate import READ, agency, allowlist
from edge.audit.log import AuditLog
from edge.share.gate import EgressGate
from edge.share.messages import read_message
from edge.share.outbox import Outbox
audit = AuditLog({audit!r})
gate = EgressGate(audit, Outbox(audit, {outbox!r}), "unit-1", "CA0019999")
gate.apply_allowlist(allowlist(agency("oakland-pd"), agency("sfpd")))
print("ready", flush=True)
n = 0
while True:
    gate.send_all([(a, read_message(n, READ)) for a in ("oakland-pd", "sfpd")], read_id=n)
    n += 1
"""


def test_sigkill_mid_commit_leaves_audit_rows_and_queued_messages_matching(tmp_path):
    audit_path, outbox_path = tmp_path / "audit.sqlite", tmp_path / "outbox.sqlite"
    script = KEEP_SENDING.format(
        tests=str(Path(__file__).parent), audit=str(audit_path), outbox=str(outbox_path)
    )
    for attempt in range(5):
        writer = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert writer.stdout.readline().strip() == "ready"
        time.sleep(0.2 + 0.07 * attempt)  # a different moment of the commit each time
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    audit = AuditLog(audit_path)
    outbox = Outbox(audit, outbox_path)  # opening rolls back any half-written transaction
    audited = {r["message_id"] for r in export_rows(audit_path) if r["decision"] == "allowed"}
    queued = {q.message_id for a in ("oakland-pd", "sfpd") for q in outbox.queued(a)}
    audit.close()
    assert audited and audited == queued, "every queued message audited, every audit row queued"
    assert verify(audit_path).ok
