"""The sample clip replayed by the real pipeline (`alpr-edge run`) with sharing switched on:
two allow-listed agency brokers receive every read, an unlisted broker sees no connection."""

import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import tomlkit
from conftest import REPO_ROOT

from edge.audit.export import export_rows
from edge.audit.log import verify
from edge.lab.synth.video import HOTLIST_NAME, VIDEO_NAME
from edge.runtime.store import DB_NAME, ReadStore

MODELS = REPO_ROOT / "models"
MODEL_FILES = ("detector.onnx", "ocr.onnx", "ocr_plate_config.yaml")
SAMPLE = REPO_ROOT / "sample_video"


@pytest.fixture(scope="module")
def clip() -> Path:
    """The shipped sample clip (sample_video/), read by the shipped models."""
    missing = [name for name in MODEL_FILES if not (MODELS / name).is_file()]
    if missing:
        pytest.skip(f"trained models not present: {', '.join(missing)} (make models)")
    if not (SAMPLE / VIDEO_NAME).is_file():
        pytest.skip(f"{SAMPLE / VIDEO_NAME} not present (alpr-edge synth video)")
    return SAMPLE


def edge_config(tmp_path: Path, agencies: str) -> Path:
    """config/edge.toml with this test's store, models and a [sharing] table."""
    document = tomlkit.parse((REPO_ROOT / "config" / "edge.toml").read_text())
    document["detector"]["model"] = str(MODELS / "detector.onnx")
    document["ocr"]["model"] = str(MODELS / "ocr.onnx")
    document["ocr"]["plate_config"] = str(MODELS / "ocr_plate_config.yaml")
    document["store"]["data_dir"] = str(tmp_path / "data")
    (tmp_path / "agencies.toml").write_text(agencies)
    sharing = tomlkit.table()
    sharing.update(
        {
            "agencies_file": "agencies.toml",
            "data_dir": "share",
            "unit_id": "unit-1",
            "operator_agency": "CA0019999",
            "drain_on_exit_s": 30,
        }
    )
    document["sharing"] = sharing
    path = tmp_path / "edge.toml"
    path.write_text(tomlkit.dumps(document))
    return path


def alpr_edge(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [sys.executable, "-m", "edge", *args], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_replayed_clip_reaches_both_allowlisted_agencies_and_never_the_unlisted_broker(
    tmp_path, clip, agency_pair, broker_factory
):
    unlisted, inbox = broker_factory("unlisted"), agency_pair.inbox
    config = edge_config(tmp_path, agency_pair.allowlist)
    alpr_edge("hotlist", "import", str(clip / HOTLIST_NAME), "--config", str(config))
    alpr_edge("run", "--config", str(config), "--source", str(clip / VIDEO_NAME))

    store = ReadStore(tmp_path / "data")
    reads = [r.as_row() for r in store.reads(limit=100_000, with_hits=True)]
    hits = [h for r in reads for h in r["hits"]]
    store.close()
    assert reads, "the pipeline read no plates: nothing to prove"
    audit = tmp_path / "share" / "audit.sqlite"
    for agency, subscriber in inbox.items():
        assert subscriber.wait_for(
            lambda s: len(s.of_schema("alpr-edge/read/1")) >= len(reads), timeout=30
        )
        shared = {d["read"]["read_id"]: d["read"] for d in subscriber.of_schema("alpr-edge/read/1")}
        assert shared.keys() == {r["id"] for r in reads}
        assert all(shared[r["id"]]["plate"] == r["plate"] for r in reads)
        hit_reads = {d["read"]["read_id"] for d in subscriber.of_schema("alpr-edge/hit/1")}
        assert hit_reads == {h["read_id"] for h in hits}
        delivered = Counter(m.document["id"] for m in subscriber.messages if "id" in m.document)
        audited = Counter(
            r["message_id"]
            for r in export_rows(audit)
            if r["event"] == "share" and r["destination"] == agency and r["decision"] == "allowed"
        )
        assert delivered == audited, "exactly one audit row per delivered message"
    assert unlisted.connection_count() == 0, unlisted.log_text()
    assert verify(audit).ok


def stored_reads(data_dir: Path) -> list[dict]:
    if not (data_dir / DB_NAME).exists():
        return []
    store = ReadStore(data_dir)
    try:
        return [r.as_row() for r in store.reads(limit=100_000)]
    finally:
        store.close()


def wait_until(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_replay_survives_a_broker_restart_and_a_sigkilled_unit_without_loss_or_reordering(
    tmp_path, clip, agency_pair
):
    oakland, inbox = agency_pair.brokers["oakland-pd"], agency_pair.inbox
    config = edge_config(tmp_path, agency_pair.allowlist)
    data = tmp_path / "data"
    run = [sys.executable, "-m", "edge", "run", "--config", str(config), "--source"]
    first = subprocess.Popen(
        [*run, str(clip / VIDEO_NAME), "--realtime"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: inbox["oakland-pd"].of_schema("alpr-edge/read/1"))
        oakland.stop()  # mid-replay: oakland's queue grows, alameda keeps receiving
        before = len(stored_reads(data))
        wait_until(lambda: len(stored_reads(data)) > before)
    finally:
        first.send_signal(signal.SIGKILL)  # no clean shutdown: only what was committed survives
        first.wait()
    oakland.start()
    alpr_edge("run", "--config", str(config), "--source", str(clip / VIDEO_NAME))

    reads = {r["id"] for r in stored_reads(data)}
    for agency, subscriber in inbox.items():
        subscriber.wait_for(
            lambda s: {d["read"]["read_id"] for d in s.of_schema("alpr-edge/read/1")} >= reads
        )
        documents = subscriber.of_schema("alpr-edge/read/1")
        assert {d["read"]["read_id"] for d in documents} == reads, f"{agency} missed reads"
        counts = Counter(d["id"] for d in documents)
        # QoS 1: only the message in flight at a cut may arrive twice, under the same id.
        assert sum(counts.values()) - len(counts) <= 2, counts.most_common(3)
        first_seen = list(dict.fromkeys(d["read"]["read_id"] for d in documents))
        assert first_seen == sorted(first_seen), f"{agency} received reads out of order"
    assert verify(tmp_path / "share" / "audit.sqlite").ok
