"""`alpr-edge audit report --month`: the transparency report built from a real audit log."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest
from query_support import NOW, VALID_REQUEST, Agencies, responder

from edge.audit.log import verify
from edge.audit.report import month_bounds
from edge.cli import main
from edge.clock import UTC
from edge.runtime.store import ReadStore
from edge.runtime.types import Box, HotlistHit, VehicleRead
from edge.share.messages import HIT, Outgoing

EDGE_TOML = """[store]
data_dir = "store"
retention_days = 21

[sharing]
agencies_file = "agencies.toml"
data_dir = "."
unit_id = "unit-1"
"""


@pytest.fixture
def unit_folder(tmp_path):
    """A unit's files after some queries: 2 answered, 3 refused, one hit shared."""
    agencies = Agencies()
    (tmp_path / "agencies.toml").write_text(agencies.toml())
    (tmp_path / "edge.toml").write_text(EDGE_TOML)
    unit = responder(tmp_path, agencies, [])
    for change in (
        {},
        {"agency": "chp"},
        {"reason": "ICE case"},
        {"on_behalf_of": "nypd"},
        {"case_number": ""},
    ):
        request = replace(VALID_REQUEST, **change)
        unit.handle(request.agency, agencies.message(request), "agency/replies", b"1")
    unit.gate.send("chp", Outgoing(kind=HIT, body={"hit": 1}, data_elements="7ABC123"))
    store = ReadStore(tmp_path / "store", save_crops=False)
    listed = store.db["hotlist"].insert({"plate": "7ABC123", "loaded_at": NOW.isoformat()})
    for plate in ("7ABC123", "5XYZ987", "6DEF456"):
        read = VehicleRead(plate, "CA", 0.9, datetime.now(UTC), "cam-1", Box(0, 0, 9, 3), 4)
        hits = (
            [HotlistHit(listed.last_pk, plate, "CA", "stolen", "NCIC", 0)]
            if plate[0] == "7"
            else []
        )
        store.add_read(read, None, hits)
    store.close()
    return tmp_path


def report(folder, fmt: str, capsys) -> str:
    month = datetime.now(UTC).strftime("%Y-%m")
    code = main(
        [
            "audit",
            "report",
            "--month",
            month,
            "--config",
            str(folder / "edge.toml"),
            "--format",
            fmt,
        ]
    )
    assert code == 0
    return capsys.readouterr().out


def test_json_report_counts_queries_per_agency_purpose_and_refusal_reason(unit_folder, capsys):
    data = json.loads(report(unit_folder, "json", capsys))
    queries = data["queries"]
    assert (queries["answered"], queries["refused"]) == (2, 3)
    assert queries["per_agency"] == {
        "chp": {"answered": 1, "refused": 0},
        "oakland-pd": {"answered": 1, "refused": 3},
    }
    assert queries["refusals_by_reason"] == {
        "case_number_missing": 1,
        "on_behalf_of_not_allowed": 1,
        "prohibited_purpose": 1,
    }
    assert {"purpose": "stolen-vehicle", "decision": "answered", "queries": 2} in queries[
        "per_purpose"
    ]
    assert [a["id"] for a in data["agencies_with_access"]] == ["oakland-pd", "chp", "sfpd"]
    assert (data["activity"]["reads"], data["activity"]["hits"]) == (3, 1)
    assert data["shared_messages"] == [{"agency": "chp", "kind": "hit", "messages": 1}]
    assert data["retention"]["reads_without_hit_days"] == 21
    [load] = data["allowlists_in_force"]
    assert load["active"] == ["oakland-pd", "chp", "sfpd"] and load["sha256"] == "test"
    assert data["audit_chain"]["intact"] is True
    assert data["audit_chain"]["head_seq"] == verify(unit_folder / "audit.sqlite").head.seq - 1


def test_markdown_report_has_every_section_and_the_chain_head(unit_folder, capsys):
    text = report(unit_folder, "markdown", capsys)
    for heading in (
        "## Agencies with access",
        "## Reads and hits",
        "## Queries",
        "### Refusals by reason",
        "## Retention in force",
        "## Prohibited uses",
        "## Audit chain",
    ):
        assert heading in text
    assert "| prohibited_purpose | 1 |" in text
    assert "immigration enforcement (Gov. Code 7284.6)" in text
    assert "chain intact" in text


def test_reading_the_log_for_a_report_is_itself_audited(unit_folder, capsys):
    before = verify(unit_folder / "audit.sqlite").rows
    report(unit_folder, "json", capsys)
    assert verify(unit_folder / "audit.sqlite").rows == before + 1


def test_bad_month_is_refused_with_exit_code_2(unit_folder, capsys):
    code = main(
        ["audit", "report", "--month", "2026-13", "--config", str(unit_folder / "edge.toml")]
    )
    assert code == 2 and "expected YYYY-MM" in capsys.readouterr().err


def test_december_ends_at_the_new_year():
    assert month_bounds("2026-12")[1] == datetime(2027, 1, 1, tzinfo=UTC)
    assert month_bounds(NOW.strftime("%Y-%m"))[0] <= NOW
