import csv
import io
import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from edge.audit.access import record_search
from edge.audit.export import export_rows, write_export
from edge.audit.log import AuditEvent, AuditLog, ChainHead, verify
from edge.clock import UTC
from edge.config import load_config


def event(n: int, destination: str = "oakland-pd") -> AuditEvent:
    return AuditEvent(
        event="share",
        decision="allowed",
        reason="allow-listed",
        username=f"agency:{destination}",
        user_agency="CA0010900",
        purpose="hotlist alerts",
        data_elements=f"7ABC{n:03d}",
        destination=destination,
        message_id=f"m{n}",
        record_count=1,
        allowlist_sha256="ab" * 32,
    )


@pytest.fixture
def log_path(tmp_path):
    path = tmp_path / "audit.sqlite"
    audit = AuditLog(path)
    for n in range(1, 7):
        audit.record(event(n, "oakland-pd" if n % 2 else "alameda-so"))
    audit.close()
    return path


def tamper(path, *statements):
    """What an attacker with plain SQLite can do: drop the triggers, then rewrite."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_no_update")
    conn.execute("DROP TRIGGER audit_no_delete")
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()


def chain_break(path):
    breaks = [b for b in verify(path).breaks if b.seq]
    assert len(breaks) == 1
    return breaks[0]


def test_intact_chain_verifies_and_links_every_row(log_path):
    result = verify(log_path)
    assert result.ok and result.rows == 6 and result.head.seq == 6


def test_update_and_delete_are_refused_by_triggers(log_path):
    conn = sqlite3.connect(log_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("UPDATE audit SET data_elements = 'X' WHERE seq = 2")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit WHERE seq = 2")
    conn.close()


def test_edited_row_is_named_by_verify(log_path):
    tamper(log_path, "UPDATE audit SET destination = 'ice' WHERE seq = 3")
    result = verify(log_path)
    assert not result.ok
    assert any("trigger audit_no_update is missing" in b.problem for b in result.breaks)
    broken = chain_break(log_path)
    assert broken.seq == 3 and "edited" in broken.problem


def test_deleted_row_is_found_at_the_next_row(log_path):
    tamper(log_path, "DELETE FROM audit WHERE seq = 4")
    broken = chain_break(log_path)
    assert broken.seq == 5 and "deleted" in broken.problem


def test_inserted_row_is_found(log_path):
    conn = sqlite3.connect(log_path)
    row = conn.execute("SELECT * FROM audit WHERE seq = 6").fetchone()
    conn.execute("INSERT INTO audit VALUES (" + ",".join("?" * len(row)) + ")", (7, *row[1:]))
    conn.commit()
    conn.close()
    broken = chain_break(log_path)
    assert broken.seq == 7 and "does not link to row 6" in broken.problem


def test_reordered_rows_are_found(log_path):
    tamper(
        log_path,
        "UPDATE audit SET seq = 100 WHERE seq = 2",
        "UPDATE audit SET seq = 2 WHERE seq = 3",
        "UPDATE audit SET seq = 3 WHERE seq = 100",
    )
    assert chain_break(log_path).seq == 2


def test_truncated_log_is_caught_by_a_published_head(log_path):
    published = verify(log_path).head
    tamper(log_path, "DELETE FROM audit WHERE seq = 6")
    # A cut at the end leaves a consistent (shorter) chain: only the published head shows it.
    assert not [b for b in verify(log_path).breaks if b.seq]
    result = verify(log_path, ChainHead(published.seq, published.row_hash, None))
    assert any(b.seq == 6 and "published head" in b.problem for b in result.breaks)


def test_export_filters_by_time_and_agency_in_csv_and_jsonl(log_path):
    now = datetime.now(UTC)
    rows = list(
        export_rows(log_path, now - timedelta(hours=1), now + timedelta(hours=1), "alameda-so")
    )
    assert [r["seq"] for r in rows] == [2, 4, 6]
    assert list(export_rows(log_path, now + timedelta(hours=1))) == []
    out = io.StringIO()
    assert write_export(iter(rows), out, "csv") == 3
    parsed = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert parsed[0]["data_elements"] == "7ABC002" and parsed[0]["row_hash"]
    out = io.StringIO()
    write_export(iter(rows), out, "jsonl")
    assert [json.loads(line)["message_id"] for line in out.getvalue().splitlines()] == [
        "m2",
        "m4",
        "m6",
    ]


def cli(*args):
    return subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=60
    )


def test_audit_cli_verifies_exports_and_records_each_access(log_path, tmp_path):
    ok = cli("audit", "verify", "--audit-log", str(log_path))
    assert ok.returncode == 0, ok.stderr
    assert "6 rows, chain intact" in ok.stdout
    head = verify(log_path).head
    held = cli("audit", "verify", "--audit-log", str(log_path), "--head", f"3:{'0' * 64}")
    assert (
        held.returncode == 1 and "BROKEN row 3: the published head is not in the log" in held.stdout
    )
    assert (
        cli(
            "audit", "verify", "--audit-log", str(log_path), "--head", f"{head.seq}:{head.row_hash}"
        ).returncode
        == 0
    )
    assert cli("audit", "verify", "--audit-log", str(log_path), "--head", "six").returncode == 2
    out = tmp_path / "export.jsonl"
    exported = cli(
        "audit",
        "export",
        "--audit-log",
        str(log_path),
        "--from",
        "2000-01-01",
        "--agency",
        "oakland-pd",
        "--format",
        "jsonl",
        "--output",
        str(out),
    )
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["seq"] for line in out.read_text().splitlines()] == [1, 3, 5]
    events = [r["event"] for r in export_rows(log_path)]
    assert events[-2:] == ["audit_verify", "audit_export"]
    tamper(log_path, "UPDATE audit SET data_elements = '8XYZ999' WHERE seq = 5")
    broken = cli("audit", "verify", "--audit-log", str(log_path))
    assert broken.returncode == 1
    assert "BROKEN row 5: its content does not match its hash" in broken.stdout
    bad = cli("audit", "export", "--audit-log", str(log_path), "--from", "yesterday")
    assert bad.returncode == 2 and "not an ISO date" in bad.stderr


def test_local_search_is_audited_with_its_purpose_even_when_nothing_is_shared(tmp_path):
    config_file = tmp_path / "edge.toml"
    config_file.write_text('[store]\ndata_dir = "data"\n')
    config = load_config(config_file)
    record_search(
        config.audit_file,
        user="officer.lee",
        user_agency="",
        purpose="stolen-vehicle case 24-001234",
        criteria={"plate": "7ABC*", "since": "2026-11-01"},
        plates=["7ABC123", "7ABC124", "7ABC123"],
    )
    assert config.audit_file == tmp_path / "data" / "audit.sqlite"
    exported = cli("audit", "export", "--config", str(config_file), "--format", "jsonl")
    assert exported.returncode == 0, exported.stderr
    [search] = [json.loads(line) for line in exported.stdout.splitlines()]
    assert search["event"] == "search" and search["username"] == "officer.lee"
    assert search["purpose"] == "stolen-vehicle case 24-001234"
    assert search["data_elements"] == "7ABC123,7ABC124" and search["record_count"] == 3
    assert json.loads(search["details"])["criteria"]["plate"] == "7ABC*"


def test_text_with_lone_surrogates_is_audited_escaped_not_refused(tmp_path):
    audit = AuditLog(tmp_path / "audit.sqlite")
    audit.record(replace(event(1), reason="bad \ud800 text", data_elements="7AB\udfff"))
    audit.close()
    [row] = export_rows(tmp_path / "audit.sqlite")
    assert row["reason"] == "bad \\ud800 text" and row["data_elements"] == "7AB\\udfff"
    assert verify(tmp_path / "audit.sqlite").ok
