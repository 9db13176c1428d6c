"""The pipeline's commands on bad input, and the ones that need no models."""

import json
import sqlite3
import subprocess
import sys
from datetime import datetime

import pytest

from edge.cli import main
from edge.clock import UTC
from edge.config.schema import AUDIT_FILE
from edge.lab.demo import TruthVehicle, compare
from edge.runtime.pipeline.search_areas import merge_overlapping, window_around
from edge.runtime.store import ReadStore, StoredHit, StoredRead
from edge.runtime.types import Box, HotlistHit, VehicleRead


def alpr(*args):
    return subprocess.run(
        [sys.executable, "-m", "edge", *map(str, args)], capture_output=True, text=True
    )


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "edge.toml"
    path.write_text('[camera]\nid = "test-cam"\n[store]\ndata_dir = "data"\n')
    return path


def test_run_with_a_config_error_names_file_and_key_and_exits_2(tmp_path):
    bad = tmp_path / "edge.toml"
    bad.write_text("[track]\nmin_reads = 0\n")
    result = alpr("run", "--config", bad)
    assert result.returncode == 2
    assert f"{bad}: track.min_reads: must be >= 1" in result.stderr


def test_run_with_an_unreadable_source_names_it_and_exits_2(config, tmp_path):
    result = alpr("run", "--config", config, "--source", tmp_path / "gone.mp4")
    assert result.returncode == 2
    assert "gone.mp4" in result.stderr and "Traceback" not in result.stderr


def test_read_of_a_missing_image_names_it_and_exits_2(config, tmp_path):
    result = alpr("read", "--config", config, tmp_path / "nothing.jpg")
    assert result.returncode == 2
    assert "nothing.jpg" in result.stderr


def test_hotlist_import_then_reads_search_show_hits(config, tmp_path, capsys):
    csv = tmp_path / "wanted.csv"
    csv.write_text("plate,state,reason,source,expiry\n7ABC123,CA,stolen,CHP,2099-01-01\n")
    assert main(["hotlist", "import", "--config", str(config), str(csv)]) == 0
    store = ReadStore(tmp_path / "data")
    hotlist_id = store.db["hotlist"].get(1)["id"]
    read = VehicleRead("7ABC123", "CA", 0.97, datetime.now(UTC), "test-cam", Box(1, 2, 3, 4), 9)
    store.add_read(read, None, [HotlistHit(hotlist_id, "7ABC123", "CA", "stolen", "CHP", 0)])
    store.close()
    capsys.readouterr()
    search = ["reads", "search", "--config", str(config), "--plate", "7AB*", "--since", "1h"]
    assert main([*search, "--purpose", "stolen vehicle report 24-0113"]) == 0
    assert "7ABC123 (stolen)" in capsys.readouterr().out
    assert main(["reads", "list", "--config", str(config), "--json", "--purpose", "audit"]) == 0
    (row,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert row["plate"] == "7ABC123" and row["hits"][0]["reason"] == "stolen"


def test_every_local_search_of_reads_is_audited_with_user_purpose_and_plates(config, tmp_path):
    store = ReadStore(tmp_path / "data")
    store.add_read(
        VehicleRead("8XYZ456", "CA", 0.9, datetime.now(UTC), "test-cam", Box(1, 2, 3, 4), 5),
        None,
        [],
    )
    store.close()
    args = ["reads", "search", "--config", str(config), "--plate", "8XY*"]
    assert main([*args, "--purpose", "hit-and-run case 24-77", "--user", "officer.lee"]) == 0
    with sqlite3.connect(tmp_path / "data" / AUDIT_FILE) as audit:
        (row,) = audit.execute(
            "SELECT username, purpose, data_elements, record_count FROM audit"
            " WHERE event = 'search'"
        ).fetchall()
    assert row == ("officer.lee", "hit-and-run case 24-77", "8XYZ456", 1)


def test_reads_search_without_a_purpose_is_refused_with_exit_2(config):
    result = alpr("reads", "search", "--config", config, "--plate", "X")
    assert result.returncode == 2
    assert "--purpose" in result.stderr


def test_reads_search_rejects_a_bad_time_with_exit_2(config):
    result = alpr(
        "reads",
        "search",
        "--config",
        config,
        "--plate",
        "X",
        "--since",
        "yesterday",
        "--purpose",
        "test",
    )
    assert result.returncode == 2
    assert "yesterday" in result.stderr


def test_config_describe_lists_every_section():
    result = alpr("config", "describe")
    assert result.returncode == 0
    for section in ("[camera]", "[motion]", "[detector]", "[ocr]", "[track]", "[store]"):
        assert section in result.stdout


def stored(plate: str, hits: int) -> StoredRead:
    read = VehicleRead(plate, "CA", 0.9, datetime.now(UTC), "cam", Box(0, 0, 1, 1), 3)
    hit = StoredHit(1, 1, HotlistHit(1, plate, "CA", "stolen", "CHP", 0))
    return StoredRead(1, read, (hit,) * hits)


def test_demo_comparison_flags_misses_duplicates_phantoms_and_missed_hits():
    truth = [
        TruthVehicle(1, "7ABC123", "CA", True, 20),
        TruthVehicle(2, "8XYZ999", "CA", False, 20),
        TruthVehicle(3, "5FAR000", "CA", False, 1),  # never readable: not counted
    ]
    good = compare(truth, [stored("7ABC123", 1), stored("8XYZ999", 0)])
    assert good.passed and good.share_exact == 1.0
    bad = compare(
        truth,
        [
            stored("7ABC123", 0),
            stored("8XYZ999", 0),
            stored("8XYZ999", 0),
            stored("8XYZ990", 0),
        ],
    )
    assert not bad.passed
    assert [v.id for v in bad.duplicates] == [2]
    assert [r.read.plate for r in bad.phantoms] == ["8XYZ990"]
    assert [v.id for v in bad.missed_hits] == [1]


def test_search_windows_follow_plates_and_merge_when_they_overlap():
    frame_w, frame_h = 1280, 720
    window = window_around(Box(600, 400, 100, 50), frame_w, frame_h)
    assert window == Box(550, 350, 200, 150)
    assert window_around(Box(1250, 700, 100, 50), frame_w, frame_h) == Box(1200, 650, 80, 70)
    apart = [Box(0, 0, 100, 100), Box(500, 500, 100, 100)]
    assert merge_overlapping(apart) == apart
    touching = [Box(0, 0, 100, 100), Box(50, 50, 100, 100), Box(140, 140, 20, 20)]
    assert merge_overlapping(touching) == [Box(0, 0, 160, 160)]
