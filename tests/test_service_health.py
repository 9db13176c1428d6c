"""Health tells a dead camera from a quiet street: /healthz fails once frames stop for longer
than `[health] camera_down_after_s`, /metrics has the figures in Prometheus text, a warning is
logged when a problem starts, and heartbeats carry the same state within their schema."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import replace

import pytest
from query_support import agency_entry
from test_share_documents import published_schemas

from edge.config import HealthConfig, SharingConfig
from edge.runtime.capture.sources import CaptureStats
from edge.runtime.pipeline.orchestrator import RunStats
from edge.service.health import UnitHealth, metrics_text, serving
from edge.share.messages import heartbeat_message
from edge.share.service import Sharing


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def health_of(tmp_path, clock, **settings) -> UnitHealth:
    (tmp_path / "data").mkdir(exist_ok=True)
    return UnitHealth(
        HealthConfig(camera_down_after_s=5.0, **settings),
        camera_id="cam-1",
        store_dir=tmp_path / "data",
        audit_file=tmp_path / "data" / "audit.sqlite",
        source_stats=CaptureStats(frames=10, reconnects=2),
        clock=clock,
    )


def frames(health: UnitHealth, clock: Clock, count: int, every_s: float = 0.1) -> RunStats:
    stats = RunStats()
    for _ in range(count):
        clock.now += every_s
        stats.frames += 1
        stats.motion_skipped += 1  # a quiet street: nothing moves, frames still arrive
        health.on_frame(stats)
    return stats


def test_a_quiet_street_is_healthy_and_a_dead_camera_is_not(tmp_path, clock, caplog):
    health = health_of(tmp_path, clock)
    frames(health, clock, 50)
    assert health.healthy()[0]
    assert health.camera_state()["fps"] == pytest.approx(10.0, rel=0.05)
    clock.now += 6.0
    with caplog.at_level(logging.WARNING):
        healthy, problems = health.healthy()
    assert not healthy and "no frame from camera cam-1 for 6 s" in problems["camera"]
    assert "no frame from camera cam-1" in caplog.text
    assert health.camera_state()["up"] is False
    caplog.clear()
    with caplog.at_level(logging.INFO):
        frames(health, clock, 1)
        assert health.healthy()[0]
    assert "camera: recovered after" in caplog.text


def test_a_camera_that_never_delivered_is_down_after_the_grace_time(tmp_path, clock):
    health = health_of(tmp_path, clock)
    assert health.healthy()[0]
    clock.now += 5.5
    assert "camera" in health.healthy()[1]


def test_an_audit_log_that_does_not_verify_fails_health(tmp_path, clock):
    health = health_of(tmp_path, clock)
    frames(health, clock, 3)
    health.audit_file.write_bytes(b"not a database" * 100)
    healthy, problems = health.healthy()
    assert not healthy and "audit chain does not verify" in problems["audit"]


def test_a_disk_below_the_floor_is_a_warning_but_not_a_failed_health_check(tmp_path, clock):
    health = health_of(tmp_path, clock, disk_floor_mb=10**12)
    frames(health, clock, 3)
    healthy, problems = health.healthy()
    assert healthy and "MB free on the data disk" in problems["disk"]


def test_an_unwritable_store_fails_health(tmp_path, clock):
    health = health_of(tmp_path, clock)
    health.store_dir = tmp_path / "missing"
    frames(health, clock, 3)
    assert "store" in health.healthy()[1]


def test_metrics_are_prometheus_text_with_the_run_figures(tmp_path, clock):
    health = health_of(tmp_path, clock)
    stats = frames(health, clock, 20)
    stats.reads, stats.hits, stats.seconds["detect"] = 4, 1, 2.5
    text = metrics_text(health).decode()
    for line in (
        "alpr_edge_frames_total 20.0",
        "alpr_edge_motion_skipped_total 20.0",
        "alpr_edge_reads_total 4.0",
        "alpr_edge_hits_total 1.0",
        "alpr_edge_detector_seconds_total 2.5",
        "alpr_edge_camera_reconnects_total 2.0",
        "alpr_edge_camera_up 1.0",
    ):
        assert line in text.splitlines(), line
    assert "# TYPE alpr_edge_disk_free_bytes gauge" in text


def test_the_endpoint_is_off_by_default_and_on_localhost_answers_healthz(tmp_path, clock):
    health = health_of(tmp_path, clock)
    with serving(health) as server:
        assert server is None
    health.settings = replace(health.settings, enabled=True, port=0)
    frames(health, clock, 3)
    with serving(health) as server:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        base = f"http://{host}:{port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as reply:
            assert reply.status == 200 and reply.read() == b"ok\n"
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as reply:
            assert b"alpr_edge_frames_total 3.0" in reply.read()
        with urllib.request.urlopen(f"{base}/status.json", timeout=5) as reply:
            assert json.loads(reply.read())["camera"]["id"] == "cam-1"
        clock.now += 10
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        assert failed.value.code == 503
        assert b"no frame from camera" in failed.value.read()


def test_the_heartbeat_says_the_camera_is_down_and_keeps_its_schema(tmp_path, clock):
    from jsonschema import Draft202012Validator, FormatChecker

    health = health_of(tmp_path, clock)
    frames(health, clock, 3)
    clock.now += 60
    state = health.heartbeat_state()
    assert state["status"] == "degraded" and state["camera"]["up"] is False
    agencies = tmp_path / "agencies.toml"
    agencies.write_text(
        "demo = true\n" + agency_entry("oakland-pd", "CA0010900", 9, None, "heartbeat")
    )
    settings = SharingConfig(agencies_file=agencies, data_dir=tmp_path / "share", unit_id="unit-1")
    sharing = Sharing(settings)
    sharing.reload_allowlist()
    sharing.set_state_provider(health.heartbeat_state)
    try:
        assert len(sharing.publish_heartbeat()) == 1  # one message id
        assert sharing.gate.send("oakland-pd", heartbeat_message(1.0, 0, 30))
        documents = [json.loads(q.payload) for q in sharing.outbox.queued("oakland-pd")]
    finally:
        sharing.close()
    schema = published_schemas()["alpr-edge/heartbeat/1"]
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    for document in documents:
        validator.validate(document)
    assert documents[0]["status"] == "degraded" and documents[0]["camera"]["up"] is False
    assert documents[1]["status"] == "ok" and "camera" not in documents[1]
